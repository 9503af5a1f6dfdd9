//! Uncontended operations, each behind one call: every contender (this crate, the raw libc
//! call of the same attributes, `std`, `parking_lot`) is one `#[inline(never)]` function doing
//! the whole operation (`lock + increment + unlock`, or `post + wait`), so a wrapper's extra
//! work cannot be scheduled around the raw call as it can when both are inlined into a
//! criterion loop (`benches/uncontended.rs`, `benches/sem.rs` measure that case).
//!
//! How it measures: the process first spawns and joins a thread (`common::multithreaded`,
//! which checks glibc's `__libc_single_threaded` is 0: glibc skips the atomics of a private
//! normal mutex in a never-threaded process). Then all contenders of all groups run
//! interleaved in one process: `ROUNDS` rounds (after `WARMUP_ROUNDS` untimed ones); each round
//! times one batch of `BATCH` calls of every contender in turn, starting one contender later
//! than the round before (a rotating order), so slow drift of the machine hits every contender
//! alike. Per contender it prints the median ns/op over the rounds (with the 25th-75th
//! percentiles), and per group the ratio of each contender to the raw libc anchor of the group:
//! the **median of the per-round ratios** (each ratio taken within one round, so both sides saw
//! the same machine state) with its 25th-75th percentiles, and, for comparison, the ratio of the
//! medians. After every batch the contender's counter must have moved by exactly `BATCH` (the
//! lock really was taken, the operation really ran).
//!
//! The `notify_no_waiter` and `shared_notify` groups time `notify_one` on a condition variable
//! nobody waits on (plus a count): the uncontended signal of `Cond` (`pthread_cond_signal`),
//! the crate's futex protocol in-process (`common::FutexCond`), raw `pthread_cond_signal`,
//! std and parking_lot; and `SharedCond` against a raw pshared `pthread_cond_t` in a region.
//!
//! The priority-protocol groups time lock + increment + unlock of `PiLocker`,
//! `PiErrorCheckLocker`, `PiRecursiveLocker` (nested twice) and `SharedPiLocker` against a raw
//! `PTHREAD_PRIO_INHERIT` mutex of the same type (and placement: pshared, robust), and of
//! `CeilingLocker` against a raw `PTHREAD_PRIO_PROTECT` one, with the calling thread under
//! `SCHED_FIFO` at priority 10 (switched through `pthread_setschedparam` around each batch,
//! outside the timed span: `RealTime`), once below the ceiling (`ceiling_boost`, ceiling 20:
//! glibc raises the caller at each lock and lowers it at each unlock, a `sched_setscheduler`
//! call each) and once at it (`ceiling_at`, ceiling 10: no call). Their batches are
//! `CEILING_BATCH` calls; where `SCHED_FIFO` is refused the two ceiling groups are left out.
//!
//! ```sh
//! CARGO_TARGET_DIR=target cargo bench --bench calls                     # the table (~15 s)
//! CARGO_TARGET_DIR=target cargo bench --bench calls -- --rounds 100     # fewer rounds
//! CARGO_TARGET_DIR=target cargo bench --bench calls -- --groups shared_normal,pi_shared
//! ```
//!
//! `benches/layouts.sh` runs the shared groups on several code layouts of the same source (the
//! link order of its functions shuffled by seed) and gives each contender's ratio averaged over
//! them: a ratio read off one build can be that build's layout luck (see its header).
//!
//! Callgrind mode (instructions per operation, repeatable): `--callgrind NAME N` runs only the
//! contender `NAME` (the `contender` column of the table, which is also the name of its
//! `#[inline(never)]` function) for `N` operations. Its counter is read once first, outside the
//! counted function, which also creates the crate's lazily created pthread object there. Give
//! `--toggle-collect` the exact demangled name, `calls::NAME`, without wildcards: a pattern
//! like `*normal_ours*` also matches `drop_in_place<calls::Contender<.., calls::normal_ours>>`
//! and adds the teardown (about 200 instructions) to the total. Contender names are checked at
//! start-up not to be substrings of one another.
//!
//! ```sh
//! CARGO_TARGET_DIR=target cargo bench --bench calls --no-run   # prints the binary's path
//! valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.out \
//!     --toggle-collect='calls::normal_ours' \
//!     target/release/deps/calls-<hash> --callgrind normal_ours 1000000
//! ```
//!
//! The `totals:` line of the output file, divided by `N`, is the inclusive instruction count
//! (the function and everything it calls) per operation; it comes out an exact integer, the
//! same for any `N`. Under valgrind `clock_gettime` is a system call (no vDSO), whose kernel
//! side is not counted, so the `lock_timeout_raw` count leaves out the clock read that costs
//! it about 20 ns natively.

mod common;

use common::{median, quantile};

use std::cell::Cell;
use std::hint::black_box;
use std::time::{Duration, Instant};

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;

use common::{FutexCond, MutexAttrs, PCond, PMutex, PSem};
use pthread_sync::shm::{ShmBox, ShmSafe};
use pthread_sync::{
    CeilingLocker, Cond, ErrorCheckLocker, Locker, PiErrorCheckLocker, PiLocker, PiRecursiveLocker,
    RecursiveLocker, Sem, SharedCond, SharedErrorCheckLocker, SharedLocker, SharedPiLocker,
    SharedRecursiveLocker, SharedRwLock, SharedSem,
};

/// Calls per contender per round.
const BATCH: u64 = 200_000;
/// Timed rounds.
const ROUNDS: usize = 300;
/// Untimed rounds first (caches, branch predictors, lazily created pthread objects).
const WARMUP_ROUNDS: usize = 3;
/// The `SCHED_FIFO` priority of the ceiling groups' batches (their ceilings: this, and 10 more).
const CEILING_CALLER: i32 = 10;
/// The timeout of the `lock_timeout` group (never reached: the lock is free).
const TIMEOUT: Duration = Duration::from_secs(1);

// ---------------------------------------------------------------------------------------------
// Contender states (what each contender function gets a reference to)
// ---------------------------------------------------------------------------------------------

/// How many operations a contender's state has completed (read outside the timed batches).
trait Ops {
    fn ops(&self) -> u64;
}

impl Ops for Locker<u64> {
    fn ops(&self) -> u64 {
        *self.lock().unwrap()
    }
}

impl Ops for std::sync::Mutex<u64> {
    fn ops(&self) -> u64 {
        *self.lock().unwrap()
    }
}

impl Ops for parking_lot::Mutex<u64> {
    fn ops(&self) -> u64 {
        *self.lock()
    }
}

impl Ops for ErrorCheckLocker<u64> {
    fn ops(&self) -> u64 {
        *self.lock().unwrap()
    }
}

