//! Lossless capacity (issue 17): the highest paced publish rate at which a
//! forwarder loses nothing, found by bisection, for canopy with its default
//! configuration, canopy at the proxy's high-water mark, and a bare libzmq
//! proxy, in the same run. This, not the unpaced peak, is what a deployment
//! is sized by.
//!
//! A rate counts as lossless when at least `need` of `repeats` trials at it
//! deliver every message to every subscriber.

use crate::forwarding::bench_header;
use crate::target::{Kind, Target, HWM};
use crate::workload::{Schedule, Workload, WORKLOADS};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Silence after which a subscriber stops waiting for stragglers.
const IDLE: Duration = Duration::from_millis(500);

/// How hard to look.
#[derive(Debug, Clone)]
pub struct Search {
    /// Seconds of paced publishing per trial.
    pub seconds: f64,
    /// Trials per rate.
    pub repeats: usize,
    /// Lossless trials a rate needs.
    pub need: usize,
    /// The first rate tried (doubled until one loses).
    pub start: f64,
    /// The highest rate tried.
    pub max: f64,
    /// Bisection steps between the last lossless and the first lossy rate.
    pub steps: usize,
    /// A nats-server binary: also measure NATS as a reference.
    pub nats: Option<std::path::PathBuf>,
}

impl Default for Search {
    fn default() -> Self {
        Search {
            seconds: 2.0,
            repeats: 3,
            need: 2,
            start: 62_500.0,
            max: 4_000_000.0,
            steps: 4,
            nats: None,
        }
    }
}

/// One row: a workload's lossless rates, publisher messages per second.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row {
    /// Always "lossless".
    pub kind: String,
    /// The workload.
    pub workload: String,
    /// The bare proxy (HWM 100,000).
    pub proxy: f64,
    /// canopy with its default configuration.
    pub canopy_default: f64,
    /// canopy with send and receive HWM 100,000, as the proxy.
    pub canopy_equal_hwm: f64,
    /// canopy_default / proxy.
    pub ratio_default: f64,
    /// canopy_equal_hwm / proxy.
    pub ratio_equal_hwm: f64,
    /// NATS (nats-server with async-nats clients), when measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nats: Option<f64>,
    /// canopy_default / NATS, when measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio_default_to_nats: Option<f64>,
}

/// The topic a subscriber holds and the one measured messages carry.
fn topics(w: &Workload, subscriber: usize) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let base = if w.by_prefix {
        format!("@bench/:p{subscriber:02}")
    } else {
        "@bench/:".to_owned()
    };
    let prefix = base.clone().into_bytes();
    let measure = format!("{base}m").into_bytes();
    let warm = format!("{base}w").into_bytes();
    (prefix, measure, warm)
}

/// Messages lost in one trial at `rate` for `seconds`.
pub fn trial(kind: Kind, w: &Workload, rate: f64, seconds: f64) -> anyhow::Result<u64> {
    let target = Target::start(kind)?;
    let ctx = zmq::Context::new();
    let total = Schedule::total(rate, seconds);
    let groups = w.groups();
    let warm = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let delivered = Arc::new(AtomicU64::new(0));
    let mut threads = Vec::new();
    for i in 0..w.subscribers {
        let sub = target.socket(&ctx, zmq::SUB)?;
        sub.set_rcvhwm(HWM)?;
        let (prefix, measure, _) = topics(w, i);
        sub.set_subscribe(&prefix)?;
        sub.set_rcvtimeo(IDLE.as_millis() as i32)?;
        sub.connect(&target.xpub)?;
        let expected = w.expected(i, total);
        let (warm, done, delivered) = (warm.clone(), done.clone(), delivered.clone());
        threads.push(std::thread::spawn(move || {
            let (mut topic, mut rest) = (zmq::Message::new(), zmq::Message::new());
            let (mut count, mut warmed) = (0u64, false);
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
                if topic[..] == measure[..] {
                    count += 1;
                    if count == expected {
                        break;
                    }
                } else if !warmed {
                    warmed = true;
                    warm.fetch_add(1, Ordering::AcqRel);
                }
            }
            delivered.fetch_add(count, Ordering::Relaxed);
        }));
    }
    let publisher = target.socket(&ctx, zmq::PUB)?;
    publisher.set_sndhwm(HWM)?;
    publisher.set_linger(0)?;
    publisher.connect(&target.xsub)?;
    let header = bench_header();
    // Warm up every subscriber's prefix: subscriptions have then reached
    // the publisher through the forwarder.
    let deadline = Instant::now() + Duration::from_secs(20);
    while warm.load(Ordering::Acquire) < w.subscribers {
        anyhow::ensure!(Instant::now() < deadline, "subscribers never warmed up");
        for g in 0..groups {
            publisher.send(topics(w, g).2, zmq::SNDMORE)?;
            publisher.send(&header[..], zmq::SNDMORE)?;
            publisher.send(&b""[..], 0)?;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(50));
    let measure: Vec<Vec<u8>> = (0..groups).map(|g| topics(w, g).1).collect();
    let payload = vec![0x5au8; w.payload];
    let schedule = Schedule::start(rate, seconds);
    let mut sent = 0u64;
    while sent < total {
        // Paced: as many as the schedule allows by now, then a short nap.
        let due = schedule.due();
        while sent < due {
            let topic = &measure[(sent % groups as u64) as usize];
            publisher.send(&topic[..], zmq::SNDMORE)?;
            publisher.send(&header[..], zmq::SNDMORE)?;
            publisher.send(&payload[..], 0)?;
            sent += 1;
        }
        if sent < total {
            std::thread::sleep(Duration::from_micros(100));
        }
    }
    let behind = schedule.fell_behind();
    done.store(true, Ordering::Release);
    for t in threads {
        let _ = t.join();
    }
    drop(target);
    let lost = w
        .expected_total(total)
        .saturating_sub(delivered.load(Ordering::Relaxed));
    Ok(if behind { lost.max(1) } else { lost })
}

