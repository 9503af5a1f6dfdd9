//! Contended throughput, interleaved: the contenders of `benches/contended.rs` run in turn in
//! one process, many short rounds, so that the slow drift of this shared VM (identical code
//! measured 0.91x and 2.1x parking_lot in two criterion runs, which time each contender in
//! one block) hits every contender alike, and every ratio is taken within one round.
//!
//! What is timed: `threads` threads share `n` increments of one lock-protected counter (thread
//! `i` does `common::share(n, threads, i)` of them): lock, increment, `common::work(extra)`,
//! unlock, the same `Counter::bump` as `benches/contended.rs`, inlined into each contender's
//! loop. The span runs from the first thread's start to the last thread's end, as in
//! `common::run_team`; the figure is that span divided by `n` (wall time per increment across
//! the team: throughput, not fairness; on this 2-vCPU VM 4 threads is throughput with long
//! time slices).
//!
//! Cases: {2, 4} threads x {short: the increment alone; long: plus `work(LONG_WORK)`, about
//! 100 ns}, and `long_2threads_1cpu`, both threads pinned to CPU 0 for the job (contention
//! that does not depend on the other CPU's load: see `Case::one_cpu`; every contender does
//! all its increments there). Contenders: this crate's `Locker<u64>`, `std::sync::Mutex<u64>`,
//! `parking_lot::Mutex<u64>`, a raw `pthread_mutex_t` NORMAL with plain `pthread_mutex_lock`
//! (`common::RawCounter<common::Normal>`), and, for comparison, glibc's own spinning mutex,
//! `PTHREAD_MUTEX_ADAPTIVE_NP` (`common::RawCounter<common::Adaptive>`); and the priority
//! inheritance pair, this crate's `PiLocker<u64>` and a raw `PTHREAD_PRIO_INHERIT` normal mutex
//! (`common::RawCounter<common::NormalPi>`), whose contended locks and unlocks are system calls
//! (`FUTEX_LOCK_PI`, `FUTEX_UNLOCK_PI`: the kernel hands the lock to the waiter it wakes), so
//! their jobs do a twentieth of the increments (`PI_DIVISOR`) and a line under each case gives
//! `PiLocker` over the raw PI mutex and over `Locker`. The raw ones keep the
//! `pthread_mutex_t` in a heap block of its own (`common::PMutex`), away from the counter; the
//! others keep lock word and counter in one cache line, as a user's `Mutex<u64>` does.
//!
//! How it runs: the process is multi-threaded before anything is timed (`common::multithreaded`).
//! One persistent team of 4 worker threads serves every case (a case of 2 threads uses workers
//! 0 and 1); between jobs the workers sleep on a condition variable, so an idle worker takes
//! no CPU. A job hands each participating worker a fresh counter (128-byte aligned, so it
//! shares no cache line with the team's bookkeeping); the participants meet at a spinning (yielding) barrier, then each notes
//! its start time, does its share, and notes its end time. Thread creation and the wake-up of
//! the team are outside the timed span. After each job the counter must read exactly `n`.
//!
//! A round runs every case; within a case every contender once, in an order that starts one
//! contender later each round (rotating), so no contender always follows the same one.
//! `WARMUP_ROUNDS` untimed rounds come first. Per case it prints, per contender, the median
//! ns/increment over the rounds (25th-75th percentiles), and the ratio of this crate to each
//! other contender: the median over rounds of the per-round ratio, with its 25th-75th
//! percentiles, and, for comparison, the ratio of the medians.
//!
//! Two things outside the code decide what a round measures on this VM, so each round also
//! records them and the ratios are given per kind of round as well:
//!
//! - **Disturbance**: the share of all CPUs' time that went to anything but this process
//!   during the round (from `/proc/stat`, minus this process's own `getrusage` time: other
//!   processes, the kernel's own work, steal). A round below `QUIET` is quiet. With a busy
//!   neighbour on one of the 2 vCPUs the scheduler often runs the lock users one after the
//!   other, every contender drops to about its uncontended cost (~10-12 ns/increment), and the
//!   ratios become ratios of uncontended costs.
//! - **Distance between the vCPUs**: a cache-line ping-pong between two threads pinned to CPU
//!   0 and CPU 1, `PROBE_TRIPS` round trips, before and after the round. The host moves the
//!   vCPUs: the round trip reads ~45 ns for minutes (presumably the two vCPUs then run on one
//!   physical core and share its caches), then ~350-400 ns for minutes. Moving a cache line
//!   costs about 8x more in the second state, and the contenders do not all suffer alike. A round is "near" when both probes read below
//!   `NEAR_NS`, "far" when both read above.
//!
//! Each case's table has the ratios over all rounds, over the quiet near rounds and over the
//! quiet far rounds (with how many of each there were).
//!
//! ```sh
//! CARGO_TARGET_DIR=target cargo bench --bench contended_calls                 # ~50 s
//! CARGO_TARGET_DIR=target cargo bench --bench contended_calls -- --rounds 30  # quicker
//! CARGO_TARGET_DIR=target cargo bench --bench contended_calls -- --scale 0.5  # shorter spans
//! ```