impl Ops for RecursiveLocker<Cell<u64>> {
    fn ops(&self) -> u64 {
        self.lock().get()
    }
}

impl Ops for parking_lot::ReentrantMutex<Cell<u64>> {
    fn ops(&self) -> u64 {
        self.lock().get()
    }
}

/// A raw mutex of some kind (`common::PMutex`: `pthread_mutex_init` with that type attribute,
/// at a stable heap address) and the value it guards.
struct RawMutexCell {
    m: PMutex,
    v: Cell<u64>,
}

impl RawMutexCell {
    fn new(kind: libc::c_int) -> RawMutexCell {
        RawMutexCell::with_attrs(MutexAttrs::private(kind))
    }

    fn with_attrs(attrs: MutexAttrs) -> RawMutexCell {
        RawMutexCell {
            m: PMutex::new(attrs),
            v: Cell::new(0),
        }
    }

    /// A process-shared, robust mutex of `kind`: what the crate's shared kinds are.
    fn shared(kind: libc::c_int) -> RawMutexCell {
        RawMutexCell::with_attrs(MutexAttrs {
            kind,
            pshared: true,
            robust: true,
        })
    }
}

/// `pthread_mutex_lock` plus the return-value check any correct caller makes, like
/// `PMutex::lock`, but a failure names the contender `who`. Besides a better message, this
/// keeps `normal_raw` and `errorcheck_raw` distinct functions: with the same message their
/// code would be identical (the kind is in the mutex, not in the code), and LLVM's function
/// merging (on by default in rustc) would fold one into the other, leaving callgrind one name
/// for both.
#[inline(always)]
fn raw_lock(m: &PMutex, who: &'static str) {
    // SAFETY: `PMutex::new` initialised the mutex, which stays at this heap address until the
    // `PMutex` is dropped, and `m` borrows it.
    unsafe { raw_lock_at(m.ptr(), who) }
}

/// [`raw_lock`] of the mutex at `m`.
///
/// # Safety
/// `m` is an initialised mutex that stays at that address during the call.
#[inline(always)]
unsafe fn raw_lock_at(m: *mut libc::pthread_mutex_t, who: &'static str) {
    // SAFETY: the caller's contract.
    let ret = unsafe { libc::pthread_mutex_lock(m) };
    if ret != 0 {
        lock_failed(who, ret);
    }
}

#[cold]
#[inline(never)]
fn lock_failed(who: &str, ret: libc::c_int) -> ! {
    panic!(
        "{who}: pthread_mutex_lock: {}",
        std::io::Error::from_raw_os_error(ret)
    )
}

impl Ops for RawMutexCell {
    fn ops(&self) -> u64 {
        // Only this thread ever touches `v` (the mutex is taken around it for form's sake).
        self.m.lock();
        let v = self.v.get();
        // SAFETY: locked just above by this thread.
        unsafe { self.m.unlock() };
        v
    }
}

impl Ops for PiLocker<u64> {
    fn ops(&self) -> u64 {
        *self.lock().unwrap()
    }
}

impl Ops for PiErrorCheckLocker<u64> {
    fn ops(&self) -> u64 {
        *self.lock().unwrap()
    }
}

impl Ops for PiRecursiveLocker<Cell<u64>> {
    fn ops(&self) -> u64 {
        self.lock().unwrap().get()
    }
}

impl Ops for ShmBox<SharedPiLocker<u64>> {
    fn ops(&self) -> u64 {
        *self.lock().unwrap()
    }
}

/// A ceiling lock and a count beside it (read without the lock: its lock needs a real-time
/// caller, and the driver reads counts outside the real-time batches).
struct OursCeiling {
    m: CeilingLocker<()>,
    n: Cell<u64>,
}

impl Ops for OursCeiling {
    fn ops(&self) -> u64 {
        self.n.get()
    }
}

/// A raw mutex with a protocol and a count beside it, read without the lock (as
/// `OursCeiling`).
struct RawCounted {
    m: PMutex,
    n: Cell<u64>,
}

impl RawCounted {
    fn new(kind: libc::c_int, pshared: bool, protocol: libc::c_int, ceiling: i32) -> RawCounted {
        let attrs = MutexAttrs {
            kind,
            pshared,
            robust: pshared,
        };
        RawCounted {
            m: PMutex::with_protocol(attrs, protocol, ceiling),
            n: Cell::new(0),
        }
    }
}

impl Ops for RawCounted {
    fn ops(&self) -> u64 {
        self.n.get()
    }
}

/// A raw robust pshared mutex (of `kind`, `protocol`) and its counter, placed where a
/// `SharedLocker<u64>` has them in its `ShmBox`: a fresh anonymous shared mapping, the mutex
/// at page offset 0x48, the counter at 0x78. The groups' anchors keep theirs on the heap; this
/// one, timed beside them, tells what the placement alone does to the same glibc calls.
struct MappedRaw {
    map: *mut libc::c_void,
}

impl MappedRaw {
    const MUTEX: usize = 0x48;
    const COUNTER: usize = 0x78;

    fn new(kind: libc::c_int, protocol: libc::c_int) -> MappedRaw {
        // SAFETY: a fresh anonymous shared mapping of one page.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(map, libc::MAP_FAILED, "mmap");
        let mapped = MappedRaw { map };
        // SAFETY: inside the fresh, page-aligned mapping (offset 0x48: aligned), unused, and
        // unmapped only when `mapped` drops.
        unsafe {
            common::init_mutex_at(
                mapped.mutex(),
                MutexAttrs {
                    kind,
                    pshared: true,
                    robust: true,
                },
                protocol,
                0,
            )
        };
        mapped
    }

    fn mutex(&self) -> *mut libc::pthread_mutex_t {
        // SAFETY: inside the mapping, which lives as long as `self`.
        unsafe { self.map.cast::<u8>().add(Self::MUTEX).cast() }
    }

    fn counter(&self) -> &Cell<u64> {
        // SAFETY: an aligned `u64` inside the mapping (zeroed by `mmap`), touched by this
        // thread only, for as long as `self` lives.
        unsafe { &*self.map.cast::<u8>().add(Self::COUNTER).cast::<Cell<u64>>() }
    }
}

impl Drop for MappedRaw {
    fn drop(&mut self) {
        // SAFETY: the mapping `new` made; the mutex is unlocked and nothing borrows it.
        unsafe { libc::munmap(self.map, 4096) };
    }
}

impl Ops for MappedRaw {
    fn ops(&self) -> u64 {
        self.counter().get()
    }
}

