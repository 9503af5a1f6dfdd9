//! The differential test: the same scripted scenarios run on the real backend (glibc, real
//! threads, through the `real` crate: pthread-sync built normally) and on the model backend
//! (this package's build of the same sources, under loom), and the outcomes must be equal.
//! This keeps the model honest about glibc: a model that drifts fails here.

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
