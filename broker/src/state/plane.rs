//! The state plane as the broker loop drives it: applies KVSETs and
//! acknowledged writes through the [`StateEngine`], broadcasts every change
//! as a CHP `KVPUB`, hands persistent changes to the writer thread, answers
//! writes once they are durable, streams snapshots, and expires keys.

use super::persist::{self, Durable, ToWriter};
use super::snapshot::{self, Progress, SnapshotJob};
use super::{Change, StateEngine};
use crate::metrics::Counters;
use crate::outbox::Outbox;
use crate::peer::Peer;
use canopy_schemas::clock::unix_ms as now_ms;
use canopy_schemas::control::ErrorReply;
use canopy_schemas::state::{
    ttl_properties, HistoryFork, KvMsg, LseqsReply, SeqsQuery, SeqsReply, SnapshotBasis,
    StoresReply, Write, WriteBatch, WriteResult, WriteResults, MAX_BATCH_WRITES, PROP_LSEQ,
};
use canopy_schemas::{ErrorCode, Reply, Request};
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::mpsc::Sender;
use std::thread::JoinHandle;

/// Most levels one SEQS request may ask about.
const MAX_SEQS_LEVELS: usize = 256;

/// The store a full key belongs to (`$chp` for an opaque key).
fn parse_store(key: &str) -> Option<&str> {
    super::home(key).map(|(store, _)| store)
}

/// Snapshot requests a syncing mirror holds at most (more are dropped).
const MAX_HELD_SNAPSHOTS: usize = 100_000;

/// A snapshot request, as the control plane hands it over.
#[derive(Debug)]
pub struct SnapshotRequest {
    /// Who asked.
    pub peer: Peer,
    /// The subtree frame, as received.
    pub subtree: Vec<u8>,
    /// SNAPSHOT's request id (None for CHP ICANHAZ?).
    pub canopy_id: Option<u64>,
    /// SNAPSHOT asked for LSEQS too.
    pub lseqs: bool,
    /// What the replica holds of the level already (SNAPSHOT `have`).
    pub have: Option<SnapshotBasis>,
}

/// Why the state plane could not start (database, writer thread, sockets).
#[derive(Debug, thiserror::Error)]
#[error("state: {0}")]
pub struct StartError(pub String);

/// What a child broker's state plane hands back to the loop for the
/// parent, which is the master: the state plane never talks to the link.
#[derive(Debug)]
pub enum ForMaster {
    /// A KVSET that passed this broker's ACL.
    Kvset(KvMsg),
    /// A WRITE that passed this broker's ACL, with the routing id of the
    /// connection that asked (the acknowledgement goes back there).
    Write {
        /// Routing id of the asking connection.
        peer: Vec<u8>,
        /// The write.
        write: Write,
    },
    /// The writes of a WRITES that passed this broker's ACL.
    Writes {
        /// Routing id of the asking connection.
        peer: Vec<u8>,
        /// The allowed writes, under the node's batch id.
        batch: WriteBatch,
        /// Per write of the node's batch, in order: the result known here
        /// (refused by the ACL), or the id of one relayed.
        local: Vec<BatchSlot>,
    },
}

/// One write of a node's WRITES on a child broker.
#[derive(Debug, Clone)]
pub enum BatchSlot {
    /// Answered here (refused by this broker's ACL).
    Answered(WriteResult),
    /// Relayed to the parent; the write's own id.
    Relayed(u64),
}

/// A WRITTEN held until its change is on disk.
struct PendingAck {
    seq: u64,
    identity: Vec<u8>,
    reply: Reply,
    /// When the WRITE was applied: for the acknowledgement histogram.
    since: std::time::Instant,
}

/// State held by the loop for the state plane.
pub struct StatePlane {
    /// The master.
    pub engine: StateEngine,
    persist: Option<(Sender<ToWriter>, JoinHandle<()>)>,
    /// Where the writer thread reports durability (PAIR, bound).
    pub durable: zmq::Socket,
    pending_acks: VecDeque<PendingAck>,
    /// Snapshots streaming now (at most `max_streams` of those that send
    /// keys).
    jobs: VecDeque<SnapshotJob>,
    /// Snapshots waiting for a stream, in request order; each already holds
    /// the view (and sequence) of its request.
    waiting: VecDeque<SnapshotJob>,
    /// Most snapshots streaming keys at once (`max_snapshot_streams`).
    pub max_streams: usize,
    broker_tag: u64,
    /// Per-identity rules, when configured.
    pub acls: Option<std::sync::Arc<crate::security::acl::Acls>>,
    /// Snapshot requests each connection may make per second (and in a burst).
    pub snapshots_per_s: f64,
    /// Token buckets of snapshot requests, per ROUTER routing id.
    snapshot_budget: std::collections::HashMap<Vec<u8>, (f64, std::time::Instant)>,
    /// Writes waiting for durability and snapshots queued, per connection.
    pub inflight: crate::security::inflight::InFlight,
    /// True on a child broker: the engine is a mirror of the parent's
    /// master, so writes and KVSETs go to the parent instead.
    pub mirror: bool,
    /// Snapshot requests held while a child broker's mirror syncs.
    held: Option<Vec<SnapshotRequest>>,
    /// SEQS held meanwhile too: the mirror's numbers mean nothing until it
    /// is whole.
    held_seqs: Vec<(Vec<u8>, SeqsQuery)>,
    /// Set when a commit failed or the writer is gone: the broker stops.
    storage_failed: Option<String>,
    /// The history of the persistent stores' level numbers (kept across
    /// clean restarts of the data directory).
    disk_history: u64,
    /// When `disk_history` began after a crash: the level numbers it took
    /// over from the crashed run's history.
    disk_fork: Option<HistoryFork>,
    /// The broker's epoch: the history of everything held only in memory
    /// (non-persistent stores, a child's mirror the parent named none for).
    pub epoch: u64,
    /// On a child: store → the master's history of the mirror's levels, from
    /// the LSEQS of the mirror's last complete snapshot.
    pub mirror_histories: std::collections::BTreeMap<String, u64>,
    /// On a child: store → how the master's history of the store began
    /// after a crash (the LSEQS's `forks`), for the levels still at the
    /// numbers it took over.
    pub mirror_forks: std::collections::BTreeMap<String, HistoryFork>,
}

