//! The drop-in promise: code written against `std::sync::{Mutex, MutexGuard, Condvar}` compiles
//! and behaves the same with only the import changed. Each suite below is written once and
//! instantiated twice, over `std::sync` and over `pthread_sync`, and the outcomes compared.

macro_rules! suite {
    ($name:ident, $($path:tt)+) => {
        mod $name {
            use $($path)+::{Condvar, Mutex, MutexGuard, TryLockError};
            use std::sync::Arc;
            use std::thread;
            use std::time::Duration;

            // Code that names the guard type, as std users write helpers.
            fn bump(g: &mut MutexGuard<'_, Vec<u32>>, v: u32) {
                g.push(v);
            }

            static GLOBAL: Mutex<Vec<u32>> = Mutex::new(Vec::new());

            /// Runs a fixed scenario and records what it observed.
            pub fn scenario() -> Vec<String> {
                let mut seen = Vec::new();

                // Basic lock, guard helper, static.
                let m = Mutex::new(Vec::new());
                bump(&mut m.lock().unwrap(), 1);
                GLOBAL.lock().unwrap().push(7);
                seen.push(format!("{:?} {:?}", *m.lock().unwrap(), *GLOBAL.lock().unwrap()));

                // try_lock while held.
                let g = m.lock().unwrap();
                seen.push(format!("{}", matches!(m.try_lock(), Err(TryLockError::WouldBlock))));
                drop(g);

                // Poisoning through a panicking thread, then recovery.
                let shared = Arc::new(Mutex::new(0));
                let s2 = Arc::clone(&shared);
                let r = thread::spawn(move || {
                    let _g = s2.lock().unwrap();
                    panic!("boom");
                })
                .join();
                seen.push(format!("{} {}", r.is_err(), shared.is_poisoned()));
                let v = match shared.lock() {
                    Ok(g) => *g,
                    Err(poisoned) => *poisoned.into_inner() + 100,
                };
                shared.clear_poison();
                seen.push(format!("{v} {}", shared.is_poisoned()));
                seen.push(format!("{:?}", shared.try_lock().is_ok()));

                // get_mut, into_inner, Default, From.
                let mut owned = Mutex::from(5);
                *owned.get_mut().unwrap() += 1;
                let d: Mutex<u8> = Default::default();
                seen.push(format!("{} {}", owned.into_inner().unwrap(), d.into_inner().unwrap()));

                // Condvar: the std documentation's example, plus wait_timeout(_while).
                let pair = Arc::new((Mutex::new(false), Condvar::new()));
                let pair2 = Arc::clone(&pair);
                let t = thread::spawn(move || {
                    let (lock, cvar) = &*pair2;
                    *lock.lock().unwrap() = true;
                    cvar.notify_one();
                });
                let (lock, cvar) = &*pair;
                let mut started = lock.lock().unwrap();
                while !*started {
                    started = cvar.wait(started).unwrap();
                }
                seen.push(format!("{}", *started));
                drop(started);
                t.join().unwrap();

                let pair = (Mutex::new(0), Condvar::new());
                let (g, res) = pair
                    .1
                    .wait_timeout(pair.0.lock().unwrap(), Duration::from_millis(5))
                    .unwrap();
                seen.push(format!("{} {}", *g, res.timed_out()));
                drop(g);
                let (g, res) = pair
                    .1
                    .wait_timeout_while(pair.0.lock().unwrap(), Duration::from_millis(5), |v| *v == 0)
                    .unwrap();
                seen.push(format!("{} {}", *g, res.timed_out()));
                drop(g);
                let g = pair.1.wait_while(pair.0.lock().unwrap(), |v| *v != 0).unwrap();
                seen.push(format!("{}", *g));
                drop(g);
                pair.1.notify_all();
                let _: Condvar = Default::default();

                // Debug of a lock held elsewhere (here: by this thread), and of a free one.
                let m = Mutex::new(vec![1, 2]);
                let held = m.lock().unwrap();
                seen.push(format!("{m:?}"));
                drop(held);
                seen.push(format!("{m:?}"));

                // The deprecated wait_timeout_ms: its boolean when the time runs out, and when a
                // notification comes first (a notifier keeps notifying until the wait returns).
                let pair = Arc::new((Mutex::new(false), Condvar::new()));
                #[allow(deprecated)]
                let (g, no_timeout) = pair.1.wait_timeout_ms(pair.0.lock().unwrap(), 5).unwrap();
                seen.push(format!("timed out: {no_timeout}"));
                drop(g);
                let p2 = Arc::clone(&pair);
                let notifier = thread::spawn(move || {
                    while !*p2.0.lock().unwrap() {
                        p2.1.notify_all();
                        thread::sleep(Duration::from_millis(1));
                    }
                });
                #[allow(deprecated)]
                let (mut g, no_timeout) =
                    pair.1.wait_timeout_ms(pair.0.lock().unwrap(), 60_000).unwrap();
                *g = true;
                seen.push(format!("notified: {no_timeout}"));
                drop(g);
                notifier.join().unwrap();
                seen
            }
        }
    };
}

