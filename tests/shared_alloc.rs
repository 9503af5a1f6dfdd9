//! The shared lockers and the allocator: a lock call never allocates, first uses included
//! (the inline robust path's one-time check of glibc runs when a region is mapped, and
//! allocates nothing even then), so a `SharedLocker` can guard the `#[global_allocator]`
//! itself, and a forked child can take its first shared lock while another thread of the
//! parent was inside the allocator at the fork.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use pthread_sync::{SharedLocker, ShmBox};

/// Allocations counted under the shared lock, once the region exists.
static REGION: AtomicPtr<ShmBox<SharedLocker<u64>>> = AtomicPtr::new(std::ptr::null_mut());
/// Every allocation also takes this std lock; `SLOW` makes a holder keep it for a while.
static GATE: Mutex<()> = Mutex::new(());
static SLOW: AtomicBool = AtomicBool::new(false);
/// Set by a slow allocation once it holds the gate.
static INSIDE: AtomicBool = AtomicBool::new(false);
/// Allocations seen, counted without a lock.
static SEEN: AtomicU64 = AtomicU64::new(0);

struct Guarded;

// SAFETY: every call forwards to `System` with the same arguments; the bookkeeping neither
// allocates (a lock call of the crate allocates nothing: the point of this test) nor unwinds.
unsafe impl GlobalAlloc for Guarded {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _gate = GATE.lock().unwrap_or_else(|e| e.into_inner());
        if SLOW.load(Ordering::Relaxed) {
            INSIDE.store(true, Ordering::Release);
            std::thread::sleep(Duration::from_millis(300));
        }
        SEEN.fetch_add(1, Ordering::Relaxed);
        let region = REGION.load(Ordering::Acquire);
        if !region.is_null() {
            // SAFETY: set once to a leaked box, never freed.
            if let Ok(mut count) = unsafe { &*region }.lock() {
                *count += 1;
            }
        }
        // SAFETY: the caller's layout is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Guarded = Guarded;

/// One test, so the two parts never overlap (the second holds the allocator's gate).
#[test]
fn a_shared_lock_guards_the_allocator_and_locks_in_a_forked_child() {
    // 1. The allocator counts under a SharedLocker (its region mapped before it is
    // installed): a lock call that allocated would re-enter the allocator and overflow the
    // stack. The region's mapping ran the probe; the first lock is the allocator's.
    let region = Box::leak(Box::new(
        ShmBox::anonymous(SharedLocker::new(0u64)).unwrap(),
    ));
    REGION.store(region, Ordering::Release);
    let before = SEEN.load(Ordering::Relaxed);
    let v: Vec<Vec<u8>> = (0..100).map(|i| vec![0; i + 1]).collect();
    drop(v);
    let allocated = SEEN.load(Ordering::Relaxed) - before;
    assert!(allocated >= 100);
    let counted = *region.lock().unwrap();
    assert!(counted >= allocated, "{counted} of {allocated} counted");

    // 2. A second region, never locked before the fork; a thread of the parent is inside the
    // allocator (holding its gate) when the parent forks. The child's first lock must not
    // allocate (the gate stays held in the child for ever) nor look anything up.
    REGION.store(std::ptr::null_mut(), Ordering::Release);
    let fresh = ShmBox::anonymous(SharedLocker::new(0u64)).unwrap();
    let inside = std::thread::spawn(|| {
        SLOW.store(true, Ordering::Relaxed);
        drop(Box::new(1u8));
    });
    // The other thread holds the gate (it set `INSIDE` under it, and sleeps 300 ms there).
    while !INSIDE.load(Ordering::Acquire) {
        std::thread::yield_now();
    }
    // SAFETY: the child does only async-signal-safe work (a lock of the crate's, which
    // allocates nothing, alarm and _exit).
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork");
    if pid == 0 {
        // SAFETY: async-signal-safe calls; `alarm` ends a child that hangs.
        unsafe { libc::alarm(5) };
        let ok = match fresh.lock() {
            Ok(mut g) => {
                *g += 1;
                true
            }
            Err(_) => false,
        };
        // SAFETY: leaves the child at once.
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    let mut status = 0;
    // SAFETY: our child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    SLOW.store(false, Ordering::Relaxed);
    inside.join().unwrap();
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "the child's first shared lock: status {status:#x} (SIGALRM: it hung)"
    );
    assert_eq!(*fresh.lock().unwrap(), 1, "the child's increment");
}
