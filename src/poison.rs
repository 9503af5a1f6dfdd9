//! Poisoning, exactly as `std::sync::Mutex` does it: a guard dropped while its thread is
//! panicking (and was not already panicking when it locked) marks the lock poisoned. A kind
//! chooses [`Flag`] (std's poisoning) or [`Never`] (no poisoning, no cost) as its policy.

use std::fmt;
use std::sync::atomic::Ordering::Relaxed;
use std::thread;

use crate::shim::{const_fn, AtomicU8};

/// A lock's poisoning policy. Sealed (a public trait in a private module).
pub trait Policy: Send + Sync + Sized {
    /// What a guard remembers, to decide when dropped whether it poisons the lock.
    type Token;
    /// A new, unpoisoned state.
    fn new() -> Self;
    /// Whether this policy poisons at all.
    fn poisons(&self) -> bool;
    /// Called with the lock just acquired.
    fn enter(&self) -> Self::Token;
    /// Whether the lock is poisoned now.
    fn is_poisoned(&self) -> bool;
    /// Called with the lock still held, just before it is released.
    fn leave(&self, token: &Self::Token);
}

/// std's poisoning: the poisoned flag of one lock. Relaxed is enough: it is written and read
/// under the lock. A byte, not a `bool`: in a shared-memory region other processes write it,
/// and any nonzero value reads as poisoned (no byte is invalid).
pub struct Flag {
    failed: AtomicU8,
}

impl Flag {
    const_fn! {
        pub(crate) const fn new_const() -> Flag {
            Flag { failed: AtomicU8::new(0) }
        }
    }

    /// Clears the flag, for a caller that has repaired the data.
    #[inline]
    pub(crate) fn clear(&self) {
        self.failed.store(0, Relaxed);
    }
}

impl Policy for Flag {
    /// Whether the thread was already panicking when it locked.
    type Token = bool;

    fn new() -> Flag {
        Flag::new_const()
    }

    #[inline(always)]
    fn poisons(&self) -> bool {
        true
    }

    #[inline(always)]
    fn enter(&self) -> bool {
        thread::panicking()
    }

    #[inline(always)]
    fn is_poisoned(&self) -> bool {
        self.failed.load(Relaxed) != 0
    }

    #[inline(always)]
    fn leave(&self, was_panicking: &bool) {
        if !*was_panicking && thread::panicking() {
            self.failed.store(1, Relaxed);
        }
    }
}

/// No poisoning: a zero-sized policy whose checks compile to nothing.
pub struct Never;

impl Policy for Never {
    type Token = ();

    fn new() -> Never {
        Never
    }

    #[inline(always)]
    fn poisons(&self) -> bool {
        false
    }

    #[inline(always)]
    fn enter(&self) {}

    #[inline(always)]
    fn is_poisoned(&self) -> bool {
        false
    }

    #[inline(always)]
    fn leave(&self, _: &()) {}
}

/// What `Debug` shows for the data of a lock held elsewhere: exactly what the std of the
/// compiling toolchain shows for a locked `std::sync::Mutex` (`"<locked>"`, quoted, in current
/// std; unquoted in older ones). It formats a locked std mutex into a stack buffer and passes
/// on the part between `data: ` and `, poisoned`, so it follows std wherever std goes,
/// without allocating.
pub(crate) struct LockedMarker;

/// The same for a write-locked `std::sync::RwLock` (std prints `<locked>` unquoted there,
/// in the same toolchain that quotes the mutex's).
pub(crate) struct RwLockedMarker;

impl fmt::Debug for LockedMarker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let std_mutex = std::sync::Mutex::new(());
        let _held = std_mutex.lock();
        std_data_part(f, format_args!("{std_mutex:?}"))
    }
}

impl fmt::Debug for RwLockedMarker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let std_rwlock = std::sync::RwLock::new(());
        let _held = std_rwlock.write();
        std_data_part(f, format_args!("{std_rwlock:?}"))
    }
}

/// Writes the `<X>` of std's whole `Lock { data: <X>, poisoned: false, .. }` (`std_text`).
fn std_data_part(f: &mut fmt::Formatter<'_>, std_text: fmt::Arguments<'_>) -> fmt::Result {
    {
        const BEFORE: &str = "data: ";
        const AFTER: &str = ", poisoned";
        let mut buf = StackBuf::new();
        fmt::write(&mut buf, std_text)?;
        let text = buf.as_str();
        let data = text
            .find(BEFORE)
            .map(|i| &text[i + BEFORE.len()..])
            .and_then(|rest| rest.find(AFTER).map(|j| &rest[..j]));
        match data {
            Some(data) => f.write_str(data),
            // A std whose output no longer has this shape: say it plainly.
            None => f.write_str("<locked>"),
        }
    }
}

/// A fixed-size text buffer (no allocation); writes past its end are dropped.
struct StackBuf {
    bytes: [u8; 128],
    len: usize,
}

impl StackBuf {
    fn new() -> StackBuf {
        StackBuf {
            bytes: [0; 128],
            len: 0,
        }
    }

    fn as_str(&self) -> &str {
        // Only whole `str`s are appended (see `write_str`), so this is valid UTF-8.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }
}

impl fmt::Write for StackBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if let Some(room) = self.bytes.get_mut(self.len..self.len + s.len()) {
            room.copy_from_slice(s.as_bytes());
            self.len += s.len();
        }
        Ok(())
    }
}

/// std's `LockResult` of `value`: `Err` holding it when `poisoned`. One place for the shape
/// every poisoning lock returns (lock, wait, `get_mut`, `into_inner`).
#[inline(always)]
pub(crate) fn lock_result<G>(poisoned: bool, value: G) -> std::sync::LockResult<G> {
    if poisoned {
        Err(std::sync::PoisonError::new(value))
    } else {
        Ok(value)
    }
}