suite!(with_std, std::sync);
suite!(with_pthread_sync, pthread_sync);

#[test]
fn same_code_same_outcomes() {
    let expected = with_std::scenario();
    let got = with_pthread_sync::scenario();
    assert_eq!(got, expected);
    assert_eq!(got.len(), 14);
}

#[test]
fn same_auto_traits_as_std() {
    use std::panic::{RefUnwindSafe, UnwindSafe};
    fn unwind_safe<T: UnwindSafe + RefUnwindSafe>() {}
    fn send_sync<T: Send + Sync>() {}
    fn sync<T: Sync>() {}
    unwind_safe::<pthread_sync::Mutex<i32>>();
    unwind_safe::<pthread_sync::MutexGuard<'static, i32>>();
    unwind_safe::<pthread_sync::Condvar>();
    unwind_safe::<std::sync::Arc<(pthread_sync::Mutex<i32>, pthread_sync::Condvar)>>();
    send_sync::<pthread_sync::Mutex<std::cell::Cell<i32>>>();
    send_sync::<pthread_sync::Condvar>();
    sync::<pthread_sync::MutexGuard<'static, i32>>();
    // And the std code that needs them: a condvar pair moved into catch_unwind.
    let pair = std::sync::Arc::new((pthread_sync::Mutex::new(0), pthread_sync::Condvar::new()));
    let p2 = std::sync::Arc::clone(&pair);
    let r = std::panic::catch_unwind(move || {
        *p2.0.lock().unwrap() += 1;
        p2.1.notify_all();
    });
    assert!(r.is_ok());
    assert_eq!(*pair.0.lock().unwrap(), 1);
}

