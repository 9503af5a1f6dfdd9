//! The real backend: glibc's `pthread_mutex_t` and `sem_t`, stored inline,
//! and futex words.
//!
//! In-process objects come from `const fn`s (glibc's static initialisers); process-shared and
//! robust ones are initialised in place with `init`. See the module docs of `sys` for why an
//! unused in-process object may move.

use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::sync::atomic::Ordering::{self, Relaxed};
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64};
use std::time::Duration;

use super::{
    InPlace, MutexAttr, MutexType, Protocol, Released, Scope, SemAttr, Take, SEM_VALUE_MAX,
    SEM_VALUE_TOO_LARGE,
};
use crate::error::Error;

mod robust;

// glibc 2.30 and later; the `libc` crate does not declare these.
extern "C" {
    fn pthread_mutex_clocklock(
        mutex: *mut libc::pthread_mutex_t,
        clock: libc::clockid_t,
        abstime: *const libc::timespec,
    ) -> libc::c_int;
    fn sem_clockwait(
        sem: *mut libc::sem_t,
        clock: libc::clockid_t,
        abstime: *const libc::timespec,
    ) -> libc::c_int;
    fn pthread_mutex_getprioceiling(
        mutex: *const libc::pthread_mutex_t,
        prioceiling: *mut libc::c_int,
    ) -> libc::c_int;
    fn pthread_mutex_setprioceiling(
        mutex: *mut libc::pthread_mutex_t,
        prioceiling: libc::c_int,
        old_ceiling: *mut libc::c_int,
    ) -> libc::c_int;
    fn pthread_mutexattr_setprioceiling(
        attr: *mut libc::pthread_mutexattr_t,
        prioceiling: libc::c_int,
    ) -> libc::c_int;
}

/// Turns a pthread return value (0 or an errno) into a `Result`.
#[inline(always)]
fn check(ret: libc::c_int) -> Result<(), Error> {
    if ret == 0 {
        Ok(())
    } else {
        Err(Error::from_errno(ret))
    }
}

/// Like [`check`], for mutex calls, where `EAGAIN` means the recursion count is exhausted.
#[inline(always)]
fn check_mutex(ret: libc::c_int) -> Result<(), Error> {
    match ret {
        0 => Ok(()),
        libc::EAGAIN => Err(Error::Overflow),
        e => Err(Error::from_errno(e)),
    }
}

/// The errno of the last failed call of the calling thread (for `sem_*`, which use errno).
#[cold]
fn last_errno() -> libc::c_int {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EINVAL)
}

/// An absolute point in time on `CLOCK_MONOTONIC`, the only clock the crate waits on.
#[derive(Clone, Copy, Debug)]
pub struct Deadline(libc::timespec);

impl Deadline {
    /// `dur` from now. Durations too large for a `timespec` saturate (a wait that, in practice,
    /// never times out), instead of wrapping into the past.
    #[inline]
    pub fn after(dur: Duration) -> Deadline {
        let mut now = MaybeUninit::<libc::timespec>::uninit();
        // SAFETY: `now` is valid for writes; CLOCK_MONOTONIC is always supported on Linux,
        // so the call cannot fail and fills `now` in.
        let now = unsafe {
            libc::clock_gettime(libc::CLOCK_MONOTONIC, now.as_mut_ptr());
            now.assume_init()
        };
        // Whole seconds, saturating at time_t's maximum (whatever its width).
        let secs = libc::time_t::try_from(dur.as_secs()).unwrap_or(libc::time_t::MAX);
        let mut tv_sec = now.tv_sec.saturating_add(secs);
        // Both below 1e9, so the sum fits any c_long.
        let mut tv_nsec = now.tv_nsec + dur.subsec_nanos() as libc::c_long;
        if tv_nsec >= 1_000_000_000 {
            tv_nsec -= 1_000_000_000;
            tv_sec = tv_sec.saturating_add(1);
        }
        Deadline(libc::timespec { tv_sec, tv_nsec })
    }

    /// Now on `CLOCK_MONOTONIC`, in nanoseconds.
    #[inline]
    pub fn now_ns() -> u64 {
        let mut now = MaybeUninit::<libc::timespec>::uninit();
        // SAFETY: as in `after`.
        let now = unsafe {
            libc::clock_gettime(libc::CLOCK_MONOTONIC, now.as_mut_ptr());
            now.assume_init()
        };
        (now.tv_sec as u64)
            .wrapping_mul(1_000_000_000)
            .wrapping_add(now.tv_nsec as u64)
    }

    /// The earlier of two deadlines.
    #[inline]
    pub fn min(self, other: Deadline) -> Deadline {
        if (other.0.tv_sec, other.0.tv_nsec) < (self.0.tv_sec, self.0.tv_nsec) {
            other
        } else {
            self
        }
    }

    /// Whether the deadline has passed (`CLOCK_MONOTONIC` now, at or after it).
    #[inline]
    pub fn passed(&self) -> bool {
        let now = Deadline::after(Duration::ZERO);
        (now.0.tv_sec, now.0.tv_nsec) >= (self.0.tv_sec, self.0.tv_nsec)
    }

    /// Whether two deadlines are the same point (a wait bounded by the earlier of two can tell
    /// which one ended it, without reading the clock).
    #[inline]
    pub fn same(&self, other: &Deadline) -> bool {
        (self.0.tv_sec, self.0.tv_nsec) == (other.0.tv_sec, other.0.tv_nsec)
    }
}

/// How often the contended path of [`RawMutex::lock`] looks at the lock word before it sleeps,
/// and how many `pause`s it waits before each look (see `lock_contended` for why these).
const SPIN_ROUNDS: u32 = 16;
const SPIN_PAUSES: u32 = 64;

/// The longest a waiter on a robust mutex sleeps before it tries again (see
/// `RawMutex::lock_robust`): the bound on how long a lost wake-up can strand it.
const ROBUST_RECHECK: Duration = Duration::from_millis(20);

/// The longest a waiter on a process-shared object of the crate's own or a `sem_t` sleeps
/// before it looks again (`SharedCond`, `SharedSem`): the bound on how long a wake-up spent on
/// a process that was killed before it ran, or never made by a poster or notifier killed
/// between its change and its wake, can strand a live waiter. The same as the robust mutex's.
/// A constant here (the model's depends on whether its run loses wake-ups).
#[inline(always)]
pub fn recheck() -> Option<Duration> {
    Some(ROBUST_RECHECK)
}

/// How often a checked wait for a held mutex looks again whether its owner is gone.
const OWNER_CHECK_PERIOD: Duration = Duration::from_millis(100);

/// A `pthread_mutexattr_t` destroyed when dropped. It borrows its storage, so it never moves.
/// The `SCHED_FIFO` priority range (`sched_get_priority_min`, `sched_get_priority_max`): the
/// priority ceilings glibc accepts.
pub fn fifo_priority_range() -> Result<(i32, i32), Error> {
    // SAFETY: plain system calls without memory arguments.
    let (min, max) = unsafe {
        (
            libc::sched_get_priority_min(libc::SCHED_FIFO),
            libc::sched_get_priority_max(libc::SCHED_FIFO),
        )
    };
    if min == -1 || max == -1 {
        return Err(Error::from_errno(last_errno()));
    }
    Ok((min, max))
}

/// Whether glibc can raise the calling thread to a priority ceiling: its scheduling policy,
/// as glibc records it for the thread (`pthread_getschedparam` of `pthread_self`, the very
/// value glibc's `__pthread_tpp_change_priority` passes to `sched_setscheduler`), is
/// `SCHED_FIFO` or `SCHED_RR`. Any other policy is `Err(NotRealTime)`: glibc would ask
/// `sched_setscheduler` for that policy at a real-time priority, which fails with `EINVAL`
/// after its per-thread count of held ceilings was raised (so the next lock passes unboosted).
pub fn ceiling_ready() -> Result<(), Error> {
    let mut policy = 0;
    // SAFETY: `sched_param` is a plain struct, valid zeroed.
    let mut param: libc::sched_param = unsafe { std::mem::zeroed() };
    // SAFETY: `pthread_self()` is the live calling thread; both out-pointers are writable.
    check(unsafe { libc::pthread_getschedparam(libc::pthread_self(), &mut policy, &mut param) })?;
    match policy & !libc::SCHED_RESET_ON_FORK {
        libc::SCHED_FIFO | libc::SCHED_RR => Ok(()),
        _ => Err(Error::NotRealTime),
    }
}

struct MutexAttrObj<'a>(&'a mut MaybeUninit<libc::pthread_mutexattr_t>);

