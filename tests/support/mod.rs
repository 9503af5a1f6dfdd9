//! The harness of the test binaries that fork (`harness = false`): a single-threaded `main`
//! runs the cases one by one (so a `fork` happens in a process whose threads the case
//! controls), reports each as libtest does, and ends with `N passed, M failed`.
//!
//! Children run only the primitives under test and raw memory, then leave with
//! `libc::_exit`; the parent checks every exit status. A child still running when its case
//! ends (a failed check, a panic) is killed and reaped by the `Child` guard.

#![allow(dead_code)] // each test binary uses part of it

use std::io;
use std::panic;
use std::time::{Duration, Instant};

/// The sequence word of `cond`, for a test that leaves a notification half-done (the bump,
/// no wake) as a notifier killed between them does: a `SharedCond` is `#[repr(C)] { seq: u32,
/// waiters: u32 }`, both accessed atomically (its documented layout, which C programs use).
pub fn cond_seq(cond: &pthread_sync::SharedCond) -> &std::sync::atomic::AtomicU32 {
    // SAFETY: by that layout `seq` is an `AtomicU32` at the condvar's address, live as long as
    // the borrow.
    unsafe { &*std::ptr::addr_of!(*cond).cast::<std::sync::atomic::AtomicU32>() }
}

/// How a case ended when it did not fail.
pub enum Outcome {
    Passed,
    Skipped(&'static str),
}
use Outcome::{Passed, Skipped};

/// A case: its name and its function.
pub type Case = (&'static str, fn() -> Outcome);

/// Runs every case (or those whose name contains a command-line argument), printing a line
/// per case and the summary; exits non-zero if any failed. A case fails by panicking.
pub fn run(cases: &[Case]) {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let cases = cases
        .iter()
        .filter(|(name, _)| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str())));
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for (name, case) in cases {
        match panic::catch_unwind(case) {
            Ok(Passed) => {
                passed += 1;
                println!("test {name} ... ok");
            }
            Ok(Skipped(why)) => {
                skipped += 1;
                println!("test {name} ... skipped: {why}");
            }
            Err(_) => {
                failed += 1;
                println!("test {name} ... FAILED (the panic message is above)");
            }
        }
    }
    if skipped == 0 {
        println!("{passed} passed, {failed} failed");
    } else {
        println!("{passed} passed, {failed} failed, {skipped} skipped");
    }
    if failed > 0 {
        std::process::exit(1);
    }
}

/// A forked child, killed and reaped when dropped unless it was waited for.
pub struct Child {
    pid: libc::pid_t,
    reaped: bool,
}

/// Forks a child that runs `body` and `_exit`s with its result. `body` must not allocate,
/// print or panic (a panic is turned into exit code 101 before it can unwind further).
pub fn fork_child(body: impl FnOnce() -> i32) -> Child {
    // SAFETY: this process has a single thread (harness = false).
    match unsafe { libc::fork() } {
        -1 => panic!("fork: {}", io::Error::last_os_error()),
        0 => {
            struct ExitOnUnwind;
            impl Drop for ExitOnUnwind {
                fn drop(&mut self) {
                    // SAFETY: ends the child at once; it must never unwind into the runner.
                    unsafe { libc::_exit(101) }
                }
            }
            let guard = ExitOnUnwind;
            let code = body();
            std::mem::forget(guard);
            // SAFETY: ends the child without running the parent's destructors.
            unsafe { libc::_exit(code) }
        }
        pid => Child { pid, reaped: false },
    }
}

impl Child {
    /// Waits (at most 20 s) for the child to exit; its exit code. Panics if a signal ended it.
    pub fn wait(mut self) -> i32 {
        let status = self.reap(Duration::from_secs(20));
        assert!(
            libc::WIFEXITED(status),
            "child {} ended by signal {}",
            self.pid,
            libc::WTERMSIG(status)
        );
        libc::WEXITSTATUS(status)
    }

    /// Waits (at most 20 s) for the child to end; its raw wait status (an exit or a signal).
    pub fn wait_status(mut self) -> libc::c_int {
        self.reap(Duration::from_secs(20))
    }