mod common;

use common::{median, quantile};

use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{Counter, RawCounter};

/// Steps of `common::work` in the long critical section (about 100 ns; the
/// `contended_calibration` group of `benches/contended.rs` measures it).
const LONG_WORK: u32 = 330;
/// Timed rounds.
const ROUNDS: usize = 100;
/// Untimed rounds first.
const WARMUP_ROUNDS: usize = 2;
/// Increments per job, short critical section (about 10-30 ms per job).
const SHORT_N: u64 = 1_000_000;
/// Increments per job, long critical section (about 12-30 ms per job).
const LONG_N: u64 = 120_000;
/// The team's size: the largest thread count of the cases.
const WORKERS: usize = 4;
/// A round is quiet when less than this share of the CPUs' time went to anything but this
/// process (other processes, the kernel's own work, steal).
const QUIET: f64 = 0.03;
/// Round trips of a cache line between CPU 0 and CPU 1 per probe (0.2-2 ms).
const PROBE_TRIPS: u64 = 5_000;
/// A probe below this (ns per round trip) says the vCPUs share a core's caches.
const NEAR_NS: f64 = 150.0;

/// One (thread count, critical section) pair.
#[derive(Clone, Copy)]
struct Case {
    name: &'static str,
    threads: usize,
    extra: u32,
    n: u64,
    /// The team's threads all on CPU 0 for the job (each pins itself before the start and
    /// goes back to its CPUs after): contention that does not depend on what else the host
    /// runs on the other CPU. A holder preempted in its critical section leaves its waiter
    /// to sleep; a PI lock then hands over through the kernel at every release that finds a
    /// waiter (`FUTEX_UNLOCK_PI` gives the lock to the woken waiter, and the releaser, relocking
    /// at once, sleeps in `FUTEX_LOCK_PI`), where a plain mutex lets the running thread take it
    /// again.
    one_cpu: bool,
}

const CASES: [Case; 5] = [
    Case {
        name: "short_2threads",
        threads: 2,
        extra: 0,
        n: SHORT_N,
        one_cpu: false,
    },
    Case {
        name: "short_4threads",
        threads: 4,
        extra: 0,
        n: SHORT_N,
        one_cpu: false,
    },
    Case {
        name: "long_2threads",
        threads: 2,
        extra: LONG_WORK,
        n: LONG_N,
        one_cpu: false,
    },
    Case {
        name: "long_4threads",
        threads: 4,
        extra: LONG_WORK,
        n: LONG_N,
        one_cpu: false,
    },
    Case {
        name: "long_2threads_1cpu",
        threads: 2,
        extra: LONG_WORK,
        n: LONG_N,
        one_cpu: true,
    },
];

// ---------------------------------------------------------------------------------------------
// Contenders
// ---------------------------------------------------------------------------------------------

/// A counter on cache lines of its own (no false sharing with the team's bookkeeping or with
/// the allocator's neighbours).
#[repr(align(128))]
struct Padded<C>(C);

/// A contender's counter as the team sees it.
trait Hammer: Send + Sync {
    /// `count` bumps with `extra` steps of work each.
    fn hammer(&self, count: u64, extra: u32);
    /// The counter's value, read under its lock.
    fn get(&self) -> u64;
}

