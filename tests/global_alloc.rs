//! The allocator cases: a `static` `Mutex` guarding the `#[global_allocator]` itself (a common
//! pattern with std's `Mutex`, which never allocates), no allocation anywhere on the lock,
//! wait and post paths, and a `Sem` posted from a signal handler.
//!
//! This binary's global allocator counts every allocation under a `static
//! pthread_sync::Mutex`: if locking it allocated, the allocator would re-enter itself and the
//! process would overflow its stack on the first allocation.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use pthread_sync::{Cond, ErrorCheckLocker, Locker, Mutex, RecursiveLocker, Sem};

/// Allocations made through the allocator, counted under the crate's own mutex.
static ALLOCATIONS: Mutex<u64> = Mutex::new(0);

thread_local! {
    /// Allocations made by the current thread (a const thread-local: reading it never
    /// allocates).
    static MINE: Cell<u64> = const { Cell::new(0) };
}

struct Counting;

// SAFETY: every call forwards to `System` with the same arguments; the bookkeeping around it
// neither allocates nor unwinds (a poisoned lock is taken as it is).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        *ALLOCATIONS.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        MINE.with(|n| n.set(n.get() + 1));
        // SAFETY: the caller's layout is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // The lock is taken on this path too, so frees contend with allocations.
        drop(ALLOCATIONS.lock().unwrap_or_else(|e| e.into_inner()));
        // SAFETY: `ptr` was allocated by `System` with `layout` (every allocation goes
        // through `alloc` above).
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// How many allocations the calling thread makes while running `f`.
fn allocations_of(f: impl FnOnce()) -> u64 {
    let before = MINE.with(Cell::get);
    f();
    MINE.with(Cell::get) - before
}

#[test]
fn a_static_mutex_guards_the_global_allocator_from_many_threads() {
    let before = *ALLOCATIONS.lock().unwrap();
    let workers: Vec<_> = (0..4)
        .map(|i| {
            thread::spawn(move || {
                let mut v = Vec::new();
                for j in 0..1000 {
                    v.push(vec![i; j % 7 + 1]);
                }
                v.len()
            })
        })
        .collect();
    for w in workers {
        assert_eq!(w.join().unwrap(), 1000);
    }
    // Every one of the 4 x 1000 inner vectors was counted, under the lock.
    assert!(*ALLOCATIONS.lock().unwrap() >= before + 4000);
}

#[test]
fn locking_waiting_and_posting_allocate_nothing() {
    // Everything is created and used inside the measured closure, first uses included.
    let n = allocations_of(|| {
        let m = Locker::new(0u64);
        *m.lock().unwrap() += 1;
        drop(m.try_lock().unwrap());
        drop(m.lock_timeout(Duration::from_millis(1)).unwrap());
        let e = ErrorCheckLocker::new(0u64);
        let mut held = e.lock().unwrap();
        *held += 1;
        assert_eq!(e.lock().unwrap_err(), pthread_sync::Error::Deadlock);
        drop(held);
        let r = RecursiveLocker::new(Cell::new(0u64));
        let outer = r.lock();
        r.lock().set(1);
        drop(outer);
        let c = Cond::new();
        let (g, res) = c
            .wait_timeout(m.lock().unwrap(), Duration::from_millis(1))
            .unwrap();
        assert!(res.timed_out());
        drop(g);
        c.notify_one();
        c.notify_all();
        let s = Sem::new(1).unwrap();
        s.wait();
        s.post().unwrap();
        drop(s.acquire());
        assert_eq!(s.value(), 1);
    });
    assert_eq!(n, 0, "allocations on the lock, wait and post paths");
}

/// The semaphore a signal handler posts: a `static` made by a `const fn`, ready before its
/// first use.
static POSTED: Sem = Sem::new_const::<0>();
/// Allocations the handler saw on its thread while posting, and whether it ran.
static HANDLER_ALLOCATIONS: AtomicU64 = AtomicU64::new(u64::MAX);
static HANDLER_RAN: AtomicBool = AtomicBool::new(false);

extern "C" fn post_from_handler(_signal: libc::c_int) {
    let n = allocations_of(|| {
        let _ = POSTED.post();
    });
    HANDLER_ALLOCATIONS.store(n, Ordering::SeqCst);
    HANDLER_RAN.store(true, Ordering::SeqCst);
}

#[test]
fn a_signal_handler_posts_a_static_sem_without_allocating() {
    // SAFETY: a zeroed `sigaction` is a valid value to fill in; the handler only does
    // async-signal-safe work (sem_post and atomics); SIGURG is not used by the harness.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = post_from_handler as extern "C" fn(libc::c_int) as usize;
        libc::sigemptyset(&mut action.sa_mask);
        assert_eq!(
            libc::sigaction(libc::SIGURG, &action, std::ptr::null_mut()),
            0
        );
    }
    // A waiter on another thread; the signal is sent to this process and handled on
    // whichever thread the kernel picks: the post must wake the waiter either way.
    let waiter = thread::spawn(|| POSTED.wait_timeout(Duration::from_secs(30)));
    // SAFETY: sends a signal whose handler was installed above.
    assert_eq!(unsafe { libc::kill(libc::getpid(), libc::SIGURG) }, 0);
    assert_eq!(waiter.join().unwrap(), Ok(()));
    assert!(HANDLER_RAN.load(Ordering::SeqCst));
    assert_eq!(HANDLER_ALLOCATIONS.load(Ordering::SeqCst), 0);
}

/// Reports the lock-order checker made in this binary (none is expected).
static ORDER_REPORTS: AtomicU64 = AtomicU64::new(0);

fn count_report(_: &pthread_sync::lock_order::Report) {
    ORDER_REPORTS.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn lock_order_checking_on_allocates_nothing_and_checks_the_allocator_lock() {
    use pthread_sync::lock_order::{self, Mode};
    // Switched on for the rest of this binary (its other tests then run checked too): the
    // allocator's static mutex is taken with other locks held, so it gets edges, new ones
    // (stack captured, graph updated) inside `alloc` itself.
    lock_order::set_hook(Some(count_report));
    lock_order::set_mode(Mode::Report);
    let outer = Locker::new(Vec::<u64>::new());
    let inner = ErrorCheckLocker::new(0u64);
    let n = allocations_of(|| {
        // Nested locks, in one order, many times: the first time makes new edges.
        for i in 0..100 {
            let _o = outer.lock().unwrap();
            let mut g = inner.lock().unwrap();
            *g += i;
        }
        let r = RecursiveLocker::new(());
        let _r1 = r.lock();
        let _r2 = r.lock();
        let c = Cond::new();
        let m = Locker::new(());
        let _i = inner.lock().unwrap();
        let (g, _) = c
            .wait_timeout(m.lock().unwrap(), Duration::from_millis(1))
            .unwrap();
        drop(g);
    });
    assert_eq!(n, 0, "allocations on the checked lock paths");
    // Allocating while holding locks: `outer -> ALLOCATIONS` (and `inner -> ALLOCATIONS`),
    // edges made inside the allocator, whose checking must not allocate (or it would
    // recurse into the allocator it is checking).
    for i in 0..100 {
        let mut o = outer.lock().unwrap();
        let _i = inner.lock().unwrap();
        o.push(i);
        drop(vec![i; 10]);
    }
    assert_eq!(outer.lock().unwrap().len(), 100);
    assert_eq!(ORDER_REPORTS.load(Ordering::SeqCst), 0);
}
