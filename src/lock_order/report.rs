//! What a report says, as values (for a hook) and as text (for standard error), formatted
//! without allocating.

use std::fmt;
use std::panic::Location;

use super::graph::{EdgeInfo, Locked, Node, Site, FRAMES};

/// Edges a report keeps of a cycle (the new one and up to 7 of the path it closes).
pub(crate) const MAX_CYCLE: usize = 8;

/// A lock as a report names it.
#[derive(Clone, Copy, Debug)]
pub struct LockInfo {
    addr: usize,
    name: Option<&'static str>,
    site: Option<&'static Location<'static>>,
    created: Option<&'static Location<'static>>,
}

impl LockInfo {
    const NONE: LockInfo = LockInfo {
        addr: 0,
        name: None,
        site: None,
        created: None,
    };

    fn of(node: Node) -> LockInfo {
        LockInfo {
            addr: node.addr,
            name: node.name,
            site: node.site,
            created: node.created,
        }
    }

    /// The lock's address in this process (how the checker tells locks apart).
    pub fn address(&self) -> usize {
        self.addr
    }

    /// The name given with [`name`](super::name), if any.
    pub fn name(&self) -> Option<&'static str> {
        self.name
    }

    /// Where it was named, or else where it was first acquired with another lock held.
    pub fn site(&self) -> Option<&'static Location<'static>> {
        self.site
    }

    /// Where it was created: the `#[track_caller]` site of the constructor (`new`,
    /// `Default::default`, `From::from`) of an in-process lock ([`Locker`](crate::Locker) and
    /// the other in-process kinds, [`RwLock`](crate::RwLock)), which keeps it in a build
    /// with the `lock-order` feature (a pointer more per lock; nothing without it). `None`
    /// for a shared lock (its bytes are laid out for C and keep no site: [`site`] names
    /// it).
    ///
    /// [`site`]: LockInfo::site
    pub fn created(&self) -> Option<&'static Location<'static>> {
        self.created
    }
}

impl fmt::Display for LockInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name {
            Some(name) => write!(f, "lock \"{name}\" ({:#x}", self.addr)?,
            None => write!(f, "lock {:#x}", self.addr)?,
        }
        match (self.name, self.site, self.created) {
            (Some(_), Some(site), Some(created)) => {
                write!(f, ", named at {site}, created at {created})")
            }
            (Some(_), Some(site), None) => write!(f, ", named at {site})"),
            (Some(_), None, Some(created)) => write!(f, ", created at {created})"),
            (Some(_), None, None) => f.write_str(")"),
            (None, _, Some(created)) => write!(f, " (created at {created})"),
            (None, Some(site), None) => write!(f, " (first taken nested at {site})"),
            (None, None, None) => Ok(()),
        }
    }
}

/// One edge of a reported cycle: `acquired` was taken (or waited for) while `held` was held.
#[derive(Clone, Copy, Debug)]
pub struct Edge {
    held: LockInfo,
    acquired: LockInfo,
    held_at: Site,
    acquired_at: Site,
    frames: [usize; FRAMES],
    nframes: u8,
}

impl Edge {
    const NONE: Edge = Edge {
        held: LockInfo::NONE,
        acquired: LockInfo::NONE,
        held_at: None,
        acquired_at: None,
        frames: [0; FRAMES],
        nframes: 0,
    };

    fn of(held: Node, acquired: Node, info: &EdgeInfo) -> Edge {
        Edge {
            held: LockInfo::of(held),
            acquired: LockInfo::of(acquired),
            held_at: info.held_at,
            acquired_at: info.taken_at,
            frames: info.frames,
            nframes: info.nframes,
        }
    }

    /// The lock that was held.
    pub fn held(&self) -> &LockInfo {
        &self.held
    }

    /// The lock acquired while it was held.
    pub fn acquired(&self) -> &LockInfo {
        &self.acquired
    }

    /// Where the held lock had been acquired (`None`: the edge's record did not fit).
    pub fn held_at(&self) -> Option<&'static Location<'static>> {
        self.held_at
    }

    /// Where the second lock was acquired.
    pub fn acquired_at(&self) -> Option<&'static Location<'static>> {
        self.acquired_at
    }

