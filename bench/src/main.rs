//! `canopy-bench`: event forwarding through a canopy broker and, in the same
//! run, through a bare libzmq XSUB→XPUB proxy (`zmq::proxy`), with the same
//! publishers, subscribers, frames and high-water marks. Prints delivered
//! messages/s, MB/s, losses and canopy's rate as a ratio of the proxy's, then
//! latency at a paced rate.

mod chart;
mod forwarding;
mod latency;
mod lossless;
mod nats;
mod redis;
mod scale;
mod scrape;
mod smoke;
mod state;
mod target;
mod tiers;
mod workload;

use clap::Parser;
use serde::Serialize;

/// Benchmark canopy event forwarding against a bare libzmq proxy.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Messages each run publishes.
    #[arg(long, default_value_t = 200_000)]
    messages: u64,
    /// Subscriber counts to try.
    #[arg(long, value_delimiter = ',', default_values_t = vec![1, 4, 16])]
    subscribers: Vec<usize>,
    /// Payload sizes to try, in bytes.
    #[arg(long, value_delimiter = ',', default_values_t = vec![64, 1024])]
    payloads: Vec<usize>,
    /// Runs per row and target; the best run counts (least disturbed by the machine).
    #[arg(long, default_value_t = 5)]
    repeat: usize,
    /// Rate for the latency measurement, messages/s.
    #[arg(long, default_value_t = 10_000)]
    latency_rate: u64,
    /// Seconds of paced publishing for the latency measurement.
    #[arg(long, default_value_t = 3.0)]
    latency_seconds: f64,
    /// One JSON object per row instead of a table.
    #[arg(long)]
    json: bool,
    /// Benchmark the state plane (acknowledged writes, snapshot, memory,
    /// restart) instead of event forwarding.
    #[arg(long)]
    state: bool,
    /// Keys loaded for the state snapshot, memory and restart figures.
    #[arg(long, default_value_t = 1_000_000)]
    keys: u64,
    /// Acknowledged writes per write-rate figure (shared by its writers).
    #[arg(long, default_value_t = 200_000)]
    writes: u64,
    /// With --state: also measure Redis in the same run (a folder holding
    /// redis-server and redis-benchmark, or "auto" for the ones on PATH):
    /// SET with appendfsync everysec and always, 4 clients x 64 pipelined.
    #[arg(long, value_name = "DIR|auto")]
    redis: Option<String>,
    /// Also measure canopy with CURVE on against CURVE off (one row per
    /// subscriber count and payload).
    #[arg(long)]
    curve: bool,
    /// Lossless capacity: for each workload, the highest paced rate with
    /// zero loss for the bare proxy, canopy with its defaults and canopy at
    /// the proxy's HWM, found by bisection (a rate counts when 2 of 3 trials
    /// lose nothing), and their ratios.
    #[arg(long)]
    lossless: bool,
    /// With --lossless: seconds of paced publishing per trial.
    #[arg(long, default_value_t = 2.0)]
    trial_seconds: f64,
    /// With --lossless: also measure NATS (a nats-server binary, or "auto"
    /// for the one on PATH) with async-nats clients, in the same run.
    #[arg(long, value_name = "PATH|auto")]
    nats: Option<String>,
    /// With --lossless: only this workload (e.g. "64B 1->4").
    #[arg(long)]
    workload: Option<String>,
    /// With --lossless: a short run of one workload (64B 1->1, 0.5 s trials,
    /// fewer steps) compared with the ratios in --baseline; exits non-zero
    /// only on a large regression. What CI runs.
    #[arg(long, requires = "baseline")]
    smoke: bool,
    /// The committed baseline for --smoke (bench/baseline.json).
    #[arg(long)]
    baseline: Option<std::path::PathBuf>,
    /// Benchmark a tree of brokers: events and latency through 1, 2 and 3
    /// tiers, and a snapshot served by a child (with --keys, default here
    /// 100000 when --keys is not given).
    #[arg(long)]
    tiers: bool,
    /// What monitoring costs: forwarding with the broker's /metrics scraped
    /// every 100 ms against HTTP off, --repeat pairs run back to back per
    /// workload, the median ratio.
    #[arg(long)]
    scrape_overhead: bool,
    /// Scale: simulated nodes (raw sockets from a few processes, heartbeats,
    /// 12 subscriptions and a replica of their group's level each) against
    /// one broker holding --keys keys over --groups groups: join and sync
    /// time, CPU and memory at rest, memory per node, subscription and key,
    /// and a reconnect storm after a broker restart, per --nodes count.
    #[arg(long)]
    scale: bool,
    /// With --scale: node counts to sweep.
    #[arg(long, value_delimiter = ',', default_values_t = vec![1000, 2000, 4000, 6000])]
    nodes: Vec<usize>,
    /// With --scale: groups the nodes and keys are spread over.
    #[arg(long, default_value_t = 100)]
    groups: usize,
    /// With --scale: seconds over which the broker's CPU at rest is measured.
    #[arg(long, default_value_t = 10.0)]
    steady_seconds: f64,
    /// With --scale: end the old broker of the reconnect storm with kill -9
    /// (a crash: replicas keep the levels the new history takes over as
    /// committed) instead of SIGTERM (a clean restart: replicas keep the
    /// levels the broker says are unchanged).
    #[arg(long)]
    storm_crash: bool,
    /// Also draw the table as a bar chart into this SVG file (forwarding,
    /// --lossless and --scrape-overhead).
    #[arg(long, value_name = "FILE.svg")]
    chart: Option<std::path::PathBuf>,
}

