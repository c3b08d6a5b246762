//! Local store replicas: a snapshot plus live updates for every level a node
//! sees (its ancestor groups and itself), merged so the most specific level
//! wins, read synchronously with no network round trip.
//!
//! Never silently stale: each level runs the shared sync machine
//! ([`canopy_schemas::sync`]): updates are numbered (`lseq`); a gap, a
//! reconnect, a new broker epoch, a stalled snapshot, or a level the periodic
//! SEQS check finds behind (or rolled back) starts a resync of that level: a
//! fresh snapshot tied to its request id, with the updates that arrive
//! meanwhile held and replayed.

use crate::locking::lock;
use canopy_schemas::state::{self as wire, KvMsg, Level, SnapshotBasis, Written};
use canopy_schemas::sync::{Finish, Lseqs, SyncMachine, UpdateStep};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;
use tokio::sync::{mpsc, watch};

pub(crate) use canopy_schemas::clock::unix_ms as now_ms;

/// One key as a replica holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaEntry {
    /// MessagePack value.
    pub value: Arc<[u8]>,
    /// Sequence of the write that set it.
    pub seq: u64,
    /// Unix ms at which it expires; 0 = never.
    pub expires_ms: u64,
}

impl ReplicaEntry {
    fn live(&self, now: u64) -> bool {
        self.expires_ms == 0 || self.expires_ms > now
    }
}

/// Whether a replica's reads are current. Readable with
/// [`Replica::state`](super::Replica::state), watchable with
/// [`Replica::state_changes`](super::Replica::state_changes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplicaState {
    /// The first snapshot is loading: there is nothing to read yet.
    Syncing,
    /// Every level has its snapshot and the live update stream: reads are
    /// as current as the broker's last published change.
    Synced,
    /// At least one level is loading a fresh snapshot (a gap, a lag, a
    /// broker restart); reads answer from what was held before, which may
    /// be old since `since`.
    Resyncing {
        /// Since when the data may be old.
        since: SystemTime,
    },
    /// The link to the broker is down: reads answer from data that may be
    /// old since `since`. A resync follows the reconnect.
    Stale {
        /// Since when the data may be old.
        since: SystemTime,
    },
    /// The node was closed: reads answer from the last data held.
    Closed,
}

/// A change of the merged view, as watchers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// User key.
    pub key: String,
    /// New merged value (MessagePack); None = gone at every level.
    pub value: Option<Arc<[u8]>>,
    /// Sequence of the update that caused it.
    pub seq: u64,
}

struct LevelData {
    level: Level,
    prefix: String,
    entries: BTreeMap<String, ReplicaEntry>,
    /// Deletions applied from an acknowledgement before their KVPUB arrived
    /// (removed when it does, or at the next snapshot).
    tombstones: HashMap<String, u64>,
    sync: SyncMachine<KvMsg>,
    /// The keys of the snapshot being received, in the order they came (a
    /// broker sends them in key order, so the map is built in one pass at
    /// the KTHXBAI instead of one tree insert per key).
    fresh: Vec<(String, ReplicaEntry)>,
    /// The history `entries` came from (the last full snapshot's KTHXBAI),
    /// while they are exactly the level at the machine's lseq: a resync
    /// then asks the broker to skip the keys if nothing changed (12.1).
    history: Option<u64>,
}

struct Watcher {
    prefix: String,
    tx: mpsc::Sender<Change>,
}

/// What a replica shares between the application and the node's I/O thread.
pub(crate) struct ReplicaShared {
    pub store: String,
    /// A replica of one level of the opaque CHP space: its keys are whole
    /// CHP keys, and only opaque keys of exactly that level belong to it.
    pub opaque: bool,
    levels: RwLock<Vec<LevelData>>,
    watchers: Mutex<Vec<Watcher>>,
    state: watch::Sender<ReplicaState>,
    pub resyncs: AtomicU64,
    pub watch_overflow: AtomicU64,
}

/// A resync the I/O thread must start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResyncRequest {
    /// The level prefix.
    pub subtree: String,
    /// The SNAPSHOT's request id.
    pub id: u64,
    /// What the replica holds of the level, when it can be kept.
    pub have: Option<SnapshotBasis>,
}

