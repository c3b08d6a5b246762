//! What the loop hands to monitoring: figures when the HTTP thread asks,
//! `$sys/` messages each turn and each heartbeat.

use super::{Broker, BrokerError, ZmqContext};
use crate::events::Subscriptions;
use crate::monitor::{want, ChildLink, Figures, PrefixCount, Readiness, SubscriptionFigures};
use std::time::Instant;

/// Subscription prefixes copied out at most (the HTTP side serves a top).
const TOP_PREFIXES: usize = 10_000;

impl Broker {
    /// Each turn: figures for the HTTP thread if it asked (one atomic load
    /// when not), and the presence changes on `$sys/`.
    pub(super) fn monitoring_turn(
        &mut self,
        subscriptions: &Subscriptions,
    ) -> Result<(), BrokerError> {
        if let Some(shared) = &self.monitor {
            let sections = shared.take_wanted();
            if sections != 0 {
                let shared = std::sync::Arc::clone(shared);
                shared.publish(self.figures(sections, subscriptions));
            }
        }
        if !self.control.presence.sys.is_empty() {
            self.sys
                .on_turn(
                    &mut self.control.presence.sys,
                    &self.xpub,
                    subscriptions,
                    &mut self.counters,
                )
                .ctx(|| "$sys/ presence".into())?;
        }
        Ok(())
    }

    /// Each heartbeat: `$sys/` stats, limits and the link to the parent.
    pub(super) fn monitoring_beat(
        &mut self,
        subscriptions: &Subscriptions,
    ) -> Result<(), BrokerError> {
        let stats = self
            .sys
            .stats_due(subscriptions)
            .then(|| self.control.report(&self.counters));
        self.sys
            .on_beat(
                stats,
                self.config.upstream.as_deref(),
                &self.xpub,
                subscriptions,
                &mut self.counters,
            )
            .ctx(|| "$sys/ heartbeat".into())
    }

    /// The figures of this turn, with the sections asked for.
    fn figures(&mut self, sections: u32, subscriptions: &Subscriptions) -> Figures {
        // Connection counts as of now (monitor events queue between
        // refreshes); also refreshes the connection gauges.
        self.zap.connections.refresh(&mut self.counters);
        let upstream = self.uplink.as_ref().map(|l| l.status());
        let children = self
            .control
            .presence
            .children()
            .into_iter()
            .map(|(path, link, last_seen_ms_ago)| ChildLink {
                path,
                last_seen_ms_ago,
                link,
            })
            .collect();
        let nodes = if sections & want::NODES != 0 {
            self.control.presence.list(None)
        } else {
            Vec::new()
        };
        let subscriptions = if sections & want::SUBSCRIPTIONS != 0 {
            let (distinct, top) = subscriptions.top(TOP_PREFIXES);
            SubscriptionFigures {
                distinct,
                top: top.iter().map(|(p, n)| PrefixCount::new(p, *n)).collect(),
            }
        } else {
            SubscriptionFigures::default()
        };
        Figures {
            taken: Instant::now(),
            sections: sections | want::BASE,
            stats: self.control.report(&self.counters),
            histograms: self.counters.histograms.clone(),
            seq: self.state.engine.seq(),
            stores: self.state.engine.stores_info(),
            ready: Readiness::of(upstream.as_ref()),
            upstream,
            children,
            sockets: self.zap.connections.per_socket(),
            nodes,
            subscriptions,
        }
    }
}
