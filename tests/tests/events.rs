//! Event plane end to end: group and node targeting, delimiter rules, prefix
//! subscriptions, observers, plain ZeroMQ interop, hostile input, slow
//! subscribers.

mod common;

use canopy_client::{Address, GroupPath, NodeEvent};
use common::*;
use std::time::Duration;

/// Publishes `sentinel` to the root group after the real message: every node
/// receives it, and since one publisher's events arrive in order, a node whose
/// first event is the sentinel did not receive the real one.
async fn first_topic(events: &mut canopy_client::Events) -> String {
    next_real(events).await.topic
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_message_reaches_that_group_and_below_only() {
    let broker = BrokerProcess::start(&[]);
    let groups = ["a/b", "a/b/c", "a/d", "a", ""];
    let mut nodes = Vec::new();
    for (i, g) in groups.iter().enumerate() {
        let n = node(&broker, &format!("n{i}"), g).await;
        n.subscribe("t").unwrap();
        let ev = n.events().unwrap();
        nodes.push((g.to_string(), n, ev));
    }
    let publisher = node(&broker, "pub", "x").await;
    // Subscriptions travel to the publisher asynchronously: repeat a root
    // message until every node has one, then start the real test.
    for (_, _, ev) in nodes.iter_mut() {
        loop {
            publisher.publish_group("", "tready", &0).unwrap();
            if let Ok(Some(NodeEvent::Event(_))) =
                tokio::time::timeout(Duration::from_millis(100), ev.next()).await
            {
                break;
            }
        }
    }
    for (_, _, ev) in nodes.iter_mut() {
        while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(50), ev.next()).await {}
    }
    publisher.publish_group("a/b", "t1", &"for a/b").unwrap();
    publisher.publish_group("", "tsentinel", &0).unwrap();
    for (g, _, ev) in nodes.iter_mut() {
        let first = next_real(ev).await;
        let expected = if g == "a/b" || g == "a/b/c" {
            "t1"
        } else {
            "tsentinel"
        };
        assert_eq!(first.topic, expected, "node in group {g:?}");
        if expected == "t1" {
            assert_eq!(
                first.address,
                Address::Group(GroupPath::parse("a/b").unwrap())
            );
            assert_eq!(first.publisher(), "x/pub");
            assert_eq!(first.decode::<String>().unwrap(), "for a/b");
            assert_eq!(first_topic(ev).await, "tsentinel");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_and_group_prefixes_are_delimiter_terminated() {
    let broker = BrokerProcess::start(&[]);
    let w1 = node(&broker, "worker-1", "g").await;
    let w10 = node(&broker, "worker-10", "g").await;
    let fr = node(&broker, "n", "eu/fr").await;
    let publisher = node(&broker, "p", "").await;
    let mut evs = Vec::new();
    for n in [&w1, &w10, &fr] {
        n.subscribe("").unwrap();
        evs.push(n.events().unwrap());
    }
    for ev in evs.iter_mut() {
        loop {
            publisher.publish_group("", "ready", &0).unwrap();
            if let Ok(Some(NodeEvent::Event(_))) =
                tokio::time::timeout(Duration::from_millis(100), ev.next()).await
            {
                break;
            }
        }
        while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(50), ev.next()).await {}
    }
    publisher.publish_node("g/worker-10", "direct", &1).unwrap();
    publisher.publish_group("eu/fra", "fra", &1).unwrap();
    publisher.publish_group("", "sentinel", &0).unwrap();
    assert_eq!(
        first_topic(&mut evs[0]).await,
        "sentinel",
        "worker-1 got worker-10's message"
    );
    let direct = next_real(&mut evs[1]).await;
    assert_eq!(direct.topic, "direct");
    assert!(matches!(direct.address, Address::Node(ref n) if n.to_string() == "g/worker-10"));
    assert_eq!(first_topic(&mut evs[1]).await, "sentinel");
    assert_eq!(
        first_topic(&mut evs[2]).await,
        "sentinel",
        "eu/fr got eu/fra's message"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefix_subscriptions_plain_topics_and_subtree_observers() {
    let broker = BrokerProcess::start(&[]);
    let n = node(&broker, "n", "a/b").await;
    n.subscribe("temp").unwrap();
    let observer = node(&broker, "obs", "").await;
    observer.subscribe_subtree("a").unwrap();
    let mut ev = n.events().unwrap();
    let mut obs = observer.events().unwrap();
    let publisher = node(&broker, "p", "").await;
    loop {
        publisher.publish_group("a/b", "temp.ready", &0).unwrap();
        let a = tokio::time::timeout(Duration::from_millis(100), ev.next()).await;
        let b = tokio::time::timeout(Duration::from_millis(100), obs.next()).await;
        if matches!(a, Ok(Some(NodeEvent::Event(_)))) && matches!(b, Ok(Some(NodeEvent::Event(_))))
        {
            break;
        }
    }
    for e in [&mut ev, &mut obs] {
        while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(50), e.next()).await {}
    }
    publisher.publish_group("a/b", "humidity", &1).unwrap(); // not our prefix
    publisher.publish_topic("temperature", &2).unwrap(); // plain, matches
    publisher.publish_topic("pressure", &3).unwrap(); // plain, no match
    publisher.publish_group("ab", "temp", &4).unwrap(); // other subtree
    publisher.publish_node("a/b/c/x", "temp", &5).unwrap(); // in the observed subtree
    publisher.publish_group("a/b", "temp", &6).unwrap();
    let got = next_real(&mut ev).await;
    assert_eq!(
        (got.topic.as_str(), got.address.clone()),
        ("temperature", Address::Plain)
    );
    assert_eq!(got.decode::<i32>().unwrap(), 2);
    let got = next_real(&mut ev).await;
    assert_eq!(got.decode::<i32>().unwrap(), 6);
    // The observer sees the whole a/ subtree: humidity (a/b), the node message, temp (a/b).
    let seen: Vec<i32> = vec![
        next_real(&mut obs).await.decode().unwrap(),
        next_real(&mut obs).await.decode().unwrap(),
        next_real(&mut obs).await.decode().unwrap(),
    ];
    assert_eq!(seen, vec![1, 5, 6]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_zmq_publisher_and_subscriber_interoperate() {
    let broker = BrokerProcess::start(&[]);
    let ctx = zmq::Context::new();
    // A raw subscriber per PROTOCOL.md: prefix for group level a/.
    let raw_sub = ctx.socket(zmq::SUB).unwrap();
    raw_sub.set_subscribe(b"@a/:").unwrap();
    raw_sub.set_rcvtimeo(100).unwrap();
    raw_sub.connect(&broker.endpoint_at(1)).unwrap();
    let raw_pub = ctx.socket(zmq::PUB).unwrap();
    raw_pub.connect(&broker.endpoint_at(2)).unwrap();

    let n = node(&broker, "n", "a/b").await;
    n.subscribe("t").unwrap();
    let mut ev = n.events().unwrap();

    // Plain publisher: [topic, payload]; the broker fills in the header.
    let got = loop {
        raw_pub.send(&b"@a/:t"[..], zmq::SNDMORE).unwrap();
        raw_pub.send(&b"hello raw"[..], 0).unwrap();
        if let Ok(Some(NodeEvent::Event(e))) =
            tokio::time::timeout(Duration::from_millis(100), ev.next()).await
        {
            break e;
        }
    };
    assert_eq!(got.payload, b"hello raw");
    assert!(!got.header.is_msgpack());
    assert_eq!(
        got.header.flags & canopy_schemas::header::FLAG_BROKER_FILLED,
        2
    );
    assert!(got.header.timestamp_ns > 0);

    // Plain subscriber receives what a canopy node publishes to group a.
    let frames = loop {
        n.publish_group("a", "t", &42u32).unwrap();
        match raw_sub.recv_multipart(0) {
            // Skip HUGZ and the raw publisher's own (broker-filled) events.
            Ok(f) if f.len() == 3 && f[1][2] & 2 == 0 => break f,
            _ => continue,
        }
    };
    assert_eq!(frames.len(), 3);
    assert_eq!(frames[0], b"@a/:t");
    assert_eq!(frames[1][0], 0xCA, "header magic");
    assert_eq!(frames[1][1], 1, "header version");
    assert_eq!(frames[1][2] & 1, 1, "msgpack flag");
    let publisher_len = frames[1][3] as usize;
    assert_eq!(&frames[1][20..20 + publisher_len], b"a/b/n");
    assert_eq!(rmp_serde::from_slice::<u32>(&frames[2]).unwrap(), 42);
    assert!(counter(&broker, "events_header_filled").await >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_oversized_input_is_counted_and_others_keep_working() {
    let broker = BrokerProcess::start(&["--max-message-size", "2000", "--max-topic-length", "64"]);
    let ctx = zmq::Context::new();
    // Subscribing to everything makes every publisher send everything.
    let everything = ctx.socket(zmq::SUB).unwrap();
    everything.set_subscribe(b"").unwrap();
    everything.connect(&broker.endpoint_at(1)).unwrap();
    let n = node(&broker, "good", "g").await;
    n.subscribe("ok").unwrap();
    let mut ev = n.events().unwrap();
    let raw = ctx.socket(zmq::PUB).unwrap();
    raw.connect(&broker.endpoint_at(2)).unwrap();
    // Over max_message_size: counted. Far over it (beyond 2x): the transport
    // cuts the connection, which must not hurt anyone else.
    let big = vec![7u8; 3000];
    let huge_sender = ctx.socket(zmq::PUB).unwrap();
    huge_sender.connect(&broker.endpoint_at(2)).unwrap();
    let huge = vec![9u8; 100_000];
    let long_topic = vec![b'x'; 100];
    let bad_header = [
        0xCAu8, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let garbage: Vec<Vec<&[u8]>> = vec![
        vec![b"one-frame"],
        vec![b"x", b"a", b"b", b"c"],
        vec![b"x", &big],
        vec![&long_topic, b"p"],
        vec![b"", b"p"],
        vec![b"$sys", b"p"],
        vec![b"/state", b"p"],
        vec![b"HUGZ", b"p"],
        vec![b"x", &bad_header, b"p"],
        vec![b"x", b"short", b"p"],
    ];
    let counters = [
        "events_rejected_frames",
        "events_rejected_oversize",
        "events_rejected_topic",
        "events_rejected_reserved",
        "events_rejected_header",
    ];
    // Garbage on the ROUTER too: unknown command, wrong frame count, bad body.
    let dealer = ctx.socket(zmq::DEALER).unwrap();
    dealer.set_rcvtimeo(5000).unwrap();
    dealer.connect(&broker.endpoint()).unwrap();
    let router_garbage: Vec<Vec<&[u8]>> = vec![
        vec![b"NOPE", b"\x80"],
        vec![b"HELLO"],
        vec![b"HELLO", b"\xc1\xc1"],
        vec![b"PING", b"not msgpack", b"extra"],
    ];
    for msg in &router_garbage {
        dealer.send_multipart(msg.iter(), 0).unwrap();
        let reply = dealer
            .recv_multipart(0)
            .expect("an error reply, not silence");
        assert_eq!(reply[0], b"ERROR");
    }
    eventually("every rejection counter moved", || {
        for msg in &garbage {
            raw.send_multipart(msg.iter(), 0).unwrap();
        }
        huge_sender
            .send_multipart([&b"x"[..], &huge[..]], 0)
            .unwrap();
        let broker = &broker;
        async move {
            for c in counters {
                if counter(broker, c).await == 0 {
                    return None;
                }
            }
            Some(())
        }
    })
    .await;
    assert!(counter(&broker, "control_rejected").await >= 4);
    // The broker still serves a well-behaved node.
    let publisher = node(&broker, "p", "").await;
    loop {
        publisher.publish_group("g", "ok", &"still here").unwrap();
        if let Ok(Some(NodeEvent::Event(e))) =
            tokio::time::timeout(Duration::from_millis(100), ev.next()).await
        {
            assert_eq!(e.decode::<String>().unwrap(), "still here");
            break;
        }
    }
    let ok = canopy_client::admin::stats(&broker.endpoint(), DEADLINE).await;
    assert!(ok.is_ok(), "broker answers after hostile input");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_subscriber_does_not_block_others_and_its_drops_are_counted() {
    let broker = BrokerProcess::start(&[
        "--send-hwm",
        "1000",
        "--heartbeat-ms",
        "100",
        "--node-timeout-ms",
        "2000",
    ]);
    let ctx = zmq::Context::new();
    // A raw subscriber that never reads: the broker must drop for it.
    let stuck = ctx.socket(zmq::SUB).unwrap();
    stuck.set_rcvhwm(10).unwrap();
    stuck.set_subscribe(b"").unwrap();
    stuck.connect(&broker.endpoint_at(1)).unwrap();
    // A canopy node whose application never reads: it drops and reports.
    let mut slow_opts = canopy_client::NodeOptions::new(&broker.endpoint(), "slow", "g");
    slow_opts = slow_opts.event_buffer(10);
    slow_opts = slow_opts.receive_hwm(10);
    let slow = canopy_client::Node::connect(slow_opts).await.unwrap();
    slow.subscribe("x").unwrap();
    let _slow_events = slow.events().unwrap();
    let fast = node(&broker, "fast", "g").await;
    fast.subscribe("x").unwrap();
    let mut ev = fast.events().unwrap();
    let publisher = node(&broker, "p", "").await;
    loop {
        publisher.publish_group("g", "xready", &0).unwrap();
        if let Ok(Some(NodeEvent::Event(_))) =
            tokio::time::timeout(Duration::from_millis(100), ev.next()).await
        {
            break;
        }
    }
    while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(50), ev.next()).await {}
    // Paced by the fast node: each batch is fully received before the next.
    // Batches stay below the high-water mark, so only a stuck reader overflows;
    // 4 KiB payloads overflow the kernel's socket buffers too.
    let payload = vec![1u8; 4096];
    let (batches, per_batch) = (40, 200);
    for b in 0..batches {
        for _ in 0..per_batch {
            publisher
                .publish_raw(
                    &Address::Group(GroupPath::parse("g").unwrap()),
                    "x",
                    &payload,
                )
                .unwrap();
        }
        let _ = b;
        for _ in 0..per_batch {
            let e = next_real(&mut ev).await;
            assert_eq!(e.topic, "x");
        }
    }
    assert_eq!(fast.dropped(), 0, "the fast node lost nothing");
    assert!(slow.dropped() > 0, "the slow node counted its drops");
    eventually("broker reports the slow node's drops", || {
        let endpoint = broker.endpoint();
        async move {
            let nodes = canopy_client::admin::nodes(&endpoint, Some("g"), DEADLINE)
                .await
                .ok()?;
            let slow = nodes.into_iter().find(|n| n.name == "slow")?;
            (slow.dropped > 0).then_some(())
        }
    })
    .await;
    assert!(counter(&broker, "drops_reported").await > 0);
    assert_eq!(
        counter(&broker, "events_in").await,
        counter(&broker, "events_out").await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_subscribers_cannot_make_the_broker_hold_unbounded_subscriptions() {
    let broker =
        BrokerProcess::start(&["--max-subscriptions-total", "4", "--max-topic-length", "32"]);
    let ctx = zmq::Context::new();
    let flood = ctx.socket(zmq::SUB).unwrap();
    for i in 0..10 {
        flood.set_subscribe(format!("p{i}").as_bytes()).unwrap();
    }
    flood.set_subscribe(&[b'x'; 100]).unwrap(); // longer than max_topic_length
    flood.connect(&broker.endpoint_at(1)).unwrap();
    eventually("the flood is refused beyond the caps", || {
        let b = &broker;
        async move {
            let refused = counter(b, "subscriptions_rejected").await;
            let active = counter(b, "subscriptions_active").await;
            // 4 held (the cap, "HUGZ" excluded here), 7 refused (6 over the cap + 1 too long).
            (refused >= 7 && active <= 4).then_some(())
        }
    })
    .await;
    assert_eq!(counter(&broker, "subscriptions_active").await, 4);
    // A refused prefix delivers nothing: publish on p9 (refused) and p0 (held).
    let n = node(&broker, "n", "").await;
    flood.set_rcvtimeo(100).unwrap();
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        n.publish_topic("p9", &9).unwrap();
        n.publish_topic("p0", &0).unwrap();
        if let Ok(frames) = flood.recv_multipart(0) {
            assert_eq!(frames[0], b"p0", "only held prefixes deliver");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "held prefix never delivered"
        );
    }
    // The node's own subscriptions are not held either beyond the cap: its
    // join still works, and closing the flood frees room.
    drop(flood);
    eventually("a closed connection's subscriptions are released", || {
        let b = &broker;
        async move { (counter(b, "subscriptions_active").await == 0).then_some(()) }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_subscription_messages_on_the_xpub_port_do_not_crash() {
    // libzmq 4.3.2 (the vendored build) wrote through a null pointer on these;
    // third_party/zeromq-src carries the fix.
    let broker = BrokerProcess::start(&[]);
    let ctx = zmq::Context::new();
    let raw = ctx.socket(zmq::XSUB).unwrap();
    raw.connect(&broker.endpoint_at(1)).unwrap();
    let n = node(&broker, "n", "g").await;
    n.subscribe("t").unwrap();
    let mut ev = n.events().unwrap();
    eventually("garbage on the XPUB port is counted, not fatal", || {
        for first in [2u8, 0x41, 0xff] {
            raw.send(&[first, b'x', b'y'][..], 0).unwrap();
            raw.send_multipart([&[first][..], b"more"], 0).unwrap();
        }
        let b = &broker;
        async move { (counter(b, "subscriptions_rejected").await >= 6).then_some(()) }
    })
    .await;
    // Still serving: events flow.
    loop {
        n.publish_group("g", "t", &1).unwrap();
        if let Ok(Some(NodeEvent::Event(_))) =
            tokio::time::timeout(Duration::from_millis(100), ev.next()).await
        {
            break;
        }
    }
}
