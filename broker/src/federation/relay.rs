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
use crate::state::plane::StatePlane;
use canopy_schemas::state::Write;
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

/// A WRITE relayed to the parent.
pub(super) struct Relayed {
    pub peer: Vec<u8>,
    pub id: u64,
    pub at: Instant,
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
        state.inflight.begin(&peer);
        self.relayed.insert(
            id,
            Relayed {
                peer,
                id: node_id,
                at: Instant::now(),
            },
        );
        c.link_writes_relayed += 1;
        Ok(())
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
                unavailable(&r.peer, r.id, Unanswered::Unknown, router, outbox, c)?;
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

/// The parent's reply, renumbered for the node that asked.
pub(super) fn with_id(reply: Reply, id: u64) -> Reply {
    match reply {
        Reply::Written(mut w) => {
            w.id = id;
            Reply::Written(w)
        }
        Reply::Error(mut e) => {
            e.id = id;
            Reply::Error(e)
        }
        other => other,
    }
}
