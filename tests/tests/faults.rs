//! Fault-injection convergence test (issue 13): a tree of brokers
//! (root <- middle <- two leaves, each link through a TCP proxy) with a
//! writer and a long-lived replica (with a watch) at every broker, a mix of
//! puts, deletes, TTL keys and increments in a persistent and a
//! `persist = false` store and on opaque CHP keys (`/faults/...`), while a seeded scheduler injects faults: kill -9
//! and restart of any broker, a clean restart (SIGTERM: replicas resume the
//! levels the broker says are unchanged), SIGSTOP/SIGCONT, links cut, held (a partition
//! that closes nothing) or delayed, a child's data file damaged at a
//! restart, a backup of the root taken while the faults go on. The root
//! starts with 20,000 keys, so every mirror and replica sync is a large
//! snapshot, and new replicas join while the faults go on.
//!
//! After the faults stop it checks that every acknowledged write of the
//! persistent store is at the root (unless a later write of the same key may
//! have replaced it), every acknowledged increment is counted, every replica
//! equals the root exactly within a deadline, and no watch ever showed a
//! value no writer wrote, every backup holds only values writers wrote, and
//! a backup of the root taken at the end, restored into a new broker, equals
//! the root in every store (the `persist = false` one too). On failure it
//! prints the seed and the schedule.
//!
//! CI runs the seeds of `CI_SEEDS`. `CANOPY_FAULT_SEED=N` replays one;
//! `CANOPY_FAULT_SCHEDULES=N` (a soak) runs N seeds from
//! `CANOPY_FAULT_FIRST_SEED` (default 1000), `CANOPY_FAULT_PARALLEL` at a
//! time (default 1), each with `CANOPY_FAULT_PHASE_MS` of faults (default
//! 8000), and prints the violations found and the faults injected.

mod common;

use canopy_client::{Level, Node, NodeOptions, OpKind, Replica, WriteSpec};
use common::proxy::LinkProxy;
use common::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CI_SEEDS: [u64; 3] = [1, 2, 3];
/// How long faults are injected per schedule (default).
const FAULT_PHASE_MS: u64 = 8000;
/// Keys the root holds from the start (a large snapshot for every sync).
const PRELOADED: usize = 20_000;
/// How long the tree has to converge once the faults stop.
const CONVERGE: Duration = Duration::from_secs(40);
const STORES: [&str; 2] = ["default", "volatile"];
/// The opaque CHP level the writers also write (issue 16): keys as RFC 12
/// clients spell them, values kept as bytes.
const CHP_LEVEL: &str = "/faults/";
/// Every replica a reader keeps: the stores, then the opaque level.
const REPLICAS: [&str; 3] = ["default", "volatile", "$chp"];
const BROKERS: [&str; 4] = ["root", "middle", "leaf1", "leaf2"];
/// Keys written to each store just before the last backup.
const BACKUP_CHECK_KEYS: usize = 50;

/// One write attempt: the value (None = a deletion; `?value` = a TTL write
/// or one whose outcome is unknown) and whether it was acknowledged.
type Attempt = (Option<String>, bool);

/// What the writers did, for the checks.
#[derive(Default)]
struct Ledger {
    /// Per (store, key): writes in order, with whether each was acknowledged
    /// (None = a deletion).
    writes: HashMap<(String, String), Vec<Attempt>>,
    /// Every value any writer sent.
    values: BTreeSet<String>,
    /// Per counter key: the highest acknowledged value, and attempts.
    counters: HashMap<String, (i64, i64)>,
    acknowledged: u64,
    /// Acknowledged writes that were sent in a WRITES batch.
    batched: u64,
    failed: u64,
}

impl Ledger {
    /// One write attempt of `key` in `store`, and its outcome.
    fn record(&mut self, store: &str, key: String, attempt: Option<String>, ok: bool) {
        self.writes
            .entry((store.into(), key))
            .or_default()
            .push((attempt, ok));
        if ok {
            self.acknowledged += 1
        } else {
            self.failed += 1
        }
    }
}

