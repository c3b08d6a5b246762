//! Start-up: checks what the broker links, prepares the data directory,
//! creates and binds the three sockets with their options and limits,
//! starts the ZAP handler and the state plane, and links to a parent.

use super::{libzmq, Broker, BrokerError, Endpoints, ZmqContext};
use crate::config::Config;
use crate::control::presence::Presence;
use crate::control::Control;
use crate::federation::{LinkSettings, Uplink};
use crate::metrics::Counters;
use crate::outbox::Outbox;
use crate::security::acl::Acls;
use crate::security::keys::{self, AuthError, ClientKeys};
use crate::security::transport::Inbound;
use crate::security::zap::Zap;
use crate::state::plane::{self, StatePlane};
use crate::state::StateEngine;
use canopy_schemas::{PUB_PORT_OFFSET, SUB_PORT_OFFSET};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

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

/// Restores a backup (`canopy backup`) into `config`'s data directory,
/// which must hold no state yet; returns the keys and the sequence
/// restored. The broker started on it afterwards carries the sequence on
/// and runs a new epoch, so every replica resyncs.
pub fn restore(config: &Config, file: &Path) -> Result<(u64, u64), BrokerError> {
    let failed = |message: String| BrokerError::Restore {
        file: file.display().to_string(),
        message,
    };
    let bytes = std::fs::read(file).map_err(|e| failed(e.to_string()))?;
    let backup =
        canopy_schemas::backup::Backup::decode(&bytes).map_err(|e| failed(e.to_string()))?;
    std::fs::create_dir_all(&config.data_dir).map_err(|source| BrokerError::DataDir {
        path: config.data_dir.display().to_string(),
        source,
    })?;
    let volatile_now = |store: &str| {
        let declared = if store == canopy_schemas::state::OPAQUE_STORE {
            Some(&config.chp)
        } else {
            config.stores.get(store)
        };
        declared.is_some_and(|s| !s.persist)
    };
    crate::state::persist::restore(&config.data_dir.join("state.redb"), &backup, volatile_now)
        .map_err(|e| failed(e.to_string()))?;
    tracing::info!(
        keys = backup.entries.len(),
        volatile_keys = backup.volatile.len(),
        seq = backup.seq,
        from = %backup.broker_id,
        file = %file.display(),
        "backup restored"
    );
    Ok((backup.keys(), backup.seq))
}

/// The broker's CURVE secret key when CURVE is on (both settings given).
pub(super) fn server_secret(config: &Config) -> Result<Option<[u8; 32]>, BrokerError> {
    match (&config.curve_key_file, &config.allow_list) {
        (Some(keys), Some(_)) => Ok(Some(keys::load_server_keys(keys)?.1)),
        (None, None) => Ok(None),
        _ => Err(AuthError::Incomplete.into()),
    }
}

/// What an open broker says once at start (and `--check-config` warns).
pub(super) const CURVE_OFF: &str =
    "CURVE is off: the broker admits any connection (set curve_key_file and allow_list)";

/// The CURVE client keys for the link to the parent, when configured.
pub(super) fn upstream_keys(config: &Config) -> Result<Option<ClientKeys>, BrokerError> {
    match (&config.upstream_server_key, &config.upstream_key_file) {
        (Some(server), Some(key)) => Ok(Some(ClientKeys::load(server, key)?)),
        (None, None) => Ok(None),
        _ => Err(AuthError::IncompleteUpstream.into()),
    }
}

/// The three bound sockets and their ZAP handler.
struct Sockets {
    router: zmq::Socket,
    xpub: zmq::Socket,
    xsub: zmq::Socket,
    zap: Zap,
}

