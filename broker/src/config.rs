//! Broker configuration: an embedded default, an optional TOML file, and flags
//! that override the file (every flag has the same key in the file).

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Highest `max_topic_length` allowed: libzmq 4.3.5's SUB/XSUB trie (which
/// holds every prefix the broker forwards to its publishers) still recurses
/// once per byte when it resends or frees them, so prefix length is stack
/// depth.
pub const MAX_TOPIC_LENGTH_LIMIT: usize = 16 * 1024;

/// Everything the broker can be told. Keys are the TOML keys.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to bind the three sockets on.
    pub bind: String,
    /// Base port P: ROUTER on P, XPUB on P+1, XSUB on P+2.
    pub port: u16,
    /// Where the broker keeps its id (`broker-id`) and the state database of
    /// persistent stores (`state.redb`, with its disk format).
    pub data_dir: PathBuf,
    /// tracing filter, e.g. `info` or `canopy_broker=debug`.
    pub log_level: String,
    /// Largest event accepted, all frames together, in bytes.
    pub max_message_size: u64,
    /// Longest topic frame accepted, in bytes.
    pub max_topic_length: usize,
    /// Subscriptions one node may hold.
    pub max_subscriptions: u32,
    /// Distinct subscription prefixes the broker holds at once, all
    /// connections together; beyond it new prefixes are refused (counted).
    pub max_subscriptions_total: usize,
    /// Nodes the broker admits at once.
    pub max_nodes: usize,
    /// Largest control request (all frames) on the ROUTER, in bytes.
    pub max_control_size: usize,
    /// Messages queued per subscriber connection before the broker drops for
    /// it. The default (100,000, as a bare libzmq proxy is usually run) lets
    /// bursts through without loss; a subscriber that stops reading can hold
    /// up to about 55 MB of small events (about 185 MB of 1 KiB ones)
    /// before the broker drops for it: lower it for many slow subscribers.
    pub send_hwm: i32,
    /// Messages queued per publisher connection; beyond it ZeroMQ publishers
    /// drop (they never block).
    pub receive_hwm: i32,
    /// HUGZ interval, and the PING interval the broker asks nodes for.
    pub heartbeat_ms: u64,
    /// Silence after which a node is considered gone.
    pub node_timeout_ms: u64,
    /// Directory of the JSON Schema files stores name.
    pub schemas_dir: PathBuf,
    /// Snapshot requests (ICANHAZ? or SNAPSHOT) one connection may make per
    /// second, and in a burst; more are dropped (counted). 0 = no limit.
    pub max_snapshots_per_s: f64,
    /// Snapshot streams sent at once; later requests wait their turn, in
    /// order. With the ROUTER's per-peer queue this bounds what the broker
    /// holds queued for snapshots, however many nodes sync. 0 = no limit.
    pub max_snapshot_streams: usize,
    /// Longest state key (store, level and user key together), in bytes.
    pub max_key_length: usize,
    /// Subscription prefixes one connection may hold (raw SUB sockets and
    /// child broker links included; enforced by canopy's patched libzmq).
    pub max_subscriptions_per_connection: u32,
    /// The parent broker (`tcp://HOST:PORT`, its base port): this broker
    /// becomes a child in a tree of brokers.
    pub upstream: Option<String>,
    /// The parent's public key (its `.pub` file) when it runs CURVE.
    pub upstream_server_key: Option<PathBuf>,
    /// This broker's key pair for the parent (a `canopy keygen` `.key` file
    /// whose public key is in the parent's allow-list).
    pub upstream_key_file: Option<PathBuf>,
    /// Stores whose keys on disk are deleted at this start (`--drop-store`,
    /// a one-off operation, not a TOML key). Only stores that are not
    /// served (undeclared, or declared with `persist = false`).
    #[serde(skip)]
    #[schemars(skip)]
    pub drop_stores: Vec<String>,
    /// TCP connections that completed their handshake, open at once on the
    /// three sockets together (a node uses three); more are refused at the
    /// handshake, counted. Connections still in their handshake do not
    /// count: `handshake_timeout_ms` bounds them.
    pub max_connections: u64,
    /// The newest protocol version the broker speaks (default: the newest
    /// of this release). Hold a tree at an older version while its brokers
    /// are upgraded one at a time.
    pub protocol_max: u32,
    /// Longest a peer may take to finish its ZMTP handshake (CURVE and ZAP
    /// included) before the connection is closed, on every socket the
    /// broker binds or connects.
    pub handshake_timeout_ms: u64,
    /// Connections each listening port lets the kernel complete before the
    /// broker accepts them (`ZMQ_BACKLOG`; Linux caps it at
    /// `net.core.somaxconn`). After a restart every node reconnects at
    /// once; with libzmq's default of 100 the kernel dropped the rest, and
    /// TCP retried them only after 1, 3, 7, 15… s.
    pub listen_backlog: u32,
    /// Requests one ROUTER connection may have unanswered (waiting to be
    /// durable, snapshots queued, replies it has not read); more are refused.
    pub max_inflight_per_connection: usize,
    /// CURVE key pair of the broker (a `canopy keygen` .key file); with
    /// `allow_list`, turns CURVE on for all three sockets.
    pub curve_key_file: Option<PathBuf>,
    /// Clients admitted under CURVE: `IDENTITY Z85-PUBLIC-KEY` per line,
    /// re-read on SIGHUP.
    pub allow_list: Option<PathBuf>,
    /// Per-identity rules (`[acl.IDENTITY]`); needs CURVE. Empty: every
    /// admitted client may do everything.
    pub acl: std::collections::BTreeMap<String, crate::security::acl::AclConfig>,
    /// Stores beyond the built-in `default` (which a `[stores.default]` table
    /// may redefine).
    pub stores: std::collections::BTreeMap<String, crate::state::StoreConfig>,
    /// The monitoring HTTP server (`/metrics`, `/stats`, `/healthz`, ...):
    /// `ADDRESS:PORT`, or `off`. Default: 127.0.0.1 at the base port + 3,
    /// whatever `bind` says (metrics are not for the network unless asked).
    /// Port 0 picks a free port (the ready line names it).
    pub http: Option<String>,
    /// How often the broker publishes its stats on `$sys/<broker id>/stats`
    /// (when someone subscribes), in ms; 0 = never.
    pub sys_interval_ms: u64,
    /// Log format on stderr: `text` for people, `json` (one object per
    /// line) for machines.
    pub log_format: LogFormat,
    /// The opaque CHP key space (`[chp]`): keys starting with `/` that are
    /// not canonical canopy keys, values kept as bytes (PROTOCOL.md 10.3).
    /// Its budget (`max_keys`, `max_bytes`), `default_ttl_ms` and `persist`;
    /// no `schema`.
    pub chp: crate::state::StoreConfig,
}

