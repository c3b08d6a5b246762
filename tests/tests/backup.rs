//! `canopy backup` while the broker takes writes, and `canopy-broker
//! --restore`: every write acknowledged up to the backup's sequence comes
//! back, nothing after it, the sequence carries on above it, and replicas
//! connected across the restore resync to the restored state.

mod common;

use canopy_client::Level;
use common::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

fn backup(broker: &BrokerProcess, file: &std::path::Path) -> (u64, u64) {
    let out = run_cli(&[
        "--broker",
        &broker.endpoint(),
        "backup",
        "--out",
        file.to_str().unwrap(),
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    (v["seq"].as_u64().unwrap(), v["keys"].as_u64().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_write_load_restores_every_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("state.backup");
    let broker = BrokerProcess::start(&[]);
    let writer = node(&broker, "writer", "g").await;
    let store = writer.store("default").await.unwrap();
    let level = Level::parse("g", false).unwrap();
    let acked: Arc<Mutex<Vec<(String, u64, u64)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (acked, stop, store, level) =
            (acked.clone(), stop.clone(), store.clone(), level.clone());
        tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let key = format!("k{i}");
                let ack = store.put(&level, &key, &i).await.expect("acknowledged");
                acked.lock().unwrap().push((key, i, ack.seq));
                i += 1;
            }
        })
    };
    eventually("writes are flowing", || {
        let n = acked.lock().unwrap().len();
        async move { (n >= 200).then_some(()) }
    })
    .await;
    let (seq, keys) = backup(&broker, &file);
    // More writes after the backup: they must not come back.
    let after = acked.lock().unwrap().len() + 100;
    eventually("writes go on after the backup", || {
        let n = acked.lock().unwrap().len();
        async move { (n >= after).then_some(()) }
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    load.await.unwrap();
    let acked = acked.lock().unwrap().clone();
    let before: Vec<_> = acked.iter().filter(|(_, _, s)| *s <= seq).collect();
    let later: Vec<_> = acked.iter().filter(|(_, _, s)| *s > seq).collect();
    eprintln!(
        "backup at seq {seq} with {keys} keys; {} writes before it, {} after",
        before.len(),
        later.len()
    );
    assert!(before.len() >= 200 && !later.is_empty());
    assert_eq!(
        keys,
        before.len() as u64,
        "the backup holds exactly the writes up to its seq"
    );

    let file_arg = file.to_str().unwrap().to_owned();
    let restored = BrokerProcess::start(&["--restore", &file_arg]);
    assert!(restored.stderr().contains("backup restored"));
    let reader = node(&restored, "reader", "g").await;
    let view = reader.store("default").await.unwrap();
    for (key, value, _) in &before {
        assert_eq!(view.get::<u64>(key).unwrap(), Some(*value), "{key}");
    }
    for (key, _, _) in &later {
        assert_eq!(view.get::<u64>(key).unwrap(), None, "{key} came back");
    }
    // The sequence carries on above the backup's.
    let ack = view.put(&level, "fresh", &1u8).await.unwrap();
    assert!(ack.seq > seq, "{} after {seq}", ack.seq);

    // A data directory in use, or that holds state, is refused untouched.
    let restore_into =
        |data_dir: &std::path::Path| broker_refuses(data_dir, &["--restore", &file_arg]);
    let err = restore_into(&broker.data_dir);
    assert!(err.contains("in use by another process"), "{err}");
    let mut broker = broker;
    broker.terminate();
    let err = restore_into(&broker.data_dir);
    assert!(err.contains("already holds state"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_connected_across_a_restore_resync_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("state.backup");
    let mut broker = BrokerProcess::start(&["--heartbeat-ms", "100", "--node-timeout-ms", "600"]);
    let level = Level::parse("g", false).unwrap();
    let writer = node(&broker, "writer", "g").await;
    let store = writer.store("default").await.unwrap();
    store.put(&level, "kept", &1u8).await.unwrap();
    backup(&broker, &file);
    store.put(&level, "lost", &2u8).await.unwrap();
    let watcher = node(&broker, "watcher", "g").await;
    let replica = watcher.store("default").await.unwrap();
    eventually("the replica has both keys", || {
        let both = replica.get::<u8>("lost").ok().flatten().is_some();
        async move { both.then_some(()) }
    })
    .await;
    broker.kill9();
    std::fs::remove_file(broker.data_dir.join("state.redb")).unwrap();
    broker.restart_with(&[
        "--heartbeat-ms",
        "100",
        "--node-timeout-ms",
        "600",
        "--restore",
        file.to_str().unwrap(),
    ]);
    eventually("the replica resyncs to the restored state", || {
        let lost = replica.get::<u8>("lost").ok().flatten();
        let kept = replica.get::<u8>("kept").ok().flatten();
        async move { (lost.is_none() && kept == Some(1)).then_some(()) }
    })
    .await;
}
