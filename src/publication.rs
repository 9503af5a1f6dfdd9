//! How a shared-memory region's creator publishes it to openers: the init-state word and
//! the creator's pid of the region header (bytes 40-47, see `shm`), with the exact
//! memory orderings. Written over the shim's atomics so the loom model checks this protocol
//! (threads standing in for the creator and the openers); the header embeds it at its
//! documented offsets.
//!
//! The creator writes the other header fields (relaxed), then [`Publication::begin`] (the
//! pid, then state 1 with `Release`: the fields are visible to whoever sees state 1 or 2 with
//! `Acquire`), then the value, then [`Publication::finish`] (state 2 with `Release`: the value
//! is visible to whoever sees state 2 with `Acquire`). An opener [`Publication::look`]s
//! (`Acquire`) and forms no `&T` before it sees state 2.

use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use crate::shim::{const_fn, AtomicI32, AtomicU32};
use crate::switches::{self, Mutation};

/// State 0: the header is not written yet (the object is fresh from `ftruncate`).
pub(crate) const STATE_UNWRITTEN: u32 = 0;
/// State 1: the header is written and the creator's pid set; the value is being written.
pub(crate) const STATE_INITIALISING: u32 = 1;
/// State 2: the value is written; the region is ready.
pub(crate) const STATE_READY: u32 = 2;

/// The init-state word and the creator's pid, in this order (8 bytes, `repr(C)`).
#[repr(C)]
pub struct Publication {
    state: AtomicU32,
    creator: AtomicI32,
}

/// What one look at a [`Publication`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Stage {
    /// Nothing written yet.
    Unwritten,
    /// The header is written (visible now) and the value is being written by `creator`.
    Initialising {
        /// The creator's process id.
        creator: i32,
    },
    /// The value is written and visible now.
    Ready,
    /// A state that is none of the three (another writer's bytes).
    Unknown(u32),
}

impl Publication {
    const_fn! {
        /// State 0, no creator (what `ftruncate` leaves: zeroes).
        pub const fn new() -> Publication {
            Publication { state: AtomicU32::new(STATE_UNWRITTEN), creator: AtomicI32::new(0) }
        }
    }

    /// After the other header fields: the creator's pid, then state 1 (`Release`).
    pub fn begin(&self, creator: i32) {
        self.creator.store(creator, Relaxed);
        self.state.store(STATE_INITIALISING, Release);
    }

    /// After the value: state 2 (`Release`), which publishes it.
    pub fn finish(&self) {
        if switches::active(Mutation::PublishRelaxed) {
            // Deliberately broken (model checks only): the value is not published.
            self.state.store(STATE_READY, Relaxed);
            return;
        }
        self.state.store(STATE_READY, Release);
    }

    /// One look (`Acquire`: a state 1 or 2 makes the creator's writes before it visible).
    pub fn look(&self) -> Stage {
        match self.state.load(Acquire) {
            STATE_UNWRITTEN => Stage::Unwritten,
            STATE_INITIALISING => Stage::Initialising {
                creator: self.creator.load(Relaxed),
            },
            STATE_READY => Stage::Ready,
            other => Stage::Unknown(other),
        }
    }
}

impl Default for Publication {
    fn default() -> Publication {
        Publication::new()
    }
}
