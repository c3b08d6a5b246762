//! The state plane: key layout, CHP (ZeroMQ RFC 12) frames and canopy's
//! acknowledged write operations.
//!
//! A state key is `/STORE/LEVEL` followed by the user key, where LEVEL is a
//! group level (`eu/fra/` then `:`; the root is just `:`) or a node
//! (`eu/fra/dc1/s1!`):
//!
//! ```text
//! /default/:threshold              root level of store "default"
//! /config/eu/fra/:threshold        group level eu/fra
//! /config/eu/fra/dc1/s1!threshold  node level eu/fra/dc1/s1
//! ```
//!
//! The part up to and including `:` or `!` is the key's *level prefix*: a
//! replica subscribes to it and asks for it as a CHP subtree, and the broker
//! numbers the updates of each level (`lseq`) so a replica can tell a gap.

use crate::topic::{GroupPath, NodePath, TopicError, GROUP_END, NODE_END, STATE_MARK};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// CHP snapshot request command.
pub const ICANHAZ: &[u8] = b"ICANHAZ?";
/// CHP end-of-snapshot command.
pub const KTHXBAI: &[u8] = b"KTHXBAI";
/// Name of the built-in store.
pub const DEFAULT_STORE: &str = "default";
/// Longest store name.
pub const MAX_STORE_NAME: usize = 64;

/// A level of a store: where a key lives in the group hierarchy.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    /// A group level (the root group for the empty path).
    Group(GroupPath),
    /// One node's own level, the most specific.
    Node(NodePath),
}

impl Level {
    /// The root level.
    pub fn root() -> Self {
        Level::Group(GroupPath::root())
    }

    /// Parses the level names used on the command line and in WRITE:
    /// a group path, or a node path when `node` is true.
    pub fn parse(path: &str, node: bool) -> Result<Self, TopicError> {
        if node {
            Ok(Level::Node(NodePath::parse(path)?))
        } else {
            Ok(Level::Group(GroupPath::parse(path)?))
        }
    }

    /// The wire prefix of this level in `store`: `/store/levels:` or `/store/…/name!`.
    pub fn prefix(&self, store: &str) -> String {
        let mut out = String::with_capacity(store.len() + 32);
        out.push(STATE_MARK as char);
        out.push_str(store);
        out.push('/');
        match self {
            Level::Group(g) => {
                for s in g.segments() {
                    out.push_str(s);
                    out.push('/');
                }
                out.push(GROUP_END as char);
            }
            Level::Node(n) => {
                for s in n.group.segments() {
                    out.push_str(s);
                    out.push('/');
                }
                out.push_str(&n.name);
                out.push(NODE_END as char);
            }
        }
        out
    }

    /// The levels a node sees, least specific first: every ancestor group,
    /// its own group, then itself.
    pub fn chain(node: &NodePath) -> Vec<Level> {
        let mut out: Vec<Level> = node.group.ancestors_and_self().map(Level::Group).collect();
        out.push(Level::Node(node.clone()));
        out
    }

    /// Path text (`eu/fra`, or `eu/fra/dc1/s1` for a node).
    pub fn path(&self) -> String {
        match self {
            Level::Group(g) => g.to_string(),
            Level::Node(n) => n.to_string(),
        }
    }

    /// True for a node level.
    pub fn is_node(&self) -> bool {
        matches!(self, Level::Node(_))
    }
}

/// Why a state key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Not `/STORE/LEVEL` + user key.
    #[error("state key {0:?} is not /STORE/LEVEL:KEY")]
    Layout(String),
    /// The store name has characters outside `[A-Za-z0-9_-]` or is too long.
    #[error("invalid store name {0:?}")]
    StoreName(String),
    /// The level path is invalid.
    #[error(transparent)]
    Level(#[from] TopicError),
    /// The user key is empty or has control characters.
    #[error("invalid user key {0:?}: it must be non-empty, without control characters")]
    UserKey(String),
}

/// Checks a store name.
pub fn check_store_name(name: &str) -> Result<(), KeyError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_STORE_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(KeyError::StoreName(name.to_owned()))
    }
}

/// Checks a user key.
pub fn check_user_key(key: &str) -> Result<(), KeyError> {
    if key.is_empty() || key.chars().any(char::is_control) {
        return Err(KeyError::UserKey(key.to_owned()));
    }
    Ok(())
}

/// A parsed state key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateKey<'a> {
    /// Store name.
    pub store: &'a str,
    /// Length of the level prefix within the full key.
    pub level_len: usize,
    /// The user key.
    pub user_key: &'a str,
}

