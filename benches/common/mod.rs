//! Shared pieces of the bench binaries: criterion settings, the "process is multi-threaded"
//! precondition, raw libc anchors (`pthread_mutex_t`, `pthread_cond_t`, `sem_t`) at stable heap
//! addresses, CPU pinning, and small traits (`Counter`, `Monitor`, `Semaphore`) so that one
//! generic bench body runs against this crate, `std`, `parking_lot` and raw libc side by side.
//!
//! Adding a comparison is usually: implement the trait for the new type (a few lines), then
//! call the generic bench function once more with it.

// Each bench binary compiles this module and uses a different subset of it.
#![allow(dead_code)]

use std::cell::UnsafeCell;
use std::hint::black_box;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;
use std::thread;
use std::time::{Duration, Instant};

use criterion::Criterion;

// ---------------------------------------------------------------------------------------------
// Criterion settings
// ---------------------------------------------------------------------------------------------

/// Settings for single-thread groups (each iteration is a few ns).
pub fn quick() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(800))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50)
}

/// Settings for cross-thread groups (thread spawns between batches are not timed, but they
/// make each batch slow, so fewer samples).
pub fn cross_thread() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_millis(2500))
        .sample_size(30)
}

// ---------------------------------------------------------------------------------------------
// Preconditions
// ---------------------------------------------------------------------------------------------

extern "C" {
    /// glibc 2.32+: non-zero while the process has never created a thread. While it is set,
    /// glibc's lock and unlock of a private normal mutex skip their atomic instructions.
    static __libc_single_threaded: libc::c_char;
}

/// Spawns and joins one thread (once per process), so that every bench measures locking as a
/// program with threads sees it, not glibc's single-thread fast path. Checks that it worked.
pub fn multithreaded() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| thread::spawn(|| {}).join().expect("helper thread"));
    // SAFETY: a plain `char` glibc exports; reading it races with nothing here (it only goes
    // from 1 to 0, when the first thread is created, which happened above).
    let single = unsafe { std::ptr::addr_of!(__libc_single_threaded).read_volatile() };
    assert_eq!(
        single, 0,
        "glibc still thinks the process is single-threaded"
    );
}

/// Pins the calling thread to one CPU (`sched_setaffinity` on the calling thread).
pub fn pin_to_cpu(cpu: usize) {
    // SAFETY: `cpu_set_t` is a plain bit array; all zeroes is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `cpu` is far below CPU_SETSIZE (1024), so `CPU_SET` stays inside `set`.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: `set` is a valid cpu_set_t of the size passed; pid 0 = the calling thread.
    let ret = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    assert_eq!(
        ret,
        0,
        "sched_setaffinity: {}",
        std::io::Error::last_os_error()
    );
}

/// Whether the threads of a cross-thread bench are pinned; part of the bench id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pin {
    /// The scheduler places the threads (on this 2-vCPU VM: usually one per CPU, so every
    /// hand-off is a cross-CPU wake-up, dominated by the hypervisor).
    Unpinned,
    /// Every thread on CPU 0: every hand-off is a context switch on one CPU.
    OneCpu,
}

impl Pin {
    pub fn label(self) -> &'static str {
        match self {
            Pin::Unpinned => "unpinned",
            Pin::OneCpu => "pinned_1cpu",
        }
    }
}

/// Busy work of `n` steps that the optimiser cannot remove (the "longer critical section").
#[inline]
pub fn work(n: u32) {
    for i in 0..n {
        black_box(i);
    }
}

// ---------------------------------------------------------------------------------------------
// Cross-thread timing
// ---------------------------------------------------------------------------------------------

/// Runs `body(index)` on `threads` fresh threads and returns the time from the moment all of
/// them are running (a yielding spin barrier, so no wake-up latency is timed) until the last
/// one is done. Spawning and joining are not timed.
pub fn run_team<F>(threads: usize, pin: Pin, body: F) -> Duration
where
    F: Fn(usize) + Sync,
{
    let arrived = AtomicUsize::new(0);
    let spans: Vec<(Instant, Instant)> = thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                let (arrived, body) = (&arrived, &body);
                s.spawn(move || {
                    if pin == Pin::OneCpu {
                        pin_to_cpu(0);
                    }
                    arrived.fetch_add(1, Ordering::AcqRel);
                    while arrived.load(Ordering::Acquire) < threads {
                        thread::yield_now();
                    }
                    let start = Instant::now();
                    body(i);
                    (start, Instant::now())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("bench thread panicked"))
            .collect()
    });
    let start = spans.iter().map(|s| s.0).min().expect("no threads");
    let end = spans.iter().map(|s| s.1).max().expect("no threads");
    end - start
}

/// Splits `total` operations between `threads` threads: the share of thread `i`.
pub fn share(total: u64, threads: usize, i: usize) -> u64 {
    let threads = threads as u64;
    let i = i as u64;
    total / threads + u64::from(i < total % threads)
}

// ---------------------------------------------------------------------------------------------
// Raw libc anchors
// ---------------------------------------------------------------------------------------------

/// glibc's `PTHREAD_MUTEX_ADAPTIVE_NP` (spins a bounded number of times before sleeping); the
/// `libc` crate does not declare it for glibc.
pub const PTHREAD_MUTEX_ADAPTIVE_NP: libc::c_int = 3;

extern "C" {
    // glibc 2.30 and later; the `libc` crate does not declare it.
    fn pthread_mutex_clocklock(
        mutex: *mut libc::pthread_mutex_t,
        clock: libc::clockid_t,
        abstime: *const libc::timespec,
    ) -> libc::c_int;
}

