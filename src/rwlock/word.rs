//! The in-process [`RwLock`](super::RwLock)'s lock word: a writer-preferring reader-writer
//! lock of the crate's own on a futex word, under the biased read path (`bravo.rs`), in place
//! of `pthread_rwlock_t`.
//!
//! # Why not glibc's rwlock
//!
//! Under the bias, the lock word serves the writers and the reads that the fast path did not
//! take. glibc's `pthread_rwlock_t` costs 58 instructions an operation there (`tryrdlock` 19,
//! `trywrlock` 18, `unlock` 40; callgrind, a write every 4 operations on one thread), where
//! std's and parking_lot's whole lock costs 21-25: a workload that writes every few
//! operations pays it on every operation, and whenever the threads take turns on one CPU
//! every lock is uncontended and that cost is all there is (measured: 3.7-4.2x parking_lot's
//! time there, raw glibc 2.6x; `benches/RESULTS.md`, session 5). The semantics the crate
//! relied on are kept and checked against glibc itself (`loom-tests/tests/differential.rs`
//! runs the same script on this word under loom and on glibc's
//! `PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP` rwlock): the try forms fail without
//! waiting (`WouldBlock`, the write holder's included), the blocking and timed forms of the
//! write holder are `Deadlock`, new reads wait behind a waiting writer (writers do not
//! starve), timed forms end with `TimedOut`.
//!
//! # The protocol
//!
//! `state` (64 bits; readers sleep on its low half):
//!
//! - bits 0-29: the number of read holds, or `WRITE_LOCKED` (all ones) while written;
//! - bit 30, `READERS_WAITING`: a reader sleeps (or is about to) on the low half;
//! - bits 32-63: how many writers wait for the lock (registered before they sleep, removed
//!   when they take it or time out).
//!
//! Writers sleep on `writer_notify`, a sequence number bumped before each writer wake-up.
//!
//! - A read is taken while nobody writes and no writer waits (so new readers queue behind a
//!   waiting writer); otherwise the reader sets `READERS_WAITING` and sleeps on the low half
//!   it saw (any change of it, a release included, ends the sleep at once).
//! - A write is taken while there are no holds. A writer that cannot take it counts itself
//!   waiting, reads `writer_notify`, looks again, and sleeps on the value it read; it takes the
//!   lock and removes its count in one compare-exchange.
//! - The last reader out wakes one writer if any waits. A writer's release wakes one waiting
//!   writer if any (writer preference), else, if `READERS_WAITING`, clears it and wakes every
//!   reader. A timed-out writer removes its count, and if it was the last one while readers
//!   sleep behind it on a lock nobody writes, clears `READERS_WAITING` and wakes them.
//! - `READERS_WAITING` is set only while the lock is written or a writer waits, and each of
//!   those ends with a release or a time-out that looks at it: no reader sleeps with nobody to
//!   wake it. A writer wake-up goes to a sleeping writer (the kernel picks one that is still
//!   queued, so a writer timing out meanwhile does not swallow it), and a writer not yet
//!   asleep sees the bumped sequence and does not sleep.
//! - `owner` is the write holder's `shim::thread_hash` (0 when nobody writes), stored by the
//!   holder: a thread finds its own value there only while it holds the write lock, which
//!   makes the write holder's blocking and timed locks `Deadlock` instead of a hang.

use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::time::Duration;

use crate::error::Error;
use crate::shim::{self, const_fn, AtomicUsize};
use crate::switches::{self, Mutation};
use crate::sys::{Deadline, Futex, Futex64, Scope};

/// The count bits: read holds, or `WRITE_LOCKED`.
const MASK: u64 = (1 << 30) - 1;
/// The count while written.
const WRITE_LOCKED: u64 = MASK;
/// As many read holds as the count can take (one less than `WRITE_LOCKED`).
const MAX_READERS: u64 = MASK - 1;
/// A reader sleeps on the low half (or is about to).
const READERS_WAITING: u64 = 1 << 30;
/// One waiting writer, in the high half.
const WRITER: u64 = 1 << 32;
/// Every bit that says somebody waits (`READERS_WAITING`, the writers' count).
const WAITERS: u64 = READERS_WAITING | !(WRITER - 1);

// The fields do not overlap, and the release looks at every waiter bit.
const _: () = {
    assert!(WRITE_LOCKED & READERS_WAITING == 0);
    assert!((WRITE_LOCKED | READERS_WAITING) & WRITER == 0);
    assert!(MAX_READERS < WRITE_LOCKED);
    assert!(WAITERS & MASK == 0);
    assert!(WAITERS == READERS_WAITING | ((u32::MAX as u64) << 32));
};

#[inline(always)]
fn count(s: u64) -> u64 {
    s & MASK
}

#[inline(always)]
fn writers(s: u64) -> u64 {
    s >> 32
}

