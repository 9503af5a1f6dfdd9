//! Shared-memory regions: a value of type `T` placed in memory that several processes map.
//!
//! | constructor | memory | who can map it |
//! |---|---|---|
//! | [`ShmBox::anonymous`] | `mmap(MAP_SHARED \| MAP_ANONYMOUS)` | this process and the children it forks afterwards |
//! | [`ShmBox::create`] | `shm_open(O_CREAT \| O_EXCL)`, `ftruncate`, `mmap` | any process that opens the name (and has the permission) |
//! | [`ShmBox::open`], [`ShmBox::open_timeout`] | `shm_open`, `fstat`, `mmap`, checks | an existing named region |
//! | [`ShmBox::open_or_create`] | one of the two above, race-free | the first caller creates, the others open |
//!
//! A [`ShmBox<T>`] dereferences to `&T` only: processes share the value, so it changes only
//! through atomics (or, later, the crate's process-shared primitives) inside it. `T` implements
//! [`ShmSafe`], the crate's promise (or yours, for your own `#[repr(C)]` struct) that it makes
//! sense in another process: no pointers, no heap, no `Drop`, a fixed layout.
//!
//! A parent and a forked child counting in one anonymous region:
//!
//! ```
//! use pthread_sync::ShmBox;
//! use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
//!
//! let counter = ShmBox::anonymous(AtomicU64::new(0))?;
//! // SAFETY: this doctest's process has a single thread.
//! match unsafe { libc::fork() } {
//!     -1 => panic!("fork failed"),
//!     0 => {
//!         // The child does raw memory work only, then leaves with `_exit` (no unwinding).
//!         for _ in 0..1000 {
//!             counter.fetch_add(1, Relaxed);
//!         }
//!         // SAFETY: ends the child at once, running no destructors.
//!         unsafe { libc::_exit(0) }
//!     }
//!     child => {
//!         for _ in 0..1000 {
//!             counter.fetch_add(1, Relaxed);
//!         }
//!         let mut status = 0;
//!         // SAFETY: `child` is this process's child; `status` is valid for writes.
//!         assert_eq!(unsafe { libc::waitpid(child, &mut status, 0) }, child);
//!         assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
//!         assert_eq!(counter.load(Relaxed), 2000);
//!     }
//! }
//! # Ok::<(), pthread_sync::Error>(())
//! ```
//!
//! # Names, and who unlinks them
//!
//! A name is `/` followed by 1 to 254 bytes, none of them `/` or NUL, and not `.` or `..`
//! (anything else is [`Error::InvalidInput`]); it lives in `/dev/shm`. **Nothing in the crate
//! ever removes a name, not even a dropped `ShmBox`**: the name outlives every process until
//! someone calls [`unlink`] (or the machine reboots). Unlinking removes only the name; every
//! mapping stays valid until its `ShmBox` is dropped, and a later `create` of the same name
//! makes a new, separate object. Typically the process that created the region unlinks it
//! when the work is done, or a supervisor does. The one exception: a `create` that fails after
//! its `shm_open` (or whose value closure panics) unmaps, unlinks and closes everything it
//! made.
//!
//! # The header: byte layout
//!
//! Every region, anonymous ones too, begins with a 64-byte header; the value follows at
//! `data_offset = max(64, align_of::<T>())` (a multiple of `T`'s alignment, since alignments
//! are powers of two; `T`'s alignment must be at most 4096). All fields are native-endian and
//! naturally aligned, with no padding, so a C program can read or write a region through this
//! struct (`uint64_t` fields accessed with `__atomic` builtins):
//!
//! | offset | size | field | value |
//! |---:|---:|---|---|
//! | 0 | 8 | `magic` | the ASCII bytes `PSYNCSHM` ([`MAGIC`]) |
//! | 8 | 4 | `version` | layout version, [`LAYOUT_VERSION`] = 1 |
//! | 12 | 4 | `header_size` | 64 ([`HEADER_SIZE`]) |
//! | 16 | 8 | `data_size` | `size_of::<T>()` |
//! | 24 | 8 | `data_align` | `align_of::<T>()` |
//! | 32 | 8 | `fingerprint` | type fingerprint of `T`, below |
//! | 40 | 4 | `init_state` | 0 = header not yet written, 1 = initialising, 2 = ready (an atomic `u32`) |
//! | 44 | 4 | `creator_pid` | process id of the creator (`i32`) |
//! | 48 | 8 | `data_offset` | offset of the value: `max(64, data_align)` |
//! | 56 | 8 | `total_len` | `data_offset + data_size`: the length the object must have at least |
//!
//! ## The type fingerprint
//!
//! When `T` declares [`ShmSafe::FINGERPRINT`] as `Some(n)`, the fingerprint is `n` itself: a
//! number agreed between the programs that share the layout, C programs included (below,
//! "A region created or opened by a C program"). Otherwise (`None`, the default) it is
//! FNV-1a (64 bits: offset basis `0xcbf29ce484222325`, prime `0x100000001b3`) over the UTF-8
//! bytes of [`std::any::type_name::<T>()`](std::any::type_name), followed by `size_of::<T>()`
//! and then `align_of::<T>()`, each as 8 little-endian bytes. That one identifies the type
//! for one build of the crate and toolchain: `type_name` is not promised stable across
//! compiler versions, and it includes the path of the type, so two programs share a region
//! when they take `T` from the same crate (a shared crate of region types) and are built with
//! the same toolchain. [`fingerprint::<T>()`](fingerprint) gives either. It catches mistakes
//! (another type, another build); it is a check, not a security boundary.
//!
//! # The shared primitives: byte layout
//!
//! What lies in `T` when it holds the crate's process-shared primitives (all `#[repr(C)]`,
//! native-endian, natural alignment; `tests/shared.rs` declares the same structs in C and
//! uses them with glibc's own calls concurrently with Rust):
//!
//! | type | layout (offsets in bytes) | size, align |
//! |---|---|---|
//! | arming word (first field of the locks and the semaphore, offset 0) | `u32`: 0 unarmed, 1 armed, `0x8000_0000 \| pid` being armed by `pid` | 4, 4 |
//! | [`SharedLocker<T>`](crate::SharedLocker) (and the errorcheck and recursive kinds) | 0: arming word; 4: 4 bytes padding; 8: `pthread_mutex_t` (40 bytes); 48: `u8` poison flag; then `T` at `data = round_up(49, align_of::<T>())`, then padding to the size | `round_up(data + size_of::<T>(), max(8, align_of::<T>()))`, `max(8, align_of::<T>())` |
//! | [`SharedCond`](crate::SharedCond) | 0: `u32` sequence word (a futex); 4: `u32` waiter count. No arming word: valid at any value, zero to begin with | 8, 4 |
//! | [`SharedSem`](crate::SharedSem) | 0: arming word; 4: 4 bytes padding; 8: `sem_t` (32 bytes); 40: `u32` initial value; 44: 4 bytes padding | 48, 8 |
//! | [`SharedRwLock<T>`](crate::SharedRwLock) | 0: 16 reader slots of 64 bytes (slot `i` at `64 i`: a `u64` holder word, 0 or the holding thread's identity, then padding); 1024: the writer mutex's arming word; 1032: the writer `pthread_mutex_t`; 1072: `u32` intent; 1076: `u32` state; 1080: `u8` poison flag; then `T` at `data = round_up(1081, align_of::<T>())`. See "The reader-writer lock, from C" | `round_up(data + size_of::<T>(), max(64, align_of::<T>()))`, `max(64, align_of::<T>())` |
//! | [`SharedBarrier<N>`](crate::SharedBarrier) | 0: `u64` state word; 8: `u32` futex word; 12: `u32` parties (`N`, constant); 16: `u64` cause word; then `N` seats of 56 bytes, seat `i` at `24 + 56 i`: its arming word (+0), `pthread_mutex_t` (+8, a robust normal mutex, armed as a `SharedLocker`'s), the member's `u32` pid (+48; 0: vacant), 4 bytes padding. No arming word of its own: all zero is a fresh barrier | `24 + 56 N`, 8 |
//!
//! So `T` begins right after the poison flag when it is byte-aligned, and at the next
//! multiple of its alignment otherwise; the whole is padded as a C compiler pads the same
//! `struct` (every one of them is the C `struct` of its fields in this order):
//!
//! | `T` | `T` at | size, align of `SharedLocker<T>` |
//! |---|---:|---|
//! | `u8`, `[u8; 3]` | 49 | 56, 8 |
//! | `u32` | 52 | 56, 8 |
//! | `u64` | 56 | 64, 8 |
//! | a 16-byte type aligned to 16 | 64 | 80, 16 |
//!
//! (`tests/shared.rs` checks each row against `size_of` and the real addresses inside a
//! region, and the pthread objects at their offsets with glibc's own calls.)
//!
//! # Arming: what a C program does to use (or initialise) a primitive
//!
//! The pthread objects are initialised by the first process that uses them (the "arming"),
//! in place, exactly once, and never destroyed. A C program sharing a region with Rust either
//! uses only armed objects, or arms them itself by the crate's own protocol on the arming
//! word (a `uint32_t` accessed only with `__atomic` builtins):
//!
//! 1. Load the word (`__ATOMIC_ACQUIRE`). **1**: armed; use the object.
//! 2. **0**: unarmed. Claim it: `__atomic_compare_exchange_n(&word, &seen, 0x80000000u |
//!    getpid(), 0, __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE)` with `seen = 0`; if that fails, start
//!    again from step 1 with the value found.
//! 3. **`0x8000_0000 | pid`** with `pid` in `1..2^22` (Linux's `PID_MAX_LIMIT`): `pid` is
//!    arming it. If that process exists (`kill(pid, 0)` returns 0 or fails with `EPERM`) and
//!    is not a zombie (state `Z` or `X` in `/proc/<pid>/stat`: dead, not yet reaped), it is
//!    arming now (that takes microseconds): sleep a millisecond and start again (the crate
//!    gives up after a second with [`Error::Unfinished`]). If it does not (`ESRCH`, or a
//!    zombie), it died while arming: **take its claim over** with a compare-exchange from that exact value to
//!    `0x80000000u | getpid()`, and arm (a failed exchange: start again). The crate does
//!    exactly this, and a C program may too. A claim naming the caller's own pid while none
//!    of its threads is arming is a dead process's whose pid was reused: take it over too.
//! 4. **Anything else** (bit 31 clear and neither 0 nor 1, or a claim naming pid 0 or a pid
//!    at or above 2^22): not a state of the protocol. The crate refuses the object with
//!    [`Error::CorruptHeader`] and never touches it; a C program should do the same.
//! 5. With the claim held, initialise the object in place as the table below says, then store
//!    1 (`__ATOMIC_RELEASE`). If initialising failed, store 0 (release) instead, so that the
//!    next user tries again.
//!
//! | primitive | how it is armed (exactly the crate's calls) |
//! |---|---|
//! | [`SharedLocker<T>`](crate::SharedLocker) | `pthread_mutexattr_init(&a)`; `pthread_mutexattr_settype(&a, PTHREAD_MUTEX_NORMAL)`; `pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED)`; `pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST)`; `pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_NONE)`; `pthread_mutex_init(&mutex, &a)`; `pthread_mutexattr_destroy(&a)` |
//! | [`SharedErrorCheckLocker<T>`](crate::SharedErrorCheckLocker) | the same with `PTHREAD_MUTEX_ERRORCHECK` |
//! | [`SharedRecursiveLocker<T>`](crate::SharedRecursiveLocker) | the same with `PTHREAD_MUTEX_RECURSIVE` |
//! | [`SharedSem`](crate::SharedSem) | `sem_init(&sem, 1, initial)`, `initial` being the `u32` stored at its offset 40 (written by the creator, never changed) |
//! | [`SharedCond`](crate::SharedCond) | nothing to arm (below) |
//!
//! The mutex type must be the kind of the Rust type the region is opened as (Rust's
//! errorcheck and recursive semantics are glibc's own). Never call `pthread_mutex_destroy` or
//! `sem_destroy` on them, nor initialise an armed one again: other processes may be using it.
//!
//! Using an armed mutex from C: `pthread_mutex_lock`, `_trylock`, `_clocklock` and `_unlock`
//! on the `pthread_mutex_t` at offset 8. `EOWNERDEAD` means its holder died holding it: the
//! lock is held, the data may be half-updated; repair it, then `pthread_mutex_consistent`.
//! Unlocking without that makes the mutex not recoverable for every process, Rust users
//! included ([`Error::NotRecoverable`]), as POSIX says. An armed semaphore takes `sem_wait`,
//! `sem_trywait`, `sem_clockwait`, `sem_post` and `sem_getvalue` on the `sem_t` at offset 8.
//! (The crate's own blocking waits are `sem_clockwait`s of 20 ms at most, retried: a post's
//! wake-up can go to a process killed before it ran, or die with its poster between glibc's
//! increment and its wake, and a plain `sem_wait` then sleeps beside the unit until the next
//! post. A C waiter that must not depend on other processes staying alive waits the same way.)
//!
//! ## The condition variable, from C
//!
//! [`SharedCond`](crate::SharedCond) is not a `pthread_cond_t` (glibc's process-shared one
//! hangs later notifications after a waiter is killed: see its docs), but two `uint32_t`s, `seq`
//! at offset 0 and `waiters` at offset 4, always accessed with `__atomic` builtins
//! (`__ATOMIC_SEQ_CST`), on which a C program waits and notifies by the crate's own steps:
//!
//! - wait, holding the `SharedLocker` mutex it goes with: `__atomic_add_fetch(&waiters, 1)`;
//!   `s = __atomic_load_n(&seq)`; `pthread_mutex_unlock(&mutex)`; `syscall(SYS_futex, &seq,
//!   FUTEX_WAIT_BITSET, s, deadline, NULL, FUTEX_BITSET_MATCH_ANY)` (no
//!   `FUTEX_PRIVATE_FLAG`; `deadline` an absolute `CLOCK_MONOTONIC` `struct timespec`, at most
//!   20 ms away, the caller's own deadline if that is sooner; when it was the 20 ms one that
//!   passed and `seq` still holds `s`, the same call again with the next 20 ms; any other
//!   return is a wake-up: `EAGAIN`, `EINTR` included); `__atomic_sub_fetch(&waiters,
//!   1)`; `pthread_mutex_lock(&mutex)` (and `EOWNERDEAD` as above); then check the condition
//!   again, as with any condvar;
//! - notify: if `__atomic_load_n(&waiters)` is 0, nothing; else `__atomic_add_fetch(&seq, 1)`,
//!   then `syscall(SYS_futex, &seq, FUTEX_WAKE, 1, ...)` (one) or `INT_MAX` (all).
//!
//! A process killed anywhere in those steps leaves at most `waiters` too high (later
//! notifications then make a wake-up call for nobody) and `seq` bumped without a wake (or a
//! wake spent on a waiter killed before it ran), which the 20 ms looks turn into a wake-up
//! of every sleeper within that. A waiter that sleeps without them (a `NULL` deadline)
//! still works with the crate's notifiers, but may be stranded by such a death.
//! `tests/shared.rs` runs a C program that waits and notifies on the same condvar as Rust by
//! these steps, and Rust leaves some of its notifications half-done (the bump, no wake): the C
//! waiter's 20 ms looks see them.
//!
//! ## The barrier, from C
//!
//! Every word of a [`SharedBarrier`](crate::SharedBarrier) is accessed with `__atomic`
//! builtins (`__ATOMIC_SEQ_CST`). The state word: bits 0-21 the arrivals counted in the
//! open round, bit 22 broken, bits 23-31 the epoch (resets, mod 512), bits 32-63 the rounds
//! completed (mod 2^32); every change of it is one compare-exchange. The futex word: bit 0
//! set by a waiter that may sleep, the rest a count. For `N` = 2 (other `N`: more seats):
//!
//! ```c
//! struct shared_barrier_seat {           /* 56 bytes */
//!     uint32_t        arming;            /* the seat mutex's arming word */
//!     pthread_mutex_t mutex;             /* offset 8: robust, process-shared, normal */
//!     uint32_t        pid;               /* offset 48: the member's pid; 0: vacant */
//! };
//! struct shared_barrier_2 {              /* SharedBarrier<2>: 24 + 56 * 2 = 136 bytes, aligned to 8 */
//!     uint64_t state;                    /* 0: count (bits 0-21), broken (22), epoch (23-31), rounds (32-63) */
//!     uint32_t futex;                    /* 8: bit 0 a sleeper may wait, the rest a count */
//!     uint32_t parties;                  /* 12: N, never changed */
//!     uint64_t cause;                    /* 16: why the last break happened (below) */
//!     struct shared_barrier_seat seats[2]; /* 24 */
//! };
//! ```
//!
//! The steps (the module `barrier`'s `protocol.rs` has the argument):
//!
//! - **join**: for each seat, arm its mutex if needed ("Arming", above, as a
//!   `SharedLocker`'s) and `pthread_mutex_trylock` it: `EBUSY`, the next seat; `EOWNERDEAD`,
//!   its member died: if its pid is not 0, break the barrier (below), then
//!   `pthread_mutex_consistent`; having it, store `getpid()` in its pid. The thread is a
//!   member while it holds the mutex; it leaves by storing 0 in the pid and unlocking.
//! - **wait**: `s = state`; broken: fail. If `count + 1 == parties` this arrival is the
//!   leader: exchange `s` for `s` with `count = 0` and the completed rounds plus one; then
//!   move the futex word on (exchange `w` for `(w | 1) + 1`) and, if `w` had bit 0,
//!   `FUTEX_WAKE` `INT_MAX` (no `FUTEX_PRIVATE_FLAG`). Otherwise exchange `s` for `s + 1`
//!   and remember the rounds `g` and epoch `e` of `s`; then until done: `w =
//!   __atomic_or_fetch(&futex, 1)`; reread the state: rounds not `g`: done, completed; epoch
//!   not `e`, or broken: failed, broken; else `FUTEX_WAIT_BITSET` on `w` with a deadline at
//!   most 20 ms away, and after a timeout look at the other taken seats (pid not 0):
//!   `pthread_mutex_trylock` `EBUSY` is a live member; `EOWNERDEAD`, or success while the
//!   pid is still set, is a dead one: break the barrier, then (`EOWNERDEAD`)
//!   `pthread_mutex_consistent`, and unlock, leaving the pid.
//! - **a timeout** takes the arrival back: while the round is still open (rounds `g`, epoch
//!   `e`, not broken), exchange `s` for `s - 1`.
//! - **break**: first the cause word, if it does not already name this epoch: bits 0-9
//!   `epoch + 1`, bits 10-12 the kind (1 a member died, 2 it panicked, 3 aborted, 4 reset),
//!   bits 13-34 the seat, bits 35-56 the pid; then, unless broken already, exchange `s` for
//!   `s | 1 << 22`, and move the futex word and wake as a leader does. A waiter that failed
//!   finds why in the cause word when its bits 0-9 are its epoch `e` plus one.
//! - **reset**: free the seats of dead members (acquired as above: store 0 in the pid,
//!   unlock), then exchange `s` for: the same completed rounds, the epoch plus one, count 0,
//!   not broken (if `s` was not broken and had arrivals, first record kind 4 for its epoch in
//!   the cause word, as a break does: its waiters are released as broken); and move the
//!   futex word and wake.
//!
//! `tests/barrier.rs` runs a C program that joins, waits, breaks on a dead Rust member and
//! resets by these steps, in the same barrier as a Rust process.
//!
//! Never release a seat's mutex after `EOWNERDEAD` without `pthread_mutex_consistent`: the
//! seat is then lost for good (`ENOTRECOVERABLE`), read as a dead member forever.
//!
//! ## The poison flag
//!
//! The byte at offset 48 of a shared lock is std's poisoning, kept in the region: **0** is
//! not poisoned, **any other value** poisoned. Rust writes 1 when a thread panics while
//! holding the lock (before unlocking it), and 0 on
//! [`clear_poison`](crate::SharedLocker::clear_poison); it reads the byte after every
//! acquisition (and in `is_poisoned`, at any time), always atomically (relaxed). No value is
//! invalid: a byte of 2 to 255 (which no Rust code writes) reads as poisoned too, the
//! conservative answer, and `clear_poison` makes it 0.
//!
//! A C program reads it (`__atomic_load_n(&flag, __ATOMIC_RELAXED)`) after acquiring the
//! mutex: nonzero means that a holder gave up midway (the data may be inconsistent). It may
//! also **set** it (store 1, while holding the mutex, before unlocking), to tell the Rust
//! users the same: every later Rust lock call then returns
//! [`SharedLockError::Poisoned`](crate::SharedLockError::Poisoned), with the guard inside
//! (the lock is held, the data reachable, as std's `PoisonError`), until some process clears
//! it: Rust with `clear_poison`, or C by storing 0 while holding the mutex. A C program that
//! ignores the flag loses nothing but that warning. (It is independent of `EOWNERDEAD`: a
//! dead holder is reported by the mutex, a panicking one by the flag.)
//!
//! # Who initialises, destroys, unmaps and unlinks
//!
//! - The value is written by the creator; its pthread objects are initialised on first use
//!   (above), once, wherever that first use happens.
//! - Nothing in a region is ever dropped and no pthread object in it is destroyed: other
//!   processes may still use them (on Linux they own no kernel resource, so nothing leaks).
//!   That is also why `T` may not need drop.
//! - A `ShmBox` unmaps its region when dropped, except a region in which a thread of this
//!   process still holds a robust mutex (a guard leaked with `mem::forget`, the only way a
//!   lock can outlive the borrow of its region): that one stays mapped until the process
//!   exits, since the thread's robust list (walked and written by glibc and the kernel) points
//!   into it. So is a region whose lock was held by a thread that exited holding it, and, past
//!   the bounds of the per-thread records (512 threads with robust locks at once, 4 regions
//!   per thread at once), the extra regions (see `regions` in the source).
//! - A name is removed only by [`unlink`]: the mapping of every process that has the region
//!   open stays valid, and the memory is freed when the last one unmaps it.
//!
//! # Creating
//!
//! `shm_open(O_CREAT | O_EXCL | O_RDWR, mode)` (so exactly one creator wins a name; the process
//! umask applies to `mode`), `ftruncate` to `total_len` and `posix_fallocate` (a full
//! `/dev/shm` is then an error here, not a `SIGBUS` later), `mmap`, close of the descriptor
//! (the mapping keeps the object alive); then the header fields with `init_state` still 0,
//! then `creator_pid` and `init_state = 1` (Release), then the value (`ptr::write` at
//! `data_offset`), then `init_state = 2` (Release). On any failure after `shm_open` the
//! mapping is undone and the name unlinked: nothing is left behind.
//!
//! # Opening: shared memory is hostile input
//!
//! Whatever a region holds is checked before any `&T` is formed, in this order, each failure
//! its own [`Error`]:
//!
//! 1. `shm_open(O_RDWR)`: [`Error::NotFound`], [`Error::PermissionDenied`].
//! 2. Size (`fstat`) below 64: the creator is between `shm_open` and `ftruncate`: wait.
//! 3. Only the header is mapped, and `init_state` read (Acquire). 0: wait (but a `magic`
//!    that is neither 0 nor ours is [`Error::BadMagic`] at once).
//! 4. `magic` ([`Error::BadMagic`]), then `version` ([`Error::VersionMismatch`]).
//! 5. `init_state` 1: if `creator_pid` no longer exists (`kill(pid, 0)` fails with `ESRCH`)
//!    or is a zombie (dead, not yet reaped by its parent), [`Error::CreatorDied`] at once, else wait. Any state but 0, 1, 2:
//!    [`Error::CorruptHeader`].
//! 6. `init_state` 2: `header_size` ([`Error::CorruptHeader`]); `data_size`, `data_align`,
//!    `fingerprint` against `T` ([`Error::TypeMismatch`]); `data_offset` and `total_len`
//!    against `T`'s layout ([`Error::CorruptHeader`]); the object's real size (`fstat` again)
//!    at least `total_len` ([`Error::TooSmall`]).
//! 7. Only then is the whole region mapped and the `&T` handed out.
//!
//! Waiting polls, sleeping 1 ms, then twice as long each time up to 10 ms, never spinning; when
//! the bound passes (1 s for [`ShmBox::open`]; yours for [`ShmBox::open_timeout`]) the result
//! is [`Error::Unfinished`]. A creator that died before writing its pid (state 0) is thus
//! reported as `Unfinished` after the bound; one that died later, as `CreatorDied` at once.
//!
//! What the checks do not cover: a hostile process (see "Trust", below). A `creator_pid` is
//! a process id in the creator's pid namespace: processes in different pid namespaces
//! sharing `/dev/shm` should not rely on `CreatorDied` (they get it wrongly, or
//! `Unfinished`). A creator's pid reused by a new process makes the opener wait for the bound
//! and report `Unfinished`.
//!
//! # Trust: who must trust whom
//!
//! The checks made at `open` defend against **mistakes and crashes**: another type or build
//! (size, alignment, fingerprint), another version of the crate, a region still being made or
//! left half made by a creator that died, an object too short. They are no defence against a
//! **hostile peer**. A process that may write the object (its owner and mode decide which:
//! `0o600` is the creating user's processes only) can, at any time after `open`:
//!
//! - write any bytes into `T`, the data that a lock protects included, and into the header
//!   (which only later openers read, and check);
//! - rewrite a pthread object's bytes, which glibc trusts. A robust mutex holds its holder's
//!   robust-list links (`__list`): glibc's unlock writes through them, and the kernel follows
//!   them, and writes, when the holding thread exits. So a peer that rewrites the links of a
//!   mutex this process holds makes this process, or the kernel for it, **write where the
//!   peer chooses**, anywhere in this process's memory. Scribbled lock or semaphore words can
//!   also make a wait last forever, or wake every waiter;
//! - put an arming word back to 0, or a claim in the name of a process that no longer exists:
//!   the next user then initialises the object again, under whoever holds or waits on it;
//! - shrink the object, so that this process's next access raises `SIGBUS`; hold a lock
//!   forever (use `lock_timeout`).
//!
//! So every process that maps a region must trust every process that can write it as much as
//! its own code: the object's permissions are the boundary, not the crate's checks. Share a
//! region for writing only with processes you would let write into your own memory.
//!
//! What the crate checks anyway, **on every use**, are its own state words, whatever any
//! process wrote in them, and a corrupt one gets a typed error at once, never a hang and
//! never undefined behaviour:
//!
//! - the **arming word**, loaded by every lock, wait and post: 1 uses the object; 0 arms it;
//!   a live armer's claim is waited for, at most a second ([`Error::Unfinished`]); a dead
//!   one's is taken over; any other value (bit 31 clear and neither 0 nor 1, or a claim
//!   naming pid 0 or a pid at or above 2^22) is [`Error::CorruptHeader`], on every call,
//!   and the object is left untouched;
//! - the **poison flag**, read after every acquisition: any nonzero byte is poisoned (there
//!   is no invalid value; see "The poison flag");
//! - where the object is: a lock only inside a region this process mapped, checked on every
//!   lock call; any primitive, when it is armed ([`Error::NotInRegion`]);
//! - a semaphore's stored **initial value**, when it is armed: above `SEM_VALUE_MAX` is
//!   [`Error::InvalidInput`], and the semaphore stays unarmed.
//!
//! The **header** is checked once, at `open`, before any `&T` exists (see "Opening"), and not
//! after: a process that has a region open never reads it again. The bytes of the pthread
//! objects (glibc's) and of `T` are not checked: the crate's primitives, and the integers and
//! atomics `T` is made of, have no invalid values, so corrupted ones are wrong values, never
//! invalid Rust values (which is why `bool` is not [`ShmSafe`]); what glibc does with wrong
//! values in its own objects is the hostile case above.
//!
//! # A region created or opened by a C program
//!
//! Everything a region holds is specified above in bytes, except the default fingerprint,
//! which hashes Rust's name of the type: no C program can compute it, and no program built
//! by another toolchain is promised the same one. So a type that a C program creates, or
//! checks, declares its fingerprint: [`ShmSafe::FINGERPRINT`] as `Some(n)`, a number chosen
//! once for the layout (at random, say) and written beside the C declaration of the same
//! layout. The header then carries `n` verbatim in both directions: a Rust creator writes
//! it, a Rust opener expects it (and still checks size, alignment, offsets and length).
//!
//! Why on the trait, and not as an argument of extra constructors
//! (`create_with_fingerprint`, `open_with_fingerprint`): the fingerprint stands for a
//! layout, and the layout is the type's. Declared once, beside the `#[repr(C)]` struct and in
//! its `unsafe impl`, it cannot drift between a program's creating and opening call sites,
//! nor be passed for the wrong type; every constructor (`anonymous`, `create`, `open`,
//! `open_timeout`, `open_or_create`) honours it with no second set of them; and it sits
//! inside the unsafe promise where it belongs, since a matching fingerprint is what lets
//! another program's bytes be taken for a `T` (see [`ShmSafe`]'s `# Safety`). Types that
//! declare nothing, every type of the crate's among them, and the constructors behave as
//! before. (One layout known under two numbers: a `#[repr(transparent)]` newtype per number.)
//!
//! The C declarations of the layouts above, for a region whose `T` is one `SharedLocker<u64>`
//! followed by one `SharedSem` (`tests/shared.rs` compiles programs from them):
//!
//! ```c
//! #include <pthread.h>
//! #include <semaphore.h>
//! #include <stdint.h>
//!
//! struct psync_header {         /* offset 0 of every region, 64 bytes */
//!     char     magic[8];        /* "PSYNCSHM", no NUL */
//!     uint32_t version;         /* 1 */
//!     uint32_t header_size;     /* 64 */
//!     uint64_t data_size;       /* sizeof(struct value) */
//!     uint64_t data_align;      /* _Alignof(struct value) */
//!     uint64_t fingerprint;     /* the agreed number, FINGERPRINT of the Rust type */
//!     uint32_t init_state;      /* 0, 1, 2: only through __atomic builtins */
//!     int32_t  creator_pid;     /* the creator's getpid() */
//!     uint64_t data_offset;     /* max(64, _Alignof(struct value)) */
//!     uint64_t total_len;       /* data_offset + sizeof(struct value) */
//! };
//! struct shared_locker_u64 {    /* SharedLocker<u64>: 64 bytes */
//!     uint32_t        arming;   /* 0, 1, 0x80000000 | pid: only through __atomic builtins */
//!     pthread_mutex_t mutex;    /* offset 8 */
//!     uint8_t         poisoned; /* offset 48: 0, or poisoned */
//!     uint64_t        data;     /* offset round_up(49, _Alignof(uint64_t)) = 56 */
//! };
//! struct shared_sem {           /* SharedSem: 48 bytes */
//!     uint32_t arming;
//!     sem_t    sem;             /* offset 8 */
//!     uint32_t initial;         /* offset 40: what sem_init is given when arming */
//! };
//! struct shared_cond {          /* SharedCond: 8 bytes, no arming word (below) */
//!     uint32_t seq;             /* a futex word: only through __atomic builtins and futex(2) */
//!     uint32_t waiters;         /* only through __atomic builtins */
//! };
//! struct value { struct shared_locker_u64 count; struct shared_sem ready; };
//! struct region { struct psync_header h; struct value v; }; /* v at 64: alignment <= 64 */
//! ```
//!
//! **Creating** a region from C is the crate's own protocol ("Creating", above):
//!
//! 1. `fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, mode)`. `EEXIST`: the name is taken;
//!    open it instead (below).
//! 2. `ftruncate(fd, total_len)` and `posix_fallocate(fd, 0, total_len)` (a full `/dev/shm`
//!    is then an error here, not a `SIGBUS` later); `mmap(NULL, total_len, PROT_READ |
//!    PROT_WRITE, MAP_SHARED, fd, 0)`; `close(fd)`. The object reads as zeros.
//! 3. Every header field but `init_state` and `creator_pid`, as commented above (plain
//!    stores: no opener reads past `init_state` 0).
//! 4. `__atomic_store_n(&h->creator_pid, getpid(), __ATOMIC_RELAXED)`, then
//!    `__atomic_store_n(&h->init_state, 1, __ATOMIC_RELEASE)`. From here a creator that dies
//!    is reported to openers as [`Error::CreatorDied`].
//! 5. The value, at `data_offset`: the data, and each primitive either **unarmed** (arming
//!    word 0, the pthread object's bytes left zero, a semaphore's `initial` set: the first
//!    user arms it) or **armed** by the creator itself (initialised as the table of "Arming"
//!    says, then arming word 1; no claim is needed, nobody can reach the value yet).
//! 6. `__atomic_store_n(&h->init_state, 2, __ATOMIC_RELEASE)`: the region is published, and
//!    [`ShmBox::<T>::open`](ShmBox::open) with that `T` maps it.
//!
//! On a failure after step 1, `munmap` and `shm_unlink(name)`: nothing is left behind. As for
//! a Rust creator, the name stays until someone unlinks it.
//!
//! **Opening** from C a region that Rust (or C) created: `shm_open(name, O_RDWR, 0)`;
//! `fstat` until the size is at least 64 (the creator is between `shm_open` and
//! `ftruncate`); map the header; `__atomic_load_n(&h->init_state, __ATOMIC_ACQUIRE)` until
//! it is 2 (1 with `kill(creator_pid, 0)` failing with `ESRCH`, or the creator a zombie: it
//! died, give up;
//! bound the wait); then check `magic`, `version`, `header_size`, `data_size`, `data_align`,
//! `fingerprint`, `data_offset` and `total_len` against your declarations, and the object's
//! size (`fstat`) against `total_len`, before touching the value. Then use the primitives
//! as "Arming" says.
//!
//! ## The reader-writer lock, from C
//!
//! [`SharedRwLock<T>`](crate::SharedRwLock) is not a `pthread_rwlock_t` (glibc's
//! process-shared one cannot tell a dead reader or writer) but 16 reader slots, a robust
//! writer mutex and two words (layout above), on which a C program reads and writes by the
//! crate's own steps. The writer mutex has its own arming word and is armed as a
//! [`SharedErrorCheckLocker`](crate::SharedErrorCheckLocker)'s (robust, process-shared,
//! `PTHREAD_MUTEX_ERRORCHECK`); one Rust `write()` arms it. A slot needs no arming: its
//! `uint64_t` word is 0 (free) or the **identity** of the thread that holds it. `intent` (0,
//! or 1 while a writer drains or writes) and `state` (0; 1 while a write guard is held; 2
//! once the lock is not recoverable) are written only by the writer mutex's holder. Every
//! access named below is an `__atomic` builtin with `__ATOMIC_SEQ_CST` unless it says
//! otherwise: the reader's exchange-then-load and the writer's store-then-load are Dekker's
//! pattern, which needs the single order of sequentially consistent accesses. For the data
//! of `T` = `(u64, u64)`:
//!
//! ```c
//! struct shared_rwlock_slot {            /* 64 bytes: a cache line of its own */
//!     _Alignas(64) uint64_t holder;      /* 0, or the holding thread's identity */
//! };
//! struct shared_rwlock_pair {            /* SharedRwLock<(u64, u64)>: 1152 bytes, aligned to 64 */
//!     struct shared_rwlock_slot slots[16];
//!     uint32_t        writer_arming;     /* 1024 */
//!     pthread_mutex_t writer;            /* 1032 */
//!     uint32_t        intent;            /* 1072 */
//!     uint32_t        state;             /* 1076 */
//!     uint8_t         poisoned;          /* 1080, as a shared lock's poison flag */
//!     uint64_t        a, b;              /* the data, at round_up(1081, 8) = 1088 */
//! };
//! ```
//!
//! - **Identity** of a thread: `tag << 44 | pid << 22 | tid` (as `uint64_t`), with
//!   `tid = gettid()`, `pid = getpid()` (Linux's ids are below 2^22, `PID_MAX_LIMIT`) and
//!   `tag` the low 20 bits of field 22 (`starttime`) of `/proc/self/stat`, the **process**'s
//!   start time (0 if it cannot be read). Read it once per thread, and again in a forked
//!   child (another process). Its low 32 bits are never 0.
//! - **Alive**: a holder `h` is alive while its process `pid = (h >> 22) & 0x3fffff` is:
//!   `/proc/<pid>/stat` can be read, its state (the field after the last `)`) is not `X`, nor
//!   `Z` with field 20 (`num_threads`) at most 1 (a leader that ended before its other
//!   threads shows `Z` with more), and, when `h >> 44` is not 0, the low 20 bits of its field
//!   22 equal `h >> 44` (else the pid was reused: the holder is dead); if that file cannot be
//!   opened, alive if `kill(pid, 0)` is not `ESRCH`. Whether the thread `h & 0x3fffff` still
//!   runs does not matter: a thread that ends holding a read keeps it held until its process
//!   ends (so do not end a thread holding a read you mean to release).
//! - **Wait for a slot** holding `h` (not 0): until the word is not `h`: `futex(FUTEX_WAIT)`
//!   on the word's low 32 bits (its first 4 bytes; little-endian) expecting `(uint32_t) h`,
//!   in slices of 20 ms: when 20 ms have passed since the slice began, whatever `futex`
//!   returned (a timeout, `EINTR` from a signal handler, a spurious wake-up: compare the
//!   clock, do not count on `ETIMEDOUT`), with the word still `h`, and if the holder is not
//!   alive, `__atomic_compare_exchange_n(&holder, &h, 0, ...)` (reclaim it: a reader writes
//!   nothing, so nothing to repair); then begin a new slice. (Looking at the holder before
//!   every sleep is correct too, only slower: it reads `/proc`.) The futexes are shared:
//!   never `FUTEX_PRIVATE_FLAG` (the sleeper and the waker are in different processes).
//! - **Read**: take a slot: a compare-exchange of a slot's word from 0 to your identity,
//!   trying the slots from one of your choosing on (spread threads over them); if all are
//!   busy, wait for that first one as above for one slice at most and try them all again.
//!   Then load `intent`: **0**, the
//!   read hold is that slot; **1**, release the slot (below: never wait holding one, the
//!   writer waits for it), lock the writer mutex, store 0 to `intent` (release) if it is not
//!   0, take a slot as before, unlock the writer mutex: the read hold is that slot. **Never
//!   read again while you hold a read** of the same lock: with a writer's intent raised, the
//!   second read waits for the writer, which waits for your first slot. A slot is one read
//!   of one thread: do not count reads on it, share it between threads, or pass it on.
//! - **Release a slot**: compare-exchange its word from your identity to 0, then load
//!   `intent`; if it is not 0, `futex(FUTEX_WAKE, INT_MAX)` on the word's low 32 bits (a
//!   writer may sleep there).
//! - **Write**: lock the writer mutex; store 1 to `intent`; then for each of the 16 slots,
//!   load its word, and if it is not 0, wait for the slot as above (only for that holder: one
//!   that takes the slot later sees the intent and gives it back); then `state` = 1
//!   (relaxed): the write hold. **Unlock**: `state` = 0 (relaxed), `intent` = 0
//!   (`__ATOMIC_RELEASE`), unlock the writer mutex. A writer that gives up while draining (a
//!   timeout): `intent` = 0 (release), unlock the writer mutex.
//! - `EOWNERDEAD` on the **writer mutex** with `state` 0: its holder died before or after a
//!   write (or was a reader waiting there): `pthread_mutex_consistent`, nothing to repair.
//!   With `state` not 0: a writer died mid-update. Drain the slots as a writer does (you then
//!   hold the write side), repair the data, `pthread_mutex_consistent`, go on as a writer;
//!   or give up: `state` = 2, leave `intent` at 1, unlock the writer mutex, which glibc then
//!   refuses to everyone (`ENOTRECOVERABLE`), so readers too.
//! - Lock the writer mutex in slices (`pthread_mutex_clocklock` 20 ms at a time, then
//!   again), as the crate does: a waiter woken by an unlock and killed before it takes a
//!   robust mutex can leave glibc's other waiters asleep on a free one.
//! - All processes using the lock must share one PID namespace (process ids are compared
//!   and looked up in `/proc`) and one time namespace (`/proc`'s start times are shifted by
//!   the reading process's boottime offset: a reader in another one would be taken for
//!   dead). A process that `exec`s while one of its threads holds a read keeps it held until
//!   the new program exits (the pid and the start time stay). A child made without running
//!   `fork`'s atfork handlers (`_Fork`, a raw `clone`) is another process: it must take its
//!   own identity before it reads, and never release its parent's slots.
//!
//! `tests/shared_rwlock.rs` runs a C program that reads and writes the same lock as Rust by
//! these steps.
//!
//! # The crate's table of regions, `fork` and robust mutexes
//!
//! Each process keeps a table of the regions it has mapped through `ShmBox` (at most 1024 at
//! once; more is [`Error::TooManyRegions`]). The crate's process-shared primitives initialise
//! themselves only inside one, where they can never move. The table is lock-free and
//! allocation-free, and so are [`ShmBox::open`], [`ShmBox::create`] and the other
//! constructors (the name is kept inline): a forked child of a multithreaded process may open
//! or create a region. A child inherits its parent's mappings and table.
//!
//! Never unmap memory holding a robust mutex this process may still hold: glibc writes to it
//! at the thread's next robust lock or unlock, the kernel when the holding thread exits. Each
//! thread that takes a robust lock counts its acquisitions per region in a record of its own
//! (plain stores, no shared write on the lock path); a `ShmBox` dropped while any thread's
//! record counts a lock in its region (a guard leaked with `mem::forget`) leaves the memory
//! mapped until the process exits instead of unmapping it. Every other region is unmapped at
//! drop (`tests/regions.rs`: 100 000 cycles leave the number of mappings flat).
//!
//! One named region may be opened more than once in one process: each `ShmBox` is a mapping
//! of its own, at its own address, of one object (the table knows them as one by the
//! object's `(st_dev, st_ino)`). The primitives work through either: a recursive locker
//! taken through both counts once, a thread that reads a [`SharedRwLock`](crate::SharedRwLock)
//! through both holds one read until its last guard is dropped (and a write of it through
//! either is [`Error::Deadlock`]). A `ShmBox` dropped while a recursive robust lock in its
//! object is held by a thread of this process, through any of its mappings, stays mapped
//! until the process exits (the lock may be on the thread's robust list at this mapping's
//! address, taken through it first); a lock of another kind held through another mapping
//! does not keep it.