impl StatePlane {
    /// Wraps a restored engine and a running writer thread.
    pub fn new(
        engine: StateEngine,
        persist: (Sender<ToWriter>, JoinHandle<()>),
        durable: zmq::Socket,
        broker_tag: u64,
    ) -> Self {
        StatePlane {
            engine,
            persist: Some(persist),
            durable,
            pending_acks: VecDeque::new(),
            jobs: VecDeque::new(),
            waiting: VecDeque::new(),
            max_streams: usize::MAX,
            broker_tag,
            acls: None,
            snapshots_per_s: f64::INFINITY,
            snapshot_budget: std::collections::HashMap::new(),
            inflight: Default::default(),
            mirror: false,
            held: None,
            held_seqs: Vec::new(),
            storage_failed: None,
            disk_history: 0,
            disk_fork: None,
            epoch: 0,
            mirror_histories: Default::default(),
            mirror_forks: Default::default(),
        }
    }

    /// The history a one-level snapshot of `subtree` belongs to (see
    /// [`StatePlane::store_history`]). None when the subtree holds keys its
    /// level's lseq does not number: the opaque level `/` (every key) or
    /// `/NAME/` of a declared store (whose canonical keys share the prefix).
    fn history_of(&self, subtree: &str) -> Option<(u64, Option<&HistoryFork>)> {
        let probe = format!("{subtree}x");
        let (store, _) = super::home(&probe)?;
        if store == canopy_schemas::state::OPAQUE_STORE {
            let name = subtree.trim_matches('/');
            if name.is_empty() || self.engine.declares(name) {
                return None;
            }
        }
        Some((self.store_history(store), self.store_fork(store)))
    }

    /// How a store's history began after a crash, when it did: the
    /// master's own fork for a persistent store, or what the parent said
    /// of the mirror's store.
    fn store_fork(&self, store: &str) -> Option<&HistoryFork> {
        if self.mirror {
            return self.mirror_forks.get(store);
        }
        self.disk_fork.as_ref().filter(|_| self.on_disk(store))
    }

    /// True when this master keeps `store` on disk (its levels' numbers
    /// belong to the data directory's history).
    fn on_disk(&self, store: &str) -> bool {
        self.persist.is_some() && self.engine.serves_from_disk(store)
    }

    /// Store → the part of its fork under `subtree` that can still match
    /// (an LSEQS reply): a child answers resumes of those levels itself.
    fn forks_under(&self, subtree: &str) -> std::collections::BTreeMap<String, HistoryFork> {
        let now = |level: &str| self.engine.lseq(level);
        if self.mirror {
            return self
                .mirror_forks
                .iter()
                .map(|(store, fork)| (store.clone(), fork.live_under(subtree, now)))
                .collect();
        }
        let Some(fork) = &self.disk_fork else {
            return Default::default();
        };
        // One fork covers every persistent store here; a child is told it
        // per store, with each store's own levels.
        let live = fork.live_under(subtree, now);
        let mut out: std::collections::BTreeMap<String, HistoryFork> = self
            .engine
            .store_names()
            .filter(|store| self.on_disk(store))
            .map(|store| {
                let empty = HistoryFork {
                    from: fork.from,
                    lseqs: Default::default(),
                };
                (store.to_owned(), empty)
            })
            .collect();
        for (level, lseq) in live.lseqs {
            let store = parse_store(&format!("{level}x")).and_then(|s| out.get_mut(s));
            if let Some(store) = store {
                store.lseqs.insert(level, lseq);
            }
        }
        out
    }

    /// The history of a store's level numbers: a master's persistent store
    /// keeps its history across clean restarts; a store held only in memory
    /// has the epoch's; a child serves its mirror under the master's (as
    /// the parent's LSEQS said), or its own epoch's when it was not told.
    fn store_history(&self, store: &str) -> u64 {
        if self.mirror {
            return self
                .mirror_histories
                .get(store)
                .copied()
                .unwrap_or(self.epoch);
        }
        if self.on_disk(store) {
            self.disk_history
        } else {
            self.epoch
        }
    }

    /// Store → history for every store this broker serves (an LSEQS
    /// reply): a child may be asked for a level of any of them later.
    fn histories(&self) -> std::collections::BTreeMap<String, u64> {
        self.engine
            .store_names()
            .map(|store| (store.to_owned(), self.store_history(store)))
            .collect()
    }

    /// True while snapshots are being streamed (the loop must not sleep).
    pub fn busy(&self) -> bool {
        !self.jobs.is_empty() || !self.waiting.is_empty()
    }

