//! A small harness for tests that fork: a single-threaded `main` runs the cases one by one
//! (so `fork` happens in a process with no other thread unless a case starts one), reports
//! each as libtest does, and ends with `N passed, M failed`.
//!
//! Children run only the primitives under test and raw memory, then leave with
//! `libc::_exit`; the parent checks every exit status. A child still running when its case
//! ends (a failed check, a panic) is killed and reaped by the `Child` guard.

#![allow(dead_code)] // each test binary uses part of it

use std::time::{Duration, Instant};

/// A forked child, killed and reaped on drop unless it was waited for.
pub struct Child {
    pid: libc::pid_t,
    reaped: bool,
}

impl Child {
    /// Forks; the child runs `body` and exits with the code it returns (never unwinds, never
    /// returns into the harness).
    pub fn spawn(body: impl FnOnce() -> i32) -> Child {
        // SAFETY: `fork` has no memory preconditions; the child runs `body` (the test's
        // promise: only async-signal-safe work on memory it already has) and `_exit`s.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed: {}", std::io::Error::last_os_error());
        if pid == 0 {
            let code = body();
            // SAFETY: ends the child at once, running no destructor and no atexit handler.
            unsafe { libc::_exit(code) };
        }
        Child { pid, reaped: false }
    }

    /// The child's pid.
    pub fn pid(&self) -> libc::pid_t {
        self.pid
    }

    /// Waits at most `limit` for the child to exit and returns its exit code; a child killed
    /// by a signal, or still running at the limit (then killed), is an `Err` naming it.
    pub fn wait(mut self, limit: Duration) -> Result<i32, String> {
        let start = Instant::now();
        loop {
            let mut status = 0;
            // SAFETY: `status` is valid for writes; WNOHANG never blocks.
            let r = unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) };
            if r == self.pid {
                self.reaped = true;
                if libc::WIFEXITED(status) {
                    return Ok(libc::WEXITSTATUS(status));
                }
                return Err(format!(
                    "child {} ended by signal {}",
                    self.pid,
                    libc::WTERMSIG(status)
                ));
            }
            if start.elapsed() > limit {
                return Err(format!("child {} still running after {limit:?}", self.pid));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Sends `SIGKILL` and reaps the child.
    pub fn kill(mut self) {
        self.kill_and_reap();
    }

    fn kill_and_reap(&mut self) {
        if !self.reaped {
            // SAFETY: plain system calls on the child's pid, which is not reaped yet (so it
            // cannot name another process).
            unsafe {
                libc::kill(self.pid, libc::SIGKILL);
                libc::waitpid(self.pid, std::ptr::null_mut(), 0);
            }
            self.reaped = true;
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        self.kill_and_reap();
    }
}

/// Runs every case, printing libtest-style lines and the summary; exits non-zero if any
/// failed. A case fails by panicking.
pub fn run(cases: &[(&str, fn())]) {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let (mut passed, mut failed) = (0, 0);
    for (name, case) in cases {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        match std::panic::catch_unwind(case) {
            Ok(()) => {
                println!("test {name} ... ok");
                passed += 1;
            }
            Err(_) => {
                println!("test {name} ... FAILED");
                failed += 1;
            }
        }
    }
    println!();
    println!("summary: {passed} passed, {failed} failed");
    if failed > 0 {
        std::process::exit(1);
    }
}
