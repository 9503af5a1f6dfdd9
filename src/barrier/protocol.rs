//! The barrier protocol, written once: a 64-bit state word changed only by compare-exchange,
//! and a futex word that waiters sleep on. Both placements ([`Barrier`](super::Barrier) in a
//! process, [`SharedBarrier`](super::SharedBarrier) in a region) are this core plus what
//! their [`Watch`] adds: the futex scope, and for the shared one a poll for dead members.
//!
//! # The state word
//!
//! | bits | field | meaning |
//! |---|---|---|
//! | 0-21 | `count` | arrivals counted in the open round (`0..parties`) |
//! | 22 | `broken` | the round was broken: every wait fails until a reset |
//! | 23-31 | `epoch` | how many resets (mod 512) |
//! | 32-63 | `gen` | how many rounds completed (mod 2^32) |
//!
//! Every change is one compare-exchange of the whole word, so a process killed at any instant
//! leaves it as it was before or after its change, never half-way:
//!
//! - **arrive**: not broken; `count + 1 < parties`: `count + 1` (a waiter of round
//!   `(gen, epoch)`, its *ticket*); otherwise this arrival is the leader: `gen + 1`,
//!   `count = 0`, in the same exchange, so no later arrival can be counted in the round it
//!   completes, and exactly one arrival of each round sees `count + 1 == parties`;
//! - **withdraw** (a timed-out waiter): its round still open: `count - 1`;
//! - **break**: not broken yet: `broken` (whatever round is open);
//! - **reset**: `count = 0`, `broken` clear, `epoch + 1` (`gen` unchanged).
//!
//! A waiter with ticket `(g, e)` reads the word: `gen != g`: its round completed (only a
//! completion moves `gen`); else `epoch != e` or `broken`: its round was broken (and maybe
//! reset since); else it is still open. (That a waiter never misses two completions, which
//! would look like none after 2^32 of them, is the in-process barrier's only wrap-around
//! assumption; the shared barrier cannot even complete a second round without the waiter,
//! whose seat counts in every round, so there `gen` moves at most once under it, and the
//! 512 epochs would have to wrap within one of its polls.)
//!
//! Why one word and not the classic pair (a generation word and a separate counter): with two
//! words the leader must reset the counter and then bump the generation (the other order
//! loses a fast arrival of the next round), and an arrival must read the generation and then
//! count itself, which lets one that is slow in between be counted in the next round while
//! believing it is in the previous one: fine with exactly `n` threads, wrong with more (which
//! std's barrier allows), and across processes a leader killed between its two stores leaves
//! the round counted to zero with the generation never bumped: everyone waits forever.
//!
//! # The futex word
//!
//! Sleepers announce themselves: `wake |= 1` (`SLEEPERS`, a read-modify-write), then look at
//! the state again, then `futex_wait(wake, value seen)`. Whoever completes, breaks or resets
//! a round then moves the word on with a compare-exchange to the next even value (the bit
//! cleared, the count above it moved, so no sleeper can sleep on the old value), and calls
//! `FUTEX_WAKE` for all only if the value it replaced had the bit set. Both sides change the
//! same word by read-modify-writes, so one comes first in its modification order: if the
//! announcement, the leader sees the bit and wakes; if the leader's exchange, the
//! announcement reads from it (acquire), so the waiter's next look at the state sees the
//! round the leader completed (release) and it does not sleep. That argument needs only
//! acquire and release, which loom checks (its model treats `SeqCst` loads as acquire only,
//! under which a load of `wake` by the leader would not do, and loom says so). A round whose
//! waiters all spun through it costs one uncontended exchange and no system call. The word
//! holds no state a dead process could leave half-made: a bit left set costs a later leader
//! one needless `FUTEX_WAKE`, and the kernel drops a sleeper that is killed.

use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

use crate::shim::{self, const_fn, AtomicU64};
use crate::switches::{self, Mutation};
use crate::sys::{Deadline, Futex, Scope};

/// The most parties a barrier can have: `count` has 22 bits. It is also Linux's
/// `PID_MAX_LIMIT` (2^22), the most threads that can exist at once on the whole system, so
/// a larger `n` could never complete a round either: [`Barrier::new`](super::Barrier::new)
/// takes any larger `n` as this one, with the same result (the round never completes).
pub(crate) const PARTIES_MAX: u32 = 1 << 22;