mod header;
mod name;

use std::fmt;
use std::marker::PhantomData;
use std::mem::size_of;
use std::ops::Deref;
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::regions;
use crate::sys::shm::{Fd, Mapping};
use header::{Header, Layout, Progress};
use name::Name;

pub use header::{fingerprint, HEADER_SIZE, LAYOUT_VERSION, MAGIC};
pub use name::NAME_MAX;

/// How long [`ShmBox::open`] waits for a creator that is still initialising the region.
pub const DEFAULT_OPEN_WAIT: Duration = Duration::from_secs(1);

/// A type that may live in shared memory, in a [`ShmBox`].
///
/// The crate implements it for the integers, `f32`, `f64`, the atomic integers of
/// [`std::sync::atomic`], arrays of `ShmSafe` types, and the shared primitives. Not for
/// `bool` or `AtomicBool`: a region's bytes are written by other processes, and a byte other
/// than 0 or 1 there would be an invalid `bool` (use `u8` or `AtomicU8`). Mark your own struct
/// with `unsafe impl ShmSafe for MyStruct {}` when it meets the rules below:
///
/// ```
/// use pthread_sync::{ShmBox, ShmSafe};
/// use std::sync::atomic::{AtomicU32, AtomicU64};
///
/// #[repr(C)]
/// struct Stats {
///     requests: AtomicU64,
///     errors: AtomicU64,
///     workers: [AtomicU32; 8],
///     limit: u64, // written once by the creator, then only read
/// }
/// // SAFETY: #[repr(C)]; integers and atomics only: no pointers, no Drop, the same meaning in
/// // every process; changed only through its atomics.
/// unsafe impl ShmSafe for Stats {}
/// ```
///
/// A type that needs drop, or has an alignment above 4096, is refused at compile time by
/// `ShmBox`'s constructors:
///
/// ```compile_fail,E0080
/// use pthread_sync::{ShmBox, ShmSafe};
///
/// #[repr(C)]
/// struct Noisy(u64);
/// impl Drop for Noisy {
///     fn drop(&mut self) {}
/// }
/// // SAFETY: wrong (it has a Drop), which is what ShmBox refuses.
/// unsafe impl ShmSafe for Noisy {}
///
/// let _ = ShmBox::anonymous(Noisy(1));
/// ```
///
/// # Safety
///
/// An implementor promises that its values:
/// - hold no pointers or references (not even `&'static`: addresses mean nothing in another
///   process, and a mapping sits at a different address in each), no heap memory and no file
///   descriptors;
/// - need no `Drop` (nothing in a region is ever dropped, by any process);
/// - are valid in any process that maps them: the type's layout is fixed (`#[repr(C)]`,
///   `#[repr(transparent)]`, or a primitive), so that every process, and every program built
///   with the same type, reads the same bytes the same way;
/// - change after construction only through interior mutability that works across processes:
///   atomics, or the crate's process-shared primitives (never `Cell`, `RefCell`, or a
///   process-private lock).
///
/// An implementor that declares [`FINGERPRINT`](ShmSafe::FINGERPRINT) as `Some(n)` also
/// promises that `n` names this layout and meaning only: any region whose header carries `n`
/// (with `T`'s size and alignment) is opened as a `T`, so `n` must not be shared with another
/// type, and must change when the layout or meaning of `T` changes.
pub unsafe trait ShmSafe: Sync {
    /// The type fingerprint the header of a region of this type carries (see
    /// [`fingerprint`]). `None` (the default, kept by every type the crate implements it
    /// for): computed from Rust's name of the type, its size and its alignment, which only
    /// programs built from the same type definition by the same toolchain share. `Some(n)`:
    /// exactly `n`, a number chosen once for the layout (at random, say) and written in the
    /// C header (or other programs) that declare the same layout; then a C program can
    /// create, or check, a region of this type. See the
    /// [module docs](self#a-region-created-or-opened-by-a-c-program).
    const FINGERPRINT: Option<u64> = None;
}

