//! Lock-order checking (`pthread_sync::lock_order`): inversions reported the first time they
//! are taken, before the thread blocks, and never a report for an order that cannot
//! deadlock. The mode is process-wide, so the cases run one by one (`harness = false`); the
//! abort mode runs in a forked child.
//!
//! No case ever deadlocks: the threads of an inverted order run one after the other, so the
//! inversion is taken on a run where the timing cannot make it hang, which is the point.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Mutex as StdMutex;
use std::thread;
use std::time::Duration;

use pthread_sync::lock_order::{self, Mode, Report};
use pthread_sync::shm::ShmBox;
use pthread_sync::{
    Cond, ErrorCheckLocker, Locker, PiLocker, RecursiveLocker, RwLock, SharedLocker, SharedRwLock,
};
use support::{fork_child, Case, Outcome, Rng};

/// A report as the cases look at it: per edge, (held, acquired) as names (or addresses),
/// and whether the edge had its sites and a stack.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    edges: Vec<(String, String)>,
    sites_in_this_file: bool,
    new_edge_has_stack: bool,
    /// The new edge's (held, acquired) creation sites, as (file, line).
    created: (Option<At>, Option<At>),
    text: String,
}

/// A source site as (file, line).
type At = (String, u32);

static REPORTS: StdMutex<Vec<Seen>> = StdMutex::new(Vec::new());
static HOOK_CALLS: AtomicUsize = AtomicUsize::new(0);

fn who(l: &lock_order::LockInfo) -> String {
    l.name()
        .map_or_else(|| format!("{:#x}", l.address()), str::to_string)
}

fn hook(report: &Report) {
    HOOK_CALLS.fetch_add(1, Relaxed);
    let edges = report
        .edges()
        .iter()
        .map(|e| (who(e.held()), who(e.acquired())))
        .collect();
    let sites_in_this_file = report.edges().iter().all(|e| {
        e.acquired_at()
            .is_some_and(|l| l.file().ends_with("lock_order.rs"))
            && e.held_at()
                .is_some_and(|l| l.file().ends_with("lock_order.rs"))
    });
    let text = report.to_string();
    assert!(text.contains("potential deadlock"), "{text}");
    let line = |l: &lock_order::LockInfo| l.created().map(|c| (c.file().to_string(), c.line()));
    let new = &report.edges()[0];
    REPORTS.lock().unwrap().push(Seen {
        edges,
        sites_in_this_file,
        new_edge_has_stack: !new.frames().is_empty(),
        created: (line(new.held()), line(new.acquired())),
        text,
    });
}

/// Runs `f` with checking on (reports to `hook`), then off; the reports it made.
fn checked(f: impl FnOnce()) -> Vec<Seen> {
    REPORTS.lock().unwrap().clear();
    lock_order::set_hook(Some(hook));
    lock_order::set_mode(Mode::Report);
    f();
    lock_order::set_mode(Mode::Off);
    lock_order::set_hook(None);
    std::mem::take(&mut *REPORTS.lock().unwrap())
}

fn pair(a: &str, b: &str) -> (String, String) {
    (a.to_string(), b.to_string())
}

fn two_lock_cycle_across_threads() -> Outcome {
    let a = Locker::new(0);
    let b = Locker::new(0);
    lock_order::name(&a, "A");
    lock_order::name(&b, "B");
    let reports = checked(|| {
        thread::scope(|s| {
            s.spawn(|| {
                let _a = a.lock().unwrap();
                let _b = b.lock().unwrap();
            })
            .join()
            .unwrap();
            s.spawn(|| {
                let _b = b.lock().unwrap();
                let _a = a.lock().unwrap(); // closes A -> B -> A: reported before it waits
            })
            .join()
            .unwrap();
            // The same inversion again: reported once only.
            s.spawn(|| {
                let _b = b.lock().unwrap();
                let _a = a.lock().unwrap();
            })
            .join()
            .unwrap();
        });
    });
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].edges, vec![pair("B", "A"), pair("A", "B")]);
    assert!(reports[0].sites_in_this_file, "{reports:?}");
    assert!(reports[0].new_edge_has_stack, "{reports:?}");
    Outcome::Passed
}

