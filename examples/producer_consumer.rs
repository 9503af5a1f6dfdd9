//! A bounded buffer shared by producers and consumers: the seed's `cond` wrapper pattern
//! (lock, then `while !condition { cond.wait(mutex) }`) written with `Cond::wait_while`.
//!
//! Two condition variables on one [`Locker`]: `not_full` for producers, `not_empty` for
//! consumers. Every item is consumed exactly once; the totals are checked.
//!
//! Run: `cargo run --example producer_consumer`

use pthread_sync::{Cond, Locker};
use std::collections::VecDeque;
use std::sync::Arc;
use std::thread;

const CAPACITY: usize = 8;
const PRODUCERS: u64 = 3;
const CONSUMERS: usize = 3;
const ITEMS_PER_PRODUCER: u64 = 10_000;

struct Buffer {
    /// The queue and how many producers are still running.
    state: Locker<(VecDeque<u64>, u64)>,
    not_empty: Cond,
    not_full: Cond,
}

impl Buffer {
    fn put(&self, item: u64) {
        let mut g = self
            .not_full
            .wait_while(self.state.lock().unwrap(), |(q, _)| q.len() == CAPACITY)
            .unwrap();
        g.0.push_back(item);
        drop(g);
        self.not_empty.notify_one();
    }

    /// The next item, or `None` once the buffer is empty and every producer has finished.
    fn take(&self) -> Option<u64> {
        let mut g = self
            .not_empty
            .wait_while(self.state.lock().unwrap(), |(q, running)| {
                q.is_empty() && *running > 0
            })
            .unwrap();
        let item = g.0.pop_front();
        drop(g);
        if item.is_some() {
            self.not_full.notify_one();
        }
        item
    }

    fn producer_done(&self) {
        self.state.lock().unwrap().1 -= 1;
        self.not_empty.notify_all();
    }
}

pub fn main() {
    let buf = Arc::new(Buffer {
        state: Locker::new((VecDeque::with_capacity(CAPACITY), PRODUCERS)),
        not_empty: Cond::new(),
        not_full: Cond::new(),
    });
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let buf = Arc::clone(&buf);
            thread::spawn(move || {
                for i in 0..ITEMS_PER_PRODUCER {
                    buf.put(p * ITEMS_PER_PRODUCER + i);
                }
                buf.producer_done();
            })
        })
        .collect();
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|_| {
            let buf = Arc::clone(&buf);
            thread::spawn(move || {
                let (mut n, mut sum) = (0u64, 0u64);
                while let Some(item) = buf.take() {
                    n += 1;
                    sum += item;
                }
                (n, sum)
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    let results: Vec<(u64, u64)> = consumers.into_iter().map(|c| c.join().unwrap()).collect();
    let n: u64 = results.iter().map(|r| r.0).sum();
    let sum: u64 = results.iter().map(|r| r.1).sum();
    let total = PRODUCERS * ITEMS_PER_PRODUCER;
    println!(
        "producer/consumer: {PRODUCERS} producers, {CONSUMERS} consumers, buffer of {CAPACITY}"
    );
    println!(
        "  items per consumer: {:?}",
        results.iter().map(|r| r.0).collect::<Vec<_>>()
    );
    println!(
        "  consumed {n} of {total}; sum {sum} (expected {})",
        total * (total - 1) / 2
    );
    assert_eq!(n, total);
    assert_eq!(sum, total * (total - 1) / 2);
    println!("  ok: every item consumed exactly once");
}
