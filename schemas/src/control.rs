//! Control commands on the ROUTER socket (port P).
//!
//! A request from a DEALER is two frames, `[NAME, BODY]`: an ASCII command name
//! and a MessagePack map. The reply is `[NAME, BODY]` too. Every body carries an
//! `id` chosen by the client and echoed in the reply, so requests can be
//! pipelined. See `PROTOCOL.md` for each field.

use crate::state::{
    LseqsReply, SeqsQuery, SeqsReply, SnapshotQuery, StoresReply, Write, WriteBatch, WriteResults,
    Written,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A request a node sends on the ROUTER.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Request {
    /// Join as a node.
    Hello(Hello),
    /// Heartbeat from a node; also reports what the node counted.
    Ping(Ping),
    /// Ask for the broker's counters.
    Stats(Empty),
    /// Ask for the nodes present, optionally within a group subtree.
    Nodes(NodesQuery),
    /// Leave now instead of timing out.
    Bye(Empty),
    /// An acknowledged state write.
    Write(Write),
    /// Many writes in one request (feature `write-batch`), each applied and
    /// acknowledged on its own, answered together.
    Writes(WriteBatch),
    /// Current per-level update numbers, for replicas checking they are whole.
    Seqs(SeqsQuery),
    /// The stores and their sizes.
    Stores(Empty),
    /// A snapshot with canopy's KTHXBAI properties.
    Snapshot(SnapshotQuery),
    /// A consistent copy of every persistent store (admin).
    Backup(Empty),
}

/// A reply the broker sends on the ROUTER.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Reply {
    /// Hello accepted.
    Welcome(Welcome),
    /// Heartbeat answered.
    Pong(Pong),
    /// Counters.
    Stats(StatsReply),
    /// Nodes present.
    Nodes(NodesReply),
    /// The request failed.
    Error(ErrorReply),
    /// A write was applied (and, for persistent stores, is durable).
    Written(Written),
    /// The outcome of each write of a WRITES, in order.
    Wrote(WriteResults),
    /// Per-level update numbers.
    Seqs(SeqsReply),
    /// The stores.
    Stores(StoresReply),
    /// Every level's update number under a snapshot's subtree, sent when
    /// SNAPSHOT asked for them (a child broker's mirror).
    Lseqs(LseqsReply),
    /// A backup, as the file `canopy backup` writes.
    Backup(BackupReply),
    /// Unsolicited (version 2, feature `goodbye`): the broker is stopping;
    /// reconnect (to it when it is back, or to another).
    Goodbye(Goodbye),
}

/// GOODBYE body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Goodbye {
    /// Always 0: it answers no request.
    pub id: u64,
    /// The epoch of the run that is ending.
    pub epoch: u64,
}

/// BACKUP reply body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupReply {
    /// Request id.
    pub id: u64,
    /// Every persistent change up to this sequence is in the backup.
    pub seq: u64,
    /// Keys in the backup.
    pub keys: u64,
    /// The backup file's bytes ([`crate::backup::Backup`], MessagePack).
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
}

/// Body with only the request id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Empty {
    /// Client-chosen request id, echoed in the reply.
    pub id: u64,
}

/// HELLO body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// Request id.
    pub id: u64,
    /// The oldest protocol version the client speaks (a version-1 client's
    /// only one): a version-1 broker accepts the HELLO when it is 1.
    pub protocol: u32,
    /// The newest version the client speaks (version 2 on; absent: the
    /// same as `protocol`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol_max: Option<u32>,
    /// Node name, unique within its group.
    pub name: String,
    /// Group path, `""` for the root.
    pub group: String,
    /// Free-form client software version, shown in `nodes`.
    pub client_version: String,
}

/// WELCOME body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    /// Request id of the HELLO.
    pub id: u64,
    /// The protocol version chosen: the newest both sides speak.
    pub protocol: u32,
    /// The newest version the broker speaks (version 2 on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol_max: Option<u32>,
    /// What the chosen version offers ([`crate::protocol_features`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<String>,
    /// Stable id of this broker (kept in its data directory).
    pub broker_id: String,
    /// Changes every time the broker starts; a new epoch means a restart.
    pub epoch: u64,
    /// How often the node should PING.
    pub heartbeat_ms: u64,
    /// Silence after which the broker considers the node gone.
    pub node_timeout_ms: u64,
    /// Subscriptions a node may hold.
    pub max_subscriptions: u32,
    /// Largest event (all frames) the broker accepts, in bytes.
    pub max_message_size: u64,
}