#[inline(always)]
fn written(s: u64) -> bool {
    count(s) == WRITE_LOCKED
}

/// A read may be taken: nobody writes, no writer waits, the count has room.
#[inline(always)]
fn read_lockable(s: u64) -> bool {
    count(s) < MAX_READERS && writers(s) == 0
}

/// The low half, which readers sleep on.
#[inline(always)]
fn low(s: u64) -> u32 {
    s as u32
}

/// The lock word (see the module docs).
pub struct Word {
    state: Futex64,
    writer_notify: Futex,
    owner: AtomicUsize,
}

impl Word {
    const_fn! {
        /// A free lock.
        #[inline]
        // The interface is `new()`, a `const fn` (a `static` lock); no `Default` needed.
        #[allow(clippy::new_without_default)]
        pub const fn new() -> Word {
            Word { state: Futex64::new(0), writer_notify: Futex::new(0), owner: AtomicUsize::new(0) }
        }
    }

    /// `state - v` (wrapping), with release ordering; the new value. One read-modify-write
    /// (not a load and a compare-exchange: under contention, two transfers of the line).
    #[inline(always)]
    fn sub(&self, v: u64) -> u64 {
        self.state.fetch_sub(v, Release).wrapping_sub(v)
    }

    /// Whether the calling thread holds the write lock.
    #[inline]
    fn written_by_me(&self) -> bool {
        self.owner.load(Relaxed) == shim::thread_hash()
    }

    /// A read hold if one can be had without waiting (`WouldBlock`: written, or a writer
    /// waits).
    #[inline(always)]
    pub fn try_read(&self) -> Result<(), Error> {
        let mut s = self.state.load(Relaxed);
        while read_lockable(s) {
            match self.state.compare_exchange(s, s + 1, Acquire, Relaxed) {
                Ok(_) => return Ok(()),
                Err(now) => s = now,
            }
        }
        Err(Error::WouldBlock)
    }

    /// Waits for a read hold (`Deadlock` for the write holder).
    pub fn read(&self) -> Result<(), Error> {
        self.read_until(None)
    }

    /// Waits for a read hold at most `dur` (`TimedOut`; `Deadlock` for the write holder).
    pub fn read_for(&self, dur: Duration) -> Result<(), Error> {
        self.read_until(Some(&Deadline::after(dur)))
    }

    #[cold]
    fn read_until(&self, deadline: Option<&Deadline>) -> Result<(), Error> {
        let mut s = self.state.load(Relaxed);
        loop {
            if read_lockable(s) {
                match self.state.compare_exchange(s, s + 1, Acquire, Relaxed) {
                    Ok(_) => return Ok(()),
                    Err(now) => {
                        s = now;
                        continue;
                    }
                }
            }
            if written(s) && self.written_by_me() {
                return Err(Error::Deadlock);
            }
            if count(s) == MAX_READERS && writers(s) == 0 {
                return Err(Error::Overflow);
            }
            if s & READERS_WAITING == 0 {
                if let Err(now) =
                    self.state
                        .compare_exchange(s, s | READERS_WAITING, Relaxed, Relaxed)
                {
                    s = now;
                    continue;
                }
                s |= READERS_WAITING;
            }
            if self.state.wait(low(s), deadline, Scope::Private) {
                return Err(Error::TimedOut);
            }
            s = self.state.load(Relaxed);
        }
    }

    /// The write lock if it can be had without waiting (`WouldBlock`: held, also by the
    /// caller).
    #[inline(always)]
    pub fn try_write(&self) -> Result<(), Error> {
        // A guess first (free, nobody waiting: the uncontended case), so the line is asked
        // for once, for writing; the value found otherwise.
        let mut s = 0;
        while count(s) == 0 {
            match self
                .state
                .compare_exchange(s, s + WRITE_LOCKED, Acquire, Relaxed)
            {
                Ok(_) => {
                    self.owner.store(shim::thread_hash(), Relaxed);
                    return Ok(());
                }
                Err(now) => s = now,
            }
        }
        Err(Error::WouldBlock)
    }

    /// Waits for the write lock (`Deadlock` for its holder).
    pub fn write(&self) -> Result<(), Error> {
        self.write_until(None)
    }

    /// Waits for the write lock at most `dur` (`TimedOut`; `Deadlock` for its holder).
    pub fn write_for(&self, dur: Duration) -> Result<(), Error> {
        self.write_until(Some(&Deadline::after(dur)))
    }

