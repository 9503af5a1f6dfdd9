//! The differential test: the same scripted scenarios run on the real backend (glibc, real
//! threads, through the `real` crate: pthread-sync built normally) and on the model backend
//! (this package's build of the same sources, under loom), and the outcomes must be equal.
//! This keeps the model honest about glibc: a model that drifts fails here.
//!
//! Two levels:
//!
//! - the public API over both backends: the lockers, `Cond`, `Sem`, `RwLock` (misuse, try
//!   and timed forms, downgrade, poisoning), `Barrier` and `SharedBarrier` (in a region for
//!   glibc), where the outcome depends on what the backend's raw objects answer;
//! - the raw objects themselves: `RwLock`'s lock word (the crate's own, `rwlock/word.rs`,
//!   under loom) and the model's coarse `RawRwLock` that stands for it in the model build of
//!   `RwLock`, each against glibc's `pthread_rwlock_t` of the kind the word replaced
//!   (`PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP`),
//!   errno by errno (`EBUSY` from the try forms, the write holder's included; `EDEADLK` from
//!   its blocking and timed forms; `ETIMEDOUT`; new reads behind a waiting writer), and the
//!   model's `Futex` against the kernel's futex calls. Here the anchor is glibc (and the
//!   kernel) itself, not the crate's real backend, so a drift of either shows.
//!
//! Each scenario that spawns threads runs as its own model (loom allows few threads per
//! model), with a preemption bound of 2; every execution must give the same outcome.

use std::sync::Mutex as StdMutex;
use std::time::Duration;