/// Splits a full key into store, level prefix and user key, validating each.
pub fn parse_key(key: &str) -> Result<StateKey<'_>, KeyError> {
    let layout = || KeyError::Layout(key.to_owned());
    let rest = key.strip_prefix(STATE_MARK as char).ok_or_else(layout)?;
    let (store, levels) = rest.split_once('/').ok_or_else(layout)?;
    check_store_name(store)?;
    let end = levels
        .find([GROUP_END as char, NODE_END as char])
        .ok_or_else(layout)?;
    let (path, tail) = levels.split_at(end);
    // Only the canonical spelling: a key is stored and published as written,
    // so `/c//eu/:k` would match no replica's subscription.
    let canonical = if tail.as_bytes()[0] == GROUP_END {
        let g = GroupPath::parse(path)?;
        if g.is_root() {
            String::new()
        } else {
            format!("{g}/")
        }
    } else {
        NodePath::parse(path)?.to_string()
    };
    if canonical != path {
        return Err(layout());
    }
    let user_key = &tail[1..];
    check_user_key(user_key)?;
    Ok(StateKey {
        store,
        level_len: 1 + store.len() + 1 + end + 1,
        user_key,
    })
}

/// The name under which the opaque CHP key space appears wherever stores are
/// named (WRITE's `store`, STORES, the `[chp]` configuration). Not a valid
/// store name, so it never collides with one.
pub const OPAQUE_STORE: &str = "$chp";

/// The two key spaces of the state plane (PROTOCOL.md 10.3). Which one a key
/// belongs to depends on its spelling alone, so no key is ever in both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySpace<'a> {
    /// `/STORE/LEVEL` + user key, as [`parse_key`] accepts it: a canopy store
    /// with its schema and the MessagePack rule.
    Canonical(StateKey<'a>),
    /// Any other key starting with `/`: RFC 12's opaque keys, the value
    /// kept as bytes. Its level is `/FIRST/` (through the second `/`), or `/`
    /// for a key with no second `/`.
    Opaque {
        /// Length of the level prefix.
        level_len: usize,
    },
}

impl KeySpace<'_> {
    /// Length of the key's level prefix.
    pub fn level_len(&self) -> usize {
        match self {
            KeySpace::Canonical(k) => k.level_len,
            KeySpace::Opaque { level_len } => *level_len,
        }
    }
}

/// Which key space `key` is in; `None` when it is no valid state key: it
/// does not start with `/`, or it starts with a valid canonical level prefix
/// but its user key is invalid (empty, control characters). Such a key is
/// refused rather than made opaque, since every replica of that canonical
/// level holds its prefix: no opaque key ever starts with a canonical level
/// prefix.
pub fn classify_key(key: &str) -> Option<KeySpace<'_>> {
    let rest = key.strip_prefix(STATE_MARK as char)?;
    match parse_key(key) {
        Ok(k) => return Some(KeySpace::Canonical(k)),
        Err(KeyError::UserKey(_)) => return None,
        Err(_) => {}
    }
    let level_len = rest.find('/').map_or(1, |i| i + 2);
    Some(KeySpace::Opaque { level_len })
}

/// The level of an opaque key (`/client/` for `/client/727`); `None` for a
/// canonical key or no state key.
pub fn opaque_level(key: &str) -> Option<&str> {
    match classify_key(key)? {
        KeySpace::Opaque { level_len } => Some(&key[..level_len]),
        KeySpace::Canonical(_) => None,
    }
}

/// The level prefix of a full key (everything up to `:` or `!`).
pub fn level_prefix(key: &str) -> Result<&str, KeyError> {
    let k = parse_key(key)?;
    Ok(&key[..k.level_len])
}

/// One CHP key-value message: `[key, sequence, uuid, properties, body]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KvMsg {
    /// Key (or `KTHXBAI`/`HUGZ` for those commands).
    pub key: Vec<u8>,
    /// Sequence, 8 bytes big-endian on the wire.
    pub sequence: u64,
    /// 16-byte uuid, or empty.
    pub uuid: Vec<u8>,
    /// Properties.
    pub properties: BTreeMap<String, String>,
    /// Body: MessagePack value; empty means deletion.
    pub body: Vec<u8>,
}

/// Why CHP frames were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KvError {
    /// Not 5 frames.
    #[error("CHP message must have 5 frames, got {0}")]
    FrameCount(usize),
    /// The sequence frame is not 8 bytes.
    #[error("CHP sequence frame must be 8 bytes, got {0}")]
    Sequence(usize),
    /// The properties frame is not `name=value` lines of UTF-8.
    #[error("malformed CHP properties frame")]
    Properties,
}

/// Encodes properties as `name=value` lines, each ending in a newline.
pub fn encode_properties(props: &BTreeMap<String, String>) -> Vec<u8> {
    let mut out = String::new();
    for (k, v) in props {
        out.push_str(k);
        out.push('=');
        out.push_str(v);
        out.push('\n');
    }
    out.into_bytes()
}

/// Decodes a properties frame (lines of `name=value`; a last line without a
/// newline is accepted).
pub fn decode_properties(frame: &[u8]) -> Result<BTreeMap<String, String>, KvError> {
    let mut out = BTreeMap::new();
    for (k, v) in PropertiesRef::parse(frame)?.pairs() {
        out.insert(k.to_owned(), v.to_owned());
    }
    Ok(out)
}