/// How a raw mutex is set up.
#[derive(Clone, Copy, Debug)]
pub struct MutexAttrs {
    /// `PTHREAD_MUTEX_NORMAL`, `_ERRORCHECK`, `_RECURSIVE` or [`PTHREAD_MUTEX_ADAPTIVE_NP`].
    pub kind: libc::c_int,
    /// `PTHREAD_PROCESS_SHARED` instead of private.
    pub pshared: bool,
    /// `PTHREAD_MUTEX_ROBUST`.
    pub robust: bool,
}

impl MutexAttrs {
    pub const fn private(kind: libc::c_int) -> MutexAttrs {
        MutexAttrs {
            kind,
            pshared: false,
            robust: false,
        }
    }
}

/// The call failed where it cannot in these benches: stop loudly.
#[cold]
#[inline(never)]
fn failed(what: &str, ret: libc::c_int) -> ! {
    panic!("{what} failed: {}", std::io::Error::from_raw_os_error(ret))
}

/// `pthread_mutex_init` of the mutex at `m` with explicit attributes: `attrs`, the priority
/// protocol (`pthread_mutexattr_setprotocol`) and, for `PTHREAD_PRIO_PROTECT`, the ceiling
/// (`pthread_mutexattr_setprioceiling`); every call checked.
///
/// # Safety
/// `m` is writable, aligned storage for a `pthread_mutex_t` that nothing else uses, and stays
/// at that address for as long as the mutex is used.
pub unsafe fn init_mutex_at(
    m: *mut libc::pthread_mutex_t,
    attrs: MutexAttrs,
    protocol: libc::c_int,
    ceiling: libc::c_int,
) {
    extern "C" {
        fn pthread_mutexattr_setprioceiling(
            attr: *mut libc::pthread_mutexattr_t,
            prioceiling: libc::c_int,
        ) -> libc::c_int;
    }
    let mut attr = MaybeUninit::<libc::pthread_mutexattr_t>::uninit();
    let a = attr.as_mut_ptr();
    // SAFETY: `a` points to writable storage for an attribute object, which is initialised
    // first and destroyed last; `m` is the caller's (its contract).
    unsafe {
        check("pthread_mutexattr_init", libc::pthread_mutexattr_init(a));
        check(
            "pthread_mutexattr_settype",
            libc::pthread_mutexattr_settype(a, attrs.kind),
        );
        if attrs.pshared {
            check(
                "pthread_mutexattr_setpshared",
                libc::pthread_mutexattr_setpshared(a, libc::PTHREAD_PROCESS_SHARED),
            );
        }
        if attrs.robust {
            check(
                "pthread_mutexattr_setrobust",
                libc::pthread_mutexattr_setrobust(a, libc::PTHREAD_MUTEX_ROBUST),
            );
        }
        check(
            "pthread_mutexattr_setprotocol",
            libc::pthread_mutexattr_setprotocol(a, protocol),
        );
        if protocol == libc::PTHREAD_PRIO_PROTECT {
            check(
                "pthread_mutexattr_setprioceiling",
                pthread_mutexattr_setprioceiling(a, ceiling),
            );
        }
        check("pthread_mutex_init", libc::pthread_mutex_init(m, a));
        libc::pthread_mutexattr_destroy(a);
    }
}

/// A raw `pthread_mutex_t` in its own heap allocation (a stable address for its whole life),
/// initialised with explicit attributes and destroyed on drop. No wrapper logic: each method
/// is the libc call plus the return-value check any correct caller makes.
pub struct PMutex {
    m: Box<UnsafeCell<MaybeUninit<libc::pthread_mutex_t>>>,
}

// SAFETY: a pthread mutex is designed to be used by many threads at once; every access goes
// through pthread calls, which synchronise internally.
unsafe impl Send for PMutex {}
// SAFETY: as above.
unsafe impl Sync for PMutex {}

impl PMutex {
    pub fn new(attrs: MutexAttrs) -> PMutex {
        PMutex::with_protocol(attrs, libc::PTHREAD_PRIO_NONE, 0)
    }

    /// [`PMutex::new`] with a priority protocol (`pthread_mutexattr_setprotocol`) and, for
    /// `PTHREAD_PRIO_PROTECT`, the ceiling (`pthread_mutexattr_setprioceiling`).
    pub fn with_protocol(attrs: MutexAttrs, protocol: libc::c_int, ceiling: libc::c_int) -> PMutex {
        let m = Box::new(UnsafeCell::new(MaybeUninit::uninit()));
        // SAFETY: `m` is a fresh heap allocation nobody else can see, and it never moves
        // afterwards (boxed).
        unsafe { init_mutex_at(m.get().cast(), attrs, protocol, ceiling) };
        PMutex { m }
    }

    pub fn normal() -> PMutex {
        PMutex::new(MutexAttrs::private(libc::PTHREAD_MUTEX_NORMAL))
    }

    #[inline(always)]
    pub fn ptr(&self) -> *mut libc::pthread_mutex_t {
        self.m.get().cast()
    }

    /// `pthread_mutex_lock`.
    #[inline(always)]
    pub fn lock(&self) {
        // SAFETY: the mutex was initialised in `new` and stays at this address until drop.
        let ret = unsafe { libc::pthread_mutex_lock(self.ptr()) };
        if ret != 0 {
            failed("pthread_mutex_lock", ret);
        }
    }

