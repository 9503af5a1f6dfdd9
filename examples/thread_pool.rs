//! A half-sync/half-reactive thread pool, the seed program's design done with pthread-sync.
//!
//! The "reactive" half (here, `main`) appends requests to a work queue guarded by a
//! [`Locker`]; a [`Sem`] counts the queued requests; N "sync" workers each wait on the
//! semaphore, pop one request and process it. The queue is bounded (`max_requests`): a full
//! queue refuses new work, handing the request back to the caller. Unlike the seed (which
//! detached its threads and leaked them), dropping the pool shuts it down cleanly: the
//! queued requests are finished and every worker is joined.
//!
//! Run: `cargo run --example thread_pool`

use pthread_sync::{Locker, Sem};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

/// Work a pool can run.
trait Request: Send + 'static {
    fn process(self, worker: usize);
}

struct Shared<R> {
    queue: Locker<VecDeque<R>>,
    /// One unit per queued request, plus one per worker at shutdown.
    queued: Sem,
    stop: AtomicBool,
}

struct ThreadPool<R: Request> {
    shared: Arc<Shared<R>>,
    workers: Vec<JoinHandle<()>>,
    max_requests: usize,
}

impl<R: Request> ThreadPool<R> {
    /// Starts `threads` workers over a queue holding at most `max_requests` requests.
    fn new(threads: usize, max_requests: usize) -> ThreadPool<R> {
        assert!(threads > 0 && max_requests > 0);
        let shared = Arc::new(Shared {
            queue: Locker::new(VecDeque::with_capacity(max_requests)),
            queued: Sem::new(0).expect("0 is a valid semaphore value"),
            stop: AtomicBool::new(false),
        });
        let workers = (0..threads)
            .map(|id| {
                let shared = Arc::clone(&shared);
                thread::Builder::new()
                    .name(format!("worker-{id}"))
                    .spawn(move || Self::run(id, &shared))
                    .expect("spawn a worker")
            })
            .collect();
        ThreadPool {
            shared,
            workers,
            max_requests,
        }
    }

    /// Queues `request`; gives it back if the queue is full.
    fn append(&self, request: R) -> Result<(), R> {
        {
            let mut queue = self.shared.queue.lock().unwrap();
            if queue.len() >= self.max_requests {
                return Err(request);
            }
            queue.push_back(request);
        }
        self.shared
            .queued
            .post()
            .expect("the queue bound keeps the count far below SEM_VALUE_MAX");
        Ok(())
    }

    fn run(id: usize, shared: &Shared<R>) {
        loop {
            shared.queued.wait();
            let next = shared.queue.lock().unwrap().pop_front();
            match next {
                Some(request) => request.process(id),
                // Only the shutdown posts without queueing: the queue is drained, leave.
                None if shared.stop.load(Ordering::Acquire) => return,
                None => {}
            }
        }
    }
}

impl<R: Request> Drop for ThreadPool<R> {
    /// Finishes the queued requests, then stops and joins every worker.
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        for _ in &self.workers {
            let _ = self.shared.queued.post();
        }
        for worker in self.workers.drain(..) {
            worker.join().expect("a worker panicked");
        }
    }
}

/// A request: sum the squares of 1..=n, and record which worker did it.
struct SumSquares {
    n: u64,
    total: Arc<AtomicU64>,
    per_worker: Arc<Locker<Vec<u64>>>,
}

impl Request for SumSquares {
    fn process(self, worker: usize) {
        let s: u64 = (1..=self.n).map(|i| i * i).sum();
        self.total.fetch_add(s, Ordering::Relaxed);
        self.per_worker.lock().unwrap()[worker] += 1;
    }
}

pub fn main() {
    const WORKERS: usize = 4;
    const REQUESTS: u64 = 2_000;
    let total = Arc::new(AtomicU64::new(0));
    let per_worker = Arc::new(Locker::new(vec![0u64; WORKERS]));
    let mut refused = 0u64;
    {
        let pool = ThreadPool::new(WORKERS, 16);
        for n in 1..=REQUESTS {
            let mut request = SumSquares {
                n,
                total: Arc::clone(&total),
                per_worker: Arc::clone(&per_worker),
            };
            // The reactor does not block on a full queue: it gets the request back.
            while let Err(back) = pool.append(request) {
                refused += 1;
                request = back;
                thread::yield_now();
            }
        }
        // `pool` dropped here: queued work finished, workers joined.
    }
    let expected: u64 = (1..=REQUESTS).map(|n| n * (n + 1) * (2 * n + 1) / 6).sum();
    let done: Vec<u64> = per_worker.lock().unwrap().clone();
    println!("thread pool: {WORKERS} workers, queue bound 16, {REQUESTS} requests");
    println!(
        "  processed per worker: {done:?} (sum {})",
        done.iter().sum::<u64>()
    );
    println!("  refused while the queue was full (then retried): {refused}");
    println!(
        "  total = {} (expected {expected}): {}",
        total.load(Ordering::Relaxed),
        if total.load(Ordering::Relaxed) == expected {
            "ok"
        } else {
            "MISMATCH"
        }
    );
    println!("  all {WORKERS} workers joined");
    assert_eq!(total.load(Ordering::Relaxed), expected);
    assert_eq!(done.iter().sum::<u64>(), REQUESTS);
}
