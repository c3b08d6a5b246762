//! Snapshot resume (PROTOCOL.md 12.1): a replica that already holds a level
//! asks with `have` {history, lseq}; the broker answers `unchanged`, with no
//! KVSYNC, only when the level is exactly that state. A clean restart keeps
//! a persistent store's history; a crash, `--drop-store`, or a store held
//! only in memory starts a new one. After a crash the new history takes
//! over each level at the lseq last committed (`from_history`): a replica
//! that holds exactly that keeps it, one that saw more (published, never
//! committed) gets the level in full (`disk_faults.rs` loses such a change
//! for real). Replicas connected across each kind of restart end equal to
//! the broker.

mod common;

use canopy_client::{Level, ReplicaState};
use canopy_schemas::state::{
    decode_properties, SnapshotBasis, SnapshotQuery, KTHXBAI, PROP_FROM_HISTORY, PROP_HISTORY,
    PROP_LSEQ, PROP_UNCHANGED,
};
use common::*;
use std::collections::BTreeMap;

/// Keys the replica holds before each restart.
const KEYS: usize = 2_000;

/// What one raw SNAPSHOT returned: the KVSYNCs and the KTHXBAI's
/// properties.
struct Answer {
    kvsyncs: usize,
    props: BTreeMap<String, String>,
}

impl Answer {
    fn number(&self, name: &str) -> Option<u64> {
        self.props.get(name).and_then(|v| v.parse().ok())
    }

    fn basis(&self) -> SnapshotBasis {
        SnapshotBasis {
            history: self.number(PROP_HISTORY).expect("a history"),
            lseq: self.number(PROP_LSEQ).expect("an lseq"),
        }
    }

    fn unchanged(&self) -> bool {
        self.number(PROP_UNCHANGED) == Some(1)
    }
}

/// Sends a SNAPSHOT of `subtree` over a fresh DEALER and reads it to its
/// KTHXBAI.
fn snapshot(broker: &BrokerProcess, subtree: &str, have: Option<SnapshotBasis>) -> Answer {
    let context = zmq::Context::new();
    let dealer = context.socket(zmq::DEALER).unwrap();
    dealer
        .set_rcvtimeo(DEADLINE.as_millis() as i32)
        .expect("rcvtimeo");
    dealer.connect(&broker.endpoint()).unwrap();
    let request = canopy_schemas::Request::Snapshot(SnapshotQuery {
        id: 1,
        subtree: subtree.into(),
        lseqs: false,
        have,
    });
    let [name, body] = request.encode().unwrap();
    dealer.send_multipart([name, body], 0).unwrap();
    let mut kvsyncs = 0;
    loop {
        let frames = dealer.recv_multipart(0).expect("a snapshot answer");
        if frames[0] == KTHXBAI {
            let props = decode_properties(&frames[3]).expect("KTHXBAI properties");
            return Answer {
                kvsyncs,
                props: props.into_iter().collect(),
            };
        }
        kvsyncs += 1;
    }
}