/// PING body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Ping {
    /// Request id.
    pub id: u64,
    /// Events the node found missing (sequence gaps) or dropped locally since
    /// the node process started: a running total, not a delta.
    pub dropped: u64,
    /// Subscriptions the node currently holds.
    pub subscriptions: u32,
    /// Sent by a child broker: its link's counters, shown by the parent in
    /// NODES.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<LinkReport>,
}

/// A child broker's view of its link to the parent (PING `link`, NODES).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct LinkReport {
    /// Events sent up to the parent.
    pub events_up: u64,
    /// Bytes of events sent up.
    pub bytes_up: u64,
    /// Events received from the parent.
    pub events_down: u64,
    /// Bytes of events received from the parent.
    pub bytes_down: u64,
    /// Echoes of events sent up, dropped when they came back.
    pub echoes_dropped: u64,
    /// Subscription changes sent up.
    pub subscriptions_forwarded: u64,
    /// WRITEs relayed up.
    pub writes_relayed: u64,
    /// Times the mirror was rebuilt.
    pub resyncs: u64,
    /// The parent's sequence minus the mirror's.
    pub state_lag: u64,
}

/// PONG body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pong {
    /// Request id of the PING.
    pub id: u64,
    /// The broker's current epoch.
    pub epoch: u64,
    /// The broker's current state sequence (the master's numbering; absent
    /// from older brokers).
    #[serde(default)]
    pub seq: u64,
}

/// NODES body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct NodesQuery {
    /// Request id.
    pub id: u64,
    /// Only nodes in this group or below; absent or `""` for all.
    pub group: Option<String>,
}

/// One node as the broker sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// Full path, `group/name`.
    pub path: String,
    /// Group path.
    pub group: String,
    /// Node name.
    pub name: String,
    /// Software version the node reported.
    pub client_version: String,
    /// Milliseconds since the broker last heard from the node.
    pub last_seen_ms_ago: u64,
    /// Milliseconds since the node said hello.
    pub connected_ms: u64,
    /// Events the node reported missing.
    pub dropped: u64,
    /// Subscriptions the node reported.
    pub subscriptions: u32,
    /// For a child broker: its link's counters as of its last PING.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<LinkReport>,
}

/// NODES reply body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodesReply {
    /// Request id.
    pub id: u64,
    /// Nodes present, sorted by path.
    pub nodes: Vec<NodeInfo>,
}

/// The broker's counters: every message in, out, dropped or rejected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct StatsReport {
    /// Broker id.
    pub broker_id: String,
    /// Current epoch.
    pub epoch: u64,
    /// Seconds since start.
    pub uptime_s: u64,
    /// Nodes present now.
    pub nodes: u64,
    /// Named counters (see PROTOCOL.md for the list).
    pub counters: BTreeMap<String, u64>,
}

/// STATS reply body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsReply {
    /// Request id.
    pub id: u64,
    /// The report.
    #[serde(flatten)]
    pub report: StatsReport,
}

