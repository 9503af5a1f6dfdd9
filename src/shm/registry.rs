//! The process's table of live regions: which address ranges are the data part of a region
//! this process mapped through [`ShmBox`](super::ShmBox).
//!
//! The process-shared primitives ask [`contains`] before initialising themselves, and refuse an
//! address outside every region: a pthread object in a region never moves (the mapping stays
//! where it is until the `ShmBox` is dropped, and `ShmBox` hands out `&T` only), while one
//! anywhere else could be moved by safe code.
//!
//! The table must answer in a forked child, where another thread of the parent may have held
//! any lock, malloc's included, at the moment of `fork`. So it is a fixed static array, lock-free
//! and allocation-free:
//!
//! - Each slot is a small seqlock: a sequence word (odd while its owner writes the slot), the
//!   range `[start, end)` (`start == 0`: free), and a count of holds.
//! - A slot is claimed by a compare-exchange of its sequence word from an even value seen with
//!   the slot free to the next (odd) one, so exactly one claimant wins; it is released only by
//!   the `ShmBox` that claimed it. When every slot is taken, mapping fails with
//!   [`Error::TooManyRegions`].
//! - Readers never wait: a slot being written, or written while it was read, is skipped. The
//!   range a caller asks about lies in a region that is live for the whole call (the caller
//!   borrows from it), so its slot is stable and always read; a slot in flux belongs to some
//!   other region. A reader therefore never combines the start of one region with the end of
//!   another, and never spins, even on a slot a thread left half-written when the process
//!   forked (the child skips that slot forever; it had no `ShmBox` for it anyway).
//! - A high-water mark bounds the scan to the slots ever claimed.
//!
//! Holds are the hook for robust mutexes: a robust mutex this process holds is on its
//! thread's robust list, which glibc walks at each robust lock and unlock and the kernel walks
//! (and writes) when the thread exits, so its memory must stay mapped. A thread that locks a
//! robust mutex pins its region with [`keep_mapped`] (a hold never released); a `ShmBox`
//! dropped while its region has holds leaves the memory mapped until the process exits
//! instead of unmapping it. (A per-lock hold, released at unlock, would put an atomic
//! read-modify-write on every lock and unlock; the pin costs a thread-local range check.)

use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{fence, AtomicUsize};

use crate::error::Error;

/// How many regions one process can have mapped at once.
pub(crate) const CAPACITY: usize = 1024;

/// The process's table.
static REGISTRY: Registry<CAPACITY> = Registry::new();

/// Whether `[addr, addr + len)` lies inside the data part (the `T`) of a region this process
/// mapped through `ShmBox` and has not dropped. Lock-free, allocation-free, never blocks: safe
/// in a forked child and in a signal handler.
pub(crate) fn contains(addr: usize, len: usize) -> bool {
    REGISTRY.find(addr, len).is_some()
}

std::thread_local! {
    /// The region this thread last pinned (see [`keep_mapped`]): its data's first byte and
    /// length (0: none yet).
    static PINNED: std::cell::Cell<(usize, usize)> = const { std::cell::Cell::new((0, 0)) };
}

/// Keeps the region holding `[addr, addr + len)` mapped until the process ends: its
/// `ShmBox`, when dropped, unregisters it but leaves the memory mapped. For robust mutexes: a
/// thread that locks one links it into its robust list, which glibc and the kernel walk by
/// address (at every robust lock and unlock, and when the thread exits), so its memory must
/// never be unmapped while it may be held, also through a guard leaked with `mem::forget`.
///
/// The fast path is one thread-local range check of the object's first byte (an object
/// reached through a region's `&T` lies wholly inside `T` if its first byte does): a region
/// once pinned stays mapped, so the cached range can never come to name other memory.
///
/// Returns whether the object is inside such a region (else nothing was pinned): the shared
/// primitives refuse to be used anywhere else, on every use, not only the first.
#[inline(always)]
pub(crate) fn keep_mapped(addr: usize, len: usize) -> bool {
    let (start, size) = PINNED.with(std::cell::Cell::get);
    addr.wrapping_sub(start) < size || pin(addr, len)
}