fn three_lock_cycle_across_three_threads() -> Outcome {
    let locks = [Locker::new(()), Locker::new(()), Locker::new(())];
    for (l, n) in locks.iter().zip(["A", "B", "C"]) {
        lock_order::name(l, n);
    }
    let reports = checked(|| {
        for (first, second) in [(0, 1), (1, 2), (2, 0)] {
            let locks = &locks;
            thread::scope(|s| {
                s.spawn(move || {
                    let _x = locks[first].lock().unwrap();
                    let _y = locks[second].lock().unwrap();
                });
            });
        }
    });
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(
        reports[0].edges,
        vec![pair("C", "A"), pair("A", "B"), pair("B", "C")]
    );
    Outcome::Passed
}

fn every_kind_and_the_timed_lock_make_edges() -> Outcome {
    let e = ErrorCheckLocker::new(());
    let r = RecursiveLocker::new(());
    let w = RwLock::new(());
    lock_order::name(&e, "errorcheck");
    lock_order::name(&r, "recursive");
    lock_order::name(&w, "rwlock");
    let reports = checked(|| {
        {
            let _e = e.lock().unwrap();
            let _r = r.lock_timeout(Duration::from_secs(1)).unwrap();
            let _w = w.read().unwrap();
        }
        {
            let _w = w.write().unwrap();
            let _e = e.lock_timeout(Duration::from_secs(1)).unwrap(); // rwlock -> errorcheck
        }
    });
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].edges[0], pair("rwlock", "errorcheck"));
    Outcome::Passed
}

fn read_locks_are_edges() -> Outcome {
    let a = RwLock::new(());
    let b = RwLock::new(());
    lock_order::name(&a, "A");
    lock_order::name(&b, "B");
    let reports = checked(|| {
        thread::scope(|s| {
            s.spawn(|| {
                let _a = a.read().unwrap();
                let _b = b.read().unwrap();
            })
            .join()
            .unwrap();
            s.spawn(|| {
                let _b = b.read().unwrap();
                let _a = a.read_timeout(Duration::from_secs(1)).unwrap();
            })
            .join()
            .unwrap();
        });
    });
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].edges, vec![pair("B", "A"), pair("A", "B")]);
    Outcome::Passed
}

fn a_cycle_through_a_condvar_wait() -> Outcome {
    // The wait releases M while B (taken after M) stays held, then retakes M: B -> M, which
    // closes M -> B. (A notifier needing B would deadlock with it.)
    let m = Locker::new(false);
    let b = Locker::new(());
    let c = Cond::new();
    lock_order::name(&m, "M");
    lock_order::name(&b, "B");
    let reports = checked(|| {
        let g = m.lock().unwrap();
        let _b = b.lock().unwrap();
        let (g, _) = c.wait_timeout(g, Duration::from_millis(5)).unwrap();
        drop(g);
    });
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].edges, vec![pair("B", "M"), pair("M", "B")]);

    // A wait with nothing else held is no inversion.
    let reports = checked(|| {
        let g = m.lock().unwrap();
        let (g, _) = c.wait_timeout(g, Duration::from_millis(1)).unwrap();
        drop(g);
    });
    assert!(reports.is_empty(), "{reports:?}");
    Outcome::Passed
}

fn no_report_for_consistent_orders() -> Outcome {
    let locks: Vec<Locker<u64>> = (0..4).map(Locker::new).collect();
    let reports = checked(|| {
        thread::scope(|s| {
            for t in 0..4 {
                let locks = &locks;
                s.spawn(move || {
                    for i in 0..2000 {
                        // Any subset, always in index order.
                        let mask = (i + t) % 16;
                        let guards: Vec<_> = (0..4)
                            .filter(|k| mask & (1 << k) != 0)
                            .map(|k| locks[k].lock().unwrap())
                            .collect();
                        drop(guards);
                    }
                });
            }
        });
    });
    assert!(reports.is_empty(), "{reports:?}");
    Outcome::Passed
}

