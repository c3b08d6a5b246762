//! A tree of broker processes: root ← middle ← leaves. Events reach every
//! matching subscriber of the tree exactly once, each link carries one copy,
//! state written at one leaf is read at another with the master's
//! sequences, and the tree heals after the middle broker is killed.

mod common;

use canopy_client::{Events, Level, Node, NodeEvent};
use common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

struct Tree {
    root: BrokerProcess,
    middle: BrokerProcess,
    leaf1: BrokerProcess,
    leaf2: BrokerProcess,
}

fn tree() -> Tree {
    let root = BrokerProcess::start(&[]);
    let middle = BrokerProcess::start(&["--upstream", &root.endpoint()]);
    let leaf1 = BrokerProcess::start(&["--upstream", &middle.endpoint()]);
    let leaf2 = BrokerProcess::start(&["--upstream", &middle.endpoint()]);
    Tree {
        root,
        middle,
        leaf1,
        leaf2,
    }
}

/// Publishes `ready` from every publisher until every subscriber has seen
/// one from each: subscriptions have then propagated through the tree.
async fn until_linked(publishers: &[&Node], subscribers: &mut [(&str, Events)]) {
    let mut seen: Vec<BTreeSet<String>> = vec![BTreeSet::new(); subscribers.len()];
    let deadline = std::time::Instant::now() + DEADLINE;
    while seen.iter().any(|s| s.len() < publishers.len()) {
        assert!(
            std::time::Instant::now() < deadline,
            "subscriptions did not propagate through the tree: {seen:?}"
        );
        for p in publishers {
            p.publish_group("g", "ready", &0).unwrap();
        }
        for (i, (_, events)) in subscribers.iter_mut().enumerate() {
            while let Ok(Some(NodeEvent::Event(e))) =
                tokio::time::timeout(Duration::from_millis(20), events.next()).await
            {
                seen[i].insert(e.publisher().to_owned());
            }
        }
    }
}