#[cold]
fn pin(addr: usize, len: usize) -> bool {
    match REGISTRY.hold_range(addr, len) {
        Some((_slot, (start, end))) => {
            // The hold is never released: it is what keeps the mapping alive at `ShmBox` drop.
            PINNED.with(|p| p.set((start, end - start)));
            true
        }
        None => false,
    }
}

/// Enters the data range `[start, end)` of a new region; the slot to give back to
/// [`unregister`].
pub(super) fn register(start: usize, end: usize) -> Result<usize, Error> {
    REGISTRY.register(start, end)
}

/// Removes a region entered by [`register`]; the number of holds it still had (nonzero: keep
/// the memory mapped).
pub(super) fn unregister(slot: usize) -> usize {
    REGISTRY.unregister(slot)
}

/// One region: a seqlock over its range, and its holds.
struct Slot {
    /// Even: stable; odd: its owner is writing `start` and `end`.
    seq: AtomicUsize,
    /// The first byte of the region's data; 0 when the slot is free.
    start: AtomicUsize,
    /// One past the last byte of the region's data.
    end: AtomicUsize,
    /// Holds taken with [`hold`] and not yet released.
    holds: AtomicUsize,
}

impl Slot {
    const fn new() -> Slot {
        Slot {
            seq: AtomicUsize::new(0),
            start: AtomicUsize::new(0),
            end: AtomicUsize::new(0),
            holds: AtomicUsize::new(0),
        }
    }

    /// The slot's range if it is in use and was read without a writer in between, with the
    /// sequence value it was read at.
    #[inline]
    fn read(&self) -> Option<(usize, usize, usize)> {
        let seq = self.seq.load(Acquire);
        if seq % 2 == 1 {
            return None;
        }
        let start = self.start.load(Relaxed);
        let end = self.end.load(Relaxed);
        // Orders the two loads above before the check below: if either read a value a writer
        // stored after making `seq` odd, the check sees that odd value or a later one.
        fence(Acquire);
        if self.seq.load(Relaxed) != seq || start == 0 {
            return None;
        }
        Some((start, end, seq))
    }

    /// Begins a write of a slot whose sequence value is `seq` (even): makes it odd.
    /// `false` when the slot changed since `seq` was read.
    #[inline]
    fn begin_write(&self, seq: usize) -> bool {
        if self
            .seq
            .compare_exchange(seq, seq + 1, Acquire, Relaxed)
            .is_err()
        {
            return false;
        }
        // Orders the odd sequence value before the stores of the write (see `read`).
        fence(Release);
        true
    }

    /// Ends a write begun at `seq`: publishes the stores made since.
    #[inline]
    fn end_write(&self, seq: usize) {
        self.seq.store(seq.wrapping_add(2), Release);
    }
}

/// A fixed table of `N` slots. Generic so that tests can use their own small tables.
pub(super) struct Registry<const N: usize> {
    slots: [Slot; N],
    /// One past the highest slot ever claimed: readers scan no further.
    used: AtomicUsize,
}

impl<const N: usize> Registry<N> {
    pub(super) const fn new() -> Self {
        Registry {
            slots: [const { Slot::new() }; N],
            used: AtomicUsize::new(0),
        }
    }

    /// The slots that may be in use.
    #[inline]
    fn in_use(&self) -> &[Slot] {
        &self.slots[..self.used.load(Acquire).min(N)]
    }

