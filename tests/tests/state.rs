//! State end to end: group-scoped replicas with a merged view, server-side
//! ops, TTL, read-your-writes, resync of a replica the broker dropped updates
//! for, schemas and limits, persistence across SIGKILL, broker restarts.

mod common;

use canopy_client::{ClientError, Level, NodeOptions, Replica};
use canopy_schemas::ErrorCode;
use common::*;
use std::time::Duration;

fn group(path: &str) -> Level {
    Level::parse(path, false).unwrap()
}

fn refused(err: ClientError) -> (ErrorCode, String) {
    match err {
        ClientError::Refused { code, message } => (code, message),
        other => panic!("expected a refusal, got {other}"),
    }
}

/// Waits until `replica` shows `key` = `want` (None = absent).
async fn converge(replica: &Replica, key: &str, want: Option<i64>) {
    eventually(&format!("{key} = {want:?}"), || {
        let got = replica.get::<i64>(key).unwrap();
        async move { (got == want).then_some(()) }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn most_specific_level_wins_in_the_merged_view() {
    let broker = BrokerProcess::start(&[]);
    let admin = node(&broker, "admin", "").await;
    let writer = admin.store("default").await.unwrap();
    writer.put(&group("eu"), "threshold", &10).await.unwrap();
    writer
        .put(&group("eu/fra/dc1"), "threshold", &20)
        .await
        .unwrap();
    writer.put(&group(""), "global", &1).await.unwrap();
    let dc1 = node(&broker, "s1", "eu/fra/dc1").await;
    let dc2 = node(&broker, "s2", "eu/fra/dc2").await;
    let r1 = dc1.store("default").await.unwrap();
    let r2 = dc2.store("default").await.unwrap();
    assert_eq!(r1.get::<i64>("threshold").unwrap(), Some(20));
    assert_eq!(r2.get::<i64>("threshold").unwrap(), Some(10));
    assert_eq!(r2.get::<i64>("global").unwrap(), Some(1));
    assert_eq!(r2.get_or("missing", 7).unwrap(), 7);
    let (_, level) = r1.entry("threshold").unwrap();
    assert_eq!(level, group("eu/fra/dc1"));
    // A node-level override beats them all, and only that node sees it.
    let mut watch = r1.watch("thr");
    writer
        .put(
            &Level::parse("eu/fra/dc1/s1", true).unwrap(),
            "threshold",
            &30,
        )
        .await
        .unwrap();
    let change = tokio::time::timeout(DEADLINE, watch.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(change.key, "threshold");
    converge(&r1, "threshold", Some(30)).await;
    assert_eq!(r2.get::<i64>("threshold").unwrap(), Some(10));
    // Deleting the override falls back to the group's value.
    writer
        .delete(&Level::parse("eu/fra/dc1/s1", true).unwrap(), "threshold")
        .await
        .unwrap();
    converge(&r1, "threshold", Some(20)).await;
    let view = r1.view();
    assert_eq!(
        view.keys().cloned().collect::<Vec<_>>(),
        vec!["global", "threshold"]
    );
    assert_eq!(r1.keys("glo"), vec!["global"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_ops_and_read_your_writes() {
    let broker = BrokerProcess::start(&[]);
    let n = node(&broker, "n", "g").await;
    let r = n.store("default").await.unwrap();
    let g = group("g");
    let ack = r.put(&g, "k", &"v1").await.unwrap();
    // Read-your-writes: visible at once, no waiting for the broadcast.
    assert_eq!(r.get::<String>("k").unwrap().as_deref(), Some("v1"));
    let (code, msg) = refused(r.put_if_absent(&g, "k", &"v2").await.unwrap_err());
    assert_eq!(code, ErrorCode::Exists);
    assert!(msg.contains("/default/g/:k"), "{msg}");
    r.put_if_absent(&g, "fresh", &1).await.unwrap();
    let (code, _) = refused(r.cas(&g, "k", ack.seq + 100, &"nope").await.unwrap_err());
    assert_eq!(code, ErrorCode::CasFailed);
    let cas = r.cas(&g, "k", ack.seq, &"v3").await.unwrap();
    assert!(cas.seq > ack.seq);
    assert_eq!(r.get::<String>("k").unwrap().as_deref(), Some("v3"));
    assert_eq!(r.incr(&g, "count", 5).await.unwrap(), 5);
    assert_eq!(r.decr(&g, "count", 2).await.unwrap(), 3);
    assert_eq!(r.get::<i64>("count").unwrap(), Some(3));
    let (code, msg) = refused(r.incr(&g, "k", 1).await.unwrap_err());
    assert_eq!(code, ErrorCode::TypeMismatch);
    assert!(msg.contains("integer"), "{msg}");
    r.put(&g, "s", &"ab").await.unwrap();
    r.append(&g, "s", &"cd").await.unwrap();
    assert_eq!(r.get::<String>("s").unwrap().as_deref(), Some("abcd"));
    r.put(&g, "list", &vec![1]).await.unwrap();
    r.append(&g, "list", &2).await.unwrap();
    assert_eq!(r.get::<Vec<i32>>("list").unwrap(), Some(vec![1, 2]));
    r.set_insert(&g, "tags", &"a").await.unwrap();
    r.set_insert(&g, "tags", &"b").await.unwrap();
    r.set_insert(&g, "tags", &"a").await.unwrap();
    assert_eq!(
        r.get::<Vec<String>>("tags").unwrap(),
        Some(vec!["a".into(), "b".into()])
    );
    r.set_remove(&g, "tags", &"a").await.unwrap();
    assert_eq!(
        r.get::<Vec<String>>("tags").unwrap(),
        Some(vec!["b".into()])
    );
    for i in 0..5 {
        r.put(&g, &format!("dir/{i}"), &i).await.unwrap();
    }
    assert_eq!(r.delete_subtree(&g, "dir/").await.unwrap(), 5);
    assert!(r.keys("dir/").is_empty());
    // Another replica converges to the same contents.
    let other = node(&broker, "o", "g")
        .await
        .store("default")
        .await
        .unwrap();
    assert_eq!(other.view(), r.view());
    // Pipelined: many writes in flight at once, each acknowledged with its own sequence.
    let mut tasks = Vec::new();
    for i in 0..500 {
        let r = r.clone();
        let g = g.clone();
        tasks.push(tokio::spawn(async move {
            r.put(&g, &format!("p/{i}"), &i).await.map(|a| a.seq)
        }));
    }
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.push(t.await.unwrap().unwrap());
    }
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs.len(), 500);
    assert_eq!(r.keys("p/").len(), 500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_expires_everywhere_including_late_joiners() {
    let broker = BrokerProcess::start(&[]);
    let n = node(&broker, "n", "").await;
    let r = n.store("default").await.unwrap();
    let mut watch = r.watch("eph");
    r.put_ttl(&Level::root(), "eph", &1, Duration::from_millis(1500))
        .await
        .unwrap();
    r.put(&Level::root(), "stays", &1).await.unwrap();
    let late = node(&broker, "late", "")
        .await
        .store("default")
        .await
        .unwrap();
    let (entry, _) = late.entry("eph").expect("late joiner has the key");
    let remaining = entry.expires_ms.saturating_sub(canopy_tests_now_ms());
    assert!(
        remaining > 0 && remaining <= 1500,
        "remaining ttl {remaining} ms"
    );
    converge(&late, "eph", None).await;
    converge(&r, "eph", None).await;
    // The watcher saw it appear and go.
    let mut saw_delete = false;
    while let Ok(Some(c)) = tokio::time::timeout(Duration::from_secs(5), watch.next()).await {
        if c.value.is_none() {
            saw_delete = true;
            break;
        }
    }
    assert!(saw_delete);
    assert_eq!(late.get::<i64>("stays").unwrap(), Some(1));
    assert!(counter(&broker, "keys_expired").await >= 1);
}

fn canopy_tests_now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_the_broker_dropped_updates_for_converges_exactly() {
    // Tiny high-water marks: the broker drops KVPUBs for the slow replica.
    let broker = BrokerProcess::start(&["--send-hwm", "1", "--heartbeat-ms", "200"]);
    let mut slow_opts = NodeOptions::new(&broker.endpoint(), "slow", "g");
    slow_opts = slow_opts.receive_hwm(1);
    slow_opts = slow_opts.connect_timeout(DEADLINE);
    let slow_node = canopy_client::Node::connect(slow_opts).await.unwrap();
    let slow = slow_node.store("default").await.unwrap();
    let writer = node(&broker, "w", "g")
        .await
        .store("default")
        .await
        .unwrap();
    let g = group("g");
    let mut tasks = Vec::new();
    for i in 0..4000 {
        let w = writer.clone();
        let g = g.clone();
        tasks.push(tokio::spawn(async move {
            w.put(&g, &format!("k{}", i % 500), &i).await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    writer.delete_subtree(&g, "k1").await.unwrap();
    // The master's exact contents, through a fresh snapshot.
    let truth = node(&broker, "truth", "g")
        .await
        .store("default")
        .await
        .unwrap()
        .view();
    eventually("the slow replica equals the master", || {
        let same = slow.view() == truth;
        async move { same.then_some(()) }
    })
    .await;
    assert!(
        slow.resyncs() >= 1,
        "the gap was noticed and resynced ({} resyncs)",
        slow.resyncs()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemas_and_limits_are_enforced_with_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("sensor.json"),
        r#"{"type":"object","required":["celsius"],"properties":{"celsius":{"type":"number","maximum":100}}}"#,
    )
    .unwrap();
    let config = dir.path().join("canopy.toml");
    std::fs::write(
        &config,
        format!(
            "schemas_dir = {:?}\n[stores.sensors]\nschema = \"sensor.json\"\nmax_keys = 2\npersist = false\n",
            dir.path().display().to_string()
        ),
    )
    .unwrap();
    let broker = BrokerProcess::start(&["--config", config.to_str().unwrap()]);
    let n = node(&broker, "n", "").await;
    let r = n.store("sensors").await.unwrap();
    let root = Level::root();
    r.put(&root, "a", &serde_json::json!({"celsius": 21.5}))
        .await
        .unwrap();
    let (code, msg) = refused(
        r.put(&root, "b", &serde_json::json!({"celsius": 500}))
            .await
            .unwrap_err(),
    );
    assert_eq!(code, ErrorCode::SchemaViolation);
    assert!(
        msg.contains("/sensors/:b") && msg.contains("maximum"),
        "{msg}"
    );
    let (code, msg) = refused(
        r.put(&root, "b", &serde_json::json!({"f": 1}))
            .await
            .unwrap_err(),
    );
    assert_eq!(code, ErrorCode::SchemaViolation);
    assert!(msg.contains("celsius"), "{msg}");
    r.put(&root, "b", &serde_json::json!({"celsius": 1}))
        .await
        .unwrap();
    let (code, msg) = refused(
        r.put(&root, "c", &serde_json::json!({"celsius": 1}))
            .await
            .unwrap_err(),
    );
    assert_eq!(code, ErrorCode::LimitReached);
    assert!(
        msg.contains("/sensors/:c") && msg.contains("max_keys"),
        "{msg}"
    );
    // Overwriting an existing key is within the limit.
    r.put(&root, "b", &serde_json::json!({"celsius": 2}))
        .await
        .unwrap();
    let err = n.store("nope").await;
    assert!(
        err.is_ok(),
        "replicating a missing store is allowed (it is empty)"
    );
    let (code, _) = refused(err.unwrap().put(&root, "x", &1).await.unwrap_err());
    assert_eq!(code, ErrorCode::UnknownStore);
    let stores = n.stores().await.unwrap();
    let sensors = stores.stores.iter().find(|s| s.name == "sensors").unwrap();
    assert_eq!(
        (sensors.keys, sensors.max_keys, sensors.persist),
        (2, 2, false)
    );
    assert!(stores.stores.iter().any(|s| s.name == "default"));
    assert_eq!(counter(&broker, "schema_violations").await, 2);
    assert_eq!(counter(&broker, "store_limit_hits").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill() {
    let mut broker = BrokerProcess::start(&[]);
    let (last_seq, expired_key_deadline) = {
        let n = node(&broker, "n", "").await;
        let r = n.store("default").await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..2000 {
            let r = r.clone();
            tasks.push(tokio::spawn(async move {
                r.put(&Level::root(), &format!("k{i}"), &i).await
            }));
        }
        let mut last = 0;
        for t in tasks {
            last = last.max(t.await.unwrap().unwrap().seq);
        }
        let ttl = r
            .put_ttl(&Level::root(), "short", &1, Duration::from_millis(300))
            .await
            .unwrap();
        last = last.max(ttl.seq);
        // Killed right after the last acknowledgement.
        broker.kill9();
        (last, canopy_tests_now_ms() + 300)
    };
    // Restart only once the short key's deadline has passed.
    while canopy_tests_now_ms() <= expired_key_deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    broker.restart();
    let n = node(&broker, "n2", "").await;
    let r = n.store("default").await.unwrap();
    for i in 0..2000 {
        assert_eq!(
            r.get::<i64>(&format!("k{i}")).unwrap(),
            Some(i),
            "k{i} lost"
        );
    }
    assert_eq!(
        r.get::<i64>("short").unwrap(),
        None,
        "expired key came back"
    );
    let next = r.put(&Level::root(), "after", &1).await.unwrap();
    assert!(
        next.seq > last_seq,
        "sequence carried forward: {} after {last_seq}",
        next.seq
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_resync_after_a_broker_restart() {
    let mut broker = BrokerProcess::start(&["--heartbeat-ms", "100", "--node-timeout-ms", "600"]);
    let n = node(&broker, "n", "g").await;
    let r = n.store("default").await.unwrap();
    r.put(&group("g"), "a", &1).await.unwrap();
    broker.kill9();
    broker.restart();
    // Written by someone else after the restart: the replica must catch up.
    let other = node(&broker, "o", "g")
        .await
        .store("default")
        .await
        .unwrap();
    other.put(&group("g"), "b", &2).await.unwrap();
    converge(&r, "b", Some(2)).await;
    assert_eq!(r.get::<i64>("a").unwrap(), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_requests_are_rate_limited_per_connection() {
    let broker = BrokerProcess::start(&["--max-snapshots-per-s", "5"]);
    let ctx = zmq::Context::new();
    let dealer = ctx.socket(zmq::DEALER).unwrap();
    dealer.set_rcvtimeo(DEADLINE.as_millis() as i32).unwrap();
    dealer.connect(&broker.endpoint()).unwrap();
    let started = std::time::Instant::now();
    for _ in 0..50 {
        dealer
            .send_multipart([&b"ICANHAZ?"[..], b"/default/:"], 0)
            .unwrap();
    }
    let total = eventually("all 50 requests handled", || {
        let b = &broker;
        async move {
            let served = counter(b, "snapshots").await;
            let limited = counter(b, "snapshots_rate_limited").await;
            (served + limited == 50).then_some((served, limited))
        }
    })
    .await;
    let elapsed = started.elapsed().as_secs_f64();
    let allowed = 5.0 + elapsed * 5.0 + 1.0;
    assert!(
        (total.0 as f64) <= allowed,
        "{} served in {elapsed:.2}s with a limit of 5/s",
        total.0
    );
    assert!(total.0 >= 5, "the burst is served");
    // Each served request got its KTHXBAI; another connection is not limited.
    for _ in 0..total.0 {
        let frames = dealer.recv_multipart(0).unwrap();
        assert_eq!(frames[0], b"KTHXBAI");
    }
    let other = ctx.socket(zmq::DEALER).unwrap();
    other.set_rcvtimeo(DEADLINE.as_millis() as i32).unwrap();
    other.connect(&broker.endpoint()).unwrap();
    other
        .send_multipart([&b"ICANHAZ?"[..], b"/default/:"], 0)
        .unwrap();
    assert_eq!(other.recv_multipart(0).unwrap()[0], b"KTHXBAI");
}

/// `count` raw DEALERs that each ask for `/default/:` and read little
/// (a receive queue of 16), so this process does not compete with the
/// broker for the CPU while it streams.
fn slow_snapshot_readers(
    ctx: &zmq::Context,
    broker: &BrokerProcess,
    count: usize,
) -> Vec<zmq::Socket> {
    (0..count)
        .map(|_| {
            let dealer = ctx.socket(zmq::DEALER).unwrap();
            dealer.set_linger(0).unwrap();
            dealer.set_rcvhwm(16).unwrap();
            dealer.set_rcvtimeo(DEADLINE.as_millis() as i32).unwrap();
            dealer.connect(&broker.endpoint()).unwrap();
            dealer
                .send_multipart([&b"ICANHAZ?"[..], b"/default/:"], 0)
                .unwrap();
            dealer
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_served_while_many_snapshots_stream() {
    // The loop gave every pending snapshot a 2,048-key chunk per turn
    // before it read a request again: with 2,000 nodes resyncing after a
    // restart a turn took seconds, longer than a node's timeout. Now a turn
    // sends at most 4,096 KVSYNCs over all of them together.
    const KEYS: u64 = 10_000;
    const READERS: usize = 100;
    let broker = BrokerProcess::start(&[]);
    let n = node(&broker, "loader", "").await;
    let specs = (0..KEYS)
        .map(|i| {
            canopy_client::WriteSpec::new(
                canopy_client::OpKind::Put,
                &Level::root(),
                &format!("k{i:06}"),
            )
            .value_msgpack(vec![0x01])
        })
        .collect();
    for outcome in n.write_many("default", specs).await {
        outcome.unwrap();
    }
    let ctx = zmq::Context::new();
    // Held open while the streams are measured.
    let _readers = slow_snapshot_readers(&ctx, &broker, READERS);
    // Every request has been taken up and streams.
    let total = KEYS * READERS as u64;
    eventually("every snapshot is streaming", || {
        let b = &broker;
        async move { (counter(b, "snapshots").await == READERS as u64).then_some(()) }
    })
    .await;
    // Between two STATS answered back to back the broker may stream only a
    // turn or a few, not a chunk for every reader.
    let first = n.stats().await.unwrap().counters["snapshot_keys_sent"];
    let second = n.stats().await.unwrap().counters["snapshot_keys_sent"];
    eprintln!(
        "{} KVSYNCs between two STATS ({second} of {total} sent)",
        second - first
    );
    assert!(
        second < total,
        "the streams ended before they were measured"
    );
    assert!(
        second - first < 50_000,
        "{} KVSYNCs went out between two STATS",
        second - first
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_beyond_the_stream_limit_wait_their_turn_and_arrive_whole() {
    // The ROUTER took 100,000 messages per peer, so every syncing node's
    // level sat queued in the broker at once: the first sync's memory
    // high-water mark, which the allocator kept afterwards. Now at most
    // max_snapshot_streams stream, each into a queue of 4,096, and the rest
    // wait in order with the view they asked for.
    const KEYS: u64 = 12_000;
    const STREAMS: u64 = 2;
    const READERS: usize = 5;
    let broker = BrokerProcess::start(&["--max-snapshot-streams", &STREAMS.to_string()]);
    let n = node(&broker, "loader", "").await;
    // 2 KiB values: a stream outgrows the ROUTER's queue and the socket
    // buffers of a reader that does not read, so it stays open.
    let value = rmp_serde::to_vec(&"v".repeat(2048)).unwrap();
    let put = |key: String| {
        canopy_client::WriteSpec::new(canopy_client::OpKind::Put, &Level::root(), &key)
            .value_msgpack(value.clone())
    };
    let mut last_seq = 0;
    for outcome in n
        .write_many(
            "default",
            (0..KEYS).map(|i| put(format!("k{i:06}"))).collect(),
        )
        .await
    {
        last_seq = last_seq.max(outcome.unwrap().seq);
    }
    let ctx = zmq::Context::new();
    let readers = slow_snapshot_readers(&ctx, &broker, READERS);
    // Nobody reads yet: two streams are open (and full), three wait.
    eventually("two streams open, three waiting", || {
        let b = &broker;
        async move {
            let streaming = counter(b, "snapshots_streaming").await;
            let waiting = counter(b, "snapshots_waiting").await;
            (streaming == STREAMS && waiting == READERS as u64 - STREAMS).then_some(())
        }
    })
    .await;
    // A write after the requests: no snapshot holds it, however long it
    // waited for its stream.
    let late = n
        .write_many("default", vec![put("late".into())])
        .await
        .remove(0)
        .unwrap();
    assert!(late.seq > last_seq);
    assert_eq!(counter(&broker, "snapshots_waited").await, 3);
    // Read them all at once: which requests stream first is the broker's
    // arrival order, not this one.
    let mut keys = [0u64; READERS];
    let mut done = [false; READERS];
    let deadline = std::time::Instant::now() + DEADLINE;
    while done.iter().any(|d| !d) {
        assert!(
            std::time::Instant::now() < deadline,
            "snapshots unfinished: {done:?}, keys {keys:?}"
        );
        let mut items: Vec<zmq::PollItem> = readers
            .iter()
            .map(|r| r.as_poll_item(zmq::POLLIN))
            .collect();
        zmq::poll(&mut items, 100).unwrap();
        for (i, reader) in readers.iter().enumerate() {
            while !done[i] {
                let Ok(frames) = reader.recv_multipart(zmq::DONTWAIT) else {
                    break;
                };
                if frames[0] == b"KTHXBAI" {
                    let seq = u64::from_be_bytes(frames[1][..].try_into().unwrap());
                    assert_eq!(seq, last_seq, "reader {i}: the state as it was asked for");
                    done[i] = true;
                } else {
                    assert_ne!(frames[0], b"late", "reader {i}: a write after the request");
                    keys[i] += 1;
                }
            }
        }
    }
    assert_eq!(keys, [KEYS; READERS], "every reader gets the whole level");
    eventually("no stream left", || {
        let b = &broker;
        async move {
            let open =
                counter(b, "snapshots_streaming").await + counter(b, "snapshots_waiting").await;
            (open == 0).then_some(())
        }
    })
    .await;
}
