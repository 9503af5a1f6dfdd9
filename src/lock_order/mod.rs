//! Lock-order checking: a potential deadlock reported the first time the lock order that
//! makes it is taken, before the thread blocks, even on a run where the timing does not make
//! it hang.
//!
//! Every lock of the crate ([`Locker`](crate::Locker) and the other kinds, in-process and
//! shared, [`RwLock`](crate::RwLock) and [`SharedRwLock`](crate::SharedRwLock), and the
//! relock of a condition variable wait) records, when checking is on, which locks the
//! acquiring thread holds: "`A` held while `B` is taken" is an edge `A -> B` of one graph for
//! the process. An acquisition whose new edge closes a cycle (`B -> A` is there already,
//! directly or through other locks) is a potential deadlock: two threads taking the locks of
//! the cycle at the same time can each wait for the other forever. It is reported at that
//! acquisition, before the thread waits: both locks (see [Names](#names)), and the
//! acquisition sites and stacks of the edges of the cycle.
//!
//! ```
//! use pthread_sync::{lock_order, Locker};
//! use std::sync::atomic::{AtomicUsize, Ordering};
//!
//! static REPORTS: AtomicUsize = AtomicUsize::new(0);
//! lock_order::set_hook(Some(|report: &lock_order::Report| {
//!     assert_eq!(report.edges().len(), 2);
//!     assert_eq!(report.edges()[0].acquired().name(), Some("accounts"));
//!     REPORTS.fetch_add(1, Ordering::Relaxed);
//! }));
//! lock_order::set_mode(lock_order::Mode::Report);
//! # if lock_order::mode() == lock_order::Mode::Off { return; } // built without the feature
//!
//! let accounts = Locker::new(0);
//! let log = Locker::new(());
//! lock_order::name(&accounts, "accounts");
//! lock_order::name(&log, "log");
//! {
//!     let _a = accounts.lock().unwrap();
//!     let _l = log.lock().unwrap(); // accounts -> log
//! }
//! {
//!     let _l = log.lock().unwrap();
//!     let _a = accounts.lock().unwrap(); // log -> accounts: reported, before it waits
//! }
//! assert_eq!(REPORTS.load(Ordering::Relaxed), 1);
//! # lock_order::set_mode(lock_order::Mode::Off);
//! ```
//!
//! # Switching it on
//!
//! Two switches, both off by default:
//!
//! - **The cargo feature `lock-order`** compiles the checker in. Without it (the default)
//!   every hook is a constant `false` branch and the lock paths are instruction for
//!   instruction those of a build without the checker, so a program that never asks for
//!   checking pays nothing. Turn it on where you look for mistakes (`cargo test
//!   --features pthread-sync/lock-order`, or a `[dev-dependencies]` entry with
//!   `features = ["lock-order"]`); this workspace's own `cargo test --workspace` does.
//! - **The mode**, at run time, in a build with the feature: [`set_mode`], or the
//!   environment variable `PTHREAD_SYNC_LOCK_ORDER` (`report`, `abort` or `off`), read once,
//!   at the first lock operation of the process. Switched off, each lock operation of such a
//!   build pays one relaxed load of a static and a branch (about 10 instructions with the
//!   values it keeps live: see the README), which is why the feature is off by default.
//!
//! Switch the mode before the threads of interest take locks: a thread's record of what it
//! holds is kept only while checking is on.
//!
//! # Modes
//! - [`Mode::Report`]: the report goes to the hook ([`set_hook`]) or, with none, to
//!   standard error; the thread then carries on (and may deadlock if the timing is bad).
//!   Each edge is reported once: the cycle's edge is kept, so the same order is quiet after.
//! - [`Mode::Abort`]: reported the same way, then the process aborts.
//!
//! # What counts
//! - A blocking acquisition (`lock`, `read`, `write`) and a timed one (`lock_timeout`,
//!   `read_timeout`, `write_timeout`) add edges from every lock the thread holds; a `try_`
//!   acquisition adds none (it cannot wait), but the lock is then held like any other.
//! - A condition variable wait releases its mutex in the record and retakes it as a
//!   blocking acquisition: a wait made while holding a lock taken after the mutex closes the
//!   cycle `mutex -> other -> mutex`, and is reported.
//! - Re-entry (a [`RecursiveLocker`](crate::RecursiveLocker) taken again by its owner, a
//!   second read guard of an `RwLock` a thread reads already) adds no edge.
//! - Read holds are edges like write holds: the crate's reader-writer locks prefer writers,
//!   so two readers that take two locks in opposite orders deadlock once a writer waits on
//!   each.
//!
//! # Names
//! A report prints each lock by its address and:
//! - a lock given a name with [`name`]: the name, where it was named, and, for an
//!   in-process lock, where it was created: `lock "accounts" (0x…, named at src/main.rs:9:5,
//!   created at src/main.rs:3:20)`;
//! - an in-process lock ([`Locker`](crate::Locker), [`ErrorCheckLocker`](crate::ErrorCheckLocker),
//!   [`RecursiveLocker`](crate::RecursiveLocker), the priority-inheritance and ceiling kinds,
//!   [`RwLock`](crate::RwLock)) without a name: where it was created, the `#[track_caller]`
//!   site of its `new` (a `static`'s line too: `new` is a `const fn`), `Default::default` or
//!   `From::from`: `lock 0x… (created at src/main.rs:3:20)`. With the `lock-order` feature
//!   each such lock keeps that site, a pointer; without it the field is zero-sized, so the
//!   layout and code are those of a build without the checker;
//! - a shared lock ([`SharedLocker`](crate::SharedLocker) and the other `Shared` kinds,
//!   [`SharedRwLock`](crate::SharedRwLock)) without a name: where it was first acquired
//!   with another lock held, `lock 0x… (first taken nested at src/main.rs:12:9)`. Its bytes
//!   are documented for C and keep no site in any build.
//!
//! [`LockInfo`] gives the same as values: [`name`](LockInfo::name),
//! [`site`](LockInfo::site) (naming or first nested acquisition),
//! [`created`](LockInfo::created).
//!
//! # What it cannot see
//! - Cycles across processes: a shared lock is checked within each process like the
//!   others, but each process has its own graph.
//! - Deadlocks that are not about lock order: a thread waiting for a condition nobody will
//!   signal, a semaphore, a barrier, a join; a lock taken twice by its own thread (the
//!   errorcheck kind reports that one).
//! - Locks are told apart by address. A lock dropped in place (in a `Box`, an `Arc`, a
//!   `Vec`, at the end of its scope) leaves the graph with it, and the memory of a shared
//!   region leaves it when the region is unmapped; but an in-process lock that is moved by
//!   value after it took part in an order leaves its edges at its old address, to be
//!   inherited by whatever lock is put there next. One shared region mapped twice in one
//!   process (a named region opened twice) puts each of its locks at two addresses: the
//!   graph sees two locks, unrelated, so a cycle through one mapping and back through the
//!   other is not seen as one (nor a relock through the other mapping as a relock).
//! - More than 1024 locks in the graph at once, or 32 held by one thread at once: the rest
//!   are not checked (4096 edges keep their sites and stacks; more edges are still checked).
//!
//! # Cost
//! Switched on, an acquisition with no lock held does no more than the off check and a
//! thread-local push; with locks held, it looks each (held, new) pair up in a thread-local
//! cache of edges already checked, valid while a global epoch (bumped when a lock leaves the
//! graph) has not moved: a read of one shared word, no shared write. Only an edge this
//! thread has not checked before takes the graph's lock, captures the stack (raw return
//! addresses, no allocation) and walks the graph. The README has the figures.
//!
//! Nothing here allocates: the graph is static storage, the records thread-locals with
//! constant initialisers, the stack is walked with libgcc's unwinder and printed with
//! `write(2)`, so a lock guarding a `#[global_allocator]` can be checked. The checker does
//! not check itself: a hook that takes the crate's locks is not checked while it runs.