    /// Claims a free slot for `[start, end)` (`start` nonzero, `start <= end`).
    pub(super) fn register(&self, start: usize, end: usize) -> Result<usize, Error> {
        if start == 0 || end < start {
            return Err(Error::InvalidInput(
                "a region's range must be nonempty and not at 0",
            ));
        }
        for (i, slot) in self.slots.iter().enumerate() {
            let seq = slot.seq.load(Acquire);
            if seq % 2 == 1 || slot.start.load(Relaxed) != 0 || !slot.begin_write(seq) {
                continue;
            }
            // The slot is ours: nobody else writes it until `unregister`.
            self.used.fetch_max(i + 1, Release);
            slot.holds.store(0, Relaxed);
            slot.end.store(end, Relaxed);
            slot.start.store(start, Relaxed);
            slot.end_write(seq);
            return Ok(i);
        }
        Err(Error::TooManyRegions { max: N })
    }

    /// Frees `slot` (claimed by `register`); returns the holds it still had.
    pub(super) fn unregister(&self, slot: usize) -> usize {
        let slot = &self.slots[slot];
        // Only the owner writes a claimed slot: its sequence value is even and stays so
        // until this compare-exchange.
        let seq = slot.seq.load(Relaxed);
        let begun = slot.begin_write(seq);
        debug_assert!(begun, "a claimed slot changed under its owner");
        let holds = slot.holds.swap(0, Relaxed);
        slot.start.store(0, Relaxed);
        slot.end.store(0, Relaxed);
        slot.end_write(seq);
        holds
    }

    /// The slot whose range contains `[addr, addr + len)`, with the sequence value it was read at.
    fn find(&self, addr: usize, len: usize) -> Option<(usize, usize, (usize, usize))> {
        let last = addr.checked_add(len)?;
        self.in_use()
            .iter()
            .enumerate()
            .find_map(|(i, slot)| match slot.read() {
                Some((start, end, seq)) if start <= addr && last <= end => {
                    Some((i, seq, (start, end)))
                }
                _ => None,
            })
    }

    /// Adds a hold to the slot containing `[addr, addr + len)`; the slot.
    #[cfg(test)]
    fn hold(&self, addr: usize, len: usize) -> Option<usize> {
        self.hold_range(addr, len).map(|(slot, _)| slot)
    }

    /// As [`Registry::hold`], also giving the data range of the region held.
    fn hold_range(&self, addr: usize, len: usize) -> Option<(usize, (usize, usize))> {
        let (i, seq, range) = self.find(addr, len)?;
        let slot = &self.slots[i];
        slot.holds.fetch_add(1, Relaxed);
        // The caller borrows from the region, so the slot cannot have changed; checked anyway.
        if slot.seq.load(Acquire) != seq {
            slot.holds.fetch_sub(1, Relaxed);
            return None;
        }
        Some((i, range))
    }

    /// Releases a hold taken with `hold` (the crate's holds are never released: see
    /// [`keep_mapped`]).
    #[cfg(test)]
    fn release(&self, slot: usize) {
        self.slots[slot].holds.fetch_sub(1, Relaxed);
    }

    /// Whether `[addr, addr + len)` is inside a registered range (see [`contains`]).
    #[cfg(test)]
    fn contains(&self, addr: usize, len: usize) -> bool {
        self.find(addr, len).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicUsize};

    #[test]
    fn register_contains_unregister() {
        let table = Registry::<4>::new();
        let slot = table.register(0x10_000, 0x10_100).unwrap();
        assert!(table.contains(0x10_000, 0x100));
        assert!(table.contains(0x10_080, 8));
        assert!(table.contains(0x10_100, 0), "an empty range at the end");
        assert!(!table.contains(0x10_0f8, 16), "crosses the end");
        assert!(!table.contains(0xfff8, 16), "crosses the start");
        assert!(!table.contains(usize::MAX - 4, 16), "wraps around");
        assert_eq!(table.unregister(slot), 0);
        assert!(!table.contains(0x10_080, 8));
    }

