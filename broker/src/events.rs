//! The event hot path: XSUB → XPUB forwarding, and subscriptions XPUB → XSUB.
//!
//! Frames are received into reused `zmq::Message`s and sent on as they are; the
//! only thing built per message is the 20-byte header for plain publishers,
//! which fits in a ZeroMQ very-small-message (no heap).

use crate::acl::Acls;
use crate::metrics::Counters;
use canopy_schemas::header;
use canopy_schemas::topic::{STATE_MARK, SYSTEM_MARK};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

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

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
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
            tracing::debug!(
                frames = count,
                bytes = total,
                "KVSET rejected: frames or size"
            );
            return Inbound::Handled;
        }
        let frames: [&[u8]; KEPT_FRAMES] = std::array::from_fn(|i| &self.frames[i][..]);
        match canopy_schemas::state::KvMsg::decode(&frames) {
            Ok(msg) => Inbound::Kvset(msg, identity),
            Err(e) => {
                counters.kvset_rejected += 1;
                tracing::debug!(error = %e, "KVSET rejected");
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
        uplink: Option<&mut crate::federation::Uplink>,
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
        if let Some(acls) = &self.acls {
            if !acls.of(identity.as_deref()).may_publish(&self.frames[0]) {
                counters.acl_publish_denied += 1;
                tracing::debug!(
                    identity = identity.as_deref().unwrap_or("-"),
                    "publish denied by ACL"
                );
                return Ok(Inbound::Handled);
            }
        }
        if let Err(why) = self.check(count, total) {
            count_rejection(why, counters);
            tracing::debug!(?why, frames = count, bytes = total, "event rejected");
            return Ok(Inbound::Handled);
        }
        counters.events_in += 1;
        counters.event_bytes_in += total;
        let [topic, second, third, ..] = &mut self.frames;
        let topic = std::mem::replace(topic, zmq::Message::new());
        let (header_frame, payload, sent_bytes) = if count == 3 {
            (
                std::mem::replace(second, zmq::Message::new()),
                std::mem::replace(third, zmq::Message::new()),
                total,
            )
        } else {
            counters.events_header_filled += 1;
            let filled = header::broker_filled(now_ns());
            (
                zmq::Message::from(&filled[..]),
                std::mem::replace(second, zmq::Message::new()),
                total + filled.len() as u64,
            )
        };
        if let Some(link) = uplink {
            link.send_up(&[&topic[..], &header_frame[..], &payload[..]], counters)?;
        }
        let sent = xpub
            .send(topic, zmq::SNDMORE)
            .and_then(|()| xpub.send(header_frame, zmq::SNDMORE))
            .and_then(|()| xpub.send(payload, 0));
        match sent {
            Ok(()) => {
                counters.events_out += 1;
                counters.event_bytes_out += sent_bytes;
            }
            Err(e) => {
                counters.events_send_errors += 1;
                tracing::warn!(error = %e, "sending event on XPUB failed");
            }
        }
        Ok(Inbound::Handled)
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

/// Subscriptions from subscribers, applied by the broker itself (the XPUB
/// runs in manual mode): a prefix is applied to the connection that asked
/// only if it is not over-long, its identity's ACL allows it, and the broker
/// is under its cap of distinct prefixes; each prefix goes upstream to the
/// publishers while at least one connection holds it.
///
/// An unsubscribe without connection metadata comes from a closed
/// connection. canopy's libzmq remembers only the prefixes the broker
/// applied, so those always name an accepted prefix; nothing is kept about
/// refused ones but counters and a truncated sample in the (rate-limited)
/// log, so strangers cannot make the broker hold what it refused.
#[derive(Debug)]
pub struct Subscriptions {
    acls: Option<Arc<Acls>>,
    limits: SubscriptionLimits,
    /// Connections holding each prefix.
    accepted: HashMap<Vec<u8>, u32>,
    /// Prefixes the parent broker wants from this one (a child broker's
    /// local publishers must send them too).
    from_parent: std::collections::HashSet<Vec<u8>>,
    /// Subscriptions refused so far, for rate-limiting their log lines.
    refusals: u64,
}

/// Longest piece of a refused prefix written to the log.
const LOGGED_PREFIX_BYTES: usize = 64;

/// The start of `prefix` for a log line, marked when cut.
fn prefix_sample(prefix: &[u8]) -> String {
    let cut = &prefix[..prefix.len().min(LOGGED_PREFIX_BYTES)];
    let mut text = String::from_utf8_lossy(cut).into_owned();
    if prefix.len() > cut.len() {
        text.push_str(&format!("… ({} bytes)", prefix.len()));
    }
    text
}

/// Caps on what subscribers may make the broker hold.
#[derive(Debug, Clone, Copy)]
pub struct SubscriptionLimits {
    /// Distinct prefixes held at once, all connections together.
    pub max_total: usize,
    /// Longest prefix accepted, in bytes.
    pub max_length: usize,
}

/// Sets an int socket option that zmq 0.9 has no setter for.
fn set_int_option(
    socket: &mut zmq::Socket,
    option: u32,
    value: std::ffi::c_int,
) -> Result<(), zmq::Error> {
    // SAFETY: a live socket, and the option takes an int by pointer.
    let rc = unsafe {
        zmq_sys::zmq_setsockopt(
            socket.as_mut_ptr(),
            option as std::ffi::c_int,
            (&value as *const std::ffi::c_int).cast(),
            std::mem::size_of::<std::ffi::c_int>(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        // SAFETY: reads the calling thread's errno as libzmq set it.
        Err(zmq::Error::from_raw(unsafe { zmq_sys::zmq_errno() }))
    }
}

/// Turns on ZMQ_XPUB_MANUAL: the broker applies each subscription itself.
pub fn set_xpub_manual(socket: &mut zmq::Socket) -> Result<(), zmq::Error> {
    set_int_option(socket, zmq_sys::ZMQ_XPUB_MANUAL, 1)
}

/// Canopy's own XPUB option in the patched libzmq (third_party/): most
/// prefixes one connection may hold in manual mode.
const CANOPY_XPUB_PIPE_SUBSCRIPTIONS: u32 = 0x63616e;

/// Caps the prefixes one connection may hold. Fails with EINVAL on a libzmq
/// without canopy's patch (the system build).
pub fn set_subscriptions_per_connection(
    socket: &mut zmq::Socket,
    limit: u32,
) -> Result<(), zmq::Error> {
    let limit = std::ffi::c_int::try_from(limit).unwrap_or(std::ffi::c_int::MAX);
    set_int_option(socket, CANOPY_XPUB_PIPE_SUBSCRIPTIONS, limit)
}

/// Turns on ZMQ_XPUB_NODROP: a full pipe makes a send fail with EAGAIN
/// (counted by the caller) instead of dropping silently.
pub fn set_xpub_nodrop(socket: &mut zmq::Socket) -> Result<(), zmq::Error> {
    set_int_option(socket, zmq_sys::ZMQ_XPUB_NODROP, 1)
}

fn decrement(map: &mut HashMap<Vec<u8>, u32>, key: &[u8]) -> Option<u32> {
    let n = map.get_mut(key)?;
    *n -= 1;
    let left = *n;
    if left == 0 {
        map.remove(key);
    }
    Some(left)
}

/// Why a subscription was not applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    Acl,
    TooLong,
    TotalLimit,
    /// The connection holds max_subscriptions_per_connection prefixes
    /// (enforced by the patched libzmq, see third_party/README.md).
    ConnectionLimit,
}

impl Subscriptions {
    /// Subscriptions under `acls` (if any) and `limits`; the XPUB must be in
    /// manual mode.
    pub fn new(acls: Option<Arc<Acls>>, limits: SubscriptionLimits) -> Self {
        Subscriptions {
            acls,
            limits,
            accepted: HashMap::new(),
            from_parent: Default::default(),
            refusals: 0,
        }
    }

    fn verdict(&self, identity: Option<&str>, op: u8, prefix: &[u8]) -> Result<(), Refusal> {
        if prefix.len() > self.limits.max_length {
            return Err(Refusal::TooLong);
        }
        if let Some(acls) = &self.acls {
            if !acls.of(identity).may_subscribe(prefix) {
                return Err(Refusal::Acl);
            }
        }
        if op == 1
            && !self.accepted.contains_key(prefix)
            && self.accepted.len() >= self.limits.max_total
        {
            return Err(Refusal::TotalLimit);
        }
        Ok(())
    }

    fn apply(
        &mut self,
        mut msg: zmq::Message,
        xpub: &zmq::Socket,
        xsub: &zmq::Socket,
        uplink: Option<&zmq::Socket>,
        counters: &mut Counters,
    ) -> Result<(), zmq::Error> {
        // Messages from a live connection carry its metadata; the
        // unsubscriptions libzmq makes for a closed one carry none.
        let live = msg.gets("Peer-Address").is_some() || msg.gets("User-Id").is_some();
        let identity = msg.gets("User-Id").map(str::to_owned);
        let (op, prefix) = (msg[0], msg[1..].to_vec());
        // Up to the parent broker when there is one, and to the publishers
        // unless the parent already made them send it.
        let mut forwarded = 0;
        let parent_has = self.from_parent.contains(&prefix);
        let mut upstream = |on: bool| {
            let frame = subscription_frame(on, &prefix);
            if let Some(link) = uplink {
                link.send(&frame[..], 0)?;
                forwarded += 1;
            }
            if parent_has {
                return Ok(());
            }
            xsub.send(frame, 0)
        };
        if !live {
            counters.unsubscribes += 1;
            if decrement(&mut self.accepted, &prefix) == Some(0) {
                upstream(false)?;
            }
        } else {
            let verdict = match self.verdict(identity.as_deref(), op, &prefix) {
                Ok(()) if op == 1 => match xpub.set_subscribe(&prefix) {
                    Ok(()) => Ok(()),
                    Err(zmq::Error::ENOBUFS) => Err(Refusal::ConnectionLimit),
                    Err(e) => return Err(e),
                },
                other => other,
            };
            match (op, verdict) {
                (1, Ok(())) => {
                    counters.subscribes += 1;
                    let n = self.accepted.entry(prefix.clone()).or_insert(0);
                    *n += 1;
                    if *n == 1 {
                        upstream(true)?;
                    }
                }
                (1, Err(why)) => {
                    match why {
                        Refusal::Acl => counters.acl_subscribe_denied += 1,
                        Refusal::TooLong | Refusal::TotalLimit => {
                            counters.subscriptions_rejected += 1
                        }
                        Refusal::ConnectionLimit => {
                            counters.subscriptions_rejected += 1;
                            counters.subscription_connection_limit_hits += 1;
                        }
                    }
                    self.refusals += 1;
                    // Logged at the 1st, 2nd, 4th, 8th… refusal (ACL denials
                    // counted on their own, so none hides them), with a
                    // truncated sample of the prefix.
                    let acl_nth = (why == Refusal::Acl)
                        .then_some(counters.acl_subscribe_denied)
                        .filter(|n| n.is_power_of_two());
                    if acl_nth.is_some() || self.refusals.is_power_of_two() {
                        tracing::warn!(
                            identity = identity.as_deref().unwrap_or("-"),
                            prefix = %prefix_sample(&prefix),
                            ?why,
                            refused = self.refusals,
                            "subscription refused"
                        );
                    }
                }
                (_, verdict) => {
                    counters.unsubscribes += 1;
                    let applied = match verdict {
                        // Refused by ACL or length: never applied.
                        Err(_) => false,
                        Ok(()) => match xpub.set_unsubscribe(&prefix) {
                            Ok(()) => true,
                            // The patched libzmq: this connection never held it.
                            Err(zmq::Error::EINVAL) => false,
                            Err(e) => return Err(e),
                        },
                    };
                    if applied && decrement(&mut self.accepted, &prefix) == Some(0) {
                        upstream(false)?;
                    }
                }
            }
        }
        counters.subscriptions_active = self.accepted.len() as u64;
        counters.link_subscriptions_forwarded += forwarded;
        Ok(())
    }

    /// A subscription change from the parent broker (what it wants from this
    /// child): local publishers must send it whether or not anyone here
    /// subscribes.
    pub fn from_parent(
        &mut self,
        on: bool,
        prefix: &[u8],
        xsub: &zmq::Socket,
    ) -> Result<(), zmq::Error> {
        let changed = if on {
            self.from_parent.insert(prefix.to_vec())
        } else {
            self.from_parent.remove(prefix)
        };
        if changed && !self.accepted.contains_key(prefix) {
            xsub.send(subscription_frame(on, prefix), 0)?;
        }
        Ok(())
    }

    /// Handles one message from the XPUB. Returns false when nothing was waiting.
    /// A child broker also sends subscription changes to its parent
    /// (`uplink`, the XSUB on the parent's XPUB).
    pub fn forward_one(
        &mut self,
        xpub: &zmq::Socket,
        xsub: &zmq::Socket,
        uplink: Option<&zmq::Socket>,
        counters: &mut Counters,
    ) -> Result<bool, zmq::Error> {
        let msg = match xpub.recv_msg(zmq::DONTWAIT) {
            Ok(m) => m,
            Err(zmq::Error::EAGAIN) => return Ok(false),
            Err(e) => return Err(e),
        };
        if msg.get_more() {
            // Subscribers cannot send multipart messages; drain and refuse.
            while xpub.get_rcvmore()? {
                xpub.recv_msg(0)?;
            }
            counters.subscriptions_rejected += 1;
            return Ok(true);
        }
        if msg.is_empty() || msg[0] > 1 {
            counters.subscriptions_rejected += 1;
            return Ok(true);
        }
        self.apply(msg, xpub, xsub, uplink, counters)?;
        Ok(true)
    }
}

/// A subscribe (`on`) or unsubscribe message for `prefix`.
fn subscription_frame(on: bool, prefix: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(prefix.len() + 1);
    frame.push(on as u8);
    frame.extend_from_slice(prefix);
    frame
}

/// Sends a CHP heartbeat on the XPUB: `[HUGZ, seq 0, uuid, properties, body]`.
pub fn send_hugz(xpub: &zmq::Socket) -> Result<(), zmq::Error> {
    xpub.send(canopy_schemas::HUGZ, zmq::SNDMORE)?;
    xpub.send(&0u64.to_be_bytes()[..], zmq::SNDMORE)?;
    xpub.send(&b""[..], zmq::SNDMORE)?;
    xpub.send(&b""[..], zmq::SNDMORE)?;
    xpub.send(&b""[..], 0)
}
