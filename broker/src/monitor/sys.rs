//! `$sys/` topics: the broker's own messages on its XPUB, for observers
//! that subscribe like to any topic (the subscriber's ACL applies). Each is
//! `[topic, header, payload]` with a broker-filled header flagged
//! MessagePack, the payload one MessagePack map. Topics name the broker
//! (`$sys/<broker id>/...`), so an observer below a child broker, which also
//! receives its ancestors' `$sys/` messages, can tell them apart. Nothing is
//! built or sent while no subscription covers a topic.

use crate::control::changes::{Change, Changes};
use crate::events::Subscriptions;
use crate::metrics::Counters;
use canopy_schemas::control::StatsReport;
use serde::Serialize;
use std::time::{Duration, Instant};

/// Limit counters and the setting each one reports.
const LIMITS: &[(&str, &str)] = &[
    ("nodes_limit_hits", "max_nodes"),
    ("subscription_limit_hits", "max_subscriptions"),
    (
        "subscription_connection_limit_hits",
        "max_subscriptions_per_connection",
    ),
    ("subscriptions_rejected", "max_subscriptions_total"),
    ("store_limit_hits", "store max_keys / max_bytes"),
    ("connections_refused", "max_connections"),
    ("requests_inflight_limited", "max_inflight_per_connection"),
    ("snapshots_rate_limited", "max_snapshots_per_s"),
    ("events_rejected_oversize", "max_message_size"),
    ("events_rejected_topic", "max_topic_length"),
    ("link_drops_up", "send_hwm (link to the parent)"),
    ("replies_dropped", "held replies per peer"),
];

#[derive(Serialize)]
struct NodePayload<'a> {
    path: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_version: Option<&'a str>,
    reason: &'a str,
}

#[derive(Serialize)]
struct LinkPayload<'a> {
    parent: &'a str,
}

#[derive(Serialize)]
struct LimitPayload<'a> {
    limit: &'a str,
    counter: &'a str,
    /// Hits since the previous report.
    hits: u64,
    /// Hits since the broker started.
    total: u64,
}

/// The loop's `$sys/` publisher.
#[derive(Debug)]
pub struct SysTopics {
    /// `$sys/<broker id>/`.
    base: String,
    interval: Option<Duration>,
    next_stats: Instant,
    limits_seen: Vec<u64>,
    link_was_up: bool,
}

impl SysTopics {
    /// A publisher for `broker_id`, stats every `interval_ms` (0: never).
    pub fn new(broker_id: &str, interval_ms: u64) -> Self {
        SysTopics {
            base: format!("$sys/{broker_id}/"),
            interval: (interval_ms > 0).then(|| Duration::from_millis(interval_ms)),
            next_stats: Instant::now(),
            limits_seen: vec![0; LIMITS.len()],
            link_was_up: false,
        }
    }

    /// Sends `payload` on `$sys/<id>/<suffix>` if someone subscribes.
    fn send(
        &self,
        suffix: &str,
        payload: &impl Serialize,
        xpub: &zmq::Socket,
        subscriptions: &Subscriptions,
        c: &mut Counters,
    ) -> Result<(), zmq::Error> {
        let topic = format!("{}{suffix}", self.base);
        if !subscriptions.wanted(topic.as_bytes()) {
            return Ok(());
        }
        let Ok(body) = rmp_serde::to_vec_named(payload) else {
            c.sys_messages_dropped += 1;
            return Ok(());
        };
        let mut header = canopy_schemas::header::broker_filled(canopy_schemas::clock::unix_ns());
        header[2] |= canopy_schemas::header::FLAG_MSGPACK;
        xpub.send(topic.as_bytes(), zmq::SNDMORE | zmq::DONTWAIT)?;
        xpub.send(&header[..], zmq::SNDMORE)?;
        xpub.send(body, 0)?;
        c.sys_messages += 1;
        Ok(())
    }

    /// Each loop turn: what presence recorded.
    pub fn on_turn(
        &mut self,
        queue: &mut Changes,
        xpub: &zmq::Socket,
        subscriptions: &Subscriptions,
        c: &mut Counters,
    ) -> Result<(), zmq::Error> {
        c.sys_messages_dropped += std::mem::take(&mut queue.dropped);
        let events: Vec<Change> = queue.drain().collect();
        for event in &events {
            let (suffix, payload) = match event {
                Change::Joined {
                    path,
                    client_version,
                    reason,
                } => (
                    "node/joined",
                    NodePayload {
                        path,
                        client_version: Some(client_version),
                        reason,
                    },
                ),
                Change::Left { path, reason } => (
                    "node/left",
                    NodePayload {
                        path,
                        client_version: None,
                        reason,
                    },
                ),
                Change::ChildUp { path } => (
                    "child/up",
                    NodePayload {
                        path,
                        client_version: None,
                        reason: "ping",
                    },
                ),
                Change::ChildDown { path, reason } => (
                    "child/down",
                    NodePayload {
                        path,
                        client_version: None,
                        reason,
                    },
                ),
            };
            self.send(suffix, &payload, xpub, subscriptions, c)?;
        }
        Ok(())
    }

    /// True when the stats are due now and someone would receive them
    /// (the caller builds them only then); starts the next interval.
    pub fn stats_due(&mut self, subscriptions: &Subscriptions) -> bool {
        let Some(every) = self.interval else {
            return false;
        };
        let now = Instant::now();
        if now < self.next_stats {
            return false;
        }
        self.next_stats = now + every;
        subscriptions.wanted(format!("{}stats", self.base).as_bytes())
    }

    /// Each heartbeat: the stats when [`Self::stats_due`] said so, limits
    /// hit since the last beat, and the link to the parent going up or down.
    pub fn on_beat(
        &mut self,
        stats: Option<StatsReport>,
        parent: Option<&str>,
        xpub: &zmq::Socket,
        subscriptions: &Subscriptions,
        c: &mut Counters,
    ) -> Result<(), zmq::Error> {
        if let Some(parent) = parent {
            let up = c.link_up == 1;
            if up != self.link_was_up {
                self.link_was_up = up;
                let suffix = if up { "link/up" } else { "link/down" };
                self.send(suffix, &LinkPayload { parent }, xpub, subscriptions, c)?;
            }
        }
        let totals = c.snapshot();
        for (i, (counter, limit)) in LIMITS.iter().enumerate() {
            let total = totals.get(*counter).copied().unwrap_or(0);
            let seen = self.limits_seen.get(i).copied().unwrap_or(0);
            if total > seen {
                if let Some(s) = self.limits_seen.get_mut(i) {
                    *s = total;
                }
                let payload = LimitPayload {
                    limit,
                    counter,
                    hits: total - seen,
                    total,
                };
                self.send("limit", &payload, xpub, subscriptions, c)?;
            }
        }
        if let Some(stats) = stats {
            self.send("stats", &stats, xpub, subscriptions, c)?;
        }
        Ok(())
    }
}
