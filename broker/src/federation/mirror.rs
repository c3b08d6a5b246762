//! The mirror of the parent's state on a child broker, run by the shared
//! sync machine ([`canopy_schemas::sync`]): a snapshot of everything with the
//! level numbers, received beside the mirror still held and swapped in
//! whole, then the KVPUB stream applied with the master's sequences.
//!
//! The master numbers every change with the next sequence and publishes each
//! one, so the mirror checks the stream's continuity on the sequence itself
//! (the machine's one "level" here is the whole stream): a KVPUB lost from any
//! level shows at the next KVPUB of any level, and a lost last one at the next
//! PONG. (Level numbers alone miss the last update of a level when other
//! levels carry on.) A gap, a stall (no progress), the parent found ahead of
//! the mirror by the PONG check, or a new parent epoch starts over. A new parent epoch (the
//! parent restarted, and may have lost changes) also gives this broker a new
//! epoch, so every replica and mirror below starts over too.

use super::Uplink;
use crate::metrics::Counters;
use crate::outbox::Outbox;
use crate::state::plane::StatePlane;
use crate::state::Entry;
use canopy_schemas::clock::unix_ms;
use canopy_schemas::state::{expiry_ms, KvMsg, SnapshotQuery, KTHXBAI, PROP_ID, PROP_LSEQ};
use canopy_schemas::sync::{EpochWatch, Finish, Lseqs, Restart, SyncMachine, UpdateStep};
use canopy_schemas::Request;
use std::time::Instant;

/// The mirror's sync: the machine, the snapshot being received, and the
/// parent's epoch and sequence.
#[derive(Default)]
pub(super) struct Mirror {
    sync: SyncMachine<KvMsg>,
    /// KVSYNCs of the snapshot in progress, in key order.
    fresh: Vec<(Box<str>, Entry)>,
    /// The level numbers of the snapshot in progress (its LSEQS), and the
    /// master's histories of their stores.
    fresh_lseqs: Option<(u64, std::collections::BTreeMap<String, u64>)>,
    fresh_histories: std::collections::BTreeMap<String, u64>,
    /// And how those histories began after a crash of the master.
    fresh_forks: std::collections::BTreeMap<String, canopy_schemas::state::HistoryFork>,
    parent_epoch: EpochWatch,
    /// The parent's sequence at the previous PONG: a live mirror still
    /// below it missed an update.
    expected_seq: u64,
    /// Set when this broker must take a new epoch (read by the loop).
    new_epoch: bool,
}

impl Uplink {
    /// A KVPUB from the parent.
    pub(super) fn update(
        &mut self,
        msg: KvMsg,
        state: &mut StatePlane,
        c: &mut Counters,
    ) -> Result<(), zmq::Error> {
        let seq = msg.sequence;
        match self.mirror.sync.update(STREAM, seq, msg) {
            UpdateStep::Apply(msg) => apply(state, &msg),
            UpdateStep::Held | UpdateStep::Skip => {}
            UpdateStep::Restart(why) => {
                tracing::warn!(
                    seq,
                    have = state.engine.seq(),
                    reason = ?why,
                    "mirror missed an update; resyncing"
                );
                self.resync(state, c)?;
            }
        }
        Ok(())
    }

    /// Asks the parent for a snapshot of all state; the mirror held so far
    /// stays until the new one is whole, and snapshots and SEQS asked of
    /// this broker wait for it.
    pub(super) fn resync(
        &mut self,
        state: &mut StatePlane,
        c: &mut Counters,
    ) -> Result<(), zmq::Error> {
        c.link_resyncs += 1;
        state.hold_snapshots();
        let id = self.id();
        self.mirror.sync.begin(id, true, Instant::now());
        self.mirror.fresh.clear();
        self.mirror.fresh_lseqs = None;
        self.mirror.fresh_histories.clear();
        self.mirror.fresh_forks.clear();
        self.request(&Request::Snapshot(SnapshotQuery {
            id,
            subtree: "/".into(),
            lseqs: true,
            have: None,
        }))
    }

    /// The parent's epoch (WELCOME, PONG): a new one means it restarted,
    /// and may have lost changes: mirror again, under a new epoch here.
    /// Returns true when it was new.
    pub(super) fn epoch(
        &mut self,
        epoch: u64,
        state: &mut StatePlane,
        answer: (&zmq::Socket, &mut Outbox),
        c: &mut Counters,
    ) -> Result<bool, zmq::Error> {
        if !self.mirror.parent_epoch.changed(epoch) {
            return Ok(false);
        }
        tracing::info!("parent broker restarted; resyncing the mirror under a new epoch");
        self.give_up_relayed(std::time::Duration::ZERO, state, answer, c)?;
        self.mirror.new_epoch = true;
        self.resync(state, c)?;
        Ok(true)
    }

    /// Asks again for the snapshot of a sync in progress (its request may
    /// have been refused while the link was down).
    pub(super) fn resync_if_syncing(
        &mut self,
        state: &mut StatePlane,
        c: &mut Counters,
    ) -> Result<(), zmq::Error> {
        if self.mirror.sync.syncing().is_some() {
            self.resync(state, c)?;
        }
        Ok(())
    }

    /// True while the mirror is whole and following the parent's stream.
    pub(super) fn mirror_live(&self) -> bool {
        self.mirror.sync.is_live()
    }

    /// True once after the parent's epoch changed: this broker takes a new
    /// epoch so that everything below resyncs.
    pub fn take_new_epoch(&mut self) -> bool {
        std::mem::take(&mut self.mirror.new_epoch)
    }

