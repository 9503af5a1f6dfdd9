//! Barriers between threads: the drop-in promise for `std::sync::Barrier` (each scenario is
//! written once and run over std's barrier and over this crate's, and the outcomes compared),
//! the timed wait, and `SharedBarrier` with threads standing in for processes (joining,
//! seats, abort, reset, a member thread that panics or ends holding its seat).
//! Forked processes are in `tests/barrier.rs`.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

use pthread_sync::{BreakCause, Error, SharedBarrier, ShmBox};

/// The longest any step of these tests may take.
const BOUND: Duration = Duration::from_secs(5);

macro_rules! suite {
    ($name:ident, $($path:tt)+) => {
        mod $name {
            use $($path)+::{Barrier, BarrierWaitResult};
            use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
            use std::sync::Arc;
            use std::thread;
            use std::time::Duration;

            static STATIC: Barrier = Barrier::new(1);

            // Code that names the result type, as std users write helpers.
            fn leader(r: &BarrierWaitResult) -> bool {
                r.is_leader()
            }

            /// Runs a fixed scenario and records what it observed.
            pub fn scenario() -> Vec<String> {
                let mut seen = Vec::new();

                // n = 0 and n = 1 never block; every wait is the leader.
                for n in [0, 1] {
                    let b = Barrier::new(n);
                    let r: Vec<bool> = (0..3).map(|_| leader(&b.wait())).collect();
                    seen.push(format!("n={n}: {r:?}"));
                }
                seen.push(format!("static: {}", STATIC.wait().is_leader()));

                // Debug of the barrier and of both results.
                seen.push(format!("{:?}", Barrier::new(3)));
                seen.push(format!("{:?}", Barrier::new(0).wait()));
                let b = Arc::new(Barrier::new(2));
                let waiting = Arc::new(AtomicBool::new(false));
                let first = {
                    let (b, waiting) = (Arc::clone(&b), Arc::clone(&waiting));
                    thread::spawn(move || {
                        waiting.store(true, SeqCst);
                        format!("{:?}", b.wait())
                    })
                };
                while !waiting.load(SeqCst) {
                    thread::yield_now();
                }
                // The first thread is (almost surely) blocked by now: the second arrival is
                // the leader, as in std.
                thread::sleep(Duration::from_millis(50));
                let second = format!("{:?}", b.wait());
                seen.push(format!("first {}, second {second}", first.join().unwrap()));

                // Exactly one leader a round: 3 threads x 200 rounds.
                let b = Arc::new(Barrier::new(3));
                let leaders = Arc::new(AtomicUsize::new(0));
                let arrived = Arc::new(AtomicUsize::new(0));
                let threads: Vec<_> = (0..3)
                    .map(|_| {
                        let (b, leaders, arrived) =
                            (Arc::clone(&b), Arc::clone(&leaders), Arc::clone(&arrived));
                        thread::spawn(move || {
                            for round in 0..200 {
                                arrived.fetch_add(1, SeqCst);
                                if b.wait().is_leader() {
                                    leaders.fetch_add(1, SeqCst);
                                }
                                // Nobody leaves a round before all three arrived in it.
                                assert!(arrived.load(SeqCst) >= 3 * (round + 1));
                                b.wait();
                            }
                        })
                    })
                    .collect();
                for t in threads {
                    t.join().unwrap();
                }
                seen.push(format!("3 x 200: {} leaders", leaders.load(SeqCst)));

                // More threads than parties: 12 threads, one wait each, on a barrier of 3:
                // the arrivals make 4 rounds, in arrival order, with 4 leaders. (Threads that
                // wait many times each could end with too few of them left to make a round.)
                let b = Arc::new(Barrier::new(3));
                let leaders = Arc::new(AtomicUsize::new(0));
                let threads: Vec<_> = (0..12)
                    .map(|_| {
                        let (b, leaders) = (Arc::clone(&b), Arc::clone(&leaders));
                        thread::spawn(move || {
                            if b.wait().is_leader() {
                                leaders.fetch_add(1, SeqCst);
                            }
                        })
                    })
                    .collect();
                for t in threads {
                    t.join().unwrap();
                }
                seen.push(format!("12 threads on 3: {} leaders", leaders.load(SeqCst)));

                // The std documentation's example (scoped threads borrowing the barrier).
                let n = 10;
                let barrier = Barrier::new(n);
                let after = AtomicUsize::new(0);
                thread::scope(|s| {
                    for _ in 0..n {
                        s.spawn(|| {
                            barrier.wait();
                            after.fetch_add(1, SeqCst);
                        });
                    }
                });
                seen.push(format!("scoped: {}", after.load(SeqCst)));
                seen
            }
        }
    };
}