/// A properties frame read in place: the hot path of a snapshot looks up
/// one or two names per KVSYNC without building a map. Lines are found
/// with plain byte loops: the frames are a few bytes (`id=N`), where a
/// `str` pattern searcher's set-up cost more than the scan (a third of a
/// replica's thread in a 1M-key snapshot).
#[derive(Debug, Clone, Copy)]
pub struct PropertiesRef<'a> {
    text: &'a str,
    /// Some line's name begins with `ttl` (`ttl` or `ttl_ms` may be set).
    has_ttl: bool,
}

/// The lines of a properties frame, as byte slices.
fn lines(text: &str) -> impl DoubleEndedIterator<Item = &[u8]> {
    text.as_bytes().split(|&b| b == b'\n')
}

impl<'a> PropertiesRef<'a> {
    /// Checks a frame as [`decode_properties`] does.
    pub fn parse(frame: &'a [u8]) -> Result<Self, KvError> {
        let text = std::str::from_utf8(frame).map_err(|_| KvError::Properties)?;
        let mut has_ttl = false;
        for line in lines(text).filter(|line| !line.is_empty()) {
            if !line.contains(&b'=') {
                return Err(KvError::Properties);
            }
            has_ttl |= line.starts_with(PROP_TTL.as_bytes());
        }
        Ok(PropertiesRef { text, has_ttl })
    }

    /// Every `name=value` line, in order (`parse` checked that each has an
    /// `=`).
    fn pairs(&self) -> impl DoubleEndedIterator<Item = (&'a str, &'a str)> {
        let text = self.text;
        let base = text.as_ptr() as usize;
        lines(text).filter_map(move |line| {
            // Where the line starts in `text`: '\n' and '=' are ASCII, so
            // the slices below fall on character boundaries.
            let start = (line.as_ptr() as usize).checked_sub(base)?;
            let eq = start + line.iter().position(|&b| b == b'=')?;
            let end = start + line.len();
            Some((text.get(start..eq)?, text.get(eq + 1..end)?))
        })
    }

    /// The value of `name`; the last one wins, as in [`decode_properties`].
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.pairs().rev().find(|(k, _)| *k == name).map(|(_, v)| v)
    }

    /// The remaining time to live it carries; see [`ttl_ms_of`].
    pub fn ttl_ms(&self) -> Result<Option<u64>, TtlError> {
        // Most frames (a snapshot's `id=N`) name neither `ttl` nor
        // `ttl_ms`, and are answered without looking anything up.
        if !self.has_ttl {
            return Ok(None);
        }
        ttl_ms_by(|name| self.get(name))
    }
}

impl KvMsg {
    /// The 5 frames.
    pub fn encode(&self) -> [Vec<u8>; 5] {
        [
            self.key.clone(),
            self.sequence.to_be_bytes().to_vec(),
            self.uuid.clone(),
            encode_properties(&self.properties),
            self.body.clone(),
        ]
    }

    /// Parses 5 frames.
    pub fn decode<F: AsRef<[u8]>>(frames: &[F]) -> Result<Self, KvError> {
        let [key, seq, uuid, props, body] = frames else {
            return Err(KvError::FrameCount(frames.len()));
        };
        let seq = seq.as_ref();
        let sequence =
            u64::from_be_bytes(seq.try_into().map_err(|_| KvError::Sequence(seq.len()))?);
        Ok(KvMsg {
            key: key.as_ref().to_vec(),
            sequence,
            uuid: uuid.as_ref().to_vec(),
            properties: decode_properties(props.as_ref())?,
            body: body.as_ref().to_vec(),
        })
    }

    /// A property parsed as an integer.
    pub fn prop_u64(&self, name: &str) -> Option<u64> {
        self.properties.get(name).and_then(|v| v.parse().ok())
    }

    /// The remaining time to live this message carries (see [`ttl_ms_of`]).
    pub fn ttl_ms(&self) -> Result<Option<u64>, TtlError> {
        ttl_ms_of(&self.properties)
    }
}

/// The remaining time to live a KVSET, KVPUB or KVSYNC carries, in ms:
/// canopy's `ttl_ms` when present, else CHP's `ttl` (seconds, fractions
/// allowed); `None` when neither is there. `Some(0)` is an explicit "no
/// expiry" (CHP's `ttl=0`), which overrides a store's default TTL.
pub fn ttl_ms_of(properties: &BTreeMap<String, String>) -> Result<Option<u64>, TtlError> {
    ttl_ms_by(|name| properties.get(name).map(String::as_str))
}