/// True when at least `need` of `repeats` trials at `rate` lose nothing.
fn lossless(
    trial_at: &dyn Fn(f64) -> anyhow::Result<u64>,
    rate: f64,
    s: &Search,
) -> anyhow::Result<bool> {
    let (mut clean, mut tried) = (0, 0);
    while tried < s.repeats {
        if trial_at(rate)? == 0 {
            clean += 1;
        }
        tried += 1;
        if clean >= s.need {
            return Ok(true);
        }
        if clean + (s.repeats - tried) < s.need {
            return Ok(false);
        }
    }
    Ok(clean >= s.need)
}

/// The highest lossless rate of `trial_at` found: doubling from `start`
/// until a rate loses, then bisecting.
fn capacity_of(trial_at: &dyn Fn(f64) -> anyhow::Result<u64>, s: &Search) -> anyhow::Result<f64> {
    let (mut ok, mut bad) = (0.0f64, None);
    let mut rate = s.start;
    while rate <= s.max {
        if lossless(trial_at, rate, s)? {
            ok = rate;
            rate *= 2.0;
        } else {
            bad = Some(rate);
            break;
        }
    }
    let Some(mut bad) = bad else {
        return Ok(ok);
    };
    for _ in 0..s.steps {
        let mid = (ok + bad) / 2.0;
        if lossless(trial_at, mid, s)? {
            ok = mid;
        } else {
            bad = mid;
        }
    }
    Ok(ok)
}

/// The highest lossless rate through `kind`.
pub fn capacity(kind: Kind, w: &Workload, s: &Search) -> anyhow::Result<f64> {
    capacity_of(&|rate| trial(kind, w, rate, s.seconds), s)
}

/// Measures one workload on the three targets.
pub fn row(w: &Workload, s: &Search) -> anyhow::Result<Row> {
    let proxy = capacity(Kind::Proxy, w, s)?;
    let canopy_default = capacity(Kind::CanopyDefaults, w, s)?;
    let canopy_equal_hwm = capacity(Kind::Canopy, w, s)?;
    let nats = match &s.nats {
        Some(binary) => Some(capacity_of(
            &|rate| crate::nats::trial(binary, w, rate, s.seconds),
            s,
        )?),
        None => None,
    };
    let ratio = |v: f64| if proxy > 0.0 { v / proxy } else { 0.0 };
    Ok(Row {
        kind: "lossless".into(),
        workload: w.name.into(),
        proxy,
        canopy_default,
        canopy_equal_hwm,
        ratio_default: ratio(canopy_default),
        ratio_equal_hwm: ratio(canopy_equal_hwm),
        ratio_default_to_nats: nats.map(|n| if n > 0.0 { canopy_default / n } else { 0.0 }),
        nats,
    })
}

/// `canopy-bench --lossless`: every workload, as a table or JSON lines.
pub fn run(s: &Search, json: bool, only: Option<&str>) -> anyhow::Result<Vec<Row>> {
    if !json {
        println!(
            "lossless publish rate (msg/s; a rate counts when {} of {} trials of {:.1} s lose nothing)",
            s.need, s.repeats, s.seconds
        );
        println!(
            "{:<22} | {:>11} | {:>14} {:>6} | {:>14} {:>6}{}",
            "workload",
            "proxy",
            "canopy default",
            "ratio",
            "canopy hwm 100k",
            "ratio",
            if s.nats.is_some() {
                " |        NATS  canopy/NATS"
            } else {
                ""
            }
        );
    }
    let mut rows = Vec::new();
    for w in WORKLOADS
        .iter()
        .filter(|w| only.is_none_or(|o| o == w.name))
    {
        let r = row(w, s)?;
        if json {
            println!("{}", serde_json::to_string(&r)?);
        } else {
            let nats = match (r.nats, r.ratio_default_to_nats) {
                (Some(n), Some(x)) => format!(" | {n:>11.0} {x:>11.2}x"),
                _ => String::new(),
            };
            println!(
                "{:<22} | {:>11.0} | {:>14.0} {:>5.2}x | {:>14.0} {:>5.2}x{nats}",
                r.workload,
                r.proxy,
                r.canopy_default,
                r.ratio_default,
                r.canopy_equal_hwm,
                r.ratio_equal_hwm
            );
        }
        rows.push(r);
    }
    Ok(rows)
}
