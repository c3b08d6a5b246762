//! The canopy broker: binds the three sockets of `PROTOCOL.md`, forwards events,
//! answers control commands and tracks node presence.
//!
//! One thread runs [`Broker::run`], a ZeroMQ poll loop over the ROUTER, XPUB
//! and XSUB. It owns every piece of broker state, so nothing on the hot path
//! takes a lock.

pub mod acl;
pub mod auth;
pub mod cli;
pub mod config;
pub mod connections;
pub mod control;
pub mod events;
pub mod federation;
pub mod inflight;
pub mod libzmq;
pub mod metrics;
pub mod outbox;
pub mod presence;
pub mod state;
pub mod state_plane;
pub mod transport;

use canopy_schemas::{PUB_PORT_OFFSET, SUB_PORT_OFFSET};
pub use config::{Config, ConfigError};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Messages handled per socket before the loop polls again, so no socket
/// starves the others.
const BATCH: usize = 256;
/// Longest the loop sleeps in poll, so a stop request is seen promptly.
const MAX_POLL_MS: u64 = 100;

/// Subscription the XSUB holds from start to stop: the state key space.
pub const STANDING_SUBSCRIPTION: &[u8] = &[1, canopy_schemas::topic::STATE_MARK];

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
    Store(#[from] state::StoreError),
    /// The state database could not be opened or loaded.
    #[error("state: {0}")]
    State(String),
    /// CURVE could not be set up.
    #[error(transparent)]
    Auth(#[from] auth::AuthError),
    /// The link to the parent broker could not be set up.
    #[error(transparent)]
    Link(#[from] federation::LinkError),
    /// The linked libzmq is not canopy's own.
    #[error(transparent)]
    Libzmq(#[from] libzmq::LibzmqError),
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
}

/// A bound broker, ready to [`run`](Broker::run).
pub struct Broker {
    config: Config,
    endpoints: Endpoints,
    router: zmq::Socket,
    xpub: zmq::Socket,
    xsub: zmq::Socket,
    control: control::Control,
    counters: metrics::Counters,
    state: state_plane::StatePlane,
    outbox: outbox::Outbox,
    zap: auth::Zap,
    uplink: Option<federation::Uplink>,
    acls: Option<Arc<acl::Acls>>,
    reload: Arc<AtomicBool>,
    // Keeps the sockets' context alive as long as the broker.
    _context: zmq::Context,
}

/// Raises the soft limit on open descriptors to the hard limit: every
/// connection (finished handshake or not) holds one, and the soft default
/// (often 1024) would let a few hundred stalled strangers lock clients out.
fn raise_descriptor_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "open descriptor limit"),
        Err(e) => tracing::warn!(error = %e, "could not raise the open descriptor limit"),
    }
}