/// One row of the forwarding table.
#[derive(Debug, Serialize)]
struct ForwardingRow {
    kind: &'static str,
    subscribers: usize,
    payload_bytes: usize,
    messages: u64,
    proxy_msgs_per_s: f64,
    proxy_mb_per_s: f64,
    proxy_lost: u64,
    canopy_msgs_per_s: f64,
    canopy_mb_per_s: f64,
    canopy_lost: u64,
    ratio: f64,
}

/// The latency row.
#[derive(Debug, Serialize)]
struct LatencyRow {
    kind: &'static str,
    rate_msgs_per_s: u64,
    samples: usize,
    proxy_p50_us: f64,
    proxy_p99_us: f64,
    canopy_p50_us: f64,
    canopy_p99_us: f64,
}

/// The same allocator as `canopy-broker`, since the state benchmark runs the
/// broker inside this binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

impl Args {
    /// Every (payload, subscriber count) combination to run, payload-major.
    fn specs(&self) -> Vec<forwarding::Spec> {
        self.payloads
            .iter()
            .flat_map(|&payload| {
                self.subscribers
                    .iter()
                    .map(move |&subscribers| forwarding::Spec {
                        subscribers,
                        payload,
                        messages: self.messages,
                    })
            })
            .collect()
    }
}

