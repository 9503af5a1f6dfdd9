//! The priority protocols (`PiLocker` & co., `CeilingLocker` & co., `SharedPiLocker` & co.):
//! which combinations glibc accepts (probed with `pthread_mutex_init` itself), priority
//! inversion shown and fixed by inheritance, the holder of a ceiling mutex raised to its
//! ceiling, the `SCHED_OTHER` first-lock puzzle of glibc's ceiling protocol (on the raw call,
//! then the crate's answer), the error cases, and a robust PI mutex across processes: a
//! waiter sleeping in `FUTEX_LOCK_PI`, its holder killed, recovered with `OwnerDied`.
//!
//! `harness = false` (see `support`). Every case that changes scheduling runs in a forked
//! child (its own scheduling, its own threads), watched by the parent with a bound, and
//! killed if it passes it. The parent has one thread, so a child may start threads.

mod support;

use std::mem::MaybeUninit;
use std::sync::atomic::Ordering::{Acquire, Release, SeqCst};
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64};
use std::time::{Duration, Instant};

use pthread_sync::shm::{ShmBox, ShmSafe};
use pthread_sync::{
    CeilingErrorCheckLocker, CeilingLocker, CeilingRecursiveLocker, Error, Locker,
    PiErrorCheckLocker, PiLocker, PiRecursiveLocker, SharedLockError, SharedPiErrorCheckLocker,
    SharedPiLocker, SharedPiRecursiveLocker,
};
use support::Outcome::{self, Passed, Skipped};
use support::{fork_child, Case};

// glibc 2.30 and later; not in the `libc` crate.
extern "C" {
    fn pthread_mutexattr_setprioceiling(
        attr: *mut libc::pthread_mutexattr_t,
        prioceiling: libc::c_int,
    ) -> libc::c_int;
}

/// A child's exit code: `SCHED_FIFO` refused (`EPERM`), so the case is skipped.
const NO_FIFO: i32 = 77;
const NO_FIFO_WHY: &str = "SCHED_FIFO refused here (EPERM): no real-time scheduling";
/// A child's exit code: one CPU only (the coordinating thread needs a CPU of its own).
const ONE_CPU: i32 = 78;
const ONE_CPU_WHY: &str =
    "one CPU only: the inversion scenario needs a second one for its coordinator";

/// Puts the calling thread under `SCHED_FIFO` at `prio` through glibc (so glibc's record of
/// the thread's scheduling, which its ceiling protocol reads, stays right); the errno.
fn set_fifo(prio: i32) -> i32 {
    set_policy(libc::SCHED_FIFO, prio)
}

fn set_policy(policy: i32, prio: i32) -> i32 {
    let param = libc::sched_param {
        sched_priority: prio,
    };
    // SAFETY: `pthread_self()` is the live calling thread; `param` is a valid value.
    unsafe { libc::pthread_setschedparam(libc::pthread_self(), policy, &param) }
}

/// The calling thread's policy and priority, as the kernel has them.
fn kernel_sched() -> (i32, i32) {
    let mut param = libc::sched_param { sched_priority: 0 };
    // SAFETY: 0 is the calling thread; `param` is writable.
    unsafe {
        libc::sched_getparam(0, &mut param);
        (libc::sched_getscheduler(0), param.sched_priority)
    }
}

/// Pins the calling thread to `cpu`.
fn pin(cpu: usize) {
    // SAFETY: a zeroed `cpu_set_t` is valid; `cpu` is a CPU of this machine; 0 is this thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        assert_eq!(
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set),
            0
        );
    }
}

/// This thread's CPU time, in nanoseconds.
fn cpu_ns() -> u64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is writable; the clock always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// Spins until this thread has run for `cpu` more, or `wall` has passed (the bound that keeps
/// a spinning real-time thread from holding its CPU for long whatever happens).
fn burn(cpu: Duration, wall: Duration) {
    let (start, until) = (Instant::now(), cpu_ns() + cpu.as_nanos() as u64);
    while cpu_ns() < until && start.elapsed() < wall {
        std::hint::spin_loop();
    }
}

/// Waits (bounded, sleeping) until `flag` is nonzero.
fn await_set(flag: &AtomicU64) {
    let start = Instant::now();
    while flag.load(Acquire) == 0 {
        assert!(start.elapsed() < Duration::from_secs(10), "flag never set");
        std::thread::sleep(Duration::from_micros(200));
    }
}

// --- the acceptance table ---------------------------------------------------------------