fn no_report_for_try_lock_orders() -> Outcome {
    let a = Locker::new(());
    let b = Locker::new(());
    let reports = checked(|| {
        thread::scope(|s| {
            s.spawn(|| {
                let _a = a.lock().unwrap();
                let _b = b.try_lock().unwrap();
            })
            .join()
            .unwrap();
            s.spawn(|| {
                let _b = b.lock().unwrap();
                let _a = a.try_lock().unwrap(); // cannot wait: no edge
            })
            .join()
            .unwrap();
        });
    });
    assert!(reports.is_empty(), "{reports:?}");
    // But a try-locked lock is held: what is taken after it gets an edge from it.
    let c = Locker::new(());
    lock_order::name(&a, "A");
    lock_order::name(&c, "C");
    let reports = checked(|| {
        {
            let _a = a.try_lock().unwrap();
            let _c = c.lock().unwrap(); // A -> C
        }
        let _c = c.lock().unwrap();
        let _a = a.lock().unwrap(); // C -> A
    });
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].edges, vec![pair("C", "A"), pair("A", "C")]);
    Outcome::Passed
}

fn no_report_for_recursive_reentry() -> Outcome {
    let r = RecursiveLocker::new(());
    let a = Locker::new(());
    let w = RwLock::new(());
    let reports = checked(|| {
        let _r1 = r.lock();
        let _w1 = w.read().unwrap();
        let _a = a.lock().unwrap();
        let _r2 = r.lock(); // re-entry, not A -> R
        let _w2 = w.read().unwrap(); // a second read of a lock this thread reads
    });
    assert!(reports.is_empty(), "{reports:?}");
    // The records balance: after those guards, the order R -> A is the only one known.
    let reports = checked(|| {
        let _r = r.lock();
        let _a = a.lock().unwrap();
    });
    assert!(reports.is_empty(), "{reports:?}");
    Outcome::Passed
}

fn no_stale_edge_after_a_lock_is_dropped_and_another_takes_its_address() -> Outcome {
    let b = Locker::new(());
    let mut place: Box<Option<Locker<()>>> = Box::new(Some(Locker::new(())));
    let addr = |p: &Option<Locker<()>>| p.as_ref().unwrap() as *const Locker<()> as usize;
    let first = addr(&place);
    let reports = checked(|| {
        {
            let _a = (*place).as_ref().unwrap().lock().unwrap();
            let _b = b.lock().unwrap(); // old A -> B
        }
        *place = None; // dropped in place: leaves the graph
        assert!(place.is_none());
        *place = Some(Locker::new(())); // another lock, same address
        assert_eq!(addr(&place), first);
        let _b = b.lock().unwrap();
        let _a = (*place).as_ref().unwrap().lock().unwrap(); // B -> new A: no cycle
    });
    assert!(reports.is_empty(), "{reports:?}");

    // The same for an RwLock, and for locks in a shared region (unmapped, then a new region
    // mapped at the same address).
    let reports = checked(|| {
        let mut place: Box<Option<RwLock<()>>> = Box::new(Some(RwLock::new(())));
        {
            let _a = (*place).as_ref().unwrap().write().unwrap();
            let _b = b.lock().unwrap();
        }
        *place = None;
        assert!(place.is_none());
        *place = Some(RwLock::new(()));
        let _b = b.lock().unwrap();
        let _a = (*place).as_ref().unwrap().write().unwrap();
    });
    assert!(reports.is_empty(), "{reports:?}");

    let reports = checked(|| {
        let region = ShmBox::anonymous(SharedLocker::new(0u32)).unwrap();
        let at = &*region as *const SharedLocker<u32> as usize;
        {
            let _a = region.lock().unwrap();
            let _b = b.lock().unwrap();
        }
        drop(region);
        let region = ShmBox::anonymous(SharedLocker::new(0u32)).unwrap();
        let again = &*region as *const SharedLocker<u32> as usize;
        let _b = b.lock().unwrap();
        let _a = region.lock().unwrap();
        if again != at {
            eprintln!("note: the second region is not at the first one's address");
        }
    });
    assert!(reports.is_empty(), "{reports:?}");
    Outcome::Passed
}

