//! Subcommands of `canopy`. Errors are one line on stderr and a non-zero exit.

mod backup;
mod keygen;
mod output;
mod publish;
mod state;
mod status;
mod subscribe;

use clap::{Parser, Subcommand};

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
    /// Copy every persistent store, consistently, while the broker runs.
    Backup(backup::BackupArgs),
}

impl Cli {
    fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.timeout.max(0.01))
    }

    /// CURVE keys from --server-key and --key, when given.
    fn curve(&self) -> anyhow::Result<Option<crate::CurveKeys>> {
        match (&self.server_key, &self.client_key) {
            (Some(server), Some(key)) => Ok(Some(crate::CurveKeys::load(server, key)?)),
            _ => Ok(None),
        }
    }

    /// Node options with this invocation's broker, timeouts and keys.
    fn node_options(&self, name: &str, group: &str) -> anyhow::Result<crate::NodeOptions> {
        // A command is run against a broker that should be up: when nothing
        // listens there, say so now instead of after the whole timeout.
        crate::reach::probe(&self.broker, self.timeout())?;
        let mut options = crate::NodeOptions::new(&self.broker, name, group);
        options.connect_timeout = self.timeout();
        options.request_timeout = self.timeout();
        options.curve = self.curve()?;
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
            return 1;
        }
    };
    let result = runtime.block_on(async {
        match &cli.command {
            Command::Sub(a) => subscribe::run(&cli, a).await,
            Command::Pub(a) => publish::run(&cli, a).await,
            Command::Nodes(a) => status::nodes(&cli, a).await,
            Command::Stats(a) => status::stats(&cli, a).await,
            Command::Put(a) => state::put(&cli, a).await,
            Command::Get(a) => state::get(&cli, a).await,
            Command::Del(a) => state::del(&cli, a).await,
            Command::Incr(a) => state::incr(&cli, a).await,
            Command::Keys(a) => state::keys(&cli, a).await,
            Command::Watch(a) => state::watch(&cli, a).await,
            Command::Stores(a) => state::stores(&cli, a).await,
            Command::Keygen(a) => keygen::run(a),
            Command::Backup(a) => backup::run(&cli, a).await,
        }
    });
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("canopy: {e:#}");
            1
        }
    }
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