/// Machine-readable error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// HELLO carried a protocol version the broker does not speak.
    VersionMismatch,
    /// The request frames or body could not be decoded.
    Malformed,
    /// The command name is unknown.
    UnknownCommand,
    /// A PING from a connection that has not said HELLO (for instance after a
    /// broker restart): say HELLO again.
    UnknownNode,
    /// The node name or group path is invalid.
    InvalidName,
    /// The broker already has `max_nodes` nodes.
    TooManyNodes,
    /// The node holds more subscriptions than `max_subscriptions`.
    TooManySubscriptions,
    /// The request is larger than the broker accepts.
    TooLarge,
    /// The store does not exist.
    UnknownStore,
    /// The key, level or store name is invalid.
    InvalidKey,
    /// The value breaks the store's schema.
    SchemaViolation,
    /// The store's key or byte limit would be exceeded.
    LimitReached,
    /// compare-and-set: the key's sequence is not the expected one.
    CasFailed,
    /// put-if-absent: the key exists.
    Exists,
    /// The operation does not apply to the key's current value (e.g. incr on a string),
    /// or the operand is missing or not MessagePack.
    TypeMismatch,
    /// The broker applied and published the write but could not make it
    /// durable: it may be lost if the broker stops.
    Storage,
    /// The connection's identity may not do this (ACL).
    AclDenied,
    /// The connection already has `max_inflight_per_connection` requests
    /// unanswered (or replies it has not read): wait for replies first.
    TooManyRequests,
    /// A child broker could not get the write to the master: its link to the
    /// parent is down or full (the write was not applied), or was lost
    /// before the parent answered (the outcome is unknown; the message says
    /// which).
    Unavailable,
    /// A PING from a connection whose node path another connection has
    /// since joined under and still holds: two nodes use one name. This one
    /// is no longer joined; it should PING (not HELLO) until it gets
    /// `unknown_node`.
    NameTaken,
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            ErrorCode::VersionMismatch => "version_mismatch",
            ErrorCode::Malformed => "malformed",
            ErrorCode::UnknownCommand => "unknown_command",
            ErrorCode::UnknownNode => "unknown_node",
            ErrorCode::InvalidName => "invalid_name",
            ErrorCode::TooManyNodes => "too_many_nodes",
            ErrorCode::TooManySubscriptions => "too_many_subscriptions",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::UnknownStore => "unknown_store",
            ErrorCode::InvalidKey => "invalid_key",
            ErrorCode::SchemaViolation => "schema_violation",
            ErrorCode::LimitReached => "limit_reached",
            ErrorCode::CasFailed => "cas_failed",
            ErrorCode::Exists => "exists",
            ErrorCode::TypeMismatch => "type_mismatch",
            ErrorCode::Storage => "storage",
            ErrorCode::AclDenied => "acl_denied",
            ErrorCode::TooManyRequests => "too_many_requests",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::NameTaken => "name_taken",
        };
        f.write_str(name)
    }
}

/// ERROR body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReply {
    /// Request id, 0 when it could not be read.
    pub id: u64,
    /// Machine-readable code.
    pub code: ErrorCode,
    /// One human-readable sentence.
    pub message: String,
}

/// Why a control frame could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// Not two frames.
    #[error("control message must be 2 frames [NAME, BODY], got {0}")]
    FrameCount(usize),
    /// Unknown command or reply name.
    #[error("unknown command {0:?}")]
    UnknownCommand(String),
    /// The body is not the MessagePack map the command needs.
    #[error("malformed {name} body: {source}")]
    Body {
        /// Command name.
        name: &'static str,
        /// Decoder error.
        source: rmp_serde::decode::Error,
    },
    /// Encoding failed (should not happen for well-formed values).
    #[error("encode: {0}")]
    Encode(#[from] rmp_serde::encode::Error),
}

fn body<T: serde::de::DeserializeOwned>(
    name: &'static str,
    bytes: &[u8],
) -> Result<T, ControlError> {
    rmp_serde::from_slice(bytes).map_err(|source| ControlError::Body { name, source })
}

/// Reads the `id` and `protocol` fields of any body, whatever else it holds, so a
/// HELLO from another protocol version still gets a precise answer.
#[derive(Debug, Deserialize, Default)]
pub struct Envelope {
    /// Request id, 0 if absent.
    #[serde(default)]
    pub id: u64,
    /// Protocol version (HELLO: the oldest the peer speaks), if the body has one.
    #[serde(default)]
    pub protocol: Option<u32>,
    /// HELLO (version 2 on): the newest version the peer speaks.
    #[serde(default)]
    pub protocol_max: Option<u32>,
}

impl Envelope {
    /// The versions a HELLO's sender speaks, when it names any.
    pub fn protocol_range(&self) -> Option<crate::ProtocolRange> {
        let min = self.protocol?;
        Some(crate::ProtocolRange {
            min,
            max: self.protocol_max.unwrap_or(min).max(min),
        })
    }
}

impl Hello {
    /// The versions this HELLO's sender speaks.
    pub fn protocol_range(&self) -> crate::ProtocolRange {
        crate::ProtocolRange {
            min: self.protocol,
            max: self
                .protocol_max
                .unwrap_or(self.protocol)
                .max(self.protocol),
        }
    }
}

/// Best-effort read of `id`/`protocol` from a body.
pub fn peek_envelope(bytes: &[u8]) -> Envelope {
    rmp_serde::from_slice(bytes).unwrap_or_default()
}

