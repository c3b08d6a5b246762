//! CURVE end to end: only allow-listed keys get in, the list reloads on
//! SIGHUP, an open broker says so, and bad key material is a clear error.

mod common;

use canopy_client::{ClientError, CurveKeys, Level, Node, NodeEvent, NodeOptions};
use common::*;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn options(
    broker: &BrokerProcess,
    name: &str,
    keys: Option<CurveKeys>,
    timeout: Duration,
) -> NodeOptions {
    let mut o = NodeOptions::new(&broker.endpoint(), name, "g");
    o = o.connect_timeout(timeout);
    if let Some(k) = keys {
        o = o.curve(k);
    }
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
        broker.ready_line.contains(" curve=on "),
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
    admitted.close().await;
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
    assert!(broker.ready_line.contains(" curve=off "));
    assert_eq!(broker.stderr().matches("CURVE is off").count(), 1);
    let dir = tempfile::tempdir().unwrap();
    let allow = dir.path().join("allow.txt");
    std::fs::write(&allow, "alice tooshort\n").unwrap();
    let data = dir.path().join("d");
    let key = dir.path().join("broker.key");
    let public = dir.path().join("broker.pub");
    let err = broker_refuses(&data, &["--allow-list", allow.to_str().unwrap()]);
    assert!(err.contains("needs both"), "{err}");
    keygen(&dir.path().join("broker"));
    let curve = |key_file: &Path| {
        broker_refuses(
            &data,
            &[
                "--curve-key-file",
                key_file.to_str().unwrap(),
                "--allow-list",
                allow.to_str().unwrap(),
            ],
        )
    };
    let err = curve(&key);
    assert!(err.contains("allow.txt") && err.contains("line 1"), "{err}");
    // A public-only file cannot be a broker key pair.
    let err = curve(&public);
    assert!(err.contains("needs both public and secret"), "{err}");
}

fn assert_acl_denied(err: &ClientError) {
    assert!(
        matches!(
            err,
            ClientError::Refused {
                code: canopy_schemas::ErrorCode::AclDenied,
                ..
            }
        ),
        "{err}"
    );
}

/// A broker with CURVE and ACLs for alice (eu, admin) and bob (us only).
struct AclSetup {
    dir: tempfile::TempDir,
    broker: BrokerProcess,
    alice: CurveKeys,
    bob: CurveKeys,
}

fn acl_setup() -> AclSetup {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_owned();
    keygen(&d.join("broker"));
    let alice_pub = keygen(&d.join("alice"));
    let bob_pub = keygen(&d.join("bob"));
    std::fs::write(
        d.join("allow.txt"),
        format!("alice {alice_pub}\nbob {bob_pub}\n"),
    )
    .unwrap();
    let config = d.join("canopy.toml");
    std::fs::write(
        &config,
        format!(
            r#"curve_key_file = {key:?}
allow_list = {allow:?}
[acl.alice]
publish = ["@eu/"]
subscribe = ["@eu/", "$sys/"]
read = ["/default/eu/", "/default/:", "/client/"]
write = ["/default/eu/", "/client/alice/"]
nodes = ["eu/"]
admin = true
[acl.bob]
publish = ["@us/"]
subscribe = ["@us/", "@eu/:public"]
read = ["/default/us/"]
write = ["/default/us/"]
nodes = ["us/"]
"#,
            key = d.join("broker.key").display().to_string(),
            allow = d.join("allow.txt").display().to_string()
        ),
    )
    .unwrap();
    let broker = BrokerProcess::start(&["--config", config.to_str().unwrap()]);
    let server = d.join("broker.pub");
    let load = |name: &str| {
        CurveKeys::load(server.to_str().unwrap(), &d.join(format!("{name}.key"))).unwrap()
    };
    AclSetup {
        alice: load("alice"),
        bob: load("bob"),
        broker,
        dir,
    }
}

