//! The model backend (`cfg(loom)`): the pthread semantics the crate relies on, written in pure
//! Rust on loom's primitives, with the same types and methods as `pthread.rs`.
//!
//! It is an executable specification; `loom-tests/tests/differential.rs` runs the same
//! scripted scenarios on it and on glibc and compares the outcomes, so it cannot drift.
//!
//! - Mutex: an owner and a count. Normal: relock by the owner blocks forever (loom reports the
//!   deadlock); unlock by a non-owner is undefined in POSIX, so the model panics on it, which
//!   makes loom fail any crate code that could do it. Errorcheck: relock is `Deadlock`, a
//!   foreign unlock `NotOwner`. Recursive: the owner relocks, counted. `try_lock` by the owner
//!   of a normal or errorcheck mutex is `WouldBlock` (glibc's `EBUSY`), except for a robust
//!   errorcheck mutex, where glibc's trylock says `EDEADLK`: `Deadlock`.
//!   A holder's death is
//!   what the kernel makes of a robust one (`abandon`, model build only): released, and the
//!   next acquisition is `OwnerDied`, held inconsistent until `consistent`; released without
//!   that, `NotRecoverable` for good.
//! - Futex word: a value and a queue; `wait` sleeps while the value is the expected one (a
//!   wake after a change cannot slip in between), `wake` wakes every sleeper (more than the
//!   kernel would: a spurious wake-up). The crate's condition variables are its own protocol
//!   over it, so loom checks that protocol itself; the word also checks POSIX's rule that
//!   a condition variable's waiters use one mutex at a time.
//! - Reader-writer lock: writer-preferring and non-recursive, as the kind the crate uses.
//! - Semaphore: a count under a mutex, with `Overflow` at `SEM_VALUE_MAX`.
//! - Timed operations "may time out": loom has no clock, so a timed wait gives the other
//!   threads one chance to run (a yield), then succeeds if it can or reports the timeout. Both
//!   outcomes are explored.

use std::panic::{RefUnwindSafe, UnwindSafe};
use std::time::Duration;

use loom::sync::{Condvar, Mutex, MutexGuard};
use loom::thread::{self, ThreadId};

use super::{
    InPlace, MutexAttr, MutexType, Protocol, Released, Scope, SemAttr, Take, SEM_VALUE_MAX,
    SEM_VALUE_TOO_LARGE,
};
use crate::error::Error;

/// A point in time, for the interface's sake: the model has no clock.
#[derive(Clone, Copy, Debug)]
pub struct Deadline(());

impl Deadline {
    /// Any duration: in the model, every timed operation may time out.
    pub fn after(_dur: Duration) -> Deadline {
        Deadline(())
    }

    /// The model has no clock: always 0.
    pub fn now_ns() -> u64 {
        0
    }

    /// Either: the model has no clock.
    pub fn min(self, _other: Deadline) -> Deadline {
        self
    }

    /// Always (the model has no clock, and [`Deadline::min`] keeps either): a wait bounded by
    /// the earlier of two deadlines that timed out may have reached either, so the model takes
    /// it as having reached the one asked about.
    pub fn same(&self, _other: &Deadline) -> bool {
        true
    }

    /// Always: a timed wait that reports a timeout may do so at any point, so the model takes
    /// every deadline as passed once a wait on it timed out.
    pub fn passed(&self) -> bool {
        true
    }
}

/// `None`: the model's waits are exact (a wake reaches a sleeper or the word's change is
/// seen), and a model thread is not killed inside one, so its waits need no second look;
/// `Some` (the real backend's 20 ms, which the model ignores: every timed sleep may end) in a
/// run that loses wake-ups to dead processes ([`crate::switches::set_lost_wakeups`]), unless
/// the mutation that makes the shared waits sleep once is on.
pub fn recheck() -> Option<Duration> {
    let looks = crate::switches::lost_wakeups()
        && !crate::switches::active(crate::switches::Mutation::SharedWaitsSleepOnce);
    looks.then_some(Duration::from_millis(20))
}

struct Owner {
    thread: Option<ThreadId>,
    count: u32,
    /// Robust owner death (see [`RawMutex::abandon`]): released by a holder that died, not
    /// taken since; the next acquisition reports `OwnerDied`.
    died: bool,
    /// Held after an `OwnerDied` acquisition, not yet made consistent.
    inconsistent: bool,
    /// Released while inconsistent: every later acquisition is `NotRecoverable`.
    unrecoverable: bool,
}

