//! What a new user runs, as the README shows it: the five-minute tour, the
//! monitoring recipe and the CURVE recipe executed as written (with `canopy`, `canopy-broker` and the broker's address
//! pointed at this test's binaries and ports), a base port of 0 refused,
//! and the CLI quiet when its reader goes away.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;

/// The shell block that follows `heading` in README.md.
fn shell_block_after(heading: &str) -> String {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .expect("README.md");
    let section = &readme[readme.find(heading).expect("heading in README")..];
    let start = section.find("```sh\n").expect("a shell block") + "```sh\n".len();
    let end = section[start..].find("```").expect("the block ends") + start;
    section[start..end].to_owned()
}

/// A folder with `canopy` and `canopy-broker` commands that run this
/// test's binaries, the broker on `port` with its data in `data`.
fn commands(dir: &Path, port: u16, data: &Path) -> std::path::PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let write = |name: &str, body: String| {
        let path = bin.join(name);
        std::fs::write(&path, body).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    };
    write(
        "canopy-broker",
        format!(
            "#!/bin/sh\nexec {} --port {port} --data-dir {} \"$@\" 2>>{}\n",
            broker_bin(),
            data.display(),
            dir.join("broker.log").display()
        ),
    );
    write("canopy", format!("#!/bin/sh\nexec {} \"$@\"\n", cli_bin()));
    bin
}

#[test]
fn the_curve_recipe_runs_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_base_port();
    let bin = commands(dir.path(), port, &dir.path().join("data"));
    let recipe = shell_block_after("## Security: CURVE");
    // The harness waits (with a deadline) for the reload the recipe asked
    // for, then stops the broker the recipe left running.
    let script = format!(
        "set -e\n{recipe}\n\
         for i in $(seq 400); do grep -q 'allow-list reloaded' broker.log && break; sleep 0.05; done\n\
         kill $!\nwait $! || true\n"
    );
    let out = Command::new("sh")
        .arg("-c")
        .arg(&script)
        .current_dir(dir.path())
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("CANOPY_BROKER", format!("tcp://127.0.0.1:{port}"))
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success(),
        "recipe failed:\n{script}\n{stdout}\n{stderr}"
    );
    let clients = std::fs::read_to_string(dir.path().join("clients.txt")).unwrap();
    assert_eq!(clients.lines().count(), 1, "{clients}");
    assert!(clients.starts_with("alice ") && clients.trim().len() == "alice ".len() + 40);
    assert!(
        stdout.contains("connections_open"),
        "stats printed: {stdout}"
    );
    let log = std::fs::read_to_string(dir.path().join("broker.log")).unwrap_or_default();
    assert!(log.contains("allow-list reloaded"), "{stderr}\n{log}");
}

#[test]
fn a_base_port_of_0_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = broker_refuses(dir.path(), &["--port", "0"]);
    assert!(
        err.contains("port must be a base port P from 1 to 65533"),
        "{err}"
    );
}

#[test]
fn the_cli_stops_quietly_when_its_reader_goes_away() {
    use std::os::unix::process::ExitStatusExt;
    let broker = BrokerProcess::start(&[]);
    // The reader is gone before the CLI starts (its end of the pipe is
    // closed here, not by a racing `| true`): the first write meets a
    // closed pipe every time.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(cli_bin())
        .args(["--broker", &broker.endpoint(), "stats"])
        .stdout(writer)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    // Killed by SIGPIPE like any Unix filter (a shell reports 141), not a
    // panic (exit 101).
    assert_eq!(out.status.signal(), Some(13), "{:?} {stderr}", out.status);
}

