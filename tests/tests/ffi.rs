//! The C ABI from the outside: the C examples built with the system C
//! compiler against `client/include/canopy.h` and the shared or static
//! library, a Python program using only `ctypes`, and the C sensor under
//! valgrind, each run against a live broker with its output checked.
//!
//! The libraries come from `cargo build` (scripts/test builds before testing).

mod common;

use common::*;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `target/<profile>`: where this test binary's `deps/` folder lives.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target dir")
        .to_owned()
}

fn library(ext: &str) -> PathBuf {
    let lib = target_dir().join(format!("libcanopy_client.{ext}"));
    assert!(
        lib.exists(),
        "{} is missing: build it first with `cargo build -p canopy-client` (scripts/test does)",
        lib.display()
    );
    lib
}

/// Compiles one C example; `static_link` links libcanopy_client.a instead of the .so.
fn compile(example: &str, out_dir: &Path, static_link: bool, extra: &[&str]) -> PathBuf {
    let src = workspace().join(format!("client/examples/c/{example}.c"));
    let out = out_dir.join(if static_link {
        format!("{example}-static")
    } else {
        example.to_owned()
    });
    let mut cc = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()));
    cc.args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-g"])
        .args(extra)
        .arg("-I")
        .arg(workspace().join("client/include"))
        .arg(&src)
        .arg("-o")
        .arg(&out);
    if static_link {
        cc.arg(library("a"));
        cc.args(["-lstdc++", "-lpthread", "-ldl", "-lm"]);
    } else {
        let dir = library("so").parent().expect("lib dir").to_owned();
        cc.arg("-L")
            .arg(&dir)
            .arg("-lcanopy_client")
            .arg(format!("-Wl,-rpath,{}", dir.display()));
    }
    let status = cc.status().expect("run the C compiler");
    assert!(status.success(), "compiling {example}.c failed");
    out
}

/// A running program whose stdout lines arrive on a channel.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    fn start(cmd: &mut Command) -> Running {
        let mut child = cmd.stdout(Stdio::piped()).spawn().expect("start program");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Running {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Reads lines until one starts with `prefix`; returns it.
    fn until(&mut self, prefix: &str, deadline: Duration) -> String {
        let end = Instant::now() + deadline;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.starts_with(prefix) {
                        return line;
                    }
                }
                Err(_) => panic!("no line starting with {prefix:?}; saw {:?}", self.seen),
            }
        }
    }

    fn saw(&self, line: &str) -> bool {
        self.seen.iter().any(|l| l == line)
    }

    fn wait(mut self) -> std::process::ExitStatus {
        let end = Instant::now() + DEADLINE * 3;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            assert!(Instant::now() < end, "program did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(program: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(program).args(args).output().expect("run");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        String::from_utf8_lossy(&out.stderr).trim().to_owned(),
    )
}