impl<'a> MutexAttrObj<'a> {
    /// An attribute object holding every attribute of `attr`.
    fn new(
        storage: &'a mut MaybeUninit<libc::pthread_mutexattr_t>,
        attr: &MutexAttr,
    ) -> Result<Self, Error> {
        // SAFETY: `storage` is valid for writes; on success it holds an initialised attribute
        // object, which `Drop` destroys.
        check(unsafe { libc::pthread_mutexattr_init(storage.as_mut_ptr()) })?;
        let mut obj = MutexAttrObj(storage);
        let ty = match attr.ty {
            MutexType::Normal => libc::PTHREAD_MUTEX_NORMAL,
            MutexType::ErrorCheck => libc::PTHREAD_MUTEX_ERRORCHECK,
            MutexType::Recursive => libc::PTHREAD_MUTEX_RECURSIVE,
        };
        let pshared = if attr.pshared {
            libc::PTHREAD_PROCESS_SHARED
        } else {
            libc::PTHREAD_PROCESS_PRIVATE
        };
        let robust = if attr.robust {
            libc::PTHREAD_MUTEX_ROBUST
        } else {
            libc::PTHREAD_MUTEX_STALLED
        };
        let protocol = match attr.protocol {
            Protocol::None => libc::PTHREAD_PRIO_NONE,
            Protocol::Inherit => libc::PTHREAD_PRIO_INHERIT,
            Protocol::Protect { .. } => libc::PTHREAD_PRIO_PROTECT,
        };
        let a = obj.as_ptr();
        // SAFETY: `a` is an initialised attribute object; each value is a valid constant.
        unsafe {
            check(libc::pthread_mutexattr_settype(a, ty))?;
            check(libc::pthread_mutexattr_setpshared(a, pshared))?;
            check(libc::pthread_mutexattr_setrobust(a, robust))?;
            check(libc::pthread_mutexattr_setprotocol(a, protocol))?;
            if let Protocol::Protect { ceiling } = attr.protocol {
                check(pthread_mutexattr_setprioceiling(a, ceiling))?;
            }
        }
        Ok(obj)
    }

    fn as_ptr(&mut self) -> *mut libc::pthread_mutexattr_t {
        self.0.as_mut_ptr()
    }
}

impl Drop for MutexAttrObj<'_> {
    fn drop(&mut self) {
        // SAFETY: the attribute object was initialised in `new` and is destroyed once, here.
        unsafe { libc::pthread_mutexattr_destroy(self.as_ptr()) };
    }
}

// `looks_held` and `owner_gone` read the first and third `int` of a `pthread_mutex_t`.
const _: () =
    assert!(std::mem::align_of::<libc::pthread_mutex_t>() >= std::mem::align_of::<AtomicI32>());

/// Index, in `int`s, of glibc's `__owner` (the owner's kernel thread id) in a
/// `pthread_mutex_t`: `struct __pthread_mutex_s { int __lock; unsigned __count; int __owner;
/// unsigned __nusers; int __kind; ...}` on every 64-bit ABI glibc supports. Checked by
/// `owner_word_names_the_owner` below.
const OWNER_WORD: usize = 2;
/// Index, in `int`s, of `__kind` (the type and flags), as above.
const KIND_WORD: usize = 4;
/// The size of a `pthread_mutex_t` in `int`s.
const MUTEX_WORDS: usize = size_of::<libc::pthread_mutex_t>() / size_of::<libc::c_int>();
/// glibc's `PTHREAD_MUTEX_NO_ELISION_NP`: recorded in `__kind` by `settype(NORMAL)`.
const PTHREAD_MUTEX_NO_ELISION_NP: libc::c_int = 512;
/// glibc's `PTHREAD_MUTEX_PRIO_INHERIT_NP`: the `__kind` bit of a `PTHREAD_PRIO_INHERIT` mutex.
const PTHREAD_MUTEX_PRIO_INHERIT_NP: libc::c_int = 32;
/// glibc's `PTHREAD_MUTEX_PRIO_PROTECT_NP`: the `__kind` bit of a `PTHREAD_PRIO_PROTECT` mutex.
const PTHREAD_MUTEX_PRIO_PROTECT_NP: libc::c_int = 64;
/// glibc's `PTHREAD_MUTEX_PRIO_CEILING_SHIFT`: a `PTHREAD_PRIO_PROTECT` mutex keeps its ceiling
/// in the lock word, above the lock state (`__lock = ceiling << 19 | 0, 1 or 2`).
const PTHREAD_MUTEX_PRIO_CEILING_SHIFT: u32 = 19;

/// A `pthread_mutex_t`, stored inline. In-process ones come from [`RawMutex::new`]; shared
/// ones are initialised in place by [`RawMutex::init`] and never move.
#[repr(transparent)]
pub struct RawMutex {
    inner: UnsafeCell<libc::pthread_mutex_t>,
}

// A pthread object keeps no invariant that unwinding could break (std's Mutex and Condvar are
// unwind-safe too); without these, `UnsafeCell` would make every wrapper `!RefUnwindSafe`.
impl UnwindSafe for RawMutex {}
impl RefUnwindSafe for RawMutex {}

// SAFETY: a pthread mutex is made to be used from many threads at once; all access goes
// through the pthread calls, which synchronise internally.
unsafe impl Send for RawMutex {}
// SAFETY: as above.
unsafe impl Sync for RawMutex {}

impl RawMutex {
    /// A process-private, non-robust mutex of type `ty`, built without any call or
    /// allocation: the bytes `pthread_mutex_init` writes for that type (checked against it by
    /// `static_initialisers_equal_pthread_mutex_init` below). That is glibc's static
    /// initialiser form (`__PTHREAD_MUTEX_INITIALIZER(kind)`, all zero but `__kind`), with the
    /// kind `pthread_mutexattr_settype` records: for `NORMAL` it adds
    /// `PTHREAD_MUTEX_NO_ELISION_NP`, which `PTHREAD_MUTEX_INITIALIZER` (the default type,
    /// whose relock is undefined) lacks, so the type stays explicitly `NORMAL`.
    #[inline]
    pub const fn new(ty: MutexType) -> RawMutex {
        RawMutex::with_protocol(ty, Protocol::None)
    }

    /// [`RawMutex::new`] with a priority protocol: the bytes `pthread_mutex_init` writes for a
    /// private, non-robust mutex of type `ty` and `protocol` (checked against it by
    /// `protocol_initialisers_equal_pthread_mutex_init` below). glibc 2.36's
    /// `pthread_mutex_init` zeroes the object, ORs `PTHREAD_MUTEX_PRIO_INHERIT_NP` (32) or
    /// `PTHREAD_MUTEX_PRIO_PROTECT_NP` (64) into `__kind`, and for the ceiling protocol stores
    /// `ceiling << PTHREAD_MUTEX_PRIO_CEILING_SHIFT` in `__lock`; nothing else, no address,
    /// no call (the ceiling is checked by the caller: it must be in the `SCHED_FIFO` range).
    #[inline]
    pub const fn with_protocol(ty: MutexType, protocol: Protocol) -> RawMutex {
        let mut kind = match ty {
            MutexType::Normal => libc::PTHREAD_MUTEX_NORMAL | PTHREAD_MUTEX_NO_ELISION_NP,
            MutexType::ErrorCheck => libc::PTHREAD_MUTEX_ERRORCHECK,
            MutexType::Recursive => libc::PTHREAD_MUTEX_RECURSIVE,
        };
        let mut words = [0 as libc::c_int; MUTEX_WORDS];
        match protocol {
            Protocol::None => {}
            Protocol::Inherit => kind |= PTHREAD_MUTEX_PRIO_INHERIT_NP,
            Protocol::Protect { ceiling } => {
                kind |= PTHREAD_MUTEX_PRIO_PROTECT_NP;
                words[0] = ceiling << PTHREAD_MUTEX_PRIO_CEILING_SHIFT;
            }
        }
        words[KIND_WORD] = kind;
        // SAFETY: `transmute` checks the sizes are equal; a `pthread_mutex_t` is plain bytes
        // with no invalid bit patterns, and these are the bytes of glibc's initialiser.
        let init = unsafe {
            std::mem::transmute::<[libc::c_int; MUTEX_WORDS], libc::pthread_mutex_t>(words)
        };
        RawMutex {
            inner: UnsafeCell::new(init),
        }
    }

    #[inline(always)]
    fn ptr(&self) -> *mut libc::pthread_mutex_t {
        self.inner.get()
    }

