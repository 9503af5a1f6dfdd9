//! The in-process `RwLock` beyond std's API: writers do not starve (shown against glibc's
//! reader-preferring kind, which does starve them), re-entrant reads never deadlock, misuse
//! is reported, timed forms, and exclusion under contention with the biased read path.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use pthread_sync::{LockTimeoutError, RwLock, RwLockWriteGuard, TryLockError};

/// Two reader threads that relay: each releases its read only once the other holds a read
/// taken after its own (the older hold always leaves first, the newer stays), so that the
/// lock is never free of readers, however the threads are scheduled; runs until `stop`.
/// With `patient`, a reader gives up waiting for the other after 5 ms (needed where a
/// waiting writer keeps the other out: the relay would otherwise wait for itself).
fn relay_readers<G>(
    read: impl Fn() -> G + Sync,
    running: &AtomicBool,
    stop: &AtomicBool,
    patient: bool,
) {
    // Each reader's ticket while it holds a read (0: none); tickets grow with every read.
    let tickets = [AtomicU64::new(0), AtomicU64::new(0)];
    let next = AtomicU64::new(1);
    thread::scope(|s| {
        for me in 0..2 {
            let (tickets, next, read) = (&tickets, &next, &read);
            s.spawn(move || {
                let other = &tickets[1 - me];
                while !stop.load(SeqCst) {
                    let g = read();
                    let mine = next.fetch_add(1, SeqCst);
                    tickets[me].store(mine, SeqCst);
                    if other.load(SeqCst) != 0 {
                        // Both readers in: the relay runs.
                        running.store(true, SeqCst);
                    }
                    let start = Instant::now();
                    while other.load(SeqCst) < mine
                        && !stop.load(SeqCst)
                        && !(patient && start.elapsed() >= Duration::from_millis(5))
                    {
                        std::hint::spin_loop();
                    }
                    tickets[me].store(0, SeqCst);
                    drop(g);
                }
            });
        }
    });
}

/// Waits (bounded) until the relay has both readers in.
fn await_running(running: &AtomicBool) {
    let start = Instant::now();
    while !running.load(SeqCst) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the readers never relayed"
        );
        thread::sleep(Duration::from_millis(1));
    }
}

struct RawReadGuard(*mut libc::pthread_rwlock_t);
impl Drop for RawReadGuard {
    fn drop(&mut self) {
        // SAFETY: this guard's thread took the read lock.
        unsafe { libc::pthread_rwlock_unlock(self.0) };
    }
}

/// glibc's default (reader-preferring) rwlock lets relaying readers keep a writer out for as
/// long as they relay (here 300 ms, the writer never got in); this `RwLock` lets the writer
/// in while they relay.
#[test]
fn writers_do_not_starve_where_a_reader_preferring_lock_starves_them() {
    // The anchor: a reader-preferring pthread rwlock, raw.
    struct Raw(std::cell::UnsafeCell<libc::pthread_rwlock_t>);
    // SAFETY: a pthread rwlock is made to be shared between threads.
    unsafe impl Sync for Raw {}
    impl Raw {
        fn ptr(&self) -> *mut libc::pthread_rwlock_t {
            self.0.get()
        }
    }
    let raw = Raw(std::cell::UnsafeCell::new(libc::PTHREAD_RWLOCK_INITIALIZER));
    let stop = AtomicBool::new(false);
    let running = AtomicBool::new(false);
    let writer_got_in = AtomicBool::new(false);
    thread::scope(|s| {
        s.spawn(|| {
            relay_readers(
                || {
                    // SAFETY: an initialised rwlock, released by the guard on this thread.
                    assert_eq!(unsafe { libc::pthread_rwlock_rdlock(raw.ptr()) }, 0);
                    RawReadGuard(raw.ptr())
                },
                &running,
                &stop,
                false,
            )
        });
        await_running(&running);
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(300) {
            // SAFETY: as above; a successful trywrlock is released at once.
            if unsafe { libc::pthread_rwlock_trywrlock(raw.ptr()) } == 0 {
                writer_got_in.store(true, SeqCst);
                // SAFETY: held just above.
                unsafe { libc::pthread_rwlock_unlock(raw.ptr()) };
                break;
            }
            thread::sleep(Duration::from_micros(200));
        }
        stop.store(true, SeqCst);
    });
    assert!(
        !writer_got_in.load(SeqCst),
        "the reader-preferring anchor let the writer in: the scenario shows nothing"
    );

    // The same scenario on this RwLock: a blocking write gets in while the readers relay.
    let lock = RwLock::new(0u64);
    let stop = AtomicBool::new(false);
    let running = AtomicBool::new(false);
    let waited = thread::scope(|s| {
        s.spawn(|| relay_readers(|| lock.read().unwrap(), &running, &stop, true));
        await_running(&running);
        let start = Instant::now();
        let got = lock.write_timeout(Duration::from_secs(10));
        let waited = start.elapsed();
        assert!(got.is_ok(), "the writer starved for 10 s");
        drop(got);
        stop.store(true, SeqCst);
        waited
    });
    eprintln!("writer waited {waited:?} while readers relayed");
}

