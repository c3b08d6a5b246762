//! Disk faults (issue 13, finding 8): a commit that fails stops the broker
//! with a clear error and loses no acknowledged write; a damaged data file
//! is refused with a clear error, or recovered to its last good commit and
//! said so, never served as a silent partial state.

mod common;

use canopy_client::Level;
use common::*;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Copies a broker's data directory (it holds only files).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// A broker whose files may not grow beyond `max_file_kib` KiB: writes
/// past it fail with EFBIG (SIGXFSZ is ignored, as the shell sets it before
/// exec), a real I/O error for redb.
struct CappedBroker {
    child: std::process::Child,
    port: u16,
}

impl CappedBroker {
    /// Starts on free ports, with monitoring on a port of the OS's choosing
    /// (P+3 is not checked free, and tests run in parallel); a port taken
    /// between the check and the bind is retried on other ports.
    fn start(data_dir: &Path, max_file_kib: u64) -> CappedBroker {
        Self::start_on(data_dir, max_file_kib, None)
    }

    /// Starts on `port` when given (a restart where nodes reconnect),
    /// retrying while the old process's ports are still taken.
    fn start_on(data_dir: &Path, max_file_kib: u64, port: Option<u16>) -> CappedBroker {
        let mut said = String::new();
        let deadline = Instant::now() + DEADLINE;
        let fixed = port;
        for _ in 0..1000 {
            let port = fixed.unwrap_or_else(free_base_port);
            let mut child = Command::new("sh")
                .arg("-c")
                .arg(format!(
                    "trap '' XFSZ; ulimit -f {}; exec \"$0\" \"$@\"",
                    max_file_kib
                ))
                .arg(broker_bin())
                .args(["--port", &port.to_string(), "--http", "127.0.0.1:0"])
                .arg("--data-dir")
                .arg(data_dir)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let mut ready = String::new();
            BufReader::new(child.stdout.take().unwrap())
                .read_line(&mut ready)
                .unwrap();
            if ready.starts_with("canopy-broker ready") {
                return CappedBroker { child, port };
            }
            let _ = child.kill();
            let _ = child.wait();
            said.clear();
            let _ = std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut said);
            if !said.contains("Address already in use") || Instant::now() > deadline {
                break;
            }
            if fixed.is_some() {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        panic!("the capped broker did not start:\n{said}");
    }
}

impl CappedBroker {
    fn endpoint(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.port)
    }

    /// Waits until the broker has exited by itself.
    async fn exited(&mut self, why: &str) -> std::process::ExitStatus {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(Instant::now() < deadline, "the broker kept running ({why})");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn counter(&self, name: &str) -> u64 {
        let report = canopy_client::admin::stats(&self.endpoint(), DEADLINE)
            .await
            .expect("stats");
        report.counters[name]
    }
}

impl Drop for CappedBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_stops_the_broker_and_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    // Room for the empty database and a little more.
    let mut broker = CappedBroker::start(&data, 4096);
    let mut o =
        canopy_client::NodeOptions::new(&format!("tcp://127.0.0.1:{}", broker.port), "writer", "");
    o = o.request_timeout(Duration::from_secs(5));
    let n = canopy_client::Node::connect(o).await.unwrap();
    let store = n.store("default").await.unwrap();
    let value = "x".repeat(4096);
    let mut acknowledged = Vec::new();
    let mut refusal = None;
    for i in 0..10_000 {
        match store.put(&Level::root(), &format!("k{i:05}"), &value).await {
            Ok(_) => acknowledged.push(i),
            Err(e) => {
                refusal = Some(e.to_string());
                break;
            }
        }
    }
    let refusal = refusal.expect("the disk filled up");
    assert!(!acknowledged.is_empty());
    // The broker stops by itself, with a clear error.
    let deadline = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(s) = broker.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "the broker kept running after a failed commit ({refusal})"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(!status.success());
    let mut stderr = String::new();
    std::io::Read::read_to_string(broker.child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("storage failed"), "{stderr}");
    drop(n);
    // Started again without the limit: every acknowledged write is there.
    let restarted = BrokerProcess::start_with_data(&[], |d| copy_dir(&data, d));
    let reader = node(&restarted, "reader", "").await;
    let view = reader.store("default").await.unwrap();
    let missing: Vec<_> = acknowledged
        .iter()
        .filter(|i| view.get::<String>(&format!("k{i:05}")).unwrap().is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged writes lost: {missing:?}",
        missing.len()
    );
    eprintln!(
        "{} writes acknowledged before the disk filled; refusal: {refusal}",
        acknowledged.len()
    );
}

