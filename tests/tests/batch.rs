//! WRITES (PROTOCOL.md 12.3, feature `write-batch`): many writes in one
//! request, each applied and answered on its own, one WROTE after the
//! commit. `write_many` sends batches; a refused write refuses only itself;
//! a batch over the limit applies nothing; a child broker relays a batch
//! whole and answers each write `unavailable` when its parent is gone; and
//! a broker from before WRITES gets the writes one at a time.

mod common;

use canopy_client::{ErrorKind, Level, OpKind, WriteSpec};
use canopy_schemas::control::{ErrorCode, Pong, Reply, Request, Welcome};
use canopy_schemas::state::{Write, WriteBatch, Written};
use common::*;

fn put(key: &str, value: u64) -> WriteSpec {
    WriteSpec::new(OpKind::Put, &Level::root(), key)
        .value(&value)
        .unwrap()
}

/// `write_many` goes out in WRITES batches: every write acknowledged,
/// durable across a crash, and counted once in `writes`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_many_sends_batches_each_write_acknowledged() {
    let mut broker = BrokerProcess::start(&[]);
    let n = node(&broker, "writer", "g").await;
    let store = n.store("default").await.unwrap();
    let specs = (0..2_000).map(|k| put(&format!("k{k:05}"), k)).collect();
    let outcomes = store.write_many(specs).await;
    assert_eq!(outcomes.len(), 2_000);
    let mut last = 0;
    for (k, outcome) in outcomes.into_iter().enumerate() {
        let ack = outcome.unwrap_or_else(|e| panic!("write {k}: {e}"));
        assert!(ack.seq > last, "in order");
        last = ack.seq;
    }
    assert_eq!(counter(&broker, "writes").await, 2_000);
    let batches = counter(&broker, "write_batches").await;
    assert!(
        (8..=20).contains(&batches),
        "{batches} WRITES for 2,000 writes"
    );
    // Read your writes: applied to the writer's replica at once.
    assert_eq!(store.get::<u64>("k01999").unwrap(), Some(1999));
    n.close().await;
    // Acknowledged means committed: all there after kill -9.
    broker.kill9();
    broker.restart();
    let n = node(&broker, "reader", "g").await;
    let store = n.store("default").await.unwrap();
    assert_eq!(store.keys("").len(), 2_000);
}

/// A refused write refuses only itself; the others are applied in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_write_in_a_batch_refuses_only_itself() {
    let broker = BrokerProcess::start(&[]);
    let n = node(&broker, "writer", "g").await;
    let store = n.store("default").await.unwrap();
    let specs = vec![
        put("a", 1),
        WriteSpec::new(OpKind::Cas, &Level::root(), "a")
            .value(&2u64)
            .unwrap()
            .expected_seq(1),
        WriteSpec::new(OpKind::Append, &Level::root(), "a")
            .value(&"x")
            .unwrap(),
        put("b", 3),
    ];
    let outcomes = store.write_many(specs).await;
    assert!(outcomes[0].is_ok());
    match &outcomes[1] {
        Err(canopy_client::ClientError::Refused { code, .. }) => {
            assert_eq!(*code, ErrorCode::CasFailed)
        }
        other => panic!("{other:?}"),
    }
    match &outcomes[2] {
        Err(e) => assert_eq!(e.kind(), ErrorKind::Conflict, "{e}"),
        other => panic!("appending a string to an integer is a type mismatch: {other:?}"),
    }
    assert!(outcomes[3].is_ok());
    assert_eq!(store.get::<u64>("a").unwrap(), Some(1));
    assert_eq!(store.get::<u64>("b").unwrap(), Some(3));
    assert_eq!(counter(&broker, "writes").await, 2);
    assert_eq!(counter(&broker, "writes_rejected").await, 2);
}

fn raw_write(id: u64, key: &str) -> Write {
    Write {
        id,
        store: "default".into(),
        level: String::new(),
        node: false,
        key: key.into(),
        op: OpKind::Put,
        value: Some(rmp_serde::to_vec(&1u8).unwrap()),
        by: None,
        expected_seq: None,
        ttl_ms: None,
    }
}

fn ask(dealer: &zmq::Socket, request: &Request) -> Reply {
    let [name, body] = request.encode().unwrap();
    dealer.send_multipart([name, body], 0).unwrap();
    let frames = dealer.recv_multipart(0).expect("an answer");
    let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
    Reply::decode(&refs).unwrap()
}