    /// Waits at most `bound` for the child to exit: its exit code, or the child back (still
    /// running, still guarded: killed and reaped when dropped) if it has not exited by then.
    /// Panics if a signal ended it.
    pub fn wait_within(mut self, bound: Duration) -> Result<i32, Child> {
        match self.reap_within(bound) {
            Some(status) => {
                assert!(
                    libc::WIFEXITED(status),
                    "child {} ended by signal {}",
                    self.pid,
                    libc::WTERMSIG(status)
                );
                Ok(libc::WEXITSTATUS(status))
            }
            None => Err(self),
        }
    }

    /// Kills the child with SIGKILL and reaps it.
    pub fn kill_and_reap(mut self) {
        // SAFETY: `pid` is this process's unreaped child, so the pid cannot have been reused.
        unsafe { libc::kill(self.pid, libc::SIGKILL) };
        let status = self.reap(Duration::from_secs(20));
        assert!(libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGKILL);
    }

    fn reap(&mut self, bound: Duration) -> libc::c_int {
        match self.reap_within(bound) {
            Some(status) => status,
            None => panic!("child {} still running after {bound:?}", self.pid),
        }
    }

    /// The child's wait status once it exits within `bound`; `None` if it is still running.
    fn reap_within(&mut self, bound: Duration) -> Option<libc::c_int> {
        let deadline = Instant::now() + bound;
        loop {
            let mut status = 0;
            // SAFETY: `pid` is this process's child; `status` is valid for writes.
            match unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) } {
                0 => {}
                pid if pid == self.pid => {
                    self.reaped = true;
                    return Some(status);
                }
                _ if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted => {}
                _ => panic!("waitpid({}): {}", self.pid, io::Error::last_os_error()),
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if !self.reaped {
            // SAFETY: `pid` is this process's unreaped child; kill, then reap it (blocking:
            // SIGKILL cannot be ignored).
            unsafe {
                libc::kill(self.pid, libc::SIGKILL);
                libc::waitpid(self.pid, std::ptr::null_mut(), 0);
            }
        }
    }
}

impl Child {
    /// The child's pid.
    pub fn pid(&self) -> libc::pid_t {
        self.pid
    }

    /// The child's wait status if it has ended (it is then reaped), `None` while it runs.
    pub fn try_wait(&mut self) -> Option<libc::c_int> {
        if self.reaped {
            panic!("child {} already reaped", self.pid);
        }
        let mut status = 0;
        // SAFETY: `pid` is this process's unreaped child; `status` is valid for writes.
        match unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) } {
            0 => None,
            pid if pid == self.pid => {
                self.reaped = true;
                Some(status)
            }
            _ if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted => None,
            _ => panic!("waitpid({}): {}", self.pid, io::Error::last_os_error()),
        }
    }
}

/// The state letter of `/proc/<pid>/stat` (after the parenthesised command name).
pub fn proc_state(pid: libc::pid_t) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    rest.trim_start().chars().next()
}

/// The futex system calls a waiter may sleep in: `futex`, and on x86_64 also `futex_waitv`
/// (449) and `futex_wait` (454, Linux 6.7).
pub fn is_futex_call(nr: libc::c_long) -> bool {
    nr == libc::SYS_futex || (cfg!(target_arch = "x86_64") && (nr == 449 || nr == 454))
}

/// Whether `pid` is asleep (state `S`) in a futex system call. `/proc/<pid>/syscall` needs
/// ptrace access; where it is unreadable the state alone decides.
pub fn sleeps_in_futex(pid: libc::pid_t) -> bool {
    if proc_state(pid) != Some('S') {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/syscall")) {
        Ok(s) => s
            .split_whitespace()
            .next()
            .and_then(|n| n.parse::<libc::c_long>().ok())
            .is_some_and(is_futex_call),
        Err(_) => true,
    }
}

