//! Switches for the model checks: deliberately broken variants of the crate's own concurrent
//! logic, a model of spurious wake-ups, and one of wake-ups lost to dead processes.
//!
//! The broken variants exist so that the loom tests can show their checks fail when the logic
//! is wrong. Everything here can be switched on only in the model build (`cfg(loom)`); in the
//! normal build [`active`] is a constant `false` and the broken paths are compiled out.
//! Switches are per OS thread: loom runs a whole model on the thread that starts it.

/// One deliberately broken variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Mutation {
    /// A process-shared object is armed check-then-store instead of claimed with a
    /// `compare_exchange`, so two racing first users can each initialise it (one of them
    /// under the other's feet).
    ArmStore = 1,
    /// `Cond::wait_while` tests its condition once instead of in a loop.
    WaitWhileOnce = 2,
    /// `Cond` never refuses a second mutex, so two mutexes can be used with it at once.
    BindNeverRefuses = 3,
    /// A region's creator publishes its value with a relaxed store of the ready state, so an
    /// opener that sees the region ready may not see the value.
    PublishRelaxed = 4,
    /// `SharedCond`'s waiter reads the sequence word after releasing the mutex instead of
    /// before, so a notification made in between is lost.
    CondSeqAfterUnlock = 5,
    /// The reader-writer lock's fast read checks the bias before publishing its slot (and
    /// not after), so a revoking writer can miss it.
    BravoCheckFirst = 6,
    /// `SharedRwLock`'s reader checks the writer-intent flag before it takes its slot (and
    /// not after), so a writer's drain can pass its slot before the reader takes it.
    SharedRwCheckFirst = 7,
    /// `SharedRwLock`'s reader that finds a writer's intent raised waits for the writer
    /// keeping its slot, which the writer's drain waits for.
    SharedRwKeepSlot = 8,
    /// A barrier arrival reads the state word and then stores its change, instead of one
    /// compare-exchange: two racing arrivals can count themselves from the same value, so one
    /// arrival is lost (the round never completes) or two are the leader.
    BarrierArriveLoadStore = 9,
    /// A barrier's leader looks for sleepers before its completing exchange instead of
    /// after, so a waiter that announces itself in between sleeps through the completion.
    BarrierPeekBeforeComplete = 10,
    /// `SharedRwLock`'s writer raises its intent and looks at the reader slots with relaxed
    /// accesses and no store-load order (Dekker's pattern with one side weak), so it can
    /// miss a reader that misses its intent.
    SharedRwWriterRelaxed = 11,
    /// The lock-order checker caches a new edge with the epoch read after it releases the
    /// graph's lock (and not before), so a lock removed in between leaves a cached edge the
    /// graph no longer has.
    LockOrderEpochAfterUnlock = 12,
    /// `RwLock`'s lock word, released by a writer with readers queued behind it and no
    /// writer waiting, never wakes them.
    RwWordForgetsReaders = 13,
    /// The process-shared waits (`SharedCond`, `SharedSem`) sleep once, as glibc's do,
    /// instead of looking again every `sys::recheck()`: a wake-up lost to a dead process
    /// (`set_lost_wakeups`) then strands a live waiter beside the change it waits for. Read by
    /// the model's `sys::recheck()` (its `None`), so it exists in the model build only.
    #[cfg_attr(not(loom), allow(dead_code))]
    SharedWaitsSleepOnce = 14,
}

#[cfg(loom)]
std::thread_local! {
    static ACTIVE: std::cell::Cell<u8> = const { std::cell::Cell::new(0) };
    static SPURIOUS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    static LOST: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Switches `mutation` on (or every mutation off, with `None`) for models run on this thread.
#[cfg(loom)]
pub fn set_mutation(mutation: Option<Mutation>) {
    ACTIVE.with(|a| a.set(mutation.map_or(0, |m| m as u8)));
}

/// With `on`, the model condition variable wakes each thread spuriously once per condvar: the
/// thread's first untimed wait returns without a notification (after letting the other
/// threads run), wherever loom schedules it. POSIX allows spurious wake-ups; this makes loom
/// check that the waiting loops cope with one.
#[cfg(loom)]
pub fn set_spurious_wakeups(on: bool) {
    SPURIOUS.with(|s| s.set(on));
}

/// Whether spurious wake-ups are switched on (model build only).
#[cfg(loom)]
pub(crate) fn spurious_wakeups() -> bool {
    SPURIOUS.with(|s| s.get())
}

/// With `on`, every wake-up of the model's futex words ([`Futex`](crate::sys::Futex),
/// `Futex64`) and semaphores reaches nobody: each is spent as it is when the process it woke
/// is killed before it runs, or lost with a notifier or poster killed between its change of
/// the word and its wake. Only the change is left, and a waiter sees it only if it looks
/// again: the process-shared waits do (`sys::recheck()` is then the model's `Some`). For
/// models of `SharedCond` and `SharedSem` only: the other primitives' waits do not look again
/// in the model, and would sleep for good.
#[cfg(loom)]
pub fn set_lost_wakeups(on: bool) {
    LOST.with(|l| l.set(on));
}

/// Whether wake-ups are lost (model build only).
#[cfg(loom)]
pub(crate) fn lost_wakeups() -> bool {
    LOST.with(|l| l.get())
}

/// Whether `mutation` is switched on. Always `false` outside the model build.
#[inline(always)]
pub(crate) fn active(mutation: Mutation) -> bool {
    #[cfg(loom)]
    {
        ACTIVE.with(|a| a.get() == mutation as u8)
    }
    #[cfg(not(loom))]
    {
        let _ = mutation;
        false
    }
}
