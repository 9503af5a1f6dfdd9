//! Process-shared objects armed in place on first use: how a `SharedLocker`, `SharedCond` or
//! `SharedSem` gets its pthread object initialised exactly once, at its final address inside
//! a shared-memory region, before any process uses it.
//!
//! The value is built unarmed (plain bytes: it can be moved, copied into a region by
//! `ShmBox`, and nothing else can reach it). The first use in any process arms it:
//!
//! - a state word, `0` (unarmed), `ARMING | pid` (the process `pid` is initialising it), or
//!   `ARMED`; the armer claims it with a compare-and-exchange from 0, initialises the object,
//!   then publishes `ARMED` with `Release` (users load it with `Acquire`);
//! - an object outside every region this process mapped through the crate is refused
//!   ([`Error::NotInRegion`]) before any initialisation, so safe code can never use a
//!   process-shared pthread object at an address that can move (a shared lock on the stack,
//!   say, locked there and then moved into a region);
//! - a user that finds another process arming waits for it, unless that process is gone (it
//!   died while arming): then the user takes the claim over and arms the object itself, so a
//!   dead armer never leaves others waiting forever.

use std::cell::UnsafeCell;
use std::sync::atomic::Ordering::{Acquire, Release};

use crate::error::Error;
use crate::model_check::{self, Mutation};
use crate::shim::{self, const_fn, AtomicU32};

/// The state word's values (a pid fits in 22 bits: Linux's `PID_MAX_LIMIT` is 2^22).
const UNARMED: u32 = 0;
const ARMED: u32 = 1;
const ARMING: u32 = 1 << 31;

/// An object of type `O` armed in place on first use. `repr(C)`: the state word first, then
/// the object (the layout the crate documents for C programs).
#[repr(C)]
pub(crate) struct Armed<O> {
    state: AtomicU32,
    obj: UnsafeCell<O>,
}

// SAFETY: `O` is a pthread object made to be shared between threads and processes; it is
// written only by the one armer, before `ARMED` is published, and used through shared
// references after.
unsafe impl<O: Send> Send for Armed<O> {}
// SAFETY: as above.
unsafe impl<O: Send + Sync> Sync for Armed<O> {}

impl<O> Armed<O> {
    const_fn! {
        /// An unarmed object: `obj` holds whatever bytes the arming needs to start from.
        pub(crate) const fn new(obj: O) -> Armed<O> {
            Armed { state: AtomicU32::new(UNARMED), obj: UnsafeCell::new(obj) }
        }
    }

    /// The armed object, arming it with `arm` (given the object's final address) if this is
    /// the first use.
    ///
    /// # Errors
    /// [`Error::NotInRegion`] outside a region this process mapped; any error of `arm` (the
    /// object is then left unarmed, for the next user to try).
    #[inline(always)]
    pub(crate) fn get(&self, arm: impl FnOnce(*mut O) -> Result<(), Error>) -> Result<&O, Error> {
        if self.state.load(Acquire) == ARMED {
            // SAFETY: armed (published with Release, seen with Acquire): initialised once and
            // never written again.
            return Ok(unsafe { &*self.obj.get() });
        }
        self.arm(arm)
    }

    /// The object, which the caller knows is armed.
    ///
    /// # Safety
    /// The object was armed: a `get` on it returned `Ok` (on any thread of this process,
    /// ordered before this call, as a guard of the lock proves).
    #[inline(always)]
    pub(crate) unsafe fn get_armed(&self) -> &O {
        // SAFETY: the caller guarantees it is armed, so never written again.
        unsafe { &*self.obj.get() }
    }

    #[cold]
    #[inline(never)]
    fn arm(&self, arm: impl FnOnce(*mut O) -> Result<(), Error>) -> Result<&O, Error> {
        if !shim::in_region(self as *const Self as usize, size_of::<Self>()) {
            return Err(Error::NotInRegion);
        }
        if model_check::active(Mutation::ArmStore) {
            // Deliberately broken (model checks only): check, then initialise and store.
            if self.state.load(Acquire) != ARMED {
                arm(self.obj.get())?;
                self.state.store(ARMED, Release);
            }
            // SAFETY: (not: this is the broken variant loom must reject.)
            return Ok(unsafe { &*self.obj.get() });
        }
        let claim = ARMING | shim::process_id();
        let mut expected = UNARMED;
        loop {
            match self
                .state
                .compare_exchange(expected, claim, Acquire, Acquire)
            {
                Ok(_) => {
                    // SAFETY: this thread's claim excludes every other user until ARMED is
                    // published; the object is inside a region, so it will not move.
                    if let Err(e) = arm(self.obj.get()) {
                        self.state.store(UNARMED, Release);
                        return Err(e);
                    }
                    self.state.store(ARMED, Release);
                    // SAFETY: armed just above.
                    return Ok(unsafe { &*self.obj.get() });
                }
                // SAFETY: published by its armer with Release, seen with Acquire.
                Err(ARMED) => return Ok(unsafe { &*self.obj.get() }),
                Err(UNARMED) => expected = UNARMED, // a failed armer gave it back
                Err(other) => {
                    let armer = other & !ARMING;
                    if armer != shim::process_id() && !shim::process_alive(armer) {
                        // Died while arming: take its claim over.
                        expected = other;
                    } else {
                        // Being armed (microseconds): let the armer run.
                        expected = UNARMED;
                        shim::yield_now();
                    }
                }
            }
        }
    }
}
