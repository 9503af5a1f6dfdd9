//! The process's held-before graph: which lock was held when which other lock was taken,
//! in fixed storage (no allocation), behind one small spin lock taken only when a thread
//! meets an edge it has not seen before, when a lock that has a node is dropped, and when a
//! region is unmapped.
//!
//! - Nodes: a lock's address, its name, the site of its naming or first nested acquisition,
//!   and its creation site (an in-process lock in a build with the `lock-order` feature).
//! - Edges: an adjacency bit matrix (reachability is a walk over words), and beside it, for
//!   the reports, each edge's two acquisition sites and the stack of the acquisition that
//!   made it (an edge whose record does not fit has no stack; the edge itself always fits).
//! - The epoch: bumped whenever a node is removed. A thread caches the edges it has checked
//!   together with the epoch it read **under the lock** when it checked them: a cached edge
//!   is good while the epoch has not moved, so a thread with a stable lock order reads the
//!   epoch and writes nothing shared. (Reading the epoch after releasing the lock would let
//!   a removal in between go unseen: `Mutation::LockOrderEpochAfterUnlock`, which loom
//!   rejects.)
//! - A filter: a bit per hash of a node's address, set when the node is made, never
//!   cleared, so that dropping a lock that never had a node (almost every lock) looks at
//!   one word and takes no lock.

use std::cell::UnsafeCell;
use std::panic::Location;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use crate::shim::{array_of, const_fn, spin_hint, AtomicU32, AtomicU64};

crate::shim::global! {
    /// The process's lock-order graph: a `static` (zeroed memory, about 1 MiB of which only
    /// the pages used are touched), or in the model one per model run.
    pub(crate) fn lock_order_graph() -> Graph = Graph::new();
}

/// Locks the graph can hold at once.
pub(crate) const NODES: usize = crate::shim::LOCK_ORDER_NODES;
/// Edge records (sites and stack) the graph can hold at once.
pub(crate) const EDGES: usize = crate::shim::LOCK_ORDER_EDGES;
/// Frames of a stack kept per edge.
pub(crate) const FRAMES: usize = 16;
const WORDS: usize = NODES.div_ceil(64);
/// A power of two.
const FILTER_WORDS: usize = crate::shim::LOCK_ORDER_FILTER_WORDS;
const _: () = assert!(FILTER_WORDS.is_power_of_two());
const NONE: u16 = u16::MAX;

/// Where an acquisition (or a naming) was made in the source.
pub(crate) type Site = Option<&'static Location<'static>>;

/// A node: a lock.
#[derive(Clone, Copy)]
pub(crate) struct Node {
    /// The lock's address; 0: a free node.
    pub addr: usize,
    pub name: Option<&'static str>,
    /// Where it was named, or first acquired with another lock held.
    pub site: Site,
    /// Where it was created (an in-process lock, with the `lock-order` feature).
    pub created: Site,
}

const FREE_NODE: Node = Node {
    addr: 0,
    name: None,
    site: None,
    created: None,
};

/// What a report tells of an edge `from -> to`.
#[derive(Clone, Copy)]
pub(crate) struct EdgeInfo {
    /// The nodes plus one; `from == 0`: a free record.
    from: u16,
    to: u16,
    /// Where `from` was taken, and `to` then taken while `from` was held.
    pub held_at: Site,
    pub taken_at: Site,
    pub frames: [usize; FRAMES],
    pub nframes: u8,
}

pub(crate) const NO_EDGE: EdgeInfo = EdgeInfo {
    from: 0,
    to: 0,
    held_at: None,
    taken_at: None,
    frames: [0; FRAMES],
    nframes: 0,
};

struct Inner {
    nodes: [Node; NODES],
    /// One more than the highest node in use.
    high: usize,
    adj: [[u64; WORDS]; NODES],
    edges: [EdgeInfo; EDGES],
    /// Where to start looking for a free edge record.
    edge_hint: usize,
}

/// The graph. See the module docs.
pub(crate) struct Graph {
    /// 0 free, else the holder's process id.
    lock: AtomicU32,
    /// Bumped (under the lock) by every node removal.
    epoch: AtomicU64,
    filter: [AtomicU64; FILTER_WORDS],
    inner: UnsafeCell<Inner>,
}

// SAFETY: `inner` is only reached through `Locked`, which exists only while `lock` is held
// by its thread (acquire on taking, release on leaving): one thread at a time.
unsafe impl Sync for Graph {}
// SAFETY: as above; the graph owns plain data.
unsafe impl Send for Graph {}

#[inline(always)]
fn filter_bit(addr: usize) -> (usize, u64) {
    let h = (addr as u64 >> 3).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 52;
    ((h as usize / 64) & (FILTER_WORDS - 1), 1 << (h % 64))
}

