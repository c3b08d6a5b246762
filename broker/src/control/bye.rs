//! BYE: a node leaves before its heartbeats stop.

use super::Control;
use crate::metrics::Counters;

impl Control {
    /// Forgets the node on this connection (no reply: BYE has none).
    pub(super) fn bye(&mut self, identity: &[u8], c: &mut Counters) {
        if let Some(e) = self.presence.leave(identity, "bye") {
            c.nodes_left += 1;
            tracing::info!(node = %e.path, "node left");
        }
    }
}