    /// Broadcasts changes as KVPUB and queues the persistent ones for disk.
    pub fn publish(
        &mut self,
        changes: Vec<Change>,
        xpub: &zmq::Socket,
        c: &mut Counters,
    ) -> Result<(), zmq::Error> {
        let mut durable = Vec::new();
        self.broadcast(changes, now_ms(), xpub, &mut durable, c)?;
        self.queue_changes(durable, c);
        Ok(())
    }

    /// Broadcasts changes as KVPUB and moves the persistent ones to
    /// `durable`: a caller that applies many writes queues them for disk as
    /// one message (one allocation and channel send per WRITES instead of
    /// per write).
    fn broadcast(
        &mut self,
        changes: Vec<Change>,
        now: u64,
        xpub: &zmq::Socket,
        durable: &mut Vec<Change>,
        c: &mut Counters,
    ) -> Result<(), zmq::Error> {
        let mut props = String::new();
        for change in changes {
            props.clear();
            // Writing into a String cannot fail.
            let _ = writeln!(props, "{PROP_LSEQ}={}", change.lseq);
            if change.value.is_some() {
                props.push_str(&ttl_properties(change.expires_ms, now));
            }
            let seq = change.seq.to_be_bytes();
            let own_uuid;
            let uuid: &[u8] = match &change.uuid {
                Some(u) => u,
                None => {
                    own_uuid = snapshot::uuid(self.broker_tag, change.seq);
                    &own_uuid
                }
            };
            xpub.send(change.key.as_bytes(), zmq::SNDMORE)?;
            xpub.send(&seq[..], zmq::SNDMORE)?;
            xpub.send(uuid, zmq::SNDMORE)?;
            xpub.send(props.as_bytes(), zmq::SNDMORE)?;
            xpub.send(change.value.as_deref().unwrap_or_default(), 0)?;
            c.state_updates += 1;
            if change.persist {
                durable.push(change);
            }
        }
        Ok(())
    }

    /// Queues persistent changes for the disk writer, as one transaction.
    fn queue_changes(&mut self, durable: Vec<Change>, c: &mut Counters) {
        if !durable.is_empty() {
            self.queue_for_disk(ToWriter::Changes(durable), c);
        }
    }

    /// Queues work for the disk writer; a writer that is gone is a storage
    /// failure (the broker stops).
    fn queue_for_disk(&mut self, work: ToWriter, c: &mut Counters) {
        let Some((tx, _)) = &self.persist else {
            return;
        };
        if tx.send(work).is_err() {
            c.persist_failures += 1;
            self.fail_storage("the disk writer thread is gone");
        }
    }

    /// Records a storage failure: the loop stops the broker.
    fn fail_storage(&mut self, why: &str) {
        if self.storage_failed.is_none() {
            tracing::error!(
                why,
                "storage failed: stopping the broker; every acknowledged write is on disk, \
                 and replicas resync from it when it is started again"
            );
            self.storage_failed = Some(why.to_owned());
        }
    }

    /// Why storage failed, if it did: the broker must stop.
    pub fn storage_failed(&self) -> Option<&str> {
        self.storage_failed.as_deref()
    }

    /// A writer thread that ended is a storage failure (checked once per
    /// heartbeat: a panic there leaves writes unanswered otherwise).
    pub fn check_writer(&mut self) {
        let finished = self
            .persist
            .as_ref()
            .is_some_and(|(_, thread)| thread.is_finished());
        if finished {
            self.fail_storage("the disk writer thread stopped");
        }
    }

    /// Persists deletions of keys a restart left out (no broadcast: no one
    /// has seen them in this run).
    pub fn erase(&mut self, keys: Vec<Box<str>>, c: &mut Counters) {
        if keys.is_empty() {
            return;
        }
        let changes = keys
            .into_iter()
            .map(|key| Change {
                key,
                level_len: 0,
                seq: 0,
                lseq: 0,
                value: None,
                expires_ms: 0,
                persist: true,
                uuid: None,
            })
            .collect();
        self.queue_for_disk(ToWriter::Changes(changes), c);
    }

    /// May `user` make write `w`? The key is only spelled out when there
    /// are ACLs to check it against (it costs an allocation per write).
    fn may_write_to(&self, user: Option<&str>, w: &Write, c: &mut Counters) -> bool {
        self.acls.is_none() || self.may_write(user, &w.target_key().unwrap_or_default(), c)
    }

    /// May `user` write `key`? Counts and logs a refusal.
    fn may_write(&self, user: Option<&str>, key: &str, c: &mut Counters) -> bool {
        let Some(acls) = &self.acls else { return true };
        let ok = acls.of(user).may_write(key);
        if !ok {
            c.acl_write_denied += 1;
            if c.acl_write_denied.is_power_of_two() {
                tracing::warn!(
                    identity = user.unwrap_or("-"),
                    key,
                    denied = c.acl_write_denied,
                    "write denied by ACL"
                );
            }
        }
        ok
    }