struct Tree {
    brokers: Vec<BrokerProcess>,
    /// proxies[i] carries the link of brokers[i + 1] to its parent.
    proxies: Vec<LinkProxy>,
    stopped: Vec<bool>,
    dead: Vec<bool>,
    /// Restarts refused on a damaged file: (broker, clear message, stderr).
    refusals: Vec<(&'static str, bool, String)>,
    /// Backups of the root taken during the faults: the file, or why the
    /// running root did not answer.
    backups: Vec<Result<std::path::PathBuf, String>>,
    config: String,
    config_dir: tempfile::TempDir,
}

fn flags(config: &str, upstream: Option<&str>) -> Vec<String> {
    let mut f = vec![
        "--config".to_owned(),
        config.to_owned(),
        "--heartbeat-ms".to_owned(),
        "100".to_owned(),
        "--node-timeout-ms".to_owned(),
        "1000".to_owned(),
        // Two streams at once: every restart's resyncs queue up behind
        // each other, so the faults also hit snapshots that wait.
        "--max-snapshot-streams".to_owned(),
        "2".to_owned(),
    ];
    if let Some(u) = upstream {
        f.push("--upstream".into());
        f.push(u.into());
    }
    f
}

impl Tree {
    fn start() -> Tree {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("canopy.toml");
        std::fs::write(&config, "[stores.volatile]\npersist = false\n").unwrap();
        let config = config.to_str().unwrap().to_owned();
        let start = |upstream: Option<&str>| {
            let f = flags(&config, upstream);
            let f: Vec<&str> = f.iter().map(String::as_str).collect();
            BrokerProcess::start(&f)
        };
        let root = start(None);
        let config = config.clone();
        let p_middle = LinkProxy::start(root.port);
        let middle = start(Some(&p_middle.endpoint()));
        let p_leaf1 = LinkProxy::start(middle.port);
        let leaf1 = start(Some(&p_leaf1.endpoint()));
        let p_leaf2 = LinkProxy::start(middle.port);
        let leaf2 = start(Some(&p_leaf2.endpoint()));
        Tree {
            brokers: vec![root, middle, leaf1, leaf2],
            proxies: vec![p_middle, p_leaf1, p_leaf2],
            stopped: vec![false; 4],
            dead: vec![false; 4],
            refusals: Vec::new(),
            backups: Vec::new(),
            config,
            config_dir: dir,
        }
    }

    /// `canopy backup` of the root into a new file of the config folder.
    fn backup_root(&self) -> Result<std::path::PathBuf, String> {
        let file = self
            .config_dir
            .path()
            .join(format!("root-{}.backup", self.backups.len()));
        let out = run_cli(&[
            "--broker",
            &self.brokers[0].endpoint(),
            "--timeout",
            "20",
            "backup",
            "--out",
            file.to_str().unwrap(),
        ]);
        if out.status.success() {
            Ok(file)
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
        }
    }