/// The broker's decision, request by request: only the very history and
/// lseq of the level is answered `unchanged`; a clean restart keeps the
/// history, a crash and `--drop-store` do not, and a store held in memory
/// has a new one at every start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_exact_state_of_a_level_is_answered_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let config = volatile_config(dir.path());
    let mut broker = BrokerProcess::start(&["--config", &config]);
    let writer = node(&broker, "writer", "g").await;
    let level = Level::root();
    for store in ["default", "volatile"] {
        let replica = writer.store(store).await.unwrap();
        for k in 0..50 {
            replica.put(&level, &format!("k{k}"), &k).await.unwrap();
        }
    }
    let root = "/default/:";
    let full = snapshot(&broker, root, None);
    assert_eq!(full.kvsyncs, 50);
    assert!(!full.unchanged());
    let have = full.basis();
    assert_eq!(have.lseq, 50);

    let same = snapshot(&broker, root, Some(have));
    assert_eq!((same.kvsyncs, same.unchanged()), (0, true));
    assert_eq!(same.basis(), have);
    for other in [
        SnapshotBasis {
            lseq: have.lseq - 1,
            ..have
        },
        SnapshotBasis {
            history: have.history ^ 1,
            ..have
        },
    ] {
        let answer = snapshot(&broker, root, Some(other));
        assert_eq!(
            (answer.kvsyncs, answer.unchanged()),
            (50, false),
            "{other:?}"
        );
    }
    // Not one level: no history, never unchanged.
    let subtree = snapshot(&broker, "/default/", Some(have));
    assert_eq!((subtree.kvsyncs, subtree.unchanged()), (50, false));
    assert_eq!(subtree.number(PROP_HISTORY), None);
    let volatile = snapshot(&broker, "/volatile/:", None).basis();
    assert_eq!(counter(&broker, "snapshots_unchanged").await, 1);
    drop(writer);

    // A clean stop keeps the persistent store's history; the volatile
    // store's contents are gone, and so is its history.
    broker.terminate();
    broker.restart();
    let after = snapshot(&broker, root, Some(have));
    assert_eq!((after.kvsyncs, after.unchanged()), (0, true));
    let volatile_after = snapshot(&broker, "/volatile/:", Some(volatile));
    assert!(!volatile_after.unchanged());
    assert_ne!(volatile_after.basis().history, volatile.history);
    assert_eq!(volatile_after.kvsyncs, 0, "its keys were in memory only");

    // A write moves the lseq: the old basis gets the keys.
    let writer = node(&broker, "writer2", "g").await;
    let replica = writer.store("default").await.unwrap();
    replica.put(&level, "k0", &1000).await.unwrap();
    let moved = snapshot(&broker, root, Some(have));
    assert_eq!((moved.kvsyncs, moved.unchanged()), (50, false));
    let have = moved.basis();
    drop(writer);

    // A crash may have lost changes it published past its last commit: a
    // new history, which takes over what was committed. This level was
    // committed at its lseq (the write was acknowledged), so it is kept.
    broker.kill9();
    broker.restart();
    let behind = snapshot(
        &broker,
        root,
        Some(SnapshotBasis {
            lseq: have.lseq - 1,
            ..have
        }),
    );
    assert_eq!((behind.kvsyncs, behind.unchanged()), (50, false));
    let ahead = SnapshotBasis {
        lseq: have.lseq + 1,
        ..have
    };
    let lost = snapshot(&broker, root, Some(ahead));
    assert_eq!(
        (lost.kvsyncs, lost.unchanged()),
        (50, false),
        "an lseq past the last commit names a state the crash may have lost"
    );
    let crashed = snapshot(&broker, root, Some(have));
    assert_eq!((crashed.kvsyncs, crashed.unchanged()), (0, true));
    assert_ne!(crashed.basis().history, have.history);
    assert_eq!(crashed.basis().lseq, have.lseq);
    assert_eq!(crashed.number(PROP_FROM_HISTORY), Some(have.history));
    assert_eq!(counter(&broker, "snapshots_taken_over").await, 1);
    let volatile_crashed = snapshot(&broker, "/volatile/:", Some(volatile_after.basis()));
    assert!(
        !volatile_crashed.unchanged(),
        "a store held in memory is never taken over"
    );
    // A second crash forks from the second history only.
    let before_second = have;
    let have = crashed.basis();
    broker.kill9();
    broker.restart();
    let stale_basis = snapshot(&broker, root, Some(before_second));
    assert_eq!((stale_basis.kvsyncs, stale_basis.unchanged()), (50, false));
    let crashed = snapshot(&broker, root, Some(have));
    assert_eq!((crashed.kvsyncs, crashed.unchanged()), (0, true));
    assert_eq!(crashed.number(PROP_FROM_HISTORY), Some(have.history));
    let have = crashed.basis();

    // --drop-store changes levels without numbers: a new history too,
    // which takes nothing over, after a clean stop or a crash.
    for crash in [false, true] {
        if crash {
            broker.kill9();
        } else {
            broker.terminate();
        }
        broker.restart_with(&["--config", &config, "--drop-store", "gone"]);
        let dropped = snapshot(&broker, root, Some(have));
        assert_eq!(
            (dropped.kvsyncs, dropped.unchanged()),
            (50, false),
            "crash: {crash}"
        );
        assert_ne!(dropped.basis().history, have.history);
    }
    let have = snapshot(&broker, root, None).basis();

    // And the next clean restart carries that one on.
    broker.terminate();
    broker.restart_with(&["--config", &config]);
    let again = snapshot(&broker, root, Some(have));
    assert_eq!((again.kvsyncs, again.unchanged()), (0, true));
}