fn shared_locks_are_checked_in_the_process() -> Outcome {
    let a = ShmBox::anonymous(SharedLocker::new(0u32)).unwrap();
    let b = ShmBox::anonymous(SharedRwLock::new(0u32)).unwrap();
    lock_order::name(&*a, "shared A");
    lock_order::name(&*b, "shared rw B");
    let reports = checked(|| {
        {
            let _a = a.lock().unwrap();
            let _b = b.write().map_err(|_| ()).unwrap();
        }
        let _b = b.read().map_err(|_| ()).unwrap();
        let _a = a.lock_timeout(Duration::from_secs(1)).unwrap();
    });
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(
        reports[0].edges,
        vec![
            pair("shared rw B", "shared A"),
            pair("shared A", "shared rw B")
        ]
    );
    Outcome::Passed
}

fn many_threads_and_locks_without_false_reports() -> Outcome {
    // 64 locks, 8 threads, each taking random ascending chains; locks dropped and made again
    // between rounds (new addresses or reused ones).
    let reports = checked(|| {
        for round in 0..4 {
            let locks: Vec<Locker<u64>> = (0..64).map(Locker::new).collect();
            thread::scope(|s| {
                for t in 0..8 {
                    let locks = &locks;
                    s.spawn(move || {
                        let mut rng = Rng::new(&format!("many {round} {t}"));
                        for _ in 0..500 {
                            let mut k = rng.below(64) as usize;
                            let mut guards = Vec::new();
                            while k < 64 && guards.len() < 6 {
                                guards.push(locks[k].lock().unwrap());
                                k += 1 + rng.below(16) as usize;
                            }
                            drop(guards);
                        }
                    });
                }
            });
        }
    });
    assert!(reports.is_empty(), "{} reports: {reports:?}", reports.len());
    Outcome::Passed
}

fn the_default_report_goes_to_stderr_and_abort_mode_aborts() -> Outcome {
    // In a child: abort mode, no hook; the inversion aborts it (SIGABRT) after the report.
    let child = fork_child(|| {
        // No core file for the expected abort.
        let none = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: a valid rlimit for the call to read.
        unsafe { libc::setrlimit(libc::RLIMIT_CORE, &none) };
        let a = Locker::new(());
        let b = Locker::new(());
        lock_order::set_hook(None);
        lock_order::set_mode(Mode::Abort);
        {
            let _a = a.lock().unwrap();
            let _b = b.lock().unwrap();
        }
        let _b = b.lock().unwrap();
        let _a = a.lock().unwrap(); // aborts here
        0
    });
    let status = child.wait_status();
    assert!(
        libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGABRT,
        "status {status:#x}"
    );
    // And the order taken the other way round in a child of its own exits normally.
    let child = fork_child(|| {
        let a = Locker::new(());
        let b = Locker::new(());
        lock_order::set_mode(Mode::Abort);
        for _ in 0..3 {
            let _a = a.lock().unwrap();
            let _b = b.lock().unwrap();
        }
        0
    });
    assert_eq!(child.wait(), 0);
    Outcome::Passed
}

