//! HELLO: a node joins under its group path and gets WELCOME (protocol,
//! epoch, heartbeat and limits), or a clear error.

use super::presence::Joined;
use super::Control;
use crate::config::Config;
use crate::metrics::Counters;
use canopy_schemas::control::{Hello, Welcome};
use canopy_schemas::{ErrorCode, GroupPath, NodePath, Reply};

impl Control {
    pub(super) fn hello(
        &mut self,
        identity: &[u8],
        user: Option<&str>,
        h: Hello,
        config: &Config,
        c: &mut Counters,
    ) -> Reply {
        let path = match GroupPath::parse(&h.group).and_then(|g| NodePath::new(g, &h.name)) {
            Ok(p) => p,
            Err(e) => {
                c.hello_invalid_name += 1;
                return Reply::error(h.id, ErrorCode::InvalidName, e.to_string());
            }
        };
        if let Some(acls) = &self.acls {
            if !acls.of(user).may_join(&path.to_string()) {
                c.acl_join_denied += 1;
                tracing::warn!(identity = user.unwrap_or("-"), node = %path, "HELLO denied by ACL");
                return Reply::error(
                    h.id,
                    ErrorCode::AclDenied,
                    format!("identity {} may not join as {path}", user.unwrap_or("-")),
                );
            }
        }
        if !self.presence.knows(identity, &path) && self.presence.len() >= config.max_nodes {
            c.nodes_limit_hits += 1;
            tracing::warn!(node = %path, max_nodes = config.max_nodes, "node refused: max_nodes reached");
            return Reply::error(
                h.id,
                ErrorCode::TooManyNodes,
                format!("broker already has max_nodes = {} nodes", config.max_nodes),
            );
        }
        let ours = config.protocols();
        // The envelope check passed, so a common version exists.
        let protocol = ours.choose(h.protocol_range()).unwrap_or(ours.min);
        match self
            .presence
            .join(identity, path.clone(), h.client_version, protocol)
        {
            Joined::New => {
                c.nodes_joined += 1;
                tracing::info!(node = %path, "node joined");
            }
            Joined::Replaced => {
                c.nodes_replaced += 1;
                tracing::info!(node = %path, "node rejoined from a new connection");
            }
            Joined::Again => {}
        }
        Reply::Welcome(Welcome {
            id: h.id,
            protocol,
            protocol_max: Some(ours.max),
            features: canopy_schemas::protocol_features(protocol),
            broker_id: self.broker_id.clone(),
            epoch: self.epoch,
            heartbeat_ms: config.heartbeat_ms,
            node_timeout_ms: config.node_timeout_ms,
            max_subscriptions: config.max_subscriptions,
            max_message_size: config.max_message_size,
        })
    }
}
