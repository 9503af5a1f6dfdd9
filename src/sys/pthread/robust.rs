//! The uncontended lock and unlock of the crate's robust, process-shared mutexes (every
//! shared locker: `PTHREAD_PRIO_NONE` and `PTHREAD_PRIO_INHERIT`), done here, inline, to
//! glibc's own protocol; everything else (a held mutex, a dead owner, recursion, an
//! unrepaired mutex, a waiter to wake, every other kind) goes to glibc's calls, or to the
//! kernel's, as glibc's would.
//!
//! # Why
//!
//! A shared lock does work of its own around glibc's (the region check and hold count that
//! keep a region mapped while a robust mutex in it is held, the poison flag). glibc's
//! `pthread_mutex_trylock` and `pthread_mutex_unlock` spend some 110 instructions on the
//! robust kinds, most of them dispatch on `__kind` through two levels of calls: the lock
//! itself is one compare-exchange, one exchange and a dozen stores. Done here, the same
//! steps cost some 40, and a whole `SharedLocker` lock and unlock, checks, hold count and
//! poisoning included, what the bare glibc calls cost (`benches/calls.rs`, the `*_shared_*`
//! groups; figures in the README). The calls come in two shapes: [`take`] and
//! [`release_held`] (the shared lockers' fast paths) stop where a call to the kernel or a
//! give-back is due and say so, for the caller to finish out of its straight line
//! ([`give_back_taken`], [`wake_released`]); [`try_lock`] and [`unlock`] do it all.
//!
//! # What "glibc's own protocol" is
//!
//! The bytes are glibc's and the kernel's: a robust mutex's lock word holds its owner's
//! thread id (and `FUTEX_WAITERS`, `FUTEX_OWNER_DIED`), and a held one is linked into its
//! owner's robust list, which the kernel walks when the thread dies (`set_robust_list(2)`,
//! the kernel's `robust-futex-ABI`). A lock taken here is indistinguishable from one glibc
//! took: glibc (in this process or another, a C program included) unlocks it, waits on it,
//! finds its owner dead; the kernel cleans it up. The steps, in glibc 2.36's order
//! (`nptl/pthread_mutex_trylock.c`, `pthread_mutex_unlock.c`, the list macros of
//! `nptl/descr.h`; unchanged from 2.30 to 2.42), with a compiler barrier between each, so a
//! thread killed between any two leaves the list as the kernel expects:
//!
//! - lock: `list_op_pending` = the entry; compare-exchange the lock word 0 -> thread id
//!   (acquire); a `__owner` of `PTHREAD_MUTEX_NOTRECOVERABLE` gives the word back and fails;
//!   else link the entry at the list's head; clear `list_op_pending`; `__owner` = thread id,
//!   `++__nusers`, `__count` = 1.
//! - unlock (held by the caller, `__owner` its id, so not an unrepaired dead owner's, which
//!   glibc turns into not-recoverable): a recursive one counts `__count` down, and above 1
//!   that is all; then `list_op_pending` = the entry; unlink it; `__owner` = 0,
//!   `--__nusers`; exchange the lock word with 0 (release) and wake one waiter if
//!   `FUTEX_WAITERS` was set (a shared-futex wake, as glibc's for every robust mutex); clear
//!   `list_op_pending`. The wake comes before the clear: a thread killed between the exchange
//!   and the wake leaves the kernel a pending entry whose word is 0, for which the kernel's
//!   death cleanup wakes a waiter itself.
//! - a priority-inheritance mutex (glibc's `PTHREAD_MUTEX_PI_ROBUST_*` cases): the same, but
//!   its entry is marked in bit 0 in `list_op_pending` and in the list's link to it (never in
//!   a `__prev`), the word is released by a compare-exchange of the caller's id with 0
//!   (release), or, when it holds anything else (`FUTEX_WAITERS`: a waiter queued in the
//!   kernel), by the kernel (`FUTEX_UNLOCK_PI`, which hands it to the waiter), and a
//!   not-recoverable one is given back by `FUTEX_UNLOCK_PI` too.
//!
//! # What it reads of glibc, and how it checks it
//!
//! Three things are glibc's private business, so each is found, and checked, once in the
//! process (`probe`, run when the process maps a region: `prepare`; never inside a lock call,
//! and it allocates nothing), and where any is missing or disagrees, or before the check has
//! run, or with `PTHREAD_SYNC_ROBUST_GLIBC=1` in the environment then, every call goes to
//! glibc:
//!
//! - the calling thread's id as glibc keeps it (glibc writes that into the lock word, and the
//!   kernel compares it with the dying thread's): read from glibc's thread descriptor at the
//!   offset glibc publishes for debuggers (`_thread_db_pthread_tid`, libthread_db's
//!   interface), from the thread pointer (`%fs:0`). Always glibc's current value, so right in a
//!   child of `fork` or `_Fork` alike; checked against `gettid`.
//! - the thread's robust list head: where the kernel says it is (`get_robust_list`), as an
//!   offset from the thread pointer (glibc keeps it in the descriptor); its `futex_offset` is
//!   checked against the layout below.
//! - the layout of `struct __pthread_mutex_s` on x86_64 (`__lock`, `__count`, `__owner`,
//!   `__nusers`, `__kind`, `__list.__prev`, `__list.__next`: the public header's, fixed by
//!   the ABI) and of glibc's doubly linked robust list: checked by watching glibc lock and
//!   unlock two mutexes (every word it writes, in the mutexes and the list), then doing the
//!   same steps here and having glibc undo them; once without a protocol and once with
//!   priority inheritance, and the `__kind` of each type and protocol.
//!
//! `__kind` is read on every call: only a robust, process-shared mutex of the protocol and
//! type the caller's kind says takes this path (a mutex a C program armed with other
//! attributes goes to glibc).
//!
//! Only x86_64 glibc: elsewhere every call goes to glibc.

use std::marker::PhantomData;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};
use std::sync::atomic::{compiler_fence, AtomicI32, AtomicU64, AtomicUsize};

use super::super::{Released, Take};
use super::{futex_unlock_pi, futex_wake, Scope};
use crate::error::Error;

// `struct __pthread_mutex_s` on x86_64 (glibc's `bits/struct_mutex.h`), in bytes.
const LOCK: usize = 0;
const COUNT: usize = 4;
const OWNER: usize = 8;
const NUSERS: usize = 12;
const KIND: usize = 16;
/// `__list.__prev`; `__list.__next` follows. A list entry is the address of a mutex's
/// `__next`, and `__prev` points at the previous entry's `__next` (the first's at the head).
const PREV: usize = 24;
const NEXT: usize = 32;
/// glibc's `QUEUE_PTR_ADJUST`: from an entry (a `__next`) back to its `__pthread_list_t`.
const ADJUST: usize = NEXT - PREV;

// `struct robust_list_head` (the kernel's ABI), in bytes.
const HEAD_LIST: usize = 0;
const HEAD_FUTEX_OFFSET: usize = 8;
const HEAD_PENDING: usize = 16;
const HEAD_SIZE: usize = 24;

const FUTEX_WAITERS: i32 = 0x8000_0000_u32 as i32;
const FUTEX_OWNER_DIED: i32 = 0x4000_0000;
const FUTEX_TID_MASK: i32 = 0x3fff_ffff;
/// glibc's `PTHREAD_MUTEX_NOTRECOVERABLE` (`__owner` of a mutex whose dead owner's
/// successor unlocked it unrepaired). This, `PTHREAD_MUTEX_INCONSISTENT` (which the unlock
/// leaves to glibc by requiring `__owner` to be the caller's id) and the `FUTEX_*` bits are
/// ABI constants, unchanged since glibc has had robust mutexes: not probed.
const NOTRECOVERABLE: i32 = 0x7fff_fffe;

/// `__kind`'s type bits (`PTHREAD_MUTEX_KIND_MASK_NP`) and `PTHREAD_MUTEX_NO_ELISION_NP`
/// (which `settype(NORMAL)` records): ignored when matching the kind to lock.
const KIND_IGNORED: i32 = 3 | KIND_NO_ELISION;
/// `__kind` of this path's mutexes, bits outside `KIND_IGNORED`:
/// `PTHREAD_MUTEX_ROBUST_NORMAL_NP` (16) | `PTHREAD_MUTEX_PSHARED_BIT` (128).
const KIND_ROBUST_SHARED: i32 = 16 | 128;
/// `PTHREAD_MUTEX_PRIO_INHERIT_NP`: `__kind`'s bit of a priority-inheritance mutex.
const KIND_PI: i32 = 32;

/// `__kind` of this path's mutexes, bits outside `KIND_IGNORED`, of the protocol `pi` says.
#[inline(always)]
const fn robust_kind(pi: bool) -> i32 {
    if pi {
        KIND_ROBUST_SHARED | KIND_PI
    } else {
        KIND_ROBUST_SHARED
    }
}

/// Whether the mutex at `m` is a priority-inheritance one (its `__kind`).
///
/// # Safety
/// `m` is an initialised mutex at a stable address, live for the call.
#[inline(always)]
unsafe fn is_pi(m: *mut libc::pthread_mutex_t) -> bool {
    // SAFETY: the caller's contract.
    unsafe { Words::new(m) }.int(KIND).load(Relaxed) & KIND_PI != 0
}

