//! Replies on the ROUTER that never block the loop and are never lost to a
//! peer that is merely slow: what its queue cannot take now waits here, per
//! peer and in order, and goes out as the peer drains.

use crate::metrics::Counters;
use canopy_schemas::Reply;
use std::collections::{HashMap, VecDeque};

/// Replies held for one peer before it counts as not reading at all.
const MAX_HELD_PER_PEER: usize = 200_000;
/// Bytes held for one peer beyond its first held reply (a backup may be
/// larger on its own); more replies to it are dropped and counted.
const MAX_HELD_BYTES_PER_PEER: usize = 64 * 1024 * 1024;

/// The replies waiting for one peer, in order, and their size.
#[derive(Debug, Default)]
struct Held {
    queue: VecDeque<[Vec<u8>; 2]>,
    bytes: usize,
}

/// Pending replies by peer routing id.
#[derive(Debug, Default)]
pub struct Outbox {
    held: HashMap<Vec<u8>, Held>,
    /// True when the last flush could send nothing: every peer with held
    /// replies is still full, so the loop need not retry at once.
    stalled: bool,
}

fn size(frames: &[Vec<u8>; 2]) -> usize {
    frames[0].len() + frames[1].len()
}

fn dropped(c: &mut Counters, n: u64) {
    c.replies_dropped += n;
    if c.replies_dropped.is_power_of_two() {
        tracing::warn!(
            dropped = c.replies_dropped,
            "replies dropped: peer gone, or holding too many of its replies"
        );
    }
}

enum Sent {
    Ok,
    Full,
    Gone,
}

fn try_send(
    router: &zmq::Socket,
    identity: &[u8],
    frames: &[Vec<u8>; 2],
) -> Result<Sent, zmq::Error> {
    match router.send(identity, zmq::SNDMORE | zmq::DONTWAIT) {
        Ok(()) => {}
        Err(zmq::Error::EAGAIN) => return Ok(Sent::Full),
        Err(zmq::Error::EHOSTUNREACH) => return Ok(Sent::Gone),
        Err(e) => return Err(e),
    }
    router.send(&frames[0][..], zmq::SNDMORE)?;
    router.send(&frames[1][..], 0)?;
    Ok(Sent::Ok)
}

impl Outbox {
    /// True while replies wait for slow peers.
    pub fn busy(&self) -> bool {
        !self.held.is_empty()
    }

    /// True when replies wait but the last flush could send none of them
    /// (the loop may then wait a little instead of retrying at once).
    pub fn stalled(&self) -> bool {
        self.stalled && self.busy()
    }

    /// Replies held for `identity` (sent by the broker, not yet taken by
    /// the peer's connection).
    pub fn held_for(&self, identity: &[u8]) -> usize {
        self.held.get(identity).map_or(0, |h| h.queue.len())
    }

    /// Sends `reply` to `identity` now, or holds it behind that peer's
    /// earlier replies.
    pub fn send(
        &mut self,
        router: &zmq::Socket,
        identity: &[u8],
        reply: &Reply,
        c: &mut Counters,
    ) -> Result<(), zmq::Error> {
        if matches!(reply, Reply::Error(_)) {
            c.control_errors += 1;
        }
        let frames = match reply.encode() {
            Ok(f) => f,
            Err(e) => {
                tracing::error!(error = %e, "encoding a reply failed");
                return Ok(());
            }
        };
        if let Some(held) = self.held.get_mut(identity) {
            if held.queue.len() >= MAX_HELD_PER_PEER
                || held.bytes.saturating_add(size(&frames)) > MAX_HELD_BYTES_PER_PEER
            {
                dropped(c, 1);
            } else {
                held.bytes += size(&frames);
                held.queue.push_back(frames);
            }
            return Ok(());
        }
        match try_send(router, identity, &frames)? {
            Sent::Ok => {}
            Sent::Full => {
                let held = self.held.entry(identity.to_vec()).or_default();
                held.bytes += size(&frames);
                held.queue.push_back(frames);
            }
            Sent::Gone => dropped(c, 1),
        }
        Ok(())
    }

    /// Sends what the peers can take now.
    pub fn flush(&mut self, router: &zmq::Socket, c: &mut Counters) -> Result<(), zmq::Error> {
        let mut done = Vec::new();
        let mut progress = false;
        for (identity, held) in self.held.iter_mut() {
            while let Some(frames) = held.queue.front() {
                match try_send(router, identity, frames)? {
                    Sent::Ok => {
                        progress = true;
                        held.bytes = held.bytes.saturating_sub(size(frames));
                        held.queue.pop_front();
                    }
                    Sent::Full => break,
                    Sent::Gone => {
                        progress = true;
                        dropped(c, held.queue.len() as u64);
                        held.queue.clear();
                        held.bytes = 0;
                    }
                }
            }
            if held.queue.is_empty() {
                done.push(identity.clone());
            }
        }
        for identity in done {
            self.held.remove(&identity);
        }
        self.stalled = !progress;
        Ok(())
    }
}
