//! Tracks the TCP connections on the broker's three sockets from libzmq's
//! socket monitor events, so the ZAP handler can refuse connections beyond
//! `max_connections` without letting strangers who never finish a handshake
//! take the places of authenticated clients.
//!
//! A connection is *handshaking* from ACCEPTED until HANDSHAKE_SUCCEEDED
//! (canopy's libzmq puts the descriptor in that event, see
//! third_party/README.md) and *established* after it, until DISCONNECTED.
//! Only established connections count against `max_connections` (checked
//! when ZAP is asked about a new one); the handshaking ones are bounded in
//! time by the handshake deadline (`handshake_timeout_ms`) and counted
//! apart, so strangers who never finish a handshake cannot lock clients
//! out. Handshakes that ZAP approves at the same moment may together go
//! past the cap by their number: ZAP requests carry no descriptor to
//! match them to, and libzmq cannot close an accepted connection later.
//!
//! The monitors are drained when a ZAP request arrives and once per
//! heartbeat, never on the event hot path.

use crate::metrics::Counters;
use std::collections::HashSet;

const ACCEPTED: u16 = zmq::SocketEvent::ACCEPTED as u16;
const HANDSHAKE_SUCCEEDED: u16 = zmq::SocketEvent::HANDSHAKE_SUCCEEDED as u16;
const DISCONNECTED: u16 = zmq::SocketEvent::DISCONNECTED as u16;

/// One bound socket's monitor and its connections, by descriptor. Kept per
/// socket: a descriptor closed on one socket can be reused by another before
/// both monitors are drained, but events of one socket arrive in order.
struct Watched {
    /// The socket's name (`router`, `xpub`, `xsub`).
    name: String,
    monitor: zmq::Socket,
    handshaking: HashSet<u32>,
    established: HashSet<u32>,
}

/// Monitor sockets of the bound sockets and what they report.
pub struct Connections {
    watched: Vec<Watched>,
}

/// What the connections look like right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionCount {
    /// Connections that completed their handshake.
    pub established: u64,
    /// Connections still in their handshake.
    pub handshaking: u64,
}

/// One socket's connections, for monitoring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketConnections {
    /// The socket (`router`, `xpub`, `xsub`).
    pub socket: String,
    /// Its connections past their handshake.
    pub established: u64,
    /// Its connections still in their handshake.
    pub handshaking: u64,
}

/// Decodes a monitor event's first frame: event number and value.
fn decode(frame: &[u8]) -> Option<(u16, u32)> {
    let event = u16::from_le_bytes([*frame.first()?, *frame.get(1)?]);
    let value = u32::from_le_bytes(frame.get(2..6)?.try_into().ok()?);
    Some((event, value))
}

impl Connections {
    /// Starts a monitor on each of `sockets`; `names` give the inproc
    /// endpoints distinct names within the context.
    pub fn watch(
        context: &zmq::Context,
        sockets: &[(&zmq::Socket, &str)],
    ) -> Result<Connections, zmq::Error> {
        let mut watched = Vec::with_capacity(sockets.len());
        for (socket, name) in sockets {
            let monitor = crate::sockopt::monitor(
                context,
                socket,
                &format!("inproc://canopy-connections-{name}"),
                zmq::SocketEvent::ACCEPTED as i32
                    | zmq::SocketEvent::HANDSHAKE_SUCCEEDED as i32
                    | zmq::SocketEvent::DISCONNECTED as i32,
            )?;
            watched.push(Watched {
                name: (*name).to_owned(),
                monitor,
                handshaking: HashSet::new(),
                established: HashSet::new(),
            });
        }
        Ok(Connections { watched })
    }

    /// Each socket's connections as of the last refresh.
    pub fn per_socket(&self) -> Vec<SocketConnections> {
        self.watched
            .iter()
            .map(|w| SocketConnections {
                socket: w.name.clone(),
                established: w.established.len() as u64,
                handshaking: w.handshaking.len() as u64,
            })
            .collect()
    }

    /// Applies every queued event and returns the counts now.
    pub fn refresh(&mut self, c: &mut Counters) -> ConnectionCount {
        for w in &mut self.watched {
            while let Ok(frames) = w.monitor.recv_multipart(zmq::DONTWAIT) {
                let Some((event, fd)) = frames.first().and_then(|f| decode(f)) else {
                    continue;
                };
                match event {
                    ACCEPTED => {
                        c.connections_accepted += 1;
                        w.handshaking.insert(fd);
                    }
                    HANDSHAKE_SUCCEEDED if w.handshaking.remove(&fd) => {
                        w.established.insert(fd);
                    }
                    DISCONNECTED => {
                        c.connections_closed += 1;
                        if !w.established.remove(&fd) && !w.handshaking.remove(&fd) {
                            tracing::debug!(fd, "disconnect of a connection never seen");
                        }
                    }
                    _ => {}
                }
            }
        }
        let handshaking: usize = self.watched.iter().map(|w| w.handshaking.len()).sum();
        let established: usize = self.watched.iter().map(|w| w.established.len()).sum();
        let count = ConnectionCount {
            established: established as u64,
            handshaking: handshaking as u64,
        };
        c.connections_open = count.established;
        c.connections_handshaking = count.handshaking;
        count
    }
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn decodes_event_and_descriptor() {
        let mut frame = 0x1000u16.to_le_bytes().to_vec();
        frame.extend(17u32.to_le_bytes());
        assert_eq!(decode(&frame), Some((0x1000, 17)));
        assert_eq!(decode(&frame[..4]), None);
    }
}