/// How log lines are written.
#[derive(
    Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("log format {other:?}: text or json")),
        }
    }
}

/// A level, or tracing directives (`target=level`, comma-separated) whose
/// levels are valid. A bare word that is no level would be read by tracing
/// as a target name and silence every log, the CURVE warning included.
fn log_level_is_valid(filter: &str) -> bool {
    const LEVELS: [&str; 6] = ["error", "warn", "info", "debug", "trace", "off"];
    let level_ok = |l: &str| LEVELS.contains(&l.trim().to_ascii_lowercase().as_str());
    !filter.trim().is_empty()
        && filter
            .split(',')
            .all(|directive| match directive.rsplit_once('=') {
                Some((target, level)) => !target.trim().is_empty() && level_ok(level),
                None => level_ok(directive),
            })
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: "127.0.0.1".into(),
            port: canopy_schemas::DEFAULT_BASE_PORT,
            data_dir: PathBuf::from("canopy-data"),
            log_level: "info".into(),
            max_message_size: 1024 * 1024,
            max_topic_length: 1024,
            max_subscriptions: 1024,
            max_nodes: 10_000,
            max_subscriptions_total: 100_000,
            max_control_size: 64 * 1024,
            send_hwm: 100_000,
            receive_hwm: 100_000,
            heartbeat_ms: 1000,
            node_timeout_ms: 5000,
            schemas_dir: PathBuf::from("schemas"),
            max_key_length: 1024,
            max_snapshots_per_s: 100.0,
            max_snapshot_streams: 32,
            max_connections: 30_000,
            handshake_timeout_ms: 10_000,
            listen_backlog: 4096,
            protocol_max: canopy_schemas::PROTOCOL_VERSION,
            max_subscriptions_per_connection: 65_536,
            upstream: None,
            upstream_server_key: None,
            upstream_key_file: None,
            drop_stores: Vec::new(),
            max_inflight_per_connection: 10_000,
            stores: Default::default(),
            chp: crate::state::StoreConfig::opaque_default(),
            http: None,
            sys_interval_ms: 5000,
            log_format: LogFormat::Text,
            curve_key_file: None,
            allow_list: None,
            acl: Default::default(),
        }
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this schema.
    #[error("parsing {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The TOML error.
        source: toml::de::Error,
    },
    /// A value is out of range.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// Reads a TOML file; keys not in the file keep their defaults.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source,
        })
    }

    /// Checks ranges that would otherwise fail late or silently.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.to_owned()));
        if self.port == 0 || self.port > u16::MAX - 2 {
            return bad(
                "port must be a base port P from 1 to 65533 (the broker binds P, P+1 and P+2; \
                 port 0 would pick a random ROUTER port and bind ports 1 and 2)",
            );
        }
        match self.http.as_deref() {
            None if self.port > u16::MAX - 3 => {
                return bad("the default http port (base port + 3) is above 65535: set http")
            }
            None | Some("off") => {}
            Some(address) => {
                if address.parse::<std::net::SocketAddr>().is_err() {
                    return Err(ConfigError::Invalid(format!(
                        "http {address:?}: expected ADDRESS:PORT (e.g. 127.0.0.1:5559) or off"
                    )));
                }
            }
        }
        if self.max_message_size == 0 || self.max_topic_length == 0 {
            return bad("max_message_size and max_topic_length must be positive");
        }
        if !log_level_is_valid(&self.log_level) {
            return Err(ConfigError::Invalid(format!(
                "log_level {:?}: use error, warn, info, debug, trace or off, or tracing \
                 directives such as \"info,canopy_broker::federation=debug\"",
                self.log_level
            )));
        }
        if self.max_topic_length > MAX_TOPIC_LENGTH_LIMIT {
            return Err(ConfigError::Invalid(format!(
                "max_topic_length must be at most {MAX_TOPIC_LENGTH_LIMIT} \
                 (libzmq's SUB/XSUB trie recurses once per byte of a prefix)"
            )));
        }
        if self.chp.schema.is_some() {
            return bad("[chp] takes no schema: its values are opaque bytes");
        }
        if self.max_connections == 0 || self.max_inflight_per_connection == 0 {
            return bad("max_connections and max_inflight_per_connection must be positive");
        }
        if !canopy_schemas::ProtocolRange::CURRENT.contains(self.protocol_max) {
            return Err(ConfigError::Invalid(format!(
                "protocol_max {} is not a version this broker speaks ({})",
                self.protocol_max,
                canopy_schemas::ProtocolRange::CURRENT
            )));
        }
        if self.listen_backlog == 0 || self.listen_backlog > i32::MAX as u32 {
            return bad("listen_backlog must be between 1 and 2147483647");
        }
        if self.handshake_timeout_ms == 0 || self.handshake_timeout_ms > i32::MAX as u64 {
            return bad("handshake_timeout_ms must be between 1 and 2147483647");
        }
        if self.heartbeat_ms == 0 || self.node_timeout_ms <= self.heartbeat_ms {
            return bad("heartbeat_ms must be positive and node_timeout_ms larger than it");
        }
        if !self.acl.is_empty() && (self.curve_key_file.is_none() || self.allow_list.is_none()) {
            return bad(
                "acl rules need CURVE (curve_key_file and allow_list): identities come from it",
            );
        }
        if self.send_hwm < 0 || self.receive_hwm < 0 {
            return bad("high-water marks must not be negative");
        }
        Ok(())
    }

    /// The transport caps these limits imply (`security::transport`).
    pub fn transport_limits(&self) -> crate::security::transport::TransportLimits {
        crate::security::transport::TransportLimits::new(
            self.max_control_size,
            self.max_topic_length,
            self.max_message_size,
            self.handshake_timeout_ms,
        )
    }

    /// The protocol versions this broker speaks, as configured.
    pub fn protocols(&self) -> canopy_schemas::ProtocolRange {
        canopy_schemas::ProtocolRange {
            min: canopy_schemas::PROTOCOL_MIN,
            max: self.protocol_max,
        }
    }

    /// `tcp://BIND:PORT+offset`.
    pub fn endpoint(&self, offset: u16) -> String {
        format!("tcp://{}:{}", self.bind, self.port + offset)
    }

    /// Where the monitoring HTTP server listens; None when it is off.
    pub fn http_address(&self) -> Option<String> {
        match self.http.as_deref() {
            Some("off") => None,
            Some(address) => Some(address.to_owned()),
            None => Some(format!(
                "127.0.0.1:{}",
                self.port.saturating_add(canopy_schemas::HTTP_PORT_OFFSET)
            )),
        }
    }
}