fn main() -> anyhow::Result<()> {
    // The state benchmark runs the broker as a child process of this binary.
    if std::env::var_os(state::CHILD_ENV).is_some() {
        return canopy_broker::cli::main();
    }
    if let Some(spec) = std::env::var_os(scale::SIM_ENV) {
        return scale::sim_main(&spec.to_string_lossy());
    }
    let args = Args::parse();
    if args.scale {
        let spec = scale::Spec {
            nodes: args.nodes,
            keys: args.keys,
            groups: args.groups,
            steady_seconds: args.steady_seconds,
            storm_crash: args.storm_crash,
        };
        return scale::run(spec, args.json);
    }
    if args.state {
        let redis = args.redis.as_deref().map(redis::binaries).transpose()?;
        return state::run(args.keys, args.writes, redis, args.json);
    }
    if args.lossless {
        if args.smoke {
            let baseline = args.baseline.as_deref().unwrap_or(std::path::Path::new(""));
            return smoke::run(baseline, args.json);
        }
        let search = lossless::Search {
            seconds: args.trial_seconds,
            nats: args.nats.as_deref().map(nats::server_binary).transpose()?,
            ..Default::default()
        };
        let rows = lossless::run(&search, args.json, args.workload.as_deref())?;
        if let Some(path) = &args.chart {
            let groups: Vec<String> = rows.iter().map(|r| r.workload.clone()).collect();
            let series = |name: &str, f: fn(&lossless::Row) -> f64| chart::Series {
                name: name.into(),
                values: rows.iter().map(f).collect(),
            };
            let mut all = vec![
                series("bare libzmq proxy", |r| r.proxy),
                series("canopy, defaults", |r| r.canopy_default),
                series("canopy, HWM 100k", |r| r.canopy_equal_hwm),
            ];
            if rows.iter().all(|r| r.nats.is_some()) {
                all.push(series("NATS", |r| r.nats.unwrap_or(0.0)));
            }
            chart::grouped_bars(
                path,
                "Lossless capacity (highest paced rate with zero loss)",
                "published msg/s",
                &groups,
                &all,
            )?;
        }
        return Ok(());
    }
    if args.scrape_overhead {
        let rows = scrape::run(&args.specs(), args.repeat, args.json)?;
        if let Some(path) = &args.chart {
            let groups: Vec<String> = rows.iter().map(scrape::ScrapeRow::label).collect();
            chart::grouped_bars(
                path,
                "Forwarding with /metrics scraped every 100 ms (medians of paired runs)",
                "delivered msg/s",
                &groups,
                &[
                    chart::Series {
                        name: "HTTP off".into(),
                        values: rows.iter().map(|r| r.off_median_msgs_per_s).collect(),
                    },
                    chart::Series {
                        name: "scraped".into(),
                        values: rows.iter().map(|r| r.scraped_median_msgs_per_s).collect(),
                    },
                ],
            )?;
        }
        return Ok(());
    }
    if args.tiers {
        let keys = if args.keys == 1_000_000 {
            100_000
        } else {
            args.keys
        };
        return tiers::run(
            args.messages,
            args.repeat,
            args.latency_rate,
            args.latency_seconds,
            keys,
        );
    }
    let mut rows = Vec::new();
    if !args.json {
        println!(
            "{:>4} {:>7} {:>9} | {:>12} {:>8} {:>7} | {:>12} {:>8} {:>7} | {:>6}",
            "subs",
            "payload",
            "messages",
            "proxy msg/s",
            "MB/s",
            "lost",
            "canopy msg/s",
            "MB/s",
            "lost",
            "ratio"
        );
    }
    for spec in args.specs() {
        let (subs, payload) = (spec.subscribers, spec.payload);
        let proxy = forwarding::best_of(target::Kind::Proxy, &spec, args.repeat)?;
        let canopy = forwarding::best_of(target::Kind::Canopy, &spec, args.repeat)?;
        let row = ForwardingRow {
            kind: "forwarding",
            subscribers: subs,
            payload_bytes: payload,
            messages: args.messages,
            proxy_msgs_per_s: proxy.msgs_per_s,
            proxy_mb_per_s: proxy.mb_per_s,
            proxy_lost: proxy.lost,
            canopy_msgs_per_s: canopy.msgs_per_s,
            canopy_mb_per_s: canopy.mb_per_s,
            canopy_lost: canopy.lost,
            ratio: canopy.msgs_per_s / proxy.msgs_per_s.max(1.0),
        };
        if args.json {
            println!("{}", serde_json::to_string(&row)?);
        } else {
            println!(
                "{:>4} {:>7} {:>9} | {:>12.0} {:>8.1} {:>7} | {:>12.0} {:>8.1} {:>7} | {:>5.2}x",
                row.subscribers,
                row.payload_bytes,
                row.messages,
                row.proxy_msgs_per_s,
                row.proxy_mb_per_s,
                row.proxy_lost,
                row.canopy_msgs_per_s,
                row.canopy_mb_per_s,
                row.canopy_lost,
                row.ratio
            );
        }
        rows.push(row);
    }
    if let Some(path) = &args.chart {
        let groups: Vec<String> = rows
            .iter()
            .map(|r| format!("{}B 1->{}", r.payload_bytes, r.subscribers))
            .collect();
        chart::grouped_bars(
            path,
            "Forwarding (best of runs)",
            "delivered msg/s",
            &groups,
            &[
                chart::Series {
                    name: "bare libzmq proxy".into(),
                    values: rows.iter().map(|r| r.proxy_msgs_per_s).collect(),
                },
                chart::Series {
                    name: "canopy".into(),
                    values: rows.iter().map(|r| r.canopy_msgs_per_s).collect(),
                },
            ],
        )?;
    }
    if args.curve {
        curve_rows(&args)?;
    }
    let proxy = latency::measure(target::Kind::Proxy, args.latency_rate, args.latency_seconds)?;
    let canopy = latency::measure(
        target::Kind::Canopy,
        args.latency_rate,
        args.latency_seconds,
    )?;
    let row = LatencyRow {
        kind: "latency",
        rate_msgs_per_s: args.latency_rate,
        samples: canopy.samples,
        proxy_p50_us: proxy.p50_us,
        proxy_p99_us: proxy.p99_us,
        canopy_p50_us: canopy.p50_us,
        canopy_p99_us: canopy.p99_us,
    };
    if args.json {
        println!("{}", serde_json::to_string(&row)?);
    } else {
        println!();
        println!(
            "latency at {} msg/s, 1 subscriber, {} samples: proxy p50 {:.0} us p99 {:.0} us | canopy p50 {:.0} us p99 {:.0} us",
            row.rate_msgs_per_s, row.samples, row.proxy_p50_us, row.proxy_p99_us, row.canopy_p50_us, row.canopy_p99_us
        );
    }
    Ok(())
}

