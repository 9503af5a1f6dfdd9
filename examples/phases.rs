//! Processes stepping through phases together on a `SharedBarrier`; one of them is killed;
//! the break is reported to every survivor; a supervisor repairs the barrier and replaces the
//! dead member; the survivors carry on.
//!
//! ```sh
//! cargo run --example phases [-- PHASES]
//! ```
//!
//! The parent (the supervisor) puts a `SharedBarrier<4>` in an anonymous region and forks 4
//! workers. In each phase, every worker computes its part of the phase and records it, then
//! waits at the barrier; the round's leader checks that all 4 parts of the phase are there.
//! In phase 3, worker 2 stops before it arrives (as if it hung), and the supervisor
//! `SIGKILL`s it. The other three, waiting in phase 3, are released within ~20 ms with
//! `Error::BarrierBroken(BreakCause::MemberDied { .. })`, naming the dead member's seat and
//! pid. The supervisor waits until all three have seen the break, calls `reset()` (which
//! frees the dead member's seat), and forks a replacement worker 2, which joins the freed
//! seat and redoes phase 3; the survivors wait in phase 3 again, and the four go on to the
//! end. Recording a part is idempotent (one slot per worker and phase), so a phase that is
//! redone counts each part once.
//!
//! Workers use only the region's atomics and the barrier, then leave with `_exit`; the
//! supervisor bounds every wait of its own and kills every child if one passes.

use std::process::ExitCode;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::atomic::{AtomicU32, AtomicU64};
use std::time::{Duration, Instant};

use pthread_sync::shm::{ShmBox, ShmSafe};
use pthread_sync::{BreakCause, Error, SharedBarrier};

const WORKERS: usize = 4;
const MAX_PHASES: usize = 64;
/// The phase in which worker `VICTIM` stops before arriving.
const STALL_PHASE: usize = 3;
const VICTIM: usize = 2;
const BOUND: Duration = Duration::from_secs(10);

#[repr(C)]
struct Phases {
    barrier: SharedBarrier<WORKERS>,
    phases: AtomicU32,
    /// Per phase and worker: its part (0 until recorded).
    parts: [[AtomicU64; WORKERS]; MAX_PHASES],
    /// Per phase: how many leaders found all its parts there (must end at 1 each).
    checked: [AtomicU32; MAX_PHASES],
    /// Per phase: a leader found a part missing.
    missing: AtomicU32,
    /// The victim has stopped (it is about to sleep instead of arriving).
    stalled: AtomicU32,
    /// Survivors that have seen the break, and what it said (seat, pid) per worker.
    saw_break: AtomicU32,
    cause: [[AtomicU32; 2]; WORKERS],
    /// Raised by the supervisor once the barrier is reset: the survivors wait again.
    repaired: AtomicU32,
}
// SAFETY: #[repr(C)]; a shared barrier and atomics: no pointers, no Drop.
unsafe impl ShmSafe for Phases {}

/// Worker `id`'s part of `phase`: a little work.
fn part(phase: usize, id: usize) -> u64 {
    let seed = (phase * WORKERS + id + 1) as u64;
    (0..20_000u64).fold(seed, |acc, i| {
        acc.wrapping_mul(6364136223846793005).wrapping_add(i)
    }) | 1
}

/// Leaves a worker process at once (no unwinding, no destructors).
fn exit_now(code: i32) -> ! {
    // SAFETY: ends this process immediately.
    unsafe { libc::_exit(code) }
}