/// Reads the broker id from the data directory, creating it on first start.
fn load_broker_id(dir: &Path) -> Result<String, BrokerError> {
    let io = |source| BrokerError::DataDir {
        path: dir.display().to_string(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let file = dir.join("broker-id");
    match std::fs::read_to_string(&file) {
        Ok(id) if !id.trim().is_empty() => Ok(id.trim().to_owned()),
        _ => {
            let id = format!("{:016x}", rand::random::<u64>());
            std::fs::write(&file, &id).map_err(io)?;
            Ok(id)
        }
    }
}

impl Broker {
    /// Validates `config`, prepares the data directory and binds the sockets.
    pub fn bind(config: Config) -> Result<Self, BrokerError> {
        config.validate()?;
        libzmq::check_version()?;
        libzmq::require_curve(&config, libzmq::has_curve())?;
        raise_descriptor_limit();
        let broker_id = load_broker_id(&config.data_dir)?;
        let epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(1);
        let context = zmq::Context::new();
        let endpoints = Endpoints {
            router: config.endpoint(0),
            xpub: config.endpoint(PUB_PORT_OFFSET),
            xsub: config.endpoint(SUB_PORT_OFFSET),
        };
        let server_secret = match (&config.curve_key_file, &config.allow_list) {
            (Some(keys), Some(_)) => Some(auth::load_server_keys(keys)?.1),
            (None, None) => {
                tracing::warn!(
                    "CURVE is off: the broker admits any connection (set curve_key_file and allow_list)"
                );
                None
            }
            _ => return Err(auth::AuthError::Incomplete.into()),
        };
        let router = context.socket(zmq::ROUTER).ctx(|| "ROUTER socket".into())?;
        let mut xpub = context.socket(zmq::XPUB).ctx(|| "XPUB socket".into())?;
        let acls = acl::Acls::new(&config.acl).map(Arc::new);
        // Each subscription is applied by the broker itself (limits, ACLs).
        events::set_xpub_manual(&mut xpub).ctx(|| "xpub manual".into())?;
        match events::set_subscriptions_per_connection(
            &mut xpub,
            config.max_subscriptions_per_connection,
        ) {
            Ok(()) => {}
            Err(zmq::Error::EINVAL) => {
                return Err(libzmq::LibzmqError::Unpatched(libzmq::version()).into())
            }
            Err(e) => return Err(e).ctx(|| "subscriptions per connection".into()),
        }
        let xsub = context.socket(zmq::XSUB).ctx(|| "XSUB socket".into())?;
        for s in [&router, &xpub, &xsub] {
            s.set_linger(0).ctx(|| "set linger".into())?;
            if let Some(secret) = &server_secret {
                auth::secure(s, secret).ctx(|| "CURVE server".into())?;
            }
        }
        // The ZAP handler must exist before any socket accepts a peer.
        let zap = auth::Zap::start(
            &context,
            config.allow_list.as_deref(),
            &[(&router, "router"), (&xpub, "xpub"), (&xsub, "xsub")],
            config.max_connections,
        )?;
        // Sends report a full or vanished peer (EAGAIN / EHOSTUNREACH) so
        // snapshots can be paced per peer; replies are sent without blocking.
        router
            .set_router_mandatory(true)
            .ctx(|| "router mandatory".into())?;
        router
            .set_sndhwm(config.send_hwm.max(100_000))
            .ctx(|| "router sndhwm".into())?;
        xpub.set_sndhwm(config.send_hwm)
            .ctx(|| "xpub sndhwm".into())?;
        xsub.set_rcvhwm(config.receive_hwm)
            .ctx(|| "xsub rcvhwm".into())?;
        // A frame far beyond what a socket may carry is cut off at the
        // transport (the peer is disconnected) instead of being buffered
        // whole; a peer that stalls its handshake is closed at the deadline.
        let limits = transport::TransportLimits::from_config(&config);
        for (socket, inbound, name) in [
            (&router, transport::Inbound::Control, "router"),
            (&xpub, transport::Inbound::Subscriptions, "xpub"),
            (&xsub, transport::Inbound::Data, "xsub"),
        ] {
            limits
                .apply(socket, inbound)
                .ctx(|| format!("{name} transport limits"))?;
        }
        router
            .bind(&endpoints.router)
            .ctx(|| format!("bind {}", endpoints.router))?;
        xpub.bind(&endpoints.xpub)
            .ctx(|| format!("bind {}", endpoints.xpub))?;
        xsub.bind(&endpoints.xsub)
            .ctx(|| format!("bind {}", endpoints.xsub))?;
        // The state key space is wanted at all times (CHP clients publish KVSET
        // from plain PUB sockets); it also tells a publisher that its link to
        // the broker is ready.
        xsub.send(STANDING_SUBSCRIPTION, 0)
            .ctx(|| "standing subscription".into())?;
        let engine =
            state::StateEngine::new(&config.stores, &config.schemas_dir, config.max_key_length)?;
        let broker_tag = u64::from_str_radix(&broker_id, 16).unwrap_or(0);
        let (mut state, dropped) =
            state_plane::start(engine, &config.data_dir, &context, broker_tag)?;
        state.erase(dropped);
        let mut counters = metrics::Counters::default();
        let link_keys = match (&config.upstream_server_key, &config.upstream_key_file) {
            (Some(server), Some(key)) => Some(auth::ClientKeys::load(server, key)?),
            (None, None) => None,
            _ => return Err(auth::AuthError::IncompleteUpstream.into()),
        };
        let uplink = match &config.upstream {
            Some(upstream) => Some(federation::Uplink::connect(
                &context,
                upstream,
                link_keys.as_ref(),
                &limits,
                &broker_id,
                &mut state,
                &mut counters,
            )?),
            None => None,
        };
        Ok(Broker {
            uplink,
            zap,
            reload: Arc::new(AtomicBool::new(false)),
            state,
            outbox: outbox::Outbox::default(),
            acls: acls.clone(),
            control: control::Control {
                acls: acls.clone(),
                broker_id,
                epoch,
                started: Instant::now(),
                presence: presence::Presence::default(),
                seq: 0,
            },
            config,
            endpoints,
            router,
            xpub,
            xsub,
            counters,
            _context: context,
        })
    }

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

    /// Runs the poll loop until `stop` becomes true.
    pub fn run(mut self, stop: Arc<AtomicBool>) -> Result<(), BrokerError> {
        let heartbeat = Duration::from_millis(self.config.heartbeat_ms);
        let node_timeout = Duration::from_millis(self.config.node_timeout_ms);
        let mut forwarder = events::Forwarder::new(
            events::EventLimits {
                max_message_size: self.config.max_message_size,
                max_topic_length: self.config.max_topic_length,
            },
            self.acls.clone(),
        );
        let mut subscriptions = events::Subscriptions::new(
            self.acls.clone(),
            events::SubscriptionLimits {
                max_total: self.config.max_subscriptions_total,
                max_length: self.config.max_topic_length,
            },
        );
        self.state.acls = self.acls.clone();
        self.state.snapshots_per_s = match self.config.max_snapshots_per_s {
            r if r > 0.0 && r.is_finite() => r,
            _ => f64::INFINITY,
        };
        let mut next_beat = Instant::now();
        let mut snapshots_blocked = false;
        while !stop.load(Ordering::Relaxed) {
            let now = Instant::now();
            if now >= next_beat {
                self.housekeeping(node_timeout)?;
                next_beat = now + heartbeat;
            }
            if self.uplink.is_none() {
                // A child's mirror expires keys when the master says so.
                self.state
                    .expire(&self.xpub, &mut self.counters)
                    .ctx(|| "expiring keys".into())?;
            }
            let wait = if snapshots_blocked {
                1
            } else if self.state.busy() || self.outbox.busy() {
                0
            } else {
                let until_expiry = self
                    .state
                    .engine
                    .next_expiry()
                    .map_or(u64::MAX, |d| d.saturating_sub(state_plane::now_ms()));
                next_beat
                    .saturating_duration_since(Instant::now())
                    .as_millis()
                    .min(MAX_POLL_MS as u128)
                    .min(until_expiry as u128) as i64
            };
            if self.reload.swap(false, Ordering::Relaxed) {
                self.zap.reload(&mut self.counters);
            }
            let mut items = vec![
                self.xsub.as_poll_item(zmq::POLLIN),
                self.xpub.as_poll_item(zmq::POLLIN),
                self.router.as_poll_item(zmq::POLLIN),
                self.state.durable.as_poll_item(zmq::POLLIN),
                self.zap.socket.as_poll_item(zmq::POLLIN),
            ];
            if let Some(link) = &self.uplink {
                items.push(link.down.as_poll_item(zmq::POLLIN));
                items.push(link.control.as_poll_item(zmq::POLLIN));
                items.push(link.up.as_poll_item(zmq::POLLIN));
            }
            match zmq::poll(&mut items, wait) {
                Ok(_) => {}
                Err(zmq::Error::EINTR) => continue,
                Err(e) => return Err(e).ctx(|| "poll".into()),
            }
            let ready: [bool; 8] =
                std::array::from_fn(|i| items.get(i).is_some_and(|item| item.is_readable()));
            drop(items);
            if let Some(link) = &mut self.uplink {
                if ready[5] {
                    link.from_above(&self.xpub, &mut self.state, &mut self.counters)
                        .ctx(|| "from the parent".into())?;
                }
                if ready[6] {
                    link.replies(
                        &mut self.state,
                        &self.router,
                        &mut self.outbox,
                        &mut self.counters,
                    )
                    .ctx(|| "parent replies".into())?;
                }
                if ready[7] {
                    while let Some((on, prefix)) = link
                        .parent_interest()
                        .ctx(|| "parent subscriptions".into())?
                    {
                        subscriptions
                            .from_parent(on, &prefix, &self.xsub)
                            .ctx(|| "parent subscriptions".into())?;
                    }
                }
            }
            if ready[4] {
                self.zap.serve(&mut self.counters).ctx(|| "ZAP".into())?;
            }
            if ready[1] {
                for _ in 0..BATCH {
                    let more = subscriptions
                        .forward_one(
                            &self.xpub,
                            &self.xsub,
                            self.uplink.as_ref().map(|l| &l.down),
                            &mut self.counters,
                        )
                        .ctx(|| "subscription forwarding".into())?;
                    if !more {
                        break;
                    }
                }
            }
            if ready[0] {
                for _ in 0..BATCH {
                    match forwarder
                        .forward_one(
                            &self.xsub,
                            &self.xpub,
                            self.uplink.as_mut(),
                            &mut self.counters,
                        )
                        .ctx(|| "event forwarding".into())?
                    {
                        events::Inbound::Idle => break,
                        events::Inbound::Handled => {}
                        events::Inbound::Kvset(msg, identity) => self
                            .state
                            .kvset(
                                msg,
                                identity,
                                &self.xpub,
                                self.uplink.as_mut(),
                                &mut self.counters,
                            )
                            .ctx(|| "KVSET".into())?,
                    }
                }
            }
            if ready[2] {
                // Control traffic only (never the event path): STATS then
                // reports the connections as they are now.
                self.zap.connections.refresh(&mut self.counters);
                self.control.seq = self.state.engine.seq();
                for _ in 0..BATCH {
                    let inflight = &self.state.inflight;
                    match self
                        .control
                        .handle_one(
                            &self.router,
                            &mut self.outbox,
                            &|identity| inflight.of(identity),
                            &self.config,
                            &mut self.counters,
                        )
                        .ctx(|| "control".into())?
                    {
                        control::Handled::Idle => break,
                        control::Handled::Done => {}
                        control::Handled::Deferred(deferred) => match *deferred {
                            control::Deferred::Snapshot(request) => self
                                .state
                                .snapshot(
                                    request,
                                    &self.router,
                                    &mut self.outbox,
                                    &mut self.counters,
                                )
                                .ctx(|| "snapshot request".into())?,
                            control::Deferred::State { peer, request } => self
                                .state
                                .request(
                                    peer,
                                    request,
                                    &self.router,
                                    &mut self.outbox,
                                    &self.xpub,
                                    self.uplink.as_mut(),
                                    &mut self.counters,
                                )
                                .ctx(|| "state request".into())?,
                        },
                    }
                }
            }
            if ready[3] {
                self.state
                    .on_durable(&self.router, &mut self.outbox, &mut self.counters)
                    .ctx(|| "durability".into())?;
            }
            if self.outbox.busy() {
                self.outbox
                    .flush(&self.router, &mut self.counters)
                    .ctx(|| "replies".into())?;
            }
            snapshots_blocked = false;
            if self.state.busy() {
                snapshots_blocked = self
                    .state
                    .pump_snapshots(&self.router, &mut self.counters)
                    .ctx(|| "snapshot".into())?;
            }
        }
        tracing::info!("broker stopping");
        self.state
            .shutdown(&self.router, &mut self.outbox, &mut self.counters)
            .ctx(|| "flushing state".into())?;
        Ok(())
    }

    /// Once per heartbeat: HUGZ out, silent nodes out.
    fn housekeeping(&mut self, node_timeout: Duration) -> Result<(), BrokerError> {
        events::send_hugz(&self.xpub).ctx(|| "sending HUGZ".into())?;
        self.counters.heartbeats_sent += 1;
        self.zap.connections.refresh(&mut self.counters);
        if let Some(link) = &mut self.uplink {
            let subscriptions = self.counters.subscriptions_active.min(u32::MAX as u64) as u32;
            link.beat(
                node_timeout,
                &mut self.state,
                subscriptions,
                &mut self.counters,
            )
            .ctx(|| "upstream heartbeat".into())?;
        }
        for gone in self.control.presence.expire(node_timeout) {
            self.counters.nodes_expired += 1;
            tracing::info!(node = %gone.path, "node expired after silence");
        }
        Ok(())
    }
}
