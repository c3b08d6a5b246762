//! Topic frames: how a group, a node or a plain topic is encoded in the first
//! frame of an event so that ZeroMQ's prefix filter does the routing.
//!
//! ```text
//! group eu/fra, topic temp      @eu/fra/:temp
//! root group, topic temp        @:temp
//! node eu/fra/dc1/s1, topic cmd @eu/fra/dc1/s1!cmd
//! plain topic metrics.cpu       metrics.cpu
//! state key (CHP)               /store/...
//! ```
//!
//! Every path segment is followed by `/`, and a level ends with `:` (group) or
//! `!` (node), so a prefix for `worker-1` never matches `worker-10` and a prefix
//! for the level `eu/fra` never matches `eu/fra/dc1`.

use std::fmt;

/// First byte of an addressed (group or node) event topic.
pub const ADDRESSED_MARK: u8 = b'@';
/// First byte of a state key (CHP key space); never an event topic.
pub const STATE_MARK: u8 = b'/';
/// First byte reserved for broker-internal topics.
pub const SYSTEM_MARK: u8 = b'$';
/// Ends a group level in an addressed topic.
pub const GROUP_END: u8 = b':';
/// Ends a node name in an addressed topic.
pub const NODE_END: u8 = b'!';
/// Separates path segments.
pub const SEGMENT_SEP: u8 = b'/';
/// Deepest group path accepted.
pub const MAX_DEPTH: usize = 8;
/// Longest path segment (group level or node name) accepted, in bytes.
pub const MAX_SEGMENT_LEN: usize = 64;
/// Longest full node path (`group/name`): it must fit the header's publisher field.
pub const MAX_NODE_PATH_LEN: usize = 255;

/// Why a path, name or topic was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    /// A segment is empty, too long or has a character outside `[A-Za-z0-9_.-]`.
    #[error("invalid segment {segment:?} in {path:?}: segments are 1-{max} characters of A-Z a-z 0-9 _ . -", max = MAX_SEGMENT_LEN)]
    BadSegment {
        /// The whole path.
        path: String,
        /// The offending segment.
        segment: String,
    },
    /// More than [`MAX_DEPTH`] levels.
    #[error("group path {0:?} is deeper than {max} levels", max = MAX_DEPTH)]
    TooDeep(String),
    /// A node path needs at least a name.
    #[error("node path is empty")]
    EmptyNode,
    /// A topic starts with a reserved byte or is the heartbeat topic.
    #[error("topic {0:?} is reserved: it must not start with '@', '/' or '$' nor be \"HUGZ\"")]
    Reserved(String),
    /// A plain topic must not be empty (an addressed one may).
    #[error("a plain topic must not be empty")]
    EmptyTopic,
    /// The node's full path does not fit the header's publisher field.
    #[error("node path {0:?} is longer than {max} bytes", max = MAX_NODE_PATH_LEN)]
    PathTooLong(String),
    /// The topic frame is not one of the documented forms.
    #[error("malformed topic frame")]
    Malformed,
}

fn valid_segment(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_SEGMENT_LEN
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
}

/// A group path such as `eu/fra/dc1`; the empty path is the root group.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct GroupPath(Vec<String>);

impl GroupPath {
    /// The root group, ancestor of every group.
    pub fn root() -> Self {
        GroupPath(Vec::new())
    }

    /// Parses `eu/fra/dc1`; `""` and `"/"` are the root. Leading and trailing
    /// slashes are ignored.
    pub fn parse(path: &str) -> Result<Self, TopicError> {
        let trimmed = path.trim_matches('/');
        if trimmed.is_empty() {
            return Ok(Self::root());
        }
        let segments: Vec<String> = trimmed.split('/').map(str::to_owned).collect();
        if segments.len() > MAX_DEPTH {
            return Err(TopicError::TooDeep(path.to_owned()));
        }
        if let Some(bad) = segments.iter().find(|s| !valid_segment(s)) {
            return Err(TopicError::BadSegment {
                path: path.to_owned(),
                segment: bad.clone(),
            });
        }
        Ok(GroupPath(segments))
    }

    /// The segments, outermost first.
    pub fn segments(&self) -> &[String] {
        &self.0
    }

    /// True for the root group.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// Every ancestor from the root down to and including `self`.
    pub fn ancestors_and_self(&self) -> impl Iterator<Item = GroupPath> + '_ {
        (0..=self.0.len()).map(move |n| GroupPath(self.0[..n].to_vec()))
    }

    /// True when `self` is `other` or lies below it.
    pub fn is_within(&self, other: &GroupPath) -> bool {
        self.0.starts_with(&other.0)
    }

    /// `seg/seg/` — every segment followed by `/`; empty for the root.
    fn wire_levels(&self, out: &mut Vec<u8>) {
        for s in &self.0 {
            out.extend_from_slice(s.as_bytes());
            out.push(SEGMENT_SEP);
        }
    }

    /// Topic prefix matching events addressed to exactly this group level with a
    /// topic starting with `topic_prefix`.
    pub fn level_prefix(&self, topic_prefix: &str) -> Vec<u8> {
        let mut out = vec![ADDRESSED_MARK];
        self.wire_levels(&mut out);
        out.push(GROUP_END);
        out.extend_from_slice(topic_prefix.as_bytes());
        out
    }

    /// Topic prefix matching every addressed event (group or node) in this
    /// subtree, for observers.
    pub fn subtree_prefix(&self) -> Vec<u8> {
        let mut out = vec![ADDRESSED_MARK];
        self.wire_levels(&mut out);
        out
    }
}

