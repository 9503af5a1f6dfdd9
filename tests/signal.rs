//! Signals: sets and numbers, masks restored by their guards (also on panic) and inherited by
//! threads and by `Command` children, `sigtimedwait` with the sender's identity, the signal
//! thread taking a process-directed signal while no handler runs anywhere else, stop and
//! restart, and `pthread_kill` of finished threads reported, never a crash.
//!
//! `harness = false` (see `support`): `main` blocks the signals the cases send before any
//! other thread exists, so every thread inherits the block, as the module's docs prescribe.

mod support;

use std::panic;
use std::sync::atomic::AtomicU32;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use pthread_sync::signal::{self, SigSet, Signal, SignalThread, ThreadRef};
use pthread_sync::Error;
use support::Case;
use support::Outcome::{self, Passed};

/// The signals the cases send: blocked in every thread from `main` on.
fn test_signals() -> SigSet {
    SigSet::from([Signal::USR1, Signal::USR2, Signal::realtime(3).unwrap()])
}

fn sets_and_numbers() -> Outcome {
    let mut set = SigSet::empty();
    assert!(!set.contains(Signal::INT));
    set.add(Signal::INT).add(Signal::TERM);
    assert!(set.contains(Signal::INT) && set.contains(Signal::TERM));
    set.remove(Signal::INT);
    assert_eq!(set.iter().collect::<Vec<_>>(), [Signal::TERM]);
    assert_eq!(SigSet::from([Signal::TERM]), set);
    let full = SigSet::full();
    assert!(full.contains(Signal::KILL) && full.contains(Signal::realtime(0).unwrap()));
    // glibc's internal signals are left out of every usable signal.
    assert!(full.iter().all(|s| s.number() != 32 && s.number() != 33));
    assert_eq!(
        full.iter().count(),
        31 + (libc::SIGRTMAX() - libc::SIGRTMIN() + 1) as usize
    );
    for bad in [0, -1, 32, 33, libc::SIGRTMAX() + 1] {
        assert_eq!(Signal::new(bad), Err(Error::BadSignal(bad)), "{bad}");
    }
    assert_eq!(Signal::new(libc::SIGUSR1), Ok(Signal::USR1));
    assert_eq!(Signal::realtime(0).unwrap().number(), libc::SIGRTMIN());
    let last = (libc::SIGRTMAX() - libc::SIGRTMIN()) as u32;
    assert_eq!(Signal::realtime(last).unwrap().number(), libc::SIGRTMAX());
    assert!(Signal::realtime(last + 1).is_err());
    assert_eq!(Signal::USR1.to_string(), "SIGUSR1");
    assert_eq!(Signal::realtime(3).unwrap().to_string(), "SIGRTMIN+3");
    Passed
}

fn masks_are_restored_also_on_panic() -> Outcome {
    let hup = SigSet::from([Signal::HUP]);
    assert!(!signal::current().unwrap().contains(Signal::HUP));
    {
        let _g = signal::block(&hup).unwrap();
        assert!(signal::current().unwrap().contains(Signal::HUP));
        // Inherited by a thread spawned now.
        let seen = thread::spawn(|| signal::current().unwrap().contains(Signal::HUP))
            .join()
            .unwrap();
        assert!(seen);
        {
            let _u = signal::unblock(&hup).unwrap();
            assert!(!signal::current().unwrap().contains(Signal::HUP));
        }
        assert!(signal::current().unwrap().contains(Signal::HUP));
    }
    assert!(!signal::current().unwrap().contains(Signal::HUP));
    let before = signal::current().unwrap();
    let hook = panic::take_hook();
    panic::set_hook(Box::new(|_| {})); // the panic below is the point: keep it quiet
    let r = panic::catch_unwind(|| {
        let _g = signal::set_mask(&SigSet::full()).unwrap();
        panic!("unwinding with a mask guard");
    });
    panic::set_hook(hook);
    assert!(r.is_err());
    assert_eq!(
        signal::current().unwrap(),
        before,
        "restored while unwinding"
    );
    Passed
}

