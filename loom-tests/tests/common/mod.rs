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

/// Runs `f` under loom with `mutation` switched on. Returns the first failure loom reported
/// (a failed assertion, a data race, a deadlock...), or `None` if every interleaving passed.
pub fn rejected_with<F>(mutation: pthread_sync::mutation::Mutation, f: F) -> Option<String>
where
    F: Fn() + Sync + Send + 'static,
{
    static FIRST: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);
    *FIRST.lock().unwrap() = None;
    pthread_sync::mutation::set(Some(mutation));
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
    pthread_sync::mutation::set(None);
    let first = FIRST.lock().unwrap().take();
    result.err().map(|_| first.unwrap_or_default())
}