fn a_hook_that_panics() -> Outcome {
    let a = Locker::new(());
    let b = Locker::new(());
    let c = Locker::new(());
    lock_order::set_mode(Mode::Report);
    lock_order::set_hook(Some(|_| panic!("hook")));
    {
        let _a = a.lock().unwrap();
        let _b = b.lock().unwrap();
    }
    let inverted = std::panic::catch_unwind(|| {
        let _b = b.lock().unwrap();
        let _a = a.lock().unwrap(); // the hook panics: not acquired
    });
    assert!(inverted.is_err());
    assert!(a.try_lock().is_ok(), "a was left locked");
    // The thread's checking goes on.
    let reports = checked(|| {
        {
            let _a = a.lock().unwrap();
            let _c = c.lock().unwrap();
        }
        let _c = c.lock().unwrap();
        let _a = a.lock().unwrap();
    });
    assert_eq!(reports.len(), 1, "{reports:?}");
    Outcome::Passed
}

/// The child of `the_environment_variable_switches_it_on`: checking was switched on by
/// `PTHREAD_SYNC_LOCK_ORDER=report`, read at the first lock operation; the inversion goes to
/// standard error (no hook).
fn env_child() -> i32 {
    let a = Locker::new(());
    let b = Locker::new(());
    {
        let _a = a.lock().unwrap();
        let _b = b.lock().unwrap();
    }
    let mode = lock_order::mode();
    let _b = b.lock().unwrap();
    let _a = a.lock().unwrap(); // reported on stderr
    if mode == Mode::Report {
        0
    } else {
        1
    }
}

const ENV_CHILD: &str = "--lock-order-env-child";

fn the_environment_variable_switches_it_on() -> Outcome {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .arg(ENV_CHILD)
        .env("PTHREAD_SYNC_LOCK_ORDER", "report")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    assert_eq!(stderr.matches("potential deadlock").count(), 1, "{stderr}");
    assert!(stderr.contains("tests/lock_order.rs"), "{stderr}");
    assert!(stderr.contains("stack of the new edge"), "{stderr}");
    // Unset (or `off`), nothing is checked.
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .arg(ENV_CHILD)
        .env("PTHREAD_SYNC_LOCK_ORDER", "off")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "checking was on");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("potential deadlock"));
    Outcome::Passed
}

/// `a -> b`, then `b -> a` (reported), on this thread.
macro_rules! invert {
    ($a:expr, $b:expr) => {
        checked(|| {
            {
                let _a = $a;
                let _b = $b;
            }
            let _b = $b;
            let _a = $a;
        })
    };
}

fn here(line: u32) -> Option<At> {
    Some((file!().to_string(), line))
}

static STATIC: (Locker<u32>, u32) = (Locker::new(0), line!());

/// A report names both locks of a cycle by where they were created: `new` (a `static`'s
/// too), `Default::default`, `From::from`, for the lockers and `RwLock`.
fn a_report_names_both_creation_sites() -> Outcome {
    let (a, line_a) = (Locker::new(0), line!());
    let (w, line_w) = (RwLock::new(0), line!());
    let reports = invert!(a.lock().unwrap(), w.write().unwrap());
    assert_eq!(reports.len(), 1, "{reports:?}");
    // The new edge: `a` acquired while `w` is held.
    assert_eq!(
        reports[0].created,
        (here(line_w), here(line_a)),
        "{reports:?}"
    );
    let text = &reports[0].text;
    for line in [line_a, line_w] {
        let created = format!("(created at {}:{line}:", file!());
        assert!(text.contains(&created), "{created} not in {text}");
    }

    let (s, line_s) = (&STATIC.0, STATIC.1);
    let (r, line_r) = (RwLock::from(0), line!());
    let reports = invert!(s.lock().unwrap(), r.read().unwrap());
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(
        reports[0].created,
        (here(line_r), here(line_s)),
        "{reports:?}"
    );

    let (d, line_d) = (RecursiveLocker::<u8>::default(), line!());
    let (e, line_e) = (ErrorCheckLocker::from(0), line!());
    let (p, line_p) = (PiLocker::new(0), line!());
    let reports = invert!(d.lock(), e.lock().unwrap());
    assert_eq!(
        reports[0].created,
        (here(line_e), here(line_d)),
        "{reports:?}"
    );
    let (q, line_q) = (RwLock::<u8>::default(), line!());
    let reports = invert!(p.lock().unwrap(), q.read().unwrap());
    assert_eq!(
        reports[0].created,
        (here(line_q), here(line_p)),
        "{reports:?}"
    );
    Outcome::Passed
}