/// A damage to the database file, from `seed`.
fn damage(file: &Path, seed: u64) -> String {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let len = std::fs::metadata(file).unwrap().len();
    if rng.gen_bool(0.4) {
        // Inside a stored value: a byte of some "v123" changes.
        let mut bytes = std::fs::read(file).unwrap();
        let spots: Vec<usize> = bytes
            .windows(3)
            .enumerate()
            .filter(|(_, w)| w[0] == b'v' && w[1].is_ascii_digit() && w[2].is_ascii_digit())
            .map(|(i, _)| i + 1)
            .collect();
        let at = spots[rng.gen_range(0..spots.len())];
        bytes[at] ^= 0x01;
        std::fs::write(file, bytes).unwrap();
        return format!("a value byte flipped at {at}");
    }
    if rng.gen_bool(0.5) {
        let to = rng.gen_range(0..len);
        let f = std::fs::OpenOptions::new().write(true).open(file).unwrap();
        f.set_len(to).unwrap();
        format!("truncated from {len} to {to} bytes")
    } else {
        let mut bytes = std::fs::read(file).unwrap();
        let mut at = Vec::new();
        for _ in 0..8 {
            let i = rng.gen_range(0..bytes.len());
            bytes[i] ^= 1 << rng.gen_range(0..8);
            at.push(i);
        }
        std::fs::write(file, bytes).unwrap();
        format!("bits flipped at {at:?}")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_data_file_is_refused_or_recovered_to_a_commit_never_served_partial() {
    const KEYS: usize = 300;
    let mut broker = BrokerProcess::start(&[]);
    let writer = node(&broker, "writer", "").await;
    let store = writer.store("default").await.unwrap();
    for i in 0..KEYS {
        store
            .put(&Level::root(), &format!("k{i:04}"), &format!("v{i}"))
            .await
            .unwrap();
    }
    drop((store, writer));
    // Once after a clean stop (redb then trusts the file as it is) and once
    // after kill -9 (redb repairs it at the next start).
    broker.terminate();
    let clean = tempfile::tempdir().unwrap();
    copy_dir(&broker.data_dir, clean.path());
    broker.restart();
    broker.kill9();
    let crashed = tempfile::tempdir().unwrap();
    copy_dir(&broker.data_dir, crashed.path());
    let seeds: Vec<u64> = match std::env::var("CANOPY_DAMAGE_SEED") {
        Ok(s) => vec![s.parse().unwrap()],
        Err(_) => (1..=12).collect(),
    };
    let mut problems = Vec::new();
    for seed in seeds {
        let dir = tempfile::tempdir().unwrap();
        let (pristine, how) = if seed % 2 == 0 {
            (clean.path(), "clean stop")
        } else {
            (crashed.path(), "kill -9")
        };
        copy_dir(pristine, dir.path());
        let what = format!("{how}, {}", damage(&dir.path().join("state.redb"), seed));
        match BrokerProcess::try_start_with_data(&[], |d| copy_dir(dir.path(), d)) {
            Err(full) => {
                // The error, after the log lines.
                let why = full
                    .lines()
                    .rev()
                    .find(|l| l.contains("state database"))
                    .map(str::to_owned);
                eprintln!("seed {seed}: {what}: refused: {why:?}");
                if why
                    .as_deref()
                    .is_none_or(|w| !w.contains("is damaged") || !w.contains("--restore"))
                {
                    problems.push(format!(
                        "seed {seed} ({what}): refused without saying the state database is damaged: {full}"
                    ));
                }
            }
            Ok(b) => {
                let reader = node(&b, "reader", "").await;
                let view = reader.store("default").await.unwrap().view();
                // Writes were acknowledged one at a time, in order: a good
                // commit holds exactly k0..kj with their values.
                let n = view.len();
                let prefix = (0..n).all(|i| {
                    view.get(&format!("k{i:04}"))
                        .and_then(|e| rmp_serde::from_slice::<String>(&e.value).ok())
                        == Some(format!("v{i}"))
                });
                let said = b.stderr().contains("repair") || n == KEYS;
                eprintln!(
                    "seed {seed}: {what}: started with {n} keys, prefix {prefix}, said {said}"
                );
                if !prefix {
                    problems.push(format!(
                        "seed {seed} ({what}): served a state no commit had ({n} keys)"
                    ));
                } else if n < KEYS && !said {
                    problems.push(format!(
                        "seed {seed} ({what}): lost commits silently ({n} of {KEYS})"
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A failed commit is a crash to the levels' history (PROTOCOL.md 12.1):
/// the broker had published a change it never committed. After the restart
/// the level the replica saw that change in comes back in full, without
/// it; every level the replica holds as it was committed is taken over
/// under the new history, with no key sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_failed_commit_a_replica_keeps_only_what_was_committed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let mut broker = CappedBroker::start(&data, 4096);
    let endpoint = broker.endpoint();
    let options = |name: &str| {
        canopy_client::NodeOptions::new(&endpoint, name, "g")
            .request_timeout(Duration::from_secs(5))
            .connect_timeout(DEADLINE)
    };
    let writer = canopy_client::Node::connect(options("writer"))
        .await
        .unwrap();
    let store = writer.store("default").await.unwrap();
    let group = Level::parse("g", false).unwrap();
    for k in 0..20u32 {
        store.put(&group, &format!("calm{k:02}"), &k).await.unwrap();
    }
    let reader = canopy_client::Node::connect(options("reader"))
        .await
        .unwrap();
    let replica = reader.store("default").await.unwrap();
    eventually_reads("the group level", &replica, "calm19", |v: Option<u32>| {
        v == Some(19)
    })
    .await;

    // Fill the root level one acknowledged write at a time until a commit
    // fails: the refused write is the one change published, not committed.
    let value = "x".repeat(4096);
    let mut refused = None;
    for i in 0..10_000 {
        if store
            .put(&Level::root(), &format!("k{i:05}"), &value)
            .await
            .is_err()
        {
            refused = Some(format!("k{i:05}"));
            break;
        }
    }
    let refused = refused.expect("the disk filled up");
    eventually_reads(
        "the refused write's KVPUB at the replica",
        &replica,
        &refused,
        |v: Option<String>| v.is_some(),
    )
    .await;
    let status = broker.exited("after a failed commit").await;
    assert!(!status.success());
    // Only the reader's replica comes back to the restarted broker.
    tokio::time::timeout(DEADLINE, writer.close())
        .await
        .expect("the writer closes while the broker is down");

    let port = broker.port;
    let broker = CappedBroker::start_on(&data, 1 << 20, Some(port));
    eventually_reads(
        "the lost change gone from the replica",
        &replica,
        &refused,
        |v: Option<String>| v.is_none(),
    )
    .await;
    let checker = canopy_client::Node::connect(options("checker"))
        .await
        .unwrap();
    let truth = checker.store("default").await.unwrap();
    eventually("the replica equal to the broker", || {
        let (held, now) = (replica.keys(""), truth.keys(""));
        async move { (held == now && !held.is_empty()).then_some(()) }
    })
    .await;
    assert_eq!(truth.get::<u32>("calm19").unwrap(), Some(19));
    // root was past its commit; the group level and the node's own level
    // (never written) were as committed.
    let kept = replica.levels().len() as u64 - 1;
    assert_eq!(broker.counter("snapshots_taken_over").await, kept);
    assert_eq!(broker.counter("snapshots_unchanged").await, kept);
    checker.close().await;
}