/// While alive, this process, and every child it forks meanwhile, runs on one CPU only.
///
/// Where a `SIGKILL` lands depends on it. A child running on another CPU dies at its next
/// return from the kernel (a system call, a page fault) whenever that comes before the
/// interrupt that would stop it: on this machine (a VM, 2 vCPUs) the armer of
/// `arming_killed_at_random`, killed from the other CPU, died mid-arm in 0 of 90 kills, each
/// time at the `getpid` before a claim. A child sharing the parent's CPU is not running when
/// the parent kills it (it was preempted, at any instruction, for the parent to run), and
/// dies where it stopped: mid-arm in 2 to 8 of 30 kills. Random cases kill both ways.
pub struct OneCpu(libc::cpu_set_t);

impl OneCpu {
    pub fn new() -> OneCpu {
        // SAFETY: `cpu_set_t` is a plain bit array, for which all zeroes is valid.
        let mut old: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        let size = std::mem::size_of::<libc::cpu_set_t>();
        // SAFETY: `old` is valid for writes of `size` bytes.
        let got = unsafe { libc::sched_getaffinity(0, size, &mut old) };
        assert_eq!(
            got,
            0,
            "sched_getaffinity: {}",
            std::io::Error::last_os_error()
        );
        // SAFETY: as above.
        let mut one: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: sched_getcpu has no preconditions.
        let cpu = unsafe { libc::sched_getcpu() };
        let cpu = usize::try_from(cpu).expect("sched_getcpu");
        // SAFETY: `cpu` is below CPU_SETSIZE (it names a CPU of this machine); `one` is a
        // valid set.
        unsafe { libc::CPU_SET(cpu, &mut one) };
        // SAFETY: `one` is a valid set of `size` bytes, naming a CPU this process may use.
        let set = unsafe { libc::sched_setaffinity(0, size, &one) };
        assert_eq!(
            set,
            0,
            "sched_setaffinity: {}",
            std::io::Error::last_os_error()
        );
        OneCpu(old)
    }

    /// One CPU if `on`, else none.
    pub fn pin_if(on: bool) -> Option<OneCpu> {
        on.then(OneCpu::new)
    }
}

impl Drop for OneCpu {
    fn drop(&mut self) {
        // SAFETY: `self.0` is the valid set this process had before.
        unsafe {
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &self.0);
        }
    }
}

/// A small xorshift generator; its seed is printed, and `PTHREAD_SYNC_DEATH_SEED` sets it.
pub struct Rng(pub u64);

impl Rng {
    pub fn new(case: &str) -> Rng {
        let seed = std::env::var("PTHREAD_SYNC_DEATH_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                let t = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default();
                t.as_nanos() as u64 ^ u64::from(std::process::id())
            })
            | 1;
        eprintln!("{case}: seed {seed} (PTHREAD_SYNC_DEATH_SEED={seed} repeats it)");
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A ```` ```c ```` block of the `shm` module docs, taken from the source so that the C
/// programs the tests build are exactly what the docs say: the first one after the line
/// starting with `section` (with `None`, the declarations of the header and the locker,
/// semaphore and condvar layouts).
pub fn shm_docs_c_block(section: Option<&str>) -> String {
    let docs = include_str!("../../src/shm/mod.rs");
    let section = section.unwrap_or("//! The C declarations of the layouts above");
    let mut lines = docs
        .lines()
        .skip_while(|l| !l.starts_with(section))
        .skip_while(|l| l.trim() != "//! ```c")
        .skip(1);
    let block: Vec<&str> = lines
        .by_ref()
        .take_while(|l| l.trim() != "//! ```")
        .map(|l| l.strip_prefix("//!").unwrap_or(l))
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .collect();
    assert!(
        block.len() > 10,
        "no ```c block of declarations in the shm docs ({section:?})"
    );
    block.join("\n")
}

/// Builds the C program `source` into `binary` as every C-peer test does (`cc -std=c11
/// -Wall -Werror -O2`, linked with `-lpthread`); `Err` when `cc` cannot be run at all.
pub fn cc(source: &std::path::Path, binary: &std::path::Path) -> io::Result<std::process::Output> {
    std::process::Command::new("cc")
        .args(["-std=c11", "-Wall", "-Werror", "-O2", "-o"])
        .arg(binary)
        .arg(source)
        .arg("-lpthread")
        .output()
}