/// The scenarios, written once over a crate path, a thread module and an `Arc`.
macro_rules! scenarios {
    ($krate:ident, $thread:path, $arc:path) => {{
        use $arc as Arc;
        use $krate::{
            CeilingErrorCheckLocker, CeilingLocker, Cond, ErrorCheckLocker, LockTimeoutError,
            Locker, PiErrorCheckLocker, PiLocker, PiRecursiveLocker, RecursiveLocker, Sem,
            TryLockError,
        };
        use $thread as thread;
        let short = Duration::from_millis(1);
        let mut out: Vec<String> = Vec::new();
        let mut say = |what: &str, v: String| out.push(format!("{what}: {v}"));

        // Normal and errorcheck, both held by this thread; another thread probes both
        // (loom allows four spawned threads per model, so one thread does both probes).
        let m = Arc::new(Locker::new(0));
        let e = Arc::new(ErrorCheckLocker::new(0));
        let g = m.lock().unwrap();
        let ge = e.lock().unwrap();
        say(
            "normal owner try_lock",
            format!("{}", matches!(m.try_lock(), Err(TryLockError::WouldBlock))),
        );
        say(
            "normal owner lock_timeout",
            format!(
                "{}",
                matches!(m.lock_timeout(short), Err(LockTimeoutError::TimedOut))
            ),
        );
        say("errorcheck relock", format!("{:?}", e.lock().map(|_| ())));
        say(
            "errorcheck owner try_lock",
            format!("{:?}", e.try_lock().map(|_| ())),
        );
        say(
            "errorcheck owner lock_timeout",
            format!("{:?}", e.lock_timeout(short).map(|_| ())),
        );
        let (m2, e2) = (Arc::clone(&m), Arc::clone(&e));
        let other = thread::spawn(move || {
            let normal = matches!(m2.lock_timeout(short), Err(LockTimeoutError::TimedOut));
            // SAFETY: this thread holds no guard of `e2`.
            let unlock = unsafe { e2.force_unlock() };
            (
                normal,
                unlock,
                e2.try_lock().map(|_| ()),
                e2.lock_timeout(short).map(|_| ()),
            )
        });
        say(
            "other thread: normal lock_timeout; errorcheck unlock, try_lock, lock_timeout",
            format!("{:?}", other.join().unwrap()),
        );
        drop(g);
        drop(ge);
        say("normal free try_lock", format!("{}", m.try_lock().is_ok()));
        // SAFETY: no guard of `e` is alive.
        say(
            "errorcheck unlock of a free mutex",
            format!("{:?}", unsafe { e.force_unlock() }),
        );

        // Recursive.
        let r = Arc::new(RecursiveLocker::new(7));
        let guards = (
            r.lock(),
            r.try_lock().map(|_| ()),
            r.lock_timeout(short).map(|_| ()),
        );
        say(
            "recursive owner try_lock, lock_timeout",
            format!("{:?} {:?}", guards.1, guards.2),
        );
        let r2 = Arc::clone(&r);
        let other = thread::spawn(move || {
            (
                r2.try_lock().map(|_| ()),
                r2.lock_timeout(short).map(|_| ()),
            )
        });
        say(
            "recursive other while held",
            format!("{:?}", other.join().unwrap()),
        );
        drop(guards);
        let r2 = Arc::clone(&r);
        let other = thread::spawn(move || r2.try_lock().map(|g| *g));
        say(
            "recursive other after release",
            format!("{:?}", other.join().unwrap()),
        );

        // Priority inheritance: the base kinds' semantics, and glibc's PI trylock by an
        // errorcheck owner (`EDEADLK`, where the plain one is `EBUSY`). (No other thread:
        // loom allows four per model, all taken above.)
        let pe = Arc::new(PiErrorCheckLocker::new(0));
        let g = pe.lock().unwrap();
        say(
            "pi errorcheck owner lock, try_lock, lock_timeout",
            format!(
                "{:?} {:?} {:?}",
                pe.lock().map(|_| ()),
                pe.try_lock().map(|_| ()),
                pe.lock_timeout(short).map(|_| ())
            ),
        );
        drop(g);
        let pr = PiRecursiveLocker::new(1);
        let nested = (pr.lock().map(|_| ()), pr.lock().map(|g| *g));
        say("pi recursive re-entry", format!("{nested:?}"));
        let pn = PiLocker::new(2);
        say(
            "pi normal lock, try_lock",
            format!(
                "{:?} {:?}",
                pn.lock().map(|g| *g),
                pn.try_lock().map(|g| *g)
            ),
        );
        // Ceilings: the range check and the ceiling's value (their locks need a real-time
        // thread, which the model has no notion of: tests/protocols.rs).
        say(
            "ceiling 0, 100",
            format!(
                "{:?} {:?}",
                CeilingLocker::new(0, ()).map(|_| ()),
                CeilingErrorCheckLocker::new(100, ()).map(|_| ())
            ),
        );
        let c = CeilingLocker::new(10, ()).unwrap();
        say(
            "ceiling set, get",
            format!("{:?} {}", c.set_priority_ceiling(20), c.priority_ceiling()),
        );

        // Cond: a timed wait with no notifier times out; a second mutex is refused.
        let (cm, c) = (Locker::new(()), Cond::new());
        let (g, res) = c.wait_timeout(cm.lock().unwrap(), short).unwrap();
        say(
            "cond wait_timeout without notify",
            format!("{}", res.timed_out()),
        );
        drop(g);
        let other_mutex = Locker::new(());
        let refused = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = c.wait_timeout(other_mutex.lock().unwrap(), short);
        }));
        say("cond second mutex refused", format!("{}", refused.is_err()));
        say(
            "cond second mutex poisoned by the refusal",
            format!("{}", other_mutex.is_poisoned()),
        );

        // Sem.
        say(
            "sem above max",
            format!("{:?}", Sem::new(Sem::MAX_VALUE + 1).map(|_| ())),
        );
        let s = Sem::new(Sem::MAX_VALUE).unwrap();
        say("sem post at max", format!("{:?} {}", s.post(), s.value()));
        let s = Sem::new(1).unwrap();
        say(
            "sem try_wait x2",
            format!("{:?} {:?}", s.try_wait(), s.try_wait()),
        );
        say(
            "sem wait_timeout at zero",
            format!("{:?}", s.wait_timeout(short)),
        );
        s.post().unwrap();
        say("sem value after post", format!("{}", s.value()));

        // Poisoning through a panicking thread.
        let p = Arc::new(Locker::new(0));
        let p2 = Arc::clone(&p);
        let died = thread::spawn(move || {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let mut g = p2.lock().unwrap();
                *g = 5;
                panic!("poison");
            }))
            .is_err()
        });
        say("poison: panicked", format!("{}", died.join().unwrap()));
        say(
            "poison: is_poisoned, lock",
            format!(
                "{} {:?}",
                p.is_poisoned(),
                p.lock().map(|g| *g).map_err(|e| *e.into_inner())
            ),
        );
        out
    }};
}

fn real_outcomes() -> Vec<String> {
    scenarios!(real, std::thread, std::sync::Arc)
}

fn model_outcomes() -> Vec<Vec<String>> {
    static RUNS: StdMutex<Vec<Vec<String>>> = StdMutex::new(Vec::new());
    RUNS.lock().unwrap().clear();
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(2);
    builder.check(|| {
        let outcome = scenarios!(pthread_sync, loom::thread, loom::sync::Arc);
        RUNS.lock().unwrap().push(outcome);
    });
    std::mem::take(&mut *RUNS.lock().unwrap())
}

#[test]
fn model_and_glibc_agree() {
    // The scenarios' panics are expected; keep them quiet.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let real = real_outcomes();
    let model_runs = model_outcomes();
    std::panic::set_hook(hook);

    assert!(!model_runs.is_empty());
    for run in &model_runs {
        assert_eq!(
            run, &model_runs[0],
            "the scripted scenarios must be deterministic"
        );
    }
    let model = &model_runs[0];
    for (r, m) in real.iter().zip(model) {
        assert_eq!(r, m, "glibc and the model disagree");
    }
    assert_eq!(real.len(), model.len());
    assert_eq!(real.len(), 26);
    for line in &real {
        println!("{line}");
    }
}

