//! Scale: thousands of nodes against one broker, simulated from a few child
//! processes with raw sockets (one ZeroMQ context per process, three
//! connections per node, as a canopy node holds). Each node joins, pings
//! every heartbeat, holds 12 subscriptions (10 event prefixes of its group,
//! `HUGZ` and its group's state level) and a replica of its group's level
//! (a SNAPSHOT read to its KTHXBAI). Per node count: time until every node
//! is joined and synced, broker CPU and memory at rest, memory per node,
//! per subscription and per key, and a reconnect storm after a broker
//! restart (every node rejoins, resubscribes and resyncs). Then each figure
//! is fitted against the node count.

use crate::state::{free_base, with_scratch, BrokerChild};
use anyhow::Context as _;
use canopy_client::{Level, Node, NodeOptions, OpKind, WriteSpec};
use canopy_schemas::control::{Empty, Hello, Ping, Reply, Request, StatsReport};
use canopy_schemas::state::{
    SnapshotBasis, SnapshotQuery, KTHXBAI, PROP_HISTORY, PROP_ID, PROP_LSEQ, PROP_UNCHANGED,
};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Write as _};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Set in a simulator child's environment: its [`SimSpec`] as JSON.
pub const SIM_ENV: &str = "CANOPY_BENCH_SCALE_SIM";
/// Nodes one simulator process holds: 6 descriptors each (3 TCP
/// connections and 3 socket mailboxes), well inside 20,000.
const NODES_PER_SIM: usize = 1500;
/// Event prefixes each node subscribes to, as the workload says.
const EVENT_SUBSCRIPTIONS: usize = 10;
/// Subscriptions a node holds after joining: its events, `HUGZ`, its level.
const SUBSCRIPTIONS: u32 = EVENT_SUBSCRIPTIONS as u32 + 2;
/// How long a phase may take before the benchmark gives up.
const PHASE_DEADLINE: Duration = Duration::from_secs(900);
/// How often a simulator drains every socket, whatever epoll said.
const SWEEP: Duration = Duration::from_millis(100);

/// What the benchmark measures.
pub struct Spec {
    /// Node counts to sweep.
    pub nodes: Vec<usize>,
    /// Keys in the store, spread over the groups.
    pub keys: u64,
    /// Groups the nodes (and keys) are spread over.
    pub groups: usize,
    /// Seconds over which the broker's CPU at rest is measured.
    pub steady_seconds: f64,
    /// The storm follows a crash (kill -9) rather than a clean restart.
    pub storm_crash: bool,
}

/// One simulator process's share of the nodes.
#[derive(Serialize, Deserialize)]
struct SimSpec {
    router: String,
    xpub: String,
    xsub: String,
    first: usize,
    count: usize,
    groups: usize,
    heartbeat_ms: u64,
}

/// The figures of one node count.
#[derive(Serialize, Clone)]
struct Row {
    kind: &'static str,
    nodes: usize,
    keys: u64,
    join_and_sync_s: f64,
    cpu_at_rest_core: f64,
    cpu_ms_per_heartbeat: f64,
    memory_joined_bytes: u64,
    /// Resident memory after the rest that follows (heartbeats only):
    /// what a node costs once the sync's queues are gone.
    memory_at_rest_bytes: u64,
    memory_per_node_bytes: f64,
    memory_per_subscription_bytes: f64,
    connections_open: u64,
    storm_s: f64,
    storm_old_broker_stop_s: f64,
    storm_broker_ready_s: f64,
    storm_rejoined_s: f64,
    storm_peak_memory_bytes: u64,
    storm_cpu_s: f64,
    /// How the old broker ended: "sigterm" or "kill".
    storm_after: &'static str,
    /// Level snapshots of the storm answered `unchanged` (no key sent).
    storm_snapshots_unchanged: u64,
    /// Of those, answered across a crash (the new history took the level
    /// over from the crashed run's).
    storm_snapshots_taken_over: u64,
    /// KVSYNCs the new broker sent in the storm.
    storm_keys_sent: u64,
}

/// A line fitted to one figure over the node counts.
#[derive(Serialize)]
struct Fit {
    kind: &'static str,
    figure: &'static str,
    per_node: f64,
    intercept: f64,
    r_squared: f64,
}

fn group_name(g: usize) -> String {
    format!("g{g:03}")
}