/// A child started with `std::process::Command` starts with the spawning thread's mask (as
/// the docs say): its `/proc/self/status` shows the blocked signal.
fn command_children_inherit_the_mask() -> Outcome {
    let _g = signal::block(&SigSet::from([Signal::HUP])).unwrap();
    let out = std::process::Command::new("grep")
        .args(["SigBlk", "/proc/self/status"])
        .output()
        .unwrap();
    let line = String::from_utf8(out.stdout).unwrap();
    let hex = line.split_whitespace().nth(1).unwrap();
    let mask = u64::from_str_radix(hex, 16).unwrap();
    assert_ne!(
        mask & (1 << (libc::SIGHUP - 1)),
        0,
        "SIGHUP blocked in the child: {line}"
    );
    Passed
}

fn wait_timeout_times_out_and_names_the_sender() -> Outcome {
    let set = SigSet::from([Signal::USR2]);
    let start = Instant::now();
    assert_eq!(
        signal::wait_timeout(&set, Duration::from_millis(30)),
        Ok(None)
    );
    assert!(start.elapsed() >= Duration::from_millis(30));
    // Sent to this thread with pthread_kill (blocked here: it stays pending).
    ThreadRef::current().kill(Signal::USR2).unwrap();
    let info = signal::wait_timeout(&set, Duration::from_secs(5))
        .unwrap()
        .expect("the pending signal");
    assert_eq!(info.signal, Signal::USR2);
    // SAFETY: plain system calls.
    let (pid, uid) = unsafe { (libc::getpid(), libc::getuid()) };
    assert_eq!((info.pid, info.uid), (pid, uid));
    // glibc sends to the calling thread with `tgkill` or through its `raise` path, so the
    // kernel reports `SI_TKILL` or `SI_USER`; `kill(2)`'s `SI_USER` is checked below.
    assert!(
        matches!(info.code, libc::SI_TKILL | libc::SI_USER),
        "{}",
        info.code
    );
    // sigwait takes one too.
    ThreadRef::current().kill(Signal::USR2).unwrap();
    assert_eq!(signal::wait(&set), Ok(Signal::USR2));
    Passed
}

/// Counts asynchronous deliveries of the test signals: there must be none (every thread
/// blocks them; only the signal thread takes them, synchronously).
static ASYNC_HANDLER_RAN: AtomicU32 = AtomicU32::new(0);

extern "C" fn async_handler(_: libc::c_int) {
    ASYNC_HANDLER_RAN.fetch_add(1, SeqCst);
}

fn process_signals_reach_only_the_signal_thread() -> Outcome {
    // SAFETY: a zeroed sigaction is a valid value to fill in; the handler only touches an
    // atomic (async-signal-safe).
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = async_handler as extern "C" fn(libc::c_int) as usize;
        libc::sigemptyset(&mut action.sa_mask);
        assert_eq!(
            libc::sigaction(libc::SIGUSR1, &action, std::ptr::null_mut()),
            0
        );
    }
    // Busy threads that must not take it either.
    let stop = std::sync::atomic::AtomicBool::new(false);
    thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                while !stop.load(SeqCst) {
                    std::hint::spin_loop();
                }
            });
        }
        let (tx, rx) = mpsc::channel();
        let mut st =
            SignalThread::spawn(test_signals(), move |info| tx.send(info).unwrap()).unwrap();
        for _ in 0..10 {
            signal::raise_process(Signal::USR1).unwrap();
            let info = rx.recv_timeout(Duration::from_secs(10)).unwrap();
            assert_eq!(info.signal, Signal::USR1);
            // SAFETY: a plain system call.
            assert_eq!(info.pid, unsafe { libc::getpid() });
            assert_eq!(info.code, libc::SI_USER);
        }
        st.stop().unwrap();
        stop.store(true, SeqCst);
    });
    assert_eq!(
        ASYNC_HANDLER_RAN.load(SeqCst),
        0,
        "taken asynchronously somewhere"
    );
    Passed
}