    /// WRITES: each write applied as a WRITE would be, in order, answered by
    /// one WROTE, held until the last change of a persistent store among
    /// them is committed. On a child broker the writes its ACL allows go to
    /// the parent as one WRITES; the refused ones are answered here.
    fn write_batch(
        &mut self,
        identity: Vec<u8>,
        user: Option<&str>,
        batch: WriteBatch,
        xpub: &zmq::Socket,
        (router, outbox): (&zmq::Socket, &mut Outbox),
        c: &mut Counters,
    ) -> Result<Option<ForMaster>, zmq::Error> {
        let mut slots = Vec::with_capacity(batch.writes.len());
        let mut allowed = Vec::with_capacity(batch.writes.len());
        for w in batch.writes {
            if self.may_write_to(user, &w, c) {
                slots.push(BatchSlot::Relayed(w.id));
                allowed.push(w);
            } else {
                c.writes_rejected += 1;
                slots.push(BatchSlot::Answered(WriteResult::Error(acl_refusal(
                    user, &w,
                ))));
            }
        }
        if self.mirror {
            return Ok(Some(ForMaster::Writes {
                peer: identity,
                batch: WriteBatch {
                    id: batch.id,
                    writes: allowed,
                },
                local: slots,
            }));
        }
        let now = now_ms();
        let mut durable_through = None;
        let mut applied = allowed.into_iter();
        let mut results = Vec::with_capacity(slots.len());
        let mut durable = Vec::with_capacity(slots.len());
        for slot in slots {
            let w = match (slot, applied.next()) {
                (BatchSlot::Answered(known), _) => {
                    results.push(known);
                    continue;
                }
                (BatchSlot::Relayed(_), Some(w)) => w,
                (BatchSlot::Relayed(_), None) => break,
            };
            let applied = self.apply_write(&w, now, xpub, &mut durable, c);
            let (result, wait) = match applied {
                Ok(done) => done,
                Err(e) => {
                    // What was applied is broadcast: it goes to disk too.
                    self.queue_changes(durable, c);
                    return Err(e);
                }
            };
            durable_through = durable_through.max(wait);
            results.push(result);
        }
        self.queue_changes(durable, c);
        let reply = Reply::Wrote(WriteResults {
            id: batch.id,
            results,
        });
        self.answer_when_durable(identity, reply, durable_through, (router, outbox), c)?;
        Ok(None)
    }

    /// Applies one write and broadcasts its changes, moving the persistent
    /// ones to `durable`: the result, and the sequence to wait for on disk
    /// when it changed a persistent store.
    fn apply_write(
        &mut self,
        w: &Write,
        now: u64,
        xpub: &zmq::Socket,
        durable: &mut Vec<Change>,
        c: &mut Counters,
    ) -> Result<(WriteResult, Option<u64>), zmq::Error> {
        Ok(match self.engine.write(w, now) {
            Ok((written, changes)) => {
                c.writes += 1;
                let wait = changes.iter().any(|ch| ch.persist).then_some(written.seq);
                self.broadcast(changes, now, xpub, durable, c)?;
                (WriteResult::Written(written), wait)
            }
            Err((code, why)) => {
                c.writes_rejected += 1;
                count_refusal(code, c);
                let refused = ErrorReply {
                    id: w.id,
                    code,
                    message: why,
                };
                (WriteResult::Error(refused), None)
            }
        })
    }

    /// Sends `reply` now, or holds it until `durable` (a sequence) is
    /// committed.
    fn answer_when_durable(
        &mut self,
        identity: Vec<u8>,
        reply: Reply,
        durable: Option<u64>,
        (router, outbox): (&zmq::Socket, &mut Outbox),
        c: &mut Counters,
    ) -> Result<(), zmq::Error> {
        let Some(seq) = durable else {
            return outbox.send(router, &identity, &reply, c);
        };
        self.inflight.begin(&identity);
        self.pending_acks.push_back(PendingAck {
            seq,
            identity,
            reply,
            since: std::time::Instant::now(),
        });
        Ok(())
    }

    /// A CHP KVSET from the XSUB. On a child broker (a mirror) an allowed
    /// KVSET is handed back for the parent.
    pub fn kvset(
        &mut self,
        msg: KvMsg,
        user: Option<String>,
        xpub: &zmq::Socket,
        c: &mut Counters,
    ) -> Result<Option<ForMaster>, zmq::Error> {
        let key = String::from_utf8_lossy(&msg.key).into_owned();
        if !self.may_write(user.as_deref(), &key, c) {
            c.kvset_rejected += 1;
            return Ok(None);
        }
        if self.mirror {
            return Ok(Some(ForMaster::Kvset(msg)));
        }
        match self.engine.kvset(&msg, now_ms()) {
            Ok(changes) => {
                c.kvsets += 1;
                self.publish(changes, xpub, c)?;
            }
            Err((code, why)) => {
                c.kvset_rejected += 1;
                count_refusal(code, c);
                // CHP has no reply: the log is how a writer's operator
                // learns why (at the 1st, 2nd, 4th, 8th... rejection).
                if c.kvset_rejected.is_power_of_two() {
                    tracing::warn!(
                        key = %key,
                        code = %code,
                        %why,
                        rejected = c.kvset_rejected,
                        "KVSET dropped"
                    );
                }
            }
        }
        Ok(None)
    }