/// Runs the sweep and prints a table (or JSON rows) and the fits.
pub fn run(spec: Spec, json: bool) -> anyhow::Result<()> {
    anyhow::ensure!(
        spec.groups > 0 && !spec.nodes.is_empty(),
        "nothing to measure"
    );
    let spec = &spec;
    let (rows, key_bytes) = with_scratch("canopy-scale-bench", |dir| async move {
        let key_bytes = load(&dir, spec.keys, spec.groups).await?;
        let mut rows = Vec::new();
        for &n in &spec.nodes {
            rows.push(measure(&dir, n, spec)?);
        }
        Ok((rows, key_bytes))
    })?;
    let fits = fits(&rows);
    if json {
        for r in &rows {
            println!("{}", serde_json::to_string(r)?);
        }
        for f in &fits {
            println!("{}", serde_json::to_string(f)?);
        }
        println!(
            "{}",
            serde_json::json!({"kind": "scale-key", "keys": spec.keys, "bytes_per_key": key_bytes})
        );
        return Ok(());
    }
    println!(
        "{:>6} {:>9} {:>9} {:>9} {:>10} {:>9} {:>9} {:>9} {:>7} {:>8} {:>7} {:>9} {:>9} {:>10}",
        "nodes",
        "join+sync",
        "cpu/core",
        "ms/beat",
        "mem MiB",
        "rest MiB",
        "B/node",
        "B/sub",
        "conns",
        "storm s",
        "stop s",
        "ready s",
        "joined s",
        "storm MiB"
    );
    for r in &rows {
        println!(
            "{:>6} {:>8.1}s {:>9.3} {:>9.1} {:>10.1} {:>9.1} {:>9.0} {:>9.0} {:>7} {:>8.1} {:>7.2} {:>9.2} {:>9.1} {:>10.1}",
            r.nodes,
            r.join_and_sync_s,
            r.cpu_at_rest_core,
            r.cpu_ms_per_heartbeat,
            r.memory_joined_bytes as f64 / 1048576.0,
            r.memory_at_rest_bytes as f64 / 1048576.0,
            r.memory_per_node_bytes,
            r.memory_per_subscription_bytes,
            r.connections_open,
            r.storm_s,
            r.storm_old_broker_stop_s,
            r.storm_broker_ready_s,
            r.storm_rejoined_s,
            r.storm_peak_memory_bytes as f64 / 1048576.0
        );
    }
    println!("memory per key: {key_bytes:.0} B ({} keys)", spec.keys);
    for f in &fits {
        println!(
            "fit {:<22} {:>12.4} per node + {:>12.1}   R^2 {:.4}",
            f.figure, f.per_node, f.intercept, f.r_squared
        );
    }
    Ok(())
}

