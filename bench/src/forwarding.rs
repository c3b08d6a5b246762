//! Forwarding throughput: one publisher, N subscribers, one forwarder.

use crate::target::{Kind, Target, HWM};
use canopy_schemas::header::{EventHeader, FLAG_MSGPACK};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Prefix every benchmark subscriber holds (a canopy group-level topic, which
/// the proxy forwards just the same).
const PREFIX: &[u8] = b"@bench/:";
const WARMUP_TOPIC: &[u8] = b"@bench/:w";
const MEASURE_TOPIC: &[u8] = b"@bench/:m";
/// Silence after which a subscriber stops waiting for stragglers.
const IDLE: Duration = Duration::from_millis(500);
/// Most messages the publisher lets be in flight ahead of the slowest
/// subscriber. Below every high-water mark, so neither the publisher's socket
/// nor the forwarder drops: the run measures sustained forwarding, and any
/// loss it reports is the forwarder's.
const WINDOW: u64 = 20_000;

/// What to measure.
pub struct Spec {
    /// Subscriber count.
    pub subscribers: usize,
    /// Payload size in bytes.
    pub payload: usize,
    /// Messages published.
    pub messages: u64,
}

/// What one run measured.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    /// Delivered messages (all subscribers) per second.
    pub msgs_per_s: f64,
    /// Delivered payload megabytes per second.
    pub mb_per_s: f64,
    /// Messages published but not delivered, summed over subscribers.
    pub lost: u64,
    /// `/metrics` scrapes answered during the run (scraped targets only).
    pub scrapes: u64,
}

/// A valid canopy event header, so both forwarders carry identical frames.
pub fn bench_header() -> Vec<u8> {
    EventHeader {
        flags: FLAG_MSGPACK,
        sequence: 0,
        timestamp_ns: 0,
        publisher: "bench/pub".into(),
    }
    .encode()
    .unwrap_or_default()
}

/// Runs `repeat` times and keeps the best rate.
pub fn best_of(kind: Kind, spec: &Spec, repeat: usize) -> anyhow::Result<Outcome> {
    let mut best: Option<Outcome> = None;
    for _ in 0..repeat.max(1) {
        let o = run(kind, spec)?;
        if best.is_none_or(|b| o.msgs_per_s > b.msgs_per_s) {
            best = Some(o);
        }
    }
    best.ok_or_else(|| anyhow::anyhow!("no run"))
}

/// Connects a SUB to `xpub` and counts until `messages` arrived or the
/// publisher is done and the line went quiet. Returns (count, last arrival).
pub fn subscriber(
    ctx: &zmq::Context,
    target: &Target,
    messages: u64,
    warm: Arc<AtomicUsize>,
    done: Arc<AtomicBool>,
    progress: Arc<AtomicU64>,
) -> anyhow::Result<impl FnOnce() -> (u64, Option<Instant>)> {
    let sub = target.socket(ctx, zmq::SUB)?;
    sub.set_rcvhwm(HWM)?;
    sub.set_subscribe(PREFIX)?;
    sub.set_rcvtimeo(IDLE.as_millis() as i32)?;
    sub.connect(&target.xpub)?;
    Ok(move || {
        let mut topic = zmq::Message::new();
        let mut rest = zmq::Message::new();
        let (mut count, mut last, mut warmed) = (0u64, None, false);
        loop {
            match sub.recv(&mut topic, 0) {
                Ok(()) => {}
                Err(_) if done.load(Ordering::Acquire) => break,
                Err(_) => continue,
            }
            while sub.get_rcvmore().unwrap_or(false) {
                if sub.recv(&mut rest, 0).is_err() {
                    break;
                }
            }
            if &topic[..] == MEASURE_TOPIC {
                count += 1;
                progress.store(count, Ordering::Relaxed);
                last = Some(Instant::now());
                if count == messages {
                    break;
                }
            } else if !warmed {
                warmed = true;
                warm.fetch_add(1, Ordering::AcqRel);
            }
        }
        (count, last)
    })
}

/// Sends warm-up messages until every subscriber has one: subscriptions have
/// then reached the publisher through the forwarder.
pub fn warm_up(
    publisher: &zmq::Socket,
    header: &[u8],
    warm: &AtomicUsize,
    subscribers: usize,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while warm.load(Ordering::Acquire) < subscribers {
        anyhow::ensure!(
            Instant::now() < deadline,
            "subscribers never saw the warm-up"
        );
        publisher.send(WARMUP_TOPIC, zmq::SNDMORE)?;
        publisher.send(header, zmq::SNDMORE)?;
        publisher.send(&b""[..], 0)?;
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

/// One run.
pub fn run(kind: Kind, spec: &Spec) -> anyhow::Result<Outcome> {
    let target = Target::start(kind)?;
    let ctx = zmq::Context::new();
    let warm = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let results = Arc::new(Mutex::new(Vec::new()));
    let progress: Vec<Arc<AtomicU64>> = (0..spec.subscribers)
        .map(|_| Arc::new(AtomicU64::new(0)))
        .collect();
    let mut threads = Vec::new();
    for p in &progress {
        let work = subscriber(
            &ctx,
            &target,
            spec.messages,
            Arc::clone(&warm),
            Arc::clone(&done),
            Arc::clone(p),
        )?;
        let results = Arc::clone(&results);
        threads.push(std::thread::spawn(move || {
            let r = work();
            results.lock().unwrap_or_else(|e| e.into_inner()).push(r);
        }));
    }
    let publisher = target.socket(&ctx, zmq::PUB)?;
    publisher.set_sndhwm(HWM)?;
    publisher.set_linger(0)?;
    publisher.connect(&target.xsub)?;
    let header = bench_header();
    warm_up(&publisher, &header, &warm, spec.subscribers)?;
    // Let the warm-up messages drain so they do not count against the run.
    std::thread::sleep(Duration::from_millis(50));
    let payload = vec![0x5au8; spec.payload];
    let slowest = || {
        progress
            .iter()
            .map(|p| p.load(Ordering::Relaxed))
            .min()
            .unwrap_or(0)
    };
    let stall_limit = Duration::from_secs(5);
    let start = Instant::now();
    for sent in 0..spec.messages {
        if sent % 1024 == 0 {
            // Flow control; gives up waiting if the forwarder lost messages.
            let since = Instant::now();
            while sent - slowest().min(sent) > WINDOW && since.elapsed() < stall_limit {
                std::thread::yield_now();
            }
        }
        publisher.send(MEASURE_TOPIC, zmq::SNDMORE)?;
        publisher.send(&header[..], zmq::SNDMORE)?;
        publisher.send(&payload[..], 0)?;
    }
    done.store(true, Ordering::Release);
    for t in threads {
        let _ = t.join();
    }
    let scrapes = target.scrapes.load(Ordering::Relaxed);
    drop(target);
    let results = results.lock().unwrap_or_else(|e| e.into_inner());
    let delivered: u64 = results.iter().map(|r| r.0).sum();
    let end = results.iter().filter_map(|r| r.1).max().unwrap_or(start);
    let secs = end.duration_since(start).as_secs_f64().max(1e-9);
    let expected = spec.messages * spec.subscribers as u64;
    Ok(Outcome {
        msgs_per_s: delivered as f64 / secs,
        mb_per_s: delivered as f64 * spec.payload as f64 / secs / 1e6,
        lost: expected.saturating_sub(delivered),
        scrapes,
    })
}