/// A model of a pthread mutex of one [`MutexType`].
pub struct RawMutex {
    kind: MutexType,
    /// Initialised robust (only `try_lock` by the owner differs: see the module docs).
    robust: bool,
    /// Initialised with `PTHREAD_PRIO_INHERIT`: as for `robust`, glibc's PI trylock by an
    /// errorcheck owner is `EDEADLK` (its plain one `EBUSY`).
    inherit: bool,
    owner: Mutex<Owner>,
    released: Condvar,
    /// The priority ceiling of a `PTHREAD_PRIO_PROTECT` mutex (0: another protocol). The
    /// model schedules no priorities: the protocols only keep this value (a plain std atomic,
    /// not part of any model).
    ceiling: std::sync::atomic::AtomicI32,
}

// A pthread object keeps no invariant that unwinding could break (std's Mutex and Condvar are
// unwind-safe too); without these, `UnsafeCell` would make every wrapper `!RefUnwindSafe`.
impl UnwindSafe for RawMutex {}
impl RefUnwindSafe for RawMutex {}

/// What an attempt to take the mutex found.
enum Attempt {
    Acquired,
    /// Acquired from a holder that died (`EOWNERDEAD`): held, inconsistent.
    AcquiredOwnerDied,
    Failed(Error),
    /// Held by another thread (or, for a normal mutex, by this one): wait or give up.
    Busy,
}

impl RawMutex {
    /// A new model mutex of type `kind` (a plain `fn`: loom's types have no `const` ones).
    pub fn new(kind: MutexType) -> RawMutex {
        RawMutex::with_protocol(kind, Protocol::None)
    }

    /// [`RawMutex::new`] with a priority protocol: the model has no priorities, so the
    /// protocol changes nothing but the ceiling it keeps.
    pub fn with_protocol(kind: MutexType, protocol: Protocol) -> RawMutex {
        let ceiling = match protocol {
            Protocol::Protect { ceiling } => ceiling,
            Protocol::None | Protocol::Inherit => 0,
        };
        RawMutex {
            inherit: protocol == Protocol::Inherit,
            ceiling: std::sync::atomic::AtomicI32::new(ceiling),
            kind,
            robust: false,
            owner: Mutex::new(Owner {
                thread: None,
                count: 0,
                died: false,
                inconsistent: false,
                unrecoverable: false,
            }),
            released: Condvar::new(),
        }
    }

    /// Whether the calling thread holds the mutex.
    pub fn held_by_me(&self) -> bool {
        self.state().thread == Some(thread::current().id())
    }

    /// Re-initialises the mutex in place, unlocked (the child side of a modelled `fork`).
    ///
    /// # Safety
    /// No other thread may be using or waiting on the mutex.
    pub unsafe fn reinit(&self, _ty: MutexType, _protocol: Protocol) {
        let mut owner = self.state();
        owner.thread = None;
        owner.count = 0;
    }

    /// The ceiling of a `PTHREAD_PRIO_PROTECT` mutex (`Err(InvalidInput)` for another one).
    pub fn priority_ceiling(&self) -> Result<i32, Error> {
        match self.ceiling.load(std::sync::atomic::Ordering::Relaxed) {
            0 => Err(Error::InvalidInput("model: not a priority-ceiling mutex")),
            c => Ok(c),
        }
    }

    /// Sets the ceiling of a `PTHREAD_PRIO_PROTECT` mutex; the old one.
    pub fn set_priority_ceiling(&self, ceiling: i32) -> Result<i32, Error> {
        let old = self.priority_ceiling()?;
        self.ceiling
            .store(ceiling, std::sync::atomic::Ordering::Relaxed);
        Ok(old)
    }

    /// A robust mutex's lock: the model has no lost wake-ups to bound, so `lock_direct`.
    pub fn lock_robust(&self) -> Result<(), Error> {
        self.lock_direct()
    }

    /// A robust mutex's timed lock: as `lock_for`.
    pub fn lock_robust_for(&self, dur: Duration) -> Result<(), Error> {
        self.lock_for(dur, false)
    }

    /// The same as [`RawMutex::lock`] (which reports a holder's death, see
    /// [`RawMutex::abandon`]).
    pub fn lock_direct(&self) -> Result<(), Error> {
        self.lock()
    }

