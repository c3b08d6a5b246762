//! The control plane: requests on the ROUTER. This file reads a request,
//! enforces the per-connection limits, decodes it and routes it: HELLO,
//! PING, STATS, NODES and BYE are answered here (one file each), while
//! ICANHAZ?, SNAPSHOT, WRITE, SEQS and STORES go to the state plane.

mod bye;
pub mod changes;
mod hello;
mod incoming;
mod nodes;
mod ping;
pub mod presence;
mod stats;

use crate::config::Config;
use crate::metrics::Counters;
use crate::outbox::Outbox;
use crate::peer::Peer;
use crate::state::plane::SnapshotRequest;
use canopy_schemas::control;
use canopy_schemas::{ErrorCode, Reply, Request};
use incoming::{receive, Incoming};
use presence::Presence;
use std::time::Instant;

/// What the control plane knows about the broker itself.
pub struct Control {
    /// Per-identity rules, when configured.
    pub acls: Option<std::sync::Arc<crate::security::acl::Acls>>,
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

/// A request the control plane hands to the state plane.
#[derive(Debug)]
pub enum Deferred {
    /// CHP `ICANHAZ?` with its subtree frame, or canopy's SNAPSHOT.
    Snapshot(SnapshotRequest),
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
                have: None,
            }));
        }
        // A HELLO from another protocol version may not decode at all: answer
        // the version question before anything else.
        if frames[0] == b"HELLO" {
            let env = control::peek_envelope(frames[1]);
            let ours = config.protocols();
            if let Some(theirs) = env.protocol_range().filter(|t| ours.choose(*t).is_none()) {
                c.hello_version_mismatch += 1;
                return Outcome::Reply(Reply::error(
                    env.id,
                    ErrorCode::VersionMismatch,
                    format!("client speaks canopy protocol {theirs}, this broker speaks {ours}"),
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
            Request::Backup(e) if !self.admin(msg.user.as_deref(), c) => {
                Outcome::Reply(denied(e.id, msg.user.as_deref(), "BACKUP"))
            }
            Request::Ping(p) => Outcome::Reply(self.ping(&msg.identity, p, config, c)),
            Request::Stats(e) => Outcome::Reply(self.stats(&msg.identity, e.id, c)),
            Request::Nodes(q) => {
                self.presence.touch(&msg.identity);
                Outcome::Reply(self.nodes(q))
            }
            Request::Bye(_) => {
                self.bye(&msg.identity, c);
                Outcome::Silent
            }
            Request::Snapshot(q) => Outcome::Deferred(Deferred::Snapshot(SnapshotRequest {
                peer: msg.peer(),
                subtree: q.subtree.into_bytes(),
                canopy_id: Some(q.id),
                lseqs: q.lseqs,
                have: q.have,
            })),
            request @ (Request::Write(_)
            | Request::Writes(_)
            | Request::Seqs(_)
            | Request::Stores(_)
            | Request::Backup(_)) => {
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
}
