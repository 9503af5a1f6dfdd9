//! A short tour of pthread-sync on real threads and processes (`fork`, shared memory): what
//! each primitive does, printed as it runs.
//!
//! Run: `cargo run --release --example demo`

use pthread_sync::shm::{ShmBox, ShmSafe};
use pthread_sync::{
    Cond, Error, ErrorCheckLocker, LockTimeoutError, Locker, RecursiveLocker, Sem, SharedLockError,
    SharedLocker, SharedSem,
};
use std::cell::Cell;
use std::hint::black_box;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

// The two seed ports, run as part of the tour.
#[path = "atfork.rs"]
mod atfork_example;
#[path = "producer_consumer.rs"]
mod producer_consumer;
#[path = "signal_thread.rs"]
mod signal_thread;
#[path = "thread_pool.rs"]
mod thread_pool;

fn section(title: &str) {
    println!("\n== {title}");
}

fn locker_counter() {
    section("Locker (PTHREAD_MUTEX_NORMAL), a drop-in for std::sync::Mutex");
    let counter = Arc::new(Locker::new(0u64));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let c = Arc::clone(&counter);
            thread::spawn(move || {
                for _ in 0..100_000 {
                    *c.lock().unwrap() += 1;
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    println!(
        "4 threads x 100000 increments = {}",
        *counter.lock().unwrap()
    );

    let held = counter.lock().unwrap();
    let c2 = Arc::clone(&counter);
    let start = Instant::now();
    let r = thread::spawn(move || {
        matches!(
            c2.lock_timeout(Duration::from_millis(20)),
            Err(LockTimeoutError::TimedOut)
        )
    })
    .join()
    .unwrap();
    println!(
        "lock_timeout(20ms) on a held lock: timed out = {r} after {:?}",
        start.elapsed()
    );
    drop(held);

    let c3 = Arc::clone(&counter);
    let _ = thread::spawn(move || {
        let _g = c3.lock().unwrap();
        panic!("a worker panics while holding the lock (expected in this demo)");
    })
    .join();
    println!(
        "after a panic inside the lock: is_poisoned = {}",
        counter.is_poisoned()
    );
    counter.clear_poison();
}

fn errorcheck_and_recursive() {
    section("ErrorCheckLocker and RecursiveLocker");
    let m = ErrorCheckLocker::new(());
    let g = m.lock().unwrap();
    match m.lock() {
        Err(e @ Error::Deadlock) => println!("errorcheck relock by the owner: Err({e:?}), no hang"),
        other => println!("unexpected: {:?}", other.map(|_| ())),
    }
    drop(g);

    let r = RecursiveLocker::new(Cell::new(0));
    fn nested(r: &RecursiveLocker<Cell<i32>>, depth: i32) {
        let g = r.lock();
        g.set(g.get() + 1);
        if depth > 1 {
            nested(r, depth - 1);
        }
    }
    nested(&r, 5);
    println!(
        "recursive: locked 5 times, nested, on one thread: count = {}",
        r.lock().get()
    );
}

fn cond_and_sem() {
    section("Cond (CLOCK_MONOTONIC) and Sem (sem_t)");
    let state = Arc::new((Locker::new(Vec::<u32>::new()), Cond::new()));
    let producer = {
        let state = Arc::clone(&state);
        thread::spawn(move || {
            for i in 1..=5 {
                state.0.lock().unwrap().push(i);
                state.1.notify_one();
            }
        })
    };
    let (lock, cond) = &*state;
    let items = cond
        .wait_while(lock.lock().unwrap(), |q| q.len() < 5)
        .unwrap();
    println!("consumer woke with the queue full: {:?}", *items);
    drop(items);
    producer.join().unwrap();

    let (_g, res) = cond
        .wait_timeout(lock.lock().unwrap(), Duration::from_millis(10))
        .unwrap();
    println!(
        "wait_timeout(10ms) with no notify: timed_out = {}",
        res.timed_out()
    );

    let sem = Arc::new(Sem::new(2).unwrap());
    let running = Arc::new(Locker::new((0u32, 0u32))); // (now, peak)
    let workers: Vec<_> = (0..6)
        .map(|_| {
            let (sem, running) = (Arc::clone(&sem), Arc::clone(&running));
            thread::spawn(move || {
                let _permit = sem.acquire();
                {
                    let mut r = running.lock().unwrap();
                    r.0 += 1;
                    r.1 = r.1.max(r.0);
                }
                thread::sleep(Duration::from_millis(5));
                running.lock().unwrap().0 -= 1;
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    println!(
        "Sem::new(2) gating 6 workers: at most {} ran at once; value back to {}",
        running.lock().unwrap().1,
        sem.value()
    );
    match Sem::new(u32::MAX) {
        Err(e) => println!("Sem::new(u32::MAX): {e}"),
        Ok(_) => println!("unexpected: accepted"),
    }
}

/// What the processes share: a counter updated in two steps under a robust shared lock, and a
/// semaphore the victim posts once it holds the lock mid-update.
#[repr(C)]
struct Shared {
    counter: SharedLocker<[u64; 2]>,
    holding: SharedSem,
}
// SAFETY: #[repr(C)]; shared primitives over integers: no pointers, no Drop.
unsafe impl ShmSafe for Shared {}

/// Forks a child that runs `body` and leaves with `_exit` (it touches only the region).
fn fork(body: impl FnOnce() -> i32) -> libc::pid_t {
    // SAFETY: every other thread of the demo has been joined, so the child inherits no held
    // lock; it runs `body` (shared primitives and the region only), then `_exit`s.
    match unsafe { libc::fork() } {
        -1 => panic!("fork failed: {}", std::io::Error::last_os_error()),
        // SAFETY: leaves the child at once, without unwinding into the parent's code.
        0 => unsafe { libc::_exit(body()) },
        pid => pid,
    }
}

fn cross_process() {
    section("Processes: a robust SharedLocker in shared memory, across fork");
    let region = ShmBox::anonymous(Shared {
        counter: SharedLocker::new([0, 0]),
        holding: SharedSem::new(0).unwrap(),
    })
    .expect("an anonymous shared region");
    let s = &*region;
    let workers: Vec<_> = (0..4)
        .map(|_| {
            fork(|| {
                for _ in 0..50_000 {
                    let Ok(mut g) = s.counter.lock() else {
                        return 1;
                    };
                    g[0] += 1;
                    g[1] += 1;
                }
                0
            })
        })
        .collect();
    for pid in workers {
        let mut status = 0;
        // SAFETY: our unreaped child; `status` is valid for writes.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
    }
    println!(
        "4 forked processes x 50000 increments under one SharedLocker: {:?}",
        *s.counter.lock().unwrap()
    );
    // A holder killed halfway through an update.
    let victim = fork(|| {
        let Ok(mut g) = s.counter.lock() else {
            return 1;
        };
        g[0] += 1; // half of an update...
        let _ = s.holding.post();
        loop {
            // SAFETY: waits here to be killed.
            unsafe { libc::pause() };
        }
    });
    s.holding.wait_timeout(Duration::from_secs(10)).unwrap();
    // SAFETY: our unreaped child: kill it while it holds the lock, then reap it.
    unsafe {
        libc::kill(victim, libc::SIGKILL);
        libc::waitpid(victim, std::ptr::null_mut(), 0);
    }
    println!("killed process {victim} while it held the lock, halfway through an update");
    match s.counter.lock() {
        Err(SharedLockError::OwnerDied(mut died)) => {
            let g = died.get_mut();
            println!("next lock: OwnerDied, data {:?} (half-updated)", **g);
            g[1] = g[0]; // repair
            let g = died.make_consistent().unwrap();
            println!("repaired to {:?} and marked consistent", *g);
        }
        Ok(_) => println!("unexpected: a plain lock"),
        Err(e) => println!("unexpected: {e}"),
    }
    println!("and usable again: {:?}", *s.counter.lock().unwrap());
}

fn rwlock_and_barrier() {
    section("RwLock (writer-preferring, biased reads) and Barrier, drop-ins for std's");
    use pthread_sync::{Barrier, RwLock};
    let config = Arc::new(RwLock::new(vec![1u32, 2, 3]));
    let rounds = Arc::new(Barrier::new(4));
    let workers: Vec<_> = (0..4)
        .map(|id| {
            let (config, rounds) = (Arc::clone(&config), Arc::clone(&rounds));
            thread::spawn(move || {
                let mut leaders = 0;
                for round in 0..3u32 {
                    if id == 0 {
                        // One writer a round; the readers never see a half-made update.
                        config.write().unwrap().push(round + 4);
                    }
                    let sum: u32 = config.read().unwrap().iter().sum();
                    assert!(sum >= 6);
                    if rounds.wait().is_leader() {
                        leaders += 1;
                    }
                }
                leaders
            })
        })
        .collect();
    let leaders: u32 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    println!(
        "4 threads, 3 barrier rounds: {leaders} leaders (one a round); config now {:?}",
        *config.read().unwrap()
    );
    let r = config.read().unwrap();
    let again = config.read().unwrap(); // a second read by the same thread: counted
    println!(
        "a thread reading twice holds {} and {} elements",
        r.len(),
        again.len()
    );
}

fn quick_comparison() {
    section("Quick comparison: uncontended lock+unlock (see README for the criterion numbers)");
    // glibc skips atomics while a process has never had a second thread: make sure it has.
    thread::spawn(|| {}).join().unwrap();
    const N: u32 = 2_000_000;
    let ours = Locker::new(0u64);
    let std_m = std::sync::Mutex::new(0u64);
    let mut best = (f64::MAX, f64::MAX);
    for _ in 0..3 {
        let t = Instant::now();
        for _ in 0..N {
            *black_box(&ours).lock().unwrap() += 1;
        }
        best.0 = best.0.min(t.elapsed().as_nanos() as f64 / f64::from(N));
        let t = Instant::now();
        for _ in 0..N {
            *black_box(&std_m).lock().unwrap() += 1;
        }
        best.1 = best.1.min(t.elapsed().as_nanos() as f64 / f64::from(N));
    }
    println!(
        "Locker {:.1} ns, std::sync::Mutex {:.1} ns per lock+increment+unlock (ratio {:.2})",
        best.0,
        best.1,
        best.0 / best.1
    );
}

fn main() {
    println!(
        "pthread-sync demo: pthread mutexes, condvars and semaphores on real threads and processes"
    );
    // The demo's own panics are expected; keep their messages short.
    std::panic::set_hook(Box::new(|info| eprintln!("  (panic: {info})")));
    locker_counter();
    errorcheck_and_recursive();
    cond_and_sem();
    section("examples/thread_pool.rs: half-sync/half-reactive pool (Locker + Sem)");
    thread_pool::main();
    section("examples/producer_consumer.rs: bounded buffer (Locker + two Conds)");
    producer_consumer::main();
    rwlock_and_barrier();
    cross_process();
    section(
        "examples/atfork.rs: a lock another thread held at fork, without and with atfork::protect",
    );
    atfork_example::main();
    section(
        "examples/signal_thread.rs: a dedicated signal thread (signals blocked everywhere else)",
    );
    signal_thread::main();
    quick_comparison();
    println!("\ndone.");
}