/// A figure of a row, by name.
type Figure = (&'static str, fn(&Row) -> f64);

/// Least-squares lines of the figures that should grow with the node count.
fn fits(rows: &[Row]) -> Vec<Fit> {
    let xs: Vec<f64> = rows.iter().map(|r| r.nodes as f64).collect();
    let figures: [Figure; 6] = [
        ("join_and_sync_s", |r| r.join_and_sync_s),
        ("cpu_at_rest_core", |r| r.cpu_at_rest_core),
        ("memory_joined_bytes", |r| r.memory_joined_bytes as f64),
        ("memory_at_rest_bytes", |r| r.memory_at_rest_bytes as f64),
        ("storm_s", |r| r.storm_s),
        ("storm_peak_memory_bytes", |r| {
            r.storm_peak_memory_bytes as f64
        }),
    ];
    figures
        .iter()
        .filter_map(|(figure, get)| {
            let ys: Vec<f64> = rows.iter().map(get).collect();
            let (per_node, intercept, r_squared) = least_squares(&xs, &ys)?;
            Some(Fit {
                kind: "scale-fit",
                figure,
                per_node,
                intercept,
                r_squared,
            })
        })
        .collect()
}

/// Slope, intercept and R² of the least-squares line through the points;
/// `None` for fewer than two distinct x.
fn least_squares(xs: &[f64], ys: &[f64]) -> Option<(f64, f64, f64)> {
    let n = xs.len() as f64;
    if xs.len() < 2 || xs.len() != ys.len() {
        return None;
    }
    let mean_x = xs.iter().sum::<f64>() / n;
    let mean_y = ys.iter().sum::<f64>() / n;
    let sxx: f64 = xs.iter().map(|x| (x - mean_x).powi(2)).sum();
    if sxx == 0.0 {
        return None;
    }
    let sxy: f64 = xs
        .iter()
        .zip(ys)
        .map(|(x, y)| (x - mean_x) * (y - mean_y))
        .sum();
    let slope = sxy / sxx;
    let intercept = mean_y - slope * mean_x;
    let total: f64 = ys.iter().map(|y| (y - mean_y).powi(2)).sum();
    let residual: f64 = xs
        .iter()
        .zip(ys)
        .map(|(x, y)| (y - (slope * x + intercept)).powi(2))
        .sum();
    let r_squared = if total == 0.0 {
        1.0
    } else {
        1.0 - residual / total
    };
    Some((slope, intercept, r_squared))
}

/// Loads `keys` 100-byte values spread over the groups' levels into the
/// persistent store; returns the broker memory per key (an empty broker's
/// RSS against one that loaded them from disk at start).
async fn load(dir: &std::path::Path, keys: u64, groups: usize) -> anyhow::Result<f64> {
    let data = dir.join("broker");
    let port = free_base()?;
    let (broker, _) = BrokerChild::start_with(&data, port, &[])?;
    let empty_rss = broker.rss_bytes();
    let mut options = NodeOptions::new(&broker.endpoint(), "loader", "");
    options = options.request_timeout(Duration::from_secs(120));
    let node = Node::connect(options).await?;
    let started = Instant::now();
    let chunk = 20_000u64;
    let mut from = 0;
    while from < keys {
        let to = (from + chunk).min(keys);
        let mut specs = Vec::new();
        for i in from..to {
            let level = Level::parse(&group_name(i as usize % groups), false)?;
            let mut value = vec![0xd9, 98];
            value.extend_from_slice(format!("{i:098}").as_bytes());
            specs.push(
                WriteSpec::new(OpKind::Put, &level, &format!("k{i:09}")).value_msgpack(value),
            );
        }
        for outcome in node.write_many("default", specs).await {
            outcome.context("loading keys")?;
        }
        from = to;
    }
    eprintln!(
        "loaded {keys} keys in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    node.close().await;
    broker.stop();
    let (broker, ready) = BrokerChild::start_with(&data, port, &[])?;
    eprintln!(
        "restart with {keys} keys: ready in {:.2} s",
        ready.as_secs_f64()
    );
    let loaded_rss = broker.rss_bytes();
    broker.stop();
    Ok(loaded_rss.saturating_sub(empty_rss) as f64 / keys.max(1) as f64)
}

/// Keys of group `g` when `keys` are spread round-robin over `groups`.
fn keys_of_group(keys: u64, groups: usize, g: usize) -> u64 {
    let groups = groups as u64;
    keys / groups + u64::from((g as u64) < keys % groups)
}

/// The simulator processes of one measurement, and their reports.
struct Sims {
    children: Vec<(Child, ChildStdin)>,
    reports: mpsc::Receiver<(usize, String)>,
    /// The newest epoch each simulator reported fully synced, and its keys.
    synced: Vec<Option<(u64, u64)>>,
    acked: Vec<u64>,
}

impl Sims {
    fn start(broker: &BrokerChild, nodes: usize, groups: usize) -> anyhow::Result<Sims> {
        let field = |name| {
            broker
                .ready_field(name)
                .map(str::to_owned)
                .with_context(|| format!("no {name} in the ready line"))
        };
        let (router, xpub, xsub) = (broker.endpoint(), field("xpub")?, field("xsub")?);
        let (tx, reports) = mpsc::channel();
        let mut children = Vec::new();
        let sims = nodes.div_ceil(NODES_PER_SIM).max(1);
        for s in 0..sims {
            let first = s * nodes / sims;
            let spec = SimSpec {
                router: router.clone(),
                xpub: xpub.clone(),
                xsub: xsub.clone(),
                first,
                count: (s + 1) * nodes / sims - first,
                groups,
                heartbeat_ms: 1000,
            };
            let mut child = Command::new(std::env::current_exe()?)
                .env(SIM_ENV, serde_json::to_string(&spec)?)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .context("starting a node simulator")?;
            let stdout = child.stdout.take().context("simulator stdout")?;
            let stdin = child.stdin.take().context("simulator stdin")?;
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    if tx.send((s, line)).is_err() {
                        break;
                    }
                }
            });
            children.push((child, stdin));
        }
        Ok(Sims {
            synced: vec![None; children.len()],
            acked: vec![0; children.len()],
            children,
            reports,
        })
    }

    /// Waits until every simulator reports all its nodes synced at `epoch`;
    /// returns the keys their replicas hold in all.
    fn wait_synced(&mut self, epoch: u64) -> anyhow::Result<u64> {
        let deadline = Instant::now() + PHASE_DEADLINE;
        loop {
            if self
                .synced
                .iter()
                .all(|s| matches!(s, Some((e, _)) if *e == epoch))
            {
                return Ok(self.synced.iter().flatten().map(|(_, k)| k).sum());
            }
            self.next_report(deadline)?;
        }
    }

    /// Tells every simulator `command` and waits for each to answer `done`.
    fn command(&mut self, command: &str) -> anyhow::Result<()> {
        let before = self.acked.clone();
        for (_, stdin) in &mut self.children {
            writeln!(stdin, "{command}")?;
            stdin.flush()?;
        }
        let deadline = Instant::now() + PHASE_DEADLINE;
        while self.acked.iter().zip(&before).any(|(a, b)| a == b) {
            self.next_report(deadline)?;
        }
        Ok(())
    }

    fn next_report(&mut self, deadline: Instant) -> anyhow::Result<()> {
        let wait = deadline.saturating_duration_since(Instant::now());
        let (s, line) = self
            .reports
            .recv_timeout(wait)
            .context("node simulators did not report in time")?;
        let mut words = line.split_whitespace();
        match words.next() {
            Some("synced") => {
                let epoch = words.next().and_then(|w| w.parse().ok()).unwrap_or(0);
                let keys = words.next().and_then(|w| w.parse().ok()).unwrap_or(0);
                self.synced[s] = Some((epoch, keys));
            }
            Some("done") => self.acked[s] += 1,
            _ => anyhow::bail!("simulator {s}: {line}"),
        }
        Ok(())
    }

    fn stop(mut self) {
        for (child, stdin) in &mut self.children {
            let _ = writeln!(stdin, "exit");
            let _ = stdin.flush();
            let _ = child.wait();
        }
        self.children.clear();
    }
}

