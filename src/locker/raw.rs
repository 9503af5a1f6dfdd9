//! How a kind takes and releases its pthread mutex: the raw half of the lock, below the typed
//! [`Lock`](super::Lock) (as `lock_api` splits `RawMutex` from `Mutex`).

use std::marker::PhantomData;
use std::time::Duration;

use crate::error::Error;
use crate::shim::const_fn;
use crate::sys::{MutexType, Protocol, RawMutex, DEFAULT_CEILING};

/// The raw operations of one kind of lock.
///
/// # Safety
/// An implementation must provide mutual exclusion: after `lock`, `try_lock` or `lock_for`
/// returns `Ok` on a thread, no other thread's call returns `Ok` until that thread has called
/// `unlock` as many times as it acquired. `mutex` must return the pthread mutex the lock is
/// held through, released and reacquired by a condition variable wait (for the kinds a
/// condvar accepts).
pub unsafe trait RawLock: Send + Sync + Sized {
    /// A new, unlocked lock (what `Default` and `From` use; each kind's `new` builds the same
    /// value in a `const fn`).
    fn new() -> Self;
    /// Blocks until acquired.
    fn lock(&self) -> Result<(), Error>;
    /// Acquires if possible without blocking.
    fn try_lock(&self) -> Result<(), Error>;
    /// Blocks until acquired or `dur` has passed (`Err(TimedOut)`).
    fn lock_for(&self, dur: Duration) -> Result<(), Error>;
    /// Releases one acquisition.
    ///
    /// # Safety
    /// The calling thread holds the lock.
    unsafe fn unlock(&self);
    /// The pthread mutex underneath.
    ///
    /// # Safety
    /// For a process-shared lock: it was acquired at least once (its mutex exists only once
    /// armed, which its first acquisition does); a guard proves it. An in-process lock's
    /// mutex always exists: no condition.
    unsafe fn mutex(&self) -> &RawMutex;
}

/// The priority protocol of a raw lock, as a type: [`NoProtocol`] (the plain kinds),
/// [`InheritProtocol`] (`PTHREAD_PRIO_INHERIT`), [`ProtectProtocol`] (`PTHREAD_PRIO_PROTECT`).
/// Its constants are known at compile time, so every branch on them is folded away: the plain
/// kinds' lock paths are what they were before protocols existed.
pub trait Proto: Send + Sync + 'static {
    /// The protocol of a mutex built by `new` (for the ceiling protocol: glibc's default
    /// ceiling, what `Default` gives).
    const PROTOCOL: Protocol;
    /// Whether the normal kind spins on a held mutex before sleeping. Only without a
    /// protocol: under priority inheritance the waiter must go to the kernel
    /// (`FUTEX_LOCK_PI`) to boost the holder, and every attempt at a ceiling mutex changes
    /// the caller's priority (a system call), so spinning on either only delays.
    const SPINS: bool;
    /// Whether it is the ceiling protocol: each acquisition is checked first (see
    /// [`protect`]) and its `EINVAL`/`EPERM` named.
    const CEILING: bool;
}

/// No priority protocol (`PTHREAD_PRIO_NONE`): the plain kinds.
pub enum NoProtocol {}
/// Priority inheritance (`PTHREAD_PRIO_INHERIT`).
pub enum InheritProtocol {}
/// Priority ceiling (`PTHREAD_PRIO_PROTECT`).
pub enum ProtectProtocol {}

impl Proto for NoProtocol {
    const PROTOCOL: Protocol = Protocol::None;
    const SPINS: bool = true;
    const CEILING: bool = false;
}
impl Proto for InheritProtocol {
    const PROTOCOL: Protocol = Protocol::Inherit;
    const SPINS: bool = false;
    const CEILING: bool = false;
}
impl Proto for ProtectProtocol {
    const PROTOCOL: Protocol = Protocol::Protect {
        ceiling: DEFAULT_CEILING,
    };
    const SPINS: bool = false;
    const CEILING: bool = true;
}

/// The protocols whose locks the atfork registry can take in `prepare` (any thread may fork;
/// a ceiling mutex refuses a thread that is not real-time, and `prepare` cannot fail).
pub trait Forkable: Proto {}
impl Forkable for NoProtocol {}
impl Forkable for InheritProtocol {}

