//! `canopy sub`.

use super::{default_name, output, Cli};
use anyhow::Context;
use canopy_client::NodeEvent;
use std::io::Write;

/// Arguments of `canopy sub`.
#[derive(clap::Args, Debug)]
pub struct SubArgs {
    /// Node name [default: sub-PID].
    #[arg(long)]
    name: Option<String>,
    /// Group path this node joins [default: the root].
    #[arg(long, default_value = "")]
    group: String,
    /// Observe every addressed event in this subtree instead of joining a group's view.
    #[arg(long)]
    subtree: Option<String>,
    /// Exit after this many events.
    #[arg(long)]
    count: Option<u64>,
    /// Topic prefixes (addressed to this node's groups, to itself, or plain).
    /// Without any, everything for this node is received.
    prefixes: Vec<String>,
}

/// Runs `canopy sub`.
pub async fn run(cli: &Cli, args: &SubArgs) -> anyhow::Result<()> {
    let name = args.name.clone().unwrap_or_else(|| default_name("sub"));
    let node = super::connect(cli, &name, &args.group).await?;
    if let Some(subtree) = &args.subtree {
        node.subscribe_subtree(subtree)?;
        for p in &args.prefixes {
            node.subscribe(p)?;
        }
    } else if args.prefixes.is_empty() {
        node.subscribe("")?;
    } else {
        for p in &args.prefixes {
            node.subscribe(p)?;
        }
    }
    let mut events = node.events()?;
    // Scripts wait for this line: from here on nothing published is lost
    // for want of the subscriptions.
    match node.sync_subscriptions().await {
        Ok(()) => {}
        // Under ACLs that do not let this identity subscribe and publish to
        // its own node prefix, the echo never comes back (PROTOCOL.md 14.1):
        // go on, and say what is not confirmed.
        Err(e) if e.kind() == canopy_client::ErrorKind::Unreachable => eprintln!(
            "canopy: the broker did not confirm the subscriptions ({e}); events published right now may be missed"
        ),
        Err(e) => return Err(e).context("waiting for the broker to apply the subscriptions"),
    }
    eprintln!("canopy: subscribed as {}", node.path());
    let mut seen = 0u64;
    let mut stdout = std::io::stdout();
    while let Some(event) = events.next().await {
        match event {
            NodeEvent::Event(e) => {
                writeln!(stdout, "{}", output::event_json(&e))?;
                stdout.flush()?;
                seen += 1;
                if args.count.is_some_and(|c| seen >= c) {
                    break;
                }
            }
            NodeEvent::Disconnected => eprintln!("canopy: broker silent, reconnecting"),
            NodeEvent::Reconnected {
                epoch,
                broker_restarted,
            } => eprintln!(
                "canopy: reconnected (epoch {epoch}, broker restarted: {broker_restarted})"
            ),
            NodeEvent::NameTaken => {
                anyhow::bail!(
                    "another node joined under this node's name: give each node its own (--name)"
                )
            }
            other => eprintln!("canopy: {other:?}"),
        }
    }
    Ok(())
}
