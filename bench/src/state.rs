//! State benchmark: acknowledged writes/s (persistence on and off, 1 and 4
//! pipelined writers), a new replica's snapshot time, broker memory per key,
//! and restart-to-ready time, against a broker in a child process.

use anyhow::Context;
use canopy_client::{Level, Node, NodeOptions, OpKind, WriteSpec};
use serde::Serialize;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Set in the child's environment: run as `canopy-broker`.
pub const CHILD_ENV: &str = "CANOPY_BENCH_BROKER_CHILD";
/// Writes in flight per writer.
const WINDOW: usize = 2000;

/// A `canopy-broker` running as a child process of this binary.
pub(crate) struct BrokerChild {
    child: Child,
    port: u16,
    /// Its ready line (endpoints, epoch).
    ready: String,
}

impl BrokerChild {
    /// Starts a broker; returns it and the time to its ready line.
    fn start(dir: &Path, port: u16) -> anyhow::Result<(BrokerChild, Duration)> {
        Self::start_with(dir, port, &[])
    }

    /// Starts a broker with `extra` flags.
    pub(crate) fn start_with(
        dir: &Path,
        port: u16,
        extra: &[&str],
    ) -> anyhow::Result<(BrokerChild, Duration)> {
        std::fs::create_dir_all(dir)?;
        let config = dir.join("canopy.toml");
        std::fs::write(
            &config,
            "log_level = \"warn\"\n[stores.volatile]\npersist = false\n",
        )?;
        let started = Instant::now();
        let mut child = Command::new(std::env::current_exe()?)
            .env(CHILD_ENV, "1")
            .args(["--port", &port.to_string(), "--http", "off", "--data-dir"])
            .arg(dir.join("data"))
            .arg("--config")
            .arg(&config)
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .context("starting the broker")?;
        let stdout = child.stdout.take().context("broker stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        anyhow::ensure!(
            line.starts_with("canopy-broker ready"),
            "broker did not start: {line:?}"
        );
        let ready = line.trim_end().to_owned();
        Ok((BrokerChild { child, port, ready }, started.elapsed()))
    }

    /// The control endpoint.
    pub(crate) fn endpoint(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.port)
    }

    /// A `name=value` field of the ready line (`xpub`, `xsub`, `epoch`…).
    pub(crate) fn ready_field(&self, name: &str) -> Option<&str> {
        self.ready
            .split_whitespace()
            .find_map(|f| f.strip_prefix(name)?.strip_prefix('='))
    }

    /// Resident memory now.
    pub(crate) fn rss_bytes(&self) -> u64 {
        self.status_kib("VmRSS:") * 1024
    }

    /// The most resident memory the process has had.
    pub(crate) fn peak_rss_bytes(&self) -> u64 {
        self.status_kib("VmHWM:") * 1024
    }

    fn status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0)
    }

    /// CPU time (user + system, every thread) the process has used.
    pub(crate) fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // Fields after the command name (which may hold spaces) end at ')';
        // utime and stime are the 12th and 13th after it, in USER_HZ ticks,
        // which Linux fixes at 100 for /proc.
        let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let ticks: u64 = after
            .split_whitespace()
            .skip(11)
            .take(2)
            .filter_map(|v| v.parse::<u64>().ok())
            .sum();
        ticks as f64 / 100.0
    }

    /// Ends the broker with SIGKILL (a crash) and waits for it.
    pub(crate) fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops the broker with SIGTERM (its clean drain) and waits for it.
    pub(crate) fn stop(mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for BrokerChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn join(endpoint: &str, name: &str) -> anyhow::Result<Node> {
    let mut o = NodeOptions::new(endpoint, name, "");
    o = o.connect_timeout(Duration::from_secs(60));
    o = o.request_timeout(Duration::from_secs(60));
    Ok(Node::connect(o).await?)
}

/// A 32-byte full key (`/STORE/:` + user key) and a 100-byte MessagePack value.
fn key_value(store: &str, i: u64) -> (String, Vec<u8>) {
    let prefix_len = store.len() + 3;
    let key = format!("{i:0width$}", width = 32 - prefix_len);
    let text = format!("{i:098}");
    let mut value = vec![0xd9, 98];
    value.extend_from_slice(text.as_bytes());
    (key, value)
}

/// How a writer sends its writes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// One WRITE per write, WINDOW in flight.
    Single,
    /// `write_many`: WRITES batches of 256, several in flight.
    Batch,
}

/// The puts of keys `range` into `store`, made before the clock starts (as
/// `redis-benchmark` makes its payload once): the formatting is the bench's
/// work, not the broker's or the client's.
fn put_specs(store: &str, range: std::ops::Range<u64>) -> Vec<WriteSpec> {
    range
        .map(|i| {
            let (key, value) = key_value(store, i);
            WriteSpec::new(OpKind::Put, &Level::root(), &key).value_msgpack(value)
        })
        .collect()
}

