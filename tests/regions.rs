//! Regions are unmapped when dropped, unless a robust mutex in them is still held by a thread
//! of this process (a guard leaked with `mem::forget`), whose robust list then still points
//! into the memory: that region stays mapped for good, so nothing is ever written through a
//! stale robust-list entry into memory mapped later. One named region opened twice is two
//! regions of one object: a recursive robust lock held through either keeps both mapped
//! (a lock of another kind only its own), and the primitives work through either.
//!
//! `harness = false` (see `support`): one thread runs the cases, so the mapping counts read
//! from `/proc/self/maps` move only with what the case does.

mod support;

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc;

use pthread_sync::shm::{self, ShmBox, ShmSafe};
use pthread_sync::{SharedCond, SharedErrorCheckLocker, SharedLocker, SharedRecursiveLocker};
use support::Case;
use support::Outcome::{self, Passed};

/// The number of mappings of this process.
fn mappings() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .expect("/proc/self/maps")
        .lines()
        .count()
}

/// Whether `addr` lies in a mapping of this process.
fn mapped(addr: usize) -> bool {
    std::fs::read_to_string("/proc/self/maps")
        .expect("/proc/self/maps")
        .lines()
        .filter_map(|line| {
            let range = line.split_whitespace().next()?;
            let (start, end) = range.split_once('-')?;
            Some((
                usize::from_str_radix(start, 16).ok()?,
                usize::from_str_radix(end, 16).ok()?,
            ))
        })
        .any(|(start, end)| start <= addr && addr < end)
}

#[repr(C)]
struct Locks {
    normal: SharedLocker<u64>,
    errorcheck: SharedErrorCheckLocker<u64>,
    recursive: SharedRecursiveLocker<AtomicU64>,
    cond: SharedCond,
}
// SAFETY: #[repr(C)], shared primitives only.
unsafe impl ShmSafe for Locks {}

fn locks() -> Locks {
    Locks {
        normal: SharedLocker::new(0),
        errorcheck: SharedErrorCheckLocker::new(0),
        recursive: SharedRecursiveLocker::new(AtomicU64::new(0)),
        cond: SharedCond::new(),
    }
}

/// Locks every kind once (the recursive one twice, nested), and waits on the condvar once.
fn use_every_lock(region: &Locks) {
    *region.normal.lock().unwrap() += 1;
    *region.errorcheck.lock().unwrap() += 1;
    let outer = region.recursive.lock().unwrap();
    let inner = region.recursive.lock().unwrap();
    inner.fetch_add(1, Relaxed);
    drop(inner);
    drop(outer);
    let guard = region.normal.lock().unwrap();
    let (guard, timed_out) = region
        .cond
        .wait_timeout(guard, std::time::Duration::from_micros(1))
        .unwrap();
    assert!(timed_out.timed_out());
    drop(guard);
}

/// 100 000 cycles of create, lock, drop (anonymous regions) and 20 000 of create by name,
/// lock, drop, unlink: the number of mappings stays flat.
fn dropped_regions_are_unmapped() -> Outcome {
    let before = mappings();
    for _ in 0..100_000 {
        let region = ShmBox::anonymous(locks()).unwrap();
        *region.normal.lock().unwrap() += 1;
    }
    let after_anonymous = mappings();
    assert!(
        after_anonymous <= before + 2,
        "anonymous: {before} mappings before, {after_anonymous} after 100 000 cycles"
    );
    let name = format!("/pthread-sync-regions-{}", std::process::id());
    for _ in 0..20_000 {
        let region = ShmBox::create(&name, 0o600, locks()).unwrap();
        use_every_lock(&region);
        drop(region);
        shm::unlink(&name).unwrap();
    }
    let after_named = mappings();
    assert!(
        after_named <= before + 2,
        "named: {before} mappings before, {after_named} after 20 000 cycles"
    );
    Passed
}