/// [`ttl_ms_of`] over any way of looking a property up.
fn ttl_ms_by<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Result<Option<u64>, TtlError> {
    if let Some(ms) = get(PROP_TTL_MS) {
        let ms = ms
            .trim()
            .parse::<u64>()
            .map_err(|_| TtlError(format!("ttl_ms property {ms:?} is not a number of ms")))?;
        return Ok(Some(ms));
    }
    let Some(secs) = get(PROP_TTL) else {
        return Ok(None);
    };
    let ms = secs
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|t| t.is_finite() && *t >= 0.0)
        .map(|t| t * 1000.0)
        .ok_or_else(|| TtlError(format!("ttl property {secs:?} is not a number of seconds")))?;
    // Saturates: a TTL beyond u64 milliseconds is "for ever" in practice.
    let ms = if ms >= u64::MAX as f64 {
        u64::MAX
    } else {
        ms as u64
    };
    Ok(Some(ms))
}

/// The deadline (Unix ms) of a key with `ttl_ms` left as of `now_ms`; 0
/// (never) for no TTL or a TTL of 0.
pub fn expiry_ms(ttl_ms: Option<u64>, now_ms: u64) -> u64 {
    match ttl_ms {
        Some(ms) if ms > 0 => now_ms.saturating_add(ms),
        _ => 0,
    }
}

/// A `ttl` or `ttl_ms` property that is not a number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TtlError(pub String);

/// The `ttl` (whole seconds, rounded up) and `ttl_ms` properties of a key
/// that expires at `expires_ms` (0: never), as of `now_ms`.
pub fn ttl_properties(expires_ms: u64, now_ms: u64) -> String {
    if expires_ms == 0 {
        return String::new();
    }
    let ms = expires_ms.saturating_sub(now_ms).max(1);
    format!("{PROP_TTL}={}\n{PROP_TTL_MS}={ms}\n", ms.div_ceil(1000))
}

/// Property: remaining time to live in whole seconds (CHP's own).
pub const PROP_TTL: &str = "ttl";
/// Property (canopy): remaining time to live in milliseconds, for replicas
/// that expire keys at the same moment as the broker.
pub const PROP_TTL_MS: &str = "ttl_ms";
/// Property (canopy): the update's number within its level.
pub const PROP_LSEQ: &str = "lseq";

/// An operation the master applies atomically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    /// Set the value.
    Put,
    /// Remove the key.
    Delete,
    /// Set only if the key does not exist.
    PutIfAbsent,
    /// Set only if the key's sequence equals `expected_seq` (0: absent).
    Cas,
    /// Add `by` to an integer (missing = 0).
    Incr,
    /// Subtract `by` from an integer (missing = 0).
    Decr,
    /// Append to a string, bytes or list.
    Append,
    /// Insert `value` into a set (a list without duplicates).
    SetInsert,
    /// Remove `value` from a set.
    SetRemove,
    /// Delete every key of the level whose user key starts with `key`.
    DeleteSubtree,
}

/// WRITE body: one acknowledged write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Write {
    /// Request id.
    pub id: u64,
    /// Store name.
    pub store: String,
    /// Level path: a group path, or a node path when `node` is true.
    pub level: String,
    /// True when `level` names a node.
    #[serde(default)]
    pub node: bool,
    /// User key (for delete_subtree: the user-key prefix, may be empty).
    pub key: String,
    /// The operation.
    pub op: OpKind,
    /// MessagePack operand (put, put_if_absent, cas, append, set_insert, set_remove).
    #[serde(default, with = "serde_bytes_opt")]
    pub value: Option<Vec<u8>>,
    /// Increment for incr/decr (default 1).
    #[serde(default)]
    pub by: Option<i64>,
    /// Expected key sequence for cas (0 = must be absent).
    #[serde(default)]
    pub expected_seq: Option<u64>,
    /// Time to live in milliseconds; absent = the store's default; 0 = none.
    #[serde(default)]
    pub ttl_ms: Option<u64>,
}

impl Write {
    /// The full key written: `/STORE/LEVEL` + `key`, or, for the opaque
    /// space (`store` = [`OPAQUE_STORE`]), `key` itself. `None` when the
    /// level is invalid.
    pub fn target_key(&self) -> Option<String> {
        if self.store == OPAQUE_STORE {
            return Some(self.key.clone());
        }
        let level = Level::parse(&self.level, self.node).ok()?;
        Some(format!("{}{}", level.prefix(&self.store), self.key))
    }
}

/// WRITTEN body: the write's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Written {
    /// Request id.
    pub id: u64,
    /// Sequence assigned (the last one, for delete_subtree).
    pub seq: u64,
    /// The key's new value (MessagePack), absent when deleted.
    #[serde(default, with = "serde_bytes_opt")]
    pub value: Option<Vec<u8>>,
    /// Remaining time to live in ms, 0 for none.
    #[serde(default)]
    pub ttl_ms: u64,
    /// Keys deleted (delete_subtree; 1 or 0 for delete).
    #[serde(default)]
    pub deleted: u64,
}

/// Most writes one WRITES may carry (more: ERROR `too_large`).
pub const MAX_BATCH_WRITES: usize = 1024;

/// WRITES body (feature `write-batch`): writes applied in order, each on
/// its own exactly as a WRITE (not a transaction), answered by one WROTE
/// once the last change of a persistent store among them is committed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteBatch {
    /// Request id (the WROTE's).
    pub id: u64,
    /// The writes; each result carries its write's own `id`.
    pub writes: Vec<Write>,
}

