//! `canopy nodes` and `canopy stats`.

use super::Cli;
use anyhow::Context;
use canopy_client::admin;

/// Arguments of `canopy nodes`.
#[derive(clap::Args, Debug)]
pub struct NodesArgs {
    /// Only nodes in this group and below.
    #[arg(long)]
    group: Option<String>,
    /// One JSON array for machines.
    #[arg(long)]
    json: bool,
}

/// Arguments of `canopy stats`.
#[derive(clap::Args, Debug)]
pub struct StatsArgs {
    /// One JSON object for machines.
    #[arg(long)]
    json: bool,
}

/// Runs `canopy nodes`.
pub async fn nodes(cli: &Cli, args: &NodesArgs) -> anyhow::Result<()> {
    let curve = cli.curve()?;
    let nodes = admin::nodes_with(
        &cli.broker,
        args.group.as_deref(),
        cli.timeout(),
        curve.as_ref(),
    )
    .await
    .with_context(|| format!("asking {} for nodes", cli.broker))?;
    if args.json {
        println!("{}", serde_json::to_string(&nodes)?);
        return Ok(());
    }
    println!(
        "{:<40} {:>12} {:>10} {:>6}  VERSION",
        "NODE", "LAST SEEN", "DROPPED", "SUBS"
    );
    for n in &nodes {
        println!(
            "{:<40} {:>10}ms {:>10} {:>6}  {}",
            n.path, n.last_seen_ms_ago, n.dropped, n.subscriptions, n.client_version
        );
        if let Some(l) = &n.link {
            // A child broker: its link to this one.
            println!(
                "{:<40} link: up {} events/{} B, down {} events/{} B, {} echoes dropped, \
                 {} subscriptions forwarded, {} writes relayed, state lag {}",
                "",
                l.events_up,
                l.bytes_up,
                l.events_down,
                l.bytes_down,
                l.echoes_dropped,
                l.subscriptions_forwarded,
                l.writes_relayed,
                l.state_lag
            );
        }
    }
    Ok(())
}

/// Runs `canopy stats`.
pub async fn stats(cli: &Cli, args: &StatsArgs) -> anyhow::Result<()> {
    let curve = cli.curve()?;
    let report = admin::stats_with(&cli.broker, cli.timeout(), curve.as_ref())
        .await
        .with_context(|| format!("asking {} for stats", cli.broker))?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    println!("broker_id  {}", report.broker_id);
    println!("epoch      {}", report.epoch);
    println!("uptime_s   {}", report.uptime_s);
    println!("nodes      {}", report.nodes);
    for (name, value) in &report.counters {
        println!("{name:<28} {value:>14}");
    }
    Ok(())
}