/// The raw `pthread_mutex_init` result for type `ty`, process-shared or not, robust or not,
/// protocol `proto` (ceiling 10 for `PTHREAD_PRIO_PROTECT`); the mutex is destroyed after.
fn raw_init(ty: i32, pshared: bool, robust: bool, proto: i32) -> i32 {
    let mut attr = MaybeUninit::<libc::pthread_mutexattr_t>::uninit();
    let mut m = MaybeUninit::<libc::pthread_mutex_t>::zeroed();
    // SAFETY: attribute calls on an initialised attribute object, each value a valid
    // constant; the mutex is destroyed only if initialised.
    unsafe {
        let a = attr.as_mut_ptr();
        assert_eq!(libc::pthread_mutexattr_init(a), 0);
        assert_eq!(libc::pthread_mutexattr_settype(a, ty), 0);
        let shared = if pshared {
            libc::PTHREAD_PROCESS_SHARED
        } else {
            libc::PTHREAD_PROCESS_PRIVATE
        };
        assert_eq!(libc::pthread_mutexattr_setpshared(a, shared), 0);
        let rob = if robust {
            libc::PTHREAD_MUTEX_ROBUST
        } else {
            libc::PTHREAD_MUTEX_STALLED
        };
        assert_eq!(libc::pthread_mutexattr_setrobust(a, rob), 0);
        assert_eq!(libc::pthread_mutexattr_setprotocol(a, proto), 0);
        if proto == libc::PTHREAD_PRIO_PROTECT {
            assert_eq!(pthread_mutexattr_setprioceiling(a, 10), 0);
        }
        let r = libc::pthread_mutex_init(m.as_mut_ptr(), a);
        if r == 0 {
            libc::pthread_mutex_destroy(m.as_mut_ptr());
        }
        libc::pthread_mutexattr_destroy(a);
        r
    }
}

/// Every type x (private, process-shared) x (stalled, robust) x protocol, through
/// `pthread_mutex_init`: glibc refuses exactly robust + `PTHREAD_PRIO_PROTECT` (`ENOTSUP`),
/// in both placements. The crate's shared kinds are all robust and process-shared, and
/// `Shared<Protect<K>>` does not compile (the `compile_fail` doctest of `SharedKind`); every
/// other combination the crate builds is one glibc accepts. Prints the table.
fn acceptance_table() -> Outcome {
    let types = [
        ("normal", libc::PTHREAD_MUTEX_NORMAL),
        ("errorcheck", libc::PTHREAD_MUTEX_ERRORCHECK),
        ("recursive", libc::PTHREAD_MUTEX_RECURSIVE),
    ];
    let protocols = [
        ("NONE", libc::PTHREAD_PRIO_NONE),
        ("INHERIT", libc::PTHREAD_PRIO_INHERIT),
        ("PROTECT", libc::PTHREAD_PRIO_PROTECT),
    ];
    println!("    type       pshared robust protocol -> pthread_mutex_init");
    for (tname, ty) in types {
        for pshared in [false, true] {
            for robust in [false, true] {
                for (pname, proto) in protocols {
                    let r = raw_init(ty, pshared, robust, proto);
                    let shown = match r {
                        0 => "0".to_string(),
                        e => std::io::Error::from_raw_os_error(e).to_string(),
                    };
                    println!("    {tname:<10} {pshared:<7} {robust:<6} {pname:<8} -> {shown}");
                    let refused = robust && proto == libc::PTHREAD_PRIO_PROTECT;
                    assert_eq!(r, if refused { libc::ENOTSUP } else { 0 });
                }
            }
        }
    }
    Passed
}

// --- the SCHED_OTHER puzzle -------------------------------------------------------------

/// A fresh raw ceiling mutex (normal type, private) with `ceiling`.
fn raw_ceiling_mutex(ceiling: i32) -> Box<libc::pthread_mutex_t> {
    // SAFETY: a `pthread_mutex_t` is plain integers, for which all zeroes is valid.
    let mut m = Box::new(unsafe { std::mem::zeroed::<libc::pthread_mutex_t>() });
    let mut attr = MaybeUninit::<libc::pthread_mutexattr_t>::uninit();
    // SAFETY: as in `raw_init`; the mutex lives in the box, never moved after init.
    unsafe {
        let a = attr.as_mut_ptr();
        assert_eq!(libc::pthread_mutexattr_init(a), 0);
        assert_eq!(
            libc::pthread_mutexattr_settype(a, libc::PTHREAD_MUTEX_NORMAL),
            0
        );
        assert_eq!(
            libc::pthread_mutexattr_setprotocol(a, libc::PTHREAD_PRIO_PROTECT),
            0
        );
        assert_eq!(pthread_mutexattr_setprioceiling(a, ceiling), 0);
        assert_eq!(libc::pthread_mutex_init(&mut *m, a), 0);
        libc::pthread_mutexattr_destroy(a);
    }
    m
}

