//! A process pool: a parent and forked workers share a job area in shared memory.
//!
//! ```sh
//! cargo run --example process_pool [-- WORKERS JOBS]
//! ```
//!
//! The parent puts `JOBS` jobs in an anonymous region (inherited by the workers it forks),
//! guarded by a robust `SharedLocker`, with a `SharedCond` the workers sleep on when there is
//! nothing to take. Each worker takes a job under the lock, works on it with the lock
//! released, and records the result under the lock. Midway the parent `SIGKILL`s one worker:
//! the job it had taken is found (its owner's pid is gone) and put back, and if it died holding
//! the lock, the next locker repairs the area and makes the mutex consistent. The rest of the
//! pool never stalls; at the end the parent checks that every job was done exactly once.
//!
//! Workers use only the shared primitives and the region's memory, then leave with `_exit`.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use pthread_sync::shm::{ShmBox, ShmSafe};
use pthread_sync::{SharedCond, SharedLockError, SharedLocker, SharedLockerGuard};

const MAX_JOBS: usize = 4096;

/// A job's state: pending, taken by the worker whose pid is stored, or done.
const PENDING: i32 = 0;
const DONE: i32 = -1;

#[repr(C)]
struct Area {
    /// Per job: `PENDING`, `DONE`, or the pid of the worker working on it.
    state: [i32; MAX_JOBS],
    jobs: u64,
    done: u64,
    /// The sum of every job's result; each result counted once.
    sum: u64,
    shutdown: bool,
}

#[repr(C)]
struct Pool {
    area: SharedLocker<Area>,
    changed: SharedCond,
}

// SAFETY: #[repr(C)]; integers, bools, and shared primitives: no pointers, no Drop.
unsafe impl ShmSafe for Area {}
// SAFETY: as above.
unsafe impl ShmSafe for Pool {}

/// A job's result: deliberately a little work.
fn work(job: u64) -> u64 {
    (0..2_000u64).fold(job, |acc, i| acc.wrapping_mul(31).wrapping_add(i)) % 1_000_003
}

/// Locks the area. A holder that died holding the lock may have left a result half recorded
/// (a job marked done, its sum or count not yet updated): the totals are rebuilt from the job
/// states, then the mutex is made consistent.
fn lock(pool: &Pool) -> SharedLockerGuard<'_, Area> {
    match pool.area.lock() {
        Ok(g) => g,
        Err(SharedLockError::OwnerDied(died)) => repaired(died),
        Err(SharedLockError::Poisoned(p)) => p.into_inner(),
        Err(SharedLockError::Failed(_)) => exit_now(4),
    }
}

/// Repairs the area of a dead holder and makes the mutex consistent.
fn repaired(
    mut died: pthread_sync::OwnerDied<SharedLockerGuard<'_, Area>>,
) -> SharedLockerGuard<'_, Area> {
    let a = died.get_mut();
    let jobs = a.jobs as usize;
    a.done = a.state[..jobs].iter().filter(|&&s| s == DONE).count() as u64;
    a.sum = (0..jobs)
        .filter(|&j| a.state[j] == DONE)
        .map(|j| work(j as u64))
        .sum();
    died.make_consistent().unwrap_or_else(|_| exit_now(3))
}

/// Leaves a worker process at once (no unwinding, no destructors).
fn exit_now(code: i32) -> ! {
    // SAFETY: ends this process immediately.
    unsafe { libc::_exit(code) }
}

/// A worker's loop: take a pending job, work on it unlocked, record it.
fn worker(pool: &Pool) -> ! {
    // SAFETY: a plain system call.
    let me = unsafe { libc::getpid() };
    loop {
        let g = lock(pool);
        let mut g = match pool.changed.wait_while(g, |a| {
            !a.shutdown && !a.state[..a.jobs as usize].contains(&PENDING)
        }) {
            Ok(g) => g,
            Err(SharedLockError::OwnerDied(died)) => repaired(died),
            Err(_) => exit_now(5),
        };
        if g.shutdown {
            drop(g);
            exit_now(0);
        }
        let jobs = g.jobs as usize;
        let Some(job) = g.state[..jobs].iter().position(|&s| s == PENDING) else {
            continue;
        };
        g.state[job] = me;
        drop(g);
        let result = work(job as u64);
        let mut g = lock(pool);
        if g.state[job] == me {
            g.state[job] = DONE;
            g.sum += result;
            g.done += 1;
        }
        drop(g);
        pool.changed.notify_all();
    }
}

/// Puts back every job whose worker is gone; how many.
fn requeue_orphans(area: &mut Area) -> u64 {
    let mut requeued = 0;
    for s in &mut area.state[..area.jobs as usize] {
        // SAFETY: `kill` with signal 0 only checks whether the process exists.
        if *s > 0 && unsafe { libc::kill(*s, 0) } == -1 {
            *s = PENDING;
            requeued += 1;
        }
    }
    requeued
}

fn main() -> ExitCode {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let workers = args.first().copied().unwrap_or(4).clamp(2, 64);
    let jobs = args
        .get(1)
        .copied()
        .unwrap_or(2000)
        .clamp(1, MAX_JOBS as u64);
    let pool = ShmBox::anonymous(Pool {
        area: SharedLocker::new(Area {
            state: [PENDING; MAX_JOBS],
            jobs,
            done: 0,
            sum: 0,
            shutdown: false,
        }),
        changed: SharedCond::new(),
    })
    .expect("an anonymous shared region");

    let mut pids: Vec<libc::pid_t> = (0..workers)
        .map(|_| {
            // SAFETY: this process is single-threaded here; the child runs `worker`, which
            // uses only the region and the shared primitives, and leaves with `_exit`.
            match unsafe { libc::fork() } {
                -1 => panic!("fork failed"),
                0 => worker(&pool),
                pid => pid,
            }
        })
        .collect();

    // Midway, kill one worker (wherever it is: working, holding the lock, or asleep).
    let start = Instant::now();
    while lock(&pool).done < jobs / 3 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let victim = pids.remove(0);
    // SAFETY: `victim` is our unreaped child; kill it and reap it.
    unsafe {
        libc::kill(victim, libc::SIGKILL);
        libc::waitpid(victim, std::ptr::null_mut(), 0);
    }

    // Requeue what the dead worker held, then wait for the pool to finish.
    let mut requeued = 0;
    loop {
        let mut g = lock(&pool);
        requeued += requeue_orphans(&mut g);
        if g.done == jobs {
            g.shutdown = true;
            drop(g);
            pool.changed.notify_all();
            break;
        }
        drop(g);
        pool.changed.notify_all();
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the pool stalled"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    let mut clean = 0;
    for pid in &pids {
        let mut status = 0;
        // SAFETY: our unreaped child; `status` is valid for writes.
        unsafe { libc::waitpid(*pid, &mut status, 0) };
        if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
            clean += 1;
        }
    }

    let g = lock(&pool);
    let expected: u64 = (0..jobs).map(work).sum();
    let all_done = g.state[..jobs as usize].iter().all(|&s| s == DONE);
    println!(
        "workers={workers} (one killed midway, {requeued} job(s) requeued) jobs={jobs} done={} sum={} expected={expected} workers_exited_cleanly={clean}/{}",
        g.done,
        g.sum,
        pids.len()
    );
    if g.done == jobs && g.sum == expected && all_done && clean == pids.len() {
        println!("every job done exactly once: ok");
        ExitCode::SUCCESS
    } else {
        eprintln!("process_pool: totals do not match");
        ExitCode::FAILURE
    }
}