/// A named lock prints its name, where it was named and where it was created.
fn a_named_lock_prints_name_and_creation_site() -> Outcome {
    let (a, line_a) = (Locker::new(0), line!());
    let b = Locker::new(0);
    let line_n = line!() + 1;
    lock_order::name(&a, "accounts");
    let reports = invert!(a.lock().unwrap(), b.lock().unwrap());
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].created.1, here(line_a));
    let text = &reports[0].text;
    let expected = format!(
        "lock \"accounts\" ({:#x}, named at {f}:{line_n}:",
        &a as *const _ as usize,
        f = file!()
    );
    assert!(text.contains(&expected), "{expected} not in {text}");
    let created = format!(", created at {}:{line_a}:", file!());
    assert!(text.contains(&created), "{created} not in {text}");
    Outcome::Passed
}

/// A shared lock keeps no creation site (its bytes are laid out for C): it is named by the
/// site of its first nested acquisition.
fn shared_locks_print_their_first_nested_site() -> Outcome {
    let a = ShmBox::anonymous(SharedLocker::new(0u32)).unwrap();
    let b = ShmBox::anonymous(SharedRwLock::new(0u32)).unwrap();
    let reports = invert!(a.lock().unwrap(), b.write().map_err(|_| ()).unwrap());
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].created, (None, None), "{reports:?}");
    let text = &reports[0].text;
    assert!(!text.contains("created at"), "{text}");
    let first = format!("(first taken nested at {}:", file!());
    assert_eq!(text.matches(&first).count(), 4, "{text}");
    Outcome::Passed
}

fn main() {
    if std::env::args().any(|a| a == ENV_CHILD) {
        std::process::exit(env_child());
    }
    let cases: &[Case] = &[
        (
            "a_report_names_both_creation_sites",
            a_report_names_both_creation_sites,
        ),
        (
            "a_named_lock_prints_name_and_creation_site",
            a_named_lock_prints_name_and_creation_site,
        ),
        (
            "shared_locks_print_their_first_nested_site",
            shared_locks_print_their_first_nested_site,
        ),
        (
            "two_lock_cycle_across_threads",
            two_lock_cycle_across_threads,
        ),
        (
            "three_lock_cycle_across_three_threads",
            three_lock_cycle_across_three_threads,
        ),
        (
            "every_kind_and_the_timed_lock_make_edges",
            every_kind_and_the_timed_lock_make_edges,
        ),
        ("read_locks_are_edges", read_locks_are_edges),
        (
            "a_cycle_through_a_condvar_wait",
            a_cycle_through_a_condvar_wait,
        ),
        (
            "no_report_for_consistent_orders",
            no_report_for_consistent_orders,
        ),
        (
            "no_report_for_try_lock_orders",
            no_report_for_try_lock_orders,
        ),
        (
            "no_report_for_recursive_reentry",
            no_report_for_recursive_reentry,
        ),
        (
            "no_stale_edge_after_a_lock_is_dropped_and_another_takes_its_address",
            no_stale_edge_after_a_lock_is_dropped_and_another_takes_its_address,
        ),
        (
            "shared_locks_are_checked_in_the_process",
            shared_locks_are_checked_in_the_process,
        ),
        (
            "many_threads_and_locks_without_false_reports",
            many_threads_and_locks_without_false_reports,
        ),
        ("a_hook_that_panics", a_hook_that_panics),
        (
            "the_environment_variable_switches_it_on",
            the_environment_variable_switches_it_on,
        ),
        (
            "the_default_report_goes_to_stderr_and_abort_mode_aborts",
            the_default_report_goes_to_stderr_and_abort_mode_aborts,
        ),
    ];
    support::run(cases);
    assert_eq!(lock_order::mode(), Mode::Off);
    let _ = HOOK_CALLS.load(Relaxed);
}
