//! `pthread_key_create` / `pthread_setspecific`: a destructor run at each thread's exit, for
//! per-thread state that other threads read (the table of regions' hold records).
//!
//! glibc keeps the first 32 keys' values in the thread descriptor itself, so neither call
//! allocates for such a key, and the destructor runs in the exiting thread before the kernel
//! walks its robust list (that happens at the exit system call, after every destructor).

use std::ffi::c_void;
use std::sync::atomic::{AtomicU32, Ordering::AcqRel, Ordering::Acquire};

use crate::error::Error;

/// A process-wide key, created on first use; no allocation, no lock (safe in a forked child).
pub struct ThreadKey {
    /// The key plus one; 0 while not created.
    key: AtomicU32,
    dtor: unsafe extern "C" fn(*mut c_void),
}

impl ThreadKey {
    /// A key whose destructor is `dtor`, called at a thread's exit with the thread's non-null
    /// value (glibc calls it up to `PTHREAD_DESTRUCTOR_ITERATIONS` times if it sets a value
    /// again).
    pub const fn new(dtor: unsafe extern "C" fn(*mut c_void)) -> ThreadKey {
        ThreadKey {
            key: AtomicU32::new(0),
            dtor,
        }
    }

    fn get(&self) -> Result<libc::pthread_key_t, Error> {
        match self.key.load(Acquire) {
            0 => {}
            k => return Ok(k - 1),
        }
        let mut key: libc::pthread_key_t = 0;
        // SAFETY: `key` is valid for the write; `dtor` is an `extern "C"` function of the
        // signature pthread_key_create takes.
        let r = unsafe { libc::pthread_key_create(&mut key, Some(self.dtor)) };
        if r != 0 {
            return Err(Error::from_errno(r));
        }
        // Racing first users each create a key; one wins, the others delete theirs (no
        // thread has a value under a key nobody has seen).
        match self.key.compare_exchange(0, key + 1, AcqRel, Acquire) {
            Ok(_) => Ok(key),
            Err(winner) => {
                // SAFETY: `key` was created just above and never published.
                unsafe { libc::pthread_key_delete(key) };
                Ok(winner - 1)
            }
        }
    }

    /// Sets the calling thread's value (non-null: the destructor will run with it).
    ///
    /// # Errors
    /// What `pthread_key_create` or `pthread_setspecific` report (`EAGAIN`: no key left).
    pub fn set(&self, value: *mut c_void) -> Result<(), Error> {
        let key = self.get()?;
        // SAFETY: `key` is a live key of this process; the value is only ever handed back to
        // the destructor.
        match unsafe { libc::pthread_setspecific(key, value) } {
            0 => Ok(()),
            e => Err(Error::from_errno(e)),
        }
    }
}