    #[test]
    fn a_full_table_refuses_then_accepts_after_a_removal() {
        let table = Registry::<4>::new();
        let slots: Vec<usize> = (1..=4)
            .map(|i| table.register(i << 16, (i << 16) + 64).unwrap())
            .collect();
        assert_eq!(
            table.register(5 << 16, (5 << 16) + 64),
            Err(Error::TooManyRegions { max: 4 })
        );
        table.unregister(slots[2]);
        let again = table.register(5 << 16, (5 << 16) + 64).unwrap();
        assert_eq!(again, slots[2], "the freed slot is reused");
        assert!(table.contains(5 << 16, 64));
        assert!(!table.contains(3 << 16, 64));
    }

    #[test]
    fn bad_ranges_are_refused() {
        let table = Registry::<4>::new();
        assert!(matches!(table.register(0, 64), Err(Error::InvalidInput(_))));
        assert!(matches!(
            table.register(128, 64),
            Err(Error::InvalidInput(_))
        ));
    }

    #[test]
    fn holds_are_counted_and_reported_at_unregister() {
        let table = Registry::<4>::new();
        let slot = table.register(0x1000, 0x2000).unwrap();
        assert_eq!(table.hold(0x1800, 8), Some(slot));
        assert_eq!(table.hold(0x1900, 8), Some(slot));
        assert_eq!(table.hold(0x3000, 8), None, "outside every region");
        table.release(slot);
        assert_eq!(table.unregister(slot), 1);
        let slot = table.register(0x1000, 0x2000).unwrap();
        assert_eq!(
            table.unregister(slot),
            0,
            "a new region starts with no holds"
        );
    }

    /// Threads register and remove ranges of several lengths while others query: each thread
    /// always finds its own live range, and no query ever finds a gap between ranges (which a
    /// read combining the start of one region with the end of another would report). Few
    /// slots, so that every slot keeps passing between threads.
    #[test]
    fn concurrent_register_remove_and_queries() {
        const THREADS: usize = 3;
        static TABLE: Registry<2> = Registry::new();
        let stop = AtomicBool::new(false);
        let run_for = std::time::Duration::from_millis(500);
        // Thread t owns [base(t), base(t) + len), len < 1 MiB; the rest of its 2 MiB block is
        // a gap that no query may find.
        let base = |t: usize| (t + 1) << 21;
        let gaps_seen = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    while !stop.load(Relaxed) {
                        for t in 0..=THREADS {
                            if TABLE.contains(base(t) + (1 << 20), 8)
                                || TABLE.contains(base(t) - 64, 128)
                            {
                                gaps_seen.fetch_add(1, Relaxed);
                            }
                        }
                    }
                });
            }
            let writers: Vec<_> = (0..THREADS)
                .map(|t| {
                    s.spawn(move || {
                        let started = std::time::Instant::now();
                        let mut round = 0;
                        while started.elapsed() < run_for {
                            round += 1;
                            let len = 64 + (round % 7) * 4096;
                            let Ok(slot) = TABLE.register(base(t), base(t) + len) else {
                                assert!(!TABLE.contains(base(t), len), "own range, unregistered");
                                continue; // full: the other threads hold both slots
                            };
                            assert!(TABLE.contains(base(t), len), "own range, round {round}");
                            assert!(TABLE.contains(base(t) + len - 8, 8));
                            assert!(!TABLE.contains(base(t) + len - 8, 16), "past own end");
                            assert_eq!(TABLE.hold(base(t) + 8, 8), Some(slot));
                            TABLE.release(slot);
                            assert_eq!(TABLE.unregister(slot), 0);
                            assert!(!TABLE.contains(base(t), len), "own range after removal");
                        }
                    })
                })
                .collect();
            // Stop the readers before a writer's panic is passed on, so the scope can end.
            let results: Vec<_> = writers.into_iter().map(|w| w.join()).collect();
            stop.store(true, Relaxed);
            for result in results {
                if let Err(panic) = result {
                    std::panic::resume_unwind(panic);
                }
            }
        });
        assert_eq!(
            gaps_seen.load(Relaxed),
            0,
            "queries found a gap between regions"
        );
        for t in 0..THREADS {
            assert!(!TABLE.contains(base(t), 64));
        }
    }
}
