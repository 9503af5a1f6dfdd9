//! `SharedBarrier` across forked processes: rounds with exactly one leader each, and members
//! `SIGKILL`ed before arriving, while waiting (already arrived), and at random moments of a
//! round loop (on one CPU and on two), after which every survivor must be released with
//! `Error::BarrierBroken(BreakCause::MemberDied { .. })` naming the dead member, within
//! [`BOUND`], and a reset, a replacement member and more rounds must work.
//!
//! `harness = false` (see `support`): children use only the barrier and the region's atomics,
//! then `_exit`; the parent checks every exit status and every report, never waits on the
//! barrier itself, and bounds every wait of its own. Regions are anonymous; every child is
//! killed and reaped by its `Child` guard if a case fails.

mod support;

use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::atomic::{AtomicU32, AtomicU64};
use std::time::{Duration, Instant};

use std::process::Command;

use pthread_sync::shm::{self, ShmBox, ShmSafe};
use pthread_sync::{BreakCause, Error, Member, SharedBarrier};
use support::Outcome::{self, Passed, Skipped};
use support::{fork_child, sleeps_in_futex, Case, Child, OneCpu, Rng};

/// How long survivors may take to be released after a member was killed.
const BOUND: Duration = Duration::from_secs(2);

/// How long any other step may take (a child's exit, a flag).
const STEP: Duration = Duration::from_secs(10);

const ROUNDS: usize = 1_000;
const SLOTS: usize = 8;

/// A child's report, in the region: what its wait ended with.
#[repr(C)]
struct Report {
    /// 0: nothing yet; 1: Ok; 2: broken (`kind`, `seat`, `pid` say why); 3: another error.
    state: AtomicU32,
    /// For a break: 1 a member died, 2 panicked, 3 aborted, 4 reset, 5 unknown.
    kind: AtomicU32,
    seat: AtomicU32,
    pid: AtomicU32,
}

impl Report {
    fn new() -> Report {
        Report {
            state: AtomicU32::new(0),
            kind: AtomicU32::new(0),
            seat: AtomicU32::new(0),
            pid: AtomicU32::new(0),
        }
    }

    /// Records a wait's result (no allocation: for children).
    fn record<T>(&self, result: &Result<T, Error>) {
        let state = match result {
            Ok(_) => 1,
            Err(Error::BarrierBroken(cause)) => {
                let (kind, seat, pid) = match *cause {
                    BreakCause::MemberDied { seat, pid } => (1, seat as u32, pid),
                    BreakCause::MemberPanicked { seat, pid } => (2, seat as u32, pid),
                    BreakCause::Aborted => (3, 0, 0),
                    BreakCause::Reset => (4, 0, 0),
                    _ => (5, 0, 0),
                };
                self.kind.store(kind, SeqCst);
                self.seat.store(seat, SeqCst);
                self.pid.store(pid, SeqCst);
                2
            }
            Err(_) => 3,
        };
        self.state.store(state, SeqCst);
    }

    /// The report, once there is one (bounded by `bound`).
    fn read(&self, bound: Duration, what: &str) -> (u32, u32, u32, u32) {
        let start = Instant::now();
        while self.state.load(SeqCst) == 0 {
            assert!(
                start.elapsed() < bound,
                "{what}: no report within {bound:?}"
            );
            std::thread::sleep(Duration::from_micros(200));
        }
        (
            self.state.load(SeqCst),
            self.kind.load(SeqCst),
            self.seat.load(SeqCst),
            self.pid.load(SeqCst),
        )
    }
}

/// A barrier of `N` and what the children report.
#[repr(C)]
struct Stage<const N: usize> {
    barrier: SharedBarrier<N>,
    /// Per round: arrivals counted before the wait, leaders after it.
    arrivals: [AtomicU32; ROUNDS],
    leaders: [AtomicU32; ROUNDS],
    /// Members that have joined (each child adds one once it holds its seat).
    joined: AtomicU32,
    /// Each child's seat, and rounds it completed.
    seat: [AtomicU32; SLOTS],
    rounds: [AtomicU64; SLOTS],
    /// Each child's first and second wait result.
    first: [Report; SLOTS],
    second: [Report; SLOTS],
    /// Survivors wait for it before carrying on after a break.
    go: AtomicU32,
    /// Leaders of the rounds after the break.
    leaders_after: AtomicU32,
}
// SAFETY: #[repr(C)], a shared barrier and atomics only.
unsafe impl<const N: usize> ShmSafe for Stage<N> {}

fn stage<const N: usize>() -> ShmBox<Stage<N>> {
    stage_with(SharedBarrier::new())
}

/// A stage around `barrier` (built by the caller: at run time, or in a `const`).
fn stage_with<const N: usize>(barrier: SharedBarrier<N>) -> ShmBox<Stage<N>> {
    ShmBox::anonymous(Stage {
        barrier,
        arrivals: std::array::from_fn(|_| AtomicU32::new(0)),
        leaders: std::array::from_fn(|_| AtomicU32::new(0)),
        joined: AtomicU32::new(0),
        seat: std::array::from_fn(|_| AtomicU32::new(u32::MAX)),
        rounds: std::array::from_fn(|_| AtomicU64::new(0)),
        first: std::array::from_fn(|_| Report::new()),
        second: std::array::from_fn(|_| Report::new()),
        go: AtomicU32::new(0),
        leaders_after: AtomicU32::new(0),
    })
    .unwrap()
}