    /// Marks a mutex acquired with `OwnerDied` consistent again (`pthread_mutex_consistent`).
    ///
    /// # Safety
    /// The calling thread holds the mutex.
    pub unsafe fn consistent(&self) -> Result<(), Error> {
        let mut owner = self.state();
        if owner.thread != Some(thread::current().id()) || !owner.inconsistent {
            return Err(Error::InvalidInput(
                "model: consistent() of a consistent mutex",
            ));
        }
        owner.inconsistent = false;
        Ok(())
    }

    /// The death of the holding thread, as the kernel handles it for a robust mutex on the
    /// thread's robust list when the thread exits: the mutex is released, and its next
    /// acquisition reports `OwnerDied` (the lock then held, inconsistent until
    /// [`RawMutex::consistent`]; released without that, it is `NotRecoverable` for good).
    /// A model thread "dies" by calling this for each robust mutex it holds and doing nothing
    /// more with them. Model build only.
    ///
    /// # Safety
    /// The calling thread holds the mutex; nothing unlocks it afterwards.
    pub unsafe fn abandon(&self) {
        let mut owner = self.state();
        assert_eq!(
            owner.thread,
            Some(thread::current().id()),
            "model: abandon() of a mutex the thread does not hold"
        );
        owner.thread = None;
        owner.count = 0;
        owner.inconsistent = false;
        owner.died = true;
        self.released.notify_one();
    }

