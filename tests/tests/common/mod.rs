//! Harness: real broker processes on free ports, CLI runs, polling helpers.
#![allow(dead_code)]

use canopy_client::{Event, Events, Node, NodeEvent, NodeOptions};
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub mod proxy;

/// Generous deadline for anything that should happen "soon".
pub const DEADLINE: Duration = Duration::from_secs(20);

pub fn broker_bin() -> &'static str {
    env!("CARGO_BIN_EXE_e2e-canopy-broker")
}

pub fn cli_bin() -> &'static str {
    env!("CARGO_BIN_EXE_e2e-canopy")
}

fn ports_free(base: u16) -> bool {
    (0..3).all(|i| TcpListener::bind(("127.0.0.1", base + i)).is_ok())
}

/// A base port P with P, P+1 and P+2 free right now.
pub fn free_base_port() -> u16 {
    loop {
        // Ask the OS for an ephemeral port, then check its two neighbours.
        let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
        let port = l.local_addr().expect("local addr").port();
        drop(l);
        if port < 65000 && ports_free(port) {
            return port;
        }
    }
}

/// A running broker process with its own data directory.
pub struct BrokerProcess {
    child: Option<Child>,
    pub port: u16,
    pub data_dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    extra: Vec<String>,
    pub ready_line: String,
    pub stderr_path: PathBuf,
}

impl BrokerProcess {
    /// Starts a broker on free ports with `extra` flags.
    pub fn start(extra: &[&str]) -> BrokerProcess {
        Self::start_with_data(extra, |_| {})
    }

    /// Starts a broker whose data directory `prepare` fills first.
    pub fn start_with_data(extra: &[&str], prepare: impl FnOnce(&Path)) -> BrokerProcess {
        let tmp = tempfile::tempdir().expect("temp dir");
        let data_dir = tmp.path().join("data");
        std::fs::create_dir_all(&data_dir).expect("data dir");
        prepare(&data_dir);
        for _ in 0..5 {
            let port = free_base_port();
            if let Some(mut b) = Self::spawn(port, &data_dir, extra) {
                b._tmp = Some(tmp);
                return b;
            }
        }
        panic!("could not start a broker after 5 attempts");
    }

    /// Starts a broker on a data directory `prepare` fills, or returns what
    /// it said on stderr when it exits instead of becoming ready.
    pub fn try_start_with_data(
        extra: &[&str],
        prepare: impl FnOnce(&Path),
    ) -> Result<BrokerProcess, String> {
        let tmp = tempfile::tempdir().expect("temp dir");
        let data_dir = tmp.path().join("data");
        std::fs::create_dir_all(&data_dir).expect("data dir");
        prepare(&data_dir);
        let port = free_base_port();
        match Self::spawn(port, &data_dir, extra) {
            Some(mut b) => {
                b._tmp = Some(tmp);
                Ok(b)
            }
            None => Err(
                std::fs::read_to_string(data_dir.with_extension(format!("{port}.stderr")))
                    .unwrap_or_default(),
            ),
        }
    }

    fn spawn(port: u16, data_dir: &Path, extra: &[&str]) -> Option<BrokerProcess> {
        let stderr_path = data_dir.with_extension(format!("{port}.stderr"));
        std::fs::create_dir_all(data_dir.parent().expect("parent")).ok();
        let stderr = std::fs::File::create(&stderr_path).expect("stderr file");
        // Monitoring on a port of the OS's choosing (read back from the
        // ready line), so parallel tests never collide on P+3.
        let http: &[&str] = if extra.contains(&"--http") {
            &[]
        } else {
            &["--http", "127.0.0.1:0"]
        };
        let mut child = Command::new(broker_bin())
            .arg("--port")
            .arg(port.to_string())
            .arg("--data-dir")
            .arg(data_dir)
            .args(http)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn broker");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            for _ in lines {}
        });
        match rx.recv_timeout(DEADLINE) {
            Ok(line) if line.starts_with("canopy-broker ready") => Some(BrokerProcess {
                child: Some(child),
                port,
                data_dir: data_dir.to_owned(),
                _tmp: None,
                extra: extra.iter().map(|s| s.to_string()).collect(),
                ready_line: line,
                stderr_path,
            }),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                None
            }
        }
    }

    /// `tcp://127.0.0.1:P`.
    pub fn endpoint(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.port)
    }

    /// The monitoring server's `HOST:PORT`, from the ready line (None
    /// when it is off).
    pub fn http(&self) -> Option<String> {
        let value = self
            .ready_line
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix("http="))?;
        value.strip_prefix("http://").map(str::to_owned)
    }

    /// `tcp://127.0.0.1:P+offset`.
    pub fn endpoint_at(&self, offset: u16) -> String {
        format!("tcp://127.0.0.1:{}", self.port + offset)
    }

    /// SIGKILL and wait.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, wait, and return the exit status.
    pub fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        let mut c = self.child.take()?;
        let _ = Command::new("kill").arg(c.id().to_string()).status();
        let deadline = Instant::now() + DEADLINE;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = c.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = c.kill();
        c.wait().ok()
    }

    /// The exit status, if the broker has exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// The broker's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, |c| c.id())
    }

    /// Sends a signal (e.g. "HUP") to the broker process.
    pub fn signal(&self, name: &str) {
        if let Some(c) = &self.child {
            let status = Command::new("kill")
                .arg(format!("-{name}"))
                .arg(c.id().to_string())
                .status()
                .expect("run kill");
            assert!(status.success(), "kill -{name} failed");
        }
    }

    /// Starts again on the same port and data directory with other flags.
    pub fn restart_with(&mut self, extra: &[&str]) {
        self.extra = extra.iter().map(|s| s.to_string()).collect();
        self.restart();
    }

    /// Starts again on the same port and data directory (after kill9/terminate).
    pub fn restart(&mut self) {
        if let Err(said) = self.try_restart() {
            panic!("broker did not restart on port {}: {said}", self.port);
        }
    }

    /// Starts again on the same port and data directory, once: what the
    /// broker said on stderr when it exits instead of becoming ready.
    pub fn try_restart(&mut self) -> Result<(), String> {
        let extra: Vec<&str> = self.extra.iter().map(String::as_str).collect();
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(mut b) = Self::spawn(self.port, &self.data_dir, &extra) {
                self.child = b.child.take();
                self.ready_line = std::mem::take(&mut b.ready_line);
                return Ok(());
            }
            let said = self.stderr();
            // A port still held by the old process is retried; anything
            // else is the broker's refusal.
            if !said.contains("Address already in use") || Instant::now() > deadline {
                return Err(said);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }
}

