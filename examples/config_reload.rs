//! A read-mostly configuration: many readers, a rare writer that replaces it, first among the
//! threads of one process, then among processes sharing a named region, where a reader and
//! then the writer are killed mid-operation and the others carry on.
//!
//! ```sh
//! cargo run --example config_reload
//! ```
//!
//! **In a process**, `pthread_sync::RwLock` is used exactly as `std::sync::RwLock` would be
//! (only the `use` line differs): 4 reader threads read a `Config` (a `String` and a `Vec`
//! derived from its version, so a torn read would show) as fast as they can while a reloader
//! thread replaces it 50 times.
//!
//! **Across processes**, a `SharedRwLock<SharedConfig>` in a region created by name holds the
//! configuration as plain numbers with a checksum written last. Three reader processes open
//! the region by name and check every read; one writer process reloads it every millisecond.
//! Then:
//!
//! 1. reader 0 takes a read lock and is `SIGKILL`ed while holding it: the writer, which
//!    waits for that reader's hold, still gets in (the dead reader's slot is reclaimed);
//! 2. the writer is `SIGKILL`ed halfway through an update (the checksum not yet written):
//!    the next process to lock, a reader, gets `OwnerDied` with a write guard, repairs the
//!    configuration (rewrites the version it names in full) and makes the lock consistent;
//! 3. a new writer process takes over, the readers carry on, and everything stops.
//!
//! The region's name is unlinked at the end. Children use only the region, then leave with
//! `_exit`; every wait is bounded, and every child is killed and reaped on a failure.

use std::process::ExitCode;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::atomic::{AtomicU32, AtomicU64};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use pthread_sync::shm::{self, ShmBox, ShmSafe};
use pthread_sync::{RwLock, SharedLockError, SharedRwLock, SharedRwLockWriteGuard};

const READER_THREADS: usize = 4;
const RELOADS: u64 = 50;
const READERS: usize = 3;
/// The bound of every wait (the example itself takes well under a second).
const BOUND: Duration = Duration::from_secs(1);

// ---- In a process: std's API. ----

/// A configuration as a program keeps it: owned strings and vectors.
struct Config {
    version: u64,
    name: String,
    limits: Vec<u64>,
}

impl Config {
    fn load(version: u64) -> Config {
        Config {
            version,
            name: format!("config-v{version}"),
            limits: (0..4).map(|i| version * 10 + i).collect(),
        }
    }

    /// Whether every field belongs to the same version.
    fn is_whole(&self) -> bool {
        self.name == format!("config-v{}", self.version)
            && self
                .limits
                .iter()
                .enumerate()
                .all(|(i, &l)| l == self.version * 10 + i as u64)
    }
}

fn in_process() -> Result<(), String> {
    let config = Arc::new(RwLock::new(Config::load(1)));
    let done = Arc::new(AtomicU32::new(0));
    let readers: Vec<_> = (0..READER_THREADS)
        .map(|_| {
            let (config, done) = (Arc::clone(&config), Arc::clone(&done));
            thread::spawn(move || {
                let (mut reads, mut torn, mut newest) = (0u64, 0u64, 0u64);
                while done.load(SeqCst) == 0 {
                    let c = config.read().unwrap();
                    torn += u64::from(!c.is_whole());
                    newest = newest.max(c.version);
                    reads += 1;
                }
                (reads, torn, newest)
            })
        })
        .collect();
    let reloader = {
        let config = Arc::clone(&config);
        thread::spawn(move || {
            for version in 2..=RELOADS + 1 {
                thread::sleep(Duration::from_millis(1));
                let fresh = Config::load(version); // built outside the lock
                *config.write().unwrap() = fresh;
            }
        })
    };
    reloader.join().map_err(|_| "the reloader panicked")?;
    done.store(1, SeqCst);
    let (mut reads, mut torn) = (0, 0);
    for r in readers {
        let (n, t, _newest) = r.join().map_err(|_| "a reader panicked")?;
        reads += n;
        torn += t;
    }
    let last = config.read().unwrap().version;
    println!(
        "in-process: {READER_THREADS} reader threads read the config {reads} times while a \
         reloader replaced it {RELOADS} times (now v{last}); torn reads: {torn}"
    );
    if torn != 0 || last != RELOADS + 1 {
        return Err("in-process: a torn read, or a reload lost".into());
    }
    Ok(())
}