    /// `pthread_mutex_trylock`: whether the lock was acquired.
    #[inline(always)]
    pub fn try_lock(&self) -> bool {
        // SAFETY: as in `lock`.
        let ret = unsafe { libc::pthread_mutex_trylock(self.ptr()) };
        match ret {
            0 => true,
            libc::EBUSY => false,
            e => failed("pthread_mutex_trylock", e),
        }
    }

    /// `pthread_mutex_clocklock` on `CLOCK_MONOTONIC`, `dur` from now (reading the clock is
    /// part of the call, as it is for every "lock with a timeout" API).
    #[inline(always)]
    pub fn lock_timeout(&self, dur: Duration) -> bool {
        let deadline = deadline_after(dur);
        // SAFETY: as in `lock`; `deadline` is a valid, normalised timespec.
        let ret = unsafe { pthread_mutex_clocklock(self.ptr(), libc::CLOCK_MONOTONIC, &deadline) };
        match ret {
            0 => true,
            libc::ETIMEDOUT => false,
            e => failed("pthread_mutex_clocklock", e),
        }
    }

    /// `pthread_mutex_unlock`.
    ///
    /// # Safety
    /// The calling thread must hold the mutex (one level of it, for a recursive one).
    #[inline(always)]
    pub unsafe fn unlock(&self) {
        // SAFETY: initialised as in `lock`; the caller holds it.
        unsafe { libc::pthread_mutex_unlock(self.ptr()) };
    }

    /// A bounded adaptive spin before blocking, on the raw mutex (the policy `Locker` once
    /// used; it now spins as `RawMutex::lock_contended` describes):
    /// `trylock`, then up to ten rounds of `parking_lot_core::SpinWait` each followed by
    /// another `trylock`, then `pthread_mutex_lock`.
    #[inline(always)]
    pub fn lock_spin_then_block(&self) {
        if self.try_lock() {
            return;
        }
        let mut spin = parking_lot_core::SpinWait::new();
        while spin.spin() {
            if self.try_lock() {
                return;
            }
        }
        self.lock();
    }
}

impl Drop for PMutex {
    fn drop(&mut self) {
        // SAFETY: `&mut self`: no thread can hold or wait on the mutex any more; it was
        // initialised in `new` and is destroyed exactly once.
        let ret = unsafe { libc::pthread_mutex_destroy(self.ptr()) };
        debug_assert_eq!(ret, 0, "pthread_mutex_destroy");
    }
}

fn check(what: &str, ret: libc::c_int) {
    if ret != 0 {
        failed(what, ret);
    }
}

/// `dur` from now on `CLOCK_MONOTONIC`, as an absolute `timespec`.
#[inline(always)]
pub fn deadline_after(dur: Duration) -> libc::timespec {
    let mut now = MaybeUninit::<libc::timespec>::uninit();
    // SAFETY: `now` is valid for writes; CLOCK_MONOTONIC always exists on Linux, so the call
    // succeeds and fills `now`.
    let now = unsafe {
        libc::clock_gettime(libc::CLOCK_MONOTONIC, now.as_mut_ptr());
        now.assume_init()
    };
    let mut tv_sec = now.tv_sec + dur.as_secs() as libc::time_t;
    let mut tv_nsec = now.tv_nsec + libc::c_long::from(dur.subsec_nanos());
    if tv_nsec >= 1_000_000_000 {
        tv_nsec -= 1_000_000_000;
        tv_sec += 1;
    }
    libc::timespec { tv_sec, tv_nsec }
}

/// A raw `pthread_cond_t` on `CLOCK_MONOTONIC` (as the crate's `Cond`), boxed, destroyed on
/// drop.
pub struct PCond {
    c: Box<UnsafeCell<MaybeUninit<libc::pthread_cond_t>>>,
}

// SAFETY: a pthread condition variable is designed to be shared between threads.
unsafe impl Send for PCond {}
// SAFETY: as above.
unsafe impl Sync for PCond {}

impl PCond {
    pub fn new() -> PCond {
        let c = Box::new(UnsafeCell::new(MaybeUninit::uninit()));
        let mut attr = MaybeUninit::<libc::pthread_condattr_t>::uninit();
        let a = attr.as_mut_ptr();
        // SAFETY: `a` is writable storage for an attribute object, initialised first and
        // destroyed last; `c` is a fresh heap allocation that never moves afterwards.
        unsafe {
            check("pthread_condattr_init", libc::pthread_condattr_init(a));
            check(
                "pthread_condattr_setclock",
                libc::pthread_condattr_setclock(a, libc::CLOCK_MONOTONIC),
            );
            check(
                "pthread_cond_init",
                libc::pthread_cond_init(c.get().cast(), a),
            );
            libc::pthread_condattr_destroy(a);
        }
        PCond { c }
    }

    #[inline(always)]
    fn ptr(&self) -> *mut libc::pthread_cond_t {
        self.c.get().cast()
    }

    /// `pthread_cond_wait`.
    ///
    /// # Safety
    /// The calling thread must hold `m`, and every waiter of this condvar must use `m`.
    #[inline(always)]
    pub unsafe fn wait(&self, m: &PMutex) {
        // SAFETY: both objects are initialised; the caller holds `m`.
        let ret = unsafe { libc::pthread_cond_wait(self.ptr(), m.ptr()) };
        if ret != 0 {
            failed("pthread_cond_wait", ret);
        }
    }