impl Drop for BrokerProcess {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Joins as a node with test-friendly timeouts.
pub async fn node(broker: &BrokerProcess, name: &str, group: &str) -> Node {
    let mut o = NodeOptions::new(&broker.endpoint(), name, group);
    o = o.connect_timeout(DEADLINE);
    Node::connect(o).await.expect("node connects")
}

/// The next data event, skipping connection notices; panics after the deadline.
pub async fn next_event(events: &mut Events) -> Event {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        match tokio::time::timeout_at(deadline, events.next()).await {
            Ok(Some(NodeEvent::Event(e))) => return e,
            Ok(Some(_)) => continue,
            Ok(None) => panic!("event stream closed"),
            Err(_) => panic!("no event within {DEADLINE:?}"),
        }
    }
}

/// The next data event whose topic does not end in "ready" (the topic tests
/// use to wait for subscriptions to reach the publisher).
pub async fn next_real(events: &mut Events) -> Event {
    loop {
        let e = next_event(events).await;
        if !e.topic.ends_with("ready") {
            return e;
        }
    }
}

/// Polls `check` until it returns Some, or panics after the deadline.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until `replica`'s value of `key` satisfies `ok` (`None`: absent).
pub async fn eventually_reads<T: serde::de::DeserializeOwned>(
    what: &str,
    replica: &canopy_client::Replica,
    key: &str,
    ok: impl Fn(Option<T>) -> bool,
) {
    eventually(what, || {
        let done = ok(replica.get::<T>(key).ok().flatten());
        async move { done.then_some(()) }
    })
    .await
}

/// One counter from the broker's STATS.
pub async fn counter(broker: &BrokerProcess, name: &str) -> u64 {
    let report = canopy_client::admin::stats(&broker.endpoint(), DEADLINE)
        .await
        .expect("stats");
    *report
        .counters
        .get(name)
        .unwrap_or_else(|| panic!("no counter {name}"))
}

/// Runs the CLI to completion.
pub fn run_cli(args: &[&str]) -> std::process::Output {
    Command::new(cli_bin())
        .args(args)
        .output()
        .expect("run canopy CLI")
}