suite!(with_std, std::sync);
suite!(with_pthread_sync, pthread_sync);

#[test]
fn barrier_behaves_as_std() {
    let std = with_std::scenario();
    let ours = with_pthread_sync::scenario();
    assert_eq!(ours, std);
    // And what std does is what the docs say (the comparison alone would pass two equal bugs).
    assert_eq!(std[0], "n=0: [true, true, true]");
    assert_eq!(std[3], "Barrier { .. }");
    assert_eq!(std[4], "BarrierWaitResult { is_leader: true }");
    assert_eq!(
        std[5],
        "first BarrierWaitResult { is_leader: false }, second BarrierWaitResult { is_leader: true }"
    );
}

fn auto_traits<T: Send + Sync + Unpin + std::panic::UnwindSafe + std::panic::RefUnwindSafe>() {}

#[test]
fn barrier_has_std_auto_traits() {
    auto_traits::<std::sync::Barrier>();
    auto_traits::<pthread_sync::Barrier>();
    assert!(!std::mem::needs_drop::<pthread_sync::Barrier>());
}

#[test]
fn a_huge_n_never_completes_a_round_like_std() {
    // With std, `Barrier::new(usize::MAX)` blocks every waiter; so does ours (a timed wait
    // shows it without hanging the test).
    let b = pthread_sync::Barrier::new(usize::MAX);
    assert_eq!(
        b.wait_timeout(Duration::from_millis(5)),
        Err(Error::TimedOut)
    );
}

#[test]
fn wait_timeout_alone_times_out_within_bounds() {
    let b = pthread_sync::Barrier::new(2);
    for dur in [Duration::ZERO, Duration::from_millis(20)] {
        let start = Instant::now();
        assert_eq!(b.wait_timeout(dur), Err(Error::TimedOut));
        let took = start.elapsed();
        assert!(took >= dur, "{took:?}");
        assert!(took < dur + Duration::from_millis(500), "{took:?}");
    }
    // A leader's timed wait returns at once.
    assert!(pthread_sync::Barrier::new(1)
        .wait_timeout(Duration::ZERO)
        .unwrap()
        .is_leader());
}

/// A timed-out arrival is withdrawn: with n = 3, one thread times out, then two more
/// arrive: they do not make a round (they wait for a third), until a third arrives.
#[test]
fn a_timed_out_arrival_is_withdrawn() {
    let b = pthread_sync::Barrier::new(3);
    assert_eq!(
        b.wait_timeout(Duration::from_millis(10)),
        Err(Error::TimedOut)
    );
    let returned = AtomicUsize::new(0);
    let leaders = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                if b.wait().is_leader() {
                    leaders.fetch_add(1, SeqCst);
                }
                returned.fetch_add(1, SeqCst);
            });
        }
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(
            returned.load(SeqCst),
            0,
            "two arrivals made a round of three"
        );
        if b.wait_timeout(BOUND).unwrap().is_leader() {
            leaders.fetch_add(1, SeqCst);
        }
    });
    assert_eq!(returned.load(SeqCst), 2);
    assert_eq!(leaders.load(SeqCst), 1);
}