macro_rules! shm_safe {
    ($($ty:ty),* $(,)?) => {
        $(
            // SAFETY: a plain value or an atomic: no pointers, no Drop, a fixed layout,
            // changed only atomically.
            unsafe impl ShmSafe for $ty {}
        )*
    };
}

// SAFETY: a shared lock is `#[repr(C)]` state (the arming word, the pthread mutex, the
// poison flag) and a `ShmSafe` `T`: no pointers, no Drop, meaningful in every process that
// maps it, changed only through the pthread calls and atomics; its mutex is initialised in
// place on first use and never moves.
unsafe impl<K: crate::kind::SharedKind, T: ShmSafe + Send> ShmSafe
    for crate::Lock<crate::kind::Shared<K>, T>
{
}
// SAFETY: `#[repr(C)]` state (a robust writer mutex armed in place; atomic words: the reader
// slots hold thread identities, meaningful in every process of the PID namespace; the poison
// flag) and a `ShmSafe` `T`, as for the shared locks.
unsafe impl<T: ShmSafe + Send> ShmSafe for crate::SharedRwLock<T> {}
// SAFETY: two atomic words, valid at any value.
unsafe impl ShmSafe for crate::SharedCond {}
// SAFETY: as above: the arming word, a process-shared `sem_t` and its initial value.
unsafe impl ShmSafe for crate::SharedSem {}
// SAFETY: `#[repr(C)]` atomic words, valid at any value, and member seats (a robust mutex
// armed in place on first use, never moved, and an atomic pid).
unsafe impl<const N: usize> ShmSafe for crate::SharedBarrier<N> {}