pub(crate) mod graph;
mod report;

pub use report::{Edge, LockInfo, Report};

use std::cell::Cell;
use std::panic::Location;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU8};

use crate::error::Error;
use crate::shim::{const_fn, thread_local_const};
use crate::switches::{active, Mutation};
use graph::lock_order_graph as graph;
use graph::{Site, NO_EDGE};
use report::MAX_CYCLE;

/// What the checker does when it finds a potential deadlock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Not checking (the default).
    Off,
    /// Report (to the hook, or standard error) and carry on.
    Report,
    /// Report, then abort the process.
    Abort,
}

const OFF: u8 = 0;
const REPORT: u8 = 1;
const ABORT: u8 = 2;
/// The environment has not been read yet.
const UNREAD: u8 = 3;

/// The mode. Plain std atomics (also in the model build): a switch, not concurrent logic.
static MODE: AtomicU8 = AtomicU8::new(UNREAD);
/// Whether any lock may have a node (checking was ever on, or a lock was named): what a
/// dropped lock looks at.
static TRACKING: AtomicBool = AtomicBool::new(false);
/// The hook, a `fn(&Report)`, or null.
static HOOK: AtomicPtr<()> = AtomicPtr::new(std::ptr::null_mut());

/// Switches checking on or off for the process (see the [module docs](self)). Without the
/// `lock-order` cargo feature (off by default), it has no effect.
pub fn set_mode(mode: Mode) {
    let m = match mode {
        Mode::Off => OFF,
        Mode::Report => REPORT,
        Mode::Abort => ABORT,
    };
    if m != OFF {
        TRACKING.store(true, Relaxed);
    }
    MODE.store(m, Relaxed);
}