#[test]
fn the_monitoring_recipe_runs_as_written() {
    let broker = BrokerProcess::start(&[]);
    let address = broker.http().unwrap();
    // curl, as the README uses it (installed when the machine has none).
    system_tool("curl", "curl");
    // The README's address is the default (P+3 of 5556); this test's broker
    // listens elsewhere.
    let block = shell_block_after("### Monitoring").replace("127.0.0.1:5559", &address);
    let out = Command::new("sh").args(["-ec", &block]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{block}\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("canopy_events_in_total "), "{stdout}");
    assert!(stdout.contains("\"ready\": true"), "{stdout}");
    assert!(stdout.contains("\"distinct\""), "{stdout}");
}

#[test]
fn the_five_minute_tour_runs_as_written() {
    let broker = BrokerProcess::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    // The tour calls ./target/release/canopy from the checkout: here that
    // path runs this test's CLI, and CANOPY_BROKER points it at this test's
    // broker (the tour's broker is the default one on 5556).
    let release = dir.path().join("target/release");
    std::fs::create_dir_all(&release).unwrap();
    let canopy = release.join("canopy");
    std::fs::write(&canopy, format!("#!/bin/sh\nexec {} \"$@\"\n", cli_bin())).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&canopy, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    // Terminals 2 and the subtree observer become background processes;
    // each is waited for (with a deadline) until it says its subscriptions
    // are in force. `canopy top` needs a terminal: top.rs drives it in tmux.
    let tour = shell_block_after("## Five-minute tour");
    let mut script = String::from("set -e\n");
    let mut subscribers = 0;
    for line in tour.lines() {
        let command = line.trim();
        if command.is_empty() || command.starts_with('#') || command.contains("canopy top") {
            continue;
        }
        if command.contains("canopy sub ") {
            let k = subscribers;
            subscribers += 1;
            script.push_str(&format!(
                "{command} > sub{k}.out 2> sub{k}.err &\necho $! >> pids\n\
                 for i in $(seq 400); do grep -q 'subscribed as' sub{k}.err && break; sleep 0.05; done\n\
                 grep -q 'subscribed as' sub{k}.err\n"
            ));
        } else {
            script.push_str(command);
            script.push('\n');
        }
    }
    let out = Command::new("sh")
        .arg("-c")
        .arg(&script)
        .current_dir(dir.path())
        .env("CANOPY_BROKER", broker.endpoint())
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    let stop_subscribers = || {
        let pids = std::fs::read_to_string(dir.path().join("pids")).unwrap_or_default();
        for pid in pids.split_whitespace() {
            let _ = Command::new("kill").arg(pid).status();
        }
    };
    if !out.status.success() {
        stop_subscribers();
        panic!("the tour failed:\n{script}\n{stdout}\n{stderr}");
    }
    assert_eq!(subscribers, 2, "{tour}");
    assert!(
        stdout.contains("eu/fra/dc1/s1"),
        "canopy nodes lists s1: {stdout}"
    );
    assert!(stdout.contains("events_in"), "canopy stats: {stdout}");
    // Terminal 2 gets every event the tour publishes to s1 or its groups.
    let wanted = [
        ("temp", "eu/fra", serde_json::json!({"celsius": 21.5})),
        ("temp.cmd", "", serde_json::json!("recalibrate")),
        ("temperature", "", serde_json::json!(18)),
        ("temp", "eu", serde_json::json!({"n": 1})),
        ("temp", "eu", serde_json::json!({"n": 2})),
    ];
    let deadline = std::time::Instant::now() + DEADLINE;
    let events: Vec<serde_json::Value> = loop {
        let text = std::fs::read_to_string(dir.path().join("sub0.out")).unwrap_or_default();
        let events: Vec<serde_json::Value> = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        if events.len() >= wanted.len() || std::time::Instant::now() > deadline {
            break events;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    stop_subscribers();
    for (topic, group, payload) in &wanted {
        assert!(
            events.iter().any(|e| e["topic"] == *topic
                && (group.is_empty() || e["group"] == *group)
                && e["payload"] == *payload),
            "terminal 2 never printed {topic} {payload} from {group:?}: {events:?}"
        );
    }
}
