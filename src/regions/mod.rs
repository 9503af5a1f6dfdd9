//! The process's table of live regions and of the robust locks held in them: the lowest layer
//! of placement (see `table.rs` for how it works and why it is sound).
//!
//! - [`contains`]: whether an address range lies in a region this process mapped through
//!   `ShmBox` (the only places a process-shared object may be armed);
//! - [`register`] / [`unregister`]: `shm` enters a region it mapped, and removes it at drop,
//!   learning whether the memory must stay mapped (a robust mutex in it is still held);
//! - [`hold`] / [`released`]: a robust lock checks before each acquisition that it lies in a
//!   live region and counts the acquisition, and uncounts it at release ([`hold_last`],
//!   [`released_last`]: the same for the region the thread used last, the lock's fast path);
//! - [`identity`]: where an object lies in the underlying shared-memory object, the same
//!   through every mapping of it (a named region opened twice in one process), for the
//!   process-local records that must name one object whichever mapping reaches it.
//!
//! In the model build (loom), threads stand in for processes and every object made inside the
//! model stands for one in a region: the answers are constant and nothing is counted.

#[cfg(not(loom))]
mod table;
#[cfg(not(loom))]
pub(crate) use table::{
    contains, hold, hold_last, identity, released, released_last, Hold, Unhold,
};
#[cfg(all(not(loom), target_has_atomic = "64"))]
pub(crate) use table::{register, unregister, Object};

/// Where an object lies in the underlying object (see `table::Identity`); in the model,
/// nothing is mapped twice: the object `(0, 0)`, at its address.
#[cfg(loom)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Identity {
    pub(crate) object: Object,
    pub(crate) offset: usize,
}

/// What a region maps (see `table::Object`).
#[cfg(loom)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Object {
    pub(crate) dev: u64,
    pub(crate) ino: u64,
}

/// In the model, every object is in one region, mapped once: the object `(0, 0)`, at its
/// address.
#[cfg(loom)]
pub(crate) fn identity(addr: usize, _len: usize) -> Option<Identity> {
    Some(Identity {
        object: Object { dev: 0, ino: 0 },
        offset: addr,
    })
}

/// In the model, every object is in a region.
#[cfg(loom)]
pub(crate) fn contains(_addr: usize, _len: usize) -> bool {
    true
}

/// In the model, nothing is counted.
#[cfg(loom)]
pub(crate) struct Hold;

#[cfg(loom)]
impl Hold {
    #[inline(always)]
    pub(crate) fn acquired(&self, _recursive: bool) -> bool {
        true
    }
    #[inline(always)]
    pub(crate) fn failed(&self, _recursive: bool) {}
}

/// In the model, every object is in a region; nothing is counted.
#[cfg(loom)]
#[inline(always)]
pub(crate) fn hold(_addr: usize, _len: usize) -> Option<Hold> {
    Some(Hold)
}

/// In the model, every object is in a region; nothing is counted.
#[cfg(loom)]
#[inline(always)]
pub(crate) fn hold_last(_addr: usize, _len: usize) -> Option<Hold> {
    Some(Hold)
}

/// In the model, nothing is counted.
#[cfg(loom)]
pub(crate) struct Unhold;

#[cfg(loom)]
impl Unhold {
    #[inline(always)]
    pub(crate) fn down(self, _recursive: bool) {}
}

/// In the model, nothing is counted.
#[cfg(loom)]
#[inline(always)]
pub(crate) fn released_last(_addr: usize, _len: usize) -> Option<Unhold> {
    Some(Unhold)
}

/// In the model, nothing is counted.
#[cfg(loom)]
#[inline(always)]
pub(crate) fn released(_addr: usize, _len: usize, _recursive: bool) {}
