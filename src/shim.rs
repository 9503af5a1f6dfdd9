//! The one place that chooses between real and model (loom) primitives for the wrappers.
//!
//! The wrappers (`locker/`, `cond.rs`, `sem.rs`, `barrier/`, `placed.rs`, `poison.rs`) import their
//! atomics, thread-locals and process hooks from here, so none of them carries a `cfg(loom)`.
//! Besides this file, `cfg(loom)` appears only where the model build is assembled:
//! `sys/mod.rs` (which backend), `regions/mod.rs` (the table of regions, or its constant
//! stand-in: in the model every object is in a region), `lib.rs` (which modules: no `shm` in
//! the model, the `model_check` switches public), `switches.rs` (the switches themselves),
//! two dead-code allowances in `error.rs` (errno mapping the model never uses), three in
//! `lock_order/` (no regions in the model; a graph query only the model uses), and
//! `barrier/shared.rs` (`Member::die`, a member's death in the model, which calls the model
//! mutex's `abandon`, a method the real backend has no counterpart of), and
//! `rwlock/shared.rs` (`SharedRwLockReadGuard::die`, a reader's death in the model, which
//! calls `sys::thread_dies`). Under loom,
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

/// `[$e; $n]` for a value that is not `Copy`, in a `const fn`: an inline `const` block
/// repeated, or, in the model build (where `$e` is a plain `fn` call), `array::from_fn`.
macro_rules! array_of {
    ($e:expr; $n:expr) => {{
        #[cfg(not(loom))]
        let array = [const { $e }; $n];
        #[cfg(loom)]
        let array = std::array::from_fn(|_| $e);
        array
    }};
}
pub(crate) use array_of;

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

/// The table the biased read paths of the reader-writer locks publish their readers in
/// (`rwlock::bravo`): one process-wide table of `READER_SLOTS` words, each 0 or the address
/// of a lock a thread is reading through it. In the model a table per model run (loom's
/// `lazy_static`), smaller, so that collisions are explored too.
#[cfg(not(loom))]
pub(crate) const READER_SLOTS: usize = 256;
#[cfg(loom)]
pub(crate) const READER_SLOTS: usize = 4;

#[cfg(not(loom))]
#[inline(always)]
pub(crate) fn reader_slots() -> &'static [AtomicUsize; READER_SLOTS] {
    /// 2 KiB, one cache line per 8 slots; a thread hashes each lock to its own slot. Small,
    /// because a revoking writer scans it all.
    static SLOTS: [AtomicUsize; READER_SLOTS] = [const { AtomicUsize::new(0) }; READER_SLOTS];
    &SLOTS
}
#[cfg(loom)]
pub(crate) fn reader_slots() -> &'static [AtomicUsize; READER_SLOTS] {
    loom::lazy_static! {
        static ref SLOTS: [AtomicUsize; READER_SLOTS] = std::array::from_fn(|_| AtomicUsize::new(0));
    }
    &SLOTS
}

/// The capacity of the lock-order checker's graph (`lock_order::graph`): locks (nodes) and
/// edges with their stacks. In the model, small, so that a full graph is explored too.
#[cfg(not(loom))]
pub(crate) const LOCK_ORDER_NODES: usize = 1024;
#[cfg(loom)]
pub(crate) const LOCK_ORDER_NODES: usize = 4;
#[cfg(not(loom))]
pub(crate) const LOCK_ORDER_EDGES: usize = 4096;
#[cfg(loom)]
pub(crate) const LOCK_ORDER_EDGES: usize = 4;
/// Words of the graph's filter of addresses that may have a node (fewer atomics for loom).
#[cfg(not(loom))]
pub(crate) const LOCK_ORDER_FILTER_WORDS: usize = 64;
#[cfg(loom)]
pub(crate) const LOCK_ORDER_FILTER_WORDS: usize = 1;

/// A process-wide `static` of a type with a `const` constructor, reached through a function;
/// in the model, one per model run (loom's `lazy_static`, since loom's types have no `const`
/// constructors and a model's objects must be made inside it).
macro_rules! global {
    ($(#[$attr:meta])* $vis:vis fn $name:ident() -> $t:ty = $init:expr;) => {
        $(#[$attr])*
        #[cfg(not(loom))]
        #[inline(always)]
        $vis fn $name() -> &'static $t {
            static GLOBAL: $t = $init;
            &GLOBAL
        }
        $(#[$attr])*
        #[cfg(loom)]
        $vis fn $name() -> &'static $t {
            loom::lazy_static! {
                static ref GLOBAL: $t = $init;
            }
            &GLOBAL
        }
    };
}
pub(crate) use global;

/// `Debug` and `Display` of a guard as those of the data it dereferences to (as std's
/// guards print): `fmt_through_deref!([generics] Guard<..>);`.
macro_rules! fmt_through_deref {
    ([$($g:tt)*] $ty:ty) => {
        impl<$($g)*> std::fmt::Debug for $ty
        where
            <$ty as std::ops::Deref>::Target: std::fmt::Debug,
        {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Debug::fmt(&**self, f)
            }
        }
        impl<$($g)*> std::fmt::Display for $ty
        where
            <$ty as std::ops::Deref>::Target: std::fmt::Display,
        {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Display::fmt(&**self, f)
            }
        }
    };
}
pub(crate) use fmt_through_deref;

