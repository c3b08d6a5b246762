//! Control commands on the ROUTER: HELLO/WELCOME, PING/PONG, STATS, NODES, BYE.

use crate::config::Config;
use crate::metrics::Counters;
use crate::outbox::Outbox;
use crate::presence::{Joined, Presence};
use crate::state_plane::SnapshotRequest;
use canopy_schemas::control::{
    self, Hello, NodesQuery, NodesReply, Ping, Pong, StatsReply, StatsReport, Welcome,
};
use canopy_schemas::{ErrorCode, GroupPath, NodePath, Reply, Request, PROTOCOL_VERSION};
use std::time::Instant;

/// Most frames read from one ROUTER message; the rest are drained.
const MAX_CONTROL_FRAMES: usize = 8;

/// What the control plane knows about the broker itself.
pub struct Control {
    /// Per-identity rules, when configured.
    pub acls: Option<std::sync::Arc<crate::acl::Acls>>,
    /// Stable broker id.
    pub broker_id: String,
    /// This run's epoch.
    pub epoch: u64,
    /// When this run started.
    pub started: Instant,
    /// Nodes present.
    pub presence: Presence,
    /// The state sequence, as of the last loop turn (sent in PONG).
    pub seq: u64,
}

/// Who sent a ROUTER message.
#[derive(Debug, Clone)]
pub struct Peer {
    /// The ROUTER routing id (where replies go).
    pub identity: Vec<u8>,
    /// The CURVE identity of the connection, if any.
    pub user: Option<String>,
}

/// A request the control plane hands to the state plane.
#[derive(Debug)]
pub enum Deferred {
    /// CHP `ICANHAZ?` with its subtree frame, or canopy's SNAPSHOT.
    Snapshot(crate::state_plane::SnapshotRequest),
    /// WRITE, SEQS or STORES.
    State {
        /// Who asked.
        peer: Peer,
        /// The decoded request.
        request: Request,
    },
}

/// What one ROUTER receive produced.
#[derive(Debug)]
pub enum Handled {
    /// Nothing was waiting.
    Idle,
    /// Answered (or dropped) here.
    Done,
    /// For the state plane.
    Deferred(Box<Deferred>),
}

enum Outcome {
    Reply(Reply),
    Deferred(Deferred),
    Silent,
}

/// An ACL refusal, logged with the identity.
pub fn denied(id: u64, user: Option<&str>, what: &str) -> Reply {
    tracing::warn!(identity = user.unwrap_or("-"), what, "denied by ACL");
    Reply::error(
        id,
        ErrorCode::AclDenied,
        format!("identity {} may not use {what}", user.unwrap_or("-")),
    )
}

/// One message read from the ROUTER.
struct Incoming {
    identity: Vec<u8>,
    user: Option<String>,
    frames: Vec<zmq::Message>,
    total: usize,
    frame_count: usize,
}

impl Incoming {
    fn peer(&self) -> Peer {
        Peer {
            identity: self.identity.clone(),
            user: self.user.clone(),
        }
    }
}