fn acl_node(s: &AclSetup, keys: &CurveKeys, name: &str, group: &str) -> NodeOptions {
    let mut o = NodeOptions::new(&s.broker.endpoint(), name, group);
    o = o.connect_timeout(DEADLINE);
    o = o.curve(keys.clone());
    o
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acls_confine_each_identity_to_its_prefixes() {
    let s = acl_setup();
    // HELLO: bob may not join under eu/.
    let err = Node::connect(acl_node(&s, &s.bob, "b", "eu"))
        .await
        .err()
        .unwrap();
    assert_acl_denied(&err);
    let alice = Node::connect(acl_node(&s, &s.alice, "a", "eu"))
        .await
        .unwrap();
    let bob = Node::connect(acl_node(&s, &s.bob, "b", "us"))
        .await
        .unwrap();

    // Subscriptions: bob asks for all of eu at the wire level; it is never
    // applied. His allowed "@eu/:public" prefix still works.
    let ctx = zmq::Context::new();
    let spy = ctx.socket(zmq::SUB).unwrap();
    apply_curve(&s.bob, &spy);
    spy.set_subscribe(b"@eu/").unwrap();
    spy.set_subscribe(b"@eu/:public").unwrap();
    spy.set_subscribe(b"HUGZ").unwrap();
    spy.set_rcvtimeo(200).unwrap();
    spy.connect(&s.broker.endpoint_at(1)).unwrap();
    alice.subscribe("").unwrap();
    let mut alice_events = alice.events().unwrap();
    // Wait until alice's own subscription reached her publisher.
    loop {
        alice.publish_group("eu", "secret", &"x").unwrap();
        if let Ok(Some(NodeEvent::Event(_))) =
            tokio::time::timeout(Duration::from_millis(100), alice_events.next()).await
        {
            break;
        }
    }
    // Publish secrets and public notes until the spy sees a public one; by then
    // any secret sent before it would have arrived first (same publisher, in order).
    let mut saw_public = false;
    let deadline = std::time::Instant::now() + DEADLINE;
    while !saw_public {
        alice.publish_group("eu", "secret", &"classified").unwrap();
        alice.publish_group("eu", "public", &"hello").unwrap();
        while let Ok(frames) = spy.recv_multipart(0) {
            assert_ne!(
                frames[0], b"@eu/:secret",
                "bob received a topic his ACL forbids"
            );
            if frames[0] == b"@eu/:public" {
                saw_public = true;
                break;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "bob never got the allowed topic"
        );
    }

    // Publishing: bob may not publish to eu; alice never sees it.
    for _ in 0..20 {
        bob.publish_group("eu", "fake", &"from bob").unwrap();
    }
    alice.publish_group("eu", "sentinel", &1).unwrap();
    loop {
        let e = next_event(&mut alice_events).await;
        assert_ne!(
            e.topic, "fake",
            "alice received an event bob may not publish"
        );
        if e.topic == "sentinel" {
            break;
        }
    }

    // State: alice writes in eu; bob's snapshot of eu is empty and his write refused.
    let alice_store = alice.store("default").await.unwrap();
    alice_store
        .put(&Level::parse("eu", false).unwrap(), "plan", &"secret")
        .await
        .unwrap();
    let bob_store = bob.store("default").await.unwrap();
    bob_store
        .put(&Level::parse("us", false).unwrap(), "mine", &1)
        .await
        .unwrap();
    let err = bob_store
        .put(&Level::parse("eu", false).unwrap(), "plan", &"overwritten")
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::Refused { code: canopy_schemas::ErrorCode::AclDenied, ref message } if message.contains("bob")),
        "{err}"
    );
    let raw = ctx.socket(zmq::DEALER).unwrap();
    apply_curve(&s.bob, &raw);
    raw.set_rcvtimeo(DEADLINE.as_millis() as i32).unwrap();
    raw.connect(&s.broker.endpoint()).unwrap();
    raw.send_multipart([&b"ICANHAZ?"[..], b"/default/eu/:"], 0)
        .unwrap();
    let first = raw.recv_multipart(0).unwrap();
    assert_eq!(first[0], b"KTHXBAI", "bob's snapshot of eu must be empty");
    assert_eq!(
        alice_store.get::<String>("plan").unwrap().as_deref(),
        Some("secret")
    );

    // Opaque CHP keys (issue 16): the same read and write prefixes apply.
    let alice_chp = alice.chp_store("/client/").await.unwrap();
    alice_chp
        .chp_put("/client/alice/k", b"hers", None)
        .await
        .unwrap();
    let err = alice_chp
        .chp_put("/client/bob/k", b"not hers", None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Refused {
                code: canopy_schemas::ErrorCode::AclDenied,
                ..
            }
        ),
        "{err}"
    );
    let bob_chp = bob.chp_store("/client/").await.unwrap();
    assert!(
        bob_chp.keys("/client/").is_empty(),
        "bob may not read /client/"
    );
    let pubsock = ctx.socket(zmq::PUB).unwrap();
    apply_curve(&s.bob, &pubsock);
    pubsock.connect(&s.broker.endpoint_at(2)).unwrap();
    let denied_before = alice.stats().await.unwrap().counters["acl_write_denied"];
    eventually("bob's KVSET is refused", || async {
        pubsock
            .send_multipart([&b"/client/alice/k"[..], &[0u8; 8], b"", b"", b"bob's"], 0)
            .unwrap();
        let now = alice.stats().await.ok()?.counters["acl_write_denied"];
        (now > denied_before).then_some(())
    })
    .await;
    assert_eq!(
        alice_chp.get_raw("/client/alice/k").as_deref(),
        Some(&b"hers"[..])
    );

    // Admin: bob may not read stats; alice may.
    let err = bob.stats().await.unwrap_err();
    assert_acl_denied(&err);
    let stats = alice.stats().await.unwrap();
    for counter in [
        "acl_join_denied",
        "acl_subscribe_denied",
        "acl_publish_denied",
        "acl_read_denied",
        "acl_write_denied",
        "acl_admin_denied",
    ] {
        assert!(
            stats.counters[counter] >= 1,
            "{counter} not counted: {:?}",
            stats.counters
        );
    }
    let log = s.broker.stderr();
    assert!(
        log.lines()
            .any(|l| l.contains("denied by ACL") && l.contains("bob")),
        "denials are logged with the identity: {log}"
    );
}