    fn state(&self) -> MutexGuard<'_, Owner> {
        self.owner.lock().expect("model state poisoned")
    }

    /// One attempt at taking the mutex. `blocking`: the caller would wait (lock, timed lock)
    /// rather than give up (trylock); it decides what an errorcheck owner gets.
    fn attempt(&self, owner: &mut Owner, me: ThreadId, blocking: bool) -> Attempt {
        if owner.unrecoverable {
            return Attempt::Failed(Error::NotRecoverable);
        }
        match owner.thread {
            None => {
                owner.thread = Some(me);
                owner.count = 1;
                if std::mem::take(&mut owner.died) {
                    owner.inconsistent = true;
                    return Attempt::AcquiredOwnerDied;
                }
                Attempt::Acquired
            }
            Some(t) if t == me => match self.kind {
                MutexType::Recursive => match owner.count.checked_add(1) {
                    Some(c) => {
                        owner.count = c;
                        Attempt::Acquired
                    }
                    None => Attempt::Failed(Error::Overflow),
                },
                MutexType::ErrorCheck if blocking || self.robust || self.inherit => {
                    Attempt::Failed(Error::Deadlock)
                }
                // trylock by the owner: EBUSY; a normal relock: blocks (forever).
                MutexType::ErrorCheck | MutexType::Normal => Attempt::Busy,
            },
            Some(_) => Attempt::Busy,
        }
    }

    /// Blocks until acquired; a normal mutex relocked by its owner blocks forever.
    pub fn lock(&self) -> Result<(), Error> {
        let me = thread::current().id();
        let mut owner = self.state();
        loop {
            match self.attempt(&mut owner, me, true) {
                Attempt::Acquired => return Ok(()),
                Attempt::AcquiredOwnerDied => return Err(Error::OwnerDied),
                Attempt::Failed(e) => return Err(e),
                Attempt::Busy => owner = self.released.wait(owner).expect("model poisoned"),
            }
        }
    }

    /// The same as [`RawMutex::lock`]: the model has no spin, and no thread of a model can
    /// vanish while holding a mutex (the real backend's `OwnerGone`).
    pub fn lock_checked(&self) -> Result<(), Error> {
        self.lock()
    }

    /// `Err(WouldBlock)` when held (by the owner too, unless recursive). `check_owner` has
    /// nothing to check in the model (see [`RawMutex::lock_checked`]).
    pub fn try_lock(&self, _check_owner: bool) -> Result<(), Error> {
        let me = thread::current().id();
        match self.attempt(&mut self.state(), me, false) {
            Attempt::Acquired => Ok(()),
            Attempt::AcquiredOwnerDied => Err(Error::OwnerDied),
            Attempt::Failed(e) => Err(e),
            Attempt::Busy => Err(Error::WouldBlock),
        }
    }

    /// A robust mutex's try-lock: as `try_lock(false)` (the real backend's inline fast path
    /// has the same semantics).
    pub fn try_lock_robust(&self) -> Result<(), Error> {
        self.try_lock(false)
    }

    /// May time out: when busy, lets other threads run once, then tries again or times out.
    pub fn lock_for(&self, _dur: Duration, _check_owner: bool) -> Result<(), Error> {
        let me = thread::current().id();
        if let Some(done) = self.attempt_done(me) {
            return done;
        }
        thread::yield_now();
        self.attempt_done(me).unwrap_or(Err(Error::TimedOut))
    }

    fn attempt_done(&self, me: ThreadId) -> Option<Result<(), Error>> {
        match self.attempt(&mut self.state(), me, true) {
            Attempt::Acquired => Some(Ok(())),
            Attempt::AcquiredOwnerDied => Some(Err(Error::OwnerDied)),
            Attempt::Failed(e) => Some(Err(e)),
            Attempt::Busy => None,
        }
    }

    /// Releases a mutex the calling thread holds (for guards).
    ///
    /// # Safety
    /// The calling thread holds the mutex; the model panics if it does not.
    pub unsafe fn unlock_held(&self) {
        // SAFETY: the caller holds the mutex.
        if let Err(e) = unsafe { self.unlock() } {
            panic!("model: a guard released a mutex its thread does not hold: {e}");
        }
    }

    /// Nothing to prepare in the model.
    pub fn prepare_robust() {}

    /// No inline path in the model: never acquires, so every lock takes the model's own.
    pub fn try_lock_robust_uncontended(&self, _pi: bool) -> Take {
        Take::Glibc
    }

    /// Not reached in the model (`try_lock_robust_uncontended` never takes a word).
    ///
    /// # Safety
    /// As for the real backend.
    pub unsafe fn give_back_taken(&self, _pi: bool) {}

    /// No inline path in the model: never releases, so every unlock takes the model's own.
    ///
    /// # Safety
    /// As for the real backend.
    pub unsafe fn unlock_robust_uncontended(&self, _recursive: bool, _pi: bool) -> Released {
        Released::Glibc
    }

    /// Not reached in the model (`unlock_robust_uncontended` never releases).
    ///
    /// # Safety
    /// As for the real backend.
    pub unsafe fn wake_released(&self, _pi: bool) {}

    /// A robust mutex's release: as `unlock_held`.
    ///
    /// # Safety
    /// As [`RawMutex::unlock_held`].
    pub unsafe fn unlock_robust(&self, _recursive: bool) {
        // SAFETY: the caller's contract.
        unsafe { self.unlock_held() }
    }

    /// Releases one level of ownership.
    ///
    /// # Safety
    /// As for the real backend: for a normal mutex the calling thread must hold it (the model
    /// panics if it does not, so that loom reports the bug).
    pub unsafe fn unlock(&self) -> Result<(), Error> {
        let me = thread::current().id();
        let mut owner = self.state();
        match owner.thread {
            Some(t) if t == me => {
                owner.count -= 1;
                if owner.count == 0 {
                    owner.thread = None;
                    // Released unrepaired after an owner's death: not recoverable (POSIX).
                    owner.unrecoverable |= std::mem::take(&mut owner.inconsistent);
                    self.released.notify_one();
                }
                Ok(())
            }
            _ if self.kind == MutexType::Normal => {
                panic!("model: unlock of a normal mutex by a thread that does not hold it")
            }
            _ => Err(Error::NotOwner),
        }
    }
}

// SAFETY: writes a fresh model mutex of the attribute's type over the unused one.
unsafe impl InPlace for RawMutex {
    type Attr = MutexAttr;

    /// Replaces the (unused) model mutex at `place` with one of `attr`'s type. Process
    /// sharing is not modelled (threads stand in for processes); every model mutex reports a
    /// holder's death ([`RawMutex::abandon`]), which only the robust ones see in the crate.
    unsafe fn init_in_place(place: *mut RawMutex, attr: &MutexAttr) -> Result<(), Error> {
        // SAFETY: the caller guarantees `place` holds an unused value nobody else can reach.
        unsafe {
            std::ptr::drop_in_place(place);
            place.write(RawMutex {
                robust: attr.robust,
                ..RawMutex::with_protocol(attr.ty, attr.protocol)
            });
        }
        Ok(())
    }
}

/// The `SCHED_FIFO` priority range of Linux (the model has no scheduler).
pub fn fifo_priority_range() -> Result<(i32, i32), Error> {
    Ok((1, 99))
}

/// Every model thread may hold a ceiling mutex (the model has no scheduling policies).
pub fn ceiling_ready() -> Result<(), Error> {
    Ok(())
}

