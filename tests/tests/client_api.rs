//! The Rust client's API contract (issue 15): cancellation stops what was
//! started, dropping unregisters, closing never blocks the runtime, replicas
//! say how current they are, and a subscriber can know when its
//! subscriptions are in force.

mod common;

use canopy_client::{ClientError, ErrorKind, Node, NodeEvent, NodeOptions, ReplicaState};
use common::*;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Threads of this process whose name starts with `prefix` (Linux keeps
/// the first 15 bytes of a thread's name).
fn threads_named(prefix: &str) -> usize {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
        .filter(|name| name.trim_end().starts_with(prefix))
        .count()
}

/// The node's subscription count as the broker has it (from PING).
async fn broker_subscriptions(observer: &Node, path: &str) -> Option<u32> {
    observer
        .nodes(None)
        .await
        .ok()?
        .into_iter()
        .find(|n| n.path == path)
        .map(|n| n.subscriptions)
}

#[tokio::test]
async fn dropping_a_connect_future_stops_its_io_thread() {
    // Something listens but never speaks ZMTP: connect waits for a WELCOME
    // that never comes.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("tcp://{}", silent.local_addr().unwrap());
    let options = NodeOptions::new(&endpoint, "cx1", "").connect_timeout(Duration::from_secs(60));
    // Boxed, so that dropping it drops the future itself.
    let mut connect = Box::pin(Node::connect(options));
    // Poll it until its I/O thread runs, then give up on it.
    let started = tokio::time::timeout(Duration::from_millis(400), &mut connect).await;
    assert!(started.is_err(), "connect to a silent peer cannot succeed");
    assert_eq!(threads_named("canopy-node-cx1"), 1, "the I/O thread runs");
    drop(connect);
    eventually("the cancelled connect's I/O thread is gone", || async {
        (threads_named("canopy-node-cx1") == 0).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_failed_connect_leaves_no_thread_behind() {
    let closed = free_base_port();
    let options = NodeOptions::new(&format!("tcp://127.0.0.1:{closed}"), "cx2", "").fail_fast(true);
    let err = Node::connect(options).await.err().expect("nothing listens");
    assert_eq!(err.kind(), ErrorKind::Unreachable, "{err}");
    eventually("the failed connect's I/O thread is gone", || async {
        (threads_named("canopy-node-cx2") == 0).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_cancelled_or_dropped_store_unregisters_and_unsubscribes() -> Result<(), ClientError> {
    let broker = BrokerProcess::start(&["--heartbeat-ms", "100", "--node-timeout-ms", "2000"]);
    let n = node(&broker, "st1", "eu/fra").await;
    let observer = node(&broker, "observer", "").await;
    n.subscribe("events")?;
    let baseline = n.subscription_count();
    eventually("the broker sees the baseline subscriptions", || async {
        (broker_subscriptions(&observer, "eu/fra/st1").await == Some(baseline as u32)).then_some(())
    })
    .await;

    // Cancelled mid-way: registered, subscribed, snapshot asked for.
    // Polled once (it registers, subscribes and asks for snapshots), then dropped.
    tokio::select! {
        biased;
        opened = n.store("default") => panic!("opened at the first poll: {:?}", opened.err()),
        () = std::future::ready(()) => {}
    }
    assert_eq!(n.open_replicas(), 0);
    assert_eq!(n.subscription_count(), baseline);

    // Opened, cloned, dropped: registered while any clone lives.
    let replica = n.store("default").await?;
    assert_eq!(n.open_replicas(), 1);
    assert_eq!(
        n.subscription_count(),
        baseline + replica.levels().len(),
        "one prefix per level: root, eu, eu/fra and the node"
    );
    let clone = replica.clone();
    drop(replica);
    assert_eq!(n.open_replicas(), 1);
    let mut watch = clone.watch("");
    drop(clone);
    assert_eq!(n.open_replicas(), 0);
    assert_eq!(n.subscription_count(), baseline);
    assert_eq!(
        tokio::time::timeout(DEADLINE, watch.next())
            .await
            .ok()
            .flatten(),
        None,
        "a dropped replica's watch ends"
    );
    eventually("the broker sees the subscriptions taken back", || async {
        (broker_subscriptions(&observer, "eu/fra/st1").await == Some(baseline as u32)).then_some(())
    })
    .await;
    Ok(())
}

/// A ticker on the same single-threaded runtime keeps running while a node
/// with publishes it cannot flush (the broker is stopped) is closed and
/// another is dropped: neither blocks the runtime.
#[tokio::test(flavor = "current_thread")]
async fn close_and_drop_do_not_block_the_runtime() -> Result<(), ClientError> {
    let broker = BrokerProcess::start(&[]);
    let closing = node(&broker, "closer", "").await;
    let dropping = node(&broker, "dropper", "").await;
    // Subscribed (and in force at their own publishers), so that what they
    // publish is queued rather than filtered out at the source.
    for n in [&closing, &dropping] {
        n.subscribe("bulk")?;
        n.sync_subscriptions().await?;
    }
    broker.signal("STOP");
    // More than the kernel's socket buffers hold: the rest waits in the
    // publisher's queue, which closing lingers on (up to 2 s).
    let payload = vec![7u8; 16 * 1024];
    for _ in 0..2_000 {
        closing.publish_raw(&canopy_client::Address::Plain, "bulk", &payload)?;
        dropping.publish_raw(&canopy_client::Address::Plain, "bulk", &payload)?;
    }
    let ticks = Arc::new(AtomicU64::new(0));
    let ticker = {
        let ticks = Arc::clone(&ticks);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(10)).await;
                ticks.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let started = Instant::now();
    drop(dropping);
    let after_drop = ticks.load(Ordering::Relaxed);
    closing.close().await;
    let waited = started.elapsed();
    let ticked = ticks.load(Ordering::Relaxed) - after_drop;
    broker.signal("CONT");
    ticker.abort();
    assert!(
        waited >= Duration::from_millis(500),
        "close waited for the flush ({waited:?})"
    );
    // At 10 ms a tick, a blocked runtime would show none at all.
    assert!(
        ticked >= 10,
        "the runtime ran only {ticked} ticks while close waited {waited:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_replica_says_when_its_reads_may_be_stale() -> Result<(), ClientError> {
    let mut broker = BrokerProcess::start(&["--heartbeat-ms", "100", "--node-timeout-ms", "600"]);
    let n = node(&broker, "stale1", "eu").await;
    let replica = n.store("default").await?;
    assert_eq!(replica.state(), ReplicaState::Synced);
    let changes = replica.state_changes();
    let before = std::time::SystemTime::now();
    broker.signal("STOP");
    let since = eventually("the replica turns stale", || async {
        match replica.state() {
            ReplicaState::Stale { since } => Some(since),
            _ => None,
        }
    })
    .await;
    assert!(since >= before, "stale since the link went quiet");
    assert!(changes.has_changed().unwrap_or(false), "watchers are told");
    broker.signal("CONT");
    eventually("the replica is synced again", || async {
        (replica.state() == ReplicaState::Synced).then_some(())
    })
    .await;
    // A broker restart: resyncing (from the same instant the data went
    // old), then synced.
    broker.kill9();
    eventually("stale after the broker died", || async {
        matches!(replica.state(), ReplicaState::Stale { .. }).then_some(())
    })
    .await;
    broker.restart();
    eventually("synced after the restart", || async {
        (replica.state() == ReplicaState::Synced).then_some(())
    })
    .await;
    n.close().await;
    assert_eq!(replica.state(), ReplicaState::Closed);
    Ok(())
}

/// Once `sync_subscriptions` returns, one publish is enough: from this node
/// itself, and from a node that connects afterwards.
#[tokio::test]
async fn sync_subscriptions_means_one_publish_is_enough() -> Result<(), ClientError> {
    let broker = BrokerProcess::start(&[]);
    for round in 0..5 {
        let name = format!("syncer{round}");
        let subscriber = node(&broker, &name, "eu").await;
        let mut events = subscriber.events()?;
        subscriber.subscribe(&format!("probe{round}"))?;
        subscriber.sync_subscriptions().await?;
        subscriber.publish_group("eu", &format!("probe{round}/self"), &round)?;
        let got = next_real(&mut events).await;
        assert_eq!(got.topic, format!("probe{round}/self"));
        let publisher = node(&broker, &format!("late{round}"), "").await;
        publisher.publish_group("eu", &format!("probe{round}/late"), &round)?;
        let got = next_real(&mut events).await;
        assert_eq!(got.topic, format!("probe{round}/late"));
        // Echoes are never delivered, not even to a catch-all subscriber.
        subscriber.subscribe("")?;
        subscriber.sync_subscriptions().await?;
        subscriber.publish_node(&format!("eu/{name}"), "direct", &1)?;
        let got = next_real(&mut events).await;
        assert_eq!(got.topic, "direct", "no echo came first");
        subscriber.close().await;
        publisher.close().await;
    }
    Ok(())
}

#[tokio::test]
async fn errors_have_kinds_and_the_event_stream_ends_on_close() -> Result<(), ClientError> {
    let broker = BrokerProcess::start(&[]);
    let n = node(&broker, "kinds", "").await;
    let err = n.store("no such store!").await.err().expect("invalid name");
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    let err = n.subscribe("$reserved").expect_err("reserved topic");
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    let mut events = n.events()?;
    n.close().await;
    let end = tokio::time::timeout(DEADLINE, async {
        while let Some(e) = events.next().await {
            assert!(!matches!(e, NodeEvent::Event(_)), "{e:?}");
        }
    })
    .await;
    assert!(end.is_ok(), "the event stream ends once the node is closed");
    let err = n.publish_topic("t", &1).expect_err("closed");
    assert_eq!(err.kind(), ErrorKind::Closed, "{err}");
    Ok(())
}

/// The opaque CHP space from the Rust client: a replica of one level with
/// whole keys and raw bytes, writes applied at once, a raw CHP KVSET seen,
/// canonical keys of a store named like the level kept out.
#[tokio::test]
async fn the_rust_client_reaches_the_opaque_chp_space() -> Result<(), ClientError> {
    let broker = BrokerProcess::start(&[]);
    let n = node(&broker, "chp1", "").await;
    let replica = n.chp_store("/client/").await?;
    assert!(replica.is_chp());
    let ack = replica.chp_put("/client/7", b"seven", None).await?;
    assert!(ack.seq > 0);
    assert_eq!(replica.get_raw("/client/7").as_deref(), Some(&b"seven"[..]));
    let mut changes = replica.watch("/client/");
    // A plain CHP client's KVSET, ASCII value.
    let ctx = zmq::Context::new();
    let publisher = ctx.socket(zmq::PUB).unwrap();
    publisher.connect(&broker.endpoint_at(2)).unwrap();
    let deadline = Instant::now() + DEADLINE;
    let change = loop {
        publisher
            .send_multipart(
                [&b"/client/raw"[..], &[0u8; 8][..], b"", b"", b"from zmq"],
                0,
            )
            .unwrap();
        match tokio::time::timeout(Duration::from_millis(200), changes.next()).await {
            Ok(Some(c)) if c.key == "/client/raw" => break c,
            _ => assert!(Instant::now() < deadline, "the raw KVSET never arrived"),
        }
    };
    assert_eq!(change.value.as_deref(), Some(&b"from zmq"[..]));
    assert_eq!(
        replica.keys("/client/"),
        vec!["/client/7".to_owned(), "/client/raw".to_owned()]
    );
    // Without a replica, and deletion.
    n.chp_put("/client/8", b"eight", Some(Duration::from_secs(60)))
        .await?;
    replica.chp_delete("/client/7").await?;
    assert_eq!(replica.get_raw("/client/7"), None);
    eventually("the other write arrives", || async {
        replica.get_raw("/client/8").map(|_| ())
    })
    .await;
    // A canonical store replica refuses chp writes; an invalid level is refused.
    let store = n.store("default").await?;
    assert_eq!(
        store
            .chp_put("/client/9", b"x", None)
            .await
            .err()
            .map(|e| e.kind()),
        Some(ErrorKind::InvalidArgument)
    );
    assert_eq!(
        n.chp_store("/default/:").await.err().map(|e| e.kind()),
        Some(ErrorKind::InvalidArgument)
    );
    // Opaque values have no type: incr is refused.
    let incr = canopy_client::WriteSpec::new(
        canopy_client::OpKind::Incr,
        &canopy_client::Level::root(),
        "/client/8",
    );
    let err = n.write("$chp", incr).await.expect_err("no typed ops");
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    Ok(())
}

/// Many acknowledged writes at once: all in flight together, each
/// acknowledged on its own, outcomes in order, applied to the replica.
#[tokio::test]
async fn write_many_pipelines_acknowledged_writes() -> Result<(), ClientError> {
    let broker = BrokerProcess::start(&[]);
    let n = node(&broker, "many", "").await;
    let replica = n.store("default").await?;
    let root = canopy_client::Level::root();
    let mut specs = Vec::new();
    for i in 0..3000 {
        specs.push(
            canopy_client::WriteSpec::new(canopy_client::OpKind::Put, &root, &format!("k{i}"))
                .value(&i)?,
        );
    }
    // One that must fail in the middle: put-if-absent of a key written above.
    specs.insert(
        1500,
        canopy_client::WriteSpec::new(canopy_client::OpKind::PutIfAbsent, &root, "k0")
            .value(&-1)?,
    );
    let outcomes = replica.write_many(specs).await;
    assert_eq!(outcomes.len(), 3001);
    let failed: Vec<usize> = outcomes
        .iter()
        .enumerate()
        .filter(|(_, o)| o.is_err())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(failed, vec![1500]);
    assert_eq!(
        outcomes[1500].as_ref().err().map(|e| e.kind()),
        Some(ErrorKind::Conflict)
    );
    let seqs: Vec<u64> = outcomes
        .iter()
        .filter_map(|o| o.as_ref().ok())
        .map(|a| a.seq)
        .collect();
    assert!(seqs.iter().all(|&s| s > 0));
    assert_eq!(replica.get::<i64>("k2999")?, Some(2999), "applied at once");
    assert_eq!(replica.get::<i64>("k0")?, Some(0));
    let plain = n
        .write_many(
            "default",
            vec![canopy_client::WriteSpec::new(canopy_client::OpKind::Incr, &root, "count").by(5)],
        )
        .await;
    assert!(plain[0].is_ok());
    Ok(())
}