/// The configuration reference (`docs/config.md`): every key of the file
/// (and so every flag), its type, default and meaning, generated from the
/// [`Config`] type's own doc comments and defaults.
pub fn reference() -> String {
    let mut out = String::from(
        "# canopy-broker configuration reference\n\n\
         Generated from `broker/src/config.rs` (`cargo test -p canopy-broker` fails when this \
         file is stale; `CANOPY_UPDATE_DOCS=1 cargo test -p canopy-broker reference` rewrites \
         it). Every top-level key is also a flag (`max_connections` is \
         `--max-connections`); flags override the file; unknown keys are refused.\n",
    );
    let defaults = serde_json::to_value(Config::default()).unwrap_or_default();
    let schema = schemars::schema_for!(Config);
    let root = schema.as_value();
    out.push_str("\n| key | type | default | meaning |\n| --- | --- | --- | --- |\n");
    table_rows(&mut out, root, &defaults);
    for (title, def, default) in [
        (
            "`[stores.NAME]`: one table per store",
            "StoreConfig",
            serde_json::to_value(crate::state::StoreConfig::default()).unwrap_or_default(),
        ),
        (
            "`[acl.IDENTITY]`: one table per CURVE identity",
            "AclConfig",
            serde_json::to_value(crate::security::acl::AclConfig::default()).unwrap_or_default(),
        ),
    ] {
        out.push_str(&format!(
            "\n## {title}\n\n| key | type | default | meaning |\n| --- | --- | --- | --- |\n"
        ));
        if let Some(def) = root.pointer(&format!("/$defs/{def}")) {
            table_rows(&mut out, def, &default);
        }
    }
    out
}