/// A guard leaked while locked keeps its region mapped after the drop (the robust list still
/// points into it); the thread goes on locking other regions, which are unmapped as usual.
fn a_leaked_guard_keeps_its_region_mapped() -> Outcome {
    let region = ShmBox::anonymous(locks()).unwrap();
    let addr = &region.normal as *const SharedLocker<u64> as usize;
    std::mem::forget(region.normal.lock().unwrap());
    drop(region);
    assert!(
        mapped(addr),
        "the region of a held robust mutex was unmapped"
    );
    let before = mappings();
    for _ in 0..10_000 {
        let other = ShmBox::anonymous(locks()).unwrap();
        use_every_lock(&other);
        let other_addr = &*other as *const Locks as usize;
        assert_ne!(
            other_addr,
            addr & !4095,
            "a new region at the leaked one's address"
        );
    }
    assert!(mappings() <= before + 2);
    assert!(mapped(addr));
    Passed
}

/// The errorcheck kind's `force_unlock` of a forgotten guard releases the hold too: the region
/// is then unmapped at drop.
fn force_unlock_releases_the_hold() -> Outcome {
    let before = mappings();
    for _ in 0..1000 {
        let region = ShmBox::anonymous(locks()).unwrap();
        std::mem::forget(region.errorcheck.lock().unwrap());
        // SAFETY: the only guard was forgotten just above.
        unsafe { region.errorcheck.force_unlock() }.unwrap();
    }
    assert!(mappings() <= before + 2);
    Passed
}

/// A thread that exits with a leaked guard: its region, dropped afterwards, stays mapped (the
/// thread's exit pinned it before the kernel walked its robust list); the thread's record is
/// freed and reused by later threads, whose regions are unmapped as usual.
fn a_leaked_guard_of_an_exited_thread_keeps_its_region_mapped() -> Outcome {
    let region = ShmBox::anonymous(locks()).unwrap();
    let addr = &region.normal as *const SharedLocker<u64> as usize;
    // Joined explicitly (`pthread_join`): the thread has then exited for good, its key
    // destructor run and its stack given back. A scope's implicit join can return a little
    // before, and a thread still exiting leaves its stack mappings counted below.
    std::thread::scope(|s| {
        s.spawn(|| std::mem::forget(region.normal.lock().unwrap()))
            .join()
            .unwrap();
    });
    drop(region);
    assert!(
        mapped(addr),
        "the region of a dead thread's held robust mutex was unmapped"
    );
    // Thread churn: many more threads than hold records, each locking once. Each thread is
    // joined to the end of its exit (`pthread_join`): `thread::scope` returns once the
    // closures have returned, before the threads have run their key destructors (which free
    // their records) and given their stacks back, so the next thread may find neither free
    // and glibc maps a new stack (a few more mappings, on a loaded machine).
    let before = mappings();
    for _ in 0..2_000 {
        let region = std::sync::Arc::new(ShmBox::anonymous(locks()).unwrap());
        let theirs = std::sync::Arc::clone(&region);
        std::thread::spawn(move || use_every_lock(&theirs))
            .join()
            .unwrap();
    }
    let after = mappings();
    // A few mappings of slack: glibc keeps the stacks of exited threads (and their guard
    // pages) in a cache, and now and then one more. 2 000 regions kept would be 2 000.
    assert!(
        after <= before + 16,
        "records of exited threads were not reused: {before} mappings before, {after} after"
    );
    Passed
}