/// The anchor, glibc 2.36 itself: a `SCHED_OTHER` thread's first lock of a ceiling mutex is
/// `EINVAL`; its later locks succeed, and it runs unboosted (still `SCHED_OTHER`, priority 0)
/// while it holds the mutex. (glibc's `__pthread_tpp_change_priority` counts the ceiling in
/// its per-thread map and raises its record of the thread's highest ceiling before it calls
/// `sched_setscheduler(SCHED_OTHER, ceiling)`, which the kernel refuses with `EINVAL`; the
/// count is never taken back, so the next lock finds the record already at the ceiling and
/// makes no call.) The leak outlives the mutex: once that thread becomes real-time
/// (`pthread_setschedparam(SCHED_FIFO, 5)`), glibc raises it to the leaked ceiling (10)
/// though it holds nothing.
///
/// Then the crate: `Err(NotRealTime)` on every attempt, before any call, in a fresh thread
/// and in one whose glibc record a raw first lock left raised; a fresh `SCHED_FIFO` thread
/// (priority 5) locks it, raised to the ceiling (10) while it holds it, back to 5 after.
fn sched_other_first_lock() -> Outcome {
    let child = fork_child(|| {
        let raw = std::thread::spawn(|| {
            assert_eq!(kernel_sched().0, libc::SCHED_OTHER);
            let mut m = raw_ceiling_mutex(10);
            // SAFETY: an initialised mutex, locked and unlocked by this thread only.
            let (first, second, held_sched) = unsafe {
                let first = libc::pthread_mutex_lock(&mut *m);
                let second = libc::pthread_mutex_lock(&mut *m);
                let held = kernel_sched();
                if second == 0 {
                    libc::pthread_mutex_unlock(&mut *m);
                }
                (first, second, held)
            };
            let fifo = set_fifo(5);
            (first, second, held_sched, fifo, kernel_sched())
        })
        .join()
        .unwrap();
        match raw {
            (libc::EINVAL, 0, (libc::SCHED_OTHER, 0), libc::EPERM, _) => return NO_FIFO,
            (libc::EINVAL, 0, (libc::SCHED_OTHER, 0), 0, (libc::SCHED_FIFO, 10)) => {}
            _ => return 1,
        }
        let refusals = std::thread::spawn(|| {
            let m = CeilingLocker::new(10, 0u32).unwrap();
            let fresh = [m.lock().err(), m.lock().err(), m.try_lock().err()];
            // This thread's glibc record raised by a raw first lock, as above:
            let mut raw = raw_ceiling_mutex(10);
            // SAFETY: an initialised mutex; the second lock is released.
            unsafe {
                let _ = libc::pthread_mutex_lock(&mut *raw);
                if libc::pthread_mutex_lock(&mut *raw) == 0 {
                    libc::pthread_mutex_unlock(&mut *raw);
                }
            }
            (fresh, m.lock().err())
        })
        .join()
        .unwrap();
        let nrt = Some(Error::NotRealTime);
        if refusals != ([nrt; 3], nrt) {
            return 2;
        }
        let boosted = std::thread::spawn(|| {
            let m = CeilingLocker::new(10, 0u32).unwrap();
            let fifo = set_fifo(5);
            let held = m.lock().map(|_g| kernel_sched()).ok();
            (fifo, held, kernel_sched())
        })
        .join()
        .unwrap();
        match boosted {
            (0, Some((libc::SCHED_FIFO, 10)), (libc::SCHED_FIFO, 5)) => 0,
            _ => 3,
        }
    });
    match child.wait_within(Duration::from_secs(20)) {
        Ok(0) => Passed,
        Ok(NO_FIFO) => Skipped(NO_FIFO_WHY),
        Ok(code) => panic!("child exited with {code}"),
        Err(child) => {
            child.kill_and_reap();
            panic!("child passed its bound")
        }
    }
}

// --- error cases ------------------------------------------------------------------------