/// The same promise for `std::sync::RwLock`: one scenario, run over std and over the crate.
macro_rules! rw_suite {
    ($name:ident, $($path:tt)+) => {
        mod $name {
            use $($path)+::{RwLock, RwLockReadGuard, RwLockWriteGuard, TryLockError};
            use std::sync::Arc;
            use std::thread;

            fn total(g: &RwLockReadGuard<'_, Vec<u32>>) -> u32 {
                g.iter().sum()
            }

            fn push(g: &mut RwLockWriteGuard<'_, Vec<u32>>, v: u32) {
                g.push(v);
            }

            static GLOBAL: RwLock<Vec<u32>> = RwLock::new(Vec::new());

            pub fn scenario() -> Vec<String> {
                let mut seen = Vec::new();

                // Reads together, writes alone, a static, guard helpers.
                let l = RwLock::new(vec![1, 2]);
                {
                    let r1 = l.read().unwrap();
                    let r2 = l.read().unwrap();
                    seen.push(format!("{} {}", total(&r1), total(&r2)));
                    seen.push(format!("{}", matches!(l.try_write(), Err(TryLockError::WouldBlock))));
                    seen.push(format!("{}", l.try_read().is_ok()));
                }
                push(&mut l.write().unwrap(), 3);
                GLOBAL.write().unwrap().push(9);
                seen.push(format!("{:?} {:?}", *l.read().unwrap(), *GLOBAL.read().unwrap()));
                {
                    let w = l.write().unwrap();
                    seen.push(format!("{}", matches!(l.try_read(), Err(TryLockError::WouldBlock))));
                    seen.push(format!("{}", matches!(l.try_write(), Err(TryLockError::WouldBlock))));
                    // Debug while a writer (this thread) holds it.
                    seen.push(format!("{l:?}"));
                    seen.push(format!("{w:?} {}", w.len()));
                }
                // Debug while read, and free.
                {
                    let r = l.read().unwrap();
                    seen.push(format!("{l:?} {r:?}"));
                }
                seen.push(format!("{l:?}"));

                // Downgrade: the written value is read, no writer can get in meanwhile.
                let mut w = l.write().unwrap();
                w.push(4);
                // std's `downgrade` (the anchor) is Rust 1.92; the crate's needs no newer Rust.
                #[allow(clippy::incompatible_msrv)]
                let r = RwLockWriteGuard::downgrade(w);
                seen.push(format!("{:?} {}", *r, matches!(l.try_write(), Err(TryLockError::WouldBlock))));
                seen.push(format!("{}", l.try_read().is_ok()));
                drop(r);
                seen.push(format!("{}", l.try_write().is_ok()));

                // Only a panicking writer poisons.
                let shared = Arc::new(RwLock::new(0));
                let s2 = Arc::clone(&shared);
                let r = thread::spawn(move || {
                    let _g = s2.read().unwrap();
                    panic!("reader");
                })
                .join();
                seen.push(format!("{} {}", r.is_err(), shared.is_poisoned()));
                let s2 = Arc::clone(&shared);
                let r = thread::spawn(move || {
                    let _g = s2.write().unwrap();
                    panic!("writer");
                })
                .join();
                seen.push(format!("{} {}", r.is_err(), shared.is_poisoned()));
                let v = match shared.read() {
                    Ok(g) => *g,
                    Err(p) => *p.into_inner() + 100,
                };
                seen.push(format!("{v} {:?}", shared.try_write().map(|_| ()).map_err(|e| matches!(e, TryLockError::Poisoned(_)))));
                seen.push(format!("{shared:?}"));
                shared.clear_poison();
                seen.push(format!("{}", shared.is_poisoned()));

                // get_mut, into_inner, Default, From.
                let mut owned = RwLock::from(5);
                *owned.get_mut().unwrap() += 1;
                let d: RwLock<u8> = Default::default();
                seen.push(format!("{} {}", owned.into_inner().unwrap(), d.into_inner().unwrap()));

                // Many readers and writers on threads: exact total.
                let counter = Arc::new(RwLock::new(0u64));
                let threads: Vec<_> = (0..4)
                    .map(|_| {
                        let c = Arc::clone(&counter);
                        thread::spawn(move || {
                            for i in 0..2000 {
                                if i % 10 == 0 {
                                    *c.write().unwrap() += 1;
                                } else {
                                    let _ = *c.read().unwrap();
                                }
                            }
                        })
                    })
                    .collect();
                for t in threads {
                    t.join().unwrap();
                }
                seen.push(format!("{}", *counter.read().unwrap()));
                seen
            }
        }
    };
}

rw_suite!(rw_with_std, std::sync);
rw_suite!(rw_with_pthread_sync, pthread_sync);

#[test]
fn rwlock_same_code_same_outcomes() {
    let expected = rw_with_std::scenario();
    let got = rw_with_pthread_sync::scenario();
    assert_eq!(got, expected);
    assert_eq!(got.len(), 20);
}

#[test]
fn rwlock_same_auto_traits_as_std() {
    use std::panic::{RefUnwindSafe, UnwindSafe};
    fn unwind_safe<T: UnwindSafe + RefUnwindSafe>() {}
    fn send_sync<T: Send + Sync>() {}
    fn sync<T: Sync>() {}
    unwind_safe::<pthread_sync::RwLock<i32>>();
    send_sync::<pthread_sync::RwLock<i32>>();
    sync::<pthread_sync::RwLockReadGuard<'static, i32>>();
    sync::<pthread_sync::RwLockWriteGuard<'static, i32>>();
}