/// A robust mutex whose holder died, as the crate meets it in a barrier seat: glibc's
/// `EOWNERDEAD` (the holder a thread that ended holding it) against the model's `abandon`
/// (`model_check::die`). Written once over the barrier's placement (`$place`: in a region for
/// glibc, anywhere in the model) and the way a member dies (`$die`, run on the member's own
/// thread, which then ends).
macro_rules! dead_member {
    ($krate:ident, $thread:path, $place:expr, $die:expr) => {{
        use $krate::{BreakCause, Error};
        use $thread as thread;
        let mut out: Vec<String> = Vec::new();
        let mut say = |what: &str, v: String| out.push(format!("{what}: {v}"));
        let barrier = $place;
        let b = barrier.clone();
        let seat = thread::spawn(move || {
            let member = b.join().unwrap();
            let seat = member.seat();
            $die(member);
            seat
        })
        .join()
        .unwrap();
        say("the dead member's seat", format!("{seat}"));
        say(
            "broken before anyone looked",
            format!("{}", barrier.is_broken()),
        );
        let me = barrier.join().map(|m| m.seat());
        say("join takes the dead member's seat", format!("{me:?}"));
        say("broken by that join", format!("{}", barrier.is_broken()));
        let member = barrier.join();
        say(
            "a join after that member left",
            format!("{:?}", member.as_ref().map(|m| m.seat())),
        );
        drop(member);
        let member = barrier.join().unwrap();
        let died = match member.wait() {
            Err(Error::BarrierBroken(BreakCause::MemberDied { seat, .. })) => {
                format!("MemberDied in seat {seat}")
            }
            other => format!("{other:?}"),
        };
        say("the wait after the death", died);
        barrier.reset();
        say(
            "after a reset",
            format!("{:?}", member.wait().map(|r| r.is_leader())),
        );
        out
    }};
}

#[test]
fn model_and_glibc_agree_on_a_dead_member() {
    let real = dead_member!(
        real,
        std::thread,
        std::sync::Arc::new(real::ShmBox::anonymous(real::SharedBarrier::<1>::new()).unwrap()),
        // The thread ends holding the seat: the kernel marks its robust mutex owner-died
        // before `join` returns (pthread_join waits for the thread's exit).
        std::mem::forget
    );
    static RUNS: StdMutex<Vec<Vec<String>>> = StdMutex::new(Vec::new());
    RUNS.lock().unwrap().clear();
    loom::model(|| {
        let outcome = dead_member!(
            pthread_sync,
            loom::thread,
            loom::sync::Arc::new(pthread_sync::SharedBarrier::<1>::new()),
            pthread_sync::model_check::die
        );
        RUNS.lock().unwrap().push(outcome);
    });
    let runs = std::mem::take(&mut *RUNS.lock().unwrap());
    assert!(!runs.is_empty());
    for run in &runs {
        assert_eq!(
            run, &real,
            "glibc and the model disagree about a dead holder"
        );
    }
    for line in &real {
        println!("{line}");
    }
}

// ---- The raw reader-writer lock and the futex word: the model's objects against glibc's
// and the kernel's own calls (the anchor), not against the crate's real backend. ----

/// glibc's `pthread_rwlock_t` of the kind the crate uses
/// (`PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP`), initialised with glibc's own calls, each
/// operation one glibc call, its errno returned as is.
struct GlibcRwLock(std::cell::UnsafeCell<libc::pthread_rwlock_t>);

// SAFETY: a pthread rwlock is made to be shared between threads; all access is glibc's calls.
unsafe impl Sync for GlibcRwLock {}
// SAFETY: as above.
unsafe impl Send for GlibcRwLock {}

extern "C" {
    fn pthread_rwlock_clockrdlock(
        lock: *mut libc::pthread_rwlock_t,
        clock: libc::clockid_t,
        abstime: *const libc::timespec,
    ) -> libc::c_int;
    fn pthread_rwlock_clockwrlock(
        lock: *mut libc::pthread_rwlock_t,
        clock: libc::clockid_t,
        abstime: *const libc::timespec,
    ) -> libc::c_int;
}

/// An absolute `CLOCK_MONOTONIC` point `dur` from now.
fn monotonic_after(dur: Duration) -> libc::timespec {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is valid for writes.
    assert_eq!(
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t) },
        0
    );
    let ns = t.tv_nsec as u64 + u64::from(dur.subsec_nanos());
    t.tv_sec += dur.as_secs() as libc::time_t + (ns / 1_000_000_000) as libc::time_t;
    t.tv_nsec = (ns % 1_000_000_000) as libc::c_long;
    t
}

