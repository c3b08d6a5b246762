//! What an operator runs around the broker: `--check-config` before a
//! restart.

mod common;

use canopy_client::Level;
use common::*;
use std::process::Command;

fn check(dir: &std::path::Path, toml: &str, extra: &[&str]) -> std::process::Output {
    let file = dir.join("canopy.toml");
    std::fs::write(&file, toml).unwrap();
    Command::new(broker_bin())
        .arg("--check-config")
        .arg("--config")
        .arg(&file)
        .arg("--data-dir")
        .arg(dir.join("never-created"))
        .args(extra)
        .output()
        .unwrap()
}

fn text(out: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_config_accepts_a_good_file_and_touches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("schemas")).unwrap();
    std::fs::write(
        dir.path().join("schemas/reading.json"),
        r#"{"type": "object", "required": ["celsius"]}"#,
    )
    .unwrap();
    let toml = format!(
        "port = 7100\nschemas_dir = {:?}\n[stores.readings]\nschema = \"reading.json\"\npersist = false\n",
        dir.path().join("schemas")
    );
    let out = check(dir.path(), &toml, &[]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout.trim(), "configuration ok");
    assert!(stderr.contains("warning: CURVE is off"), "{stderr}");
    assert!(
        !dir.path().join("never-created").exists(),
        "--check-config created the data directory"
    );
}

#[test]
fn check_config_refuses_what_start_up_would_refuse() {
    let dir = tempfile::tempdir().unwrap();
    for (toml, expected) in [
        ("prot = 1\n", "unknown field"),
        ("protocol_max = 9\n", "protocol_max 9"),
        (
            "max_topic_length = 100000\n",
            "max_topic_length must be at most 16384",
        ),
        (
            "[stores.readings]\nschema = \"missing.json\"\n",
            "missing.json",
        ),
        ("upstream = \"tcp://:5556\"\n", "base endpoint"),
        (
            "curve_key_file = \"nowhere.key\"\n",
            "curve_key_file and allow_list",
        ),
    ] {
        let out = check(dir.path(), toml, &[]);
        let (stdout, stderr) = text(&out);
        assert!(!out.status.success(), "{toml}: accepted ({stdout})");
        assert!(stderr.contains(expected), "{toml}: {stderr}");
    }
}

#[test]
fn check_config_warns_when_descriptors_cannot_cover_max_connections() {
    let dir = tempfile::tempdir().unwrap();
    let out = check(dir.path(), "max_connections = 4000000000\n", &[]);
    let (_, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let limited = rlimit_hard_is_finite();
    assert_eq!(
        stderr.contains("open descriptors"),
        limited,
        "descriptor warning: {stderr}"
    );
}

/// True when this process has a finite hard limit on descriptors (the
/// warning only makes sense then).
fn rlimit_hard_is_finite() -> bool {
    std::fs::read_to_string("/proc/self/limits")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(4))
        .is_some_and(|hard| hard != "unlimited")
}