/// `__kind`'s type bits of a recursive mutex.
const KIND_RECURSIVE: i32 = 1;
/// `__kind`'s type bits of an errorcheck mutex.
const KIND_ERRORCHECK: i32 = 2;
/// `PTHREAD_MUTEX_NO_ELISION_NP`.
const KIND_NO_ELISION: i32 = 512;

/// The process's layout: [`UNPROBED`]; [`PROBING`] with the probing process's id in bits
/// 32-61 (one thread is checking glibc; a child forked meanwhile, which inherits the value,
/// sees another process's claim and probes again); [`OFF`] every call goes to glibc; else
/// [`ON`] with the tid's offset from the thread pointer in bits 0-15 and the robust head's in
/// bits 16-31, and [`PI_ON`] if the PI mutexes take the inline path too (checked apart: a
/// system without PI futexes keeps the rest). Until it is `ON` every call goes to glibc.
static LAYOUT: AtomicU64 = AtomicU64::new(UNPROBED);
const UNPROBED: u64 = 0;
const PROBING: u64 = 2;
const OFF: u64 = 1;
const ON: u64 = 1 << 63;
const PI_ON: u64 = 1 << 62;

/// The environment variable that, set to `1` when the process first maps a region, keeps
/// every robust lock and unlock in glibc's calls (for tools that intercept
/// `pthread_mutex_*`, such as ThreadSanitizer, helgrind or DRD, which would otherwise see only
/// some of the lock and unlock events).
pub(super) const GLIBC_ONLY: &std::ffi::CStr = c"PTHREAD_SYNC_ROBUST_GLIBC";

/// The word of `T` at `base + off`, for atomic access.
///
/// # Safety
/// `base + off` is a live, aligned `T`-sized word, for as long as the reference is used.
#[inline(always)]
unsafe fn at<'a>(base: usize, off: usize) -> &'a AtomicUsize {
    // SAFETY: the caller's contract.
    unsafe { AtomicUsize::from_ptr((base + off) as *mut usize) }
}

/// As [`at`], for an `int` word.
///
/// # Safety
/// As [`at`].
#[inline(always)]
unsafe fn int<'a>(base: usize, off: usize) -> &'a AtomicI32 {
    // SAFETY: the caller's contract.
    unsafe { AtomicI32::from_ptr((base + off) as *mut i32) }
}

/// The calling thread's thread pointer: the address of its glibc descriptor.
#[cfg(all(target_arch = "x86_64", target_env = "gnu"))]
#[inline(always)]
fn thread_pointer() -> usize {
    let tp: usize;
    // SAFETY: on x86_64 Linux the word at `%fs:0` is the thread pointer itself (the TLS
    // ABI's self-pointer at the start of the TCB, glibc's `tcbhead_t.tcb`); reading it has
    // no other effect, and it never changes for the thread.
    unsafe {
        std::arch::asm!(
            "mov {}, qword ptr fs:[0]",
            out(reg) tp,
            options(nostack, preserves_flags, readonly, pure)
        )
    };
    tp
}

/// The calling thread's id as glibc keeps it, and its robust list head; `None`: every call
/// goes to glibc (also before the probe has run: it runs when a region is mapped, see
/// [`prepare`], never inside a lock call, where it could not allocate or look a symbol up
/// safely; every robust mutex the crate locks is in a region).
///
/// `pi`: for a PI mutex (a constant of the caller's), which takes the inline path only if
/// [`PI_ON`] is set too.
#[inline(always)]
fn thread(pi: bool) -> Option<(i32, usize)> {
    let layout = LAYOUT.load(Relaxed);
    if layout & ON == 0 || (pi && layout & PI_ON == 0) {
        return None;
    }
    #[cfg(all(target_arch = "x86_64", target_env = "gnu"))]
    {
        let tp = thread_pointer();
        let (tid_at, head_at) = (
            (layout & 0xffff) as usize,
            ((layout >> 16) & 0xffff) as usize,
        );
        // SAFETY: `probe` checked that the descriptor at the thread pointer holds the thread's
        // id at `tid_at` (an aligned `pid_t` glibc keeps for the thread's whole life).
        let tid = unsafe { int(tp, tid_at) }.load(Relaxed);
        Some((tid, tp + head_at))
    }
    #[cfg(not(all(target_arch = "x86_64", target_env = "gnu")))]
    None
}

/// A robust mutex's words (the layout above, checked by `probe`), for the calling thread.
#[derive(Clone, Copy)]
struct Words<'a>(usize, PhantomData<&'a libc::pthread_mutex_t>);

impl<'a> Words<'a> {
    /// # Safety
    /// `m` is a live, aligned, initialised `pthread_mutex_t` at a stable address, for `'a`.
    #[inline(always)]
    unsafe fn new(m: *mut libc::pthread_mutex_t) -> Words<'a> {
        Words(m as usize, PhantomData)
    }

    /// The `int` at `off`.
    #[inline(always)]
    fn int(self, off: usize) -> &'a AtomicI32 {
        // SAFETY: inside the live, aligned mutex (`new`'s contract), an `int` of the layout.
        unsafe { int(self.0, off) }
    }

    /// The pointer word at `off` (`__list.__prev` or `__list.__next`).
    #[inline(always)]
    fn word(self, off: usize) -> &'a AtomicUsize {
        // SAFETY: inside the live, aligned mutex (`new`'s contract), a pointer of the layout.
        unsafe { at(self.0, off) }
    }

    /// The mutex's robust list entry: the address of its `__next`.
    #[inline(always)]
    fn entry(self) -> usize {
        self.0 + NEXT
    }
}

/// The calling thread's robust list head, and the links of the entries on its list.
#[derive(Clone, Copy)]
struct List<'a>(usize, PhantomData<&'a ()>);

impl<'a> List<'a> {
    /// # Safety
    /// `head` is the calling thread's robust list head (`probe` checked where it is): in its
    /// descriptor, live while the thread is (for `'a`, on this thread); only this thread
    /// writes it.
    #[inline(always)]
    unsafe fn new(head: usize) -> List<'a> {
        List(head, PhantomData)
    }

    /// `robust_list_head.list`: the first entry (the head itself when empty).
    #[inline(always)]
    fn first(self) -> &'a AtomicUsize {
        // SAFETY: the head's first word (`new`'s contract).
        unsafe { at(self.0, HEAD_LIST) }
    }

    /// `robust_list_head.list_op_pending`.
    #[inline(always)]
    fn pending(self) -> &'a AtomicUsize {
        // SAFETY: the head's third word (`new`'s contract).
        unsafe { at(self.0, HEAD_PENDING) }
    }

    /// The robust operation is over: `list_op_pending` cleared, after every store of the
    /// operation (a compiler fence: only this thread and the kernel, at its death, read it).
    #[inline(always)]
    fn clear_pending(self) {
        compiler_fence(SeqCst);
        self.pending().store(0, Relaxed);
    }

    /// The `__prev` (`ADJUST` bytes before) and `__next` of `entry`, an entry on this
    /// thread's list or the head, as glibc's list macros reach them (the head's "`__prev`" is
    /// glibc's `robust_prev`, the word before the head in the descriptor, which glibc keeps
    /// for exactly this).
    ///
    /// # Safety
    /// `entry` (its low bit masked: glibc marks a PI entry so) is on this thread's list or is
    /// its head, for `'a`: a robust mutex this thread holds (held mutexes are never unmapped:
    /// `crate::regions`) or the descriptor.
    #[inline(always)]
    unsafe fn links(self, entry: usize) -> (&'a AtomicUsize, &'a AtomicUsize) {
        let entry = entry & !1;
        // SAFETY: the caller's contract: both words are live and aligned.
        unsafe { (at(entry - ADJUST, 0), at(entry, 0)) }
    }
}

/// `pthread_mutex_trylock` on the robust mutex at `m`, done here, except the giving back of
/// a not-recoverable one ([`Take::NotRecoverable`]: the caller calls [`give_back_taken`]); for
/// [`Take::Glibc`] the caller calls glibc.
///
/// # Safety
/// `m` is an initialised mutex at a stable address, live for the call.
#[inline(always)]
pub(super) unsafe fn take(m: *mut libc::pthread_mutex_t, pi: bool) -> Take {
    let Some((tid, head)) = thread(pi) else {
        return Take::Glibc;
    };
    // SAFETY: the caller's contract; `tid` and `head` are the calling thread's.
    unsafe { take_with(m, tid, head, pi) }
}

/// `pthread_mutex_trylock` on the robust mutex at `m`, done here ([`take`], and the giving
/// back): `None` for [`Take::Glibc`], when the caller calls glibc.
///
/// # Safety
/// As [`take`].
#[inline(always)]
pub(super) unsafe fn try_lock(m: *mut libc::pthread_mutex_t) -> Option<Result<(), Error>> {
    // SAFETY: the caller's contract.
    let (tid, head) = thread(unsafe { is_pi(m) })?;
    // SAFETY: the caller's contract; `tid` and `head` are the calling thread's.
    unsafe { try_lock_with(m, tid, head) }
}

