//! Writes relayed to the parent (the master) under link-local ids, and
//! their acknowledgements mapped back to the node that asked.

use super::Uplink;
use crate::metrics::Counters;
use crate::state::plane::StatePlane;
use canopy_schemas::state::Write;
use canopy_schemas::{Reply, Request};
use std::time::{Duration, Instant};

/// A relayed write unanswered this long is forgotten (its client timed out).
pub(super) const RELAY_TIMEOUT: Duration = Duration::from_secs(60);

/// A WRITE relayed to the parent.
pub(super) struct Relayed {
    pub peer: Vec<u8>,
    pub id: u64,
    pub at: Instant,
}

impl Uplink {
    /// Relays a WRITE from `peer` to the parent under a link-local id.
    pub fn relay_write(
        &mut self,
        peer: Vec<u8>,
        mut w: Write,
        state: &mut StatePlane,
        c: &mut Counters,
    ) -> Result<(), zmq::Error> {
        let id = self.id();
        state.inflight.begin(&peer);
        self.relayed.insert(
            id,
            Relayed {
                peer,
                id: w.id,
                at: Instant::now(),
            },
        );
        w.id = id;
        c.link_writes_relayed += 1;
        self.request(&Request::Write(w))
    }
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