#[test]
fn the_broker_tells_systemd_when_it_is_ready_and_when_it_stops() {
    use std::os::unix::net::UnixDatagram;
    let dir = tempfile::tempdir().unwrap();
    let socket_path = dir.path().join("notify.sock");
    let manager = UnixDatagram::bind(&socket_path).unwrap();
    manager.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut child = Command::new(broker_bin())
        .args(["--port", &free_base_port().to_string()])
        .args(["--http", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .env("NOTIFY_SOCKET", &socket_path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut buf = [0u8; 512];
    let n = manager.recv(&mut buf).expect("a READY notification");
    let ready = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(ready.lines().any(|l| l == "READY=1"), "{ready}");
    assert!(ready.contains("STATUS=serving on tcp://"), "{ready}");
    let status = Command::new("kill")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let n = manager.recv(&mut buf).expect("a STOPPING notification");
    let stopping = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(stopping.lines().any(|l| l == "STOPPING=1"), "{stopping}");
    assert!(child.wait().unwrap().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_acknowledges_and_tells_the_nodes() {
    // A node timeout far beyond the test's deadline: only the broker's
    // GOODBYE can make the node notice the stop in time.
    let mut broker = BrokerProcess::start(&["--node-timeout-ms", "120000"]);
    let n = node(&broker, "n", "g").await;
    let mut events = n.events().unwrap();
    let store = n.store("default").await.unwrap();
    let level = canopy_client::Level::parse("g", false).unwrap();
    let ack = store.put(&level, "before-stop", &7u8).await.unwrap();
    let status = broker.terminate().expect("exit status");
    assert!(status.success(), "{status:?}");
    let told = tokio::time::timeout(DEADLINE, async {
        loop {
            match events.next().await {
                Some(canopy_client::NodeEvent::Disconnected) => return true,
                Some(_) => continue,
                None => return false,
            }
        }
    })
    .await;
    assert_eq!(
        told,
        Ok(true),
        "the node was not told the broker stopped: {}",
        broker.stderr()
    );
    assert!(broker
        .stderr()
        .contains("nodes told the broker is stopping"));
    broker.restart();
    let reader = node(&broker, "reader", "g").await;
    let view = reader.store("default").await.unwrap();
    assert_eq!(view.get::<u8>("before-stop").unwrap(), Some(7));
    assert!(ack.seq > 0);
}

/// Issue 14, item 1: removing a store from the configuration (or starting
/// once without `--config`) used to delete the store's data at the next
/// start, with only an INFO line. The keys are now kept on disk and not
/// served, with a warning naming the store; declaring it again serves them;
/// only `--drop-store` deletes them, and never those of a served store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_change_never_deletes_a_stores_data() {
    let dir = tempfile::tempdir().unwrap();
    let with_store = dir.path().join("with.toml");
    std::fs::write(&with_store, "[stores.readings]\n").unwrap();
    let volatile = dir.path().join("volatile.toml");
    std::fs::write(&volatile, "[stores.readings]\npersist = false\n").unwrap();
    let config = with_store.to_str().unwrap();
    let mut broker = BrokerProcess::start(&["--config", config]);
    let writer = node(&broker, "writer", "").await;
    let store = writer.store("readings").await.unwrap();
    for i in 0..5u8 {
        store
            .put(&Level::root(), &format!("k{i}"), &i)
            .await
            .unwrap();
    }
    drop((store, writer));
    let keys_served = |broker: &BrokerProcess| {
        let endpoint = broker.endpoint();
        async move {
            let n = canopy_client::Node::connect(canopy_client::NodeOptions::new(
                &endpoint, "reader", "",
            ))
            .await
            .unwrap();
            match n.store("readings").await {
                Ok(r) => r.keys("").len(),
                Err(_) => 0, // not declared: nothing served
            }
        }
    };
    // Once without the store (no --config), once with persist = false.
    let config_volatile = volatile.to_str().unwrap().to_owned();
    for (flags, why) in [
        (vec![], "is not declared in the configuration"),
        (
            vec!["--config", config_volatile.as_str()],
            "is declared with persist = false",
        ),
    ] {
        broker.terminate();
        broker.restart_with(&flags);
        assert_eq!(keys_served(&broker).await, 0);
        let log = broker.stderr();
        assert!(
            log.contains(why)
                && log.contains("5 keys on disk are kept")
                && log.contains("--drop-store readings"),
            "{log}"
        );
    }
    // Declared again: every key is back.
    broker.terminate();
    broker.restart_with(&["--config", config]);
    assert_eq!(keys_served(&broker).await, 5);
    // --drop-store refuses a store that is served ...
    broker.terminate();
    let refused = broker_refuses(
        &broker.data_dir,
        &["--config", config, "--drop-store", "readings"],
    );
    assert!(
        refused.contains("--drop-store readings: the store is declared and persists"),
        "{refused}"
    );
    // ... and deletes one that is not, when asked.
    broker.restart_with(&["--drop-store", "readings"]);
    assert!(broker
        .stderr()
        .contains("--drop-store: deleting the store's keys"));
    broker.terminate();
    broker.restart_with(&["--config", config]);
    assert_eq!(keys_served(&broker).await, 0);
}
