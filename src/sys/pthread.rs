//! The real backend: glibc's `pthread_mutex_t`, `pthread_cond_t` and `sem_t`.
//!
//! Each object lives in a `Box` made once and never moved: it is initialised in place through
//! `Box::new_uninit`, and the wrappers above only ever hand out references to it.

use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::sync::atomic::AtomicI32;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use super::{MutexKind, SEM_VALUE_MAX};
use crate::error::Error;

// glibc 2.30 and later; the `libc` crate does not declare these two.
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
}

/// A `pthread_mutexattr_t` destroyed when dropped. It borrows its storage, so it never moves.
struct MutexAttr<'a>(&'a mut MaybeUninit<libc::pthread_mutexattr_t>);

impl<'a> MutexAttr<'a> {
    fn new(storage: &'a mut MaybeUninit<libc::pthread_mutexattr_t>) -> Result<Self, Error> {
        // SAFETY: `storage` is valid for writes; on success it holds an initialised attribute
        // object, which `Drop` destroys.
        check(unsafe { libc::pthread_mutexattr_init(storage.as_mut_ptr()) })?;
        Ok(MutexAttr(storage))
    }

    fn as_ptr(&mut self) -> *mut libc::pthread_mutexattr_t {
        self.0.as_mut_ptr()
    }
}

impl Drop for MutexAttr<'_> {
    fn drop(&mut self) {
        // SAFETY: the attribute object was initialised in `new` and is destroyed once, here.
        unsafe { libc::pthread_mutexattr_destroy(self.as_ptr()) };
    }
}

/// A `pthread_condattr_t` destroyed when dropped. It borrows its storage, so it never moves.
struct CondAttr<'a>(&'a mut MaybeUninit<libc::pthread_condattr_t>);

impl<'a> CondAttr<'a> {
    fn new(storage: &'a mut MaybeUninit<libc::pthread_condattr_t>) -> Result<Self, Error> {
        // SAFETY: `storage` is valid for writes; on success it holds an initialised attribute
        // object, which `Drop` destroys.
        check(unsafe { libc::pthread_condattr_init(storage.as_mut_ptr()) })?;
        Ok(CondAttr(storage))
    }

    fn as_ptr(&mut self) -> *mut libc::pthread_condattr_t {
        self.0.as_mut_ptr()
    }
}

impl Drop for CondAttr<'_> {
    fn drop(&mut self) {
        // SAFETY: the attribute object was initialised in `new` and is destroyed once, here.
        unsafe { libc::pthread_condattr_destroy(self.as_ptr()) };
    }
}

// `looks_held` reads the first `int` of a `pthread_mutex_t` atomically.
const _: () =
    assert!(std::mem::align_of::<libc::pthread_mutex_t>() >= std::mem::align_of::<AtomicI32>());

/// A `pthread_mutex_t` of one [`MutexKind`], at a stable address.
pub struct RawMutex {
    inner: UnsafeCell<libc::pthread_mutex_t>,
    kind: MutexKind,
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
    /// A new mutex of `kind` in a fresh heap allocation that never moves.
    pub fn new_boxed(kind: MutexKind) -> Result<Box<RawMutex>, Error> {
        let mut place = Box::<RawMutex>::new_uninit();
        let raw = place.as_mut_ptr();
        // SAFETY: `place` is a fresh, aligned, writable allocation that nothing else can see;
        // `kind` is written through a raw field pointer, without reading the uninit struct.
        unsafe {
            RawMutex::init(raw, kind)?;
            (&raw mut (*raw).kind).write(kind);
        }
        // SAFETY: both fields are initialised now.
        Ok(unsafe { place.assume_init() })
    }

    /// Initialises the pthread mutex (not the `kind` field) of `kind` at `place`.
    ///
    /// # Safety
    /// `place` must be valid for writes and aligned, must not hold a mutex that is in use, and
    /// the mutex must not move until it is destroyed or abandoned.
    unsafe fn init(place: *mut RawMutex, kind: MutexKind) -> Result<(), Error> {
        let ty = match kind {
            MutexKind::Normal => libc::PTHREAD_MUTEX_NORMAL,
            MutexKind::ErrorCheck => libc::PTHREAD_MUTEX_ERRORCHECK,
            MutexKind::Recursive => libc::PTHREAD_MUTEX_RECURSIVE,
        };
        let mut storage = MaybeUninit::uninit();
        let mut attr = MutexAttr::new(&mut storage)?;
        // SAFETY: `attr` is an initialised attribute object; `ty` is a valid mutex type.
        check(unsafe { libc::pthread_mutexattr_settype(attr.as_ptr(), ty) })?;
        // SAFETY: the caller guarantees `place` is writable and not in use; `attr` is valid.
        check(unsafe {
            libc::pthread_mutex_init(
                UnsafeCell::raw_get(&raw const (*place).inner),
                attr.as_ptr(),
            )
        })
    }

