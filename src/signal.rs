//! Signals in a multithreaded program: signal sets, per-thread masks with RAII guards,
//! `sigwait`/`sigtimedwait`, a dedicated signal-handling thread, and `pthread_kill`.
//!
//! The discipline this module makes safe: block the signals in every thread (block them in
//! the main thread before spawning any other: a mask is inherited by threads spawned later),
//! and take them synchronously in one thread with [`wait`] or a [`SignalThread`], instead of
//! asynchronous handlers that may run on any thread and may do almost nothing.
//!
//! ```
//! use pthread_sync::signal::{self, SigSet, Signal, SignalThread};
//! use std::sync::mpsc;
//!
//! // Block SIGUSR1 here first: threads spawned from now on inherit the mask.
//! let set = SigSet::from([Signal::USR1]);
//! let (tx, rx) = mpsc::channel();
//! let mut thread = SignalThread::spawn(set, move |info| tx.send(info.signal).unwrap()).unwrap();
//! signal::raise_process(Signal::USR1).unwrap();
//! assert_eq!(rx.recv().unwrap(), Signal::USR1);
//! thread.stop().unwrap();
//! ```
//!
//! Masks are per thread and inherited: by threads spawned later, and by child processes
//! (`fork`, and so `std::process::Command`, whose children start with the spawning thread's
//! mask: unblock in the child, or spawn from a thread with the default mask, if the child
//! must receive them). glibc keeps its two internal real-time signals (32 and 33) unblockable
//! and unusable: [`SigSet::full`] leaves them out as `sigfillset` does, `pthread_sigmask`
//! leaves them out silently, and [`Signal::new`] refuses them.

use std::fmt;
use std::marker::PhantomData;
use std::os::unix::thread::JoinHandleExt;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::error::Error;
use crate::sys::signal::{self as sys, How, RawSigSet};
use crate::Locker;

/// A signal number: a standard signal or a real-time one.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signal(i32);

macro_rules! signals {
    ($($name:ident = $value:ident, $text:literal;)*) => {
        impl Signal {
            $(
                #[doc = concat!("`", $text, "`.")]
                pub const $name: Signal = Signal(libc::$value);
            )*

            /// The standard (non-real-time) signals, with their names.
            const STANDARD: &'static [(Signal, &'static str)] = &[$((Signal::$name, $text)),*];
        }
    };
}

signals! {
    HUP = SIGHUP, "SIGHUP";
    INT = SIGINT, "SIGINT";
    QUIT = SIGQUIT, "SIGQUIT";
    ILL = SIGILL, "SIGILL";
    TRAP = SIGTRAP, "SIGTRAP";
    ABRT = SIGABRT, "SIGABRT";
    BUS = SIGBUS, "SIGBUS";
    FPE = SIGFPE, "SIGFPE";
    KILL = SIGKILL, "SIGKILL";
    USR1 = SIGUSR1, "SIGUSR1";
    SEGV = SIGSEGV, "SIGSEGV";
    USR2 = SIGUSR2, "SIGUSR2";
    PIPE = SIGPIPE, "SIGPIPE";
    ALRM = SIGALRM, "SIGALRM";
    TERM = SIGTERM, "SIGTERM";
    STKFLT = SIGSTKFLT, "SIGSTKFLT";
    CHLD = SIGCHLD, "SIGCHLD";
    CONT = SIGCONT, "SIGCONT";
    STOP = SIGSTOP, "SIGSTOP";
    TSTP = SIGTSTP, "SIGTSTP";
    TTIN = SIGTTIN, "SIGTTIN";
    TTOU = SIGTTOU, "SIGTTOU";
    URG = SIGURG, "SIGURG";
    XCPU = SIGXCPU, "SIGXCPU";
    XFSZ = SIGXFSZ, "SIGXFSZ";
    VTALRM = SIGVTALRM, "SIGVTALRM";
    PROF = SIGPROF, "SIGPROF";
    WINCH = SIGWINCH, "SIGWINCH";
    IO = SIGIO, "SIGIO";
    PWR = SIGPWR, "SIGPWR";
    SYS = SIGSYS, "SIGSYS";
}