#[test]
fn acl_rules_without_curve_are_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("canopy.toml");
    std::fs::write(&config, "[acl.alice]\npublish = [\"@\"]\n").unwrap();
    let out = Command::new(broker_bin())
        .args(["--port", "1", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("acl rules need CURVE"));
}

#[test]
fn a_curve_client_of_another_binding_is_admitted_only_with_an_allowed_key() {
    // pyzmq links its own libzmq and libsodium: CURVE must interoperate.
    let pythonpath = pyzmq_path();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    keygen(&d.join("broker"));
    let alice_pub = keygen(&d.join("alice"));
    keygen(&d.join("mallory"));
    let allow = d.join("allow.txt");
    std::fs::write(&allow, format!("alice {alice_pub}\n")).unwrap();
    let broker = BrokerProcess::start(&[
        "--curve-key-file",
        d.join("broker.key").to_str().unwrap(),
        "--allow-list",
        allow.to_str().unwrap(),
    ]);
    let run = |who: &str| {
        let out = Command::new("python3")
            .arg(python_script("curve_interop.py"))
            .arg(broker.endpoint())
            .arg(d.join("broker.pub"))
            .arg(d.join(format!("{who}.key")))
            .env("PYTHONPATH", &pythonpath)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{who}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    // An empty store: the snapshot is KTHXBAI alone.
    assert_eq!(run("alice"), "admitted 1");
    assert_eq!(run("mallory"), "refused 400");
    assert!(broker.stderr().contains("client refused"));
}

/// Issue 14, item 3: under the README's ACL example, `put`/`incr`/`del`
/// joined at the root whatever `--group` said, so alice (nodes under eu/)
/// got acl_denied. They now join in the group they write to.
#[test]
fn cli_writes_join_in_the_group_they_write_to_and_pass_the_acl() {
    let s = acl_setup();
    let d = s.dir.path();
    let b = s.broker.endpoint();
    let server = d.join("broker.pub");
    let key = d.join("alice.key");
    let cli = |args: &[&str]| {
        let mut full = vec![
            "--broker",
            b.as_str(),
            "--server-key",
            server.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ];
        full.extend_from_slice(args);
        run_cli(&full)
    };
    for args in [
        vec!["put", "--group", "eu", "limit", "5"],
        vec!["incr", "--group", "eu", "hits"],
        vec!["put", "--node", "eu/fra/s1", "own", "1"],
        vec!["del", "--group", "eu", "limit"],
    ] {
        let out = cli(&args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(
        String::from_utf8_lossy(&cli(&["get", "--node", "eu/fra/s1", "own"]).stdout).trim(),
        "1"
    );
    // Outside what alice may write: still refused, clearly.
    let out = cli(&["put", "--group", "us", "limit", "5"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("acl_denied"));
    // Issue 14, item 8: a key the broker does not know is named at once, not
    // after the whole timeout.
    keygen(&d.join("mallory"));
    let started = std::time::Instant::now();
    let out = run_cli(&[
        "--broker",
        b.as_str(),
        "--server-key",
        server.to_str().unwrap(),
        "--key",
        d.join("mallory.key").to_str().unwrap(),
        "stats",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refused the CURVE handshake"), "{err}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(4),
        "waited out the timeout"
    );
}

/// Makes a raw ZeroMQ socket a CURVE client with `keys`.
fn apply_curve(keys: &canopy_client::CurveKeys, socket: &zmq::Socket) {
    socket.set_curve_serverkey(&keys.server_public).unwrap();
    socket.set_curve_publickey(&keys.public).unwrap();
    socket.set_curve_secretkey(&keys.secret).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sys_topics_reach_only_identities_whose_acl_allows_them() {
    let s = acl_setup();
    let ctx = zmq::Context::new();
    let spy = |keys: &CurveKeys, prefixes: &[&[u8]]| {
        let socket = ctx.socket(zmq::SUB).unwrap();
        apply_curve(keys, &socket);
        for p in prefixes {
            socket.set_subscribe(p).unwrap();
        }
        socket.set_rcvtimeo(DEADLINE.as_millis() as i32).unwrap();
        socket.connect(&s.broker.endpoint_at(1)).unwrap();
        socket
    };
    let allowed = spy(&s.alice, &[b"$sys/"]);
    let denied = spy(&s.bob, &[b"$sys/", b"HUGZ"]);
    // Nodes join until alice's observer hears of one.
    let deadline = std::time::Instant::now() + DEADLINE;
    let mut joined = Vec::new();
    loop {
        assert!(
            std::time::Instant::now() < deadline,
            "no $sys/ message for alice"
        );
        let n = Node::connect(acl_node(&s, &s.alice, &format!("n{}", joined.len()), "eu"))
            .await
            .unwrap();
        joined.push(n);
        allowed.set_rcvtimeo(200).unwrap();
        if let Ok(frames) = allowed.recv_multipart(0) {
            assert!(frames[0].starts_with(b"$sys/"));
            break;
        }
    }
    // Bob's connection gets HUGZ in order with anything else sent to it: two
    // heartbeats after alice's message, a $sys/ message for bob would have
    // arrived before them.
    let mut beats = 0;
    while beats < 2 {
        let frames = denied.recv_multipart(0).expect("HUGZ for bob");
        assert!(
            !frames[0].starts_with(b"$sys/"),
            "bob's ACL does not allow $sys/, yet he received {:?}",
            String::from_utf8_lossy(&frames[0])
        );
        beats += 1;
    }
    let admin = Node::connect(acl_node(&s, &s.alice, "admin", "eu"))
        .await
        .unwrap();
    let stats = admin.stats().await.unwrap();
    assert!(stats.counters["acl_subscribe_denied"] >= 1);
    for n in joined {
        n.close().await;
    }
    admin.close().await;
}