/// [`try_lock`] with the calling thread's id and robust head given (the probe checks this
/// path before the layout is set); a PI mutex or not, as its `__kind` says.
///
/// # Safety
/// As [`try_lock`]; `tid` and `head` are the calling thread's, as `probe` finds them.
#[inline(always)]
unsafe fn try_lock_with(
    m: *mut libc::pthread_mutex_t,
    tid: i32,
    head: usize,
) -> Option<Result<(), Error>> {
    // SAFETY: the caller's contract.
    let pi = unsafe { is_pi(m) };
    // SAFETY: the caller's contract.
    match unsafe { take_with(m, tid, head, pi) } {
        Take::Acquired => Some(Ok(())),
        Take::Busy => Some(Err(Error::WouldBlock)),
        Take::Glibc => None,
        Take::NotRecoverable => {
            // SAFETY: just taken by this thread, as `give_back_taken_with` requires.
            unsafe { give_back_taken_with(m, Some(head), pi) };
            Some(Err(Error::NotRecoverable))
        }
    }
}

/// [`take`] with the calling thread's id and robust head given. `pi`: the mutex is to be
/// a priority-inheritance one (`PTHREAD_PRIO_INHERIT`; glibc's steps are the same but for
/// the entry, marked in bit 0 for the kernel in `list_op_pending` and in the list, and the
/// giving back of a not-recoverable one): a constant of the caller's type, checked against
/// `__kind` (a mutex of the other protocol goes to glibc).
///
/// # Safety
/// As [`try_lock_with`].
#[inline(always)]
unsafe fn take_with(m: *mut libc::pthread_mutex_t, tid: i32, head: usize, pi: bool) -> Take {
    // SAFETY: the caller's contract.
    let (m, list) = unsafe { (Words::new(m), List::new(head)) };
    if m.int(KIND).load(Relaxed) & !KIND_IGNORED != robust_kind(pi) {
        return Take::Glibc;
    }
    let lock = m.int(LOCK);
    let seen = lock.load(Relaxed);
    if seen != 0 {
        if seen & FUTEX_OWNER_DIED == 0 && seen & FUTEX_TID_MASK != tid {
            return Take::Busy;
        }
        return Take::Glibc;
    }
    let entry = m.entry();
    // A PI entry is marked in bit 0 (`list_op_pending` and the list's links to it).
    let marked = entry | usize::from(pi);
    list.pending().store(marked, Relaxed);
    compiler_fence(SeqCst);
    if lock.compare_exchange(0, tid, Acquire, Relaxed).is_err() {
        // Taken meanwhile: as glibc, nothing to undo but the pending entry; glibc decides.
        list.clear_pending();
        return Take::Glibc;
    }
    if m.int(OWNER).load(Relaxed) == NOTRECOVERABLE {
        // To be given back, as glibc means to (its 2.36 trylock keeps it:
        // `not_recoverable_after_trylock`): by `give_back_taken`, out of this line.
        return Take::NotRecoverable;
    }
    compiler_fence(SeqCst);
    // glibc's ENQUEUE_MUTEX (ENQUEUE_MUTEX_PI): the entry goes in at the head; `__prev`
    // words are never marked, the head's link to a PI entry is.
    let first = list.first().load(Relaxed);
    // SAFETY: `first` is the list's first entry (or the head).
    let (first_prev, _) = unsafe { list.links(first) };
    first_prev.store(entry, Relaxed);
    m.word(NEXT).store(first, Relaxed);
    m.word(PREV).store(head, Relaxed);
    compiler_fence(SeqCst);
    list.first().store(marked, Relaxed);
    list.clear_pending();
    m.int(OWNER).store(tid, Relaxed);
    let nusers = m.int(NUSERS);
    nusers.store(nusers.load(Relaxed).wrapping_add(1), Relaxed);
    m.int(COUNT).store(1, Relaxed);
    Take::Acquired
}

/// After [`Take::NotRecoverable`]: gives the lock word back (as glibc's trylock means to)
/// and clears the pending entry.
///
/// # Safety
/// As [`take`]; the calling thread's [`take`] of `m` has just returned
/// [`Take::NotRecoverable`], and nothing else was done with `m` since.
#[cold]
#[inline(never)]
pub(super) unsafe fn give_back_taken(m: *mut libc::pthread_mutex_t, pi: bool) {
    // SAFETY: the caller's contract; the head is the calling thread's.
    unsafe { give_back_taken_with(m, thread(pi).map(|(_, head)| head), pi) }
}

/// [`give_back_taken`] with the calling thread's robust head given; `None` (not reached in a
/// program: `take` took the word, so the layout was on, and it never turns off; a test may
/// turn it off for a moment): the word given back all the same, the pending entry left (the
/// kernel finds the word not the thread's).
///
/// # Safety
/// As [`give_back_taken`]; `head` is the calling thread's; `pi` as the [`take`] said.
#[inline(always)]
unsafe fn give_back_taken_with(m: *mut libc::pthread_mutex_t, head: Option<usize>, pi: bool) {
    // SAFETY: the caller's contract.
    let m = unsafe { Words::new(m) };
    m.int(COUNT).store(0, Relaxed);
    if pi {
        // As glibc: the kernel gives a PI word back (and hands it to a waiter, if any).
        unlock_pi(m);
    } else {
        release(m);
    }
    if let Some(head) = head {
        // SAFETY: the caller's contract.
        unsafe { List::new(head) }.clear_pending();
    }
}

/// `pthread_mutex_unlock` on the robust mutex at `m`, held by the caller, done here, except
/// the wake of a waiter ([`Released::Wake`]: the caller calls [`wake_released`]).
/// `recursive` is a constant of the caller's type, so that a normal or errorcheck unlock has
/// no recursion count to look at.
///
/// # Safety
/// `m` is an initialised mutex at a stable address, held by the calling thread.
#[inline(always)]
pub(super) unsafe fn release_held(
    m: *mut libc::pthread_mutex_t,
    recursive: bool,
    pi: bool,
) -> Released {
    let Some((tid, head)) = thread(pi) else {
        return Released::Glibc;
    };
    // SAFETY: the caller's contract; `tid` and `head` are the calling thread's.
    unsafe { release_held_with(m, tid, head, recursive, pi) }
}

/// `pthread_mutex_unlock` on the robust mutex at `m`, held by the caller, done here
/// ([`release_held`], and the wake): `false` for [`Released::Glibc`], when the caller calls
/// glibc.
///
/// # Safety
/// As [`release_held`].
#[inline(always)]
pub(super) unsafe fn unlock(m: *mut libc::pthread_mutex_t, recursive: bool) -> bool {
    // SAFETY: the caller's contract.
    let Some((tid, head)) = thread(unsafe { is_pi(m) }) else {
        return false;
    };
    // SAFETY: the caller's contract; `tid` and `head` are the calling thread's.
    unsafe { unlock_with(m, tid, head, recursive) }
}

/// [`unlock`] with the calling thread's id and robust head given (as [`try_lock_with`]; a
/// PI mutex or not, as its `__kind` says).
///
/// # Safety
/// As [`unlock`]; `tid` and `head` are the calling thread's, as `probe` finds them.
#[inline(always)]
unsafe fn unlock_with(
    m: *mut libc::pthread_mutex_t,
    tid: i32,
    head: usize,
    recursive: bool,
) -> bool {
    // SAFETY: the caller's contract.
    let pi = unsafe { is_pi(m) };
    // SAFETY: the caller's contract.
    match unsafe { release_held_with(m, tid, head, recursive, pi) } {
        Released::Glibc => false,
        Released::Done => true,
        Released::Wake => {
            // SAFETY: just released by this thread, as `wake_released_with` requires.
            unsafe { wake_released_with(m, Some(head), pi) };
            true
        }
    }
}

