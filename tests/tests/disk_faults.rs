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
    fn start(data_dir: &Path, max_file_kib: u64) -> CappedBroker {
        let port = free_base_port();
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "trap '' XFSZ; ulimit -f {}; exec \"$0\" \"$@\"",
                max_file_kib
            ))
            .arg(broker_bin())
            .args(["--port", &port.to_string(), "--data-dir"])
            .arg(data_dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut ready = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut ready)
            .unwrap();
        assert!(ready.starts_with("canopy-broker ready"), "{ready}");
        CappedBroker { child, port }
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
    o.request_timeout = Duration::from_secs(5);
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