/// Acknowledged puts of `specs` into `store` from one node.
async fn write_specs(
    node: Node,
    store: String,
    specs: Vec<WriteSpec>,
    mode: Mode,
) -> anyhow::Result<()> {
    if mode == Mode::Batch {
        for outcome in node.write_many(&store, specs).await {
            outcome?;
        }
        return Ok(());
    }
    let node = std::sync::Arc::new(node);
    let mut inflight = tokio::task::JoinSet::new();
    for spec in specs {
        if inflight.len() >= WINDOW {
            if let Some(r) = inflight.join_next().await {
                r??;
            }
        }
        let node = std::sync::Arc::clone(&node);
        let store = store.clone();
        inflight.spawn(async move { node.write(&store, spec).await.map(|_| ()) });
    }
    while let Some(r) = inflight.join_next().await {
        r??;
    }
    Ok(())
}

/// Acknowledged writes/s with `writers` pipelined writers of `per_writer` each.
async fn write_rate(
    endpoint: &str,
    store: &str,
    writers: u64,
    per_writer: u64,
    base: u64,
    mode: Mode,
) -> anyhow::Result<f64> {
    let mut work = Vec::new();
    for w in 0..writers {
        let node = join(endpoint, &format!("writer-{base}-{w}")).await?;
        let from = base + w * per_writer;
        work.push((node, put_specs(store, from..from + per_writer)));
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (node, specs) in work {
        tasks.push(tokio::spawn(write_specs(
            node,
            store.to_owned(),
            specs,
            mode,
        )));
    }
    for t in tasks {
        t.await??;
    }
    Ok((writers * per_writer) as f64 / started.elapsed().as_secs_f64())
}

#[derive(Serialize)]
struct Row {
    kind: &'static str,
    metric: String,
    value: f64,
    unit: &'static str,
    target: String,
}

/// A base port whose next two ports are free too.
pub(crate) fn free_base() -> anyhow::Result<u16> {
    for _ in 0..100 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        if port < 65000
            && (0..3).all(|i| std::net::TcpListener::bind(("127.0.0.1", port + i)).is_ok())
        {
            return Ok(port);
        }
    }
    anyhow::bail!("no free ports")
}

/// Runs the state benchmark and prints its rows.
pub fn run(
    keys: u64,
    writes: u64,
    redis: Option<crate::redis::Redis>,
    json: bool,
) -> anyhow::Result<()> {
    let rows = with_scratch("canopy-state-bench", |dir| async move {
        measure(&dir, keys, writes, redis).await
    })?;
    for r in rows {
        if json {
            println!("{}", serde_json::to_string(&r)?);
        } else {
            let places = if r.unit == "x" { 2 } else { 1 };
            println!(
                "{:<60} {:>12.places$} {:<8} target {}",
                r.metric, r.value, r.unit, r.target
            );
        }
    }
    Ok(())
}