impl Request {
    /// The request id.
    pub fn id(&self) -> u64 {
        match self {
            Request::Hello(h) => h.id,
            Request::Ping(p) => p.id,
            Request::Stats(e) | Request::Bye(e) | Request::Stores(e) | Request::Backup(e) => e.id,
            Request::Nodes(n) => n.id,
            Request::Write(w) => w.id,
            Request::Writes(b) => b.id,
            Request::Seqs(s) => s.id,
            Request::Snapshot(s) => s.id,
        }
    }

    /// Encodes to `[NAME, BODY]`.
    pub fn encode(&self) -> Result<[Vec<u8>; 2], ControlError> {
        let (name, body) = match self {
            Request::Hello(b) => ("HELLO", rmp_serde::to_vec_named(b)?),
            Request::Ping(b) => ("PING", rmp_serde::to_vec_named(b)?),
            Request::Stats(b) => ("STATS", rmp_serde::to_vec_named(b)?),
            Request::Nodes(b) => ("NODES", rmp_serde::to_vec_named(b)?),
            Request::Bye(b) => ("BYE", rmp_serde::to_vec_named(b)?),
            Request::Write(b) => ("WRITE", rmp_serde::to_vec_named(b)?),
            Request::Writes(b) => ("WRITES", rmp_serde::to_vec_named(b)?),
            Request::Seqs(b) => ("SEQS", rmp_serde::to_vec_named(b)?),
            Request::Stores(b) => ("STORES", rmp_serde::to_vec_named(b)?),
            Request::Snapshot(b) => ("SNAPSHOT", rmp_serde::to_vec_named(b)?),
            Request::Backup(b) => ("BACKUP", rmp_serde::to_vec_named(b)?),
        };
        Ok([name.as_bytes().to_vec(), body])
    }

    /// Decodes `[NAME, BODY]`.
    pub fn decode(frames: &[&[u8]]) -> Result<Self, ControlError> {
        let [name, bytes] = frames else {
            return Err(ControlError::FrameCount(frames.len()));
        };
        Ok(match *name {
            b"HELLO" => Request::Hello(body("HELLO", bytes)?),
            b"PING" => Request::Ping(body("PING", bytes)?),
            b"STATS" => Request::Stats(body("STATS", bytes)?),
            b"NODES" => Request::Nodes(body("NODES", bytes)?),
            b"BYE" => Request::Bye(body("BYE", bytes)?),
            b"WRITE" => Request::Write(body("WRITE", bytes)?),
            b"WRITES" => Request::Writes(body("WRITES", bytes)?),
            b"SEQS" => Request::Seqs(body("SEQS", bytes)?),
            b"STORES" => Request::Stores(body("STORES", bytes)?),
            b"SNAPSHOT" => Request::Snapshot(body("SNAPSHOT", bytes)?),
            b"BACKUP" => Request::Backup(body("BACKUP", bytes)?),
            other => {
                return Err(ControlError::UnknownCommand(
                    String::from_utf8_lossy(other).into_owned(),
                ))
            }
        })
    }
}

impl Reply {
    /// The request id this reply answers.
    pub fn id(&self) -> u64 {
        match self {
            Reply::Welcome(b) => b.id,
            Reply::Pong(b) => b.id,
            Reply::Stats(b) => b.id,
            Reply::Nodes(b) => b.id,
            Reply::Error(b) => b.id,
            Reply::Written(b) => b.id,
            Reply::Wrote(b) => b.id,
            Reply::Seqs(b) => b.id,
            Reply::Stores(b) => b.id,
            Reply::Lseqs(b) => b.id,
            Reply::Backup(b) => b.id,
            Reply::Goodbye(b) => b.id,
        }
    }

    /// Builds an ERROR reply.
    pub fn error(id: u64, code: ErrorCode, message: impl Into<String>) -> Self {
        Reply::Error(ErrorReply {
            id,
            code,
            message: message.into(),
        })
    }