/// WROTE body: one result per write of the WRITES, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteResults {
    /// The WRITES' request id.
    pub id: u64,
    /// A WRITTEN body, or an ERROR body, per write.
    pub results: Vec<WriteResult>,
}

/// The outcome of one write of a batch: the body a WRITE would have been
/// answered with (WRITTEN's or ERROR's; an ERROR body has `code`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
// Written as the body itself (untagged), read through its fields.
#[serde(untagged)]
#[serde(try_from = "ResultFields")]
pub enum WriteResult {
    /// Applied (and durable, for a persistent store).
    Written(Written),
    /// Refused, as ERROR would say.
    Error(crate::control::ErrorReply),
}

/// Every field a WRITES result may have, read in one pass; which body it
/// is follows from them as an untagged read would decide (a `seq` makes it
/// WRITTEN's, else it must be ERROR's). serde reads an untagged enum by
/// buffering each value and trying the variants in turn, which cost the
/// client more than the rest of reading a WROTE.
#[derive(Deserialize)]
struct ResultFields {
    id: u64,
    seq: Option<u64>,
    #[serde(default, with = "serde_bytes_opt")]
    value: Option<Vec<u8>>,
    #[serde(default)]
    ttl_ms: u64,
    #[serde(default)]
    deleted: u64,
    code: Option<crate::control::ErrorCode>,
    message: Option<String>,
}

impl TryFrom<ResultFields> for WriteResult {
    type Error = &'static str;

    fn try_from(f: ResultFields) -> Result<Self, &'static str> {
        if let Some(seq) = f.seq {
            return Ok(WriteResult::Written(Written {
                id: f.id,
                seq,
                value: f.value,
                ttl_ms: f.ttl_ms,
                deleted: f.deleted,
            }));
        }
        match (f.code, f.message) {
            (Some(code), Some(message)) => Ok(WriteResult::Error(crate::control::ErrorReply {
                id: f.id,
                code,
                message,
            })),
            _ => Err("a write result needs seq (WRITTEN) or code and message (ERROR)"),
        }
    }
}

/// SNAPSHOT body: canopy's form of `ICANHAZ?`. The answer is the same
/// KVSYNC stream, and its KTHXBAI carries the properties `lseq` (the level's
/// update number the snapshot starts from, when the subtree is one level)
/// and `id` (this request's id); a plain `ICANHAZ?` gets them empty, as RFC 12
/// says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SnapshotQuery {
    /// Request id.
    pub id: u64,
    /// Subtree (key prefix); usually one level prefix.
    pub subtree: String,
    /// Also send LSEQS: every level's update number under the subtree at
    /// the snapshot's sequence (used by child brokers to mirror a parent).
    #[serde(default)]
    pub lseqs: bool,
    /// What the asking replica already holds of this one level: when the
    /// broker's history and lseq of the level are the same, the answer is
    /// a KTHXBAI marked `unchanged` and no KVSYNC (12.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub have: Option<SnapshotBasis>,
}

/// A level as a replica holds it: the history its last full snapshot came
/// from and the level's update number it has applied since.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SnapshotBasis {
    /// The `history` property of the KTHXBAI the contents came from.
    pub history: u64,
    /// The level's lseq the replica has applied.
    pub lseq: u64,
}

/// LSEQS reply body: the level numbers a snapshot starts from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LseqsReply {
    /// Request id of the SNAPSHOT.
    pub id: u64,
    /// The sequence the snapshot starts from (its KTHXBAI's).
    pub seq: u64,
    /// Level prefix → update number, for every level ever written under
    /// the subtree.
    pub lseqs: std::collections::BTreeMap<String, u64>,
    /// Store → the history its levels' numbers belong to (12.1), for the
    /// stores of those levels: a child broker serves its mirror of a level
    /// under the master's history, so replicas below keep what did not
    /// change across a clean restart of the master.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub histories: std::collections::BTreeMap<String, u64>,
    /// Store → where its history began after a crash (12.1): the level
    /// numbers it took over, for the levels under the subtree that are
    /// still at them. A child answers a replica that holds one of them
    /// under the older history `unchanged`, as the master would.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub forks: std::collections::BTreeMap<String, HistoryFork>,
}

/// How a history began after a crash (12.1): the previous run may have
/// published changes it never committed, so their level numbers cannot be
/// trusted; the numbers it committed can. Each level's state as of the
/// lseq committed last under `from` is its state as of the same lseq under
/// the new history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct HistoryFork {
    /// The history the crashed run numbered under.
    pub from: u64,
    /// Level prefix → the lseq committed last under `from`. A level not
    /// named had none (never written), or has moved on since.
    pub lseqs: std::collections::BTreeMap<String, u64>,
}