/// The current mode (the environment variable is read first if nothing has been yet);
/// always [`Mode::Off`] without the `lock-order` feature.
pub fn mode() -> Mode {
    if !FEATURE || !on() {
        return Mode::Off;
    }
    match MODE.load(Relaxed) {
        REPORT => Mode::Report,
        ABORT => Mode::Abort,
        _ => Mode::Off,
    }
}

/// Installs a hook that receives every report instead of standard error (`None`: standard
/// error again). It runs on the thread that found the cycle, before that thread waits; the
/// crate's locks it takes are not checked. In [`Mode::Abort`] the process aborts after it
/// returns. A panic in the hook comes out of the acquisition that found the cycle, which is
/// then not made (the thread holds what it held before).
pub fn set_hook(hook: Option<fn(&Report)>) {
    let p = hook.map_or(std::ptr::null_mut(), |f| f as *mut ());
    HOOK.store(p, Relaxed);
}

pub(crate) mod sealed {
    /// What the checker asks of a lock; implemented next to each lock type.
    pub trait Sealed {
        fn lock_order_addr(&self) -> usize;
        /// Where the lock was created (`None`: a shared lock, or no feature).
        fn lock_order_created(&self) -> super::Site;
    }
}

/// A lock the checker knows: every lock type of the crate. Sealed.
pub trait Ordered: sealed::Sealed {}

/// Gives `lock` a name that reports print (with the site of this call, and the lock's
/// creation site if it keeps one: see [Names](self#names)). Works in any mode;
/// the name goes when the lock is dropped. A graph that is full (1024 locks) keeps no more
/// names.
///
/// ```
/// use pthread_sync::{lock_order, RwLock};
/// let table = RwLock::new(vec![1, 2]);
/// lock_order::name(&table, "routing table");
/// ```
#[track_caller]
pub fn name<L: Ordered + ?Sized>(lock: &L, name: &'static str) {
    TRACKING.store(true, Relaxed);
    let site = Some(Location::caller());
    let mut g = graph().lock();
    if let Some(i) = g.node(lock.lock_order_addr(), site, lock.lock_order_created()) {
        g.set_name(i, name, site);
    }
}

// ---- the hooks the locks call ----

/// Whether the checker is compiled in (the `lock-order` cargo feature, off by default).
/// Without it, every hook is a constant `false` branch: the lock paths are today's.
const FEATURE: bool = cfg!(feature = "lock-order");

/// Whether checking is on: one relaxed load and a branch once the environment is read.
#[inline(always)]
pub(crate) fn on() -> bool {
    let m = MODE.load(Relaxed);
    m != OFF && (m != UNREAD || from_env())
}

#[cold]
#[inline(never)]
fn from_env() -> bool {
    let mut buf = [0u8; 16];
    // A longer value is cut short, and is no mode's name: `report`, as any other value.
    let m = match crate::sys::diag::getenv(c"PTHREAD_SYNC_LOCK_ORDER", &mut buf) {
        None | Some(b"off" | b"" | b"0") => OFF,
        Some(b"abort") => ABORT,
        Some(_) => REPORT,
    };
    if MODE.compare_exchange(UNREAD, m, Relaxed, Relaxed).is_ok() && m != OFF {
        TRACKING.store(true, Relaxed);
    }
    MODE.load(Relaxed) != OFF
}