/// While another thread holds a robust lock in one region (for the whole case), this thread's
/// regions are still unmapped at drop: a hold counts only for its own region.
fn a_lock_held_elsewhere_keeps_only_its_own_region() -> Outcome {
    let held = ShmBox::anonymous(locks()).unwrap();
    let (locked_tx, locked_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    std::thread::scope(|s| {
        let held = &held;
        s.spawn(move || {
            let guard = held.normal.lock().unwrap();
            locked_tx.send(()).unwrap();
            done_rx.recv().unwrap();
            drop(guard);
        });
        locked_rx.recv().unwrap();
        let before = mappings();
        for _ in 0..10_000 {
            let region = ShmBox::anonymous(locks()).unwrap();
            use_every_lock(&region);
        }
        assert!(mappings() <= before + 2);
        done_tx.send(()).unwrap();
    });
    let addr = &*held as *const Locks as usize;
    drop(held);
    assert!(!mapped(addr), "released everywhere, yet kept mapped");
    Passed
}

/// A thread holding robust locks in more regions at once than its record has entries pins
/// the extra ones for good (as before the records existed); the others are unmapped.
fn more_regions_held_at_once_than_entries() -> Outcome {
    // On a fresh thread: its record's entries are all free (this one's may count the guard an
    // earlier case leaked).
    std::thread::spawn(more_regions_held_at_once)
        .join()
        .unwrap();
    Passed
}

fn more_regions_held_at_once() {
    const REGIONS: usize = 8;
    let regions: Vec<_> = (0..REGIONS)
        .map(|_| ShmBox::anonymous(locks()).unwrap())
        .collect();
    let addrs: Vec<usize> = regions
        .iter()
        .map(|r| &**r as *const Locks as usize)
        .collect();
    {
        let guards: Vec<_> = regions.iter().map(|r| r.normal.lock().unwrap()).collect();
        drop(guards);
    }
    drop(regions);
    let kept = addrs.iter().filter(|&&a| mapped(a)).count();
    assert!(kept < REGIONS, "every region was kept");
    assert!(
        kept <= REGIONS - 4,
        "{kept} of {REGIONS} kept: fewer entries than documented"
    );
}

/// One named region mapped twice in this process: a recursive lock taken through one
/// mapping, then again through the other, is on this thread's robust list at its address in
/// the first; once that guard is dropped the count of the first mapping's region is 0, yet
/// its drop must keep it mapped (the lock is still held, through the other). Either order.
/// Regions of one object with nothing held are unmapped as usual.
fn a_recursive_lock_held_through_two_mappings_keeps_both_mapped() -> Outcome {
    let name = format!("/pthread-sync-regions-twice-{}", std::process::id());
    let _ = shm::unlink(&name);
    // `first` is the mapping the lock is taken through first, and dropped first.
    let held_through_both = |first: ShmBox<Locks>, second: ShmBox<Locks>| {
        let addr = &first.recursive as *const _ as usize;
        assert_ne!(addr, &second.recursive as *const _ as usize);
        let outer = first.recursive.lock().unwrap();
        let inner = second.recursive.lock().unwrap();
        inner.fetch_add(1, Relaxed);
        // The first guard goes first: the lock stays held, through the second mapping.
        drop(outer);
        drop(first);
        assert!(mapped(addr), "the mapping on the robust list was unmapped");
        drop(inner);
    };
    for created_first in [true, false] {
        let a = ShmBox::create(&name, 0o600, locks()).unwrap();
        let b = ShmBox::<Locks>::open(&name);
        shm::unlink(&name).unwrap();
        let b = b.unwrap();
        if created_first {
            held_through_both(a, b);
        } else {
            held_through_both(b, a);
        }
    }
    // Nothing held: both mappings of one object unmapped.
    let a = ShmBox::create(&name, 0o600, locks()).unwrap();
    let b = ShmBox::<Locks>::open(&name);
    shm::unlink(&name).unwrap();
    let b = b.unwrap();
    use_every_lock(&a);
    use_every_lock(&b);
    let (addr_a, addr_b) = (&*a as *const Locks as usize, &*b as *const Locks as usize);
    drop((a, b));
    assert!(!mapped(addr_a) && !mapped(addr_b), "kept with nothing held");
    Passed
}

/// One named region mapped twice: a normal and an errorcheck lock held through one mapping
/// (live guards, not leaked) let the other be unmapped at its drop (neither can be on the
/// robust list at an address in it: relocked through it, one waits and the other is
/// refused), and the holding one is unmapped once they are released.
fn a_lock_held_through_one_mapping_lets_the_other_go() -> Outcome {
    let name = format!("/pthread-sync-regions-other-{}", std::process::id());
    let _ = shm::unlink(&name);
    let a = ShmBox::create(&name, 0o600, locks()).unwrap();
    let b = ShmBox::<Locks>::open(&name);
    shm::unlink(&name).unwrap();
    let b = b.unwrap();
    use_every_lock(&a);
    let (addr_a, addr_b) = (&*a as *const Locks as usize, &*b as *const Locks as usize);
    let normal = b.normal.lock().unwrap();
    let errorcheck = b.errorcheck.lock().unwrap();
    drop(a);
    assert!(
        !mapped(addr_a),
        "kept for locks held through another mapping"
    );
    drop((normal, errorcheck));
    drop(b);
    assert!(!mapped(addr_b), "kept with nothing held");
    Passed
}

/// The primitives through two mappings of one region: a condvar waited on through one is
/// woken through the other, an errorcheck lock held through one is `Deadlock` through the
/// other, a recursive one counts both.
fn the_primitives_work_through_either_mapping() -> Outcome {
    let name = format!("/pthread-sync-regions-either-{}", std::process::id());
    let _ = shm::unlink(&name);
    let a = ShmBox::create(&name, 0o600, locks()).unwrap();
    let b = ShmBox::<Locks>::open(&name);
    shm::unlink(&name).unwrap();
    let b = b.unwrap();
    let bound = std::time::Duration::from_secs(10);
    let started = std::time::Instant::now();
    std::thread::scope(|s| {
        let waiter = s.spawn(|| {
            let (guard, waited) = b
                .cond
                .wait_timeout_while(b.normal.lock().unwrap(), bound, |n| *n == 0)
                .unwrap();
            (*guard, waited.timed_out())
        });
        std::thread::sleep(std::time::Duration::from_millis(20));
        *a.normal.lock().unwrap() = 1;
        a.cond.notify_all();
        assert_eq!(waiter.join().unwrap(), (1, false));
    });
    assert!(started.elapsed() < bound / 2, "woken, not timed out");
    let held = a.errorcheck.lock().unwrap();
    assert_eq!(
        b.errorcheck.lock().map(|_| ()).map_err(|e| e.error()),
        Err(Some(pthread_sync::Error::Deadlock))
    );
    drop(held);
    let outer = a.recursive.lock().unwrap();
    let inner = b.recursive.lock().unwrap();
    drop((outer, inner));
    std::thread::scope(|s| {
        s.spawn(|| assert!(b.recursive.try_lock().is_ok(), "released once per lock"))
            .join()
            .unwrap();
    });
    Passed
}

/// The region a signal handler's shared lock lands in, and whether the handler ran.
static HANDLER_REGION: std::sync::atomic::AtomicPtr<ShmBox<SharedLocker<u64>>> =
    std::sync::atomic::AtomicPtr::new(std::ptr::null_mut());
static HANDLER_RAN: AtomicU64 = AtomicU64::new(0);

extern "C" fn lock_in_handler(_: libc::c_int) {
    // SAFETY: set to a leaked region before the signal is sent, never freed.
    let region = unsafe { &*HANDLER_REGION.load(std::sync::atomic::Ordering::Acquire) };
    if let Ok(mut g) = region.lock() {
        *g += 1;
    }
    HANDLER_RAN.fetch_add(1, Relaxed);
}

/// A thread blocked in a shared lock of region A takes a signal whose handler locks (and
/// unlocks) a shared lock of region B, which the thread never used; the thread then gets A
/// and leaks the guard: A stays mapped at its drop. (Found by a review: with the hold counted
/// only after the acquisition, the entry found for A counted 0 during the wait, the handler's
/// lock took it over for B, and A was unmapped while its mutex was on the robust list; the
/// thread's next robust lock then wrote into the unmapped page.) Locking in a signal handler
/// is outside the crate's async-signal-safe calls; the table must not come apart anyway.
fn a_signal_handlers_lock_during_a_blocking_lock_keeps_the_count() -> Outcome {
    let b: &'static ShmBox<SharedLocker<u64>> = Box::leak(Box::new(
        ShmBox::anonymous(SharedLocker::new(0u64)).unwrap(),
    ));
    HANDLER_REGION.store(
        b as *const ShmBox<SharedLocker<u64>> as *mut _,
        std::sync::atomic::Ordering::Release,
    );
    // SAFETY: a handler that only takes and releases a lock of the crate's and counts.
    let old = unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = lock_in_handler as *const () as usize;
        sa.sa_flags = libc::SA_RESTART;
        let mut old: libc::sigaction = std::mem::zeroed();
        assert_eq!(libc::sigaction(libc::SIGUSR1, &sa, &mut old), 0);
        old
    };
    let a = ShmBox::anonymous(SharedLocker::new(0u64)).unwrap();
    let addr = &*a as *const SharedLocker<u64> as usize;
    // SAFETY: a plain call.
    let me = unsafe { libc::pthread_self() } as usize;
    std::thread::scope(|s| {
        let (held, holding) = mpsc::channel();
        let a = &a;
        s.spawn(move || {
            let g = a.lock().unwrap();
            held.send(()).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(400));
            drop(g);
        });
        holding.recv().unwrap();
        s.spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(100));
            // SAFETY: this process's thread that runs the case, alive (blocked below).
            unsafe { libc::pthread_kill(me as libc::pthread_t, libc::SIGUSR1) };
        });
        // Blocks until the holder lets go; the handler runs meanwhile.
        std::mem::forget(a.lock().unwrap());
    });
    // SAFETY: the handler this case replaced, put back.
    unsafe { libc::sigaction(libc::SIGUSR1, &old, std::ptr::null_mut()) };
    assert_eq!(HANDLER_RAN.load(Relaxed), 1, "the handler ran once");
    drop(a);
    assert!(
        mapped(addr),
        "region A unmapped while its robust mutex is on this thread's robust list"
    );
    // The thread's robust list still runs through A: another robust lock works.
    *b.lock().unwrap() += 1;
    assert_eq!(*b.lock().unwrap(), 2);
    Passed
}

