//! The `canopy-broker` command line: an embedded default configuration, an
//! optional TOML file, and flags that override both.

use crate::{Broker, Config};
use anyhow::Context;
use clap::Parser;
use std::io::IsTerminal;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// `--version`: canopy's version and what it links, e.g. `0.1.0 (libzmq 4.3.5, curve)`.
static VERSION: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "{} ({})",
        env!("CARGO_PKG_VERSION"),
        crate::server::libzmq::summary()
    )
});

/// canopy pub/sub and state-replication broker over ZeroMQ.
///
/// With no arguments it listens on 127.0.0.1:5556 (ROUTER), 5557 (XPUB) and
/// 5558 (XSUB) and keeps its data in ./canopy-data.
#[derive(Parser, Debug)]
#[command(name = "canopy-broker", version = VERSION.as_str(), about)]
pub struct Args {
    /// TOML configuration file; every flag below has the same key in it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Check the configuration (file and flags) as start-up would, print
    /// what is wrong or "configuration ok", and exit (0 when it is usable).
    #[arg(long)]
    check_config: bool,
    /// Delete, at this start, the keys on disk of a store that is no longer
    /// served (not declared, or declared with persist = false); repeatable.
    /// A config change alone never deletes data. Not a TOML key.
    #[arg(long, value_name = "STORE")]
    drop_store: Vec<String>,
    /// Restore a backup (`canopy backup --out FILE`) into the data
    /// directory, which must hold no state yet, then start.
    #[arg(long, value_name = "FILE")]
    restore: Option<PathBuf>,
    /// Address to bind on [default: 127.0.0.1].
    #[arg(long)]
    bind: Option<String>,
    /// Base port P: ROUTER on P, XPUB on P+1, XSUB on P+2 [default: 5556].
    #[arg(long)]
    port: Option<u16>,
    /// Data directory [default: ./canopy-data].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Log filter: error, warn, info, debug, trace, or a tracing directive [default: info].
    #[arg(long)]
    log_level: Option<String>,
    /// Largest event accepted, all frames, in bytes [default: 1048576].
    #[arg(long)]
    max_message_size: Option<u64>,
    /// Longest topic frame accepted, in bytes [default: 1024].
    #[arg(long)]
    max_topic_length: Option<usize>,
    /// Subscriptions one node may hold [default: 1024].
    #[arg(long)]
    max_subscriptions: Option<u32>,
    /// Distinct subscription prefixes held at once, all connections [default: 100000].
    #[arg(long)]
    max_subscriptions_total: Option<usize>,
    /// Nodes admitted at once [default: 10000].
    #[arg(long)]
    max_nodes: Option<usize>,
    /// Largest control request on the ROUTER, in bytes [default: 65536].
    #[arg(long)]
    max_control_size: Option<usize>,
    /// Messages queued per subscriber before the broker drops for it [default: 10000].
    #[arg(long)]
    send_hwm: Option<i32>,
    /// Messages queued per publisher connection; beyond it publishers drop [default: 10000].
    #[arg(long)]
    receive_hwm: Option<i32>,
    /// Heartbeat (HUGZ and expected PING) interval in ms [default: 1000].
    #[arg(long)]
    heartbeat_ms: Option<u64>,
    /// Silence in ms after which a node is gone [default: 5000].
    #[arg(long)]
    node_timeout_ms: Option<u64>,
    /// Directory of store schema files [default: ./schemas].
    #[arg(long)]
    schemas_dir: Option<PathBuf>,
    /// Snapshot requests per second per connection (and burst); 0 = no limit [default: 100].
    #[arg(long)]
    max_snapshots_per_s: Option<f64>,
    /// Snapshots streaming keys at once; later ones wait in order; 0 = no limit [default: 32].
    #[arg(long)]
    max_snapshot_streams: Option<usize>,
    /// Longest state key in bytes [default: 1024].
    #[arg(long)]
    max_key_length: Option<usize>,
    /// Connections past their handshake open at once, three sockets together [default: 30000].
    #[arg(long)]
    max_connections: Option<u64>,
    /// Longest a peer may take to finish its handshake, in ms [default: 10000].
    #[arg(long)]
    handshake_timeout_ms: Option<u64>,
    /// Connections each port lets the kernel complete before they are accepted [default: 4096].
    #[arg(long)]
    listen_backlog: Option<u32>,
    /// Newest protocol version spoken, to hold a tree at an older version during an upgrade [default: the newest].
    #[arg(long)]
    protocol_max: Option<u32>,
    /// Subscription prefixes one connection may hold [default: 65536].
    #[arg(long)]
    max_subscriptions_per_connection: Option<u32>,
    /// Unanswered requests per ROUTER connection [default: 10000].
    #[arg(long)]
    max_inflight_per_connection: Option<usize>,
    /// The broker's CURVE key pair (`canopy keygen` .key file); with
    /// --allow-list turns CURVE on [default: off].
    #[arg(long)]
    curve_key_file: Option<PathBuf>,
    /// Allowed clients, `IDENTITY Z85-PUBLIC-KEY` per line; re-read on SIGHUP.
    #[arg(long)]
    allow_list: Option<PathBuf>,
    /// Monitoring HTTP server (/metrics, /stats, /healthz, ...): ADDRESS:PORT,
    /// or off; port 0 picks a free one (see the ready line) [default:
    /// 127.0.0.1 at the base port + 3].
    #[arg(long, value_name = "ADDRESS:PORT|off")]
    http: Option<String>,
    /// How often $sys/<broker id>/stats is published, in ms; 0 = never [default: 5000].
    #[arg(long)]
    sys_interval_ms: Option<u64>,
    /// Log format on stderr: text or json (one object per line) [default: text].
    #[arg(long)]
    log_format: Option<crate::config::LogFormat>,
    /// Parent broker, tcp://HOST:PORT (its base port): run as a child in a
    /// tree of brokers [default: none, this broker is a root].
    #[arg(long)]
    upstream: Option<String>,
    /// The parent's CURVE public key file (.pub), when the parent runs CURVE.
    #[arg(long)]
    upstream_server_key: Option<PathBuf>,
    /// This broker's CURVE key pair (.key) for the parent's allow-list.
    #[arg(long)]
    upstream_key_file: Option<PathBuf>,
}