const COUNT: u64 = (1 << 22) - 1;
const BROKEN: u64 = 1 << 22;
const EPOCH_SHIFT: u32 = 23;
const EPOCHS: u32 = 1 << 9;
const GEN_SHIFT: u32 = 32;

/// The bit of the futex word that says a waiter may be asleep on it.
const SLEEPERS: u32 = 1;

/// How many times a waiter looks at the state with a `pause` between looks (well under a
/// microsecond), and then with a `sched_yield` between looks, before it sleeps. The yields
/// are what pays (measured with `benches/barrier.rs`, see the README): a waiter that shares
/// its CPU with the thread it waits for (4 threads on 2 CPUs, a busy neighbour, threads
/// pinned together) hands the CPU over at once, where a spin would burn its time slice and a
/// sleep would cost a futex round trip; on an idle CPU a yield returns in well under a
/// microsecond, a slower spin. A spin of ~6 µs before sleeping instead took 2-3x
/// `pthread_barrier_t`'s time whenever threads shared a CPU.
const SPINS: u32 = 20;
const YIELDS: u32 = 16;

fn gen(s: u64) -> u32 {
    (s >> GEN_SHIFT) as u32
}

pub(crate) fn epoch(s: u64) -> u32 {
    ((s >> EPOCH_SHIFT) as u32) & (EPOCHS - 1)
}

/// The round an arrival was counted in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ticket {
    gen: u32,
    epoch: u32,
}

impl Ticket {
    fn of(s: u64) -> Ticket {
        Ticket {
            gen: gen(s),
            epoch: epoch(s),
        }
    }