impl HistoryFork {
    /// True when a replica that holds `level` as `have` holds the level as
    /// it was when the new history began. A level the fork does not name
    /// matches only `have.lseq` 0, and only if `empty_now` (keys with no
    /// level number, as a restore may leave, are not a state lseq 0 names).
    pub fn took_over(
        &self,
        level: &str,
        have: SnapshotBasis,
        empty_now: impl Fn() -> bool,
    ) -> bool {
        self.from == have.history
            && match self.lseqs.get(level) {
                Some(lseq) => *lseq == have.lseq,
                None => have.lseq == 0 && empty_now(),
            }
    }

    /// The part of the fork for levels under `subtree` whose lseq is still
    /// the one taken over (`lseq_now`).
    /// The others can never match again: the level's lseq only grows, and
    /// a resume also needs the level's lseq now to be the one held.
    pub fn live_under(&self, subtree: &str, lseq_now: impl Fn(&str) -> u64) -> Self {
        HistoryFork {
            from: self.from,
            lseqs: self
                .lseqs
                .range(subtree.to_owned()..)
                .take_while(|(level, _)| level.starts_with(subtree))
                .filter(|(level, lseq)| lseq_now(level) == **lseq)
                .map(|(level, lseq)| (level.clone(), *lseq))
                .collect(),
        }
    }
}

/// Property (canopy, KTHXBAI of SNAPSHOT): the request id.
pub const PROP_ID: &str = "id";

/// Property (canopy, KTHXBAI of a one-level SNAPSHOT): the history the
/// level's numbers belong to. Within one history a level's lseq names one
/// state; the broker starts a new history whenever it may have lost changes
/// it published (a crash, a restore) or holds the level only in memory.
pub const PROP_HISTORY: &str = "history";

/// Property (canopy, KTHXBAI): `1` when the SNAPSHOT's `have` matched and no
/// KVSYNC was sent: the replica keeps what it holds.
pub const PROP_UNCHANGED: &str = "unchanged";

/// Property (canopy, KTHXBAI marked `unchanged`): the history the replica's
/// `have` named, when the level is answered unchanged under a new one
/// begun after a crash ([`HistoryFork`]); the replica keeps its contents
/// and takes `history` from then on.
pub const PROP_FROM_HISTORY: &str = "from_history";

/// SEQS body: a replica's question "how far is each of these levels?".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SeqsQuery {
    /// Request id.
    pub id: u64,
    /// Level prefixes.
    pub levels: Vec<String>,
}

/// SEQS reply body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeqsReply {
    /// Request id.
    pub id: u64,
    /// The broker's current lseq of each level asked, in order (0 = never written).
    pub lseqs: Vec<u64>,
}

/// One store as `canopy stores` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreInfo {
    /// Name.
    pub name: String,
    /// Keys held.
    pub keys: u64,
    /// Bytes of keys and values held.
    pub bytes: u64,
    /// Whether writes are persisted.
    pub persist: bool,
    /// Schema file, if any.
    pub schema: Option<String>,
    /// Default time to live, ms (0 none).
    pub default_ttl_ms: u64,
    /// Key limit (0 none).
    pub max_keys: u64,
    /// Byte limit (0 none).
    pub max_bytes: u64,
}

/// STORES reply body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoresReply {
    /// Request id.
    pub id: u64,
    /// The broker's current sequence (shared by every store).
    pub seq: u64,
    /// Stores, by name.
    pub stores: Vec<StoreInfo>,
}

/// `Option<Vec<u8>>` as MessagePack bin rather than an array of integers.
mod serde_bytes_opt {
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(b) => s.serialize_bytes(b),
            None => s.serialize_none(),
        }
    }

    /// Nil or absent is `None`; bytes (bin, or an array of u8) are
    /// `Some`. A visitor, not an untagged enum: serde buffers an untagged
    /// enum's input before it tries the variants, on every value.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        struct Optional;
        impl<'de> serde::de::Visitor<'de> for Optional {
            type Value = Option<Vec<u8>>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("bytes or nil")
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                serde_bytes_vec::deserialize(d).map(Some)
            }
        }
        d.deserialize_option(Optional)
    }

    mod serde_bytes_vec {
        use serde::Deserializer;

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Vec<u8>;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("bytes")
                }
                fn visit_bytes<E>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                    Ok(v.to_vec())
                }
                fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                    Ok(v)
                }
                fn visit_seq<A: serde::de::SeqAccess<'de>>(
                    self,
                    mut seq: A,
                ) -> Result<Vec<u8>, A::Error> {
                    let mut out = Vec::new();
                    while let Some(b) = seq.next_element::<u8>()? {
                        out.push(b);
                    }
                    Ok(out)
                }
            }
            d.deserialize_any(V)
        }
    }
}

#[cfg(test)]
mod tests {