/// One CURVE row.
#[derive(Debug, Serialize)]
struct CurveRow {
    kind: &'static str,
    subscribers: usize,
    payload_bytes: usize,
    curve_off_msgs_per_s: f64,
    curve_on_msgs_per_s: f64,
    curve_on_lost: u64,
    ratio: f64,
}

/// canopy with CURVE on as a ratio of CURVE off, same run.
fn curve_rows(args: &Args) -> anyhow::Result<()> {
    if !args.json {
        println!();
        println!(
            "{:>4} {:>7} | {:>14} | {:>14} {:>7} | {:>6}",
            "subs", "payload", "curve off msg/s", "curve on msg/s", "lost", "ratio"
        );
    }
    for spec in args.specs() {
        let (subs, payload) = (spec.subscribers, spec.payload);
        let off = forwarding::best_of(target::Kind::Canopy, &spec, args.repeat)?;
        let on = forwarding::best_of(target::Kind::CanopyCurve, &spec, args.repeat)?;
        let row = CurveRow {
            kind: "curve",
            subscribers: subs,
            payload_bytes: payload,
            curve_off_msgs_per_s: off.msgs_per_s,
            curve_on_msgs_per_s: on.msgs_per_s,
            curve_on_lost: on.lost,
            ratio: on.msgs_per_s / off.msgs_per_s.max(1.0),
        };
        if args.json {
            println!("{}", serde_json::to_string(&row)?);
        } else {
            println!(
                "{:>4} {:>7} | {:>14.0} | {:>14.0} {:>7} | {:>5.2}x",
                subs,
                payload,
                row.curve_off_msgs_per_s,
                row.curve_on_msgs_per_s,
                row.curve_on_lost,
                row.ratio
            );
        }
    }
    Ok(())
}
