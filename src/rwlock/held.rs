//! Which reader-writer locks the calling thread holds for reading, and how: a small
//! thread-local record, so that a thread's second read of a lock it reads already is
//! counted here instead of taken again (under the writer-preferring pthread kind, a second
//! read hold taken while a writer waits would deadlock the thread with itself), and a write
//! requested by a thread that holds a read is reported instead of hanging.
//!
//! `ENTRIES` locks at once per thread; past that, reads are not recorded (and neither
//! protection applies to them: the docs say so). The used entries are kept first, so a
//! thread that holds no read lock (the common case) scans nothing.

use std::cell::Cell;

use crate::shim::thread_local_const;

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

/// Whether the calling thread holds `lock` for reading.
#[inline]
pub(crate) fn holds(lock: usize) -> bool {
    HELD.with(|r| r.find(lock).is_some())
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