/// One row per property of `schema`, defaults from `defaults`.
fn table_rows(out: &mut String, schema: &serde_json::Value, defaults: &serde_json::Value) {
    let Some(properties) = schema.get("properties").and_then(|p| p.as_object()) else {
        return;
    };
    for (key, property) in properties {
        let description = property
            .get("description")
            .and_then(|d| d.as_str())
            .unwrap_or("")
            .replace('\n', " ");
        let default = match defaults.get(key) {
            None | Some(serde_json::Value::Null) => "none".to_owned(),
            Some(serde_json::Value::Object(m)) if m.is_empty() => "none".to_owned(),
            Some(v) => format!("`{v}`"),
        };
        out.push_str(&format!(
            "| `{key}` | {} | {default} | {description} |\n",
            type_name(property)
        ));
    }
}

/// A short name for a property's type.
fn type_name(property: &serde_json::Value) -> String {
    if property.get("$ref").is_some() || property.get("properties").is_some() {
        return "table (below)".to_owned();
    }
    if let Some(values) = property
        .get("additionalProperties")
        .filter(|v| v.is_object())
    {
        return format!("tables by name, each a {}", type_name(values));
    }
    match property.get("type") {
        Some(serde_json::Value::String(t)) if t == "array" => {
            let items = property.get("items").map(type_name);
            format!("list of {}", items.unwrap_or_else(|| "values".into()))
        }
        Some(serde_json::Value::String(t)) => t.clone(),
        Some(serde_json::Value::Array(ts)) => ts
            .iter()
            .filter_map(|t| t.as_str())
            .filter(|t| *t != "null")
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "value".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 14, item 11: `--log-level bogus` was accepted and hid every log.
    #[test]
    fn a_log_level_that_is_no_level_is_refused() {
        for good in [
            "info",
            "WARN",
            "off",
            "info,canopy_broker::federation=debug",
            "zmq=trace",
        ] {
            assert!(log_level_is_valid(good), "{good}");
        }
        for bad in ["bogus", "", "info,bogus", "canopy=loud", "=debug"] {
            assert!(!log_level_is_valid(bad), "{bad}");
            let c = Config {
                log_level: bad.into(),
                ..Config::default()
            };
            assert!(c.validate().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_checked_in_reference_is_generated_from_the_config_type() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/config.md");
        let fresh = reference();
        if std::env::var_os("CANOPY_UPDATE_DOCS").is_some() {
            std::fs::write(&path, &fresh).expect("write docs/config.md");
        }
        let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            checked_in == fresh,
            "docs/config.md is stale: run CANOPY_UPDATE_DOCS=1 cargo test -p canopy-broker reference"
        );
        for key in [
            "max_connections",
            "handshake_timeout_ms",
            "protocol_max",
            "persist",
            "admin",
        ] {
            assert!(fresh.contains(&format!("| `{key}` |")), "{key} missing");
        }
    }

    #[test]
    fn file_overrides_defaults_and_rejects_unknown_keys() {
        let c: Config = toml::from_str(
            "port = 7000\nmax_nodes = 3\n[stores.cfg]\nmax_keys = 10\npersist = false\n",
        )
        .unwrap();
        assert_eq!(c.stores["cfg"].max_keys, 10);
        assert!(!c.stores["cfg"].persist);
        assert_eq!(c.port, 7000);
        assert_eq!(c.max_nodes, 3);
        assert_eq!(c.bind, "127.0.0.1");
        assert!(toml::from_str::<Config>("prot = 1").is_err());
        assert!(Config {
            node_timeout_ms: 10,
            ..Config::default()
        }
        .validate()
        .is_err());
        Config::default().validate().unwrap();
    }
}