    /// The `int` at index `i` of the mutex, read atomically (a racy hint, see `looks_held`).
    #[inline(always)]
    fn word(&self, i: usize) -> i32 {
        // glibc changes the lock word with atomic operations (plain stores only while the
        // process has a single thread, ordered before other threads exist by thread creation),
        // but `__owner` with plain stores, made by the holder while other threads may read it
        // here: a race across the FFI boundary that the language does not bless. It is benign
        // on the targets glibc supports (an aligned 4-byte access cannot tear), and the value
        // is only a hint: glibc's own calls decide, and `owner_gone` reads it twice.
        // SAFETY: `i` is 0 or OWNER_WORD, inside the 40-byte object, alive as long as `self`
        // and aligned for i32 (compile-time check above); the accesses race only as above.
        let word = unsafe { AtomicI32::from_ptr(self.ptr().cast::<i32>().add(i)) };
        word.load(Relaxed)
    }

    /// A racy hint: whether the mutex's lock word is nonzero (held) right now. glibc's
    /// `pthread_mutex_t` begins with that word (`int __lock` of `struct __pthread_mutex_s`, on
    /// every ABI glibc supports). The hint only decides whether to try for the mutex now or to
    /// wait first (see [`RawMutex::lock`] and [`RawMutex::lock_checked`]); every acquisition
    /// still goes through glibc, so a stale answer costs speed, never correctness.
    #[inline(always)]
    fn looks_held(&self) -> bool {
        self.word(0) != 0
    }

    /// Whether the mutex is held by a thread that is not part of this process any more: a
    /// thread that exited holding it, or, in a `fork`ed child, a thread of the parent (glibc's
    /// `__owner` still names it). Such a private mutex can never be released, so waiting for
    /// it would hang forever. Called only off the fast path, when the mutex looks held.
    ///
    /// The owner is read twice around the check: a thread id that names no thread of this
    /// process and is still the owner after that check is the owner for good (a live holder
    /// clears `__owner` before releasing, and a released mutex's next owner is a live thread).
    #[cold]
    #[inline(never)]
    fn owner_gone(&self) -> bool {
        let owner = self.word(OWNER_WORD);
        if owner <= 0 {
            return false;
        }
        // SAFETY: plain system calls without memory arguments. `tgkill` with signal 0 sends
        // nothing: it only checks that thread `owner` exists in this thread group.
        let missing = unsafe {
            owner != libc::gettid()
                && libc::tgkill(libc::getpid(), owner, 0) == -1
                && last_errno() == libc::ESRCH
        };
        missing && self.word(OWNER_WORD) == owner && self.looks_held()
    }

    /// Blocks until the mutex is acquired.
    ///
    /// A mutex that looks free (see [`RawMutex::looks_held`]) is taken with one
    /// `pthread_mutex_trylock`, which costs what `pthread_mutex_lock` does uncontended on this
    /// glibc (`benches/calls.rs`). One that looks held, or that another thread took first, goes
    /// to [`RawMutex::lock_contended`]: a bounded read-only spin, then `pthread_mutex_lock`.
    /// For an errorcheck or recursive mutex use [`RawMutex::lock_checked`].
    ///
    /// A normal mutex relocked by its owner blocks forever.
    #[inline(always)]
    pub fn lock(&self) -> Result<(), Error> {
        // SAFETY (both calls): `self` is an initialised mutex at a stable address.
        if !self.looks_held() && unsafe { libc::pthread_mutex_trylock(self.ptr()) } == 0 {
            return Ok(());
        }
        self.lock_contended()
    }

    /// The contended path of [`RawMutex::lock`]: up to `SPIN_ROUNDS` looks at the lock word,
    /// each after `SPIN_PAUSES` `pause`s, with one `pthread_mutex_trylock` whenever it reads
    /// free; then `pthread_mutex_lock`, which sleeps in the kernel until the mutex is released.
    /// On this project's machines a `pause` takes about 21 ns: a look every ~1.4 µs, ~22 µs in
    /// all (the time differs between CPU models, as for every `pause` count).
    ///
    /// Why this shape, measured with `benches/contended_calls.rs` (interleaved rounds; ratios
    /// to `parking_lot::Mutex` within a round; the rounds where the machine was otherwise idle
    /// and its 2 vCPUs were close, i.e. a cache line crossed between them in ~45 ns, unless
    /// said otherwise):
    /// - Between looks the waiter only waits, so the holder keeps the cache line, which for a
    ///   `Lock` also holds the guarded data.
    /// - The first look comes late, not after 1, 2, 4... `pause`s as in an exponential
    ///   back-off: a holder that relocks at once (a short critical section) then keeps the
    ///   mutex for a run of acquisitions instead of losing it, and the cache line, to an early
    ///   look every few increments. The back-off that started at 1 `pause` (16 rounds up to 64,
    ///   then `parking_lot_core::SpinWait`'s yields) took 1.35-1.9x parking_lot's time per
    ///   increment with the increment alone as the critical section; this takes 0.6-0.85x
    ///   (0.94-1.16x with the vCPUs far apart, a crossing in ~350-400 ns).
    /// - The spin is long before sleeping: a waiter that sleeps marks the lock word (2), a
    ///   release that finds it marked costs the holder a `futex` wake, and a woken waiter that
    ///   finds the mutex taken again marks it and sleeps again.
    /// - It spins even when the word says a thread sleeps (2): going to sleep at once then
    ///   took 1.3-1.7x parking_lot's time with a ~100 ns critical section, where this takes
    ///   0.88-1.0x (with the vCPUs far apart it did as well as this: 0.73-0.96x, this
    ///   0.68-0.91x).
    /// - No `sched_yield` between looks: looks a yield (~340 ns) apart did as well with the
    ///   vCPUs close, but took 1.45-1.5x parking_lot's time with the ~100 ns critical section,
    ///   2 threads, with them far apart.
    #[cold]
    fn lock_contended(&self) -> Result<(), Error> {
        for _ in 0..SPIN_ROUNDS {
            for _ in 0..SPIN_PAUSES {
                std::hint::spin_loop();
            }
            // SAFETY: `self` is an initialised mutex at a stable address.
            if !self.looks_held() && unsafe { libc::pthread_mutex_trylock(self.ptr()) } == 0 {
                return Ok(());
            }
        }
        // SAFETY: as above.
        check_mutex(unsafe { libc::pthread_mutex_lock(self.ptr()) })
    }

    /// `pthread_mutex_lock` with no spin, for the kinds that know their owner (errorcheck,
    /// recursive): held by the caller, an errorcheck mutex reports `Deadlock` at once. A mutex
    /// held by a thread that is gone from this process (see [`RawMutex::owner_gone`]) is
    /// `Err(OwnerGone)` instead of a wait that would never end: a mutex that looks held is
    /// waited for in steps of [`OWNER_CHECK_PERIOD`], with the owner checked before each (a
    /// thread that has just exited can still be seen by the kernel for a moment).
    #[inline(always)]
    pub fn lock_checked(&self) -> Result<(), Error> {
        // A trylock, not a lock, when it looks free: between the look and the call another
        // thread may take it, and then exit holding it; a blocking call would never return.
        // SAFETY: `self` is an initialised mutex at a stable address.
        match unsafe { libc::pthread_mutex_trylock(self.ptr()) } {
            0 => Ok(()),
            // Held: by this thread (errorcheck: `EDEADLK`, at once) or another one.
            libc::EBUSY => self.lock_checked_until(None),
            e => check_mutex(e),
        }
    }

    /// Waits for a held mutex until `deadline` (`None`: no limit), checking its owner every
    /// [`OWNER_CHECK_PERIOD`].
    #[cold]
    fn lock_checked_until(&self, deadline: Option<Deadline>) -> Result<(), Error> {
        loop {
            if self.owner_gone() {
                return Err(Error::OwnerGone);
            }
            let step = Deadline::after(OWNER_CHECK_PERIOD);
            let step = deadline.map_or(step, |d| d.min(step));
            match self.lock_until(&step) {
                Err(Error::TimedOut) if !deadline.is_some_and(|d| d.same(&step)) => continue,
                done => return done,
            }
        }
    }

    /// `pthread_mutex_trylock`: `Err(WouldBlock)` when another thread holds it; with
    /// `check_owner`, `Err(OwnerGone)` when its owner is gone from this process.
    #[inline(always)]
    pub fn try_lock(&self, check_owner: bool) -> Result<(), Error> {
        // SAFETY: `self` is an initialised mutex at a stable address.
        match unsafe { libc::pthread_mutex_trylock(self.ptr()) } {
            0 => Ok(()),
            libc::EBUSY if check_owner && self.owner_gone() => Err(Error::OwnerGone),
            libc::ENOTRECOVERABLE => self.not_recoverable_after_trylock(),
            e => check_mutex(e),
        }
    }

