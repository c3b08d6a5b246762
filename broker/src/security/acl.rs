//! Per-identity access control. Identities are the names the CURVE
//! allow-list gives keys (the connection's ZAP User-Id). Rules are prefixes
//! in wire form: topic frames for events (`@eu/`, `metrics.`), keys for state
//! (`/default/eu/`). A request is allowed when its topic, subscription prefix,
//! key or subtree starts with one of the identity's prefixes, so a rule can
//! only be narrowed, never widened, by a shorter prefix.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// One identity's rules (`[acl.IDENTITY]` in the TOML file).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct AclConfig {
    /// Topic-frame prefixes it may publish to.
    pub publish: Vec<String>,
    /// Topic-frame prefixes it may subscribe to (HUGZ is always allowed).
    pub subscribe: Vec<String>,
    /// State key prefixes it may read (snapshots, state subscriptions).
    pub read: Vec<String>,
    /// State key prefixes it may write (WRITE, KVSET).
    pub write: Vec<String>,
    /// Node path prefixes (`group/name`) it may join as.
    pub nodes: Vec<String>,
    /// Whether it may use STATS, NODES and STORES.
    pub admin: bool,
}

fn any_prefix(rules: &[String], value: &[u8]) -> bool {
    rules.iter().any(|r| value.starts_with(r.as_bytes()))
}

impl AclConfig {
    /// May publish an event with this topic frame.
    pub fn may_publish(&self, topic: &[u8]) -> bool {
        any_prefix(&self.publish, topic)
    }

    /// May hold this subscription (state prefixes need read rights).
    pub fn may_subscribe(&self, prefix: &[u8]) -> bool {
        if prefix == canopy_schemas::HUGZ {
            return true;
        }
        if prefix.first() == Some(&canopy_schemas::topic::STATE_MARK) {
            return any_prefix(&self.read, prefix);
        }
        any_prefix(&self.subscribe, prefix)
    }

    /// May read this state subtree.
    pub fn may_read(&self, subtree: &str) -> bool {
        any_prefix(&self.read, subtree.as_bytes())
    }

    /// May write this state key (or key prefix).
    pub fn may_write(&self, key: &str) -> bool {
        any_prefix(&self.write, key.as_bytes())
    }

    /// May join as this node path.
    pub fn may_join(&self, node_path: &str) -> bool {
        any_prefix(&self.nodes, node_path.as_bytes())
    }
}

/// Every identity's rules. Identities without an entry may do nothing but
/// receive heartbeats.
#[derive(Debug, Default)]
pub struct Acls {
    rules: HashMap<String, AclConfig>,
    none: AclConfig,
}

impl Acls {
    /// Builds the table; `None` when no rules are configured (everything allowed).
    pub fn new(config: &BTreeMap<String, AclConfig>) -> Option<Acls> {
        if config.is_empty() {
            return None;
        }
        Some(Acls {
            rules: config.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            none: AclConfig::default(),
        })
    }

    /// The rules of a connection's identity (none for unknown or missing).
    pub fn of(&self, identity: Option<&str>) -> &AclConfig {
        identity
            .and_then(|i| self.rules.get(i))
            .unwrap_or(&self.none)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_only_narrow() {
        let acl = AclConfig {
            publish: vec!["@eu/".into()],
            subscribe: vec!["@eu/".into()],
            read: vec!["/default/eu/".into()],
            write: vec!["/default/eu/fra/".into()],
            nodes: vec!["eu/".into()],
            admin: false,
        };
        assert!(acl.may_publish(b"@eu/fra/:t"));
        assert!(!acl.may_publish(b"@us/:t"));
        assert!(!acl.may_publish(b"metrics"));
        assert!(acl.may_subscribe(b"@eu/:"));
        assert!(!acl.may_subscribe(b"@"), "a wider prefix is refused");
        assert!(!acl.may_subscribe(b""));
        assert!(acl.may_subscribe(b"HUGZ"));
        assert!(acl.may_subscribe(b"/default/eu/:"));
        assert!(!acl.may_subscribe(b"/default/:"));
        assert!(acl.may_read("/default/eu/fra/:"));
        assert!(acl.may_write("/default/eu/fra/:k"));
        assert!(!acl.may_write("/default/eu/:k"));
        assert!(acl.may_join("eu/fra/s1"));
        assert!(!acl.may_join("us/s1"));
        let table = Acls::new(&BTreeMap::from([("alice".to_owned(), acl)])).unwrap();
        assert!(table.of(Some("alice")).may_join("eu/x"));
        assert!(!table.of(Some("mallory")).may_subscribe(b"@eu/:"));
        assert!(!table.of(None).may_publish(b"@eu/:t"));
        assert!(Acls::new(&BTreeMap::new()).is_none());
    }
}