// ---- Across processes: a named region. ----

/// The configuration as processes share it: numbers, and a checksum written last.
#[repr(C)]
struct SharedConfig {
    version: AtomicU64,
    limits: [AtomicU64; 4],
    checksum: AtomicU64,
}

impl SharedConfig {
    fn checksum_of(version: u64, limits: [u64; 4]) -> u64 {
        limits
            .iter()
            .fold(version ^ 0x9e37_79b9_7f4a_7c15, |h, &l| {
                (h ^ l).wrapping_mul(0x100_0000_01b3)
            })
    }

    fn limits_for(version: u64) -> [u64; 4] {
        std::array::from_fn(|i| version * 10 + i as u64)
    }

    /// Writes version `v` in full: what a reload does, and what a repair redoes.
    fn store(&self, v: u64) {
        let limits = Self::limits_for(v);
        self.version.store(v, SeqCst);
        for (field, l) in self.limits.iter().zip(limits) {
            field.store(l, SeqCst);
        }
        self.checksum.store(Self::checksum_of(v, limits), SeqCst);
    }

    fn is_whole(&self) -> bool {
        let limits = self.limits.each_ref().map(|l| l.load(SeqCst));
        let v = self.version.load(SeqCst);
        self.checksum.load(SeqCst) == Self::checksum_of(v, limits)
    }
}

#[repr(C)]
struct Region {
    config: SharedRwLock<SharedConfig>,
    /// Per reader process: reads checked, and a torn one seen (never, unless the lock fails).
    reads: [AtomicU64; READERS],
    torn: AtomicU64,
    /// Dead writers' half-done updates repaired (by whichever process met them), and by whom.
    repaired: AtomicU64,
    repaired_version: AtomicU64,
    /// Reloads completed (by every writer process).
    reloads: AtomicU64,
    /// Set by the parent: reader 0 holds a read and stays; the writer stops mid-update.
    hold_read: AtomicU32,
    stall_write: AtomicU32,
    /// Set by the children when they are there.
    holding: AtomicU32,
    stalled: AtomicU32,
    stop: AtomicU32,
}
// SAFETY: #[repr(C)], a shared lock over atomics and atomics: no pointers, no Drop.
unsafe impl ShmSafe for Region {}

/// Leaves a child at once (no unwinding, no destructors).
fn exit_now(code: i32) -> ! {
    // SAFETY: ends this process immediately.
    unsafe { libc::_exit(code) }
}

/// The child's view of the region: opened by name, as an unrelated process would.
fn open(name: &str) -> ShmBox<Region> {
    ShmBox::open(name).unwrap_or_else(|_| exit_now(20))
}

fn reader(name: &str, id: usize) -> ! {
    let region = open(name);
    let r = &*region;
    while r.stop.load(SeqCst) == 0 {
        let guard = match r.config.read_timeout(BOUND) {
            Ok(guard) => guard,
            // A writer died mid-update: this reader holds the write side; it repairs.
            Err(SharedLockError::OwnerDied(died)) => {
                let v = died.get_ref().version.load(SeqCst);
                died.get_ref().store(v);
                r.repaired.fetch_add(1, SeqCst);
                r.repaired_version.store(v, SeqCst);
                match died.make_consistent() {
                    Ok(w) => SharedRwLockWriteGuard::downgrade(w),
                    Err(_) => exit_now(21),
                }
            }
            Err(_) => exit_now(22),
        };
        if !guard.is_whole() {
            r.torn.fetch_add(1, SeqCst);
        }
        r.reads[id].fetch_add(1, SeqCst);
        if id == 0 && r.hold_read.load(SeqCst) != 0 {
            r.holding.store(1, SeqCst);
            loop {
                // SAFETY: sleeps holding the read lock until the parent kills this process.
                unsafe { libc::pause() };
            }
        }
        drop(guard);
    }
    exit_now(0)
}