/// Waits until `replica` is synced again after its link went down.
async fn resynced(replica: &canopy_client::Replica) {
    let mut states = replica.state_changes();
    tokio::time::timeout(DEADLINE, async {
        loop {
            if matches!(*states.borrow_and_update(), ReplicaState::Synced) {
                return;
            }
            states.changed().await.expect("replica open");
        }
    })
    .await
    .expect("the replica synced again");
}

/// Waits until `replica` has lost its link (the broker went away).
async fn stale(replica: &canopy_client::Replica) {
    let mut states = replica.state_changes();
    tokio::time::timeout(DEADLINE, async {
        loop {
            if matches!(
                *states.borrow_and_update(),
                ReplicaState::Stale { .. } | ReplicaState::Resyncing { .. }
            ) {
                return;
            }
            states.changed().await.expect("replica open");
        }
    })
    .await
    .expect("the replica noticed the restart");
}

async fn fill(broker: &BrokerProcess) {
    let writer = node(broker, "writer", "g").await;
    let store = writer.store("default").await.unwrap();
    let level = Level::root();
    let specs = (0..KEYS)
        .map(|k| {
            canopy_client::WriteSpec::new(canopy_client::OpKind::Put, &level, &format!("k{k:05}"))
                .value(&k)
                .unwrap()
        })
        .collect();
    for outcome in store.write_many(specs).await {
        outcome.expect("acknowledged");
    }
    writer.close().await;
}

/// Writes `key` = `value` at the root level through `broker` and waits
/// until `replica` reads it.
async fn put_and_see(
    broker: &BrokerProcess,
    replica: &canopy_client::Replica,
    key: &str,
    value: u8,
) {
    let writer = node(broker, "writer", "g").await;
    let store = writer.store("default").await.unwrap();
    store.put(&Level::root(), key, &value).await.unwrap();
    eventually_reads(
        &format!("{key} at the replica"),
        replica,
        key,
        |v: Option<u8>| v == Some(value),
    )
    .await;
    writer.close().await;
}

/// Crashes `root` and restarts it; waits until `child` has answered
/// `levels` more resumes as take-overs, and checks it sent no key.
async fn crash_root_kept_below(root: &mut BrokerProcess, child: &BrokerProcess, levels: u64) {
    let sent = counter(child, "snapshot_keys_sent").await;
    let kept = counter(child, "snapshots_taken_over").await;
    root.kill9();
    root.restart();
    eventually(
        "after the root's crash the child takes the replica's levels over",
        || async { (counter(child, "snapshots_taken_over").await >= kept + levels).then_some(()) },
    )
    .await;
    assert_eq!(
        counter(child, "snapshot_keys_sent").await,
        sent,
        "no key sent again"
    );
}

