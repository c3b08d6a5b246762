//! The client's typed errors.

use canopy_schemas::ErrorCode;
use std::fmt;

/// Everything a client call can fail with. New variants may come in minor
/// releases: match on [`ClientError::kind`] when only the broad class matters.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The broker endpoint is not `tcp://HOST:PORT`.
    #[error("invalid broker endpoint {0:?}: expected tcp://HOST:PORT (the base port P)")]
    Endpoint(String),
    /// A name, group path or topic is invalid.
    #[error(transparent)]
    Topic(#[from] canopy_schemas::TopicError),
    /// An argument is out of range or malformed (a store name, a key, a size).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
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
    /// The transport (ZeroMQ or the operating system) failed.
    #[error("transport: {0}")]
    Transport(TransportError),
    /// The broker's reply could not be understood.
    #[error("unexpected reply from broker: {0}")]
    Protocol(String),
}

/// The broad class of a [`ClientError`]: what a caller decides on (retry,
/// give up, fix the input). The CLI's exit codes and the C ABI's status
/// codes follow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The caller's input is wrong: fix it, do not retry.
    InvalidArgument,
    /// The broker cannot be reached or did not answer in time: retry later.
    Unreachable,
    /// The broker refused: access control, a limit, or a full broker.
    Refused,
    /// The broker refused this client's credentials.
    Auth,
    /// A write's precondition failed: compare-and-set, put-if-absent, a
    /// schema, a type, a store limit.
    Conflict,
    /// The node or the handle is closed.
    Closed,
    /// A value could not be encoded or decoded, or is too large.
    Payload,
    /// The broker speaks another protocol version.
    Version,
    /// The broker answered something unexpected, or the transport failed.
    Internal,
}

impl ClientError {
    /// The broad class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ClientError::Endpoint(_)
            | ClientError::Topic(_)
            | ClientError::InvalidArgument(_)
            | ClientError::Curve(_) => ErrorKind::InvalidArgument,
            ClientError::Unreachable { .. }
            | ClientError::Timeout { .. }
            | ClientError::NotSent => ErrorKind::Unreachable,
            ClientError::Refused { code, .. } => match code {
                ErrorCode::SchemaViolation
                | ErrorCode::LimitReached
                | ErrorCode::CasFailed
                | ErrorCode::Exists
                | ErrorCode::TypeMismatch => ErrorKind::Conflict,
                ErrorCode::VersionMismatch => ErrorKind::Version,
                ErrorCode::Unavailable => ErrorKind::Unreachable,
                ErrorCode::InvalidName | ErrorCode::InvalidKey => ErrorKind::InvalidArgument,
                _ => ErrorKind::Refused,
            },
            ClientError::SubscriptionLimit(_) | ClientError::BrokerFull(_) => ErrorKind::Refused,
            ClientError::AuthRefused(_) => ErrorKind::Auth,
            ClientError::VersionMismatch(_) => ErrorKind::Version,
            ClientError::Closed | ClientError::EventsTaken => ErrorKind::Closed,
            ClientError::Payload(_) | ClientError::TooLarge { .. } => ErrorKind::Payload,
            ClientError::Transport(_) | ClientError::Protocol(_) => ErrorKind::Internal,
        }
    }
}

/// A transport failure, described; the ZeroMQ error behind it stays an
/// implementation detail.
#[derive(Debug, Clone)]
pub struct TransportError {
    message: String,
    errno: Option<i32>,
}

impl TransportError {
    /// The operating system or ZeroMQ error number, when there is one.
    pub fn errno(&self) -> Option<i32> {
        self.errno
    }

    pub(crate) fn other(message: impl Into<String>) -> Self {
        TransportError {
            message: message.into(),
            errno: None,
        }
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TransportError {}

/// Turns a ZeroMQ result into a client result (no public `From`, so that
/// `zmq::Error` stays out of the API).
pub(crate) trait ZmqResult<T> {
    fn z(self) -> Result<T, ClientError>;
}

impl<T> ZmqResult<T> for Result<T, zmq::Error> {
    fn z(self) -> Result<T, ClientError> {
        self.map_err(|e| {
            ClientError::Transport(TransportError {
                message: e.to_string(),
                errno: Some(e.to_raw()),
            })
        })
    }
}