/// A thread that reads already may read again while a writer waits: counted, no deadlock
/// (glibc's writer-preferring kind refuses that second read: `tryrdlock` is `EBUSY`, so a
/// blocking `rdlock` would wait forever for the writer, which waits for this thread).
///
/// The first hold taken each way the lock hands them out: a fast read (a fresh lock is
/// read-biased: the thread's reader slot), a slow read (just after a write the bias is off:
/// the pthread read lock, in the thread's record), and a downgraded write guard.
#[test]
fn a_second_read_while_a_writer_waits_is_counted_not_deadlocked() {
    second_read_while_a_writer_waits(|lock| lock.read().unwrap());
    second_read_while_a_writer_waits(|lock| {
        drop(lock.write().unwrap());
        lock.read().unwrap()
    });
    second_read_while_a_writer_waits(|lock| RwLockWriteGuard::downgrade(lock.write().unwrap()));
}

fn second_read_while_a_writer_waits(
    first_hold: impl for<'a> FnOnce(&'a RwLock<i32>) -> pthread_sync::RwLockReadGuard<'a, i32>,
) {
    let lock = Arc::new(RwLock::new(7));
    let first = first_hold(&lock);
    let writer = {
        let lock = Arc::clone(&lock);
        thread::spawn(move || *lock.write().unwrap() += 1)
    };
    // Until the writer is waiting (it makes new readers of other threads wait).
    let start = Instant::now();
    loop {
        let other = {
            let lock = Arc::clone(&lock);
            thread::spawn(move || lock.try_read().is_err())
                .join()
                .unwrap()
        };
        if other {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the writer never waited"
        );
        thread::sleep(Duration::from_millis(1));
    }
    let second = lock.read().unwrap();
    assert_eq!(*first + *second, 14);
    drop(first);
    assert_eq!(*second, 7, "still a read hold after the first guard went");
    drop(second);
    writer.join().unwrap();
    assert_eq!(*lock.read().unwrap(), 8);
}