impl fmt::Display for GroupPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("/"))
    }
}

/// A node's full path: its group plus its name, e.g. `eu/fra/dc1/sensor-17`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodePath {
    /// The group the node belongs to.
    pub group: GroupPath,
    /// The node's name, unique within its group.
    pub name: String,
}

impl NodePath {
    /// Builds a node path from a group and a name, validating the name.
    pub fn new(group: GroupPath, name: &str) -> Result<Self, TopicError> {
        if !valid_segment(name) {
            return Err(TopicError::BadSegment {
                path: name.to_owned(),
                segment: name.to_owned(),
            });
        }
        if group.0.len() >= MAX_DEPTH {
            return Err(TopicError::TooDeep(format!("{group}/{name}")));
        }
        let path = NodePath {
            group,
            name: name.to_owned(),
        };
        let text = path.to_string();
        if text.len() > MAX_NODE_PATH_LEN {
            return Err(TopicError::PathTooLong(text));
        }
        Ok(path)
    }

    /// Parses `eu/fra/dc1/sensor-17`: the last segment is the name.
    pub fn parse(path: &str) -> Result<Self, TopicError> {
        let trimmed = path.trim_matches('/');
        let (group, name) = match trimmed.rsplit_once('/') {
            Some((g, n)) => (GroupPath::parse(g)?, n),
            None if trimmed.is_empty() => return Err(TopicError::EmptyNode),
            None => (GroupPath::root(), trimmed),
        };
        Self::new(group, name)
    }

    /// Topic prefix matching events addressed to this node with a topic starting
    /// with `topic_prefix`.
    pub fn node_prefix(&self, topic_prefix: &str) -> Vec<u8> {
        let mut out = vec![ADDRESSED_MARK];
        self.group.wire_levels(&mut out);
        out.extend_from_slice(self.name.as_bytes());
        out.push(NODE_END);
        out.extend_from_slice(topic_prefix.as_bytes());
        out
    }
}

impl fmt::Display for NodePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.group.is_root() {
            f.write_str(&self.name)
        } else {
            write!(f, "{}/{}", self.group, self.name)
        }
    }
}

/// Where an event is addressed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Address {
    /// Every node in this group and below it.
    Group(GroupPath),
    /// Exactly one node.
    Node(NodePath),
    /// Whoever subscribed to the topic; no group semantics.
    Plain,
}

/// Checks that a user topic (or topic prefix) does not collide with the
/// reserved spaces. Applies to plain and addressed events alike.
pub fn check_plain_topic(topic: &str) -> Result<(), TopicError> {
    match topic.as_bytes().first() {
        Some(&ADDRESSED_MARK) | Some(&STATE_MARK) | Some(&SYSTEM_MARK) => {
            Err(TopicError::Reserved(topic.to_owned()))
        }
        _ if topic.as_bytes() == crate::HUGZ => Err(TopicError::Reserved(topic.to_owned())),
        _ => Ok(()),
    }
}

/// Builds the topic frame for an event.
pub fn encode_topic(address: &Address, topic: &str) -> Result<Vec<u8>, TopicError> {
    check_plain_topic(topic)?;
    match address {
        Address::Group(g) => Ok(g.level_prefix(topic)),
        Address::Node(n) => Ok(n.node_prefix(topic)),
        Address::Plain if topic.is_empty() => Err(TopicError::EmptyTopic),
        Address::Plain => Ok(topic.as_bytes().to_vec()),
    }
}