fn main() {
    let cases: &[Case] = &[
        ("dropped_regions_are_unmapped", dropped_regions_are_unmapped),
        (
            "a_leaked_guard_keeps_its_region_mapped",
            a_leaked_guard_keeps_its_region_mapped,
        ),
        (
            "force_unlock_releases_the_hold",
            force_unlock_releases_the_hold,
        ),
        (
            "a_leaked_guard_of_an_exited_thread_keeps_its_region_mapped",
            a_leaked_guard_of_an_exited_thread_keeps_its_region_mapped,
        ),
        (
            "a_lock_held_elsewhere_keeps_only_its_own_region",
            a_lock_held_elsewhere_keeps_only_its_own_region,
        ),
        (
            "more_regions_held_at_once_than_entries",
            more_regions_held_at_once_than_entries,
        ),
        (
            "a_recursive_lock_held_through_two_mappings_keeps_both_mapped",
            a_recursive_lock_held_through_two_mappings_keeps_both_mapped,
        ),
        (
            "a_lock_held_through_one_mapping_lets_the_other_go",
            a_lock_held_through_one_mapping_lets_the_other_go,
        ),
        (
            "the_primitives_work_through_either_mapping",
            the_primitives_work_through_either_mapping,
        ),
        (
            "a_signal_handlers_lock_during_a_blocking_lock_keeps_the_count",
            a_signal_handlers_lock_during_a_blocking_lock_keeps_the_count,
        ),
    ];
    support::run(cases);
}