shm_safe!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, f32, f64);
shm_safe!(
    std::sync::atomic::AtomicU8,
    std::sync::atomic::AtomicU16,
    std::sync::atomic::AtomicU32,
    std::sync::atomic::AtomicU64,
    std::sync::atomic::AtomicUsize,
    std::sync::atomic::AtomicI8,
    std::sync::atomic::AtomicI16,
    std::sync::atomic::AtomicI32,
    std::sync::atomic::AtomicI64,
    std::sync::atomic::AtomicIsize,
);

// SAFETY: an array of `ShmSafe` values has their properties and a fixed layout.
unsafe impl<T: ShmSafe, const N: usize> ShmSafe for [T; N] {}

/// A value of type `T` in a shared-memory region, behind a 64-byte header (see the
/// [module docs](self) for the layout and the checks made on opening).
///
/// It dereferences to `&T` only. Dropping it unmaps this process's view of the region; it
/// never drops the value (no process ever does) and never removes the name: call [`unlink`]
/// for that.
///
/// Creating a named region and opening it by name (here in one process; usually the opener is
/// another program, or a forked child):
///
/// ```
/// use pthread_sync::{shm, ShmBox};
/// use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
///
/// let name = format!("/pthread-sync-doc-{}", std::process::id());
/// let created = ShmBox::create(&name, 0o600, AtomicU64::new(41))?;
/// let opened = ShmBox::<AtomicU64>::open(&name);
/// // The name is no longer needed: the two mappings stay valid until dropped.
/// shm::unlink(&name)?;
/// let opened = opened?;
///
/// opened.fetch_add(1, Relaxed);
/// assert_eq!(created.load(Relaxed), 42);
/// assert_eq!(opened.name(), Some(name.as_str()));
///
/// // Another type in the same region is refused before any `&T` is formed.
/// let again = ShmBox::create(&name, 0o600, AtomicU64::new(0))?;
/// let wrong = ShmBox::<u32>::open(&name);
/// shm::unlink(&name)?;
/// assert!(matches!(wrong, Err(pthread_sync::Error::TypeMismatch { what: "size", .. })));
/// # drop(again);
/// # Ok::<(), pthread_sync::Error>(())
/// ```
pub struct ShmBox<T: ShmSafe> {
    map: Mapping,
    /// This region's slot in the crate's table of regions.
    slot: usize,
    name: Option<Name>,
    _value: PhantomData<T>,
}

