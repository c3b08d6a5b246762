//! Which nodes are present: joined with HELLO, kept alive by PING, gone after a
//! configurable silence or a BYE.

use super::changes::{Change, Changes};
use canopy_schemas::control::NodeInfo;
use canopy_schemas::{GroupPath, NodePath};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A node the broker has heard from.
#[derive(Debug, Clone)]
pub struct NodeEntry {
    /// Its full path.
    pub path: NodePath,
    /// Software version it reported.
    pub client_version: String,
    /// When it said hello.
    pub joined: Instant,
    /// When the broker last heard from it.
    pub last_seen: Instant,
    /// Drops it last reported.
    pub dropped: u64,
    /// Subscriptions it last reported.
    pub subscriptions: u32,
    /// A child broker's link counters, from its last PING.
    pub link: Option<canopy_schemas::control::LinkReport>,
    /// The protocol version chosen at its HELLO.
    pub protocol: u32,
}

/// Outcome of a join.
#[derive(Debug, PartialEq, Eq)]
pub enum Joined {
    /// A new node.
    New,
    /// The same path joined again from another connection (a restarted node);
    /// the old entry was dropped.
    Replaced,
    /// The same connection said hello again.
    Again,
}

/// Connections whose node path was taken remembered at most (oldest first
/// forgotten).
const MAX_TAKEN: usize = 10_000;

/// Nodes keyed by their ROUTER routing id, with an index by path.
#[derive(Debug, Default)]
pub struct Presence {
    by_identity: HashMap<Vec<u8>, NodeEntry>,
    by_path: HashMap<NodePath, Vec<u8>>,
    /// Connections replaced by another that joined under their path, so
    /// their next PING is told (name_taken) instead of invited to rejoin.
    taken: HashMap<Vec<u8>, NodePath>,
    taken_order: std::collections::VecDeque<Vec<u8>>,
    /// Joins, leaves and child links coming up or down, for `$sys/`.
    pub sys: Changes,
}