fn panic_message(r: std::thread::Result<()>) -> String {
    let p = r.expect_err("no panic");
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[test]
fn an_upgrade_and_a_relock_by_the_writer_panic_instead_of_hanging() {
    let lock = RwLock::new(1);
    let r = lock.read().unwrap();
    let msg = panic_message(catch_unwind(AssertUnwindSafe(|| drop(lock.write()))));
    assert!(msg.contains("would deadlock"), "{msg}");
    let msg = panic_message(catch_unwind(AssertUnwindSafe(|| {
        drop(lock.write_timeout(Duration::from_secs(1)))
    })));
    assert!(msg.contains("would deadlock"), "{msg}");
    assert!(matches!(lock.try_write(), Err(TryLockError::WouldBlock)));
    assert_eq!(*r, 1, "the read guard is untouched");
    drop(r);

    let w = lock.write().unwrap();
    let msg = panic_message(catch_unwind(AssertUnwindSafe(|| drop(lock.write()))));
    assert!(msg.contains("would deadlock"), "{msg}");
    let msg = panic_message(catch_unwind(AssertUnwindSafe(|| drop(lock.read()))));
    assert!(msg.contains("would deadlock"), "{msg}");
    assert!(matches!(lock.try_read(), Err(TryLockError::WouldBlock)));
    drop(w);
    assert!(!lock.is_poisoned(), "a refused call poisons nothing");
    *lock.write().unwrap() += 1;
    assert_eq!(*lock.read().unwrap(), 2);

    // The upgrade found however the read was taken: just after a write the bias is off, so
    // the read is the pthread read lock (the write's try fails); a downgraded write guard's
    // read is a slot with the bias on (the write's try succeeds).
    drop(lock.write().unwrap());
    let slow = lock.read().unwrap();
    let msg = panic_message(catch_unwind(AssertUnwindSafe(|| drop(lock.write()))));
    assert!(msg.contains("would deadlock"), "{msg}");
    drop(slow);
    let downgraded = RwLockWriteGuard::downgrade(lock.write().unwrap());
    let msg = panic_message(catch_unwind(AssertUnwindSafe(|| drop(lock.write()))));
    assert!(msg.contains("would deadlock"), "{msg}");
    drop(downgraded);
    *lock.write().unwrap() += 1;
    assert_eq!(*lock.read().unwrap(), 3);
}

#[test]
fn timed_forms_time_out_and_succeed() {
    let lock = Arc::new(RwLock::new(0));
    // Held for writing elsewhere: both time out.
    let (held_tx, held_rx) = std::sync::mpsc::channel();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let holder = {
        let lock = Arc::clone(&lock);
        thread::spawn(move || {
            let g = lock.write().unwrap();
            held_tx.send(()).unwrap();
            go_rx.recv().unwrap();
            drop(g);
        })
    };
    held_rx.recv().unwrap();
    assert!(matches!(
        lock.read_timeout(Duration::from_millis(20)),
        Err(LockTimeoutError::TimedOut)
    ));
    assert!(matches!(
        lock.write_timeout(Duration::from_millis(20)),
        Err(LockTimeoutError::TimedOut)
    ));
    go_tx.send(()).unwrap();
    holder.join().unwrap();
    // Held for reading elsewhere (a fast read, if the bias is on): a write times out, reads
    // go on.
    let (held_tx, held_rx) = std::sync::mpsc::channel();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let reader = {
        let lock = Arc::clone(&lock);
        thread::spawn(move || {
            let g = lock.read().unwrap();
            held_tx.send(()).unwrap();
            go_rx.recv().unwrap();
            drop(g);
        })
    };
    held_rx.recv().unwrap();
    assert!(matches!(
        lock.write_timeout(Duration::from_millis(20)),
        Err(LockTimeoutError::TimedOut)
    ));
    assert_eq!(*lock.read_timeout(Duration::from_millis(20)).unwrap(), 0);
    go_tx.send(()).unwrap();
    reader.join().unwrap();
    *lock.write_timeout(Duration::from_millis(20)).unwrap() += 1;
    assert_eq!(*lock.read_timeout(Duration::from_millis(20)).unwrap(), 1);
}

/// Readers check an invariant that writers keep (two fields equal), while writers update the
/// fields in two steps; exact total at the end. Run with the read bias revoked and restored
/// many times (a write every 50 reads).
#[test]
fn readers_and_writers_exclude_under_contention() {
    const THREADS: usize = 4;
    const OPS: usize = 50_000;
    let lock = Arc::new(RwLock::new((0u64, 0u64)));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let lock = Arc::clone(&lock);
            thread::spawn(move || {
                for i in 0..OPS {
                    if (i + t) % 50 == 0 {
                        let mut w = lock.write().unwrap();
                        w.0 += 1;
                        std::hint::black_box(&mut *w);
                        w.1 += 1;
                    } else {
                        let r = lock.read().unwrap();
                        assert_eq!(r.0, r.1, "a reader saw a half-done write");
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let (a, b) = *lock.read().unwrap();
    assert_eq!(a, b);
    assert_eq!(a, (THREADS * OPS / 50) as u64);
}

/// A downgraded guard keeps every other writer out until it is dropped, while new readers
/// get in; then a writer does.
#[test]
fn downgrade_is_atomic_and_lets_readers_in() {
    let lock = Arc::new(RwLock::new(0));
    let mut w = lock.write().unwrap();
    *w = 5;
    let r = RwLockWriteGuard::downgrade(w);
    let other = {
        let lock = Arc::clone(&lock);
        thread::spawn(move || {
            let read = *lock.read().unwrap();
            let write_blocked = matches!(lock.try_write(), Err(TryLockError::WouldBlock));
            (read, write_blocked)
        })
        .join()
        .unwrap()
    };
    assert_eq!(other, (5, true));
    drop(r);
    *lock.write().unwrap() += 1;
    assert_eq!(*lock.read().unwrap(), 6);
}

/// More locks read at once by one thread than its record holds: still correct without
/// writers (the extra ones are read without the record).
#[test]
fn many_locks_read_at_once() {
    let locks: Vec<RwLock<usize>> = (0..20).map(RwLock::new).collect();
    let guards: Vec<_> = locks.iter().map(|l| l.read().unwrap()).collect();
    assert_eq!(guards.iter().map(|g| **g).sum::<usize>(), (0..20).sum());
    drop(guards);
    for l in &locks {
        *l.write().unwrap() += 1;
    }
    assert_eq!(
        locks.iter().map(|l| *l.read().unwrap()).sum::<usize>(),
        (1..21).sum()
    );
}

static GLOBAL: RwLock<Vec<u8>> = RwLock::new(Vec::new());

#[test]
fn a_static_lock_works() {
    GLOBAL.write().unwrap().push(1);
    assert_eq!(GLOBAL.read().unwrap().len(), 1);
}

#[test]
fn timed_forms_with_a_huge_duration_wait_and_never_panic() {
    // Duration::MAX (and any duration past what an `Instant` holds) is a wait without an end:
    // free, it succeeds at once; held, it waits for the release.
    let l = Arc::new(RwLock::new(0u32));
    for dur in [Duration::MAX, Duration::from_secs(u64::MAX / 2)] {
        drop(l.read_timeout(dur).unwrap());
        drop(l.write_timeout(dur).unwrap());
    }
    let held = l.write().unwrap();
    let l2 = Arc::clone(&l);
    let reader = thread::spawn(move || *l2.read_timeout(Duration::MAX).unwrap());
    let l3 = Arc::clone(&l);
    let writer = thread::spawn(move || {
        *l3.write_timeout(Duration::MAX).unwrap() += 1;
    });
    thread::sleep(Duration::from_millis(30));
    assert!(
        !reader.is_finished() && !writer.is_finished(),
        "a Duration::MAX timed form returned early"
    );
    drop(held);
    writer.join().unwrap();
    assert!(reader.join().unwrap() <= 1);
    assert_eq!(*l.read().unwrap(), 1);
}