fn receive(router: &zmq::Socket) -> Result<Option<Incoming>, zmq::Error> {
    let identity = match router.recv_msg(zmq::DONTWAIT) {
        Ok(m) => m.to_vec(),
        Err(zmq::Error::EAGAIN) => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut frames = Vec::new();
    let mut total = 0;
    let mut frame_count = 0;
    // The CURVE identity rides on the peer's frames (the routing-id frame
    // is made by the ROUTER itself and carries none).
    let mut user = None;
    while router.get_rcvmore()? {
        let mut m = router.recv_msg(0)?;
        if frame_count == 0 {
            user = m.gets("User-Id").map(str::to_owned);
        }
        total += m.len();
        frame_count += 1;
        if frames.len() < MAX_CONTROL_FRAMES {
            frames.push(m);
        }
    }
    Ok(Some(Incoming {
        identity,
        user,
        frames,
        total,
        frame_count,
    }))
}

impl Control {
    /// Handles one ROUTER message. `outstanding` tells how many requests of
    /// a connection the state plane still holds.
    pub fn handle_one(
        &mut self,
        router: &zmq::Socket,
        outbox: &mut Outbox,
        outstanding: &dyn Fn(&[u8]) -> usize,
        config: &Config,
        counters: &mut Counters,
    ) -> Result<Handled, zmq::Error> {
        let Some(msg) = receive(router)? else {
            return Ok(Handled::Idle);
        };
        counters.control_requests += 1;
        let unread = outbox.held_for(&msg.identity);
        let inflight = unread + outstanding(&msg.identity);
        if inflight >= config.max_inflight_per_connection {
            counters.requests_inflight_limited += 1;
            tracing::debug!(inflight, "request refused: max_inflight_per_connection");
            // A peer that reads its replies is told; one that does not gets
            // nothing more to hold.
            if unread == 0 {
                let id = msg
                    .frames
                    .get(1)
                    .map(|b| control::peek_envelope(b).id)
                    .unwrap_or(0);
                let reply = Reply::error(
                    id,
                    ErrorCode::TooManyRequests,
                    format!(
                        "{inflight} requests of this connection are unanswered, max_inflight_per_connection is {}",
                        config.max_inflight_per_connection
                    ),
                );
                outbox.send(router, &msg.identity, &reply, counters)?;
            }
            return Ok(Handled::Done);
        }
        match self.dispatch(msg, config, counters) {
            (identity, Outcome::Reply(reply)) => {
                outbox.send(router, &identity, &reply, counters)?;
                Ok(Handled::Done)
            }
            (_, Outcome::Deferred(d)) => Ok(Handled::Deferred(Box::new(d))),
            (_, Outcome::Silent) => Ok(Handled::Done),
        }
    }

    fn dispatch(&mut self, msg: Incoming, config: &Config, c: &mut Counters) -> (Vec<u8>, Outcome) {
        let outcome = self.decide(&msg, config, c);
        (msg.identity, outcome)
    }

    fn decide(&mut self, msg: &Incoming, config: &Config, c: &mut Counters) -> Outcome {
        let peek_id = || {
            msg.frames
                .get(1)
                .map(|b| control::peek_envelope(b).id)
                .unwrap_or(0)
        };
        if msg.total > config.max_control_size {
            c.control_rejected += 1;
            return Outcome::Reply(Reply::error(
                peek_id(),
                ErrorCode::TooLarge,
                format!(
                    "request of {} bytes exceeds max_control_size {}",
                    msg.total, config.max_control_size
                ),
            ));
        }
        if msg.frame_count != 2 {
            c.control_rejected += 1;
            return Outcome::Reply(Reply::error(
                0,
                ErrorCode::Malformed,
                format!(
                    "control message must be 2 frames [NAME, BODY], got {}",
                    msg.frame_count
                ),
            ));
        }
        let frames: Vec<&[u8]> = msg.frames.iter().map(|m| &m[..]).collect();
        if frames[0] == canopy_schemas::state::ICANHAZ {
            return Outcome::Deferred(Deferred::Snapshot(SnapshotRequest {
                peer: msg.peer(),
                subtree: frames[1].to_vec(),
                canopy_id: None,
                lseqs: false,
            }));
        }
        // A HELLO from another protocol version may not decode at all: answer
        // the version question before anything else.
        if frames[0] == b"HELLO" {
            let env = control::peek_envelope(frames[1]);
            if let Some(theirs) = env.protocol.filter(|v| *v != PROTOCOL_VERSION) {
                c.hello_version_mismatch += 1;
                return Outcome::Reply(Reply::error(
                    env.id,
                    ErrorCode::VersionMismatch,
                    format!(
                        "client speaks canopy protocol {theirs}, this broker speaks {PROTOCOL_VERSION}"
                    ),
                ));
            }
        }
        let request = match Request::decode(&frames) {
            Ok(r) => r,
            Err(e) => {
                c.control_rejected += 1;
                let code = match e {
                    control::ControlError::UnknownCommand(_) => ErrorCode::UnknownCommand,
                    _ => ErrorCode::Malformed,
                };
                tracing::debug!(error = %e, "control request rejected");
                return Outcome::Reply(Reply::error(peek_id(), code, e.to_string()));
            }
        };
        match request {
            Request::Hello(h) => {
                Outcome::Reply(self.hello(&msg.identity, msg.user.as_deref(), h, config, c))
            }
            Request::Stats(e) if !self.admin(msg.user.as_deref(), c) => {
                Outcome::Reply(denied(e.id, msg.user.as_deref(), "STATS"))
            }
            Request::Nodes(q) if !self.admin(msg.user.as_deref(), c) => {
                Outcome::Reply(denied(q.id, msg.user.as_deref(), "NODES"))
            }
            Request::Stores(e) if !self.admin(msg.user.as_deref(), c) => {
                Outcome::Reply(denied(e.id, msg.user.as_deref(), "STORES"))
            }
            Request::Ping(p) => Outcome::Reply(self.ping(&msg.identity, p, config, c)),
            Request::Stats(e) => {
                self.presence.touch(&msg.identity);
                Outcome::Reply(Reply::Stats(StatsReply {
                    id: e.id,
                    report: self.report(c),
                }))
            }
            Request::Nodes(q) => {
                self.presence.touch(&msg.identity);
                Outcome::Reply(self.nodes(q))
            }
            Request::Bye(_) => {
                if let Some(e) = self.presence.leave(&msg.identity) {
                    c.nodes_left += 1;
                    tracing::info!(node = %e.path, "node left");
                }
                Outcome::Silent
            }
            Request::Snapshot(q) => Outcome::Deferred(Deferred::Snapshot(SnapshotRequest {
                peer: msg.peer(),
                subtree: q.subtree.into_bytes(),
                canopy_id: Some(q.id),
                lseqs: q.lseqs,
            })),
            request @ (Request::Write(_) | Request::Seqs(_) | Request::Stores(_)) => {
                self.presence.touch(&msg.identity);
                Outcome::Deferred(Deferred::State {
                    peer: msg.peer(),
                    request,
                })
            }
        }
    }

    /// May this identity use admin commands? Counts a refusal.
    fn admin(&self, user: Option<&str>, c: &mut Counters) -> bool {
        let Some(acls) = &self.acls else { return true };
        let ok = acls.of(user).admin;
        if !ok {
            c.acl_admin_denied += 1;
        }
        ok
    }

    fn hello(
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
        match self.presence.join(identity, path.clone(), h.client_version) {
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
            protocol: PROTOCOL_VERSION,
            broker_id: self.broker_id.clone(),
            epoch: self.epoch,
            heartbeat_ms: config.heartbeat_ms,
            node_timeout_ms: config.node_timeout_ms,
            max_subscriptions: config.max_subscriptions,
            max_message_size: config.max_message_size,
        })
    }

    fn ping(&mut self, identity: &[u8], p: Ping, config: &Config, c: &mut Counters) -> Reply {
        let Some(entry) = self.presence.touch(identity) else {
            return Reply::error(
                p.id,
                ErrorCode::UnknownNode,
                "this connection has not said HELLO (or the broker restarted): send HELLO",
            );
        };
        c.pings += 1;
        c.drops_reported += p.dropped.saturating_sub(entry.dropped);
        entry.dropped = p.dropped;
        entry.subscriptions = p.subscriptions;
        entry.link = p.link;
        if p.subscriptions > config.max_subscriptions {
            c.subscription_limit_hits += 1;
            tracing::warn!(node = %entry.path, subscriptions = p.subscriptions, "node exceeds max_subscriptions");
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

    fn nodes(&self, q: NodesQuery) -> Reply {
        let group = match q.group.as_deref().map(GroupPath::parse).transpose() {
            Ok(g) => g,
            Err(e) => return Reply::error(q.id, ErrorCode::InvalidName, e.to_string()),
        };
        Reply::Nodes(NodesReply {
            id: q.id,
            nodes: self.presence.list(group.as_ref()),
        })
    }

    /// The STATS report.
    pub fn report(&self, c: &Counters) -> StatsReport {
        StatsReport {
            broker_id: self.broker_id.clone(),
            epoch: self.epoch,
            uptime_s: self.started.elapsed().as_secs(),
            nodes: self.presence.len() as u64,
            counters: c.snapshot(),
        }
    }
}
