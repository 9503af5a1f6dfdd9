//! Barrier rounds: this crate's `Barrier` (its own futex protocol, private futex) against
//! `std::sync::Barrier` and a raw `pthread_barrier_t`, and `SharedBarrier` (the same protocol,
//! shared futex, member seats on robust mutexes) against a raw `PTHREAD_PROCESS_SHARED`
//! `pthread_barrier_t`, with 2 and 4 threads, unpinned and all on one CPU.
//!
//! What is timed: `threads` threads each wait `ROUNDS_PER_JOB` times on one barrier of
//! `threads` (a `SharedBarrier` member joins first, inside the span: a microsecond); the span
//! runs from the first thread's start to the last thread's end (`common::run_team`: the
//! threads meet at a yielding spin barrier first, so no wake-up of the team is timed). The
//! figure is the span divided by the rounds: wall time per round, and its inverse, rounds a
//! second. On this 2-vCPU VM, 4 threads is throughput with long time slices, and so is
//! everything pinned to one CPU (every round costs context switches).
//!
//! How it runs (the default): interleaved, as `benches/contended_calls.rs`: a round runs
//! every case, and within a case every contender once, starting one contender later each
//! round; `WARMUP` untimed rounds first. Per case it prints each contender's median time per
//! round (25th-75th percentiles) and rounds a second, and this crate's ratios to the others:
//! the median over rounds of the per-round ratio (25th-75th percentiles), over all rounds
//! and over the quiet ones: those in which less than `QUIET` of the CPUs' time went to
//! anything but this process (as `contended_calls` measures it, from `/proc/stat` and
//! `getrusage`). On a shared machine a busy neighbour takes one of the 2 vCPUs, and the
//! "unpinned" case then runs as if on one CPU.
//!
//! ```sh
//! cargo bench --bench barrier                    # interleaved, ~1 min
//! cargo bench --bench barrier -- --rounds 10     # quicker
//! cargo bench --bench barrier -- --criterion     # the same contenders as criterion groups
//! ```

mod common;

use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::time::Duration;

use common::{median, quantile, run_team, Pin};
use pthread_sync::{SharedBarrier, ShmBox};

/// Waits per thread in one timed job.
const ROUNDS_PER_JOB: u64 = 2_000;
/// Timed rounds of the interleaved driver (`--rounds N` changes it).
const ROUNDS: usize = 30;
/// Untimed rounds first.
const WARMUP: usize = 2;
/// A case's round is quiet when less than this share of the CPUs' time went elsewhere.
const QUIET: f64 = 0.03;

/// A raw `pthread_barrier_t` at a stable heap address, destroyed when dropped.
struct RawBarrier(Box<UnsafeCell<MaybeUninit<libc::pthread_barrier_t>>>);

// SAFETY: a pthread barrier is made to be waited on from many threads at once.
unsafe impl Sync for RawBarrier {}
// SAFETY: as above; it is only moved while nobody waits on it.
unsafe impl Send for RawBarrier {}

impl RawBarrier {
    fn new(count: u32, pshared: bool) -> RawBarrier {
        let b = RawBarrier(Box::new(UnsafeCell::new(MaybeUninit::uninit())));
        let mut attr = MaybeUninit::<libc::pthread_barrierattr_t>::uninit();
        // SAFETY: `attr` is valid for writes, initialised before use and destroyed after;
        // the barrier's storage is valid, aligned, and never moves (boxed).
        unsafe {
            assert_eq!(libc::pthread_barrierattr_init(attr.as_mut_ptr()), 0);
            let shared = if pshared {
                libc::PTHREAD_PROCESS_SHARED
            } else {
                libc::PTHREAD_PROCESS_PRIVATE
            };
            assert_eq!(
                libc::pthread_barrierattr_setpshared(attr.as_mut_ptr(), shared),
                0
            );
            assert_eq!(libc::pthread_barrier_init(b.ptr(), attr.as_ptr(), count), 0);
            libc::pthread_barrierattr_destroy(attr.as_mut_ptr());
        }
        b
    }

    fn ptr(&self) -> *mut libc::pthread_barrier_t {
        self.0.get().cast()
    }

