//! The cost of lock-order checking (`pthread_sync::lock_order`), behind a call, in an
//! interleaved driver like `calls.rs`: every contender is one `#[inline(never)]` function per
//! operation, the contenders' batches rotate round by round, and the table gives medians
//! over rounds. The mode is process-wide, so each contender's batch sets it first.
//!
//! - `off_lock`, `on_lock`: `Locker` lock + increment + unlock, nothing else held, checking
//!   off / on (`off_lock` is `calls.rs`'s `normal_ours`).
//! - `off_nested`, `on_nested`: the same with another lock held around the batch: a stable
//!   order, whose edge is new only on the first call. On, each call looks the edge up in
//!   the thread's cache and reads the graph's epoch: no shared write.
//! - `abseil_nested`: checking off, plus the shape of Abseil's debug `Mutex`: on every
//!   acquisition with locks held, a global spin lock around a lookup of the edge in a
//!   shared table (`GraphCycles` behind `deadlock_graph_mu`).
//!
//! Then the nested pair on 2 threads at once (each with its own two locks), wall time per
//! operation: the global lock's cache line moves between the CPUs on every acquisition;
//! the checker's shared words are only read.
//!
//! ```sh
//! CARGO_TARGET_DIR=target cargo bench --features lock-order --bench lock_order
//! CARGO_TARGET_DIR=target cargo bench --features lock-order --bench lock_order -- --rounds 50
//! # instructions per operation (see calls.rs):
//! valgrind --tool=callgrind --toggle-collect='lock_order::on_nested' \
//!     target/release/deps/lock_order-<hash> --callgrind on_nested 1000000
//! ```

mod common;

use common::median;

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pthread_sync::lock_order::{self, Mode};
use pthread_sync::Locker;

const BATCH: u64 = 200_000;
const ROUNDS: usize = 200;
const WARMUP_ROUNDS: usize = 3;

/// Two locks: `outer` held around a nested batch, `inner` taken per operation.
struct Pair {
    outer: Locker<()>,
    inner: Locker<u64>,
}

impl Pair {
    fn new() -> Pair {
        Pair {
            outer: Locker::new(()),
            inner: Locker::new(0),
        }
    }
}

// ---- the shape of a global lock on every acquisition (Abseil's debug Mutex) ----

/// A global spin lock (Abseil's `SpinLock` `deadlock_graph_mu`) and a table of known edges
/// it guards.
static GRAPH_MU: AtomicBool = AtomicBool::new(false);
const TABLE: usize = 1024;
static TABLE_KEYS: [AtomicUsize; TABLE] = [const { AtomicUsize::new(0) }; TABLE];

#[inline(always)]
fn global_check(held: usize, acquired: usize) {
    while GRAPH_MU
        .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        std::hint::spin_loop();
    }
    // Look the edge up (insert it the first time), under the lock.
    let key = held.wrapping_mul(31) ^ acquired;
    let mut i = (key >> 4) % TABLE;
    loop {
        let k = TABLE_KEYS[i].load(Ordering::Relaxed);
        if k == key {
            break;
        }
        if k == 0 {
            TABLE_KEYS[i].store(key, Ordering::Relaxed);
            break;
        }
        i = (i + 1) % TABLE;
    }
    GRAPH_MU.store(false, Ordering::Release);
}

// ---- contenders ----

#[inline(never)]
fn off_lock(p: &Pair) {
    *p.inner.lock().unwrap() += 1;
}

#[inline(never)]
fn on_lock(p: &Pair) {
    *p.inner.lock().unwrap() += 1;
}

#[inline(never)]
fn off_nested(p: &Pair) {
    *p.inner.lock().unwrap() += 1;
}

#[inline(never)]
fn on_nested(p: &Pair) {
    *p.inner.lock().unwrap() += 1;
}

#[inline(never)]
fn abseil_nested(p: &Pair) {
    global_check(&p.outer as *const _ as usize, &p.inner as *const _ as usize);
    *p.inner.lock().unwrap() += 1;
}

struct Contender {
    name: &'static str,
    mode: Mode,
    /// Whether `outer` is held around the batch.
    nested: bool,
    op: fn(&Pair),
}

const CONTENDERS: [Contender; 5] = [
    Contender {
        name: "off_lock",
        mode: Mode::Off,
        nested: false,
        op: off_lock,
    },
    Contender {
        name: "on_lock",
        mode: Mode::Report,
        nested: false,
        op: on_lock,
    },
    Contender {
        name: "off_nested",
        mode: Mode::Off,
        nested: true,
        op: off_nested,
    },
    Contender {
        name: "on_nested",
        mode: Mode::Report,
        nested: true,
        op: on_nested,
    },
    Contender {
        name: "abseil_nested",
        mode: Mode::Off,
        nested: true,
        op: abseil_nested,
    },
];