    /// The parent's sequence from a PONG. A live mirror still below what the
    /// parent had at the previous PONG missed an update (the last of a
    /// level, which no later number shows).
    pub(super) fn parent_seq(
        &mut self,
        seq: u64,
        state: &mut StatePlane,
        c: &mut Counters,
    ) -> Result<(), zmq::Error> {
        self.parent_seq = seq;
        if !self.mirror.sync.is_live() || seq == 0 {
            return Ok(());
        }
        if state.engine.seq() < self.mirror.expected_seq {
            tracing::warn!(
                have = state.engine.seq(),
                parent = self.mirror.expected_seq,
                "mirror behind its parent; resyncing"
            );
            return self.resync(state, c);
        }
        self.mirror.expected_seq = seq;
        Ok(())
    }

    /// Restarts a sync that made no progress for `limit`.
    pub(super) fn restart_stalled(
        &mut self,
        limit: std::time::Duration,
        state: &mut StatePlane,
        c: &mut Counters,
    ) -> Result<(), zmq::Error> {
        if self.mirror.sync.stalled(Instant::now(), limit) {
            tracing::warn!(reason = ?Restart::Stalled, "mirror sync made no progress; starting again");
            self.resync(state, c)?;
        }
        Ok(())
    }

    /// A KVSYNC or KTHXBAI of the mirror's snapshot.
    pub(super) fn snapshot_part(
        &mut self,
        parts: &[&[u8]],
        state: &mut StatePlane,
        router: &zmq::Socket,
        outbox: &mut Outbox,
        c: &mut Counters,
    ) -> Result<(), zmq::Error> {
        let Ok(msg) = KvMsg::decode(parts) else {
            c.link_rejected += 1;
            return Ok(());
        };
        let Some(id) = msg.prop_u64(PROP_ID) else {
            return Ok(()); // not an answer to this link's SNAPSHOT
        };
        let now = Instant::now();
        if msg.key == KTHXBAI {
            let finish = self.mirror.sync.kthxbai(id, msg.sequence, None, now);
            return self.finish(finish, state, router, outbox, c);
        }
        if !self.mirror.sync.snapshot_part(id, now) || msg.body.is_empty() {
            return Ok(()); // of a snapshot given up on
        }
        let now_ms = unix_ms();
        self.mirror.fresh.push((
            String::from_utf8_lossy(&msg.key).into(),
            Entry {
                expires_ms: expiry_ms(msg.ttl_ms().ok().flatten(), now_ms),
                value: msg.body.into_boxed_slice(),
                seq: msg.sequence,
            },
        ));
        Ok(())
    }

    /// The LSEQS that came with the mirror's snapshot.
    pub(super) fn lseqs(
        &mut self,
        reply: canopy_schemas::state::LseqsReply,
        state: &mut StatePlane,
        router: &zmq::Socket,
        outbox: &mut Outbox,
        c: &mut Counters,
    ) -> Result<(), zmq::Error> {
        if self.mirror.sync.syncing() == Some(reply.id) {
            self.mirror.fresh_lseqs = Some((reply.id, reply.lseqs));
            self.mirror.fresh_histories = reply.histories;
            self.mirror.fresh_forks = reply.forks;
        }
        // The machine follows the stream's sequence; the level numbers go
        // to the engine when the snapshot is whole.
        let stream = Lseqs::from([(STREAM.to_owned(), reply.seq)]);
        let finish = self
            .mirror
            .sync
            .lseqs_reply(reply.id, reply.seq, stream, Instant::now());
        self.finish(finish, state, router, outbox, c)
    }

    /// With KTHXBAI and LSEQS in, the new mirror replaces the old one, the
    /// updates that arrived meanwhile are applied, and the held snapshots
    /// and SEQS are answered.
    fn finish(
        &mut self,
        finish: Finish<KvMsg>,
        state: &mut StatePlane,
        router: &zmq::Socket,
        outbox: &mut Outbox,
        c: &mut Counters,
    ) -> Result<(), zmq::Error> {
        let (seq, replay) = match finish {
            Finish::Done { seq, replay, .. } => (seq, replay),
            Finish::Restart(why) => {
                tracing::warn!(reason = ?why, "mirror snapshot unusable; resyncing");
                return self.resync(state, c);
            }
            Finish::Ignored | Finish::NotYet => return Ok(()),
        };
        let lseqs = self
            .mirror
            .fresh_lseqs
            .take()
            .map(|(_, l)| l)
            .unwrap_or_default();
        state
            .engine
            .mirror_replace(std::mem::take(&mut self.mirror.fresh), seq, lseqs);
        // The mirror is the master's state as of `seq`: its levels carry the
        // master's histories (a parent that names none: this broker's epoch).
        state.mirror_histories = std::mem::take(&mut self.mirror.fresh_histories);
        state.mirror_forks = std::mem::take(&mut self.mirror.fresh_forks);
        self.mirror.expected_seq = 0;
        for msg in replay {
            apply(state, &msg);
        }
        tracing::info!(
            keys = state.engine.len(),
            seq,
            "mirror in sync with the parent"
        );
        state.release_snapshots(router, outbox, c)
    }
}

/// The machine's one "level": the master's whole stream, numbered by
/// sequence.
const STREAM: &str = "";

/// Applies one KVPUB to the mirror with the master's sequence and level
/// number.
fn apply(state: &mut StatePlane, msg: &KvMsg) {
    let key = String::from_utf8_lossy(&msg.key);
    let lseq = msg.prop_u64(PROP_LSEQ);
    let value = (!msg.body.is_empty()).then(|| msg.body.clone().into_boxed_slice());
    let expires_ms = match value {
        Some(_) => expiry_ms(msg.ttl_ms().ok().flatten(), unix_ms()),
        None => 0,
    };
    state
        .engine
        .mirror_set(&key, msg.sequence, lseq, value, expires_ms);
}
