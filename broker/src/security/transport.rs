//! Limits at the transport, set on every socket the broker binds or
//! connects (the link to a parent included): the largest frame a peer may
//! send before libzmq drops the connection (nothing is buffered beyond
//! it), and how long a peer may take to finish its handshake.

/// Room for the ZMTP 3.1 SUBSCRIBE / CANCEL command name and the
/// subscribe byte in front of a prefix.
const SUBSCRIPTION_OVERHEAD: usize = 64;

/// What a socket receives from its peers, which decides its frame cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inbound {
    /// Control requests (the ROUTER).
    Control,
    /// Subscriptions only (the XPUB, and a child's link XPUB).
    Subscriptions,
    /// Events and state frames (the XSUB, and a child's link XSUB and
    /// DEALER, which carry the parent's events, KVPUBs and KVSYNCs).
    Data,
}

/// The transport caps derived from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransportLimits {
    control_frame: i64,
    subscription_frame: i64,
    data_frame: i64,
    handshake_ms: i32,
}

fn doubled(n: u64) -> i64 {
    i64::try_from(n.saturating_mul(2)).unwrap_or(i64::MAX)
}

impl TransportLimits {
    /// Caps from the application limits: twice each limit (the broker
    /// refuses, counts and reports what lies between; only absurd frames
    /// cut the connection): control size for requests, topic length plus
    /// command overhead for subscriptions, message (or control) size for
    /// data.
    pub fn new(
        max_control_size: usize,
        max_topic_length: usize,
        max_message_size: u64,
        handshake_timeout_ms: u64,
    ) -> Self {
        let control = max_control_size as u64;
        TransportLimits {
            control_frame: doubled(control),
            subscription_frame: i64::try_from(
                max_topic_length
                    .saturating_mul(2)
                    .saturating_add(SUBSCRIPTION_OVERHEAD),
            )
            .unwrap_or(i64::MAX),
            data_frame: doubled(max_message_size.max(control)),
            handshake_ms: i32::try_from(handshake_timeout_ms).unwrap_or(i32::MAX),
        }
    }

    /// The frame cap for a socket receiving `inbound`.
    pub fn frame_cap(&self, inbound: Inbound) -> i64 {
        match inbound {
            Inbound::Control => self.control_frame,
            Inbound::Subscriptions => self.subscription_frame,
            Inbound::Data => self.data_frame,
        }
    }

    /// Sets the frame cap and the handshake deadline on `socket`; call
    /// before it binds or connects.
    pub fn apply(&self, socket: &zmq::Socket, inbound: Inbound) -> Result<(), zmq::Error> {
        socket.set_maxmsgsize(self.frame_cap(inbound))?;
        socket.set_handshake_ivl(self.handshake_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_follow_the_limits() {
        let t = TransportLimits::new(3000, 100, 1000, 250);
        assert_eq!(t.frame_cap(Inbound::Subscriptions), 264);
        assert_eq!(t.frame_cap(Inbound::Control), 6000);
        assert_eq!(t.frame_cap(Inbound::Data), 6000);
        assert_eq!(t.handshake_ms, 250);
        let t = TransportLimits::new(1, 1, u64::MAX, u64::MAX);
        assert_eq!(t.frame_cap(Inbound::Data), i64::MAX);
        assert_eq!(t.handshake_ms, i32::MAX);
    }
}