/// [`release_held`] with the calling thread's id and robust head given (`pi`: as in
/// [`take_with`]; glibc's PI release differs in the marked entry and in the word's release:
/// a compare-exchange of the caller's id with 0, the kernel's `FUTEX_UNLOCK_PI` if a waiter
/// is queued).
///
/// # Safety
/// As [`unlock_with`].
#[inline(always)]
unsafe fn release_held_with(
    m: *mut libc::pthread_mutex_t,
    tid: i32,
    head: usize,
    recursive: bool,
    pi: bool,
) -> Released {
    // SAFETY: the caller's contract.
    let (m, list) = unsafe { (Words::new(m), List::new(head)) };
    let kind = m.int(KIND).load(Relaxed);
    // A normal or errorcheck mutex (their robust unlocks are the same) or a recursive one,
    // as the caller expects; any other type (a C program's adaptive mutex) goes to glibc.
    let matches = if recursive {
        kind & !KIND_NO_ELISION == robust_kind(pi) | KIND_RECURSIVE
    } else {
        kind & !(KIND_NO_ELISION | KIND_ERRORCHECK) == robust_kind(pi)
    };
    if !matches || m.int(OWNER).load(Relaxed) != tid {
        return Released::Glibc;
    }
    if recursive {
        // glibc's `if (--mutex->__data.__count != 0) return 0;`: `__count` is an `unsigned
        // int`, counted down whatever it holds; at 0 the last level unlocks.
        // SAFETY: `__count` is read and written only by the mutex's holder (glibc's code, in
        // any process, and this path), which the caller is: a plain count down races nothing
        // (and is one instruction, as glibc's).
        let left = unsafe {
            let count = m.int(COUNT).as_ptr();
            *count = (*count).wrapping_sub(1);
            *count
        };
        if left != 0 {
            return Released::Done;
        }
    }
    list.pending().store(m.entry() | usize::from(pi), Relaxed);
    compiler_fence(SeqCst);
    // glibc's DEQUEUE_MUTEX.
    let next = m.word(NEXT).load(Relaxed);
    let prev = m.word(PREV).load(Relaxed);
    // SAFETY: the mutex is held by this thread (the caller), so it is on this thread's list
    // and its neighbours are entries of it (or the head).
    let ((next_prev, _), (_, prev_next)) = unsafe { (list.links(next), list.links(prev)) };
    next_prev.store(prev, Relaxed);
    prev_next.store(next, Relaxed);
    compiler_fence(SeqCst);
    m.word(PREV).store(0, Relaxed);
    m.word(NEXT).store(0, Relaxed);
    m.int(OWNER).store(0, Relaxed);
    let nusers = m.int(NUSERS);
    nusers.store(nusers.load(Relaxed).wrapping_sub(1), Relaxed);
    if pi {
        // A waiter queued in the kernel (`FUTEX_WAITERS`), or any other bit: the kernel
        // releases the word, and hands it to the waiter (`wake_released`).
        let lock = m.int(LOCK);
        let mut seen = lock.load(Relaxed);
        loop {
            if seen != tid {
                return Released::Wake;
            }
            match lock.compare_exchange_weak(seen, 0, Release, Relaxed) {
                Ok(_) => break,
                Err(now) => seen = now,
            }
        }
    } else if m.int(LOCK).swap(0, Release) & FUTEX_WAITERS != 0 {
        // The wake before the pending entry is cleared, as glibc: a thread killed between
        // the exchange and the wake leaves the kernel a pending entry whose word is 0, and
        // the kernel's death cleanup then wakes a waiter itself.
        return Released::Wake;
    }
    list.clear_pending();
    Released::Done
}

/// After [`Released::Wake`]: wakes one waiter (a PI mutex: has the kernel release the word
/// and hand it to its waiter), then clears the list's pending entry.
///
/// # Safety
/// `m` is a mutex at a stable address (without a protocol it may have been unlocked and
/// unmapped since: only its address is used; a PI one is still held, by the word); the
/// calling thread's [`release_held`] of it has just returned [`Released::Wake`], and the
/// thread has done nothing with its robust list since.
#[cold]
#[inline(never)]
pub(super) unsafe fn wake_released(m: *mut libc::pthread_mutex_t, pi: bool) {
    // SAFETY: the caller's contract; the head is the calling thread's.
    unsafe { wake_released_with(m, thread(pi).map(|(_, head)| head), pi) }
}

/// [`wake_released`] with the calling thread's robust head given; `None` (not reached in a
/// program, as in [`give_back_taken_with`]): the wake all the same.
///
/// # Safety
/// As [`wake_released`]; `head` is the calling thread's; `pi` as the release said.
#[inline(always)]
unsafe fn wake_released_with(m: *mut libc::pthread_mutex_t, head: Option<usize>, pi: bool) {
    // SAFETY: the caller's contract.
    let m = unsafe { Words::new(m) };
    // The kernel's part: one waiter woken, or for a PI mutex the word handed to it.
    if pi {
        unlock_pi(m);
    } else {
        wake_one(m);
    }
    if let Some(head) = head {
        // SAFETY: the caller's contract.
        unsafe { List::new(head) }.clear_pending();
    }
}

/// Releases the lock word of the robust mutex `m`: exchanges it with 0 (release) and wakes
/// one waiter if `FUTEX_WAITERS` was set (every robust waiter sets it before it sleeps).
#[inline(always)]
fn release(m: Words<'_>) {
    if m.int(LOCK).swap(0, Release) & FUTEX_WAITERS != 0 {
        wake_one(m);
    }
}

/// glibc 2.36's `pthread_mutex_trylock` of a not-recoverable robust mutex returns
/// `ENOTRECOVERABLE` but leaves the lock word holding the caller's id (see
/// `RawMutex::not_recoverable_after_trylock`): gives it back as [`release`] does, if it is
/// the caller's (`tid`, from `gettid`: this runs whatever the probe found). Nothing else of
/// the mutex changed: glibc returned before linking it.
///
/// # Safety
/// `m` is an initialised mutex at a stable address, live for the call.
pub(super) unsafe fn give_back(m: *mut libc::pthread_mutex_t, tid: i32) {
    // SAFETY: the caller's contract (the lock word is the first `int` on every ABI).
    let m = unsafe { Words::new(m) };
    // Only this thread can release a word holding its id; others can only add
    // FUTEX_WAITERS to it, which the exchange takes along.
    if m.int(LOCK).load(Relaxed) & FUTEX_TID_MASK == tid {
        release(m);
    }
}

/// Wakes one waiter of the robust mutex `m` (a shared-futex wake, as glibc's for every
/// robust mutex), leaving `errno` as it was: glibc's own wake never sets it, and a guard
/// dropped between a failing call and the caller's read of `errno` must not change it (the
/// wake fails, with `EFAULT`, only if the mutex was unmapped after the release).
#[cold]
fn wake_one(m: Words<'_>) {
    // SAFETY: glibc's thread-local errno, live for the thread.
    let errno = unsafe { libc::__errno_location() };
    // SAFETY: as above.
    let saved = unsafe { *errno };
    // SAFETY: the lock word's address, aligned; FUTEX_WAKE only reads the address (the
    // mutex may be gone by now: the kernel then fails the call, writing nothing).
    unsafe { futex_wake(m.0 as *const u32, 1, Scope::Shared) };
    // SAFETY: as above.
    unsafe { *errno = saved };
}

/// Gives the PI robust mutex `m`, held by the caller, back through the kernel
/// (`FUTEX_UNLOCK_PI`, process-shared, as glibc's for a robust one): the word goes to the
/// first waiter the kernel queued, or to 0. `errno` is left as it was (see [`wake_one`]).
#[cold]
fn unlock_pi(m: Words<'_>) {
    // SAFETY: glibc's thread-local errno, live for the thread.
    let errno = unsafe { libc::__errno_location() };
    // SAFETY: as above.
    let saved = unsafe { *errno };
    // SAFETY: the lock word's address, aligned, of a mutex the caller holds (so mapped).
    unsafe { futex_unlock_pi(m.0 as *const u32) };
    // SAFETY: as above.
    unsafe { *errno = saved };
}

/// Finds and checks the process's layout (see the module docs), once; its [`LAYOUT`] value.
///
/// One thread probes (it claims [`PROBING`] with its process's id, from `seen`, what
/// `LAYOUT` held: [`UNPROBED`], or a claim another process made before forking this one);
/// the others go on through glibc meanwhile.
#[cold]
#[inline(never)]
fn probe(seen: u64) {
    let me = my_pid();
    if LAYOUT
        .compare_exchange(seen, PROBING | me << 32, Relaxed, Relaxed)
        .is_err()
    {
        return;
    }
    // `getenv` itself, not `std::env::var_os`: no lock and no allocation, so a child of
    // `fork` can map its first region while another thread of the parent held std's
    // environment lock at the fork (a concurrent `std::env::set_var` is the caller's race,
    // as std's docs say: edition 2024 makes it `unsafe`).
    let mut buf = [0u8; 16];
    let glibc_only = super::super::diag::getenv(GLIBC_ONLY, &mut buf) == Some(b"1".as_slice());
    let layout = if glibc_only { None } else { find() };
    let layout = layout.map_or(OFF, |(tid_at, head_at, pi)| {
        ON | if pi { PI_ON } else { 0 } | tid_at as u64 | (head_at as u64) << 16
    });
    LAYOUT.store(layout, Relaxed);
}

/// Runs [`probe`] now if it has not run (called when a region is mapped: before any robust
/// mutex of the crate can be locked, and, in a parent that maps a region and forks, before
/// the fork; a child inherits the answer, or probes itself if the parent was probing at the
/// fork). It allocates nothing but the environment variable's value; it calls `dlsym` once
/// (so a process's first region must not be mapped where the loader's lock may be held by
/// another thread for ever, in a child of `_Fork` or a raw `clone` of a multithreaded
/// parent: `fork` resets that lock in the child, they do not).
pub(super) fn prepare() {
    let seen = LAYOUT.load(Relaxed);
    if seen == UNPROBED || (seen & 3 == PROBING && seen >> 32 != my_pid()) {
        probe(seen);
    }
}

/// The calling process's id, as a claim records it.
fn my_pid() -> u64 {
    // SAFETY: a plain system call.
    u64::from(unsafe { libc::getpid() }.unsigned_abs())
}

/// Whether this path is in use in this process (`probe` found and checked the layout).
#[cfg(test)]
pub(super) fn enabled() -> bool {
    thread(false).is_some()
}

