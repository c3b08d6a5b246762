//! What a new user runs, as the README shows it: the monitoring recipe and
//! the CURVE recipe executed as written (with `canopy`, `canopy-broker` and the broker's address
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
    let broker = BrokerProcess::start(&[]);
    // `true` reads nothing and exits at once: the CLI's first write meets a
    // closed pipe.
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "{} --broker {} stats | true; echo \"status ${{PIPESTATUS[0]}}\"",
            cli_bin(),
            broker.endpoint()
        ))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stderr.contains("panicked"), "{stderr}");
    // Killed by SIGPIPE (128 + 13) like any Unix filter, not a panic (101).
    assert_eq!(stdout.trim(), "status 141", "{stdout} {stderr}");
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
