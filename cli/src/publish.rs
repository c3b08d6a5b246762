//! `canopy pub`.

use super::{default_name, Cli};
use anyhow::Context;
use canopy_client::{Address, GroupPath, NodePath};
use std::io::BufRead;

/// Arguments of `canopy pub`.
#[derive(clap::Args, Debug)]
pub struct PubArgs {
    /// Publish to every node in this group and below.
    #[arg(long, conflicts_with = "node")]
    group: Option<String>,
    /// Publish to this one node (`group/name`).
    #[arg(long)]
    node: Option<String>,
    /// Name this publisher joins as [default: pub-PID].
    #[arg(long)]
    name: Option<String>,
    /// Group this publisher joins [default: the root].
    #[arg(long, default_value = "")]
    from_group: String,
    /// Topic.
    topic: String,
    /// JSON value; without it, one value per stdin line.
    json: Option<String>,
}

fn parse(text: &str, what: &str) -> anyhow::Result<serde_json::Value> {
    serde_json::from_str(text).with_context(|| format!("{what} is not valid JSON"))
}

/// Runs `canopy pub`.
pub async fn run(cli: &Cli, args: &PubArgs) -> anyhow::Result<()> {
    let address = match (&args.group, &args.node) {
        (Some(g), _) => Address::Group(GroupPath::parse(g)?),
        (_, Some(n)) => Address::Node(NodePath::parse(n)?),
        _ => Address::Plain,
    };
    if address == Address::Plain {
        canopy_schemas::topic::check_plain_topic(&args.topic)?;
    }
    let name = args.name.clone().unwrap_or_else(|| default_name("pub"));
    let node = super::connect(cli, &name, &args.from_group).await?;
    match &args.json {
        Some(text) => node.publish(&address, &args.topic, &parse(text, "the value")?)?,
        None => {
            let stdin = std::io::stdin();
            for (n, line) in stdin.lock().lines().enumerate() {
                let line = line.context("reading stdin")?;
                if line.trim().is_empty() {
                    continue;
                }
                let value = parse(&line, &format!("stdin line {}", n + 1))?;
                node.publish(&address, &args.topic, &value)?;
            }
        }
    }
    // main closes the node: BYE, after the publishes are flushed.
    Ok(())
}