impl Signal {
    /// The signal numbered `number`: a standard one (1 to 31) or a real-time one
    /// (`SIGRTMIN()` to `SIGRTMAX()`, 34 to 64 on glibc).
    ///
    /// # Errors
    /// [`Error::BadSignal`] for 0, a negative number, glibc's internal signals (32, 33), or
    /// one past `SIGRTMAX()`.
    ///
    /// ```
    /// use pthread_sync::signal::Signal;
    /// assert_eq!(Signal::new(10).unwrap(), Signal::USR1);
    /// assert!(Signal::new(0).is_err() && Signal::new(32).is_err() && Signal::new(65).is_err());
    /// ```
    pub fn new(number: i32) -> Result<Signal, Error> {
        let (rtmin, rtmax) = sys::realtime_range();
        if (1..=31).contains(&number) || (rtmin..=rtmax).contains(&number) {
            Ok(Signal(number))
        } else {
            Err(Error::BadSignal(number))
        }
    }

    /// The real-time signal `SIGRTMIN() + offset`.
    ///
    /// # Errors
    /// [`Error::BadSignal`] past `SIGRTMAX()`.
    pub fn realtime(offset: u32) -> Result<Signal, Error> {
        let (rtmin, _) = sys::realtime_range();
        let number = i32::try_from(offset)
            .ok()
            .and_then(|o| rtmin.checked_add(o))
            .unwrap_or(i32::MAX);
        Signal::new(number)
    }

    /// The signal's number.
    pub fn number(self) -> i32 {
        self.0
    }
}

impl fmt::Display for Signal {
    /// `SIGUSR1`, or `SIGRTMIN+3` for a real-time signal.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match Signal::STANDARD.iter().find(|(s, _)| s == self) {
            Some((_, name)) => f.write_str(name),
            None => write!(f, "SIGRTMIN+{}", self.0 - sys::realtime_range().0),
        }
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A set of signals (`sigset_t`).
#[derive(Clone, Copy)]
pub struct SigSet(RawSigSet);

impl SigSet {
    /// No signal (`sigemptyset`).
    pub fn empty() -> SigSet {
        SigSet(RawSigSet::empty())
    }

    /// Every signal a program may use (`sigfillset`: glibc leaves out its internal 32 and 33).
    ///
    /// Blocking it blocks the synchronous fault signals too (`SIGSEGV`, `SIGBUS`, `SIGFPE`,
    /// `SIGILL`): a fault then kills the process by the default action, past any handler
    /// (Rust's stack-overflow message included). Block the signals a thread waits for.
    pub fn full() -> SigSet {
        SigSet(RawSigSet::full())
    }

    /// Adds `signal`.
    pub fn add(&mut self, signal: Signal) -> &mut SigSet {
        self.0.set(signal.0, true);
        self
    }

    /// Removes `signal`.
    pub fn remove(&mut self, signal: Signal) -> &mut SigSet {
        self.0.set(signal.0, false);
        self
    }

    /// Whether `signal` is in the set.
    pub fn contains(&self, signal: Signal) -> bool {
        self.0.contains(signal.0)
    }

    /// The usable signals in the set, in increasing order (glibc's internal ones left out).
    pub fn iter(&self) -> impl Iterator<Item = Signal> + '_ {
        let (_, rtmax) = sys::realtime_range();
        (1..=rtmax)
            .filter_map(|n| Signal::new(n).ok())
            .filter(|s| self.contains(*s))
    }
}

impl FromIterator<Signal> for SigSet {
    fn from_iter<I: IntoIterator<Item = Signal>>(signals: I) -> SigSet {
        let mut set = SigSet::empty();
        for s in signals {
            set.add(s);
        }
        set
    }
}