    /// A fork matches only the history it began from at the very lseq it
    /// took over; what an LSEQS passes on is only what can still match.
    #[test]
    fn a_fork_takes_over_only_the_committed_level_numbers() {
        let fork = HistoryFork {
            from: 7,
            lseqs: [
                ("/default/:".to_owned(), 3),
                ("/default/a/:".to_owned(), 5),
                ("/default/b/:".to_owned(), 9),
                ("/other/:".to_owned(), 2),
            ]
            .into(),
        };
        let basis = |history, lseq| SnapshotBasis { history, lseq };
        let empty = || true;
        assert!(fork.took_over("/default/a/:", basis(7, 5), empty));
        assert!(
            !fork.took_over("/default/a/:", basis(7, 6), empty),
            "published after the commit"
        );
        assert!(
            !fork.took_over("/default/a/:", basis(7, 4), empty),
            "behind"
        );
        assert!(
            !fork.took_over("/default/a/:", basis(8, 5), empty),
            "another history"
        );
        assert!(
            fork.took_over("/default/c/:", basis(7, 0), empty),
            "never written, then or now"
        );
        assert!(
            !fork.took_over("/default/c/:", basis(7, 1), empty),
            "written after the commit"
        );
        assert!(
            !fork.took_over("/default/c/:", basis(7, 0), || false),
            "keys without a level number"
        );
        // b moved on since: it can never match again, so it is not passed on.
        let now = |level: &str| if level == "/default/b/:" { 10 } else { 5 };
        let live = fork.live_under("/default/", now);
        assert_eq!(live.from, 7);
        assert_eq!(
            live.lseqs.into_iter().collect::<Vec<_>>(),
            [("/default/a/:".to_owned(), 5)]
        );
        assert!(fork.live_under("/none/", now).lseqs.is_empty());
    }

    #[test]
    fn ttl_comes_from_ttl_ms_or_ttl_seconds() {
        let props = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(ttl_ms_of(&props(&[])), Ok(None));
        assert_eq!(ttl_ms_of(&props(&[("ttl", "2")])), Ok(Some(2000)));
        assert_eq!(ttl_ms_of(&props(&[("ttl", "0.25")])), Ok(Some(250)));
        assert_eq!(ttl_ms_of(&props(&[("ttl", "0")])), Ok(Some(0)));
        assert_eq!(expiry_ms(Some(0), 7), 0);
        assert_eq!(expiry_ms(None, 7), 0);
        assert_eq!(expiry_ms(Some(3), 7), 10);
        assert_eq!(expiry_ms(Some(u64::MAX), 7), u64::MAX);
        assert_eq!(
            ttl_ms_of(&props(&[("ttl", "2"), ("ttl_ms", "1500")])),
            Ok(Some(1500))
        );
        assert_eq!(ttl_ms_of(&props(&[("ttl", "1e30")])), Ok(Some(u64::MAX)));
        assert!(ttl_ms_of(&props(&[("ttl", "-1")])).is_err());
        assert!(ttl_ms_of(&props(&[("ttl", "soon")])).is_err());
        assert!(ttl_ms_of(&props(&[("ttl_ms", "x")])).is_err());
        assert_eq!(ttl_properties(0, 5), "");
        assert_eq!(ttl_properties(2_500, 1_000), "ttl=2\nttl_ms=1500\n");
    }

    use super::*;

    #[test]
    fn level_prefixes_are_delimiter_terminated() {
        let eu = Level::Group(GroupPath::parse("eu").unwrap());
        assert_eq!(eu.prefix("config"), "/config/eu/:");
        assert_eq!(Level::root().prefix("default"), "/default/:");
        let n = Level::Node(NodePath::parse("eu/s1").unwrap());
        assert_eq!(n.prefix("c"), "/c/eu/s1!");
        // eu/fr never matches eu/fra; a node never matches a longer name.
        let fr = Level::Group(GroupPath::parse("eu/fr").unwrap()).prefix("c");
        assert!(!"/c/eu/fra/:k".starts_with(&fr));
        assert!(!"/c/eu/s10!k".starts_with(&n.prefix("c")));
        let chain: Vec<String> = Level::chain(&NodePath::parse("a/b/n").unwrap())
            .iter()
            .map(|l| l.prefix("s"))
            .collect();
        assert_eq!(chain, vec!["/s/:", "/s/a/:", "/s/a/b/:", "/s/a/b/n!"]);
    }