/// A model of a counting semaphore.
pub struct RawSem {
    value: Mutex<u32>,
    posted: Condvar,
}

// A pthread object keeps no invariant that unwinding could break (std's Mutex and Condvar are
// unwind-safe too); without these, `UnsafeCell` would make every wrapper `!RefUnwindSafe`.
impl UnwindSafe for RawSem {}
impl RefUnwindSafe for RawSem {}

impl RawSem {
    /// A new model semaphore holding `value`.
    pub fn new(value: u32) -> Result<RawSem, Error> {
        if value > SEM_VALUE_MAX {
            return Err(Error::InvalidInput(SEM_VALUE_TOO_LARGE));
        }
        Ok(RawSem {
            value: Mutex::new(value),
            posted: Condvar::new(),
        })
    }

    fn state(&self) -> MutexGuard<'_, u32> {
        self.value.lock().expect("model poisoned")
    }

    /// Blocks while zero, then takes one.
    pub fn wait(&self) -> Result<(), Error> {
        let mut v = self.state();
        while *v == 0 {
            v = self.posted.wait(v).expect("model poisoned");
        }
        *v -= 1;
        Ok(())
    }

    /// Takes one, or `Err(WouldBlock)` at zero.
    pub fn try_wait(&self) -> Result<(), Error> {
        let mut v = self.state();
        if *v == 0 {
            return Err(Error::WouldBlock);
        }
        *v -= 1;
        Ok(())
    }

    /// May time out: at zero, lets other threads run once, then takes one or times out.
    pub fn wait_for(&self, _dur: Duration) -> Result<(), Error> {
        if self.try_wait().is_ok() {
            return Ok(());
        }
        thread::yield_now();
        self.try_wait().map_err(|_| Error::TimedOut)
    }

    /// Adds one and wakes a waiter (none, in a run that loses wake-ups:
    /// `switches::set_lost_wakeups`); `Err(Overflow)` at `SEM_VALUE_MAX`.
    pub fn post(&self) -> Result<(), Error> {
        let mut v = self.state();
        if *v == SEM_VALUE_MAX {
            return Err(Error::Overflow);
        }
        *v += 1;
        if !crate::switches::lost_wakeups() {
            self.posted.notify_one();
        }
        Ok(())
    }

    /// The current value.
    pub fn value(&self) -> u32 {
        *self.state()
    }
}

// SAFETY: writes a fresh model semaphore of the value over the unused one.
unsafe impl InPlace for RawSem {
    type Attr = SemAttr;

    /// Replaces the (unused) model semaphore at `place` with one holding `attr.value`.
    unsafe fn init_in_place(place: *mut RawSem, attr: &SemAttr) -> Result<(), Error> {
        let sem = RawSem::new(attr.value)?;
        // SAFETY: the caller guarantees `place` holds an unused value nobody else can reach.
        unsafe {
            std::ptr::drop_in_place(place);
            place.write(sem);
        }
        Ok(())
    }
}

/// What a model futex word keeps beside its value: for a condition variable's sequence word,
/// the mutex its waiters use (POSIX leaves two at once undefined: the model panics, so loom
/// rejects any crate code that could do it), how many are inside a wait, and the threads
/// that have had their spurious wake-up.
struct FutexState {
    mutex: Option<usize>,
    inside: usize,
    woken_spuriously: Vec<ThreadId>,
}

/// A model futex word: a loom atomic, and a queue (a loom mutex and condvar) that a waiter
/// checks the word under, so that a wake after a change of the word cannot slip between a
/// waiter's check and its sleep, as in the kernel. A timed wait "may time out" (see the module
/// docs). Wake-ups wake every sleeper (the kernel wakes at most `n`; more is a spurious
/// wake-up, which callers must cope with anyway). With spurious wake-ups switched on
/// (`switches::set_spurious_wakeups`), each thread's first untimed wait on each word returns
/// at once, after letting the others run.
pub struct Futex {
    word: loom::sync::atomic::AtomicU32,
    queue: Mutex<FutexState>,
    woken: Condvar,
}

impl Futex {
    /// A word holding `v`.
    pub fn new(v: u32) -> Futex {
        Futex {
            word: loom::sync::atomic::AtomicU32::new(v),
            queue: Mutex::new(FutexState {
                mutex: None,
                inside: 0,
                woken_spuriously: Vec::new(),
            }),
            woken: Condvar::new(),
        }
    }