impl<const N: usize> From<[Signal; N]> for SigSet {
    fn from(signals: [Signal; N]) -> SigSet {
        signals.into_iter().collect()
    }
}

impl PartialEq for SigSet {
    fn eq(&self, other: &SigSet) -> bool {
        self.iter().eq(other.iter())
    }
}

impl fmt::Debug for SigSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// Restores the calling thread's previous signal mask when dropped (also on unwinding).
/// `!Send`: a mask is the thread's own.
#[must_use = "dropping the guard restores the previous mask at once"]
pub struct MaskGuard {
    previous: RawSigSet,
    _not_send: PhantomData<*const ()>,
}

impl MaskGuard {
    /// Keeps the new mask for the rest of the thread's life (drops the guard without
    /// restoring).
    pub fn keep(self) {
        std::mem::forget(self);
    }
}

impl Drop for MaskGuard {
    #[inline]
    fn drop(&mut self) {
        // Setting a mask from a valid set cannot fail.
        let _ = sys::set_mask_only(How::Set, &self.previous);
    }
}

impl fmt::Debug for MaskGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MaskGuard")
            .field("previous", &SigSet(self.previous))
            .finish()
    }
}

#[inline]
fn change(how: How, set: &SigSet) -> Result<MaskGuard, Error> {
    sys::sigmask(how, &set.0).map(|previous| MaskGuard {
        previous,
        _not_send: PhantomData,
    })
}

/// Blocks `set` in the calling thread (`pthread_sigmask(SIG_BLOCK)`) until the guard drops.
/// Threads spawned meanwhile inherit the mask.
///
/// # Errors
/// What `pthread_sigmask` reports (nothing, for a valid set).
#[doc(alias = "pthread_sigmask")]
#[inline]
pub fn block(set: &SigSet) -> Result<MaskGuard, Error> {
    change(How::Block, set)
}

/// Unblocks `set` in the calling thread until the guard drops.
///
/// # Errors
/// As [`block`].
pub fn unblock(set: &SigSet) -> Result<MaskGuard, Error> {
    change(How::Unblock, set)
}

/// Makes `set` the calling thread's whole mask until the guard drops.
///
/// # Errors
/// As [`block`].
pub fn set_mask(set: &SigSet) -> Result<MaskGuard, Error> {
    change(How::Set, set)
}

/// The calling thread's mask.
///
/// # Errors
/// As [`block`].
pub fn current() -> Result<SigSet, Error> {
    sys::current_mask().map(SigSet)
}

/// A signal taken by [`wait_timeout`] or a [`SignalThread`], with what the kernel says about
/// its sender.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SigInfo {
    /// The signal.
    pub signal: Signal,
    /// The sender's process id (for `kill`, `pthread_kill`, `sigqueue`; 0 for the kernel's).
    pub pid: i32,
    /// The sender's real user id.
    pub uid: u32,
    /// `si_code`: how it was sent (`SI_USER` from `kill`, `SI_TKILL` from `pthread_kill`,
    /// ...).
    pub code: i32,
}

/// Why a set is refused for a wait.
const NOT_WAITABLE: &str = "no signal in the set can be waited for (the kernel drops SIGKILL \
     and SIGSTOP from a wait's set, glibc its internal signals)";

/// `Err(InvalidInput)` if no signal of `set` can be taken by a wait, which would then sleep
/// forever: an empty set, or one of `SIGKILL`, `SIGSTOP` (which Linux removes from a wait's
/// set without an error: they can be neither blocked nor waited for) and glibc's internal
/// signals (which glibc removes) alone. Beside other signals they are ignored, as in C (a
/// wait on [`SigSet::full`] works; blocking it has a cost, see there).
fn waitable(set: &SigSet) -> Result<(), Error> {
    if set.iter().all(|s| s == Signal::KILL || s == Signal::STOP) {
        return Err(Error::InvalidInput(NOT_WAITABLE));
    }
    Ok(())
}