// SAFETY: the box hands out `&T` only (fine on any thread since `T: Sync`, which `ShmSafe`
// requires) and never drops or moves the `T`; dropping the box only unmaps memory.
unsafe impl<T: ShmSafe> Send for ShmBox<T> {}
// SAFETY: `&ShmBox<T>` gives `&T` and the name only; `T: Sync`.
unsafe impl<T: ShmSafe> Sync for ShmBox<T> {}

impl<T: ShmSafe> ShmBox<T> {
    /// `value` in a new anonymous region (`mmap(MAP_SHARED | MAP_ANONYMOUS)`), shared with
    /// every child this process forks afterwards. It has the same header as a named region.
    pub fn anonymous(value: T) -> Result<Self, Error> {
        let map = Mapping::anonymous(Layout::<T>::TOTAL_LEN)?;
        Self::initialise(map, None, regions::Object::anonymous(), || value)
    }

    /// `value` in a new region named `name`, created exclusively with permission bits `mode`
    /// (at most `0o777`; the process umask applies). `Err(AlreadyExists)` when the name is
    /// taken. See the [module docs](self) for the protocol; on failure nothing is left behind.
    #[doc(alias = "shm_open")]
    pub fn create(name: &str, mode: u32, value: T) -> Result<Self, Error> {
        let name = Name::new(name)?;
        let fd = Fd::create_exclusive(name.as_c_str(), check_mode(mode)?)?;
        Self::create_in(fd, &name, || value)
    }