impl Args {
    fn into_config(self) -> anyhow::Result<Config> {
        let mut c = match &self.config {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        macro_rules! apply {
            ($($field:ident),*) => { $(if let Some(v) = self.$field { c.$field = v; })* };
        }
        apply!(
            bind,
            port,
            data_dir,
            log_level,
            max_message_size,
            max_topic_length,
            max_subscriptions,
            max_subscriptions_total,
            max_nodes,
            max_control_size,
            send_hwm,
            receive_hwm,
            heartbeat_ms,
            node_timeout_ms,
            schemas_dir,
            max_key_length,
            max_snapshots_per_s,
            max_snapshot_streams,
            max_connections,
            handshake_timeout_ms,
            listen_backlog,
            protocol_max,
            max_inflight_per_connection,
            max_subscriptions_per_connection,
            sys_interval_ms,
            log_format
        );
        if self.http.is_some() {
            c.http = self.http;
        }
        // Options: set only when given, so the file's value survives.
        if self.curve_key_file.is_some() {
            c.curve_key_file = self.curve_key_file;
        }
        if self.allow_list.is_some() {
            c.allow_list = self.allow_list;
        }
        if self.upstream.is_some() {
            c.upstream = self.upstream;
        }
        if self.upstream_server_key.is_some() {
            c.upstream_server_key = self.upstream_server_key;
        }
        if self.upstream_key_file.is_some() {
            c.upstream_key_file = self.upstream_key_file;
        }
        c.drop_stores = self.drop_store;
        Ok(c)
    }
}

/// Parses the process arguments and runs the broker until SIGINT or SIGTERM.
pub fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let check_only = args.check_config;
    let restore_from = args.restore.clone();
    let config = args.into_config()?;
    if check_only {
        let warnings = crate::server::check_config(&config).context("configuration refused")?;
        for warning in &warnings {
            eprintln!("warning: {warning}");
        }
        println!("configuration ok");
        return Ok(());
    }
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log_level)
        .with_context(|| format!("invalid log_level {:?}", config.log_level))?;
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // Under systemd the journal stamps each line itself (JOURNAL_STREAM is
    // set when stderr goes to it): no second timestamp in text lines.
    match config.log_format {
        crate::config::LogFormat::Json => logs.json().init(),
        crate::config::LogFormat::Text => {
            let logs = logs.with_ansi(
                std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
            );
            if std::env::var_os("JOURNAL_STREAM").is_some() {
                logs.without_time().init();
            } else {
                logs.init();
            }
        }
    }
    if let Some(file) = &restore_from {
        crate::server::restore(&config, file).context("restore refused")?;
    }
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .context("installing signal handler")?;
    }
    let broker = Broker::bind(config).context("starting broker")?;
    signal_hook::flag::register(signal_hook::consts::SIGHUP, broker.reload_flag())
        .context("installing SIGHUP handler")?;
    let e = broker.endpoints().clone();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "canopy-broker ready router={} xpub={} xsub={} http={} broker_id={} epoch={} curve={} libzmq={}",
        e.router,
        e.xpub,
        e.xsub,
        e.http.as_deref().unwrap_or("off"),
        broker.broker_id(),
        broker.epoch(),
        if broker.secured() { "on" } else { "off" },
        crate::server::libzmq::version()
    )?;
    out.flush()?;
    drop(out);
    crate::server::service::ready(&format!("serving on {}", e.router));
    broker.run(stop).context("broker loop")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn argument_definitions_are_consistent() {
        Args::command().debug_assert();
    }
}