/// Waits for a signal of `set` (`sigwait`), which must be blocked in every thread (else it
/// may be delivered elsewhere); retried on `EINTR`.
///
/// `SIGKILL` and `SIGSTOP` in `set` are ignored (Linux drops them from a wait's set: they can
/// be neither blocked nor waited for), as are glibc's internal signals.
///
/// # Errors
/// [`Error::InvalidInput`] for a set with no signal that can be waited for (empty, or
/// `SIGKILL` and `SIGSTOP` alone), on which a wait would sleep forever:
///
/// ```
/// use pthread_sync::signal::{self, SigSet, Signal};
/// use pthread_sync::Error;
/// let r = signal::wait(&SigSet::from([Signal::KILL]));
/// assert!(matches!(r, Err(Error::InvalidInput(_))));
/// ```
#[doc(alias = "sigwait")]
pub fn wait(set: &SigSet) -> Result<Signal, Error> {
    waitable(set)?;
    sys::wait(&set.0).map(Signal)
}

/// Waits at most `timeout` for a signal of `set` (`sigtimedwait`); `None` if none came.
/// Retried on `EINTR` with the time left.
///
/// # Errors
/// As [`wait`].
#[doc(alias = "sigtimedwait")]
pub fn wait_timeout(set: &SigSet, timeout: Duration) -> Result<Option<SigInfo>, Error> {
    waitable(set)?;
    Ok(sys::wait_timeout(&set.0, timeout)?.map(|i| SigInfo {
        signal: Signal(i.signo),
        pid: i.pid,
        uid: i.uid,
        code: i.code,
    }))
}

/// Sends `signal` to this process (`kill(getpid(), signal)`): any thread that does not block
/// it may take it.
///
/// # Errors
/// What `kill` reports.
pub fn raise_process(signal: Signal) -> Result<(), Error> {
    // SAFETY: plain system calls.
    if unsafe { libc::kill(libc::getpid(), signal.0) } == 0 {
        Ok(())
    } else {
        Err(Error::from_errno(
            std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
        ))
    }
}

/// Sends `signal` to the thread of `thread` (`pthread_kill`), a thread spawned with
/// `std::thread` and not joined yet (the borrow guarantees it).
///
/// # Errors
/// [`Error::ThreadGone`] if it has finished (glibc itself would send into the void and report
/// success).
#[doc(alias = "pthread_kill")]
pub fn kill<T>(thread: &JoinHandle<T>, signal: Signal) -> Result<(), Error> {
    if thread.is_finished() {
        return Err(Error::ThreadGone);
    }
    // SAFETY: the `JoinHandle` is borrowed, so the thread is not joined (nor detached): its
    // `pthread_t` is valid even if it finishes meanwhile.
    unsafe { sys::kill(thread.as_pthread_t(), signal.0) }
}

/// Whether the thread of `thread` is still running (`pthread_kill` with signal 0).
pub fn is_alive<T>(thread: &JoinHandle<T>) -> bool {
    // SAFETY: as in `kill`.
    !thread.is_finished() && unsafe { sys::kill(thread.as_pthread_t(), 0) }.is_ok()
}

/// A thread, seen from its own side: [`ThreadRef::current`] on that thread, then
/// [`ThreadRef::kill`] from any thread, before or after it finished (then
/// [`Error::ThreadGone`], never a signal sent to a freed thread).
#[derive(Clone)]
pub struct ThreadRef {
    inner: Arc<Liveness>,
}

/// A thread's `pthread_t` and whether it still runs, under a lock that its exit also takes,
/// so a `pthread_kill` never races with the thread's descriptor being freed.
struct Liveness {
    thread: libc::pthread_t,
    alive: Locker<bool>,
}

/// Marks the thread's `Liveness` dead when the thread exits (a thread-local destructor, run
/// before glibc frees the thread).
struct ExitMark(Arc<Liveness>);

impl Drop for ExitMark {
    fn drop(&mut self) {
        *self.0.alive.lock().unwrap_or_else(|e| e.into_inner()) = false;
    }
}

