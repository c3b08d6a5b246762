//! Counters for everything that flows through, is dropped or is rejected.
//! Owned by the broker loop (no sharing on the hot path); read by STATS.

use std::collections::BTreeMap;

macro_rules! counters {
    ($($(#[doc = $doc:literal])* $name:ident),* $(,)?) => {
        /// The broker's counters; each field is named in PROTOCOL.md.
        #[derive(Debug, Default, Clone)]
        pub struct Counters {
            $($(#[doc = $doc])* pub $name: u64,)*
        }

        impl Counters {
            /// Every counter by name, for STATS.
            pub fn snapshot(&self) -> BTreeMap<String, u64> {
                let mut out = BTreeMap::new();
                $(out.insert(stringify!($name).to_owned(), self.$name);)*
                out
            }
        }
    };
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
    /// Snapshot streams stopped because the same peer asked again for the
    /// same subtree.
    snapshots_superseded,
    /// Batches committed to disk.
    persist_commits,
    /// Batches that failed to commit.
    persist_failures,
    /// SEQS requests answered.
    seqs_requests,
    /// Backups taken (BACKUP answered with the data).
    backups,
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