/// How many reader slots (robust mutexes, one cache line each) a
/// [`SharedRwLock`](crate::SharedRwLock) has: part of its documented layout. In the model,
/// two, so that two readers can collide on one and a writer's drain stays small.
#[cfg(not(loom))]
pub(crate) const SHARED_READER_SLOTS: usize = 16;
#[cfg(loom)]
pub(crate) const SHARED_READER_SLOTS: usize = 2;

/// How many forks lie between this process and the one its memory was first set up in: 0,
/// plus one in every child of a `fork` (a `pthread_atfork` child handler bumps it, once
/// [`watch_forks`] has registered it). What a thread recorded about the robust locks it holds
/// (a `SharedRwLock`'s read holds) names its generation; in a forked child that record and the
/// guards are copies of the parent thread's, whose holds the child's thread does not have. In
/// the model there is no fork: always 0.
#[cfg(not(loom))]
static FORKS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

#[cfg(not(loom))]
#[inline(always)]
pub(crate) fn fork_generation() -> u32 {
    FORKS.load(std::sync::atomic::Ordering::Relaxed)
}
#[cfg(loom)]
pub(crate) fn fork_generation() -> u32 {
    0
}

/// Makes sure [`fork_generation`] moves in forked children: registers the child handler with
/// `pthread_atfork`, once per process (a child inherits it). glibc keeps its first 48
/// handlers in static storage, so this allocates nothing. A no-op in the model.
#[cfg(not(loom))]
#[inline(always)]
pub(crate) fn watch_forks() {
    static WATCHING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if !WATCHING.load(std::sync::atomic::Ordering::Acquire) {
        watch_forks_now(&WATCHING);
    }
}
#[cfg(not(loom))]
#[cold]
#[inline(never)]
fn watch_forks_now(watching: &'static std::sync::atomic::AtomicBool) {
    extern "C" fn nothing() {}
    extern "C" fn child() {
        FORKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if let Err(e) = crate::sys::fork::atfork(nothing, nothing, child) {
            crate::error::fatal("pthread_atfork (fork generation)", e);
        }
        watching.store(true, std::sync::atomic::Ordering::Release);
    });
}
#[cfg(loom)]
pub(crate) fn watch_forks() {}

/// A number that tells this thread from the other live ones (for hashing it to a reader
/// slot): from a process-wide counter (in the model, one per model run, so that runs are
/// repeatable), spread by a multiplication.
#[inline(always)]
pub(crate) fn thread_hash() -> usize {
    thread_local_const! {
        static HASH: std::cell::Cell<usize> = std::cell::Cell::new(0);
    }
    HASH.with(|h| {
        let v = h.get();
        if v != 0 {
            return v;
        }
        let v = next_thread_number().wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        h.set(v);
        v
    })
}

#[cfg(not(loom))]
fn next_thread_number() -> usize {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}
#[cfg(loom)]
fn next_thread_number() -> usize {
    loom::lazy_static! {
        static ref NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);
    }
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// Between two sequentially consistent accesses of a store-then-load pattern (Dekker's):
/// nothing in the real build, where the accesses themselves are `SeqCst` (one total order,
/// which is what the pattern needs; on x86 the store or read-modify-write is already a full
/// barrier). In the model, a `SeqCst` fence: loom treats `SeqCst` accesses as `AcqRel` (its
/// README, "Unsupported features") and would report false alarms, but implements `SeqCst`
/// fences, which give the same order here.
#[inline(always)]
pub(crate) fn store_load_order() {
    #[cfg(loom)]
    loom::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
}

/// One step of a wait for another thread that is expected to finish soon: a spin hint for
/// the first rounds, then a yield. In the model, a yield (so loom schedules the others).
#[inline(always)]
pub(crate) fn spin_hint(round: u32) {
    #[cfg(not(loom))]
    {
        if round < 128 {
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
    #[cfg(loom)]
    {
        let _ = round;
        loom::thread::yield_now();
    }
}

/// A point `dur` from now, to ask whether it has passed (in the model: after three asks,
/// so that loom explores giving up). A point too far to represent (`Duration::MAX`) never
/// passes.
pub(crate) struct Expiry {
    /// `None`: never.
    #[cfg(not(loom))]
    at: Option<std::time::Instant>,
    #[cfg(loom)]
    asks: std::cell::Cell<u32>,
}

impl Expiry {
    pub(crate) fn after(_dur: std::time::Duration) -> Expiry {
        Expiry {
            #[cfg(not(loom))]
            at: std::time::Instant::now().checked_add(_dur),
            #[cfg(loom)]
            asks: std::cell::Cell::new(0),
        }
    }

    /// How long until the point (zero once passed; `Duration::MAX` for never). In the model,
    /// zero: the model's timed operations ignore durations (they may always time out).
    pub(crate) fn remaining(&self) -> std::time::Duration {
        #[cfg(not(loom))]
        {
            self.at.map_or(std::time::Duration::MAX, |at| {
                at.saturating_duration_since(std::time::Instant::now())
            })
        }
        #[cfg(loom)]
        {
            std::time::Duration::ZERO
        }
    }

    pub(crate) fn passed(&self) -> bool {
        #[cfg(not(loom))]
        {
            self.at.is_some_and(|at| std::time::Instant::now() >= at)
        }
        #[cfg(loom)]
        {
            self.asks.set(self.asks.get() + 1);
            self.asks.get() > 3
        }
    }
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
