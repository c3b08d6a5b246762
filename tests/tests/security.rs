//! CURVE end to end: only allow-listed keys get in, the list reloads on
//! SIGHUP, an open broker says so, and bad key material is a clear error.

mod common;

use canopy_client::{ClientError, CurveKeys, Node, NodeEvent, NodeOptions};
use common::*;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn keygen(path: &Path) -> String {
    let out = run_cli(&["keygen", "--out", path.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn options(
    broker: &BrokerProcess,
    name: &str,
    keys: Option<CurveKeys>,
    timeout: Duration,
) -> NodeOptions {
    let mut o = NodeOptions::new(&broker.endpoint(), name, "g");
    o.connect_timeout = timeout;
    o.curve = keys;
    o
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curve_admits_only_allowed_keys_and_reloads_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    keygen(&d.join("broker"));
    let alice_pub = keygen(&d.join("alice"));
    let mallory_pub = keygen(&d.join("mallory"));
    let secret = std::fs::read_to_string(d.join("alice.key")).unwrap();
    assert!(secret.contains("secret = "));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(d.join("alice.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "key file readable by others");
    }
    let allow = d.join("allow.txt");
    std::fs::write(&allow, format!("# who may connect\nalice {alice_pub}\n")).unwrap();
    let broker = BrokerProcess::start(&[
        "--curve-key-file",
        d.join("broker.key").to_str().unwrap(),
        "--allow-list",
        allow.to_str().unwrap(),
    ]);
    assert!(
        broker.ready_line.ends_with("curve=on"),
        "{}",
        broker.ready_line
    );
    assert!(!broker.stderr().contains("CURVE is off"));
    let server = d.join("broker.pub");
    let alice = || CurveKeys::load(server.to_str().unwrap(), &d.join("alice.key")).unwrap();
    let mallory = || CurveKeys::load(server.to_str().unwrap(), &d.join("mallory.key")).unwrap();

    // An allowed key: events flow both ways.
    let sub = Node::connect(options(&broker, "sub", Some(alice()), DEADLINE))
        .await
        .unwrap();
    sub.subscribe("t").unwrap();
    let mut events = sub.events().unwrap();
    let publisher = Node::connect(options(&broker, "pub", Some(alice()), DEADLINE))
        .await
        .unwrap();
    loop {
        publisher.publish_group("g", "t", &1).unwrap();
        if let Ok(Some(NodeEvent::Event(e))) =
            tokio::time::timeout(Duration::from_millis(100), events.next()).await
        {
            assert_eq!(e.decode::<i32>().unwrap(), 1);
            break;
        }
    }
    // An unknown key is refused with a clear error, not a hang.
    let err = Node::connect(options(&broker, "m", Some(mallory()), DEADLINE))
        .await
        .err()
        .unwrap();
    assert!(matches!(err, ClientError::AuthRefused(_)), "{err}");
    // No keys at all: nothing gets through either.
    let err = Node::connect(options(&broker, "anon", None, Duration::from_millis(800)))
        .await
        .err()
        .unwrap();
    assert!(matches!(err, ClientError::Timeout { .. }), "{err}");
    // The CLI takes keys too.
    let b = broker.endpoint();
    let srv = server.to_str().unwrap();
    let out = run_cli(&[
        "--broker",
        &b,
        "--server-key",
        srv,
        "--key",
        d.join("alice.key").to_str().unwrap(),
        "stats",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stats: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(stats["counters"]["auth_denied"].as_u64().unwrap() >= 1);
    assert!(stats["counters"]["auth_allowed"].as_u64().unwrap() >= 2);
    // Allow mallory and reload without a restart.
    std::fs::write(
        &allow,
        format!("alice {alice_pub}\nmallory {mallory_pub}\n"),
    )
    .unwrap();
    broker.signal("HUP");
    let admitted = eventually("mallory is admitted after SIGHUP", || {
        let o = options(&broker, "m2", Some(mallory()), Duration::from_millis(500));
        async move { Node::connect(o).await.ok() }
    })
    .await;
    admitted.close();
    assert!(broker.stderr().contains("allow-list reloaded"));
    // A broken list on reload keeps the previous one in force.
    std::fs::write(&allow, "not a valid line\n").unwrap();
    broker.signal("HUP");
    eventually("the failed reload is logged", || {
        let logged = broker.stderr().contains("allow-list reload failed");
        async move { logged.then_some(()) }
    })
    .await;
    let still = Node::connect(options(&broker, "sub2", Some(alice()), DEADLINE)).await;
    assert!(still.is_ok(), "the previous allow-list stays in force");
}

#[test]
fn an_open_broker_says_so_and_bad_curve_config_is_a_clear_error() {
    let broker = BrokerProcess::start(&[]);
    assert!(broker.ready_line.ends_with("curve=off"));
    assert_eq!(broker.stderr().matches("CURVE is off").count(), 1);
    let dir = tempfile::tempdir().unwrap();
    let allow = dir.path().join("allow.txt");
    std::fs::write(&allow, "alice tooshort\n").unwrap();
    let only_list = Command::new(broker_bin())
        .args([
            "--port",
            "1",
            "--data-dir",
            dir.path().join("d").to_str().unwrap(),
        ])
        .args(["--allow-list", allow.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!only_list.status.success());
    assert!(String::from_utf8_lossy(&only_list.stderr).contains("needs both"));
    keygen(&dir.path().join("broker"));
    let bad_list = Command::new(broker_bin())
        .args([
            "--port",
            "1",
            "--data-dir",
            dir.path().join("d").to_str().unwrap(),
        ])
        .args([
            "--curve-key-file",
            dir.path().join("broker.key").to_str().unwrap(),
        ])
        .args(["--allow-list", allow.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!bad_list.status.success());
    let err = String::from_utf8_lossy(&bad_list.stderr);
    assert!(err.contains("allow.txt") && err.contains("line 1"), "{err}");
    // A public-only file cannot be a broker key pair.
    let only_pub = Command::new(broker_bin())
        .args([
            "--port",
            "1",
            "--data-dir",
            dir.path().join("d").to_str().unwrap(),
        ])
        .args([
            "--curve-key-file",
            dir.path().join("broker.pub").to_str().unwrap(),
        ])
        .args(["--allow-list", allow.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&only_pub.stderr).contains("needs both public and secret"));
}