/// What a KTHXBAI said about a one-level snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct SnapshotEnd {
    /// The sequence it was taken at.
    pub seq: u64,
    /// The level's lseq.
    pub lseq: u64,
    /// The history that lseq belongs to (None: a broker without histories).
    pub history: Option<u64>,
    /// No keys were sent: the replica's `have` matched.
    pub unchanged: bool,
    /// With `unchanged`: the history the `have` was under, when the broker
    /// answers under a new one that took the level over after a crash.
    pub from_history: Option<u64>,
}

fn entry_from(msg: &KvMsg, now: u64) -> ReplicaEntry {
    // A malformed TTL from the broker is read as none.
    let expires_ms = wire::expiry_ms(msg.ttl_ms().ok().flatten(), now);
    ReplicaEntry {
        value: msg.body.as_slice().into(),
        seq: msg.sequence,
        expires_ms,
    }
}

impl ReplicaShared {
    pub fn new(store: &str, levels: Vec<Level>) -> Self {
        let levels = levels
            .into_iter()
            .map(|level| LevelData {
                prefix: level.prefix(store),
                level,
                entries: BTreeMap::new(),
                tombstones: HashMap::new(),
                sync: SyncMachine::new(),
                fresh: Vec::new(),
                history: None,
            })
            .collect();
        ReplicaShared {
            store: store.to_owned(),
            opaque: false,
            levels: RwLock::new(levels),
            watchers: Mutex::new(Vec::new()),
            state: watch::channel(ReplicaState::Syncing).0,
            resyncs: AtomicU64::new(0),
            watch_overflow: AtomicU64::new(0),
        }
    }

    /// A replica of the opaque CHP level `level` (`/client/`).
    pub fn opaque(level: &str) -> Self {
        let data = LevelData {
            prefix: level.to_owned(),
            level: Level::root(),
            entries: BTreeMap::new(),
            tombstones: HashMap::new(),
            sync: SyncMachine::new(),
            fresh: Vec::new(),
            history: None,
        };
        ReplicaShared {
            store: wire::OPAQUE_STORE.to_owned(),
            opaque: true,
            levels: RwLock::new(vec![data]),
            watchers: Mutex::new(Vec::new()),
            state: watch::channel(ReplicaState::Syncing).0,
            resyncs: AtomicU64::new(0),
            watch_overflow: AtomicU64::new(0),
        }
    }

    /// Does `key` belong to the level with `prefix`? For the opaque space,
    /// only its own level's opaque keys (a canonical store may share the
    /// prefix: `/client/` and `/client/:k`).
    fn holds(&self, prefix: &str, key: &str) -> bool {
        if self.opaque {
            wire::opaque_level(key) == Some(prefix)
        } else {
            key.starts_with(prefix)
        }
    }