impl GlibcRwLock {
    /// A new lock, initialised in place (inside the `Arc`, where it stays).
    fn new() -> std::sync::Arc<GlibcRwLock> {
        // SAFETY: all zeroes is a valid bit pattern for the C struct (initialised below).
        let lock = std::sync::Arc::new(GlibcRwLock(std::cell::UnsafeCell::new(unsafe {
            std::mem::zeroed()
        })));
        // SAFETY: `attr` is initialised before use and destroyed after; the lock is at its
        // final address (inside the Arc) and not in use.
        unsafe {
            let mut attr: libc::pthread_rwlockattr_t = std::mem::zeroed();
            assert_eq!(libc::pthread_rwlockattr_init(&mut attr), 0);
            // PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP (not in the `libc` crate).
            assert_eq!(libc::pthread_rwlockattr_setkind_np(&mut attr, 2), 0);
            assert_eq!(libc::pthread_rwlock_init(lock.0.get(), &attr), 0);
            libc::pthread_rwlockattr_destroy(&mut attr);
        }
        lock
    }

    fn call(ret: libc::c_int) -> Result<(), libc::c_int> {
        if ret == 0 {
            Ok(())
        } else {
            Err(ret)
        }
    }

    fn read(&self) -> Result<(), libc::c_int> {
        // SAFETY: initialised in `new`, never moved.
        Self::call(unsafe { libc::pthread_rwlock_rdlock(self.0.get()) })
    }
    fn try_read(&self) -> Result<(), libc::c_int> {
        // SAFETY: as above.
        Self::call(unsafe { libc::pthread_rwlock_tryrdlock(self.0.get()) })
    }
    fn read_for(&self, dur: Duration) -> Result<(), libc::c_int> {
        let t = monotonic_after(dur);
        // SAFETY: as above; `t` is a valid absolute time on the clock named.
        Self::call(unsafe { pthread_rwlock_clockrdlock(self.0.get(), libc::CLOCK_MONOTONIC, &t) })
    }
    fn write(&self) -> Result<(), libc::c_int> {
        // SAFETY: as above.
        Self::call(unsafe { libc::pthread_rwlock_wrlock(self.0.get()) })
    }
    fn try_write(&self) -> Result<(), libc::c_int> {
        // SAFETY: as above.
        Self::call(unsafe { libc::pthread_rwlock_trywrlock(self.0.get()) })
    }
    fn write_for(&self, dur: Duration) -> Result<(), libc::c_int> {
        let t = monotonic_after(dur);
        // SAFETY: as above.
        Self::call(unsafe { pthread_rwlock_clockwrlock(self.0.get(), libc::CLOCK_MONOTONIC, &t) })
    }
    /// # Safety
    /// The calling thread holds it.
    unsafe fn unlock(&self) {
        // SAFETY: initialised; the caller holds it.
        assert_eq!(unsafe { libc::pthread_rwlock_unlock(self.0.get()) }, 0);
    }
}

/// How an outcome reads on both sides: the errno's name.
trait Named {
    fn named(&self) -> String;
}

impl Named for Result<(), libc::c_int> {
    fn named(&self) -> String {
        match self {
            Ok(()) => "ok".into(),
            Err(libc::EBUSY) => "EBUSY".into(),
            Err(libc::EDEADLK) => "EDEADLK".into(),
            Err(libc::ETIMEDOUT) => "ETIMEDOUT".into(),
            Err(libc::EAGAIN) => "EAGAIN".into(),
            Err(e) => format!("errno {e}"),
        }
    }
}

impl Named for Result<(), pthread_sync::Error> {
    fn named(&self) -> String {
        use pthread_sync::Error;
        match self {
            Ok(()) => "ok".into(),
            Err(Error::WouldBlock) => "EBUSY".into(),
            Err(Error::Deadlock) => "EDEADLK".into(),
            Err(Error::TimedOut) => "ETIMEDOUT".into(),
            Err(Error::Overflow) => "EAGAIN".into(),
            Err(e) => format!("{e:?}"),
        }
    }
}

