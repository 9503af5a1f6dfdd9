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
//! the median over rounds of the per-round ratio (25th-75th percentiles).
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
    // ns per round: [case][contender][round].
    let mut ns = vec![vec![Vec::new(); CONTENDERS.len()]; CASES.len()];
    for round in 0..WARMUP + rounds {
        for (c, case) in CASES.iter().enumerate() {
            for k in 0..CONTENDERS.len() {
                let i = (k + round) % CONTENDERS.len();
                let span = job(CONTENDERS[i], case.threads, case.pin, ROUNDS_PER_JOB);
                if round >= WARMUP {
                    ns[c][i].push(span.as_nanos() as f64 / ROUNDS_PER_JOB as f64);
                }
            }
        }
    }
    println!(
        "barrier rounds, interleaved: {rounds} rounds x {ROUNDS_PER_JOB} waits per thread per job"
    );
    for (c, case) in CASES.iter().enumerate() {
        println!("\n{}:", case.name());
        println!(
            "  {:<27} {:>10} {:>21} {:>12}",
            "contender", "ns/round", "(p25-p75)", "rounds/s"
        );
        for (i, contender) in CONTENDERS.iter().enumerate() {
            let xs = &ns[c][i];
            let m = median(xs);
            println!(
                "  {:<27} {:>10.0} {:>21} {:>12.0}",
                contender.name(),
                m,
                format!("({:.0}-{:.0})", quantile(xs, 0.25), quantile(xs, 0.75)),
                1e9 / m
            );
        }
        let ratio = |a: usize, b: usize| {
            let r: Vec<f64> = ns[c][a].iter().zip(&ns[c][b]).map(|(x, y)| x / y).collect();
            format!(
                "{:.2} ({:.2}-{:.2})",
                median(&r),
                quantile(&r, 0.25),
                quantile(&r, 0.75)
            )
        };
        println!(
            "  time ratio (median of per-round ratios, p25-p75; below 1: ours faster): \
             Barrier / std {}, Barrier / pthread_barrier_t {}, SharedBarrier / pshared \
             pthread_barrier_t {}, SharedBarrier / Barrier {}",
            ratio(0, 1),
            ratio(0, 2),
            ratio(3, 4),
            ratio(3, 0)
        );
    }
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