/// An acquisition of a mutex of protocol `P`: for the ceiling protocol, the calling thread's
/// policy is checked first ([`crate::sys::ceiling_ready`]: glibc can raise only a real-time
/// thread, and its refusal of any other leaves its bookkeeping behind, see the README,
/// "Priority protocols"), and glibc's `EINVAL` is named: with a real-time caller it can only
/// mean the caller is above the ceiling (POSIX); `EPERM` is the boost refused. For the other
/// protocols, `acquire` itself.
#[inline(always)]
pub(crate) fn protect<P: Proto>(acquire: impl FnOnce() -> Result<(), Error>) -> Result<(), Error> {
    if !P::CEILING {
        return acquire();
    }
    crate::sys::ceiling_ready()?;
    acquire().map_err(|e| match e {
        Error::InvalidInput(_) => Error::AboveCeiling,
        Error::NotOwner => Error::BoostRefused,
        e => e,
    })
}

/// The raw locks built with a protocol given at run time (the ceiling constructors), and
/// whose protocol a forked child must rebuild.
pub trait WithProtocol: RawLock {
    /// A new unlocked lock whose mutex has `protocol`.
    fn with_protocol(protocol: Protocol) -> Self;
}

/// What a `fork`ed child re-initialises a mutex of protocol `P` with: `P`'s, and for the
/// ceiling protocol the ceiling the mutex has now (it may have been changed since it was
/// built).
fn protocol_now<P: Proto>(mutex: &RawMutex) -> Protocol {
    match P::PROTOCOL {
        Protocol::Protect { ceiling } => Protocol::Protect {
            ceiling: mutex.priority_ceiling().unwrap_or(ceiling),
        },
        p => p,
    }
}

/// A pthread mutex taken and released directly, once per guard: the normal kind
/// (`CHECKED = false`: a bounded spin when held, without a protocol) and the errorcheck kind
/// (`CHECKED = true`: no spin, so a relock reports `Deadlock` at once, and a holder gone from
/// the process is `OwnerGone`, not a hang), each with a priority protocol `P`.
#[repr(transparent)]
pub struct Plain<const CHECKED: bool, P: Proto = NoProtocol>(RawMutex, PhantomData<fn() -> P>);

impl<const CHECKED: bool, P: Proto> Plain<CHECKED, P> {
    /// The pthread mutex type.
    const TYPE: MutexType = if CHECKED {
        MutexType::ErrorCheck
    } else {
        MutexType::Normal
    };

    const_fn! {
        /// A new unlocked mutex (glibc's static initialiser of the flavour's type, with the
        /// protocol's bits).
        #[inline(always)]
        pub(crate) const fn new_const() -> Self {
            Plain::with_protocol_const(P::PROTOCOL)
        }
    }

    const_fn! {
        /// A new unlocked mutex with `protocol` (a ceiling already checked).
        #[inline(always)]
        pub(crate) const fn with_protocol_const(protocol: Protocol) -> Self {
            Plain(RawMutex::with_protocol(Self::TYPE, protocol), PhantomData)
        }
    }
}

impl<const CHECKED: bool, P: Proto> WithProtocol for Plain<CHECKED, P> {
    fn with_protocol(protocol: Protocol) -> Self {
        Plain::with_protocol_const(protocol)
    }
}

// SAFETY: every operation is the pthread call on the one mutex, which excludes; `mutex` is it.
unsafe impl<const CHECKED: bool, P: Proto> RawLock for Plain<CHECKED, P> {
    fn new() -> Self {
        Plain::new_const()
    }

    #[inline(always)]
    fn lock(&self) -> Result<(), Error> {
        if CHECKED {
            protect::<P>(|| self.0.lock_checked())
        } else if P::SPINS {
            self.0.lock()
        } else {
            protect::<P>(|| self.0.lock_direct())
        }
    }

    #[inline(always)]
    fn try_lock(&self) -> Result<(), Error> {
        protect::<P>(|| self.0.try_lock(CHECKED))
    }

    #[inline]
    fn lock_for(&self, dur: Duration) -> Result<(), Error> {
        protect::<P>(|| self.0.lock_for(dur, CHECKED))
    }

    #[inline(always)]
    unsafe fn unlock(&self) {
        // SAFETY: the caller holds the mutex.
        unsafe { self.0.unlock_held() }
    }

