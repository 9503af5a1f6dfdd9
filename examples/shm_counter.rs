//! A counter in a named shared-memory region, shared by unrelated processes.
//!
//! ```sh
//! cargo run --example shm_counter -- NAME N [--unlink]
//! ```
//!
//! Opens the region `NAME` (creating it if it does not exist), increments its counter `N`
//! times under the region's robust `SharedLocker`, and prints one line,
//! `count=<value> recovered=<times it repaired an owner-died lock>`.
//!
//! Run two at once and the counts add up. `kill -9` one mid-run and the other finishes: the
//! killed one died holding the lock (or between two updates); the survivor gets the guard
//! with `OwnerDied`, repairs the half-done update, marks the mutex consistent, and reports
//! `recovered=1`. With `--unlink` the name is removed at the end.
//!
//! Each increment writes two fields, `value` then `check`, so an update cut in half by a
//! kill is visible (`check != value`) and repaired.

use std::process::ExitCode;

use pthread_sync::shm::{self, ShmBox, ShmSafe};
use pthread_sync::{SharedLockError, SharedLocker};

/// `pause`s between the two writes of an update.
const WORK: u32 = 200;

/// The counter: `check` always equals `value` between updates.
#[repr(C)]
struct Counter {
    value: u64,
    check: u64,
}

/// The region's contents.
#[repr(C)]
struct Region {
    counter: SharedLocker<Counter>,
}

// SAFETY: #[repr(C)]; a shared lock over two integers: no pointers, no Drop.
unsafe impl ShmSafe for Counter {}
// SAFETY: as above.
unsafe impl ShmSafe for Region {}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let unlink = args.iter().any(|a| a == "--unlink");
    let plain: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let (name, n) = match plain.as_slice() {
        [name, n] => match n.parse::<u64>() {
            Ok(n) => (name.as_str(), n),
            Err(_) => return usage(&format!("N must be a whole number, not {n:?}")),
        },
        _ => return usage("expected NAME and N"),
    };
    // A name like "/my-counter"; a bare "my-counter" is accepted too.
    let name = if name.starts_with('/') {
        name.to_string()
    } else {
        format!("/{name}")
    };
    match run(&name, n, unlink) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("shm_counter: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(name: &str, n: u64, unlink: bool) -> Result<(), Box<dyn std::error::Error>> {
    let (region, _created) = ShmBox::open_or_create(name, 0o600, || Region {
        counter: SharedLocker::new(Counter { value: 0, check: 0 }),
    })?;
    let mut recovered = 0u64;
    for _ in 0..n {
        let mut g = match region.counter.lock() {
            Ok(g) => g,
            Err(SharedLockError::OwnerDied(mut died)) => {
                // The previous holder died holding the lock: repair, then make consistent.
                let c = died.get_mut();
                if c.check != c.value {
                    c.check = c.value; // the half-done update counts as done
                }
                recovered += 1;
                died.make_consistent()?
            }
            Err(SharedLockError::Poisoned(p)) => {
                region.counter.clear_poison();
                p.into_inner()
            }
            Err(SharedLockError::Failed(e)) => return Err(e.into()),
        };
        g.value += 1;
        // The rest of the update: work between its two writes, as in a real two-field update
        // (a kill landing here leaves `check` behind `value`).
        for _ in 0..WORK {
            std::hint::spin_loop();
        }
        g.check += 1;
    }
    let count = region
        .counter
        .lock()
        .map(|g| g.value)
        .map_err(|e| e.to_string())?;
    println!("count={count} recovered={recovered}");
    if unlink {
        shm::unlink(name)?;
    }
    Ok(())
}

fn usage(why: &str) -> ExitCode {
    eprintln!("shm_counter: {why}\nusage: shm_counter NAME N [--unlink]");
    ExitCode::from(2)
}
