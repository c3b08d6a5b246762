//! The event plane: the forwarding hot path (XSUB → XPUB), subscriptions
//! (XPUB → XSUB and up to a parent), and heartbeats.

mod forward;
mod heartbeat;
mod subscriptions;

pub use forward::{EventLimits, Forwarder, Inbound, Upstream};
pub use heartbeat::send_hugz;
pub use subscriptions::{SubscriptionLimits, Subscriptions};

/// Subscription the XSUB holds from start to stop: the state key space
/// (CHP clients publish KVSET from plain PUB sockets).
pub const STANDING_SUBSCRIPTION: &[u8] = &[1, canopy_schemas::topic::STATE_MARK];