/// How an acquisition waits.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    /// Blocks, or waits with a timeout: adds edges.
    Block,
    /// Does not wait: adds none.
    Try,
}

/// Around the acquisition `f` of the lock at `addr` (whose creation site is `created`: a
/// reference, read only when checking, so the unchecked path does not load it): checks the edges it adds before `f`
/// may wait, and records the lock as held if `f` took it (`Ok`, or a robust lock's
/// `Err(OwnerDied)`). Off, the acquisition is `f` inlined as it was, behind one load and a
/// branch.
#[inline(always)]
#[track_caller]
pub(crate) fn acquire<R>(
    addr: usize,
    created: &impl CreatedSite,
    wait: Wait,
    f: impl FnOnce() -> Result<R, Error>,
) -> Result<R, Error> {
    if FEATURE && on() {
        return acquire_checked(addr, created, wait, f);
    }
    f()
}

/// The checked acquisition, out of line.
#[cold]
#[inline(never)]
#[track_caller]
fn acquire_checked<R>(
    addr: usize,
    created: &impl CreatedSite,
    wait: Wait,
    f: impl FnOnce() -> Result<R, Error>,
) -> Result<R, Error> {
    enter(
        addr,
        created.site(),
        Location::caller(),
        wait == Wait::Block,
    );
    let r = f();
    if !matches!(r, Ok(_) | Err(Error::OwnerDied)) {
        released(addr); // not taken after all
    }
    r
}

/// [`acquire`] in two halves, for a lock path the compiler inlines better without a closure:
/// before the acquisition of `addr` (a shared lock: no creation site); whether it is
/// checked (pass it to [`acquired`]).
#[inline(always)]
#[track_caller]
pub(crate) fn acquiring(addr: usize, wait: Wait) -> bool {
    if FEATURE && on() {
        enter(addr, None, Location::caller(), wait == Wait::Block);
        return true;
    }
    false
}

/// The second half of [`acquiring`]: the acquisition's result `r`.
#[inline(always)]
pub(crate) fn acquired<R>(checked: bool, addr: usize, r: &Result<R, Error>) {
    if checked && !matches!(r, Ok(_) | Err(Error::OwnerDied)) {
        released(addr); // not taken after all
    }
}

/// One hold of the lock at `addr` released (a guard's drop, a condvar wait's release).
#[inline(always)]
pub(crate) fn release(addr: usize) {
    if FEATURE && on() {
        released(addr);
    }
}

/// The lock at `addr` is dropped: its node goes (if it may have one).
#[inline(always)]
pub(crate) fn dropped(addr: usize) {
    if FEATURE && TRACKING.load(Relaxed) && graph().may_have(addr) {
        forget(addr);
    }
}

/// A shared region `[start, end)` is unmapped: every lock in it leaves the graph.
#[cfg_attr(loom, allow(dead_code))] // no regions in the model
pub(crate) fn purge(start: usize, end: usize) {
    if TRACKING.load(Relaxed) {
        graph().lock().remove_range(start, end);
    }
}

/// The creation site a lock keeps (`pub` items in a private module: they appear in the
/// sealed `Kind` trait's bounds).
mod created {
    use super::{const_fn, Site};

    /// Where an in-process lock was created: its constructor's `#[track_caller]` site with the
    /// `lock-order` feature, a zero-sized `()` without it (the lock is then laid out, and its
    /// code made, as if the field were not there). Shared locks keep `()` in every build
    /// (their bytes are documented for C): they are named by the site of their first nested
    /// acquisition.
    #[derive(Clone, Copy)]
    pub struct Created(
        #[cfg(feature = "lock-order")] &'static std::panic::Location<'static>,
        #[cfg(not(feature = "lock-order"))] (),
    );

    impl Created {
        const_fn! {
            /// The caller's site (through every `#[track_caller]` function above it).
            #[inline(always)]
            #[cfg_attr(feature = "lock-order", track_caller)]
            pub const fn here() -> Created {
                #[cfg(feature = "lock-order")]
                return Created(std::panic::Location::caller());
                #[cfg(not(feature = "lock-order"))]
                return Created(());
            }
        }
    }

