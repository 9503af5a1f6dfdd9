//! A dedicated signal-handling thread, as in the seed's `sig_thread`.
//!
//! ```sh
//! cargo run --example signal_thread
//! ```
//!
//! The main thread blocks SIGQUIT and SIGUSR1 before starting anything (every thread spawned
//! later inherits the mask), starts a `SignalThread` that takes them with `sigtimedwait` and
//! reports each, sends itself a few, and stops the thread cleanly: no asynchronous handler,
//! no signal lost, no thread left behind.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use pthread_sync::signal::{self, SigSet, Signal, SignalThread};

pub fn main() {
    let set = SigSet::from([Signal::QUIT, Signal::USR1]);
    let (tx, rx) = mpsc::channel();
    let mut handler = SignalThread::spawn(set, move |info| {
        println!(
            "signal thread: got {} from pid {} (uid {}, si_code {})",
            info.signal, info.pid, info.uid, info.code
        );
        tx.send(info.signal).unwrap();
    })
    .expect("starting the signal thread");

    // Workers spawned now inherit the blocked mask: the signals can only go to the thread
    // that waits for them.
    let workers: Vec<_> = (0..2)
        .map(|i| {
            thread::spawn(move || {
                let blocked = signal::current().unwrap();
                assert!(blocked.contains(Signal::QUIT) && blocked.contains(Signal::USR1));
                println!("worker {i}: SIGQUIT and SIGUSR1 blocked here");
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }

    for sig in [Signal::USR1, Signal::QUIT, Signal::USR1] {
        println!("main: kill(getpid(), {sig})");
        signal::raise_process(sig).unwrap();
        let got = rx.recv_timeout(Duration::from_secs(5)).expect("handled");
        assert_eq!(got, sig);
    }

    handler.stop().expect("stopping the signal thread");
    println!("main: signal thread stopped and joined; exiting normally");
}