/// The tid's and the robust head's offsets from the thread pointer, checked, and whether the
/// PI mutexes agree too; `None`: not found, or glibc does not do what this path assumes.
#[cfg(all(target_arch = "x86_64", target_env = "gnu"))]
fn find() -> Option<(usize, usize, bool)> {
    // SAFETY: `dlsym` with a valid NUL-terminated name; the result is null or the symbol.
    let desc = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"_thread_db_pthread_tid".as_ptr()) };
    if desc.is_null() {
        return None;
    }
    // SAFETY: glibc defines the symbol as `const uint32_t[3]` (bits, count, offset: nptl_db's
    // `DB_DEFINE_DESC`).
    let [bits, count, tid_at] = unsafe { *desc.cast::<[u32; 3]>() };
    let tid_at = tid_at as usize;
    if bits != 32 || count != 1 || tid_at >= 0x1_0000 || tid_at % 4 != 0 {
        return None;
    }
    let tp = thread_pointer();
    // SAFETY: a plain system call.
    let tid = unsafe { libc::gettid() };
    // SAFETY: the descriptor is at least `tid_at + 4` bytes (glibc says the field is there).
    if unsafe { int(tp, tid_at) }.load(Relaxed) != tid {
        return None;
    }
    let head = robust_head()?;
    if head <= tp || head - tp >= 0x1_0000 || head % 8 != 0 {
        return None;
    }
    // SAFETY: the kernel's head, the thread's own, live while it is.
    let futex_offset = unsafe { at(head, HEAD_FUTEX_OFFSET) }.load(Relaxed) as isize;
    if futex_offset != LOCK as isize - NEXT as isize {
        return None;
    }
    if !check::glibc_agrees(tid, head, false) {
        return None;
    }
    // Apart: where PI mutexes are not supported (or disagree), the rest still take the path.
    Some((tid_at, head - tp, check::glibc_agrees(tid, head, true)))
}

#[cfg(not(all(target_arch = "x86_64", target_env = "gnu")))]
fn find() -> Option<(usize, usize, bool)> {
    None
}

/// The calling thread's robust list head, where the kernel has it (`get_robust_list`);
/// `None` if the call fails or the head is not the kernel ABI's size.
#[cfg(all(target_arch = "x86_64", target_env = "gnu"))]
fn robust_head() -> Option<usize> {
    let (mut head, mut len) = (0usize, 0usize);
    // SAFETY: get_robust_list(0, ..) writes the calling thread's head pointer and its length
    // to the two valid out-pointers.
    let r = unsafe {
        libc::syscall(
            libc::SYS_get_robust_list,
            0,
            &mut head as *mut usize,
            &mut len as *mut usize,
        )
    };
    (r == 0 && len == HEAD_SIZE).then_some(head)
}

/// The behavioural check of `probe`.
#[cfg(all(target_arch = "x86_64", target_env = "gnu"))]
mod check {
    use super::super::RawMutex;
    use super::*;
    use crate::sys::{InPlace, MutexAttr, MutexType, Protocol};

    /// The probe's mutexes: statics, so the probe allocates nothing (it runs when a region is
    /// mapped, and a `#[global_allocator]` may be built on the crate's locks), and a mutex a
    /// failed check left on the thread's robust list is never freed memory. Only the one
    /// thread that claimed the probe (`PROBING`) uses them, once per process.
    static MUTEXES: [RawMutex; 2] = [
        RawMutex::new(MutexType::Normal),
        RawMutex::new(MutexType::Normal),
    ];
    /// One mutex of each type and protocol, initialised to read the `__kind` glibc gives it.
    static KINDS: [RawMutex; 6] = [
        RawMutex::new(MutexType::Normal),
        RawMutex::new(MutexType::ErrorCheck),
        RawMutex::new(MutexType::Recursive),
        RawMutex::new(MutexType::Normal),
        RawMutex::new(MutexType::ErrorCheck),
        RawMutex::new(MutexType::Recursive),
    ];

    /// Two robust mutexes and the thread's robust list, as glibc leaves them.
    struct Probe {
        mutexes: &'static [RawMutex; 2],
        tid: i32,
        head: usize,
        /// The mutexes are PI ones: the list's links to them are marked in bit 0.
        mark: usize,
        /// The list's head entry before the probe (the thread may hold robust mutexes).
        first: usize,
    }

    impl Probe {
        fn m(&self, i: usize) -> usize {
            self.ptr(i) as usize
        }
        fn ptr(&self, i: usize) -> *mut libc::pthread_mutex_t {
            self.mutexes[i].ptr()
        }
        fn words(&self, i: usize) -> Words<'static> {
            // SAFETY: a static, initialised mutex.
            unsafe { Words::new(self.ptr(i)) }
        }
        fn list(&self) -> List<'_> {
            // SAFETY: the thread's own robust head (checked by `find`); the probe runs on it.
            unsafe { List::new(self.head) }
        }
        fn int(&self, i: usize, off: usize) -> i32 {
            self.words(i).int(off).load(Relaxed)
        }
        fn word(&self, i: usize, off: usize) -> usize {
            self.words(i).word(off).load(Relaxed)
        }
        /// The list's first entry and its pending operation.
        fn first_entry(&self) -> usize {
            self.list().first().load(Relaxed)
        }
        fn pending(&self) -> usize {
            self.list().pending().load(Relaxed)
        }
        /// The `__prev` word that an entry linked before `entry` updates.
        fn prev_of(&self, entry: usize) -> usize {
            // SAFETY: `entry` is the list's first entry before the probe (a held robust
            // mutex's `__next`, or the head) or a probe mutex's entry while held: on this
            // thread's list (for the head, its "`__prev`" is glibc's `robust_prev`).
            unsafe { self.list().links(entry) }.0.load(Relaxed)
        }
        /// Mutex `i` is held by this thread, linked in front of `after` (a link, marked if
        /// it is to a PI entry).
        fn held(&self, i: usize, after: usize) -> bool {
            self.int(i, LOCK) == self.tid
                && self.int(i, OWNER) == self.tid
                && self.int(i, NUSERS) == 1
                && self.int(i, COUNT) == 1
                && self.word(i, NEXT) == after
                && self.word(i, PREV) == self.head
                && self.first_entry() == (self.m(i) + NEXT) | self.mark
                && self.pending() == 0
                && self.prev_of(after) == self.m(i) + NEXT
        }
        /// Mutex `i` is free, unlinked, and the list begins with `first`.
        fn free(&self, i: usize, first: usize) -> bool {
            self.int(i, LOCK) == 0
                && self.int(i, OWNER) == 0
                && self.int(i, NUSERS) == 0
                && self.word(i, NEXT) == 0
                && self.word(i, PREV) == 0
                && self.first_entry() == first
                && self.pending() == 0
        }
        fn glibc_lock(&self, i: usize) -> bool {
            // SAFETY: an initialised mutex at a stable (static) address.
            unsafe { libc::pthread_mutex_trylock(self.ptr(i)) == 0 }
        }
        /// This path's lock of mutex `i`, with the probe's thread id and head.
        fn inline_lock(&self, i: usize) -> Option<Result<(), Error>> {
            // SAFETY: an initialised robust shared mutex at a stable (static) address; `tid`
            // and `head` are this thread's (`find` checked them; the layout's words glibc's
            // own calls have just been seen to write).
            unsafe { try_lock_with(self.ptr(i), self.tid, self.head) }
        }
        /// This path's unlock of mutex `i`, which this thread holds.
        fn inline_unlock(&self, i: usize) -> bool {
            // SAFETY: as above; called only while this thread holds it. Normal mutexes.
            unsafe { unlock_with(self.ptr(i), self.tid, self.head, false) }
        }
        fn glibc_unlock(&self, i: usize) -> bool {
            // SAFETY: as above; held by this thread when called.
            unsafe { libc::pthread_mutex_unlock(self.ptr(i)) == 0 }
        }
    }

    impl Drop for Probe {
        fn drop(&mut self) {
            for i in 0..2 {
                // Unlocked by glibc's own unlock (which unlinks it) if a check failed while it
                // was held. Never destroyed nor freed: should it stay linked all the same, the
                // list's writes land in this static, and the kernel's at the thread's exit.
                if self.int(i, OWNER) == self.tid {
                    self.glibc_unlock(i);
                }
            }
        }
    }

    /// Whether glibc does what this path assumes, for the mutexes without a protocol or
    /// (`pi`) with priority inheritance: the three kinds' `__kind` match, and two mutexes
    /// locked and unlocked by glibc and by this path, in both orders, leave every word where
    /// glibc would.
    pub(super) fn glibc_agrees(tid: i32, head: usize, pi: bool) -> bool {
        for ty in [
            MutexType::Normal,
            MutexType::ErrorCheck,
            MutexType::Recursive,
        ] {
            let Some(kind) = kind_of(ty, pi) else {
                return false;
            };
            let bits = match ty {
                MutexType::Normal => 0,
                MutexType::ErrorCheck => KIND_ERRORCHECK,
                MutexType::Recursive => KIND_RECURSIVE,
            };
            if kind & !KIND_IGNORED != robust_kind(pi) || kind & 3 != bits {
                return false;
            }
        }
        Probe::new(tid, head, pi).is_some_and(|probe| probe.agrees())
    }

    impl Probe {
        /// The two mutexes' steps, by glibc alone and mixed with this path.
        fn agrees(&self) -> bool {
            let (first, head) = (self.first, self.head);
            let (a, b) = (self.m(0) + NEXT, self.m(1) + NEXT);
            // The list's links to them.
            let (la, lb) = (a | self.mark, b | self.mark);
            // glibc alone: A, then B in front of it; B out from the front, A out.
            let glibc = self.glibc_lock(0)
                && self.held(0, first)
                && self.glibc_lock(1)
                && self.held(1, la)
                && self.word(0, PREV) == b
                && self.glibc_unlock(1)
                && self.free(1, la)
                && self.word(0, PREV) == head
                && self.glibc_unlock(0)
                && self.free(0, first);
            if !glibc {
                return false;
            }
            // This path and glibc mixed: A here, B by glibc; A out from behind B here, B out
            // by glibc; then B by glibc, A here in front of it; B out from behind A by glibc,
            // A out here.
            matches!(self.inline_lock(0), Some(Ok(())))
                && self.held(0, first)
                && self.glibc_lock(1)
                && self.held(1, la)
                && self.inline_unlock(0)
                && self.word(1, NEXT) == first
                && self.prev_of(first) == b
                && self.free_of(0)
                && self.glibc_unlock(1)
                && self.free(1, first)
                && self.glibc_lock(1)
                && matches!(self.inline_lock(0), Some(Ok(())))
                && self.held(0, lb)
                && self.glibc_unlock(1)
                && self.word(0, NEXT) == first
                && self.prev_of(first) == a
                && self.inline_unlock(0)
                && self.free(0, first)
        }
    }

    impl Probe {
        /// The two mutexes initialised (again: each protocol's run leaves them free and
        /// unlinked), of the protocol `pi` says.
        fn new(tid: i32, head: usize, pi: bool) -> Option<Probe> {
            let attr = MutexAttr {
                protocol: if pi {
                    Protocol::Inherit
                } else {
                    Protocol::None
                },
                ..ATTR
            };
            for m in MUTEXES.iter() {
                // SAFETY: a static mutex nothing else uses (only the probing thread, once per
                // protocol), free and on no list (never locked, or left so by the last run).
                unsafe { RawMutex::init_in_place(m.ptr().cast(), &attr) }.ok()?;
            }
            let mut probe = Probe {
                mutexes: &MUTEXES,
                tid,
                head,
                mark: usize::from(pi),
                first: 0,
            };
            probe.first = probe.first_entry();
            Some(probe)
        }

        /// Mutex `i` is free and unlinked (its words; the list checked elsewhere).
        fn free_of(&self, i: usize) -> bool {
            self.int(i, LOCK) == 0
                && self.int(i, OWNER) == 0
                && self.int(i, NUSERS) == 0
                && self.word(i, NEXT) == 0
                && self.word(i, PREV) == 0
        }
    }

    /// `__kind` of a robust shared mutex of type `ty` (`pi`: with priority inheritance) as
    /// `pthread_mutex_init` writes it.
    fn kind_of(ty: MutexType, pi: bool) -> Option<i32> {
        let m = &KINDS[match ty {
            MutexType::Normal => 0,
            MutexType::ErrorCheck => 1,
            MutexType::Recursive => 2,
        } + if pi { 3 } else { 0 }];
        let attr = MutexAttr {
            ty,
            protocol: if pi {
                Protocol::Inherit
            } else {
                Protocol::None
            },
            ..ATTR
        };
        // SAFETY: a static mutex nothing else uses (only the probing thread, once), never
        // locked.
        unsafe { RawMutex::init_in_place(m.ptr().cast(), &attr) }.ok()?;
        // SAFETY: a static, initialised mutex.
        Some(unsafe { Words::new(m.ptr()) }.int(KIND).load(Relaxed))
    }

    /// The attributes of the probe's mutexes: the shared lockers' (normal type).
    const ATTR: MutexAttr = MutexAttr::robust_shared(MutexType::Normal);
}

