//! Writes relayed to the parent (the master) under link-local ids, and
//! their acknowledgements mapped back to the node that asked.
//!
//! A write is never held for a parent that is not there: with the link down
//! or full it is answered `unavailable` at once (not applied); one the
//! parent has not answered within two node timeouts, or when the link is
//! lost, is answered `unavailable` with an unknown outcome, so the node
//! learns it now instead of having the write applied after it gave up.

use super::Uplink;
use crate::metrics::Counters;
use crate::outbox::Outbox;
use crate::state::plane::{BatchSlot, StatePlane};
use canopy_schemas::control::ErrorReply;
use canopy_schemas::state::{Write, WriteBatch, WriteResult, WriteResults};
use canopy_schemas::{ErrorCode, Reply, Request};
use std::time::Instant;

/// Why a relayed write is answered `unavailable`.
#[derive(Clone, Copy)]
pub(super) enum Unanswered {
    /// It never left: the link is down or full.
    NotSent,
    /// It left, and the parent did not answer in time or the link was lost.
    Unknown,
}

impl Unanswered {
    fn message(self) -> &'static str {
        match self {
            Unanswered::NotSent => {
                "the parent broker is unreachable: the write was not applied; retry later"
            }
            Unanswered::Unknown => {
                "the link to the parent broker was lost before it answered: \
                 the write may or may not have been applied"
            }
        }
    }
}

/// A WRITE (or WRITES) relayed to the parent.
pub(super) struct Relayed {
    pub peer: Vec<u8>,
    pub id: u64,
    pub at: Instant,
    /// For a WRITES: per write of the node's batch, the result known here
    /// (refused by this broker's ACL) or the id of one the parent answers.
    pub local: Vec<BatchSlot>,
}

impl Uplink {
    /// Relays a WRITE from `peer` to the parent under a link-local id, or
    /// answers it `unavailable` when the link cannot take it.
    pub fn relay_write(
        &mut self,
        peer: Vec<u8>,
        mut w: Write,
        state: &mut StatePlane,
        answer: (&zmq::Socket, &mut Outbox),
        c: &mut Counters,
    ) -> Result<(), zmq::Error> {
        let node_id = w.id;
        let id = self.id();
        w.id = id;
        if !self.joined || !self.try_request(&Request::Write(w))? {
            let (router, outbox) = answer;
            return unavailable(&peer, node_id, Unanswered::NotSent, router, outbox, c);
        }
        self.track(id, peer, node_id, Vec::new(), state);
        c.link_writes_relayed += 1;
        Ok(())
    }

    /// Relays the writes of a WRITES that this broker's ACL allowed as one
    /// WRITES; `local` holds the results of the refused ones, merged into
    /// the parent's answer.
    pub fn relay_writes(
        &mut self,
        peer: Vec<u8>,
        mut batch: WriteBatch,
        local: Vec<BatchSlot>,
        state: &mut StatePlane,
        answer: (&zmq::Socket, &mut Outbox),
        c: &mut Counters,
    ) -> Result<(), zmq::Error> {
        let (router, outbox) = answer;
        let node_id = batch.id;
        if batch.writes.is_empty() {
            let reply = merged(
                node_id,
                local,
                Reply::Wrote(WriteResults {
                    id: 0,
                    results: Vec::new(),
                }),
            );
            return outbox.send(router, &peer, &reply, c);
        }
        let relayed = batch.writes.len() as u64;
        let id = self.id();
        batch.id = id;
        if !self.joined || !self.try_request(&Request::Writes(batch))? {
            c.link_writes_refused += relayed;
            let refused = Reply::error(
                node_id,
                ErrorCode::Unavailable,
                Unanswered::NotSent.message(),
            );
            return outbox.send(router, &peer, &merged(node_id, local, refused), c);
        }
        self.track(id, peer, node_id, local, state);
        c.link_writes_relayed += relayed;
        Ok(())
    }