    /// The value.
    pub fn load(&self, order: std::sync::atomic::Ordering) -> u32 {
        self.word.load(order)
    }

    /// Adds `v` (wrapping); the previous value.
    pub fn fetch_add(&self, v: u32, order: std::sync::atomic::Ordering) -> u32 {
        self.word.fetch_add(v, order)
    }

    /// Sets the bits of `v`; the previous value.
    pub fn fetch_or(&self, v: u32, order: std::sync::atomic::Ordering) -> u32 {
        self.word.fetch_or(v, order)
    }

    /// Stores `new` if the word holds `current`: `Ok(current)`, else `Err(value found)`.
    pub fn compare_exchange(
        &self,
        current: u32,
        new: u32,
        success: std::sync::atomic::Ordering,
        failure: std::sync::atomic::Ordering,
    ) -> Result<u32, u32> {
        self.word.compare_exchange(current, new, success, failure)
    }

    /// Sleeps while the word holds `expected` (checked under the queue's lock), until a wake;
    /// a timed wait gives the other threads one chance to run, then reports a timeout if the
    /// word is still unchanged.
    pub fn wait(&self, expected: u32, deadline: Option<&Deadline>, _scope: Scope) -> bool {
        use std::sync::atomic::Ordering::SeqCst;
        let mut queue = self.queue.lock().expect("model poisoned");
        if self.word.load(SeqCst) != expected {
            return false;
        }
        if deadline.is_some() {
            drop(queue);
            thread::yield_now();
            return self.word.load(SeqCst) == expected;
        }
        let me = thread::current().id();
        if crate::switches::spurious_wakeups() && !queue.woken_spuriously.contains(&me) {
            queue.woken_spuriously.push(me);
            drop(queue);
            thread::yield_now();
            return false;
        }
        drop(self.woken.wait(queue).expect("model poisoned"));
        false
    }

    /// Wakes the sleepers (none, in a run that loses wake-ups: `switches::set_lost_wakeups`).
    pub fn wake(&self, _n: i32, _scope: Scope) -> usize {
        let _queue = self.queue.lock().expect("model poisoned");
        if !crate::switches::lost_wakeups() {
            self.woken.notify_all();
        }
        0
    }

    /// A condition variable's waiter, holding the mutex at `mutex`, enters a wait on this
    /// word: the model panics if waiters inside use another mutex (undefined in POSIX).
    pub fn enter_wait(&self, mutex: usize) {
        let mut q = self.queue.lock().expect("model poisoned");
        if q.mutex.is_some_and(|bound| bound != mutex) {
            // Released first: unwinding with a loom lock held aborts the model run.
            drop(q);
            panic!(
                "model: a condition variable used with two mutexes at once (undefined in POSIX)"
            );
        }
        q.mutex = Some(mutex);
        q.inside += 1;
    }

    /// The waiter has its mutex back: the last one out ends the binding.
    pub fn leave_wait(&self) {
        let mut q = self.queue.lock().expect("model poisoned");
        q.inside -= 1;
        if q.inside == 0 {
            q.mutex = None;
        }
    }
}

/// A model 64-bit word whose low half is a futex word: a loom atomic and a queue, as
/// [`Futex`] (a wait checks the low half under the queue's lock; a timed wait gives the
/// others one chance to run, then reports a timeout if it is unchanged; a wake wakes all).
pub struct Futex64 {
    word: loom::sync::atomic::AtomicU64,
    queue: Mutex<()>,
    woken: Condvar,
}

impl Futex64 {
    /// A word holding `v`.
    pub fn new(v: u64) -> Futex64 {
        Futex64 {
            word: loom::sync::atomic::AtomicU64::new(v),
            queue: Mutex::new(()),
            woken: Condvar::new(),
        }
    }

    /// The value.
    pub fn load(&self, order: std::sync::atomic::Ordering) -> u64 {
        self.word.load(order)
    }

    /// Stores `v`.
    pub fn store(&self, v: u64, order: std::sync::atomic::Ordering) {
        self.word.store(v, order)
    }

    /// Subtracts `v` (wrapping); the previous value.
    pub fn fetch_sub(&self, v: u64, order: std::sync::atomic::Ordering) -> u64 {
        self.word.fetch_sub(v, order)
    }