    /// `pthread_cond_signal`.
    #[inline(always)]
    pub fn signal(&self) {
        // SAFETY: the condvar is initialised and never moves.
        unsafe { libc::pthread_cond_signal(self.ptr()) };
    }

    /// `pthread_cond_broadcast`.
    #[inline(always)]
    pub fn broadcast(&self) {
        // SAFETY: the condvar is initialised and never moves.
        unsafe { libc::pthread_cond_broadcast(self.ptr()) };
    }
}

impl Default for PCond {
    fn default() -> PCond {
        PCond::new()
    }
}

impl Drop for PCond {
    fn drop(&mut self) {
        // SAFETY: `&mut self`: nobody waits on it any more; destroyed exactly once.
        unsafe { libc::pthread_cond_destroy(self.ptr()) };
    }
}

/// A raw unnamed, process-private `sem_t`, boxed, destroyed on drop.
pub struct PSem {
    s: Box<UnsafeCell<MaybeUninit<libc::sem_t>>>,
}

// SAFETY: a semaphore is designed to be shared between threads.
unsafe impl Send for PSem {}
// SAFETY: as above.
unsafe impl Sync for PSem {}

impl PSem {
    pub fn new(value: u32) -> PSem {
        PSem::with_pshared(value, false)
    }

    /// With `pshared`, `sem_init(.., 1, ..)`: the semaphore a process-shared one calls.
    pub fn with_pshared(value: u32, pshared: bool) -> PSem {
        let s = Box::new(UnsafeCell::new(MaybeUninit::uninit()));
        // SAFETY: `s` is a fresh heap allocation that never moves; `value` is small.
        let ret = unsafe { libc::sem_init(s.get().cast(), libc::c_int::from(pshared), value) };
        assert_eq!(ret, 0, "sem_init: {}", std::io::Error::last_os_error());
        PSem { s }
    }

    #[inline(always)]
    fn ptr(&self) -> *mut libc::sem_t {
        self.s.get().cast()
    }

    /// `sem_post`.
    #[inline(always)]
    pub fn post(&self) {
        // SAFETY: the semaphore is initialised and never moves.
        let ret = unsafe { libc::sem_post(self.ptr()) };
        if ret != 0 {
            failed("sem_post", last_errno());
        }
    }

    /// `sem_wait`, retried on `EINTR`.
    #[inline(always)]
    pub fn wait(&self) {
        // SAFETY: the semaphore is initialised and never moves.
        while unsafe { libc::sem_wait(self.ptr()) } != 0 {
            let e = last_errno();
            if e != libc::EINTR {
                failed("sem_wait", e);
            }
        }
    }
}

impl Drop for PSem {
    fn drop(&mut self) {
        // SAFETY: `&mut self`: nobody waits on it any more; destroyed exactly once.
        unsafe { libc::sem_destroy(self.ptr()) };
    }
}

#[cold]
fn last_errno() -> libc::c_int {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EINVAL)
}

// ---------------------------------------------------------------------------------------------
// Counter: a lock around a u64, for lock+increment(+work)+unlock benches
// ---------------------------------------------------------------------------------------------

/// A `u64` behind a lock. `bump` = lock, increment, `work(extra)`, unlock.
pub trait Counter: Send + Sync {
    fn new() -> Self;
    fn bump(&self, extra: u32);
    /// The value, read under the lock (to check no increment was lost).
    fn get(&self) -> u64;
}

impl Counter for pthread_sync::Locker<u64> {
    fn new() -> Self {
        pthread_sync::Locker::new(0)
    }
    #[inline(always)]
    fn bump(&self, extra: u32) {
        let mut g = self.lock().unwrap();
        *g += 1;
        work(extra);
    }
    fn get(&self) -> u64 {
        *self.lock().unwrap()
    }
}

impl Counter for std::sync::Mutex<u64> {
    fn new() -> Self {
        std::sync::Mutex::new(0)
    }
    #[inline(always)]
    fn bump(&self, extra: u32) {
        let mut g = self.lock().unwrap();
        *g += 1;
        work(extra);
    }
    fn get(&self) -> u64 {
        *self.lock().unwrap()
    }
}

impl Counter for parking_lot::Mutex<u64> {
    fn new() -> Self {
        parking_lot::Mutex::new(0)
    }
    #[inline(always)]
    fn bump(&self, extra: u32) {
        let mut g = self.lock();
        *g += 1;
        work(extra);
    }
    fn get(&self) -> u64 {
        *self.lock()
    }
}

/// How a [`RawCounter`] acquires its mutex.
pub trait RawPolicy: Send + Sync {
    fn attrs() -> MutexAttrs;
    fn lock(m: &PMutex);
    /// The mutex (`PMutex::new(attrs())`, unless the policy adds a protocol).
    fn make() -> PMutex {
        PMutex::new(Self::attrs())
    }
}

/// `PTHREAD_MUTEX_NORMAL` with `PTHREAD_PRIO_INHERIT`, plain `pthread_mutex_lock` (contended:
/// `FUTEX_LOCK_PI`).
pub struct NormalPi;
impl RawPolicy for NormalPi {
    fn attrs() -> MutexAttrs {
        MutexAttrs::private(libc::PTHREAD_MUTEX_NORMAL)
    }
    #[inline(always)]
    fn lock(m: &PMutex) {
        m.lock();
    }
    fn make() -> PMutex {
        PMutex::with_protocol(Self::attrs(), libc::PTHREAD_PRIO_INHERIT, 0)
    }
}

