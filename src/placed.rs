//! The placement layer: [`Placed<O>`](Placed), one generic cell over any pthread object that
//! can be initialised in place ([`InPlace`]), armed on first use. It is how a `SharedLocker`
//! or `SharedSem` (and any later process-shared primitive) gets its pthread object
//! initialised exactly once, at its final address inside a shared-memory region, before any
//! process uses it. A process-shared primitive is then one `Placed<Raw>` field and a thin
//! public type; what differs between primitives is only the raw object and its attribute value
//! (`sys::InPlace::Attr`), and, for robust mutexes, the holds counted in `crate::regions`.
//!
//! Below it: `crate::regions` (the table of live regions: where arming is allowed) and `sys`
//! (the objects). Above it: the primitives. `SharedCond` needs no arming at all (its futex
//! words are valid at zero), so it has no `Placed` field.
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
//! - a user that finds another process arming waits for it (sleeping, at most a second, then
//!   [`Error::Unfinished`]), unless that process is gone (it died while arming): then the user
//!   takes the claim over and arms the object itself, so a dead armer never leaves others
//!   waiting forever. A claim in this process's own name with no thread of it arming is a
//!   dead process's (pid reuse) and is taken over too; any other word (a claim naming pid 0
//!   or a pid at or above `PID_MAX_LIMIT`, 2^22, included) is refused as corrupt.
//!
//! So a signal handler may use a process-shared object (`SharedSem::post`) once it is armed;
//! its first use (arming) should come from ordinary code (`value()` arms it).

use std::cell::UnsafeCell;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use crate::error::Error;
use crate::regions;
use crate::shim::{self, const_fn, AtomicU32};
use crate::switches::{self, Mutation};
use crate::sys::{self, InPlace};

/// The state word's values (a pid fits in 22 bits: Linux's `PID_MAX_LIMIT` is 2^22).
const UNARMED: u32 = 0;
const ARMED: u32 = 1;
const ARMING: u32 = 1 << 31;
/// Linux's `PID_MAX_LIMIT` on 64-bit targets: every process id is below it. A claim naming
/// pid 0 or one at or above it is no claim at all (a corrupt word, not a dead armer's).
const PID_LIMIT: u32 = 1 << 22;

/// How long a user waits for a live armer before giving up with [`Error::Unfinished`]
/// (arming takes microseconds; a stopped or stuck armer must not hold others forever).
const ARM_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// How many threads of this process are arming an object right now (a plain std atomic: not
/// part of any model; in the model, threads stand for processes and every claim is live).
static ARMING_HERE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// An object of type `O` armed in place on first use. `repr(C)`: the state word first, then
/// the object (the layout the crate documents for C programs). `!Unpin`: an armed object
/// must never move, so no safe `&mut` to one is handed out (see `locker::shared`).
#[repr(C)]
pub(crate) struct Placed<O> {
    state: AtomicU32,
    obj: UnsafeCell<O>,
    _pinned: std::marker::PhantomPinned,
}

// SAFETY: `O` is a pthread object made to be shared between threads and processes; it is
// written only by the one armer, before `ARMED` is published, and used through shared
// references after.
unsafe impl<O: Send> Send for Placed<O> {}
// SAFETY: as above.
unsafe impl<O: Send + Sync> Sync for Placed<O> {}

impl<O: InPlace> Placed<O> {
    const_fn! {
        /// An unarmed object: `obj` is a value built by `O`'s constructor, which arming
        /// initialises in place.
        pub(crate) const fn new(obj: O) -> Placed<O> {
            Placed {
                state: AtomicU32::new(UNARMED),
                obj: UnsafeCell::new(obj),
                _pinned: std::marker::PhantomPinned,
            }
        }
    }

    /// The armed object, initialising it in place with the attributes `attr` gives if this
    /// is the first use (`attr` is called only then: the armed path builds nothing).
    ///
    /// # Errors
    /// [`Error::NotInRegion`] outside a region this process mapped; any error of the
    /// initialisation (the object is then left unarmed, for the next user to try).
    #[inline(always)]
    pub(crate) fn get(&self, attr: impl FnOnce() -> O::Attr) -> Result<&O, Error> {
        if let Some(armed) = self.armed() {
            return Ok(armed);
        }
        self.arm(|place| {
            let attr = attr();
            // SAFETY: `arm` calls this with the object's final address inside a region
            // (checked first), claimed by this thread alone until it is published; the value
            // there was built by `O`'s constructor (`new`) and is unused.
            unsafe { O::init_in_place(place, &attr) }
        })
    }

    /// The object if it is armed (`get` without the arming, for a fast path that leaves
    /// everything else to `get`).
    #[inline(always)]
    pub(crate) fn armed(&self) -> Option<&O> {
        if self.state.load(Acquire) == ARMED {
            // SAFETY: armed (published with Release, seen with Acquire): initialised once and
            // never written again.
            return Some(unsafe { &*self.obj.get() });
        }
        None
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
        if !regions::contains(self as *const Self as usize, size_of::<Self>()) {
            return Err(Error::NotInRegion);
        }
        if switches::active(Mutation::ArmStore) {
            // Deliberately broken (model checks only): check, then initialise and store.
            if self.state.load(Acquire) != ARMED {
                arm(self.obj.get())?;
                self.state.store(ARMED, Release);
            }
            // SAFETY: (not: this is the broken variant loom must reject.)
            return Ok(unsafe { &*self.obj.get() });
        }
        let me = shim::process_id();
        let claim = ARMING | me;
        let mut expected = UNARMED;
        let mut waited = shim::Backoff::new(ARM_WAIT);
        loop {
            match self
                .state
                .compare_exchange(expected, claim, Acquire, Acquire)
            {
                Ok(_) => {
                    ARMING_HERE.fetch_add(1, Relaxed);
                    // SAFETY: this thread's claim excludes every other user until ARMED is
                    // published; the object is inside a region, so it will not move.
                    let armed = arm(self.obj.get());
                    let next = if armed.is_ok() { ARMED } else { UNARMED };
                    self.state.store(next, Release);
                    ARMING_HERE.fetch_sub(1, Relaxed);
                    armed?;
                    // SAFETY: armed just above.
                    return Ok(unsafe { &*self.obj.get() });
                }
                // SAFETY: published by its armer with Release, seen with Acquire.
                Err(ARMED) => return Ok(unsafe { &*self.obj.get() }),
                Err(UNARMED) => expected = UNARMED, // a failed armer gave it back
                Err(other)
                    if other & ARMING == 0 || !(1..PID_LIMIT).contains(&(other & !ARMING)) =>
                {
                    // Neither unarmed, armed nor a claim naming a possible process id:
                    // written by something else. Never taken over (that would initialise
                    // again an object others may be using).
                    return Err(Error::CorruptHeader(
                        "the arming word of a process-shared object holds an unknown value",
                    ));
                }
                Err(other) => {
                    let armer = other & !ARMING;
                    // A claim in this process's name is live only while one of its threads
                    // arms (else it is a dead process's, whose pid this one now has).
                    let live = if armer == me {
                        ARMING_HERE.load(Relaxed) > 0
                    } else {
                        sys::process_alive(armer)
                    };
                    if live {
                        // Being armed (microseconds): wait, bounded.
                        expected = UNARMED;
                        if !waited.wait() {
                            return Err(Error::Unfinished);
                        }
                    } else {
                        // Died while arming: take its claim over.
                        expected = other;
                    }
                }
            }
        }
    }
}