fn stop_is_bounded_repeatable_and_restartable() -> Outcome {
    for round in 0..3 {
        let (tx, rx) = mpsc::channel();
        let mut st =
            SignalThread::spawn(test_signals(), move |info| tx.send(info.signal).unwrap()).unwrap();
        assert!(st.is_running());
        signal::raise_process(Signal::realtime(3).unwrap()).unwrap();
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(10)).unwrap(),
            Signal::realtime(3).unwrap(),
            "round {round}"
        );
        let start = Instant::now();
        st.stop().unwrap();
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "stopped within a bound"
        );
        assert!(!st.is_running());
        st.stop().unwrap(); // again: nothing to do
        drop(st); // and dropping a stopped one is fine
    }
    Passed
}

fn killing_finished_threads_is_reported() -> Outcome {
    // Through a JoinHandle, not yet joined.
    let (ready_tx, ready_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let t = thread::spawn(move || {
        ready_tx.send(ThreadRef::current()).unwrap();
        go_rx.recv().unwrap();
    });
    let me = ready_rx.recv().unwrap();
    assert!(signal::is_alive(&t) && me.is_alive());
    signal::kill(&t, Signal::USR1).unwrap(); // blocked there: stays pending, harmless
    go_tx.send(()).unwrap();
    while !t.is_finished() {
        thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(signal::kill(&t, Signal::USR1), Err(Error::ThreadGone));
    assert!(!signal::is_alive(&t));
    t.join().unwrap();
    // From the thread's own side, after it was joined (its pthread_t freed): reported, never
    // a signal sent to freed memory.
    assert_eq!(me.kill(Signal::USR1), Err(Error::ThreadGone));
    assert!(!me.is_alive());
    Passed
}

/// `SIGKILL` and `SIGSTOP` can be neither blocked nor waited for: Linux drops them from a
/// wait's set silently, so `sigwait` on `{SIGKILL}` would sleep forever. Every wait, and a
/// signal thread, refuses a set with no other signal (an empty one too); beside others they
/// are ignored, as in C, so a wait on the full set (after blocking it) takes a signal.
fn waits_refuse_sigkill_and_sigstop() -> Outcome {
    for bad in [
        SigSet::from([Signal::KILL]),
        SigSet::from([Signal::STOP]),
        SigSet::from([Signal::KILL, Signal::STOP]),
        SigSet::empty(),
    ] {
        assert!(matches!(signal::wait(&bad), Err(Error::InvalidInput(_))));
        assert!(matches!(
            signal::wait_timeout(&bad, Duration::from_secs(60)),
            Err(Error::InvalidInput(_))
        ));
        assert!(matches!(
            SignalThread::spawn(bad, |_| {}),
            Err(Error::InvalidInput(_))
        ));
    }
    assert_eq!(
        signal::wait_timeout(&SigSet::from([Signal::USR1, Signal::KILL]), Duration::ZERO),
        Ok(None)
    );
    // Blocking the full set and waiting on it, the C idiom (the block is undone after).
    let blocked = signal::block(&SigSet::full()).unwrap();
    signal::raise_process(Signal::USR1).unwrap();
    let got = signal::wait_timeout(&SigSet::full(), Duration::from_secs(10)).unwrap();
    assert_eq!(got.map(|i| i.signal), Some(Signal::USR1));
    drop(blocked);
    Passed
}

fn main() {
    // Before any other thread: every thread from now on inherits the block.
    signal::block(&test_signals()).unwrap().keep();
    let cases: &[Case] = &[
        ("sets_and_numbers", sets_and_numbers),
        (
            "waits_refuse_sigkill_and_sigstop",
            waits_refuse_sigkill_and_sigstop,
        ),
        (
            "masks_are_restored_also_on_panic",
            masks_are_restored_also_on_panic,
        ),
        (
            "command_children_inherit_the_mask",
            command_children_inherit_the_mask,
        ),
        (
            "wait_timeout_times_out_and_names_the_sender",
            wait_timeout_times_out_and_names_the_sender,
        ),
        (
            "process_signals_reach_only_the_signal_thread",
            process_signals_reach_only_the_signal_thread,
        ),
        (
            "stop_is_bounded_repeatable_and_restartable",
            stop_is_bounded_repeatable_and_restartable,
        ),
        (
            "killing_finished_threads_is_reported",
            killing_finished_threads_is_reported,
        ),
    ];
    support::run(cases);
}
