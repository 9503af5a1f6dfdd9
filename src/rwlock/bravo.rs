//! The biased read path of the in-process [`RwLock`](super::RwLock): BRAVO (Dice and Kogan,
//! "BRAVO: Biased Locking for Reader-Writer Locks", USENIX ATC 2019), layered over the
//! lock word (`word.rs`).
//!
//! A reader-writer lock's readers all write its one lock word, so with two readers on two
//! CPUs that cache line bounces on every read, and reads do not scale (measured here: every
//! single-word lock, glibc's, std's and parking_lot's, loses 3-4x from one reader to two).
//! BRAVO lets readers skip the lock word while the lock is *read-biased*:
//!
//! - **Fast read**: with the bias on, a reader publishes itself in a process-wide table of
//!   reader slots (the slot its thread and the lock hash to: compare-exchange 0 -> the lock's
//!   address), then checks that the bias is still on. Different threads write different
//!   slots (different cache lines, mostly), so reads scale. Releasing is a store of 0.
//! - **Slow read**: bias off, or the slot taken: the lock word's read lock. A slow
//!   reader turns the bias back on if the inhibition time has passed.
//! - **Writer**: takes the lock word's write lock (which excludes slow readers and writers),
//!   then, if the bias is on, *revokes* it: turns it off, and waits until no slot holds the
//!   lock's address. It then inhibits re-biasing for `INHIBIT_FACTOR` times as long as the
//!   revocation took, which bounds what writers lose to revocations (BRAVO's policy).
//!
//! Why a writer never overlaps a fast reader: the reader's slot exchange and its bias check,
//! and the writer's bias store and its slot loads, are all sequentially consistent (Dekker's
//! pattern): if the reader's check saw the bias on, its exchange came before the writer's
//! store in the single order of such operations, so the writer's later load of that slot
//! sees it and waits; otherwise the reader gives its slot back and reads the slow way. A
//! fast reader sees the last writer's data: the bias it saw on was turned on by a slow
//! reader holding the word's read lock (after that writer released the write lock), with
//! release ordering, and its check reads it with acquire. The loom model
//! (`loom-tests/tests/rwlock.rs`) checks both, and rejects the variant that checks the bias
//! before publishing (mutation `BravoCheckFirst`). (loom treats `SeqCst` accesses as
//! `AcqRel`; the model build puts a `SeqCst` fence between each store and its load, which
//! is what the accesses' single order gives the real build: `shim::store_load_order`.)

use std::sync::atomic::Ordering::{Relaxed, Release, SeqCst};

use crate::shim::{self, const_fn, AtomicU32, AtomicU8, AtomicUsize, READER_SLOTS};
use crate::switches::{self, Mutation};
use crate::sys::Deadline;

/// How much longer than a revocation took re-biasing is inhibited (BRAVO's N).
const INHIBIT_FACTOR: u64 = 9;

/// How many slow reads in a row (no write in between) must come before a slow reader
/// re-biases (besides the inhibition time): a workload whose writes come every few reads
/// then stays unbiased (no revocation per write), one that reads a thousand times per
/// write re-biases soon after each write. 16 rather than 64: with 4 threads each writing
/// once in 1 000 operations a write comes every ~250 reads, and with 64 a quarter of the
/// reads went the slow way (every one a write of the lock word's line; instrumented:
/// ~73 slow reads per write); measured with `benches/rwlock.rs -- --interleaved --anchor
/// parking_lot_RwLock`, 16 against 64 in the same minutes: read-mostly 4 threads 0.39-0.57
/// against 0.49-0.83 of parking_lot's time, 2 threads 0.21-0.42 against 0.53-0.83,
/// write-heavy (a write every 4 operations: never 16 reads in a row) 1.12-1.48 against
/// 1.42-1.70; 8 was no better than 16.
const REBIAS_AFTER: u32 = 16;

/// What a lock's slot is hashed from: its address.
#[cfg(not(loom))]
#[inline(always)]
fn hashed(lock: usize) -> usize {
    lock
}

/// In the model, the order in which the execution first hashed the lock: loom replays an
/// execution's schedule and needs the same accesses each time, and a lock's address (an
/// `Arc`'s allocation) may differ from one execution to the next. (A std mutex: not a model
/// object, so no scheduling point; emptied with each execution.)
#[cfg(loom)]
fn hashed(lock: usize) -> usize {
    loom::lazy_static! {
        static ref SEEN: std::sync::Mutex<Vec<usize>> = std::sync::Mutex::new(Vec::new());
    }
    let mut seen = SEEN.lock().expect("model poisoned");
    let i = match seen.iter().position(|&a| a == lock) {
        Some(i) => i,
        None => {
            seen.push(lock);
            seen.len() - 1
        }
    };
    (i + 1) << 12
}

/// No slot: the hold is the lock word's.
pub(crate) const SLOW: usize = usize::MAX;

/// A lock's bias state.
pub(crate) struct Bias {
    /// 1 while readers may take the fast path.
    on: AtomicU8,
    /// No re-bias before this time (`CLOCK_MONOTONIC`, ns); written by revoking writers.
    inhibit_until: AtomicUsize,
    /// Slow reads since the bias was last revoked (reset by the revoking writer).
    slow_reads: AtomicU32,
}

