//! The one place that chooses between real and model (loom) primitives for the wrappers.
//!
//! The wrappers import their atomics and thread-locals from here, so they carry no `cfg(loom)`
//! of their own. Under loom, `const fn` constructors become plain `fn`s (loom's types have no
//! `const` constructors) through the [`const_fn!`] macro.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicUsize};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicUsize};

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

/// Declares a thread-local with a constant initialiser: std's `const` form (no lazy-init
/// check on access), or loom's thread-local in the model build (modelled per loom thread).
macro_rules! thread_local_const {
    ($(#[$attr:meta])* static $name:ident: $t:ty = $init:expr;) => {
        #[cfg(not(loom))]
        std::thread_local! { $(#[$attr])* static $name: $t = const { $init }; }
        #[cfg(loom)]
        loom::thread_local! { $(#[$attr])* static $name: $t = $init; }
    };
}
pub(crate) use thread_local_const;
