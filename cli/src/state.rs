//! `canopy put/get/del/incr/keys/watch/stores`: the state plane from the shell.

use super::{default_name, output, Cli, NotFound, UsageError};
use anyhow::Context;
use canopy_client::{Level, Node, OpKind, WriteSpec};
use serde_json::json;
use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

/// Where in the store a command looks or writes.
#[derive(clap::Args, Debug)]
pub struct Scope {
    /// Store name.
    #[arg(long, default_value = canopy_schemas::state::DEFAULT_STORE)]
    store: String,
    /// Group level: written to, or the group whose merged view is read; the
    /// command joins in this group (ACLs apply to it) [default: the root].
    #[arg(long, default_value = "")]
    group: String,
    /// A node's own level (`group/name`): written to, or the node whose
    /// merged view (its groups and its own level) is read; the command joins
    /// in the node's group.
    #[arg(long, conflicts_with = "group")]
    node: Option<String>,
}

impl Scope {
    fn level(&self) -> anyhow::Result<Level> {
        Ok(match &self.node {
            Some(n) => Level::parse(n, true)?,
            None => Level::parse(&self.group, false)?,
        })
    }

    /// The group the command joins: the group written or read, or the
    /// node's group for `--node`.
    fn join_group(&self) -> anyhow::Result<String> {
        Ok(match self.level()? {
            Level::Group(g) => g.to_string(),
            Level::Node(n) => n.group.to_string(),
        })
    }

    /// Joins and opens the store as the scope sees it: `--node` reads that
    /// node's view (its own level included).
    async fn open(&self, cli: &Cli) -> anyhow::Result<(Arc<Node>, canopy_client::Replica)> {
        let node = join(cli, &self.join_group()?).await?;
        let replica = match self.level()? {
            Level::Node(seen_by) => node.store_seen_by(&self.store, &seen_by).await,
            Level::Group(_) => node.store(&self.store).await,
        }
        .context("opening the store")?;
        Ok((node, replica))
    }

    /// Who reads, for messages: the group, or the node.
    fn reader(&self) -> String {
        match &self.node {
            Some(n) => format!("node {n:?}"),
            None => format!("group {:?}", self.group),
        }
    }
}

/// `canopy put`.
#[derive(clap::Args, Debug)]
pub struct PutArgs {
    #[command(flatten)]
    scope: Scope,
    /// Time to live in seconds (default: the store's).
    #[arg(long)]
    ttl: Option<f64>,
    /// User key.
    key: String,
    /// JSON value.
    json: String,
}

/// `canopy get`.
#[derive(clap::Args, Debug)]
pub struct GetArgs {
    #[command(flatten)]
    scope: Scope,
    /// User key.
    key: String,
}

/// `canopy del`.
#[derive(clap::Args, Debug)]
pub struct DelArgs {
    #[command(flatten)]
    scope: Scope,
    /// User key.
    key: String,
}

/// `canopy incr`.
#[derive(clap::Args, Debug)]
pub struct IncrArgs {
    #[command(flatten)]
    scope: Scope,
    /// User key.
    key: String,
    /// Amount (negative to decrement).
    #[arg(default_value_t = 1, allow_negative_numbers = true)]
    by: i64,
}

/// `canopy keys`.
#[derive(clap::Args, Debug)]
pub struct KeysArgs {
    #[command(flatten)]
    scope: Scope,
    /// Print one JSON object per key with its value, sequence and level.
    #[arg(long)]
    json: bool,
    /// Only keys starting with this.
    #[arg(default_value = "")]
    prefix: String,
}

/// `canopy watch`.
#[derive(clap::Args, Debug)]
pub struct WatchArgs {
    #[command(flatten)]
    scope: Scope,
    /// Exit after this many changes.
    #[arg(long)]
    count: Option<u64>,
    /// Only keys starting with this.
    #[arg(default_value = "")]
    prefix: String,
}

/// `canopy stores`.
#[derive(clap::Args, Debug)]
pub struct StoresArgs {
    /// One JSON object for machines.
    #[arg(long)]
    json: bool,
}

async fn join(cli: &Cli, group: &str) -> anyhow::Result<Arc<Node>> {
    super::connect(cli, &default_name("cli"), group).await
}

async fn write(
    cli: &Cli,
    scope: &Scope,
    spec: WriteSpec,
) -> anyhow::Result<canopy_client::WriteAck> {
    // Joined in the group written to, so ACLs that allow nodes only there
    // admit the command.
    let node = join(cli, &scope.join_group()?).await?;
    let ack = node
        .write(&scope.store, spec)
        .await
        .with_context(|| format!("writing to store {}", scope.store))?;
    Ok(ack)
}

/// `canopy update`: compare-and-set.
#[derive(clap::Args, Debug)]
pub struct UpdateArgs {
    #[command(flatten)]
    put: PutArgs,
    /// The sequence the key must have now (from `put`, `keys --json`;
    /// 0: the key must be absent).
    #[arg(long)]
    seq: u64,
}

