//! The one place that chooses between real and model (loom) primitives.
//!
//! Every other file imports its atomics from here, so `cfg(loom)` appears in this file and in
//! `src/sys/mod.rs` only. Under loom, `const fn` constructors become plain `fn`s (loom's types
//! have no `const` constructors) through the [`const_fn!`] macro.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize};

/// Declares a `const fn` that is a plain `fn` when compiled over the loom model.
macro_rules! const_fn {
    ($(#[$attr:meta])* $vis:vis const fn $($rest:tt)*) => {
        #[cfg(not(loom))]
        $(#[$attr])* $vis const fn $($rest)*
        #[cfg(loom)]
        $(#[$attr])* $vis fn $($rest)*
    };
}
pub(crate) use const_fn;

#[cfg(loom)]
loom::thread_local! {
    static TOKEN: std::cell::Cell<usize> = std::cell::Cell::new(0);
}
#[cfg(not(loom))]
std::thread_local! {
    static TOKEN: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The next thread token to hand out (a plain std atomic: not part of any model).
static NEXT_TOKEN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);

/// A number that identifies the calling thread (never 0), taken from a global counter on the
/// thread's first call, so it is never reused, even after the thread exits (unlike a TID or a
/// thread-local's address, which glibc reuses at once for the next thread: a lock leaked by a
/// dead thread would then pass to a new one).
#[inline(always)]
pub(crate) fn thread_token() -> usize {
    TOKEN.with(|token| match token.get() {
        0 => {
            let fresh = NEXT_TOKEN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            token.set(fresh);
            fresh
        }
        known => known,
    })
}