impl Graph {
    const_fn! {
        /// An empty graph (epoch 1, so a zeroed cache entry never matches).
        pub(crate) const fn new() -> Graph {
            Graph {
                lock: AtomicU32::new(0),
                epoch: AtomicU64::new(1),
                filter: array_of![AtomicU64::new(0); FILTER_WORDS],
                inner: UnsafeCell::new(Inner {
                    nodes: [FREE_NODE; NODES],
                    high: 0,
                    adj: [[0; WORDS]; NODES],
                    edges: [NO_EDGE; EDGES],
                    edge_hint: 0,
                }),
            }
        }
    }

    /// The epoch, for checking a cached edge: acquire, so that a removal that happened
    /// before the caller's acquisition (through any synchronization) is seen.
    #[inline(always)]
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Acquire)
    }

    /// Whether `addr` may have a node (`false`: it certainly has none).
    #[inline(always)]
    pub(crate) fn may_have(&self, addr: usize) -> bool {
        let (w, bit) = filter_bit(addr);
        self.filter[w].load(Relaxed) & bit != 0
    }

    /// Takes the graph's lock (held for a few microseconds at most: no blocking inside).
    ///
    /// The word holds the holder's process id: in the child of a `fork` made while another
    /// thread of the parent held it, nobody would ever release it, so a word naming another
    /// process is taken over (the graph may then hold a half-made update of the parent's:
    /// at worst a spurious or a missed report in that child, never a hang).
    pub(crate) fn lock(&self) -> Locked<'_> {
        let me = crate::shim::process_id();
        let mut round = 0;
        loop {
            match self.lock.compare_exchange_weak(0, me, Acquire, Relaxed) {
                Ok(_) => break,
                Err(other) if other != 0 && other != me => {
                    if self
                        .lock
                        .compare_exchange(other, me, Acquire, Relaxed)
                        .is_ok()
                    {
                        break;
                    }
                }
                Err(_) => {}
            }
            spin_hint(round);
            round = round.saturating_add(1);
        }
        Locked { graph: self }
    }
}

/// The graph, locked.
pub(crate) struct Locked<'g> {
    graph: &'g Graph,
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        self.graph.lock.store(0, Release);
    }
}

