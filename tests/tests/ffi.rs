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

/// The shared library's SONAME, as its ELF header says.
fn soname() -> String {
    let out = Command::new("readelf")
        .arg("-d")
        .arg(library("so"))
        .output()
        .expect("run readelf (binutils)");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find(|l| l.contains("(SONAME)"))
        .and_then(|l| l.split('[').nth(1))
        .and_then(|l| l.split(']').next())
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("no SONAME in {}: {text}", library("so").display()))
}

/// A folder laid out as an installation would be: the library under its
/// SONAME, and the development name linking to it.
fn installed_lib_dir(out_dir: &Path) -> PathBuf {
    let dir = out_dir.join("lib");
    if !dir.exists() {
        std::fs::create_dir_all(&dir).unwrap();
        let soname = soname();
        std::fs::copy(library("so"), dir.join(&soname)).unwrap();
        std::os::unix::fs::symlink(&soname, dir.join("libcanopy_client.so")).unwrap();
    }
    dir
}

/// Compiles one C example; `static_link` links libcanopy_client.a instead of the .so.
fn compile(example: &str, out_dir: &Path, static_link: bool, extra: &[&str]) -> PathBuf {
    compile_source(
        &workspace().join(format!("client/examples/c/{example}.c")),
        out_dir,
        static_link,
        extra,
    )
}

