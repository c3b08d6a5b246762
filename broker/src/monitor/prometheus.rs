//! `/metrics`: the figures in the OpenMetrics text format (which Prometheus
//! scrapes), encoded by prometheus-client. Every STATS counter is exported:
//! totals as counters (`canopy_<name>_total`), levels as gauges, the
//! rejections and ACL refusals as one family each with a label; per store,
//! per child link and per HTTP endpoint with labels; histograms for
//! acknowledgement latency, snapshots and commits; the process's memory,
//! CPU and descriptors under Prometheus' usual `process_` names.

use super::figures::Figures;
use super::process::ProcessFigures;
use crate::metrics::{Histogram, COUNTER_HELP, GAUGES};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};
use std::collections::BTreeMap;
use std::fmt::Error;
use std::sync::Arc;

/// The content type of what [`encode`] writes.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Label values as the text format allows them unescaped (node paths and
/// store names never hold these; a stray one must not break the scrape).
fn label(value: &str) -> String {
    value
        .chars()
        .map(|c| {
            if matches!(c, '"' | '\\' | '\n') {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// One metric family: its samples, one per label set.
struct Family {
    /// The name before the unit suffix.
    name: String,
    kind: MetricType,
    unit: Option<Unit>,
    help: String,
    samples: Vec<(Vec<(&'static str, String)>, Value)>,
}

/// A sample's value: counts stay integers in the text.
#[derive(Debug, Clone, Copy)]
enum Value {
    Count(u64),
    Real(f64),
}

impl From<u64> for Value {
    fn from(n: u64) -> Self {
        Value::Count(n)
    }
}

impl From<f64> for Value {
    fn from(x: f64) -> Self {
        Value::Real(x)
    }
}

fn encode_value(
    e: &mut prometheus_client::encoding::MetricEncoder,
    kind: MetricType,
    value: Value,
) -> Result<(), Error> {
    match (kind, value) {
        (MetricType::Counter, Value::Count(n)) => {
            e.encode_counter::<NoLabelSet, u64, u64>(&n, None)
        }
        (MetricType::Counter, Value::Real(x)) => e.encode_counter::<NoLabelSet, f64, f64>(&x, None),
        (_, Value::Count(n)) => e.encode_gauge(&n),
        (_, Value::Real(x)) => e.encode_gauge(&x),
    }
}

/// Where a STATS counter goes: family name, label, unit.
fn family_of(counter: &str) -> (String, Option<(&'static str, String)>, Option<Unit>) {
    if let Some(reason) = counter.strip_prefix("events_rejected_") {
        return (
            "canopy_events_rejected".into(),
            Some(("reason", reason.into())),
            None,
        );
    }
    if let Some(action) = counter
        .strip_prefix("acl_")
        .and_then(|rest| rest.strip_suffix("_denied"))
    {
        return (
            "canopy_acl_denied".into(),
            Some(("action", action.into())),
            None,
        );
    }
    let bytes = match counter {
        "event_bytes_in" => Some("events_in"),
        "event_bytes_out" => Some("events_out"),
        "link_bytes_up" => Some("link_events_up"),
        "link_bytes_down" => Some("link_events_down"),
        _ => None,
    };
    match bytes {
        Some(base) => (format!("canopy_{base}"), None, Some(Unit::Bytes)),
        None => (format!("canopy_{counter}"), None, None),
    }
}

/// Help of the labelled families (their counters' own help is per label).
fn family_help(name: &str) -> Option<&'static str> {
    match name {
        "canopy_events_rejected" => {
            Some("Events dropped at the XSUB by the check that failed (PROTOCOL.md 3.1).")
        }
        "canopy_acl_denied" => {
            Some("Requests refused by the identity's ACL, by what was asked (PROTOCOL.md 14.1).")
        }
        _ => None,
    }
}

/// The families built from one set of figures.
struct Families(BTreeMap<String, Family>);

impl Families {
    fn add(
        &mut self,
        name: &str,
        kind: MetricType,
        unit: Option<Unit>,
        help: &str,
        labels: Vec<(&'static str, String)>,
        value: impl Into<Value>,
    ) {
        // Keyed by the full name: `canopy_events_in` (a count) and
        // `canopy_events_in` in bytes are two families.
        let key = match &unit {
            Some(u) => format!("{name}_{}", u.as_str()),
            None => name.to_owned(),
        };
        self.0
            .entry(key)
            .or_insert_with(|| Family {
                name: name.to_owned(),
                kind,
                unit,
                help: help.to_owned(),
                samples: Vec::new(),
            })
            .samples
            .push((labels, value.into()));
    }

    fn counter(&mut self, name: &str, help: &str, labels: Vec<(&'static str, String)>, v: u64) {
        self.add(name, MetricType::Counter, None, help, labels, v);
    }

    fn gauge(
        &mut self,
        name: &str,
        help: &str,
        labels: Vec<(&'static str, String)>,
        v: impl Into<Value>,
    ) {
        self.add(name, MetricType::Gauge, None, help, labels, v);
    }
}

/// Everything one scrape shows.
#[derive(Debug)]
struct Scrape {
    figures: Arc<Figures>,
    process: ProcessFigures,
    http: Vec<Answered>,
    http_rejected: Vec<(&'static str, u64)>,
    version: &'static str,
    libzmq: String,
    curve: bool,
}

impl Scrape {
    fn families(&self) -> Families {
        let f = &self.figures;
        let mut out = Families(BTreeMap::new());
        for (name, value) in &f.stats.counters {
            let help = COUNTER_HELP
                .iter()
                .find(|(n, _)| n == name)
                .map_or("", |(_, h)| h.trim());
            if GAUGES.contains(&name.as_str()) {
                out.add(
                    &format!("canopy_{name}"),
                    MetricType::Gauge,
                    None,
                    help,
                    vec![],
                    *value,
                );
                continue;
            }
            let (family, label, unit) = family_of(name);
            let help = family_help(&family).unwrap_or(help);
            out.add(
                &family,
                MetricType::Counter,
                unit,
                help,
                label.into_iter().collect(),
                *value,
            );
        }
        out.gauge("canopy_nodes", "Nodes present.", vec![], f.stats.nodes);
        out.gauge(
            "canopy_epoch",
            "This run's epoch (replicas resync when it changes).",
            vec![],
            f.stats.epoch,
        );
        out.add(
            "canopy_uptime",
            MetricType::Gauge,
            Some(Unit::Seconds),
            "Seconds since the broker started.",
            vec![],
            f.stats.uptime_s,
        );
        out.gauge(
            "canopy_state_sequence",
            "The state master's (or mirror's) current sequence.",
            vec![],
            f.seq,
        );
        out.gauge(
            "canopy_ready",
            "1 when ready to serve (loaded; on a child, joined and synced with the parent).",
            vec![],
            u64::from(f.ready.ready),
        );
        for s in &f.sockets {
            let labels =
                |state: &str| vec![("socket", label(&s.socket)), ("state", state.to_owned())];
            out.gauge("canopy_socket_connections", "Connections open on each bound socket, past their handshake (established) or in it (handshaking).", labels("established"), s.established);
            out.gauge("canopy_socket_connections", "Connections open on each bound socket, past their handshake (established) or in it (handshaking).", labels("handshaking"), s.handshaking);
        }
        for s in &f.stores {
            let store = || vec![("store", label(&s.name))];
            out.gauge(
                "canopy_store_keys",
                "Keys held, per store.",
                store(),
                s.keys,
            );
            out.add(
                "canopy_store_held",
                MetricType::Gauge,
                Some(Unit::Bytes),
                "Key and value bytes held, per store.",
                store(),
                s.bytes,
            );
            out.gauge(
                "canopy_store_max_keys",
                "The store's max_keys (0: none).",
                store(),
                s.max_keys,
            );
        }
        if let Some(u) = &f.upstream {
            let parent = || vec![("parent", label(&u.parent))];
            out.gauge(
                "canopy_upstream_joined",
                "1 while joined to the parent broker.",
                parent(),
                u64::from(u.joined),
            );
            out.gauge(
                "canopy_upstream_synced",
                "1 while the mirror of the parent's state is whole and live.",
                parent(),
                u64::from(u.synced),
            );
            out.gauge(
                "canopy_upstream_parent_sequence",
                "The parent's sequence at its last PONG.",
                parent(),
                u.parent_seq,
            );
        }
        for c in &f.children {
            let child = || vec![("child", label(&c.path))];
            let l = &c.link;
            out.counter(
                "canopy_child_events_up",
                "Events a child broker sent up to this one, as it last reported.",
                child(),
                l.events_up,
            );
            out.counter(
                "canopy_child_events_down",
                "Events a child broker received from this one, as it last reported.",
                child(),
                l.events_down,
            );
            out.add(
                "canopy_child_events_up",
                MetricType::Counter,
                Some(Unit::Bytes),
                "Bytes of events a child broker sent up, as it last reported.",
                child(),
                l.bytes_up,
            );
            out.add(
                "canopy_child_events_down",
                MetricType::Counter,
                Some(Unit::Bytes),
                "Bytes of events a child broker received, as it last reported.",
                child(),
                l.bytes_down,
            );
            out.counter(
                "canopy_child_echoes_dropped",
                "Echoes a child broker dropped.",
                child(),
                l.echoes_dropped,
            );
            out.counter(
                "canopy_child_writes_relayed",
                "WRITEs a child broker relayed to this one.",
                child(),
                l.writes_relayed,
            );
            out.counter(
                "canopy_child_resyncs",
                "Times a child broker rebuilt its mirror.",
                child(),
                l.resyncs,
            );
            out.gauge(
                "canopy_child_state_lag",
                "A child broker's mirror behind this broker, in sequences.",
                child(),
                l.state_lag,
            );
            out.add(
                "canopy_child_last_seen",
                MetricType::Gauge,
                Some(Unit::Seconds),
                "Seconds since a child broker's last PING.",
                child(),
                c.last_seen_ms_ago as f64 / 1000.0,
            );
        }
        for ((endpoint, code), n) in &self.http {
            out.counter(
                "canopy_http_requests",
                "HTTP requests answered, by endpoint and status code.",
                vec![("endpoint", label(endpoint)), ("code", code.to_string())],
                *n,
            );
        }
        for (reason, n) in &self.http_rejected {
            out.counter("canopy_http_rejected", "HTTP connections closed unanswered: too many at once (busy) or too slow (timeout).", vec![("reason", (*reason).into())], *n);
        }
        let p = &self.process;
        let mut process = |name: &str, kind, unit, help: &str, v: Option<Value>| {
            if let Some(v) = v {
                out.add(name, kind, unit, help, vec![], v);
            }
        };
        process(
            "process_resident_memory",
            MetricType::Gauge,
            Some(Unit::Bytes),
            "Resident memory size in bytes.",
            p.resident_bytes.map(Value::from),
        );
        process(
            "process_cpu",
            MetricType::Counter,
            Some(Unit::Seconds),
            "Total user and system CPU time spent in seconds.",
            p.cpu_seconds.map(Value::from),
        );
        process(
            "process_open_fds",
            MetricType::Gauge,
            None,
            "Number of open file descriptors.",
            p.open_fds.map(Value::from),
        );
        process(
            "process_max_fds",
            MetricType::Gauge,
            None,
            "Maximum number of open file descriptors.",
            p.max_fds.map(Value::from),
        );
        process(
            "process_threads",
            MetricType::Gauge,
            None,
            "Number of OS threads in the process.",
            p.threads.map(Value::from),
        );
        out
    }
}

fn histogram(
    encoder: &mut DescriptorEncoder,
    name: &str,
    unit: Option<&Unit>,
    help: &str,
    h: &Histogram,
) -> Result<(), Error> {
    let mut m = encoder.encode_descriptor(name, help, unit, MetricType::Histogram)?;
    m.encode_histogram::<NoLabelSet>(h.sum(), h.count(), &h.buckets(), None)
}

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), Error> {
        {
            let mut m = encoder.encode_descriptor(
                "canopy_build",
                "The broker's version, the libzmq it links and whether CURVE is on.",
                None,
                MetricType::Info,
            )?;
            let curve = if self.curve { "on" } else { "off" };
            m.encode_info(&[
                ("version", self.version.to_owned()),
                ("libzmq", self.libzmq.clone()),
                ("curve", curve.to_owned()),
                ("broker_id", label(&self.figures.stats.broker_id)),
            ])?;
        }
        for family in self.families().0.values() {
            let mut m = encoder.encode_descriptor(
                &family.name,
                &family.help,
                family.unit.as_ref(),
                family.kind,
            )?;
            for (labels, value) in &family.samples {
                if labels.is_empty() {
                    encode_value(&mut m, family.kind, *value)?;
                } else {
                    encode_value(&mut m.encode_family(labels)?, family.kind, *value)?;
                }
            }
        }
        let h = &self.figures.histograms;
        let seconds = Unit::Seconds;
        histogram(
            &mut encoder,
            "canopy_write_ack",
            Some(&seconds),
            "Seconds from a durable WRITE to its acknowledgement (after the commit).",
            &h.write_ack_seconds,
        )?;
        histogram(
            &mut encoder,
            "canopy_snapshot_duration",
            Some(&seconds),
            "Seconds from a snapshot request to its KTHXBAI.",
            &h.snapshot_seconds,
        )?;
        histogram(
            &mut encoder,
            "canopy_commit_changes",
            None,
            "Changes per commit to disk (group commit).",
            &h.commit_changes,
        )?;
        histogram(
            &mut encoder,
            "canopy_commit_duration",
            Some(&seconds),
            "Seconds one commit to disk took.",
            &h.commit_seconds,
        )?;
        Ok(())
    }
}

/// Requests answered on one endpoint with one status code.
pub type Answered = ((String, u16), u64);

/// What the HTTP server counted, for one scrape.
#[derive(Debug, Default)]
pub struct HttpFigures {
    /// Requests by (endpoint, code).
    pub requests: Vec<Answered>,
    /// Connections closed unanswered, by reason.
    pub rejected: Vec<(&'static str, u64)>,
}

/// The OpenMetrics text of one scrape.
pub fn encode(figures: Arc<Figures>, http: HttpFigures, curve: bool) -> Result<String, Error> {
    let scrape = Scrape {
        figures,
        process: super::process::read(),
        http: http.requests,
        http_rejected: http.rejected,
        version: env!("CARGO_PKG_VERSION"),
        libzmq: crate::server::libzmq::version(),
        curve,
    };
    let mut registry = Registry::default();
    registry.register_collector(Box::new(scrape));
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry)?;
    Ok(text)
}