    /// `pthread_barrier_wait`: `true` for the one `PTHREAD_BARRIER_SERIAL_THREAD`.
    #[inline(never)]
    fn wait(&self) -> bool {
        // SAFETY: an initialised barrier at a stable address.
        let r = unsafe { libc::pthread_barrier_wait(self.ptr()) };
        debug_assert!(r == 0 || r == libc::PTHREAD_BARRIER_SERIAL_THREAD);
        r == libc::PTHREAD_BARRIER_SERIAL_THREAD
    }
}

impl Drop for RawBarrier {
    fn drop(&mut self) {
        // SAFETY: initialised, and no thread waits on it any more (the team was joined).
        unsafe { libc::pthread_barrier_destroy(self.ptr()) };
    }
}

#[inline(never)]
fn ours_wait(b: &pthread_sync::Barrier) -> bool {
    b.wait().is_leader()
}

#[inline(never)]
fn std_wait(b: &std::sync::Barrier) -> bool {
    b.wait().is_leader()
}

#[inline(never)]
fn shared_wait<const N: usize>(m: &pthread_sync::Member<'_, N>) -> bool {
    m.wait().expect("a shared barrier round").is_leader()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Contender {
    Ours,
    Std,
    Raw,
    Shared,
    RawShared,
}

const CONTENDERS: [Contender; 5] = [
    Contender::Ours,
    Contender::Std,
    Contender::Raw,
    Contender::Shared,
    Contender::RawShared,
];

impl Contender {
    fn name(self) -> &'static str {
        match self {
            Contender::Ours => "pthread_sync::Barrier",
            Contender::Std => "std::sync::Barrier",
            Contender::Raw => "pthread_barrier_t",
            Contender::Shared => "SharedBarrier (threads)",
            Contender::RawShared => "pthread_barrier_t pshared",
        }
    }
}