    /// WRITE, SEQS or STORES from the ROUTER. On a child broker (a mirror)
    /// an allowed WRITE is handed back for the parent.
    pub fn request(
        &mut self,
        peer: Peer,
        request: Request,
        router: &zmq::Socket,
        outbox: &mut Outbox,
        xpub: &zmq::Socket,
        c: &mut Counters,
    ) -> Result<Option<ForMaster>, zmq::Error> {
        let Peer { identity, user } = peer;
        let reply = match request {
            Request::Write(w) if !self.may_write_to(user.as_deref(), &w, c) => {
                c.writes_rejected += 1;
                Reply::Error(acl_refusal(user.as_deref(), &w))
            }
            Request::Write(write) if self.mirror => {
                return Ok(Some(ForMaster::Write {
                    peer: identity,
                    write,
                }));
            }
            Request::Writes(batch) if batch.writes.len() > MAX_BATCH_WRITES => {
                c.writes_rejected += batch.writes.len() as u64;
                Reply::error(
                    batch.id,
                    ErrorCode::TooLarge,
                    format!(
                        "WRITES carries {} writes, at most {MAX_BATCH_WRITES}",
                        batch.writes.len()
                    ),
                )
            }
            Request::Writes(batch) => {
                c.write_batches += 1;
                let answer = (router, outbox);
                return self.write_batch(identity, user.as_deref(), batch, xpub, answer, c);
            }
            Request::Write(w) => {
                let mut changes = Vec::new();
                let applied = self.apply_write(&w, now_ms(), xpub, &mut changes, c);
                self.queue_changes(changes, c);
                let (result, durable) = applied?;
                let reply = match result {
                    WriteResult::Written(written) => Reply::Written(written),
                    WriteResult::Error(refused) => Reply::Error(refused),
                };
                self.answer_when_durable(identity, reply, durable, (router, outbox), c)?;
                return Ok(None);
            }
            Request::Seqs(q) if q.levels.len() > MAX_SEQS_LEVELS => Reply::error(
                q.id,
                ErrorCode::TooLarge,
                format!(
                    "SEQS asks for {} levels, at most {MAX_SEQS_LEVELS}",
                    q.levels.len()
                ),
            ),
            Request::Seqs(q) if self.held.is_some() => {
                if self.held_seqs.len() < MAX_HELD_SNAPSHOTS {
                    self.held_seqs.push((identity, q));
                } else {
                    c.snapshots_rate_limited += 1;
                }
                return Ok(None);
            }
            Request::Seqs(q) => self.seqs_reply(&q, c),
            Request::Backup(e) => {
                let Some((tx, _)) = &self.persist else {
                    let reply = Reply::error(e.id, ErrorCode::Storage, "the broker is stopping");
                    outbox.send(router, &identity, &reply, c)?;
                    return Ok(None);
                };
                let point = persist::BackupPoint {
                    seq: self.engine.seq(),
                    map: self.engine.frozen(),
                    volatile_stores: self.engine.volatile_stores(),
                };
                // Answered when the writer thread has taken it (on_durable).
                if tx
                    .send(ToWriter::Backup {
                        peer: identity.clone(),
                        id: e.id,
                        point,
                    })
                    .is_ok()
                {
                    self.inflight.begin(&identity);
                    return Ok(None);
                }
                Reply::error(e.id, ErrorCode::Storage, "the disk writer is gone")
            }
            Request::Stores(e) => Reply::Stores(StoresReply {
                id: e.id,
                seq: self.engine.seq(),
                stores: self.engine.stores_info(),
            }),
            _ => return Ok(None),
        };
        outbox.send(router, &identity, &reply, c)?;
        Ok(None)
    }

    /// `ICANHAZ?`: queues a snapshot job. A subtree that is not UTF-8 is
    /// dropped and counted (CHP has no error reply).
    pub fn snapshot(
        &mut self,
        request: SnapshotRequest,
        router: &zmq::Socket,
        outbox: &mut Outbox,
        c: &mut Counters,
    ) -> Result<(), zmq::Error> {
        let SnapshotRequest {
            peer,
            subtree,
            canopy_id,
            lseqs,
            have,
        } = request;
        if !self.take_snapshot_token(&peer.identity) {
            // CHP has no error reply; a canopy replica retries a stalled sync.
            c.snapshots_rate_limited += 1;
            tracing::debug!(
                user = peer.user.as_deref().unwrap_or("-"),
                "snapshot request over the rate limit dropped"
            );
            return Ok(());
        }
        if let Some(held) = &mut self.held {
            // A child's mirror is syncing: answered once it is whole.
            if held.len() < MAX_HELD_SNAPSHOTS {
                held.push(SnapshotRequest {
                    peer,
                    subtree,
                    canopy_id,
                    lseqs,
                    have,
                });
            } else {
                c.snapshots_rate_limited += 1;
            }
            return Ok(());
        }
        match String::from_utf8(subtree) {
            Ok(subtree) => {
                c.snapshots += 1;
                let user = peer.user;
                let mut job = SnapshotJob::new(peer.identity, subtree, canopy_id, &self.engine);
                let (history, fork) = self.history_of(job.subtree()).unzip();
                if let Some(history) = history {
                    job.set_history(history);
                }
                if let Some(acls) = &self.acls {
                    if !acls.of(user.as_deref()).may_read(job.subtree()) {
                        // Answered as an empty subtree: nothing readable there.
                        c.acl_read_denied += 1;
                        tracing::warn!(
                            identity = user.as_deref().unwrap_or("-"),
                            subtree = job.subtree(),
                            "snapshot denied by ACL"
                        );
                        job.make_empty();
                    }
                }
                if have.is_some_and(|h| job.holds(h)) {
                    c.snapshots_unchanged += 1;
                    job.make_unchanged(None);
                } else if let Some(h) =
                    have.filter(|h| fork.flatten().is_some_and(|fork| job.took_over(*h, fork)))
                {
                    // The level is as the crashed run committed it, and the
                    // replica holds exactly that: kept, under the new history.
                    c.snapshots_unchanged += 1;
                    c.snapshots_taken_over += 1;
                    job.make_unchanged(Some(h.history));
                } else if let Some(h) = have {
                    tracing::debug!(
                        subtree = job.subtree(),
                        have_history = format!("{:016x}", h.history),
                        have_lseq = h.lseq,
                        lseq = ?job.lseq(),
                        "the replica's level is not this one: sent in full"
                    );
                }
                if let (Some(id), true) = (canopy_id, lseqs) {
                    // Taken in the same loop turn as the job: consistent
                    // with the sequence its KTHXBAI carries.
                    let lseqs = if job.is_empty() {
                        Default::default()
                    } else {
                        self.engine.lseqs_under(job.subtree())
                    };
                    let reply = Reply::Lseqs(LseqsReply {
                        id,
                        seq: job.seq(),
                        histories: if job.is_empty() {
                            Default::default()
                        } else {
                            self.histories()
                        },
                        forks: if job.is_empty() {
                            Default::default()
                        } else {
                            self.forks_under(job.subtree())
                        },
                        lseqs,
                    });
                    outbox.send(router, job.identity(), &reply, c)?;
                }
                if job.canopy_id().is_some() {
                    self.drop_superseded(&job, c);
                }
                self.inflight.begin(job.identity());
                let streams_full = self.jobs.len() >= self.max_streams;
                if job.sends_keys() && (streams_full || !self.waiting.is_empty()) {
                    c.snapshots_waited += 1;
                    self.waiting.push_back(job);
                } else {
                    self.jobs.push_back(job);
                }
                self.count_streams(c);
            }
            Err(_) => {
                c.snapshots_rejected += 1;
                tracing::debug!("ICANHAZ? with a non-UTF-8 subtree dropped");
            }
        }
        Ok(())
    }