/// Timeouts racing with completions: one thread waits with tiny timeouts until it has made
/// 2 000 rounds with a thread that always waits. Every completed round is one `Ok` on each
/// side (a timed-out arrival never counts), with exactly one leader.
#[test]
fn timeouts_racing_completions_keep_rounds_whole() {
    const ROUNDS: usize = 2_000;
    let b = pthread_sync::Barrier::new(2);
    let leaders = AtomicUsize::new(0);
    let timeouts = AtomicUsize::new(0);
    std::thread::scope(|s| {
        s.spawn(|| {
            for _ in 0..ROUNDS {
                if b.wait().is_leader() {
                    leaders.fetch_add(1, SeqCst);
                }
            }
        });
        let mut done = 0;
        let mut step = 0u64;
        while done < ROUNDS {
            step = step
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            match b.wait_timeout(Duration::from_micros(step >> 58)) {
                Ok(r) => {
                    done += 1;
                    if r.is_leader() {
                        leaders.fetch_add(1, SeqCst);
                    }
                }
                Err(Error::TimedOut) => {
                    timeouts.fetch_add(1, SeqCst);
                }
                Err(e) => panic!("{e:?}"),
            }
        }
    });
    assert_eq!(leaders.load(SeqCst), ROUNDS);
    eprintln!(
        "{ROUNDS} rounds, {} timeouts on the way",
        timeouts.load(SeqCst)
    );
}

// SharedBarrier, with threads standing in for processes.

#[test]
fn shared_barrier_rounds_between_threads() {
    const N: usize = 4;
    const ROUNDS: usize = 1_000;
    let region = ShmBox::anonymous(SharedBarrier::<N>::new()).unwrap();
    let leaders = AtomicUsize::new(0);
    let arrived = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..N {
            s.spawn(|| {
                let me = region.join().unwrap();
                for round in 0..ROUNDS {
                    arrived.fetch_add(1, SeqCst);
                    if me.wait().unwrap().is_leader() {
                        leaders.fetch_add(1, SeqCst);
                    }
                    assert!(arrived.load(SeqCst) >= N * (round + 1));
                    me.wait().unwrap();
                }
            });
        }
    });
    assert_eq!(leaders.load(SeqCst), ROUNDS);
    assert!(!region.is_broken());
}

#[test]
fn seats_are_taken_freed_and_refused_when_full() {
    let region = ShmBox::anonymous(SharedBarrier::<3>::new()).unwrap();
    let a = region.join().unwrap();
    let b = region.join().unwrap();
    let c = region.join().unwrap();
    assert_eq!((a.seat(), b.seat(), c.seat()), (0, 1, 2));
    assert_eq!(region.join().unwrap_err(), Error::BarrierFull { seats: 3 });
    drop(b);
    let again = region.join().unwrap();
    assert_eq!(again.seat(), 1, "the freed seat");
    assert_eq!(region.parties(), 3);
    assert_eq!(
        format!("{:?}", *region),
        "SharedBarrier { parties: 3, broken: false, .. }"
    );
    assert_eq!(format!("{again:?}"), "Member { seat: 1, .. }");
    let err = Error::BarrierFull { seats: 3 };
    assert_eq!(err.errno(), libc::EUSERS);
    assert_eq!(
        std::io::Error::from(err).kind(),
        std::io::ErrorKind::ResourceBusy
    );
}

#[test]
fn a_shared_barrier_outside_a_region_is_refused() {
    let on_stack = SharedBarrier::<2>::new();
    assert_eq!(on_stack.join().unwrap_err(), Error::NotInRegion);
    let boxed = Box::new(SharedBarrier::<1>::new());
    assert_eq!(boxed.join().unwrap_err(), Error::NotInRegion);
}

