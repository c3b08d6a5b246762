//! CHP snapshots: `ICANHAZ?` → one `KVSYNC` per key → `KTHXBAI`, streamed in
//! chunks with per-peer flow control so a snapshot of millions of keys
//! arrives whole and never stalls the loop.
//!
//! The stream walks a frozen view of the state, taken with the sequence its
//! `KTHXBAI` carries: whatever writes, expiries or mirror rebuilds happen
//! while it streams, the snapshot is the state as of that one sequence, and
//! every later change arrives as a `KVPUB` above it. KVSYNCs of a canopy
//! `SNAPSHOT` carry its request id, so a replica can refuse the parts of a
//! snapshot it gave up on.

use super::{StateEngine, StateMap};
use canopy_schemas::state::{
    ttl_properties, HistoryFork, SnapshotBasis, KTHXBAI, PROP_FROM_HISTORY, PROP_HISTORY, PROP_ID,
    PROP_LSEQ, PROP_UNCHANGED,
};

/// Most KVSYNCs one job sends in one loop turn.
pub const CHUNK: usize = 2048;
/// Most KVSYNCs one loop turn sends over every pending snapshot together:
/// requests, heartbeats and events are served between turns however many
/// snapshots stream (a turn that gave every one of 2,000 snapshots a chunk
/// held the loop for seconds, longer than a node's timeout). Jobs take
/// whole chunks in turn: big writes per connection keep the stream fast
/// (equal small shares for all cost a third of the throughput).
pub const TURN_BUDGET: usize = 4096;

/// Each peer's ROUTER queue, in messages (a KVSYNC is one). Snapshot
/// streams pause when a peer's queue is full: with at most
/// `max_snapshot_streams` streaming, the broker holds about
/// `max_snapshot_streams` x this many KVSYNCs queued (32 x 4,096 x ~560
/// bytes of parts is about 70 MiB), where a queue that took a whole level
/// held every syncing node's level at once (the first sync's memory high-water
/// mark, which the allocator kept afterwards). It stays above the requests
/// a client keeps in flight (`write_many`'s 16 WRITES, a pipeline of 2,000
/// single WRITEs), so acknowledgements rarely wait in the outbox.
pub const ROUTER_SNDHWM: i32 = 4096;

/// One snapshot being streamed to one peer.
#[derive(Debug)]
pub struct SnapshotJob {
    identity: Vec<u8>,
    subtree: String,
    view: StateMap,
    cursor: Option<Box<str>>,
    seq: u64,
    lseq: Option<u64>,
    canopy_id: Option<u64>,
    /// Send no keys, only KTHXBAI (the reader may not see this subtree).
    empty: bool,
    /// The history the level's lseq belongs to (one-level SNAPSHOTs).
    history: Option<u64>,
    /// The reader holds the level as it is: KTHXBAI only, marked so.
    unchanged: bool,
    /// The older history the reader's level was named under (a fork).
    from_history: Option<u64>,
    /// KVSYNCs sent so far.
    pub sent: u64,
    /// When the request was taken: for the snapshot histogram.
    pub started: std::time::Instant,
}

/// Where a job stands after a pump.
#[derive(Debug, PartialEq, Eq)]
pub enum Progress {
    /// More to send.
    More,
    /// The peer's queue is full: try again later.
    Blocked,
    /// KTHXBAI sent.
    Done,
    /// The peer is gone.
    Gone,
}

/// 16-byte uuid for an update: 8 bytes of broker id, 8 of sequence.
pub fn uuid(broker_tag: u64, seq: u64) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&broker_tag.to_be_bytes());
    out[8..].copy_from_slice(&seq.to_be_bytes());
    out
}

fn send_parts(router: &zmq::Socket, parts: [&[u8]; 6]) -> Result<Progress, zmq::Error> {
    // The first part decides: once it is queued, libzmq takes the rest.
    match router.send(parts[0], zmq::SNDMORE | zmq::DONTWAIT) {
        Ok(()) => {}
        Err(zmq::Error::EAGAIN) => return Ok(Progress::Blocked),
        Err(zmq::Error::EHOSTUNREACH) => return Ok(Progress::Gone),
        Err(e) => return Err(e),
    }
    for (i, p) in parts[1..].iter().enumerate() {
        let flags = if i == 4 { 0 } else { zmq::SNDMORE };
        router.send(*p, flags)?;
    }
    Ok(Progress::More)
}

impl SnapshotJob {
    /// The ROUTER routing id the snapshot goes to.
    pub fn identity(&self) -> &[u8] {
        &self.identity
    }

    /// The sequence the snapshot starts from.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// True when the job sends no keys (ACL).
    pub fn is_empty(&self) -> bool {
        self.empty
    }

    /// True when the job streams keys (not a KTHXBAI-only answer: an empty
    /// subtree for the ACL, or a level the replica holds unchanged).
    pub fn sends_keys(&self) -> bool {
        !self.empty && !self.unchanged
    }

    /// A job for `subtree`, recording the sequence (and level number, when
    /// the subtree is exactly one level) it starts from.
    pub fn new(
        identity: Vec<u8>,
        subtree: String,
        canopy_id: Option<u64>,
        engine: &StateEngine,
    ) -> Self {
        // One level exactly: `subtree` is the level of a key just below it.
        let probe = format!("{subtree}x");
        let lseq = super::home(&probe)
            .filter(|(_, level_len)| probe[..*level_len] == *subtree)
            .map(|_| engine.lseq(&subtree));
        SnapshotJob {
            identity,
            subtree,
            view: engine.frozen(),
            cursor: None,
            seq: engine.seq(),
            lseq,
            canopy_id,
            empty: false,
            history: None,
            unchanged: false,
            from_history: None,
            sent: 0,
            started: std::time::Instant::now(),
        }
    }