/// A canopy replica across a clean restart: the broker sends it no key,
/// it keeps every one, and updates after the restart reach it. Across a
/// crash with everything committed it keeps them too, under the new
/// history, and so across the next restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_keeps_its_level_across_a_clean_restart_and_a_crash_at_rest() {
    let mut broker = BrokerProcess::start(&["--heartbeat-ms", "100"]);
    fill(&broker).await;
    let reader = node(&broker, "reader", "g").await;
    let replica = reader.store("default").await.unwrap();
    assert_eq!(replica.keys("").len(), KEYS);

    broker.terminate();
    stale(&replica).await;
    broker.restart();
    resynced(&replica).await;
    let levels = replica.levels().len() as u64;
    assert_eq!(
        counter(&broker, "snapshots_unchanged").await,
        levels,
        "every level of the replica was kept"
    );
    assert_eq!(counter(&broker, "snapshot_keys_sent").await, 0);
    assert_eq!(replica.keys("").len(), KEYS);
    assert_eq!(replica.get::<usize>("k01234").unwrap(), Some(1234));

    // Live again: a write after the restart arrives as usual.
    put_and_see(&broker, &replica, "after", 7).await;

    broker.kill9();
    stale(&replica).await;
    broker.restart();
    resynced(&replica).await;
    assert_eq!(counter(&broker, "snapshots_unchanged").await, levels);
    assert_eq!(counter(&broker, "snapshots_taken_over").await, levels);
    assert_eq!(counter(&broker, "snapshot_keys_sent").await, 0);
    assert_eq!(replica.keys("").len(), KEYS + 1);
    assert_eq!(replica.get::<u8>("after").unwrap(), Some(7));

    // It holds the level under the new history now: a clean restart keeps
    // it again, and a write after it arrives.
    broker.terminate();
    stale(&replica).await;
    broker.restart();
    resynced(&replica).await;
    assert_eq!(counter(&broker, "snapshots_unchanged").await, levels);
    assert_eq!(counter(&broker, "snapshots_taken_over").await, 0);
    assert_eq!(counter(&broker, "snapshot_keys_sent").await, 0);
    put_and_see(&broker, &replica, "later", 8).await;
    assert_eq!(replica.keys("").len(), KEYS + 2);
}

/// Below a child broker: the child serves its mirror under the master's
/// history (the parent's LSEQS names it), so after a clean restart of the
/// root the replica below keeps its level (the child sends it no key).
/// After a crash of the root the LSEQS says what the new history took
/// over, and the child keeps the replica's level as well, again after a
/// committed write moved it on and the root crashed once more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_below_a_child_keep_their_level_across_a_restart_and_a_crash_of_the_root() {
    let mut root = BrokerProcess::start(&["--heartbeat-ms", "100"]);
    let child = BrokerProcess::start(&["--upstream", &root.endpoint(), "--heartbeat-ms", "100"]);
    fill(&root).await;
    let reader = node(&child, "reader", "g").await;
    let replica = reader.store("default").await.unwrap();
    eventually("the replica below the child holds every key", || {
        let n = replica.keys("").len();
        async move { (n == KEYS).then_some(()) }
    })
    .await;
    let levels = replica.levels().len() as u64;
    let sent = counter(&child, "snapshot_keys_sent").await;
    let kept = counter(&child, "snapshots_unchanged").await;

    root.terminate();
    root.restart();
    eventually(
        "the child answers the replica's levels unchanged",
        || async { (counter(&child, "snapshots_unchanged").await >= kept + levels).then_some(()) },
    )
    .await;
    resynced(&replica).await;
    assert_eq!(
        counter(&child, "snapshot_keys_sent").await,
        sent,
        "no key sent again"
    );
    assert_eq!(replica.keys("").len(), KEYS);
    put_and_see(&root, &replica, "after", 7).await;

    crash_root_kept_below(&mut root, &child, levels).await;
    resynced(&replica).await;
    assert_eq!(replica.keys("").len(), KEYS + 1);

    // A committed write after the crash moves the level on under the new
    // history; the next crash takes it over at that lseq, so the replica,
    // which holds exactly that, keeps it again.
    put_and_see(&root, &replica, "moved", 9).await;
    crash_root_kept_below(&mut root, &child, levels).await;
    resynced(&replica).await;
    assert_eq!(replica.keys("").len(), KEYS + 2);
}
