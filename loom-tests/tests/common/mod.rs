//! Shared set-up for the model checks.

#![allow(dead_code)]

/// The preemption bound every model runs under: interleavings with up to this many forced
/// context switches are explored exhaustively (loom's recommended bound is 2-3).
pub const PREEMPTION_BOUND: usize = 3;

/// Runs `f` under loom with the crate's preemption bound.
pub fn check<F>(f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(PREEMPTION_BOUND);
    builder.check(f);
}

/// Runs `f` under loom with the model switch `set` on (off again after, also if `f` fails).
fn check_switched<F>(set: fn(bool), f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    set(true);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(f)));
    set(false);
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

/// Runs `f` under loom with the model's spurious wake-ups switched on.
pub fn check_with_spurious_wakeups<F>(f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    check_switched(pthread_sync::model_check::set_spurious_wakeups, f);
}

/// Runs `f` under loom with every wake-up of the model's futex words and semaphores lost, as
/// to processes killed before they ran (`set_lost_wakeups`): only the process-shared waits'
/// second looks can see a change.
pub fn check_with_lost_wakeups<F>(f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    check_switched(pthread_sync::model_check::set_lost_wakeups, f);
}

/// Runs `f` under loom with `mutation` switched on. Returns the first failure loom reported
/// (a failed assertion, a data race, a deadlock...), or `None` if every interleaving passed.
pub fn rejected_with<F>(mutation: pthread_sync::model_check::Mutation, f: F) -> Option<String>
where
    F: Fn() + Sync + Send + 'static,
{
    static FIRST: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);
    *FIRST.lock().unwrap() = None;
    pthread_sync::model_check::set_mutation(Some(mutation));
    // Loom reports a failing interleaving by panicking: record the first report, quietly.
    // (Loom's coroutines also unwind with non-string payloads of their own: not reports.)
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let text = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned());
        let mut first = FIRST.lock().unwrap();
        if let (None, Some(text)) = (&*first, text) {
            *first = Some(text);
        }
    }));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(f)));
    std::panic::set_hook(hook);
    pthread_sync::model_check::set_mutation(None);
    let first = FIRST.lock().unwrap().take();
    result.err().map(|_| first.unwrap_or_default())
}

/// Runs `f`, which may be refused by the crate with a panic: returns whether it was. A panic
/// from the model itself (undefined behaviour reached, "model: ...") is not a refusal: it is
/// passed on, so that loom reports it.
pub fn refused(f: impl FnOnce()) -> bool {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(()) => false,
        Err(panic) => {
            let text = panic.downcast_ref::<&str>().copied().unwrap_or_default();
            if text.starts_with("model:") {
                std::panic::resume_unwind(panic);
            }
            true
        }
    }
}

/// Two spawned threads and then the main thread each increment a loom-tracked cell under the
/// lock `$make` builds inside the model, their first `lock()` calls racing (for a shared lock:
/// racing to arm it); loom reports any unsynchronised access to the cell, and the total must
/// be exact.
#[macro_export]
macro_rules! racing_increments {
    ($make:expr) => {{
        let m = loom::sync::Arc::new($make(loom::cell::UnsafeCell::new(0u32)));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let m = loom::sync::Arc::clone(&m);
                loom::thread::spawn(move || {
                    let g = m.lock().unwrap();
                    // SAFETY: the guard gives exclusive access to the cell (unless the
                    // crate's logic is broken, which loom then reports).
                    g.with_mut(|p| unsafe { *p += 1 });
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let g = m.lock().unwrap();
        // SAFETY: every other thread has been joined.
        assert_eq!(g.with(|p| unsafe { *p }), 2);
    }};
}

/// Two reader threads and a writer (the main thread) on the reader-writer lock `$lock` (an
/// `Arc` of a lock over a `loom::cell::UnsafeCell<u32>` holding 0): loom's race detector
/// reports a write that overlaps a read; each reader sees 0 or 1; the total is exact.
#[macro_export]
macro_rules! readers_and_a_writer {
    ($lock:expr) => {{
        let lock = $lock;
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let lock = loom::sync::Arc::clone(&lock);
                loom::thread::spawn(move || {
                    let g = lock.read().unwrap();
                    // SAFETY: a read hold (unless the logic is broken, which loom reports).
                    let v = g.with(|p| unsafe { *p });
                    assert!(v <= 1);
                })
            })
            .collect();
        {
            let g = lock.write().unwrap();
            // SAFETY: the write hold.
            g.with_mut(|p| unsafe { *p += 1 });
        }
        for r in readers {
            r.join().unwrap();
        }
        let g = lock.read().unwrap();
        // SAFETY: every other thread joined.
        assert_eq!(g.with(|p| unsafe { *p }), 1);
    }};
}

/// A thread that reads `$lock` (an `Arc` of a reader-writer lock holding `0u32`, armed) reads
/// it again while a writer waits: the second read is counted, not taken again behind the
/// writer (which waits for the first), so nothing deadlocks; then the write lands.
#[macro_export]
macro_rules! second_read_while_a_writer_waits {
    ($lock:expr) => {{
        let lock = $lock;
        let first = lock.read().unwrap();
        let writer = {
            let lock = loom::sync::Arc::clone(&lock);
            loom::thread::spawn(move || *lock.write().unwrap() += 1)
        };
        loom::thread::yield_now();
        let second = lock.read().unwrap();
        assert_eq!(*first + *second, 0);
        drop(first);
        drop(second);
        writer.join().unwrap();
        assert_eq!(*lock.read().unwrap(), 1);
    }};
}

/// Runs the ignored test `name` of the calling test binary in a child process (a mutant
/// whose lost wake-up loom reports from inside a model thread, where its runtime aborts the
/// process instead of unwinding); loom's report (the child's stderr), and whether the run
/// failed. The child is waited for (`output`), never left behind.
pub fn run_mutant(name: &str) -> (bool, String) {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            name,
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    (
        !out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
