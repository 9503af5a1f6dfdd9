//! Condition variables across threads: this crate's `Cond` + `Locker` vs `std` `Condvar` +
//! `Mutex` vs `parking_lot` vs raw `pthread_cond_t` (CLOCK_MONOTONIC, as the crate's) +
//! normal `pthread_mutex_t`. Every protocol is written once, generically over
//! `common::Monitor`.
//!
//! Bench ids say where the threads ran: `unpinned` (the scheduler's choice; on this 2-vCPU VM
//! every hand-off is then a cross-CPU wake-up, 35-60 µs of hypervisor) or `pinned_1cpu` (all
//! threads on CPU 0: one context switch per hand-off, which separates the implementations).

mod common;

use common::{Monitor, OursMonitor, Pin, PlMonitor, RawMonitor, StdMonitor};
use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};

/// One iteration = one round trip: A hands the turn to B (notify_one), B hands it back.
fn ping_pong<M: Monitor>(group: &mut BenchmarkGroup<'_, WallTime>, id: &str, pin: Pin) {
    group.bench_function(id, |b| {
        b.iter_custom(|iters| {
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
        })
    });
}

/// Waiters woken by each `notify_all`.
const WAITERS: u64 = 4;

/// One iteration = one round: the notifier bumps a generation and calls `notify_all`; each of
/// the 4 waiters wakes, sees the new generation and acknowledges on a second monitor; the
/// round ends when the notifier has all 4 acknowledgements.
fn broadcast<M: Monitor>(group: &mut BenchmarkGroup<'_, WallTime>, id: &str, pin: Pin) {
    group.bench_function(id, |b| {
        b.iter_custom(|iters| {
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
        })
    });
}

fn ping_pong_group(c: &mut Criterion, pin: Pin) {
    common::multithreaded();
    let mut g = c.benchmark_group(format!("condvar_pingpong_{}", pin.label()));
    ping_pong::<OursMonitor>(&mut g, "ours_Cond_Locker", pin);
    ping_pong::<StdMonitor>(&mut g, "std_Condvar_Mutex", pin);
    ping_pong::<PlMonitor>(&mut g, "parking_lot_Condvar_Mutex", pin);
    ping_pong::<RawMonitor>(&mut g, "raw_pthread_cond", pin);
    g.finish();
}

fn broadcast_group(c: &mut Criterion, pin: Pin) {
    common::multithreaded();
    let mut g = c.benchmark_group(format!("condvar_notify_all_4waiters_{}", pin.label()));
    broadcast::<OursMonitor>(&mut g, "ours_Cond_Locker", pin);
    broadcast::<StdMonitor>(&mut g, "std_Condvar_Mutex", pin);
    broadcast::<PlMonitor>(&mut g, "parking_lot_Condvar_Mutex", pin);
    broadcast::<RawMonitor>(&mut g, "raw_pthread_cond", pin);
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

criterion_group! {
    name = benches;
    config = common::cross_thread();
    targets = ping_pong_unpinned, ping_pong_pinned, broadcast_unpinned, broadcast_pinned
}
criterion_main!(benches);
