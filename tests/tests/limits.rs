//! Connection-level limits: the number of TCP connections the broker holds,
//! and the requests one connection may have unanswered.

mod common;

use canopy_client::{ClientError, Node, NodeOptions};
use canopy_schemas::control::Ping;
use canopy_schemas::state::{OpKind, Write};
use canopy_schemas::{ErrorCode, Reply, Request};
use common::*;

/// A raw DEALER on the ROUTER, admitted once a request gets an answer.
fn admitted_dealer(ctx: &zmq::Context, broker: &BrokerProcess) -> zmq::Socket {
    let dealer = ctx.socket(zmq::DEALER).unwrap();
    dealer.set_linger(0).unwrap();
    dealer.set_rcvtimeo(DEADLINE.as_millis() as i32).unwrap();
    dealer.connect(&broker.endpoint()).unwrap();
    // A PING before HELLO is answered with unknown_node: proof of a live link.
    let ping = Request::Ping(Ping {
        id: 1,
        dropped: 0,
        subscriptions: 0,
        link: None,
    });
    dealer.send_multipart(ping.encode().unwrap(), 0).unwrap();
    let reply = dealer.recv_multipart(0).expect("admitted dealer answered");
    assert_eq!(reply[0], b"ERROR");
    dealer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_max_connections_are_refused_clearly() {
    let broker = BrokerProcess::start(&["--max-connections", "3"]);
    let ctx = zmq::Context::new();
    let held: Vec<_> = (0..3).map(|_| admitted_dealer(&ctx, &broker)).collect();

    // A fourth raw connection fails its handshake with ZAP status 500.
    let extra = ctx.socket(zmq::DEALER).unwrap();
    extra.set_linger(0).unwrap();
    extra
        .monitor(
            "inproc://limits-extra",
            zmq::SocketEvent::HANDSHAKE_FAILED_AUTH as i32,
        )
        .unwrap();
    let monitor = ctx.socket(zmq::PAIR).unwrap();
    monitor.set_rcvtimeo(DEADLINE.as_millis() as i32).unwrap();
    monitor.connect("inproc://limits-extra").unwrap();
    extra.connect(&broker.endpoint()).unwrap();
    let event = monitor.recv_multipart(0).expect("handshake refused");
    let value = u32::from_le_bytes(event[0][2..6].try_into().unwrap());
    assert_eq!(value, 500);
    drop(extra);

    // The client library says why instead of timing out.
    let mut o = NodeOptions::new(&broker.endpoint(), "late", "g");
    o = o.connect_timeout(DEADLINE);
    match Node::connect(o).await {
        Err(ClientError::BrokerFull(endpoint)) => assert_eq!(endpoint, broker.endpoint()),
        Err(e) => panic!("expected BrokerFull, got {e}"),
        Ok(_) => panic!("a node got in beyond max_connections"),
    }

    // Closed connections free their places: a whole node gets in again.
    drop(held);
    let late = eventually("a node joins once connections closed", || async {
        let mut o = NodeOptions::new(&broker.endpoint(), "late", "g");
        o = o.connect_timeout(DEADLINE);
        Node::connect(o).await.ok()
    })
    .await;
    let stats = late.stats().await.unwrap();
    let refused = stats.counters["connections_refused"];
    assert!(refused >= 4, "refused {refused}");
    // The node's three connections are open (the refused ones were counted
    // as closed).
    assert_eq!(
        stats.counters["connections_open"], 3,
        "{:?}",
        stats.counters
    );
    assert!(broker.stderr().contains("max_connections reached"));
}

fn write(id: u64) -> [Vec<u8>; 2] {
    Request::Write(Write {
        id,
        store: "default".into(),
        level: "g".into(),
        node: false,
        key: format!("k{id}"),
        op: OpKind::Put,
        value: Some(rmp_serde::to_vec(&id).unwrap()),
        by: None,
        expected_seq: None,
        ttl_ms: None,
    })
    .encode()
    .unwrap()
}

fn decode(frames: &[Vec<u8>]) -> Reply {
    let parts: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
    Reply::decode(&parts).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_beyond_max_inflight_per_connection_are_refused() {
    let broker = BrokerProcess::start(&["--max-inflight-per-connection", "4"]);
    let ctx = zmq::Context::new();
    let dealer = admitted_dealer(&ctx, &broker);
    // 200 durable writes at once: each waits for its commit, so the burst
    // outruns the disk and only a few may be unanswered at a time.
    const N: u64 = 200;
    for id in 1..=N {
        let [name, body] = write(id);
        dealer.send_multipart([name, body], 0).unwrap();
    }
    let (mut written, mut refused) = (0u64, 0u64);
    for _ in 0..N {
        let frames = dealer.recv_multipart(0).expect("every request answered");
        match decode(&frames) {
            Reply::Written(_) => written += 1,
            Reply::Error(e) => {
                assert_eq!(e.code, ErrorCode::TooManyRequests, "{}", e.message);
                assert!(e.message.contains("max_inflight_per_connection is 4"));
                refused += 1;
            }
            other => panic!("unexpected reply {other:?}"),
        }
    }
    assert!(refused >= 1, "no request was refused ({written} written)");
    assert_eq!(written + refused, N);
    assert_eq!(counter(&broker, "requests_inflight_limited").await, refused);
    assert_eq!(counter(&broker, "writes").await, written);
    // With its replies read, the connection is served again.
    let [name, body] = write(N + 1);
    dealer.send_multipart([name, body], 0).unwrap();
    let frames = dealer.recv_multipart(0).unwrap();
    assert!(matches!(decode(&frames), Reply::Written(_)));
}

/// Receives until a message on one of `want` arrives; returns its topic.
/// Messages on other topics fail the test.
fn next_topic(sub: &zmq::Socket, allowed: &[&str]) -> Option<String> {
    let frames = sub.recv_multipart(0).ok()?;
    let topic = String::from_utf8_lossy(&frames[0]).into_owned();
    assert!(allowed.contains(&topic.as_str()), "got {topic}");
    Some(topic)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_connection_holds_at_most_max_subscriptions_per_connection() {
    let broker = BrokerProcess::start(&["--max-subscriptions-per-connection", "3"]);
    let ctx = zmq::Context::new();
    let a = ctx.socket(zmq::SUB).unwrap();
    let b = ctx.socket(zmq::SUB).unwrap();
    for s in [&a, &b] {
        s.set_rcvtimeo(100).unwrap();
    }
    for p in ["p1", "p2", "p3", "p4", "p5"] {
        a.set_subscribe(p.as_bytes()).unwrap();
    }
    b.set_subscribe(b"p4").unwrap();
    a.connect(&broker.endpoint_at(1)).unwrap();
    b.connect(&broker.endpoint_at(1)).unwrap();
    eventually("a's two subscriptions beyond 3 refused", || {
        let broker = &broker;
        async move {
            (counter(broker, "subscription_connection_limit_hits").await == 2
                && counter(broker, "subscriptions_active").await == 4)
                .then_some(())
        }
    })
    .await;
    let publisher = node(&broker, "pub", "").await;
    let publish_all = || {
        for p in ["p1", "p2", "p3", "p4", "p5"] {
            publisher.publish_topic(p, &0).unwrap();
        }
    };
    // a gets p1..p3 only; b gets its p4 (held by another connection is fine).
    let deadline = std::time::Instant::now() + DEADLINE;
    let (mut seen_a, mut seen_b) = (std::collections::BTreeSet::new(), false);
    while seen_a.len() < 3 || !seen_b {
        assert!(
            std::time::Instant::now() < deadline,
            "a saw {seen_a:?}, b {seen_b}"
        );
        publish_all();
        while let Some(t) = next_topic(&a, &["p1", "p2", "p3"]) {
            seen_a.insert(t);
        }
        seen_b |= next_topic(&b, &["p4"]).is_some();
    }
    // a lets go of p4 (never applied to it) and p1: b keeps p4, and a has
    // room for p5 again.
    a.set_unsubscribe(b"p4").unwrap();
    a.set_unsubscribe(b"p1").unwrap();
    a.set_subscribe(b"p5").unwrap();
    let deadline = std::time::Instant::now() + DEADLINE;
    let (mut got_p5, mut got_b) = (false, false);
    while !(got_p5 && got_b) {
        assert!(
            std::time::Instant::now() < deadline,
            "p5 {got_p5}, b {got_b}"
        );
        publish_all();
        while let Some(t) = next_topic(&a, &["p1", "p2", "p3", "p5"]) {
            got_p5 |= t == "p5";
        }
        got_b |= next_topic(&b, &["p4"]).is_some();
    }
    assert_eq!(
        counter(&broker, "subscription_connection_limit_hits").await,
        2
    );
}
