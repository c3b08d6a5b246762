//! The client's typed errors.

use canopy_schemas::ErrorCode;

/// Everything a client call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The broker endpoint is not `tcp://HOST:PORT`.
    #[error("invalid broker endpoint {0:?}: expected tcp://HOST:PORT (the base port P)")]
    Endpoint(String),
    /// A name, group path or topic is invalid.
    #[error(transparent)]
    Topic(#[from] canopy_schemas::TopicError),
    /// The broker refused a request.
    #[error("broker refused ({code}): {message}")]
    Refused {
        /// Machine-readable code.
        code: ErrorCode,
        /// The broker's sentence.
        message: String,
    },
    /// The broker speaks another protocol version.
    #[error("protocol version mismatch: {0}")]
    VersionMismatch(String),
    /// The broker cannot be reached: its host name does not resolve, nothing
    /// listens on its port, or there is no route to it.
    #[error("cannot reach the broker at {endpoint}: {reason}")]
    Unreachable {
        /// The broker endpoint.
        endpoint: String,
        /// Why, in a sentence.
        reason: String,
    },
    /// No answer within the deadline, although something listens there.
    #[error("no answer from the broker at {endpoint} within {waited_ms} ms (is it running?)")]
    Timeout {
        /// The broker endpoint.
        endpoint: String,
        /// How long we waited.
        waited_ms: u64,
    },
    /// The node was closed, or its I/O thread stopped.
    #[error("node is closed")]
    Closed,
    /// Subscribing would exceed the broker's per-node limit.
    #[error("subscription limit reached: the broker allows {0} subscriptions per node")]
    SubscriptionLimit(u32),
    /// The event stream was already taken.
    #[error("the event stream was already taken")]
    EventsTaken,
    /// A payload could not be encoded or decoded as MessagePack.
    #[error("payload: {0}")]
    Payload(String),
    /// The event or request exceeds a size limit.
    #[error("{what} of {size} bytes exceeds the limit of {limit}")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// Its size.
        size: usize,
        /// The limit.
        limit: u64,
    },
    /// The request could not be queued: the broker is unreachable or too
    /// many requests are in flight. Nothing was sent; retry later.
    #[error("request not sent: the broker is unreachable or too many requests are in flight")]
    NotSent,
    /// CURVE keys are missing or malformed.
    #[error("CURVE keys: {0}")]
    Curve(String),
    /// The broker's CURVE handshake refused this client (key not allowed,
    /// or the broker runs without CURVE while keys were given, or the reverse).
    #[error("the broker at {0} refused the CURVE handshake: is this client's public key in its allow-list?")]
    AuthRefused(String),
    /// The broker refused the connection for now: it has `max_connections`
    /// open. libzmq keeps retrying in the background.
    #[error("the broker at {0} refused the connection: max_connections reached, retry later")]
    BrokerFull(String),
    /// A ZeroMQ call failed.
    #[error("zmq: {0}")]
    Zmq(#[from] zmq::Error),
    /// The broker's reply could not be understood.
    #[error("unexpected reply from broker: {0}")]
    Protocol(String),
}