    /// After `pthread_mutex_trylock` returned `ENOTRECOVERABLE` on a robust mutex: glibc 2.36
    /// takes the free lock word (compare-exchange 0 -> the caller's thread id), sees the
    /// mutex not recoverable, and means to give the word back, but its test for having taken
    /// it compares the exchange's *old* value (0) with the thread id, so the word stays the
    /// caller's: every later call of this thread is `EDEADLK` (errorcheck) or `EBUSY`, and
    /// every other thread and process waits until this thread exits (and then gets
    /// `EOWNERDEAD` for a mutex that was not recoverable). `pthread_mutex_lock` and
    /// `_clocklock` give it back correctly. So here the word is given back as glibc's own
    /// `lll_unlock` would have (exchange with 0, wake one waiter), if it is this thread's;
    /// nothing else of the mutex changed (it is on no robust list: glibc's trylock returned
    /// before enqueuing it; `__owner` stays `PTHREAD_MUTEX_NOTRECOVERABLE`). Never
    /// `pthread_mutex_unlock`, which would unlink it from a list it is not on.
    /// `tests` below reproduce it (`trylock_of_a_not_recoverable_mutex_leaves_it_free`).
    #[cold]
    #[inline(never)]
    fn not_recoverable_after_trylock(&self) -> Result<(), Error> {
        // SAFETY: `self` is an initialised mutex at a stable address; `gettid` is a plain
        // system call (glibc wrote its own copy of this id into the word).
        unsafe { robust::give_back(self.ptr(), libc::gettid()) };
        Err(Error::NotRecoverable)
    }

    /// Blocks until the mutex is acquired or `dur` has passed: a trylock first, and only if
    /// that fails, `pthread_mutex_clocklock` on `CLOCK_MONOTONIC` (so the uncontended case
    /// reads no clock). `Err(TimedOut)` once the deadline passes; with `check_owner`,
    /// `Err(OwnerGone)` as soon as the owner is seen gone from this process (checked as in
    /// [`RawMutex::lock_checked`]).
    #[inline]
    pub fn lock_for(&self, dur: Duration, check_owner: bool) -> Result<(), Error> {
        match self.try_lock(check_owner) {
            Err(Error::WouldBlock) if check_owner => {
                self.lock_checked_until(Some(Deadline::after(dur)))
            }
            Err(Error::WouldBlock) => self.lock_until(&Deadline::after(dur)),
            done => done,
        }
    }

    #[cold]
    fn lock_until(&self, deadline: &Deadline) -> Result<(), Error> {
        // SAFETY: `self` is an initialised mutex; `deadline.0` is a valid timespec.
        check_mutex(unsafe {
            pthread_mutex_clocklock(self.ptr(), libc::CLOCK_MONOTONIC, &deadline.0)
        })
    }

    /// Locks a robust (process-shared) mutex, never sleeping more than `ROBUST_RECHECK` at
    /// a time: a waiter that glibc's unlock woke can be killed before it takes the mutex,
    /// and if another process then takes the free mutex by the fast path (no "waiters" bit
    /// left for its unlock to act on), every other waiter sleeps on a mutex that nobody will
    /// wake them for (the kernel's robust-list cleanup wakes a waiter only when the dying
    /// one left the word 0). A sleep that ends without the mutex is simply retried, so such
    /// a waiter takes the mutex at most `ROBUST_RECHECK` after it is free. The trylock first
    /// is [`RawMutex::try_lock_robust`].
    #[inline(always)]
    pub fn lock_robust(&self) -> Result<(), Error> {
        match self.try_lock_robust() {
            Err(Error::WouldBlock) => self.lock_robust_until(None),
            done => done,
        }
    }

    /// As [`RawMutex::lock_robust`], giving up with `TimedOut` after `dur`.
    #[inline]
    pub fn lock_robust_for(&self, dur: Duration) -> Result<(), Error> {
        match self.try_lock_robust() {
            Err(Error::WouldBlock) => self.lock_robust_until(Some(Deadline::after(dur))),
            done => done,
        }
    }

    #[cold]
    fn lock_robust_until(&self, end: Option<Deadline>) -> Result<(), Error> {
        loop {
            let slice = Deadline::after(ROBUST_RECHECK);
            let slice = end.map_or(slice, |end| end.min(slice));
            match self.lock_until(&slice) {
                Err(Error::TimedOut) if !end.is_some_and(|end| end.same(&slice)) => continue,
                done => return done,
            }
        }
    }

    /// `pthread_mutex_lock`, with no spin and no owner check: for robust mutexes, whose
    /// `EOWNERDEAD` (acquired, the previous owner died: `Err(OwnerDied)`) and
    /// `ENOTRECOVERABLE` glibc reports itself.
    #[inline(always)]
    pub fn lock_direct(&self) -> Result<(), Error> {
        // SAFETY: `self` is an initialised mutex at a stable address.
        check_mutex(unsafe { libc::pthread_mutex_lock(self.ptr()) })
    }

    /// Whether the calling thread holds the mutex (glibc's `__owner` is its thread id; glibc
    /// records it for every type). Exact for the caller's own holds: only the holder writes
    /// its id there.
    pub fn held_by_me(&self) -> bool {
        // SAFETY: a plain system call.
        self.word(OWNER_WORD) == unsafe { libc::gettid() }
    }

    /// Re-initialises a process-private mutex of type `ty` in place, unlocked: for a `fork`ed
    /// child, where the mutex may still name a thread of the parent as its owner (glibc
    /// re-initialises its own locks there the same way). Writes the initialiser's bytes; calls
    /// nothing and allocates nothing.
    ///
    /// # Safety
    /// No other thread may be using or waiting on the mutex (in a forked child: no thread was
    /// started since the fork that could have), and no guard of it may be used to unlock it
    /// after, unless the mutex is locked again first.
    pub unsafe fn reinit(&self, ty: MutexType, protocol: Protocol) {
        let fresh = RawMutex::with_protocol(ty, protocol);
        // SAFETY: the caller guarantees nothing else uses the mutex; the write replaces plain
        // bytes in the `UnsafeCell`.
        unsafe { self.ptr().write(fresh.inner.into_inner()) };
    }

    /// `pthread_mutex_getprioceiling`: the priority ceiling of a `PTHREAD_PRIO_PROTECT` mutex
    /// (`Err(InvalidInput)` for another protocol). A plain read of the lock word in glibc.
    pub fn priority_ceiling(&self) -> Result<i32, Error> {
        let mut ceiling = 0;
        // SAFETY: `self` is an initialised mutex; `ceiling` is valid for writes.
        check(unsafe { pthread_mutex_getprioceiling(self.ptr(), &mut ceiling) })?;
        Ok(ceiling)
    }

    /// `pthread_mutex_setprioceiling`: sets the ceiling of a `PTHREAD_PRIO_PROTECT` mutex and
    /// returns the old one. glibc takes the mutex for it (waiting, without the ceiling
    /// protocol, while another thread holds it) unless the calling thread holds it: then a
    /// recursive mutex is changed in place (the caller's boost follows), an errorcheck one is
    /// `Err(Deadlock)`, and a normal one would wait for itself forever (callers check
    /// [`RawMutex::held_by_me`] first). `Err(InvalidInput)` for a ceiling outside the
    /// `SCHED_FIFO` range or a mutex of another protocol.
    pub fn set_priority_ceiling(&self, ceiling: i32) -> Result<i32, Error> {
        let mut old = 0;
        // SAFETY: `self` is an initialised mutex at a stable address; `old` is writable.
        check_mutex(unsafe { pthread_mutex_setprioceiling(self.ptr(), ceiling, &mut old) })?;
        Ok(old)
    }

    /// `pthread_mutex_consistent`: marks a robust mutex acquired with `OwnerDied` consistent
    /// again.
    ///
    /// # Safety
    /// The calling thread holds the mutex.
    pub unsafe fn consistent(&self) -> Result<(), Error> {
        // SAFETY: `self` is initialised; the caller holds it.
        check(unsafe { libc::pthread_mutex_consistent(self.ptr()) })
    }

    /// `pthread_mutex_unlock`.
    ///
    /// # Safety
    /// For a [`MutexType::Normal`] mutex the calling thread must hold it. Errorcheck and
    /// recursive mutexes check ownership themselves and return `Err(NotOwner)`.
    #[inline]
    pub unsafe fn unlock(&self) -> Result<(), Error> {
        // SAFETY: `self` is initialised; the caller upholds the ownership rule above.
        check(unsafe { libc::pthread_mutex_unlock(self.ptr()) })
    }