/// Waits (bounded) until `word` reads at least `value`.
fn await_at_least(word: &AtomicU32, value: u32, what: &str) {
    let start = Instant::now();
    while word.load(SeqCst) < value {
        assert!(start.elapsed() < STEP, "{what}: never reached {value}");
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// Checks that `child` exits with 0 within `bound`, else fails (it is killed and reaped).
fn expect_exit(child: Child, bound: Duration, what: &str) {
    match child.wait_within(bound) {
        Ok(code) => assert_eq!(code, 0, "{what}: exit code"),
        Err(child) => {
            drop(child);
            panic!("{what}: still running after {bound:?} (hung; killed)");
        }
    }
}

fn await_futex_sleep(pid: libc::pid_t) {
    let start = Instant::now();
    while !sleeps_in_futex(pid) {
        assert!(start.elapsed() < STEP, "process {pid} never slept in futex");
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// A member that joins, records its seat, and completes `rounds` rounds (exit 0), or
/// records the first wait that failed (exit 0 if it was a break, 11 otherwise). `counted`:
/// every member of the run counts its arrivals in `arrivals` before each wait, so each checks
/// after it that all `N` arrived before anyone left, and leaders are counted per round in
/// `leaders`; otherwise they are counted in `leaders_after`.
fn member<const N: usize>(s: &Stage<N>, slot: usize, rounds: usize, counted: bool) -> i32 {
    let Ok(me) = s.barrier.join() else { return 10 };
    s.seat[slot].store(me.seat() as u32, SeqCst);
    s.joined.fetch_add(1, SeqCst);
    for r in 0..rounds {
        if counted {
            s.arrivals[r].fetch_add(1, SeqCst);
        }
        let result = me.wait();
        match result {
            Ok(res) if counted => {
                if res.is_leader() {
                    s.leaders[r].fetch_add(1, SeqCst);
                }
                if s.arrivals[r].load(SeqCst) != N as u32 {
                    return 12;
                }
            }
            Ok(res) => {
                if res.is_leader() {
                    s.leaders_after.fetch_add(1, SeqCst);
                }
            }
            Err(Error::BarrierBroken(_)) => {
                s.first[slot].record(&result);
                return 0;
            }
            Err(_) => {
                s.first[slot].record(&result);
                return 11;
            }
        }
        s.rounds[slot].fetch_add(1, SeqCst);
    }
    0
}

/// A survivor: waits round after round until one fails; records that result; then waits for
/// `go` and makes `after` more rounds (which must complete), counting their leaders.
fn survivor<const N: usize>(s: &Stage<N>, slot: usize, after: usize) -> i32 {
    let Ok(me) = s.barrier.join() else { return 10 };
    s.seat[slot].store(me.seat() as u32, SeqCst);
    s.joined.fetch_add(1, SeqCst);
    loop {
        let result = me.wait();
        if result.is_err() {
            s.first[slot].record(&result);
            break;
        }
        s.rounds[slot].fetch_add(1, SeqCst);
    }
    let start = Instant::now();
    while s.go.load(SeqCst) == 0 {
        if start.elapsed() > STEP {
            return 13;
        }
        // SAFETY: a plain system call.
        unsafe { libc::usleep(200) };
    }
    for _ in 0..after {
        match me.wait() {
            Ok(r) if r.is_leader() => {
                s.leaders_after.fetch_add(1, SeqCst);
            }
            Ok(_) => {}
            Err(_) => return 14,
        }
    }
    0
}

/// A member that joins, records its seat, and sleeps until killed: it never arrives.
fn absentee<const N: usize>(s: &Stage<N>, slot: usize) -> i32 {
    let Ok(me) = s.barrier.join() else { return 10 };
    s.seat[slot].store(me.seat() as u32, SeqCst);
    s.joined.fetch_add(1, SeqCst);
    loop {
        // SAFETY: sleeps; the parent kills this process here.
        unsafe { libc::pause() };
    }
}

/// Checks a report: broken because the member in `seat`, of process `pid`, died.
fn assert_died(report: (u32, u32, u32, u32), seat: u32, pid: libc::pid_t, what: &str) {
    assert_eq!(
        report,
        (2, 1, seat, pid as u32),
        "{what}: (state, kind, seat, pid) should say the member in seat {seat} (pid {pid}) died"
    );
}

/// 4 processes x 1 000 rounds: every round has all 4 arrivals before anyone leaves it, and
/// exactly one leader.
fn rounds_four_processes() -> Outcome {
    let region = stage::<4>();
    let s = &*region;
    let started = Instant::now();
    let children: Vec<Child> = (0..4)
        .map(|i| fork_child(|| member(s, i, ROUNDS, true)))
        .collect();
    for (i, child) in children.into_iter().enumerate() {
        expect_exit(child, STEP * 3, &format!("member {i}"));
    }
    let took = started.elapsed();
    for r in 0..ROUNDS {
        assert_eq!(s.arrivals[r].load(SeqCst), 4, "round {r}: arrivals");
        assert_eq!(s.leaders[r].load(SeqCst), 1, "round {r}: leaders");
    }
    assert!(!s.barrier.is_broken());
    eprintln!(
        "rounds_four_processes: {ROUNDS} rounds in {took:?} ({:.1} µs a round)",
        took.as_secs_f64() * 1e6 / ROUNDS as f64
    );
    Passed
}

/// Three members; two wait in the first round, the third never arrives and is `SIGKILL`ed:
/// both waiters are released with `MemberDied` naming it within [`BOUND`]. Then one survivor
/// (the parent, here) resets, a replacement joins the freed seat, and the three make 10 more
/// rounds.
fn member_killed_before_arriving() -> Outcome {
    let region = stage::<3>();
    let s = &*region;
    let a = fork_child(|| survivor(s, 0, 10));
    let b = fork_child(|| survivor(s, 1, 10));
    await_at_least(&s.joined, 2, "the survivors joining");
    let c = fork_child(|| absentee(s, 2));
    await_at_least(&s.joined, 3, "the absentee joining");
    await_futex_sleep(a.pid());
    await_futex_sleep(b.pid());
    let (victim, victim_seat) = (c.pid(), s.seat[2].load(SeqCst));
    c.kill_and_reap();
    let killed = Instant::now();
    for slot in 0..2 {
        let report = s.first[slot].read(BOUND, "a waiter of the broken round");
        assert_died(report, victim_seat, victim, &format!("survivor {slot}"));
    }
    let took = killed.elapsed();
    assert!(took < BOUND, "{took:?}");
    eprintln!("member_killed_before_arriving: both waiters released {took:?} after the kill");
    assert!(s.barrier.is_broken());
    assert_eq!((s.rounds[0].load(SeqCst), s.rounds[1].load(SeqCst)), (0, 0));

    s.barrier.reset();
    assert!(!s.barrier.is_broken());
    let replacement = fork_child(|| member(s, 3, 10, false));
    s.go.store(1, SeqCst);
    expect_exit(replacement, STEP, "the replacement");
    assert_eq!(
        s.seat[3].load(SeqCst),
        victim_seat,
        "the dead member's seat"
    );
    expect_exit(a, STEP, "survivor 0");
    expect_exit(b, STEP, "survivor 1");
    assert_eq!(s.rounds[3].load(SeqCst), 10);
    assert_eq!(
        s.leaders_after.load(SeqCst),
        10,
        "one leader a round after the reset"
    );
    Passed
}

/// A child that joins, waits until `go` reaches `go_at`, then waits twice (the second time
/// only if the first completed), recording both.
fn two_waits<const N: usize>(s: &Stage<N>, slot: usize, go_at: u32) -> i32 {
    let Ok(me) = s.barrier.join() else { return 10 };
    s.seat[slot].store(me.seat() as u32, SeqCst);
    s.joined.fetch_add(1, SeqCst);
    let start = Instant::now();
    while s.go.load(SeqCst) < go_at {
        if start.elapsed() > STEP {
            return 13;
        }
        // SAFETY: a plain system call.
        unsafe { libc::usleep(100) };
    }
    let first = me.wait();
    s.first[slot].record(&first);
    if first.is_ok() {
        let second = me.wait();
        s.second[slot].record(&second);
    }
    0
}

/// Three members join; one arrives, sleeps in its wait, and is `SIGKILL`ed; then the two
/// others arrive, together (`late` = false) or one 100 ms after the other (`late`: the first
/// has polled and broken the round by then). Its arrival can complete the round it died in,
/// never the next: the survivors agree on the first round (both completed, or both broken)
/// and, if it completed, both get the break in the second; every break names the dead member
/// and comes within [`BOUND`] of the kill. The round the break came in.
fn killed_while_waiting(late: bool) -> u32 {
    let region = stage::<3>();
    let s = &*region;
    let b = fork_child(|| two_waits(s, 1, 1));
    let c = fork_child(|| two_waits(s, 2, 2));
    await_at_least(&s.joined, 2, "the survivors joining");
    let victim = fork_child(|| two_waits(s, 0, 0));
    await_at_least(&s.joined, 3, "the victim joining");
    await_futex_sleep(victim.pid());
    let (pid, seat) = (victim.pid(), s.seat[0].load(SeqCst));
    victim.kill_and_reap();
    let killed = Instant::now();
    s.go.store(1, SeqCst);
    if late {
        std::thread::sleep(Duration::from_millis(100));
    }
    s.go.store(2, SeqCst);
    expect_exit(b, BOUND + Duration::from_millis(200), "survivor 1");
    expect_exit(c, BOUND, "survivor 2");
    let took = killed.elapsed();
    let what = if late { "one late" } else { "together" };
    let (b1, c1) = (
        s.first[1].read(STEP, "survivor 1"),
        s.first[2].read(STEP, "survivor 2"),
    );
    assert_eq!(
        b1.0, c1.0,
        "{what}: the survivors disagree on the first round"
    );
    let broken_in = if b1.0 == 1 {
        assert!(
            !late,
            "the first survivor should have broken the round before the second came"
        );
        let b2 = s.second[1].read(STEP, "survivor 1, second round");
        let c2 = s.second[2].read(STEP, "survivor 2, second round");
        assert_died(b2, seat, pid, "survivor 1, second round");
        assert_died(c2, seat, pid, "survivor 2, second round");
        2
    } else {
        assert_died(b1, seat, pid, "survivor 1");
        assert_died(c1, seat, pid, "survivor 2");
        1
    };
    eprintln!(
        "killed_while_waiting ({what}): broken in round {broken_in}, survivors out {took:?} \
         after the kill"
    );
    broken_in
}

fn member_killed_while_waiting() -> Outcome {
    let rounds: Vec<u32> = (0..5).map(|_| killed_while_waiting(false)).collect();
    eprintln!(
        "member_killed_while_waiting: the others arriving together, broken in rounds {rounds:?}"
    );
    assert_eq!(killed_while_waiting(true), 1);
    Passed
}

/// 20 rounds: three members loop through rounds; one of them (`victims` of them, at random
/// moments close together) is `SIGKILL`ed after a random number of rounds (on odd rounds all
/// share one CPU). The survivors are released within [`BOUND`], all with the same cause,
/// naming a dead member; then a reset, a fresh member in each freed seat, and 10 rounds work.
fn killed_at_random(case: &str, victims: usize) {
    const N: usize = 4;
    let mut rng = Rng::new(case);
    let mut latencies = Vec::new();
    let (mut asleep, mut running) = (0, 0);
    for round in 0..20 {
        let region = stage::<N>();
        let s = &*region;
        let pinned = OneCpu::pin_if(round % 2 == 1);
        let mut children: Vec<Option<Child>> = (0..N)
            .map(|i| Some(fork_child(move || survivor(s, i, 10))))
            .collect();
        await_at_least(&s.joined, N as u32, "members joining");
        let total = || s.rounds[..N].iter().map(|r| r.load(Relaxed)).sum::<u64>();
        let target = 1 + rng.below(4_000);
        let start = Instant::now();
        while total() < target {
            assert!(start.elapsed() < STEP, "round {round}: the rounds stalled");
            if pinned.is_some() {
                std::thread::sleep(Duration::from_micros(50));
            } else {
                std::hint::spin_loop();
            }
        }
        let mut dead = Vec::new();
        for (v, child) in children.iter_mut().enumerate().take(victims) {
            let child = child.take().unwrap();
            dead.push((child.pid(), s.seat[v].load(SeqCst)));
            if sleeps_in_futex(child.pid()) {
                asleep += 1;
            } else {
                running += 1;
            }
            child.kill_and_reap();
        }
        let killed = Instant::now();
        drop(pinned);
        let mut cause = None;
        for slot in victims..N {
            let report = s.first[slot].read(BOUND, &format!("round {round}: survivor {slot}"));
            assert_eq!(
                report.0, 2,
                "round {round}: survivor {slot} not broken: {report:?}"
            );
            assert_eq!(report.1, 1, "round {round}: not a death: {report:?}");
            assert!(
                dead.iter()
                    .any(|&(pid, seat)| (report.2, report.3) == (seat, pid as u32)),
                "round {round}: survivor {slot} names seat {} pid {}, not a dead member {dead:?}",
                report.2,
                report.3
            );
            assert!(
                cause.is_none_or(|c| c == report),
                "round {round}: survivors disagree"
            );
            cause = Some(report);
        }
        latencies.push(killed.elapsed());
        assert!(s.barrier.is_broken());
        s.barrier.reset();
        let fresh: Vec<Child> = (0..victims)
            .map(|v| fork_child(move || member(s, SLOTS - 1 - v, 10, false)))
            .collect();
        s.go.store(1, SeqCst);
        for (i, child) in fresh.into_iter().enumerate() {
            expect_exit(child, STEP, &format!("round {round}: replacement {i}"));
        }
        for (slot, child) in children.into_iter().enumerate().skip(victims) {
            expect_exit(
                child.unwrap(),
                STEP,
                &format!("round {round}: survivor {slot}"),
            );
        }
        assert_eq!(
            s.leaders_after.load(SeqCst),
            10,
            "round {round}: leaders after the reset"
        );
    }
    latencies.sort();
    eprintln!(
        "{case}: survivors released after the kill in {:?} (median), {:?} (max); of the \
         kills, {asleep} hit a member asleep in its wait, {running} one running (spinning in \
         a wait, arriving, leading, or between rounds)",
        latencies[latencies.len() / 2],
        latencies[latencies.len() - 1]
    );
}

fn member_killed_at_random() -> Outcome {
    killed_at_random("member_killed_at_random", 1);
    Passed
}

fn two_members_killed_at_random() -> Outcome {
    killed_at_random("two_members_killed_at_random", 2);
    Passed
}

/// `SharedBarrier::new` is a `const fn`: a barrier built in a `const` works once placed in a
/// region (3 processes x 1 000 rounds, one leader each; then a member killed before
/// arriving is reported to the others, a reset and a replacement carry on), and one in a
/// `static` (never in a region) refuses to be joined.
fn a_const_built_barrier_works_when_placed() -> Outcome {
    // The point: a value built at compile time (used once, so never duplicated by mistake).
    #[allow(clippy::declare_interior_mutable_const)]
    const FRESH: SharedBarrier<3> = SharedBarrier::new();
    static OUTSIDE: SharedBarrier<3> = SharedBarrier::new();
    assert_eq!(OUTSIDE.join().unwrap_err(), Error::NotInRegion);
    assert!(!OUTSIDE.is_broken());
    assert_eq!(OUTSIDE.parties(), 3);

    let region = stage_with(FRESH);
    let s = &*region;
    let children: Vec<Child> = (0..3)
        .map(|i| fork_child(|| member(s, i, ROUNDS, true)))
        .collect();
    for (i, child) in children.into_iter().enumerate() {
        expect_exit(child, STEP * 3, &format!("member {i}"));
    }
    for r in 0..ROUNDS {
        assert_eq!(s.arrivals[r].load(SeqCst), 3, "round {r}: arrivals");
        assert_eq!(s.leaders[r].load(SeqCst), 1, "round {r}: leaders");
    }

    // The seats' mutexes were armed in place by those members: a death is seen through them.
    let before = s.joined.load(SeqCst);
    let a = fork_child(|| survivor(s, 0, 10));
    let b = fork_child(|| survivor(s, 1, 10));
    let dead = fork_child(|| absentee(s, 2));
    await_at_least(&s.joined, before + 3, "three members joined");
    let dead_pid = dead.pid();
    let dead_seat = s.seat[2].load(SeqCst);
    dead.kill_and_reap();
    for (slot, what) in [(0, "survivor a"), (1, "survivor b")] {
        assert_died(s.first[slot].read(BOUND, what), dead_seat, dead_pid, what);
    }
    s.barrier.reset();
    let replacement = fork_child(|| member(s, 2, 10, false));
    s.go.store(1, SeqCst);
    for (child, what) in [
        (a, "survivor a"),
        (b, "survivor b"),
        (replacement, "replacement"),
    ] {
        expect_exit(child, STEP, what);
    }
    assert_eq!(
        s.leaders_after.load(SeqCst),
        10,
        "one leader a round after the reset"
    );
    Passed
}

// ---- A C program in the same barrier. ----

/// Rounds of the first and of the second run of rounds with the C member.
const C_ROUNDS_A: usize = 1_000;
const C_ROUNDS_B: usize = 10;
const C_ROUNDS: usize = C_ROUNDS_A + C_ROUNDS_B;

/// The fingerprint Rust and the C peer agree on for `BarrierForC`.
const BARRIER_FOR_C_FINGERPRINT: u64 = 0x7073_796e_635f_6272;

/// What Rust and the C member share (the C program declares the same struct).
#[repr(C)]
struct BarrierForC {
    barrier: SharedBarrier<2>,
    /// Per round: arrivals counted before the wait, leaders after it.
    arrivals: [AtomicU32; C_ROUNDS],
    led: [AtomicU32; C_ROUNDS],
    /// The break the C member saw: 1 once seen, then the cause word's kind, seat and pid.
    c_broke: AtomicU32,
    c_kind: AtomicU32,
    c_seat: AtomicU32,
    c_pid: AtomicU32,
    /// 1 once the C member has reset the barrier; set by Rust when the rounds go on; 1 once
    /// the C member holds its seat and will never arrive again.
    c_reset: AtomicU32,
    go: AtomicU32,
    c_idle: AtomicU32,
    /// The Rust child member that dies: its seat, and 1 once it has joined.
    child_seat: AtomicU32,
    child_joined: AtomicU32,
}
// SAFETY: #[repr(C)], a shared barrier and atomics; the fingerprint names this layout only.
unsafe impl ShmSafe for BarrierForC {
    const FINGERPRINT: Option<u64> = Some(BARRIER_FOR_C_FINGERPRINT);
}

/// The C member: the documented declarations and steps (arming a seat, join, wait with the
/// poll for dead members, break, reset), a simplified arming (a dead claimer is one that
/// `kill(pid, 0)` says is gone).
const C_BARRIER_PEER: &str = r#"
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ROUNDS_A 1000
#define ROUNDS_B 10
#define ROUNDS (ROUNDS_A + ROUNDS_B)
#define SEQ __ATOMIC_SEQ_CST
#define COUNT_MASK ((1ull << 22) - 1)
#define BROKEN (1ull << 22)
#define FIELD ((1ull << 22) - 1)
#define EPOCH(s) ((uint32_t) (((s) >> 23) & 511))
#define ROUNDS_OF(s) ((uint32_t) ((s) >> 32))

struct bar_value {
    struct shared_barrier_2 barrier;
    uint32_t arrivals[ROUNDS], led[ROUNDS];
    uint32_t c_broke, c_kind, c_seat, c_pid, c_reset, go, c_idle, child_seat, child_joined;
};
struct bar_region { struct psync_header h; struct bar_value v; };

/* "Arming": a robust, process-shared, normal mutex, as a SharedLocker's. */
static int arm(uint32_t *word, pthread_mutex_t *m) {
    for (int tries = 0; tries < 1000; tries++) {
        uint32_t seen = __atomic_load_n(word, __ATOMIC_ACQUIRE);
        if (seen == 1) return 0;
        if (seen != 0 && !(seen & 0x80000000u)) return -1;
        int dead = seen != 0 && kill((pid_t) (seen & 0x7fffffffu), 0) != 0 && errno == ESRCH;
        if (seen != 0 && !dead) { usleep(1000); continue; }
        uint32_t claim = 0x80000000u | (uint32_t) getpid();
        if (!__atomic_compare_exchange_n(word, &seen, claim, 0, __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE))
            continue;
        pthread_mutexattr_t a;
        pthread_mutexattr_init(&a);
        pthread_mutexattr_settype(&a, PTHREAD_MUTEX_NORMAL);
        pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
        pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
        pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_NONE);
        int e = pthread_mutex_init(m, &a);
        pthread_mutexattr_destroy(&a);
        __atomic_store_n(word, e == 0 ? 1u : 0u, __ATOMIC_RELEASE);
        return e == 0 ? 0 : -1;
    }
    return -1;
}

static void wake_all(struct shared_barrier_2 *b) {
    uint32_t w = __atomic_load_n(&b->futex, SEQ);
    while (!__atomic_compare_exchange_n(&b->futex, &w, (w | 1) + 1, 0, SEQ, SEQ)) {}
    if (w & 1) syscall(SYS_futex, &b->futex, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

static void record(struct shared_barrier_2 *b, uint32_t epoch, uint64_t kind, uint64_t seat,
                   uint64_t pid) {
    uint64_t word = __atomic_load_n(&b->cause, SEQ);
    uint64_t mine = (epoch + 1) | kind << 10 | (seat & FIELD) << 13 | (pid & FIELD) << 35;
    while ((word & 1023) != epoch + 1)
        if (__atomic_compare_exchange_n(&b->cause, &word, mine, 0, SEQ, SEQ)) return;
}

static void break_barrier(struct shared_barrier_2 *b, uint64_t seat, uint64_t pid) {
    uint64_t s = __atomic_load_n(&b->state, SEQ);
    while (!(s & BROKEN)) {
        record(b, EPOCH(s), 1, seat, pid);
        if (__atomic_compare_exchange_n(&b->state, &s, s | BROKEN, 0, SEQ, SEQ)) {
            wake_all(b);
            return;
        }
    }
}

/* The seat taken, or -1. */
static int join(struct shared_barrier_2 *b) {
    for (int i = 0; i < 2; i++) {
        struct shared_barrier_seat *seat = &b->seats[i];
        if (arm(&seat->arming, &seat->mutex) != 0) return -1;
        int e = pthread_mutex_trylock(&seat->mutex);
        if (e == EBUSY || e == ENOTRECOVERABLE) continue;
        if (e == EOWNERDEAD) {
            uint32_t pid = __atomic_load_n(&seat->pid, SEQ);
            if (pid != 0) break_barrier(b, i, pid);
            if (pthread_mutex_consistent(&seat->mutex) != 0) {
                pthread_mutex_unlock(&seat->mutex);
                return -1;
            }
        } else if (e != 0) {
            return -1;
        }
        __atomic_store_n(&seat->pid, (uint32_t) getpid(), SEQ);
        return i;
    }
    return -1;
}

/* The other taken seats: a dead member breaks the barrier. */
static void look_at_seats(struct shared_barrier_2 *b, int me) {
    for (int i = 0; i < 2; i++) {
        struct shared_barrier_seat *seat = &b->seats[i];
        if (i == me || __atomic_load_n(&seat->pid, SEQ) == 0) continue;
        int e = pthread_mutex_trylock(&seat->mutex);
        if (e != 0 && e != EOWNERDEAD) continue;
        uint32_t pid = __atomic_load_n(&seat->pid, SEQ);
        if (pid != 0) break_barrier(b, i, pid);
        if (e == EOWNERDEAD) pthread_mutex_consistent(&seat->mutex);
        pthread_mutex_unlock(&seat->mutex);
        if (pid != 0) return;
    }
}

/* One arrival and its wait: 1 the leader, 0 completed, -1 broken. */
static int wait_round(struct shared_barrier_2 *b, int me) {
    uint64_t s = __atomic_load_n(&b->state, SEQ);
    uint32_t g, e;
    for (;;) {
        if (s & BROKEN) return -1;
        if ((s & COUNT_MASK) + 1 >= b->parties) {
            uint64_t next = (s & ~(COUNT_MASK | 0xffffffff00000000ull))
                | (uint64_t) (ROUNDS_OF(s) + 1) << 32;
            if (__atomic_compare_exchange_n(&b->state, &s, next, 0, SEQ, SEQ)) {
                wake_all(b);
                return 1;
            }
            continue;
        }
        if (__atomic_compare_exchange_n(&b->state, &s, s + 1, 0, SEQ, SEQ)) {
            g = ROUNDS_OF(s);
            e = EPOCH(s);
            break;
        }
    }
    for (;;) {
        uint32_t w = __atomic_or_fetch(&b->futex, 1, SEQ);
        uint64_t now = __atomic_load_n(&b->state, SEQ);
        if (ROUNDS_OF(now) != g) return 0;
        if (EPOCH(now) != e || (now & BROKEN)) return -1;
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        t.tv_nsec += 20000000;
        if (t.tv_nsec >= 1000000000) { t.tv_sec++; t.tv_nsec -= 1000000000; }
        long r = syscall(SYS_futex, &b->futex, FUTEX_WAIT_BITSET, w, &t, NULL,
                         FUTEX_BITSET_MATCH_ANY);
        if (r == -1 && errno == ETIMEDOUT) look_at_seats(b, me);
    }
}

static void reset(struct shared_barrier_2 *b, int me) {
    for (int i = 0; i < 2; i++) {
        struct shared_barrier_seat *seat = &b->seats[i];
        if (i == me || __atomic_load_n(&seat->pid, SEQ) == 0) continue;
        int e = pthread_mutex_trylock(&seat->mutex);
        if (e != 0 && e != EOWNERDEAD) continue;
        __atomic_store_n(&seat->pid, 0, SEQ);
        if (e == EOWNERDEAD) pthread_mutex_consistent(&seat->mutex);
        pthread_mutex_unlock(&seat->mutex);
    }
    uint64_t s = __atomic_load_n(&b->state, SEQ);
    for (;;) {
        if (!(s & BROKEN) && (s & COUNT_MASK) != 0) record(b, EPOCH(s), 4, 0, 0);
        uint64_t next = (uint64_t) ROUNDS_OF(s) << 32 | (uint64_t) ((EPOCH(s) + 1) % 512) << 23;
        if (__atomic_compare_exchange_n(&b->state, &s, next, 0, SEQ, SEQ)) {
            wake_all(b);
            return;
        }
    }
}

/* Rounds `from..to`: arrivals counted, all there after each wait, one leader. */
static int rounds(struct bar_value *v, int me, int from, int to) {
    for (int r = from; r < to; r++) {
        __atomic_add_fetch(&v->arrivals[r], 1, SEQ);
        int x = wait_round(&v->barrier, me);
        if (x < 0) return 31;
        if (__atomic_load_n(&v->arrivals[r], SEQ) != 2) return 32;
        if (x == 1) __atomic_add_fetch(&v->led[r], 1, SEQ);
    }
    return 0;
}

static int await_flag(uint32_t *flag) {
    for (int i = 0; i < 10000; i++) {
        if (__atomic_load_n(flag, SEQ) != 0) return 0;
        usleep(1000);
    }
    return -1;
}

int main(int argc, char **argv) {
    if (argc != 3) return 2;
    if (sizeof(struct bar_value) != (size_t) atol(argv[2])) return 3;
    int fd = shm_open(argv[1], O_RDWR, 0);
    if (fd < 0) return 4;
    struct bar_region *r = mmap(NULL, sizeof *r, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (r == MAP_FAILED) return 5;
    if (__atomic_load_n(&r->h.init_state, __ATOMIC_ACQUIRE) != 2
        || r->h.data_size != sizeof(struct bar_value) || r->h.data_offset != 64
        || r->h.fingerprint != FINGERPRINT) return 6;
    struct bar_value *v = &r->v;
    struct shared_barrier_2 *b = &v->barrier;
    if (b->parties != 2) return 7;
    int me = join(b);
    if (me != 1) return 8; /* Rust holds seat 0 */
    int e = rounds(v, me, 0, ROUNDS_A);
    if (e != 0) return e;
    /* A Rust member in seat 0 dies while this one waits: found by the poll. */
    if (wait_round(b, me) != -1) return 9;
    uint64_t s = __atomic_load_n(&b->state, SEQ);
    uint64_t cause = __atomic_load_n(&b->cause, SEQ);
    if ((cause & 1023) != EPOCH(s) + 1) return 10;
    __atomic_store_n(&v->c_kind, (uint32_t) (cause >> 10 & 7), SEQ);
    __atomic_store_n(&v->c_seat, (uint32_t) (cause >> 13 & FIELD), SEQ);
    __atomic_store_n(&v->c_pid, (uint32_t) (cause >> 35 & FIELD), SEQ);
    __atomic_store_n(&v->c_broke, 1, SEQ);
    reset(b, me);
    if (__atomic_load_n(&b->seats[0].pid, SEQ) != 0) return 11;
    __atomic_store_n(&v->c_reset, 1, SEQ);
    if (await_flag(&v->go) != 0) return 12;
    e = rounds(v, me, ROUNDS_A, ROUNDS);
    if (e != 0) return e;
    /* Holding the seat, never arriving again: killed by the Rust side. */
    __atomic_store_n(&v->c_idle, 1, SEQ);
    for (;;) pause();
}
"#;

/// A C program built from the documented declarations and steps is a member of the same
/// barrier as this process: 1 000 rounds together (every arrival before anyone leaves, one
/// leader a round); a Rust member killed while the C one waits is found by the C side's
/// poll, which breaks the barrier naming it and resets it; 10 more rounds; then the C member
/// is killed holding its seat and this process's wait is broken naming it, within the bound.
fn a_c_program_shares_the_barrier() -> Outcome {
    if Command::new("cc").arg("--version").output().is_err() {
        return Skipped("no C compiler (`cc`) on this machine");
    }
    let dir = std::env::temp_dir().join(format!("pthread-sync-barrier-c-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    struct Cleanup(std::path::PathBuf, String);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
            let _ = shm::unlink(&self.1);
        }
    }
    let name = format!("/pthread-sync-barrier-c-{}", std::process::id());
    let _ = shm::unlink(&name);
    let _cleanup = Cleanup(dir.clone(), name.clone());
    let source = dir.join("barrier_peer.c");
    let binary = dir.join("barrier_peer");
    std::fs::write(
        &source,
        format!(
            "#define _GNU_SOURCE\n#include <errno.h>\n#include <time.h>\n{}\n{}\n\
             #define FINGERPRINT {BARRIER_FOR_C_FINGERPRINT:#x}ull\n{C_BARRIER_PEER}",
            support::shm_docs_c_block(None),
            support::shm_docs_c_block(Some("//! ## The barrier, from C")),
        ),
    )
    .unwrap();
    let built = support::cc(&source, &binary).unwrap();
    assert!(
        built.status.success(),
        "cc failed: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    let region = ShmBox::create(
        &name,
        0o600,
        BarrierForC {
            barrier: SharedBarrier::new(),
            arrivals: std::array::from_fn(|_| AtomicU32::new(0)),
            led: std::array::from_fn(|_| AtomicU32::new(0)),
            c_broke: AtomicU32::new(0),
            c_kind: AtomicU32::new(0),
            c_seat: AtomicU32::new(0),
            c_pid: AtomicU32::new(0),
            c_reset: AtomicU32::new(0),
            go: AtomicU32::new(0),
            c_idle: AtomicU32::new(0),
            child_seat: AtomicU32::new(u32::MAX),
            child_joined: AtomicU32::new(0),
        },
    )
    .unwrap();
    let v = &*region;
    let me = v.barrier.join().unwrap();
    assert_eq!(me.seat(), 0);
    let mut peer = Command::new(&binary)
        .arg(&name)
        .arg(std::mem::size_of::<BarrierForC>().to_string())
        .spawn()
        .unwrap();
    struct Reap<'a>(&'a mut std::process::Child);
    impl Drop for Reap<'_> {
        fn drop(&mut self) {
            if self.0.try_wait().ok().flatten().is_none() {
                let _ = self.0.kill();
                let _ = self.0.wait();
            }
        }
    }
    let c_pid = peer.id();
    let peer = Reap(&mut peer);
    let mut peer = peer;
    fn c_failed(peer: &mut Reap<'_>) -> String {
        match peer.0.try_wait().unwrap() {
            Some(status) => format!("the C member exited: {status:?}"),
            None => "the C member is still running".to_string(),
        }
    }
    fn together(v: &BarrierForC, me: &Member<'_, 2>, from: usize, to: usize, peer: &mut Reap<'_>) {
        for r in from..to {
            v.arrivals[r].fetch_add(1, SeqCst);
            match me.wait_timeout(STEP) {
                Ok(res) => {
                    assert_eq!(v.arrivals[r].load(SeqCst), 2, "round {r}: left early");
                    if res.is_leader() {
                        v.led[r].fetch_add(1, SeqCst);
                    }
                }
                Err(e) => panic!("round {r} with the C member: {e}; {}", c_failed(peer)),
            }
        }
    }
    together(v, &me, 0, C_ROUNDS_A, &mut peer);

    // A Rust member dies while the C member waits: the C side's poll breaks the barrier.
    drop(me);
    let s = &*region;
    let child = fork_child(|| {
        let Ok(m) = s.barrier.join() else { return 10 };
        s.child_seat.store(m.seat() as u32, SeqCst);
        s.child_joined.store(1, SeqCst);
        loop {
            // SAFETY: sleeps holding the seat until the parent kills this process.
            unsafe { libc::pause() };
        }
    });
    await_at_least(&v.child_joined, 1, "the Rust child joining");
    assert_eq!(v.child_seat.load(SeqCst), 0, "the seat this process left");
    await_futex_sleep(c_pid as libc::pid_t);
    let child_pid = child.pid();
    child.kill_and_reap();
    let killed = Instant::now();
    let start = Instant::now();
    while v.c_broke.load(SeqCst) == 0 {
        assert!(
            start.elapsed() < BOUND,
            "the C member did not see the break within {BOUND:?}; {}",
            c_failed(&mut peer)
        );
        std::thread::sleep(Duration::from_micros(200));
    }
    let c_took = killed.elapsed();
    assert_eq!(
        (
            v.c_kind.load(SeqCst),
            v.c_seat.load(SeqCst),
            v.c_pid.load(SeqCst)
        ),
        (1, 0, child_pid as u32),
        "the C member's cause: the Rust child's death in seat 0"
    );
    await_at_least(&v.c_reset, 1, "the C member's reset");
    assert!(!v.barrier.is_broken(), "reset by the C member");

    // The seat the C reset freed; 10 more rounds together.
    let me = v.barrier.join().unwrap();
    assert_eq!(me.seat(), 0);
    v.go.store(1, SeqCst);
    together(v, &me, C_ROUNDS_A, C_ROUNDS, &mut peer);
    await_at_least(&v.c_idle, 1, "the C member going idle");
    for r in 0..C_ROUNDS {
        assert_eq!(v.arrivals[r].load(SeqCst), 2, "round {r}: arrivals");
        assert_eq!(v.led[r].load(SeqCst), 1, "round {r}: leaders");
    }

    // The C member is killed holding its seat while this process waits.
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        // SAFETY: the C member is this process's unreaped child: its pid is its own.
        unsafe { libc::kill(c_pid as libc::pid_t, libc::SIGKILL) };
        Instant::now()
    });
    let result = me.wait_timeout(BOUND + Duration::from_millis(50));
    let returned = Instant::now();
    let c_killed = killer.join().unwrap();
    assert_eq!(
        result.map(|r| r.is_leader()),
        Err(Error::BarrierBroken(BreakCause::MemberDied {
            seat: 1,
            pid: c_pid
        })),
        "this process's wait after the C member's death"
    );
    let rust_took = returned.duration_since(c_killed);
    assert!(rust_took < BOUND, "{rust_took:?}");
    let status = peer.0.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGKILL),
        "the C member: {status:?}"
    );
    eprintln!(
        "a_c_program_shares_the_barrier: {C_ROUNDS} rounds with the C member; the C member \
         saw the Rust member's death {c_took:?} after the kill, this process the C member's \
         {rust_took:?} after it"
    );
    Passed
}

fn main() {
    let cases: &[Case] = &[
        ("rounds_four_processes", rounds_four_processes),
        (
            "member_killed_before_arriving",
            member_killed_before_arriving,
        ),
        ("member_killed_while_waiting", member_killed_while_waiting),
        ("member_killed_at_random", member_killed_at_random),
        ("two_members_killed_at_random", two_members_killed_at_random),
        (
            "a_const_built_barrier_works_when_placed",
            a_const_built_barrier_works_when_placed,
        ),
        (
            "a_c_program_shares_the_barrier",
            a_c_program_shares_the_barrier,
        ),
    ];
    support::run(cases);
}
