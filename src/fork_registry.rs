//! The atfork registry's core: a list of handlers kept consistent across `fork`, written once
//! for the real trampoline (`atfork`) and for the loom model (which calls `prepare`,
//! `parent` and `child` itself, threads standing in for a forking process).
//!
//! The registry's lock (an errorcheck mutex) is taken in `prepare` and held until `parent` or
//! `child`, so a fork sees one consistent list: a registration or a drop on another thread
//! waits until the fork is over and takes no part in it, and no handler ever runs half
//! registered or after its drop returned. Handlers run with the lock held: one that registers
//! gets [`Error::Deadlock`] (not a hang), one that drops a registration has it removed after
//! the fork (it still takes part in the fork under way, all three phases, so a lock taken in
//! `prepare` is always released). In the child the lock is re-initialised in place, as glibc
//! does with its own locks: nothing is allocated or freed there.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU8};
use std::sync::Arc;

use std::ops::Deref;

use crate::error::{fatal, Error};
use crate::kind::Kind;
use crate::locker::raw::{ForkHold, ForkRaw, RawLock};
use crate::locker::{ErrorCheckLocker, Lock};
use crate::shim::{const_fn, thread_local_const};
use crate::sys::{MutexType, Protocol};

/// A handler: a closure run on the forking thread.
pub type Action = Box<dyn Fn() + Send + Sync>;

/// One registration's handlers.
pub struct Entry {
    prepare: Option<Action>,
    parent: Option<Action>,
    child: Option<Action>,
    /// Dropped from inside a fork handler: removed once the fork is over.
    dropped: AtomicBool,
}

/// The registry: its handlers in registration order, under an errorcheck mutex.
pub struct Registry {
    entries: ErrorCheckLocker<Vec<Arc<Entry>>>,
}

thread_local_const! {
    /// How many forks the calling thread is inside the handlers of (from `prepare` to the end
    /// of `parent` or `child`): 0 outside, 2 for a fork made from inside a handler. Copied into
    /// the child with the forking thread, so it holds there too.
    static FORK_DEPTH: std::cell::Cell<u32> = std::cell::Cell::new(0);
}

/// Whether the calling thread is running fork handlers.
fn in_fork() -> bool {
    FORK_DEPTH.with(|d| d.get() > 0)
}

/// A registration; dropping it unregisters its handlers.
#[must_use = "dropping the registration unregisters its handlers at once"]
pub struct Registration<'r> {
    registry: &'r Registry,
    entry: Arc<Entry>,
}

impl Registry {
    const_fn! {
        /// An empty registry.
        pub const fn new() -> Registry {
            Registry { entries: ErrorCheckLocker::new(Vec::new()) }
        }
    }