/// Ceilings outside `sched_get_priority_min/max(SCHED_FIFO)` are refused at construction and
/// by `set_priority_ceiling`, for every kind, with the range named; `set_priority_ceiling`
/// returns the old ceiling; with the mutex held by the caller it is `Deadlock` for the
/// normal and errorcheck kinds (glibc: `EDEADLK`, and a wait for itself for normal), an
/// in-place change for the recursive kind (glibc's own rule), which moves the holder's boost.
/// Above the ceiling a real-time thread gets `AboveCeiling` (glibc's `EINVAL`, checked on
/// the raw call too). An errorcheck PI relock is `Deadlock`; a recursive PI mutex is
/// re-entered and excludes other threads until its last guard goes.
fn error_cases() -> Outcome {
    // SAFETY: plain system calls.
    let (min, max) = unsafe {
        (
            libc::sched_get_priority_min(libc::SCHED_FIFO),
            libc::sched_get_priority_max(libc::SCHED_FIFO),
        )
    };
    for bad in [min - 1, max + 1, -5, i32::MAX] {
        let want = Error::BadCeiling {
            ceiling: bad,
            min,
            max,
        };
        assert_eq!(CeilingLocker::new(bad, ()).err(), Some(want));
        assert_eq!(CeilingErrorCheckLocker::new(bad, ()).err(), Some(want));
        assert_eq!(CeilingRecursiveLocker::new(bad, ()).err(), Some(want));
        let m = CeilingLocker::new(min, ()).unwrap();
        assert_eq!(m.set_priority_ceiling(bad), Err(want));
        assert_eq!(m.priority_ceiling(), min, "unchanged");
    }
    assert!(want_display_names_range(min, max));
    let n = CeilingLocker::new(10, ()).unwrap();
    let e = CeilingErrorCheckLocker::new(10, ()).unwrap();
    let r = CeilingRecursiveLocker::new(10, ()).unwrap();
    assert_eq!(n.set_priority_ceiling(20), Ok(10));
    assert_eq!(e.set_priority_ceiling(20), Ok(10));
    assert_eq!(r.set_priority_ceiling(20), Ok(10));
    assert_eq!(
        (
            n.priority_ceiling(),
            e.priority_ceiling(),
            r.priority_ceiling()
        ),
        (20, 20, 20)
    );
    let d = CeilingLocker::<()>::default();
    assert_eq!(d.priority_ceiling(), min, "glibc's default ceiling");

    // PI: errorcheck relock, recursive re-entry (no real-time needed).
    let pe = PiErrorCheckLocker::new(1);
    let g = pe.lock().unwrap();
    assert_eq!(pe.lock().err(), Some(Error::Deadlock));
    // glibc's PI trylock by the errorcheck owner is EDEADLK too (the plain errorcheck
    // trylock's is EBUSY): passed on as it is, and checked against the raw call.
    assert_eq!(pe.try_lock().err(), Some(Error::Deadlock));
    assert_eq!(raw_pi_errorcheck_self_trylock(), libc::EDEADLK);
    drop(g);
    let pr = PiRecursiveLocker::new(std::cell::Cell::new(0));
    {
        let outer = pr.lock().unwrap();
        let inner = pr.lock().unwrap();
        inner.set(inner.get() + 1);
        std::thread::scope(|s| {
            s.spawn(|| assert_eq!(pr.try_lock().err(), Some(Error::WouldBlock)));
        });
        drop(inner);
        std::thread::scope(|s| {
            s.spawn(|| assert_eq!(pr.try_lock().err(), Some(Error::WouldBlock)));
        });
        assert_eq!(outer.get(), 1);
    }
    std::thread::scope(|s| {
        s.spawn(|| assert!(pr.try_lock().is_ok()));
    });
    let pn = PiLocker::new(3);
    assert_eq!(*pn.lock().unwrap(), 3);
    assert!(pn.lock_timeout(Duration::from_millis(1)).is_ok());

    // Held by the caller, and above the ceiling: needs a real-time thread.
    let child = fork_child(|| {
        std::thread::spawn(|| {
            if set_fifo(15) == libc::EPERM {
                return NO_FIFO;
            }
            let n = CeilingLocker::new(20, ()).unwrap();
            let e = CeilingErrorCheckLocker::new(20, ()).unwrap();
            let r = CeilingRecursiveLocker::new(20, ()).unwrap();
            {
                let _g = n.lock().unwrap();
                if n.set_priority_ceiling(30) != Err(Error::Deadlock) {
                    return 1;
                }
                if kernel_sched() != (libc::SCHED_FIFO, 20) {
                    return 2;
                }
            }
            if kernel_sched() != (libc::SCHED_FIFO, 15) {
                return 3;
            }
            {
                let _g = e.lock().unwrap();
                if e.set_priority_ceiling(30) != Err(Error::Deadlock) {
                    return 4;
                }
                if e.lock().err() != Some(Error::Deadlock) {
                    return 5;
                }
            }
            {
                let _g1 = r.lock().unwrap();
                let _g2 = r.lock().unwrap();
                if r.set_priority_ceiling(30) != Ok(20) || kernel_sched() != (libc::SCHED_FIFO, 30)
                {
                    return 6;
                }
            }
            if kernel_sched() != (libc::SCHED_FIFO, 15) {
                return 7;
            }
            // Above the ceiling: the crate and the raw call.
            let low = CeilingLocker::new(10, ()).unwrap();
            if low.lock().err() != Some(Error::AboveCeiling)
                || low.try_lock().err() != Some(Error::AboveCeiling)
            {
                return 8;
            }
            let mut raw = raw_ceiling_mutex(10);
            // SAFETY: an initialised mutex.
            if unsafe { libc::pthread_mutex_lock(&mut *raw) } != libc::EINVAL {
                return 9;
            }
            // At the ceiling: fine.
            if set_fifo(10) != 0 || low.lock().is_err() {
                return 10;
            }
            0
        })
        .join()
        .unwrap()
    });
    match child.wait_within(Duration::from_secs(20)) {
        Ok(0) => Passed,
        Ok(NO_FIFO) => Skipped(NO_FIFO_WHY),
        Ok(code) => panic!("child exited with {code}"),
        Err(child) => {
            child.kill_and_reap();
            panic!("child passed its bound")
        }
    }
}