async fn measure(
    dir: &Path,
    keys: u64,
    writes: u64,
    redis: Option<crate::redis::Redis>,
) -> anyhow::Result<Vec<Row>> {
    let port = free_base()?;
    let (broker, _) = BrokerChild::start(dir, port)?;
    let endpoint = broker.endpoint();
    let mut rows = Vec::new();
    let mut row = |metric: String, value: f64, unit: &'static str, target: &str| {
        rows.push(Row {
            kind: "state",
            metric,
            value,
            unit,
            target: target.to_owned(),
        })
    };
    // Write rates; keys of these runs live in their own ranges.
    let mut base = 10_000_000_000;
    let mut canopy_batched = 0.0;
    for (store, persist) in [("volatile", "off"), ("default", "on")] {
        for writers in [1u64, 4] {
            for (mode, how) in [(Mode::Single, "WRITE"), (Mode::Batch, "WRITES")] {
                let per = writes / writers;
                let rate = write_rate(&endpoint, store, writers, per, base, mode).await?;
                base += writes;
                let target = match (persist, writers, mode) {
                    ("on", 4, Mode::Batch) => ">= 400000",
                    ("on", _, _) => ">= 100000",
                    _ => "-",
                };
                row(
                    format!("acked writes/s, persistence {persist}, {writers} writer(s), {how}"),
                    rate,
                    "writes/s",
                    target,
                );
                if (persist, writers, mode) == ("on", 4, Mode::Batch) {
                    canopy_batched = rate;
                }
            }
        }
    }
    if let Some(redis) = &redis {
        // The same run, the same machine: Redis's SET with its append-only
        // file, acknowledged before the fsync (everysec) and after it
        // (always, as canopy acknowledges).
        for appendfsync in ["everysec", "always"] {
            let rate = redis.set_rate(dir, appendfsync, writes)?;
            row(
                format!("Redis SET/s, appendfsync {appendfsync}, 4 clients x 64 pipelined"),
                rate,
                "writes/s",
                "-",
            );
            row(
                format!("canopy (persistent, 4 writers, WRITES) / Redis {appendfsync}"),
                canopy_batched / rate.max(1.0),
                "x",
                if appendfsync == "always" {
                    ">= 1"
                } else {
                    ">= 0.87"
                },
            );
        }
    }
    // A fresh broker: load `keys` keys into the persistent store, then
    // measure memory, a new replica's snapshot, and restart.
    broker.stop();
    let dir2 = dir.join("load");
    std::fs::create_dir_all(&dir2)?;
    let port2 = free_base()?;
    let (broker, _) = BrokerChild::start(&dir2, port2)?;
    let endpoint = broker.endpoint();
    let per = keys / 4;
    let mut loaders = Vec::new();
    for w in 0..4u64 {
        let node = join(&endpoint, &format!("loader-{w}")).await?;
        loaders.push((node, put_specs("default", w * per..(w + 1) * per)));
    }
    let rss_before = broker.rss_bytes();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (node, specs) in loaders {
        tasks.push(tokio::spawn(write_specs(
            node,
            "default".to_owned(),
            specs,
            Mode::Batch,
        )));
    }
    for t in tasks {
        t.await??;
    }
    let loaded = per * 4;
    row(
        format!("load of {loaded} keys, persistence on, 4 writers"),
        loaded as f64 / started.elapsed().as_secs_f64(),
        "writes/s",
        "-",
    );
    let rss_after = broker.rss_bytes();
    row(
        format!("broker memory per key, {loaded} keys of 32+100 bytes"),
        rss_after.saturating_sub(rss_before) as f64 / loaded as f64,
        "bytes",
        "<= 200",
    );
    let reader = join(&endpoint, "reader").await?;
    let started = Instant::now();
    let replica = reader.store("default").await?;
    let snap = started.elapsed();
    let got = replica.view().len() as u64;
    anyhow::ensure!(got == loaded, "snapshot incomplete: {got} of {loaded} keys");
    row(
        format!("snapshot of {loaded} keys to a new replica"),
        snap.as_secs_f64(),
        "s",
        "< 1",
    );
    drop(replica);
    reader.close().await;
    broker.stop();
    let (broker, ready) = BrokerChild::start(&dir2, port2)?;
    let check = join(&broker.endpoint(), "check").await?;
    let n = default_keys(&check).await?;
    anyhow::ensure!(n == loaded, "restart lost keys: {n} of {loaded}");
    row(
        format!("restart to ready with {loaded} persisted keys"),
        ready.as_secs_f64(),
        "s",
        "< 3",
    );
    check.close().await;
    broker.stop();
    Ok(rows)
}

/// Seconds a new replica takes to snapshot `keys` keys from the root, and
/// from a child broker (`--upstream` the root) that serves its mirror.
pub fn leaf_snapshot(keys: u64) -> anyhow::Result<(f64, f64)> {
    with_scratch("canopy-tiers-bench", |dir| async move {
        let (root, _) = BrokerChild::start(&dir.join("root"), free_base()?)?;
        let loader = join(&root.endpoint(), "loader").await?;
        let specs = put_specs("default", 0..keys);
        write_specs(loader, "default".to_owned(), specs, Mode::Batch).await?;
        let (leaf, _) = BrokerChild::start_with(
            &dir.join("leaf"),
            free_base()?,
            &["--upstream", &root.endpoint()],
        )?;
        // The leaf's mirror is whole when its STORES count matches.
        let check = join(&leaf.endpoint(), "check").await?;
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let n = default_keys(&check).await?;
            if n == keys {
                break;
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "leaf mirror stuck at {n} of {keys} keys"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut secs = Vec::new();
        for (broker, name) in [(&root, "root-reader"), (&leaf, "leaf-reader")] {
            let reader = join(&broker.endpoint(), name).await?;
            let started = Instant::now();
            let replica = reader.store("default").await?;
            secs.push(started.elapsed().as_secs_f64());
            let got = replica.view().len() as u64;
            anyhow::ensure!(got == keys, "{name}: snapshot has {got} of {keys} keys");
            reader.close().await;
        }
        check.close().await;
        leaf.stop();
        root.stop();
        Ok((secs[0], secs[1]))
    })
}

/// Keys the broker holds in the `default` store (STORES).
async fn default_keys(node: &Node) -> anyhow::Result<u64> {
    let stores = node.stores().await?;
    Ok(stores
        .stores
        .iter()
        .find(|s| s.name == "default")
        .map_or(0, |s| s.keys))
}

/// Runs `work` on a two-thread runtime with a fresh scratch directory,
/// removed afterwards.
pub(crate) fn with_scratch<T, F, Fut>(name: &str, work: F) -> anyhow::Result<T>
where
    F: FnOnce(PathBuf) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let result = runtime.block_on(work(dir.clone()));
    let _ = std::fs::remove_dir_all(&dir);
    result
}