    /// Opens the region named `name`, waiting up to [`DEFAULT_OPEN_WAIT`] (1 s) for a creator
    /// that is still initialising it. Every check of the [module docs](self) is made before
    /// the value is reachable.
    pub fn open(name: &str) -> Result<Self, Error> {
        Self::open_timeout(name, DEFAULT_OPEN_WAIT)
    }

    /// Like [`ShmBox::open`], waiting up to `wait` for a creator still initialising the region
    /// (`Duration::ZERO`: not at all; a duration past what `Instant` can express: without
    /// bound), then `Err(Unfinished)`. A dead creator is reported at once whatever `wait` is.
    pub fn open_timeout(name: &str, wait: Duration) -> Result<Self, Error> {
        Self::open_name(Name::new(name)?, &mut Wait::new(wait))
    }

    /// Opens the region named `name`, or creates it (with `mode`, and the value `value`
    /// returns) if there is none; `true` with the box when this call created it. Of several
    /// processes racing, exactly one creates; `value` is called only by the creator, after it
    /// has won the name. The others wait, as [`ShmBox::open`] does, for the value to be
    /// written. A name that disappears in between (its creator failed and unlinked it) is
    /// tried again, within the same bound.
    pub fn open_or_create(
        name: &str,
        mode: u32,
        value: impl FnOnce() -> T,
    ) -> Result<(Self, bool), Error> {
        let name = Name::new(name)?;
        let mode = check_mode(mode)?;
        let mut wait = Wait::new(DEFAULT_OPEN_WAIT);
        loop {
            match Fd::create_exclusive(name.as_c_str(), mode) {
                Ok(fd) => return Self::create_in(fd, &name, value).map(|region| (region, true)),
                Err(Error::AlreadyExists) => {}
                Err(err) => return Err(err),
            }
            match Self::open_name(name.clone(), &mut wait) {
                Err(Error::NotFound) => wait.pause()?,
                opened => return opened.map(|region| (region, false)),
            }
        }
    }