/// Splits a topic frame back into its address and user topic.
pub fn decode_topic(frame: &[u8]) -> Result<(Address, String), TopicError> {
    let text = std::str::from_utf8(frame).map_err(|_| TopicError::Malformed)?;
    let Some(rest) = text.strip_prefix('@') else {
        // Found by fuzzing: an empty frame decoded as a plain topic that
        // encode_topic refuses.
        if text.is_empty() {
            return Err(TopicError::EmptyTopic);
        }
        check_plain_topic(text)?;
        return Ok((Address::Plain, text.to_owned()));
    };
    // The address part ends at the first ':' or '!' (neither may occur in a segment).
    let end = rest
        .find([GROUP_END as char, NODE_END as char])
        .ok_or(TopicError::Malformed)?;
    let (path, tail) = rest.split_at(end);
    let topic = tail[1..].to_owned();
    // The user topic obeys the rules encode_topic applies (found by fuzzing:
    // `@eu/fr!/s1!cmd` decoded with a topic in the state space).
    check_plain_topic(&topic)?;
    let address = if tail.as_bytes()[0] == GROUP_END {
        if !(path.is_empty() || path.ends_with('/')) {
            return Err(TopicError::Malformed);
        }
        Address::Group(GroupPath::parse(path)?)
    } else {
        if path.is_empty() || path.ends_with('/') {
            return Err(TopicError::Malformed);
        }
        Address::Node(NodePath::parse(path)?)
    };
    // Only the canonical spelling is an address (found by fuzzing: the
    // parsers forgive `@/eu/:t`, which no `@eu/` subscription matches).
    if encode_topic(&address, &topic)? != frame {
        return Err(TopicError::Malformed);
    }
    Ok((address, topic))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(sub: &[u8], topic: &[u8]) -> bool {
        topic.starts_with(sub)
    }

    #[test]
    fn decoding_refuses_what_encoding_refuses() {
        assert_eq!(decode_topic(b""), Err(TopicError::EmptyTopic));
        assert!(decode_topic(b"@eu/fr!/s1!cmd").is_err());
        assert!(decode_topic(b"@eu/:HUGZ").is_err());
        assert!(decode_topic(b"@eu/:").is_ok());
        assert!(decode_topic(b"@/fva/:vamp").is_err());
    }

    #[test]
    fn group_levels_are_delimiter_terminated() {
        let fr = GroupPath::parse("eu/fr").unwrap();
        let fra = GroupPath::parse("eu/fra").unwrap();
        let t = encode_topic(&Address::Group(fra.clone()), "temp").unwrap();
        assert!(!matches(&fr.level_prefix(""), &t));
        assert!(!matches(&fr.subtree_prefix(), &t));
        assert!(matches(&fra.level_prefix("te"), &t));
        assert!(matches(&fra.subtree_prefix(), &t));
        let dc1 = encode_topic(
            &Address::Group(GroupPath::parse("eu/fra/dc1").unwrap()),
            "temp",
        )
        .unwrap();
        assert!(!matches(&fra.level_prefix(""), &dc1));
        assert!(matches(&fra.subtree_prefix(), &dc1));
    }

    #[test]
    fn node_names_are_delimiter_terminated() {
        let w1 = NodePath::parse("g/worker-1").unwrap();
        let w10 = NodePath::parse("g/worker-10").unwrap();
        let t = encode_topic(&Address::Node(w10.clone()), "x").unwrap();
        assert!(!matches(&w1.node_prefix(""), &t));
        assert!(matches(&w10.node_prefix(""), &t));
        // A group named like a node is a different address.
        let g = GroupPath::parse("g/worker-10").unwrap();
        assert!(!matches(&g.level_prefix(""), &t));
    }

    #[test]
    fn round_trip() {
        for (addr, topic) in [
            (Address::Group(GroupPath::root()), "a"),
            (Address::Group(GroupPath::parse("a/b").unwrap()), "x:y!z"),
            (Address::Node(NodePath::parse("a/n").unwrap()), ""),
            (Address::Node(NodePath::parse("n").unwrap()), "t"),
            (Address::Plain, "metrics.cpu"),
        ] {
            let frame = encode_topic(&addr, topic).unwrap();
            assert_eq!(decode_topic(&frame).unwrap(), (addr, topic.to_owned()));
        }
    }

    #[test]
    fn rejects_bad_input() {
        assert!(GroupPath::parse("a//b").is_err());
        assert!(GroupPath::parse("a/b c").is_err());
        assert!(GroupPath::parse("a:b").is_err());
        assert!(GroupPath::parse("1/2/3/4/5/6/7/8/9").is_err());
        assert!(NodePath::parse("").is_err());
        assert!(check_plain_topic("@x").is_err());
        assert!(check_plain_topic("/x").is_err());
        assert!(check_plain_topic("HUGZ").is_err());
        assert!(decode_topic(b"@abc").is_err());
        assert!(decode_topic(b"@a:x").is_err());
        assert!(decode_topic(b"@a/!x").is_err());
        assert!(decode_topic(&[0xff, 0xfe]).is_err());
        assert_eq!(
            encode_topic(&Address::Plain, ""),
            Err(TopicError::EmptyTopic)
        );
        assert!(encode_topic(&Address::Group(GroupPath::root()), "$x").is_err());
        let deep = GroupPath::parse(&vec!["x".repeat(60); 7].join("/")).unwrap();
        assert!(matches!(
            NodePath::new(deep, "n"),
            Err(TopicError::PathTooLong(_))
        ));
    }

    #[test]
    fn ancestors() {
        let g = GroupPath::parse("a/b").unwrap();
        let all: Vec<String> = g.ancestors_and_self().map(|g| g.to_string()).collect();
        assert_eq!(all, vec!["", "a", "a/b"]);
        assert!(g.is_within(&GroupPath::parse("a").unwrap()));
        assert!(!GroupPath::parse("ab")
            .unwrap()
            .is_within(&GroupPath::parse("a").unwrap()));
    }
}
