//! The `canopy` CLI and the broker's flags and config file, as a user runs them.

mod common;

use common::*;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;

/// Starts `canopy sub` and waits until it says it is subscribed.
fn start_sub(
    broker: &BrokerProcess,
    args: &[&str],
) -> (std::process::Child, mpsc::Receiver<String>) {
    let mut child = Command::new(cli_bin())
        .arg("--broker")
        .arg(broker.endpoint())
        .arg("sub")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (ready_tx, ready_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("subscribed as") {
                let _ = ready_tx.send(());
            }
        }
    });
    ready_rx
        .recv_timeout(DEADLINE)
        .expect("canopy sub became ready");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (child, rx)
}

/// Publishes with the CLI until the subscriber prints a line (subscriptions
/// reach publishers asynchronously), and returns that line as JSON.
fn pub_until_received(
    broker: &BrokerProcess,
    pub_args: &[&str],
    lines: &mpsc::Receiver<String>,
) -> serde_json::Value {
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        let mut args = vec!["--broker".to_owned(), broker.endpoint(), "pub".to_owned()];
        args.extend(pub_args.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run_cli(&args);
        assert!(
            out.status.success(),
            "pub failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if let Ok(line) = lines.recv_timeout(std::time::Duration::from_millis(300)) {
            return serde_json::from_str(&line).expect("sub prints JSON lines");
        }
        assert!(std::time::Instant::now() < deadline, "nothing received");
    }
}

#[test]
fn sub_in_a_group_receives_pub_to_its_parent_group() {
    let broker = BrokerProcess::start(&[]);
    let (mut sub, lines) = start_sub(&broker, &["--group", "eu/fra/dc1", "--name", "s1", "temp"]);
    let line = pub_until_received(
        &broker,
        &["--group", "eu/fra", "temp", r#"{"celsius": 21.5}"#],
        &lines,
    );
    assert_eq!(line["topic"], "temp");
    assert_eq!(line["group"], "eu/fra");
    assert_eq!(line["payload"]["celsius"], 21.5);
    assert_eq!(line["encoding"], "msgpack");
    assert!(line["publisher"].as_str().unwrap().starts_with("pub-"));
    // Node-direct and plain topics.
    let line = pub_until_received(
        &broker,
        &["--node", "eu/fra/dc1/s1", "temp.cmd", "[1,2]"],
        &lines,
    );
    assert_eq!(line["node"], "eu/fra/dc1/s1");
    assert_eq!(line["payload"], serde_json::json!([1, 2]));
    let line = pub_until_received(&broker, &["temperature", "\"plain\""], &lines);
    assert_eq!(line["plain"], true);
    assert_eq!(line["payload"], "plain");
    let nodes = run_cli(&["--broker", &broker.endpoint(), "nodes", "--json"]);
    let nodes: serde_json::Value = serde_json::from_slice(&nodes.stdout).unwrap();
    assert!(
        nodes
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["path"] == "eu/fra/dc1/s1"),
        "{nodes}"
    );
    let human = run_cli(&["--broker", &broker.endpoint(), "nodes", "--group", "eu"]);
    assert!(String::from_utf8_lossy(&human.stdout).contains("eu/fra/dc1/s1"));
    let _ = sub.kill();
    let _ = sub.wait();
}

#[test]
fn pub_reads_one_event_per_stdin_line_and_subtree_observer_sees_them() {
    let broker = BrokerProcess::start(&[]);
    let (mut sub, lines) = start_sub(&broker, &["--subtree", "site", "--count", "100"]);
    // Wait until the observer's subscription reached publishers.
    pub_until_received(&broker, &["--group", "site/a", "ready", "0"], &lines);
    let mut publisher = Command::new(cli_bin())
        .args([
            "--broker",
            &broker.endpoint(),
            "pub",
            "--group",
            "site/b",
            "reading",
        ])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut stdin = publisher.stdin.take().unwrap();
        for i in 0..3 {
            writeln!(stdin, "{{\"n\": {i}}}").unwrap();
        }
    }
    assert!(publisher.wait().unwrap().success());
    for i in 0..3 {
        let line: serde_json::Value =
            serde_json::from_str(&lines.recv_timeout(DEADLINE).unwrap()).unwrap();
        assert_eq!(line["topic"], "reading");
        assert_eq!(line["group"], "site/b");
        assert_eq!(line["payload"]["n"], i);
    }
    let _ = sub.kill();
    let _ = sub.wait();
}