fn writer(name: &str) -> ! {
    let region = open(name);
    let r = &*region;
    while r.stop.load(SeqCst) == 0 {
        let guard = match r.config.write_timeout(BOUND) {
            Ok(guard) => guard,
            Err(SharedLockError::OwnerDied(died)) => {
                let v = died.get_ref().version.load(SeqCst);
                died.get_ref().store(v);
                r.repaired.fetch_add(1, SeqCst);
                died.make_consistent().unwrap_or_else(|_| exit_now(31))
            }
            Err(_) => exit_now(32),
        };
        let next = guard.version.load(SeqCst) + 1;
        if r.stall_write.load(SeqCst) != 0 {
            // Half an update: the new version, one limit, no checksum; then killed.
            guard.version.store(next, SeqCst);
            guard.limits[0].store(next * 10, SeqCst);
            r.stalled.store(1, SeqCst);
            loop {
                // SAFETY: sleeps holding the write lock until the parent kills this process.
                unsafe { libc::pause() };
            }
        }
        guard.store(next);
        drop(guard);
        r.reloads.fetch_add(1, SeqCst);
        thread::sleep(Duration::from_millis(1));
    }
    exit_now(0)
}

/// A forked child, killed and reaped when dropped unless it was reaped.
struct Child(libc::pid_t);

impl Child {
    /// Forks a child that runs `body` (which ends with `exit_now`, never returning).
    fn spawn(body: impl FnOnce()) -> Child {
        // SAFETY: this process is single-threaded here (the in-process part's threads are
        // joined); the child opens the region, uses it, and leaves with `_exit`.
        match unsafe { libc::fork() } {
            -1 => panic!("fork failed"),
            0 => {
                body();
                exit_now(0)
            }
            pid => Child(pid),
        }
    }

    fn kill(self) {
        drop(self);
    }

    /// Waits (bounded) for a clean exit.
    fn exit_code(self) -> Result<i32, String> {
        let start = Instant::now();
        loop {
            let mut status = 0;
            // SAFETY: our unreaped child; `status` is valid for writes.
            if unsafe { libc::waitpid(self.0, &mut status, libc::WNOHANG) } == self.0 {
                std::mem::forget(self);
                return Ok(if libc::WIFEXITED(status) {
                    libc::WEXITSTATUS(status)
                } else {
                    -1
                });
            }
            if start.elapsed() > BOUND {
                return Err(format!("process {} did not exit", self.0));
            }
            thread::sleep(Duration::from_millis(1));
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        // SAFETY: our unreaped child: kill it, then reap it.
        unsafe {
            libc::kill(self.0, libc::SIGKILL);
            libc::waitpid(self.0, std::ptr::null_mut(), 0);
        }
    }
}

/// Waits (bounded) until `done()`.
fn await_(what: &str, done: impl Fn() -> bool) -> Result<Duration, String> {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > BOUND {
            return Err(format!(
                "across processes: {what} did not happen within {BOUND:?}"
            ));
        }
        thread::sleep(Duration::from_micros(200));
    }
    Ok(start.elapsed())
}

