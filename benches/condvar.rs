//! Condition variables across threads: this crate's `Cond` + `Locker` vs `std` `Condvar` +
//! `Mutex` vs `parking_lot` vs raw `pthread_cond_t` (CLOCK_MONOTONIC, as the crate's) +
//! normal `pthread_mutex_t`, and `futex_Locker`: the crate's `SharedCond` protocol in-process
//! (`common::FutexCond`: `FUTEX_PRIVATE_FLAG`, over the crate's `Locker`), the candidate
//! replacement for `pthread_cond_t` in `Cond`. Every protocol is written once, generically
//! over `common::Monitor`.
//!
//! Bench ids say where the threads ran: `unpinned` (the scheduler's choice; on this 2-vCPU VM
//! every hand-off is then a cross-CPU wake-up, 35-60 µs of hypervisor) or `pinned_1cpu` (all
//! threads on CPU 0: one context switch per hand-off, which separates the implementations).
//! `condvar_notify_one_no_waiter` is the uncontended signal: `notify_one` with nobody waiting
//! (glibc's `pthread_cond_signal` and the futex protocol make no system call then; std's
//! `Condvar` always makes one). The same, behind a call, is in `benches/calls.rs`.
//!
//! Two modes:
//!
//! ```sh
//! cargo bench --bench condvar                                  # criterion groups, one
//!                                                              # contender after the other
//! cargo bench --bench condvar -- --interleaved [--rounds R] [--scale F] [FILTER]
//! ```
//!
//! `--interleaved` runs the ping-pong and notify_all scenarios as rounds that run a batch of
//! every contender in turn (rotating order) and reports medians over rounds and the median of
//! the per-round ratios to `raw_pthread_cond` (`common::Interleaved`): slow drift of the
//! machine, or another process's load, hits every contender alike.

mod common;

use std::time::Duration;

use common::{FutexMonitor, Monitor, OursMonitor, Pin, PlMonitor, RawMonitor, StdMonitor};
use criterion::measurement::WallTime;
use criterion::{criterion_group, BenchmarkGroup, Criterion};

/// `iters` round trips: A hands the turn to B (notify_one), B hands it back.
fn ping_pong_run<M: Monitor>(iters: u64, pin: Pin) -> Duration {
    let m = M::new(0);
    common::run_team(2, pin, |side| {
        if side == 0 {
            for _ in 0..iters {
                m.update(|turn| *turn = 1);
                m.notify_one();
                m.wait_then(|turn| *turn == 0, |_| {});
            }
        } else {
            for _ in 0..iters {
                m.wait_then(|turn| *turn == 1, |turn| *turn = 0);
                m.notify_one();
            }
        }
    })
}

/// One iteration = one round trip.
fn ping_pong<M: Monitor>(group: &mut BenchmarkGroup<'_, WallTime>, id: &str, pin: Pin) {
    group.bench_function(id, |b| {
        b.iter_custom(|iters| ping_pong_run::<M>(iters, pin))
    });
}

/// Waiters woken by each `notify_all`.
const WAITERS: u64 = 4;

/// `iters` rounds: the notifier bumps a generation and calls `notify_all`; each of the 4
/// waiters wakes, sees the new generation and acknowledges on a second monitor; the round ends
/// when the notifier has all 4 acknowledgements.
fn broadcast_run<M: Monitor>(iters: u64, pin: Pin) -> Duration {
    let (go, ack) = (M::new(0), M::new(0));
    common::run_team(1 + WAITERS as usize, pin, |i| {
        if i == 0 {
            for round in 1..=iters {
                go.update(|generation| *generation = round);
                go.notify_all();
                ack.wait_then(|acks| *acks >= WAITERS * round, |_| {});
            }
        } else {
            for round in 1..=iters {
                go.wait_then(|generation| *generation >= round, |_| {});
                ack.update(|acks| *acks += 1);
                ack.notify_one();
            }
        }
    })
}

/// One iteration = one round.
fn broadcast<M: Monitor>(group: &mut BenchmarkGroup<'_, WallTime>, id: &str, pin: Pin) {
    group.bench_function(id, |b| {
        b.iter_custom(|iters| broadcast_run::<M>(iters, pin))
    });
}

fn ping_pong_group(c: &mut Criterion, pin: Pin) {
    common::multithreaded();
    let mut g = c.benchmark_group(format!("condvar_pingpong_{}", pin.label()));
    ping_pong::<OursMonitor>(&mut g, "ours_Cond_Locker", pin);
    ping_pong::<StdMonitor>(&mut g, "std_Condvar_Mutex", pin);
    ping_pong::<PlMonitor>(&mut g, "parking_lot_Condvar_Mutex", pin);
    ping_pong::<RawMonitor>(&mut g, "raw_pthread_cond", pin);
    ping_pong::<FutexMonitor>(&mut g, "futex_Locker", pin);
    g.finish();
}

