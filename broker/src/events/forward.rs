//! The forwarding hot path: one message from the XSUB, checked and sent on
//! to the XPUB (and up to the parent on a child broker), or handed back as
//! a KVSET for the state plane.
//!
//! Frames are received into reused `zmq::Message`s and sent on as they are.
//! Per message the broker builds at most the 20-byte header for plain
//! publishers (a ZeroMQ very-small-message, no heap); with ACLs it also
//! copies the sender's identity, and a child broker fingerprints what it
//! sends up (federation/echoes.rs).

use crate::metrics::Counters;
use crate::security::acl::Acls;
use canopy_schemas::header;
use canopy_schemas::topic::{STATE_MARK, SYSTEM_MARK};
use std::sync::Arc;

/// Where a child broker sends the events published below it. The link to
/// the parent implements it, so the hot path never imports federation.
pub trait Upstream {
    /// Sends one event's frames to the parent.
    fn send_up(&mut self, frames: &[&[u8]], c: &mut Counters) -> Result<(), zmq::Error>;
}

/// Why an inbound event was refused; each has its own counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Not `[topic, payload]` or `[topic, header, payload]`.
    FrameCount,
    /// All frames together exceed `max_message_size`.
    Oversize,
    /// Empty or over-long topic frame.
    Topic,
    /// Topic in the state, system or heartbeat space.
    Reserved,
    /// Header frame fails its structural check.
    Header,
}

/// Limits the forwarder enforces per message.
#[derive(Debug, Clone, Copy)]
pub struct EventLimits {
    /// Largest message, all frames, in bytes.
    pub max_message_size: u64,
    /// Longest topic frame, in bytes.
    pub max_topic_length: usize,
}

/// Frames kept per inbound message: 3 for events, 5 for CHP KVSET.
const KEPT_FRAMES: usize = 5;

/// What one receive on the XSUB produced.
#[derive(Debug)]
pub enum Inbound {
    /// Nothing was waiting.
    Idle,
    /// An event was forwarded or rejected.
    Handled,
    /// A CHP KVSET for the state master, with the sender's identity (CURVE).
    Kvset(canopy_schemas::state::KvMsg, Option<String>),
}

/// Forwards events, reusing its frame buffers from one message to the next.
pub struct Forwarder {
    frames: [zmq::Message; KEPT_FRAMES],
    limits: EventLimits,
    acls: Option<Arc<Acls>>,
}

impl Forwarder {
    /// A forwarder enforcing `limits`.
    pub fn new(limits: EventLimits, acls: Option<Arc<Acls>>) -> Self {
        Forwarder {
            frames: std::array::from_fn(|_| zmq::Message::new()),
            limits,
            acls,
        }
    }

    /// Receives every frame of one message from `xsub` (at most five kept,
    /// the rest drained). Returns the frame count and total size, or `None`
    /// when nothing is waiting.
    fn receive(&mut self, xsub: &zmq::Socket) -> Result<Option<(usize, u64)>, zmq::Error> {
        match xsub.recv(&mut self.frames[0], zmq::DONTWAIT) {
            Ok(()) => {}
            Err(zmq::Error::EAGAIN) => return Ok(None),
            Err(e) => return Err(e),
        }
        let mut count = 1;
        let mut total = self.frames[0].len() as u64;
        let mut more = self.frames[0].get_more();
        while more {
            if count < KEPT_FRAMES {
                xsub.recv(&mut self.frames[count], 0)?;
                total += self.frames[count].len() as u64;
                more = self.frames[count].get_more();
            } else {
                let extra = xsub.recv_msg(0)?;
                total += extra.len() as u64;
                more = extra.get_more();
            }
            count += 1;
        }
        Ok(Some((count, total)))
    }

    fn check(&self, count: usize, total: u64) -> Result<(), Rejection> {
        if total > self.limits.max_message_size {
            return Err(Rejection::Oversize);
        }
        if !(2..=3).contains(&count) {
            return Err(Rejection::FrameCount);
        }
        let topic: &[u8] = &self.frames[0];
        if topic.is_empty() || topic.len() > self.limits.max_topic_length {
            return Err(Rejection::Topic);
        }
        if topic[0] == SYSTEM_MARK || topic == canopy_schemas::HUGZ {
            return Err(Rejection::Reserved);
        }
        if count == 3 && header::check(&self.frames[1]).is_err() {
            return Err(Rejection::Header);
        }
        Ok(())
    }

