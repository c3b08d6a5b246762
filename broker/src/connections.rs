//! Counts the TCP connections open on the broker's three sockets, from
//! libzmq's socket monitor events (accepted / disconnected), so the ZAP
//! handler can refuse connections beyond `max_connections`.
//!
//! The monitors are drained when a ZAP request arrives (the accept event of
//! that connection was queued before its handshake began) and once per
//! heartbeat, never on the event hot path.

use crate::metrics::Counters;

const ACCEPTED: u16 = zmq::SocketEvent::ACCEPTED as u16;
const DISCONNECTED: u16 = zmq::SocketEvent::DISCONNECTED as u16;

/// Monitor sockets of the bound sockets and the running count.
pub struct Connections {
    monitors: Vec<zmq::Socket>,
    open: u64,
}

impl Connections {
    /// Starts a monitor on each of `sockets`; `names` give the inproc
    /// endpoints distinct names within the context.
    pub fn watch(
        context: &zmq::Context,
        sockets: &[(&zmq::Socket, &str)],
    ) -> Result<Connections, zmq::Error> {
        let mut monitors = Vec::with_capacity(sockets.len());
        for (socket, name) in sockets {
            let endpoint = format!("inproc://canopy-connections-{name}");
            socket.monitor(
                &endpoint,
                zmq::SocketEvent::ACCEPTED as i32 | zmq::SocketEvent::DISCONNECTED as i32,
            )?;
            let monitor = context.socket(zmq::PAIR)?;
            monitor.set_linger(0)?;
            // Unbounded on our side: an event dropped would skew the count.
            monitor.set_rcvhwm(0)?;
            monitor.connect(&endpoint)?;
            monitors.push(monitor);
        }
        Ok(Connections { monitors, open: 0 })
    }

    /// Applies every queued event and returns the connections open now.
    pub fn refresh(&mut self, c: &mut Counters) -> u64 {
        for monitor in &self.monitors {
            while let Ok(frames) = monitor.recv_multipart(zmq::DONTWAIT) {
                let event = frames
                    .first()
                    .filter(|f| f.len() >= 2)
                    .map(|f| u16::from_le_bytes([f[0], f[1]]));
                match event {
                    Some(ACCEPTED) => {
                        c.connections_accepted += 1;
                        self.open += 1;
                    }
                    Some(DISCONNECTED) => {
                        c.connections_closed += 1;
                        self.open = self.open.saturating_sub(1);
                    }
                    _ => {}
                }
            }
        }
        c.connections_open = self.open;
        self.open
    }
}