    /// A replica that asks again for a subtree has given up on the stream
    /// it was sent: stop it rather than send the same subtree twice.
    fn drop_superseded(&mut self, new: &SnapshotJob, c: &mut Counters) {
        let before = self.jobs.len() + self.waiting.len();
        let inflight = &mut self.inflight;
        let mut keep = |old: &SnapshotJob| {
            let superseded = old.canopy_id().is_some()
                && old.identity() == new.identity()
                && old.subtree() == new.subtree();
            if superseded {
                inflight.end(old.identity());
            }
            !superseded
        };
        self.jobs.retain(&mut keep);
        self.waiting.retain(&mut keep);
        let after = self.jobs.len() + self.waiting.len();
        let dropped = before.saturating_sub(after) as u64;
        if dropped > 0 {
            c.snapshots_superseded += dropped;
            tracing::debug!(
                subtree = new.subtree(),
                "superseded snapshot stream stopped"
            );
        }
    }

    /// Holds new snapshot requests (a child's mirror is syncing).
    pub fn hold_snapshots(&mut self) {
        self.held.get_or_insert_with(Vec::new);
    }

    /// The answer to SEQS: each level's update number now.
    fn seqs_reply(&self, q: &SeqsQuery, c: &mut Counters) -> Reply {
        c.seqs_requests += 1;
        Reply::Seqs(SeqsReply {
            id: q.id,
            lseqs: q.levels.iter().map(|l| self.engine.lseq(l)).collect(),
        })
    }

    /// Serves the snapshot requests held while the mirror synced.
    pub fn release_snapshots(
        &mut self,
        router: &zmq::Socket,
        outbox: &mut Outbox,
        c: &mut Counters,
    ) -> Result<(), zmq::Error> {
        let held = self.held.take().unwrap_or_default();
        for (identity, q) in std::mem::take(&mut self.held_seqs) {
            let reply = self.seqs_reply(&q, c);
            outbox.send(router, &identity, &reply, c)?;
        }
        for request in held {
            self.snapshot(request, router, outbox, c)?;
        }
        Ok(())
    }

