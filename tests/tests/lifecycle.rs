//! Broker lifecycle end to end: restart with clients reconnecting, presence
//! and expiry, protocol version mismatch, node limit, clean stop.

mod common;

use canopy_client::{ClientError, NodeEvent, NodeOptions};
use canopy_schemas::control::Hello;
use canopy_schemas::{ErrorCode, Reply, Request};
use common::*;
use std::time::Duration;

fn raw_request(endpoint: &str, request: &Request) -> (zmq::Socket, Reply) {
    let ctx = zmq::Context::new();
    let dealer = ctx.socket(zmq::DEALER).unwrap();
    dealer.set_rcvtimeo(DEADLINE.as_millis() as i32).unwrap();
    dealer.set_linger(0).unwrap();
    dealer.connect(endpoint).unwrap();
    let [name, body] = request.encode().unwrap();
    dealer.send(name, zmq::SNDMORE).unwrap();
    dealer.send(body, 0).unwrap();
    let frames = dealer.recv_multipart(0).expect("a reply");
    let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
    (dealer, Reply::decode(&refs).unwrap())
}

fn hello(protocol: u32, name: &str, group: &str) -> Request {
    Request::Hello(Hello {
        id: 7,
        protocol,
        protocol_max: None,
        name: name.into(),
        group: group.into(),
        client_version: "raw-test".into(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_reconnect_and_receive_after_broker_restart() {
    let mut broker = BrokerProcess::start(&["--heartbeat-ms", "100", "--node-timeout-ms", "600"]);
    let sub = node(&broker, "s", "a").await;
    sub.subscribe("t").unwrap();
    let mut ev = sub.events().unwrap();
    let publisher = node(&broker, "p", "").await;
    let first_epoch = sub.welcome().epoch;
    loop {
        publisher.publish_group("a", "t", &1).unwrap();
        if let Ok(Some(NodeEvent::Event(_))) =
            tokio::time::timeout(Duration::from_millis(100), ev.next()).await
        {
            break;
        }
    }
    broker.kill9();
    broker.restart();
    // The subscriber is told, with the new epoch.
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let epoch = loop {
        match tokio::time::timeout_at(deadline, ev.next()).await {
            Ok(Some(NodeEvent::Reconnected {
                epoch,
                broker_restarted: true,
            })) => break epoch,
            Ok(Some(_)) => continue,
            other => panic!("no reconnect notice: {other:?}"),
        }
    };
    assert_ne!(epoch, first_epoch);
    // And events flow again, through resubscribed sockets.
    loop {
        publisher.publish_group("a", "t", &2).unwrap();
        match tokio::time::timeout(Duration::from_millis(100), ev.next()).await {
            Ok(Some(NodeEvent::Event(e))) if e.decode::<i32>().unwrap() == 2 => break,
            Ok(None) => panic!("stream closed"),
            _ => assert!(
                tokio::time::Instant::now() < deadline,
                "no events after restart"
            ),
        }
    }
    let nodes = canopy_client::admin::nodes(&broker.endpoint(), None, DEADLINE)
        .await
        .unwrap();
    let names: Vec<&str> = nodes.iter().map(|n| n.path.as_str()).collect();
    assert!(names.contains(&"a/s"), "{names:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_appear_then_expire_after_silence() {
    let broker = BrokerProcess::start(&["--heartbeat-ms", "100", "--node-timeout-ms", "500"]);
    let live = node(&broker, "live", "eu/fra").await;
    // A raw node that says HELLO and then stays silent.
    let (_dealer, reply) = raw_request(&broker.endpoint(), &hello(1, "silent", "eu/de"));
    assert!(matches!(reply, Reply::Welcome(ref w) if w.protocol == 1 && w.heartbeat_ms == 100));
    let endpoint = broker.endpoint();
    let all = canopy_client::admin::nodes(&endpoint, None, DEADLINE)
        .await
        .unwrap();
    let paths: Vec<String> = all.iter().map(|n| n.path.clone()).collect();
    assert_eq!(paths, vec!["eu/de/silent", "eu/fra/live"]);
    let fra = canopy_client::admin::nodes(&endpoint, Some("eu/fra"), DEADLINE)
        .await
        .unwrap();
    assert_eq!(fra.len(), 1);
    assert_eq!(
        fra[0].client_version,
        concat!("canopy-client/", env!("CARGO_PKG_VERSION"))
    );
    eventually("the silent node expires", || {
        let endpoint = endpoint.clone();
        async move {
            let nodes = canopy_client::admin::nodes(&endpoint, None, DEADLINE)
                .await
                .ok()?;
            let paths: Vec<String> = nodes.into_iter().map(|n| n.path).collect();
            (paths == vec!["eu/fra/live"]).then_some(())
        }
    })
    .await;
    assert_eq!(counter(&broker, "nodes_expired").await, 1);
    // The live node, heartbeating, is still there well after the timeout.
    assert!(counter(&broker, "pings").await > 0);
    live.close().await;
    eventually("a closed node leaves at once", || {
        let endpoint = endpoint.clone();
        async move {
            let nodes = canopy_client::admin::nodes(&endpoint, None, DEADLINE)
                .await
                .ok()?;
            nodes.is_empty().then_some(())
        }
    })
    .await;
    assert_eq!(counter(&broker, "nodes_left").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incompatible_protocol_version_gets_a_clear_error() {
    let broker = BrokerProcess::start(&[]);
    let (_d, reply) = raw_request(&broker.endpoint(), &hello(99, "n", "g"));
    let Reply::Error(e) = reply else {
        panic!("expected an error, got {reply:?}")
    };
    assert_eq!(e.code, ErrorCode::VersionMismatch);
    assert_eq!(e.id, 7);
    assert!(
        e.message.contains("99") && e.message.contains("speaks 1"),
        "{}",
        e.message
    );
    // A HELLO body from a future version with other fields still gets the answer.
    let future =
        rmp_serde::to_vec_named(&serde_json::json!({"id": 3, "protocol": 3, "token": "x"}))
            .unwrap();
    let ctx = zmq::Context::new();
    let dealer = ctx.socket(zmq::DEALER).unwrap();
    dealer.set_rcvtimeo(DEADLINE.as_millis() as i32).unwrap();
    dealer.connect(&broker.endpoint()).unwrap();
    dealer
        .send_multipart([&b"HELLO"[..], &future[..]], 0)
        .unwrap();
    let frames = dealer.recv_multipart(0).unwrap();
    let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
    assert!(
        matches!(Reply::decode(&refs).unwrap(), Reply::Error(ref e) if e.code == ErrorCode::VersionMismatch && e.id == 3)
    );
    assert_eq!(counter(&broker, "hello_version_mismatch").await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_limit_and_invalid_names_are_refused() {
    let broker = BrokerProcess::start(&["--max-nodes", "1"]);
    let _first = node(&broker, "one", "g").await;
    let err = canopy_client::Node::connect(NodeOptions::new(&broker.endpoint(), "two", "g"))
        .await
        .err()
        .expect("second node refused");
    assert!(
        matches!(
            err,
            ClientError::Refused {
                code: ErrorCode::TooManyNodes,
                ..
            }
        ),
        "{err}"
    );
    let (_d, reply) = raw_request(&broker.endpoint(), &hello(1, "bad name", "g"));
    assert!(matches!(reply, Reply::Error(ref e) if e.code == ErrorCode::InvalidName));
    assert_eq!(counter(&broker, "nodes_limit_hits").await, 1);
    // Connecting to nothing is a clear error naming why, not a hang.
    let mut o = NodeOptions::new("tcp://127.0.0.1:1", "x", "");
    o = o.connect_timeout(Duration::from_millis(300));
    let err = canopy_client::Node::connect(o)
        .await
        .err()
        .expect("no broker");
    assert!(
        matches!(&err, ClientError::Unreachable { reason, .. } if reason.contains("connection refused")),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_limit_is_enforced_per_node() {
    let broker = BrokerProcess::start(&["--max-subscriptions", "8"]);
    // A node in a/b holds 5 prefixes per topic prefix (root, a, a/b, itself, plain).
    let n = node(&broker, "n", "a/b").await;
    assert_eq!(n.welcome().max_subscriptions, 8);
    n.subscribe("x").unwrap();
    let err = n.subscribe("y").unwrap_err();
    assert!(matches!(err, ClientError::SubscriptionLimit(8)), "{err}");
    n.unsubscribe("x").unwrap();
    n.subscribe("y").unwrap();
    // A node that reports more than allowed in PING is refused and counted.
    let (dealer, _) = raw_request(&broker.endpoint(), &hello(1, "liar", "g"));
    let ping = Request::Ping(canopy_schemas::control::Ping {
        id: 9,
        dropped: 0,
        subscriptions: 9,
        link: None,
    });
    let [name, body] = ping.encode().unwrap();
    dealer.send(name, zmq::SNDMORE).unwrap();
    dealer.send(body, 0).unwrap();
    let frames = dealer.recv_multipart(0).unwrap();
    let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
    assert!(
        matches!(Reply::decode(&refs).unwrap(), Reply::Error(ref e) if e.code == ErrorCode::TooManySubscriptions)
    );
    assert_eq!(counter(&broker, "subscription_limit_hits").await, 1);
}

#[test]
fn broker_stops_cleanly_on_sigterm() {
    let mut broker = BrokerProcess::start(&[]);
    assert!(broker
        .ready_line
        .contains(&format!("router=tcp://127.0.0.1:{}", broker.port)));
    assert!(broker
        .ready_line
        .contains(&format!("xpub=tcp://127.0.0.1:{}", broker.port + 1)));
    assert!(broker
        .ready_line
        .contains(&format!("xsub=tcp://127.0.0.1:{}", broker.port + 2)));
    let status = broker.terminate().expect("exit status");
    assert!(status.success(), "{status:?}");
    assert!(broker.stderr().contains("broker stopping"));
    // The broker id survives restarts (it lives in the data directory).
    let id = |line: &str| {
        line.split("broker_id=")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .to_owned()
    };
    let before = id(&broker.ready_line);
    broker.restart();
    assert_eq!(id(&broker.ready_line), before);
}

/// Issue 14, item 7: two live nodes with one name used to replace each
/// other twice a second for ever, neither told. The older connection is now
/// told `name_taken` (NodeEvent::NameTaken) and stops rejoining while the
/// newer one holds the name; it joins again once that one is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_with_one_name_do_not_fight_and_the_older_is_told() {
    let broker = BrokerProcess::start(&["--heartbeat-ms", "100"]);
    let first = node(&broker, "dup", "g").await;
    let mut events = first.events().unwrap();
    let second = node(&broker, "dup", "g").await;
    let told = tokio::time::timeout(DEADLINE, async {
        loop {
            match events.next().await {
                Some(NodeEvent::NameTaken) => return,
                Some(_) => continue,
                None => panic!("event stream closed"),
            }
        }
    })
    .await;
    assert!(
        told.is_ok(),
        "the older node was never told its name was taken"
    );
    let replaced = counter(&broker, "nodes_replaced").await;
    assert_eq!(replaced, 1);
    // Ten heartbeats later nothing has changed hands again.
    let window = std::time::Instant::now();
    while window.elapsed() < Duration::from_secs(1) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        counter(&broker, "nodes_replaced").await,
        replaced,
        "the nodes kept replacing each other"
    );
    assert!(counter(&broker, "nodes_name_taken").await >= 1);
    // The newer node is the one joined, and works.
    let nodes = canopy_client::admin::nodes(&broker.endpoint(), None, DEADLINE)
        .await
        .unwrap();
    assert_eq!(nodes.iter().filter(|n| n.path == "g/dup").count(), 1);
    let store = second.store("default").await.unwrap();
    store
        .put(&canopy_client::Level::root(), "k", &1u8)
        .await
        .unwrap();
    // Once the newer one is gone, the older joins again by itself (a taker
    // can also be a ghost: a dead process's HELLO read late).
    drop(store);
    second.close().await;
    let rejoined = tokio::time::timeout(DEADLINE, async {
        loop {
            match events.next().await {
                Some(NodeEvent::Reconnected { .. }) => return,
                Some(_) => continue,
                None => panic!("event stream closed"),
            }
        }
    })
    .await;
    assert!(
        rejoined.is_ok(),
        "the older node did not join again once the name was free"
    );
    drop(first);
}