/// `pthread_mutex_trylock` by the owner of a raw PI errorcheck mutex.
fn raw_pi_errorcheck_self_trylock() -> i32 {
    let mut attr = MaybeUninit::<libc::pthread_mutexattr_t>::uninit();
    // SAFETY: a `pthread_mutex_t` is plain integers, for which all zeroes is valid.
    let mut m = Box::new(unsafe { std::mem::zeroed::<libc::pthread_mutex_t>() });
    // SAFETY: attribute and mutex calls on initialised objects; the mutex stays in its box.
    unsafe {
        let a = attr.as_mut_ptr();
        libc::pthread_mutexattr_init(a);
        libc::pthread_mutexattr_settype(a, libc::PTHREAD_MUTEX_ERRORCHECK);
        libc::pthread_mutexattr_setprotocol(a, libc::PTHREAD_PRIO_INHERIT);
        assert_eq!(libc::pthread_mutex_init(&mut *m, a), 0);
        libc::pthread_mutexattr_destroy(a);
        assert_eq!(libc::pthread_mutex_lock(&mut *m), 0);
        let again = libc::pthread_mutex_trylock(&mut *m);
        libc::pthread_mutex_unlock(&mut *m);
        libc::pthread_mutex_destroy(&mut *m);
        again
    }
}

fn want_display_names_range(min: i32, max: i32) -> bool {
    let text = Error::BadCeiling {
        ceiling: 0,
        min,
        max,
    }
    .to_string();
    text.contains(&format!("{min}..={max}"))
}

// --- priority inversion -----------------------------------------------------------------

/// The events of an inversion scenario, in the order they happened: each slot gets the next
/// number of a shared counter.
#[derive(Default)]
struct Events {
    seq: AtomicU64,
    low_locked: AtomicU64,
    low_unlocked: AtomicU64,
    mid_started: AtomicU64,
    mid_done: AtomicU64,
    high_wants: AtomicU64,
    high_got: AtomicU64,
    refused: AtomicI32,
}

impl Events {
    fn mark(&self, slot: &AtomicU64) {
        slot.store(self.seq.fetch_add(1, SeqCst) + 1, SeqCst);
    }
}

/// A mutex under test: lock, run `f` held, unlock.
trait Held: Sync {
    fn held(&self, f: &mut dyn FnMut());
}
impl Held for Locker<()> {
    fn held(&self, f: &mut dyn FnMut()) {
        let _g = self.lock().unwrap();
        f()
    }
}
impl Held for PiLocker<()> {
    fn held(&self, f: &mut dyn FnMut()) {
        let _g = self.lock().unwrap();
        f()
    }
}
impl Held for CeilingLocker<()> {
    fn held(&self, f: &mut dyn FnMut()) {
        let _g = self.lock().unwrap();
        f()
    }
}

const LOW: i32 = 10;
const MIDDLE: i32 = 20;
const HIGH: i32 = 30;
/// The low thread's work while holding, in CPU time.
const LOW_WORK: Duration = Duration::from_millis(30);
/// The middle thread's spin, in CPU time; bounded by `SPIN_WALL` in wall time.
const MIDDLE_SPIN: Duration = Duration::from_millis(300);
const SPIN_WALL: Duration = Duration::from_secs(3);

/// Three `SCHED_FIFO` threads on one CPU (the coordinating thread stays on another, under
/// `SCHED_OTHER`): low (10) takes `m` and works; middle (20) starts spinning; high (30)
/// wants `m`. Runs in a forked child, which reports the events through `ev` (shared memory).
fn inversion_child(m: &dyn Held, ev: &Events) -> i32 {
    // SAFETY: plain system calls.
    let (here, cpus) = unsafe {
        (
            libc::sched_getcpu(),
            libc::sysconf(libc::_SC_NPROCESSORS_ONLN),
        )
    };
    let here = here as usize;
    let busy = if cpus > 1 {
        (here + 1) % cpus as usize
    } else {
        here
    };
    pin(here);
    // Real-time first, then onto the busy CPU: the thread arrives there at its priority
    // (a SCHED_OTHER thread could never preempt the low FIFO holder, protocol or not).
    let worker = |prio: i32, body: &(dyn Fn() + Sync)| {
        if set_fifo(prio) != 0 {
            ev.refused.store(1, SeqCst);
            return;
        }
        pin(busy);
        body();
    };
    std::thread::scope(|s| {
        let low = s.spawn(|| {
            worker(LOW, &|| {
                m.held(&mut || {
                    ev.mark(&ev.low_locked);
                    burn(LOW_WORK, SPIN_WALL);
                    ev.mark(&ev.low_unlocked);
                })
            })
        });
        while ev.low_locked.load(Acquire) == 0 && ev.refused.load(Acquire) == 0 {
            std::thread::sleep(Duration::from_micros(200));
        }
        if ev.refused.load(Acquire) != 0 {
            return;
        }
        let middle = s.spawn(|| {
            worker(MIDDLE, &|| {
                ev.mark(&ev.mid_started);
                burn(MIDDLE_SPIN, SPIN_WALL);
                ev.mark(&ev.mid_done);
            })
        });
        // With a ceiling, the middle thread cannot start while the holder is raised: wait for
        // the start, whenever it comes.
        await_set(&ev.mid_started);
        let high = s.spawn(|| {
            worker(HIGH, &|| {
                ev.mark(&ev.high_wants);
                m.held(&mut || ev.mark(&ev.high_got));
            })
        });
        for t in [low, middle, high] {
            t.join().unwrap();
        }
    });
    if ev.refused.load(SeqCst) != 0 {
        NO_FIFO
    } else {
        0
    }
}