    /// Encodes to `[NAME, BODY]`.
    pub fn encode(&self) -> Result<[Vec<u8>; 2], ControlError> {
        let (name, body) = match self {
            Reply::Welcome(b) => ("WELCOME", rmp_serde::to_vec_named(b)?),
            Reply::Pong(b) => ("PONG", rmp_serde::to_vec_named(b)?),
            Reply::Stats(b) => ("STATS", rmp_serde::to_vec_named(b)?),
            Reply::Nodes(b) => ("NODES", rmp_serde::to_vec_named(b)?),
            Reply::Error(b) => ("ERROR", rmp_serde::to_vec_named(b)?),
            Reply::Written(b) => ("WRITTEN", rmp_serde::to_vec_named(b)?),
            Reply::Wrote(b) => ("WROTE", rmp_serde::to_vec_named(b)?),
            Reply::Seqs(b) => ("SEQS", rmp_serde::to_vec_named(b)?),
            Reply::Stores(b) => ("STORES", rmp_serde::to_vec_named(b)?),
            Reply::Lseqs(b) => ("LSEQS", rmp_serde::to_vec_named(b)?),
            Reply::Backup(b) => ("BACKUP", rmp_serde::to_vec_named(b)?),
            Reply::Goodbye(b) => ("GOODBYE", rmp_serde::to_vec_named(b)?),
        };
        Ok([name.as_bytes().to_vec(), body])
    }

