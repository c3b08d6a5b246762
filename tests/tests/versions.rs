//! Protocol versions: HELLO names the range a peer speaks, WELCOME the
//! version chosen; brokers of neighbouring versions work in one tree (a
//! broker held at version 1 with `--protocol-max 1` stands in for the
//! previous release), and a peer with no common version gets a clear error
//! naming both ranges.

mod common;

use canopy_schemas::control::Hello;
use canopy_schemas::{ErrorCode, Reply, Request};
use common::*;
use std::time::Duration;

/// A HELLO from a raw DEALER, and the broker's reply.
fn raw_hello(broker: &BrokerProcess, protocol: u32, protocol_max: Option<u32>) -> Reply {
    let ctx = zmq::Context::new();
    let dealer = ctx.socket(zmq::DEALER).unwrap();
    dealer.set_linger(0).unwrap();
    dealer.set_rcvtimeo(DEADLINE.as_millis() as i32).unwrap();
    dealer.connect(&broker.endpoint()).unwrap();
    let hello = Request::Hello(Hello {
        id: 9,
        protocol,
        protocol_max,
        name: "raw".into(),
        group: "g".into(),
        client_version: "versions-test".into(),
    });
    dealer.send_multipart(hello.encode().unwrap(), 0).unwrap();
    let frames = dealer.recv_multipart(0).expect("a reply");
    let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
    Reply::decode(&refs).unwrap()
}

#[test]
fn the_newest_common_version_is_chosen_and_named() {
    let broker = BrokerProcess::start(&[]);
    // A version-1 client (protocol 1, no range) still joins, at version 1.
    match raw_hello(&broker, 1, None) {
        Reply::Welcome(w) => {
            assert_eq!(w.protocol, 1);
            assert!(w.features.is_empty());
            assert_eq!(w.protocol_max, Some(canopy_schemas::PROTOCOL_VERSION));
        }
        other => panic!("expected WELCOME, got {other:?}"),
    }
    // A client of this release gets the newest version and its features.
    match raw_hello(&broker, 1, Some(canopy_schemas::PROTOCOL_VERSION)) {
        Reply::Welcome(w) => {
            assert_eq!(w.protocol, canopy_schemas::PROTOCOL_VERSION);
            assert!(w.features.contains(&"version-range".to_owned()));
        }
        other => panic!("expected WELCOME, got {other:?}"),
    }
    // One from the future gets the newest both speak.
    match raw_hello(&broker, 1, Some(9)) {
        Reply::Welcome(w) => assert_eq!(w.protocol, canopy_schemas::PROTOCOL_VERSION),
        other => panic!("expected WELCOME, got {other:?}"),
    }
    // No common version: both ranges are named.
    match raw_hello(&broker, 3, Some(4)) {
        Reply::Error(e) => {
            assert_eq!(e.code, ErrorCode::VersionMismatch);
            assert_eq!(e.id, 9);
            assert!(
                e.message.contains("3..4") && e.message.contains("speaks 1..2"),
                "{}",
                e.message
            );
        }
        other => panic!("expected version_mismatch, got {other:?}"),
    }
    // A broker held at version 1 chooses 1 for everyone.
    let held = BrokerProcess::start(&["--protocol-max", "1"]);
    match raw_hello(&held, 1, Some(canopy_schemas::PROTOCOL_VERSION)) {
        Reply::Welcome(w) => assert_eq!(w.protocol, 1),
        other => panic!("expected WELCOME, got {other:?}"),
    }
    match raw_hello(&held, 2, None) {
        Reply::Error(e) => assert!(e.message.contains("speaks 1"), "{}", e.message),
        other => panic!("expected version_mismatch, got {other:?}"),
    }
}

/// Events and state cross a parent and a child of different versions.
async fn tree_works(parent_flags: &[&str], child_flags: &[&str], link_protocol: u32) {
    let parent = BrokerProcess::start(parent_flags);
    let mut flags = vec!["--upstream".to_owned(), parent.endpoint()];
    flags.extend(child_flags.iter().map(|s| s.to_string()));
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let child = BrokerProcess::start(&flags);
    // Events published below reach a node above.
    let above = node(&parent, "above", "g").await;
    above.subscribe("t").unwrap();
    let mut events = above.events().unwrap();
    let below = node(&child, "below", "g").await;
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        below.publish_group("g", "t", &1u8).unwrap();
        let next = tokio::time::timeout(Duration::from_millis(100), next_event(&mut events));
        if let Ok(e) = next.await {
            assert_eq!(e.topic, "t");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no event across the versions"
        );
    }
    // A write below is acknowledged by the master above and read there.
    let store = below.store("default").await.unwrap();
    let level = canopy_client::Level::parse("g", false).unwrap();
    let seq = store.put(&level, "k", &42u32).await.unwrap().seq;
    let root_view = above.store("default").await.unwrap();
    eventually("the write reaches the master's replica", || {
        let v = root_view.get::<u32>("k").ok().flatten();
        async move { (v == Some(42)).then_some(()) }
    })
    .await;
    assert!(seq > 0);
    // The link itself runs at the version both brokers speak.
    let line = child
        .stderr()
        .lines()
        .find(|l| l.contains("joined the parent broker"))
        .map(str::to_owned)
        .expect("the child logs its join");
    assert!(
        line.contains(&format!("protocol={link_protocol}")),
        "{line}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_child_works_under_a_parent_held_at_version_1() {
    tree_works(&["--protocol-max", "1"], &[], 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brokers_of_this_release_link_at_the_newest_version() {
    tree_works(&[], &[], canopy_schemas::PROTOCOL_VERSION).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_held_at_version_1_works_under_a_new_parent() {
    tree_works(&[], &["--protocol-max", "1"], 1).await;
}