    /// The key as the application names it: the whole key for the opaque
    /// space, the user key (after the level prefix) otherwise.
    fn user_key<'k>(&self, prefix: &str, key: &'k str) -> &'k str {
        if self.opaque {
            key
        } else {
            &key[prefix.len()..]
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<LevelData>> {
        self.levels.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Vec<LevelData>> {
        self.levels.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Level prefixes, least specific first.
    pub fn prefixes(&self) -> Vec<String> {
        self.read().iter().map(|l| l.prefix.clone()).collect()
    }

    /// Levels, least specific first (none for the opaque space).
    pub fn levels(&self) -> Vec<Level> {
        if self.opaque {
            return Vec::new();
        }
        self.read().iter().map(|l| l.level.clone()).collect()
    }

    /// The replica's state, watchable.
    pub fn state(&self) -> watch::Receiver<ReplicaState> {
        self.state.subscribe()
    }

    /// A level started a resync: the data may be old from now on (or
    /// since the link went down, when it did).
    fn mark_resyncing(&self) {
        self.state.send_if_modified(|s| match *s {
            ReplicaState::Synced => {
                *s = ReplicaState::Resyncing {
                    since: SystemTime::now(),
                };
                true
            }
            ReplicaState::Stale { since } => {
                *s = ReplicaState::Resyncing { since };
                true
            }
            _ => false,
        });
    }

    /// The link to the broker is down.
    pub fn mark_stale(&self) {
        self.state.send_if_modified(|s| match *s {
            ReplicaState::Synced => {
                *s = ReplicaState::Stale {
                    since: SystemTime::now(),
                };
                true
            }
            ReplicaState::Resyncing { since } => {
                *s = ReplicaState::Stale { since };
                true
            }
            _ => false,
        });
    }

    /// The node is closed, or the replica dropped: watchers' streams end.
    pub fn mark_closed(&self) {
        self.state.send_replace(ReplicaState::Closed);
        lock(&self.watchers).clear();
    }

    /// Does this replica hold the level of `key`?
    pub fn level_index(&self, key: &str) -> Option<usize> {
        self.read().iter().position(|l| self.holds(&l.prefix, key))
    }

    /// The merged value of a user key: the most specific level wins.
    pub fn get(&self, key: &str) -> Option<(ReplicaEntry, Level)> {
        let now = now_ms();
        let levels = self.read();
        levels.iter().rev().find_map(|l| {
            l.entries
                .get(key)
                .filter(|e| e.live(now))
                .map(|e| (e.clone(), l.level.clone()))
        })
    }

    /// The merged view, frozen.
    pub fn view(&self, prefix: &str) -> BTreeMap<String, ReplicaEntry> {
        let now = now_ms();
        let levels = self.read();
        let mut out = BTreeMap::new();
        for l in levels.iter() {
            for (k, e) in l.entries.range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            )) {
                if !k.starts_with(prefix) {
                    break;
                }
                if e.live(now) {
                    out.insert(k.clone(), e.clone());
                } else {
                    out.remove(k);
                }
            }
        }
        out
    }

    /// Registers a watcher of the merged view under `prefix`.
    pub fn watch(&self, prefix: &str, capacity: usize) -> mpsc::Receiver<Change> {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        lock(&self.watchers).push(Watcher {
            prefix: prefix.to_owned(),
            tx,
        });
        rx
    }

    /// The merged value as held (expired entries count until they are
    /// removed, so that their removal is reported to watchers).
    fn merged(levels: &[LevelData], key: &str, _now: u64) -> Option<Arc<[u8]>> {
        levels
            .iter()
            .rev()
            .find_map(|l| l.entries.get(key).map(|e| e.value.clone()))
    }

    fn notify(&self, changes: Vec<Change>) {
        if changes.is_empty() {
            return;
        }
        let mut watchers = lock(&self.watchers);
        watchers.retain(|w| !w.tx.is_closed());
        for change in changes {
            for w in watchers
                .iter()
                .filter(|w| change.key.starts_with(&w.prefix))
            {
                if w.tx.try_send(change.clone()).is_err() {
                    self.watch_overflow.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// Applies one update to level `i`; returns the merged change if the
    /// merged view moved.
    fn apply(
        levels: &mut [LevelData],
        i: usize,
        user_key: &str,
        entry: Option<ReplicaEntry>,
        seq: u64,
        now: u64,
    ) -> Option<Change> {
        let before = Self::merged(levels, user_key, now);
        let level = &mut levels[i];
        let current = level.entries.get(user_key).map_or(0, |e| e.seq);
        let tomb = level.tombstones.get(user_key).copied().unwrap_or(0);
        if tomb != 0 && seq >= tomb {
            // The deletion's own KVPUB (or a later change): the tombstone
            // has done its job.
            level.tombstones.remove(user_key);
        }
        if seq <= current.max(tomb) {
            return None; // already have this or newer
        }
        match entry {
            Some(e) => {
                level.entries.insert(user_key.to_owned(), e);
            }
            None => {
                level.entries.remove(user_key);
            }
        }
        let after = Self::merged(levels, user_key, now);
        (before != after).then(|| Change {
            key: user_key.to_owned(),
            value: after,
            seq,
        })
    }

    /// A KVPUB from the SUB socket. Returns a resync to start, if a gap showed.
    pub fn on_update(&self, msg: KvMsg, next_id: &AtomicU64) -> Option<ResyncRequest> {
        let now = now_ms();
        let Ok(key) = std::str::from_utf8(&msg.key) else {
            return None;
        };
        let mut levels = self.write();
        let i = levels.iter().position(|l| self.holds(&l.prefix, key))?;
        let lseq = msg.prop_u64(wire::PROP_LSEQ).unwrap_or(0);
        let level = &mut levels[i];
        let user_key = self.user_key(&level.prefix, key).to_owned();
        let msg = match level.sync.update(&level.prefix, lseq, msg) {
            UpdateStep::Apply(msg) => msg,
            UpdateStep::Held | UpdateStep::Skip => return None,
            UpdateStep::Restart(_) => return Some(self.start_resync(level, next_id)),
        };
        let entry = (!msg.body.is_empty()).then(|| entry_from(&msg, now));
        let change = Self::apply(&mut levels, i, &user_key, entry, msg.sequence, now);
        drop(levels);
        self.notify(change.into_iter().collect());
        None
    }

    fn start_resync(&self, level: &mut LevelData, next_id: &AtomicU64) -> ResyncRequest {
        let id = next_id.fetch_add(1, Ordering::Relaxed);
        self.resyncs.fetch_add(1, Ordering::Relaxed);
        self.mark_resyncing();
        Self::begin_sync(level, id)
    }

    fn begin_sync(level: &mut LevelData, id: u64) -> ResyncRequest {
        level.sync.begin(id, false, std::time::Instant::now());
        level.fresh.clear();
        let have = level.history.map(|history| SnapshotBasis {
            history,
            lseq: level.sync.lseq(&level.prefix),
        });
        ResyncRequest {
            subtree: level.prefix.clone(),
            id,
            have,
        }
    }

    /// Starts a resync of every level (reconnect, broker restart).
    pub fn resync_all(&self, next_id: &AtomicU64) -> Vec<ResyncRequest> {
        let mut levels = self.write();
        levels
            .iter_mut()
            .map(|l| self.start_resync(l, next_id))
            .collect()
    }

    /// Starts the first sync of every level (not counted as a resync).
    pub fn initial_sync(&self, next_id: &AtomicU64) -> Vec<ResyncRequest> {
        let mut levels = self.write();
        levels
            .iter_mut()
            .map(|l| Self::begin_sync(l, next_id.fetch_add(1, Ordering::Relaxed)))
            .collect()
    }

    /// A KVSYNC, straight from its frames (the hot path of a large
    /// snapshot): kept when it belongs to the snapshot a level of this
    /// replica is waiting for (its `id` property), refused otherwise (a
    /// snapshot given up on). `now` marks the snapshot's progress. Returns
    /// false if no level holds the key.
    pub fn on_kvsync(
        &self,
        key: &str,
        seq: u64,
        props: &[u8],
        body: &[u8],
        now: std::time::Instant,
    ) -> bool {
        let mut levels = self.write();
        let Some(level) = levels.iter_mut().find(|l| self.holds(&l.prefix, key)) else {
            return false;
        };
        let Ok(props) = wire::PropertiesRef::parse(props) else {
            return true;
        };
        let Some(id) = props.get(wire::PROP_ID).and_then(|v| v.parse().ok()) else {
            return true; // a plain ICANHAZ? answer: not ours
        };
        if level.sync.snapshot_part(id, now) {
            // A malformed TTL from the broker is read as none.
            let expires_ms = match props.ttl_ms().ok().flatten() {
                None => 0, // most keys: no clock read
                ttl_ms => wire::expiry_ms(ttl_ms, now_ms()),
            };
            let entry = ReplicaEntry {
                value: body.into(),
                seq,
                expires_ms,
            };
            let user_key = self.user_key(&level.prefix, key).to_owned();
            level.fresh.push((user_key, entry));
        }
        true
    }

    /// The KTHXBAI of a SNAPSHOT: swap in the fresh contents (or keep what
    /// is held, when the broker says it is unchanged), replay the buffered
    /// updates, and tell watchers what changed. Returns a resync to start
    /// again if the replay showed a gap.
    pub fn on_kthxbai(
        &self,
        subtree: &str,
        id: u64,
        end: SnapshotEnd,
        next_id: &AtomicU64,
    ) -> Option<ResyncRequest> {
        let now = now_ms();
        let mut levels = self.write();
        let i = levels.iter().position(|l| l.prefix == subtree)?;
        let lseqs = Lseqs::from([(subtree.to_owned(), end.lseq)]);
        let level = &mut levels[i];
        let had = (level.history, level.sync.lseq(subtree));
        let replay = match level
            .sync
            .kthxbai(id, end.seq, Some(lseqs), std::time::Instant::now())
        {
            Finish::Done { replay, .. } => replay,
            Finish::Restart(_) => {
                // The machine's numbers may no longer be the contents'.
                level.history = None;
                return Some(self.start_resync(level, next_id));
            }
            Finish::Ignored | Finish::NotYet => return None, // a superseded snapshot
        };
        if end.unchanged {
            let basis = (end.from_history.or(end.history), end.lseq);
            if had != basis || had.0.is_none() || end.history.is_none() {
                // Not what was asked: take nothing on trust, sync in full.
                tracing::warn!(level = %subtree, "an unchanged snapshot that does not match what the replica holds; resyncing in full");
                level.history = None;
                return Some(self.start_resync(level, next_id));
            }
            // Under a history begun after a crash, the same contents.
            level.history = end.history;
            level.fresh.clear();
            let changes = self.replay(&mut levels, i, replay, now);
            return self.finish_sync(levels, changes);
        }
        level.history = end.history;
        // Sorted already; a stable sort keeps the last of a key sent twice.
        let fresh: BTreeMap<String, ReplicaEntry> =
            std::mem::take(&mut level.fresh).into_iter().collect();
        // What watchers would see change; skipped when no one watches (a
        // first sync of millions of keys need not diff anything).
        let watched = !lock(&self.watchers).is_empty();
        let before: HashMap<String, Option<Arc<[u8]>>> = if watched {
            levels[i]
                .entries
                .keys()
                .chain(fresh.keys())
                .map(|k| (k.clone(), Self::merged(&levels, k, now)))
                .collect()
        } else {
            HashMap::new()
        };
        {
            let level = &mut levels[i];
            level.entries = fresh;
            level.tombstones.clear();
        }
        let mut changes: Vec<Change> = before
            .into_iter()
            .filter_map(|(k, was)| {
                let now_v = Self::merged(&levels, &k, now);
                let seq = levels[i].entries.get(&k).map_or(0, |e| e.seq);
                (was != now_v).then_some(Change {
                    key: k,
                    value: now_v,
                    seq,
                })
            })
            .collect();
        changes.extend(self.replay(&mut levels, i, replay, now));
        self.finish_sync(levels, changes)
    }

    /// Applies the updates held during a sync, in order.
    fn replay(
        &self,
        levels: &mut [LevelData],
        i: usize,
        replay: Vec<KvMsg>,
        now: u64,
    ) -> Vec<Change> {
        let mut changes = Vec::new();
        for msg in replay {
            let Ok(key) = std::str::from_utf8(&msg.key) else {
                continue;
            };
            let user_key = self.user_key(&levels[i].prefix, key).to_owned();
            let entry = (!msg.body.is_empty()).then(|| entry_from(&msg, now));
            changes.extend(Self::apply(levels, i, &user_key, entry, msg.sequence, now));
        }
        changes
    }

    /// A level's sync is complete: tell watchers, and the state once every
    /// level is live.
    fn finish_sync(
        &self,
        levels: std::sync::RwLockWriteGuard<'_, Vec<LevelData>>,
        mut changes: Vec<Change>,
    ) -> Option<ResyncRequest> {
        let all_live = levels.iter().all(|l| l.sync.is_live());
        drop(levels);
        changes.sort_by_key(|c| c.seq);
        self.notify(changes);
        if all_live {
            // Not from Stale: the link is down (a snapshot in flight when
            // it went can still finish); the rejoin's resync moves it on.
            self.state.send_if_modified(|s| {
                let moved = matches!(s, ReplicaState::Syncing | ReplicaState::Resyncing { .. });
                if moved {
                    *s = ReplicaState::Synced;
                }
                moved
            });
        }
        None
    }

    /// Applies an acknowledged write at once (read-your-writes).
    pub fn on_ack(&self, level_prefix: &str, key: &str, subtree_delete: bool, w: &Written) {
        let now = now_ms();
        let mut levels = self.write();
        let Some(i) = levels.iter().position(|l| l.prefix == level_prefix) else {
            return;
        };
        let mut changes = Vec::new();
        if subtree_delete {
            let doomed: Vec<String> = levels[i]
                .entries
                .range::<str, _>((std::ops::Bound::Included(key), std::ops::Bound::Unbounded))
                .take_while(|(k, _)| k.starts_with(key))
                .filter(|(_, e)| e.seq < w.seq)
                .map(|(k, _)| k.clone())
                .collect();
            for k in doomed {
                levels[i].entries.remove(&k);
                levels[i].tombstones.insert(k.clone(), w.seq);
                changes.push(Change {
                    value: Self::merged(&levels, &k, now),
                    key: k,
                    seq: w.seq,
                });
            }
        } else {
            let entry = w.value.as_ref().map(|v| ReplicaEntry {
                value: v.as_slice().into(),
                seq: w.seq,
                expires_ms: wire::expiry_ms(Some(w.ttl_ms), now),
            });
            if entry.is_none() {
                let current = levels[i].entries.get(key).map_or(0, |e| e.seq);
                if current < w.seq {
                    levels[i].tombstones.insert(key.to_owned(), w.seq);
                }
                if let Some(c) = {
                    let before = Self::merged(&levels, key, now);
                    let removed = levels[i].entries.get(key).is_some_and(|e| e.seq < w.seq);
                    if removed {
                        levels[i].entries.remove(key);
                    }
                    let after = Self::merged(&levels, key, now);
                    (before != after).then(|| Change {
                        key: key.to_owned(),
                        value: after,
                        seq: w.seq,
                    })
                } {
                    changes.push(c);
                }
            } else {
                changes.extend(Self::apply(&mut levels, i, key, entry, w.seq, now));
            }
        }
        drop(levels);
        self.notify(changes);
    }

    /// Level prefixes with their lseq, for the SEQS check (live levels only).
    pub fn seqs_query(&self) -> Vec<(String, u64)> {
        self.read()
            .iter()
            .filter(|l| l.sync.is_live())
            .map(|l| (l.prefix.clone(), l.sync.lseq(&l.prefix)))
            .collect()
    }

    /// The broker's lseqs for the levels asked (with the lseq this replica
    /// had when it asked): a level the broker has fewer updates of (the
    /// master rolled back), or still behind what the broker had at the
    /// previous check, is resynced.
    pub fn on_seqs(
        &self,
        asked: &[(String, u64)],
        broker: &[u64],
        next_id: &AtomicU64,
    ) -> Vec<ResyncRequest> {
        let mut levels = self.write();
        let mut out = Vec::new();
        for ((prefix, asked_at), &theirs) in asked.iter().zip(broker) {
            let Some(level) = levels.iter_mut().find(|l| &l.prefix == prefix) else {
                continue;
            };
            if let Some(why) = level.sync.seqs_answer(prefix, *asked_at, theirs) {
                tracing::info!(level = %prefix, reason = ?why, "replica level resyncing");
                if why == canopy_schemas::sync::Restart::RolledBack {
                    level.history = None; // what it holds was never kept
                }
                out.push(self.start_resync(level, next_id));
            }
        }
        out
    }

    /// Restarts syncs that made no progress for `limit` (a request that
    /// could not be sent, or a snapshot the broker abandoned).
    pub fn restart_stalled(
        &self,
        limit: std::time::Duration,
        next_id: &AtomicU64,
    ) -> Vec<ResyncRequest> {
        let now = std::time::Instant::now();
        let mut levels = self.write();
        let mut out = Vec::new();
        for level in levels.iter_mut() {
            if level.sync.stalled(now, limit) {
                out.push(self.start_resync(level, next_id));
            }
        }
        out
    }

    /// Drops expired entries and tells watchers.
    pub fn sweep(&self) {
        let now = now_ms();
        let mut levels = self.write();
        let mut expired: Vec<(usize, String)> = Vec::new();
        for (i, l) in levels.iter().enumerate() {
            for (k, e) in &l.entries {
                if !e.live(now) {
                    expired.push((i, k.clone()));
                }
            }
        }
        let mut changes = Vec::new();
        for (i, k) in expired {
            let seq = levels[i].entries.get(&k).map_or(0, |e| e.seq);
            levels[i].entries.remove(&k);
            let after = Self::merged(&levels, &k, now);
            changes.push(Change {
                key: k,
                value: after,
                seq,
            });
        }
        drop(levels);
        self.notify(changes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use canopy_schemas::{GroupPath, NodePath};

    fn end(seq: u64, lseq: u64) -> SnapshotEnd {
        SnapshotEnd {
            seq,
            lseq,
            ..Default::default()
        }
    }

    fn kvsync(shared: &ReplicaShared, key: &str, seq: u64, id: u64) {
        let props = format!("{}={id}\n", wire::PROP_ID);
        assert!(shared.on_kvsync(
            key,
            seq,
            props.as_bytes(),
            &[0x2a],
            std::time::Instant::now()
        ));
    }

    /// One root-level replica synced in full from history 7 at lseq 3,
    /// holding `/default/:k`.
    fn synced_from_history() -> (ReplicaShared, AtomicU64) {
        let shared = ReplicaShared::new("default", vec![Level::root()]);
        let ids = AtomicU64::new(1);
        let first = shared.initial_sync(&ids);
        assert_eq!(first[0].have, None, "nothing held yet");
        kvsync(&shared, "/default/:k", 5, first[0].id);
        let full = SnapshotEnd {
            seq: 9,
            lseq: 3,
            history: Some(7),
            unchanged: false,
            from_history: None,
        };
        assert!(shared
            .on_kthxbai(&first[0].subtree, first[0].id, full, &ids)
            .is_none());
        (shared, ids)
    }

    /// A resync asks to keep what the level holds; an `unchanged` answer
    /// that matches keeps it, without a key sent.
    #[test]
    fn an_unchanged_level_is_kept_as_it_is() {
        let (shared, ids) = synced_from_history();
        let again = shared.resync_all(&ids);
        assert_eq!(
            again[0].have,
            Some(SnapshotBasis {
                history: 7,
                lseq: 3
            })
        );
        let kept = SnapshotEnd {
            seq: 20,
            lseq: 3,
            history: Some(7),
            unchanged: true,
            from_history: None,
        };
        assert!(shared
            .on_kthxbai(&again[0].subtree, again[0].id, kept, &ids)
            .is_none());
        assert_eq!(shared.get("k").map(|(e, _)| e.seq), Some(5));
        assert_eq!(*shared.state().borrow(), ReplicaState::Synced);
    }

    /// Across a crash the broker answers under a new history that took the
    /// level over from the one the replica named: the contents are kept,
    /// and the next resync names the new history.
    #[test]
    fn a_level_taken_over_by_a_new_history_is_kept_under_it() {
        let (shared, ids) = synced_from_history();
        let again = shared.resync_all(&ids);
        let taken_over = SnapshotEnd {
            seq: 20,
            lseq: 3,
            history: Some(11),
            unchanged: true,
            from_history: Some(7),
        };
        assert!(shared
            .on_kthxbai(&again[0].subtree, again[0].id, taken_over, &ids)
            .is_none());
        assert_eq!(shared.get("k").map(|(e, _)| e.seq), Some(5));
        assert_eq!(*shared.state().borrow(), ReplicaState::Synced);
        assert_eq!(
            shared.resync_all(&ids)[0].have,
            Some(SnapshotBasis {
                history: 11,
                lseq: 3
            })
        );
    }

    /// A take-over from another history, or at another lseq, is not
    /// trusted.
    #[test]
    fn a_take_over_that_does_not_match_is_not_trusted() {
        for (from, lseq) in [(8, 3), (7, 4), (11, 3)] {
            let (shared, ids) = synced_from_history();
            let again = shared.resync_all(&ids);
            let wrong = SnapshotEnd {
                seq: 20,
                lseq,
                history: Some(11),
                unchanged: true,
                from_history: Some(from),
            };
            let full = shared
                .on_kthxbai(&again[0].subtree, again[0].id, wrong, &ids)
                .expect("a full resync");
            assert_eq!(full.have, None, "from {from}, lseq {lseq}");
        }
    }

    /// An `unchanged` answer for another history or lseq is not trusted:
    /// the level syncs in full, asking for nothing to be kept.
    #[test]
    fn an_unchanged_answer_that_does_not_match_is_not_trusted() {
        for (history, lseq) in [(8, 3), (7, 4)] {
            let (shared, ids) = synced_from_history();
            let again = shared.resync_all(&ids);
            let wrong = SnapshotEnd {
                seq: 20,
                lseq,
                history: Some(history),
                unchanged: true,
                from_history: None,
            };
            let full = shared
                .on_kthxbai(&again[0].subtree, again[0].id, wrong, &ids)
                .expect("a full resync");
            assert_eq!(full.have, None, "history {history}, lseq {lseq}");
        }
    }

    /// A gap in the updates held during a sync leaves the machine's numbers
    /// ahead of the contents: the next sync keeps nothing.
    #[test]
    fn a_gap_after_a_sync_forgets_the_history() {
        let (shared, ids) = synced_from_history();
        let again = shared.resync_all(&ids);
        let held = KvMsg {
            key: b"/default/:k".to_vec(),
            sequence: 30,
            properties: [(wire::PROP_LSEQ.to_owned(), "6".to_owned())].into(),
            body: vec![1],
            ..Default::default()
        };
        assert!(shared.on_update(held, &ids).is_none(), "held while syncing");
        let full = SnapshotEnd {
            seq: 25,
            lseq: 4,
            history: Some(7),
            unchanged: false,
            from_history: None,
        };
        let restart = shared
            .on_kthxbai(&again[0].subtree, again[0].id, full, &ids)
            .expect("the gap restarts the sync");
        assert_eq!(restart.have, None);
    }

    /// A broker without histories (no `history` property) leaves nothing to
    /// keep.
    #[test]
    fn a_snapshot_without_a_history_keeps_nothing_later() {
        let shared = ReplicaShared::new("default", vec![Level::root()]);
        let ids = AtomicU64::new(1);
        let first = shared.initial_sync(&ids);
        assert!(shared
            .on_kthxbai(&first[0].subtree, first[0].id, end(9, 3), &ids)
            .is_none());
        assert_eq!(shared.resync_all(&ids)[0].have, None);
    }

    /// Finding 12: a tombstone of an acknowledged delete was never removed
    /// once its KVPUB arrived, so a busy replica grew one entry per delete.
    #[test]
    fn a_tombstone_goes_when_its_deletion_arrives() {
        let node = NodePath::new(GroupPath::parse("g").unwrap(), "n").unwrap();
        let levels = Level::chain(&node);
        let shared = ReplicaShared::new("default", levels);
        let ids = AtomicU64::new(1);
        let first = shared.initial_sync(&ids);
        let prefix = Level::root().prefix("default");
        for r in first {
            assert!(shared
                .on_kthxbai(&r.subtree, r.id, end(10, 0), &ids)
                .is_none());
        }
        let deleted = Written {
            id: 1,
            seq: 11,
            value: None,
            ttl_ms: 0,
            deleted: 1,
        };
        shared.on_ack(&prefix, "k", false, &deleted);
        assert_eq!(shared.read()[0].tombstones.len(), 1);
        let kvpub = KvMsg {
            key: format!("{prefix}k").into_bytes(),
            sequence: 11,
            properties: [(wire::PROP_LSEQ.to_owned(), "1".to_owned())].into(),
            ..Default::default()
        };
        assert!(shared.on_update(kvpub, &ids).is_none());
        assert!(shared.read()[0].tombstones.is_empty());
    }

    /// PROTOCOL.md 13.6: an expired value uncovers the next less specific
    /// level's value, as a deletion does.
    #[test]
    fn an_expired_value_uncovers_a_less_specific_level() {
        let node = NodePath::new(GroupPath::parse("g").unwrap(), "n").unwrap();
        let shared = ReplicaShared::new("default", Level::chain(&node));
        let ids = AtomicU64::new(1);
        for r in shared.initial_sync(&ids) {
            assert!(shared
                .on_kthxbai(&r.subtree, r.id, end(10, 0), &ids)
                .is_none());
        }
        assert_eq!(*shared.state().borrow(), ReplicaState::Synced);
        let written = |seq, value: u8, ttl_ms| Written {
            id: 1,
            seq,
            value: Some(vec![value]),
            ttl_ms,
            deleted: 0,
        };
        let group = Level::Group(node.group.clone()).prefix("default");
        let own = Level::Node(node.clone()).prefix("default");
        shared.on_ack(&group, "k", false, &written(11, 1, 0));
        shared.on_ack(&own, "k", false, &written(12, 2, 1));
        let start = now_ms();
        // The node-level value lives 1 ms: poll until it has run out.
        while now_ms() <= start + 1 {
            std::hint::spin_loop();
        }
        let (entry, level) = shared.get("k").expect("the group's value shows");
        assert_eq!(
            (&entry.value[..], level),
            (&[1u8][..], Level::Group(node.group.clone()))
        );
        shared.sweep();
        assert_eq!(
            shared.get("k").map(|(e, _)| e.value.to_vec()),
            Some(vec![1])
        );
    }
}