/// Waits (bounded) until `n` threads have raised `count`.
fn await_count(count: &AtomicUsize, n: usize) {
    let start = Instant::now();
    while count.load(SeqCst) < n {
        assert!(
            start.elapsed() < BOUND,
            "only {} of {n}",
            count.load(SeqCst)
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Three members wait, a fourth seat's member calls `abort`: every waiter returns
/// `Aborted`, later waits fail at once, and after `reset` the four make rounds again.
#[test]
fn abort_breaks_every_waiter_until_reset() {
    let region = ShmBox::anonymous(SharedBarrier::<4>::new()).unwrap();
    let joined = AtomicUsize::new(0);
    let seen_break = AtomicUsize::new(0);
    let go = AtomicBool::new(false);
    std::thread::scope(|s| {
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                s.spawn(|| {
                    let me = region.join().unwrap();
                    joined.fetch_add(1, SeqCst);
                    let first = me.wait();
                    let again = me.wait();
                    seen_break.fetch_add(1, SeqCst);
                    while !go.load(SeqCst) {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    let after_reset = me.wait().map(|r| r.is_leader());
                    (first, again, after_reset)
                })
            })
            .collect();
        let me = region.join().unwrap();
        await_count(&joined, 3);
        std::thread::sleep(Duration::from_millis(30));
        region.abort();
        assert!(region.is_broken());
        assert_eq!(me.wait(), Err(Error::BarrierBroken(BreakCause::Aborted)));
        // Everyone has seen the break once the waiters' second waits returned.
        await_count(&seen_break, 3);
        region.reset();
        assert!(!region.is_broken());
        go.store(true, SeqCst);
        let mine = me.wait_timeout(BOUND).unwrap().is_leader();
        let mut leaders = usize::from(mine);
        for w in waiters {
            let (first, again, after) = w.join().unwrap();
            assert_eq!(first, Err(Error::BarrierBroken(BreakCause::Aborted)));
            assert_eq!(again, Err(Error::BarrierBroken(BreakCause::Aborted)));
            leaders += usize::from(after.unwrap());
        }
        assert_eq!(leaders, 1);
    });
    let err = Error::BarrierBroken(BreakCause::Aborted);
    assert_eq!(err.errno(), libc::ECANCELED);
    assert_eq!(
        err.to_string(),
        "barrier broken: abort() was called; every wait fails with this error until reset() \
         is called"
    );
}

/// A reset while members wait in an unbroken round releases them with `Reset`.
#[test]
fn reset_releases_the_waiters_of_an_open_round() {
    let region = ShmBox::anonymous(SharedBarrier::<3>::new()).unwrap();
    let joined = AtomicUsize::new(0);
    std::thread::scope(|s| {
        let waiter = s.spawn(|| {
            let me = region.join().unwrap();
            joined.fetch_add(1, SeqCst);
            me.wait()
        });
        await_count(&joined, 1);
        std::thread::sleep(Duration::from_millis(30));
        region.reset();
        assert_eq!(
            waiter.join().unwrap(),
            Err(Error::BarrierBroken(BreakCause::Reset))
        );
    });
    assert!(!region.is_broken(), "a reset leaves it whole");
}

/// A member whose thread panics is dropped while unwinding: the barrier breaks for the
/// others, naming its seat and process.
#[test]
fn a_panicking_member_breaks_the_barrier() {
    let region = ShmBox::anonymous(SharedBarrier::<2>::new()).unwrap();
    let me = region.join().unwrap();
    std::thread::scope(|s| {
        let t = s.spawn(|| {
            let _other = region.join().unwrap();
            panic!("a member gives up");
        });
        assert!(t.join().is_err());
    });
    assert_eq!(
        me.wait_timeout(BOUND),
        Err(Error::BarrierBroken(BreakCause::MemberPanicked {
            seat: 1,
            pid: std::process::id()
        }))
    );
}

/// A member thread that ends holding its seat (its `Member` leaked) is dead to the kernel:
/// the waiting member is released with `MemberDied` within the poll period (plus slack), the
/// barrier stays broken, and after a reset a new member takes the dead one's seat and the
/// rounds go on.
#[test]
fn a_member_thread_that_ends_is_reported_dead() {
    let region = ShmBox::anonymous(SharedBarrier::<2>::new()).unwrap();
    let me = region.join().unwrap();
    // Joined explicitly (`pthread_join`): the kernel has released the dead thread's robust
    // mutexes when it returns (a scope's implicit join may return a little before).
    std::thread::scope(|s| {
        s.spawn(|| std::mem::forget(region.join().unwrap()))
            .join()
            .unwrap();
    });
    let start = Instant::now();
    let got = me.wait_timeout(BOUND);
    let took = start.elapsed();
    let died = Error::BarrierBroken(BreakCause::MemberDied {
        seat: 1,
        pid: std::process::id(),
    });
    assert_eq!(got, Err(died));
    assert!(
        took < pthread_sync::barrier::POLL * 5,
        "noticed after {took:?}"
    );
    assert_eq!(me.wait(), Err(died), "broken until reset");
    assert!(died.to_string().contains("seat 1"), "{died}");
    assert_eq!(died.errno(), libc::EOWNERDEAD);
    region.reset();
    std::thread::scope(|s| {
        s.spawn(|| {
            let replacement = region.join().unwrap();
            assert_eq!(replacement.seat(), 1);
            replacement.wait_timeout(BOUND).unwrap();
        });
        me.wait_timeout(BOUND).unwrap();
    });
}

/// A dead member found by `join` (nobody was waiting to notice it): the barrier is broken for
/// it, and the joiner takes the seat.
#[test]
fn join_finds_a_dead_member_and_breaks_the_barrier() {
    let region = ShmBox::anonymous(SharedBarrier::<1>::new()).unwrap();
    // Joined explicitly (`pthread_join`): the kernel has released the dead thread's robust
    // mutexes when it returns (a scope's implicit join may return a little before).
    std::thread::scope(|s| {
        s.spawn(|| std::mem::forget(region.join().unwrap()))
            .join()
            .unwrap();
    });
    assert!(!region.is_broken());
    let me = region.join().unwrap();
    assert_eq!(me.seat(), 0);
    assert!(region.is_broken());
    assert!(matches!(
        me.wait(),
        Err(Error::BarrierBroken(BreakCause::MemberDied { seat: 0, .. }))
    ));
    region.reset();
    assert!(me.wait().unwrap().is_leader());
}

#[test]
fn a_shared_timed_wait_withdraws_without_breaking() {
    let region = ShmBox::anonymous(SharedBarrier::<2>::new()).unwrap();
    let me = region.join().unwrap();
    let start = Instant::now();
    assert_eq!(
        me.wait_timeout(Duration::from_millis(50)),
        Err(Error::TimedOut)
    );
    assert!(start.elapsed() >= Duration::from_millis(50));
    assert!(!region.is_broken());
    std::thread::scope(|s| {
        let other = s.spawn(|| {
            let other = region.join().unwrap();
            other.wait_timeout(BOUND).unwrap().is_leader()
        });
        let mine = me.wait_timeout(BOUND).unwrap().is_leader();
        assert!(
            mine != other.join().unwrap(),
            "one leader, the withdrawn arrival not counted"
        );
    });
}

/// The documented bytes (src/shm/mod.rs): 24 + 56 N bytes aligned to 8; the state word at 0
/// (count in bits 0-21), the parties at 12, seat i at 24 + 56 i with its arming word first
/// and the member's pid at 48.
#[test]
fn shared_barrier_layout_is_the_documented_one() {
    use std::mem::{align_of, size_of};
    assert_eq!(size_of::<SharedBarrier<1>>(), 80);
    assert_eq!(size_of::<SharedBarrier<4>>(), 24 + 56 * 4);
    assert_eq!(align_of::<SharedBarrier<4>>(), 8);
    let region = ShmBox::anonymous(SharedBarrier::<3>::new()).unwrap();
    let base = &*region as *const SharedBarrier<3> as usize;
    // SAFETY: naturally aligned words inside the live region, at the documented offsets,
    // which the crate itself only accesses atomically.
    let word = |offset: usize| unsafe {
        std::sync::atomic::AtomicU32::from_ptr((base + offset) as *mut u32).load(SeqCst)
    };
    // SAFETY: as above, for the 64-bit state word.
    let state = || unsafe { std::sync::atomic::AtomicU64::from_ptr(base as *mut u64).load(SeqCst) };
    assert_eq!(word(12), 3, "parties");
    let me = region.join().unwrap();
    let _second = region.join().unwrap();
    assert_eq!(me.seat(), 0);
    assert_eq!(
        (word(24), word(24 + 48)),
        (1, std::process::id()),
        "seat 0: armed, pid"
    );
    assert_eq!((word(80), word(80 + 48)), (1, std::process::id()), "seat 1");
    assert_eq!(
        (word(136), word(136 + 48)),
        (0, 0),
        "seat 2: unarmed, vacant"
    );
    assert_eq!(state() & ((1 << 22) - 1), 0);
    std::thread::scope(|s| {
        s.spawn(|| {
            let third = region.join().unwrap();
            assert_eq!(third.seat(), 2);
            assert_eq!(word(136 + 48), std::process::id());
            // Alone in the round: counted (1), then withdrawn.
            assert_eq!(
                third.wait_timeout(Duration::from_millis(30)),
                Err(Error::TimedOut)
            );
        });
        // Sample the count while the third waits.
        let start = Instant::now();
        while state() & ((1 << 22) - 1) != 1 {
            assert!(start.elapsed() < BOUND, "the arrival was never counted");
            std::hint::spin_loop();
        }
    });
    assert_eq!(state() & ((1 << 22) - 1), 0, "withdrawn");
    assert_eq!(word(136 + 48), 0, "the seat was freed");
    region.abort();
    assert_ne!(state() & (1 << 22), 0, "the broken bit");
    // SAFETY: as above, for the 64-bit cause word at 16.
    let cause = unsafe { std::sync::atomic::AtomicU64::from_ptr((base + 16) as *mut u64) };
    let cause = cause.load(SeqCst);
    assert_eq!(
        (cause & 0x3ff, (cause >> 10) & 7),
        (1, 3),
        "epoch 0 + 1, aborted"
    );
}

extern "C" fn ignore_signal(_: libc::c_int) {}

/// A waiter whose sleep a signal handler interrupts every 2 ms still looks at the seats once
/// a poll period has passed (the period is not restarted by each wake-up), so it notices a
/// dead member in time.
#[test]
fn interrupted_waits_still_notice_a_death() {
    // SAFETY: installs a handler that does nothing (async-signal-safe) for SIGUSR2, which no
    // other test of this binary uses; `act` is fully initialised.
    unsafe {
        let mut act: libc::sigaction = std::mem::zeroed();
        act.sa_sigaction = ignore_signal as extern "C" fn(libc::c_int) as usize;
        libc::sigemptyset(&mut act.sa_mask);
        assert_eq!(
            libc::sigaction(libc::SIGUSR2, &act, std::ptr::null_mut()),
            0
        );
    }
    let region = ShmBox::anonymous(SharedBarrier::<2>::new()).unwrap();
    let me = region.join().unwrap();
    std::thread::scope(|s| {
        s.spawn(|| std::mem::forget(region.join().unwrap()))
            .join()
            .unwrap();
    });
    // SAFETY: a plain call; the id names this thread, alive until the scope below ends.
    let waiter = unsafe { libc::pthread_self() };
    let stop = AtomicBool::new(false);
    let signals = AtomicUsize::new(0);
    let (got, took) = std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(SeqCst) {
                // SAFETY: `waiter` is a live thread of this process (it waits for this
                // scope to end before it can exit); SIGUSR2 has a handler.
                unsafe { libc::pthread_kill(waiter, libc::SIGUSR2) };
                signals.fetch_add(1, SeqCst);
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        let start = Instant::now();
        let got = me.wait_timeout(BOUND);
        stop.store(true, SeqCst);
        (got, start.elapsed())
    });
    assert!(
        matches!(
            got,
            Err(Error::BarrierBroken(BreakCause::MemberDied { seat: 1, .. }))
        ),
        "{got:?} after {took:?} and {} signals",
        signals.load(SeqCst)
    );
    assert!(took < pthread_sync::barrier::POLL * 5, "{took:?}");
}