/// The raw rwlock's scenarios (after glibc's tst-rwlock tests: the try forms' `EBUSY`,
/// `EDEADLK` for the write holder's blocking and timed forms only, timeouts, new readers
/// behind a waiting writer), written once over the lock's constructor, a thread module and an
/// `Arc`. Each acquisition that succeeds is released right away unless the scenario holds it.
macro_rules! raw_rwlock {
    ($new:expr, $thread:path, $arc:path) => {{
        use $arc as Arc;
        use $thread as thread;
        let short = Duration::from_millis(10);
        let mut out: Vec<String> = Vec::new();
        let mut say = |what: &str, v: String| out.push(format!("{what}: {v}"));
        // Releases a hold that `r` says was taken.
        macro_rules! release {
            ($l:expr, $r:expr) => {{
                let r = $r;
                if r.is_ok() {
                    // SAFETY: acquired just above by this thread.
                    unsafe { $l.unlock() };
                }
                r.named()
            }};
        }

        // A free lock: every form acquires.
        let l = $new;
        let free = [
            release!(l, l.try_read()),
            release!(l, l.read()),
            release!(l, l.read_for(short)),
            release!(l, l.try_write()),
            release!(l, l.write()),
            release!(l, l.write_for(short)),
        ];
        say(
            "free: try_read read read_for try_write write write_for",
            free.join(" "),
        );

        // Held for writing by this thread: the try forms EBUSY, the others EDEADLK.
        l.write().unwrap();
        let own = [
            release!(l, l.try_read()),
            release!(l, l.read()),
            release!(l, l.read_for(short)),
            release!(l, l.try_write()),
            release!(l, l.write()),
            release!(l, l.write_for(short)),
        ];
        say(
            "write holder: try_read read read_for try_write write write_for",
            own.join(" "),
        );
        let l2 = Arc::clone(&l);
        let other = thread::spawn(move || {
            [
                release!(l2, l2.try_read()),
                release!(l2, l2.read_for(short)),
                release!(l2, l2.try_write()),
                release!(l2, l2.write_for(short)),
            ]
            .join(" ")
        });
        say(
            "another thread while written: try_read read_for try_write write_for",
            other.join().unwrap(),
        );
        // SAFETY: taken above by this thread.
        unsafe { l.unlock() };

        // Held for reading by this thread: more reads, no write (a timed one times out: it
        // would wait for this very thread).
        l.read().unwrap();
        let own = [
            release!(l, l.try_read()),
            release!(l, l.read_for(short)),
            release!(l, l.try_write()),
            release!(l, l.write_for(short)),
        ];
        say(
            "read holder: try_read read_for try_write write_for",
            own.join(" "),
        );
        let l2 = Arc::clone(&l);
        let other = thread::spawn(move || {
            [
                release!(l2, l2.try_read()),
                release!(l2, l2.read_for(short)),
                release!(l2, l2.try_write()),
                release!(l2, l2.write_for(short)),
            ]
            .join(" ")
        });
        say(
            "another thread while read: try_read read_for try_write write_for",
            other.join().unwrap(),
        );

        // A writer waiting behind this thread's read: new reads wait behind it, this
        // thread's own included (the non-recursive kind), until the read is released.
        let l2 = Arc::clone(&l);
        let writer = thread::spawn(move || release!(l2, l2.write()));
        let mut polls = 0u32;
        let seen = loop {
            match l.try_read() {
                Ok(()) => {
                    // SAFETY: acquired just above.
                    unsafe { l.unlock() };
                    polls += 1;
                    assert!(polls < 1_000_000, "the writer never waited");
                    thread::yield_now();
                }
                r => break r.named(),
            }
        };
        say("try_read once a writer waits", seen);
        say(
            "read_for by the reader once a writer waits",
            release!(l, l.read_for(short)),
        );
        // SAFETY: the read taken before the writer started.
        unsafe { l.unlock() };
        say(
            "the waiting writer, once the read is gone",
            writer.join().unwrap(),
        );
        out
    }};
}

/// The futex word's scenarios: the atomic operations, a wait on a value the word no longer
/// holds (returns at once, not timed out), a timed wait nobody ends (timed out), a wake with
/// nobody asleep, and a waiter ended by a change and a wake.
macro_rules! raw_futex {
    ($new:expr, $wait:expr, $wake:expr, $thread:path, $arc:path) => {{
        use std::sync::atomic::Ordering::SeqCst;
        use $arc as Arc;
        use $thread as thread;
        let mut out: Vec<String> = Vec::new();
        let mut say = |what: &str, v: String| out.push(format!("{what}: {v}"));
        let f = Arc::new($new(4));
        say(
            "fetch_or 1, fetch_add 2, load",
            format!(
                "{} {} {}",
                f.fetch_or(1, SeqCst),
                f.fetch_add(2, SeqCst),
                f.load(SeqCst)
            ),
        );
        say(
            "compare_exchange 7->8, 7->9",
            format!(
                "{:?} {:?}",
                f.compare_exchange(7, 8, SeqCst, SeqCst),
                f.compare_exchange(7, 9, SeqCst, SeqCst)
            ),
        );
        say(
            "wait on a value it does not hold: timed out",
            format!("{}", $wait(&*f, 3, true)),
        );
        say(
            "timed wait on its value, nobody wakes: timed out",
            format!("{}", $wait(&*f, 8, true)),
        );
        say("wake with nobody asleep", format!("{}", $wake(&*f)));
        let f2 = Arc::clone(&f);
        let waiter = thread::spawn(move || $wait(&*f2, 8, false));
        f.store(9);
        $wake(&*f);
        say(
            "untimed wait ended by a change and a wake: timed out",
            format!("{}", waiter.join().unwrap()),
        );
        out
    }};
}

/// A kernel futex word (the anchor for the model's `Futex`): `FUTEX_WAIT_BITSET` with an
/// absolute `CLOCK_MONOTONIC` deadline, `FUTEX_WAKE`, private.
struct KernelFutex(std::sync::atomic::AtomicU32);