    /// The subtree asked for.
    pub fn subtree(&self) -> &str {
        &self.subtree
    }

    /// Answers with KTHXBAI only.
    pub fn make_empty(&mut self) {
        self.empty = true;
        self.lseq = None;
        self.history = None;
        self.view = StateMap::new();
    }

    /// Records the history of the level (only a one-level snapshot has
    /// one: its lseq is what the history numbers).
    pub fn set_history(&mut self, history: u64) {
        if self.lseq.is_some() && !self.empty {
            self.history = Some(history);
        }
    }

    /// True when a replica that holds `have` holds this level exactly as
    /// the snapshot would send it: same history, same lseq.
    pub fn holds(&self, have: SnapshotBasis) -> bool {
        self.canopy_id.is_some()
            && self.history == Some(have.history)
            && self.lseq == Some(have.lseq)
    }

    /// True when a replica that holds `have` under the history a crashed
    /// run numbered in holds this level as that run committed it, and the
    /// level has not changed since: the new history took it over.
    pub fn took_over(&self, have: SnapshotBasis, fork: &HistoryFork) -> bool {
        self.canopy_id.is_some()
            && self.history.is_some()
            && self.lseq == Some(have.lseq)
            && fork.took_over(&self.subtree, have, || {
                self.view.range_after(&self.subtree, None).next().is_none()
            })
    }

    /// Answers with KTHXBAI only, marked `unchanged`: the reader keeps what
    /// it has; `from` names the history its `have` was under when it is
    /// not the level's (a fork after a crash).
    pub fn make_unchanged(&mut self, from: Option<u64>) {
        self.unchanged = true;
        self.from_history = from;
        self.view = StateMap::new();
    }

    /// The level's lseq the snapshot is taken at (one-level snapshots).
    pub fn lseq(&self) -> Option<u64> {
        self.lseq
    }

    /// The canopy request id, for a `SNAPSHOT` (None: plain `ICANHAZ?`).
    pub fn canopy_id(&self) -> Option<u64> {
        self.canopy_id
    }

    /// Sends up to `limit` KVSYNCs (at least one), then KTHXBAI when the
    /// subtree is done.
    pub fn pump(
        &mut self,
        router: &zmq::Socket,
        now_ms: u64,
        limit: usize,
    ) -> Result<Progress, zmq::Error> {
        let limit = limit.max(1);
        let mut last: Option<&str> = None;
        let mut outcome = None;
        let id_prop = self
            .canopy_id
            .map(|id| format!("{PROP_ID}={id}\n"))
            .unwrap_or_default();
        let range = self
            .view
            .range_after(&self.subtree, self.cursor.as_deref())
            .take(if self.empty || self.unchanged {
                0
            } else {
                usize::MAX
            });
        for (taken, entry) in range.enumerate() {
            let key = entry.key;
            if taken == limit {
                outcome = Some(Progress::More);
                break;
            }
            if entry.expires_ms != 0 && entry.expires_ms <= now_ms {
                last = Some(key);
                continue; // expired; its deletion is on its way
            }
            // Most keys have no TTL: their properties are the id alone, with
            // no allocation per key.
            let ttl = ttl_properties(entry.expires_ms, now_ms);
            let props = if ttl.is_empty() {
                std::borrow::Cow::Borrowed(id_prop.as_str())
            } else {
                std::borrow::Cow::Owned(ttl + &id_prop)
            };
            let seq = entry.seq.to_be_bytes();
            // RFC 12: a KVSYNC's uuid frame is empty.
            let parts = [
                &self.identity[..],
                key.as_bytes(),
                &seq[..],
                &b""[..],
                props.as_bytes(),
                entry.value,
            ];
            match send_parts(router, parts)? {
                Progress::More => {
                    self.sent += 1;
                    last = Some(key);
                }
                other => {
                    outcome = Some(other);
                    break;
                }
            }
        }
        if let Some(key) = last {
            self.cursor = Some(key.into());
        }
        if let Some(o) = outcome {
            return Ok(o);
        }
        // Plain CHP: empty properties, as RFC 12 says. SNAPSHOT: canopy's.
        let props = match self.canopy_id {
            None => String::new(),
            Some(id) => {
                let lseq = self
                    .lseq
                    .map(|l| format!("{PROP_LSEQ}={l}\n"))
                    .unwrap_or_default();
                let history = self
                    .history
                    .map(|h| format!("{PROP_HISTORY}={h}\n"))
                    .unwrap_or_default();
                let unchanged = match (self.unchanged, self.from_history) {
                    (false, _) => String::new(),
                    (true, None) => format!("{PROP_UNCHANGED}=1\n"),
                    (true, Some(from)) => {
                        format!("{PROP_UNCHANGED}=1\n{PROP_FROM_HISTORY}={from}\n")
                    }
                };
                format!("{PROP_ID}={id}\n{lseq}{history}{unchanged}")
            }
        };
        let seq = self.seq.to_be_bytes();
        let parts = [
            &self.identity[..],
            KTHXBAI,
            &seq[..],
            &b""[..],
            props.as_bytes(),
            self.subtree.as_bytes(),
        ];
        Ok(match send_parts(router, parts)? {
            Progress::More => Progress::Done,
            other => other,
        })
    }
}