async fn counter_at(broker: &BrokerProcess, name: &str) -> u64 {
    counter(broker, name).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_subscriber_in_the_tree_gets_each_event_exactly_once() {
    let t = tree();
    // Subscribers at every level, two of them on leaf1.
    let at = [
        ("root", &t.root),
        ("middle", &t.middle),
        ("leaf1a", &t.leaf1),
        ("leaf1b", &t.leaf1),
        ("leaf2", &t.leaf2),
    ];
    let mut nodes = Vec::new();
    let mut subscribers = Vec::new();
    for (name, broker) in at {
        let n = node(broker, name, "g").await;
        n.subscribe("t").unwrap();
        n.subscribe("ready").unwrap();
        subscribers.push((name, n.events().unwrap()));
        nodes.push(n);
    }
    // Publishers at the root, the middle and a leaf.
    let p_root = node(&t.root, "pub-root", "p").await;
    let p_middle = node(&t.middle, "pub-middle", "p").await;
    let p_leaf = node(&t.leaf2, "pub-leaf", "p").await;
    let publishers = [&p_root, &p_middle, &p_leaf];
    until_linked(&publishers, &mut subscribers).await;

    let down_leaf1 = counter_at(&t.leaf1, "link_events_down").await;
    let echoes_leaf2 = counter_at(&t.leaf2, "link_echoes_dropped").await;
    const N: u64 = 50;
    for i in 0..N {
        for p in publishers {
            p.publish_group("g", "t", &i).unwrap();
        }
    }
    for p in publishers {
        p.publish_group("g", "t", &u64::MAX).unwrap(); // end marker
    }
    for (name, events) in subscribers.iter_mut() {
        let mut got: BTreeMap<(String, u64), u32> = BTreeMap::new();
        let mut ends = BTreeSet::new();
        while ends.len() < publishers.len() {
            let e = next_real(events).await;
            let v: u64 = e.decode().unwrap();
            if v == u64::MAX {
                ends.insert(e.publisher().to_owned());
            } else {
                *got.entry((e.publisher().to_owned(), v)).or_insert(0) += 1;
            }
        }
        for p in ["p/pub-root", "p/pub-middle", "p/pub-leaf"] {
            for i in 0..N {
                assert_eq!(
                    got.get(&(p.to_owned(), i)),
                    Some(&1),
                    "{name}: event {i} of {p} not exactly once"
                );
            }
        }
        assert_eq!(got.len() as u64, 3 * N, "{name}: unexpected events");
    }
    // One copy per link: leaf1 has two subscribers but received each event
    // of the root, the middle and leaf2 once over its link.
    assert_eq!(
        counter_at(&t.leaf1, "link_events_down").await - down_leaf1,
        3 * (N + 1)
    );
    // leaf2's own publisher's events went up and their echo was dropped.
    assert_eq!(
        counter_at(&t.leaf2, "link_echoes_dropped").await - echoes_leaf2,
        N + 1
    );
    for b in [&t.middle, &t.leaf1, &t.leaf2] {
        assert_eq!(counter_at(b, "link_up").await, 1);
        assert!(counter_at(b, "link_subscriptions_forwarded").await > 0);
    }
    // The parent sees each child link in NODES (reported with each PING):
    // the middle sent up the events of its own publisher and of leaf2's.
    let link = eventually("the root lists the middle's link", || async {
        let nodes = canopy_client::admin::nodes(&t.root.endpoint(), None, DEADLINE)
            .await
            .unwrap();
        nodes
            .into_iter()
            .filter(|n| n.name.starts_with("broker-"))
            .find_map(|n| n.link.filter(|l| l.events_up >= 2 * N))
    })
    .await;
    assert!(link.subscriptions_forwarded > 0 && link.bytes_up > 0);
    assert_eq!(link.state_lag, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_written_at_one_leaf_is_read_at_another_with_the_same_sequences() {
    let t = tree();
    let writer = node(&t.leaf1, "writer", "g").await;
    let w = writer.store("default").await.unwrap();
    let g = Level::parse("g", false).unwrap();
    let ack = w.put(&g, "threshold", &42).await.unwrap();
    // Read-your-writes at the writer's leaf.
    assert_eq!(w.get::<i64>("threshold").unwrap(), Some(42));
    let mut seqs = Vec::new();
    for (name, broker) in [("r", &t.root), ("m", &t.middle), ("l2", &t.leaf2)] {
        let reader = node(broker, name, "g").await;
        let r = reader.store("default").await.unwrap();
        let seq = eventually("the write reaches every broker's nodes", || {
            let r = &r;
            async move { r.entry("threshold").map(|(e, _)| e.seq) }
        })
        .await;
        assert_eq!(r.get::<i64>("threshold").unwrap(), Some(42));
        seqs.push(seq);
    }
    assert_eq!(seqs, vec![ack.seq; 3], "the master's sequence everywhere");
    // Server-side ops relay too, and a node at a leaf sees its own result.
    assert_eq!(w.incr(&g, "hits", 5).await.unwrap(), 5);
    assert_eq!(w.incr(&g, "hits", 1).await.unwrap(), 6);
    assert!(counter_at(&t.leaf1, "link_writes_relayed").await >= 3);
    assert_eq!(counter_at(&t.leaf2, "link_state_lag").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tree_heals_after_the_middle_broker_is_killed() {
    let mut t = tree();
    let sub = node(&t.leaf1, "sub", "g").await;
    sub.subscribe("t").unwrap();
    sub.subscribe("ready").unwrap();
    let mut events = vec![("sub", sub.events().unwrap())];
    let publisher = node(&t.leaf2, "pub", "p").await;
    let writer = node(&t.leaf2, "writer", "g").await;
    let w = writer.store("default").await.unwrap();
    let g = Level::parse("g", false).unwrap();
    until_linked(&[&publisher], &mut events).await;
    let before = w.put(&g, "before", &1).await.unwrap();
    let root_writer = node(&t.root, "root-writer", "g").await;
    let rw = root_writer.store("default").await.unwrap();

    t.middle.kill9();
    // Written while the middle is down: leaf1 never sees this update go by.
    let during = rw.put(&g, "during", &3).await.unwrap();
    t.middle.restart();
    // Events flow again once the leaves have rejoined and resubscribed.
    until_linked(&[&publisher], &mut events).await;
    publisher.publish_group("g", "t", &7).unwrap();
    let e = next_real(&mut events[0].1).await;
    assert_eq!(e.decode::<i64>().unwrap(), 7);
    // State: the write acknowledged before the crash is still there, a new
    // one goes through, and both leaves converge on the master's sequences.
    let after = eventually("a write through the restarted middle", || {
        let w = &w;
        let g = &g;
        async move { w.put(g, "after", &2).await.ok() }
    })
    .await;
    let reader = node(&t.leaf1, "reader", "g").await;
    let r = reader.store("default").await.unwrap();
    for (key, ack) in [("before", &before), ("during", &during), ("after", &after)] {
        let seq = eventually("leaf1 converges", || {
            let r = &r;
            async move { r.entry(key).map(|(e, _)| e.seq) }
        })
        .await;
        assert_eq!(seq, ack.seq, "{key}");
    }
    // leaf1's mirror rebuilt itself (the middle's new epoch or the gap).
    assert!(counter_at(&t.leaf1, "link_resyncs").await >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_joins_a_curve_parent_with_its_own_keys() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    keygen(&d.join("root"));
    let child_pub = keygen(&d.join("child"));
    let alice_pub = keygen(&d.join("alice"));
    let allow = d.join("allow.txt");
    std::fs::write(&allow, format!("child {child_pub}\nalice {alice_pub}\n")).unwrap();
    let root = BrokerProcess::start(&[
        "--curve-key-file",
        d.join("root.key").to_str().unwrap(),
        "--allow-list",
        allow.to_str().unwrap(),
    ]);
    let child = BrokerProcess::start(&[
        "--upstream",
        &root.endpoint(),
        "--upstream-server-key",
        d.join("root.pub").to_str().unwrap(),
        "--upstream-key-file",
        d.join("child.key").to_str().unwrap(),
    ]);
    let sub = node(&child, "sub", "g").await;
    sub.subscribe("ready").unwrap();
    let mut events = vec![("sub", sub.events().unwrap())];
    let keys =
        canopy_client::CurveKeys::load(d.join("root.pub").to_str().unwrap(), &d.join("alice.key"))
            .unwrap();
    let mut o = canopy_client::NodeOptions::new(&root.endpoint(), "alice", "p");
    o = o.connect_timeout(DEADLINE);
    o = o.curve(keys.clone());
    let alice = Node::connect(o).await.unwrap();
    let root_counter = |name: &'static str| {
        let (endpoint, keys) = (root.endpoint(), keys.clone());
        async move {
            canopy_client::admin::stats_with(&endpoint, DEADLINE, Some(&keys))
                .await
                .unwrap()
                .counters[name]
        }
    };
    until_linked(&[&alice], &mut events).await;
    // And state through the encrypted link.
    let w = sub.store("default").await.unwrap();
    let ack = w
        .put(&Level::parse("g", false).unwrap(), "k", &1)
        .await
        .unwrap();
    assert!(ack.seq > 0);
    // The child's three links and alice's three sockets were admitted.
    assert!(root_counter("auth_allowed").await >= 6);

    // Without keys a child is refused, counts it and says why.
    let keyless = BrokerProcess::start(&["--upstream", &root.endpoint()]);
    eventually("the keyless child is refused", || async {
        (counter_at(&keyless, "link_handshake_failures").await > 0).then_some(())
    })
    .await;
    assert_eq!(counter_at(&keyless, "link_up").await, 0);
    assert!(keyless.stderr().contains("refused the handshake"));
}

/// Issue 14, item 9: a broker used to accept itself as its own upstream
/// (it mirrored itself and relayed writes to itself). It now stops with a
/// clear error when the parent's WELCOME carries its own broker id.
#[test]
fn a_broker_refuses_itself_as_its_own_upstream() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_base_port();
    let log = dir.path().join("stderr");
    let mut child = std::process::Command::new(broker_bin())
        .args(["--port", &port.to_string(), "--heartbeat-ms", "100"])
        .args(["--http", "127.0.0.1:0"])
        .args(["--upstream", &format!("tcp://127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the broker kept running with itself as upstream");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(!status.success());
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert!(stderr.contains("is this broker itself"), "{stderr}");
}
