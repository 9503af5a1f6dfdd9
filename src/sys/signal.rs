//! Signals: `sigset_t`, per-thread masks, `sigwait`/`sigtimedwait`, `pthread_kill`.

use std::mem::MaybeUninit;
use std::time::Duration;

use crate::error::Error;

/// A `sigset_t`.
#[derive(Clone, Copy)]
pub struct RawSigSet(libc::sigset_t);

impl RawSigSet {
    /// The empty set.
    pub fn empty() -> RawSigSet {
        let mut set = MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: `set` is valid for writes; sigemptyset initialises it and cannot fail.
        unsafe {
            libc::sigemptyset(set.as_mut_ptr());
            RawSigSet(set.assume_init())
        }
    }

    /// Every signal.
    pub fn full() -> RawSigSet {
        let mut set = MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: as above, with sigfillset.
        unsafe {
            libc::sigfillset(set.as_mut_ptr());
            RawSigSet(set.assume_init())
        }
    }

    /// Adds (`true`) or removes signal `signo`, a valid signal number (the caller checks).
    pub fn set(&mut self, signo: libc::c_int, member: bool) {
        // SAFETY: `self.0` is initialised; `signo` is a valid signal number, so the calls
        // cannot fail.
        unsafe {
            if member {
                libc::sigaddset(&mut self.0, signo);
            } else {
                libc::sigdelset(&mut self.0, signo);
            }
        }
    }

    /// Whether `signo` (a valid signal number) is in the set.
    pub fn contains(&self, signo: libc::c_int) -> bool {
        // SAFETY: `self.0` is initialised; `signo` is valid.
        unsafe { libc::sigismember(&self.0, signo) == 1 }
    }
}

/// How `pthread_sigmask` changes the calling thread's mask.
#[derive(Clone, Copy)]
pub enum How {
    Block,
    Unblock,
    Set,
}

/// `pthread_sigmask`: changes the calling thread's mask; the previous one.
#[inline]
pub fn sigmask(how: How, set: &RawSigSet) -> Result<RawSigSet, Error> {
    let mut old = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: `set` is initialised; `old` is valid for writes, and filled in on success.
    match unsafe { libc::pthread_sigmask(how.raw(), &set.0, old.as_mut_ptr()) } {
        // SAFETY: written by the successful call.
        0 => Ok(RawSigSet(unsafe { old.assume_init() })),
        e => Err(Error::from_errno(e)),
    }
}

/// `pthread_sigmask` without asking for the previous mask (to restore one).
#[inline]
pub fn set_mask_only(how: How, set: &RawSigSet) -> Result<(), Error> {
    // SAFETY: `set` is initialised; a null `oldset` is allowed.
    match unsafe { libc::pthread_sigmask(how.raw(), &set.0, std::ptr::null_mut()) } {
        0 => Ok(()),
        e => Err(Error::from_errno(e)),
    }
}

impl How {
    #[inline]
    fn raw(self) -> libc::c_int {
        match self {
            How::Block => libc::SIG_BLOCK,
            How::Unblock => libc::SIG_UNBLOCK,
            How::Set => libc::SIG_SETMASK,
        }
    }
}

/// The calling thread's mask.
pub fn current_mask() -> Result<RawSigSet, Error> {
    let mut cur = RawSigSet::empty();
    // SAFETY: a null `set` only reads the mask into `cur`, which is valid for writes.
    match unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut cur.0) } {
        0 => Ok(cur),
        e => Err(Error::from_errno(e)),
    }
}

/// What `sigtimedwait` says about a signal taken.
#[derive(Clone, Copy, Debug)]
pub struct RawSigInfo {
    pub signo: libc::c_int,
    pub code: libc::c_int,
    pub pid: libc::pid_t,
    pub uid: libc::uid_t,
}

/// `sigwait`: the next pending signal of `set` (which must be blocked), retried on `EINTR`.
pub fn wait(set: &RawSigSet) -> Result<libc::c_int, Error> {
    loop {
        let mut signo = 0;
        // SAFETY: `set` is initialised; `signo` is valid for writes.
        match unsafe { libc::sigwait(&set.0, &mut signo) } {
            0 => return Ok(signo),
            libc::EINTR => continue,
            e => return Err(Error::from_errno(e)),
        }
    }
}

/// `sigtimedwait`: the next pending signal of `set` within `timeout`, `None` if none came;
/// retried on `EINTR` with the time that is left.
pub fn wait_timeout(set: &RawSigSet, timeout: Duration) -> Result<Option<RawSigInfo>, Error> {
    let deadline = std::time::Instant::now().checked_add(timeout);
    let mut left = timeout;
    loop {
        let ts = libc::timespec {
            tv_sec: libc::time_t::try_from(left.as_secs()).unwrap_or(libc::time_t::MAX),
            tv_nsec: left.subsec_nanos().into(),
        };
        let mut info = MaybeUninit::<libc::siginfo_t>::zeroed();
        // SAFETY: `set` and `ts` are initialised; `info` is valid for writes.
        let signo = unsafe { libc::sigtimedwait(&set.0, info.as_mut_ptr(), &ts) };
        if signo > 0 {
            // SAFETY: filled in by sigtimedwait for the signal taken (zeroed before, so every
            // field read is initialised even when the kernel leaves it out).
            let info = unsafe { info.assume_init() };
            // SAFETY: `si_pid` and `si_uid` are the sender's for the signals `kill`,
            // `pthread_kill`, `sigqueue` and the kernel's ordinary ones send.
            let (pid, uid) = unsafe { (info.si_pid(), info.si_uid()) };
            return Ok(Some(RawSigInfo {
                signo,
                code: info.si_code,
                pid,
                uid,
            }));
        }
        match std::io::Error::last_os_error().raw_os_error() {
            Some(libc::EAGAIN) => return Ok(None),
            Some(libc::EINTR) => {
                left = match deadline {
                    Some(d) => d.saturating_duration_since(std::time::Instant::now()),
                    None => timeout,
                };
            }
            e => return Err(Error::from_errno(e.unwrap_or(libc::EINVAL))),
        }
    }
}

/// This thread's `pthread_t`.
pub fn this_thread() -> libc::pthread_t {
    // SAFETY: no preconditions.
    unsafe { libc::pthread_self() }
}

/// `pthread_kill(thread, signo)` (`signo` 0: only checks).
///
/// # Safety
/// `thread` is a thread that has not been joined or detached-and-exited (glibc frees its
/// descriptor then).
pub unsafe fn kill(thread: libc::pthread_t, signo: libc::c_int) -> Result<(), Error> {
    // SAFETY: the caller guarantees `thread` is still valid.
    match unsafe { libc::pthread_kill(thread, signo) } {
        0 => Ok(()),
        e => Err(Error::from_errno(e)),
    }
}

/// The real-time signal range on this glibc (`SIGRTMIN()`, `SIGRTMAX()`).
pub fn realtime_range() -> (libc::c_int, libc::c_int) {
    (libc::SIGRTMIN(), libc::SIGRTMAX())
}
