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
    static TOKEN: u8 = 0;
}
#[cfg(not(loom))]
std::thread_local! {
    static TOKEN: u8 = const { 0 };
}

/// A number that identifies the calling thread among the live threads (never 0): the address
/// of a thread-local. (Under loom, of a loom thread-local, since loom threads share one OS
/// thread.) A thread that has exited may have its number reused, as its TID may be.
#[inline(always)]
pub(crate) fn thread_token() -> usize {
    TOKEN.with(|t| t as *const u8 as usize)
}
