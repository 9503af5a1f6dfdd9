//! The one place that chooses between real and model (loom) primitives for the wrappers.
//!
//! The wrappers (`locker/`, `cond.rs`, `sem.rs`, `barrier/`, `placed.rs`, `poison.rs`) import their
//! atomics, thread-locals and process hooks from here, so none of them carries a `cfg(loom)`.
//! Besides this file, `cfg(loom)` appears only where the model build is assembled:
//! `sys/mod.rs` (which backend), `regions/mod.rs` (the table of regions, or its constant
//! stand-in: in the model every object is in a region), `lib.rs` (which modules: no `shm` in
//! the model, the `model_check` switches public), `switches.rs` (the switches themselves),
//! two dead-code allowances in `error.rs` (errno mapping the model never uses), and
//! `barrier/shared.rs` (`Member::die`, a member's death in the model, which calls the model
//! mutex's `abandon`, a method the real backend has no counterpart of). Under loom,
//! `const fn` constructors become plain `fn`s (loom's types have no `const` constructors)
//! through the [`const_fn!`] macro.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, AtomicU8, AtomicUsize};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, AtomicU8, AtomicUsize};

/// How many times a waiter looks at a word before it sleeps: `n`, or none in the model (where
/// a spin is only more interleavings of the same loads).
#[inline(always)]
pub(crate) const fn spins(n: u32) -> u32 {
    if cfg!(loom) {
        0
    } else {
        n
    }
}

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

/// This process's id (the arming word of process-shared objects names its armer).
#[cfg(not(loom))]
pub(crate) fn process_id() -> u32 {
    std::process::id()
}
/// In the model, threads stand in for processes: one process.
#[cfg(loom)]
pub(crate) fn process_id() -> u32 {
    1
}

/// A bounded wait by sleeping, 1 ms growing to 10 ms (yielding in the model, where time does
/// not pass: there it gives up after a few rounds, which loom then explores).
pub(crate) struct Backoff {
    #[cfg(not(loom))]
    deadline: std::time::Instant,
    #[cfg(not(loom))]
    sleep: std::time::Duration,
    #[cfg(loom)]
    rounds: u32,
}

impl Backoff {
    pub(crate) fn new(_bound: std::time::Duration) -> Backoff {
        Backoff {
            #[cfg(not(loom))]
            deadline: std::time::Instant::now() + _bound,
            #[cfg(not(loom))]
            sleep: std::time::Duration::from_millis(1),
            #[cfg(loom)]
            rounds: 0,
        }
    }

    /// Waits a little; `false` once the bound has passed.
    pub(crate) fn wait(&mut self) -> bool {
        #[cfg(not(loom))]
        {
            if std::time::Instant::now() >= self.deadline {
                return false;
            }
            std::thread::sleep(self.sleep);
            self.sleep = (self.sleep * 2).min(std::time::Duration::from_millis(10));
            true
        }
        #[cfg(loom)]
        {
            self.rounds += 1;
            loom::thread::yield_now();
            self.rounds < 4
        }
    }
}