    /// A state message: a CHP KVSET of exactly 5 frames within the size limit.
    fn state(
        &self,
        count: usize,
        total: u64,
        identity: Option<String>,
        counters: &mut Counters,
    ) -> Inbound {
        if count != KEPT_FRAMES || total > self.limits.max_message_size {
            counters.kvset_rejected += 1;
            if counters.kvset_rejected.is_power_of_two() {
                let key = String::from_utf8_lossy(&self.frames[0]);
                tracing::warn!(
                    key = %key,
                    frames = count,
                    bytes = total,
                    rejected = counters.kvset_rejected,
                    "KVSET dropped: a KVSET has exactly 5 frames within max_message_size"
                );
            }
            return Inbound::Handled;
        }
        let frames: [&[u8]; KEPT_FRAMES] = std::array::from_fn(|i| &self.frames[i][..]);
        match canopy_schemas::state::KvMsg::decode(&frames) {
            Ok(msg) => Inbound::Kvset(msg, identity),
            Err(e) => {
                counters.kvset_rejected += 1;
                if counters.kvset_rejected.is_power_of_two() {
                    let key = String::from_utf8_lossy(&self.frames[0]);
                    tracing::warn!(key = %key, error = %e, rejected = counters.kvset_rejected, "KVSET dropped: malformed");
                }
                Inbound::Handled
            }
        }
    }

    /// Receives one message from `xsub`: forwards an event to `xpub` (or
    /// rejects it), or hands a KVSET back to the caller.
    ///
    /// A child broker also sends the event up to its parent (`uplink`).
    pub fn forward_one(
        &mut self,
        xsub: &zmq::Socket,
        xpub: &zmq::Socket,
        uplink: Option<&mut dyn Upstream>,
        counters: &mut Counters,
    ) -> Result<Inbound, zmq::Error> {
        let Some((count, total)) = self.receive(xsub)? else {
            return Ok(Inbound::Idle);
        };
        // The CURVE identity the ZAP handler gave this connection.
        let identity = match self.acls {
            Some(_) => self.frames[0].gets("User-Id").map(str::to_owned),
            None => None,
        };
        if self.frames[0].first() == Some(&STATE_MARK) {
            return Ok(self.state(count, total, identity, counters));
        }
        if !self.may_publish(identity.as_deref(), counters) {
            return Ok(Inbound::Handled);
        }
        if let Err(why) = self.check(count, total) {
            count_rejection(why, counters);
            tracing::debug!(?why, frames = count, bytes = total, "event rejected");
            return Ok(Inbound::Handled);
        }
        counters.events_in += 1;
        counters.event_bytes_in += total;
        let (event, sent_bytes) = self.take_event(count, total, counters);
        if let Some(link) = uplink {
            link.send_up(&[&event[0][..], &event[1][..], &event[2][..]], counters)?;
        }
        send_event(xpub, event, sent_bytes, counters);
        Ok(Inbound::Handled)
    }

    /// The sender's ACL allows this topic (always true without ACLs).
    fn may_publish(&self, identity: Option<&str>, counters: &mut Counters) -> bool {
        let Some(acls) = &self.acls else { return true };
        if acls.of(identity).may_publish(&self.frames[0]) {
            return true;
        }
        counters.acl_publish_denied += 1;
        tracing::debug!(identity = identity.unwrap_or("-"), "publish denied by ACL");
        false
    }

    /// Takes the checked event's three frames out of the reused buffers,
    /// filling in the header a plain `[topic, payload]` publisher left out;
    /// returns them with the bytes they carry.
    fn take_event(
        &mut self,
        count: usize,
        total: u64,
        counters: &mut Counters,
    ) -> ([zmq::Message; 3], u64) {
        let [topic, second, third, ..] = &mut self.frames;
        let topic = std::mem::replace(topic, zmq::Message::new());
        if count == 3 {
            let header = std::mem::replace(second, zmq::Message::new());
            let payload = std::mem::replace(third, zmq::Message::new());
            return ([topic, header, payload], total);
        }
        counters.events_header_filled += 1;
        let filled = header::broker_filled(canopy_schemas::clock::unix_ns());
        let payload = std::mem::replace(second, zmq::Message::new());
        (
            [topic, zmq::Message::from(&filled[..]), payload],
            total + filled.len() as u64,
        )
    }
}

/// Sends one event on the XPUB; a failure is counted and logged (at the
/// 1st, 2nd, 4th, 8th… one).
fn send_event(xpub: &zmq::Socket, event: [zmq::Message; 3], bytes: u64, counters: &mut Counters) {
    let [topic, header_frame, payload] = event;
    let sent = xpub
        .send(topic, zmq::SNDMORE)
        .and_then(|()| xpub.send(header_frame, zmq::SNDMORE))
        .and_then(|()| xpub.send(payload, 0));
    match sent {
        Ok(()) => {
            counters.events_out += 1;
            counters.event_bytes_out += bytes;
        }
        Err(e) => {
            counters.events_send_errors += 1;
            if counters.events_send_errors.is_power_of_two() {
                tracing::warn!(error = %e, failed = counters.events_send_errors, "sending event on XPUB failed");
            }
        }
    }
}

fn count_rejection(why: Rejection, c: &mut Counters) {
    match why {
        Rejection::FrameCount => c.events_rejected_frames += 1,
        Rejection::Oversize => c.events_rejected_oversize += 1,
        Rejection::Topic => c.events_rejected_topic += 1,
        Rejection::Reserved => c.events_rejected_reserved += 1,
        Rejection::Header => c.events_rejected_header += 1,
    }
}