/// Runs `rounds` rounds of `threads` threads on a fresh barrier of `contender`; the span.
fn job(contender: Contender, threads: usize, pin: Pin, rounds: u64) -> Duration {
    let leaders = std::sync::atomic::AtomicU64::new(0);
    let count = |leader: bool| {
        if leader {
            leaders.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    };
    let span = match contender {
        Contender::Ours => {
            let b = pthread_sync::Barrier::new(threads);
            run_team(threads, pin, |_| {
                (0..rounds).for_each(|_| count(ours_wait(&b)))
            })
        }
        Contender::Std => {
            let b = std::sync::Barrier::new(threads);
            run_team(threads, pin, |_| {
                (0..rounds).for_each(|_| count(std_wait(&b)))
            })
        }
        Contender::Raw | Contender::RawShared => {
            let b = RawBarrier::new(threads as u32, contender == Contender::RawShared);
            run_team(threads, pin, |_| (0..rounds).for_each(|_| count(b.wait())))
        }
        Contender::Shared => match threads {
            2 => shared_job::<2>(pin, rounds, &count),
            4 => shared_job::<4>(pin, rounds, &count),
            n => panic!("no SharedBarrier case for {n} threads"),
        },
    };
    assert_eq!(
        leaders.into_inner(),
        rounds,
        "{}: one leader a round",
        contender.name()
    );
    span
}

fn shared_job<const N: usize>(pin: Pin, rounds: u64, count: &(dyn Fn(bool) + Sync)) -> Duration {
    let region = ShmBox::anonymous(SharedBarrier::<N>::new()).expect("a region");
    run_team(N, pin, |_| {
        let me = region.join().expect("a seat");
        (0..rounds).for_each(|_| count(shared_wait(&me)));
    })
}

#[derive(Clone, Copy)]
struct Case {
    threads: usize,
    pin: Pin,
}

const CASES: [Case; 4] = [
    Case {
        threads: 2,
        pin: Pin::Unpinned,
    },
    Case {
        threads: 4,
        pin: Pin::Unpinned,
    },
    Case {
        threads: 2,
        pin: Pin::OneCpu,
    },
    Case {
        threads: 4,
        pin: Pin::OneCpu,
    },
];

impl Case {
    fn name(self) -> String {
        format!("{}threads_{}", self.threads, self.pin.label())
    }
}

fn interleaved(rounds: usize) {
    // ns per round: [case][contender][round]; whether the case's round was quiet.
    let mut ns = vec![vec![Vec::new(); CONTENDERS.len()]; CASES.len()];
    let mut quiet = vec![Vec::new(); CASES.len()];
    for round in 0..WARMUP + rounds {
        for (c, case) in CASES.iter().enumerate() {
            let before = Usage::now();
            let mut spans = [0.0; CONTENDERS.len()];
            for k in 0..CONTENDERS.len() {
                let i = (k + round) % CONTENDERS.len();
                let span = job(CONTENDERS[i], case.threads, case.pin, ROUNDS_PER_JOB);
                spans[i] = span.as_nanos() as f64 / ROUNDS_PER_JOB as f64;
            }
            let others = Usage::now().others_since(&before);
            if round >= WARMUP {
                for (i, span) in spans.into_iter().enumerate() {
                    ns[c][i].push(span);
                }
                quiet[c].push(others.is_some_and(|o| o < QUIET));
            }
        }
    }
    println!(
        "barrier rounds, interleaved: {rounds} rounds x {ROUNDS_PER_JOB} waits per thread per job"
    );
    for (c, case) in CASES.iter().enumerate() {
        let quiet_rounds = quiet[c].iter().filter(|&&q| q).count();
        println!(
            "\n{} ({quiet_rounds} of {rounds} rounds quiet):",
            case.name()
        );
        println!(
            "  {:<27} {:>10} {:>21} {:>12} {:>14}",
            "contender", "ns/round", "(p25-p75)", "rounds/s", "quiet ns/round"
        );
        let of_quiet = |xs: &[f64]| -> Vec<f64> {
            xs.iter()
                .zip(&quiet[c])
                .filter(|(_, &q)| q)
                .map(|(x, _)| *x)
                .collect()
        };
        for (i, contender) in CONTENDERS.iter().enumerate() {
            let xs = &ns[c][i];
            let m = median(xs);
            let q = of_quiet(xs);
            let qm = if q.is_empty() {
                "-".to_string()
            } else {
                format!("{:.0}", median(&q))
            };
            println!(
                "  {:<27} {:>10.0} {:>21} {:>12.0} {:>14}",
                contender.name(),
                m,
                format!("({:.0}-{:.0})", quantile(xs, 0.25), quantile(xs, 0.75)),
                1e9 / m,
                qm
            );
        }
        let ratio = |a: usize, b: usize| {
            let r: Vec<f64> = ns[c][a].iter().zip(&ns[c][b]).map(|(x, y)| x / y).collect();
            let q = of_quiet(&r);
            let quiet = if q.is_empty() {
                "-".to_string()
            } else {
                format!("{:.2}", median(&q))
            };
            format!(
                "{:.2} ({:.2}-{:.2}; quiet {quiet})",
                median(&r),
                quantile(&r, 0.25),
                quantile(&r, 0.75)
            )
        };
        println!("  time ratios (median of per-round ratios, p25-p75; below 1: the first faster):");
        println!(
            "    Barrier / std::sync::Barrier             {}",
            ratio(0, 1)
        );
        println!(
            "    Barrier / pthread_barrier_t              {}",
            ratio(0, 2)
        );
        println!(
            "    SharedBarrier / pthread_barrier_t pshared {}",
            ratio(3, 4)
        );
        println!(
            "    SharedBarrier / Barrier                  {}",
            ratio(3, 0)
        );
    }
}

/// What the machine did so far: this process's CPU time and all CPUs' busy and total time
/// (seconds of CPU), as `benches/contended_calls.rs` reads them.
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
    /// but this process (other processes, the kernel's own work, steal).
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
    let v: Vec<u64> = stat
        .lines()
        .next()?
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

fn criterion_groups() {
    // Not `configure_from_args`: criterion's parser would refuse `--criterion`.
    let mut c = common::cross_thread();
    for case in CASES {
        let mut group = c.benchmark_group(format!("barrier_{}", case.name()));
        for contender in CONTENDERS {
            group.bench_function(contender.name(), |b| {
                b.iter_custom(|iters| {
                    // Whole rounds per thread; the time per round is what criterion reports.
                    job(contender, case.threads, case.pin, iters.max(1))
                })
            });
        }
        group.finish();
    }
    c.final_summary();
}

fn main() {
    common::multithreaded();
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--criterion") {
        criterion_groups();
        return;
    }
    let rounds = args
        .iter()
        .position(|a| a == "--rounds")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(ROUNDS);
    interleaved(rounds);
}
