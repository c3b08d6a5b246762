//! `canopy`, the command-line client. Errors are one line on stderr and an
//! exit code scripts can tell apart (see [`exit`]); SIGINT and SIGTERM make
//! every joined node say BYE before the process ends.

mod backup;
mod keygen;
mod output;
mod publish;
mod state;
mod status;
mod subscribe;
mod top;

use canopy_client::{ClientError, ErrorKind, Node};
use clap::{Parser, Subcommand};
use std::sync::{Arc, Mutex};

/// The exit codes, the same for every command (README, "Exit codes").
pub mod exit {
    /// Success (for `get`: the key was found).
    pub const OK: i32 = 0;
    /// `get`: no level has the key.
    pub const NOT_FOUND: i32 = 1;
    /// Bad usage: an unknown flag, a malformed value, an invalid name.
    pub const USAGE: i32 = 2;
    /// The broker cannot be reached, or did not answer in time.
    pub const UNREACHABLE: i32 = 3;
    /// The broker refused: access control, CURVE credentials, a limit, a
    /// protocol version.
    pub const REFUSED: i32 = 4;
    /// A write's precondition failed: `create` on a key that exists,
    /// `update --seq` on a key that moved, a schema or type violation.
    pub const CONFLICT: i32 = 5;
    /// Anything else (local I/O, an unexpected reply).
    pub const FAILED: i32 = 6;
    /// Stopped by SIGINT (128 + 2), after saying BYE.
    pub const INTERRUPTED: i32 = 130;
    /// Stopped by SIGTERM (128 + 15), after saying BYE.
    pub const TERMINATED: i32 = 143;
}

/// An error that is the user's input, not the broker's answer.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// `get` found nothing.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NotFound(pub String);

/// The exit code for an error: by its kind when it is a client error.
pub fn exit_code(error: &anyhow::Error) -> i32 {
    for cause in error.chain() {
        if cause.is::<NotFound>() {
            return exit::NOT_FOUND;
        }
        if cause.is::<UsageError>()
            || cause.is::<serde_json::Error>()
            || cause.is::<canopy_schemas::TopicError>()
        {
            return exit::USAGE;
        }
        if let Some(e) = cause.downcast_ref::<ClientError>() {
            return match e.kind() {
                ErrorKind::InvalidArgument => exit::USAGE,
                ErrorKind::Unreachable => exit::UNREACHABLE,
                ErrorKind::Refused | ErrorKind::Auth | ErrorKind::Version => exit::REFUSED,
                ErrorKind::Conflict => exit::CONFLICT,
                _ => exit::FAILED,
            };
        }
    }
    exit::FAILED
}

/// Nodes this process joined, so that a signal can make them say BYE.
static JOINED: Mutex<Vec<Arc<Node>>> = Mutex::new(Vec::new());

/// Joins as `name` in `group` and remembers the node for the signal path.
pub(crate) async fn connect(cli: &Cli, name: &str, group: &str) -> anyhow::Result<Arc<Node>> {
    let options = cli.node_options(name, group)?;
    let node = Arc::new(
        Node::connect(options)
            .await
            .map_err(anyhow::Error::new)
            .map_err(|e| e.context(format!("joining {} as {name}", cli.broker)))?,
    );
    JOINED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Arc::clone(&node));
    Ok(node)
}

/// Says BYE for every joined node and waits for their flush.
async fn close_all() {
    let nodes = std::mem::take(&mut *JOINED.lock().unwrap_or_else(|e| e.into_inner()));
    for node in nodes {
        node.close().await;
    }
}

/// Resolves on SIGINT or SIGTERM with the exit code to use.
async fn stop_signal() -> i32 {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        // No handlers: never resolve; the default action applies.
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => exit::INTERRUPTED,
        _ = term.recv() => exit::TERMINATED,
    }
}