macro_rules! mapped_raw {
    ($($name:ident),*) => {$(
        #[inline(never)]
        fn $name(c: &MappedRaw) {
            // SAFETY: an initialised mutex in the live mapping.
            unsafe { raw_lock_at(c.mutex(), stringify!($name)) };
            c.counter().set(c.counter().get() + 1);
            // SAFETY: locked just above by this thread.
            unsafe { libc::pthread_mutex_unlock(c.mutex()) };
        }
    )*};
}
mapped_raw!(
    mapped_anchor_normal,
    mapped_anchor_recursive,
    mapped_anchor_pi
);

/// This crate's `Locker` with the timeout its `lock_timeout` is given.
struct OursTimed {
    m: Locker<u64>,
    dur: Duration,
}

impl Ops for OursTimed {
    fn ops(&self) -> u64 {
        self.m.ops()
    }
}

/// A raw normal mutex with the timeout `pthread_mutex_clocklock` is given.
struct RawTimed {
    c: RawMutexCell,
    dur: Duration,
}

impl Ops for RawTimed {
    fn ops(&self) -> u64 {
        self.c.ops()
    }
}

/// This crate's `Sem` and a count of completed `post + wait` pairs.
struct OursSem {
    s: Sem,
    n: Cell<u64>,
}

impl Ops for OursSem {
    fn ops(&self) -> u64 {
        // Every `post` was matched by a `wait`: the value is back at zero.
        assert!(self.s.try_wait().is_err(), "sem_ours: value not zero");
        self.n.get()
    }
}

/// A raw `sem_t` and a count of completed `post + wait` pairs.
struct OursSharedSem {
    s: ShmBox<SharedSem>,
    n: Cell<u64>,
}

impl Ops for OursSharedSem {
    fn ops(&self) -> u64 {
        self.n.get()
    }
}

impl Ops for ShmBox<SharedLocker<u64>> {
    fn ops(&self) -> u64 {
        *self.lock().unwrap()
    }
}

impl Ops for ShmBox<SharedErrorCheckLocker<u64>> {
    fn ops(&self) -> u64 {
        *self.lock().unwrap()
    }
}

impl Ops for ShmBox<SharedRecursiveLocker<AtomicU64>> {
    fn ops(&self) -> u64 {
        self.lock().unwrap().load(Relaxed)
    }
}

struct RawSem {
    s: PSem,
    n: Cell<u64>,
}

impl Ops for RawSem {
    fn ops(&self) -> u64 {
        // (`PSem` has no trywait; a `wait` that returned took the unit its `post` gave.)
        self.n.get()
    }
}

/// A condition variable nobody waits on, and a count of `notify_one` calls made on it.
struct Notify<C> {
    c: C,
    n: Cell<u64>,
}

impl<C> Notify<C> {
    fn new(c: C) -> Notify<C> {
        Notify { c, n: Cell::new(0) }
    }
}

impl<C> Ops for Notify<C> {
    fn ops(&self) -> u64 {
        self.n.get()
    }
}

/// A raw process-shared `pthread_cond_t` (`CLOCK_MONOTONIC`), initialised in place in a
/// region (`RawSharedCond::new_in_region`).
#[repr(C)]
struct RawSharedCond {
    c: std::cell::UnsafeCell<std::mem::MaybeUninit<libc::pthread_cond_t>>,
}
// SAFETY: #[repr(C)]; a pthread condvar, initialised in place (pshared) and never moved.
unsafe impl Sync for RawSharedCond {}
// SAFETY: as above.
unsafe impl ShmSafe for RawSharedCond {}

impl RawSharedCond {
    fn new_in_region() -> ShmBox<RawSharedCond> {
        let b = ShmBox::anonymous(RawSharedCond {
            c: std::cell::UnsafeCell::new(std::mem::MaybeUninit::zeroed()),
        })
        .unwrap();
        // SAFETY: the attribute object is initialised before use and destroyed after; the
        // condvar is initialised once, at its final address in the region, before any use.
        unsafe {
            let mut ca = std::mem::MaybeUninit::<libc::pthread_condattr_t>::uninit();
            libc::pthread_condattr_init(ca.as_mut_ptr());
            libc::pthread_condattr_setpshared(ca.as_mut_ptr(), libc::PTHREAD_PROCESS_SHARED);
            libc::pthread_condattr_setclock(ca.as_mut_ptr(), libc::CLOCK_MONOTONIC);
            assert_eq!(libc::pthread_cond_init(b.c.get().cast(), ca.as_ptr()), 0);
            libc::pthread_condattr_destroy(ca.as_mut_ptr());
        }
        b
    }
}

// ---------------------------------------------------------------------------------------------
// The contender functions: one `#[inline(never)]` function per contender, the whole operation
// ---------------------------------------------------------------------------------------------

// 1. normal: lock + increment + unlock.

#[inline(never)]
fn normal_ours(c: &Locker<u64>) {
    *c.lock().unwrap() += 1;
}

#[inline(never)]
fn normal_raw(c: &RawMutexCell) {
    raw_lock(&c.m, "normal_raw");
    c.v.set(c.v.get() + 1);
    // SAFETY: locked just above by this thread.
    unsafe { c.m.unlock() };
}

#[inline(never)]
fn normal_std(c: &std::sync::Mutex<u64>) {
    *c.lock().unwrap() += 1;
}

#[inline(never)]
fn normal_parking_lot(c: &parking_lot::Mutex<u64>) {
    *c.lock() += 1;
}

// 2. try_lock (succeeds) + increment + unlock.

#[inline(never)]
fn try_lock_ours(c: &Locker<u64>) {
    *c.try_lock().unwrap() += 1;
}

#[inline(never)]
fn try_lock_raw(c: &RawMutexCell) {
    assert!(c.m.try_lock(), "try_lock_raw: EBUSY");
    c.v.set(c.v.get() + 1);
    // SAFETY: `try_lock` just acquired the mutex on this thread.
    unsafe { c.m.unlock() };
}

// 3. errorcheck: lock + increment + unlock.

#[inline(never)]
fn errorcheck_ours(c: &ErrorCheckLocker<u64>) {
    *c.lock().unwrap() += 1;
}

#[inline(never)]
fn errorcheck_raw(c: &RawMutexCell) {
    raw_lock(&c.m, "errorcheck_raw");
    c.v.set(c.v.get() + 1);
    // SAFETY: locked just above by this thread.
    unsafe { c.m.unlock() };
}

// 4. recursive, nested twice: lock, lock again, increment, unlock, unlock.

#[inline(never)]
fn recursive_ours(c: &RecursiveLocker<Cell<u64>>) {
    let _outer = c.lock();
    let inner = c.lock();
    inner.set(inner.get() + 1);
}

