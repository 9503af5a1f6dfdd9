//! `pthread_atfork`: the crate registers one trampoline, once.

use crate::error::Error;

/// Registers `prepare`, `parent` and `child` with `pthread_atfork`. Handlers registered this
/// way can never be removed; the crate calls it once, for its registry's trampoline.
pub fn atfork(
    prepare: extern "C" fn(),
    parent: extern "C" fn(),
    child: extern "C" fn(),
) -> Result<(), Error> {
    // SAFETY: three valid `extern "C"` functions with no arguments, as pthread_atfork takes.
    match unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(child)) } {
        0 => Ok(()),
        e => Err(Error::from_errno(e)),
    }
}