impl Counter for pthread_sync::PiLocker<u64> {
    fn new() -> Self {
        pthread_sync::PiLocker::new(0)
    }
    #[inline(always)]
    fn bump(&self, extra: u32) {
        let mut g = self.lock().unwrap();
        *g += 1;
        work(extra);
    }
    fn get(&self) -> u64 {
        *self.lock().unwrap()
    }
}

/// `PTHREAD_MUTEX_NORMAL`, plain `pthread_mutex_lock`.
pub struct Normal;
impl RawPolicy for Normal {
    fn attrs() -> MutexAttrs {
        MutexAttrs::private(libc::PTHREAD_MUTEX_NORMAL)
    }
    #[inline(always)]
    fn lock(m: &PMutex) {
        m.lock();
    }
}

/// `PTHREAD_MUTEX_NORMAL` with the adaptive spin (`parking_lot_core::SpinWait`) before blocking.
pub struct NormalSpinWait;
impl RawPolicy for NormalSpinWait {
    fn attrs() -> MutexAttrs {
        MutexAttrs::private(libc::PTHREAD_MUTEX_NORMAL)
    }
    #[inline(always)]
    fn lock(m: &PMutex) {
        m.lock_spin_then_block();
    }
}

/// glibc's own adaptive mutex, `PTHREAD_MUTEX_ADAPTIVE_NP` (spin count from the
/// `glibc.pthread.mutex_spin_count` tunable, default 100).
pub struct Adaptive;
impl RawPolicy for Adaptive {
    fn attrs() -> MutexAttrs {
        MutexAttrs::private(PTHREAD_MUTEX_ADAPTIVE_NP)
    }
    #[inline(always)]
    fn lock(m: &PMutex) {
        m.lock();
    }
}

/// A raw pthread mutex of kind `P` around a `u64`.
pub struct RawCounter<P> {
    m: PMutex,
    v: UnsafeCell<u64>,
    _policy: std::marker::PhantomData<P>,
}

// SAFETY: `v` is only touched with `m` held.
unsafe impl<P: RawPolicy> Sync for RawCounter<P> {}

impl<P: RawPolicy> Counter for RawCounter<P> {
    fn new() -> Self {
        RawCounter {
            m: P::make(),
            v: UnsafeCell::new(0),
            _policy: std::marker::PhantomData,
        }
    }
    #[inline(always)]
    fn bump(&self, extra: u32) {
        P::lock(&self.m);
        // SAFETY: this thread holds `m`, which guards `v`.
        unsafe { *self.v.get() += 1 };
        work(extra);
        // SAFETY: locked just above by this thread.
        unsafe { self.m.unlock() };
    }
    fn get(&self) -> u64 {
        self.m.lock();
        // SAFETY: this thread holds `m`, which guards `v`.
        let v = unsafe { *self.v.get() };
        // SAFETY: locked just above by this thread.
        unsafe { self.m.unlock() };
        v
    }
}

// ---------------------------------------------------------------------------------------------
// Monitor: a mutex + condition variable around a u64
// ---------------------------------------------------------------------------------------------

/// A `u64` behind a mutex, with a condition variable: the shape of every condvar protocol.
pub trait Monitor: Send + Sync {
    fn new(v: u64) -> Self;
    /// Lock, `f(&mut value)`, unlock.
    fn update(&self, f: impl FnOnce(&mut u64));
    /// Lock, wait until `ready(&value)`, `f(&mut value)`, unlock.
    fn wait_then(&self, ready: impl FnMut(&u64) -> bool, f: impl FnOnce(&mut u64));
    fn notify_one(&self);
    fn notify_all(&self);
}