/// Sends a command event to `node` with the admin tool until `program`
/// reports it (the subscription reaches publishers asynchronously).
fn command_until_received(
    admin: &Path,
    broker: &str,
    node: &str,
    program: &mut Running,
    prefix: &str,
) -> String {
    let end = Instant::now() + DEADLINE;
    loop {
        let (ok, _, err) = run(
            admin,
            &[broker, "send", node, "cmd", r#"{"do":"calibrate"}"#],
        );
        assert!(ok, "admin send: {err}");
        if let Ok(line) = program.lines.recv_timeout(Duration::from_millis(300)) {
            program.seen.push(line.clone());
            if line.starts_with(prefix) {
                return line;
            }
        }
        assert!(
            Instant::now() < end,
            "command never arrived; saw {:?}",
            program.seen
        );
    }
}

#[test]
fn c_sensor_and_admin_against_a_live_broker() {
    let broker = BrokerProcess::start(&[]);
    let b = broker.endpoint();
    let dir = tempfile::tempdir().unwrap();
    let sensor = compile("sensor", dir.path(), false, &[]);
    let admin = compile("admin", dir.path(), true, &[]);
    let (ok, out, err) = run(&admin, &[&b, "set", "eu/fra", "threshold", "42"]);
    assert!(ok, "{err}");
    assert!(out.parse::<u64>().is_ok(), "set prints the sequence: {out}");

    let mut s = Running::start(Command::new(&sensor).args([&b, "c1", "eu/fra/dc1"]));
    s.until("ready", DEADLINE);
    for expected in [
        "joined eu/fra/dc1/c1",
        "threshold 42",
        "put sensors/c1 seq>0 1",
        r#"read back {"status":"up"}"#,
        "readings 3",
        "put_if_absent on existing key: conflict 1",
        "published 3 readings",
    ] {
        assert!(s.saw(expected), "missing {expected:?} in {:?}", s.seen);
    }
    assert!(s.seen[0].starts_with(&format!("version {}", env!("CARGO_PKG_VERSION"))));
    let event = command_until_received(&admin, &b, "eu/fra/dc1/c1", &mut s, "event ");
    assert!(
        event.starts_with("event topic=cmd target=eu/fra/dc1/c1 publisher=admin-"),
        "{event}"
    );
    assert!(event.ends_with(r#"payload={"do":"calibrate"}"#), "{event}");
    s.until("bye", DEADLINE);
    assert!(s.wait().success());

    let (ok, out, _) = run(&admin, &[&b, "get", "eu/fra/dc1", "sensors/c1"]);
    assert!(ok);
    assert_eq!(out, r#"{"status":"up"}"#);
    let (ok, _, err) = run(&admin, &[&b, "get", "eu/fra/dc1", "nothing"]);
    assert!(!ok && err.contains("not found"), "{err}");
    let (ok, out, _) = run(&admin, &[&b, "keys", "eu/fra/dc1"]);
    assert!(ok);
    assert_eq!(out, r#"["members","readings","sensors/c1","threshold"]"#);
    let (ok, out, _) = run(&admin, &[&b, "stats"]);
    assert!(ok);
    let stats: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(stats["counters"]["writes"].as_u64().unwrap() >= 4);
    let (ok, _, err) = run(&admin, &["tcp://nowhere", "stats"]);
    assert!(!ok && err.contains("connect"), "{err}");
}

#[test]
fn python_ctypes_program_against_a_live_broker() {
    let broker = BrokerProcess::start(&[]);
    let b = broker.endpoint();
    let dir = tempfile::tempdir().unwrap();
    let admin = compile("admin", dir.path(), false, &[]);
    let script = workspace().join("client/examples/python/sensor.py");
    let lib = library("so");
    let mut py = Running::start(
        Command::new("python3")
            .arg(&script)
            .arg(&lib)
            .args([&b, "py1", "eu"]),
    );
    py.until("ready", DEADLINE);
    for expected in [
        "joined eu/py1",
        r#"read back {"lang": "python", "ok": true}"#,
        "missing key not found: True",
        "count 2",
    ] {
        assert!(py.saw(expected), "missing {expected:?} in {:?}", py.seen);
    }
    let event = command_until_received(&admin, &b, "eu/py1", &mut py, "event ");
    assert_eq!(event, r#"event cmd {"do":"calibrate"}"#);
    py.until("bye", DEADLINE);
    assert!(py.wait().success());
}

#[test]
fn c_sensor_runs_clean_under_valgrind_or_address_sanitizer() {
    let broker = BrokerProcess::start(&[]);
    let b = broker.endpoint();
    let dir = tempfile::tempdir().unwrap();
    let admin = compile("admin", dir.path(), false, &[]);
    let valgrind = Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let mut s = if valgrind {
        let sensor = compile("sensor", dir.path(), false, &[]);
        Running::start(
            Command::new("valgrind")
                .args([
                    "--quiet",
                    "--error-exitcode=99",
                    "--leak-check=full",
                    "--show-leak-kinds=definite",
                    "--errors-for-leak-kinds=definite",
                ])
                .arg(format!(
                    "--suppressions={}",
                    workspace()
                        .join("client/examples/c/valgrind.supp")
                        .display()
                ))
                .arg(&sensor)
                .args([&b, "vg1", "eu"]),
        )
    } else {
        let sensor = compile(
            "sensor",
            dir.path(),
            false,
            &["-fsanitize=address", "-fno-omit-frame-pointer"],
        );
        Running::start(
            Command::new(&sensor)
                .args([&b, "vg1", "eu"])
                .env("ASAN_OPTIONS", "detect_leaks=0"),
        )
    };
    s.until("ready", DEADLINE * 3);
    command_until_received(&admin, &b, "eu/vg1", &mut s, "event ");
    s.until("bye", DEADLINE * 3);
    let status = s.wait();
    assert!(
        status.success(),
        "memory checker reported errors (exit {status:?})"
    );
}
