//! Behaviour and error paths of `Sem`.

use pthread_sync::{Error, Sem};
use std::os::unix::thread::JoinHandleExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

#[test]
fn value_limits_are_errors_not_panics() {
    assert_eq!(Sem::MAX_VALUE, i32::MAX as u32);
    match Sem::new(Sem::MAX_VALUE + 1) {
        Err(Error::InvalidInput(why)) => assert!(why.contains("SEM_VALUE_MAX")),
        other => panic!("expected InvalidInput, got {other:?}"),
    }
    let s = Sem::new(Sem::MAX_VALUE).unwrap();
    assert_eq!(s.value(), Sem::MAX_VALUE);
    assert_eq!(s.post(), Err(Error::Overflow));
    assert_eq!(s.value(), Sem::MAX_VALUE, "a refused post changes nothing");
    s.wait();
    assert_eq!(s.post(), Ok(()));
    assert_eq!(s.post(), Err(Error::Overflow));
}

#[test]
fn wait_try_wait_and_timeout() {
    let s = Sem::new(1).unwrap();
    assert_eq!(s.try_wait(), Ok(()));
    assert_eq!(s.try_wait(), Err(Error::WouldBlock));
    let dur = Duration::from_millis(40);
    let start = Instant::now();
    assert_eq!(s.wait_timeout(dur), Err(Error::TimedOut));
    assert!(
        start.elapsed() >= dur,
        "returned after {:?}",
        start.elapsed()
    );
    s.post().unwrap();
    assert_eq!(s.wait_timeout(Duration::ZERO), Ok(()));
    assert_eq!(s.value(), 0);
}

#[test]
fn wait_timeout_returns_when_posted_in_time() {
    let s = Arc::new(Sem::new(0).unwrap());
    let s2 = Arc::clone(&s);
    let t = thread::spawn(move || s2.wait_timeout(Duration::from_secs(60)));
    thread::sleep(Duration::from_millis(10));
    s.post().unwrap();
    assert_eq!(t.join().unwrap(), Ok(()));
    assert_eq!(s.value(), 0);
}

#[test]
fn count_is_conserved_across_threads() {
    const THREADS: usize = 8;
    const ITERS: usize = 10_000;
    let s = Arc::new(Sem::new(3).unwrap());
    let inside = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..THREADS)
        .map(|i| {
            let (s, inside, peak) = (Arc::clone(&s), Arc::clone(&inside), Arc::clone(&peak));
            thread::spawn(move || {
                for _ in 0..ITERS {
                    let permit = match i % 3 {
                        0 => s.acquire(),
                        1 => s.acquire_timeout(Duration::from_secs(60)).unwrap(),
                        _ => loop {
                            if let Ok(p) = s.try_acquire() {
                                break p;
                            }
                            thread::yield_now();
                        },
                    };
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    inside.fetch_sub(1, Ordering::SeqCst);
                    drop(permit);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(s.value(), 3);
    assert!(peak.load(Ordering::SeqCst) <= 3);
}

#[test]
fn producers_and_consumers_exact_totals() {
    let s = Arc::new(Sem::new(0).unwrap());
    let consumed = Arc::new(AtomicUsize::new(0));
    let consumers: Vec<_> = (0..3)
        .map(|_| {
            let (s, consumed) = (Arc::clone(&s), Arc::clone(&consumed));
            thread::spawn(move || {
                for _ in 0..10_000 {
                    s.wait();
                    consumed.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    let producers: Vec<_> = (0..3)
        .map(|_| {
            let s = Arc::clone(&s);
            thread::spawn(move || {
                for _ in 0..10_000 {
                    s.post().unwrap();
                }
            })
        })
        .collect();
    for h in producers.into_iter().chain(consumers) {
        h.join().unwrap();
    }
    assert_eq!(consumed.load(Ordering::SeqCst), 30_000);
    assert_eq!(s.value(), 0);
}

#[test]
fn permits_post_on_drop_unless_forgotten() {
    let s = Sem::new(2).unwrap();
    let a = s.acquire();
    let b = s.try_acquire().unwrap();
    assert_eq!(s.try_acquire().unwrap_err(), Error::WouldBlock);
    assert_eq!(
        s.acquire_timeout(Duration::from_millis(5)).unwrap_err(),
        Error::TimedOut
    );
    drop(a);
    assert_eq!(s.value(), 1);
    b.forget();
    assert_eq!(s.value(), 1);
    assert!(format!("{:?}", s.acquire()).contains("SemPermit"));
}

static STATIC_SEM: Sem = Sem::new_const::<1>();

#[test]
fn static_sem_and_debug() {
    let p = STATIC_SEM.acquire();
    assert_eq!(format!("{STATIC_SEM:?}"), "Sem { value: 0 }");
    drop(p);
    assert_eq!(format!("{:?}", Sem::new(4).unwrap()), "Sem { value: 4 }");
    assert_eq!(Sem::default().value(), 0);
}

static HANDLED: AtomicUsize = AtomicUsize::new(0);

extern "C" fn on_sigusr1(_: libc::c_int) {
    HANDLED.fetch_add(1, Ordering::SeqCst);
}

/// Delivers SIGUSR1 (with a handler) to a thread blocked in `wait`/`wait_timeout` until the
/// handler has run a few times, then posts: the waits must be retried, not fail with EINTR.
#[test]
fn eintr_is_retried() {
    // SAFETY: a zeroed sigaction is a valid start; the handler only touches an atomic
    // (async-signal-safe); no SA_RESTART, so sem_wait really returns EINTR inside.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigusr1 as *const () as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        assert_eq!(libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut()), 0);
    }
    let s = Arc::new(Sem::new(0).unwrap());
    for timed in [false, true] {
        let s2 = Arc::clone(&s);
        let waiter = thread::spawn(move || {
            if timed {
                s2.wait_timeout(Duration::from_secs(120))
            } else {
                s2.wait();
                Ok(())
            }
        });
        let before = HANDLED.load(Ordering::SeqCst);
        while HANDLED.load(Ordering::SeqCst) < before + 5 {
            // SAFETY: the waiter thread is alive (joined only below), so its pthread_t is valid.
            unsafe { libc::pthread_kill(waiter.as_pthread_t(), libc::SIGUSR1) };
            thread::sleep(Duration::from_millis(5));
        }
        assert!(!waiter.is_finished(), "a signal ended the wait");
        s.post().unwrap();
        assert_eq!(waiter.join().unwrap(), Ok(()));
        assert_eq!(s.value(), 0);
    }
}