    /// `pthread_mutex_unlock` of a mutex the calling thread holds, for guards: no `Result`
    /// is built on the unlock path. The only failure is `EPERM` for an errorcheck or recursive
    /// mutex unlocked in a `fork`ed child by the thread that inherited the guard (the mutex
    /// still names the parent's thread); it is ignored, the mutex stays locked, and the next
    /// attempt to lock it reports `OwnerGone`.
    ///
    /// # Safety
    /// The calling thread holds the mutex (once more than it will after this call).
    #[inline(always)]
    pub unsafe fn unlock_held(&self) {
        // SAFETY: `self` is initialised and held by the calling thread.
        unsafe { libc::pthread_mutex_unlock(self.ptr()) };
    }

    /// `try_lock(false)` of a robust mutex: its uncontended acquisition done inline, to
    /// glibc's protocol (`robust.rs`: a robust, process-shared mutex without a protocol or
    /// with priority inheritance, as its `__kind` says, in a process whose glibc the crate
    /// checked); every other case is glibc's `pthread_mutex_trylock`, as
    /// [`RawMutex::try_lock`].
    #[inline(always)]
    pub fn try_lock_robust(&self) -> Result<(), Error> {
        // SAFETY: `self` is an initialised mutex at a stable address.
        if let Some(done) = unsafe { robust::try_lock(self.ptr()) } {
            return done;
        }
        self.try_lock(false)
    }

    /// The uncontended acquisition of a robust mutex alone, done inline (`robust.rs`; the
    /// caller's type says the mutex's protocol: `pi`, below): [`Take::Acquired`] when the
    /// mutex was free and its last owner alive; [`Take::Busy`] or [`Take::Glibc`] when not
    /// acquired, nothing changed, for [`RawMutex::try_lock_robust`] or
    /// [`RawMutex::lock_robust`] to decide; [`Take::NotRecoverable`]: the caller must call
    /// [`RawMutex::give_back_taken`] next. Separate calls so that the shared lockers'
    /// uncontended lock is a short straight line, everything else out of it.
    ///
    /// `pi`: the caller's type says the mutex is a priority-inheritance one (a constant, as
    /// in every call of this family: a mutex of the other protocol goes to glibc).
    #[inline(always)]
    pub fn try_lock_robust_uncontended(&self, pi: bool) -> Take {
        // SAFETY: `self` is an initialised mutex at a stable address.
        unsafe { robust::take(self.ptr(), pi) }
    }

    /// Gives back the lock word [`RawMutex::try_lock_robust_uncontended`] took of a mutex it
    /// found not recoverable.
    ///
    /// # Safety
    /// The calling thread's `try_lock_robust_uncontended` of this mutex has just returned
    /// [`Take::NotRecoverable`], and the thread has made no other robust call since.
    pub unsafe fn give_back_taken(&self, pi: bool) {
        // SAFETY: the caller's contract.
        unsafe { robust::give_back_taken(self.ptr(), pi) }
    }

    /// The uncontended release of a robust mutex alone, done inline where
    /// [`RawMutex::unlock_robust`] would (`recursive`: a constant of the caller's type, as
    /// there): [`Released::Done`]; [`Released::Glibc`] when not released, nothing changed
    /// (the caller calls `unlock_robust`); [`Released::Wake`]: released, and the caller must
    /// call [`RawMutex::wake_released`] next.
    ///
    /// # Safety
    /// As [`RawMutex::unlock_held`].
    #[inline(always)]
    pub unsafe fn unlock_robust_uncontended(&self, recursive: bool, pi: bool) -> Released {
        // SAFETY: `self` is initialised and held by the calling thread (the caller).
        unsafe { robust::release_held(self.ptr(), recursive, pi) }
    }

    /// Wakes a waiter of a mutex [`RawMutex::unlock_robust_uncontended`] released (a PI one:
    /// has the kernel release it to its waiter), and finishes the release.
    ///
    /// # Safety
    /// The calling thread's `unlock_robust_uncontended` of this mutex has just returned
    /// [`Released::Wake`], and the thread has made no other robust call since. (A mutex
    /// without a protocol may be unmapped by now: only its address is used.)
    pub unsafe fn wake_released(&self, pi: bool) {
        // SAFETY: the caller's contract.
        unsafe { robust::wake_released(self.ptr(), pi) }
    }

    /// Runs the inline robust path's one-time check of glibc now (`robust.rs`), if it has not
    /// run: called when a region is mapped, so that a process that maps one and then forks
    /// has done it before the fork (the child inherits the answer; the check looks a symbol
    /// up with `dlsym`, which a child of a multithreaded parent should not call).
    pub fn prepare_robust() {
        robust::prepare();
    }

    /// Whether the inline robust path is on in this process (for tests).
    #[cfg(test)]
    pub(crate) fn robust_inline_active() -> bool {
        robust::enabled()
    }

    /// `unlock_held` of a robust mutex: done inline where [`RawMutex::try_lock_robust`] can
    /// lock inline (`robust.rs`) and the mutex is of the type the caller's `recursive` says
    /// (a constant of its type), else glibc's `pthread_mutex_unlock`.
    ///
    /// # Safety
    /// As [`RawMutex::unlock_held`].
    #[inline(always)]
    pub unsafe fn unlock_robust(&self, recursive: bool) {
        // SAFETY: `self` is initialised and held by the calling thread (the caller).
        if !unsafe { robust::unlock(self.ptr(), recursive) } {
            // SAFETY: as above.
            unsafe { self.unlock_held() };
        }
    }
}

// SAFETY: `pthread_mutex_init` leaves a valid mutex of the attributes at `place` when it
// returns 0.
unsafe impl InPlace for RawMutex {
    type Attr = MutexAttr;

    /// `pthread_mutex_init` with every attribute of `attr`.
    unsafe fn init_in_place(place: *mut RawMutex, attr: &MutexAttr) -> Result<(), Error> {
        let mut storage = MaybeUninit::uninit();
        let mut attr = MutexAttrObj::new(&mut storage, attr)?;
        // SAFETY: the caller guarantees `place` is writable, aligned and not in use; `attr`
        // is a valid attribute object. `RawMutex` is a transparent `pthread_mutex_t`.
        check(unsafe { libc::pthread_mutex_init(place.cast(), attr.as_ptr()) })
    }
}

/// The bytes glibc's `sem_init(sem, 0, value)` writes on 64-bit targets (`struct new_sem`
/// of glibc's `internaltypes.h`: the value in the low half of a 64-bit word whose high half
/// counts waiters, then the word `private`, which holds glibc's `FUTEX_PRIVATE`, 0, for a
/// process-private semaphore), followed by the unused rest of the 32-byte `sem_t`, zeroed.
/// Checked against `sem_init` itself by `sem_image_matches_sem_init` below.
#[repr(C, align(8))]
struct SemImage {
    data: u64,
    private: i32,
    pad: i32,
    rest: [u64; 2],
}

/// glibc's `FUTEX_PRIVATE` (0), as `sem_init` stores it for a process-private semaphore.
const FUTEX_PRIVATE: i32 = 0;

/// An unnamed POSIX semaphore (`sem_t`), stored inline.
#[repr(transparent)]
pub struct RawSem {
    inner: UnsafeCell<libc::sem_t>,
}

// A pthread object keeps no invariant that unwinding could break (std's Mutex and Condvar are
// unwind-safe too); without these, `UnsafeCell` would make every wrapper `!RefUnwindSafe`.
impl UnwindSafe for RawSem {}
impl RefUnwindSafe for RawSem {}

// SAFETY: a semaphore is made to be shared between threads; all access goes through sem_*.
unsafe impl Send for RawSem {}
// SAFETY: as above.
unsafe impl Sync for RawSem {}

impl RawSem {
    /// A process-private semaphore holding `value`, built without any call (so a `static`
    /// semaphore is ready before its first use and a signal handler can post it).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] if `value` is above `SEM_VALUE_MAX`.
    #[inline]
    pub const fn new(value: u32) -> Result<RawSem, Error> {
        if value > SEM_VALUE_MAX {
            return Err(Error::InvalidInput(SEM_VALUE_TOO_LARGE));
        }
        let image = SemImage {
            data: value as u64,
            private: FUTEX_PRIVATE,
            pad: 0,
            rest: [0; 2],
        };
        // SAFETY: `transmute` checks the sizes are equal; `libc::sem_t` is a plain byte
        // buffer with no invalid bit patterns, and these are the bytes `sem_init(sem, 0,
        // value)` leaves in a zeroed one (see `SemImage`).
        let sem = unsafe { std::mem::transmute::<SemImage, libc::sem_t>(image) };
        Ok(RawSem {
            inner: UnsafeCell::new(sem),
        })
    }

