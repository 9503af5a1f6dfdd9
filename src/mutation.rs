//! Deliberately broken variants of the crate's own concurrent logic, for the model checks.
//!
//! They exist so that the loom tests can show their checks fail when the logic is wrong. They
//! can be switched on only in the model build (`cfg(loom)`); in the normal build [`active`]
//! is a constant `false` and the broken paths are compiled out.

/// One deliberately broken variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Mutation {
    /// Lazy initialisation installs its object with a plain store instead of a
    /// `compare_exchange`, so two racing first users can each get their own pthread object.
    LazyInitStore = 1,
    /// `Cond::wait_while` tests its condition once instead of in a loop.
    WaitWhileOnce = 2,
}

#[cfg(loom)]
std::thread_local! {
    static ACTIVE: std::cell::Cell<u8> = const { std::cell::Cell::new(0) };
}

/// Switches `mutation` on (or every mutation off, with `None`) for models run on this thread.
#[cfg(loom)]
pub fn set(mutation: Option<Mutation>) {
    ACTIVE.with(|a| a.set(mutation.map_or(0, |m| m as u8)));
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