#[inline(never)]
fn recursive_raw(c: &RawMutexCell) {
    raw_lock(&c.m, "recursive_raw");
    raw_lock(&c.m, "recursive_raw");
    c.v.set(c.v.get() + 1);
    // SAFETY: this thread locked the recursive mutex twice just above; each unlock releases
    // one level.
    unsafe {
        c.m.unlock();
        c.m.unlock();
    }
}

#[inline(never)]
fn recursive_parking_lot(c: &parking_lot::ReentrantMutex<Cell<u64>>) {
    let _outer = c.lock();
    let inner = c.lock();
    inner.set(inner.get() + 1);
}

// 5. sem: post + wait (the value goes 0 -> 1 -> 0; the wait never blocks).

#[inline(never)]
fn sem_ours(c: &OursSem) {
    c.s.post().unwrap();
    c.s.wait();
    c.n.set(c.n.get() + 1);
}

#[inline(never)]
fn sem_raw(c: &RawSem) {
    c.s.post();
    c.s.wait();
    c.n.set(c.n.get() + 1);
}

/// The same as `sem_raw`, on a pshared `sem_t` (its own symbol, for callgrind: the failure
/// message below keeps the compiler from folding the two into one).
#[inline(never)]
fn sem_shared_raw(c: &RawSem) {
    c.s.post();
    c.s.wait();
    let n = c.n.get() + 1;
    assert!(n > 0, "sem_shared_raw: count wrapped");
    c.n.set(n);
}

// 7. The process-shared kinds (in a shared-memory region) + increment + unlock, against a
// raw pshared robust mutex of the same type; and SharedSem post + wait against a raw pshared
// sem_t.

#[inline(never)]
fn normal_shared_ours(c: &ShmBox<SharedLocker<u64>>) {
    *c.lock().unwrap() += 1;
}

#[inline(never)]
fn errorcheck_shared_ours(c: &ShmBox<SharedErrorCheckLocker<u64>>) {
    *c.lock().unwrap() += 1;
}

#[inline(never)]
fn recursive_shared_ours(c: &ShmBox<SharedRecursiveLocker<AtomicU64>>) {
    let g = c.lock().unwrap();
    g.store(g.load(Relaxed) + 1, Relaxed);
}

/// The raw pshared robust anchors: one function per group (each names itself in its failure
/// message, so the compiler cannot fold them into one symbol).
macro_rules! shared_raw {
    ($($name:ident),*) => {$(
        #[inline(never)]
        fn $name(c: &RawMutexCell) {
            raw_lock(&c.m, stringify!($name));
            c.v.set(c.v.get() + 1);
            // SAFETY: locked just above by this thread.
            unsafe { c.m.unlock() };
        }
    )*};
}
shared_raw!(
    normal_shared_raw,
    errorcheck_shared_raw,
    recursive_shared_raw
);

#[inline(never)]
fn sem_shared_ours(c: &OursSharedSem) {
    c.s.post().unwrap();
    c.s.wait().unwrap();
    c.n.set(c.n.get() + 1);
}

// 7b. The priority protocols: PI lock + increment + unlock (each kind, and the shared robust
// one), against the raw PI mutex of the same attributes; the ceiling protocol with the
// caller below the ceiling (glibc raises it and lowers it again: two `sched_setscheduler`
// calls a pair) and at it (no call), against the raw ceiling mutex.

/// The raw PI and ceiling anchors: one function per group (each names itself, so the
/// compiler cannot fold them into one symbol).
macro_rules! protocol_raw {
    ($($name:ident),*) => {$(
        #[inline(never)]
        fn $name(c: &RawCounted) {
            raw_lock(&c.m, stringify!($name));
            c.n.set(c.n.get() + 1);
            // SAFETY: locked just above by this thread.
            unsafe { c.m.unlock() };
        }
    )*};
}
protocol_raw!(
    pinorm_raw,
    pierr_raw,
    pishared_raw,
    ceilboost_raw,
    ceilat_raw
);

#[inline(never)]
fn pinorm_ours(c: &PiLocker<u64>) {
    *c.lock().unwrap() += 1;
}

#[inline(never)]
fn pierr_ours(c: &PiErrorCheckLocker<u64>) {
    *c.lock().unwrap() += 1;
}

#[inline(never)]
fn pirec_ours(c: &PiRecursiveLocker<Cell<u64>>) {
    let _outer = c.lock().unwrap();
    let inner = c.lock().unwrap();
    inner.set(inner.get() + 1);
}

#[inline(never)]
fn pirec_raw(c: &RawCounted) {
    raw_lock(&c.m, "pirec_raw");
    raw_lock(&c.m, "pirec_raw");
    c.n.set(c.n.get() + 1);
    // SAFETY: this thread locked the recursive mutex twice just above.
    unsafe {
        c.m.unlock();
        c.m.unlock();
    }
}

#[inline(never)]
fn pishared_ours(c: &ShmBox<SharedPiLocker<u64>>) {
    *c.lock().unwrap() += 1;
}

#[inline(never)]
fn ceilboost_ours(c: &OursCeiling) {
    let _g = c.m.lock().unwrap();
    c.n.set(c.n.get() + 1);
}

#[inline(never)]
fn ceilat_ours(c: &OursCeiling) {
    let g = c.m.lock();
    assert!(g.is_ok(), "ceilat_ours: {:?}", g.as_ref().err());
    c.n.set(c.n.get() + 1);
}

// 8. notify_one with nobody waiting (+ a count): the uncontended signal.

#[inline(never)]
fn notify_ours(c: &Notify<Cond>) {
    c.c.notify_one();
    c.n.set(c.n.get() + 1);
}

/// `pthread_cond_signal` on a private `pthread_cond_t` (`CLOCK_MONOTONIC`).
#[inline(never)]
fn notify_raw(c: &Notify<PCond>) {
    c.c.signal();
    c.n.set(c.n.get() + 1);
}

#[inline(never)]
fn notify_std(c: &Notify<std::sync::Condvar>) {
    c.c.notify_one();
    c.n.set(c.n.get() + 1);
}

#[inline(never)]
fn notify_parking_lot(c: &Notify<parking_lot::Condvar>) {
    c.c.notify_one();
    c.n.set(c.n.get() + 1);
}

/// The crate's futex protocol in-process (`common::FutexCond`, `FUTEX_PRIVATE_FLAG`).
#[inline(never)]
fn notify_futex_private(c: &Notify<FutexCond>) {
    c.c.notify_one();
    c.n.set(c.n.get() + 1);
}

#[inline(never)]
fn notify_shared_ours(c: &Notify<ShmBox<SharedCond>>) {
    c.c.notify_one();
    c.n.set(c.n.get() + 1);
}