    /// Stores `new` if the word holds `current`: `Ok(current)`, else `Err(value found)`.
    pub fn compare_exchange(
        &self,
        current: u64,
        new: u64,
        success: std::sync::atomic::Ordering,
        failure: std::sync::atomic::Ordering,
    ) -> Result<u64, u64> {
        self.word.compare_exchange(current, new, success, failure)
    }

    /// Sleeps while the low half holds `expected`, until a wake (see the type).
    pub fn wait(&self, expected: u32, deadline: Option<&Deadline>, _scope: Scope) -> bool {
        use std::sync::atomic::Ordering::SeqCst;
        let queue = self.queue.lock().expect("model poisoned");
        if self.word.load(SeqCst) as u32 != expected {
            return false;
        }
        if deadline.is_some() {
            drop(queue);
            thread::yield_now();
            return self.word.load(SeqCst) as u32 == expected;
        }
        drop(self.woken.wait(queue).expect("model poisoned"));
        false
    }

    /// Wakes the sleepers (none, in a run that loses wake-ups: `switches::set_lost_wakeups`).
    pub fn wake(&self, _n: i32, _scope: Scope) -> usize {
        let _queue = self.queue.lock().expect("model poisoned");
        if !crate::switches::lost_wakeups() {
            self.woken.notify_all();
        }
        0
    }
}

loom::lazy_static! {
    /// The model threads' identities handed out so far, and those that died (a loom mutex:
    /// a death happens before another thread's liveness check that sees it, as the kernel
    /// orders a killed process's last accesses before `/proc` shows it dead).
    static ref IDENTITIES: Mutex<(u64, Vec<u64>)> = Mutex::new((0, Vec::new()));
}

/// A new identity for a model thread (the caller caches it per thread): 1, 2, ... in each
/// model run.
pub fn thread_identity() -> u64 {
    let mut ids = IDENTITIES.lock().expect("model poisoned");
    ids.0 += 1;
    ids.0
}

/// Whether the model thread `id` names is alive (its process, in the real build): not made
/// to die by [`die`].
pub fn holder_alive(id: u64) -> bool {
    !IDENTITIES.lock().expect("model poisoned").1.contains(&id)
}

/// The model thread `id` names has died (as far as other threads' liveness checks can tell):
/// a test's stand-in for a killed process.
pub fn die(id: u64) {
    IDENTITIES.lock().expect("model poisoned").1.push(id);
}

/// The state of a model rwlock.
struct RwState {
    /// Threads holding it for reading (a thread once per hold).
    readers: Vec<ThreadId>,
    writer: Option<ThreadId>,
    /// Writers waiting: new readers wait behind them (glibc's
    /// `PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP`, the kind the crate uses).
    writers_waiting: u32,
}

/// A model of a writer-preferring, non-recursive pthread rwlock: a reader waits while a
/// writer holds it or waits for it (so a second read hold taken while a writer waits blocks
/// forever, as in glibc, which loom reports), `Deadlock` for a blocking or timed lock of
/// either kind by the write holder (`EDEADLK`), `WouldBlock` for a try that would wait, the
/// write holder's included (glibc's `tryrdlock` and `trywrlock` check no owner: `EBUSY`).
pub struct RawRwLock {
    state: Mutex<RwState>,
    changed: Condvar,
}

impl UnwindSafe for RawRwLock {}
impl RefUnwindSafe for RawRwLock {}

