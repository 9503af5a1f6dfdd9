//! Semaphores: this crate's `Sem` vs raw `sem_t` vs the textbook Mutex + Condvar semaphore
//! (`std`, and `parking_lot` for reference; `std` has no semaphore). Written once, generically
//! over `common::Semaphore`.
//!
//! Ping-pong bench ids say where the threads ran (`unpinned` / `pinned_1cpu`, see
//! `condvar.rs`).

mod common;

use std::hint::black_box;

use common::{MonitorSem, PSem, Pin, PlMonitor, Semaphore, StdMonitor};
use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};

/// One iteration = one round trip through two semaphores: A posts `to_b` and waits on
/// `to_a`; B waits on `to_b` and posts `to_a`.
fn ping_pong<S: Semaphore>(group: &mut BenchmarkGroup<'_, WallTime>, id: &str, pin: Pin) {
    group.bench_function(id, |b| {
        b.iter_custom(|iters| {
            let (to_a, to_b) = (S::new(0), S::new(0));
            common::run_team(2, pin, |side| {
                for _ in 0..iters {
                    if side == 0 {
                        to_b.post();
                        to_a.wait();
                    } else {
                        to_b.wait();
                        to_a.post();
                    }
                }
            })
        })
    });
}

/// One iteration = `post` then `wait` on one thread (the value never blocks).
fn post_wait<S: Semaphore>(group: &mut BenchmarkGroup<'_, WallTime>, id: &str) {
    let s = S::new(0);
    group.bench_function(id, |b| {
        b.iter(|| {
            let s = black_box(&s);
            s.post();
            s.wait();
        })
    });
}

fn ping_pong_group(c: &mut Criterion, pin: Pin) {
    common::multithreaded();
    let mut g = c.benchmark_group(format!("sem_pingpong_{}", pin.label()));
    ping_pong::<pthread_sync::Sem>(&mut g, "ours_Sem", pin);
    ping_pong::<MonitorSem<StdMonitor>>(&mut g, "std_Mutex_Condvar_sem", pin);
    ping_pong::<MonitorSem<PlMonitor>>(&mut g, "parking_lot_Mutex_Condvar_sem", pin);
    ping_pong::<PSem>(&mut g, "raw_sem_t", pin);
    g.finish();
}

fn ping_pong_unpinned(c: &mut Criterion) {
    ping_pong_group(c, Pin::Unpinned);
}

fn ping_pong_pinned(c: &mut Criterion) {
    ping_pong_group(c, Pin::OneCpu);
}

fn uncontended(c: &mut Criterion) {
    common::multithreaded();
    let mut g = c.benchmark_group("sem_uncontended_post_wait");
    post_wait::<pthread_sync::Sem>(&mut g, "ours_Sem");
    post_wait::<MonitorSem<StdMonitor>>(&mut g, "std_Mutex_Condvar_sem");
    post_wait::<MonitorSem<PlMonitor>>(&mut g, "parking_lot_Mutex_Condvar_sem");
    post_wait::<PSem>(&mut g, "raw_sem_t");
    g.finish();
}

criterion_group! {
    name = single_thread;
    config = common::quick();
    targets = uncontended
}
criterion_group! {
    name = cross_thread;
    config = common::cross_thread();
    targets = ping_pong_unpinned, ping_pong_pinned
}
criterion_main!(single_thread, cross_thread);
