//! Which reader-writer locks the calling thread holds for reading, and how, so that a
//! thread's second read of a lock it reads already is counted instead of taken again (under
//! the writer-preferring lock word, a second read hold taken while a writer waits would
//! deadlock the thread with itself, and a fast reader's second read would wait for the
//! writer that waits for its slot), and a write requested by a thread that holds a read is
//! reported instead of hanging. Two thread-local parts:
//!
//! - **Slot counts** (the fast reads, every read of a read-biased lock): how many read
//!   guards the thread has through each reader slot of the process-wide table. A slot holds
//!   one hold at a time, and only its holder changes it, so `count > 0` says the slot's hold
//!   is this thread's, for the lock whose address the slot holds: exact, and two
//!   thread-local writes per read (set on entry, decrement on leave), no search.
//! - **The record** (the slow reads, read locks of the word, and a `downgrade`'s hold in a slot
//!   other than the thread's own): `ENTRIES` locks at once per thread; past that, such reads
//!   are not recorded (and neither protection applies to them: the docs say so). The used
//!   entries are kept first, so a thread that holds no slow read scans nothing.

use std::cell::Cell;
use std::sync::atomic::Ordering::Relaxed;

use crate::shim::{reader_slots, thread_local_const, READER_SLOTS};

/// How many read-held locks a thread's record keeps.
pub(crate) const ENTRIES: usize = 8;

/// One thread's record: `len` used entries, each the lock's address, how many read guards
/// of it the thread has, and how the one real hold was taken (a slot, or `bravo::SLOW`).
struct Record {
    len: Cell<usize>,
    lock: [Cell<usize>; ENTRIES],
    count: [Cell<u32>; ENTRIES],
    how: [Cell<usize>; ENTRIES],
}

thread_local_const! {
    static HELD: Record = Record {
        len: Cell::new(0),
        lock: [const { Cell::new(0) }; ENTRIES],
        count: [const { Cell::new(0) }; ENTRIES],
        how: [const { Cell::new(0) }; ENTRIES],
    };
}

impl Record {
    #[inline(always)]
    fn find(&self, lock: usize) -> Option<usize> {
        (0..self.len.get().min(ENTRIES)).find(|&i| self.lock[i].get() == lock)
    }
}

/// If the calling thread holds `lock` for reading: counts one more read guard, `true`.
#[inline(always)]
pub(crate) fn reenter(lock: usize) -> bool {
    HELD.with(|r| match r.find(lock) {
        Some(i) => {
            r.count[i].set(r.count[i].get() + 1);
            true
        }
        None => false,
    })
}

/// Whether the calling thread holds `lock` for reading: in the record, or through `slot`
/// (the slot the thread and the lock hash to).
#[inline]
pub(crate) fn holds(lock: usize, slot: usize) -> bool {
    in_slot(lock, slot) || HELD.with(|r| r.find(lock).is_some())
}

/// The thread's read guards through reader slots: per slot, and how many slots it holds.
struct SlotGuards {
    /// Slots with a nonzero count (0, the common case outside a read: a read that the fast
    /// path did not take needs no hash to know it is no second read through a slot).
    slots: Cell<u32>,
    count: [Cell<u32>; READER_SLOTS],
}

thread_local_const! {
    static SLOT_GUARDS: SlotGuards = SlotGuards {
        slots: Cell::new(0),
        count: [const { Cell::new(0) }; READER_SLOTS],
    };
}

/// A fast read just took `slot` (it was free): the thread's first guard through it.
#[inline(always)]
pub(crate) fn slot_taken(slot: usize) {
    SLOT_GUARDS.with(|g| {
        g.count[slot % READER_SLOTS].set(1);
        g.slots.set(g.slots.get() + 1);
    });
}

/// Whether the thread holds any reader slot.
#[inline(always)]
pub(crate) fn holds_a_slot() -> bool {
    SLOT_GUARDS.with(|g| g.slots.get() != 0)
}

/// Whether the thread holds `slot` and it holds `lock`: then one more guard through it.
#[inline]
pub(crate) fn slot_reenter(lock: usize, slot: usize) -> bool {
    let slot = slot % READER_SLOTS;
    SLOT_GUARDS.with(|g| {
        let n = g.count[slot].get();
        // The slot is this thread's while it counts guards, so its word is stable here.
        if n == 0 || reader_slots()[slot].load(Relaxed) != lock {
            return false;
        }
        g.count[slot].set(n + 1);
        true
    })
}

/// One guard through `slot` fewer: whether it was the last (the caller gives the slot back).
#[inline(always)]
pub(crate) fn slot_leave(slot: usize) -> bool {
    SLOT_GUARDS.with(|g| {
        let c = &g.count[slot % READER_SLOTS];
        let n = c.get() - 1;
        c.set(n);
        if n == 0 {
            g.slots.set(g.slots.get() - 1);
        }
        n == 0
    })
}

/// Whether the thread holds `slot` and it holds `lock`.
#[inline]
fn in_slot(lock: usize, slot: usize) -> bool {
    let slot = slot % READER_SLOTS;
    SLOT_GUARDS.with(|g| g.count[slot].get() != 0) && reader_slots()[slot].load(Relaxed) == lock
}

/// Records a new read hold of `lock`, taken `how`; `false` if the record is full (the guard
/// then keeps `how` itself).
#[inline(always)]
pub(crate) fn record(lock: usize, how: usize) -> bool {
    HELD.with(|r| {
        let i = r.len.get();
        if i >= ENTRIES {
            return false;
        }
        r.lock[i].set(lock);
        r.count[i].set(1);
        r.how[i].set(how);
        r.len.set(i + 1);
        true
    })
}

/// One read guard of `lock` (recorded) fewer: how its real hold was taken if this was the
/// last one (the caller releases it), else `None`.
#[inline(always)]
pub(crate) fn leave(lock: usize) -> Option<usize> {
    HELD.with(|r| {
        // A recorded guard's lock is in the record.
        let i = r.find(lock)?;
        let n = r.count[i].get() - 1;
        if n > 0 {
            r.count[i].set(n);
            return None;
        }
        let how = r.how[i].get();
        // The last used entry takes this one's place.
        let last = r.len.get() - 1;
        r.lock[i].set(r.lock[last].get());
        r.count[i].set(r.count[last].get());
        r.how[i].set(r.how[last].get());
        r.len.set(last);
        Some(how)
    })
}