/// A monitor over a std-shaped `Mutex<u64>` + `Condvar` pair: the same code serves this crate
/// and std, since this crate's API is std's.
macro_rules! std_shaped_monitor {
    ($(#[$doc:meta])* $name:ident, $mutex:path, $cond:path) => {
        $(#[$doc])*
        pub struct $name {
            m: $mutex,
            c: $cond,
        }

        impl Monitor for $name {
            fn new(v: u64) -> Self {
                $name {
                    m: <$mutex>::new(v),
                    c: <$cond>::new(),
                }
            }
            #[inline]
            fn update(&self, f: impl FnOnce(&mut u64)) {
                f(&mut self.m.lock().unwrap());
            }
            #[inline]
            fn wait_then(&self, mut ready: impl FnMut(&u64) -> bool, f: impl FnOnce(&mut u64)) {
                let g = self.m.lock().unwrap();
                let mut g = self.c.wait_while(g, |v| !ready(v)).unwrap();
                f(&mut g);
            }
            #[inline]
            fn notify_one(&self) {
                self.c.notify_one();
            }
            #[inline]
            fn notify_all(&self) {
                self.c.notify_all();
            }
        }
    };
}

std_shaped_monitor!(
    /// This crate: `Locker<u64>` + `Cond`.
    OursMonitor,
    pthread_sync::Locker<u64>,
    pthread_sync::Cond
);
std_shaped_monitor!(
    /// `std::sync::{Mutex, Condvar}`.
    StdMonitor,
    std::sync::Mutex<u64>,
    std::sync::Condvar
);

/// `parking_lot::{Mutex, Condvar}`.
pub struct PlMonitor {
    m: parking_lot::Mutex<u64>,
    c: parking_lot::Condvar,
}

impl Monitor for PlMonitor {
    fn new(v: u64) -> Self {
        PlMonitor {
            m: parking_lot::Mutex::new(v),
            c: parking_lot::Condvar::new(),
        }
    }
    #[inline]
    fn update(&self, f: impl FnOnce(&mut u64)) {
        f(&mut self.m.lock());
    }
    #[inline]
    fn wait_then(&self, mut ready: impl FnMut(&u64) -> bool, f: impl FnOnce(&mut u64)) {
        let mut g = self.m.lock();
        while !ready(&g) {
            self.c.wait(&mut g);
        }
        f(&mut g);
    }
    #[inline]
    fn notify_one(&self) {
        self.c.notify_one();
    }
    #[inline]
    fn notify_all(&self) {
        self.c.notify_all();
    }
}

/// Raw `pthread_mutex_t` (normal) + `pthread_cond_t` (CLOCK_MONOTONIC).
pub struct RawMonitor {
    m: PMutex,
    c: PCond,
    v: UnsafeCell<u64>,
}

// SAFETY: `v` is only touched with `m` held.
unsafe impl Sync for RawMonitor {}

impl Monitor for RawMonitor {
    fn new(v: u64) -> Self {
        RawMonitor {
            m: PMutex::normal(),
            c: PCond::new(),
            v: UnsafeCell::new(v),
        }
    }
    #[inline]
    fn update(&self, f: impl FnOnce(&mut u64)) {
        self.m.lock();
        // SAFETY: this thread holds `m`, which guards `v`.
        f(unsafe { &mut *self.v.get() });
        // SAFETY: locked just above by this thread.
        unsafe { self.m.unlock() };
    }
    #[inline]
    fn wait_then(&self, mut ready: impl FnMut(&u64) -> bool, f: impl FnOnce(&mut u64)) {
        self.m.lock();
        // SAFETY: this thread holds `m` (re-acquired by every `wait`), which guards `v`; `c`
        // is only ever waited on with `m`.
        unsafe {
            while !ready(&*self.v.get()) {
                self.c.wait(&self.m);
            }
            f(&mut *self.v.get());
            self.m.unlock();
        }
    }
    #[inline]
    fn notify_one(&self) {
        self.c.signal();
    }
    #[inline]
    fn notify_all(&self) {
        self.c.broadcast();
    }
}

// ---------------------------------------------------------------------------------------------
// Semaphore
// ---------------------------------------------------------------------------------------------

/// A counting semaphore: `post` adds one, `wait` takes one (blocking at zero).
pub trait Semaphore: Send + Sync {
    fn new(value: u32) -> Self;
    fn post(&self);
    fn wait(&self);
}

impl Semaphore for pthread_sync::Sem {
    fn new(value: u32) -> Self {
        pthread_sync::Sem::new(value).unwrap()
    }
    #[inline]
    fn post(&self) {
        pthread_sync::Sem::post(self).unwrap();
    }
    #[inline]
    fn wait(&self) {
        pthread_sync::Sem::wait(self);
    }
}

impl Semaphore for PSem {
    fn new(value: u32) -> Self {
        PSem::new(value)
    }
    #[inline]
    fn post(&self) {
        PSem::post(self);
    }
    #[inline]
    fn wait(&self) {
        PSem::wait(self);
    }
}

/// The textbook semaphore from a mutex and a condition variable (what a std user writes, as
/// std has no semaphore).
pub struct MonitorSem<M>(M);

impl<M: Monitor> Semaphore for MonitorSem<M> {
    fn new(value: u32) -> Self {
        MonitorSem(M::new(u64::from(value)))
    }
    #[inline]
    fn post(&self) {
        self.0.update(|v| *v += 1);
        self.0.notify_one();
    }
    #[inline]
    fn wait(&self) {
        self.0.wait_then(|v| *v > 0, |v| *v -= 1);
    }
}

// ---------------------------------------------------------------------------------------------
// Statistics (the interleaved drivers)
// ---------------------------------------------------------------------------------------------

/// The `q` quantile (0..=1) of `xs` (nearest rank on the sorted values).
pub fn quantile(xs: &[f64], q: f64) -> f64 {
    let mut s = xs.to_vec();
    s.sort_by(f64::total_cmp);
    let i = ((s.len() - 1) as f64 * q).round() as usize;
    s[i]
}

/// The median of `xs`.
pub fn median(xs: &[f64]) -> f64 {
    quantile(xs, 0.5)
}

// ---------------------------------------------------------------------------------------------
// The crate's futex condvar protocol, in-process (a contender for `Cond`)
// ---------------------------------------------------------------------------------------------

/// `futex(FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG)`: sleeps while `word` holds `expected`
/// (returns at once if it does not; may return spuriously). No timeout.
#[inline]
pub fn futex_wait_private(word: &std::sync::atomic::AtomicU32, expected: u32) {
    // SAFETY: `word` is a live, aligned u32 for the whole call; the timeout (4th argument) is
    // null, the 5th is ignored by FUTEX_WAIT_BITSET, the 6th is the bitset.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT_BITSET | libc::FUTEX_PRIVATE_FLAG,
            expected,
            std::ptr::null::<libc::timespec>(),
            std::ptr::null::<u32>(),
            libc::FUTEX_BITSET_MATCH_ANY,
        )
    };
}

/// `futex(FUTEX_WAKE | FUTEX_PRIVATE_FLAG)`: wakes at most `n` sleepers on `word`.
#[inline]
pub fn futex_wake_private(word: &std::sync::atomic::AtomicU32, n: i32) {
    // SAFETY: `word` is a live, aligned u32; FUTEX_WAKE reads no other pointer.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            n,
        )
    };
}