/// Creates the three sockets with their options, starts the ZAP handler
/// (before any socket can accept a peer) and binds them.
fn bind_sockets(
    context: &zmq::Context,
    config: &Config,
    endpoints: &Endpoints,
) -> Result<Sockets, BrokerError> {
    let secret = server_secret(config)?;
    if secret.is_none() {
        tracing::warn!("{CURVE_OFF}");
    }
    let router = context.socket(zmq::ROUTER).ctx(|| "ROUTER socket".into())?;
    let mut xpub = context.socket(zmq::XPUB).ctx(|| "XPUB socket".into())?;
    // Each subscription is applied by the broker itself (limits, ACLs).
    crate::sockopt::set_xpub_manual(&mut xpub).ctx(|| "xpub manual".into())?;
    match crate::sockopt::set_subscriptions_per_connection(
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
        if let Some(secret) = &secret {
            keys::secure(s, secret).ctx(|| "CURVE server".into())?;
        }
    }
    let zap = Zap::start(
        context,
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
        .set_sndhwm(crate::state::snapshot::ROUTER_SNDHWM)
        .ctx(|| "router sndhwm".into())?;
    xpub.set_sndhwm(config.send_hwm)
        .ctx(|| "xpub sndhwm".into())?;
    xsub.set_rcvhwm(config.receive_hwm)
        .ctx(|| "xsub rcvhwm".into())?;
    // A frame far beyond what a socket may carry is cut off at the
    // transport (the peer is disconnected) instead of being buffered
    // whole; a peer that stalls its handshake is closed at the deadline.
    let limits = config.transport_limits();
    let backlog = i32::try_from(config.listen_backlog).unwrap_or(i32::MAX);
    for (socket, inbound, name) in [
        (&router, Inbound::Control, "router"),
        (&xpub, Inbound::Subscriptions, "xpub"),
        (&xsub, Inbound::Data, "xsub"),
    ] {
        limits
            .apply(socket, inbound)
            .ctx(|| format!("{name} transport limits"))?;
        socket
            .set_backlog(backlog)
            .ctx(|| format!("{name} listen backlog"))?;
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
    xsub.send(crate::events::STANDING_SUBSCRIPTION, 0)
        .ctx(|| "standing subscription".into())?;
    Ok(Sockets {
        router,
        xpub,
        xsub,
        zap,
    })
}

/// Loads the stores from disk and starts the disk writer.
fn start_state(
    context: &zmq::Context,
    config: &Config,
    broker_id: &str,
) -> Result<StatePlane, BrokerError> {
    let engine = StateEngine::with_opaque(
        &config.stores,
        config.chp.clone(),
        &config.schemas_dir,
        config.max_key_length,
    )?;
    let broker_tag = u64::from_str_radix(broker_id, 16).unwrap_or(0);
    let (mut state, dropped) = plane::start(
        engine,
        &config.data_dir,
        &config.drop_stores,
        context,
        broker_tag,
    )?;
    state.erase(dropped, &mut Counters::default());
    Ok(state)
}

/// Links to the parent broker when `upstream` is set.
fn link_upstream(
    context: &zmq::Context,
    config: &Config,
    broker_id: &str,
    state: &mut StatePlane,
    counters: &mut Counters,
) -> Result<Option<Uplink>, BrokerError> {
    let Some(upstream) = &config.upstream else {
        return Ok(None);
    };
    let keys = upstream_keys(config)?;
    state.mirror = true;
    let limits = config.transport_limits();
    let link = LinkSettings {
        upstream,
        keys: keys.as_ref(),
        limits: &limits,
        protocols: config.protocols(),
    };
    Ok(Some(Uplink::connect(
        context, &link, broker_id, state, counters,
    )?))
}

impl Broker {
    /// Validates `config`, prepares the data directory and binds the sockets.
    pub fn bind(config: Config) -> Result<Self, BrokerError> {
        config.validate()?;
        libzmq::check_version()?;
        libzmq::require_curve(&config, libzmq::has_curve())?;
        raise_descriptor_limit();
        for warning in super::host::limit_warnings(&config) {
            tracing::warn!("{warning}");
        }
        let broker_id = load_broker_id(&config.data_dir)?;
        let epoch = canopy_schemas::clock::unix_ms().max(1);
        let context = zmq::Context::new();
        let endpoints = Endpoints {
            router: config.endpoint(0),
            xpub: config.endpoint(PUB_PORT_OFFSET),
            xsub: config.endpoint(SUB_PORT_OFFSET),
            http: None,
        };
        let acls = Acls::new(&config.acl).map(Arc::new);
        let sockets = bind_sockets(&context, &config, &endpoints)?;
        let mut state = start_state(&context, &config, &broker_id)?;
        state.epoch = epoch;
        state.acls = acls.clone();
        state.max_streams = match config.max_snapshot_streams {
            0 => usize::MAX,
            n => n,
        };
        state.snapshots_per_s = match config.max_snapshots_per_s {
            r if r > 0.0 && r.is_finite() => r,
            _ => f64::INFINITY,
        };
        let mut counters = Counters::default();
        let uplink = link_upstream(&context, &config, &broker_id, &mut state, &mut counters)?;
        let secured = sockets.zap.secured();
        let (monitor, http) = match config.http_address() {
            None => (None, None),
            Some(address) => {
                let shared = Arc::new(crate::monitor::Shared::default());
                let server =
                    crate::monitor::HttpServer::start(&address, Arc::clone(&shared), secured)?;
                (Some(shared), Some(server))
            }
        };
        let mut endpoints = endpoints;
        endpoints.http = http.as_ref().map(|h| format!("http://{}", h.address()));
        Ok(Broker {
            monitor,
            sys: crate::monitor::sys::SysTopics::new(&broker_id, config.sys_interval_ms),
            _http: http,
            uplink,
            zap: sockets.zap,
            reload: Arc::new(AtomicBool::new(false)),
            state,
            outbox: Outbox::default(),
            acls: acls.clone(),
            control: Control {
                acls,
                broker_id,
                epoch,
                started: Instant::now(),
                presence: Presence::default(),
                seq: 0,
            },
            config,
            endpoints,
            router: sockets.router,
            xpub: sockets.xpub,
            xsub: sockets.xsub,
            counters,
            _context: context,
        })
    }
}