impl<C: Counter> Hammer for Padded<C> {
    // One loop per contender, with its `bump` inlined (as in `benches/contended.rs`).
    #[inline(never)]
    fn hammer(&self, count: u64, extra: u32) {
        for _ in 0..count {
            self.0.bump(extra);
        }
    }

    fn get(&self) -> u64 {
        self.0.get()
    }
}

struct Contender {
    name: &'static str,
    /// A fresh counter, at zero.
    make: fn() -> Arc<dyn Hammer>,
    /// Its jobs do the case's increments divided by this (the PI mutexes hand the lock over
    /// through the kernel on every contended release, a few microseconds an increment: a
    /// full job would take seconds). The figure is per increment either way.
    divisor: u64,
}

impl Contender {
    /// The increments of its job in `case` (all of them on one CPU: each thread's share must
    /// outlast a time slice for the threads to meet at all).
    fn n(&self, case: &Case) -> u64 {
        let divisor = if case.one_cpu { 1 } else { self.divisor };
        (case.n / divisor).max(case.threads as u64)
    }
}

/// Pairs of contenders (by index) whose per-round ratio is printed under each case, besides
/// the ratios of this crate's `Locker` to the rest: the PI `PiLocker` against the raw PI
/// mutex (the same attributes), and against the plain `Locker` (what the protocol costs).
const PAIRS: [(usize, usize); 2] = [(5, 6), (5, 0)];

fn make<C: Counter + 'static>() -> Arc<dyn Hammer> {
    Arc::new(Padded(C::new()))
}

/// This crate first: the ratios are this crate over each of the others.
const CONTENDERS: [Contender; 7] = [
    Contender {
        name: "ours_Locker",
        make: make::<pthread_sync::Locker<u64>>,
        divisor: 1,
    },
    Contender {
        name: "parking_lot_Mutex",
        make: make::<parking_lot::Mutex<u64>>,
        divisor: 1,
    },
    Contender {
        name: "std_Mutex",
        make: make::<std::sync::Mutex<u64>>,
        divisor: 1,
    },
    Contender {
        name: "raw_pthread_normal",
        make: make::<RawCounter<common::Normal>>,
        divisor: 1,
    },
    Contender {
        name: "exp_raw_adaptive_np",
        make: make::<RawCounter<common::Adaptive>>,
        divisor: 1,
    },
    Contender {
        name: "ours_PiLocker",
        make: make::<pthread_sync::PiLocker<u64>>,
        divisor: PI_DIVISOR,
    },
    Contender {
        name: "raw_pthread_pi",
        make: make::<RawCounter<common::NormalPi>>,
        divisor: PI_DIVISOR,
    },
];

/// See [`Contender::divisor`].
const PI_DIVISOR: u64 = 20;

// ---------------------------------------------------------------------------------------------
// The team
// ---------------------------------------------------------------------------------------------

/// What one worker is asked to do.
#[derive(Clone)]
struct Job {
    counter: Arc<dyn Hammer>,
    one_cpu: bool,
    threads: usize,
    extra: u32,
    n: u64,
    /// Meeting point of the participants: each adds one, then waits for `threads`.
    arrived: Arc<Padded<std::sync::atomic::AtomicUsize>>,
}

/// A worker's mailbox: `Some(job)` to run, `None` to quit.
#[derive(Default)]
struct Mailbox {
    job: Option<Option<Job>>,
}

struct Worker {
    mailbox: Mutex<Mailbox>,
    wake: Condvar,
}

/// What the team reports back: each participant's (start, end).
struct Done {
    spans: Mutex<Vec<(usize, Instant, Instant)>>,
    all: Condvar,
}

struct Team {
    workers: Vec<Arc<Worker>>,
    done: Arc<Done>,
    handles: Vec<thread::JoinHandle<()>>,
}

impl Team {
    fn new() -> Team {
        let done = Arc::new(Done {
            spans: Mutex::new(Vec::with_capacity(WORKERS)),
            all: Condvar::new(),
        });
        let workers: Vec<Arc<Worker>> = (0..WORKERS)
            .map(|_| {
                Arc::new(Worker {
                    mailbox: Mutex::new(Mailbox::default()),
                    wake: Condvar::new(),
                })
            })
            .collect();
        let handles = workers
            .iter()
            .enumerate()
            .map(|(id, w)| {
                let (w, done) = (Arc::clone(w), Arc::clone(&done));
                thread::Builder::new()
                    .name(format!("worker{id}"))
                    .spawn(move || worker(id, &w, &done))
                    .expect("spawn worker")
            })
            .collect();
        Team {
            workers,
            done,
            handles,
        }
    }

