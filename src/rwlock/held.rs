//! Which reader-writer locks the calling thread holds for reading, and how: a small
//! thread-local record, so that a thread's second read of a lock it reads already is
//! counted here instead of taken again (under the writer-preferring pthread kind, a second
//! read hold taken while a writer waits would deadlock the thread with itself), and a write
//! requested by a thread that holds a read is reported instead of hanging.
//!
//! `ENTRIES` locks at once per thread; past that, reads are not recorded (and neither
//! protection applies to them: the docs say so).

use std::cell::Cell;

use crate::shim::thread_local_const;

/// How many read-held locks a thread's record keeps.
pub(crate) const ENTRIES: usize = 8;

/// One thread's record: for each entry, the lock's address (0: free), how many read guards
/// of it the thread has, and how the one real hold was taken (a slot, or `bravo::SLOW`).
struct Record {
    lock: [Cell<usize>; ENTRIES],
    count: [Cell<u32>; ENTRIES],
    how: [Cell<usize>; ENTRIES],
}

thread_local_const! {
    static HELD: Record = Record {
        lock: [const { Cell::new(0) }; ENTRIES],
        count: [const { Cell::new(0) }; ENTRIES],
        how: [const { Cell::new(0) }; ENTRIES],
    };
}

/// If the calling thread holds `lock` for reading: counts one more read guard, `true`.
#[inline(always)]
pub(crate) fn reenter(lock: usize) -> bool {
    HELD.with(|r| {
        for i in 0..ENTRIES {
            if r.lock[i].get() == lock {
                r.count[i].set(r.count[i].get() + 1);
                return true;
            }
        }
        false
    })
}

/// Whether the calling thread holds `lock` for reading.
#[inline]
pub(crate) fn holds(lock: usize) -> bool {
    HELD.with(|r| r.lock.iter().any(|l| l.get() == lock))
}

/// Records a new read hold of `lock`, taken `how`; `false` if the record is full (the guard
/// then keeps `how` itself).
#[inline(always)]
pub(crate) fn record(lock: usize, how: usize) -> bool {
    HELD.with(|r| {
        for i in 0..ENTRIES {
            if r.lock[i].get() == 0 {
                r.lock[i].set(lock);
                r.count[i].set(1);
                r.how[i].set(how);
                return true;
            }
        }
        false
    })
}

/// One read guard of `lock` (recorded) fewer: how its real hold was taken if this was the
/// last one (the caller releases it), else `None`.
#[inline(always)]
pub(crate) fn leave(lock: usize) -> Option<usize> {
    HELD.with(|r| {
        for i in 0..ENTRIES {
            if r.lock[i].get() == lock {
                let n = r.count[i].get() - 1;
                r.count[i].set(n);
                if n == 0 {
                    r.lock[i].set(0);
                    return Some(r.how[i].get());
                }
                return None;
            }
        }
        // Not recorded: the caller's guard was not either (it would not call this).
        None
    })
}
