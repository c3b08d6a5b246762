//! Latency at a paced rate: one publisher, one subscriber, send time in the
//! payload.

use crate::forwarding::{bench_header, warm_up};
use crate::target::{Kind, Target, HWM};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Percentiles of one measurement.
pub struct Latency {
    /// Samples received.
    pub samples: usize,
    /// Median, microseconds.
    pub p50_us: f64,
    /// 99th percentile, microseconds.
    pub p99_us: f64,
}

/// Publishes `rate` messages/s for `seconds` and measures one-way latency.
pub fn measure(kind: Kind, rate: u64, seconds: f64) -> anyhow::Result<Latency> {
    let target = Target::start(kind)?;
    let ctx = zmq::Context::new();
    let base = Instant::now();
    let sub = target.socket(&ctx, zmq::SUB)?;
    sub.set_rcvhwm(HWM)?;
    sub.set_subscribe(b"@bench/:")?;
    sub.set_rcvtimeo(500)?;
    sub.connect(&target.xpub)?;
    let warm = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let (warm2, done2) = (Arc::clone(&warm), Arc::clone(&done));
    let receiver = std::thread::spawn(move || {
        let mut samples = Vec::new();
        let mut warmed = false;
        loop {
            let frames = match sub.recv_multipart(0) {
                Ok(f) => f,
                Err(_) if done2.load(Ordering::Acquire) => break,
                Err(_) => continue,
            };
            let now = base.elapsed().as_nanos() as u64;
            if frames.len() == 3 && frames[0] == b"@bench/:m" && frames[2].len() == 8 {
                let mut sent = [0u8; 8];
                sent.copy_from_slice(&frames[2]);
                samples.push(now.saturating_sub(u64::from_be_bytes(sent)));
            } else if !warmed {
                warmed = true;
                warm2.fetch_add(1, Ordering::AcqRel);
            }
        }
        samples
    });
    let publisher = target.socket(&ctx, zmq::PUB)?;
    publisher.set_sndhwm(HWM)?;
    publisher.set_linger(0)?;
    publisher.connect(&target.xsub)?;
    let header = bench_header();
    warm_up(&publisher, &header, &warm, 1)?;
    std::thread::sleep(Duration::from_millis(50));
    let total = (rate as f64 * seconds) as u64;
    let interval = Duration::from_secs_f64(1.0 / rate.max(1) as f64);
    let start = Instant::now();
    for i in 0..total {
        let due = start + interval * i as u32;
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        let stamp = base.elapsed().as_nanos() as u64;
        publisher.send(&b"@bench/:m"[..], zmq::SNDMORE)?;
        publisher.send(&header[..], zmq::SNDMORE)?;
        publisher.send(&stamp.to_be_bytes()[..], 0)?;
    }
    done.store(true, Ordering::Release);
    let mut samples = receiver
        .join()
        .map_err(|_| anyhow::anyhow!("receiver thread panicked"))?;
    drop(target);
    anyhow::ensure!(!samples.is_empty(), "no latency samples");
    samples.sort_unstable();
    let pick = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize] as f64 / 1000.0;
    Ok(Latency {
        samples: samples.len(),
        p50_us: pick(0.50),
        p99_us: pick(0.99),
    })
}