/// The protocol of the crate's `SharedCond` (src/cond.rs), in-process: the same two words and
/// steps, with `FUTEX_PRIVATE_FLAG`. What `Cond` would be if it left `pthread_cond_t` (as
/// std's `Condvar` did):
///
/// - wait (mutex held): `waiters += 1`, read `seq`, unlock, sleep on `seq` while it holds the
///   value read, `waiters -= 1`, lock;
/// - notify: if `waiters == 0`, nothing (no system call); else `seq += 1` and wake 1 or all.
///
/// It waits with the crate's [`Locker`](pthread_sync::Locker) (the mutex `Cond` uses): the
/// guard is dropped (unlock) and the lock taken again with `lock()`, which is what the crate's
/// own wait would do with its raw lock.
#[derive(Default)]
pub struct FutexCond {
    seq: std::sync::atomic::AtomicU32,
    waiters: std::sync::atomic::AtomicU32,
}

impl FutexCond {
    pub const fn new() -> FutexCond {
        FutexCond {
            seq: std::sync::atomic::AtomicU32::new(0),
            waiters: std::sync::atomic::AtomicU32::new(0),
        }
    }

    /// Releases `guard`'s lock (`lock`), sleeps until notified (or spuriously), relocks.
    #[inline]
    pub fn wait<'a, T>(
        &self,
        lock: &'a pthread_sync::Locker<T>,
        guard: pthread_sync::LockerGuard<'a, T>,
    ) -> pthread_sync::LockerGuard<'a, T> {
        self.waiters.fetch_add(1, Ordering::SeqCst);
        let seen = self.seq.load(Ordering::SeqCst);
        drop(guard);
        futex_wait_private(&self.seq, seen);
        self.waiters.fetch_sub(1, Ordering::SeqCst);
        lock.lock().unwrap()
    }

    #[inline]
    pub fn notify_one(&self) {
        self.notify(1);
    }

    #[inline]
    pub fn notify_all(&self) {
        self.notify(i32::MAX);
    }

    #[inline]
    fn notify(&self, n: i32) {
        if self.waiters.load(Ordering::SeqCst) == 0 {
            return;
        }
        self.seq.fetch_add(1, Ordering::SeqCst);
        futex_wake_private(&self.seq, n);
    }
}

/// This crate's `Locker<u64>` + the in-process futex protocol ([`FutexCond`]).
pub struct FutexMonitor {
    m: pthread_sync::Locker<u64>,
    c: FutexCond,
}

impl Monitor for FutexMonitor {
    fn new(v: u64) -> Self {
        FutexMonitor {
            m: pthread_sync::Locker::new(v),
            c: FutexCond::new(),
        }
    }
    #[inline]
    fn update(&self, f: impl FnOnce(&mut u64)) {
        f(&mut self.m.lock().unwrap());
    }
    #[inline]
    fn wait_then(&self, mut ready: impl FnMut(&u64) -> bool, f: impl FnOnce(&mut u64)) {
        let mut g = self.m.lock().unwrap();
        while !ready(&g) {
            g = self.c.wait(&self.m, g);
        }
        f(&mut g);
    }
    #[inline]
    fn notify_one(&self) {
        self.c.notify_one();
    }
    #[inline]
    fn notify_all(&self) {
        self.c.notify_all();
    }
}

// ---------------------------------------------------------------------------------------------
// Interleaved driver for scenario benches (µs-scale: ping-pong, notify_all)
// ---------------------------------------------------------------------------------------------

/// What the machine did so far: this process's CPU time (with its reaped children's) and all
/// CPUs' busy and total time, in seconds of CPU.
#[derive(Clone, Copy)]
pub struct Usage {
    own: f64,
    /// `None` when `/proc/stat` cannot be read.
    cpus: Option<(f64, f64)>,
}

impl Usage {
    pub fn now() -> Usage {
        Usage {
            own: own_cpu(),
            cpus: cpu_seconds(),
        }
    }

    /// The share (0..=1) of all CPUs' time between `before` and `self` that went to anything
    /// but this process and its reaped children: other processes, the kernel's own work,
    /// steal.
    pub fn others_since(&self, before: &Usage) -> Option<f64> {
        let (b1, t1) = self.cpus?;
        let (b0, t0) = before.cpus?;
        let total = t1 - t0;
        (total > 0.0).then(|| ((b1 - b0) - (self.own - before.own)).max(0.0) / total)
    }
}

/// (busy, total) CPU seconds of all CPUs so far, from the first line of `/proc/stat`.
fn cpu_seconds() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user).
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4)?;
    // SAFETY: sysconf has no memory arguments.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some(((total - idle) as f64 / hz, total as f64 / hz))
}

/// CPU time used so far by this process (all its threads) and its reaped children, seconds.
fn own_cpu() -> f64 {
    let get = |who| {
        // SAFETY: `usage` is valid for writes; RUSAGE_SELF and RUSAGE_CHILDREN always succeed.
        let usage = unsafe {
            let mut usage = MaybeUninit::<libc::rusage>::zeroed();
            libc::getrusage(who, usage.as_mut_ptr());
            usage.assume_init()
        };
        let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        secs(usage.ru_utime) + secs(usage.ru_stime)
    };
    get(libc::RUSAGE_SELF) + get(libc::RUSAGE_CHILDREN)
}

