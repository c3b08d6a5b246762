//! Replies on the ROUTER that never block the loop and are never lost to a
//! peer that is merely slow: what its queue cannot take now waits here, per
//! peer and in order, and goes out as the peer drains.

use crate::metrics::Counters;
use canopy_schemas::Reply;
use std::collections::{HashMap, VecDeque};

/// Replies held for one peer before it counts as not reading at all.
const MAX_HELD_PER_PEER: usize = 200_000;

/// Pending replies by peer routing id.
#[derive(Debug, Default)]
pub struct Outbox {
    held: HashMap<Vec<u8>, VecDeque<[Vec<u8>; 2]>>,
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

    /// Replies held for `identity` (sent by the broker, not yet taken by
    /// the peer's connection).
    pub fn held_for(&self, identity: &[u8]) -> usize {
        self.held.get(identity).map_or(0, VecDeque::len)
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
        if let Some(queue) = self.held.get_mut(identity) {
            if queue.len() >= MAX_HELD_PER_PEER {
                c.replies_dropped += 1;
            } else {
                queue.push_back(frames);
            }
            return Ok(());
        }
        match try_send(router, identity, &frames)? {
            Sent::Ok => {}
            Sent::Full => {
                self.held
                    .entry(identity.to_vec())
                    .or_default()
                    .push_back(frames);
            }
            Sent::Gone => c.replies_dropped += 1,
        }
        Ok(())
    }

    /// Sends what the peers can take now.
    pub fn flush(&mut self, router: &zmq::Socket, c: &mut Counters) -> Result<(), zmq::Error> {
        let mut done = Vec::new();
        for (identity, queue) in self.held.iter_mut() {
            while let Some(frames) = queue.front() {
                match try_send(router, identity, frames)? {
                    Sent::Ok => {
                        queue.pop_front();
                    }
                    Sent::Full => break,
                    Sent::Gone => {
                        c.replies_dropped += queue.len() as u64;
                        queue.clear();
                    }
                }
            }
            if queue.is_empty() {
                done.push(identity.clone());
            }
        }
        for identity in done {
            self.held.remove(&identity);
        }
        Ok(())
    }
}