/// canopy command-line client.
#[derive(Parser, Debug)]
#[command(name = "canopy", version, about)]
pub struct Cli {
    /// Broker base endpoint (its ROUTER port P).
    #[arg(
        long,
        global = true,
        default_value = "tcp://127.0.0.1:5556",
        env = "CANOPY_BROKER"
    )]
    pub broker: String,
    /// Seconds to wait for the broker before giving up.
    #[arg(long, global = true, default_value_t = 5.0)]
    pub timeout: f64,
    /// CURVE: the broker's public key (Z85 text, or its .pub/.key file).
    #[arg(
        long,
        global = true,
        env = "CANOPY_SERVER_KEY",
        requires = "client_key"
    )]
    pub server_key: Option<String>,
    /// CURVE: this client's key pair file (from `canopy keygen`).
    #[arg(
        long = "key",
        id = "client_key",
        global = true,
        env = "CANOPY_KEY",
        requires = "server_key"
    )]
    pub client_key: Option<std::path::PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Join as a node and print one JSON line per event.
    Sub(subscribe::SubArgs),
    /// Publish a JSON value (as MessagePack), or one per stdin line.
    Pub(publish::PubArgs),
    /// List the nodes present.
    Nodes(status::NodesArgs),
    /// Show the broker's counters.
    Stats(status::StatsArgs),
    /// Set a key (prints the assigned sequence).
    Put(state::PutArgs),
    /// Set a key only if no value is there (exit 5 when it exists).
    Create(state::PutArgs),
    /// Set a key only if its sequence is --seq (compare-and-set; exit 5 when it moved).
    Update(state::UpdateArgs),
    /// Print the value a node in --group sees (exit 1 when missing).
    Get(state::GetArgs),
    /// Delete a key.
    Del(state::DelArgs),
    /// Add to an integer key (prints the new value).
    Incr(state::IncrArgs),
    /// List keys of the merged view.
    Keys(state::KeysArgs),
    /// Print one JSON line per change of the merged view.
    Watch(state::WatchArgs),
    /// List stores with key counts, bytes and the current sequence.
    Stores(state::StoresArgs),
    /// Write a new CURVE key pair: PATH.key (secret) and PATH.pub.
    Keygen(keygen::KeygenArgs),
    /// Copy every store (persistent and volatile), consistently, while the broker runs.
    Backup(backup::BackupArgs),
    /// A live view: rates in, out, dropped, writes, slowest subscribers, links (q quits).
    Top(top::TopArgs),
}

impl Cli {
    fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.timeout.max(0.01))
    }

    /// CURVE keys from --server-key and --key, when given.
    fn curve(&self) -> anyhow::Result<Option<canopy_client::CurveKeys>> {
        match (&self.server_key, &self.client_key) {
            (Some(server), Some(key)) => Ok(Some(canopy_client::CurveKeys::load(server, key)?)),
            _ => Ok(None),
        }
    }

    /// Node options with this invocation's broker, timeouts and keys.
    fn node_options(&self, name: &str, group: &str) -> anyhow::Result<canopy_client::NodeOptions> {
        // Node::connect probes after a short silence: "nothing listens
        // there" is told at once, without an extra connection first.
        let mut options = canopy_client::NodeOptions::new(&self.broker, name, group)
            .connect_timeout(self.timeout())
            .request_timeout(self.timeout())
            .fail_fast(true);
        if let Some(keys) = self.curve()? {
            options = options.curve(keys);
        }
        Ok(options)
    }
}

/// Runs the CLI; returns the process exit code.
pub fn main() -> i32 {
    // Like every Unix filter, stop quietly when the reader goes away
    // (`canopy stats | head -1`): Rust ignores SIGPIPE, so println! would
    // panic on the broken pipe instead.
    // SAFETY: called before any other thread exists; SIG_DFL is a valid
    // disposition for SIGPIPE.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("CANOPY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("canopy: starting runtime: {e}");
            return exit::FAILED;
        }
    };
    let command = async {
        match &cli.command {
            Command::Sub(a) => subscribe::run(&cli, a).await,
            Command::Pub(a) => publish::run(&cli, a).await,
            Command::Nodes(a) => status::nodes(&cli, a).await,
            Command::Stats(a) => status::stats(&cli, a).await,
            Command::Put(a) => state::put(&cli, a, canopy_client::OpKind::Put).await,
            Command::Create(a) => state::put(&cli, a, canopy_client::OpKind::PutIfAbsent).await,
            Command::Update(a) => state::update(&cli, a).await,
            Command::Get(a) => state::get(&cli, a).await,
            Command::Del(a) => state::del(&cli, a).await,
            Command::Incr(a) => state::incr(&cli, a).await,
            Command::Keys(a) => state::keys(&cli, a).await,
            Command::Watch(a) => state::watch(&cli, a).await,
            Command::Stores(a) => state::stores(&cli, a).await,
            Command::Keygen(a) => keygen::run(a),
            Command::Backup(a) => backup::run(&cli, a).await,
            Command::Top(a) => top::run(&cli, a).await,
        }
    };
    runtime.block_on(async {
        let outcome = tokio::select! {
            result = command => Ok(result),
            code = stop_signal() => Err(code),
        };
        // Every joined node says BYE, on success, failure or a signal.
        close_all().await;
        match outcome {
            Ok(Ok(())) => exit::OK,
            Ok(Err(e)) => {
                eprintln!("canopy: {e:#}");
                exit_code(&e)
            }
            Err(code) => code,
        }
    })
}

/// A node name unique enough for a short-lived CLI process.
fn default_name(role: &str) -> String {
    format!("{role}-{}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn argument_definitions_are_consistent() {
        // Catches clashing ids (a global --key and a positional KEY) before a user does.
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from([
            "canopy",
            "--key",
            "a.key",
            "--server-key",
            "s.pub",
            "put",
            "k",
            "1",
        ])
        .expect("parses");
        assert_eq!(
            cli.client_key.as_deref(),
            Some(std::path::Path::new("a.key"))
        );
    }
}