/// A contender of an interleaved group: `run(n)` performs `n` operations (round trips,
/// rounds) and returns the time they took (set-up such as spawning or forking not timed).
pub struct Scenario<'a> {
    pub name: &'static str,
    pub run: Box<dyn Fn(u64) -> Duration + 'a>,
}

impl<'a> Scenario<'a> {
    pub fn new(name: &'static str, run: impl Fn(u64) -> Duration + 'a) -> Scenario<'a> {
        Scenario {
            name,
            run: Box::new(run),
        }
    }
}

/// The options of `--interleaved` mode: `--interleaved [--rounds R] [--scale F] [FILTER]`.
pub struct Interleaved {
    pub rounds: usize,
    /// Multiplies every group's batch size.
    pub scale: f64,
    /// Runs only the groups whose name contains it.
    pub filter: Option<String>,
    /// Ratios to this contender instead of the group's anchor, in groups that have it.
    pub anchor: Option<String>,
}

impl Interleaved {
    /// `Some` when the command line asks for the interleaved mode (`--interleaved`).
    pub fn from_args() -> Option<Interleaved> {
        const USAGE: &str =
            "usage: --interleaved [--rounds R] [--scale F] [--anchor CONTENDER] [FILTER]";
        let args: Vec<String> = std::env::args().skip(1).collect();
        if !args.iter().any(|a| a == "--interleaved") {
            return None;
        }
        let mut opts = Interleaved {
            rounds: 30,
            scale: 1.0,
            filter: None,
            anchor: None,
        };
        let mut it = args.into_iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                // `cargo bench` passes `--bench` to every bench binary.
                "--bench" | "--interleaved" => {}
                "--rounds" => {
                    opts.rounds = it.next().and_then(|r| r.parse().ok()).expect(USAGE);
                    assert!(opts.rounds > 0, "{USAGE}");
                }
                "--scale" => {
                    opts.scale = it.next().and_then(|r| r.parse().ok()).expect(USAGE);
                    assert!(opts.scale > 0.0, "{USAGE}");
                }
                "--anchor" => opts.anchor = Some(it.next().expect(USAGE)),
                f if !f.starts_with('-') => opts.filter = Some(f.to_string()),
                other => panic!("unknown argument {other:?}; {USAGE}"),
            }
        }
        Some(opts)
    }

    /// Runs group `name` if selected: `rounds` rounds (after one untimed warm-up round); each
    /// round runs `batch` operations of every contender in turn, starting one contender later
    /// than the round before (rotating order). Prints per contender the median µs per `unit`
    /// over the rounds (25th-75th percentiles) and its ratio to `anchor`: the median of the
    /// per-round ratios (each taken within one round) and the ratio of the medians; and how
    /// much of the CPUs' time went to anything else during the group.
    pub fn group(
        &self,
        name: &str,
        unit: &str,
        batch: u64,
        anchor: &str,
        contenders: &[Scenario<'_>],
    ) {
        if self
            .filter
            .as_ref()
            .is_some_and(|f| !name.contains(f.as_str()))
        {
            return;
        }
        let batch = ((batch as f64 * self.scale).round() as u64).max(1);
        let k = contenders.len();
        let anchor = match &self.anchor {
            Some(other) if contenders.iter().any(|c| c.name == other.as_str()) => other.as_str(),
            _ => anchor,
        };
        let a = contenders
            .iter()
            .position(|c| c.name == anchor)
            .expect("the anchor is a contender");
        let mut us: Vec<Vec<f64>> = vec![Vec::with_capacity(self.rounds); k];
        let mut others = Vec::with_capacity(self.rounds);
        let started = Instant::now();
        for round in 0..=self.rounds {
            let before = Usage::now();
            for j in 0..k {
                let i = (round + j) % k;
                let t = (contenders[i].run)(batch);
                if round > 0 {
                    us[i].push(t.as_secs_f64() * 1e6 / batch as f64);
                }
            }
            if round > 0 {
                if let Some(o) = Usage::now().others_since(&before) {
                    others.push(o * 100.0);
                }
            }
        }
        println!(
            "\n{name}: {} rounds (+1 warm-up) of {batch} per contender, rotating order, {:.1} s",
            self.rounds,
            started.elapsed().as_secs_f64()
        );
        if others.is_empty() {
            println!("  CPU use of others unknown (/proc/stat unreadable)");
        } else {
            println!(
                "  CPUs' time to anything else (other processes, kernel, steal): per round \
                 median {:.1}%, p75 {:.1}%, max {:.1}%",
                median(&others),
                quantile(&others, 0.75),
                quantile(&others, 1.0)
            );
        }
        println!(
            "  {:<28} {:>26}  {:>31}  {:>7}",
            "contender",
            format!("µs/{unit}: median [p25-p75]"),
            format!("/ {anchor}: median [p25-p75]"),
            "med/med"
        );
        for (i, c) in contenders.iter().enumerate() {
            let ratios: Vec<f64> = us[i].iter().zip(&us[a]).map(|(x, r)| x / r).collect();
            let time = format!(
                "{:.2} [{:.2}-{:.2}]",
                median(&us[i]),
                quantile(&us[i], 0.25),
                quantile(&us[i], 0.75)
            );
            let ratio = format!(
                "{:.3} [{:.3}-{:.3}]",
                median(&ratios),
                quantile(&ratios, 0.25),
                quantile(&ratios, 0.75)
            );
            println!(
                "  {:<28} {time:>26}  {ratio:>31}  {:>7.3}",
                c.name,
                median(&us[i]) / median(&us[a])
            );
        }
    }
}