    /// Token bucket: `snapshots_per_s` tokens a second, as many in a burst.
    fn take_snapshot_token(&mut self, identity: &[u8]) -> bool {
        let rate = self.snapshots_per_s;
        if !rate.is_finite() {
            return true;
        }
        let now = std::time::Instant::now();
        if self.snapshot_budget.len() > 10_000 {
            // Forget connections idle long enough to have a full bucket again.
            self.snapshot_budget.retain(|_, (_, last)| {
                now.duration_since(*last).as_secs_f64() * rate < rate.max(1.0)
            });
        }
        let burst = rate.max(1.0);
        let (tokens, last) = self
            .snapshot_budget
            .entry(identity.to_vec())
            .or_insert((burst, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * rate).min(burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Streams the pending snapshots in turn, a chunk each, until this
    /// turn's budget of KVSYNCs is spent; the next turn goes on with the
    /// next job, so every stream moves and none holds the loop. Returns true when every job is waiting for its peer to
    /// drain (the loop may then sleep briefly).
    pub fn pump_snapshots(
        &mut self,
        router: &zmq::Socket,
        c: &mut Counters,
    ) -> Result<bool, zmq::Error> {
        let now = now_ms();
        // Waiting snapshots take the streams that finished, in order.
        while self.jobs.len() < self.max_streams {
            let Some(job) = self.waiting.pop_front() else {
                break;
            };
            self.jobs.push_back(job);
        }
        let mut all_blocked = true;
        let mut budget = snapshot::TURN_BUDGET;
        for _ in 0..self.jobs.len() {
            if budget == 0 {
                all_blocked = false;
                break;
            }
            let Some(mut job) = self.jobs.pop_front() else {
                break;
            };
            let before = job.sent;
            let progress = job.pump(router, now, budget.min(snapshot::CHUNK))?;
            let sent = job.sent.saturating_sub(before);
            budget = budget.saturating_sub(usize::try_from(sent).unwrap_or(usize::MAX));
            c.snapshot_keys_sent += sent;
            if progress != Progress::Blocked || job.sent > before {
                all_blocked = false;
            }
            match progress {
                Progress::More | Progress::Blocked => self.jobs.push_back(job),
                Progress::Done => {
                    self.inflight.end(job.identity());
                    c.histograms
                        .snapshot_seconds
                        .observe(job.started.elapsed().as_secs_f64());
                }
                Progress::Gone => {
                    self.inflight.end(job.identity());
                    c.snapshots_abandoned += 1;
                }
            }
        }
        self.count_streams(c);
        Ok(all_blocked && !self.jobs.is_empty())
    }

    /// Refreshes the streaming and waiting gauges.
    fn count_streams(&self, c: &mut Counters) {
        c.snapshots_streaming = self.jobs.len() as u64;
        c.snapshots_waiting = self.waiting.len() as u64;
    }

    /// Deletes expired keys and broadcasts the deletions.
    pub fn expire(&mut self, xpub: &zmq::Socket, c: &mut Counters) -> Result<(), zmq::Error> {
        let now = now_ms();
        if self.engine.next_expiry().is_some_and(|d| d <= now) {
            let gone = self.engine.expire_due(now);
            c.keys_expired += gone.len() as u64;
            self.publish(gone, xpub, c)?;
        }
        Ok(())
    }

    /// The writer thread reported: answer the writes that are now durable.
    pub fn on_durable(
        &mut self,
        router: &zmq::Socket,
        outbox: &mut Outbox,
        c: &mut Counters,
    ) -> Result<(), zmq::Error> {
        while let Ok(msg) = self.durable.recv_msg(zmq::DONTWAIT) {
            if &msg[..] == persist::BACKUP_DONE {
                self.backup_done(router, outbox, c)?;
                continue;
            }
            let Some(status) = Durable::decode(&msg) else {
                continue;
            };
            if let Some(cost) = persist::CommitCost::decode(&msg) {
                let h = &mut c.histograms;
                h.commit_changes.observe(f64::from(cost.changes));
                h.commit_seconds.observe(f64::from(cost.micros) / 1e6);
            }
            let (through, ok) = match status {
                Durable::Through(s) => (s, true),
                Durable::Failed(s) => (s, false),
            };
            if ok {
                c.persist_commits += 1;
            } else {
                c.persist_failures += 1;
                self.fail_storage("a commit to disk failed");
            }
            while self
                .pending_acks
                .front()
                .is_some_and(|ack| ack.seq <= through)
            {
                let Some(PendingAck {
                    identity,
                    reply,
                    since,
                    ..
                }) = self.pending_acks.pop_front()
                else {
                    break;
                };
                if ok {
                    c.histograms
                        .write_ack_seconds
                        .observe(since.elapsed().as_secs_f64());
                }
                self.inflight.end(&identity);
                let reply = if ok {
                    reply
                } else {
                    Reply::error(
                        reply.id(),
                        ErrorCode::Storage,
                        "the write was applied but could not be made durable",
                    )
                };
                outbox.send(router, &identity, &reply, c)?;
            }
        }
        Ok(())
    }

    /// After a storage failure: every write still waiting for the disk is
    /// answered `storage` (applied and broadcast, not durable), and the
    /// replies are flushed as far as the peers take them.
    pub fn fail_pending(
        &mut self,
        router: &zmq::Socket,
        outbox: &mut Outbox,
        c: &mut Counters,
    ) -> Result<(), zmq::Error> {
        while let Some(PendingAck {
            identity, reply, ..
        }) = self.pending_acks.pop_front()
        {
            self.inflight.end(&identity);
            let reply = Reply::error(
                reply.id(),
                ErrorCode::Storage,
                "the write was applied but could not be made durable: the broker is stopping",
            );
            outbox.send(router, &identity, &reply, c)?;
        }
        outbox.flush(router, c)
    }

    /// Answers a BACKUP the writer thread took: `[peer, id, ok|error, body]`
    /// follow the BACKUP_DONE frame.
    fn backup_done(
        &mut self,
        router: &zmq::Socket,
        outbox: &mut Outbox,
        c: &mut Counters,
    ) -> Result<(), zmq::Error> {
        let mut frames = Vec::with_capacity(4);
        while self.durable.get_rcvmore()? {
            frames.push(self.durable.recv_bytes(0)?);
        }
        let [peer, id, status, body] =
            <[Vec<u8>; 4]>::try_from(frames).map_err(|_| zmq::Error::EPROTO)?;
        let id = <[u8; 8]>::try_from(id.as_slice()).map_or(0, u64::from_be_bytes);
        self.inflight.end(&peer);
        let number = |range: std::ops::Range<usize>| {
            body.get(range)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map_or(0, u64::from_be_bytes)
        };
        let reply = if status == b"ok" && body.len() >= 16 {
            c.backups += 1;
            let (seq, keys) = (number(0..8), number(8..16));
            tracing::info!(seq, keys, bytes = body.len() - 16, "backup taken");
            Reply::Backup(canopy_schemas::control::BackupReply {
                id,
                seq,
                keys,
                data: body[16..].to_vec(),
            })
        } else {
            c.persist_failures += 1;
            Reply::error(
                id,
                ErrorCode::Storage,
                String::from_utf8_lossy(&body).into_owned(),
            )
        };
        outbox.send(router, &peer, &reply, c)
    }

    /// Stops the writer thread after it has committed everything queued, and
    /// answers the writes that became durable.
    pub fn shutdown(
        &mut self,
        router: &zmq::Socket,
        outbox: &mut Outbox,
        c: &mut Counters,
    ) -> Result<(), zmq::Error> {
        if let Some((tx, thread)) = self.persist.take() {
            // An orderly stop: the writer records it after the last commit
            // (a broker stopped otherwise begins a new history next time).
            let _ = tx.send(ToWriter::Stop);
            drop(tx);
            let _ = thread.join();
        }
        self.on_durable(router, outbox, c)?;
        outbox.flush(router, c)
    }
}

/// Why a write is refused by the writer's ACL.
fn acl_refusal(user: Option<&str>, w: &Write) -> ErrorReply {
    ErrorReply {
        id: w.id,
        code: ErrorCode::AclDenied,
        message: format!(
            "identity {} may not write {} at {:?} in store {}",
            user.unwrap_or("-"),
            w.key,
            w.level,
            w.store
        ),
    }
}

fn count_refusal(code: ErrorCode, c: &mut Counters) {
    match code {
        ErrorCode::LimitReached => c.store_limit_hits += 1,
        ErrorCode::SchemaViolation => c.schema_violations += 1,
        _ => {}
    }
}

/// Opens the database under `data_dir`, restores the engine and starts the
/// writer thread.
pub fn start(
    mut engine: StateEngine,
    data_dir: &std::path::Path,
    drop_stores: &[String],
    context: &zmq::Context,
    broker_tag: u64,
) -> Result<(StatePlane, Vec<Box<str>>), StartError> {
    if let Some(served) = drop_stores.iter().find(|s| engine.serves_from_disk(s)) {
        return Err(StartError(format!(
            "--drop-store {served}: the store is declared and persists; remove it from the \
             configuration first (its data is kept until then)"
        )));
    }
    let path = data_dir.join("state.redb");
    let (db, loaded) = persist::open(&path).map_err(|e| StartError(e.to_string()))?;
    let keys = loaded.entries.len();
    let carried = loaded.history;
    let crashed = loaded.crashed_history;
    let committed_lseqs: std::collections::BTreeMap<String, u64> = loaded
        .lseqs
        .iter()
        .filter(|(_, lseq)| **lseq > 0)
        .map(|(level, lseq)| (level.to_string(), *lseq))
        .collect();
    let restored = engine.restore(loaded, drop_stores);
    // Erasing keys changes levels without a number: a new history, as after
    // a crash, so no replica keeps what it held.
    let untouched = restored.erase.is_empty() && drop_stores.is_empty();
    let history = carried
        .filter(|_| untouched)
        .unwrap_or_else(|| rand::random::<u64>().max(1));
    // After a crash the committed level numbers still name the states the
    // crashed run published at them; only those it published beyond the
    // last commit may be lost. The new history takes the committed ones
    // over (12.1).
    let disk_fork = crashed
        .filter(|_| untouched && carried.is_none())
        .map(|from| HistoryFork {
            from,
            lseqs: committed_lseqs,
        });
    persist::begin_run(&db, engine.seq(), history).map_err(|e| StartError(e.to_string()))?;
    tracing::info!(
        history = format!("{history:016x}"),
        carried_on = carried == Some(history),
        taken_over_from = disk_fork.as_ref().map(|f| format!("{:016x}", f.from)),
        "state history"
    );
    for (store, u) in &restored.unserved {
        let why = if u.declared {
            "is declared with persist = false"
        } else {
            "is not declared in the configuration"
        };
        tracing::warn!(
            store = %store,
            keys = u.keys,
            "store {store:?} {why}: its {} keys on disk are kept but not served. Declare it \
             (persistent) again to serve them, or start once with --drop-store {store} to \
             delete them",
            u.keys
        );
    }
    if restored.volatile_served > 0 {
        tracing::info!(
            keys = restored.volatile_served,
            "restored keys of persist = false stores are served from memory until this run stops"
        );
    }
    if restored.volatile_dropped > 0 {
        tracing::warn!(
            keys = restored.volatile_dropped,
            "restored keys of persist = false stores dropped: the configuration no longer \
             declares their stores with persist = false"
        );
    }
    for store in drop_stores {
        let n = restored
            .erase
            .iter()
            .filter(|k| parse_store(k) == Some(store.as_str()))
            .count();
        tracing::warn!(store = %store, keys = n, "--drop-store: deleting the store's keys from disk");
    }
    tracing::info!(
        keys,
        seq = engine.seq(),
        unserved = restored.unserved.values().map(|u| u.keys).sum::<u64>(),
        erased = restored.erase.len(),
        path = %path.display(),
        "state loaded"
    );
    let dropped = restored.erase;
    let endpoint = format!(
        "inproc://canopy-durable-{broker_tag:016x}-{}",
        std::process::id()
    );
    let durable = context
        .socket(zmq::PAIR)
        .map_err(|e| StartError(e.to_string()))?;
    durable
        .bind(&endpoint)
        .map_err(|e| StartError(e.to_string()))?;
    let notify = context
        .socket(zmq::PAIR)
        .map_err(|e| StartError(e.to_string()))?;
    notify
        .connect(&endpoint)
        .map_err(|e| StartError(e.to_string()))?;
    let persist = persist::spawn(db, notify, format!("{broker_tag:016x}"))
        .map_err(|e| StartError(e.to_string()))?;
    let mut plane = StatePlane::new(engine, persist, durable, broker_tag);
    plane.disk_history = history;
    plane.disk_fork = disk_fork;
    Ok((plane, dropped))
}