/// `pthread_cond_signal` on a pshared `pthread_cond_t` in a region.
#[inline(never)]
fn notify_shared_raw(c: &Notify<ShmBox<RawSharedCond>>) {
    // SAFETY: initialised in place by `RawSharedCond::new_in_region`, never moved.
    unsafe { libc::pthread_cond_signal(c.c.c.get().cast()) };
    let n = c.n.get() + 1;
    assert!(n > 0, "notify_shared_raw: count wrapped");
    c.n.set(n);
}

// 6. lock_timeout (free lock, 1 s timeout) + increment + unlock.

#[inline(never)]
fn lock_timeout_ours(c: &OursTimed) {
    *c.m.lock_timeout(c.dur).unwrap() += 1;
}

/// `clock_gettime(CLOCK_MONOTONIC)` for the deadline, then `pthread_mutex_clocklock`.
#[inline(never)]
fn lock_timeout_raw(c: &RawTimed) {
    assert!(c.c.m.lock_timeout(c.dur), "lock_timeout_raw: timed out");
    c.c.v.set(c.c.v.get() + 1);
    // SAFETY: `lock_timeout` just acquired the mutex on this thread.
    unsafe { c.c.m.unlock() };
}

// 8. `SharedRwLock` read (and write), against a raw process-shared `pthread_rwlock_t` of the
// writer-preferring non-recursive kind in a shared mapping; and the floor of any design whose
// readers hold a robust mutex (the first `SharedRwLock`'s: its slots were robust mutexes, now
// words naming their holders): a raw pshared robust errorcheck mutex's trylock + unlock, which
// is also about what the writer mutex costs a write.

/// A shared rwlock and a count of this thread's operations (a read cannot increment the data).
struct OursSharedRw {
    l: ShmBox<SharedRwLock<u64>>,
    n: Cell<u64>,
}

impl Ops for OursSharedRw {
    fn ops(&self) -> u64 {
        self.n.get() + *self.l.read().unwrap()
    }
}

#[inline(never)]
fn rw_read_shared_ours(c: &OursSharedRw) {
    let g = c.l.read().unwrap();
    black_box(*g);
    drop(g);
    c.n.set(c.n.get() + 1);
}

#[inline(never)]
fn rw_write_shared_ours(c: &OursSharedRw) {
    *c.l.write().unwrap() += 1;
}

/// A raw pshared `pthread_rwlock_t` (writer-preferring non-recursive) in a shared anonymous
/// mapping, its value, and a count of reads.
struct RawSharedRw {
    base: *mut libc::c_void,
    n: Cell<u64>,
}

impl RawSharedRw {
    const LEN: usize = 4096;

    fn new() -> RawSharedRw {
        // SAFETY: a fresh anonymous shared mapping; no other argument is a pointer.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                Self::LEN,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(base, libc::MAP_FAILED, "mmap");
        let raw = RawSharedRw {
            base,
            n: Cell::new(0),
        };
        let mut attr = std::mem::MaybeUninit::<libc::pthread_rwlockattr_t>::uninit();
        // SAFETY: the attribute object is initialised, set, used and destroyed in order; the
        // rwlock is initialised once, in place in the fresh mapping, before any use.
        unsafe {
            assert_eq!(libc::pthread_rwlockattr_init(attr.as_mut_ptr()), 0);
            assert_eq!(
                libc::pthread_rwlockattr_setpshared(
                    attr.as_mut_ptr(),
                    libc::PTHREAD_PROCESS_SHARED
                ),
                0
            );
            // PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP
            assert_eq!(libc::pthread_rwlockattr_setkind_np(attr.as_mut_ptr(), 2), 0);
            assert_eq!(libc::pthread_rwlock_init(raw.lock(), attr.as_ptr()), 0);
            libc::pthread_rwlockattr_destroy(attr.as_mut_ptr());
        }
        raw
    }

    fn lock(&self) -> *mut libc::pthread_rwlock_t {
        self.base.cast()
    }

    fn value(&self) -> *mut u64 {
        // SAFETY: offset 128 lies inside the mapping, aligned for u64.
        unsafe { self.base.cast::<u8>().add(128).cast() }
    }
}

impl Drop for RawSharedRw {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, unused from here on.
        unsafe { libc::munmap(self.base, Self::LEN) };
    }
}

impl Ops for RawSharedRw {
    fn ops(&self) -> u64 {
        // SAFETY: only this thread uses the value (read outside the timed batches).
        self.n.get() + unsafe { *self.value() }
    }
}

#[inline(never)]
fn rw_read_shared_raw(c: &RawSharedRw) {
    // SAFETY: an initialised rwlock in a live mapping; the value is read under its read lock.
    unsafe {
        let ret = libc::pthread_rwlock_rdlock(c.lock());
        assert_eq!(ret, 0, "rw_read_shared_raw: pthread_rwlock_rdlock");
        black_box(*c.value());
        libc::pthread_rwlock_unlock(c.lock());
    }
    c.n.set(c.n.get() + 1);
}

#[inline(never)]
fn rw_write_shared_raw(c: &RawSharedRw) {
    // SAFETY: as above; the value is written under the write lock.
    unsafe {
        let ret = libc::pthread_rwlock_wrlock(c.lock());
        assert_eq!(ret, 0, "rw_write_shared_raw: pthread_rwlock_wrlock");
        *c.value() += 1;
        libc::pthread_rwlock_unlock(c.lock());
    }
}

/// A robust pshared errorcheck mutex's trylock + unlock around a read: what one reader slot
/// costs, whatever is built around it.
#[inline(never)]
fn rw_read_robust_floor(c: &RawMutexCell) {
    // SAFETY: `PMutex::new` initialised the mutex at a stable heap address; it is free.
    let ret = unsafe { libc::pthread_mutex_trylock(c.m.ptr()) };
    assert_eq!(ret, 0, "rw_read_robust_floor: pthread_mutex_trylock");
    c.v.set(c.v.get() + 1);
    // SAFETY: taken just above by this thread.
    unsafe { c.m.unlock() };
}

// ---------------------------------------------------------------------------------------------
// Running contenders
// ---------------------------------------------------------------------------------------------

/// A contender as the driver sees it.
trait Run {
    /// Times `n` calls of the contender function.
    fn batch(&self, n: u64) -> Duration;
    /// Operations completed so far.
    fn ops(&self) -> u64;
}

/// A state and its contender function. `F` is the function's own (zero-sized) type, so the
/// batch loop calls it directly, not through a pointer.
struct Contender<S, F> {
    state: S,
    op: F,
}