impl Drop for Sims {
    fn drop(&mut self) {
        for (child, _) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// STATS over a DEALER of its own (not a node: it does not count).
fn stats(ctx: &zmq::Context, endpoint: &str) -> anyhow::Result<StatsReport> {
    let dealer = ctx.socket(zmq::DEALER)?;
    dealer.set_linger(0)?;
    // A busy broker answers late; how late is a finding, not a failure.
    dealer.set_rcvtimeo(60_000)?;
    dealer.connect(endpoint)?;
    let [name, body] = Request::Stats(Empty { id: 1 }).encode()?;
    dealer.send_multipart([name, body], 0)?;
    let asked = Instant::now();
    let frames = dealer
        .recv_multipart(0)
        .context("no STATS answer within 60 s")?;
    if asked.elapsed() > Duration::from_secs(1) {
        eprintln!(
            "STATS answered after {:.1} s",
            asked.elapsed().as_secs_f64()
        );
    }
    let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
    match Reply::decode(&refs)? {
        Reply::Stats(s) => Ok(s.report),
        other => anyhow::bail!("STATS answered {other:?}"),
    }
}

fn counter(report: &StatsReport, name: &str) -> u64 {
    report.counters.get(name).copied().unwrap_or(0)
}

/// Polls STATS until `done` holds.
fn stats_until(
    ctx: &zmq::Context,
    endpoint: &str,
    done: impl Fn(&StatsReport) -> bool,
) -> anyhow::Result<StatsReport> {
    let deadline = Instant::now() + PHASE_DEADLINE;
    loop {
        let report = stats(ctx, endpoint)?;
        if done(&report) {
            return Ok(report);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the broker never got there: {report:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn epoch_of(broker: &BrokerChild) -> anyhow::Result<u64> {
    broker
        .ready_field("epoch")
        .and_then(|e| e.parse().ok())
        .context("no epoch in the ready line")
}

/// One node count: join and sync, rest, more subscriptions, a storm.
fn measure(dir: &std::path::Path, nodes: usize, spec: &Spec) -> anyhow::Result<Row> {
    let data = dir.join("broker");
    let port = free_base()?;
    let ctx = zmq::Context::new();
    let (broker, _) = BrokerChild::start_with(&data, port, &[])?;
    let endpoint = broker.endpoint();
    let rss_before = broker.rss_bytes();
    let expected_keys: u64 = (0..nodes)
        .map(|i| keys_of_group(spec.keys, spec.groups, i % spec.groups))
        .sum();
    let started = Instant::now();
    let mut sims = Sims::start(&broker, nodes, spec.groups)?;
    let keys = sims.wait_synced(epoch_of(&broker)?)?;
    let join_and_sync = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        keys == expected_keys,
        "replicas hold {keys} keys, not {expected_keys}"
    );
    let joined = stats_until(&ctx, &endpoint, |r| r.nodes == nodes as u64)?;
    let memory_joined = broker.rss_bytes();

    // At rest: heartbeats only.
    let cpu_before = broker.cpu_seconds();
    let rest = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(spec.steady_seconds));
    let cpu = (broker.cpu_seconds() - cpu_before) / rest.elapsed().as_secs_f64();

    // Ten more distinct prefixes per node: memory per subscription.
    let before_more = broker.rss_bytes();
    let active = counter(&joined, "subscriptions_active");
    sims.command("more")?;
    let wanted = active + (nodes * EVENT_SUBSCRIPTIONS) as u64;
    stats_until(&ctx, &endpoint, |r| {
        counter(r, "subscriptions_active") >= wanted
    })?;
    let per_subscription = broker.rss_bytes().saturating_sub(before_more) as f64
        / (nodes * EVENT_SUBSCRIPTIONS) as f64;

    // The storm: restart the broker; every node rejoins and resyncs.
    let storm = Instant::now();
    if spec.storm_crash {
        broker.kill();
    } else {
        broker.stop();
    }
    let stopped = storm.elapsed().as_secs_f64();
    let (broker, ready) = BrokerChild::start_with(&data, port, &[])?;
    let epoch = epoch_of(&broker)?;
    let all_joined = stats_until(&ctx, &endpoint, |r| r.nodes == nodes as u64)?;
    let rejoined = storm.elapsed().as_secs_f64();
    let keys = sims.wait_synced(epoch)?;
    eprintln!(
        "storm: old broker stopped after {stopped:.2} s, every node joined again after \
         {rejoined:.2} s ({} connections accepted)",
        counter(&all_joined, "connections_accepted")
    );
    anyhow::ensure!(
        keys == expected_keys,
        "after the storm: {keys} keys, not {expected_keys}"
    );
    let total_subscriptions = (nodes * (SUBSCRIPTIONS as usize + EVENT_SUBSCRIPTIONS)) as u64;
    stats_until(&ctx, &endpoint, |r| {
        r.nodes == nodes as u64 && counter(r, "subscribes") >= total_subscriptions
    })?;
    let storm_s = storm.elapsed().as_secs_f64();
    let storm_cpu = broker.cpu_seconds();
    let storm_peak = broker.peak_rss_bytes();
    let after = stats(&ctx, &endpoint)?;
    let (unchanged, taken_over, keys_sent) = (
        counter(&after, "snapshots_unchanged"),
        counter(&after, "snapshots_taken_over"),
        counter(&after, "snapshot_keys_sent"),
    );
    eprintln!(
        "storm after {}: {unchanged} of {nodes} level snapshots unchanged ({taken_over} taken \
         over across a crash), {keys_sent} keys sent",
        if spec.storm_crash {
            "kill -9"
        } else {
            "SIGTERM"
        }
    );
    sims.stop();
    broker.stop();
    let row = Row {
        kind: "scale",
        nodes,
        keys: spec.keys,
        join_and_sync_s: join_and_sync,
        cpu_at_rest_core: cpu,
        cpu_ms_per_heartbeat: cpu * 1000.0,
        memory_joined_bytes: memory_joined,
        memory_at_rest_bytes: before_more,
        memory_per_node_bytes: before_more.saturating_sub(rss_before) as f64 / nodes as f64,
        memory_per_subscription_bytes: per_subscription,
        connections_open: counter(&joined, "connections_open"),
        storm_s,
        storm_old_broker_stop_s: stopped,
        storm_broker_ready_s: ready.as_secs_f64(),
        storm_rejoined_s: rejoined,
        storm_peak_memory_bytes: storm_peak,
        storm_cpu_s: storm_cpu,
        storm_after: if spec.storm_crash { "kill" } else { "sigterm" },
        storm_snapshots_unchanged: unchanged,
        storm_snapshots_taken_over: taken_over,
        storm_keys_sent: keys_sent,
    };
    eprintln!("{nodes} nodes: synced in {join_and_sync:.1} s, storm over in {storm_s:.1} s");
    Ok(row)
}

// ---- the simulator side -------------------------------------------------

/// A ZeroMQ context that may hold more than libzmq's default 1,023
/// sockets (rust-zmq has no setter for `ZMQ_MAX_SOCKETS`).
struct BigContext(*mut std::ffi::c_void);

impl BigContext {
    fn new(max_sockets: usize) -> anyhow::Result<BigContext> {
        // SAFETY: zmq_ctx_new has no preconditions; a null result is checked.
        let ctx = unsafe { zmq_sys::zmq_ctx_new() };
        anyhow::ensure!(!ctx.is_null(), "zmq_ctx_new failed");
        let max = i32::try_from(max_sockets).context("too many sockets")?;
        // SAFETY: ctx is a live context; ZMQ_MAX_SOCKETS takes an int.
        let rc = unsafe { zmq_sys::zmq_ctx_set(ctx, zmq_sys::ZMQ_MAX_SOCKETS as i32, max) };
        anyhow::ensure!(rc == 0, "ZMQ_MAX_SOCKETS = {max} refused");
        Ok(BigContext(ctx))
    }

    fn socket(&self, kind: zmq::SocketType) -> anyhow::Result<zmq::Socket> {
        // SAFETY: the context outlives every socket: SimNodes are dropped
        // before the context (see `sim_main`), and the pointer is checked.
        let raw = unsafe { zmq_sys::zmq_socket(self.0, kind as i32) };
        anyhow::ensure!(
            !raw.is_null(),
            "zmq_socket: {}",
            zmq::Error::from_raw(unsafe { zmq_sys::zmq_errno() })
        );
        // SAFETY: raw is a new socket that nothing else owns.
        Ok(unsafe { zmq::Socket::from_raw(raw) })
    }
}

impl Drop for BigContext {
    fn drop(&mut self) {
        // SAFETY: every socket of this context has been closed by now.
        unsafe { zmq_sys::zmq_ctx_term(self.0) };
    }
}

/// One simulated node: what a canopy node does on the wire, no more.
struct SimNode {
    dealer: zmq::Socket,
    sub: zmq::Socket,
    _publisher: zmq::Socket,
    index: usize,
    group: usize,
    joined: bool,
    /// The broker epoch of the last WELCOME.
    epoch: u64,
    /// The epoch whose snapshot is complete.
    synced_epoch: u64,
    /// The snapshot in flight: its id and the epoch it is for.
    snapshot: Option<(u64, u64)>,
    snapshot_keys: u64,
    keys: u64,
    /// What the last complete snapshot said of the level: its history and
    /// lseq (asked to be kept on a resync, as a canopy replica does).
    basis: Option<SnapshotBasis>,
    next_id: u64,
    next_beat: Instant,
}

impl SimNode {
    fn connect(
        ctx: &BigContext,
        spec: &SimSpec,
        index: usize,
        beat: Instant,
    ) -> anyhow::Result<Self> {
        let group = index % spec.groups;
        let dealer = ctx.socket(zmq::DEALER)?;
        let sub = ctx.socket(zmq::SUB)?;
        let publisher = ctx.socket(zmq::PUB)?;
        for s in [&dealer, &sub, &publisher] {
            s.set_linger(0)?;
            s.set_reconnect_ivl(100)?;
            s.set_reconnect_ivl_max(1000)?;
        }
        let g = group_name(group);
        for k in 0..EVENT_SUBSCRIPTIONS {
            sub.set_subscribe(format!("@{g}/:t{k}").as_bytes())?;
        }
        sub.set_subscribe(b"HUGZ")?;
        sub.set_subscribe(Level::parse(&g, false)?.prefix("default").as_bytes())?;
        sub.connect(&spec.xpub)?;
        publisher.connect(&spec.xsub)?;
        dealer.connect(&spec.router)?;
        let mut node = SimNode {
            dealer,
            sub,
            _publisher: publisher,
            index,
            group,
            joined: false,
            epoch: 0,
            synced_epoch: 0,
            snapshot: None,
            snapshot_keys: 0,
            keys: 0,
            basis: None,
            next_id: 1,
            next_beat: beat,
        };
        node.hello()?;
        Ok(node)
    }

    fn send(&mut self, request: impl FnOnce(u64) -> Request) -> anyhow::Result<u64> {
        let id = self.next_id;
        self.next_id += 1;
        let [name, body] = request(id).encode()?;
        self.dealer.send_multipart([name, body], zmq::DONTWAIT)?;
        Ok(id)
    }

    fn hello(&mut self) -> anyhow::Result<()> {
        let (name, group) = (format!("n{:05}", self.index), group_name(self.group));
        self.send(|id| {
            Request::Hello(Hello {
                id,
                protocol: canopy_schemas::PROTOCOL_MIN,
                protocol_max: Some(canopy_schemas::PROTOCOL_VERSION),
                name,
                group,
                client_version: "canopy-bench scale".into(),
            })
        })?;
        Ok(())
    }

    /// A heartbeat: PING when joined, else HELLO again.
    fn beat(&mut self, subscriptions: u32) -> anyhow::Result<()> {
        if self.joined {
            self.send(|id| {
                Request::Ping(Ping {
                    id,
                    dropped: 0,
                    subscriptions,
                    link: None,
                })
            })?;
            Ok(())
        } else {
            self.hello()
        }
    }

    /// Handles everything the DEALER holds.
    fn drain_dealer(&mut self) -> anyhow::Result<()> {
        while let Ok(frames) = self.dealer.recv_multipart(zmq::DONTWAIT) {
            if frames.len() == 5 {
                self.snapshot_frame(&frames);
                continue;
            }
            let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
            match Reply::decode(&refs) {
                Ok(Reply::Welcome(w)) => {
                    self.joined = true;
                    self.epoch = w.epoch;
                    let wanted = self.synced_epoch != w.epoch
                        && !matches!(self.snapshot, Some((_, e)) if e == w.epoch);
                    if wanted {
                        let subtree =
                            Level::parse(&group_name(self.group), false)?.prefix("default");
                        let have = self.basis;
                        let id = self.send(|id| {
                            Request::Snapshot(SnapshotQuery {
                                id,
                                subtree,
                                lseqs: false,
                                have,
                            })
                        })?;
                        self.snapshot = Some((id, w.epoch));
                        self.snapshot_keys = 0;
                    }
                }
                Ok(Reply::Error(e))
                    if e.code == canopy_schemas::control::ErrorCode::UnknownNode =>
                {
                    self.joined = false;
                    self.hello()?;
                }
                Ok(Reply::Goodbye(_)) => {
                    self.joined = false;
                    self.hello()?;
                }
                Ok(Reply::Error(e)) => anyhow::bail!("node {}: {e:?}", self.index),
                _ => {}
            }
        }
        Ok(())
    }

    /// A KVSYNC or KTHXBAI of the snapshot in flight.
    fn snapshot_frame(&mut self, frames: &[Vec<u8>]) {
        let Some((id, epoch)) = self.snapshot else {
            return;
        };
        let props: std::collections::HashMap<&[u8], &[u8]> = frames[3]
            .split(|&b| b == b'\n')
            .filter_map(|line| {
                let at = line.iter().position(|&b| b == b'=')?;
                Some((&line[..at], &line[at + 1..]))
            })
            .collect();
        let number = |name: &str| -> Option<u64> {
            std::str::from_utf8(props.get(name.as_bytes())?)
                .ok()?
                .parse()
                .ok()
        };
        if number(PROP_ID) != Some(id) {
            return;
        }
        if frames[0] == KTHXBAI {
            if number(PROP_UNCHANGED) != Some(1) {
                self.keys = self.snapshot_keys;
            }
            self.basis = number(PROP_HISTORY).map(|history| SnapshotBasis {
                history,
                lseq: number(PROP_LSEQ).unwrap_or(0),
            });
            self.synced_epoch = epoch;
            self.snapshot = None;
        } else {
            self.snapshot_keys += 1;
        }
    }

    /// Reads and drops what the SUB holds (HUGZ, KVPUBs).
    fn drain_sub(&mut self) {
        while self.sub.recv_multipart(zmq::DONTWAIT).is_ok() {}
    }

    /// Ten more subscriptions of this node's own.
    fn subscribe_more(&mut self) -> anyhow::Result<()> {
        let g = group_name(self.group);
        for k in 0..EVENT_SUBSCRIPTIONS {
            self.sub
                .set_subscribe(format!("@{g}/n{:05}!x{k}", self.index).as_bytes())?;
        }
        Ok(())
    }
}

/// The simulator process: runs its nodes until told `exit`.
pub fn sim_main(spec_json: &str) -> anyhow::Result<()> {
    let spec: SimSpec = serde_json::from_str(spec_json).context("simulator spec")?;
    // Six descriptors a node; the hard limit is what the machine allows.
    rlimit::increase_nofile_limit(u64::MAX).context("raising the descriptor limit")?;
    let ctx = BigContext::new(spec.count * 3 + 64)?;
    let commands = {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        rx
    };
    let heartbeat = Duration::from_millis(spec.heartbeat_ms);
    let start = Instant::now();
    let mut nodes = Vec::with_capacity(spec.count);
    for k in 0..spec.count {
        // Heartbeats spread over the interval, as independent nodes would.
        let phase = heartbeat.mul_f64(k as f64 / spec.count.max(1) as f64);
        nodes.push(SimNode::connect(
            &ctx,
            &spec,
            spec.first + k,
            start + heartbeat + phase,
        )?);
    }
    // zmq_poll over thousands of sockets costs a scan of every one per
    // call, which made the simulators, not the broker, the bottleneck of a
    // large sync. Their ZMQ_FDs go into one epoll set instead: a socket is
    // drained when its descriptor signals (edge-triggered, so each drain
    // goes on to EAGAIN), after each send on it (a send may take the
    // signal), and in a full sweep every SWEEP in case one was missed.
    let mut poll = mio::Poll::new().context("epoll")?;
    for (k, n) in nodes.iter().enumerate() {
        for (socket, token) in [(&n.dealer, 2 * k), (&n.sub, 2 * k + 1)] {
            let fd = socket.get_fd()?;
            poll.registry()
                .register(
                    &mut mio::unix::SourceFd(&fd),
                    mio::Token(token),
                    mio::Interest::READABLE,
                )
                .context("registering a socket")?;
        }
    }
    let mut events = mio::Events::with_capacity(4096);
    let mut next_sweep = Instant::now();
    let mut subscriptions = SUBSCRIPTIONS;
    let mut reported = 0u64;
    let out = std::io::stdout();
    let result = loop {
        if let Err(e) = poll.poll(&mut events, Some(Duration::from_millis(20))) {
            break Err(e.into());
        }
        let mut ready: Vec<usize> = events.iter().map(|e| e.token().0).collect();
        if Instant::now() >= next_sweep {
            next_sweep = Instant::now() + SWEEP;
            ready = (0..2 * nodes.len()).collect();
        }
        let mut failed = None;
        for k in ready {
            let Some(node) = nodes.get_mut(k / 2) else {
                continue;
            };
            if k % 2 == 0 {
                if let Err(e) = node.drain_dealer() {
                    failed = Some(e);
                    break;
                }
            } else {
                node.drain_sub();
            }
        }
        if let Some(e) = failed {
            break Err(e);
        }
        let now = Instant::now();
        for node in &mut nodes {
            if now >= node.next_beat {
                node.next_beat += heartbeat;
                if let Err(e) = node.beat(subscriptions).and_then(|()| node.drain_dealer()) {
                    failed = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = failed {
            break Err(e);
        }
        // Report once every node holds a whole snapshot of one epoch.
        let epoch = nodes.first().map_or(0, |n| n.synced_epoch);
        if epoch != reported
            && nodes
                .iter()
                .all(|n| n.synced_epoch == epoch && n.epoch == epoch)
        {
            let keys: u64 = nodes.iter().map(|n| n.keys).sum();
            let mut out = out.lock();
            let _ = writeln!(out, "synced {epoch} {keys}");
            let _ = out.flush();
            reported = epoch;
        }
        match commands.try_recv() {
            Ok(c) if c == "more" => {
                for node in &mut nodes {
                    if let Err(e) = node.subscribe_more() {
                        failed = Some(e);
                        break;
                    }
                    node.drain_sub();
                }
                subscriptions += EVENT_SUBSCRIPTIONS as u32;
                let mut out = out.lock();
                let _ = writeln!(out, "done");
                let _ = out.flush();
            }
            Ok(c) if c == "exit" => break Ok(()),
            Err(mpsc::TryRecvError::Disconnected) => break Ok(()),
            _ => {}
        }
        if let Some(e) = failed {
            break Err(e);
        }
    };
    if let Err(e) = &result {
        let mut out = out.lock();
        let _ = writeln!(out, "error {e:#}");
    }
    drop(nodes);
    drop(ctx);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_straight_line_fits_exactly() {
        let (slope, intercept, r2) =
            least_squares(&[1.0, 2.0, 4.0], &[3.0, 5.0, 9.0]).unwrap_or_default();
        assert!((slope - 2.0).abs() < 1e-9 && (intercept - 1.0).abs() < 1e-9);
        assert!((r2 - 1.0).abs() < 1e-9);
        assert!(least_squares(&[1.0, 1.0], &[1.0, 2.0]).is_none());
    }

    #[test]
    fn keys_are_spread_over_every_group() {
        let total: u64 = (0..7).map(|g| keys_of_group(100, 7, g)).sum();
        assert_eq!(total, 100);
        assert_eq!(keys_of_group(100, 7, 0), 15);
        assert_eq!(keys_of_group(100, 7, 6), 14);
    }
}
