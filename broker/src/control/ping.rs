//! PING: a node's heartbeat with its drop and subscription counts; PONG
//! carries the epoch and the state sequence.

use super::changes::Change;
use super::Control;
use crate::config::Config;
use crate::metrics::Counters;
use canopy_schemas::control::{Ping, Pong};
use canopy_schemas::{ErrorCode, Reply};

impl Control {
    pub(super) fn ping(
        &mut self,
        identity: &[u8],
        p: Ping,
        config: &Config,
        c: &mut Counters,
    ) -> Reply {
        let Some(entry) = self.presence.touch(identity) else {
            return self.not_joined(p.id, identity, c);
        };
        c.pings += 1;
        c.drops_reported += p.dropped.saturating_sub(entry.dropped);
        entry.dropped = p.dropped;
        entry.subscriptions = p.subscriptions;
        // A child broker's PING carries its link report and the distinct
        // prefixes of everything below it: max_subscriptions is a per-node
        // limit and does not apply to it (max_subscriptions_per_connection
        // still caps what its link holds).
        let is_link = p.link.is_some();
        let child_up = (entry.link.is_none() && is_link).then(|| entry.path.to_string());
        entry.link = p.link;
        let over_limit =
            (!is_link && p.subscriptions > config.max_subscriptions).then(|| entry.path.clone());
        if let Some(path) = child_up {
            tracing::info!(child = %path, "child broker link up");
            self.presence.sys.push(Change::ChildUp { path });
        }
        if let Some(path) = over_limit {
            c.subscription_limit_hits += 1;
            tracing::warn!(node = %path, subscriptions = p.subscriptions, "node exceeds max_subscriptions");
            return Reply::error(
                p.id,
                ErrorCode::TooManySubscriptions,
                format!(
                    "node holds {} subscriptions, max_subscriptions is {}",
                    p.subscriptions, config.max_subscriptions
                ),
            );
        }
        Reply::Pong(Pong {
            id: p.id,
            epoch: self.epoch,
            seq: self.seq,
        })
    }

    /// The answer to a PING from a connection that is not joined: rejoin,
    /// unless another live connection took its node path.
    fn not_joined(&mut self, id: u64, identity: &[u8], c: &mut Counters) -> Reply {
        let Some(path) = self.presence.taken_from(identity) else {
            return Reply::error(
                id,
                ErrorCode::UnknownNode,
                "this connection has not said HELLO (or the broker restarted): send HELLO",
            );
        };
        // Two live nodes use one name: telling this one to rejoin would make
        // them replace each other for ever.
        c.nodes_name_taken += 1;
        if c.nodes_name_taken.is_power_of_two() {
            tracing::warn!(node = %path, times = c.nodes_name_taken, "two nodes use one name: the older connection is told name_taken");
        }
        Reply::error(
            id,
            ErrorCode::NameTaken,
            format!(
                "node {path} joined from another connection: two nodes use this name; this one \
                 is no longer joined (give each node its own name)"
            ),
        )
    }
}