    /// Runs `case` on a fresh counter of `contender`; returns the timed span.
    fn run(&self, contender: &Contender, case: &Case) -> Duration {
        let counter = (contender.make)();
        let job = Job {
            counter: Arc::clone(&counter),
            one_cpu: case.one_cpu,
            threads: case.threads,
            extra: case.extra,
            n: contender.n(case),
            arrived: Arc::new(Padded(std::sync::atomic::AtomicUsize::new(0))),
        };
        self.done.spans.lock().unwrap().clear();
        for w in &self.workers[..case.threads] {
            w.mailbox.lock().unwrap().job = Some(Some(job.clone()));
            w.wake.notify_one();
        }
        drop(job);
        let spans = self
            .done
            .all
            .wait_while(self.done.spans.lock().unwrap(), |s| s.len() < case.threads)
            .unwrap();
        let start = spans.iter().map(|s| s.1).min().expect("no spans");
        let end = spans.iter().map(|s| s.2).max().expect("no spans");
        let mut ids: Vec<usize> = spans.iter().map(|s| s.0).collect();
        ids.sort_unstable();
        assert_eq!(ids, (0..case.threads).collect::<Vec<_>>(), "team mix-up");
        drop(spans);
        assert_eq!(
            counter.get(),
            contender.n(case),
            "{} {}: lost increments",
            contender.name,
            case.name
        );
        end - start
    }
}

impl Drop for Team {
    fn drop(&mut self) {
        for w in &self.workers {
            w.mailbox.lock().unwrap().job = Some(None);
            w.wake.notify_one();
        }
        for h in self.handles.drain(..) {
            h.join().expect("worker panicked");
        }
    }
}

fn worker(id: usize, w: &Worker, done: &Done) {
    use std::sync::atomic::Ordering;
    loop {
        let job = {
            let mut mb = w
                .wake
                .wait_while(w.mailbox.lock().unwrap(), |m| m.job.is_none())
                .unwrap();
            mb.job.take().expect("a job")
        };
        let Some(job) = job else { return };
        let cpus = job.one_cpu.then(pin_to_cpu0);
        job.arrived.0.fetch_add(1, Ordering::AcqRel);
        while job.arrived.0.load(Ordering::Acquire) < job.threads {
            thread::yield_now();
        }
        let start = Instant::now();
        job.counter
            .hammer(common::share(job.n, job.threads, id), job.extra);
        let end = Instant::now();
        if let Some(cpus) = cpus {
            // SAFETY: `cpus` is the valid set this thread had before the job.
            unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &cpus) };
        }
        drop(job.counter);
        let mut spans = done.spans.lock().unwrap();
        spans.push((id, start, end));
        if spans.len() == job.threads {
            done.all.notify_one();
        }
    }
}