    /// Remembers a request sent to the parent under link-local `id`, for
    /// the node's request `node_id` on connection `peer`.
    fn track(
        &mut self,
        id: u64,
        peer: Vec<u8>,
        node_id: u64,
        local: Vec<BatchSlot>,
        state: &mut StatePlane,
    ) {
        state.inflight.begin(&peer);
        self.relayed.insert(
            id,
            Relayed {
                peer,
                id: node_id,
                at: Instant::now(),
                local,
            },
        );
    }

    /// Answers every relayed write older than `limit` (all of them with
    /// `limit` zero: the link was lost) `unavailable`.
    pub(super) fn give_up_relayed(
        &mut self,
        limit: std::time::Duration,
        state: &mut StatePlane,
        answer: (&zmq::Socket, &mut Outbox),
        c: &mut Counters,
    ) -> Result<(), zmq::Error> {
        let (router, outbox) = answer;
        let expired: Vec<u64> = self
            .relayed
            .iter()
            .filter(|(_, r)| r.at.elapsed() >= limit)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            if let Some(r) = self.relayed.remove(&id) {
                state.inflight.end(&r.peer);
                c.link_writes_lost += 1;
                let lost =
                    Reply::error(r.id, ErrorCode::Unavailable, Unanswered::Unknown.message());
                let peer = r.peer.clone();
                outbox.send(router, &peer, &with_id(lost, r), c)?;
            }
        }
        Ok(())
    }
}

fn unavailable(
    peer: &[u8],
    id: u64,
    why: Unanswered,
    router: &zmq::Socket,
    outbox: &mut Outbox,
    c: &mut Counters,
) -> Result<(), zmq::Error> {
    if matches!(why, Unanswered::NotSent) {
        c.link_writes_refused += 1;
    }
    let reply = Reply::error(id, ErrorCode::Unavailable, why.message());
    outbox.send(router, peer, &reply, c)
}

/// The parent's reply, renumbered for the node that asked (and, for a
/// WRITES, merged with what this broker answered itself).
pub(super) fn with_id(reply: Reply, relayed: Relayed) -> Reply {
    if relayed
        .local
        .iter()
        .any(|slot| matches!(slot, BatchSlot::Answered(_)))
    {
        return merged(relayed.id, relayed.local, reply);
    }
    renumbered(reply, relayed.id)
}

/// One WROTE for the node's batch `id`: the results known here in their
/// places, the parent's answer in the others, in order (a whole-batch ERROR
/// from the parent, or a WROTE shorter than what was sent, becomes that
/// error for each write it leaves unanswered).
fn merged(id: u64, local: Vec<BatchSlot>, parent: Reply) -> Reply {
    let (mut from_parent, fallback) = match parent {
        Reply::Wrote(w) => (w.results.into_iter(), None),
        Reply::Error(e) => (Vec::new().into_iter(), Some(e)),
        _ => (Vec::new().into_iter(), None),
    };
    let results = local
        .into_iter()
        .map(|slot| match slot {
            BatchSlot::Answered(known) => known,
            BatchSlot::Relayed(write_id) => from_parent.next().unwrap_or_else(|| {
                let mut e = fallback.clone().unwrap_or(ErrorReply {
                    id: 0,
                    code: ErrorCode::Unavailable,
                    message: "the parent broker did not answer this write".into(),
                });
                e.id = write_id;
                WriteResult::Error(e)
            }),
        })
        .collect();
    Reply::Wrote(WriteResults { id, results })
}

/// The parent's reply under the node's request id.
fn renumbered(reply: Reply, id: u64) -> Reply {
    match reply {
        Reply::Written(mut w) => {
            w.id = id;
            Reply::Written(w)
        }
        Reply::Error(mut e) => {
            e.id = id;
            Reply::Error(e)
        }
        Reply::Wrote(mut w) => {
            w.id = id;
            Reply::Wrote(w)
        }
        other => other,
    }
}
