//! Monitoring end to end: `/metrics` parsed by the reference Python
//! OpenMetrics parser and moving with traffic, every JSON endpoint, health
//! and readiness (a child that loses its parent is not ready), hostile HTTP
//! clients that stall nothing, `$sys/` topics seen by a plain ZeroMQ SUB,
//! JSON logs.

mod common;

use canopy_client::{Address, GroupPath, Level};
use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Instant;

/// One HTTP/1.1 request over a fresh connection: (status, body).
fn http(address: &str, method: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(address).expect("connect to the monitoring port");
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("a response");
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {response:?}"));
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn get_json(address: &str, path: &str) -> Value {
    let (status, body) = http(address, "GET", path);
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
}

/// `/metrics` parsed by Python's `prometheus_client` OpenMetrics parser
/// (which refuses a malformed exposition): family name → family.
fn scrape(address: &str) -> BTreeMap<String, Value> {
    let (status, text) = http(address, "GET", "/metrics");
    assert_eq!(status, 200, "{text}");
    let mut parser = Command::new("python3")
        .arg(python_script("parse_metrics.py"))
        .env("PYTHONPATH", prometheus_client_path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    parser
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = parser.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the reference parser refused /metrics: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The value of the sample `sample` of family `family` whose labels
/// include `labels`.
fn sample(
    families: &BTreeMap<String, Value>,
    family: &str,
    sample: &str,
    labels: &[(&str, &str)],
) -> f64 {
    let f = families
        .get(family)
        .unwrap_or_else(|| panic!("no family {family}"));
    f["samples"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| {
            s[0] == sample
                && labels
                    .iter()
                    .all(|(k, v)| s[1].get(*k).and_then(Value::as_str) == Some(*v))
        })
        .and_then(|s| s[2].as_f64())
        .unwrap_or_else(|| panic!("no sample {sample}{labels:?} in {family}: {f}"))
}

fn family_type(families: &BTreeMap<String, Value>, family: &str) -> String {
    families
        .get(family)
        .unwrap_or_else(|| panic!("no family {family}"))["type"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Where PROTOCOL.md 6.6 says each STATS counter appears on `/metrics`:
/// (family, sample, label).
fn exported_as(counter: &str) -> (String, String, Option<(&'static str, String)>) {
    const GAUGES: [&str; 7] = [
        "subscriptions_active",
        "connections_open",
        "connections_handshaking",
        "link_up",
        "link_state_lag",
        "snapshots_streaming",
        "snapshots_waiting",
    ];
    if GAUGES.contains(&counter) {
        let name = format!("canopy_{counter}");
        return (name.clone(), name, None);
    }
    let total = |family: String| (family.clone(), format!("{family}_total"));
    if let Some(reason) = counter.strip_prefix("events_rejected_") {
        let (f, s) = total("canopy_events_rejected".into());
        return (f, s, Some(("reason", reason.into())));
    }
    if let Some(action) = counter
        .strip_prefix("acl_")
        .and_then(|c| c.strip_suffix("_denied"))
    {
        let (f, s) = total("canopy_acl_denied".into());
        return (f, s, Some(("action", action.into())));
    }
    let family = match counter {
        "event_bytes_in" => "canopy_events_in_bytes".into(),
        "event_bytes_out" => "canopy_events_out_bytes".into(),
        "link_bytes_up" => "canopy_link_events_up_bytes".into(),
        "link_bytes_down" => "canopy_link_events_down_bytes".into(),
        other => format!("canopy_{other}"),
    };
    let (f, s) = total(family);
    (f, s, None)
}

/// Polls `path` until it answers `status`; returns the body.
async fn wait_status(address: &str, path: &'static str, status: u16, what: &str) -> String {
    eventually(what, || {
        let address = address.to_owned();
        async move {
            let (got, body) = tokio::task::spawn_blocking(move || http(&address, "GET", path))
                .await
                .unwrap();
            (got == status).then_some(body)
        }
    })
    .await
}

/// Waits until the parent at `address` lists a child link; its path.
async fn first_child(address: &str) -> String {
    eventually("the parent lists the child's link", || {
        let address = address.to_owned();
        async move {
            let links = tokio::task::spawn_blocking(move || get_json(&address, "/links"))
                .await
                .unwrap();
            let first = links["children"].as_array()?.first()?.clone();
            Some(first["path"].as_str()?.to_owned())
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_with_the_reference_parser_and_move_with_traffic() {
    let broker = BrokerProcess::start(&[]);
    let address = broker
        .http()
        .expect("the ready line names the HTTP address");
    let before = scrape(&address);
    // Every STATS counter is on /metrics, under its documented name.
    let stats = canopy_client::admin::stats(&broker.endpoint(), DEADLINE)
        .await
        .unwrap();
    for counter in stats.counters.keys() {
        let (family, name, label) = exported_as(counter);
        let labels: Vec<(&str, &str)> = label.iter().map(|(k, v)| (*k, v.as_str())).collect();
        sample(&before, &family, &name, &labels);
    }
    assert_eq!(family_type(&before, "canopy_events_in"), "counter");
    assert_eq!(family_type(&before, "canopy_subscriptions_active"), "gauge");
    assert_eq!(
        family_type(&before, "canopy_write_ack_seconds"),
        "histogram"
    );
    assert_eq!(before["canopy_write_ack_seconds"]["unit"], "seconds");
    assert!(
        sample(
            &before,
            "process_resident_memory_bytes",
            "process_resident_memory_bytes",
            &[]
        ) > 0.0
    );
    assert!(sample(&before, "process_open_fds", "process_open_fds", &[]) > 0.0);
    assert_eq!(sample(&before, "canopy_ready", "canopy_ready", &[]), 1.0);
    assert_eq!(
        sample(
            &before,
            "canopy_build",
            "canopy_build_info",
            &[("libzmq", "4.3.5"), ("curve", "off")]
        ),
        1.0
    );

    // Traffic: events to itself, durable writes, a snapshot.
    let n = node(&broker, "n1", "g").await;
    n.subscribe("t").unwrap();
    n.sync_subscriptions().await.unwrap();
    let mut events = n.events().unwrap();
    for i in 0..100 {
        n.publish(&Address::Group(GroupPath::root()), "t", &i)
            .unwrap();
    }
    for _ in 0..100 {
        next_event(&mut events).await;
    }
    let store = n.store("default").await.unwrap();
    for i in 0..10 {
        store
            .put(&Level::parse("g", false).unwrap(), &format!("k{i}"), &i)
            .await
            .unwrap();
    }
    let after = scrape(&address);
    let grew = |family: &str, name: &str, by: f64| {
        let (b, a) = (
            sample(&before, family, name, &[]),
            sample(&after, family, name, &[]),
        );
        assert!(a >= b + by, "{name}: {b} -> {a}, expected +{by}");
    };
    grew("canopy_events_in", "canopy_events_in_total", 100.0);
    grew("canopy_events_out", "canopy_events_out_total", 100.0);
    grew(
        "canopy_events_in_bytes",
        "canopy_events_in_bytes_total",
        100.0 * 20.0,
    );
    grew("canopy_writes", "canopy_writes_total", 10.0);
    grew(
        "canopy_write_ack_seconds",
        "canopy_write_ack_seconds_count",
        10.0,
    );
    grew(
        "canopy_snapshot_duration_seconds",
        "canopy_snapshot_duration_seconds_count",
        1.0,
    );
    grew("canopy_commit_changes", "canopy_commit_changes_count", 1.0);
    assert_eq!(sample(&after, "canopy_nodes", "canopy_nodes", &[]), 1.0);
    // The node's three connections, one per socket.
    for socket in ["router", "xpub", "xsub"] {
        let open = sample(
            &after,
            "canopy_socket_connections",
            "canopy_socket_connections",
            &[("socket", socket), ("state", "established")],
        );
        assert!(open >= 1.0, "{socket}: {open}");
    }
    assert!(
        sample(
            &after,
            "canopy_store_keys",
            "canopy_store_keys",
            &[("store", "default")]
        ) >= 10.0
    );
    let ack_inf = sample(
        &after,
        "canopy_write_ack_seconds",
        "canopy_write_ack_seconds_bucket",
        &[("le", "+Inf")],
    );
    assert_eq!(
        ack_inf,
        sample(
            &after,
            "canopy_write_ack_seconds",
            "canopy_write_ack_seconds_count",
            &[]
        ),
        "the +Inf bucket holds every observation"
    );
    assert!(
        sample(
            &after,
            "canopy_http_requests",
            "canopy_http_requests_total",
            &[("endpoint", "/metrics"), ("code", "200")]
        ) >= 1.0
    );
    n.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_endpoints_answer_with_their_documented_fields() {
    let broker = BrokerProcess::start(&[]);
    let address = broker.http().unwrap();
    let n = node(&broker, "n1", "eu/fra").await;
    n.subscribe("alerts").unwrap();
    n.sync_subscriptions().await.unwrap();
    let _other = node(&broker, "n2", "us").await;

    let stats = get_json(&address, "/stats");
    assert_eq!(stats["broker_id"].as_str().map(str::len), Some(16));
    assert!(stats["epoch"].as_u64().unwrap() > 0);
    assert!(stats["uptime_s"].is_u64());
    assert_eq!(stats["nodes"], 2);
    assert!(stats["counters"]["nodes_joined"].as_u64().unwrap() >= 2);

    let nodes = get_json(&address, "/nodes");
    let paths: Vec<&str> = nodes
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["eu/fra/n1", "us/n2"], "sorted by path");
    assert!(nodes[0]["last_seen_ms_ago"].is_u64() && nodes[0]["client_version"].is_string());
    let eu = get_json(&address, "/nodes?group=eu");
    assert_eq!(eu.as_array().unwrap().len(), 1);
    assert_eq!(
        http(&address, "GET", "/nodes?group=bad%20group%2F%2F").0,
        400
    );

    let stores = get_json(&address, "/stores");
    assert!(stores["seq"].is_u64());
    let names: Vec<&str> = stores["stores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"default"), "{names:?}");

    let links = get_json(&address, "/links");
    assert!(links["upstream"].is_null(), "a root broker has no parent");
    assert_eq!(links["children"], serde_json::json!([]));

    let subscriptions = get_json(&address, "/subscriptions");
    assert!(subscriptions["distinct"].as_u64().unwrap() >= 1);
    let top = subscriptions["top"].as_array().unwrap();
    assert!(
        top.iter().any(
            |p| p["prefix"].as_str().is_some_and(|s| s.ends_with("alerts"))
                && p["connections"] == 1
        ),
        "{top:?}"
    );
    let one = get_json(&address, "/subscriptions?limit=1");
    assert_eq!(one["top"].as_array().unwrap().len(), 1);
    assert_eq!(http(&address, "GET", "/subscriptions?limit=lots").0, 400);

    assert_eq!(get_json(&address, "/healthz")["alive"], true);
    assert_eq!(get_json(&address, "/readyz")["ready"], true);
    let (status, body) = http(&address, "POST", "/stats");
    assert_eq!(status, 405, "{body}");
    let (status, body) = http(&address, "GET", "/nope");
    assert_eq!(status, 404);
    assert!(
        body.contains("/metrics"),
        "the error names the endpoints: {body}"
    );
    n.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_oversized_and_too_many_http_clients_stall_nothing() {
    let broker = BrokerProcess::start(&[]);
    let address = broker.http().unwrap();
    // Clients that send half a request and stall.
    let mut stalled: Vec<TcpStream> = (0..3)
        .map(|_| {
            let mut s = TcpStream::connect(&address).unwrap();
            s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
                .unwrap();
            s
        })
        .collect();
    // Meanwhile everything else is served: HTTP and the broker itself.
    assert_eq!(http(&address, "GET", "/healthz").0, 200);
    canopy_client::admin::stats(&broker.endpoint(), DEADLINE)
        .await
        .unwrap();
    // A request head over the limit is refused, not buffered.
    let mut big = TcpStream::connect(&address).unwrap();
    big.set_read_timeout(Some(DEADLINE)).unwrap();
    let header = format!(
        "GET /stats HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    let _ = big.write_all(header.as_bytes());
    let mut answer = Vec::new();
    let _ = big.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty()
            || answer.starts_with("HTTP/1.1 431")
            || answer.starts_with("HTTP/1.1 400"),
        "{answer}"
    );
    // The stalled ones are cut off by the header deadline.
    for s in &mut stalled {
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        let mut rest = Vec::new();
        let started = Instant::now();
        let _ = s.read_to_end(&mut rest);
        assert!(
            started.elapsed() < DEADLINE,
            "a stalled request was never cut off"
        );
    }
    // More connections than the server serves at once: the extra ones are
    // closed unanswered and counted; once they go, requests are served.
    let crowd: Vec<TcpStream> = (0..70)
        .map(|_| TcpStream::connect(&address).unwrap())
        .collect();
    let mut refused = TcpStream::connect(&address).unwrap();
    refused.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut nothing = Vec::new();
    let _ = refused.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    let _ = refused.read_to_end(&mut nothing);
    assert!(nothing.is_empty(), "a connection past the cap was answered");
    drop(crowd);
    let rejected = eventually("the crowd is gone and the refusals counted", || {
        let address = address.clone();
        async move {
            let (status, text) =
                tokio::task::spawn_blocking(move || http(&address, "GET", "/metrics"))
                    .await
                    .unwrap();
            let line = text
                .lines()
                .find(|l| l.starts_with("canopy_http_rejected_total{reason=\"busy\"}"))?;
            let n: f64 = line.rsplit(' ').next()?.parse().ok()?;
            (status == 200 && n >= 1.0).then_some(n)
        }
    })
    .await;
    assert!(rejected >= 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_is_ready_only_while_joined_and_synced_with_its_parent() {
    let fast = [
        "--heartbeat-ms",
        "100",
        "--node-timeout-ms",
        "600",
        "--sys-interval-ms",
        "100",
    ];
    let mut parent = BrokerProcess::start(&fast);
    let upstream = parent.endpoint();
    let parent_id = get_json(&parent.http().unwrap(), "/stats")["broker_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // An observer of the parent's $sys/, in force (it hears the stats)
    // before the child exists.
    let ctx = zmq::Context::new();
    let observe = |broker: &BrokerProcess, id: &str| {
        let sub = ctx.socket(zmq::SUB).unwrap();
        sub.set_rcvtimeo(DEADLINE.as_millis() as i32).unwrap();
        sub.connect(&broker.endpoint_at(1)).unwrap();
        sub.set_subscribe(b"$sys/").unwrap();
        wait_sys(&sub, &format!("$sys/{id}/stats"), |_| true);
        sub
    };
    let parent_sys = observe(&parent, &parent_id);
    let mut child_args = vec!["--upstream", upstream.as_str()];
    child_args.extend(fast);
    let child = BrokerProcess::start(&child_args);
    let (child_http, parent_http) = (child.http().unwrap(), parent.http().unwrap());
    wait_status(&child_http, "/readyz", 200, "the child is ready").await;
    let links = get_json(&child_http, "/links");
    assert_eq!(links["upstream"]["parent"], upstream.as_str());
    assert_eq!(links["upstream"]["joined"], true);
    assert_eq!(links["upstream"]["synced"], true);
    // The parent sees the child's link, on /links, /metrics and $sys/.
    let child_path = first_child(&parent_http).await;
    let up = wait_sys(&parent_sys, &format!("$sys/{parent_id}/child/up"), |_| true);
    assert_eq!(up["path"], child_path.as_str());
    let families = scrape(&parent_http);
    sample(
        &families,
        "canopy_child_state_lag",
        "canopy_child_state_lag",
        &[("child", &child_path)],
    );
    let child_families = scrape(&child_http);
    assert_eq!(
        sample(
            &child_families,
            "canopy_upstream_joined",
            "canopy_upstream_joined",
            &[]
        ),
        1.0
    );
    let child_id = get_json(&child_http, "/stats")["broker_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let child_sys = observe(&child, &child_id);
    // The parent goes: the child stays alive but is no longer ready, and
    // says so on $sys/.
    parent.kill9();
    let reason = wait_status(
        &child_http,
        "/readyz",
        503,
        "the child is not ready without its parent",
    )
    .await;
    assert!(reason.contains("parent"), "{reason}");
    assert_eq!(get_json(&child_http, "/healthz")["alive"], true);
    let down = wait_sys(&child_sys, &format!("$sys/{child_id}/link/down"), |_| true);
    assert_eq!(down["parent"], upstream.as_str());
    // Back again: ready again.
    parent.restart();
    wait_status(&child_http, "/readyz", 200, "the child is ready again").await;
    wait_sys(&child_sys, &format!("$sys/{child_id}/link/up"), |p| {
        p["parent"] == upstream.as_str()
    });
}

#[test]
fn http_can_be_off_and_a_taken_port_is_a_clear_start_up_error() {
    let off = BrokerProcess::start(&["--http", "off"]);
    assert!(off.ready_line.contains(" http=off "), "{}", off.ready_line);
    assert_eq!(off.http(), None);
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let said = broker_refuses(dir.path(), &["--http", &address]);
    assert!(
        said.contains(&format!("http {address}")) && said.contains("--http off"),
        "{said}"
    );
    let said = broker_refuses(dir.path(), &["--http", "localhost"]);
    assert!(said.contains("ADDRESS:PORT"), "{said}");
}

/// The next `$sys/` message on `sub`: (topic, payload as JSON).
fn next_sys(sub: &zmq::Socket) -> (String, Value) {
    let frames = sub.recv_multipart(0).expect("a $sys/ message");
    assert_eq!(frames.len(), 3, "[topic, header, payload]");
    let header = canopy_schemas::header::EventHeader::decode(&frames[1]).unwrap();
    assert!(header.is_msgpack(), "the payload is MessagePack");
    let payload: Value = rmp_serde::from_slice(&frames[2]).unwrap();
    (String::from_utf8(frames[0].clone()).unwrap(), payload)
}

/// Reads `$sys/` messages until one on `topic` satisfies `ok`.
fn wait_sys(sub: &zmq::Socket, topic: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + DEADLINE;
    loop {
        assert!(Instant::now() < deadline, "no {topic} message");
        let (t, payload) = next_sys(sub);
        if t == topic && ok(&payload) {
            return payload;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sys_topics_tell_a_plain_subscriber_about_nodes_limits_and_stats() {
    let broker = BrokerProcess::start(&["--sys-interval-ms", "200", "--max-message-size", "1000"]);
    let id = canopy_client::admin::stats(&broker.endpoint(), DEADLINE)
        .await
        .unwrap()
        .broker_id;
    // Nobody subscribes: nothing is sent.
    let quiet = node(&broker, "quiet", "g").await;
    quiet.close().await;
    assert_eq!(counter(&broker, "sys_messages").await, 0);

    let ctx = zmq::Context::new();
    let sub = ctx.socket(zmq::SUB).unwrap();
    sub.set_rcvtimeo(DEADLINE.as_millis() as i32).unwrap();
    sub.connect(&broker.endpoint_at(1)).unwrap();
    sub.set_subscribe(b"$sys/").unwrap();
    // Stats arrive on their own (this also proves the subscription is on).
    let stats = wait_sys(&sub, &format!("$sys/{id}/stats"), |_| true);
    assert_eq!(stats["broker_id"], id.as_str());
    assert!(stats["counters"]["heartbeats_sent"].as_u64().is_some());

    let n = node(&broker, "watched", "eu").await;
    let joined = wait_sys(&sub, &format!("$sys/{id}/node/joined"), |p| {
        p["path"] == "eu/watched"
    });
    assert_eq!(joined["reason"], "hello");
    assert!(joined["client_version"].is_string());
    n.close().await;
    let left = wait_sys(&sub, &format!("$sys/{id}/node/left"), |p| {
        p["path"] == "eu/watched"
    });
    assert_eq!(left["reason"], "bye");

    // A limit hit: an event over max_message_size from a plain publisher
    // (on a topic someone subscribes to, or the PUB would not send it).
    sub.set_subscribe(b"big").unwrap();
    let mut topic = b"big".to_vec();
    topic.resize(400, b'x');
    let publisher = ctx.socket(zmq::PUB).unwrap();
    publisher.connect(&broker.endpoint_at(2)).unwrap();
    let limit = {
        let deadline = Instant::now() + DEADLINE;
        loop {
            // Each frame under the transport's limit, the whole over it.
            publisher
                .send_multipart([&topic[..], &[0u8; 700][..]], 0)
                .unwrap();
            sub.set_rcvtimeo(200).unwrap();
            if let Ok(frames) = sub.recv_multipart(0) {
                if frames[0] == format!("$sys/{id}/limit").as_bytes() {
                    let payload: Value = rmp_serde::from_slice(&frames[2]).unwrap();
                    if payload["counter"] == "events_rejected_oversize" {
                        break payload;
                    }
                }
            }
            assert!(Instant::now() < deadline, "no limit message");
        }
    };
    assert_eq!(limit["limit"], "max_message_size");
    assert!(limit["hits"].as_u64().unwrap() >= 1);
    assert!(limit["total"].as_u64().unwrap() >= limit["hits"].as_u64().unwrap());
    assert!(counter(&broker, "sys_messages").await >= 4);
}

#[test]
fn logs_can_be_json_lines() {
    let mut broker = BrokerProcess::start(&["--log-format", "json", "--log-level", "info"]);
    broker.terminate();
    let stderr = broker.stderr();
    let lines: Vec<Value> = stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    assert!(!lines.is_empty(), "the broker logged nothing");
    assert!(lines
        .iter()
        .all(|l| l["level"].is_string() && l["fields"].is_object() && l["timestamp"].is_string()));
    assert!(
        lines
            .iter()
            .any(|l| l["fields"]["message"] == "broker stopping"),
        "{stderr}"
    );
}

/// Metric names (`canopy_…`, `process_…`) in a PromQL expression.
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(at) = ["canopy_", "process_"]
        .iter()
        .filter_map(|p| rest.find(p))
        .min()
    {
        let preceded_by_ident = rest[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        if !preceded_by_ident {
            names.push(tail[..end].to_owned());
        }
        rest = &tail[end..];
    }
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_grafana_query_names_a_metric_the_broker_exports() {
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/grafana/canopy.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let mut queries: Vec<String> = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            queries.push(target["expr"].as_str().unwrap().to_owned());
        }
    }
    for variable in dashboard["templating"]["list"].as_array().unwrap() {
        if let Some(q) = variable["query"].as_str() {
            queries.push(q.to_owned());
        }
    }
    assert!(queries.len() >= 20, "the dashboard has its panels");
    // A parent with a child and traffic, so per-child and per-store samples exist.
    let parent = BrokerProcess::start(&["--heartbeat-ms", "100"]);
    let child = BrokerProcess::start(&["--upstream", &parent.endpoint(), "--heartbeat-ms", "100"]);
    let parent_http = parent.http().unwrap();
    first_child(&parent_http).await;
    let mut exported = std::collections::BTreeSet::new();
    for broker in [&parent, &child] {
        for family in scrape(&broker.http().unwrap()).values() {
            for s in family["samples"].as_array().unwrap() {
                exported.insert(s[0].as_str().unwrap().to_owned());
            }
        }
    }
    let mut checked = 0;
    for query in &queries {
        for name in metric_names(query) {
            assert!(
                exported.contains(&name),
                "the dashboard's query {query:?} names {name}, which /metrics does not export"
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 30,
        "only {checked} metric names found in the dashboard"
    );
}

#[test]
fn metric_names_are_read_out_of_promql() {
    assert_eq!(
        metric_names(
            r#"histogram_quantile(0.99, sum by (le) (rate(canopy_write_ack_seconds_bucket{job="x"}[5m]))) / process_open_fds"#
        ),
        ["canopy_write_ack_seconds_bucket", "process_open_fds"]
    );
    assert_eq!(metric_names("rate(my_canopy_x[1m])"), Vec::<String>::new());
}