    fn round(self, s: u64) -> Round {
        if gen(s) != self.gen {
            Round::Completed
        } else if epoch(s) != self.epoch || s & BROKEN != 0 {
            Round::Broken
        } else {
            Round::Open
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Round {
    Open,
    Completed,
    Broken,
}

/// Why a wait ended without completing its round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The round of that epoch was broken (or the barrier was broken when this one arrived).
    Broken { epoch: u32 },
    /// The deadline passed; the arrival was withdrawn.
    TimedOut,
}

/// What a placement adds to the core's waits.
pub(crate) trait Watch {
    /// Who can sleep on the futex word: this process's threads, or every process's.
    const SCOPE: Scope;
    /// How long a waiter sleeps before it calls [`Watch::check`] (`None`: until woken).
    const POLL: Option<Duration>;
    /// Called by a waiter each time it has slept `POLL` without its round completing: looks
    /// for a reason the round can never complete, and breaks it if so.
    fn check(&self, core: &Core);
}

/// The state word, the futex word and the number of parties. `#[repr(C)]`: the layout the
/// shared barrier documents for C programs (0: state, 8: futex word, 12: parties).
#[repr(C)]
pub(crate) struct Core {
    state: AtomicU64,
    wake: Futex,
    parties: u32,
}

impl Core {
    const_fn! {
        /// A barrier of `parties` (`1..=PARTIES_MAX`), with no round begun.
        pub(crate) const fn new(parties: u32) -> Core {
            Core { state: AtomicU64::new(0), wake: Futex::new(0), parties }
        }
    }

    /// The state word now (for `Debug` and the shared barrier's queries).
    pub(crate) fn state(&self) -> u64 {
        self.state.load(SeqCst)
    }

    pub(crate) fn is_broken(&self) -> bool {
        self.state() & BROKEN != 0
    }

    /// One arrival and its wait: `Ok(true)` for the round's leader (the arrival that
    /// completed it), `Ok(false)` for the others once the round completed.
    #[inline]
    pub(crate) fn wait<W: Watch>(
        &self,
        deadline: Option<&Deadline>,
        watch: &W,
    ) -> Result<bool, Stop> {
        // Deliberately broken (model checks only): the sleepers looked for too early.
        let peeked =
            switches::active(Mutation::BarrierPeekBeforeComplete).then(|| self.wake.load(SeqCst));
        let ticket = self.arrive()?;
        match ticket {
            None => {
                match peeked {
                    Some(w) if w & SLEEPERS != 0 => self.wake_all(W::SCOPE),
                    Some(_) => {}
                    None => self.wake_all(W::SCOPE),
                }
                Ok(true)
            }
            Some(ticket) => self.await_round(ticket, deadline, watch).map(|()| false),
        }
    }

    /// Counts one arrival: `None` if it completed the round (the leader), else the waiter's
    /// ticket; `Err` if the barrier is broken.
    #[inline]
    fn arrive(&self) -> Result<Option<Ticket>, Stop> {
        let mut s = self.state.load(SeqCst);
        loop {
            if s & BROKEN != 0 {
                return Err(Stop::Broken { epoch: epoch(s) });
            }
            let leader = (s & COUNT) + 1 >= u64::from(self.parties);
            let next = if leader {
                (s & !(COUNT | (u64::from(u32::MAX) << GEN_SHIFT)))
                    | (u64::from(gen(s).wrapping_add(1)) << GEN_SHIFT)
            } else {
                s + 1
            };
            if switches::active(Mutation::BarrierArriveLoadStore) {
                // Deliberately broken (model checks only): read, then store, so two racing
                // arrivals can both count themselves from the same value.
                self.state.store(next, SeqCst);
                return Ok((!leader).then(|| Ticket::of(s)));
            }
            match self.state.compare_exchange(s, next, SeqCst, SeqCst) {
                Ok(_) => return Ok((!leader).then(|| Ticket::of(s))),
                Err(now) => s = now,
            }
        }
    }

    /// Waits until round `ticket` completes (`Ok`), is broken, or `deadline` passes (the
    /// arrival is then withdrawn; a round that completes first wins).
    fn await_round<W: Watch>(
        &self,
        ticket: Ticket,
        deadline: Option<&Deadline>,
        watch: &W,
    ) -> Result<(), Stop> {
        for _ in 0..shim::spins(SPINS) {
            match ticket.round(self.state.load(SeqCst)) {
                Round::Open => std::hint::spin_loop(),
                round => return Self::ended(round, ticket),
            }
        }
        for _ in 0..shim::spins(YIELDS) {
            match ticket.round(self.state.load(SeqCst)) {
                Round::Open => std::thread::yield_now(),
                round => return Self::ended(round, ticket),
            }
        }
        // The next look for a round that cannot complete: kept across wake-ups, so that a
        // stream of them (signal handlers, other waiters' announcements) cannot put it off.
        let mut poll = W::POLL.map(Deadline::after);
        let mut poll_due = false;
        loop {
            let seen = self.wake.fetch_or(SLEEPERS, SeqCst) | SLEEPERS;
            match ticket.round(self.state.load(SeqCst)) {
                Round::Open => {}
                round => return Self::ended(round, ticket),
            }
            if poll_due {
                // Still open after a poll period: look (which may break the round), then
                // look at the round again before sleeping.
                watch.check(self);
                poll = W::POLL.map(Deadline::after);
                poll_due = false;
                continue;
            }
            let step = match (deadline, poll) {
                (Some(d), Some(p)) => Some(d.min(p)),
                (Some(d), None) => Some(*d),
                (None, p) => p,
            };
            let timed_out = self.wake.wait(seen, step.as_ref(), W::SCOPE);
            if timed_out && deadline.is_some_and(Deadline::passed) {
                return self.withdraw(ticket);
            }
            poll_due = poll.is_some_and(|p| timed_out || p.passed());
        }
    }

    fn ended(round: Round, ticket: Ticket) -> Result<(), Stop> {
        match round {
            Round::Completed => Ok(()),
            _ => Err(Stop::Broken {
                epoch: ticket.epoch,
            }),
        }
    }

    /// Takes a timed-out waiter's arrival back, if its round is still open.
    fn withdraw(&self, ticket: Ticket) -> Result<(), Stop> {
        let mut s = self.state.load(SeqCst);
        loop {
            match ticket.round(s) {
                // Its arrival is counted in the open round, so `count >= 1`.
                Round::Open => match self.state.compare_exchange(s, s - 1, SeqCst, SeqCst) {
                    Ok(_) => return Err(Stop::TimedOut),
                    Err(now) => s = now,
                },
                round => return Self::ended(round, ticket),
            }
        }
    }

    /// Breaks the open round, unless broken already, and wakes its waiters; `record(epoch)`
    /// is called first with the epoch being broken, to leave the cause. Whether this call
    /// broke it.
    pub(crate) fn break_round(&self, scope: Scope, record: impl Fn(u32)) -> bool {
        let mut s = self.state.load(SeqCst);
        loop {
            if s & BROKEN != 0 {
                return false;
            }
            record(epoch(s));
            match self.state.compare_exchange(s, s | BROKEN, SeqCst, SeqCst) {
                Ok(_) => {
                    self.wake_all(scope);
                    return true;
                }
                Err(now) => s = now,
            }
        }
    }

    /// Starts afresh: a new epoch, no arrival counted, not broken. The waiters of the round
    /// open until now (`record(epoch)` is called for it first, if it had any and was not
    /// broken) are released as broken.
    pub(crate) fn reset(&self, scope: Scope, record: impl Fn(u32)) {
        let mut s = self.state.load(SeqCst);
        loop {
            if s & BROKEN == 0 && s & COUNT != 0 {
                record(epoch(s));
            }
            let next_epoch = (epoch(s) + 1) % EPOCHS;
            let next = (u64::from(gen(s)) << GEN_SHIFT) | (u64::from(next_epoch) << EPOCH_SHIFT);
            match self.state.compare_exchange(s, next, SeqCst, SeqCst) {
                Ok(_) => {
                    self.wake_all(scope);
                    return;
                }
                Err(now) => s = now,
            }
        }
    }

    /// Moves the futex word on (clearing `SLEEPERS`), and wakes every sleeper if one had
    /// announced itself (see the module docs).
    #[inline]
    fn wake_all(&self, scope: Scope) {
        let mut w = self.wake.load(SeqCst);
        loop {
            // The next even value after `w`: the bit cleared, the count moved, so the value
            // any sleeper announced (odd) is gone for good.
            match self
                .wake
                .compare_exchange(w, (w | SLEEPERS).wrapping_add(1), SeqCst, SeqCst)
            {
                Ok(_) => break,
                Err(now) => w = now,
            }
        }
        if w & SLEEPERS != 0 {
            self.wake.wake(i32::MAX, scope);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Nothing;
    impl Watch for Nothing {
        const SCOPE: Scope = Scope::Private;
        const POLL: Option<Duration> = None;
        fn check(&self, _core: &Core) {}
    }

    /// The state word's transitions, one at a time, as the module docs describe them.
    #[test]
    fn state_transitions() {
        let core = Core::new(3);
        let t = core.arrive().unwrap().unwrap();
        assert_eq!(core.state(), 1);
        assert_eq!(t.round(core.state()), Round::Open);
        assert_eq!(core.arrive().unwrap(), Some(t), "the same round");
        assert_eq!(core.arrive().unwrap(), None, "the third arrival leads");
        assert_eq!(core.state(), 1 << GEN_SHIFT, "gen 1, count 0");
        assert_eq!(t.round(core.state()), Round::Completed);

        // A withdrawn arrival, a break, a reset.
        let t = core.arrive().unwrap().unwrap();
        let deadline = Deadline::after(Duration::ZERO);
        assert_eq!(
            core.await_round(t, Some(&deadline), &Nothing),
            Err(Stop::TimedOut)
        );
        assert_eq!(core.state() & COUNT, 0);
        let t = core.arrive().unwrap().unwrap();
        assert!(core.break_round(Scope::Private, |e| assert_eq!(e, 0)));
        assert!(!core.break_round(Scope::Private, |_| panic!("broken already")));
        assert_eq!(t.round(core.state()), Round::Broken);
        assert_eq!(core.arrive(), Err(Stop::Broken { epoch: 0 }));
        core.reset(Scope::Private, |_| {
            panic!("already broken: no cause to record")
        });
        assert_eq!(core.state(), (1 << GEN_SHIFT) | (1 << EPOCH_SHIFT));
        assert_eq!(t.round(core.state()), Round::Broken, "reset since");

        // A reset of an open round records its cause and breaks it for its waiters.
        let t = core.arrive().unwrap().unwrap();
        let recorded = std::cell::Cell::new(None);
        core.reset(Scope::Private, |e| recorded.set(Some(e)));
        assert_eq!(recorded.get(), Some(1));
        assert_eq!(t.round(core.state()), Round::Broken);
        assert_eq!(epoch(core.state()), 2);
    }

    #[test]
    fn epochs_wrap() {
        let core = Core::new(1);
        for _ in 0..EPOCHS {
            core.reset(Scope::Private, |_| {});
        }
        assert_eq!(epoch(core.state()), 0);
        assert_eq!(core.wait(None, &Nothing), Ok(true));
        assert_eq!(gen(core.state()), 1);
    }
}