impl<S: Ops, F: Fn(&S)> Run for Contender<S, F> {
    fn batch(&self, n: u64) -> Duration {
        let start = Instant::now();
        for _ in 0..n {
            // `black_box` on the reference: the compiler cannot assume it is the same state
            // each time, so nothing of the call is hoisted out of the loop.
            (self.op)(black_box(&self.state));
        }
        start.elapsed()
    }

    fn ops(&self) -> u64 {
        self.state.ops()
    }
}

/// A contender whose batches run with the calling thread under `SCHED_FIFO` at `prio` (the
/// ceiling groups: a ceiling lock needs a real-time caller), switched through glibc
/// (`pthread_setschedparam`, which keeps glibc's record of the thread right) before and back
/// to `SCHED_OTHER` after each batch, outside the timed span: the process is real-time only
/// for the few milliseconds of a batch.
struct RealTime<R> {
    inner: R,
    prio: i32,
}

/// Sets the calling thread's policy through glibc; the errno.
fn set_policy(policy: i32, prio: i32) -> i32 {
    let param = libc::sched_param {
        sched_priority: prio,
    };
    // SAFETY: `pthread_self()` is the live calling thread; `param` is a valid value.
    unsafe { libc::pthread_setschedparam(libc::pthread_self(), policy, &param) }
}

impl<R: Run> Run for RealTime<R> {
    fn batch(&self, n: u64) -> Duration {
        assert_eq!(set_policy(libc::SCHED_FIFO, self.prio), 0, "SCHED_FIFO");
        let t = self.inner.batch(n);
        assert_eq!(set_policy(libc::SCHED_OTHER, 0), 0, "SCHED_OTHER");
        t
    }

    fn ops(&self) -> u64 {
        self.inner.ops()
    }
}

struct Entry {
    group: &'static str,
    /// The contender function's name.
    name: &'static str,
    /// The raw libc call the group's ratios are taken against.
    anchor: bool,
    /// Calls per batch.
    batch: u64,
    run: Box<dyn Run>,
}

/// Calls per batch of the ceiling groups (their calls below the ceiling make two system calls;
/// a batch is then ~10 ms of real-time scheduling).
const CEILING_BATCH: u64 = 10_000;

/// A ceiling contender: `entry` with its batches real-time at `prio` and `CEILING_BATCH`
/// calls each.
fn realtime_entry<S: Ops + 'static, F: Fn(&S) + 'static>(
    group: &'static str,
    name: &'static str,
    anchor: bool,
    prio: i32,
    state: S,
    op: F,
) -> Entry {
    Entry {
        group,
        name,
        anchor,
        batch: CEILING_BATCH,
        run: Box::new(RealTime {
            inner: Contender { state, op },
            prio,
        }),
    }
}

fn entry<S: Ops + 'static, F: Fn(&S) + 'static>(
    group: &'static str,
    name: &'static str,
    anchor: bool,
    state: S,
    op: F,
) -> Entry {
    Entry {
        group,
        name,
        anchor,
        batch: BATCH,
        run: Box::new(Contender { state, op }),
    }
}

