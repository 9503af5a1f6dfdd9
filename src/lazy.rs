//! A heap object created on first use and never moved: how in-process primitives get a
//! `const fn new` (like std's) while their pthread object keeps one address for its life.

use std::marker::PhantomData;
use std::ptr;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Release};

use crate::shim::{const_fn, AtomicPtr};

/// A `Box<T>` installed on first use by whichever thread gets there first.
///
/// The fast path is one `Acquire` load and a null check. When two threads race to create the
/// object, both build one, exactly one `compare_exchange` installs its own, and the loser
/// drops the one it built (never used, so dropping it is harmless).
pub(crate) struct LazyBox<T> {
    ptr: AtomicPtr<T>,
    /// It owns a `Box<T>`: auto traits follow `T`'s, not `AtomicPtr`'s (which ignore `T`).
    _owns: PhantomData<Box<T>>,
}

// SAFETY: sharing a `LazyBox` shares `&T` (needs `T: Sync`) and lets any thread create or
// drop the `T` (needs `T: Send`).
unsafe impl<T: Send + Sync> Sync for LazyBox<T> {}
// SAFETY: sending a `LazyBox` sends the owned `T`.
unsafe impl<T: Send> Send for LazyBox<T> {}

impl<T> LazyBox<T> {
    const_fn! {
        pub(crate) const fn new() -> LazyBox<T> {
            LazyBox { ptr: AtomicPtr::new(ptr::null_mut()), _owns: PhantomData }
        }
    }

    /// The object, created by `init` if this is the first use.
    #[inline(always)]
    pub(crate) fn get_or_init(&self, init: impl FnOnce() -> Box<T>) -> &T {
        let p = self.ptr.load(Acquire);
        if p.is_null() {
            self.install(init)
        } else {
            // SAFETY: a non-null pointer was installed by `install` from `Box::into_raw`, and
            // it is freed only in `drop` (`&mut self`), so it is valid for as long as `self`.
            unsafe { &*p }
        }
    }

    #[cold]
    #[inline(never)]
    fn install(&self, init: impl FnOnce() -> Box<T>) -> &T {
        let new = Box::into_raw(init());
        if crate::model_check::active(crate::model_check::Mutation::LazyInitStore) {
            // Deliberately broken (model checks only): check-then-store, no compare_exchange.
            self.ptr.store(new, Release);
            // SAFETY: `new` came from `Box::into_raw` just above.
            return unsafe { &*new };
        }
        match self
            .ptr
            .compare_exchange(ptr::null_mut(), new, AcqRel, Acquire)
        {
            // SAFETY: `new` is now installed; it lives until `drop`.
            Ok(_) => unsafe { &*new },
            Err(existing) => {
                // SAFETY: `new` was never published; this thread owns it alone.
                drop(unsafe { Box::from_raw(new) });
                // SAFETY: `existing` is non-null (the exchange failed) and installed by
                // another thread's `install`; it lives until `drop`.
                unsafe { &*existing }
            }
        }
    }

    /// The object, if it was ever created.
    #[inline]
    pub(crate) fn get(&self) -> Option<&T> {
        // SAFETY: as in `get_or_init`.
        unsafe { self.ptr.load(Acquire).as_ref() }
    }
}

impl<T> Drop for LazyBox<T> {
    fn drop(&mut self) {
        let p = self.ptr.load(Acquire);
        if !p.is_null() {
            // SAFETY: `p` came from `Box::into_raw` and, with `&mut self`, nothing else can
            // reach it any more.
            drop(unsafe { Box::from_raw(p) });
        }
    }
}