#[cfg(all(test, target_arch = "x86_64", target_env = "gnu"))]
mod tests {
    use super::super::RawMutex;
    use super::*;
    use crate::sys::{InPlace, MutexAttr, MutexType, Protocol};

    /// Every type, without a protocol and with priority inheritance: the shared lockers'.
    const ALL: [MutexAttr; 6] = [
        MutexAttr::robust_shared(MutexType::Normal),
        MutexAttr::robust_shared(MutexType::ErrorCheck),
        MutexAttr::robust_shared(MutexType::Recursive),
        pi(MutexType::Normal),
        pi(MutexType::ErrorCheck),
        pi(MutexType::Recursive),
    ];

    /// A robust shared mutex of type `ty` with priority inheritance.
    pub(super) const fn pi(ty: MutexType) -> MutexAttr {
        MutexAttr {
            protocol: Protocol::Inherit,
            ..MutexAttr::robust_shared(ty)
        }
    }

    /// Whether `attr` is a recursive mutex's (what the unlock is told).
    fn recursive(attr: MutexAttr) -> bool {
        attr.ty == MutexType::Recursive
    }

    /// The list's link to a mutex of `attr` whose entry is `entry` (a PI one's is marked).
    fn link(attr: MutexAttr, entry: usize) -> usize {
        entry | usize::from(attr.protocol == Protocol::Inherit)
    }

    /// Held by every test that needs the inline path on (shared: `ready`) and by the one
    /// that turns it off for a moment (exclusive), so none of the first sees it off.
    static LAYOUT_TESTS: std::sync::RwLock<()> = std::sync::RwLock::new(());