impl KernelFutex {
    fn new(v: u32) -> KernelFutex {
        KernelFutex(std::sync::atomic::AtomicU32::new(v))
    }
    fn load(&self, o: std::sync::atomic::Ordering) -> u32 {
        self.0.load(o)
    }
    fn fetch_or(&self, v: u32, o: std::sync::atomic::Ordering) -> u32 {
        self.0.fetch_or(v, o)
    }
    fn fetch_add(&self, v: u32, o: std::sync::atomic::Ordering) -> u32 {
        self.0.fetch_add(v, o)
    }
    fn compare_exchange(
        &self,
        a: u32,
        b: u32,
        s: std::sync::atomic::Ordering,
        f: std::sync::atomic::Ordering,
    ) -> Result<u32, u32> {
        self.0.compare_exchange(a, b, s, f)
    }
    fn store(&self, v: u32) {
        self.0.store(v, std::sync::atomic::Ordering::SeqCst)
    }
    /// Whether the wait timed out.
    fn wait(&self, expected: u32, timed: bool) -> bool {
        let t = monotonic_after(Duration::from_millis(10));
        let timeout = if timed {
            &t as *const libc::timespec
        } else {
            std::ptr::null()
        };
        // SAFETY: the word is a live aligned u32; `timeout` is null or a valid timespec.
        let r = unsafe {
            libc::syscall(
                libc::SYS_futex,
                self.0.as_ptr(),
                libc::FUTEX_WAIT_BITSET | libc::FUTEX_PRIVATE_FLAG,
                expected,
                timeout,
                std::ptr::null::<u32>(),
                libc::FUTEX_BITSET_MATCH_ANY,
            )
        };
        r == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ETIMEDOUT)
    }
    /// Wakes every sleeper: how many.
    fn wake(&self) -> i64 {
        // SAFETY: the word is a live aligned u32.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                self.0.as_ptr(),
                libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
                i32::MAX,
            )
        }
    }
}

/// The model's futex word, with the test's `store`.
trait Store {
    fn store(&self, v: u32);
}
impl Store for pthread_sync::model_check::Futex {
    fn store(&self, v: u32) {
        let old = self.load(std::sync::atomic::Ordering::SeqCst);
        let _ = self.compare_exchange(
            old,
            v,
            std::sync::atomic::Ordering::SeqCst,
            std::sync::atomic::Ordering::SeqCst,
        );
    }
}

/// Runs `scenario` under loom (preemption bound 2): every execution's outcome, which must all
/// be the same.
fn in_the_model(scenario: fn() -> Vec<String>) -> Vec<String> {
    // Per call (the tests run at once, on threads of their own).
    let runs = std::sync::Arc::new(StdMutex::new(Vec::<Vec<String>>::new()));
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(2);
    let into = std::sync::Arc::clone(&runs);
    builder.check(move || {
        let outcome = scenario();
        into.lock().unwrap().push(outcome);
    });
    let runs = std::mem::take(&mut *runs.lock().unwrap());
    assert!(!runs.is_empty());
    for run in &runs {
        assert_eq!(
            run, &runs[0],
            "the scripted scenarios must be deterministic"
        );
    }
    runs.into_iter().next().unwrap()
}

fn agree(real: &[String], model: &[String], what: &str) {
    for (r, m) in real.iter().zip(model) {
        assert_eq!(r, m, "glibc and the model disagree ({what})");
    }
    assert_eq!(real.len(), model.len(), "{what}");
    for line in real {
        println!("{line}");
    }
}

#[test]
fn model_and_glibc_agree_on_the_raw_rwlock() {
    let real = raw_rwlock!(GlibcRwLock::new(), std::thread, std::sync::Arc);
    let model = in_the_model(|| {
        raw_rwlock!(
            loom::sync::Arc::new(pthread_sync::model_check::RawRwLock::new()),
            loom::thread,
            loom::sync::Arc
        )
    });
    agree(&real, &model, "raw rwlock");
    assert_eq!(real.len(), 8);
}

#[test]
fn the_lock_word_and_glibc_agree_on_the_raw_rwlock() {
    let real = raw_rwlock!(GlibcRwLock::new(), std::thread, std::sync::Arc);
    let word = in_the_model(|| {
        raw_rwlock!(
            loom::sync::Arc::new(pthread_sync::model_check::RwWord::new()),
            loom::thread,
            loom::sync::Arc
        )
    });
    agree(&real, &word, "RwLock's lock word");
    assert_eq!(real.len(), 8);
}

#[test]
fn model_and_the_kernel_agree_on_the_futex_word() {
    let real = raw_futex!(
        KernelFutex::new,
        |f: &KernelFutex, v, timed| f.wait(v, timed),
        |f: &KernelFutex| f.wake(),
        std::thread,
        std::sync::Arc
    );
    let model = in_the_model(|| {
        use pthread_sync::model_check::{Deadline, Futex, Scope};
        raw_futex!(
            Futex::new,
            |f: &Futex, v, timed: bool| {
                let d = Deadline::after(Duration::from_millis(10));
                f.wait(v, timed.then_some(&d), Scope::Private)
            },
            // The model wakes every sleeper and counts none; the kernel's count is compared
            // only with nobody asleep (the crate never reads it).
            |f: &Futex| f.wake(i32::MAX, Scope::Private) as i64,
            loom::thread,
            loom::sync::Arc
        )
    });
    agree(&real, &model, "futex word");
}