/// Every contender, grouped; the first of each group is this crate, the anchor is raw libc.
fn contenders() -> Vec<Entry> {
    use libc::{PTHREAD_MUTEX_ERRORCHECK, PTHREAD_MUTEX_NORMAL, PTHREAD_MUTEX_RECURSIVE};
    let mut v = vec![
        entry("normal", "normal_ours", false, Locker::new(0), normal_ours),
        entry(
            "normal",
            "normal_raw",
            true,
            RawMutexCell::new(PTHREAD_MUTEX_NORMAL),
            normal_raw,
        ),
        entry(
            "normal",
            "normal_std",
            false,
            std::sync::Mutex::new(0),
            normal_std,
        ),
        entry(
            "normal",
            "normal_parking_lot",
            false,
            parking_lot::Mutex::new(0),
            normal_parking_lot,
        ),
        entry(
            "try_lock",
            "try_lock_ours",
            false,
            Locker::new(0),
            try_lock_ours,
        ),
        entry(
            "try_lock",
            "try_lock_raw",
            true,
            RawMutexCell::new(PTHREAD_MUTEX_NORMAL),
            try_lock_raw,
        ),
        entry(
            "errorcheck",
            "errorcheck_ours",
            false,
            ErrorCheckLocker::new(0),
            errorcheck_ours,
        ),
        entry(
            "errorcheck",
            "errorcheck_raw",
            true,
            RawMutexCell::new(PTHREAD_MUTEX_ERRORCHECK),
            errorcheck_raw,
        ),
        entry(
            "recursive_nested2",
            "recursive_ours",
            false,
            RecursiveLocker::new(Cell::new(0)),
            recursive_ours,
        ),
        entry(
            "recursive_nested2",
            "recursive_raw",
            true,
            RawMutexCell::new(PTHREAD_MUTEX_RECURSIVE),
            recursive_raw,
        ),
        entry(
            "recursive_nested2",
            "recursive_parking_lot",
            false,
            parking_lot::ReentrantMutex::new(Cell::new(0)),
            recursive_parking_lot,
        ),
        entry(
            "sem_post_wait",
            "sem_ours",
            false,
            OursSem {
                s: Sem::new(0).unwrap(),
                n: Cell::new(0),
            },
            sem_ours,
        ),
        entry(
            "sem_post_wait",
            "sem_raw",
            true,
            RawSem {
                s: PSem::new(0),
                n: Cell::new(0),
            },
            sem_raw,
        ),
        entry(
            "lock_timeout",
            "lock_timeout_ours",
            false,
            OursTimed {
                m: Locker::new(0),
                dur: TIMEOUT,
            },
            lock_timeout_ours,
        ),
        entry(
            "lock_timeout",
            "lock_timeout_raw",
            true,
            RawTimed {
                c: RawMutexCell::new(PTHREAD_MUTEX_NORMAL),
                dur: TIMEOUT,
            },
            lock_timeout_raw,
        ),
        entry(
            "shared_normal",
            "normal_shared_ours",
            false,
            ShmBox::anonymous(SharedLocker::new(0)).unwrap(),
            normal_shared_ours,
        ),
        entry(
            "shared_normal",
            "normal_shared_raw",
            true,
            RawMutexCell::shared(PTHREAD_MUTEX_NORMAL),
            normal_shared_raw,
        ),
        entry(
            "shared_normal",
            "mapped_anchor_normal",
            false,
            MappedRaw::new(PTHREAD_MUTEX_NORMAL, libc::PTHREAD_PRIO_NONE),
            mapped_anchor_normal,
        ),
        entry(
            "shared_errorcheck",
            "errorcheck_shared_ours",
            false,
            ShmBox::anonymous(SharedErrorCheckLocker::new(0)).unwrap(),
            errorcheck_shared_ours,
        ),
        entry(
            "shared_errorcheck",
            "errorcheck_shared_raw",
            true,
            RawMutexCell::shared(PTHREAD_MUTEX_ERRORCHECK),
            errorcheck_shared_raw,
        ),
        entry(
            "shared_recursive",
            "recursive_shared_ours",
            false,
            ShmBox::anonymous(SharedRecursiveLocker::new(AtomicU64::new(0))).unwrap(),
            recursive_shared_ours,
        ),
        entry(
            "shared_recursive",
            "recursive_shared_raw",
            true,
            RawMutexCell::shared(PTHREAD_MUTEX_RECURSIVE),
            recursive_shared_raw,
        ),
        entry(
            "shared_recursive",
            "mapped_anchor_recursive",
            false,
            MappedRaw::new(PTHREAD_MUTEX_RECURSIVE, libc::PTHREAD_PRIO_NONE),
            mapped_anchor_recursive,
        ),
        entry(
            "shared_sem",
            "sem_shared_ours",
            false,
            OursSharedSem {
                s: ShmBox::anonymous(SharedSem::new(0).unwrap()).unwrap(),
                n: Cell::new(0),
            },
            sem_shared_ours,
        ),
        entry(
            "shared_sem",
            "sem_shared_raw",
            true,
            RawSem {
                s: PSem::with_pshared(0, true),
                n: Cell::new(0),
            },
            sem_shared_raw,
        ),
        entry(
            "notify_no_waiter",
            "notify_ours",
            false,
            Notify::new(Cond::new()),
            notify_ours,
        ),
        entry(
            "notify_no_waiter",
            "notify_futex_private",
            false,
            Notify::new(FutexCond::new()),
            notify_futex_private,
        ),
        entry(
            "notify_no_waiter",
            "notify_raw",
            true,
            Notify::new(PCond::new()),
            notify_raw,
        ),
        entry(
            "notify_no_waiter",
            "notify_std",
            false,
            Notify::new(std::sync::Condvar::new()),
            notify_std,
        ),
        entry(
            "notify_no_waiter",
            "notify_parking_lot",
            false,
            Notify::new(parking_lot::Condvar::new()),
            notify_parking_lot,
        ),
        entry(
            "shared_notify",
            "notify_shared_ours",
            false,
            Notify::new(ShmBox::anonymous(SharedCond::new()).unwrap()),
            notify_shared_ours,
        ),
        entry(
            "shared_notify",
            "notify_shared_raw",
            true,
            Notify::new(RawSharedCond::new_in_region()),
            notify_shared_raw,
        ),
        entry(
            "shared_rwlock_read",
            "rw_read_shared_ours",
            false,
            OursSharedRw {
                l: ShmBox::anonymous(SharedRwLock::new(0)).unwrap(),
                n: Cell::new(0),
            },
            rw_read_shared_ours,
        ),
        entry(
            "shared_rwlock_read",
            "rw_read_shared_raw",
            true,
            RawSharedRw::new(),
            rw_read_shared_raw,
        ),
        entry(
            "shared_rwlock_read",
            "rw_read_robust_floor",
            false,
            RawMutexCell::shared(PTHREAD_MUTEX_ERRORCHECK),
            rw_read_robust_floor,
        ),
        entry(
            "shared_rwlock_write",
            "rw_write_shared_ours",
            false,
            OursSharedRw {
                l: ShmBox::anonymous(SharedRwLock::new(0)).unwrap(),
                n: Cell::new(0),
            },
            rw_write_shared_ours,
        ),
        entry(
            "shared_rwlock_write",
            "rw_write_shared_raw",
            true,
            RawSharedRw::new(),
            rw_write_shared_raw,
        ),
    ];
    use libc::{PTHREAD_PRIO_INHERIT, PTHREAD_PRIO_PROTECT};
    v.extend([
        entry(
            "pi_normal",
            "pinorm_ours",
            false,
            PiLocker::new(0),
            pinorm_ours,
        ),
        entry(
            "pi_normal",
            "pinorm_raw",
            true,
            RawCounted::new(PTHREAD_MUTEX_NORMAL, false, PTHREAD_PRIO_INHERIT, 0),
            pinorm_raw,
        ),
        entry(
            "pi_errorcheck",
            "pierr_ours",
            false,
            PiErrorCheckLocker::new(0),
            pierr_ours,
        ),
        entry(
            "pi_errorcheck",
            "pierr_raw",
            true,
            RawCounted::new(PTHREAD_MUTEX_ERRORCHECK, false, PTHREAD_PRIO_INHERIT, 0),
            pierr_raw,
        ),
        entry(
            "pi_recursive",
            "pirec_ours",
            false,
            PiRecursiveLocker::new(Cell::new(0)),
            pirec_ours,
        ),
        entry(
            "pi_recursive",
            "pirec_raw",
            true,
            RawCounted::new(PTHREAD_MUTEX_RECURSIVE, false, PTHREAD_PRIO_INHERIT, 0),
            pirec_raw,
        ),
        entry(
            "pi_shared",
            "pishared_ours",
            false,
            ShmBox::anonymous(SharedPiLocker::new(0)).unwrap(),
            pishared_ours,
        ),
        entry(
            "pi_shared",
            "pishared_raw",
            true,
            RawCounted::new(PTHREAD_MUTEX_NORMAL, true, PTHREAD_PRIO_INHERIT, 0),
            pishared_raw,
        ),
        entry(
            "pi_shared",
            "mapped_anchor_pi",
            false,
            MappedRaw::new(PTHREAD_MUTEX_NORMAL, PTHREAD_PRIO_INHERIT),
            mapped_anchor_pi,
        ),
    ]);
    // The ceiling groups need SCHED_FIFO: left out, and said so, where it is refused.
    if set_policy(libc::SCHED_FIFO, CEILING_CALLER) == 0 {
        assert_eq!(set_policy(libc::SCHED_OTHER, 0), 0);
        let ceiling = |c| OursCeiling {
            m: CeilingLocker::new(c, ()).unwrap(),
            n: Cell::new(0),
        };
        v.extend([
            realtime_entry(
                "ceiling_boost",
                "ceilboost_ours",
                false,
                CEILING_CALLER,
                ceiling(CEILING_CALLER + 10),
                ceilboost_ours,
            ),
            realtime_entry(
                "ceiling_boost",
                "ceilboost_raw",
                true,
                CEILING_CALLER,
                RawCounted::new(
                    PTHREAD_MUTEX_NORMAL,
                    false,
                    PTHREAD_PRIO_PROTECT,
                    CEILING_CALLER + 10,
                ),
                ceilboost_raw,
            ),
            realtime_entry(
                "ceiling_at",
                "ceilat_ours",
                false,
                CEILING_CALLER,
                ceiling(CEILING_CALLER),
                ceilat_ours,
            ),
            realtime_entry(
                "ceiling_at",
                "ceilat_raw",
                true,
                CEILING_CALLER,
                RawCounted::new(
                    PTHREAD_MUTEX_NORMAL,
                    false,
                    PTHREAD_PRIO_PROTECT,
                    CEILING_CALLER,
                ),
                ceilat_raw,
            ),
        ]);
    } else {
        println!("SCHED_FIFO refused (EPERM): the ceiling groups are left out");
    }
    // A callgrind `--toggle-collect` pattern on one name must select one function only.
    for a in &v {
        for b in &v {
            assert!(
                a.name == b.name || !b.name.contains(a.name),
                "contender name {} is part of {}",
                a.name,
                b.name
            );
        }
    }
    v
}