    #[cold]
    fn write_until(&self, deadline: Option<&Deadline>) -> Result<(), Error> {
        match self.try_write() {
            Err(Error::WouldBlock) => {}
            done => return done,
        }
        if written(self.state.load(Relaxed)) && self.written_by_me() {
            return Err(Error::Deadlock);
        }
        // Counted as waiting from here until the lock is taken or the wait times out.
        let mut s = self.state.load(Relaxed);
        while let Err(now) = self.state.compare_exchange(s, s + WRITER, Relaxed, Relaxed) {
            s = now;
        }
        loop {
            // The sequence first, then the state: a release after this look bumps the
            // sequence, so the sleep below does not begin (or is ended).
            let seq = self.writer_notify.load(Acquire);
            let mut s = self.state.load(Relaxed);
            while count(s) == 0 {
                match self
                    .state
                    .compare_exchange(s, s - WRITER + WRITE_LOCKED, Acquire, Relaxed)
                {
                    Ok(_) => {
                        self.owner.store(shim::thread_hash(), Relaxed);
                        return Ok(());
                    }
                    Err(now) => s = now,
                }
            }
            if self.writer_notify.wait(seq, deadline, Scope::Private) {
                self.writer_gives_up();
                return Err(Error::TimedOut);
            }
        }
    }

    /// A waiting writer timed out: uncounts it; the last one lets the readers queued behind
    /// it in, unless somebody writes (that release does).
    #[cold]
    fn writer_gives_up(&self) {
        let s = self.sub(WRITER);
        if writers(s) == 0 && s & READERS_WAITING != 0 && !written(s) {
            self.wake_readers();
        }
    }

    /// Releases the caller's hold, a read or the write (told apart by the count: the write
    /// holder's is `WRITE_LOCKED`, a reader's never is).
    ///
    /// # Safety
    /// The calling thread holds the lock (a read hold, or the write lock).
    // `RwLock` knows which it holds (`unlock_read`, `unlock_write`); this one is for the
    // differential test's script, which releases any hold as glibc's `unlock` does.
    #[cfg_attr(not(any(test, loom)), allow(dead_code))]
    #[inline(always)]
    pub unsafe fn unlock(&self) {
        if written(self.state.load(Relaxed)) {
            // SAFETY: the caller holds the lock, and nobody reads it while it is written.
            unsafe { self.unlock_write() }
        } else {
            // SAFETY: as above: not written, so the caller's hold is a read.
            unsafe { self.unlock_read() }
        }
    }

    /// Releases the caller's read hold; the last reader out wakes a waiting writer.
    ///
    /// # Safety
    /// The calling thread holds a read hold.
    #[inline(always)]
    pub unsafe fn unlock_read(&self) {
        let s = self.sub(1);
        if count(s) == 0 && writers(s) != 0 {
            self.wake_writer();
        }
    }

    /// Releases the caller's write lock; wakes a waiting writer, else the readers queued.
    ///
    /// # Safety
    /// The calling thread holds the write lock.
    #[inline(always)]
    pub unsafe fn unlock_write(&self) {
        self.owner.store(0, Relaxed);
        let s = self.sub(WRITE_LOCKED);
        if s & WAITERS != 0 {
            self.after_write(s);
        }
    }

    /// After a write release that found waiters: a writer first, else every reader.
    #[cold]
    #[inline(never)]
    fn after_write(&self, s: u64) {
        if writers(s) != 0 {
            self.wake_writer();
        } else if switches::active(Mutation::RwWordForgetsReaders) {
            // Deliberately broken (model checks only): the readers queued behind the
            // writer are never woken.
        } else {
            self.wake_readers();
        }
    }

    #[cold]
    #[inline(never)]
    fn wake_writer(&self) {
        self.writer_notify.fetch_add(1, Release);
        self.writer_notify.wake(1, Scope::Private);
    }

    /// Clears `READERS_WAITING` and wakes every sleeping reader (if it is still set: else
    /// another thread did).
    #[cold]
    #[inline(never)]
    fn wake_readers(&self) {
        let mut s = self.state.load(Relaxed);
        while s & READERS_WAITING != 0 {
            match self
                .state
                .compare_exchange(s, s & !READERS_WAITING, Relaxed, Relaxed)
            {
                Ok(_) => {
                    self.state.wake(i32::MAX, Scope::Private);
                    return;
                }
                Err(now) => s = now,
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn reads_share_writes_exclude() {
        let w = Word::new();
        w.try_read().unwrap();
        w.read().unwrap();
        assert_eq!(w.try_write(), Err(Error::WouldBlock));
        // SAFETY: two read holds taken above by this thread.
        unsafe {
            w.unlock();
            w.unlock();
        }
        w.write().unwrap();
        assert_eq!(w.try_read(), Err(Error::WouldBlock));
        assert_eq!(w.read(), Err(Error::Deadlock));
        assert_eq!(w.write_for(Duration::from_millis(1)), Err(Error::Deadlock));
        // SAFETY: the write lock taken above by this thread.
        unsafe { w.unlock() };
        assert_eq!(w.state.load(Relaxed), 0);
    }
}