fn across_processes(name: &str) -> Result<(), String> {
    let first = SharedConfig {
        version: AtomicU64::new(0),
        limits: std::array::from_fn(|_| AtomicU64::new(0)),
        checksum: AtomicU64::new(0),
    };
    first.store(1);
    let region = ShmBox::create(
        name,
        0o600,
        Region {
            config: SharedRwLock::new(first),
            reads: std::array::from_fn(|_| AtomicU64::new(0)),
            torn: AtomicU64::new(0),
            repaired: AtomicU64::new(0),
            repaired_version: AtomicU64::new(0),
            reloads: AtomicU64::new(0),
            hold_read: AtomicU32::new(0),
            stall_write: AtomicU32::new(0),
            holding: AtomicU32::new(0),
            stalled: AtomicU32::new(0),
            stop: AtomicU32::new(0),
        },
    )
    .map_err(|e| format!("creating {name}: {e}"))?;
    let r = &*region;
    let mut readers: Vec<Option<Child>> = (0..READERS)
        .map(|id| Some(Child::spawn(|| reader(name, id))))
        .collect();
    let writer_process = Child::spawn(|| writer(name));
    await_("the first reloads", || r.reloads.load(SeqCst) >= 20)?;

    // 1. A reader killed while it holds a read lock; the writer still gets in.
    r.hold_read.store(1, SeqCst);
    await_("reader 0 holding a read", || r.holding.load(SeqCst) == 1)?;
    thread::sleep(Duration::from_millis(5));
    let before = r.reloads.load(SeqCst);
    thread::sleep(Duration::from_millis(10));
    if r.reloads.load(SeqCst) != before {
        return Err("across processes: the writer got in past a live reader".into());
    }
    // The writer (reloading every millisecond) has made no progress for 10 ms: it waits for
    // this reader.
    let killed = Instant::now();
    readers[0].take().unwrap().kill();
    await_("a reload after the reader's death", || {
        r.reloads.load(SeqCst) > before
    })?;
    println!(
        "across processes: the writer waited 10 ms for reader 0; reader 0 killed holding its \
         read lock; the writer got in {:.2} ms after the kill",
        killed.elapsed().as_secs_f64() * 1e3
    );

    // 2. The writer killed mid-update; the next locker (a reader) repairs.
    r.stall_write.store(1, SeqCst);
    await_("the writer stopping mid-update", || {
        r.stalled.load(SeqCst) == 1
    })?;
    let poisoned = r.config.is_poisoned(); // never: a death is not a panic
    let killed = Instant::now();
    writer_process.kill();
    await_("a repair of the half-done update", || {
        r.repaired.load(SeqCst) == 1
    })?;
    let took = killed.elapsed();
    println!(
        "across processes: the writer killed mid-update of v{}; a reader got OwnerDied, \
         repaired it and made the lock consistent {:.2} ms after the kill",
        r.repaired_version.load(SeqCst),
        took.as_secs_f64() * 1e3
    );

    // 3. A new writer takes over; the readers carry on.
    r.stall_write.store(0, SeqCst);
    let before = r.reloads.load(SeqCst);
    let new_writer = Child::spawn(|| writer(name));
    await_("reloads by the new writer", || {
        r.reloads.load(SeqCst) >= before + 20
    })?;
    r.stop.store(1, SeqCst);
    let mut codes = vec![new_writer.exit_code()?];
    for child in readers.into_iter().flatten() {
        codes.push(child.exit_code()?);
    }
    let reads: Vec<u64> = r.reads.iter().map(|n| n.load(SeqCst)).collect();
    let last = r
        .config
        .read()
        .map_err(|e| e.to_string())?
        .version
        .load(SeqCst);
    println!(
        "across processes: reads per reader {reads:?}, {} reloads (now v{last}), torn reads \
         {}, exit codes {codes:?}",
        r.reloads.load(SeqCst),
        r.torn.load(SeqCst)
    );
    if poisoned || r.torn.load(SeqCst) != 0 || codes.iter().any(|&c| c != 0) {
        return Err("across processes: a torn read, or a process failed".into());
    }
    if !r.config.read().map_err(|e| e.to_string())?.is_whole() {
        return Err("across processes: the final config is not whole".into());
    }
    Ok(())
}

fn main() -> ExitCode {
    let name = format!("/pthread-sync-config-reload-{}", std::process::id());
    let result = in_process().and_then(|()| {
        let result = across_processes(&name);
        let _ = shm::unlink(&name);
        result
    });
    match result {
        Ok(()) => {
            println!("config_reload: ok");
            ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!("config_reload: {why}");
            ExitCode::FAILURE
        }
    }
}