    /// Decodes `[NAME, BODY]`.
    pub fn decode(frames: &[&[u8]]) -> Result<Self, ControlError> {
        let [name, bytes] = frames else {
            return Err(ControlError::FrameCount(frames.len()));
        };
        Ok(match *name {
            b"WELCOME" => Reply::Welcome(body("WELCOME", bytes)?),
            b"PONG" => Reply::Pong(body("PONG", bytes)?),
            b"STATS" => Reply::Stats(body("STATS", bytes)?),
            b"NODES" => Reply::Nodes(body("NODES", bytes)?),
            b"ERROR" => Reply::Error(body("ERROR", bytes)?),
            b"WRITTEN" => Reply::Written(body("WRITTEN", bytes)?),
            b"WROTE" => Reply::Wrote(body("WROTE", bytes)?),
            b"SEQS" => Reply::Seqs(body("SEQS", bytes)?),
            b"STORES" => Reply::Stores(body("STORES", bytes)?),
            b"LSEQS" => Reply::Lseqs(body("LSEQS", bytes)?),
            b"BACKUP" => Reply::Backup(body("BACKUP", bytes)?),
            b"GOODBYE" => Reply::Goodbye(body("GOODBYE", bytes)?),
            other => {
                return Err(ControlError::UnknownCommand(
                    String::from_utf8_lossy(other).into_owned(),
                ))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip() {
        let reqs = [
            Request::Hello(Hello {
                id: 1,
                protocol: 1,
                protocol_max: None,
                name: "n".into(),
                group: "a/b".into(),
                client_version: "t".into(),
            }),
            Request::Ping(Ping {
                id: 2,
                dropped: 3,
                subscriptions: 4,
                link: None,
            }),
            Request::Stats(Empty { id: 5 }),
            Request::Nodes(NodesQuery {
                id: 6,
                group: Some("a".into()),
            }),
            Request::Bye(Empty { id: 7 }),
        ];
        for r in reqs {
            let [n, b] = r.encode().unwrap();
            assert_eq!(Request::decode(&[&n, &b]).unwrap(), r);
        }
    }

    /// A WROTE's results decode as what they were: WRITTEN bodies (with
    /// and without a value) and ERROR bodies, in order.
    #[test]
    fn a_batch_and_its_results_round_trip() {
        use crate::state::{OpKind, WriteResult};
        let batch = Request::Writes(WriteBatch {
            id: 9,
            writes: vec![Write {
                id: 1,
                store: "default".into(),
                level: String::new(),
                node: false,
                key: "k".into(),
                op: OpKind::Put,
                value: Some(vec![0x2a]),
                by: None,
                expected_seq: None,
                ttl_ms: None,
            }],
        });
        let [name, body] = batch.encode().unwrap();
        assert_eq!(name, b"WRITES");
        assert_eq!(Request::decode(&[&name, &body]).unwrap(), batch);
        let wrote = Reply::Wrote(WriteResults {
            id: 9,
            results: vec![
                WriteResult::Written(Written {
                    id: 1,
                    seq: 7,
                    value: Some(vec![0x2a]),
                    ttl_ms: 0,
                    deleted: 0,
                }),
                WriteResult::Error(ErrorReply {
                    id: 2,
                    code: ErrorCode::CasFailed,
                    message: "no".into(),
                }),
                WriteResult::Written(Written {
                    id: 3,
                    seq: 8,
                    value: None,
                    ttl_ms: 0,
                    deleted: 1,
                }),
            ],
        });
        let [name, body] = wrote.encode().unwrap();
        assert_eq!(name, b"WROTE");
        assert_eq!(Reply::decode(&[&name, &body]).unwrap(), wrote);
    }

    /// A result as a client from another language may write it: only the
    /// required fields, the value nil or absent; one with neither `seq` nor
    /// `code` is refused rather than guessed.
    #[test]
    fn write_results_are_read_by_their_fields() {
        use crate::state::WriteResult;
        #[derive(Serialize)]
        struct Minimal {
            id: u64,
            seq: u64,
        }
        #[derive(Serialize)]
        struct NilValue {
            id: u64,
            seq: u64,
            value: Option<Vec<u8>>,
        }
        #[derive(Serialize)]
        struct Neither {
            id: u64,
            message: String,
        }
        let read = |bytes: Vec<u8>| rmp_serde::from_slice::<WriteResult>(&bytes);
        let written = |id, seq| {
            WriteResult::Written(Written {
                id,
                seq,
                value: None,
                ttl_ms: 0,
                deleted: 0,
            })
        };
        let minimal = rmp_serde::to_vec_named(&Minimal { id: 4, seq: 5 }).unwrap();
        assert_eq!(read(minimal).unwrap(), written(4, 5));
        let nil = NilValue {
            id: 6,
            seq: 7,
            value: None,
        };
        assert_eq!(
            read(rmp_serde::to_vec_named(&nil).unwrap()).unwrap(),
            written(6, 7)
        );
        let neither = Neither {
            id: 8,
            message: "?".into(),
        };
        assert!(read(rmp_serde::to_vec_named(&neither).unwrap()).is_err());
    }

    #[test]
    fn error_code_display_is_its_wire_name() {
        for code in [
            ErrorCode::VersionMismatch,
            ErrorCode::Malformed,
            ErrorCode::UnknownCommand,
            ErrorCode::UnknownNode,
            ErrorCode::InvalidName,
            ErrorCode::TooManyNodes,
            ErrorCode::TooManySubscriptions,
            ErrorCode::TooLarge,
            ErrorCode::UnknownStore,
            ErrorCode::InvalidKey,
            ErrorCode::SchemaViolation,
            ErrorCode::LimitReached,
            ErrorCode::CasFailed,
            ErrorCode::Exists,
            ErrorCode::TypeMismatch,
            ErrorCode::Storage,
            ErrorCode::AclDenied,
            ErrorCode::TooManyRequests,
        ] {
            let wire: String = rmp_serde::from_slice(&rmp_serde::to_vec(&code).unwrap()).unwrap();
            assert_eq!(wire, code.to_string());
        }
    }

    #[test]
    fn replies_round_trip_and_errors() {
        let r = Reply::error(9, ErrorCode::VersionMismatch, "x");
        let [n, b] = r.encode().unwrap();
        assert_eq!(Reply::decode(&[&n, &b]).unwrap(), r);
        let mut report = StatsReport::default();
        report.counters.insert("events_in".into(), 3);
        let s = Reply::Stats(StatsReply { id: 1, report });
        let [n, b] = s.encode().unwrap();
        assert_eq!(Reply::decode(&[&n, &b]).unwrap(), s);
        assert!(matches!(
            Request::decode(&[b"NOPE", b""]),
            Err(ControlError::UnknownCommand(_))
        ));
        assert!(matches!(
            Request::decode(&[b"HELLO"]),
            Err(ControlError::FrameCount(1))
        ));
        assert!(matches!(
            Request::decode(&[b"HELLO", b"\xc1"]),
            Err(ControlError::Body { .. })
        ));
        let env = peek_envelope(
            &rmp_serde::to_vec_named(&Hello {
                id: 4,
                protocol: 2,
                protocol_max: None,
                name: String::new(),
                group: String::new(),
                client_version: String::new(),
            })
            .unwrap(),
        );
        assert_eq!((env.id, env.protocol), (4, Some(2)));
    }
}