/// Times `n` calls of `c` on `p`, in `c`'s mode (with `outer` held if nested).
fn batch(c: &Contender, p: &Pair, n: u64) -> Duration {
    lock_order::set_mode(c.mode);
    let outer = c.nested.then(|| p.outer.lock().unwrap());
    let start = Instant::now();
    for _ in 0..n {
        (c.op)(black_box(p));
    }
    let t = start.elapsed();
    drop(outer);
    lock_order::set_mode(Mode::Off);
    t
}

/// The nested pair on `threads` threads at once, each with its own pair: wall ns per
/// operation (per thread).
fn team(c: &Contender, threads: usize, n: u64) -> f64 {
    let pairs: Vec<Pair> = (0..threads).map(|_| Pair::new()).collect();
    let start = std::sync::Barrier::new(threads + 1);
    lock_order::set_mode(c.mode);
    let t = std::thread::scope(|s| {
        for (i, p) in pairs.iter().enumerate() {
            let start = &start;
            s.spawn(move || {
                common::pin_to_cpu(i);
                let _outer = p.outer.lock().unwrap();
                (c.op)(p); // the first (new) edge, outside the timing
                start.wait();
                for _ in 0..n {
                    (c.op)(black_box(p));
                }
                start.wait();
            });
        }
        start.wait();
        let t0 = Instant::now();
        start.wait();
        t0.elapsed()
    });
    lock_order::set_mode(Mode::Off);
    t.as_nanos() as f64 / n as f64
}

fn main() {
    let mut rounds = ROUNDS;
    let mut callgrind: Option<(String, u64)> = None;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--bench" => {}
            "--rounds" => rounds = it.next().and_then(|r| r.parse().ok()).expect("--rounds N"),
            "--callgrind" => {
                let name = it.next().expect("--callgrind NAME N");
                let n = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("--callgrind NAME N");
                callgrind = Some((name, n));
            }
            other => panic!("unknown argument {other:?}"),
        }
    }
    common::multithreaded();
    let pairs: Vec<Pair> = CONTENDERS.iter().map(|_| Pair::new()).collect();
    if let Some((name, n)) = callgrind {
        let i = CONTENDERS
            .iter()
            .position(|c| c.name == name)
            .expect("no such contender");
        batch(&CONTENDERS[i], &pairs[i], 1); // the first (new) edge, not counted
        batch(&CONTENDERS[i], &pairs[i], n);
        println!("{name}: {n} operations done");
        return;
    }
    println!(
        "lock_order: {} contenders interleaved, {rounds} rounds (+{WARMUP_ROUNDS} warm-up) of \
         {BATCH} calls, rotating order",
        CONTENDERS.len()
    );
    let k = CONTENDERS.len();
    let mut ns: Vec<Vec<f64>> = vec![Vec::new(); k];
    for round in 0..WARMUP_ROUNDS + rounds {
        for j in 0..k {
            let i = (round + j) % k;
            let t = batch(&CONTENDERS[i], &pairs[i], BATCH);
            if round >= WARMUP_ROUNDS {
                ns[i].push(t.as_nanos() as f64 / BATCH as f64);
            }
        }
    }
    for (i, c) in CONTENDERS.iter().enumerate() {
        assert_eq!(
            *pairs[i].inner.lock().unwrap(),
            (WARMUP_ROUNDS + rounds) as u64 * BATCH,
            "{}: operations lost",
            c.name
        );
    }
    let base = median(&ns[0]);
    println!("{:<14} {:>9} {:>9}", "contender", "ns/op", "x off_lock");
    for (i, c) in CONTENDERS.iter().enumerate() {
        // The ratio per round, then its median (robust to a disturbed round).
        let ratios: Vec<f64> = ns[i].iter().zip(&ns[0]).map(|(a, b)| a / b).collect();
        println!(
            "{:<14} {:>9.2} {:>9.3}   (med/med {:.3})",
            c.name,
            median(&ns[i]),
            median(&ratios),
            median(&ns[i]) / base
        );
    }
    println!("\nthe nested pair on 2 threads at once, wall ns per operation (median of 20):");
    for i in [2, 3, 4] {
        let c = &CONTENDERS[i];
        let mut xs: Vec<f64> = (0..20).map(|_| team(c, 2, BATCH)).collect();
        xs.sort_by(f64::total_cmp);
        println!("{:<14} {:>9.2}", c.name, median(&xs));
    }
}