    #[inline(always)]
    fn ptr(&self) -> *mut libc::pthread_mutex_t {
        self.inner.get()
    }

    /// Blocks until the mutex is acquired.
    ///
    /// A mutex that looks free is taken with `pthread_mutex_lock` directly. One that looks
    /// held (see [`RawMutex::looks_held`]) first gets a bounded adaptive spin of trylocks with
    /// `parking_lot_core::SpinWait` (three rounds of 2-8 `pause`s, then up to seven
    /// `sched_yield`s), then `pthread_mutex_lock`. The spin keeps a short critical section
    /// from costing a futex sleep and wake-up: in `benches/contended.rs` it cut the time per
    /// contended increment by 7-48% and the futex calls 20-30x. (A trylock first on every
    /// lock would cost the uncontended path 20%: glibc's trylock is the slower call.) For an
    /// errorcheck mutex use [`RawMutex::lock_no_spin`]: held by its caller, it must report
    /// `Deadlock` at once, not after a spin.
    ///
    /// A normal mutex relocked by its owner blocks forever; recursive increments its count
    /// (`Err(Overflow)` at the limit).
    #[inline]
    pub fn lock(&self) -> Result<(), Error> {
        if self.looks_held() {
            return self.lock_contended();
        }
        // SAFETY: `self` is an initialised mutex at a stable address.
        check_mutex(unsafe { libc::pthread_mutex_lock(self.ptr()) })
    }

    /// `pthread_mutex_lock` with no spin (what an errorcheck mutex wants: held by its
    /// caller, it must report `Deadlock` at once).
    #[inline]
    pub fn lock_no_spin(&self) -> Result<(), Error> {
        // SAFETY: `self` is an initialised mutex at a stable address.
        check_mutex(unsafe { libc::pthread_mutex_lock(self.ptr()) })
    }

    #[cold]
    fn lock_contended(&self) -> Result<(), Error> {
        let mut spin = parking_lot_core::SpinWait::new();
        while spin.spin() {
            // SAFETY: `self` is an initialised mutex at a stable address.
            if unsafe { libc::pthread_mutex_trylock(self.ptr()) } == 0 {
                return Ok(());
            }
        }
        // SAFETY: as above.
        check_mutex(unsafe { libc::pthread_mutex_lock(self.ptr()) })
    }

    /// A racy hint: whether the mutex's lock word is nonzero (held) right now. glibc's
    /// `pthread_mutex_t` begins with that word (`int __lock` of `struct __pthread_mutex_s`, on
    /// every ABI glibc supports). glibc changes it with atomic operations, except with plain
    /// stores while the process has a single thread; thread creation orders those before any
    /// other thread's load. The hint only chooses between spinning and calling
    /// `pthread_mutex_lock` at once; every acquisition still goes through glibc, so a stale
    /// answer costs speed, never correctness.
    #[inline(always)]
    fn looks_held(&self) -> bool {
        // SAFETY: initialised (published by the lazy box's Acquire load), alive as long as
        // `self`, aligned for i32 (compile-time check above), and never written non-atomically
        // while another thread can read it (see above): an atomic load is not a data race.
        let word = unsafe { AtomicI32::from_ptr(self.ptr().cast::<i32>()) };
        word.load(Relaxed) != 0
    }

    /// `pthread_mutex_trylock`: `Err(WouldBlock)` when another thread holds it.
    #[inline]
    pub fn try_lock(&self) -> Result<(), Error> {
        // SAFETY: `self` is an initialised mutex at a stable address.
        check_mutex(unsafe { libc::pthread_mutex_trylock(self.ptr()) })
    }