/// Over the limit: ERROR `too_large`, nothing applied; at the limit: one
/// WROTE with a result per write, each with its write's id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_over_the_limit_applies_nothing() {
    let broker = BrokerProcess::start(&["--max-control-size", "1000000"]);
    let context = zmq::Context::new();
    let dealer = context.socket(zmq::DEALER).unwrap();
    dealer.set_rcvtimeo(DEADLINE.as_millis() as i32).unwrap();
    dealer.connect(&broker.endpoint()).unwrap();
    let writes = |n: u64| {
        (0..n)
            .map(|i| raw_write(100 + i, &format!("k{i}")))
            .collect()
    };
    let limit = canopy_schemas::state::MAX_BATCH_WRITES as u64;
    match ask(
        &dealer,
        &Request::Writes(WriteBatch {
            id: 1,
            writes: writes(limit + 1),
        }),
    ) {
        Reply::Error(e) => assert_eq!((e.id, e.code), (1, ErrorCode::TooLarge)),
        other => panic!("{other:?}"),
    }
    assert_eq!(counter(&broker, "writes").await, 0);
    match ask(
        &dealer,
        &Request::Writes(WriteBatch {
            id: 2,
            writes: writes(limit),
        }),
    ) {
        Reply::Wrote(w) => {
            assert_eq!(w.id, 2);
            assert_eq!(w.results.len() as u64, limit);
            for (i, r) in w.results.iter().enumerate() {
                match r {
                    canopy_schemas::state::WriteResult::Written(written) => {
                        assert_eq!(written.id, 100 + i as u64)
                    }
                    other => panic!("{other:?}"),
                }
            }
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(counter(&broker, "writes").await, limit);
}

/// Through a child: the batch reaches the master whole and is answered
/// after its commit; with the parent gone each write is `unavailable`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_relays_a_batch_and_answers_each_write_when_its_parent_is_gone() {
    let mut root = BrokerProcess::start(&[]);
    let child = BrokerProcess::start(&["--upstream", &root.endpoint()]);
    let n = node(&child, "writer", "g").await;
    let store = n.store("default").await.unwrap();
    let specs = (0..600).map(|k| put(&format!("c{k}"), k)).collect();
    for outcome in store.write_many(specs).await {
        outcome.expect("acknowledged by the master");
    }
    assert_eq!(counter(&root, "writes").await, 600);
    assert!(counter(&root, "write_batches").await >= 3);
    assert_eq!(counter(&child, "link_writes_relayed").await, 600);
    root.kill9();
    eventually("the child notices its parent is gone", || async {
        (counter(&child, "link_up").await == 0).then_some(())
    })
    .await;
    let outcomes = store
        .write_many((0..10).map(|k| put(&format!("d{k}"), k)).collect())
        .await;
    for outcome in outcomes {
        match outcome {
            Err(canopy_client::ClientError::Refused { code, .. }) => {
                assert_eq!(code, ErrorCode::Unavailable)
            }
            other => panic!("{other:?}"),
        }
    }
}

/// A broker from before WRITES (a double that answers it `unknown_command`
/// and WRITE as usual): `write_many` still gets every write through, one
/// WRITE at a time, and sends no second WRITES.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_without_writes_gets_the_writes_one_at_a_time() {
    let port = free_base_port();
    let context = zmq::Context::new();
    let router = context.socket(zmq::ROUTER).unwrap();
    router.bind(&format!("tcp://127.0.0.1:{port}")).unwrap();
    let xpub = context.socket(zmq::XPUB).unwrap();
    xpub.bind(&format!("tcp://127.0.0.1:{}", port + 1)).unwrap();
    let xsub = context.socket(zmq::XSUB).unwrap();
    xsub.bind(&format!("tcp://127.0.0.1:{}", port + 2)).unwrap();
    // As a broker's XSUB does: take every event (the client waits for it).
    xsub.send(&[1u8, canopy_schemas::topic::STATE_MARK][..], 0)
        .unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let double = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let (mut batches, mut singles) = (0u64, 0u64);
            router.set_rcvtimeo(50).unwrap();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                // libzmq attaches new connections when a socket is used.
                let _ = (xsub.get_events(), xpub.get_events());
                let Ok(frames) = router.recv_multipart(0) else {
                    continue;
                };
                let refs: Vec<&[u8]> = frames[1..].iter().map(Vec::as_slice).collect();
                let reply = match Request::decode(&refs) {
                    Ok(Request::Hello(h)) => Reply::Welcome(Welcome {
                        id: h.id,
                        protocol: 1,
                        protocol_max: None,
                        features: Vec::new(),
                        broker_id: "old".into(),
                        epoch: 1,
                        heartbeat_ms: 1000,
                        node_timeout_ms: 5000,
                        max_subscriptions: 1000,
                        max_message_size: 1 << 20,
                    }),
                    Ok(Request::Ping(p)) => Reply::Pong(Pong {
                        id: p.id,
                        epoch: 1,
                        seq: singles,
                    }),
                    Ok(Request::Writes(b)) => {
                        batches += 1;
                        Reply::error(b.id, ErrorCode::UnknownCommand, "unknown command WRITES")
                    }
                    Ok(Request::Write(w)) => {
                        singles += 1;
                        Reply::Written(Written {
                            id: w.id,
                            seq: singles,
                            value: w.value.clone(),
                            ttl_ms: 0,
                            deleted: 0,
                        })
                    }
                    _ => continue,
                };
                let [name, body] = reply.encode().unwrap();
                router
                    .send_multipart([frames[0].clone(), name, body], 0)
                    .unwrap();
            }
            (batches, singles)
        })
    };
    let n = canopy_client::Node::connect(
        canopy_client::NodeOptions::new(&format!("tcp://127.0.0.1:{port}"), "w", "g")
            .request_timeout(DEADLINE),
    )
    .await
    .expect("joins the double");
    for round in 0..2 {
        let specs = (0..300).map(|k| put(&format!("r{round}k{k}"), k)).collect();
        for outcome in n.write_many("default", specs).await {
            outcome.expect("acknowledged one at a time");
        }
    }
    n.close().await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (batches, singles) = double.join().unwrap();
    assert_eq!(singles, 600);
    assert!(
        (1..=2).contains(&batches),
        "asked {batches} times with WRITES (the batches in flight before the first answer)"
    );
}
