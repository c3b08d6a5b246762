//! The figures the loop hands to monitoring: a copy of its counters and
//! histograms and a view of its nodes, stores, links and subscriptions,
//! taken in one turn.

use crate::metrics::Histograms;
use canopy_schemas::control::{LinkReport, NodeInfo, StatsReport};
use canopy_schemas::state::StoreInfo;
use serde::Serialize;
use std::time::{Duration, Instant};

/// One set of figures, as of one loop turn.
#[derive(Debug, Clone)]
pub struct Figures {
    /// When the loop took them.
    pub taken: Instant,
    /// Which sections ([`super::want`]) are filled in.
    pub sections: u32,
    /// What STATS answers: id, epoch, uptime, node count, every counter.
    pub stats: StatsReport,
    /// The loop's histograms.
    pub histograms: Histograms,
    /// The broker's state sequence.
    pub seq: u64,
    /// Every store, as STORES lists them.
    pub stores: Vec<StoreInfo>,
    /// This broker's link to its parent, on a child.
    pub upstream: Option<UpstreamFigures>,
    /// The child brokers below this one.
    pub children: Vec<ChildLink>,
    /// Whether the broker is ready to serve.
    pub ready: Readiness,
    /// Each bound socket's connections.
    pub sockets: Vec<crate::security::connections::SocketConnections>,
    /// Every node, when asked ([`super::want::NODES`]).
    pub nodes: Vec<NodeInfo>,
    /// The subscription prefixes, when asked
    /// ([`super::want::SUBSCRIPTIONS`]).
    pub subscriptions: SubscriptionFigures,
}

impl Figures {
    /// True when every section in `sections` is filled in.
    pub fn holds(&self, sections: u32) -> bool {
        self.sections & sections == sections
    }

    /// How long ago the loop took them.
    pub fn age(&self) -> Duration {
        self.taken.elapsed()
    }
}

/// A child broker's link to its parent (what [`crate::federation`] reports).
pub type UpstreamFigures = crate::federation::LinkStatus;

/// A child broker below this one, from its PINGs.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ChildLink {
    /// Its node path.
    pub path: String,
    /// Milliseconds since its last PING.
    pub last_seen_ms_ago: u64,
    /// Its link counters (what it sends up, receives, lags).
    pub link: LinkReport,
}

/// Ready to serve: loaded, and on a child joined and synced with the parent.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Readiness {
    /// True when ready.
    pub ready: bool,
    /// Why not, when not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Readiness {
    /// Readiness of a root broker (no parent) or of a child's link.
    pub fn of(upstream: Option<&UpstreamFigures>) -> Self {
        let reason = match upstream {
            None => None,
            Some(u) if !u.joined => Some(format!("not joined to the parent {}", u.parent)),
            Some(u) if !u.synced => Some(format!(
                "the mirror of the parent {}'s state is syncing",
                u.parent
            )),
            Some(_) => None,
        };
        Readiness {
            ready: reason.is_none(),
            reason,
        }
    }
}

/// The subscription prefixes held, by how many connections hold each.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct SubscriptionFigures {
    /// Distinct prefixes held.
    pub distinct: usize,
    /// The prefixes held by the most connections, most first.
    pub top: Vec<PrefixCount>,
}

/// One subscription prefix.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PrefixCount {
    /// The prefix as text (invalid UTF-8 replaced; see `hex`).
    pub prefix: String,
    /// The prefix's bytes in hex, when they are not UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hex: Option<String>,
    /// Connections holding it.
    pub connections: u32,
}

impl PrefixCount {
    /// A prefix's entry.
    pub fn new(bytes: &[u8], connections: u32) -> Self {
        let (prefix, hex) = match std::str::from_utf8(bytes) {
            Ok(text) => (text.to_owned(), None),
            Err(_) => (
                String::from_utf8_lossy(bytes).into_owned(),
                Some(bytes.iter().map(|b| format!("{b:02x}")).collect()),
            ),
        };
        PrefixCount {
            prefix,
            hex,
            connections,
        }
    }
}