    /// Blocks until the mutex is acquired or `dur` has passed: a trylock first, and only if
    /// that fails, `pthread_mutex_clocklock` on `CLOCK_MONOTONIC` (so the uncontended case
    /// reads no clock). `Err(TimedOut)` once the deadline passes.
    #[inline]
    pub fn lock_for(&self, dur: Duration) -> Result<(), Error> {
        // SAFETY: `self` is an initialised mutex at a stable address.
        match unsafe { libc::pthread_mutex_trylock(self.ptr()) } {
            0 => Ok(()),
            libc::EBUSY => self.lock_until(&Deadline::after(dur)),
            e => check_mutex(e),
        }
    }

    #[cold]
    fn lock_until(&self, deadline: &Deadline) -> Result<(), Error> {
        // SAFETY: `self` is an initialised mutex; `deadline.0` is a valid timespec.
        check_mutex(unsafe {
            pthread_mutex_clocklock(self.ptr(), libc::CLOCK_MONOTONIC, &deadline.0)
        })
    }

    /// `pthread_mutex_unlock`.
    ///
    /// # Safety
    /// For a [`MutexKind::Normal`] mutex the calling thread must hold it. Errorcheck and
    /// recursive mutexes check ownership themselves and return `Err(NotOwner)`.
    #[inline]
    pub unsafe fn unlock(&self) -> Result<(), Error> {
        // SAFETY: `self` is initialised; the caller upholds the ownership rule above.
        check(unsafe { libc::pthread_mutex_unlock(self.ptr()) })
    }

    /// `pthread_mutex_unlock` of a mutex the calling thread holds, for guards: no `Result`
    /// is built on the unlock path. The only failure is `EPERM` for an errorcheck or recursive
    /// mutex unlocked in a `fork`ed child by the thread that inherited the guard (the mutex
    /// still names the parent's thread); it is ignored, and the mutex stays locked.
    ///
    /// # Safety
    /// The calling thread holds the mutex (once more than it will after this call).
    #[inline]
    pub unsafe fn unlock_held(&self) {
        // SAFETY: `self` is initialised and held by the calling thread.
        unsafe { libc::pthread_mutex_unlock(self.ptr()) };
    }
}

impl Drop for RawMutex {
    fn drop(&mut self) {
        // `&mut self`: no other thread can reach the mutex. Never destroy a locked mutex
        // (undefined behaviour): a guard leaked with `mem::forget` may still hold it. A Linux
        // pthread mutex owns no kernel resource, so skipping `destroy` loses nothing. A
        // recursive mutex is never destroyed: a successful trylock cannot tell whether this
        // thread already held it (a leaked guard), so it might still be locked after.
        if self.kind == MutexKind::Recursive {
            return;
        }
        // SAFETY: the mutex is initialised; trylock never blocks. On success this thread holds
        // it, unlocks it, and destroys it unlocked, once.
        unsafe {
            if libc::pthread_mutex_trylock(self.ptr()) == 0 {
                libc::pthread_mutex_unlock(self.ptr());
                libc::pthread_mutex_destroy(self.ptr());
            }
        }
    }
}

/// A `pthread_cond_t` whose timed waits run on `CLOCK_MONOTONIC`, at a stable address.
pub struct RawCond {
    inner: UnsafeCell<libc::pthread_cond_t>,
}

// A pthread object keeps no invariant that unwinding could break (std's Mutex and Condvar are
// unwind-safe too); without these, `UnsafeCell` would make every wrapper `!RefUnwindSafe`.
impl UnwindSafe for RawCond {}
impl RefUnwindSafe for RawCond {}

// SAFETY: a pthread condition variable is made to be shared between threads; all access goes
// through the pthread calls.
unsafe impl Send for RawCond {}
// SAFETY: as above.
unsafe impl Sync for RawCond {}

impl RawCond {
    /// A new condition variable on `CLOCK_MONOTONIC` in a heap allocation that never moves.
    pub fn new_boxed() -> Result<Box<RawCond>, Error> {
        let mut place = Box::<RawCond>::new_uninit();
        let mut storage = MaybeUninit::uninit();
        let mut attr = CondAttr::new(&mut storage)?;
        // SAFETY: `attr` is initialised; CLOCK_MONOTONIC is a valid clock for condvars.
        check(unsafe { libc::pthread_condattr_setclock(attr.as_ptr(), libc::CLOCK_MONOTONIC) })?;
        // SAFETY: `place` is a fresh writable allocation; `attr` is valid.
        check(unsafe { libc::pthread_cond_init(place.as_mut_ptr().cast(), attr.as_ptr()) })?;
        // SAFETY: `pthread_cond_init` succeeded, so the only field is initialised.
        Ok(unsafe { place.assume_init() })
    }

