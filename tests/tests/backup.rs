//! `canopy backup` while the broker takes writes, and `canopy-broker
//! --restore`: every write acknowledged up to the backup's sequence comes
//! back, nothing after it, the sequence carries on above it, and replicas
//! connected across the restore resync to the restored state.

mod common;

use canopy_client::{Level, Node};
use common::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Acknowledged writes: (key, value, seq).
type Acked = Arc<Mutex<Vec<(String, u64, u64)>>>;

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
    let stop = Arc::new(AtomicBool::new(false));
    let (acked, load) = write_until(store.clone(), level.clone(), "k", stop.clone());
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

/// Writes to `store` at `level` until `stop`, recording each acknowledged
/// write as (key, value, seq).
fn write_until(
    store: canopy_client::Replica,
    level: Level,
    prefix: &'static str,
    stop: Arc<AtomicBool>,
) -> (Acked, tokio::task::JoinHandle<()>) {
    let acked: Acked = Arc::default();
    let task = {
        let acked = acked.clone();
        tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let key = format!("{prefix}{i}");
                let ack = store.put(&level, &key, &i).await.expect("acknowledged");
                acked.lock().unwrap().push((key, i, ack.seq));
                i += 1;
            }
        })
    };
    (acked, task)
}

/// A broker with a persistent `default` store and a `volatile` one, a
/// writer node on it, and where its backup file goes.
struct VolatileBroker {
    dir: tempfile::TempDir,
    file: std::path::PathBuf,
    config: String,
    broker: BrokerProcess,
    writer: Node,
    level: Level,
}

impl VolatileBroker {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("state.backup");
        let config = volatile_config(dir.path());
        let broker = BrokerProcess::start(&["--config", &config]);
        let writer = node(&broker, "writer", "g").await;
        let level = Level::parse("g", false).unwrap();
        VolatileBroker {
            dir,
            file,
            config,
            broker,
            writer,
            level,
        }
    }
}

/// A backup is of every store: `persist = false` stores come from memory at
/// the same point as the database, so under concurrent writes to both kinds
/// it holds exactly the writes up to its sequence. A restore serves the
/// volatile keys for the run that follows; like any volatile key they do
/// not survive that run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_holds_volatile_stores_at_the_same_point_and_a_restore_serves_them() {
    let VolatileBroker {
        dir: _dir,
        file,
        config,
        broker,
        writer,
        level,
    } = VolatileBroker::start().await;
    let stop = Arc::new(AtomicBool::new(false));
    let (durable_acked, durable_load) = write_until(
        writer.store("default").await.unwrap(),
        level.clone(),
        "d",
        stop.clone(),
    );
    let (volatile_acked, volatile_load) = write_until(
        writer.store("volatile").await.unwrap(),
        level.clone(),
        "v",
        stop.clone(),
    );
    let counts = || {
        (
            durable_acked.lock().unwrap().len(),
            volatile_acked.lock().unwrap().len(),
        )
    };
    eventually("both kinds of writes are flowing", || {
        let (d, v) = counts();
        async move { (d >= 100 && v >= 100).then_some(()) }
    })
    .await;
    let (seq, keys) = backup(&broker, &file);
    let (d, v) = counts();
    eventually("writes go on after the backup", || {
        let (d2, v2) = counts();
        async move { (d2 >= d + 50 && v2 >= v + 50).then_some(()) }
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    durable_load.await.unwrap();
    volatile_load.await.unwrap();
    let split = |acked: &Acked| {
        let all = acked.lock().unwrap().clone();
        let (before, after): (Vec<_>, Vec<_>) = all.into_iter().partition(|(_, _, s)| *s <= seq);
        (before, after)
    };
    let (durable_before, durable_after) = split(&durable_acked);
    let (volatile_before, volatile_after) = split(&volatile_acked);
    eprintln!(
        "backup at seq {seq} with {keys} keys: {} + {} writes before it, {} + {} after",
        durable_before.len(),
        volatile_before.len(),
        durable_after.len(),
        volatile_after.len()
    );
    assert!(!durable_after.is_empty() && !volatile_after.is_empty());
    assert_eq!(
        keys,
        (durable_before.len() + volatile_before.len()) as u64,
        "the backup holds exactly the writes of both kinds up to its seq"
    );
    let bytes = std::fs::read(&file).unwrap();
    let decoded = canopy_schemas::backup::Backup::decode(&bytes).unwrap();
    assert_eq!(decoded.format, 2, "volatile keys need format 2");
    assert_eq!(decoded.volatile.len(), volatile_before.len());

    let file_arg = file.to_str().unwrap().to_owned();
    let mut restored = BrokerProcess::start(&["--config", &config, "--restore", &file_arg]);
    assert!(
        restored.stderr().contains("served from memory"),
        "{}",
        restored.stderr()
    );
    let reader = node(&restored, "reader", "g").await;
    for (store, before, after) in [
        ("default", &durable_before, &durable_after),
        ("volatile", &volatile_before, &volatile_after),
    ] {
        let view = reader.store(store).await.unwrap();
        for (key, value, _) in before {
            assert_eq!(view.get::<u64>(key).unwrap(), Some(*value), "{store} {key}");
        }
        for (key, _, _) in after {
            assert_eq!(
                view.get::<u64>(key).unwrap(),
                None,
                "{store} {key} came back"
            );
        }
    }
    drop(reader);

    // The restored volatile keys lived for that run only; the persistent
    // ones stay.
    restored.terminate();
    restored.restart_with(&["--config", &config]);
    let reader = node(&restored, "reader-after", "g").await;
    let volatile = reader.store("volatile").await.unwrap();
    let durable = reader.store("default").await.unwrap();
    let (first_volatile, _, _) = &volatile_before[0];
    assert_eq!(volatile.get::<u64>(first_volatile).unwrap(), None);
    let (first_durable, value, _) = &durable_before[0];
    assert_eq!(durable.get::<u64>(first_durable).unwrap(), Some(*value));
}

/// Volatile keys restored under a configuration where their store persists
/// join the database instead of being lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volatile_keys_restored_into_a_persistent_store_are_kept_on_disk() {
    let VolatileBroker {
        dir,
        file,
        config: _config,
        broker,
        writer,
        level,
    } = VolatileBroker::start().await;
    let store = writer.store("volatile").await.unwrap();
    store.put(&level, "kept", &7u8).await.unwrap();
    let (_, keys) = backup(&broker, &file);
    assert_eq!(keys, 1);
    let persistent = dir.path().join("persistent.toml");
    std::fs::write(&persistent, "[stores.volatile]\npersist = true\n").unwrap();
    let persistent = persistent.to_str().unwrap().to_owned();
    let mut restored =
        BrokerProcess::start(&["--config", &persistent, "--restore", file.to_str().unwrap()]);
    restored.terminate();
    restored.restart_with(&["--config", &persistent]);
    let reader = node(&restored, "reader", "g").await;
    let view = reader.store("volatile").await.unwrap();
    assert_eq!(view.get::<u8>("kept").unwrap(), Some(7));
}