/// Pins the calling thread to CPU 0; the set it had.
fn pin_to_cpu0() -> libc::cpu_set_t {
    let size = std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: zeroed `cpu_set_t`s are valid; both calls get a set of `size` bytes and 0 (this
    // thread); CPU 0 always exists.
    unsafe {
        let mut old: libc::cpu_set_t = std::mem::zeroed();
        assert_eq!(libc::sched_getaffinity(0, size, &mut old), 0);
        let mut one: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(0, &mut one);
        assert_eq!(libc::sched_setaffinity(0, size, &one), 0);
        old
    }
}

// ---------------------------------------------------------------------------------------------
// Statistics and the tables
// ---------------------------------------------------------------------------------------------

/// `median [p25-p75]` of `xs`, with `digits` decimals.
fn spread(xs: &[f64], digits: usize) -> String {
    format!(
        "{:.digits$} [{:.digits$}-{:.digits$}]",
        median(xs),
        quantile(xs, 0.25),
        quantile(xs, 0.75)
    )
}

/// What a timed round was, as far as the machine goes (see the module docs).
#[derive(Clone, Copy, PartialEq, Eq)]
enum RoundKind {
    QuietNear,
    QuietFar,
    /// Disturbed, the probe changed during the round, or something could not be measured.
    Other,
}

/// `ns[k]`: ns/increment of contender `k`, one value per round; `kinds[r]`: what round `r` was.
fn print_case(case: &Case, ns: &[Vec<f64>], kinds: &[RoundKind]) {
    let count = |kind| kinds.iter().filter(|&&k| k == kind).count();
    let (near, far) = (count(RoundKind::QuietNear), count(RoundKind::QuietFar));
    println!(
        "{} ({} threads, {} increments per job, work({}) each):",
        case.name, case.threads, case.n, case.extra
    );
    println!(
        "  {:<20} {:>24}  {:>27}  {:>7}  {:>27}  {:>27}",
        "contender",
        "ns/inc: median [p25-p75]",
        "ours/this: median [p25-p75]",
        "med/med",
        format!("quiet near rounds ({near})"),
        format!("quiet far rounds ({far})")
    );
    let ours = &ns[0];
    for (k, c) in CONTENDERS.iter().enumerate() {
        let mut cols = [String::new(), String::new(), String::new(), String::new()];
        if k > 0 {
            let r: Vec<f64> = ours.iter().zip(&ns[k]).map(|(o, x)| o / x).collect();
            let of_kind = |kind| {
                let rk: Vec<f64> = r
                    .iter()
                    .zip(kinds)
                    .filter(|(_, &rk)| rk == kind)
                    .map(|(&r, _)| r)
                    .collect();
                if rk.is_empty() {
                    "-".to_string()
                } else {
                    spread(&rk, 3)
                }
            };
            cols = [
                spread(&r, 3),
                format!("{:.3}", median(ours) / median(&ns[k])),
                of_kind(RoundKind::QuietNear),
                of_kind(RoundKind::QuietFar),
            ];
        }
        let [all, medmed, near, far] = cols;
        println!(
            "  {:<20} {:>24}  {all:>27}  {medmed:>7}  {near:>27}  {far:>27}",
            c.name,
            spread(&ns[k], 2)
        );
    }
    for (a, b) in PAIRS {
        let r: Vec<f64> = ns[a].iter().zip(&ns[b]).map(|(x, y)| x / y).collect();
        println!(
            "  {} / {}: median of rounds [p25-p75] {}, med/med {:.3}",
            CONTENDERS[a].name,
            CONTENDERS[b].name,
            spread(&r, 3),
            median(&ns[a]) / median(&ns[b])
        );
    }
}

/// Nanoseconds per round trip of a cache line between a thread pinned to CPU 0 and one pinned
/// to CPU 1 (`None` if either cannot be pinned there).
fn probe() -> Option<f64> {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let ball = Padded(AtomicU64::new(0));
    let failed = AtomicBool::new(false);
    let pin = |cpu: usize| {
        // SAFETY: `cpu_set_t` is a plain bit array (all zeroes: the empty set); `cpu` is far
        // below CPU_SETSIZE; pid 0 is the calling thread.
        let ok = unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut set);
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
        };
        if !ok {
            failed.store(true, Ordering::Relaxed);
        }
    };
    // Odd values are the serve (CPU 0 to CPU 1), even ones the return. A thread that cannot be
    // pinned still plays (so the other one finishes), and the result is dropped.
    let elapsed = thread::scope(|s| {
        s.spawn(|| {
            pin(1);
            for i in 0..PROBE_TRIPS {
                while ball.0.load(Ordering::Acquire) != 2 * i + 1 {
                    std::hint::spin_loop();
                }
                ball.0.store(2 * i + 2, Ordering::Release);
            }
        });
        s.spawn(|| {
            pin(0);
            let start = Instant::now();
            for i in 0..PROBE_TRIPS {
                ball.0.store(2 * i + 1, Ordering::Release);
                while ball.0.load(Ordering::Acquire) != 2 * i + 2 {
                    std::hint::spin_loop();
                }
            }
            start.elapsed()
        })
        .join()
        .expect("probe thread panicked")
    });
    (!failed.load(Ordering::Relaxed)).then(|| elapsed.as_nanos() as f64 / PROBE_TRIPS as f64)
}