/// Runs one batch of contender `e` and checks its counter moved by exactly `n`.
fn timed_batch(e: &Entry, n: u64) -> Duration {
    let before = e.run.ops();
    let t = e.run.batch(n);
    let after = e.run.ops();
    assert_eq!(
        after - before,
        n,
        "{}: counter moved by {}",
        e.name,
        after - before
    );
    t
}

// ---------------------------------------------------------------------------------------------
// Statistics and the table
// ---------------------------------------------------------------------------------------------

fn print_table(entries: &[Entry], ns: &[Vec<f64>]) {
    println!(
        "{:<18} {:<22} {:>23}  {:>33}  {:>7}",
        "group",
        "contender",
        "ns/op: median [p25-p75]",
        "x raw: median of rounds [p25-p75]",
        "med/med"
    );
    let mut last_group = "";
    for (i, e) in entries.iter().enumerate() {
        if e.group != last_group && !last_group.is_empty() {
            println!();
        }
        last_group = e.group;
        let anchor = entries
            .iter()
            .position(|a| a.group == e.group && a.anchor)
            .expect("every group has an anchor");
        let ratios: Vec<f64> = ns[i].iter().zip(&ns[anchor]).map(|(x, r)| x / r).collect();
        let m = median(&ns[i]);
        let time = format!(
            "{m:.2} [{:.2}-{:.2}]",
            quantile(&ns[i], 0.25),
            quantile(&ns[i], 0.75)
        );
        let ratio = format!(
            "{:.3} [{:.3}-{:.3}]",
            median(&ratios),
            quantile(&ratios, 0.25),
            quantile(&ratios, 0.75)
        );
        println!(
            "{:<18} {:<22} {time:>23}  {ratio:>33}  {:>7.3}",
            e.group,
            e.name,
            m / median(&ns[anchor]),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// main
// ---------------------------------------------------------------------------------------------

struct Args {
    rounds: usize,
    callgrind: Option<(String, u64)>,
    /// `--groups a,b`: only these groups run (all when empty).
    groups: Vec<String>,
}

fn parse_args() -> Args {
    const USAGE: &str = "usage: calls [--rounds R] [--groups G1,G2..] [--callgrind NAME N]";
    let mut args = Args {
        rounds: ROUNDS,
        callgrind: None,
        groups: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            // `cargo bench` passes `--bench` to every bench binary.
            "--bench" => {}
            "--rounds" => {
                args.rounds = it.next().and_then(|r| r.parse().ok()).expect(USAGE);
                assert!(args.rounds > 0, "{USAGE}");
            }
            "--groups" => {
                let list = it.next().expect(USAGE);
                args.groups = list.split(',').map(str::to_owned).collect();
            }
            "--callgrind" => {
                let name = it.next().expect(USAGE);
                let n = it.next().and_then(|n| n.parse().ok()).expect(USAGE);
                args.callgrind = Some((name, n));
            }
            other => panic!("unknown argument {other:?}; {USAGE}"),
        }
    }
    args
}

/// The groups' names, in table order.
fn group_names(entries: &[Entry]) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Vec::new();
    for e in entries {
        if !names.contains(&e.group) {
            names.push(e.group);
        }
    }
    names
}

/// Runs contender `name` alone for `n` operations (for `valgrind --tool=callgrind`).
fn callgrind(entries: &[Entry], name: &str, n: u64) {
    let Some(e) = entries.iter().find(|e| e.name == name) else {
        let names: Vec<_> = entries.iter().map(|e| e.name).collect();
        panic!("no contender {name:?}; contenders: {}", names.join(" "));
    };
    // The counter read also creates a lazily created pthread object, outside the counted
    // function.
    assert_eq!(e.run.ops(), 0);
    timed_batch(e, n);
    println!("{name}: {n} operations done");
}

fn main() {
    let args = parse_args();
    common::multithreaded();
    let mut entries = contenders();
    if !args.groups.is_empty() {
        for g in &args.groups {
            assert!(
                entries.iter().any(|e| e.group == g),
                "no group {g:?}; groups: {}",
                group_names(&entries).join(" ")
            );
        }
        entries.retain(|e| args.groups.iter().any(|g| g == e.group));
    }

    if let Some((name, n)) = &args.callgrind {
        callgrind(&entries, name, *n);
        return;
    }

    println!(
        "calls: each contender one #[inline(never)] call per op; {} contenders interleaved, \
         {} rounds (+{} warm-up) of {} calls each, rotating order; process multi-threaded \
         (__libc_single_threaded == 0)",
        entries.len(),
        args.rounds,
        WARMUP_ROUNDS,
        BATCH
    );
    let started = Instant::now();
    let k = entries.len();
    let mut ns: Vec<Vec<f64>> = vec![Vec::with_capacity(args.rounds); k];
    for round in 0..WARMUP_ROUNDS + args.rounds {
        for j in 0..k {
            let i = (round + j) % k;
            let batch = entries[i].batch;
            let t = timed_batch(&entries[i], batch);
            if round >= WARMUP_ROUNDS {
                ns[i].push(t.as_nanos() as f64 / batch as f64);
            }
        }
    }
    for e in &entries {
        let total = (WARMUP_ROUNDS + args.rounds) as u64 * e.batch;
        assert_eq!(e.run.ops(), total, "{}: operations lost", e.name);
    }
    println!(
        "{:.1} s; ratios are to the raw libc call of the group, median over rounds of the \
         per-round ratio (med/med: ratio of the medians, for comparison)\n",
        started.elapsed().as_secs_f64()
    );
    print_table(&entries, &ns);
}
