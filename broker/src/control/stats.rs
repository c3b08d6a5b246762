//! STATS: the broker's counters and who it is.

use super::Control;
use crate::metrics::Counters;
use canopy_schemas::control::{StatsReply, StatsReport};
use canopy_schemas::Reply;

impl Control {
    /// Answers STATS (the asker counts as seen).
    pub(super) fn stats(&mut self, identity: &[u8], id: u64, c: &Counters) -> Reply {
        self.presence.touch(identity);
        Reply::Stats(StatsReply {
            id,
            report: self.report(c),
        })
    }

    /// The STATS report.
    pub fn report(&self, c: &Counters) -> StatsReport {
        StatsReport {
            broker_id: self.broker_id.clone(),
            epoch: self.epoch,
            uptime_s: self.started.elapsed().as_secs(),
            nodes: self.presence.len() as u64,
            counters: c.snapshot(),
        }
    }
}