    /// What a lock's kind keeps of its creation: [`Created`] for the in-process kinds, `()` for
    /// the shared ones.
    pub trait CreatedSite: Copy + Send + Sync + 'static {
        /// The site, made by a constructor that is not a `const fn` (`Default`, `From`).
        #[cfg_attr(feature = "lock-order", track_caller)]
        fn here() -> Self;
        /// The site, as a report prints it.
        fn site(self) -> Site;
    }

    impl CreatedSite for Created {
        #[inline(always)]
        #[cfg_attr(feature = "lock-order", track_caller)]
        fn here() -> Self {
            Created::here()
        }
        #[inline(always)]
        fn site(self) -> Site {
            #[cfg(feature = "lock-order")]
            return Some(self.0);
            #[cfg(not(feature = "lock-order"))]
            return None;
        }
    }

    impl CreatedSite for () {
        #[inline(always)]
        fn here() -> Self {}
        #[inline(always)]
        fn site(self) -> Site {
            None
        }
    }
}
pub(crate) use created::{Created, CreatedSite};

/// A field, first in a `repr(C)` lock, whose drop takes the lock (at the same address) out
/// of the graph: for locks whose other fields have no `Drop` of their own. It keeps the
/// lock's creation site ([`Created`]: zero-sized without the `lock-order` feature).
pub(crate) struct Node(Created);

impl Node {
    const_fn! {
        /// The field, created at the caller's site.
        #[inline(always)]
        #[cfg_attr(feature = "lock-order", track_caller)]
        pub(crate) const fn new() -> Node {
            Node(Created::here())
        }
    }

    /// Where the lock was created (`None` without the feature).
    #[inline(always)]
    pub(crate) fn created(&self) -> Site {
        self.0.site()
    }

    /// The creation site, as [`acquire`] takes it.
    #[inline(always)]
    pub(crate) fn site(&self) -> &Created {
        &self.0
    }
}

impl Drop for Node {
    #[inline(always)]
    fn drop(&mut self) {
        dropped(self as *const Self as usize);
    }
}

// ---- the thread's record ----

/// Locks a thread's record keeps at once.
const HELD: usize = 32;
/// The thread's cache of edges checked (direct-mapped).
const CACHE: usize = 64;

struct Thread {
    /// In the checker (or its hook): the crate's locks are not checked.
    busy: Cell<bool>,
    /// Locks held; past `HELD`, counted only.
    len: Cell<usize>,
    /// `(lock, where it was taken, where it was created)`.
    held: [Cell<(usize, Site, Site)>; HELD],
    /// `(held, acquired, epoch)`: the edge was in the graph at that epoch.
    cache: [Cell<(usize, usize, u64)>; CACHE],
}

thread_local_const! {
    static THREAD: Thread = Thread {
        busy: Cell::new(false),
        len: Cell::new(0),
        held: [const { Cell::new((0, None, None)) }; HELD],
        cache: [const { Cell::new((0, 0, 0)) }; CACHE],
    };
}

#[inline(always)]
fn cache_index(from: usize, to: usize) -> usize {
    let h = ((from >> 3) ^ (to >> 3).rotate_left(21)) as u64;
    (h.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58) as usize % CACHE
}

impl Thread {
    #[inline(always)]
    fn known(&self, from: usize, to: usize, epoch: u64) -> bool {
        self.cache[cache_index(from, to)].get() == (from, to, epoch)
    }

    fn remember(&self, from: usize, to: usize, epoch: u64) {
        self.cache[cache_index(from, to)].set((from, to, epoch));
    }

    fn held_len(&self) -> usize {
        self.len.get().min(HELD)
    }
}

/// Before an acquisition of `addr` (made at `site`): if it may wait (`block`), every edge
/// from a held lock is known, or checked now; then the lock is recorded as held (taken back
/// by `released` if the acquisition fails: while the thread waits for it, nothing else runs
/// on the thread to see the difference). One thread-local access.
#[inline(never)]
fn enter(addr: usize, created: Site, site: &'static Location<'static>, block: bool) {
    THREAD.with(|t| {
        if t.busy.get() {
            return;
        }
        let len = t.len.get();
        let n = len.min(HELD);
        if block && n > 0 {
            check(t, n, addr, created, site);
        }
        if len < HELD {
            t.held[len].set((addr, Some(site), created));
        }
        t.len.set(len + 1);
    });
}