    /// The region's name; `None` for an anonymous region.
    pub fn name(&self) -> Option<&str> {
        self.name.as_ref().map(Name::as_str)
    }

    /// Sizes, maps and initialises the object just created exclusively as `fd` under `name`;
    /// unlinks the name if anything fails (or `value` panics).
    fn create_in(fd: Fd, name: &Name, value: impl FnOnce() -> T) -> Result<Self, Error> {
        let unlink_on_failure = UnlinkOnDrop(Some(name));
        fd.set_size(Layout::<T>::TOTAL_LEN as u64)?;
        let (dev, ino) = fd.object()?;
        let map = Mapping::shared(&fd, Layout::<T>::TOTAL_LEN)?;
        drop(fd);
        let object = regions::Object::named(dev, ino);
        let region = Self::initialise(map, Some(name.clone()), object, value)?;
        unlink_on_failure.disarm();
        Ok(region)
    }

    /// Registers a fresh, zero-filled mapping of `TOTAL_LEN` bytes, then writes the header and
    /// the value and publishes them (module docs, "Creating").
    fn initialise(
        map: Mapping,
        name: Option<Name>,
        object: regions::Object,
        value: impl FnOnce() -> T,
    ) -> Result<Self, Error> {
        debug_assert_eq!(map.len(), Layout::<T>::TOTAL_LEN);
        // From here on, dropping `region` (on a panic in `value`) unregisters and unmaps.
        let region = Self::registered(map, name, object)?;
        let header = region.header();
        header.begin_init::<T>(std::process::id() as i32);
        let value = value();
        // SAFETY: the mapping is `TOTAL_LEN` bytes, page-aligned, so the data offset (a
        // multiple of T's alignment, at most 4096) is aligned and in bounds; the memory is
        // fresh and no `&T` to it exists yet (openers wait for state 2).
        unsafe { region.data().write(value) };
        header.finish_init();
        Ok(region)
    }

    /// Opens and checks the region `name` (module docs, "Opening"), waiting within `wait`.
    fn open_name(name: Name, wait: &mut Wait) -> Result<Self, Error> {
        let fd = Fd::open_existing(name.as_c_str())?;
        while fd.size()? < HEADER_SIZE as u64 {
            wait.pause()?;
        }
        let header_map = Mapping::shared(&fd, HEADER_SIZE)?;
        // SAFETY: the object is at least HEADER_SIZE bytes long (checked just above).
        let header = unsafe { Header::of(&header_map) };
        while header.progress()? == Progress::Pending {
            wait.pause()?;
        }
        header.check_layout::<T>()?;
        let needed = Layout::<T>::TOTAL_LEN;
        let size = fd.size()?;
        if size < needed as u64 {
            return Err(Error::TooSmall {
                size,
                needed: needed as u64,
            });
        }
        let (dev, ino) = fd.object()?;
        let map = Mapping::shared(&fd, needed)?;
        drop(header_map);
        Self::registered(map, Some(name), regions::Object::named(dev, ino))
    }

    /// Enters the data part of `map` (`TOTAL_LEN` bytes), a mapping of `object`, in the table
    /// of live regions; the box.
    fn registered(
        map: Mapping,
        name: Option<Name>,
        object: regions::Object,
    ) -> Result<Self, Error> {
        let data = map.as_ptr() as usize + Layout::<T>::DATA_OFFSET;
        // The robust locks' one-time check of glibc, done here rather than at a first lock
        // that may come in a forked child.
        crate::sys::RawMutex::prepare_robust();
        let slot = regions::register(data, data + size_of::<T>(), object)?;
        Ok(ShmBox {
            map,
            slot,
            name,
            _value: PhantomData,
        })
    }

    fn header(&self) -> &Header {
        // SAFETY: the mapping is TOTAL_LEN >= HEADER_SIZE bytes, of an object at least that long.
        unsafe { Header::of(&self.map) }
    }

    /// Where the value lives.
    fn data(&self) -> *mut T {
        self.map
            .as_ptr()
            .wrapping_add(Layout::<T>::DATA_OFFSET)
            .cast::<T>()
    }
}

impl<T: ShmSafe> Deref for ShmBox<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // `ShmSafe` makes shared access from several processes sound: the value changes only
        // through atomics and the crate's primitives.
        // SAFETY: handed out only once the value was written (here, or by the creator whose
        // state 2 was read with Acquire), aligned and in bounds of a mapping alive for `self`.
        unsafe { &*self.data() }
    }
}

impl<T: ShmSafe> Drop for ShmBox<T> {
    fn drop(&mut self) {
        // A robust mutex in it still held (a guard leaked while locked): keep the memory
        // mapped, since the holder's robust list points into it (see `crate::regions`).
        if regions::unregister(self.slot) {
            self.map.keep_mapped();
        }
    }
}

impl<T: ShmSafe + fmt::Debug> fmt::Debug for ShmBox<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShmBox")
            .field("name", &self.name())
            .field("value", &**self)
            .finish()
    }
}

/// Removes the shared-memory object name `name` (`shm_unlink`). Regions mapped under it stay
/// valid until dropped; the next `create` of the name makes a new object. `Err(NotFound)` when
/// there is no such name. Nothing in the crate unlinks a name on its own: see the
/// [module docs](self#names-and-who-unlinks-them).
#[doc(alias = "shm_unlink")]
pub fn unlink(name: &str) -> Result<(), Error> {
    crate::sys::shm::unlink(Name::new(name)?.as_c_str())
}

fn check_mode(mode: u32) -> Result<u32, Error> {
    if mode & !0o777 == 0 {
        Ok(mode)
    } else {
        Err(Error::InvalidInput(
            "a shared-memory mode has permission bits only (at most 0o777)",
        ))
    }
}

/// Unlinks a name when dropped, unless disarmed: the undo of a failed creation.
struct UnlinkOnDrop<'a>(Option<&'a Name>);

impl UnlinkOnDrop<'_> {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for UnlinkOnDrop<'_> {
    fn drop(&mut self) {
        if let Some(name) = self.0 {
            // Nothing more to undo if this fails: the name is gone or was never ours.
            let _ = crate::sys::shm::unlink(name.as_c_str());
        }
    }
}

/// A bounded wait: short sleeps, 1 ms doubling up to 10 ms, until a deadline.
struct Wait {
    /// `None`: further away than `Instant` can express.
    deadline: Option<Instant>,
    step: Duration,
}

impl Wait {
    const FIRST_STEP: Duration = Duration::from_millis(1);
    const LAST_STEP: Duration = Duration::from_millis(10);

    fn new(limit: Duration) -> Wait {
        Wait {
            deadline: Instant::now().checked_add(limit),
            step: Self::FIRST_STEP,
        }
    }