/// `canopy keygen --out PATH`; returns the public key it prints.
#[allow(dead_code)]
pub fn keygen(path: &Path) -> String {
    let out = run_cli(&["keygen", "--out", path.to_str().expect("utf-8 path")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A directory holding pyzmq for `python3` (`PYTHONPATH`), installed from
/// PyPI into the target directory on first use: interop tests need a ZeroMQ
/// binding other than canopy's, and a fresh machine has only python3.
pub fn pyzmq_path() -> PathBuf {
    python_package(
        "pyzmq",
        "import zmq, sys; sys.exit(0 if zmq.has('curve') else 1)",
    )
}

/// A directory holding the Python `prometheus_client` (its OpenMetrics
/// parser checks `/metrics` independently of the encoder canopy uses).
pub fn prometheus_client_path() -> PathBuf {
    python_package(
        "prometheus_client",
        "import prometheus_client.openmetrics.parser",
    )
}

/// Held while a test installs a tool (pip into the target directory, or
/// apt-get, which takes a system-wide lock).
static INSTALLING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A directory holding the PyPI package `package` for `python3`
/// (`PYTHONPATH`), installed into the target directory on first use and
/// checked with the `probe` script.
fn python_package(package: &str, probe_script: &str) -> PathBuf {
    // Tests of one binary run as threads of one process: one installs, the
    // others wait and find it done.
    let _one_at_a_time = INSTALLING.lock().unwrap_or_else(|e| e.into_inner());
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(package);
    let probe = |path: &Path| {
        Command::new("python3")
            .args(["-c", probe_script])
            .env("PYTHONPATH", path)
            .status()
            .is_ok_and(|s| s.success())
    };
    if probe(&dir) {
        return dir;
    }
    // Installed next to the final place and renamed, so a half-done
    // install is never used.
    let staging = dir.with_extension(format!("installing-{}", std::process::id()));
    let status = Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .arg("--target")
        .arg(&staging)
        .arg(package)
        .status()
        .expect("run python3 -m pip");
    assert!(status.success(), "pip could not install {package}");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&staging, &dir).expect("move the package into place");
    assert!(probe(&dir), "{package} installed but its probe fails");
    dir
}

/// A command from PATH, installed from Debian's packages (`package`) when
/// the machine has none: a fresh machine has only the Rust toolchain, gcc
/// and python3.
pub fn system_tool(command: &str, package: &str) -> PathBuf {
    let find = || {
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .map(|d| d.join(command))
            .find(|p| p.is_file())
    };
    if let Some(found) = find() {
        return found;
    }
    let _one_at_a_time = INSTALLING.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(found) = find() {
        return found;
    }
    let status = Command::new("apt-get")
        .args(["install", "-y", "-qq", package])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .unwrap_or_else(|e| panic!("no {command}, and apt-get cannot run to install it: {e}"));
    assert!(status.success(), "apt-get could not install {package}");
    find().unwrap_or_else(|| panic!("{package} installed but {command} is not on PATH"))
}

/// The `tests/python` folder of helper scripts.
pub fn python_script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("python")
        .join(name)
}

/// Resident memory of process `pid` in kB (0 when it cannot be read).
pub fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Runs a broker that must refuse to start (on a free base port unless
/// `args` names one, with `data_dir`); returns its stderr.
pub fn broker_refuses(data_dir: &Path, args: &[&str]) -> String {
    let mut command = Command::new(broker_bin());
    if !args.contains(&"--port") {
        command.args(["--port", &free_base_port().to_string()]);
    }
    let out = command
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .output()
        .expect("run the broker");
    assert!(!out.status.success(), "the broker started with {args:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The value `kvset_fill` writes (MessagePack).
pub const KVSET_FILL_VALUE: &str = "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv";

/// Sets `count` keys `/volatile/:kNNNNNNN` to [`KVSET_FILL_VALUE`] by CHP
/// KVSET through the XSUB port, a batch at a time (each applied before the
/// next is sent).
pub async fn kvset_fill(broker: &BrokerProcess, count: usize) {
    let context = zmq::Context::new();
    // An XPUB, not a PUB: it shows when the broker's subscription has
    // arrived, and anything sent before that would be dropped.
    let publisher = context.socket(zmq::XPUB).expect("XPUB socket");
    publisher.set_sndhwm(0).expect("sndhwm");
    publisher
        .set_rcvtimeo(DEADLINE.as_millis() as i32)
        .expect("rcvtimeo");
    publisher
        .connect(&broker.endpoint_at(2))
        .expect("connect to the XSUB port");
    let subscription = publisher.recv_bytes(0).expect("the broker subscribes");
    assert_eq!(subscription.first(), Some(&1), "a subscription");
    let value = rmp_serde::to_vec(KVSET_FILL_VALUE).expect("encode");
    let start = counter(broker, "kvsets").await;
    let mut sent = 0;
    while sent < count {
        let batch = (count - sent).min(10_000);
        for i in sent..sent + batch {
            let msg = canopy_schemas::state::KvMsg {
                key: format!("/volatile/:k{i:07}").into_bytes(),
                body: value.clone(),
                ..Default::default()
            };
            publisher
                .send_multipart(msg.encode(), 0)
                .expect("send a KVSET");
        }
        sent += batch;
        let want = start + sent as u64;
        eventually("the broker applied the batch", || async move {
            (counter(broker, "kvsets").await >= want).then_some(())
        })
        .await;
    }
}

/// A broker config file in `dir` with one `persist = false` store,
/// `volatile`; returns its path.
pub fn volatile_config(dir: &Path) -> String {
    let path = dir.join("volatile.toml");
    std::fs::write(&path, "[stores.volatile]\npersist = false\n").unwrap();
    path.to_str().unwrap().to_owned()
}
