//! NATS as a reference for `--lossless --nats` (issue 17 asks canopy to
//! reach at least NATS): a `nats-server` started per trial on a free loopback port,
//! async-nats clients for the publisher and each subscriber, and the same
//! workloads, pacing and loss count as the ZeroMQ trials. Subjects mirror
//! the topics: `bench.m` (or `bench.pNN.m` by prefix), warm-up on `.w`,
//! subscribers on `bench.>` (or `bench.pNN.>`).

use crate::workload::{Schedule, Workload};
use anyhow::Context;
use futures_util::StreamExt;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Messages a subscriber's client buffers (as the ZeroMQ sockets' HWM).
const CAPACITY: usize = 100_000;
/// Silence after which a subscriber stops waiting for stragglers (as the
/// ZeroMQ trials).
const IDLE: Duration = Duration::from_millis(500);

/// `nats-server` from `arg`: a path, or `auto` for the one on PATH.
pub fn server_binary(arg: &str) -> anyhow::Result<PathBuf> {
    if arg != "auto" {
        let path = PathBuf::from(arg);
        anyhow::ensure!(path.is_file(), "no nats-server at {}", path.display());
        return Ok(path);
    }
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join("nats-server"))
        .find(|p| p.is_file())
        .context(
            "no nats-server on PATH (Debian: apt-get install nats-server), or give --nats PATH",
        )
}

/// A running nats-server, killed on drop.
struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(binary: &Path) -> anyhow::Result<Server> {
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let child = Command::new(binary)
        .args(["-a", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let server = Server {
        child,
        url: format!("nats://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        anyhow::ensure!(Instant::now() < deadline, "nats-server did not listen");
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(server)
}

fn subjects(w: &Workload, subscriber: usize) -> (String, String, String) {
    let base = if w.by_prefix {
        format!("bench.p{subscriber:02}")
    } else {
        "bench".to_owned()
    };
    (
        format!("{base}.>"),
        format!("{base}.m"),
        format!("{base}.w"),
    )
}

/// Messages lost in one trial at `rate` for `seconds` through a fresh
/// nats-server.
pub fn trial(binary: &Path, w: &Workload, rate: f64, seconds: f64) -> anyhow::Result<u64> {
    let server = start(binary)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let lost = runtime.block_on(paced(&server.url, w, rate, seconds));
    drop(runtime);
    drop(server);
    lost
}

async fn paced(url: &str, w: &Workload, rate: f64, seconds: f64) -> anyhow::Result<u64> {
    let total = Schedule::total(rate, seconds);
    let groups = w.groups();
    let warm = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let mut counting = Vec::new();
    for i in 0..w.subscribers {
        let client = async_nats::ConnectOptions::new()
            .subscription_capacity(CAPACITY)
            .connect(url)
            .await
            .context("connecting a subscriber")?;
        let (filter, measure, _) = subjects(w, i);
        let mut sub = client.subscribe(filter).await?;
        client.flush().await?;
        let expected = w.expected(i, total);
        let (warm, done) = (Arc::clone(&warm), Arc::clone(&done));
        counting.push(tokio::spawn(async move {
            let _client = client;
            let (mut count, mut warmed) = (0u64, false);
            loop {
                match tokio::time::timeout(IDLE, sub.next()).await {
                    Ok(Some(msg)) if msg.subject.as_str() == measure => {
                        count += 1;
                        if count == expected {
                            break;
                        }
                    }
                    Ok(Some(_)) => {
                        if !warmed {
                            warmed = true;
                            warm.fetch_add(1, Ordering::AcqRel);
                        }
                    }
                    Ok(None) => break,
                    Err(_) if done.load(Ordering::Acquire) => break,
                    Err(_) => {}
                }
            }
            count
        }));
    }
    let publisher = async_nats::connect(url)
        .await
        .context("connecting the publisher")?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while warm.load(Ordering::Acquire) < w.subscribers {
        anyhow::ensure!(Instant::now() < deadline, "subscribers never warmed up");
        for g in 0..groups {
            publisher
                .publish(subjects(w, g).2, bytes::Bytes::new())
                .await?;
        }
        publisher.flush().await?;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let measure: Vec<String> = (0..groups).map(|g| subjects(w, g).1).collect();
    // The same bytes as the ZeroMQ trials carry in their header and payload.
    let payload = bytes::Bytes::from(vec![0x5au8; w.payload + 20]);
    let schedule = Schedule::start(rate, seconds);
    let mut sent = 0u64;
    while sent < total {
        let due = schedule.due();
        while sent < due {
            let subject = &measure[(sent % groups as u64) as usize];
            publisher.publish(subject.clone(), payload.clone()).await?;
            sent += 1;
        }
        if sent < total {
            tokio::time::sleep(Duration::from_micros(100)).await;
        }
    }
    publisher.flush().await?;
    // The client waits (rather than drops) when the connection is full: a
    // rate it could not keep to was not offered.
    let behind = schedule.fell_behind();
    done.store(true, Ordering::Release);
    let mut delivered = 0u64;
    for c in counting {
        delivered += c.await.unwrap_or(0);
    }
    let lost = w.expected_total(total).saturating_sub(delivered);
    Ok(if behind { lost.max(1) } else { lost })
}