    /// Runs the probe (as mapping a region does) and checks that the inline path is on; held,
    /// it stays on.
    pub(super) fn ready() -> std::sync::RwLockReadGuard<'static, ()> {
        let on = LAYOUT_TESTS
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        probed();
        on
    }

    /// The probe run (or its answer waited for), and the inline path on.
    fn probed() {
        prepare();
        // Another test thread may be probing (mapping a region): wait for its answer.
        let started = std::time::Instant::now();
        while LAYOUT.load(Relaxed) & 3 == PROBING {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(10),
                "the probe never ended"
            );
            std::thread::yield_now();
        }
        assert!(enabled(), "the probe refused this glibc");
    }

    /// Robust, process-shared mutexes of the given attributes in an anonymous shared mapping
    /// (a forked child shares them); unmapped on drop.
    pub(super) struct SharedMutexes {
        map: *mut libc::c_void,
        size: usize,
        n: usize,
    }

    impl SharedMutexes {
        pub(super) fn with(attrs: &[MutexAttr]) -> SharedMutexes {
            let size = attrs.len() * size_of::<RawMutex>();
            // SAFETY: a fresh anonymous shared mapping.
            let map = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    size,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            assert_ne!(map, libc::MAP_FAILED);
            for (i, attr) in attrs.iter().enumerate() {
                // SAFETY: inside the fresh mapping, aligned, unused.
                unsafe { RawMutex::init_in_place(map.cast::<RawMutex>().add(i), attr) }.unwrap();
            }
            SharedMutexes {
                map,
                size,
                n: attrs.len(),
            }
        }

        /// The mutexes, initialised, alive as long as `self`.
        pub(super) fn get(&self) -> Vec<&RawMutex> {
            // SAFETY: `n` initialised mutexes at the start of the live mapping.
            (0..self.n)
                .map(|i| unsafe { &*self.map.cast::<RawMutex>().add(i) })
                .collect()
        }
    }

    impl Drop for SharedMutexes {
        fn drop(&mut self) {
            // SAFETY: the mapping `new` made; the borrows `get` gave have ended.
            assert_eq!(unsafe { libc::munmap(self.map, self.size) }, 0);
        }
    }

    /// The calling thread's robust list head (the kernel's answer).
    fn head() -> usize {
        robust_head().expect("get_robust_list")
    }

    /// The links of the calling thread's robust list, first to last (a PI entry's marked in
    /// bit 0), each entry checked against its back link (never marked; as glibc's unlink
    /// needs it).
    fn list(head: usize) -> Vec<usize> {
        let mut links = Vec::new();
        let mut prev = head;
        // SAFETY: the thread's own list: the head, then held mutexes' `__next` words.
        let mut e = unsafe { at(head, HEAD_LIST) }.load(Relaxed);
        while e & !1 != head {
            assert!(links.len() < 64, "the list does not end");
            let entry = e & !1;
            // SAFETY: as above.
            let back = unsafe { at(entry - ADJUST, 0) }.load(Relaxed);
            assert_eq!(back, prev, "back link");
            links.push(e);
            prev = entry;
            // SAFETY: as above.
            e = unsafe { at(entry, 0) }.load(Relaxed);
        }
        links
    }

    /// The glibc on this machine is one the inline path knows: it is in use.
    #[test]
    fn the_inline_path_is_in_use_on_this_glibc() {
        let _on = ready();
        let (tid, head_at) = thread(false).unwrap();
        assert!(thread(true).is_some(), "the PI mutexes take it too");
        // SAFETY: a plain system call.
        assert_eq!(tid, unsafe { libc::gettid() });
        assert_eq!(head_at, head());
        // Another thread: its own id and head.
        std::thread::spawn(|| {
            let (tid, head_at) = thread(false).unwrap();
            // SAFETY: a plain system call.
            assert_eq!(tid, unsafe { libc::gettid() });
            assert_eq!(head_at, head());
        })
        .join()
        .unwrap();
    }

    /// A child forked while its parent was probing inherits the parent's claim: its first
    /// mapping sees another process's claim and probes itself. Simulated in this process
    /// (no child): a claim with another process's id is put in place, as a fork would have
    /// copied it (other test threads meanwhile take glibc's calls, which mix with the inline
    /// path by design), then a mapping's `prepare`.
    #[test]
    fn an_inherited_claim_of_another_process_is_probed_again() {
        // Alone: it turns the inline path off for a moment.
        let _alone = LAYOUT_TESTS
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        probed();
        let other = my_pid() + 1;
        assert!(LAYOUT
            .compare_exchange(
                LAYOUT.load(Relaxed),
                PROBING | other << 32,
                Relaxed,
                Relaxed
            )
            .is_ok());
        // (Another test thread's mapping may re-probe first: either way, the claim of
        // another process must give way to a probe, or `probed` waits in vain.)
        probed();
        // This process's own claim is left to its prober.
        let on = LAYOUT.load(Relaxed);
        LAYOUT.store(PROBING | my_pid() << 32, Relaxed);
        prepare();
        assert_eq!(
            LAYOUT.load(Relaxed) & 3,
            PROBING,
            "its own claim taken over"
        );
        LAYOUT.store(on, Relaxed);
    }

    /// One mutex's words after a step, its list links named relative to the thread's list.
    #[derive(Debug, PartialEq, Eq)]
    struct Seen {
        result: Result<(), Error>,
        lock: i32,
        count: i32,
        owner: i32,
        nusers: i32,
        kind: i32,
        /// `__prev`, `__next` and the list's first entry, as names.
        links: [&'static str; 3],
    }

    fn seen(m: &RawMutex, result: Result<(), Error>, head: usize, first: usize) -> Seen {
        let m = m.ptr() as usize;
        let name = |p: usize| match p {
            0 => "null",
            p if p == head => "head",
            p if p == first => "first",
            p if p == m + NEXT => "self",
            _ => "other",
        };
        // SAFETY: a live boxed mutex, and the thread's own head.
        let word = |off| unsafe { int(m, off) }.load(Relaxed);
        // SAFETY: as above.
        let link = |base, off| name(unsafe { at(base, off) }.load(Relaxed));
        Seen {
            result,
            lock: word(LOCK),
            count: word(COUNT),
            owner: word(OWNER),
            nusers: word(NUSERS),
            kind: word(KIND),
            links: [link(m, PREV), link(m, NEXT), link(head, HEAD_LIST)],
        }
    }

    /// The anchor is glibc itself: the same steps (lock, relock, unlock, unlock, lock,
    /// unlock) on a mutex of each type, once inline and once through glibc's calls, give the
    /// same results and leave every word of the mutex and of the thread's list the same.
    #[test]
    fn each_step_leaves_the_words_glibc_leaves() {
        let _on = ready();
        let head = head();
        for attr in ALL {
            let run = |m: &RawMutex, inline: bool| -> Vec<Seen> {
                let first = list(head).first().copied().unwrap_or(head);
                let lock = || {
                    if inline {
                        m.try_lock_robust()
                    } else {
                        m.try_lock(false)
                    }
                };
                let unlock = || {
                    if inline {
                        // SAFETY: called only while this thread holds `m`.
                        unsafe { m.unlock_robust(recursive(attr)) }
                    } else {
                        // SAFETY: as above.
                        unsafe { m.unlock_held() }
                    }
                };
                let mut steps = Vec::new();
                let r = lock();
                steps.push(seen(m, r, head, first));
                let relock = lock();
                steps.push(seen(m, relock, head, first));
                if relock.is_ok() {
                    unlock();
                    steps.push(seen(m, Ok(()), head, first));
                }
                unlock();
                steps.push(seen(m, Ok(()), head, first));
                let r = lock();
                steps.push(seen(m, r, head, first));
                unlock();
                steps.push(seen(m, Ok(()), head, first));
                steps
            };
            let shared = SharedMutexes::with(&[attr; 2]);
            let ms = shared.get();
            let inline = run(ms[0], true);
            let glibc = run(ms[1], false);
            assert_eq!(inline, glibc, "{attr:?}");
            assert!(list(head).is_empty());
        }
    }

    /// Four mutexes locked and unlocked in a pseudo-random order, each step inline or through
    /// glibc at random: after every step the thread's robust list holds exactly the held
    /// mutexes, most recent first, every back link right (glibc's unlink of one relies on its
    /// neighbours' links, whichever side linked them).
    #[test]
    fn mixed_with_glibc_the_list_stays_whole() {
        let _on = ready();
        let head = head();
        for attr in ALL {
            let shared = SharedMutexes::with(&[attr; 4]);
            let ms = shared.get();
            let mut held: Vec<usize> = Vec::new(); // indices, most recent first
            let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
            for step in 0..20_000 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let (i, inline) = ((x % 4) as usize, (x >> 8) & 1 == 1);
                let m = ms[i];
                if let Some(at) = held.iter().position(|&h| h == i) {
                    // SAFETY: held by this thread.
                    unsafe {
                        if inline {
                            m.unlock_robust(recursive(attr))
                        } else {
                            m.unlock_held()
                        }
                    }
                    held.remove(at);
                } else {
                    let r = if inline {
                        m.try_lock_robust()
                    } else {
                        m.try_lock(false)
                    };
                    assert_eq!(r, Ok(()), "{attr:?} step {step}");
                    held.insert(0, i);
                }
                let expected: Vec<usize> = held
                    .iter()
                    .map(|&h| link(attr, ms[h].ptr() as usize + NEXT))
                    .collect();
                assert_eq!(list(head), expected, "{attr:?} step {step}");
            }
            for i in held {
                // SAFETY: held by this thread.
                unsafe { ms[i].unlock_robust(recursive(attr)) };
            }
            assert!(list(head).is_empty());
        }
    }

    /// A thread that exits holding mutexes it locked inline and through glibc, linked in
    /// between: the kernel finds each on its list, and every next locker gets `OwnerDied`
    /// (glibc's `EOWNERDEAD`), from glibc's call and the inline path alike.
    #[test]
    fn a_thread_that_exits_holding_inline_locks_leaves_them_owner_died() {
        let _on = ready();
        for attr in ALL {
            let shared = SharedMutexes::with(&[attr; 3]);
            let ms = shared.get();
            std::thread::scope(|s| {
                s.spawn(|| {
                    assert_eq!(ms[0].try_lock_robust(), Ok(()));
                    assert_eq!(ms[1].try_lock(false), Ok(()));
                    assert_eq!(ms[2].try_lock_robust(), Ok(()));
                })
                .join()
                .unwrap()
            });
            assert_eq!(ms[0].try_lock(false), Err(Error::OwnerDied), "{attr:?}");
            assert_eq!(ms[1].try_lock_robust(), Err(Error::OwnerDied), "{attr:?}");
            assert_eq!(ms[2].lock_robust(), Err(Error::OwnerDied), "{attr:?}");
            for m in &ms {
                // SAFETY: held (owner died), made consistent, then unlocked inline.
                unsafe {
                    m.consistent().unwrap();
                    m.unlock_robust(recursive(attr));
                }
                assert_eq!(m.try_lock_robust(), Ok(()), "{attr:?}: consistent again");
                // SAFETY: held.
                unsafe { m.unlock_robust(recursive(attr)) };
            }
        }
    }

    /// A release with a waiter queued: the waiter, blocked in glibc's `pthread_mutex_lock`
    /// (a futex wait, or for a PI mutex the kernel's PI queue), gets the mutex from the inline
    /// release and its wake (`Released::Wake`, then `wake_released`), for every type and
    /// protocol, and the releasing thread's list is empty again.
    #[test]
    fn a_release_with_a_waiter_hands_the_mutex_over() {
        let _on = ready();
        let head = head();
        for attr in ALL {
            let shared = SharedMutexes::with(&[attr]);
            let m = shared.get()[0];
            let pi = attr.protocol == Protocol::Inherit;
            assert_eq!(
                m.try_lock_robust_uncontended(pi),
                Take::Acquired,
                "{attr:?}"
            );
            std::thread::scope(|s| {
                let waiter = s.spawn(|| {
                    let got = m.lock_direct();
                    // SAFETY: held by this thread when `got` is `Ok`.
                    if got.is_ok() {
                        unsafe { m.unlock_held() };
                    }
                    got
                });
                // SAFETY: inside the live mapping.
                let word = unsafe { int(m.ptr() as usize, LOCK) };
                let started = std::time::Instant::now();
                while word.load(Relaxed) & FUTEX_WAITERS == 0 {
                    assert!(
                        started.elapsed().as_secs() < 10,
                        "{attr:?}: no waiter queued"
                    );
                    std::thread::yield_now();
                }
                // SAFETY: held by this thread; `wake_released` right after `Wake`.
                unsafe {
                    assert_eq!(
                        m.unlock_robust_uncontended(recursive(attr), pi),
                        Released::Wake,
                        "{attr:?}"
                    );
                    m.wake_released(pi);
                }
                assert!(list(head).is_empty(), "{attr:?}");
                assert_eq!(waiter.join().unwrap(), Ok(()), "{attr:?}");
            });
            // SAFETY: as above.
            assert_eq!(
                unsafe { int(m.ptr() as usize, LOCK) }.load(Relaxed),
                0,
                "{attr:?}"
            );
        }
    }

    /// A process SIGKILLed holding mutexes in shared memory that it locked inline and
    /// through glibc: the kernel walks its list at its death, and the parent gets
    /// `OwnerDied` for each.
    #[test]
    fn a_process_killed_holding_inline_locks_leaves_them_owner_died() {
        for attr in [
            MutexAttr::robust_shared(MutexType::ErrorCheck),
            pi(MutexType::ErrorCheck),
        ] {
            killed_holding(attr);
        }
    }

    fn killed_holding(attr: MutexAttr) {
        let shared = SharedMutexes::with(&[attr; 3]);
        let ms = shared.get();
        // The probe runs in the parent, before the fork (as mapping a region does).
        let _on = ready();
        // SAFETY: the child only locks, then kills itself: async-signal-safe work.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let ok = ms[0].try_lock_robust().is_ok()
                && ms[1].try_lock(false).is_ok()
                && ms[2].try_lock_robust().is_ok();
            // SAFETY: async-signal-safe calls in the child.
            unsafe {
                if !ok {
                    libc::_exit(1);
                }
                libc::raise(libc::SIGKILL);
                libc::_exit(2);
            }
        }
        let mut status = 0;
        // SAFETY: our child.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        assert!(
            libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGKILL,
            "child status {status:#x}"
        );
        for m in &ms {
            assert_eq!(m.try_lock_robust(), Err(Error::OwnerDied));
            // SAFETY: held (owner died); made consistent, unlocked.
            unsafe {
                m.consistent().unwrap();
                m.unlock_robust(false);
            }
        }
    }
}