impl RawRwLock {
    /// A new model rwlock.
    // The interface is `new()`, as the real backend's (reachable through `model_check`).
    #[allow(clippy::new_without_default)]
    pub fn new() -> RawRwLock {
        RawRwLock {
            state: Mutex::new(RwState {
                readers: Vec::new(),
                writer: None,
                writers_waiting: 0,
            }),
            changed: Condvar::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, RwState> {
        self.state.lock().expect("model poisoned")
    }

    /// Blocks while a writer holds it or waits; `Deadlock` for the write holder.
    pub fn read(&self) -> Result<(), Error> {
        let me = thread::current().id();
        let mut s = self.state();
        if s.writer == Some(me) {
            return Err(Error::Deadlock);
        }
        while s.writer.is_some() || s.writers_waiting > 0 {
            s = self.changed.wait(s).expect("model poisoned");
        }
        s.readers.push(me);
        Ok(())
    }

    /// Takes a read hold if no writer holds it or waits (`WouldBlock` for the write holder
    /// too, as glibc's `tryrdlock`).
    pub fn try_read(&self) -> Result<(), Error> {
        let me = thread::current().id();
        let mut s = self.state();
        if s.writer.is_some() || s.writers_waiting > 0 {
            return Err(Error::WouldBlock);
        }
        s.readers.push(me);
        Ok(())
    }

    /// Whether the calling thread holds it for writing.
    fn written_by_me(&self) -> bool {
        self.state().writer == Some(thread::current().id())
    }

    /// May time out: `Deadlock` for the write holder (glibc's `clockrdlock` checks it), else
    /// tries, lets the other threads run once, tries again.
    pub fn read_for(&self, _dur: Duration) -> Result<(), Error> {
        if self.written_by_me() {
            return Err(Error::Deadlock);
        }
        match self.try_read() {
            Err(Error::WouldBlock) => {}
            other => return other,
        }
        thread::yield_now();
        self.try_read().map_err(|e| match e {
            Error::WouldBlock => Error::TimedOut,
            e => e,
        })
    }

    /// Blocks while anyone holds it; `Deadlock` for the write holder.
    pub fn write(&self) -> Result<(), Error> {
        let me = thread::current().id();
        let mut s = self.state();
        if s.writer == Some(me) {
            return Err(Error::Deadlock);
        }
        s.writers_waiting += 1;
        while s.writer.is_some() || !s.readers.is_empty() {
            s = self.changed.wait(s).expect("model poisoned");
        }
        s.writers_waiting -= 1;
        s.writer = Some(me);
        Ok(())
    }

    /// Takes it for writing if nobody holds it.
    pub fn try_write(&self) -> Result<(), Error> {
        let me = thread::current().id();
        let mut s = self.state();
        if s.writer.is_some() || !s.readers.is_empty() {
            return Err(Error::WouldBlock);
        }
        s.writer = Some(me);
        Ok(())
    }

    /// May time out: `Deadlock` for the write holder (glibc's `clockwrlock` checks it), else
    /// tries, lets the other threads run once, tries again.
    pub fn write_for(&self, _dur: Duration) -> Result<(), Error> {
        if self.written_by_me() {
            return Err(Error::Deadlock);
        }
        match self.try_write() {
            Err(Error::WouldBlock) => {}
            other => return other,
        }
        thread::yield_now();
        self.try_write().map_err(|e| match e {
            Error::WouldBlock => Error::TimedOut,
            e => e,
        })
    }

    /// Releases the calling thread's hold; panics (undefined in POSIX) if it has none.
    ///
    /// # Safety
    /// The calling thread holds the rwlock.
    pub unsafe fn unlock(&self) {
        let me = thread::current().id();
        let mut s = self.state();
        if s.writer == Some(me) {
            s.writer = None;
        } else if let Some(i) = s.readers.iter().position(|&t| t == me) {
            s.readers.swap_remove(i);
        } else {
            drop(s);
            panic!("model: unlock of an rwlock by a thread that does not hold it");
        }
        self.changed.notify_all();
    }

    /// Releases the calling thread's read hold (as [`RawRwLock::unlock`]).
    ///
    /// # Safety
    /// The calling thread holds a read hold.
    pub unsafe fn unlock_read(&self) {
        // SAFETY: the caller's guarantee.
        unsafe { self.unlock() }
    }

    /// Releases the calling thread's write lock (as [`RawRwLock::unlock`]).
    ///
    /// # Safety
    /// The calling thread holds the write lock.
    pub unsafe fn unlock_write(&self) {
        // SAFETY: the caller's guarantee.
        unsafe { self.unlock() }
    }
}

/// The lock-order checker's needs, in the model: no environment (the checker is switched on
/// by `set_mode` in a model), standard error through std, no stacks (loom's threads have no
/// frames worth naming: a report carries the acquisition sites only).
pub mod diag {
    /// The model has no environment.
    pub fn getenv<'b>(_name: &std::ffi::CStr, _buf: &'b mut [u8; 16]) -> Option<&'b [u8]> {
        None
    }

    /// Writes to standard error through std.
    pub fn write_stderr(bytes: &[u8]) {
        use std::io::Write;
        let _ = std::io::stderr().write_all(bytes);
    }

    /// No frames in the model.
    pub fn capture_stack(_out: &mut [usize], _skip: usize) -> usize {
        0
    }

    /// Nothing to symbolize in the model (no frames are captured).
    pub fn write_symbols_stderr(frames: &[usize]) {
        debug_assert!(frames.is_empty());
    }
}