impl Bias {
    const_fn! {
        /// Biased to begin with.
        pub(crate) const fn new() -> Bias {
            Bias { on: AtomicU8::new(1), inhibit_until: AtomicUsize::new(0), slow_reads: AtomicU32::new(0) }
        }
    }

    /// The slot of the calling thread for the lock at `lock`.
    #[inline(always)]
    pub(crate) fn slot(lock: usize) -> usize {
        let h = (shim::thread_hash() ^ hashed(lock).wrapping_mul(0xff51_afd7_ed55_8ccd)) >> 17;
        h & (READER_SLOTS - 1)
    }

    /// Whether the bias is on (readers may take the fast path).
    #[inline(always)]
    pub(crate) fn is_on(&self) -> bool {
        self.on.load(Relaxed) != 0
    }

    /// A fast read of the lock at `lock`: the slot it holds, if the bias allowed one.
    #[inline(always)]
    pub(crate) fn try_read(&self, lock: usize) -> Option<usize> {
        if self.on.load(Relaxed) == 0 {
            return None;
        }
        let slot = Self::slot(lock);
        let slots = shim::reader_slots();
        if switches::active(Mutation::BravoCheckFirst) {
            // Deliberately broken (model checks only): the bias checked before the slot is
            // published, never after, so a writer's revocation can miss this reader.
            if self.on.load(SeqCst) == 0 {
                return None;
            }
            return slots[slot]
                .compare_exchange(0, lock, SeqCst, Relaxed)
                .is_ok()
                .then_some(slot);
        }
        if slots[slot]
            .compare_exchange(0, lock, SeqCst, Relaxed)
            .is_err()
        {
            return None;
        }
        shim::store_load_order();
        if self.on.load(SeqCst) != 0 {
            return Some(slot);
        }
        slots[slot].store(0, Release);
        None
    }

    /// Gives a fast read's slot back.
    #[inline(always)]
    pub(crate) fn release(slot: usize) {
        shim::reader_slots()[slot].store(0, Release);
    }

    /// After a slow read was taken (the word's read lock is held): turns the bias back on if
    /// re-biasing is no longer inhibited.
    #[inline]
    pub(crate) fn after_slow_read(&self) {
        if self.on.load(Relaxed) == 0
            && self.slow_reads.fetch_add(1, Relaxed) >= REBIAS_AFTER
            && Deadline::now_ns() >= self.inhibit_until.load(Relaxed) as u64
        {
            self.on.store(1, SeqCst);
        }
    }

    /// With the word's write lock held: revokes the bias, waiting until no fast reader of
    /// `lock` is left. With `give_up` (a try or a timed acquisition), gives up when it
    /// returns `true` and reports `false` (the bias stays off; the caller releases the
    /// write lock).
    #[inline]
    pub(crate) fn revoke(&self, lock: usize, mut give_up: impl FnMut() -> bool) -> bool {
        if self.on.load(Relaxed) == 0 {
            // A write: the slow reads since count from here (writes every few reads keep
            // the bias off; the writer holds the lock, so a plain store).
            if self.slow_reads.load(Relaxed) != 0 {
                self.slow_reads.store(0, Relaxed);
            }
            return true;
        }
        self.revoke_slow(lock, &mut give_up)
    }

    #[cold]
    #[inline(never)]
    fn revoke_slow(&self, lock: usize, give_up: &mut dyn FnMut() -> bool) -> bool {
        self.on.store(0, SeqCst);
        shim::store_load_order();
        let start = Deadline::now_ns();
        for slot in shim::reader_slots() {
            let mut spins = 0u32;
            while slot.load(SeqCst) == lock {
                spins = spins.wrapping_add(1);
                if spins & 63 == 0 && give_up() {
                    return false;
                }
                shim::spin_hint(spins);
            }
        }
        let took = Deadline::now_ns().saturating_sub(start);
        let until = Deadline::now_ns().saturating_add(took.saturating_mul(INHIBIT_FACTOR));
        self.inhibit_until.store(until as usize, Relaxed);
        self.slow_reads.store(0, Relaxed);
        true
    }

    /// With the word's write lock held and the bias off: a read hold for the calling
    /// thread, published in a free slot, and the bias turned on, so that the write lock can
    /// be released without any other writer getting in between (`downgrade`): a later
    /// writer finds the bias on and waits for this slot.
    pub(crate) fn downgrade(&self, lock: usize) -> usize {
        let slots = shim::reader_slots();
        let first = Self::slot(lock);
        let mut i = first;
        loop {
            if slots[i].compare_exchange(0, lock, SeqCst, Relaxed).is_ok() {
                self.on.store(1, SeqCst);
                return i;
            }
            i = (i + 1) % READER_SLOTS;
            if i == first {
                // Every slot taken (as many readers as slots, at this instant): wait.
                shim::spin_hint(u32::MAX);
            }
        }
    }
}