impl Locked<'_> {
    #[inline(always)]
    fn inner(&self) -> &Inner {
        // SAFETY: this `Locked` holds the graph's lock (see `Graph`'s `Sync`).
        unsafe { &*self.graph.inner.get() }
    }

    #[inline(always)]
    fn inner_mut(&mut self) -> &mut Inner {
        // SAFETY: as in `inner`; `&mut self` makes this the only reference.
        unsafe { &mut *self.graph.inner.get() }
    }

    /// The epoch, stable while the lock is held (only holders change it).
    pub(crate) fn epoch(&self) -> u64 {
        self.graph.epoch.load(Relaxed)
    }

    /// Whether the graph has the edge `from -> to` (by address).
    #[cfg_attr(not(loom), allow(dead_code))] // for the model checks
    pub(crate) fn has_edge_between(&self, from: usize, to: usize) -> bool {
        match (self.find(from), self.find(to)) {
            (Some(f), Some(t)) => self.has_edge(f, t),
            _ => false,
        }
    }

    /// The node of `addr`, if it has one.
    pub(crate) fn find(&self, addr: usize) -> Option<usize> {
        if !self.graph.may_have(addr) {
            return None;
        }
        let inner = self.inner();
        (0..inner.high).find(|&i| inner.nodes[i].addr == addr)
    }

    /// The node of `addr`, made (with `site` and `created`) if it has none; `None` if the
    /// graph is full.
    pub(crate) fn node(&mut self, addr: usize, site: Site, created: Site) -> Option<usize> {
        if let Some(i) = self.find(addr) {
            let node = &mut self.inner_mut().nodes[i];
            if node.site.is_none() {
                node.site = site;
            }
            if node.created.is_none() {
                node.created = created;
            }
            return Some(i);
        }
        let inner = self.inner_mut();
        let i = (0..NODES).find(|&i| inner.nodes[i].addr == 0)?;
        inner.nodes[i] = Node {
            addr,
            name: None,
            site,
            created,
        };
        inner.high = inner.high.max(i + 1);
        let (w, bit) = filter_bit(addr);
        self.graph.filter[w].fetch_or(bit, Relaxed);
        Some(i)
    }

    pub(crate) fn info(&self, i: usize) -> Node {
        self.inner().nodes[i]
    }

    /// Names node `i`.
    pub(crate) fn set_name(&mut self, i: usize, name: &'static str, site: Site) {
        let node = &mut self.inner_mut().nodes[i];
        node.name = Some(name);
        node.site = site;
    }

    pub(crate) fn has_edge(&self, from: usize, to: usize) -> bool {
        self.inner().adj[from][to / 64] & (1 << (to % 64)) != 0
    }

    /// Adds the edge `from -> to` with what a report tells of it (`info`'s nodes are set
    /// here).
    pub(crate) fn add_edge(&mut self, from: usize, to: usize, mut info: EdgeInfo) {
        let inner = self.inner_mut();
        inner.adj[from][to / 64] |= 1 << (to % 64);
        info.from = from as u16 + 1;
        info.to = to as u16 + 1;
        let start = inner.edge_hint;
        if let Some(k) = (0..EDGES)
            .map(|k| (start + k) % EDGES)
            .find(|&k| inner.edges[k].from == 0)
        {
            inner.edges[k] = info;
            inner.edge_hint = (k + 1) % EDGES;
        }
    }

    /// The record of the edge `from -> to` (`NO_EDGE` with no sites or stack if it did not
    /// fit).
    pub(crate) fn edge(&self, from: usize, to: usize) -> EdgeInfo {
        let (f, t) = (from as u16 + 1, to as u16 + 1);
        self.inner()
            .edges
            .iter()
            .find(|e| e.from == f && e.to == t)
            .copied()
            .unwrap_or(NO_EDGE)
    }

    /// A path `from -> ... -> to` along edges, as its nodes (`from` first, `to` last) in
    /// `out` (at least 2 long); its length in nodes and whether it was cut, `None` if `to`
    /// cannot be reached. A path longer than `out` keeps its first `out.len() - 1` nodes
    /// and `to`.
    pub(crate) fn path(&self, from: usize, to: usize, out: &mut [u16]) -> Option<(usize, bool)> {
        let inner = self.inner();
        let mut seen = [0u64; WORDS];
        let mut parent = [NONE; NODES];
        let mut stack = [0u16; NODES];
        let mut top = 1;
        stack[0] = from as u16;
        seen[from / 64] |= 1 << (from % 64);
        let mut found = from == to;
        while top > 0 && !found {
            top -= 1;
            let n = stack[top] as usize;
            for (w, &row) in inner.adj[n].iter().enumerate() {
                let mut next = row & !seen[w];
                while next != 0 {
                    let m = w * 64 + next.trailing_zeros() as usize;
                    next &= next - 1;
                    seen[w] |= 1 << (m % 64);
                    parent[m] = n as u16;
                    if m == to {
                        found = true;
                        break;
                    }
                    stack[top] = m as u16;
                    top += 1;
                }
                if found {
                    break;
                }
            }
        }
        if !found {
            return None;
        }
        // Back from `to` to `from`.
        let mut back = [0u16; NODES];
        let mut all = 0;
        let mut n = to as u16;
        loop {
            back[all] = n;
            all += 1;
            if n as usize == from {
                break;
            }
            n = parent[n as usize];
        }
        let len = all.min(out.len());
        for (j, slot) in out[..len - 1].iter_mut().enumerate() {
            *slot = back[all - 1 - j];
        }
        out[len - 1] = to as u16;
        Some((len, all > len))
    }

    /// Removes node `i` and every edge into or out of it; bumps the epoch.
    fn remove_node(&mut self, i: usize) {
        let tag = i as u16 + 1;
        let inner = self.inner_mut();
        inner.nodes[i] = FREE_NODE;
        inner.adj[i] = [0; WORDS];
        for row in inner.adj[..inner.high].iter_mut() {
            row[i / 64] &= !(1 << (i % 64));
        }
        for e in inner.edges.iter_mut() {
            if e.from == tag || e.to == tag {
                *e = NO_EDGE;
            }
        }
        while inner.high > 0 && inner.nodes[inner.high - 1].addr == 0 {
            inner.high -= 1;
        }
        // Relaxed would do for holders (they read it under the lock); release pairs with
        // the acquire of `Graph::epoch` on the cache's path.
        self.graph.epoch.fetch_add(1, Release);
    }

    /// Removes the node of `addr`, if it has one.
    pub(crate) fn remove(&mut self, addr: usize) {
        if let Some(i) = self.find(addr) {
            self.remove_node(i);
        }
    }

    /// Removes every node whose address is in `[start, end)`.
    #[cfg_attr(loom, allow(dead_code))] // no regions in the model
    pub(crate) fn remove_range(&mut self, start: usize, end: usize) {
        for i in 0..self.inner().high {
            let addr = self.inner().nodes[i].addr;
            if addr != 0 && (start..end).contains(&addr) {
                self.remove_node(i);
            }
        }
    }
}