    /// The stack of the acquisition that made this edge, as raw return addresses, innermost
    /// first (the first few are the crate's own lock path; 16 frames at most); empty where
    /// no stack was kept (a full edge table, or the model build). Symbolize
    /// them as you like (the default report prints them with glibc's
    /// `backtrace_symbols_fd`).
    pub fn frames(&self) -> &[usize] {
        &self.frames[..usize::from(self.nframes)]
    }
}

impl fmt::Display for Edge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.acquired)?;
        if let Some(at) = self.acquired_at {
            write!(f, " acquired at {at}")?;
        }
        write!(f, " while holding {}", self.held)?;
        if let Some(at) = self.held_at {
            write!(f, " taken at {at}")?;
        }
        Ok(())
    }
}

/// A potential deadlock: an acquisition whose edge closes a cycle in the held-before graph.
/// [`edges`](Report::edges)`()[0]` is the new edge (the acquisition being made, reported
/// before it blocks); the others are the earlier edges of the path it closes, in order, so
/// that the last one's acquired lock is the first one's held lock.
///
/// Its `Display` is the text the default report prints (without the stacks).
#[derive(Clone, Copy, Debug)]
pub struct Report {
    edges: [Edge; MAX_CYCLE],
    len: usize,
    cut: bool,
}

impl Report {
    pub(crate) const fn empty() -> Report {
        Report {
            edges: [Edge::NONE; MAX_CYCLE],
            len: 0,
            cut: false,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The report of the new edge `from -> to` (`info`) that closes the cycle through
    /// `path` (`to` first, `from` last, as `Locked::path` gives it).
    pub(crate) fn fill(
        &mut self,
        g: &Locked<'_>,
        (from, to): (usize, usize),
        info: &EdgeInfo,
        path: &[u16],
        cut: bool,
    ) {
        self.edges[0] = Edge::of(g.info(from), g.info(to), info);
        let mut len = 1;
        for pair in path.windows(2) {
            let (a, b) = (usize::from(pair[0]), usize::from(pair[1]));
            self.edges[len] = Edge::of(g.info(a), g.info(b), &g.edge(a, b));
            len += 1;
        }
        self.len = len;
        self.cut = cut;
    }

    /// The edges of the cycle: the new one first.
    pub fn edges(&self) -> &[Edge] {
        &self.edges[..self.len]
    }

    /// Whether the cycle was longer than a report keeps (8 edges): the path is cut before
    /// its last edge.
    pub fn is_cut(&self) -> bool {
        self.cut
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "pthread-sync: potential deadlock: lock order inversion (a cycle of {}{} locks)",
            self.len,
            if self.cut { " or more" } else { "" }
        )?;
        if let Some(new) = self.edges().first() {
            writeln!(f, "  this thread is about to wait for {new}")?;
        }
        for (i, e) in self.edges().iter().enumerate().skip(1) {
            let then = if i == 1 { "earlier" } else { "and" };
            writeln!(f, "  {then}, {e}")?;
        }
        if self.cut {
            writeln!(f, "  (the rest of the cycle is not shown)")?;
        }
        Ok(())
    }
}

/// Standard error through a small stack buffer (no allocation, few writes).
struct Stderr {
    buf: [u8; 512],
    len: usize,
}

impl Stderr {
    fn flush(&mut self) {
        crate::sys::diag::write_stderr(&self.buf[..self.len]);
        self.len = 0;
    }
}

impl fmt::Write for Stderr {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for chunk in s.as_bytes().chunks(self.buf.len()) {
            if self.len + chunk.len() > self.buf.len() {
                self.flush();
            }
            self.buf[self.len..self.len + chunk.len()].copy_from_slice(chunk);
            self.len += chunk.len();
        }
        Ok(())
    }
}

/// The default report: the text, then each edge's stack, symbolized (addresses and mangled
/// names: symbolizing further would allocate).
pub(crate) fn print(report: &Report) {
    use fmt::Write;
    let mut out = Stderr {
        buf: [0; 512],
        len: 0,
    };
    let _ = write!(out, "{report}");
    for (i, e) in report.edges().iter().enumerate() {
        if e.frames().is_empty() {
            continue;
        }
        let which = if i == 0 {
            "the new edge"
        } else {
            "an earlier edge"
        };
        let _ = writeln!(
            out,
            "  stack of {which} ({} waiting for {}), innermost first:",
            e.held, e.acquired
        );
        out.flush();
        crate::sys::diag::write_symbols_stderr(e.frames());
    }
    out.flush();
}