/// A write of `a.json` to `a.key` as `op`.
fn value_spec(a: &PutArgs, op: OpKind) -> anyhow::Result<WriteSpec> {
    let value: serde_json::Value = serde_json::from_str(&a.json)
        .map_err(|e| UsageError(format!("the value is not valid JSON: {e}")))?;
    let mut spec = WriteSpec::new(op, &a.scope.level()?, &a.key).value(&value)?;
    if let Some(t) = a.ttl {
        if !(t.is_finite() && t >= 0.0) {
            return Err(UsageError("--ttl must be a number of seconds >= 0".into()).into());
        }
        spec = spec.ttl(Duration::from_secs_f64(t));
    }
    Ok(spec)
}

/// Runs `canopy put` (and `create`, put-if-absent): prints the assigned sequence.
pub async fn put(cli: &Cli, a: &PutArgs, op: OpKind) -> anyhow::Result<()> {
    let spec = value_spec(a, op)?;
    println!("{}", write(cli, &a.scope, spec).await?.seq);
    Ok(())
}

/// Runs `canopy update --seq`: prints the new sequence.
pub async fn update(cli: &Cli, a: &UpdateArgs) -> anyhow::Result<()> {
    let spec = value_spec(&a.put, OpKind::Cas)?.expected_seq(a.seq);
    println!("{}", write(cli, &a.put.scope, spec).await?.seq);
    Ok(())
}

/// Runs `canopy del`: prints the sequence (and says when nothing was there).
pub async fn del(cli: &Cli, a: &DelArgs) -> anyhow::Result<()> {
    let spec = WriteSpec::new(OpKind::Delete, &a.scope.level()?, &a.key);
    let ack = write(cli, &a.scope, spec).await?;
    if ack.deleted == 0 {
        eprintln!("canopy: {} did not exist", a.key);
    }
    println!("{}", ack.seq);
    Ok(())
}

/// Runs `canopy incr`: prints the new value.
pub async fn incr(cli: &Cli, a: &IncrArgs) -> anyhow::Result<()> {
    let spec = WriteSpec::new(OpKind::Incr, &a.scope.level()?, &a.key).by(a.by);
    let ack = write(cli, &a.scope, spec).await?;
    let value = output::msgpack_json(ack.value.as_deref().unwrap_or_default());
    println!("{value}");
    Ok(())
}

/// Runs `canopy get`: the value a node in the group sees; exit 1 if missing.
pub async fn get(cli: &Cli, a: &GetArgs) -> anyhow::Result<()> {
    let (node, replica) = a.scope.open(cli).await?;
    drop(node);
    let Some(raw) = replica.get_raw(&a.key) else {
        return Err(NotFound(format!(
            "key {:?} not found in store {} as seen from {}",
            a.key,
            a.scope.store,
            a.scope.reader()
        ))
        .into());
    };
    println!("{}", output::msgpack_json(&raw));
    Ok(())
}

/// Runs `canopy keys`.
pub async fn keys(cli: &Cli, a: &KeysArgs) -> anyhow::Result<()> {
    let (node, replica) = a.scope.open(cli).await?;
    let mut out = std::io::stdout().lock();
    for (key, entry) in replica.scan(&a.prefix) {
        if a.json {
            let level = replica
                .entry(&key)
                .map(|(_, l)| l.path())
                .unwrap_or_default();
            writeln!(
                out,
                "{}",
                json!({"key": key, "value": output::msgpack_json(&entry.value), "seq": entry.seq, "level": level})
            )?;
        } else {
            writeln!(out, "{key}")?;
        }
    }
    drop((out, node));
    Ok(())
}

/// Runs `canopy watch`: one JSON line per change of the merged view.
pub async fn watch(cli: &Cli, a: &WatchArgs) -> anyhow::Result<()> {
    let (node, replica) = a.scope.open(cli).await?;
    let mut changes = replica.watch(&a.prefix);
    eprintln!(
        "canopy: watching store {} as seen from {}",
        a.scope.store,
        a.scope.reader()
    );
    let mut seen = 0;
    let mut stdout = std::io::stdout();
    while let Some(change) = changes.next().await {
        let value = change
            .value
            .as_deref()
            .map_or(serde_json::Value::Null, output::msgpack_json);
        writeln!(
            stdout,
            "{}",
            json!({"key": change.key, "value": value, "deleted": change.value.is_none(), "seq": change.seq})
        )?;
        stdout.flush()?;
        seen += 1;
        if a.count.is_some_and(|c| seen >= c) {
            break;
        }
    }
    drop(node);
    Ok(())
}

/// Runs `canopy stores`.
pub async fn stores(cli: &Cli, a: &StoresArgs) -> anyhow::Result<()> {
    let node = join(cli, "").await?;
    let stores = node.stores().await.context("asking for stores")?;
    if a.json {
        println!("{}", serde_json::to_string(&stores)?);
        return Ok(());
    }
    println!("sequence {}", stores.seq);
    println!(
        "{:<24} {:>10} {:>12} {:>8}  SCHEMA",
        "STORE", "KEYS", "BYTES", "PERSIST"
    );
    for s in &stores.stores {
        println!(
            "{:<24} {:>10} {:>12} {:>8}  {}",
            s.name,
            s.keys,
            s.bytes,
            s.persist,
            s.schema.as_deref().unwrap_or("-")
        );
    }
    Ok(())
}