/// The edges from the `n` recorded held locks to `addr`, against the thread's cache. Out of
/// line, so that the thread-local access and the record's push inline into `enter`.
#[inline(never)]
fn check(t: &Thread, n: usize, addr: usize, created: Site, site: &'static Location<'static>) {
    if (0..n).any(|i| t.held[i].get().0 == addr) {
        return; // re-entry
    }
    let epoch = graph().epoch();
    if (0..n).all(|i| {
        let held = t.held[i].get().0;
        held == 0 || t.known(held, addr, epoch)
    }) {
        return;
    }
    /// Clears `busy` also if a hook panics (the thread's checking would stop for good).
    struct Busy<'a>(&'a Cell<bool>);
    impl Drop for Busy<'_> {
        fn drop(&mut self) {
            self.0.set(false);
        }
    }
    t.busy.set(true);
    let _busy = Busy(&t.busy);
    new_edges(t, n, addr, created, site);
}

/// The slow path: edges this thread has not checked (at this epoch) into the graph, a
/// cycle reported.
#[cold]
#[inline(never)]
fn new_edges(t: &Thread, n: usize, addr: usize, created: Site, site: &'static Location<'static>) {
    let mut info = NO_EDGE;
    // Skips this function and `enter`.
    info.nframes = crate::sys::diag::capture_stack(&mut info.frames, 2) as u8;
    info.taken_at = Some(site);
    let mut report = Report::empty();
    let g = graph();
    let mut locked = g.lock();
    let Some(to) = locked.node(addr, Some(site), created) else {
        return; // full
    };
    for i in 0..n {
        let (held, held_at, held_created) = t.held[i].get();
        if held == 0 {
            continue; // a place left by a release while the record was over full
        }
        let Some(from) = locked.node(held, held_at, held_created) else {
            continue; // full
        };
        if from == to || locked.has_edge(from, to) {
            continue;
        }
        info.held_at = held_at;
        if report.is_empty() {
            let mut path = [0u16; MAX_CYCLE];
            if let Some((len, cut)) = locked.path(to, from, &mut path) {
                report.fill(&locked, (from, to), &info, &path[..len], cut);
            }
        }
        locked.add_edge(from, to, info);
    }
    let mut epoch = locked.epoch();
    drop(locked);
    if active(Mutation::LockOrderEpochAfterUnlock) {
        epoch = g.epoch();
    }
    for i in 0..n {
        let held = t.held[i].get().0;
        if held != 0 {
            t.remember(held, addr, epoch);
        }
    }
    if !report.is_empty() {
        deliver(&report);
    }
}

/// Hands a report to the hook or standard error; aborts in abort mode.
#[cold]
fn deliver(report: &Report) {
    let hook = HOOK.load(Relaxed);
    if hook.is_null() {
        report::print(report);
    } else {
        // SAFETY: a non-null `HOOK` was stored by `set_hook` from a `fn(&Report)`.
        let hook: fn(&Report) = unsafe { std::mem::transmute::<*mut (), fn(&Report)>(hook) };
        hook(report);
    }
    if MODE.load(Relaxed) == ABORT {
        crate::sys::diag::write_stderr(
            b"pthread-sync: aborting (lock-order checking in abort mode)\n",
        );
        std::process::abort();
    }
}

/// One hold of `addr` released: the latest record of it goes. (`cold` for the layout of
/// the unlock path when checking is off.)
#[cold]
#[inline(never)]
fn released(addr: usize) {
    THREAD.with(|t| {
        let len = t.len.get();
        // Usually the latest one.
        if len > 0 && len <= HELD && t.held[len - 1].get().0 == addr {
            t.len.set(len - 1);
        } else {
            released_deeper(t, addr);
        }
    });
}

/// `released` for a hold that is not the latest (or a record over full).
#[inline(never)]
fn released_deeper(t: &Thread, addr: usize) {
    let len = t.len.get();
    let n = t.held_len();
    if let Some(i) = (0..n).rev().find(|&i| t.held[i].get().0 == addr) {
        for j in i..n - 1 {
            t.held[j].set(t.held[j + 1].get());
        }
        if len > HELD {
            // An unrecorded hold cannot move up into the record: an empty place (0).
            t.held[n - 1].set((0, None, None));
        }
        t.len.set(len - 1);
    } else if len > HELD {
        t.len.set(len - 1); // one of the unrecorded ones
    }
}

#[cold]
#[inline(never)]
fn forget(addr: usize) {
    graph().lock().remove(addr);
}