/// A process killed after every single instruction of a run of inline and glibc locks and
/// unlocks, in turn (written by the change's independent review): the kernel's death cleanup
/// must always leave the mutexes as glibc's own code would, free or owner-died, never held by
/// the dead process.
#[cfg(all(test, target_arch = "x86_64", target_env = "gnu"))]
mod killed_at_every_instruction {
    use super::super::RawMutex;
    use super::*;
    use crate::sys::{MutexAttr, MutexType};

    /// The child's mutexes that are not recoverable.
    const NOT_RECOVERABLE: [usize; 2] = [3, 6];

    /// The traced child's work: a glibc lock, inline locks (one recursive, twice), an inline
    /// unlock from the middle of the list, the rest inline; an inline trylock of a mutex that
    /// is not recoverable; a relock and unlock; then the same through the split calls of the
    /// shared lockers' fast paths (the not-recoverable one given back).
    fn work(ms: &[&RawMutex]) -> bool {
        let ok = ms[0].try_lock(false).is_ok()
            && ms[1].try_lock_robust().is_ok()
            && ms[2].try_lock_robust().is_ok()
            && ms[2].try_lock_robust().is_ok();
        if !ok {
            return false;
        }
        // SAFETY: each held by this thread (just above), released once per acquisition.
        unsafe {
            ms[1].unlock_robust(false);
            ms[2].unlock_robust(true);
            ms[2].unlock_robust(true);
            ms[0].unlock_robust(false);
        }
        if ms[3].try_lock_robust() != Err(Error::NotRecoverable) {
            return false;
        }
        if ms[1].try_lock_robust().is_err() {
            return false;
        }
        // SAFETY: held (just above).
        unsafe { ms[1].unlock_robust(false) };
        // The shared lockers' own fast paths (`locker::shared`): the split calls, without a
        // protocol and with priority inheritance (4: normal, 5: recursive, 6: not
        // recoverable), the PI ones mixed with glibc's calls.
        for (nr, pi) in [(3, false), (6, true)] {
            if ms[nr].try_lock_robust_uncontended(pi) != Take::NotRecoverable {
                return false;
            }
            // SAFETY: it has just returned `NotRecoverable`.
            unsafe { ms[nr].give_back_taken(pi) };
        }
        if ms[1].try_lock_robust_uncontended(false) != Take::Acquired
            || ms[2].try_lock_robust_uncontended(false) != Take::Acquired
            || ms[4].try_lock_robust_uncontended(true) != Take::Acquired
            || ms[5].try_lock(false).is_err()
            || ms[5].try_lock_robust_uncontended(true) != Take::Glibc
            || ms[5].try_lock_robust().is_err()
        {
            return false;
        }
        // SAFETY: each held by this thread (just above), released once per acquisition; no
        // waiter, so no wake is due.
        unsafe {
            let split = ms[4].unlock_robust_uncontended(false, true) == Released::Done
                && ms[5].unlock_robust_uncontended(true, true) == Released::Done
                && ms[2].unlock_robust_uncontended(true, false) == Released::Done
                && ms[1].unlock_robust_uncontended(false, false) == Released::Done;
            ms[5].unlock_robust(true);
            split
        }
    }

    /// Quadratic in the child's instructions (each run steps the child from the start): some
    /// 1 130 steps and 15 seconds in a release build, far longer in a debug one.
    #[test]
    #[cfg_attr(
        debug_assertions,
        ignore = "single-steps quadratically: runs in release builds (`cargo test --release --lib killed_at_every`)"
    )]
    fn a_process_killed_after_any_instruction_leaves_every_mutex_free_or_owner_died() {
        let _on = super::tests::ready();
        let pi = super::tests::pi;
        let shared = super::tests::SharedMutexes::with(&[
            MutexAttr::robust_shared(MutexType::ErrorCheck),
            MutexAttr::robust_shared(MutexType::Normal),
            MutexAttr::robust_shared(MutexType::Recursive),
            MutexAttr::robust_shared(MutexType::Normal),
            pi(MutexType::Normal),
            pi(MutexType::Recursive),
            pi(MutexType::Normal),
        ]);
        let ms = shared.get();
        // Mutexes 3 and 6: not recoverable (the owner died, its successor unlocked it
        // unrepaired).
        for nr in NOT_RECOVERABLE {
            std::thread::scope(|s| {
                s.spawn(|| assert_eq!(ms[nr].try_lock(false), Ok(())))
                    .join()
                    .unwrap()
            });
            assert_eq!(ms[nr].try_lock(false), Err(Error::OwnerDied));
            // SAFETY: held (owner died), released unrepaired on purpose.
            unsafe { ms[nr].unlock_held() };
        }
        let (mut steps, mut owner_died) = (0u64, 0u64);
        loop {
            // SAFETY: the child stops itself for the parent's tracing, then locks and
            // unlocks (no allocation), then `_exit`s.
            let pid = unsafe { libc::fork() };
            assert!(pid >= 0);
            if pid == 0 {
                // SAFETY: async-signal-safe calls in the child; where tracing is refused it
                // leaves at once (3), rather than stopping untraced for ever.
                unsafe {
                    if libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0) != 0 {
                        libc::_exit(3);
                    }
                    libc::raise(libc::SIGSTOP);
                }
                let ok = work(&ms);
                // SAFETY: leaves the child.
                unsafe { libc::_exit(if ok { 0 } else { 1 }) };
            }
            let mut status = 0;
            // SAFETY: our child (each call below too).
            assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
            assert!(
                !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 3),
                "ptrace(PTRACE_TRACEME) refused here: this test needs tracing allowed"
            );
            assert!(libc::WIFSTOPPED(status));
            let mut finished = false;
            for _ in 0..steps {
                // SAFETY: our stopped tracee.
                unsafe { libc::ptrace(libc::PTRACE_SINGLESTEP, pid, 0, 0) };
                // SAFETY: our child.
                assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
                if libc::WIFEXITED(status) {
                    assert_eq!(libc::WEXITSTATUS(status), 0, "the child's work failed");
                    finished = true;
                    break;
                }
                assert!(libc::WIFSTOPPED(status), "status {status:#x}");
            }
            if !finished {
                // SAFETY: our child, stopped.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                    libc::waitpid(pid, &mut status, 0);
                }
            }
            for (i, m) in ms.iter().enumerate() {
                // SAFETY: inside the mapping.
                let word = unsafe { int(m.ptr() as usize, LOCK) }.load(Relaxed);
                assert!(
                    word == 0 || word & FUTEX_OWNER_DIED != 0,
                    "step {steps}: mutex {i}'s word {word:#x}: held by the dead child"
                );
                if NOT_RECOVERABLE.contains(&i) {
                    continue;
                }
                match m.try_lock(false) {
                    Ok(()) => {}
                    Err(Error::OwnerDied) => {
                        owner_died += 1;
                        // SAFETY: held (owner died).
                        unsafe { m.consistent() }.unwrap();
                    }
                    e => panic!("step {steps}: mutex {i}: {e:?}"),
                }
                // SAFETY: held.
                unsafe { m.unlock_held() };
            }
            // A death inside the trylock of mutex 3 or 6 leaves it owner-died (as with
            // glibc): back to not recoverable.
            for nr in NOT_RECOVERABLE {
                match ms[nr].try_lock(false) {
                    Err(Error::NotRecoverable) => {}
                    // SAFETY: held (owner died); released unrepaired again.
                    Err(Error::OwnerDied) => unsafe { ms[nr].unlock_held() },
                    r => panic!("step {steps}: mutex {nr}: {r:?}"),
                }
            }
            if finished {
                break;
            }
            steps += 1;
        }
        assert!(steps > 100, "the child finished after {steps} steps");
        eprintln!("killed after each of {steps} steps, {owner_died} times holding a mutex");
        assert!(owner_died > 0, "no kill landed while a mutex was held");
    }
}