#[test]
fn stats_json_and_table() {
    let broker = BrokerProcess::start(&[]);
    let out = run_cli(&["--broker", &broker.endpoint(), "stats", "--json"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["counters"]["events_in"].is_u64());
    assert!(v["counters"]["heartbeats_sent"].as_u64().unwrap() >= 1);
    let out = run_cli(&["--broker", &broker.endpoint(), "stats"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("broker_id") && text.contains("events_out"),
        "{text}"
    );
}

#[test]
fn errors_are_one_line_and_a_nonzero_exit() {
    // Issue 14, item 8: each failure is named, at once (the timeout is 5 s).
    let closed = free_base_port();
    for (command, args) in [
        ("stats", vec!["stats"]),
        ("put", vec!["put", "k", "1"]),
        ("sub", vec!["sub", "--count", "1", "t"]),
    ] {
        let endpoint = format!("tcp://127.0.0.1:{closed}");
        let mut full = vec!["--broker", endpoint.as_str()];
        full.extend(args);
        let started = std::time::Instant::now();
        let out = run_cli(&full);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{command}: {err}");
        assert!(
            err.contains("connection refused: nothing listens"),
            "{command}: {err}"
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(4),
            "{command} waited out its timeout"
        );
    }
    let out = run_cli(&["--broker", "tcp://no-such-host.invalid:5556", "stats"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot resolve host \"no-such-host.invalid\""),
        "{err}"
    );
    let out = run_cli(&["--broker", "localhost:5556", "stats"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid broker endpoint"));
    let broker = BrokerProcess::start(&[]);
    let out = run_cli(&["--broker", &broker.endpoint(), "pub", "t", "{not json"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not valid JSON"));
    let out = run_cli(&["--broker", &broker.endpoint(), "pub", "$reserved", "1"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("reserved"));
}

#[test]
fn broker_help_config_file_and_flag_precedence() {
    let help = Command::new(broker_bin()).arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--config",
        "--bind",
        "--port",
        "--data-dir",
        "--log-level",
        "--max-message-size",
        "--max-topic-length",
        "--max-subscriptions",
        "--max-nodes",
        "--max-control-size",
        "--send-hwm",
        "--receive-hwm",
        "--heartbeat-ms",
        "--node-timeout-ms",
    ] {
        assert!(text.contains(flag), "--help lacks {flag}");
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("canopy.toml");
    std::fs::write(&file, "max_nodes = 1\nheartbeat_ms = 250\n").unwrap();
    // File values apply; flags override the file.
    let broker =
        BrokerProcess::start(&["--config", file.to_str().unwrap(), "--heartbeat-ms", "300"]);
    let (_d, reply) = {
        let ctx = zmq::Context::new();
        let d = ctx.socket(zmq::DEALER).unwrap();
        d.set_rcvtimeo(DEADLINE.as_millis() as i32).unwrap();
        d.connect(&broker.endpoint()).unwrap();
        let req = canopy_schemas::Request::Hello(canopy_schemas::control::Hello {
            id: 1,
            protocol: 1,
            protocol_max: None,
            name: "n".into(),
            group: "".into(),
            client_version: "t".into(),
        });
        let [a, b] = req.encode().unwrap();
        d.send_multipart([a, b], 0).unwrap();
        let f = d.recv_multipart(0).unwrap();
        let refs: Vec<&[u8]> = f.iter().map(Vec::as_slice).collect();
        (d, canopy_schemas::Reply::decode(&refs).unwrap())
    };
    let canopy_schemas::Reply::Welcome(w) = reply else {
        panic!("{reply:?}")
    };
    assert_eq!(w.heartbeat_ms, 300);
    let second = run_cli(&[
        "--broker",
        &broker.endpoint(),
        "--timeout",
        "2",
        "pub",
        "t",
        "1",
    ]);
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("too_many_nodes"),
        "max_nodes from file"
    );
    // A bad file is one clear error.
    std::fs::write(&file, "no_such_key = 1\n").unwrap();
    let out = Command::new(broker_bin())
        .args(["--config", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no_such_key"));
}

#[test]
fn state_commands_put_get_incr_del_keys_watch_stores() {
    let broker = BrokerProcess::start(&[]);
    let b = broker.endpoint();
    let ok = |args: &[&str]| {
        let mut full = vec!["--broker", b.as_str()];
        full.extend_from_slice(args);
        let out = run_cli(&full);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let seq1: u64 = ok(&["put", "--group", "eu", "threshold", "10"])
        .parse()
        .unwrap();
    let seq2: u64 = ok(&["put", "--group", "eu/fra/dc1", "threshold", r#"{"v": 20}"#])
        .parse()
        .unwrap();
    assert!(seq2 > seq1);
    assert_eq!(
        ok(&["get", "--group", "eu/fra/dc1", "threshold"]),
        r#"{"v":20}"#
    );
    assert_eq!(ok(&["get", "--group", "eu/fra/dc2", "threshold"]), "10");
    // A missing key: exit code 1 and a clear message.
    let out = run_cli(&["--broker", &b, "get", "--group", "us", "threshold"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not found"));
    assert_eq!(ok(&["incr", "hits"]), "1");
    assert_eq!(ok(&["incr", "hits", "5"]), "6");
    assert_eq!(ok(&["incr", "hits", "-2"]), "4");
    // A watcher sees the next change as a JSON line.
    let mut watcher = Command::new(cli_bin())
        .args(["--broker", &b, "watch", "--count", "1", "hi"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = watcher.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    assert!(lines.next().unwrap().unwrap().contains("watching"));
    ok(&["incr", "hits"]);
    let out = watcher.wait_with_output().unwrap();
    let change: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (change["key"].as_str(), change["value"].as_i64()),
        (Some("hits"), Some(5))
    );
    // The merged view of eu/fra/dc1 includes the root level.
    assert_eq!(ok(&["keys", "--group", "eu/fra/dc1"]), "hits\nthreshold");
    let listed = ok(&["keys"]);
    assert_eq!(listed, "hits");
    ok(&["put", "--ttl", "60", "tmp", "\"x\""]);
    ok(&["del", "hits"]);
    assert_eq!(ok(&["keys"]), "tmp");
    let stores: serde_json::Value = serde_json::from_str(&ok(&["stores", "--json"])).unwrap();
    let default = stores["stores"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "default")
        .unwrap()
        .clone();
    assert_eq!(default["keys"], 3);
    assert!(stores["seq"].as_u64().unwrap() >= seq2);
    assert!(ok(&["stores"]).contains("default"));
    let out = run_cli(&["--broker", &b, "put", "--store", "nope", "k", "1"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown_store"));
    // Issue 14, item 4: a node's own level is read back with --node (its
    // merged view: its groups and its own level), and nobody else sees it.
    ok(&["put", "--node", "eu/fra/dc1/s1", "mine", "7"]);
    assert_eq!(ok(&["get", "--node", "eu/fra/dc1/s1", "mine"]), "7");
    assert_eq!(
        ok(&["get", "--node", "eu/fra/dc1/s1", "threshold"]),
        r#"{"v":20}"#
    );
    let keys = ok(&["keys", "--node", "eu/fra/dc1/s1"]);
    assert_eq!(keys, "mine\nthreshold\ntmp", "{keys}");
    let other = run_cli(&["--broker", &b, "get", "--node", "eu/fra/dc1/s2", "mine"]);
    assert_eq!(other.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&other.stderr).contains("as seen from node \"eu/fra/dc1/s2\""));
}

/// Runs the CLI against `broker`; returns (exit code, stdout, stderr).
fn cli_at(broker: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let mut full = vec!["--broker", broker];
    full.extend_from_slice(args);
    let out = run_cli(&full);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        String::from_utf8_lossy(&out.stderr).trim().to_owned(),
    )
}

#[test]
fn exit_codes_tell_failures_apart() {
    let broker = BrokerProcess::start(&[]);
    let b = broker.endpoint();
    // 0: done, found.
    let (code, seq, err) = cli_at(&b, &["put", "k", "1"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(cli_at(&b, &["get", "k"]).0, Some(0));
    // 1: not found.
    let (code, _, err) = cli_at(&b, &["get", "missing"]);
    assert_eq!(code, Some(1), "{err}");
    // 2: usage: an unknown flag, a value that is not JSON, an invalid
    // group path, a reserved topic.
    assert_eq!(cli_at(&b, &["get", "--no-such-flag", "k"]).0, Some(2));
    assert_eq!(cli_at(&b, &["put", "k", "{not json"]).0, Some(2));
    assert_eq!(cli_at(&b, &["put", "--group", "a//b", "k", "1"]).0, Some(2));
    assert_eq!(cli_at(&b, &["pub", "$reserved", "1"]).0, Some(2));
    // 3: unreachable: nothing listens there.
    let closed = format!("tcp://127.0.0.1:{}", free_base_port());
    for args in [&["get", "k"][..], &["stats"], &["sub", "--count", "1"]] {
        let (code, _, err) = cli_at(&closed, args);
        assert_eq!(code, Some(3), "{args:?}: {err}");
    }
    // 4: refused by the broker.
    let (code, _, err) = cli_at(&b, &["put", "--store", "nope", "k", "1"]);
    assert_eq!(code, Some(4), "{err}");
    // 5: a precondition failed; create and update --seq.
    let (code, _, err) = cli_at(&b, &["create", "k", "2"]);
    assert_eq!(code, Some(5), "create on an existing key: {err}");
    assert!(err.contains("exists"), "{err}");
    let (code, created, err) = cli_at(&b, &["create", "fresh", "2"]);
    assert_eq!(code, Some(0), "{err}");
    let (code, _, err) = cli_at(&b, &["update", "--seq", created.as_str(), "k", "3"]);
    assert_eq!(code, Some(5), "update with another key's sequence: {err}");
    let (code, updated, err) = cli_at(&b, &["update", "--seq", seq.as_str(), "k", "3"]);
    assert_eq!(code, Some(0), "update with the key's sequence: {err}");
    assert!(updated.parse::<u64>().unwrap() > seq.parse::<u64>().unwrap());
    assert_eq!(cli_at(&b, &["get", "k"]).1, "3");
    let (code, _, _) = cli_at(&b, &["update", "--seq", seq.as_str(), "k", "4"]);
    assert_eq!(code, Some(5), "the old sequence no longer matches");
    let (code, _, err) = cli_at(&b, &["update", "--seq", "0", "brand-new", "1"]);
    assert_eq!(code, Some(0), "--seq 0 creates: {err}");
    assert_eq!(cli_at(&b, &["get", "k"]).1, "3");
}

#[tokio::test]
async fn sigint_and_sigterm_make_the_cli_say_bye() {
    // Nodes that stop heartbeating are forgotten only after a minute: a node
    // gone sooner said BYE.
    let broker = BrokerProcess::start(&["--heartbeat-ms", "1000", "--node-timeout-ms", "60000"]);
    let observer = node(&broker, "observer", "").await;
    for (signal, expected) in [("INT", 130), ("TERM", 143)] {
        let name = format!("leaver-{signal}");
        let left_before = counter(&broker, "nodes_left").await;
        let (mut child, _lines) = start_sub(&broker, &["--name", &name, "--group", "eu"]);
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
        let code = eventually("canopy sub exits", || {
            let done = child.try_wait().ok().flatten();
            async move { done.map(|s| s.code()) }
        })
        .await;
        assert_eq!(code, Some(expected), "SIG{signal}");
        eventually("the broker counted the BYE", || async {
            (counter(&broker, "nodes_left").await > left_before).then_some(())
        })
        .await;
        let present = observer.nodes(Some("eu")).await.unwrap();
        assert!(
            present.iter().all(|n| n.path != format!("eu/{name}")),
            "{present:?}"
        );
    }
}

#[test]
fn the_cli_reaches_the_opaque_chp_space() {
    let broker = BrokerProcess::start(&[]);
    let b = broker.endpoint();
    let (code, seq, err) = cli_at(&b, &["put", "--chp", "/client/1", "hello world"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(seq.parse::<u64>().is_ok());
    assert_eq!(cli_at(&b, &["get", "--chp", "/client/1"]).1, "hello world");
    assert_eq!(
        cli_at(&b, &["put", "--chp", "--hex", "/client/bin", "00ff"]).0,
        Some(0)
    );
    assert_eq!(
        cli_at(&b, &["get", "--chp", "--hex", "/client/bin"]).1,
        "00ff"
    );
    let (code, _, err) = cli_at(&b, &["get", "--chp", "/client/bin"]);
    assert_eq!(code, Some(2), "not text: {err}");
    assert!(err.contains("--hex"), "{err}");
    let (code, lines, _) = cli_at(&b, &["keys", "--chp", "--json", "/client/"]);
    assert_eq!(code, Some(0));
    let rows: Vec<serde_json::Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2, "{lines}");
    assert_eq!(rows[0]["key"], "/client/1");
    assert_eq!(rows[0]["value"], "hello world");
    assert_eq!(rows[1]["value"], serde_json::Value::Null);
    assert_eq!(rows[1]["value_hex"], "00ff");
    assert_eq!(
        cli_at(&b, &["create", "--chp", "/client/1", "again"]).0,
        Some(5)
    );
    assert_eq!(cli_at(&b, &["del", "--chp", "/client/1"]).0, Some(0));
    assert_eq!(cli_at(&b, &["get", "--chp", "/client/1"]).0, Some(1));
    // A canonical key is not a CHP key.
    assert_eq!(cli_at(&b, &["put", "--chp", "/default/:k", "x"]).0, Some(2));
    // `stores` counts the space.
    let (_, stores, _) = cli_at(&b, &["stores", "--json"]);
    let stores: serde_json::Value = serde_json::from_str(&stores).unwrap();
    let chp = stores["stores"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "$chp")
        .cloned()
        .expect("$chp listed");
    assert_eq!(chp["keys"], 1);
}