    /// `pthread_cond_wait`: releases `mutex`, waits for a notification (or a spurious
    /// wake-up), and reacquires `mutex`.
    ///
    /// # Safety
    /// The calling thread must hold `mutex`, and no thread may be waiting on this condition
    /// variable with a different mutex.
    #[inline]
    pub unsafe fn wait(&self, mutex: &RawMutex) -> Result<(), Error> {
        // SAFETY: both objects are initialised; the caller upholds the rules above.
        check(unsafe { libc::pthread_cond_wait(self.inner.get(), mutex.ptr()) })
    }

    /// `pthread_cond_timedwait` against `deadline` on `CLOCK_MONOTONIC`. `Ok(true)` when the
    /// deadline passed; the mutex is reacquired in every case.
    ///
    /// # Safety
    /// As for [`RawCond::wait`].
    #[inline]
    pub unsafe fn wait_until(&self, mutex: &RawMutex, deadline: &Deadline) -> Result<bool, Error> {
        // SAFETY: both objects are initialised, the condvar's clock is CLOCK_MONOTONIC like the
        // deadline's; the caller upholds the rules of `wait`.
        match unsafe { libc::pthread_cond_timedwait(self.inner.get(), mutex.ptr(), &deadline.0) } {
            0 => Ok(false),
            libc::ETIMEDOUT => Ok(true),
            e => Err(Error::from_errno(e)),
        }
    }

    /// `pthread_cond_signal`: wakes at least one waiter, if any.
    #[inline]
    pub fn notify_one(&self) {
        // SAFETY: the condvar is initialised; signalling cannot fail on glibc.
        unsafe { libc::pthread_cond_signal(self.inner.get()) };
    }

    /// `pthread_cond_broadcast`: wakes every waiter.
    #[inline]
    pub fn notify_all(&self) {
        // SAFETY: the condvar is initialised; broadcasting cannot fail on glibc.
        unsafe { libc::pthread_cond_broadcast(self.inner.get()) };
    }
}

impl Drop for RawCond {
    fn drop(&mut self) {
        // SAFETY: `&mut self`: nobody can be waiting on it; it is destroyed once.
        unsafe { libc::pthread_cond_destroy(self.inner.get()) };
    }
}

/// An unnamed POSIX semaphore (`sem_t`, process-private), at a stable address.
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
    /// A new semaphore holding `value`, in a heap allocation that never moves.
    pub fn new_boxed(value: u32) -> Result<Box<RawSem>, Error> {
        if value > SEM_VALUE_MAX {
            return Err(Error::InvalidInput(
                "semaphore value above SEM_VALUE_MAX (2147483647)",
            ));
        }
        let mut place = Box::<RawSem>::new_uninit();
        // SAFETY: `place` is a fresh writable allocation; pshared = 0 (threads of this
        // process); `value` is at most SEM_VALUE_MAX.
        if unsafe { libc::sem_init(place.as_mut_ptr().cast(), 0, value) } != 0 {
            return Err(Error::from_errno(last_errno()));
        }
        // SAFETY: `sem_init` succeeded, so the only field is initialised.
        Ok(unsafe { place.assume_init() })
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

impl Drop for RawSem {
    fn drop(&mut self) {
        // SAFETY: `&mut self`: nobody can be waiting on it; it is destroyed once.
        unsafe { libc::sem_destroy(self.ptr()) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The contention hint reads glibc's lock word: check the layout assumption on this glibc,
    /// for every kind, held and free, from this thread and another.
    #[test]
    fn looks_held_tracks_the_lock_word() {
        for kind in [
            MutexKind::Normal,
            MutexKind::ErrorCheck,
            MutexKind::Recursive,
        ] {
            let m = RawMutex::new_boxed(kind).unwrap();
            assert!(!m.looks_held(), "{kind:?} free");
            m.lock().unwrap();
            assert!(m.looks_held(), "{kind:?} held");
            let seen_elsewhere = std::thread::scope(|s| s.spawn(|| m.looks_held()).join().unwrap());
            assert!(seen_elsewhere, "{kind:?} held, seen from another thread");
            // SAFETY: this thread holds it.
            unsafe { m.unlock_held() };
            assert!(!m.looks_held(), "{kind:?} released");
        }
    }

    #[test]
    fn contended_lock_spins_then_blocks_and_still_excludes() {
        let m = RawMutex::new_boxed(MutexKind::Normal).unwrap();
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
