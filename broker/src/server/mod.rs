//! The server: the broker's sockets, the poll loop and its named slots,
//! start-up, reload and shutdown. It owns everything and only dispatches:
//! each plane does its own work (README, "Where things live").

mod bind;
mod check;
mod host;
pub(crate) mod libzmq;
mod monitoring;
mod poll;
mod run;
pub(crate) mod service;

use crate::config::{Config, ConfigError};
use crate::control::Control;
use crate::federation::Uplink;
use crate::metrics::Counters;
use crate::outbox::Outbox;
use crate::security::acl::Acls;
use crate::security::zap::Zap;
use crate::state::plane::StatePlane;
pub use bind::restore;
pub use check::check_config;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Messages handled per socket before the loop polls again, so no socket
/// starves the others.
const BATCH: usize = 256;
/// How often replies held for peers that read nothing are retried.
const HELD_REPLY_RETRY_MS: u64 = 10;
/// How long replies and goodbyes queued at a stop may take to leave.
const STOP_LINGER_MS: i32 = 1000;
/// Longest a stop waits for the nodes told GOODBYE to show they read it.
const GOODBYE_GRACE_MS: u64 = 1000;
/// Longest the loop sleeps in poll, so a stop request is seen promptly.
const MAX_POLL_MS: u64 = 100;

/// Why the broker could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// A ZeroMQ call failed.
    #[error("{context}: {source}")]
    Zmq {
        /// What was being done.
        context: String,
        /// The ZeroMQ error.
        source: zmq::Error,
    },
    /// The data directory could not be used.
    #[error("data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A store could not be set up.
    #[error(transparent)]
    Store(#[from] crate::state::StoreError),
    /// The state database could not be opened or loaded.
    #[error(transparent)]
    State(#[from] crate::state::plane::StartError),
    /// CURVE could not be set up.
    #[error(transparent)]
    Auth(#[from] crate::security::keys::AuthError),
    /// The link to the parent broker could not be set up.
    #[error(transparent)]
    Link(#[from] crate::federation::LinkError),
    /// A backup could not be restored.
    #[error("restoring {file}: {message}")]
    Restore {
        /// The backup file.
        file: String,
        /// What went wrong.
        message: String,
    },
    /// The monitoring HTTP server could not start.
    #[error(transparent)]
    Http(#[from] crate::monitor::HttpError),
    /// The linked libzmq is not canopy's own.
    #[error(transparent)]
    Libzmq(#[from] libzmq::LibzmqError),
    /// Storage failed while running (a commit, or the disk writer): the
    /// broker stopped rather than serve changes that cannot be made durable.
    #[error(
        "storage failed: {0}. The broker stopped; every acknowledged write is on disk. Check \
         the data directory's disk (space, errors) and start the broker again"
    )]
    Storage(String),
}

trait ZmqContext<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T, BrokerError>;
}

impl<T> ZmqContext<T> for Result<T, zmq::Error> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T, BrokerError> {
        self.map_err(|source| BrokerError::Zmq {
            context: what(),
            source,
        })
    }
}

/// The endpoints a running broker listens on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// ROUTER (P): control and snapshots.
    pub router: String,
    /// XPUB (P+1): everything outbound.
    pub xpub: String,
    /// XSUB (P+2): everything inbound.
    pub xsub: String,
    /// The monitoring HTTP server (`http://ADDRESS:PORT`), unless it is off.
    pub http: Option<String>,
}

/// A bound broker, ready to [`run`](Broker::run).
pub struct Broker {
    config: Config,
    endpoints: Endpoints,
    router: zmq::Socket,
    xpub: zmq::Socket,
    xsub: zmq::Socket,
    control: Control,
    counters: Counters,
    state: StatePlane,
    outbox: Outbox,
    zap: Zap,
    uplink: Option<Uplink>,
    acls: Option<Arc<Acls>>,
    reload: Arc<AtomicBool>,
    /// Figures handed to the HTTP thread, when it runs.
    monitor: Option<Arc<crate::monitor::Shared>>,
    /// The `$sys/` publisher.
    sys: crate::monitor::sys::SysTopics,
    // Stopped (and joined) when the broker is dropped.
    _http: Option<crate::monitor::HttpServer>,
    // Keeps the sockets' context alive as long as the broker.
    _context: zmq::Context,
}

impl Broker {
    /// Where the broker listens.
    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// The stable broker id.
    pub fn broker_id(&self) -> &str {
        &self.control.broker_id
    }

    /// Set this flag (SIGHUP does) to re-read the CURVE allow-list.
    pub fn reload_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.reload)
    }

    /// True when CURVE is on.
    pub fn secured(&self) -> bool {
        self.zap.secured()
    }

    /// This run's epoch.
    pub fn epoch(&self) -> u64 {
        self.control.epoch
    }
}
