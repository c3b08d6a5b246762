//! The mirror of the parent's state on a child broker: a snapshot of
//! everything with the level numbers, then the KVPUB stream applied with the
//! master's sequences; a gap, a stall or a new parent epoch starts over.

use super::Uplink;
use crate::metrics::Counters;
use crate::outbox::Outbox;
use crate::state::plane::StatePlane;
use canopy_schemas::clock::unix_ms;
use canopy_schemas::state::{expiry_ms, KvMsg, SnapshotQuery, KTHXBAI, PROP_LSEQ};
use canopy_schemas::Request;
use std::collections::BTreeMap;
use std::time::Instant;

/// Where the mirror stands.
pub(super) enum MirrorSync {
    /// The mirror matches the parent; updates apply as they arrive.
    Ready,
    /// A snapshot of the parent is on its way; updates wait.
    Syncing {
        id: u64,
        started: Instant,
        kthxbai: Option<u64>,
        lseqs: Option<(u64, BTreeMap<String, u64>)>,
        buffered: Vec<KvMsg>,
    },
}

impl Uplink {
    /// A KVPUB from the parent.
    pub(super) fn update(
        &mut self,
        msg: KvMsg,
        state: &mut StatePlane,
        c: &mut Counters,
    ) -> Result<(), zmq::Error> {
        if let MirrorSync::Syncing { buffered, .. } = &mut self.sync {
            buffered.push(msg);
            return Ok(());
        }
        let key = String::from_utf8_lossy(&msg.key).into_owned();
        let Ok(level) = canopy_schemas::state::level_prefix(&key) else {
            return Ok(());
        };
        let lseq = msg.prop_u64(PROP_LSEQ).unwrap_or(0);
        if lseq != state.engine.lseq(level) + 1 {
            // A lost update: the mirror starts over.
            tracing::warn!(
                level,
                lseq,
                have = state.engine.lseq(level),
                "mirror gap; resyncing"
            );
            return self.resync(state, c);
        }
        apply(state, &msg, &key, Some(lseq));
        Ok(())
    }

    /// Forgets the mirror and asks the parent for a snapshot of all state.
    pub(super) fn resync(
        &mut self,
        state: &mut StatePlane,
        c: &mut Counters,
    ) -> Result<(), zmq::Error> {
        c.link_resyncs += 1;
        state.engine.mirror_clear();
        state.hold_snapshots();
        let id = self.id();
        self.sync = MirrorSync::Syncing {
            id,
            started: Instant::now(),
            kthxbai: None,
            lseqs: None,
            buffered: Vec::new(),
        };
        self.request(&Request::Snapshot(SnapshotQuery {
            id,
            subtree: "/".into(),
            lseqs: true,
        }))
    }

    /// A new parent epoch means the parent restarted: mirror again.
    pub(super) fn epoch(
        &mut self,
        epoch: u64,
        state: &mut StatePlane,
        c: &mut Counters,
    ) -> Result<(), zmq::Error> {
        match self.parent_epoch.replace(epoch) {
            Some(old) if old != epoch => {
                tracing::info!("parent broker restarted; resyncing the mirror");
                for (_, r) in self.relayed.drain() {
                    state.inflight.end(&r.peer);
                    c.link_writes_lost += 1;
                }
                self.resync(state, c)
            }
            _ => Ok(()),
        }
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
        let MirrorSync::Syncing { id, kthxbai, .. } = &mut self.sync else {
            return Ok(());
        };
        if msg.key == KTHXBAI {
            if msg.prop_u64(canopy_schemas::state::PROP_ID) == Some(*id) {
                *kthxbai = Some(msg.sequence);
                return self.finish_sync(state, router, outbox, c);
            }
            return Ok(());
        }
        let key = String::from_utf8_lossy(&msg.key).into_owned();
        apply(state, &msg, &key, None);
        Ok(())
    }

    /// With KTHXBAI and LSEQS in, the mirror takes the level numbers, applies
    /// the updates that arrived meanwhile and starts serving.
    pub(super) fn finish_sync(
        &mut self,
        state: &mut StatePlane,
        router: &zmq::Socket,
        outbox: &mut Outbox,
        c: &mut Counters,
    ) -> Result<(), zmq::Error> {
        let MirrorSync::Syncing {
            kthxbai: Some(seq),
            lseqs: Some((lseqs_seq, _)),
            ..
        } = &self.sync
        else {
            return Ok(());
        };
        if seq != lseqs_seq {
            tracing::warn!("mirror snapshot and level numbers disagree; resyncing");
            return self.resync(state, c);
        }
        let seq = *seq;
        let MirrorSync::Syncing {
            lseqs: Some((_, lseqs)),
            buffered,
            ..
        } = std::mem::replace(&mut self.sync, MirrorSync::Ready)
        else {
            return Ok(());
        };
        state.engine.mirror_start(seq, lseqs);
        for msg in buffered {
            if msg.sequence <= seq {
                continue;
            }
            let key = String::from_utf8_lossy(&msg.key).into_owned();
            let lseq = msg.prop_u64(PROP_LSEQ);
            apply(state, &msg, &key, lseq);
        }
        tracing::info!(
            keys = state.engine.len(),
            seq,
            "mirror in sync with the parent"
        );
        state.release_snapshots(router, outbox, c)
    }
}

/// Applies one KVSYNC (`lseq` None) or KVPUB to the mirror.
pub(super) fn apply(state: &mut StatePlane, msg: &KvMsg, key: &str, lseq: Option<u64>) {
    let value = (!msg.body.is_empty()).then(|| msg.body.clone().into_boxed_slice());
    let expires_ms = match value {
        Some(_) => expiry_ms(msg.ttl_ms().ok().flatten(), unix_ms()),
        None => 0,
    };
    state
        .engine
        .mirror_set(key, msg.sequence, lseq, value, expires_ms);
}