    /// Sleeps one step (never past the deadline); `Err(Unfinished)` when the deadline has
    /// passed.
    fn pause(&mut self) -> Result<(), Error> {
        let left = match self.deadline {
            Some(deadline) => deadline.saturating_duration_since(Instant::now()),
            None => self.step,
        };
        if left.is_zero() {
            return Err(Error::Unfinished);
        }
        std::thread::sleep(self.step.min(left));
        self.step = (self.step * 2).min(Self::LAST_STEP);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::regions::contains;
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

    /// Mapping a region runs the inline robust path's check of glibc (`sys::pthread::robust`),
    /// so a process's first shared lock is already inline (and never probes inside a lock
    /// call); `PTHREAD_SYNC_ROBUST_GLIBC=1` keeps it off. Each case in a fresh process (this
    /// test binary run again for this one test), where nothing probed before.
    #[test]
    fn mapping_a_region_turns_the_inline_robust_path_on() {
        const CHILD: &str = "PTHREAD_SYNC_TEST_PROBE_CHILD";
        if let Some(expected) = std::env::var_os(CHILD) {
            let expected = expected == "on";
            assert!(
                !crate::sys::RawMutex::robust_inline_active(),
                "on before any region"
            );
            let region = ShmBox::anonymous(crate::SharedLocker::new(0u64)).unwrap();
            assert_eq!(
                crate::sys::RawMutex::robust_inline_active(),
                expected,
                "after the mapping"
            );
            *region.lock().unwrap() += 1;
            assert_eq!(*region.lock().unwrap(), 1);
            return;
        }
        for (glibc_only, expected) in [(None, "on"), (Some("1"), "off")] {
            let mut child = std::process::Command::new(std::env::current_exe().unwrap());
            child
                .args([
                    "--exact",
                    "shm::tests::mapping_a_region_turns_the_inline_robust_path_on",
                    "--test-threads=1",
                ])
                .env(CHILD, expected)
                .env_remove("PTHREAD_SYNC_ROBUST_GLIBC");
            if let Some(v) = glibc_only {
                child.env("PTHREAD_SYNC_ROBUST_GLIBC", v);
            }
            let mut child = child
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            // Bounded: a hung child is killed (then it fails below).
            let started = std::time::Instant::now();
            while child.try_wait().unwrap().is_none() {
                if started.elapsed() > std::time::Duration::from_secs(60) {
                    child.kill().unwrap();
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            let out = child.wait_with_output().unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success() && stdout.contains("1 passed"),
                "{expected}: {stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    #[test]
    fn anonymous_region_is_registered_while_alive() {
        let region = ShmBox::anonymous([AtomicU64::new(7), AtomicU64::new(8)]).unwrap();
        assert_eq!(region[1].load(Relaxed), 8);
        assert_eq!(region.name(), None);
        let addr = &*region as *const _ as usize;
        assert!(contains(addr, 16));
        assert!(contains(addr + 8, 8));
        assert!(!contains(addr + 8, 16), "past the value");
        assert!(!contains(addr - 8, 8), "the header is not data");
        drop(region);
        assert!(!contains(addr, 16));
    }

    #[test]
    fn a_region_with_a_leaked_robust_guard_stays_mapped_after_drop() {
        let region = ShmBox::anonymous(crate::SharedLocker::new(5u64)).unwrap();
        let addr = &*region as *const crate::SharedLocker<u64> as usize;
        // A guard leaked while locked: the mutex stays on this thread's robust list.
        std::mem::forget(region.lock().unwrap());
        drop(region);
        assert!(!contains(addr, 8), "unregistered all the same");
        // SAFETY: the mapping was kept (leaked) because the robust mutex in it is still held,
        // so the lock's bytes are still readable; this is what the drop promises. The lock is
        // still held by this thread (the leaked guard), so nothing else writes it.
        let lock = unsafe { &*(addr as *const crate::SharedLocker<u64>) };
        assert!(!lock.is_poisoned());
    }

    #[test]
    fn the_header_is_written_as_documented() {
        let region = ShmBox::anonymous(0xabcd_u32).unwrap();
        let base = region.map.as_ptr();
        // SAFETY: the mapping is 68 bytes long; every field is read at its documented offset,
        // aligned, after initialisation (no concurrent writer).
        let (magic, version, size, state, pid, offset, total) = unsafe {
            (
                (base as *const [u8; 8]).read(),
                (base.add(8) as *const u32).read(),
                (base.add(16) as *const u64).read(),
                (base.add(40) as *const u32).read(),
                (base.add(44) as *const i32).read(),
                (base.add(48) as *const u64).read(),
                (base.add(56) as *const u64).read(),
            )
        };
        assert_eq!(&magic, b"PSYNCSHM");
        assert_eq!((version, size, state), (1, 4, 2));
        assert_eq!(pid, std::process::id() as i32);
        assert_eq!((offset, total), (64, 68));
        assert_eq!(*region, 0xabcd);
    }

    #[repr(C)]
    struct Agreed(AtomicU64);
    // SAFETY: an atomic; the number below names this layout only.
    unsafe impl ShmSafe for Agreed {
        const FINGERPRINT: Option<u64> = Some(0xfeed_f00d_0000_0001);
    }

    /// The same layout under the computed fingerprint.
    #[repr(transparent)]
    struct Computed(Agreed);
    // SAFETY: as `Agreed`.
    unsafe impl ShmSafe for Computed {}

    /// A declared fingerprint is what a Rust creator writes at offset 32 and what an opener
    /// expects: the same layout without it is refused, and so is another number.
    #[test]
    fn a_declared_fingerprint_is_written_and_expected() {
        let region = ShmBox::anonymous(Agreed(AtomicU64::new(3))).unwrap();
        // SAFETY: the mapping is at least 64 bytes; offset 32 is the fingerprint, aligned,
        // written before the value was published (no concurrent writer).
        let written = unsafe { (region.map.as_ptr().add(32) as *const u64).read() };
        assert_eq!(written, 0xfeed_f00d_0000_0001);
        assert_eq!(fingerprint::<Agreed>(), written);
        let name = format!("/pthread-sync-unit-{}-agreed", std::process::id());
        let created = ShmBox::create(&name, 0o600, Agreed(AtomicU64::new(9)));
        let opened = ShmBox::<Agreed>::open(&name).map(|r| r.0.load(Relaxed));
        let other = ShmBox::<Computed>::open(&name).map(|_| ());
        unlink(&name).unwrap();
        assert!(created.is_ok());
        assert_eq!(opened, Ok(9));
        assert_eq!(
            other,
            Err(Error::TypeMismatch {
                what: "type fingerprint",
                found: 0xfeed_f00d_0000_0001,
                expected: fingerprint::<Computed>(),
            })
        );
    }

    /// Two mappings of one named region give one identity to each object in it (the object's
    /// `(st_dev, st_ino)` and the offset), at two addresses; anonymous regions, and another
    /// named one, have identities of their own; a dropped region has none.
    #[test]
    fn two_mappings_of_one_region_give_one_identity() {
        use crate::regions::identity;
        let name = format!("/pthread-sync-unit-{}-identity", std::process::id());
        let a = ShmBox::create(&name, 0o600, [AtomicU64::new(1), AtomicU64::new(2)]).unwrap();
        // Unwrapped once the names are gone: a failure leaves none behind.
        let b = ShmBox::<[AtomicU64; 2]>::open(&name);
        let other_name = format!("/pthread-sync-unit-{}-identity-other", std::process::id());
        let other = ShmBox::create(&other_name, 0o600, [AtomicU64::new(0), AtomicU64::new(0)]);
        let unlinked = (unlink(&name), unlink(&other_name));
        let (b, other) = (b.unwrap(), other.unwrap());
        unlinked.0.unwrap();
        unlinked.1.unwrap();
        let at = |r: &ShmBox<[AtomicU64; 2]>, i: usize| &r[i] as *const AtomicU64 as usize;
        assert_ne!(at(&a, 1), at(&b, 1), "two mappings, two addresses");
        b[1].store(7, Relaxed);
        assert_eq!(a[1].load(Relaxed), 7, "of one object");
        let (ia, ib) = (
            identity(at(&a, 1), 8).unwrap(),
            identity(at(&b, 1), 8).unwrap(),
        );
        assert_eq!(ia, ib);
        assert_eq!(ia.offset, 8);
        assert_eq!(identity(at(&a, 0), 16).unwrap().offset, 0);
        assert_ne!(ia.object, identity(at(&other, 1), 8).unwrap().object);
        assert_eq!(identity(at(&a, 1), 16), None, "past the value");
        let anon = [
            ShmBox::anonymous(AtomicU64::new(0)).unwrap(),
            ShmBox::anonymous(AtomicU64::new(0)).unwrap(),
        ];
        let ids: Vec<_> = anon
            .iter()
            .map(|r| identity(&**r as *const AtomicU64 as usize, 8).unwrap())
            .collect();
        assert_ne!(ids[0], ids[1], "anonymous regions differ");
        assert_ne!(ids[0].object, ia.object);
        assert!(ids.iter().all(|id| id.offset == 0));
        let gone = at(&a, 1);
        drop(a);
        // (Another test's region may be mapped there since, with another object.)
        assert_ne!(
            identity(gone, 8).map(|id| id.object),
            Some(ia.object),
            "a dropped mapping has none"
        );
        assert_eq!(identity(at(&b, 1), 8), Some(ib), "the other keeps it");
    }

    #[test]
    fn mode_bits_beyond_permissions_are_refused() {
        let name = format!("/pthread-sync-unit-{}-mode", std::process::id());
        assert!(matches!(
            ShmBox::create(&name, 0o4600, 1u8),
            Err(Error::InvalidInput(_))
        ));
        assert_eq!(unlink(&name), Err(Error::NotFound), "nothing was created");
    }

    #[test]
    fn wait_reports_unfinished_after_its_bound() {
        let started = Instant::now();
        let mut wait = Wait::new(Duration::from_millis(30));
        let mut pauses = 0;
        while wait.pause().is_ok() {
            pauses += 1;
        }
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(30), "{took:?}");
        assert!(took < Duration::from_millis(500), "{took:?}");
        assert!(pauses >= 4, "1, 2, 4, 8, 10... ms: {pauses} pauses");
        assert_eq!(Wait::new(Duration::ZERO).pause(), Err(Error::Unfinished));
        assert!(Wait::new(Duration::MAX).pause().is_ok());
    }
}