std::thread_local! {
    static THIS: std::cell::OnceCell<ExitMark> = const { std::cell::OnceCell::new() };
}

impl ThreadRef {
    /// The calling thread.
    pub fn current() -> ThreadRef {
        THIS.with(|this| {
            let mark = this.get_or_init(|| {
                ExitMark(Arc::new(Liveness {
                    thread: sys::this_thread(),
                    alive: Locker::new(true),
                }))
            });
            ThreadRef {
                inner: Arc::clone(&mark.0),
            }
        })
    }

    /// Sends `signal` to the thread (`pthread_kill`).
    ///
    /// # Errors
    /// [`Error::ThreadGone`] if it has exited.
    pub fn kill(&self, signal: Signal) -> Result<(), Error> {
        self.send(signal.0)
    }

    /// Whether the thread is still running.
    pub fn is_alive(&self) -> bool {
        self.send(0).is_ok()
    }

    fn send(&self, signo: i32) -> Result<(), Error> {
        let alive = self.inner.alive.lock().unwrap_or_else(|e| e.into_inner());
        if !*alive {
            return Err(Error::ThreadGone);
        }
        // SAFETY: the thread has not run its exit mark, which waits for this lock: it has not
        // finished exiting, so its `pthread_t` is valid.
        unsafe { sys::kill(self.inner.thread, signo) }
    }
}

impl fmt::Debug for ThreadRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadRef")
            .field("alive", &self.is_alive())
            .finish()
    }
}

/// How often a [`SignalThread`] looks at its stop flag.
const STOP_PERIOD: Duration = Duration::from_millis(20);

/// A dedicated signal-handling thread: waits for the signals of its set and runs a handler
/// for each, on that thread (an ordinary thread: the handler may allocate, lock, print).
///
/// [`SignalThread::spawn`] blocks the set in the calling thread first (for good: threads it
/// spawns later inherit the mask, which is the point), so spawn it from the main thread
/// before any other. [`SignalThread::stop`] ends it and joins it within a bounded time
/// (`sigtimedwait` with a short timeout and a stop flag), without a signal and without
/// ending the process; a new one can be spawned after.
pub struct SignalThread {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl SignalThread {
    /// Blocks `set` in the calling thread, then starts the thread that takes those signals
    /// and calls `handler` with each.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a set with no signal that can be waited for (as [`wait`]);
    /// what blocking the set reports; [`Error::Os`] if the thread cannot be spawned.
    pub fn spawn<F>(set: SigSet, mut handler: F) -> Result<SignalThread, Error>
    where
        F: FnMut(SigInfo) + Send + 'static,
    {
        waitable(&set)?;
        block(&set)?.keep();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("pthread-sync signals".into())
            .spawn(move || {
                while !flag.load(Relaxed) {
                    match wait_timeout(&set, STOP_PERIOD) {
                        Ok(Some(info)) => handler(info),
                        Ok(None) => {}
                        Err(e) => crate::error::fatal("sigtimedwait", e),
                    }
                }
            })
            .map_err(|e| Error::Os(e.raw_os_error().unwrap_or(libc::EAGAIN)))?;
        Ok(SignalThread {
            stop,
            thread: Some(thread),
        })
    }

    /// Whether the thread is still running.
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Stops the thread and joins it (within `STOP_PERIOD`, 20 ms, plus the handler's
    /// current call). Calling it again does nothing.
    ///
    /// # Errors
    /// [`Error::Os`] with `EIO` if the handler panicked (the panic is reported, not resumed).
    pub fn stop(&mut self) -> Result<(), Error> {
        self.stop.store(true, Relaxed);
        match self.thread.take() {
            Some(t) => t.join().map_err(|_| Error::Os(libc::EIO)),
            None => Ok(()),
        }
    }
}

impl Drop for SignalThread {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

impl fmt::Debug for SignalThread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignalThread")
            .field("running", &self.is_running())
            .finish()
    }
}