/// Runs `inversion_child` with the lock `make` builds, in a forked child with a bound; the
/// events, or why the case is skipped (real-time scheduling refused, one CPU).
fn inversion(make: fn() -> Box<dyn Held>) -> Result<[u64; 6], &'static str> {
    let ev = ShmBox::anonymous(EventsShm(Events::default())).unwrap();
    let child = fork_child(|| inversion_child(&*make(), &ev.0));
    let code = match child.wait_within(Duration::from_secs(20)) {
        Ok(code) => code,
        Err(child) => {
            child.kill_and_reap();
            panic!("the inversion child passed its bound")
        }
    };
    match code {
        NO_FIFO => return Err(NO_FIFO_WHY),
        ONE_CPU => return Err(ONE_CPU_WHY),
        _ => assert_eq!(code, 0),
    }
    let e = &ev.0;
    let order = [
        &e.low_locked,
        &e.mid_started,
        &e.high_wants,
        &e.low_unlocked,
        &e.high_got,
        &e.mid_done,
    ]
    .map(|a| a.load(SeqCst));
    println!(
        "    events: low locked {}, middle started {}, high wants {}, low unlocked {}, high got \
         it {}, middle done {}",
        order[0], order[1], order[2], order[3], order[4], order[5]
    );
    Ok(order)
}

struct EventsShm(Events);
// SAFETY: atomics only, no pointers.
unsafe impl ShmSafe for EventsShm {}

/// Without a protocol the inversion is real on this machine: the middle thread's whole spin
/// comes before the high thread gets the lock (the low holder gets no CPU until the spin
/// ends). With priority inheritance the holder, raised to the high waiter's priority, finishes
/// at once: the high thread gets the lock before the middle thread's spin ends.
fn inheritance_fixes_inversion() -> Outcome {
    let plain = match inversion(|| Box::new(Locker::new(()))) {
        Ok(events) => events,
        Err(why) => return Skipped(why),
    };
    let [_, mid_started, high_wants, low_unlocked, high_got, mid_done] = plain;
    assert!(
        mid_started < high_wants && mid_done < low_unlocked && mid_done < high_got,
        "no inversion without a protocol: {plain:?}"
    );
    let pi = inversion(|| Box::new(PiLocker::new(()))).expect("allowed a moment ago");
    let [_, mid_started, high_wants, low_unlocked, high_got, mid_done] = pi;
    assert!(
        mid_started < high_wants && low_unlocked < high_got && high_got < mid_done,
        "inheritance did not raise the holder: {pi:?}"
    );
    Passed
}

/// With a priority ceiling (30, the high thread's priority) the holder runs at the ceiling
/// from the moment it takes the lock: the middle thread (20), started while the low one
/// (10) holds it, cannot run until the lock is released, and the high one gets it before the
/// middle one's spin ends. (Without a protocol the middle thread starts at once: the same run
/// as in `inheritance_fixes_inversion`.)
fn ceiling_raises_the_holder() -> Outcome {
    let pp = match inversion(|| Box::new(CeilingLocker::new(HIGH, ()).unwrap())) {
        Ok(events) => events,
        Err(why) => return Skipped(why),
    };
    let [low_locked, mid_started, _, low_unlocked, high_got, mid_done] = pp;
    assert!(
        low_locked < low_unlocked && low_unlocked < mid_started && high_got < mid_done,
        "the holder was not raised to the ceiling: {pp:?}"
    );
    Passed
}

// --- shared, robust, PI -----------------------------------------------------------------

#[repr(C)]
struct SharedPi {
    normal: SharedPiLocker<u64>,
    errorcheck: SharedPiErrorCheckLocker<u64>,
    recursive: SharedPiRecursiveLocker<u64>,
    held: AtomicU32,
}
// SAFETY: #[repr(C)], shared primitives and an atomic.
unsafe impl ShmSafe for SharedPi {}

/// The futex operation `pid` sleeps in (`/proc/<pid>/syscall`'s second field, without
/// `FUTEX_PRIVATE_FLAG`), once it sleeps in a futex call (bounded wait).
fn futex_op_of(pid: libc::pid_t) -> Option<i64> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if support::sleeps_in_futex(pid) {
            let s = std::fs::read_to_string(format!("/proc/{pid}/syscall")).ok()?;
            let op = s.split_whitespace().nth(2)?;
            let op = i64::from_str_radix(op.trim_start_matches("0x"), 16).ok()?;
            return Some(op & !(libc::FUTEX_PRIVATE_FLAG as i64));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    None
}