    /// Ends every fault: links released, brokers continued or restarted.
    fn heal(&mut self) {
        for p in &self.proxies {
            p.hold_all(false);
            p.delay(Duration::ZERO);
        }
        for i in 0..self.brokers.len() {
            if self.stopped[i] {
                self.brokers[i].signal("CONT");
                self.stopped[i] = false;
            }
            if self.dead[i] {
                self.brokers[i].restart();
                self.dead[i] = false;
            }
        }
    }
}

/// One fault, chosen and applied by the scheduler.
fn inject(tree: &mut Tree, rng: &mut StdRng, log: &mut Vec<String>, at: Duration) {
    let b = rng.gen_range(0..BROKERS.len());
    let link = rng.gen_range(0..tree.proxies.len());
    let what = rng.gen_range(0..10);
    let entry = match what {
        0 if !tree.stopped[b] => {
            tree.brokers[b].kill9();
            tree.dead[b] = true;
            format!("kill -9 {}", BROKERS[b])
        }
        1 if tree.dead[b] => {
            tree.brokers[b].restart();
            tree.dead[b] = false;
            format!("restart {}", BROKERS[b])
        }
        2 if !tree.dead[b] && !tree.stopped[b] => {
            tree.brokers[b].signal("STOP");
            tree.stopped[b] = true;
            format!("SIGSTOP {}", BROKERS[b])
        }
        3 if tree.stopped[b] => {
            tree.brokers[b].signal("CONT");
            tree.stopped[b] = false;
            format!("SIGCONT {}", BROKERS[b])
        }
        4 => {
            tree.proxies[link].cut();
            format!("cut link of {}", BROKERS[link + 1])
        }
        5 => {
            let held = rng.gen_bool(0.5);
            tree.proxies[link].hold_all(held);
            format!(
                "{} link of {}",
                if held { "hold" } else { "release" },
                BROKERS[link + 1]
            )
        }
        6 => {
            let ms = rng.gen_range(0..80);
            tree.proxies[link].delay(Duration::from_millis(ms));
            format!("delay link of {} by {ms} ms", BROKERS[link + 1])
        }
        7 if !tree.stopped[link + 1] => {
            // A child's data file damaged while it is down (the root's
            // holds the acknowledged writes: disk_faults.rs covers it).
            let b = link + 1;
            tree.brokers[b].kill9();
            let file = tree.brokers[b].data_dir.join("state.redb");
            let len = std::fs::metadata(&file).map_or(0, |m| m.len());
            let to = rng.gen_range(0..len.max(1));
            if let Ok(f) = std::fs::OpenOptions::new().write(true).open(&file) {
                let _ = f.set_len(to);
            }
            let outcome = match tree.brokers[b].try_restart() {
                Ok(()) => "started".to_owned(),
                Err(said) => {
                    // Refused: it must say why and what to do; the
                    // operator then moves the file aside.
                    let clear = said.contains("is damaged") && said.contains("--restore");
                    tree.refusals.push((BROKERS[b], clear, said));
                    let _ = std::fs::rename(&file, file.with_extension("damaged"));
                    tree.brokers[b].restart();
                    "refused, file moved aside".to_owned()
                }
            };
            tree.dead[b] = false;
            format!(
                "damage {}'s data file ({len} -> {to} bytes): {outcome}",
                BROKERS[b]
            )
        }
        8 if !tree.stopped[b] && !tree.dead[b] => {
            // A clean restart: the replicas below resume what they hold
            // where the broker says a level is unchanged (12.1).
            tree.brokers[b].terminate();
            tree.brokers[b].restart();
            format!("SIGTERM and restart {}", BROKERS[b])
        }
        9 if !tree.stopped[0] && !tree.dead[0] => {
            let taken = tree.backup_root();
            let outcome = match &taken {
                Ok(_) => "taken".to_owned(),
                Err(why) => format!("failed: {why}"),
            };
            tree.backups.push(taken);
            format!("backup of the root: {outcome}")
        }
        _ => return,
    };
    log.push(format!("{:>5} ms  {entry}", at.as_millis()));
}

async fn join(broker: &BrokerProcess, name: &str) -> Node {
    join_group(broker, name, "g").await
}

async fn join_group(broker: &BrokerProcess, name: &str, group: &str) -> Node {
    let mut o = NodeOptions::new(&broker.endpoint(), name, group);
    o = o.connect_timeout(DEADLINE);
    o = o.request_timeout(Duration::from_secs(2));
    Node::connect(o).await.expect("node connects")
}

/// A writer at one broker: random operations on its own keys until `stop`.
async fn writer(
    node: Node,
    who: usize,
    seed: u64,
    ledger: Arc<Mutex<Ledger>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> Node {
    let mut rng = StdRng::seed_from_u64(seed ^ (who as u64 + 1).wrapping_mul(0x9e37_79b9));
    let mut stores = Vec::new();
    for s in STORES {
        stores.push(node.store(s).await.expect("store"));
    }
    let chp = node.chp_store(CHP_LEVEL).await.expect("opaque level");
    let levels = [Level::root(), Level::parse("g", false).unwrap()];
    let mut n = 0u64;
    let mut failures = 0u64;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        n += 1;
        let failed_before = ledger.lock().unwrap().failed;
        if failures > 0 {
            // A broker that is down fails fast: do not spin on it.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if rng.gen_range(0..4) == 0 {
            chp_write(&chp, who, n, &mut rng, &ledger).await;
            failures = ledger.lock().unwrap().failed - failed_before;
            continue;
        }
        let s = rng.gen_range(0..STORES.len());
        let level = &levels[rng.gen_range(0..levels.len())];
        if rng.gen_range(0..8) == 0 {
            batch_write(&stores[s], STORES[s], level, who, n, &mut rng, &ledger).await;
            failures = ledger.lock().unwrap().failed - failed_before;
            continue;
        }
        let key = format!("w{who}-k{}", rng.gen_range(0..6));
        let store = &stores[s];
        let full_key = format!("{}{}", level.prefix(STORES[s]), key);
        match rng.gen_range(0..10) {
            0..=5 | 9 => {
                let value = format!("w{who}-{n}");
                ledger.lock().unwrap().values.insert(value.clone());
                let result = if rng.gen_range(0..10) == 9 {
                    store
                        .put_ttl(
                            level,
                            &key,
                            &value,
                            Duration::from_millis(rng.gen_range(300..1500)),
                        )
                        .await
                        .map(|_| None)
                } else {
                    store
                        .put(level, &key, &value)
                        .await
                        .map(|_| Some(value.clone()))
                };
                let ok = result.is_ok();
                // A TTL key counts as a write whose value may be gone.
                let recorded = match result {
                    Ok(Some(v)) => Some(v),
                    _ => Some(format!("?{value}")),
                };
                ledger
                    .lock()
                    .unwrap()
                    .record(STORES[s], full_key.clone(), recorded, ok);
            }
            6 | 7 => {
                let ok = store.delete(level, &key).await.is_ok();
                ledger
                    .lock()
                    .unwrap()
                    .record(STORES[s], full_key.clone(), None, ok);
            }
            _ => {
                let counter = format!("c{who}");
                let result = stores[0].incr(&levels[0], &counter, 1).await;
                let mut l = ledger.lock().unwrap();
                let entry = l.counters.entry(counter).or_insert((0, 0));
                entry.1 += 1;
                if let Ok(v) = result {
                    entry.0 = entry.0.max(v);
                    l.acknowledged += 1;
                } else {
                    l.failed += 1;
                }
            }
        }
        failures = ledger.lock().unwrap().failed - failed_before;
    }
    node
}

/// A `write_many` of 2 to 8 puts of the writer's keys, a key sometimes
/// twice (the later put wins): each write is acknowledged on its own, all
/// of one WRITES go to disk as one transaction.
async fn batch_write(
    store: &Replica,
    store_name: &str,
    level: &Level,
    who: usize,
    n: u64,
    rng: &mut StdRng,
    ledger: &Mutex<Ledger>,
) {
    let mut puts = Vec::new();
    for i in 0..rng.gen_range(2..=8) {
        let key = format!("w{who}-k{}", rng.gen_range(0..6));
        let value = format!("w{who}-{n}-b{i}");
        puts.push((key, value));
    }
    let specs = puts
        .iter()
        .map(|(key, value)| {
            WriteSpec::new(OpKind::Put, level, key)
                .value(value.as_str())
                .expect("a string encodes")
        })
        .collect();
    {
        let mut l = ledger.lock().unwrap();
        for (_, value) in &puts {
            l.values.insert(value.clone());
        }
    }
    let outcomes = store.write_many(specs).await;
    let mut l = ledger.lock().unwrap();
    for ((key, value), outcome) in puts.into_iter().zip(outcomes) {
        let full_key = format!("{}{}", level.prefix(store_name), key);
        l.batched += u64::from(outcome.is_ok());
        l.record(store_name, full_key, Some(value), outcome.is_ok());
    }
}

/// One write of an opaque CHP key: a put (sometimes with a TTL) or a delete.
async fn chp_write(chp: &Replica, who: usize, n: u64, rng: &mut StdRng, ledger: &Mutex<Ledger>) {
    let key = format!("{CHP_LEVEL}w{who}-{}", rng.gen_range(0..6));
    let (recorded, ok) = if rng.gen_range(0..5) == 0 {
        (None, chp.chp_delete(&key).await.is_ok())
    } else {
        let value = format!("w{who}-{n}");
        ledger.lock().unwrap().values.insert(value.clone());
        let ttl =
            (rng.gen_range(0..10) == 9).then(|| Duration::from_millis(rng.gen_range(300..1500)));
        let ok = chp.chp_put(&key, value.as_bytes(), ttl).await.is_ok();
        // A TTL key, or an unknown outcome, may be gone.
        let recorded = if ok && ttl.is_none() {
            value
        } else {
            format!("?{value}")
        };
        (Some(recorded), ok)
    };
    ledger.lock().unwrap().record("$chp", key, recorded, ok);
}

/// Everything a watch reported, by store.
type Seen = Arc<Mutex<Vec<(String, Option<Vec<u8>>)>>>;

fn record(mut watch: canopy_client::Watch, store: String, seen: Seen) {
    tokio::spawn(async move {
        while let Some(change) = watch.next().await {
            seen.lock()
                .unwrap()
                .push((store.clone(), change.value.map(|v| v.to_vec())));
        }
    });
}

/// A node's replicas of every store and of the opaque level, in `REPLICAS` order.
async fn open_all(n: &Node) -> Result<Vec<Replica>, canopy_client::ClientError> {
    let mut replicas = Vec::new();
    for s in STORES {
        replicas.push(n.store(s).await?);
    }
    replicas.push(n.chp_store(CHP_LEVEL).await?);
    Ok(replicas)
}

fn view(r: &Replica) -> BTreeMap<String, Vec<u8>> {
    r.view()
        .into_iter()
        .map(|(k, e)| (k, e.value.to_vec()))
        .collect()
}

fn decode(bytes: &[u8]) -> String {
    rmp_serde::from_slice::<String>(bytes).unwrap_or_else(|_| format!("{bytes:?}"))
}

/// A value as the writers wrote it: MessagePack in the stores, text in the
/// opaque space.
fn decode_in(store: &str, bytes: &[u8]) -> String {
    if store == "$chp" {
        String::from_utf8_lossy(bytes).into_owned()
    } else {
        decode(bytes)
    }
}

/// Runs one schedule; returns the faults injected and the violations found.
async fn schedule(seed: u64) -> (usize, Vec<String>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut tree = Tree::start();
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    kvset_fill(&tree.brokers[0], PRELOADED).await;
    ledger
        .lock()
        .unwrap()
        .values
        .insert(KVSET_FILL_VALUE.to_owned());
    let seen: Seen = Arc::default();
    // Long-lived replicas with watches at every broker.
    let mut readers = Vec::new();
    for (i, b) in tree.brokers.iter().enumerate() {
        let n = join(b, &format!("reader-{}", BROKERS[i])).await;
        let replicas = open_all(&n).await.expect("replicas");
        for (r, s) in replicas.iter().zip(REPLICAS) {
            record(r.watch(""), s.to_owned(), seen.clone());
        }
        readers.push((i, n, replicas));
    }
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for (i, b) in tree.brokers.iter().enumerate() {
        let n = join(b, &format!("writer-{}", BROKERS[i])).await;
        writers.push(tokio::spawn(writer(
            n,
            i,
            seed,
            ledger.clone(),
            stop.clone(),
        )));
    }
    let mut log = Vec::new();
    let began = Instant::now();
    let mut joining = Vec::new();
    while began.elapsed() < fault_phase() {
        let pause = Duration::from_millis(rng.gen_range(150..600));
        tokio::time::sleep(pause).await;
        if rng.gen_bool(0.15) {
            // A new replica whose snapshot is taken while faults go on.
            let b = rng.gen_range(0..BROKERS.len());
            let endpoint = tree.brokers[b].endpoint();
            let name = format!("late-{}-{}", BROKERS[b], joining.len());
            log.push(format!(
                "{:>5} ms  new replica at {}",
                began.elapsed().as_millis(),
                BROKERS[b]
            ));
            // Its own thread: the client's connect future is not Send.
            joining.push(std::thread::spawn(move || -> Result<_, String> {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| e.to_string())?;
                runtime.block_on(async move {
                    let mut o = NodeOptions::new(&endpoint, &name, "g");
                    o = o.connect_timeout(CONVERGE);
                    let n = Node::connect(o)
                        .await
                        .map_err(|e| format!("{name}: connect: {e}"))?;
                    let replicas = open_all(&n)
                        .await
                        .map_err(|e| format!("{name}: replicas: {e}"))?;
                    Ok((b, n, replicas))
                })
            }));
            continue;
        }
        inject(&mut tree, &mut rng, &mut log, began.elapsed());
    }
    tree.heal();
    log.push(format!("{:>5} ms  heal", began.elapsed().as_millis()));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        drop(w.await.expect("writer"));
    }
    let mut late_failed: Vec<String> = Vec::new();
    for j in joining {
        let joined = tokio::task::spawn_blocking(move || {
            j.join()
                .unwrap_or_else(|_| Err("the joining thread panicked".into()))
        })
        .await
        .expect("joining replica");
        match joined {
            Ok((b, n, replicas)) => {
                for (r, s) in replicas.iter().zip(REPLICAS) {
                    record(r.watch(""), s.to_owned(), seen.clone());
                }
                readers.push((b, n, replicas));
            }
            Err(why) => late_failed.push(why),
        }
    }
    let mut violations = check(&tree, &readers, &ledger, &seen).await;
    if violations.is_empty() {
        log.push(format!(
            "{:>5} ms  kill -9 root at rest",
            began.elapsed().as_millis()
        ));
        violations.extend(crash_at_rest(&mut tree, &readers).await);
    }
    violations.extend(check_backups(&tree, &ledger).await);
    for why in late_failed {
        violations.push(format!(
            "a replica that joined during the faults never synced: {why}"
        ));
    }
    for (broker, clear, said) in &tree.refusals {
        if !clear {
            violations.push(format!(
                "{broker} refused a damaged file without saying what to do: {said}"
            ));
        }
    }
    if !violations.is_empty() {
        violations.insert(0, format!("seed {seed}; schedule:\n  {}", log.join("\n  ")));
        for (i, b) in tree.brokers.iter().enumerate() {
            let log = b.stderr();
            let tail: Vec<&str> = log.lines().rev().take(60).collect();
            eprintln!(
                "--- {} log tail ---\n{}",
                BROKERS[i],
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
    }
    let mut waited = 0;
    for b in &tree.brokers {
        waited += counter(b, "snapshots_waited").await;
    }
    let injected = log.len() - 1;
    let clean = log.iter().filter(|e| e.contains("SIGTERM")).count();
    let backups = tree.backups.len();
    let l = ledger.lock().unwrap();
    eprintln!(
        "seed {seed}: {injected} faults ({clean} clean restarts, {backups} backups), {} writes acknowledged ({} of them in WRITES batches), {} failed, {waited} snapshots waited for a stream since the brokers' last starts, {} violations",
        l.acknowledged,
        l.batched,
        l.failed,
        violations.len()
    );
    (injected, violations)
}

async fn check(
    tree: &Tree,
    readers: &[(usize, Node, Vec<Replica>)],
    ledger: &Mutex<Ledger>,
    seen: &Seen,
) -> Vec<String> {
    let mut violations = Vec::new();
    // TTL keys run out before the views are compared.
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let reference = join(&tree.brokers[0], "reference").await;
    let truth = open_all(&reference).await.expect("reference replicas");
    // The root level alone (a node of the root group sees no group level).
    let root_reference = join_group(&tree.brokers[0], "reference-root", "").await;
    let root_level = root_reference
        .store("default")
        .await
        .expect("reference store");
    let group = Level::parse("g", false).unwrap();
    violations.extend(converged(readers, &truth).await);
    let l = ledger.lock().unwrap();
    // Acknowledged writes of the persistent store are at the root, unless a
    // later write of the key (acknowledged or not) may have replaced them.
    for ((store, full_key), writes) in &l.writes {
        if store != "default" && store != "$chp" {
            continue;
        }
        let Some(last_ack) = writes.iter().rposition(|(_, ok)| *ok) else {
            continue;
        };
        let user_key = full_key.rsplit(':').next().unwrap_or_default();
        let at_root = if store == "$chp" {
            truth[2].get_raw(full_key).map(|v| decode_in(store, &v))
        } else if full_key.starts_with("/default/:") {
            root_level.get_raw(user_key).map(|v| decode(&v))
        } else {
            truth[0]
                .entry(user_key)
                .filter(|(_, level)| *level == group)
                .map(|(e, _)| decode(&e.value))
        };
        let allowed: Vec<Option<String>> =
            writes[last_ack..].iter().map(|(v, _)| v.clone()).collect();
        let fine = allowed.iter().any(|v| match v {
            None => at_root.is_none(),
            Some(v) if v.starts_with('?') => true, // TTL or unknown outcome
            Some(v) => at_root.as_deref() == Some(v.as_str()),
        });
        if !fine {
            violations.push(format!(
                "acknowledged write lost: {full_key} is {at_root:?} at the root, allowed {allowed:?}"
            ));
        }
    }
    // The opaque space took part: some of its writes were acknowledged.
    let chp_acked = l
        .writes
        .iter()
        .filter(|((store, _), _)| store == "$chp")
        .flat_map(|(_, w)| w.iter())
        .filter(|(_, ok)| *ok)
        .count();
    if chp_acked == 0 {
        violations.push("no write of an opaque CHP key was acknowledged".into());
    }
    for (counter, (acked, attempts)) in &l.counters {
        let v = root_level
            .get_raw(counter)
            .and_then(|b| rmp_serde::from_slice::<i64>(&b).ok())
            .unwrap_or(0);
        if v < *acked || v > *attempts {
            violations.push(format!(
                "counter {counter} is {v} at the root: {acked} acknowledged, {attempts} attempted"
            ));
        }
    }
    // No watch showed a value no writer wrote.
    for (store, value) in seen.lock().unwrap().iter() {
        let Some(bytes) = value else { continue };
        if store != "$chp" && rmp_serde::from_slice::<i64>(bytes).is_ok() {
            continue; // a counter
        }
        let v = decode_in(store, bytes);
        if !l.values.contains(&v) {
            violations.push(format!(
                "a watch of {store} showed {v:?}, which no writer wrote"
            ));
        }
    }
    violations
}

/// A last crash, at rest: kill -9 of the root once everything is committed.
/// Every replica must end equal to the root again, and at every broker some
/// replica must have kept its levels (taken over by the root's new history,
/// 12.1) instead of taking them in full.
async fn crash_at_rest(tree: &mut Tree, readers: &[(usize, Node, Vec<Replica>)]) -> Vec<String> {
    let mut taken_over = Vec::new();
    for b in &tree.brokers[1..] {
        taken_over.push(counter(b, "snapshots_taken_over").await);
    }
    tree.brokers[0].kill9();
    tree.brokers[0].restart();
    // Nothing is written until every broker has answered a resume: a write
    // would move a level on, and that level would rightly be sent in full.
    let mut violations = Vec::new();
    let deadline = Instant::now() + CONVERGE;
    for (i, b) in tree.brokers.iter().enumerate() {
        let before = if i == 0 { 0 } else { taken_over[i - 1] };
        loop {
            if counter(b, "snapshots_taken_over").await > before {
                break;
            }
            if Instant::now() > deadline {
                violations.push(format!(
                    "after a crash of the root at rest no replica at {} kept its levels",
                    BROKERS[i]
                ));
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let reference = join(&tree.brokers[0], "reference-after-crash").await;
    let truth = open_all(&reference).await.expect("reference replicas");
    violations.extend(
        converged(readers, &truth)
            .await
            .into_iter()
            .map(|why| format!("after a crash of the root at rest: {why}")),
    );
    reference.close().await;
    violations
}

/// Waits until every replica equals the root's (`truth`); what still
/// differs at the deadline.
async fn converged(readers: &[(usize, Node, Vec<Replica>)], truth: &[Replica]) -> Vec<String> {
    let deadline = Instant::now() + CONVERGE;
    loop {
        let want: Vec<_> = truth.iter().map(view).collect();
        let mismatched: Vec<String> = readers
            .iter()
            .flat_map(|(i, _, replicas)| {
                let want = &want;
                replicas.iter().enumerate().filter_map(move |(s, r)| {
                    let have = view(r);
                    (have != want[s]).then(|| {
                        format!(
                            "replica at {} of {}: {} keys, root {} keys; differing: {:?}",
                            BROKERS[*i],
                            REPLICAS[s],
                            have.len(),
                            want[s].len(),
                            want[s]
                                .iter()
                                .filter(|(k, v)| have.get(*k) != Some(v))
                                .map(|(k, _)| k.clone())
                                .chain(have.keys().filter(|k| !want[s].contains_key(*k)).cloned())
                                .take(5)
                                .collect::<Vec<_>>()
                        )
                    })
                })
            })
            .collect();
        if mismatched.is_empty() {
            return Vec::new();
        }
        if Instant::now() > deadline {
            return mismatched;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The store a backup key belongs to, as the ledger names it.
fn backup_store(key: &str) -> &'static str {
    STORES
        .into_iter()
        .find(|s| key.starts_with(&format!("/{s}/")))
        .unwrap_or("$chp")
}

/// Backups taken during the faults hold only values writers wrote (and were
/// answered whenever the root ran); one taken now, restored into a new
/// broker, serves exactly what the root serves, volatile store included.
async fn check_backups(tree: &Tree, ledger: &Mutex<Ledger>) -> Vec<String> {
    let mut violations = Vec::new();
    let written = |store: &str, bytes: &[u8], l: &Ledger| {
        (store != "$chp" && rmp_serde::from_slice::<i64>(bytes).is_ok())
            || l.values.contains(&decode_in(store, bytes))
    };
    for (i, taken) in tree.backups.iter().enumerate() {
        let file = match taken {
            Ok(file) => file,
            Err(why) => {
                violations.push(format!("backup {i} of the running root failed: {why}"));
                continue;
            }
        };
        let bytes = std::fs::read(file).unwrap_or_default();
        let backup = match canopy_schemas::backup::Backup::decode(&bytes) {
            Ok(b) => b,
            Err(e) => {
                violations.push(format!("backup {i} does not decode: {e}"));
                continue;
            }
        };
        let l = ledger.lock().unwrap();
        for e in &backup.entries {
            let store = backup_store(&e.key);
            if store == "volatile" || !written(store, &e.value, &l) {
                violations.push(format!(
                    "backup {i} holds {} as persistent: {:?}",
                    e.key, e.value
                ));
            }
        }
        for e in &backup.volatile {
            let store = backup_store(&e.key);
            if store != "volatile" || !written(store, &e.value, &l) {
                violations.push(format!(
                    "backup {i} holds {} as volatile: {:?}",
                    e.key, e.value
                ));
            }
        }
    }
    // Keys in every store however the faults left the volatile one (a
    // root killed -9 comes back without its volatile keys).
    let root_node = join(&tree.brokers[0], "backup-reference").await;
    let Ok(want) = open_all(&root_node).await else {
        violations.push("cannot open the replicas of the root".into());
        return violations;
    };
    let level = Level::parse("g", false).unwrap();
    for (store, replica) in STORES.iter().zip(&want) {
        for n in 0..BACKUP_CHECK_KEYS {
            let value = format!("backup-check-{store}-{n}");
            let written = replica.put(&level, &value, &value).await;
            if let Err(e) = written {
                violations.push(format!("a write before the last backup failed: {e}"));
                return violations;
            }
            ledger.lock().unwrap().values.insert(value);
        }
    }
    let last = match tree.backup_root() {
        Ok(file) => file,
        Err(why) => {
            violations.push(format!("the backup after the faults failed: {why}"));
            return violations;
        }
    };
    let restored = BrokerProcess::start(&[
        "--config",
        &tree.config,
        "--restore",
        last.to_str().unwrap(),
    ]);
    let restored_node = join(&restored, "backup-restored").await;
    let Ok(have) = open_all(&restored_node).await else {
        violations.push("cannot open the replicas of the restored broker".into());
        return violations;
    };
    for (s, (w, h)) in want.iter().zip(&have).enumerate() {
        let (w, h) = (view(w), view(h));
        if w != h {
            violations.push(format!(
                "restored backup differs from the root in {}: {} keys, root {}",
                REPLICAS[s],
                h.len(),
                w.len()
            ));
        }
    }
    violations
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|s| {
        s.parse()
            .unwrap_or_else(|_| panic!("{name} is a number, not {s:?}"))
    })
}

fn fault_phase() -> Duration {
    Duration::from_millis(env_number("CANOPY_FAULT_PHASE_MS").unwrap_or(FAULT_PHASE_MS))
}

fn seeds() -> Vec<u64> {
    if let Ok(s) = std::env::var("CANOPY_FAULT_SEED") {
        return vec![s.parse().expect("CANOPY_FAULT_SEED is a number")];
    }
    if let Ok(n) = std::env::var("CANOPY_FAULT_SCHEDULES") {
        let n: u64 = n.parse().expect("CANOPY_FAULT_SCHEDULES is a number");
        let first: u64 = std::env::var("CANOPY_FAULT_FIRST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1000);
        return (first..first + n).collect();
    }
    CI_SEEDS.to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tree_converges_after_random_faults() {
    let seeds = seeds();
    let parallel = env_number("CANOPY_FAULT_PARALLEL").unwrap_or(1).max(1) as usize;
    let mut failed = Vec::new();
    let mut faults = 0;
    let began = Instant::now();
    for group in seeds.chunks(parallel) {
        // A thread and runtime per schedule (the client's connect future is
        // not Send, so schedules cannot be tokio tasks).
        let running: Vec<_> = group
            .iter()
            .map(|&seed| {
                eprintln!("fault schedule seed {seed} (replay: CANOPY_FAULT_SEED={seed})");
                std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_multi_thread()
                        .worker_threads(2)
                        .enable_all()
                        .build()
                        .expect("a runtime");
                    (seed, runtime.block_on(schedule(seed)))
                })
            })
            .collect();
        for handle in running {
            let (seed, (injected, v)) = tokio::task::spawn_blocking(move || handle.join())
                .await
                .expect("schedule thread")
                .expect("schedule");
            faults += injected;
            if !v.is_empty() {
                eprintln!("VIOLATIONS, seed {seed}:\n{}", v.join("\n"));
                failed.push(seed);
            }
        }
    }
    eprintln!(
        "{} schedules, {faults} faults injected, {} with violations: {failed:?} ({:?})",
        seeds.len(),
        failed.len(),
        began.elapsed()
    );
    assert!(
        failed.is_empty(),
        "violations with seeds {failed:?} (see above)"
    );
}
