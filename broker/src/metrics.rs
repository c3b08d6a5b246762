//! Counters for everything that flows through, is dropped or is rejected,
//! and histograms of what takes time. Owned by the broker loop (no sharing
//! on the hot path); read by STATS and copied out for monitoring.

use std::collections::BTreeMap;

macro_rules! counters {
    ($($(#[doc = $doc:literal])* $name:ident),* $(,)?) => {
        /// The broker's counters; each field is named in PROTOCOL.md.
        #[derive(Debug, Default, Clone)]
        pub struct Counters {
            $($(#[doc = $doc])* pub $name: u64,)*
            /// Distributions (acknowledgement latency, snapshots, commits).
            pub histograms: Histograms,
        }

        impl Counters {
            /// Every counter by name, for STATS.
            pub fn snapshot(&self) -> BTreeMap<String, u64> {
                let mut out = BTreeMap::new();
                $(out.insert(stringify!($name).to_owned(), self.$name);)*
                out
            }
        }

        /// Every counter's name with its description (the doc comment), for
        /// the metrics' help text.
        pub const COUNTER_HELP: &[(&str, &str)] = &[
            $((stringify!($name), concat!($($doc),*)),)*
        ];
    };
}

/// Counters that are levels, not totals (exported as gauges).
pub const GAUGES: &[&str] = &[
    "subscriptions_active",
    "connections_open",
    "connections_handshaking",
    "link_up",
    "link_state_lag",
    "snapshots_streaming",
    "snapshots_waiting",
];

/// A histogram with fixed bucket bounds, owned by one thread (plain
/// integers: observing costs a binary search and two additions).
#[derive(Debug, Clone)]
pub struct Histogram {
    bounds: &'static [f64],
    /// Observations per bucket (not cumulative); the last is above every
    /// bound (+Inf).
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    /// An empty histogram over `bounds` (ascending upper bounds).
    pub fn new(bounds: &'static [f64]) -> Self {
        Histogram {
            bounds,
            counts: vec![0; bounds.len() + 1],
            sum: 0.0,
            count: 0,
        }
    }

    /// Records one observation.
    pub fn observe(&mut self, value: f64) {
        let bucket = self.bounds.partition_point(|b| *b < value);
        if let Some(n) = self.counts.get_mut(bucket) {
            *n = n.saturating_add(1);
        }
        self.sum += value;
        self.count = self.count.saturating_add(1);
    }

    /// `(upper bound, observations in that bucket)`; the last bound is
    /// `f64::MAX`, which the OpenMetrics encoder writes as `+Inf`.
    pub fn buckets(&self) -> Vec<(f64, u64)> {
        self.bounds
            .iter()
            .copied()
            .chain(std::iter::once(f64::MAX))
            .zip(self.counts.iter().copied())
            .collect()
    }

    /// Sum of all observations.
    pub fn sum(&self) -> f64 {
        self.sum
    }

    /// Number of observations.
    pub fn count(&self) -> u64 {
        self.count
    }
}

/// Seconds, from 50 µs to 10 s.
const LATENCY_BOUNDS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0,
];
/// Seconds, from 1 ms to 5 min.
const DURATION_BOUNDS: &[f64] = &[
    0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];
/// Changes per commit, 1 to the writer's batch cap.
const BATCH_BOUNDS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0, 8192.0,
];

/// The broker's histograms.
#[derive(Debug, Clone)]
pub struct Histograms {
    /// Seconds from a durable WRITE's arrival to its acknowledgement (after
    /// the commit).
    pub write_ack_seconds: Histogram,
    /// Seconds from a snapshot request to its KTHXBAI.
    pub snapshot_seconds: Histogram,
    /// Changes per commit to disk (group commit).
    pub commit_changes: Histogram,
    /// Seconds one commit to disk took (fsync included).
    pub commit_seconds: Histogram,
}

impl Default for Histograms {
    fn default() -> Self {
        Histograms {
            write_ack_seconds: Histogram::new(LATENCY_BOUNDS),
            snapshot_seconds: Histogram::new(DURATION_BOUNDS),
            commit_changes: Histogram::new(BATCH_BOUNDS),
            commit_seconds: Histogram::new(LATENCY_BOUNDS),
        }
    }
}

counters! {
    /// Events received on the XSUB and accepted.
    events_in,
    /// Events sent on the XPUB.
    events_out,
    /// Bytes of accepted events (all frames).
    event_bytes_in,
    /// Bytes sent on the XPUB for events.
    event_bytes_out,
    /// Events whose header arrived filled in by the broker (plain publishers).
    events_header_filled,
    /// Events rejected: not 2 or 3 frames.
    events_rejected_frames,
    /// Events rejected: larger than max_message_size.
    events_rejected_oversize,
    /// Events rejected: empty or over-long topic frame.
    events_rejected_topic,
    /// Events rejected: topic in a reserved space (system `$`, or HUGZ).
    events_rejected_reserved,
    /// Events rejected: malformed header frame.
    events_rejected_header,
    /// Events that failed to send on the XPUB.
    events_send_errors,
    /// Subscribe messages received on the XPUB.
    subscribes,
    /// Unsubscribe messages received on the XPUB.
    unsubscribes,
    /// Messages on the XPUB refused: malformed, over-long prefix, or over
    /// max_subscriptions_total.
    subscriptions_rejected,
    /// Subscriptions refused: the connection held
    /// max_subscriptions_per_connection prefixes.
    subscription_connection_limit_hits,
    /// Distinct subscription prefixes currently active (gauge).
    subscriptions_active,
    /// Control requests received on the ROUTER.
    control_requests,
    /// Control requests rejected as malformed, unknown or too large.
    control_rejected,
    /// Error replies sent.
    control_errors,
    /// HELLOs refused because of a protocol version mismatch.
    hello_version_mismatch,
    /// HELLOs refused because max_nodes was reached.
    nodes_limit_hits,
    /// HELLOs refused because of an invalid name or group.
    hello_invalid_name,
    /// Nodes that joined.
    nodes_joined,
    /// Nodes that left with BYE.
    nodes_left,
    /// Nodes removed after node_timeout_ms of silence.
    nodes_expired,
    /// Nodes replaced by a new HELLO with the same path.
    nodes_replaced,
    /// PINGs answered name_taken: the connection's node path was taken by
    /// another live connection (two nodes use one name).
    nodes_name_taken,
    /// PINGs from known nodes (answered with PONG or too_many_subscriptions).
    pings,
    /// PINGs refused because the node exceeded max_subscriptions.
    subscription_limit_hits,
    /// Sum of the drops nodes reported (sequence gaps they saw).
    drops_reported,
    /// HUGZ heartbeats sent.
    heartbeats_sent,
    /// ROUTER replies dropped: the peer was gone, or held replies for it
    /// exceeded 200,000.
    replies_dropped,
    /// CHP KVSETs applied.
    kvsets,
    /// CHP KVSETs rejected (frames, size, key, store, value, schema, limit).
    kvset_rejected,
    /// Acknowledged writes applied.
    writes,
    /// Acknowledged writes refused (each with an ERROR reply).
    writes_rejected,
    /// WRITES requests (each of their writes counts in `writes` or
    /// `writes_rejected` too).
    write_batches,
    /// Writes and KVSETs refused because a store limit was reached.
    store_limit_hits,
    /// Writes and KVSETs refused by a store's schema.
    schema_violations,
    /// State updates (KVPUB) broadcast.
    state_updates,
    /// Keys deleted because their TTL ran out.
    keys_expired,
    /// Snapshots requested (ICANHAZ? or SNAPSHOT).
    snapshots,
    /// Snapshot requests refused as malformed.
    snapshots_rejected,
    /// Snapshot requests dropped over max_snapshots_per_s.
    snapshots_rate_limited,
    /// KVSYNC messages sent.
    snapshot_keys_sent,
    /// Snapshots abandoned because the peer went away.
    snapshots_abandoned,
    /// Snapshot streams being sent now (gauge, refreshed every loop turn
    /// that streams): at most max_snapshot_streams of them send keys.
    snapshots_streaming,
    /// Snapshot requests waiting for a stream (gauge, same refresh): beyond
    /// max_snapshot_streams, in request order.
    snapshots_waiting,
    /// Snapshot requests that had to wait for a stream.
    snapshots_waited,
    /// Snapshot streams stopped because the same peer asked again for the
    /// same subtree.
    snapshots_superseded,
    /// One-level SNAPSHOTs answered `unchanged` without a KVSYNC: the
    /// replica already held the level (same history and lseq).
    snapshots_unchanged,
    /// Of those, answered `unchanged` across a crash: the replica held the
    /// level as the crashed run committed it (a history fork).
    snapshots_taken_over,
    /// Batches committed to disk.
    persist_commits,
    /// Batches that failed to commit.
    persist_failures,
    /// SEQS requests answered.
    seqs_requests,
    /// Backups taken (BACKUP answered with the data).
    backups,
    /// `$sys/` messages published (only while someone subscribes).
    sys_messages,
    /// `$sys/` messages not sent: a burst of presence changes overflowed the
    /// queue between two loop turns.
    sys_messages_dropped,
    /// GOODBYE messages sent to nodes at a clean stop.
    goodbyes_sent,
    /// TCP connections accepted on the three sockets.
    connections_accepted,
    /// TCP connections closed (including refused ones).
    connections_closed,
    /// Connections open now that completed their handshake (gauge,
    /// refreshed at each handshake and each heartbeat); what
    /// max_connections caps.
    connections_open,
    /// Connections open now still in their handshake (gauge, same
    /// refresh); bounded by handshake_timeout_ms, not by max_connections.
    connections_handshaking,
    /// Connections refused at the handshake: max_connections reached.
    connections_refused,
    /// Control requests refused: the connection had
    /// max_inflight_per_connection requests unanswered.
    requests_inflight_limited,
    /// Upstream link (child broker): 1 while joined to the parent (gauge).
    link_up,
    /// Handshakes with the parent that failed (CURVE refused or missing).
    link_handshake_failures,
    /// Link handshakes cut off before they finished (the parent went away
    /// mid-handshake); not refusals.
    link_handshake_interrupted,
    /// Events sent up to the parent.
    link_events_up,
    /// Bytes of events sent up.
    link_bytes_up,
    /// Events and KVSETs dropped: the link to the parent was full.
    link_drops_up,
    /// Events received from the parent and delivered below.
    link_events_down,
    /// Bytes of events received from the parent.
    link_bytes_down,
    /// Echoes of events sent up, dropped when they came back down.
    link_echoes_dropped,
    /// State updates (KVPUB) received from the parent.
    link_state_down,
    /// Messages from the parent that did not decode.
    link_rejected,
    /// Subscription changes sent up to the parent.
    link_subscriptions_forwarded,
    /// WRITEs relayed to the parent.
    link_writes_relayed,
    /// Relayed WRITEs the parent did not answer (link lost, parent restarted,
    /// or two node timeouts): answered `unavailable`, outcome unknown.
    link_writes_lost,
    /// WRITEs from below answered `unavailable` at once: the link to the
    /// parent was down or full.
    link_writes_refused,
    /// KVSETs relayed to the parent.
    link_kvsets_relayed,
    /// Times the mirror was (re)built from a snapshot of the parent.
    link_resyncs,
    /// The parent's sequence minus the mirror's (gauge, per heartbeat).
    link_state_lag,
    /// CURVE clients admitted by the allow-list.
    auth_allowed,
    /// CURVE clients refused (unknown key, other mechanism).
    auth_denied,
    /// Allow-list reloads (SIGHUP) that took effect.
    auth_reloads,
    /// Allow-list reloads that failed (the previous list stays).
    auth_reload_failures,
    /// Events refused by the publisher's ACL.
    acl_publish_denied,
    /// Subscriptions never applied because of the subscriber's ACL.
    acl_subscribe_denied,
    /// Snapshots answered empty because of the reader's ACL.
    acl_read_denied,
    /// WRITEs and KVSETs refused by the writer's ACL.
    acl_write_denied,
    /// STATS, NODES or STORES refused (no admin right).
    acl_admin_denied,
    /// HELLOs refused: node path not allowed for the identity.
    acl_join_denied,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_gauge_and_help_names_a_counter() {
        let names = Counters::default().snapshot();
        for gauge in GAUGES {
            assert!(names.contains_key(*gauge), "{gauge}");
        }
        assert_eq!(COUNTER_HELP.len(), names.len());
        assert!(COUNTER_HELP.iter().all(|(_, help)| !help.trim().is_empty()));
    }

    #[test]
    fn a_histogram_puts_each_value_in_the_first_bucket_that_holds_it() {
        let mut h = Histogram::new(&[1.0, 10.0]);
        for v in [0.5, 1.0, 5.0, 100.0] {
            h.observe(v);
        }
        assert_eq!(
            h.buckets(),
            vec![(1.0, 2), (10.0, 1), (f64::MAX, 1)],
            "upper bounds are inclusive"
        );
        assert_eq!(h.count(), 4);
        assert_eq!(h.sum(), 106.5);
    }
}