    #[inline(always)]
    fn ptr(&self) -> *mut libc::sem_t {
        self.inner.get()
    }

    /// Runs a `sem_*` call until it is not interrupted by a signal handler (`EINTR`).
    #[inline(always)]
    fn retry_eintr(mut call: impl FnMut() -> libc::c_int) -> Result<(), Error> {
        loop {
            if call() == 0 {
                return Ok(());
            }
            match last_errno() {
                libc::EINTR => continue,
                e => return Err(Error::from_errno(e)),
            }
        }
    }

    /// `sem_wait`, retried when a signal handler interrupts it.
    #[inline]
    pub fn wait(&self) -> Result<(), Error> {
        // SAFETY: the semaphore is initialised at a stable address.
        Self::retry_eintr(|| unsafe { libc::sem_wait(self.ptr()) })
    }

    /// `sem_trywait`: `Err(WouldBlock)` when the value is zero.
    #[inline]
    pub fn try_wait(&self) -> Result<(), Error> {
        // SAFETY: the semaphore is initialised at a stable address.
        if unsafe { libc::sem_trywait(self.ptr()) } == 0 {
            Ok(())
        } else {
            Err(Error::from_errno(last_errno()))
        }
    }

    /// Takes one unit, waiting at most `dur`: a `sem_trywait` first, and only if the value is
    /// zero, `sem_clockwait` on `CLOCK_MONOTONIC` (so the uncontended case reads no clock),
    /// retried on `EINTR` against the same deadline.
    #[inline]
    pub fn wait_for(&self, dur: Duration) -> Result<(), Error> {
        match self.try_wait() {
            Err(Error::WouldBlock) => self.wait_until(&Deadline::after(dur)),
            done => done,
        }
    }

    #[cold]
    fn wait_until(&self, deadline: &Deadline) -> Result<(), Error> {
        // SAFETY: the semaphore is initialised; `deadline.0` is a valid timespec.
        Self::retry_eintr(|| unsafe {
            sem_clockwait(self.ptr(), libc::CLOCK_MONOTONIC, &deadline.0)
        })
    }

    /// `sem_post`: `Err(Overflow)` when the value is already `SEM_VALUE_MAX`.
    /// Async-signal-safe: nothing on this path allocates or locks.
    #[inline]
    pub fn post(&self) -> Result<(), Error> {
        // SAFETY: the semaphore is initialised at a stable address.
        if unsafe { libc::sem_post(self.ptr()) } == 0 {
            Ok(())
        } else {
            Err(Error::from_errno(last_errno()))
        }
    }

    /// `sem_getvalue`: the current value (never negative on glibc).
    pub fn value(&self) -> u32 {
        let mut value: libc::c_int = 0;
        // SAFETY: the semaphore is initialised; `value` is valid for writes. glibc's
        // sem_getvalue cannot fail for a valid semaphore.
        unsafe { libc::sem_getvalue(self.ptr(), &mut value) };
        value.max(0) as u32
    }
}

// SAFETY: `sem_init` leaves a valid semaphore of the value at `place` when it returns 0.
unsafe impl InPlace for RawSem {
    type Attr = SemAttr;

    /// `sem_init(place, pshared, value)`; a value above `SEM_VALUE_MAX` is `InvalidInput`.
    unsafe fn init_in_place(place: *mut RawSem, attr: &SemAttr) -> Result<(), Error> {
        if attr.value > SEM_VALUE_MAX {
            return Err(Error::InvalidInput(SEM_VALUE_TOO_LARGE));
        }
        // SAFETY: the caller guarantees `place` is writable and not in use; the value is at
        // most SEM_VALUE_MAX.
        let r =
            unsafe { libc::sem_init(place.cast(), libc::c_int::from(attr.pshared), attr.value) };
        if r != 0 {
            return Err(Error::from_errno(last_errno()));
        }
        Ok(())
    }
}

/// A 32-bit futex word: an atomic `u32` that threads (and, in shared memory, processes) can
/// wait on while it holds a value, and wake (`futex(2)`). A waiter killed inside `wait` leaves
/// nothing behind: the kernel drops it from the queue.
#[repr(transparent)]
pub struct Futex(AtomicU32);

impl Futex {
    /// A word holding `v`.
    #[inline]
    pub const fn new(v: u32) -> Futex {
        Futex(AtomicU32::new(v))
    }

    /// The value.
    #[inline(always)]
    pub fn load(&self, order: Ordering) -> u32 {
        self.0.load(order)
    }

    /// Adds `v` (wrapping); the previous value.
    #[inline(always)]
    pub fn fetch_add(&self, v: u32, order: Ordering) -> u32 {
        self.0.fetch_add(v, order)
    }

    /// Sets the bits of `v`; the previous value.
    #[inline(always)]
    pub fn fetch_or(&self, v: u32, order: Ordering) -> u32 {
        self.0.fetch_or(v, order)
    }

    /// Stores `new` if the word holds `current`: `Ok(current)`, else `Err(value found)`.
    #[inline(always)]
    pub fn compare_exchange(
        &self,
        current: u32,
        new: u32,
        success: Ordering,
        failure: Ordering,
    ) -> Result<u32, u32> {
        self.0.compare_exchange(current, new, success, failure)
    }

    /// Sleeps while the word holds `expected`, until woken by [`Futex::wake`] (or spuriously,
    /// or by a signal handler), or until `deadline` (absolute, `CLOCK_MONOTONIC`) passes:
    /// `FUTEX_WAIT_BITSET` with every bit, `FUTEX_PRIVATE_FLAG` for [`Scope::Private`].
    /// Returns `true` only when the deadline passed.
    #[inline]
    pub fn wait(&self, expected: u32, deadline: Option<&Deadline>, scope: Scope) -> bool {
        // SAFETY: the word is a live, aligned u32 for the whole call (borrowed).
        unsafe { futex_wait(self.0.as_ptr(), expected, deadline, scope) }
    }

    /// A condition variable's waiter enters a wait on this word with the mutex at `mutex`:
    /// nothing here (the model checks POSIX's one-mutex rule with it).
    #[inline(always)]
    pub fn enter_wait(&self, _mutex: usize) {}

    /// The waiter has its mutex back: nothing here (see `enter_wait`).
    #[inline(always)]
    pub fn leave_wait(&self) {}

    /// Wakes at most `n` waiters (`FUTEX_WAKE`); how many were woken.
    #[inline]
    pub fn wake(&self, n: i32, scope: Scope) -> usize {
        // SAFETY: the word is a live, aligned u32 (borrowed).
        unsafe { futex_wake(self.0.as_ptr(), n, scope) }
    }
}

/// A 64-bit atomic word whose low 32 bits are a futex word: threads (and, in shared memory,
/// processes) wait while those bits hold a value, and are woken by [`Futex64::wake`]. Rust
/// accesses it only as a whole (`AtomicU64`); the kernel reads its low half (the 4 bytes at
/// its address on a little-endian machine, at `+4` on a big-endian one) inside `futex(2)`, a
/// read outside the program, as it reads and writes a robust mutex's word. A waiter killed
/// inside `wait` leaves nothing behind.
#[repr(transparent)]
pub struct Futex64(AtomicU64);

impl Futex64 {
    /// A word holding `v`.
    #[inline]
    pub const fn new(v: u64) -> Futex64 {
        Futex64(AtomicU64::new(v))
    }

    /// The value.
    #[inline(always)]
    pub fn load(&self, order: Ordering) -> u64 {
        self.0.load(order)
    }

    /// Stores `v`.
    #[inline(always)]
    pub fn store(&self, v: u64, order: Ordering) {
        self.0.store(v, order)
    }

    /// Subtracts `v` (wrapping); the previous value.
    #[inline(always)]
    pub fn fetch_sub(&self, v: u64, order: Ordering) -> u64 {
        self.0.fetch_sub(v, order)
    }

    /// Stores `new` if the word holds `current`: `Ok(current)`, else `Err(value found)`.
    #[inline(always)]
    pub fn compare_exchange(
        &self,
        current: u64,
        new: u64,
        success: Ordering,
        failure: Ordering,
    ) -> Result<u64, u64> {
        self.0.compare_exchange(current, new, success, failure)
    }

    /// The address of the low half (the futex word the kernel compares and queues on).
    #[inline(always)]
    fn low_half(&self) -> *const u32 {
        let offset = if cfg!(target_endian = "big") { 4 } else { 0 };
        // SAFETY: the word is 8 bytes, aligned to 8: either half is inside it, aligned to 4.
        unsafe { self.0.as_ptr().cast::<u8>().add(offset).cast::<u32>() }
    }

