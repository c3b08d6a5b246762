//! Wire types of canopy: everything that crosses a socket, and the naming rules
//! that keep events, state and heartbeats apart. No sockets live here.
//!
//! The normative description is `PROTOCOL.md` beside this crate; every constant
//! below is named there.

pub mod backup;
pub mod clock;
pub mod control;
pub mod endpoint;
pub mod fuzzing;
pub mod header;
pub mod keys;
pub mod state;
pub mod sync;
pub mod topic;

pub use control::{ControlError, ErrorCode, NodeInfo, Reply, Request, StatsReport};
pub use endpoint::{BaseEndpoint, EndpointError};
pub use header::{EventHeader, HeaderError};
pub use topic::{Address, GroupPath, NodePath, TopicError};

/// Newest version of the wire protocol described in `PROTOCOL.md` (section 1
/// lists what each version added). A peer's HELLO names the range it speaks;
/// WELCOME names the version chosen. (The event header has its own layout
/// version, [`header::HEADER_VERSION`].)
pub const PROTOCOL_VERSION: u32 = 2;

/// Oldest protocol version this release still speaks.
pub const PROTOCOL_MIN: u32 = 1;

/// The protocol versions one side speaks, oldest to newest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProtocolRange {
    /// Oldest version.
    pub min: u32,
    /// Newest version.
    pub max: u32,
}

impl ProtocolRange {
    /// What this release speaks.
    pub const CURRENT: ProtocolRange = ProtocolRange {
        min: PROTOCOL_MIN,
        max: PROTOCOL_VERSION,
    };

    /// The newest version both sides speak, if any.
    pub fn choose(self, theirs: ProtocolRange) -> Option<u32> {
        let chosen = self.max.min(theirs.max);
        (chosen >= self.min.max(theirs.min)).then_some(chosen)
    }

    /// True when `version` is in the range.
    pub fn contains(self, version: u32) -> bool {
        (self.min..=self.max).contains(&version)
    }
}

impl std::fmt::Display for ProtocolRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.min == self.max {
            write!(f, "{}", self.min)
        } else {
            write!(f, "{}..{}", self.min, self.max)
        }
    }
}

/// What a protocol version offers beyond version 1, as WELCOME's
/// `features` lists them (a client checks a feature, not a number).
pub fn protocol_features(version: u32) -> Vec<String> {
    let mut features = Vec::new();
    if version >= 2 {
        features.push("version-range".to_owned());
        features.push("goodbye".to_owned());
        features.push("snapshot-ids".to_owned());
        features.push("chp-opaque".to_owned());
        features.push("snapshot-resume".to_owned());
        features.push("snapshot-takeover".to_owned());
        features.push("write-batch".to_owned());
    }
    features
}

/// Default base port P: ROUTER on P, XPUB on P+1, XSUB on P+2.
pub const DEFAULT_BASE_PORT: u16 = 5556;

/// Offset of the XPUB (outbound) socket from the base port.
pub const PUB_PORT_OFFSET: u16 = 1;

/// Offset of the XSUB (inbound) socket from the base port.
pub const SUB_PORT_OFFSET: u16 = 2;

/// Offset of the monitoring HTTP server from the base port (its default;
/// on 127.0.0.1).
pub const HTTP_PORT_OFFSET: u16 = 3;

/// Topic frame of the CHP heartbeat sent on the XPUB every `heartbeat_ms`
/// (default one second).
pub const HUGZ: &[u8] = b"HUGZ";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_common_version_is_chosen() {
        let r = |min, max| ProtocolRange { min, max };
        assert_eq!(r(1, 2).choose(r(1, 1)), Some(1));
        assert_eq!(r(1, 2).choose(r(1, 5)), Some(2));
        assert_eq!(r(1, 1).choose(r(1, 2)), Some(1));
        assert_eq!(r(1, 2).choose(r(3, 4)), None);
        assert_eq!(r(2, 3).choose(r(1, 1)), None);
        assert_eq!(r(1, 2).to_string(), "1..2");
        assert_eq!(r(1, 1).to_string(), "1");
        assert!(protocol_features(1).is_empty());
        assert!(protocol_features(2).contains(&"version-range".to_owned()));
    }
}