/// What the machine did so far: this process's CPU time and all CPUs' busy and total time
/// (seconds of CPU).
#[derive(Clone, Copy)]
struct Usage {
    own: f64,
    /// `None` when `/proc/stat` cannot be read.
    cpus: Option<(f64, f64)>,
}

impl Usage {
    fn now() -> Usage {
        Usage {
            own: own_cpu(),
            cpus: cpu_seconds(),
        }
    }

    /// The share (0..=1) of all CPUs' time between `before` and `self` that went to anything
    /// but this process: other processes, the kernel's own work, and time the hypervisor gave
    /// to other guests (steal).
    fn others_since(&self, before: &Usage) -> Option<f64> {
        let (b1, t1) = self.cpus?;
        let (b0, t0) = before.cpus?;
        let total = t1 - t0;
        (total > 0.0).then(|| ((b1 - b0) - (self.own - before.own)).max(0.0) / total)
    }
}

/// (busy, total) CPU seconds of all CPUs so far, from the first line of `/proc/stat`.
fn cpu_seconds() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user).
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4)?;
    // SAFETY: sysconf has no memory arguments.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some(((total - idle) as f64 / hz, total as f64 / hz))
}

/// CPU time this process has used so far (all its threads), in seconds.
fn own_cpu() -> f64 {
    // SAFETY: `usage` is valid for writes; RUSAGE_SELF always succeeds.
    let usage = unsafe {
        let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

// ---------------------------------------------------------------------------------------------
// main
// ---------------------------------------------------------------------------------------------

struct Args {
    rounds: usize,
    scale: f64,
    /// `--only NAME CASE`: run that contender in that case only, and print what each job took
    /// and how many increments it did (for counting system calls per increment with `perf stat
    /// -e syscalls:sys_enter_futex` or `strace -f -e trace=futex`, see `benches/RESULTS.md`).
    only: Option<(String, String)>,
}

fn parse_args() -> Args {
    const USAGE: &str = "usage: contended_calls [--rounds R] [--scale F] [--only CONTENDER CASE]";
    let mut args = Args {
        rounds: ROUNDS,
        scale: 1.0,
        only: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            // `cargo bench` passes `--bench` to every bench binary.
            "--bench" => {}
            "--rounds" => {
                args.rounds = it.next().and_then(|r| r.parse().ok()).expect(USAGE);
                assert!(args.rounds > 0, "{USAGE}");
            }
            "--scale" => {
                args.scale = it.next().and_then(|r| r.parse().ok()).expect(USAGE);
                assert!(args.scale > 0.0, "{USAGE}");
            }
            "--only" => {
                let name = it.next().expect(USAGE);
                let case = it.next().expect(USAGE);
                args.only = Some((name, case));
            }
            other => panic!("unknown argument {other:?}; {USAGE}"),
        }
    }
    args
}

/// `--only`: `rounds` jobs of one contender in one case, each printed.
fn run_only(name: &str, case: &Case, rounds: usize) {
    let c = CONTENDERS
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no contender {name:?}"));
    let team = Team::new();
    let n = c.n(case);
    let mut total = 0;
    for _ in 0..rounds {
        let t = team.run(c, case);
        total += n;
        println!(
            "{name} {}: {n} increments in {:.1} ms, {:.1} ns/inc",
            case.name,
            t.as_secs_f64() * 1e3,
            t.as_nanos() as f64 / n as f64
        );
    }
    println!("{name} {}: {total} increments in all", case.name);
}

fn main() {
    let args = parse_args();
    common::multithreaded();
    let cases: Vec<Case> = CASES
        .iter()
        .map(|c| Case {
            n: ((c.n as f64 * args.scale) as u64).max(c.threads as u64),
            ..*c
        })
        .collect();
    if let Some((name, case)) = &args.only {
        let case = cases
            .iter()
            .find(|c| c.name == case)
            .unwrap_or_else(|| panic!("no case {case:?}"));
        run_only(name, case, args.rounds);
        return;
    }
    println!(
        "contended_calls: {} contenders interleaved, {} rounds (+{} warm-up), rotating order; \
         one persistent team of {WORKERS} workers; process multi-threaded",
        CONTENDERS.len(),
        args.rounds,
        WARMUP_ROUNDS
    );
    let team = Team::new();
    let k = CONTENDERS.len();
    // ns[case][contender][round]
    let mut ns = vec![vec![Vec::with_capacity(args.rounds); k]; cases.len()];
    // Per timed round: the share of the CPUs' time that went to anything but this process, and
    // the probe before and after.
    let mut others = Vec::with_capacity(args.rounds);
    let mut probes = Vec::with_capacity(args.rounds);
    let started = Instant::now();
    let first = Usage::now();
    for round in 0..WARMUP_ROUNDS + args.rounds {
        let probe_before = probe();
        let before = Usage::now();
        for (ci, case) in cases.iter().enumerate() {
            for j in 0..k {
                let ki = (round + j) % k;
                let t = team.run(&CONTENDERS[ki], case);
                if round >= WARMUP_ROUNDS {
                    let n = CONTENDERS[ki].n(case);
                    ns[ci][ki].push(t.as_nanos() as f64 / n as f64);
                }
            }
        }
        if round >= WARMUP_ROUNDS {
            others.push(Usage::now().others_since(&before));
            probes.push((probe_before, probe()));
        }
    }
    let wall = started.elapsed().as_secs_f64();
    let last = Usage::now();
    drop(team);
    let kinds: Vec<RoundKind> = others
        .iter()
        .zip(&probes)
        .map(|(o, p)| match (o, p) {
            (Some(o), (Some(a), Some(b))) if *o < QUIET => {
                if *a < NEAR_NS && *b < NEAR_NS {
                    RoundKind::QuietNear
                } else if *a >= NEAR_NS && *b >= NEAR_NS {
                    RoundKind::QuietFar
                } else {
                    RoundKind::Other
                }
            }
            _ => RoundKind::Other,
        })
        .collect();
    let count = |kind| kinds.iter().filter(|&&k| k == kind).count();
    let disturbance = match others.iter().copied().collect::<Option<Vec<f64>>>() {
        Some(o) => format!(
            "the CPUs' time that went to anything else (other processes, the kernel, steal): \
             {:.1}% over the run, per round median {:.1}%, p75 {:.1}%, max {:.1}%, \
             {} of {} rounds below {:.0}%",
            100.0 * last.others_since(&first).unwrap_or(f64::NAN),
            100.0 * median(&o),
            100.0 * quantile(&o, 0.75),
            100.0 * quantile(&o, 1.0),
            o.iter().filter(|&&o| o < QUIET).count(),
            o.len(),
            100.0 * QUIET
        ),
        None => "CPU use of other processes unknown (/proc/stat unreadable)".to_string(),
    };
    let trips: Vec<f64> = probes.iter().flat_map(|&(a, b)| [a, b]).flatten().collect();
    let distance = if trips.is_empty() {
        "probe unavailable (cannot pin to CPUs 0 and 1)".to_string()
    } else {
        format!(
            "CPU 0 <-> CPU 1 cache-line round trip: median {:.0} ns [p25 {:.0}, p75 {:.0}], min \
             {:.0}, max {:.0}",
            median(&trips),
            quantile(&trips, 0.25),
            quantile(&trips, 0.75),
            quantile(&trips, 0.0),
            quantile(&trips, 1.0)
        )
    };
    println!(
        "{wall:.1} s; this process used {:.1} s of CPU; loadavg at the end: {}\n{disturbance}\n\
         {distance}\nrounds: {} quiet near (both probes < {NEAR_NS:.0} ns), {} quiet far (both \
         >= {NEAR_NS:.0} ns), {} other (disturbed, or the probe changed)",
        last.own - first.own,
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim(),
        count(RoundKind::QuietNear),
        count(RoundKind::QuietFar),
        count(RoundKind::Other)
    );
    println!(
        "ratios: ours / contender, median over rounds of the per-round ratio (med/med: ratio of \
         the medians, for comparison); < 1 means ours is faster\n"
    );
    for (ci, case) in cases.iter().enumerate() {
        print_case(case, &ns[ci], &kinds);
        println!();
    }
}