    /// Sleeps while the word's low 32 bits hold `expected`, until woken by
    /// [`Futex64::wake`] (or spuriously, or by a signal handler), or until `deadline`
    /// (absolute, `CLOCK_MONOTONIC`) passes. Returns `true` only when the deadline passed.
    #[inline]
    pub fn wait(&self, expected: u32, deadline: Option<&Deadline>, scope: Scope) -> bool {
        // SAFETY: the low half is a live, aligned u32 for the whole call (the word is).
        unsafe { futex_wait(self.low_half(), expected, deadline, scope) }
    }

    /// Wakes at most `n` waiters (`FUTEX_WAKE`); how many were woken.
    #[inline]
    pub fn wake(&self, n: i32, scope: Scope) -> usize {
        // SAFETY: the low half is a live, aligned u32 (the word is).
        unsafe { futex_wake(self.low_half(), n, scope) }
    }
}

/// The calling thread's id (`gettid`).
#[inline]
pub fn thread_id() -> u32 {
    // SAFETY: gettid has no preconditions and cannot fail.
    unsafe { libc::gettid() as u32 }
}

/// `FUTEX_WAIT_BITSET` (every bit) on `word` while it holds `expected`, until a wake (or a
/// spurious one, or a signal handler), or until `deadline` (absolute, `CLOCK_MONOTONIC`)
/// passes: `true` only when the deadline passed.
///
/// # Safety
/// `word` points to a live, 4-byte-aligned `u32` for the whole call.
#[inline]
unsafe fn futex_wait(
    word: *const u32,
    expected: u32,
    deadline: Option<&Deadline>,
    scope: Scope,
) -> bool {
    let timeout = deadline.map_or(std::ptr::null(), |d| &d.0 as *const libc::timespec);
    // SAFETY: the caller guarantees `word`; `timeout` is null or a valid absolute timespec;
    // FUTEX_WAIT_BITSET reads the 4th argument as a pointer and ignores the 5th, the 6th is
    // the bitset.
    let r = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word,
            libc::FUTEX_WAIT_BITSET | private_flag(scope),
            expected,
            timeout,
            std::ptr::null::<u32>(),
            libc::FUTEX_BITSET_MATCH_ANY,
        )
    };
    // EAGAIN: the word no longer held `expected`; EINTR: a signal handler ran: both are
    // wake-ups the caller tells apart by the word.
    r == -1 && last_errno() == libc::ETIMEDOUT
}

/// `FUTEX_WAKE` of at most `n` waiters on `word`; how many were woken.
///
/// # Safety
/// `word` points to a live, 4-byte-aligned `u32`.
#[inline]
unsafe fn futex_wake(word: *const u32, n: i32, scope: Scope) -> usize {
    // SAFETY: the caller guarantees `word`; FUTEX_WAKE reads no other pointer.
    let r = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word,
            libc::FUTEX_WAKE | private_flag(scope),
            n,
        )
    };
    usize::try_from(r).unwrap_or(0)
}

/// `FUTEX_UNLOCK_PI` (process-shared) on a PI futex word the caller owns: the kernel releases
/// it to its first queued waiter, or to 0. It fails only for a word that is not the caller's
/// (`EPERM`) or a kernel state that does not match it (`EINVAL`): a word corrupted by a
/// peer. glibc aborts the process then; an unlock here cannot report it (it runs in a
/// guard's drop), so the result is ignored and the word left as the kernel found it: the
/// mutex stays as corrupted as it was, for the next lock to meet.
///
/// # Safety
/// `word` is aligned (the kernel reads and writes it only if mapped).
unsafe fn futex_unlock_pi(word: *const u32) {
    // SAFETY: the caller guarantees `word`; FUTEX_UNLOCK_PI reads no other argument.
    unsafe { libc::syscall(libc::SYS_futex, word, libc::FUTEX_UNLOCK_PI, 0, 0, 0, 0) };
}