    #[test]
    fn keys_parse_and_reject() {
        let k = parse_key("/config/eu/fra/:a/b:c").unwrap();
        assert_eq!((k.store, k.user_key), ("config", "a/b:c"));
        assert_eq!(
            level_prefix("/config/eu/fra/:x").unwrap(),
            "/config/eu/fra/:"
        );
        assert_eq!(level_prefix("/d/n!x").unwrap(), "/d/n!");
        for bad in [
            "/c//eu/:k",
            "/c/eu//:k",
            "/c//n!k",
            "config/:x",
            "/config",
            "/con fig/:x",
            "/c/eu:x",
            "/c/:",
            "/c/eu/!x",
            "/c/:\u{1}",
        ] {
            assert!(parse_key(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn kvmsg_round_trip() {
        let mut m = KvMsg {
            key: b"/d/:k".to_vec(),
            sequence: 42,
            uuid: vec![1; 16],
            body: vec![0xa1, b'x'],
            ..Default::default()
        };
        m.properties.insert("ttl".into(), "5".into());
        let frames = m.encode();
        assert_eq!(frames[3], b"ttl=5\n");
        assert_eq!(KvMsg::decode(&frames).unwrap(), m);
        assert_eq!(m.prop_u64("ttl"), Some(5));
        assert!(KvMsg::decode(&frames[..4]).is_err());
        assert_eq!(
            KvMsg::decode(&[&b"k"[..], b"123", b"", b"", b""]),
            Err(KvError::Sequence(3))
        );
        assert!(decode_properties(b"noequals").is_err());
        assert!(PropertiesRef::parse(b"a=1\nnoequals\n").is_err());
        assert!(PropertiesRef::parse(b"\xff=1").is_err());
        let props = PropertiesRef::parse(b"id=7\nttl=2\nid=9").unwrap();
        assert_eq!(props.get("id"), Some("9"));
        assert_eq!(props.get("ttl_ms"), None);
        assert_eq!(props.ttl_ms(), Ok(Some(2000)));
        assert_eq!(PropertiesRef::parse(b"").unwrap().ttl_ms(), Ok(None));
        assert_eq!(PropertiesRef::parse(b"id=7\n").unwrap().ttl_ms(), Ok(None));
        let near = PropertiesRef::parse(b"xttl=5\nttl_s=3\nid=ttl").unwrap();
        assert_eq!(near.ttl_ms(), Ok(None));
        assert_eq!(
            PropertiesRef::parse(b"id=1\nttl=0.5").unwrap().ttl_ms(),
            Ok(Some(500))
        );
        assert_eq!(
            PropertiesRef::parse(b"ttl_ms=5\nttl=9\n").unwrap().ttl_ms(),
            Ok(Some(5))
        );
        assert_eq!(decode_properties(b"a=1\nb=2").unwrap().len(), 2);
    }

    /// The format read the plain way: UTF-8, every non-empty line holds
    /// an `=`, the last line naming `name` wins.
    fn reference_get(frame: &[u8], name: &str) -> Result<Option<String>, ()> {
        let text = std::str::from_utf8(frame).map_err(|_| ())?;
        let mut found = None;
        for line in text.split('\n').filter(|l| !l.is_empty()) {
            let (k, v) = line.split_once('=').ok_or(())?;
            if k == name {
                found = Some(v.to_owned());
            }
        }
        Ok(found)
    }

    use proptest::strategy::Strategy as _;

    proptest::proptest! {
        /// The byte-loop reader answers as the plain reading does, for
        /// frames made of the characters that matter (and any others).
        #[test]
        fn properties_read_in_place_as_the_plain_reading(
            frame in proptest::prop_oneof![
                // Lines of names that matter, values that parse or not,
                // some without `=`, some empty.
                proptest::collection::vec(
                    (
                        proptest::sample::select(vec!["id", "ttl", "ttl_ms", "ttlx", "xttl", ""]),
                        proptest::sample::select(vec!["=", "", "=="]),
                        proptest::sample::select(vec!["7", "0.5", "-1", "ttl", "", "=x"]),
                    ),
                    0..5,
                )
                .prop_map(|lines| {
                    lines
                        .iter()
                        .map(|(k, eq, v)| format!("{k}{eq}{v}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                        .into_bytes()
                }),
                proptest::collection::vec(proptest::num::u8::ANY, 0..40),
            ],
            name in proptest::sample::select(vec!["id", "ttl", "ttl_ms", "", "i"]),
        ) {
            let ours = PropertiesRef::parse(&frame)
                .map(|p| p.get(name).map(str::to_owned))
                .map_err(|_| ());
            proptest::prop_assert_eq!(ours, reference_get(&frame, name));
            if let Ok(p) = PropertiesRef::parse(&frame) {
                let ttl = reference_get(&frame, PROP_TTL).ok().flatten();
                let ttl_ms = reference_get(&frame, PROP_TTL_MS).ok().flatten();
                let plain = ttl_ms_by(|n| match n {
                    PROP_TTL => ttl.as_deref(),
                    PROP_TTL_MS => ttl_ms.as_deref(),
                    _ => None,
                });
                proptest::prop_assert_eq!(p.ttl_ms(), plain);
            }
        }
    }

    #[test]
    fn write_round_trips_with_binary_value() {
        let w = Write {
            id: 1,
            store: "s".into(),
            level: "eu".into(),
            node: false,
            key: "k".into(),
            op: OpKind::Cas,
            value: Some(vec![0x01, 0x02]),
            by: None,
            expected_seq: Some(3),
            ttl_ms: Some(1000),
        };
        let bytes = rmp_serde::to_vec_named(&w).unwrap();
        assert_eq!(rmp_serde::from_slice::<Write>(&bytes).unwrap(), w);
    }
}