// ---- The in-process RwLock and Barrier, and the SharedBarrier, through the public API. ----

/// What a call that may panic did: its value, or the start of the panic message.
fn caught<T: std::fmt::Debug>(f: impl FnOnce() -> T) -> String {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(v) => format!("{v:?}"),
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            let what = if msg.contains("would deadlock") {
                "would deadlock"
            } else {
                "other"
            };
            format!("panicked ({what})")
        }
    }
}

/// `RwLock` and `Barrier` scenarios, written once over a crate path, a thread module and an
/// `Arc`: misuse, try and timed forms, a second read while a writer waits, downgrade,
/// poisoning; a barrier's leaders, `new(0)`, a lone timed wait, `Debug`.
macro_rules! rwlock_and_barrier {
    ($krate:ident, $thread:path, $arc:path, $part:expr) => {{
        use $arc as Arc;
        use $krate::{Barrier, LockTimeoutError, RwLock, RwLockWriteGuard, TryLockError};
        use $thread as thread;
        let short = Duration::from_millis(10);
        let mut out: Vec<String> = Vec::new();
        let mut say = |what: &str, v: String| out.push(format!("{what}: {v}"));
        let would_block = |r: bool| if r { "WouldBlock" } else { "other" };

        // In parts (loom allows a few threads per model).
        if $part == 0 {
            let l = Arc::new(RwLock::new(1u32));
            {
                let w = l.write().unwrap();
                say(
                    "write holder: try_read, try_write",
                    format!(
                        "{} {}",
                        would_block(matches!(l.try_read(), Err(TryLockError::WouldBlock))),
                        would_block(matches!(l.try_write(), Err(TryLockError::WouldBlock)))
                    ),
                );
                say("write holder: read", caught(|| l.read().map(|g| *g).ok()));
                say(
                    "write holder: read_timeout",
                    caught(|| l.read_timeout(short).map(|g| *g).ok()),
                );
                say("write holder: write", caught(|| l.write().map(|g| *g).ok()));
                say(
                    "write holder: write_timeout",
                    caught(|| l.write_timeout(short).map(|g| *g).ok()),
                );
                let l2 = Arc::clone(&l);
                let other = thread::spawn(move || {
                    (
                        matches!(l2.try_read(), Err(TryLockError::WouldBlock)),
                        matches!(l2.read_timeout(short), Err(LockTimeoutError::TimedOut)),
                        matches!(l2.write_timeout(short), Err(LockTimeoutError::TimedOut)),
                    )
                });
                say(
                    "another thread while written: try_read WouldBlock, read_timeout and \
                 write_timeout TimedOut",
                    format!("{:?}", other.join().unwrap()),
                );
                drop(w);
            }
            {
                let r = l.read().unwrap();
                say(
                    "read holder: try_read, read_timeout",
                    format!(
                        "{:?} {:?}",
                        l.try_read().map(|g| *g).ok(),
                        l.read_timeout(short).map(|g| *g).ok()
                    ),
                );
                say(
                    "read holder: write (an upgrade)",
                    caught(|| l.write().map(|g| *g).ok()),
                );
                say(
                    "read holder: try_write",
                    would_block(matches!(l.try_write(), Err(TryLockError::WouldBlock))).into(),
                );
                let l2 = Arc::clone(&l);
                let other = thread::spawn(move || {
                    (
                        l2.try_read().map(|g| *g).ok(),
                        matches!(l2.try_write(), Err(TryLockError::WouldBlock)),
                        matches!(l2.write_timeout(short), Err(LockTimeoutError::TimedOut)),
                    )
                });
                say(
                    "another thread while read: try_read, try_write WouldBlock, write_timeout \
                 TimedOut",
                    format!("{:?}", other.join().unwrap()),
                );
                // A writer waits for this read; a second read by this thread is counted, not
                // queued behind it.
                let l2 = Arc::clone(&l);
                let writer = thread::spawn(move || {
                    *l2.write().unwrap() += 1;
                });
                thread::yield_now();
                let again = l.read().map(|g| *g).ok();
                say("second read while a writer may wait", format!("{again:?}"));
                drop(r);
                writer.join().unwrap();
            }
            say(
                "after the write",
                format!("{:?}", l.read().map(|g| *g).ok()),
            );
        }
        if $part == 1 {
            let l = Arc::new(RwLock::new(2u32));
            {
                let mut w = l.write().unwrap();
                *w = 5;
                let r = RwLockWriteGuard::downgrade(w);
                let l2 = Arc::clone(&l);
                let other = thread::spawn(move || {
                    (
                        l2.try_read().map(|g| *g).ok(),
                        matches!(l2.try_write(), Err(TryLockError::WouldBlock)),
                    )
                });
                say(
                    "downgraded: another thread's try_read, try_write WouldBlock",
                    format!("{:?}", other.join().unwrap()),
                );
                drop(r);
            }
            // Poisoning: a panicking writer poisons, a panicking reader does not.
            let l2 = Arc::clone(&l);
            let reader = thread::spawn(move || {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let _g = l2.read().unwrap();
                    panic!("reader");
                }))
                .is_err()
            });
            say(
                "a panicking reader: panicked, poisoned",
                format!("{} {}", reader.join().unwrap(), l.is_poisoned()),
            );
            let l2 = Arc::clone(&l);
            let writer = thread::spawn(move || {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let mut g = l2.write().unwrap();
                    *g = 6;
                    panic!("writer");
                }))
                .is_err()
            });
            say(
                "a panicking writer: panicked, poisoned, read",
                format!(
                    "{} {} {:?}",
                    writer.join().unwrap(),
                    l.is_poisoned(),
                    l.read().map(|g| *g).map_err(|e| *e.into_inner())
                ),
            );
            l.clear_poison();
            say("cleared", format!("{}", l.is_poisoned()));
        }

        if $part == 2 {
            say(
                "Barrier::new(0) and new(1): leaders",
                format!(
                    "{} {}",
                    Barrier::new(0).wait().is_leader(),
                    Barrier::new(1).wait().is_leader()
                ),
            );
            let b = Arc::new(Barrier::new(2));
            say(
                "Barrier::new(2), a lone wait_timeout",
                format!("{:?}", b.wait_timeout(short).map(|r| r.is_leader())),
            );
            let b2 = Arc::clone(&b);
            let other = thread::spawn(move || b2.wait().is_leader());
            let mine = b.wait().is_leader();
            let theirs = other.join().unwrap();
            say(
                "then a round of two: leaders",
                format!("{}", u32::from(mine) + u32::from(theirs)),
            );
            say("Barrier Debug", format!("{:?}", Barrier::new(3)));
        }
        out
    }};
}

