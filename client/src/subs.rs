//! The node's own subscription table: what it asked the broker for, and the
//! exact local match that decides whether a received event is delivered.
//!
//! ZeroMQ delivers the union of a socket's prefixes; a plain prefix such as ""
//! would also match addressed events for other nodes, so plain prefixes only
//! match plain topics here.

use canopy_schemas::topic::check_plain_topic;
use std::collections::HashMap;

#[derive(Debug, Clone, Copy)]
struct Entry {
    refs: usize,
    plain: bool,
}

/// Prefixes held, with reference counts (two user subscriptions may share a
/// prefix on the wire).
#[derive(Debug, Default)]
pub struct SubTable {
    entries: HashMap<Vec<u8>, Entry>,
}

impl SubTable {
    /// Distinct prefixes held on the wire.
    pub fn count(&self) -> usize {
        self.entries.len()
    }

    /// How many of `prefixes` are not held yet.
    pub fn new_count(&self, prefixes: &[(Vec<u8>, bool)]) -> usize {
        let mut seen = std::collections::HashSet::new();
        prefixes
            .iter()
            .filter(|(p, _)| !self.entries.contains_key(p) && seen.insert(p))
            .count()
    }

    /// Adds a reference; returns true when the prefix is new on the wire.
    pub fn add(&mut self, prefix: &[u8], plain: bool) -> bool {
        let entry = self
            .entries
            .entry(prefix.to_vec())
            .or_insert(Entry { refs: 0, plain });
        entry.refs += 1;
        entry.refs == 1
    }

    /// Drops a reference; returns true when the prefix left the wire.
    pub fn remove(&mut self, prefix: &[u8]) -> bool {
        match self.entries.get_mut(prefix) {
            Some(e) if e.refs > 1 => {
                e.refs -= 1;
                false
            }
            Some(_) => {
                self.entries.remove(prefix);
                true
            }
            None => false,
        }
    }

    /// True when an event with this topic frame is for us.
    pub fn matches(&self, topic: &[u8]) -> bool {
        let topic_is_plain = std::str::from_utf8(topic)
            .map(|t| check_plain_topic(t).is_ok())
            .unwrap_or(false);
        self.entries
            .iter()
            .any(|(p, e)| topic.starts_with(p) && (!e.plain || topic_is_plain))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_prefix_does_not_match_addressed_topics() {
        let mut t = SubTable::default();
        assert!(t.add(b"", true));
        assert!(t.matches(b"metrics"));
        assert!(!t.matches(b"@eu/:x"));
        assert!(!t.matches(b"HUGZ"));
        assert!(t.add(b"@eu/:", false));
        assert!(t.matches(b"@eu/:x"));
        assert!(!t.add(b"@eu/:", false));
        assert!(!t.remove(b"@eu/:"));
        assert!(t.remove(b"@eu/:"));
        assert!(!t.matches(b"@eu/:x"));
        assert_eq!(
            t.new_count(&[
                (b"".to_vec(), true),
                (b"a".to_vec(), true),
                (b"a".to_vec(), true)
            ]),
            1
        );
    }
}