/// A worker: phases `from..` of `s.phases`; worker `VICTIM` (the first of its name) stops in
/// `STALL_PHASE` before arriving.
fn worker(s: &Phases, id: usize, from: usize, stall: bool) -> ! {
    let Ok(me) = s.barrier.join() else {
        exit_now(10)
    };
    for phase in from..s.phases.load(SeqCst) as usize {
        s.parts[phase][id].store(part(phase, id), SeqCst);
        if stall && phase == STALL_PHASE {
            s.stalled.store(1, SeqCst);
            loop {
                // SAFETY: sleeps until killed.
                unsafe { libc::pause() };
            }
        }
        loop {
            match me.wait() {
                Ok(round) => {
                    if round.is_leader() {
                        if s.parts[phase].iter().all(|p| p.load(SeqCst) != 0) {
                            s.checked[phase].fetch_add(1, SeqCst);
                        } else {
                            s.missing.fetch_add(1, SeqCst);
                        }
                    }
                    break;
                }
                Err(Error::BarrierBroken(cause)) => {
                    if let BreakCause::MemberDied { seat, pid } = cause {
                        s.cause[id][0].store(seat as u32, SeqCst);
                        s.cause[id][1].store(pid, SeqCst);
                    }
                    let seen = s.repaired.load(SeqCst);
                    s.saw_break.fetch_add(1, SeqCst);
                    // Wait for the supervisor's repair, then wait in this phase again.
                    let start = Instant::now();
                    while s.repaired.load(SeqCst) == seen {
                        if start.elapsed() > BOUND {
                            exit_now(11);
                        }
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
                Err(_) => exit_now(12),
            }
        }
    }
    drop(me);
    exit_now(0)
}

fn spawn(s: &Phases, id: usize, from: usize, stall: bool) -> libc::pid_t {
    // SAFETY: this process is single-threaded; the child runs `worker`, which uses only the
    // region and the barrier, and leaves with `_exit`.
    match unsafe { libc::fork() } {
        -1 => panic!("fork failed"),
        0 => worker(s, id, from, stall),
        pid => pid,
    }
}

/// Kills and reaps every child still running (on a failure).
fn kill_all(pids: &[libc::pid_t]) {
    for &pid in pids {
        // SAFETY: our unreaped children: kill, then reap.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, std::ptr::null_mut(), 0);
        }
    }
}

/// Waits (bounded) until `done()`; on a timeout, kills `pids` and says what stalled.
fn await_or_fail(done: impl Fn() -> bool, pids: &[libc::pid_t], what: &str) -> Result<(), String> {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > BOUND {
            kill_all(pids);
            return Err(format!("phases: {what} did not happen within {BOUND:?}"));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

fn run(phases: usize) -> Result<(), String> {
    let region = ShmBox::anonymous(Phases {
        barrier: SharedBarrier::new(),
        phases: AtomicU32::new(phases as u32),
        parts: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
        checked: std::array::from_fn(|_| AtomicU32::new(0)),
        missing: AtomicU32::new(0),
        stalled: AtomicU32::new(0),
        saw_break: AtomicU32::new(0),
        cause: std::array::from_fn(|_| [AtomicU32::new(0), AtomicU32::new(0)]),
        repaired: AtomicU32::new(0),
    })
    .map_err(|e| format!("phases: a shared region: {e}"))?;
    let s = &*region;
    let mut pids: Vec<libc::pid_t> = (0..WORKERS)
        .map(|id| spawn(s, id, 0, id == VICTIM))
        .collect();
    println!(
        "{WORKERS} workers, {phases} phases; worker {VICTIM} will stop in phase {STALL_PHASE}"
    );

    await_or_fail(|| s.stalled.load(SeqCst) == 1, &pids, "the stall")?;
    std::thread::sleep(Duration::from_millis(50));
    let victim = pids[VICTIM];
    // SAFETY: our unreaped child: kill it, then reap it.
    unsafe {
        libc::kill(victim, libc::SIGKILL);
        libc::waitpid(victim, std::ptr::null_mut(), 0);
    }
    let killed = Instant::now();
    println!("phase {STALL_PHASE}: killed worker {VICTIM} (pid {victim}) before it arrived");

    let survivors = (WORKERS - 1) as u32;
    await_or_fail(
        || s.saw_break.load(SeqCst) == survivors,
        &pids,
        "the survivors seeing the break",
    )?;
    println!(
        "phase {STALL_PHASE}: all {survivors} survivors released {:?} after the kill",
        killed.elapsed()
    );
    for id in (0..WORKERS).filter(|&id| id != VICTIM) {
        let (seat, pid) = (s.cause[id][0].load(SeqCst), s.cause[id][1].load(SeqCst));
        let err = Error::BarrierBroken(BreakCause::MemberDied {
            seat: seat as usize,
            pid,
        });
        println!("  worker {id}: Err({err})");
        if pid != victim as u32 {
            kill_all(&pids);
            return Err(format!("phases: worker {id} names pid {pid}, not {victim}"));
        }
    }

    // The repair: a fresh round, the dead member's seat freed, a replacement in it.
    s.barrier.reset();
    pids[VICTIM] = spawn(s, VICTIM, STALL_PHASE, false);
    s.repaired.fetch_add(1, SeqCst);
    println!(
        "reset; a replacement worker {VICTIM} (pid {}) joins and redoes phase {STALL_PHASE}",
        pids[VICTIM]
    );

    let mut clean = 0;
    let start = Instant::now();
    for (i, &pid) in pids.iter().enumerate() {
        loop {
            let mut status = 0;
            // SAFETY: our unreaped child; `status` is valid for writes.
            let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            if r == pid {
                if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
                    clean += 1;
                }
                break;
            }
            if start.elapsed() > BOUND {
                kill_all(&pids[i..]);
                return Err("phases: the workers did not finish".into());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    let checked: Vec<u32> = s.checked[..phases].iter().map(|c| c.load(SeqCst)).collect();
    println!(
        "phases checked by their leader: {checked:?}; parts missing: {}; workers exited cleanly: {clean}/{WORKERS}",
        s.missing.load(SeqCst)
    );
    if checked.iter().all(|&c| c == 1) && s.missing.load(SeqCst) == 0 && clean == WORKERS {
        println!("every phase completed once, with all {WORKERS} parts: ok");
        Ok(())
    } else {
        Err("phases: a phase was not completed exactly once".into())
    }
}

fn main() -> ExitCode {
    let phases = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(8)
        .clamp(STALL_PHASE + 1, MAX_PHASES);
    match run(phases) {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            eprintln!("{why}");
            ExitCode::FAILURE
        }
    }
}