/// A robust PI mutex across processes (glibc's tst-robustpi cases): a child holds each kind;
/// another child waits, asleep in `FUTEX_LOCK_PI` (or `FUTEX_LOCK_PI2`, for the timed waits
/// on `CLOCK_MONOTONIC`), not in a plain `FUTEX_WAIT`; the holder is `SIGKILL`ed; the waiter
/// gets `OwnerDied`, repairs and makes it consistent; the parent then locks it normally.
fn shared_pi_owner_died() -> Outcome {
    let region = ShmBox::anonymous(SharedPi {
        normal: SharedPiLocker::new(0),
        errorcheck: SharedPiErrorCheckLocker::new(0),
        recursive: SharedPiRecursiveLocker::new(0),
        held: AtomicU32::new(0),
    })
    .unwrap();
    let r = &*region;
    for which in 0..3u32 {
        r.held.store(0, SeqCst);
        let holder = fork_child(|| {
            let ok = match which {
                0 => r
                    .normal
                    .lock()
                    .map(|mut g| {
                        *g = 1;
                        std::mem::forget(g)
                    })
                    .is_ok(),
                1 => r
                    .errorcheck
                    .lock()
                    .map(|mut g| {
                        *g = 1;
                        std::mem::forget(g)
                    })
                    .is_ok(),
                _ => r
                    .recursive
                    .lock()
                    .map(|g| {
                        let again = r.recursive.lock();
                        std::mem::forget(again);
                        std::mem::forget(g)
                    })
                    .is_ok(),
            };
            if !ok {
                return 1;
            }
            r.held.store(1, Release);
            loop {
                // SAFETY: sleeps; the parent kills this process here.
                unsafe { libc::pause() };
            }
        });
        let start = Instant::now();
        while r.held.load(Acquire) == 0 {
            assert!(start.elapsed() < Duration::from_secs(10));
            std::thread::sleep(Duration::from_millis(1));
        }
        let waiter = fork_child(|| {
            let repaired = match which {
                0 => match r.normal.lock() {
                    Err(SharedLockError::OwnerDied(mut d)) => {
                        **d.get_mut() = 2;
                        d.make_consistent().is_ok()
                    }
                    _ => false,
                },
                1 => match r.errorcheck.lock() {
                    Err(SharedLockError::OwnerDied(mut d)) => {
                        **d.get_mut() = 2;
                        d.make_consistent().is_ok()
                    }
                    _ => false,
                },
                _ => match r.recursive.lock() {
                    Err(SharedLockError::OwnerDied(d)) => d.make_consistent().is_ok(),
                    _ => false,
                },
            };
            if repaired {
                0
            } else {
                1
            }
        });
        let op = futex_op_of(waiter.pid());
        // The crate's robust wait is `pthread_mutex_clocklock` on CLOCK_MONOTONIC in slices:
        // for a PI mutex glibc uses FUTEX_LOCK_PI2 (13), which takes that clock; FUTEX_LOCK_PI
        // (6) where it has no timeout.
        assert!(
            matches!(op, Some(6) | Some(13)),
            "kind {which}: the waiter sleeps in futex op {op:?}, not FUTEX_LOCK_PI(2)"
        );
        holder.kill_and_reap();
        assert_eq!(waiter.wait(), 0, "kind {which}: the waiter recovered it");
        match which {
            0 => assert_eq!(*r.normal.lock().unwrap(), 2),
            1 => assert_eq!(*r.errorcheck.lock().unwrap(), 2),
            _ => {
                let g = r.recursive.lock().unwrap();
                let again = r.recursive.lock().unwrap();
                assert_eq!((*g, *again), (0, 0));
            }
        }
    }
    Passed
}

/// Contended in-process PI locks go to the kernel's PI path: a waiter of a `PiLocker` sleeps
/// in `FUTEX_LOCK_PI` with `FUTEX_PRIVATE_FLAG`; a waiter of a plain `Locker` in `FUTEX_WAIT`.
fn contended_pi_takes_futex_lock_pi() -> Outcome {
    fn waiter_op(m: &(dyn Held + Sync)) -> Option<i64> {
        let tid = AtomicI32::new(0);
        std::thread::scope(|s| {
            let mut op = None;
            m.held(&mut || {
                s.spawn(|| {
                    // SAFETY: a plain system call.
                    tid.store(unsafe { libc::gettid() }, SeqCst);
                    m.held(&mut || {});
                });
                let start = Instant::now();
                while tid.load(SeqCst) == 0 && start.elapsed() < Duration::from_secs(10) {
                    std::thread::yield_now();
                }
                op = futex_op_of(tid.load(SeqCst));
            });
            op
        })
    }
    assert_eq!(
        waiter_op(&PiLocker::new(())),
        Some(libc::FUTEX_LOCK_PI as i64)
    );
    assert_eq!(waiter_op(&Locker::new(())), Some(libc::FUTEX_WAIT as i64));
    Passed
}

