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
    /// The key is a whole opaque CHP key (`/client/727`, what RFC 12
    /// clients write outside canopy's stores); values are text, or hex
    /// with --hex.
    #[arg(long, conflicts_with_all = ["node", "store"])]
    chp: bool,
    /// With --chp: values are given and printed as hex (bytes that are not text).
    #[arg(long, requires = "chp")]
    hex: bool,
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
    /// node's view (its own level included); `--chp` the opaque level that
    /// `key` (a key, or a key prefix) is in.
    async fn open(
        &self,
        cli: &Cli,
        key: &str,
    ) -> anyhow::Result<(Arc<Node>, canopy_client::Replica)> {
        let node = join(cli, &self.join_group()?).await?;
        let replica = if self.chp {
            node.chp_store(&chp_level(key)?).await
        } else {
            match self.level()? {
                Level::Node(seen_by) => node.store_seen_by(&self.store, &seen_by).await,
                Level::Group(_) => node.store(&self.store).await,
            }
        }
        .context("opening the store")?;
        Ok((node, replica))
    }

    /// The store written: the named one, or the opaque CHP space.
    fn store_name(&self) -> &str {
        if self.chp {
            canopy_schemas::state::OPAQUE_STORE
        } else {
            &self.store
        }
    }

    /// A value as the scope prints it: JSON (MessagePack decoded), or for
    /// --chp the bytes as text (hex with --hex).
    fn show(&self, value: &[u8]) -> anyhow::Result<String> {
        if !self.chp {
            return Ok(output::msgpack_json(value).to_string());
        }
        if self.hex {
            return Ok(hex::encode(value));
        }
        String::from_utf8(value.to_vec()).map_err(|_| {
            UsageError("the value is not UTF-8 text: print it with --hex".into()).into()
        })
    }

    /// Who reads, for messages: the group, the node, or the CHP space.
    fn reader(&self) -> String {
        if self.chp {
            return "the opaque CHP space".to_owned();
        }
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
    /// JSON value (with --chp: the text itself, or hex with --hex).
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

/// The opaque CHP level a key, or a key prefix, is in (`/client/` for
/// `/client/7`; `/` for keys with no second `/`).
fn chp_level(key: &str) -> anyhow::Result<String> {
    let probe = if key.ends_with('/') {
        format!("{key}x")
    } else {
        key.to_owned()
    };
    canopy_schemas::state::opaque_level(&probe)
        .map(str::to_owned)
        .ok_or_else(|| {
            UsageError(format!(
                "{key:?} is not an opaque CHP key: it starts with / and is not /STORE/LEVEL:KEY"
            ))
            .into()
        })
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
        .write(scope.store_name(), spec)
        .await
        .with_context(|| format!("writing to store {}", scope.store_name()))?;
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

/// A write of `a.json` to `a.key` as `op` (for --chp: of the text, or the
/// bytes its hex spells with --hex).
fn value_spec(a: &PutArgs, op: OpKind) -> anyhow::Result<WriteSpec> {
    let mut spec = if a.scope.chp {
        chp_level(&a.key)?;
        let bytes = if a.scope.hex {
            hex::decode(a.json.trim())
                .map_err(|e| UsageError(format!("the value is not hex: {e}")))?
        } else {
            a.json.clone().into_bytes()
        };
        WriteSpec::new(op, &Level::root(), &a.key).value_msgpack(bytes)
    } else {
        let value: serde_json::Value = serde_json::from_str(&a.json)
            .map_err(|e| UsageError(format!("the value is not valid JSON: {e}")))?;
        WriteSpec::new(op, &a.scope.level()?, &a.key).value(&value)?
    };
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
    let level = if a.scope.chp {
        chp_level(&a.key)?;
        Level::root()
    } else {
        a.scope.level()?
    };
    let spec = WriteSpec::new(OpKind::Delete, &level, &a.key);
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
    let (node, replica) = a.scope.open(cli, &a.key).await?;
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
    println!("{}", a.scope.show(&raw)?);
    Ok(())
}

/// Runs `canopy keys`.
pub async fn keys(cli: &Cli, a: &KeysArgs) -> anyhow::Result<()> {
    let (node, replica) = a.scope.open(cli, &a.prefix).await?;
    let mut out = std::io::stdout().lock();
    for (key, entry) in replica.scan(&a.prefix) {
        if a.json && a.scope.chp {
            writeln!(out, "{}", chp_json(&key, Some(&entry.value), entry.seq))?;
        } else if a.json {
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
    let (node, replica) = a.scope.open(cli, &a.prefix).await?;
    let mut changes = replica.watch(&a.prefix);
    eprintln!(
        "canopy: watching store {} as seen from {}",
        a.scope.store,
        a.scope.reader()
    );
    let mut seen = 0;
    let mut stdout = std::io::stdout();
    while let Some(change) = changes.next().await {
        let line = if a.scope.chp {
            chp_json(&change.key, change.value.as_deref(), change.seq)
        } else {
            let value = change
                .value
                .as_deref()
                .map_or(serde_json::Value::Null, output::msgpack_json);
            json!({"key": change.key, "value": value, "deleted": change.value.is_none(), "seq": change.seq})
        };
        writeln!(stdout, "{line}")?;
        stdout.flush()?;
        seen += 1;
        if a.count.is_some_and(|c| seen >= c) {
            break;
        }
    }
    drop(node);
    Ok(())
}

/// One opaque CHP key as a JSON line: `value` is the text (null when the
/// bytes are not UTF-8, or the key is gone), `value_hex` the bytes.
fn chp_json(key: &str, value: Option<&[u8]>, seq: u64) -> serde_json::Value {
    let text = value.and_then(|v| std::str::from_utf8(v).ok());
    json!({
        "key": key,
        "value": text,
        "value_hex": value.map(hex::encode),
        "deleted": value.is_none(),
        "seq": seq,
    })
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