    /// Adds handlers, after every handler registered so far (so its `prepare` runs before
    /// theirs, its `parent` and `child` after).
    ///
    /// # Errors
    /// [`Error::Deadlock`] when called from inside a fork handler of this registry.
    pub fn register(
        &self,
        prepare: Option<Action>,
        parent: Option<Action>,
        child: Option<Action>,
    ) -> Result<Registration<'_>, Error> {
        if in_fork() {
            // The registry's lock belongs to the fork under way (in the child: to a thread of
            // the parent).
            return Err(Error::Deadlock);
        }
        let mut entries = self.entries.lock()?;
        entries.retain(|e| !e.dropped.load(Relaxed));
        let entry = Arc::new(Entry {
            prepare,
            parent,
            child,
            dropped: AtomicBool::new(false),
        });
        entries.push(Arc::clone(&entry));
        Ok(Registration {
            registry: self,
            entry,
        })
    }

    /// Registers the three handlers that keep `lock` (a `&'static` or an `Arc`) consistent
    /// across a fork (see `atfork::protect`).
    ///
    /// # Errors
    /// As [`Registry::register`].
    pub fn protect<K, T, H>(&self, lock: H) -> Result<Registration<'_>, Error>
    where
        K: Kind,
        K::Raw: ForkRaw,
        T: ?Sized,
        H: Deref<Target = Lock<K, T>> + Send + Sync + 'static,
    {
        /// The lock, and what `prepare` did with it (a `ForkHold`); the three handlers of
        /// one fork run on one thread, in order.
        struct Protected<H> {
            lock: H,
            hold: AtomicU8,
        }
        let p = Arc::new(Protected {
            lock,
            hold: AtomicU8::new(0),
        });
        let (p1, p2) = (Arc::clone(&p), Arc::clone(&p));
        self.register(
            Some(Box::new(move || {
                p1.hold
                    .store(p1.lock.raw_lock().fork_prepare() as u8, Relaxed)
            })),
            // SAFETY: run by the registry once per fork, after `prepare`, on its thread.
            Some(Box::new(move || unsafe {
                let hold = ForkHold::from_u8(p2.hold.load(Relaxed));
                p2.lock.raw_lock().fork_parent(hold)
            })),
            // SAFETY: run by the registry once per fork, in the child, on its only thread.
            Some(Box::new(move || unsafe {
                let hold = ForkHold::from_u8(p.hold.load(Relaxed));
                p.lock.raw_lock().fork_child(hold)
            })),
        )
    }

    /// Before the fork: takes the registry's lock (held until `parent` or `child`) and runs
    /// every `prepare`, the last registered first. A fork from inside a handler takes no part
    /// (its list is the enclosing fork's).
    pub fn prepare(&self) {
        let depth = FORK_DEPTH.with(|d| d.replace(d.get() + 1));
        if depth > 0 {
            return;
        }
        match self.entries.lock() {
            Ok(mut entries) => {
                entries.retain(|e| !e.dropped.load(Relaxed));
                run(entries.iter().rev(), |e| &e.prepare);
                std::mem::forget(entries);
            }
            Err(e) => fatal("atfork registry lock (prepare)", e),
        }
    }

    /// Leaves a fork's handlers; whether this was the outermost fork.
    fn leave(&self) -> bool {
        FORK_DEPTH.with(|d| d.replace(d.get().saturating_sub(1))) == 1
    }

    /// In the parent after the fork: runs every `parent` in registration order, removes the
    /// registrations dropped during the fork, and releases the lock.
    ///
    /// # Safety
    /// Called once, on the thread that called `prepare`, after it.
    pub unsafe fn parent(&self) {
        if !self.leave() {
            return;
        }
        // Marked back as inside the fork while the handlers run.
        FORK_DEPTH.with(|d| d.set(1));
        // SAFETY: `prepare` took the lock on this thread (and forgot its guard), which gives
        // this thread exclusive access to the list until the unlock below.
        let entries = unsafe { &mut *self.entries.data_ptr() };
        run(entries.iter(), |e| &e.parent);
        entries.retain(|e| !e.dropped.load(Relaxed));
        FORK_DEPTH.with(|d| d.set(0));
        // The unlock is refused only after a fork from inside a handler re-initialised the
        // lock in the child: nothing to release then.
        // SAFETY: `prepare` took the lock on this thread and forgot its guard; the reference
        // above is not used after this.
        let _ = unsafe { self.entries.force_unlock() };
    }

    /// In the child after the fork: runs every `child` in registration order, then
    /// re-initialises the lock in place (its owner is a thread of the parent). Allocates and
    /// frees nothing: registrations dropped during the fork are removed at the next
    /// registration or fork.
    ///
    /// # Safety
    /// Called once, in the child of a fork, on its only thread, after `prepare` ran in the
    /// parent.
    pub unsafe fn child(&self) {
        if self.leave() {
            FORK_DEPTH.with(|d| d.set(1));
            // SAFETY: the lock was taken by `prepare` on the thread this one is the copy of,
            // and the child has no other thread: exclusive access.
            let entries = unsafe { &*self.entries.data_ptr() };
            run(entries.iter(), |e| &e.child);
            FORK_DEPTH.with(|d| d.set(0));
        }
        // Whether this fork took the lock or an enclosing one did (a fork from a handler),
        // its owner is a thread of the parent: re-initialise it so the child can use the
        // registry. (An enclosing fork's `parent` handlers then still run in this process, as
        // its code continues there; its unlock of the fresh lock is refused and ignored.)
        // SAFETY: an in-process lock's mutex always exists; the child's only thread, and no
        // guard of the registry lock exists (prepare's was forgotten).
        unsafe {
            self.entries
                .raw_lock()
                .mutex()
                .reinit(MutexType::ErrorCheck, Protocol::None)
        };
    }
}

/// Runs one phase's handler of each entry, in the order given.
fn run<'a>(entries: impl Iterator<Item = &'a Arc<Entry>>, phase: fn(&Entry) -> &Option<Action>) {
    for e in entries {
        if let Some(f) = phase(e) {
            f();
        }
    }
}

impl Default for Registry {
    fn default() -> Registry {
        Registry::new()
    }
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        if in_fork() {
            // From inside a fork handler: it still takes part in this fork; removed after.
            self.entry.dropped.store(true, Relaxed);
            return;
        }
        match self.registry.entries.lock() {
            Ok(mut entries) => entries.retain(|e| !Arc::ptr_eq(e, &self.entry)),
            Err(e) => fatal("atfork registry lock (drop)", e),
        }
    }
}