/// `SharedBarrier` scenarios, over a crate path, a thread module and where the barrier is
/// placed (in a region for glibc, anywhere in the model).
macro_rules! shared_barrier {
    ($krate:ident, $thread:path, $place:expr) => {{
        use $krate::{BreakCause, Error};
        use $thread as thread;
        let short = Duration::from_millis(10);
        let mut out: Vec<String> = Vec::new();
        let mut say = |what: &str, v: String| out.push(format!("{what}: {v}"));
        let barrier = $place;
        let me = barrier.join().unwrap();
        say(
            "a lone wait_timeout of two",
            format!("{:?}", me.wait_timeout(short).map(|r| r.is_leader())),
        );
        say("broken after it", format!("{}", barrier.is_broken()));
        let b = barrier.clone();
        let other = thread::spawn(move || {
            let m = b.join().map_err(|e| e.to_string())?;
            let full = b.join().map(|m| m.seat());
            let seat = m.seat();
            let led = m.wait().map(|r| r.is_leader()).map_err(|e| e.to_string())?;
            Ok::<_, String>((seat, full, led))
        });
        let led = me.wait().map(|r| r.is_leader());
        let (seat, full, theirs) = other.join().unwrap().unwrap();
        say(
            "a round of two: the other's seat, a third join, leaders",
            format!(
                "{seat} {full:?} {}",
                u32::from(led == Ok(true)) + u32::from(theirs)
            ),
        );
        barrier.abort();
        say(
            "after abort",
            format!(
                "{} {:?}",
                barrier.is_broken(),
                me.wait().map(|r| r.is_leader())
            ),
        );
        barrier.reset();
        say("after reset", format!("{}", barrier.is_broken()));
        let _ = BreakCause::Aborted;
        let _: Option<Error> = None;
        out
    }};
}

#[test]
fn model_and_glibc_agree_on_rwlock_and_barrier() {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut real = Vec::new();
    let mut model = Vec::new();
    real.extend(rwlock_and_barrier!(real, std::thread, std::sync::Arc, 0));
    real.extend(rwlock_and_barrier!(real, std::thread, std::sync::Arc, 1));
    real.extend(rwlock_and_barrier!(real, std::thread, std::sync::Arc, 2));
    model.extend(in_the_model(|| {
        rwlock_and_barrier!(pthread_sync, loom::thread, loom::sync::Arc, 0)
    }));
    model.extend(in_the_model(|| {
        rwlock_and_barrier!(pthread_sync, loom::thread, loom::sync::Arc, 1)
    }));
    model.extend(in_the_model(|| {
        rwlock_and_barrier!(pthread_sync, loom::thread, loom::sync::Arc, 2)
    }));
    std::panic::set_hook(hook);
    agree(&real, &model, "RwLock and Barrier");
}

#[test]
fn model_and_glibc_agree_on_the_shared_barrier() {
    let real = shared_barrier!(
        real,
        std::thread,
        std::sync::Arc::new(real::ShmBox::anonymous(real::SharedBarrier::<2>::new()).unwrap())
    );
    let model = in_the_model(|| {
        shared_barrier!(
            pthread_sync,
            loom::thread,
            loom::sync::Arc::new(pthread_sync::SharedBarrier::<2>::new())
        )
    });
    agree(&real, &model, "SharedBarrier");
}