fn broadcast_group(c: &mut Criterion, pin: Pin) {
    common::multithreaded();
    let mut g = c.benchmark_group(format!("condvar_notify_all_4waiters_{}", pin.label()));
    broadcast::<OursMonitor>(&mut g, "ours_Cond_Locker", pin);
    broadcast::<StdMonitor>(&mut g, "std_Condvar_Mutex", pin);
    broadcast::<PlMonitor>(&mut g, "parking_lot_Condvar_Mutex", pin);
    broadcast::<RawMonitor>(&mut g, "raw_pthread_cond", pin);
    broadcast::<FutexMonitor>(&mut g, "futex_Locker", pin);
    g.finish();
}

fn ping_pong_unpinned(c: &mut Criterion) {
    ping_pong_group(c, Pin::Unpinned);
}

fn ping_pong_pinned(c: &mut Criterion) {
    ping_pong_group(c, Pin::OneCpu);
}

fn broadcast_unpinned(c: &mut Criterion) {
    broadcast_group(c, Pin::Unpinned);
}

fn broadcast_pinned(c: &mut Criterion) {
    broadcast_group(c, Pin::OneCpu);
}

/// `notify_one` with no waiter, inlined in criterion's loop.
fn notify_no_waiter<M: Monitor>(group: &mut BenchmarkGroup<'_, WallTime>, id: &str) {
    let m = M::new(0);
    group.bench_function(id, |b| b.iter(|| m.notify_one()));
}

fn notify_one_no_waiter(c: &mut Criterion) {
    common::multithreaded();
    let mut g = c.benchmark_group("condvar_notify_one_no_waiter");
    notify_no_waiter::<OursMonitor>(&mut g, "ours_Cond_Locker");
    notify_no_waiter::<StdMonitor>(&mut g, "std_Condvar_Mutex");
    notify_no_waiter::<PlMonitor>(&mut g, "parking_lot_Condvar_Mutex");
    notify_no_waiter::<RawMonitor>(&mut g, "raw_pthread_cond");
    notify_no_waiter::<FutexMonitor>(&mut g, "futex_Locker");
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::cross_thread();
    targets = ping_pong_unpinned, ping_pong_pinned, broadcast_unpinned, broadcast_pinned
}
criterion_group! {
    name = single;
    config = common::quick();
    targets = notify_one_no_waiter
}

/// The ping-pong and notify_all scenarios of every contender, interleaved.
fn interleaved(opts: &common::Interleaved) {
    use common::Scenario;
    common::multithreaded();
    println!(
        "condvar --interleaved: ratios to raw_pthread_cond (raw normal pthread_mutex_t + \
         pthread_cond_t); process multi-threaded"
    );
    for (pin, pp_batch, bc_batch) in [(Pin::OneCpu, 4000, 1500), (Pin::Unpinned, 600, 600)] {
        let label = pin.label();
        opts.group(
            &format!("condvar_pingpong_{label}"),
            "round trip",
            pp_batch,
            "raw_pthread_cond",
            &[
                Scenario::new("ours_Cond_Locker", |n| ping_pong_run::<OursMonitor>(n, pin)),
                Scenario::new("futex_Locker", |n| ping_pong_run::<FutexMonitor>(n, pin)),
                Scenario::new("raw_pthread_cond", |n| ping_pong_run::<RawMonitor>(n, pin)),
                Scenario::new("std_Condvar_Mutex", |n| ping_pong_run::<StdMonitor>(n, pin)),
                Scenario::new("parking_lot_Condvar_Mutex", |n| {
                    ping_pong_run::<PlMonitor>(n, pin)
                }),
            ],
        );
        opts.group(
            &format!("condvar_notify_all_4waiters_{label}"),
            "round",
            bc_batch,
            "raw_pthread_cond",
            &[
                Scenario::new("ours_Cond_Locker", |n| broadcast_run::<OursMonitor>(n, pin)),
                Scenario::new("futex_Locker", |n| broadcast_run::<FutexMonitor>(n, pin)),
                Scenario::new("raw_pthread_cond", |n| broadcast_run::<RawMonitor>(n, pin)),
                Scenario::new("std_Condvar_Mutex", |n| broadcast_run::<StdMonitor>(n, pin)),
                Scenario::new("parking_lot_Condvar_Mutex", |n| {
                    broadcast_run::<PlMonitor>(n, pin)
                }),
            ],
        );
    }
}

fn main() {
    if let Some(opts) = common::Interleaved::from_args() {
        interleaved(&opts);
        return;
    }
    benches();
    single();
    Criterion::default().configure_from_args().final_summary();
}