/// A PI lock works with the crate's `Cond` (its guard releases and retakes the PI mutex
/// around the wait) and with the atfork registry (`protect`: the child gets it back free,
/// still a PI mutex: a contended lock there sleeps in `FUTEX_LOCK_PI`).
fn pi_with_cond_and_fork() -> Outcome {
    use pthread_sync::Cond;
    static FLAG: PiLocker<bool> = PiLocker::new(false);
    static COND: Cond = Cond::new();
    std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(5));
            *FLAG.lock().unwrap() = true;
            COND.notify_all();
        });
        let g = COND
            .wait_while(FLAG.lock().unwrap(), |ready| !*ready)
            .unwrap();
        assert!(*g);
    });
    let _handle = pthread_sync::atfork::protect(&FLAG).unwrap();
    let held = FLAG.lock().unwrap();
    let child = fork_child(|| {
        // The forking thread held it through `held`: the child's thread holds it again.
        if FLAG.try_lock().err() != Some(Error::WouldBlock) {
            return 1;
        }
        0
    });
    assert_eq!(child.wait(), 0);
    drop(held);
    let child = fork_child(|| match FLAG.try_lock() {
        Ok(g) if *g => 0,
        _ => 1,
    });
    assert_eq!(child.wait(), 0);
    Passed
}

#[repr(C)]
struct PiWaiting {
    m: SharedPiLocker<u32>,
    c: pthread_sync::SharedCond,
}
// SAFETY: #[repr(C)], shared primitives only.
unsafe impl ShmSafe for PiWaiting {}

/// A `SharedCond` waits with a `SharedPiLocker` guard across processes (the condvar releases
/// and retakes the robust PI mutex around its wait).
fn shared_cond_with_a_pi_guard() -> Outcome {
    let region = ShmBox::anonymous(PiWaiting {
        m: SharedPiLocker::new(0),
        c: pthread_sync::SharedCond::new(),
    })
    .unwrap();
    let r = &*region;
    let child = fork_child(|| {
        let Ok(g) = r.m.lock() else { return 1 };
        match r.c.wait_while(g, |v| *v == 0) {
            Ok(g) if *g == 7 => 0,
            _ => 2,
        }
    });
    std::thread::sleep(Duration::from_millis(20));
    *r.m.lock().unwrap() = 7;
    r.c.notify_all();
    assert_eq!(child.wait(), 0);
    Passed
}

/// Where real-time scheduling is refused, the inversion cases skip with their message
/// instead of failing: shown in a child that gives up root (user and group `nobody`, no
/// `RLIMIT_RTPRIO`), where `SCHED_FIFO` is `EPERM`.
fn refused_real_time_skips_with_a_message() -> Outcome {
    // SAFETY: plain system calls.
    if unsafe { libc::geteuid() } != 0 {
        return Skipped("not root: no privilege to give up (the skip path is the one taken)");
    }
    let child = fork_child(|| {
        let none = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: plain system calls in the forked child, which gives up its privileges.
        let dropped = unsafe {
            libc::setrlimit(libc::RLIMIT_RTPRIO, &none) == 0
                && libc::setgroups(0, std::ptr::null()) == 0
                && libc::setgid(65534) == 0
                && libc::setuid(65534) == 0
        };
        if !dropped {
            return 2;
        }
        match inversion(|| Box::new(PiLocker::new(()))) {
            Err(why) if why == NO_FIFO_WHY => 0,
            Err(why) if why == ONE_CPU_WHY => 5,
            Err(_) => 3,
            Ok(_) => 4,
        }
    });
    match child.wait_within(Duration::from_secs(30)) {
        Ok(0) => {
            println!("    unprivileged: skipped with \"{NO_FIFO_WHY}\"");
            Passed
        }
        Ok(2) => Skipped("could not give up root in the child"),
        Ok(5) => Skipped(ONE_CPU_WHY),
        Ok(code) => panic!("unprivileged child: exit {code} (3: another skip, 4: FIFO allowed)"),
        Err(child) => {
            child.kill_and_reap();
            panic!("the unprivileged child passed its bound")
        }
    }
}

fn main() {
    let cases: &[Case] = &[
        ("shared_cond_with_a_pi_guard", shared_cond_with_a_pi_guard),
        ("pi_with_cond_and_fork", pi_with_cond_and_fork),
        ("acceptance_table", acceptance_table),
        ("sched_other_first_lock", sched_other_first_lock),
        ("error_cases", error_cases),
        ("inheritance_fixes_inversion", inheritance_fixes_inversion),
        ("ceiling_raises_the_holder", ceiling_raises_the_holder),
        (
            "refused_real_time_skips_with_a_message",
            refused_real_time_skips_with_a_message,
        ),
        ("shared_pi_owner_died", shared_pi_owner_died),
        (
            "contended_pi_takes_futex_lock_pi",
            contended_pi_takes_futex_lock_pi,
        ),
    ];
    support::run(cases);
}