/// Compiles one C file (see `compile`).
fn compile_source(src: &Path, out_dir: &Path, static_link: bool, extra: &[&str]) -> PathBuf {
    let example = src.file_stem().and_then(|s| s.to_str()).expect("file name");
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
        .arg(src)
        .arg("-o")
        .arg(&out);
    if static_link {
        cc.arg(library("a"));
        cc.args(["-lstdc++", "-lpthread", "-ldl", "-lm"]);
    } else {
        // Linked by SONAME, found at run time under it: as installed.
        let dir = installed_lib_dir(out_dir);
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

/// Sends one command event to `node` with the admin tool. The programs
/// wait for their subscriptions to be in force (`canopy_sync_subscriptions`)
/// before they print "ready", so once is enough.
fn send_command(admin: &Path, broker: &str, node: &str) {
    let (ok, _, err) = run(
        admin,
        &[broker, "send", node, "cmd", r#"{"do":"calibrate"}"#],
    );
    assert!(ok, "admin send: {err}");
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
    send_command(&admin, &b, "eu/fra/dc1/c1");
    let event = s.until("event ", DEADLINE);
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
    // Python's debug allocator puts guard bytes around every buffer ctypes
    // allocates and checks them on free: a library that writes past the
    // options struct the program declared aborts the interpreter.
    let mut py = Running::start(
        Command::new("python3")
            .env("PYTHONMALLOC", "debug")
            .arg(&script)
            .arg(&lib)
            .args([&b, "py1", "eu"]),
    );
    py.until("ready", DEADLINE);
    for expected in [
        "options layout fits: True",
        "joined eu/py1",
        r#"read back {"lang": "python", "ok": true}"#,
        "missing key not found: True",
        "count 2",
    ] {
        assert!(py.saw(expected), "missing {expected:?} in {:?}", py.seen);
    }
    // The program waited for its subscription to be in force
    // (canopy_sync_subscriptions) before "ready": one command is enough.
    send_command(&admin, &b, "eu/py1");
    let event = py.until("event ", DEADLINE);
    assert_eq!(event, r#"event cmd {"do":"calibrate"}"#);
    py.until("bye", DEADLINE);
    assert!(py.wait().success());
}

/// A caller that declares an older, shorter `canopy_options` (here: up to
/// `group`) passes its own size; the library writes and reads only that
/// much. Run under Python's debug allocator, which aborts on a write past
/// the buffer.
#[test]
fn a_shorter_options_layout_is_never_overrun() {
    let broker = BrokerProcess::start(&[]);
    let program = r#"
import ctypes, gc, sys
lib = ctypes.CDLL(sys.argv[1])
class Short(ctypes.Structure):
    _fields_ = [("size", ctypes.c_size_t), ("broker", ctypes.c_char_p),
                ("name", ctypes.c_char_p), ("group", ctypes.c_char_p)]
lib.canopy_options_init.argtypes = [ctypes.POINTER(Short), ctypes.c_size_t]
lib.canopy_connect.argtypes = [ctypes.POINTER(Short), ctypes.POINTER(ctypes.c_void_p)]
lib.canopy_close.argtypes = [ctypes.c_void_p]
lib.canopy_options_size.restype = ctypes.c_size_t
lib.canopy_last_error.restype = ctypes.c_char_p
for _ in range(50):
    o = Short()
    assert lib.canopy_options_init(ctypes.byref(o), ctypes.sizeof(o)) == 0
    del o
gc.collect()
o = Short()
assert lib.canopy_options_init(ctypes.byref(o), ctypes.sizeof(o)) == 0
assert o.size == ctypes.sizeof(Short) < lib.canopy_options_size(), o.size
assert o.broker == b"tcp://127.0.0.1:5556"
o.broker, o.name = sys.argv[2].encode(), b"short1"
node = ctypes.c_void_p()
status = lib.canopy_connect(ctypes.byref(o), ctypes.byref(node))
assert status == 0, lib.canopy_last_error()
lib.canopy_close(node)
too_small = ctypes.create_string_buffer(8)
assert lib.canopy_options_init(ctypes.cast(too_small, ctypes.POINTER(Short)), 8) == -1
print("ok", lib.canopy_last_error().decode())
"#;
    let out = Command::new("python3")
        .env("PYTHONMALLOC", "debug")
        .arg("-c")
        .arg(program)
        .arg(library("so"))
        .arg(broker.endpoint())
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "python: {stdout}{stderr}");
    assert!(
        stdout.starts_with("ok ") && stdout.contains("smaller than any"),
        "{stdout}"
    );
}

/// A thread blocked in `canopy_next_event(node, -1)`, known to be inside
/// the call when this returns; joining it gives the call's status.
fn blocked_waiter(
    node: *mut canopy_client::ffi::canopy_node,
) -> std::thread::JoinHandle<std::ffi::c_int> {
    use canopy_client::ffi::*;
    let shared = node as usize;
    let waiter = std::thread::spawn(move || {
        let mut event = std::ptr::null_mut();
        canopy_next_event(shared as *const canopy_node, -1, &mut event)
    });
    let deadline = Instant::now() + DEADLINE;
    while calls_in_progress(node) != 1 {
        assert!(
            Instant::now() < deadline,
            "the waiter never entered canopy_next_event"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    waiter
}

/// A thread blocked in `canopy_next_event(node, -1)` is woken by
/// `canopy_shutdown` from another thread with `CANOPY_ERR_CLOSED`, later
/// calls get the same, and `canopy_close` then frees the node.
#[test]
fn shutdown_wakes_a_thread_blocked_on_next_event() {
    let broker = BrokerProcess::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let program = compile_source(
        &workspace().join("tests/c/close_wakes.c"),
        dir.path(),
        false,
        &["-pthread"],
    );
    let mut run = Running::start(Command::new(&program).arg(broker.endpoint()));
    let woken = run.until("woken ", DEADLINE);
    assert_eq!(woken, "woken -6 closed");
    assert_eq!(run.until("after shutdown ", DEADLINE), "after shutdown -6");
    run.until("closed", DEADLINE);
    assert!(run.wait().success());
}

/// The same, from Rust through the ABI, with the waiter known to be inside
/// its call when the node is shut down.
#[test]
fn shutdown_wakes_a_call_known_to_be_blocked() {
    use canopy_client::ffi::*;
    let broker = BrokerProcess::start(&[]);
    let node = ffi_connect(&broker, c"blocked");
    let waiter = blocked_waiter(node);
    canopy_shutdown(node);
    assert_eq!(waiter.join().unwrap(), CANOPY_ERR_CLOSED);
    assert_eq!(calls_in_progress(node), 0);
    canopy_close(node);
}

/// The shared library exports the C API and nothing else, under a SONAME
/// that names its ABI version.
#[test]
fn the_shared_library_exports_only_the_c_api_under_its_soname() {
    let major: u32 = env!("CARGO_PKG_VERSION_MAJOR").parse().unwrap();
    let minor = env!("CARGO_PKG_VERSION_MINOR");
    let expected = if major == 0 {
        format!("libcanopy_client.so.0.{minor}")
    } else {
        format!("libcanopy_client.so.{major}")
    };
    assert_eq!(soname(), expected);
    let out = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(library("so"))
        .output()
        .expect("run nm (binutils)");
    let text = String::from_utf8_lossy(&out.stdout);
    let exported: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
    let header = std::fs::read_to_string(workspace().join("client/include/canopy.h")).unwrap();
    assert!(exported.len() > 40, "{exported:?}");
    for symbol in &exported {
        assert!(symbol.starts_with("canopy_"), "exports {symbol}");
        assert!(
            header.contains(&format!("{symbol}(")),
            "{symbol} is exported but not declared in canopy.h"
        );
    }
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
    send_command(&admin, &b, "eu/vg1");
    s.until("event ", DEADLINE * 3);
    s.until("bye", DEADLINE * 3);
    let status = s.wait();
    assert!(
        status.success(),
        "memory checker reported errors (exit {status:?})"
    );
}

/// The block of `kind` (```c, ```sh) that follows `after` in README.md.
fn readme_block(after: &str, kind: &str) -> String {
    let readme = std::fs::read_to_string(workspace().join("README.md")).expect("README.md");
    let section = &readme[readme.find(after).expect("the text in README")..];
    let fence = format!("```{kind}\n");
    let start = section.find(&fence).expect("a code block") + fence.len();
    let end = section[start..].find("```").expect("the block ends") + start;
    section[start..end].to_owned()
}

/// The README's C program and its build commands, run as written (with
/// `target/release` pointed at this build): it compiles, links by SONAME and
/// starts.
#[test]
fn the_readme_c_example_builds_and_runs_as_written() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("app.c"),
        readme_block("## Using canopy from C", "c"),
    )
    .unwrap();
    let commands = readme_block("## Using canopy from C", "sh")
        .replace("target/release/", &format!("{}/", target_dir().display()))
        .replace(
            "client/include",
            &workspace().join("client/include").display().to_string(),
        );
    let out = Command::new("sh")
        .args(["-ec", &commands])
        .current_dir(dir.path())
        .output()
        .expect("run sh");
    assert!(
        out.status.success(),
        "{commands}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = Command::new(dir.path().join("app"))
        .output()
        .expect("run app");
    let stderr = String::from_utf8_lossy(&run.stderr);
    // Without a broker on the default port it says so and exits 1; with one it
    // runs through. Either way the loader found the library by its SONAME.
    assert!(
        run.status.success() || (run.status.code() == Some(1) && stderr.starts_with("connect: ")),
        "{stderr}"
    );
}

/// Connects through the ABI as `name`; the caller closes.
fn ffi_connect(
    broker: &BrokerProcess,
    name: &std::ffi::CStr,
) -> *mut canopy_client::ffi::canopy_node {
    use canopy_client::ffi::*;
    let endpoint = std::ffi::CString::new(broker.endpoint()).unwrap();
    let mut options = std::mem::MaybeUninit::<canopy_options>::uninit();
    assert_eq!(
        canopy_options_init(options.as_mut_ptr(), std::mem::size_of::<canopy_options>()),
        CANOPY_OK
    );
    // SAFETY: initialised just above.
    let mut options = unsafe { options.assume_init() };
    options.broker = endpoint.as_ptr();
    options.name = name.as_ptr();
    let mut node = std::ptr::null_mut();
    assert_eq!(canopy_connect(&options, &mut node), CANOPY_OK);
    node
}

/// `canopy_close` itself, called while another thread is blocked on the
/// node: the waiter returns `CANOPY_ERR_CLOSED` and only then is the node freed.
#[test]
fn close_from_another_thread_wakes_a_blocked_call_first() {
    use canopy_client::ffi::*;
    let broker = BrokerProcess::start(&[]);
    let node = ffi_connect(&broker, c"closer");
    let waiter = blocked_waiter(node);
    canopy_close(node);
    assert_eq!(waiter.join().unwrap(), CANOPY_ERR_CLOSED);
}

/// A zeroed `canopy_write_args` means the defaults: the store's TTL, incr by
/// 1; the flags give an explicit TTL (0: none) and `by` (0: read only).
/// Stores keep working after their node is closed, and say how current
/// they are.
#[test]
fn zeroed_write_args_mean_the_defaults_and_stores_outlive_their_node() {
    use canopy_client::ffi::*;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("canopy.toml");
    std::fs::write(&config, "[stores.leases]\ndefault_ttl_ms = 600000\n").unwrap();
    let broker = BrokerProcess::start(&[
        "--config",
        config.to_str().unwrap(),
        "--heartbeat-ms",
        "100",
        "--node-timeout-ms",
        "600",
    ]);
    let node = ffi_connect(&broker, c"zeroed");
    let mut store = std::ptr::null_mut();
    assert_eq!(
        canopy_store_open(node, c"leases".as_ptr(), &mut store),
        CANOPY_OK
    );
    let mut since = 1u64;
    assert_eq!(canopy_store_state(store, &mut since), CANOPY_STORE_SYNCED);
    assert_eq!(since, 0);
    // SAFETY: all-zero bytes are a valid canopy_write_args / result.
    let zeroed = || unsafe { std::mem::zeroed::<canopy_write_args>() };
    let mut result = unsafe { std::mem::zeroed::<canopy_write_result>() };
    let write = |args: &canopy_write_args, result: &mut canopy_write_result| {
        canopy_write(store, args, result)
    };
    let mut put = zeroed();
    put.op = CANOPY_OP_PUT;
    put.key = c"defaulted".as_ptr();
    put.value_json = c"1".as_ptr();
    assert_eq!(write(&put, &mut result), CANOPY_OK);
    put.key = c"forever".as_ptr();
    put.flags = CANOPY_WRITE_TTL;
    put.ttl_ms = 0;
    assert_eq!(write(&put, &mut result), CANOPY_OK);
    let mut incr = zeroed();
    incr.op = CANOPY_OP_INCR;
    incr.key = c"count".as_ptr();
    assert_eq!(write(&incr, &mut result), CANOPY_OK);
    assert_eq!(write(&incr, &mut result), CANOPY_OK);
    assert_eq!(result.integer, 2, "incr by the default 1, twice");
    incr.flags = CANOPY_WRITE_BY;
    incr.by = 0;
    assert_eq!(write(&incr, &mut result), CANOPY_OK);
    assert_eq!(result.integer, 2, "by 0 reads without changing");
    // What the broker stored, seen by a Rust replica (on its own runtime:
    // the C calls above run outside any).
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (defaulted, forever) = runtime.block_on(async {
        let reader = common::node(&broker, "reader", "").await;
        let leases = reader.store("leases").await.unwrap();
        let ttl_of = |key: &str| leases.entry(key).map(|(e, _)| e.expires_ms);
        let out = (ttl_of("defaulted"), ttl_of("forever"));
        reader.close().await;
        out
    });
    assert!(defaulted.is_some_and(|t| t > 0), "the store's default TTL");
    assert_eq!(forever, Some(0), "an explicit TTL of 0 is none");
    // The node goes; its store keeps reading and writing.
    canopy_close(node);
    put.key = c"after-close".as_ptr();
    assert_eq!(write(&put, &mut result), CANOPY_OK);
    assert_eq!(canopy_store_state(store, &mut since), CANOPY_STORE_SYNCED);
    broker.signal("STOP");
    let deadline = Instant::now() + DEADLINE;
    while canopy_store_state(store, &mut since) != CANOPY_STORE_STALE {
        assert!(
            Instant::now() < deadline,
            "the store never said it is stale"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(since > 0);
    broker.signal("CONT");
    canopy_store_close(store);
}

#[test]
fn version_checks_accept_this_series_and_refuse_others() {
    use canopy_client::ffi::*;
    assert_eq!(canopy_version_number(), CANOPY_VERSION_NUMBER);
    assert_eq!(canopy_check_version(CANOPY_VERSION_NUMBER), CANOPY_OK);
    let (major, minor, patch) = (
        CANOPY_VERSION_NUMBER >> 16,
        (CANOPY_VERSION_NUMBER >> 8) & 0xff,
        CANOPY_VERSION_NUMBER & 0xff,
    );
    let version = |m: u32, n: u32, p: u32| (m << 16) | (n << 8) | p;
    // A newer header than the library: refused, with both versions named.
    assert_eq!(
        canopy_check_version(version(major, minor, patch + 1)),
        CANOPY_ERR_VERSION
    );
    // SAFETY: canopy_last_error never returns NULL.
    let why = unsafe { std::ffi::CStr::from_ptr(canopy_last_error()) }
        .to_string_lossy()
        .into_owned();
    assert!(why.contains(env!("CARGO_PKG_VERSION")), "{why}");
    assert_eq!(
        canopy_check_version(version(major + 1, 0, 0)),
        CANOPY_ERR_VERSION
    );
    if major == 0 {
        // Before 1.0 the minor version is the ABI.
        assert_eq!(
            canopy_check_version(version(0, minor + 1, 0)),
            CANOPY_ERR_VERSION
        );
    }
    // SAFETY: canopy_strerror never returns NULL.
    let name = |s| {
        unsafe { std::ffi::CStr::from_ptr(canopy_strerror(s)) }
            .to_string_lossy()
            .into_owned()
    };
    assert_eq!(name(CANOPY_OK), "success");
    assert_eq!(name(CANOPY_ERR_CLOSED), "closed");
    assert_eq!(name(-999), "unknown status");
}

/// The opaque CHP space through the C ABI: open a level, put bytes, read
/// them back by whole key, list, delete.
#[test]
fn the_c_abi_reaches_the_opaque_chp_space() {
    use canopy_client::ffi::*;
    let broker = BrokerProcess::start(&[]);
    let node = ffi_connect(&broker, c"chp-c");
    let mut store = std::ptr::null_mut();
    assert_eq!(
        canopy_chp_open(node, c"/client/".as_ptr(), &mut store),
        CANOPY_OK
    );
    let mut seq = 0u64;
    let value = b"plain ascii";
    assert_eq!(
        canopy_chp_put(
            store,
            c"/client/42".as_ptr(),
            value.as_ptr(),
            value.len(),
            CANOPY_TTL_DEFAULT,
            &mut seq
        ),
        CANOPY_OK
    );
    assert!(seq > 0);
    let mut buf = [0u8; 64];
    let mut len = 0usize;
    assert_eq!(
        canopy_get(
            store,
            c"/client/42".as_ptr(),
            buf.as_mut_ptr(),
            buf.len(),
            &mut len
        ),
        CANOPY_OK
    );
    assert_eq!(&buf[..len], value);
    let mut keys = std::ptr::null_mut();
    assert_eq!(
        canopy_keys_json(store, c"/client/".as_ptr(), &mut keys),
        CANOPY_OK
    );
    // SAFETY: a string this library returned.
    let text = unsafe { std::ffi::CStr::from_ptr(keys) }
        .to_string_lossy()
        .into_owned();
    canopy_string_free(keys);
    assert_eq!(text, r#"["/client/42"]"#);
    assert_eq!(
        canopy_chp_delete(store, c"/client/42".as_ptr(), &mut seq),
        CANOPY_OK
    );
    assert_eq!(
        canopy_get(
            store,
            c"/client/42".as_ptr(),
            buf.as_mut_ptr(),
            buf.len(),
            &mut len
        ),
        CANOPY_ERR_NOT_FOUND
    );
    let mut bad = std::ptr::null_mut();
    assert_eq!(
        canopy_chp_open(node, c"/default/:".as_ptr(), &mut bad),
        CANOPY_ERR_INVALID_ARGUMENT
    );
    canopy_store_close(store);
    canopy_close(node);
}

/// `canopy_write_many`: several writes in flight at once, one status and
/// result each, the first failure returned.
#[test]
fn write_many_through_the_c_abi() {
    use canopy_client::ffi::*;
    let broker = BrokerProcess::start(&[]);
    let node = ffi_connect(&broker, c"many-c");
    let mut store = std::ptr::null_mut();
    assert_eq!(
        canopy_store_open(node, c"default".as_ptr(), &mut store),
        CANOPY_OK
    );
    // SAFETY: all-zero bytes are valid for these structs.
    let zeroed = || unsafe { std::mem::zeroed::<canopy_write_args>() };
    let mut args = [zeroed(), zeroed(), zeroed()];
    args[0].op = CANOPY_OP_PUT;
    args[0].key = c"a".as_ptr();
    args[0].value_json = c"1".as_ptr();
    args[1].op = CANOPY_OP_PUT_IF_ABSENT;
    args[1].key = c"a".as_ptr();
    args[1].value_json = c"2".as_ptr();
    args[2].op = CANOPY_OP_INCR;
    args[2].key = c"n".as_ptr();
    // SAFETY: as above.
    let mut results: [canopy_write_result; 3] = unsafe { std::mem::zeroed() };
    let mut statuses = [99; 3];
    let status = canopy_write_many(
        store,
        args.as_ptr(),
        3,
        results.as_mut_ptr(),
        statuses.as_mut_ptr(),
    );
    // The put-if-absent may run before or after the put: all are in flight
    // together. Whichever came second of the two conflicts.
    assert_eq!(status, CANOPY_ERR_CONFLICT);
    assert_eq!(statuses[2], CANOPY_OK);
    assert_eq!(results[2].integer, 1);
    assert_eq!(
        statuses
            .iter()
            .filter(|&&s| s == CANOPY_ERR_CONFLICT)
            .count(),
        1,
        "{statuses:?}"
    );
    canopy_store_close(store);
    canopy_close(node);
}

/// NULL out-pointers are refused before anything is created (nothing
/// leaks), and NULL with a length is not read.
#[test]
fn null_out_pointers_and_null_values_are_refused_first() {
    use canopy_client::ffi::*;
    let broker = BrokerProcess::start(&[]);
    let endpoint = std::ffi::CString::new(broker.endpoint()).unwrap();
    let mut options = std::mem::MaybeUninit::<canopy_options>::uninit();
    canopy_options_init(options.as_mut_ptr(), std::mem::size_of::<canopy_options>());
    // SAFETY: initialised just above.
    let mut options = unsafe { options.assume_init() };
    options.broker = endpoint.as_ptr();
    options.name = c"nullout".as_ptr();
    assert_eq!(
        canopy_connect(&options, std::ptr::null_mut()),
        CANOPY_ERR_INVALID_ARGUMENT
    );
    let node = ffi_connect(&broker, c"nullout2");
    assert_eq!(
        canopy_store_open(node, c"default".as_ptr(), std::ptr::null_mut()),
        CANOPY_ERR_INVALID_ARGUMENT
    );
    assert_eq!(calls_in_progress(node), 0);
    let mut store = std::ptr::null_mut();
    assert_eq!(
        canopy_store_open(node, c"default".as_ptr(), &mut store),
        CANOPY_OK
    );
    assert_eq!(
        canopy_put(
            store,
            c"".as_ptr(),
            c"k".as_ptr(),
            std::ptr::null(),
            64,
            CANOPY_TTL_DEFAULT,
            std::ptr::null_mut()
        ),
        CANOPY_ERR_INVALID_ARGUMENT
    );
    canopy_store_close(store);
    canopy_close(node);
}