impl Presence {
    /// Routing ids of the nodes that joined at `version` or newer.
    pub fn speaking_at_least(&self, version: u32) -> Vec<Vec<u8>> {
        self.by_identity
            .iter()
            .filter(|(_, e)| e.protocol >= version)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Nodes present.
    pub fn len(&self) -> usize {
        self.by_identity.len()
    }

    /// True when this connection or this path is already known, so a HELLO
    /// from it does not need a free slot.
    pub fn knows(&self, identity: &[u8], path: &NodePath) -> bool {
        self.by_identity.contains_key(identity) || self.by_path.contains_key(path)
    }

    /// Records a HELLO.
    pub fn join(
        &mut self,
        identity: &[u8],
        path: NodePath,
        client_version: String,
        protocol: u32,
    ) -> Joined {
        let now = Instant::now();
        let mut outcome = Joined::New;
        // A node reports its drop total since it started; a rejoin keeps the
        // total already accounted for so it is not counted twice.
        let mut dropped = 0;
        if let Some(old) = self.by_identity.remove(identity) {
            self.by_path.remove(&old.path);
            if old.path == path {
                dropped = old.dropped;
                outcome = Joined::Again;
            }
        }
        if let Some(old_identity) = self.by_path.remove(&path) {
            if let Some(old) = self.by_identity.remove(&old_identity) {
                dropped = old.dropped;
            }
            if old_identity != identity {
                self.remember_taken(old_identity, path.clone());
            }
            outcome = Joined::Replaced;
        }
        let reason = match outcome {
            Joined::New => Some("hello"),
            Joined::Replaced => Some("replaced"),
            Joined::Again => None,
        };
        if let Some(reason) = reason {
            self.sys.push(Change::Joined {
                path: path.to_string(),
                client_version: client_version.clone(),
                reason,
            });
        }
        // A connection that joins again on its own is no longer "taken".
        self.taken.remove(identity);
        self.by_path.insert(path.clone(), identity.to_vec());
        self.by_identity.insert(
            identity.to_vec(),
            NodeEntry {
                path,
                client_version,
                joined: now,
                last_seen: now,
                dropped,
                subscriptions: 0,
                link: None,
                protocol,
            },
        );
        outcome
    }

    fn remember_taken(&mut self, identity: Vec<u8>, path: NodePath) {
        if self.taken_order.len() >= MAX_TAKEN {
            if let Some(oldest) = self.taken_order.pop_front() {
                self.taken.remove(&oldest);
            }
        }
        self.taken_order.push_back(identity.clone());
        self.taken.insert(identity, path);
    }

    /// The path another connection took from this one, while that other
    /// connection still holds it. Once the taker is gone (it expired, left,
    /// or was a ghost: a dead process's HELLO read late), this one may join
    /// again and is forgotten here.
    pub fn taken_from(&mut self, identity: &[u8]) -> Option<NodePath> {
        let path = self.taken.get(identity)?.clone();
        let held_by_other = self
            .by_path
            .get(&path)
            .is_some_and(|holder| holder.as_slice() != identity);
        if held_by_other {
            Some(path)
        } else {
            self.taken.remove(identity);
            None
        }
    }

    /// The node on this connection, marked as just seen.
    pub fn touch(&mut self, identity: &[u8]) -> Option<&mut NodeEntry> {
        let entry = self.by_identity.get_mut(identity)?;
        entry.last_seen = Instant::now();
        Some(entry)
    }

    /// Removes the node on this connection (`reason`: `bye` or `expired`).
    pub fn leave(&mut self, identity: &[u8], reason: &'static str) -> Option<NodeEntry> {
        let entry = self.by_identity.remove(identity)?;
        self.by_path.remove(&entry.path);
        let path = entry.path.to_string();
        if entry.link.is_some() {
            self.sys.push(Change::ChildDown {
                path: path.clone(),
                reason,
            });
        }
        self.sys.push(Change::Left { path, reason });
        Some(entry)
    }

    /// Removes every node silent for longer than `timeout`; returns them.
    pub fn expire(&mut self, timeout: Duration) -> Vec<NodeEntry> {
        let now = Instant::now();
        let stale: Vec<Vec<u8>> = self
            .by_identity
            .iter()
            .filter(|(_, e)| now.duration_since(e.last_seen) >= timeout)
            .map(|(id, _)| id.clone())
            .collect();
        stale
            .iter()
            .filter_map(|id| self.leave(id, "expired"))
            .collect()
    }

    /// The child brokers (nodes whose PINGs carry a link report): path,
    /// report, and milliseconds since last heard; sorted by path.
    pub fn children(&self) -> Vec<(String, canopy_schemas::control::LinkReport, u64)> {
        let now = Instant::now();
        let mut out: Vec<_> = self
            .by_identity
            .values()
            .filter_map(|e| {
                let link = e.link.clone()?;
                let ago = now.duration_since(e.last_seen).as_millis();
                Some((
                    e.path.to_string(),
                    link,
                    u64::try_from(ago).unwrap_or(u64::MAX),
                ))
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Nodes within `group` (all when `None`), sorted by path.
    pub fn list(&self, group: Option<&GroupPath>) -> Vec<NodeInfo> {
        let now = Instant::now();
        let mut out: Vec<NodeInfo> = self
            .by_identity
            .values()
            .filter(|e| group.is_none_or(|g| e.path.group.is_within(g)))
            .map(|e| NodeInfo {
                path: e.path.to_string(),
                group: e.path.group.to_string(),
                name: e.path.name.clone(),
                client_version: e.client_version.clone(),
                last_seen_ms_ago: now.duration_since(e.last_seen).as_millis() as u64,
                connected_ms: now.duration_since(e.joined).as_millis() as u64,
                dropped: e.dropped,
                subscriptions: e.subscriptions,
                link: e.link.clone(),
            })
            .collect();
        out.sort_by(|a, b| a.path.cmp(&b.path));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_name_is_free_again_once_the_taker_is_gone() {
        let path = NodePath::new(GroupPath::parse("g").unwrap(), "n").unwrap();
        let mut p = Presence::default();
        p.join(b"live", path.clone(), String::new(), 2);
        // A dead process's HELLO, read late, takes the name.
        p.join(b"ghost", path.clone(), String::new(), 2);
        assert_eq!(p.taken_from(b"live"), Some(path.clone()));
        // The ghost expires (or leaves): the live node may join again.
        p.leave(b"ghost", "bye");
        assert_eq!(p.taken_from(b"live"), None);
        assert_eq!(p.taken_from(b"live"), None, "forgotten");
    }

    #[test]
    fn join_replace_leave_expire() {
        let mut p = Presence::default();
        let a = NodePath::parse("eu/n1").unwrap();
        assert_eq!(p.join(b"x", a.clone(), "v".into(), 2), Joined::New);
        assert_eq!(p.join(b"x", a.clone(), "v".into(), 2), Joined::Again);
        assert_eq!(p.join(b"y", a.clone(), "v".into(), 2), Joined::Replaced);
        assert_eq!(p.len(), 1);
        assert!(p.touch(b"x").is_none());
        p.join(b"z", NodePath::parse("us/n2").unwrap(), "v".into(), 2);
        let eu = GroupPath::parse("eu").unwrap();
        assert_eq!(p.list(Some(&eu)).len(), 1);
        assert_eq!(p.list(None).len(), 2);
        assert_eq!(p.expire(Duration::from_secs(60)).len(), 0);
        assert_eq!(p.expire(Duration::ZERO).len(), 2);
        assert_eq!(p.len(), 0);
    }
}
