//! The atfork registry's core: a list of handlers kept consistent across `fork`, written once
//! for the real trampoline ([`crate::atfork`]) and for the loom model (which calls `prepare`,
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

use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use std::ops::Deref;

use crate::error::{fatal, Error};
use crate::kind::Kind;
use crate::locker::raw::{ForkRaw, RawLock};
use crate::locker::{ErrorCheckLocker, Lock};
use crate::shim::const_fn;
use crate::sys::MutexType;

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
    /// Whether `prepare` holds `entries` (it cannot when the fork comes from inside a
    /// handler of an enclosing fork); read by `parent` and `child` on the same thread.
    held: AtomicBool,
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
            Registry {
                entries: ErrorCheckLocker::new(Vec::new()),
                held: AtomicBool::new(false),
            }
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
    /// across a fork (see [`crate::atfork::protect`]).
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
        /// The lock, and whether `prepare` took it (else the forking thread held it); the
        /// three handlers of one fork run on one thread, in order.
        struct Protected<H> {
            lock: H,
            took: AtomicBool,
        }
        let p = Arc::new(Protected {
            lock,
            took: AtomicBool::new(false),
        });
        let (p1, p2) = (Arc::clone(&p), Arc::clone(&p));
        self.register(
            Some(Box::new(move || {
                p1.took.store(p1.lock.raw_lock().fork_prepare(), Relaxed)
            })),
            // SAFETY: run by the registry once per fork, after `prepare`, on its thread.
            Some(Box::new(move || unsafe {
                p2.lock.raw_lock().fork_parent(p2.took.load(Relaxed))
            })),
            // SAFETY: run by the registry once per fork, in the child, on its only thread.
            Some(Box::new(move || unsafe {
                p.lock.raw_lock().fork_child(p.took.load(Relaxed))
            })),
        )
    }

    /// Before the fork: takes the registry's lock (held until `parent` or `child`) and runs
    /// every `prepare`, the last registered first.
    pub fn prepare(&self) {
        match self.entries.lock() {
            Ok(mut entries) => {
                entries.retain(|e| !e.dropped.load(Relaxed));
                run(entries.iter().rev(), |e| &e.prepare);
                std::mem::forget(entries);
                self.held.store(true, Relaxed);
            }
            // A fork from inside a handler of an enclosing fork: the list is that fork's.
            Err(Error::Deadlock) => self.held.store(false, Relaxed),
            Err(e) => fatal("atfork registry lock (prepare)", e),
        }
    }

    /// In the parent after the fork: runs every `parent` in registration order, removes the
    /// registrations dropped during the fork, and releases the lock.
    ///
    /// # Safety
    /// Called once, on the thread that called `prepare`, after it.
    pub unsafe fn parent(&self) {
        if !self.held.load(Relaxed) {
            return;
        }
        // SAFETY: `prepare` took the lock on this thread (and forgot its guard), which gives
        // this thread exclusive access to the list until the unlock below.
        let entries = unsafe { &mut *self.entries.data_ptr() };
        run(entries.iter(), |e| &e.parent);
        entries.retain(|e| !e.dropped.load(Relaxed));
        // SAFETY: `prepare` took the lock on this thread and forgot its guard; the reference
        // above is not used after this.
        if let Err(e) = unsafe { self.entries.force_unlock() } {
            fatal("atfork registry unlock (parent)", e);
        }
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
        if !self.held.load(Relaxed) {
            return;
        }
        // SAFETY: the lock was taken by `prepare` on the thread this one is the copy of, and
        // the child has no other thread: exclusive access.
        let entries = unsafe { &*self.entries.data_ptr() };
        run(entries.iter(), |e| &e.child);
        // SAFETY: the child's only thread; no guard of the registry lock exists (prepare's
        // was forgotten).
        unsafe {
            self.entries
                .raw_lock()
                .mutex()
                .reinit(MutexType::ErrorCheck)
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
        match self.registry.entries.lock() {
            Ok(mut entries) => entries.retain(|e| !Arc::ptr_eq(e, &self.entry)),
            // From inside a fork handler: it still takes part in this fork; removed after.
            Err(Error::Deadlock) => self.entry.dropped.store(true, Relaxed),
            Err(e) => fatal("atfork registry lock (drop)", e),
        }
    }
}
