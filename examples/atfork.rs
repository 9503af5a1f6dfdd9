//! A child that deadlocks on a lock another thread held at `fork`, and the same program made
//! correct with the atfork registry.
//!
//! ```sh
//! cargo run --example atfork
//! ```
//!
//! A worker thread keeps updating a shared table under a `Locker`, holding the lock for a
//! while each time. The main thread forks. In the child only the forking thread exists: if
//! the worker held the lock at that moment, nobody will ever release it, and the child's
//! `lock()` would wait forever (here `lock_timeout` shows it instead of hanging). After
//! `atfork::protect(&TABLE)`, `prepare` takes the lock before each fork (waiting for the
//! worker to finish its update), and the child re-initialises it: the child always gets it,
//! and sees a whole update.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::thread;
use std::time::Duration;

use pthread_sync::{atfork, LockTimeoutError, Locker};

/// Two fields, always equal between updates.
static TABLE: Locker<[u64; 2]> = Locker::new([0, 0]);

/// Forks `n` children; each tries to lock `TABLE` (bounded) and exits 0 (got it, whole),
/// 1 (still held by a thread it does not have) or 2 (got it, half-updated). Counts each.
fn fork_children(n: usize) -> [usize; 3] {
    let mut counts = [0; 3];
    for _ in 0..n {
        // SAFETY: the child only locks TABLE (allocation-free) and leaves with `_exit`.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let code = match TABLE.lock_timeout(Duration::from_millis(100)) {
                Ok(t) if t[0] == t[1] => 0,
                Ok(_) => 2,
                Err(LockTimeoutError::TimedOut) => 1,
                Err(LockTimeoutError::Poisoned(_)) => 3,
            };
            // SAFETY: ends the child at once.
            unsafe { libc::_exit(code) };
        }
        assert!(pid > 0, "fork failed");
        let mut status = 0;
        // SAFETY: our child; `status` is valid for writes.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        let code = libc::WEXITSTATUS(status) as usize;
        counts[code.min(2)] += 1;
        thread::sleep(Duration::from_millis(3));
    }
    counts
}

pub fn main() {
    let stop = AtomicBool::new(false);
    thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(Relaxed) {
                let mut t = TABLE.lock().unwrap();
                t[0] += 1;
                thread::sleep(Duration::from_millis(2)); // a slow update, lock held
                t[1] += 1;
            }
        });

        let [ok, stuck, torn] = fork_children(20);
        println!("without the registry: of 20 children, {ok} got the lock, {stuck} found it held forever by a thread they do not have (a hang, without the timeout), {torn} saw a torn update");

        let _protected = atfork::protect(&TABLE).expect("registering the fork handlers");
        let [ok, stuck, torn] = fork_children(20);
        println!("with atfork::protect: of 20 children, {ok} got the lock, {stuck} found it held, {torn} saw a torn update");
        assert_eq!(
            (ok, stuck, torn),
            (20, 0, 0),
            "every child gets a whole table"
        );
        stop.store(true, Relaxed);
    });
}