    #[inline(always)]
    unsafe fn mutex(&self) -> &RawMutex {
        &self.0
    }
}

/// A dropped in-process lock leaves the lock-order graph (its address is the lock's: `raw`
/// is the first field of the `repr(C)` [`Lock`](super::Lock)).
impl<const CHECKED: bool, P: Proto> Drop for Plain<CHECKED, P> {
    #[inline(always)]
    fn drop(&mut self) {
        crate::lock_order::dropped(self as *const Self as usize);
    }
}

/// What `fork_prepare` did with a protected lock.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum ForkHold {
    /// Took it (no guard holds it): released in the parent, re-initialised in the child.
    Took = 0,
    /// The forking thread already held it through a guard: re-initialised and taken again by
    /// the child's thread in the child, so that guard releases it there.
    Mine = 1,
    /// Held by a thread gone from the process (it can never be taken): left as it is.
    Left = 2,
}

impl ForkHold {
    /// Back from its `u8`.
    pub fn from_u8(v: u8) -> ForkHold {
        match v {
            0 => ForkHold::Took,
            1 => ForkHold::Mine,
            _ => ForkHold::Left,
        }
    }
}

/// How an in-process lock is kept consistent across `fork` (the atfork registry's
/// `atfork::protect`). The three calls run on the forking thread: `prepare`
/// before the fork, then `parent` in the parent or `child` in the child, with what `prepare`
/// returned.
pub trait ForkRaw: RawLock {
    /// Takes the pthread mutex unless the calling (forking) thread already holds it, or its
    /// holder is gone from the process.
    fn fork_prepare(&self) -> ForkHold;

    /// Releases what `fork_prepare` took.
    ///
    /// # Safety
    /// Called once on the thread that called `fork_prepare`, with its result.
    unsafe fn fork_parent(&self, hold: ForkHold);

    /// In the child: re-initialises the mutex (its owner may be a thread of the parent);
    /// if the forking thread held it through a guard, takes it again as the child's thread,
    /// so that guard releases it.
    ///
    /// # Safety
    /// Called once, in the child of a fork, on its only thread, with `fork_prepare`'s result.
    unsafe fn fork_child(&self, hold: ForkHold);
}

/// The shared body of the fork protocol for a lock over `mutex`; `mine` says whether the
/// forking thread holds the lock.
pub(crate) fn fork_prepare(mutex: &RawMutex, mine: bool) -> ForkHold {
    if mine {
        return ForkHold::Mine;
    }
    match mutex.lock_checked() {
        Ok(()) => ForkHold::Took,
        Err(Error::OwnerGone) => ForkHold::Left,
        Err(e) => crate::error::fatal("pthread_mutex_lock (fork prepare)", e),
    }
}

/// See [`ForkRaw::fork_parent`].
///
/// # Safety
/// As [`ForkRaw::fork_parent`].
pub(crate) unsafe fn fork_parent(mutex: &RawMutex, hold: ForkHold) {
    if hold == ForkHold::Took {
        // SAFETY: `fork_prepare` took it on this thread.
        unsafe { mutex.unlock_held() };
    }
}

/// See [`ForkRaw::fork_child`].
///
/// # Safety
/// As [`ForkRaw::fork_child`].
pub(crate) unsafe fn fork_child<P: Proto>(mutex: &RawMutex, ty: MutexType, hold: ForkHold) {
    if hold == ForkHold::Left {
        return;
    }
    // SAFETY: the child has one thread, this one; no other can use the mutex.
    unsafe { mutex.reinit(ty, protocol_now::<P>(mutex)) };
    if hold == ForkHold::Mine {
        if let Err(e) = mutex.lock_direct() {
            crate::error::fatal("pthread_mutex_lock (fork child)", e);
        }
    }
}

impl<const CHECKED: bool, P: Forkable> ForkRaw for Plain<CHECKED, P> {
    fn fork_prepare(&self) -> ForkHold {
        fork_prepare(&self.0, self.0.held_by_me())
    }

    unsafe fn fork_parent(&self, hold: ForkHold) {
        // SAFETY: forwarded from the caller.
        unsafe { fork_parent(&self.0, hold) }
    }

    unsafe fn fork_child(&self, hold: ForkHold) {
        // SAFETY: forwarded from the caller.
        unsafe { fork_child::<P>(&self.0, Self::TYPE, hold) }
    }
}