fn private_flag(scope: Scope) -> libc::c_int {
    match scope {
        Scope::Private => libc::FUTEX_PRIVATE_FLAG,
        Scope::Shared => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn futex64_waits_on_its_low_half() {
        let w = Futex64::new((7 << 32) | 5);
        let soon = || Deadline::after(Duration::from_millis(20));
        // The low half holds 5: a wait expecting 7 (the high half) returns at once, one
        // expecting 5 sleeps until the deadline.
        assert!(!w.wait(7, Some(&soon()), Scope::Private));
        assert!(w.wait(5, Some(&soon()), Scope::Private));
        // A change of the low half, and a wake, end a wait.
        std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(10));
                w.store(7 << 32, Ordering::SeqCst);
                w.wake(i32::MAX, Scope::Private);
            });
            let long = Deadline::after(Duration::from_secs(10));
            while w.load(Ordering::SeqCst) as u32 == 5 {
                assert!(!w.wait(5, Some(&long), Scope::Private), "never woken");
            }
        });
        assert_eq!(
            w.compare_exchange(7 << 32, 1, Ordering::SeqCst, Relaxed),
            Ok(7 << 32)
        );
    }

    const TYPES: [MutexType; 3] = [
        MutexType::Normal,
        MutexType::ErrorCheck,
        MutexType::Recursive,
    ];

    fn bytes<T>(v: &T) -> Vec<u8> {
        // SAFETY: `v` is a live, initialised value of `size_of::<T>()` bytes; pthread objects
        // have no padding glibc leaves undefined in these tests (all start zeroed).
        unsafe { std::slice::from_raw_parts((v as *const T).cast::<u8>(), size_of::<T>()) }.to_vec()
    }

    /// The anchor: glibc's static initialiser of each type gives the same bytes as
    /// `pthread_mutex_init` with a private, non-robust attribute of that type.
    #[test]
    fn static_initialisers_equal_pthread_mutex_init() {
        for ty in TYPES {
            let mut place = MaybeUninit::<RawMutex>::zeroed();
            // SAFETY: a fresh, zeroed, aligned place that nothing uses.
            unsafe { RawMutex::init_in_place(place.as_mut_ptr(), &MutexAttr::private(ty)) }
                .unwrap();
            // SAFETY: initialised just above.
            let inited = unsafe { place.assume_init() };
            assert_eq!(bytes(&inited), bytes(&RawMutex::new(ty)), "{ty:?}");
        }
    }

    /// The protocols: the bytes `RawMutex::with_protocol` builds in a `const fn` are those
    /// `pthread_mutex_init` writes with the same attributes (type, protocol, ceiling), for
    /// every type, priority inheritance and several ceilings (the ends of the range too).
    #[test]
    fn protocol_initialisers_equal_pthread_mutex_init() {
        let (min, max) = fifo_priority_range().unwrap();
        let mut protocols = vec![Protocol::None, Protocol::Inherit];
        protocols.extend([min, 10, max].map(|ceiling| Protocol::Protect { ceiling }));
        for ty in TYPES {
            for protocol in protocols.iter().copied() {
                let attr = MutexAttr {
                    protocol,
                    ..MutexAttr::private(ty)
                };
                let mut place = MaybeUninit::<RawMutex>::zeroed();
                // SAFETY: a fresh, zeroed, aligned place that nothing uses.
                unsafe { RawMutex::init_in_place(place.as_mut_ptr(), &attr) }.unwrap();
                // SAFETY: initialised just above.
                let inited = unsafe { place.assume_init() };
                let built = RawMutex::with_protocol(ty, protocol);
                assert_eq!(bytes(&inited), bytes(&built), "{ty:?} {protocol:?}");
                if let Protocol::Protect { ceiling } = protocol {
                    assert_eq!(built.priority_ceiling(), Ok(ceiling));
                }
            }
        }
        // The default ceiling is what `pthread_mutex_init` gives an attribute without one.
        assert_eq!(crate::sys::DEFAULT_CEILING, min);
    }

    /// A priority-inheritance mutex is back to its initial bytes once unlocked after
    /// contended use (`FUTEX_LOCK_PI`/`FUTEX_UNLOCK_PI`), but for one word: glibc 2.36's PI
    /// lock sets `__count` to 1 for every type and only the recursive unlock counts it back
    /// down, so an unlocked normal or errorcheck PI mutex keeps `__count == 1`. Nothing reads
    /// it for those types (the next lock writes 1 again), and it holds no address: moving an
    /// unused one is as harmless. (A ceiling mutex keeps its ceiling in the lock word: back to
    /// its bytes as well, with the ceiling it has then.)
    #[test]
    fn an_unlocked_protocol_mutex_is_back_to_its_initial_bytes() {
        for ty in TYPES {
            let m = RawMutex::with_protocol(ty, Protocol::Inherit);
            std::thread::scope(|s| {
                for _ in 0..2 {
                    s.spawn(|| {
                        for _ in 0..20_000 {
                            m.lock_direct().unwrap();
                            // SAFETY: this thread holds `m`.
                            unsafe { m.unlock_held() };
                        }
                    });
                }
            });
            let fresh = RawMutex::with_protocol(ty, Protocol::Inherit);
            let count = if ty == MutexType::Recursive { 0 } else { 1 };
            assert_eq!(m.word(1), count, "{ty:?}: __count");
            let (mut used, fresh) = (bytes(&m), bytes(&fresh));
            used[4..8].copy_from_slice(&[0; 4]);
            assert_eq!(used, fresh, "{ty:?}: all but __count");
            let pp = RawMutex::with_protocol(ty, Protocol::Protect { ceiling: 7 });
            assert_eq!(pp.set_priority_ceiling(12), Ok(7));
            assert_eq!(
                bytes(&pp),
                bytes(&RawMutex::with_protocol(
                    ty,
                    Protocol::Protect { ceiling: 12 }
                ))
            );
        }
    }

    /// Why an unused mutex may move: once unlocked, after contended use by two threads, its
    /// bytes are its initialiser's again (no address, no leftover state).
    #[test]
    fn an_unlocked_mutex_is_back_to_its_initial_bytes() {
        for ty in TYPES {
            let m = RawMutex::new(ty);
            std::thread::scope(|s| {
                for _ in 0..2 {
                    s.spawn(|| {
                        for _ in 0..20_000 {
                            m.lock_checked().unwrap();
                            // SAFETY: this thread holds `m`.
                            unsafe { m.unlock_held() };
                        }
                    });
                }
            });
            assert_eq!(bytes(&m), bytes(&RawMutex::new(ty)), "{ty:?}");
        }
    }

    #[test]
    fn sem_image_matches_sem_init() {
        for value in [0, 1, 7, 65_536, SEM_VALUE_MAX] {
            let mut place = MaybeUninit::<RawSem>::zeroed();
            // SAFETY: a fresh, zeroed, aligned place that nothing uses.
            unsafe {
                RawSem::init_in_place(
                    place.as_mut_ptr(),
                    &SemAttr {
                        pshared: false,
                        value,
                    },
                )
            }
            .unwrap();
            // SAFETY: initialised just above.
            let inited = unsafe { place.assume_init() };
            let built = RawSem::new(value).unwrap();
            assert_eq!(bytes(&inited), bytes(&built), "value {value}");
            assert_eq!(built.value(), value);
        }
        assert!(matches!(
            RawSem::new(SEM_VALUE_MAX + 1),
            Err(Error::InvalidInput(_))
        ));
    }

    /// `owner_gone` reads glibc's `__owner`: check the layout assumption on this glibc.
    #[test]
    fn owner_word_names_the_owner() {
        for ty in TYPES {
            let m = RawMutex::new(ty);
            assert_eq!(m.word(OWNER_WORD), 0, "{ty:?} free");
            m.lock_checked().unwrap();
            // SAFETY: a plain system call.
            assert_eq!(m.word(OWNER_WORD), unsafe { libc::gettid() }, "{ty:?} held");
            assert!(!m.owner_gone(), "{ty:?} held by this thread");
            std::thread::scope(|s| s.spawn(|| assert!(!m.owner_gone())).join().unwrap());
            // SAFETY: this thread holds it.
            unsafe { m.unlock_held() };
        }
    }

    /// A mutex left locked by a thread that exited: `owner_gone`, so the checked calls report
    /// it instead of waiting forever.
    #[test]
    fn a_lock_left_by_an_exited_thread_is_reported() {
        for ty in [MutexType::ErrorCheck, MutexType::Recursive] {
            let m = RawMutex::new(ty);
            std::thread::scope(|s| s.spawn(|| m.lock_checked().unwrap()).join().unwrap());
            // Seen within a check period or two (the kernel may list the exiting thread for a
            // moment after `join`), never a wait without end.
            assert_eq!(m.lock_checked(), Err(Error::OwnerGone), "{ty:?}");
            assert!(m.owner_gone(), "{ty:?}");
            assert_eq!(m.try_lock(true), Err(Error::OwnerGone), "{ty:?}");
            assert_eq!(m.try_lock(false), Err(Error::WouldBlock), "{ty:?}");
            assert_eq!(
                m.lock_for(Duration::from_secs(60), true),
                Err(Error::OwnerGone),
                "{ty:?}"
            );
        }
    }

    /// glibc 2.36's `pthread_mutex_trylock` of a robust mutex that is not recoverable returns
    /// `ENOTRECOVERABLE` but leaves the lock word holding the caller's id: `try_lock` gives
    /// it back, so this thread and others keep getting `NotRecoverable` (not `Deadlock`, not
    /// a wait for this thread's exit). Without the fix the second call here is `Deadlock` and
    /// the other thread's is `WouldBlock`, or `TimedOut`.
    #[test]
    fn trylock_of_a_not_recoverable_mutex_leaves_it_free() {
        for ty in TYPES {
            let attr = MutexAttr::robust_shared(ty);
            let m = Box::new(RawMutex::new(ty));
            // SAFETY: a fresh, unused mutex on the heap, never moved while the box lives.
            unsafe { RawMutex::init_in_place(&*m as *const RawMutex as *mut RawMutex, &attr) }
                .unwrap();
            // A thread that exits holding it: the next locker gets EOWNERDEAD.
            std::thread::scope(|s| s.spawn(|| m.lock_direct().unwrap()).join().unwrap());
            assert_eq!(m.lock_direct(), Err(Error::OwnerDied), "{ty:?}");
            // SAFETY: held (EOWNERDEAD is an acquisition); released unrepaired on purpose.
            unsafe { m.unlock_held() };
            for _ in 0..3 {
                assert_eq!(m.try_lock(false), Err(Error::NotRecoverable), "{ty:?}");
                assert_eq!(m.word(0), 0, "{ty:?}: the lock word given back");
                // The inline path (`robust.rs`) too.
                assert_eq!(m.try_lock_robust(), Err(Error::NotRecoverable), "{ty:?}");
                assert_eq!(m.word(0), 0, "{ty:?}: the lock word given back inline");
            }
            assert_eq!(m.lock_robust(), Err(Error::NotRecoverable), "{ty:?}");
            std::thread::scope(|s| {
                s.spawn(|| {
                    assert_eq!(m.try_lock(false), Err(Error::NotRecoverable), "{ty:?}");
                    let started = std::time::Instant::now();
                    assert_eq!(
                        m.lock_robust_for(Duration::from_secs(5)),
                        Err(Error::NotRecoverable),
                        "{ty:?}"
                    );
                    assert!(
                        started.elapsed() < Duration::from_secs(1),
                        "{ty:?}: no wait"
                    );
                })
                .join()
                .unwrap()
            });
        }
    }

    /// The contention hint reads glibc's lock word: check the layout assumption on this glibc,
    /// for every type, held and free, from this thread and another.
    #[test]
    fn looks_held_tracks_the_lock_word() {
        for ty in TYPES {
            let m = RawMutex::new(ty);
            assert!(!m.looks_held(), "{ty:?} free");
            m.lock().unwrap();
            assert!(m.looks_held(), "{ty:?} held");
            let seen_elsewhere = std::thread::scope(|s| s.spawn(|| m.looks_held()).join().unwrap());
            assert!(seen_elsewhere, "{ty:?} held, seen from another thread");
            // SAFETY: this thread holds it.
            unsafe { m.unlock_held() };
            assert!(!m.looks_held(), "{ty:?} released");
        }
    }

    #[test]
    fn contended_lock_spins_then_blocks_and_still_excludes() {
        let m = RawMutex::new(MutexType::Normal);
        let counter = std::cell::UnsafeCell::new(0u64);
        struct Shared<'a>(&'a std::cell::UnsafeCell<u64>);
        // SAFETY: only accessed under `m`.
        unsafe impl Sync for Shared<'_> {}
        let shared = Shared(&counter);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    let shared = &shared;
                    for _ in 0..50_000 {
                        m.lock().unwrap();
                        // SAFETY: `m` is held.
                        unsafe { *shared.0.get() += 1 };
                        // SAFETY: this thread holds `m`.
                        unsafe { m.unlock_held() };
                    }
                });
            }
        });
        assert_eq!(counter.into_inner(), 200_000);
    }
}
