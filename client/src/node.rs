//! The node handle applications hold: connect, publish, subscribe, events,
//! stats and nodes.

use crate::endpoint::BrokerEndpoints;
use crate::error::{TransportError, ZmqResult};
use crate::event::NodeEvent;
use crate::io::{Command, Io, LocalCounters};
use crate::locking::lock;
use crate::port::{Lifetime, Port};
use crate::replica::shared::{ReplicaShared, ReplicaState};
use crate::replica::{Registration, Replica};
use crate::subs::SubTable;
use crate::subscriptions::Subscriptions;
use crate::ClientError;
use canopy_schemas::control::{Empty, Hello, NodeInfo, NodesQuery, StatsReport, Welcome};
use canopy_schemas::header::FLAG_MSGPACK;
use canopy_schemas::topic::{check_plain_topic, encode_topic};
use canopy_schemas::{Address, EventHeader, GroupPath, NodePath, Reply, Request};
use serde::Serialize;
use std::collections::HashMap;
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch};

/// How to join: where and who, then chained setters for the rest.
///
/// ```
/// # use canopy_client::NodeOptions;
/// # use std::time::Duration;
/// let options = NodeOptions::new("tcp://127.0.0.1:5556", "s1", "eu/fra")
///     .connect_timeout(Duration::from_secs(2))
///     .event_buffer(10_000);
/// ```
#[derive(Debug, Clone)]
pub struct NodeOptions {
    pub(crate) broker: String,
    pub(crate) name: String,
    pub(crate) group: String,
    pub(crate) client_version: String,
    pub(crate) connect_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) event_buffer: usize,
    pub(crate) receive_hwm: i32,
    pub(crate) curve: Option<crate::CurveKeys>,
    pub(crate) fail_fast: bool,
}

impl NodeOptions {
    /// Options with defaults for everything but where (`tcp://HOST:P`, the
    /// broker's base port) and who (a name unique in its group; `""` is the
    /// root group).
    pub fn new(broker: &str, name: &str, group: &str) -> Self {
        NodeOptions {
            broker: broker.to_owned(),
            name: name.to_owned(),
            group: group.to_owned(),
            client_version: concat!("canopy-client/", env!("CARGO_PKG_VERSION")).to_owned(),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(5),
            event_buffer: 100_000,
            receive_hwm: 100_000,
            curve: None,
            fail_fast: false,
        }
    }

    /// Give up at once when nothing listens at the broker's address
    /// (checked after a short silence) instead of waiting out
    /// `connect_timeout` for a broker that may be starting (default: wait,
    /// then say why). Command-line tools want this.
    pub fn fail_fast(mut self, fail_fast: bool) -> Self {
        self.fail_fast = fail_fast;
        self
    }

    /// Reported in `nodes` (default `canopy-client/VERSION`).
    pub fn client_version(mut self, version: &str) -> Self {
        self.client_version = version.to_owned();
        self
    }

    /// How long `connect` and `store` wait for the broker (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long a request waits for its reply (default 5 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Events buffered for the application before they are dropped and
    /// counted (default 100,000).
    pub fn event_buffer(mut self, events: usize) -> Self {
        self.event_buffer = events;
        self
    }

    /// Messages the broker may queue towards this node (default 100,000).
    pub fn receive_hwm(mut self, messages: i32) -> Self {
        self.receive_hwm = messages;
        self
    }

    /// CURVE keys, when the broker requires CURVE.
    pub fn curve(mut self, keys: crate::CurveKeys) -> Self {
        self.curve = Some(keys);
        self
    }

    /// The broker endpoint.
    pub fn broker(&self) -> &str {
        &self.broker
    }
}

struct Publisher {
    /// None once handed back to the I/O thread (closed).
    socket: Option<zmq::Socket>,
    sequences: HashMap<Vec<u8>, u64>,
}

/// A joined node. Cheap to share behind an `Arc`; every method takes `&self`.
///
/// Dropping it does not wait: the I/O thread says BYE and stops on its own
/// once the node and every replica opened from it are gone. Call
/// [`close`](Self::close) to wait until pending publishes are flushed.
pub struct Node {
    path: NodePath,
    endpoints: BrokerEndpoints,
    welcome: Welcome,
    port: Port,
    publisher: Mutex<Publisher>,
    subs: Subscriptions,
    counters: Arc<Mutex<LocalCounters>>,
    replicas: Arc<Mutex<Vec<Arc<ReplicaShared>>>>,
    events: Mutex<Option<mpsc::Receiver<NodeEvent>>>,
    connect_timeout: Duration,
    request_timeout: Duration,
    life: Arc<Lifetime>,
}

static SOCKET_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The user topic of subscription echoes, addressed to the node itself
/// (see [`Node::sync_subscriptions`]); such events are never delivered.
pub const ECHO_TOPIC_PREFIX: &str = "_canopy/echo/";
/// How often an echo is published again until it comes back.
const ECHO_RETRY: Duration = Duration::from_millis(20);

use canopy_schemas::clock::unix_ns as now_ns;

/// The sockets of one node: the DEALER (with its handshake monitor), the
/// SUB, the XPUB it publishes on, and the pair that wakes its I/O thread.
struct NodeSockets {
    dealer: zmq::Socket,
    monitor: zmq::Socket,
    sub: zmq::Socket,
    publisher: zmq::Socket,
    wake_rx: UnixStream,
    wake_tx: UnixStream,
}

impl NodeSockets {
    /// Creates and connects them to the broker's three endpoints.
    fn open(
        ctx: &zmq::Context,
        endpoints: &BrokerEndpoints,
        options: &NodeOptions,
    ) -> Result<NodeSockets, ClientError> {
        let dealer = ctx.socket(zmq::DEALER).z()?;
        tune(&dealer, options.curve.as_ref()).z()?;
        dealer.set_immediate(true).z()?;
        // Room for many pipelined requests and for snapshot streams.
        dealer.set_sndhwm(100_000).z()?;
        dealer.set_rcvhwm(100_000).z()?;
        // Handshake failures (CURVE refused) are reported by a monitor.
        let monitor_endpoint = format!(
            "inproc://canopy-monitor-{}-{}",
            std::process::id(),
            SOCKET_COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        dealer
            .monitor(
                &monitor_endpoint,
                zmq::SocketEvent::HANDSHAKE_FAILED_AUTH as i32,
            )
            .z()?;
        let monitor = ctx.socket(zmq::PAIR).z()?;
        monitor.set_linger(0).z()?;
        monitor.connect(&monitor_endpoint).z()?;
        dealer.connect(&endpoints.router).z()?;
        let sub = ctx.socket(zmq::SUB).z()?;
        tune(&sub, options.curve.as_ref()).z()?;
        sub.set_rcvhwm(options.receive_hwm).z()?;
        sub.set_subscribe(canopy_schemas::HUGZ).z()?;
        sub.connect(&endpoints.xpub).z()?;
        // An XPUB, not a PUB, so we can see the broker's subscriptions arrive
        // and know when a publish will not be dropped for want of them.
        let publisher = ctx.socket(zmq::XPUB).z()?;
        tune(&publisher, options.curve.as_ref()).z()?;
        publisher.set_linger(2000).z()?;
        publisher.set_sndhwm(100_000).z()?;
        publisher.connect(&endpoints.xsub).z()?;
        let (wake_rx, wake_tx) = UnixStream::pair()
            .and_then(|(rx, tx)| {
                rx.set_nonblocking(true)?;
                tx.set_nonblocking(true)?;
                Ok((rx, tx))
            })
            .map_err(|e| {
                ClientError::Transport(TransportError::other(format!("wake pipe: {e}")))
            })?;
        Ok(NodeSockets {
            dealer,
            monitor,
            sub,
            publisher,
            wake_rx,
            wake_tx,
        })
    }
}

fn tune(socket: &zmq::Socket, curve: Option<&crate::CurveKeys>) -> Result<(), zmq::Error> {
    socket.set_reconnect_ivl(100)?;
    socket.set_reconnect_ivl_max(1000)?;
    if let Some(keys) = curve {
        keys.apply(socket)?;
    }
    socket.set_linger(0)
}

/// A connect in progress: if it fails or its future is dropped, the I/O
/// thread it started is told to stop and gets the publisher back (so that
/// nothing blocks here), unless [`Starting::finish`] disarmed it.
struct Starting {
    port: Port,
    publisher: Option<zmq::Socket>,
    armed: bool,
}

impl Starting {
    /// Connected: keep the thread, take the publisher.
    fn finish(mut self) -> Option<zmq::Socket> {
        self.armed = false;
        self.publisher.take()
    }
}

impl Drop for Starting {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Some(socket) = self.publisher.take() {
            retire(&self.port, socket);
        }
        let _ = self.port.command(Command::Close);
    }
}

/// Hands a publisher socket to the I/O thread to close (it owns the
/// context's end); closes it here without lingering when the thread is gone.
fn retire(port: &Port, socket: zmq::Socket) {
    if let Some(socket) = port.retire(socket) {
        let _ = socket.set_linger(0);
    }
}

impl Node {
    /// Joins the broker as `group/name`. Fails with a clear error when the
    /// broker does not answer, speaks another protocol version, or refuses.
    /// Cancel-safe: dropping the future stops the I/O thread it started.
    pub async fn connect(options: NodeOptions) -> Result<Node, ClientError> {
        let endpoints = BrokerEndpoints::parse(&options.broker)?;
        crate::reach::resolve(&options.broker)?;
        let path = NodePath::new(GroupPath::parse(&options.group)?, &options.name)?;
        let ctx = zmq::Context::new();
        let NodeSockets {
            dealer,
            monitor,
            sub,
            publisher,
            wake_rx,
            wake_tx,
        } = NodeSockets::open(&ctx, &endpoints, &options)?;
        let (cmd_tx, cmd_rx) = std::sync::mpsc::channel();
        let (ev_tx, ev_rx) = mpsc::channel(options.event_buffer.max(1));
        let (first_tx, first_rx) = oneshot::channel();
        let (done_tx, done_rx) = watch::channel(false);
        let table = Arc::new(Mutex::new(SubTable::default()));
        let counters = Arc::new(Mutex::new(LocalCounters::default()));
        let ids = Arc::new(AtomicU64::new(1));
        let replicas: Arc<Mutex<Vec<Arc<ReplicaShared>>>> = Arc::default();
        let wake_pending = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let io = Io {
            sub,
            dealer,
            wake: wake_rx,
            wake_pending: Arc::clone(&wake_pending),
            commands: cmd_rx,
            events: ev_tx,
            subs: Arc::clone(&table),
            counters: Arc::clone(&counters),
            hello: Hello {
                id: 0,
                protocol: canopy_schemas::PROTOCOL_MIN,
                protocol_max: Some(canopy_schemas::PROTOCOL_VERSION),
                name: path.name.clone(),
                group: path.group.to_string(),
                client_version: options.client_version.clone(),
            },
            first_welcome: Some(first_tx),
            ids: Arc::clone(&ids),
            replicas: Arc::clone(&replicas),
            monitor,
            endpoint: options.broker.clone(),
            echo_prefix: path.node_prefix(ECHO_TOPIC_PREFIX),
            echoes: HashMap::new(),
            retired: Vec::new(),
            _context: ctx,
        };
        let port = Port::new(
            cmd_tx,
            wake_tx,
            wake_pending,
            ids,
            options.request_timeout,
            endpoints.router.clone(),
        );
        std::thread::Builder::new()
            .name(format!("canopy-node-{}", path.name))
            .spawn(move || {
                io.run();
                // Every socket and the context are gone: flushed.
                let _ = done_tx.send(true);
            })
            .map_err(|e| {
                ClientError::Transport(TransportError::other(format!("spawning I/O thread: {e}")))
            })?;
        let starting = Starting {
            port: port.clone(),
            publisher: Some(publisher),
            armed: true,
        };
        let timeout = || ClientError::Timeout {
            endpoint: options.broker.clone(),
            waited_ms: options.connect_timeout.as_millis() as u64,
        };
        // On an error, `starting` stops the I/O thread on the way out.
        let welcome = wait_for_welcome(first_rx, &options).await?;
        let ready = match &starting.publisher {
            Some(p) => wait_for_broker_subscription(p, options.connect_timeout).await,
            None => false,
        };
        if !ready {
            return Err(timeout());
        }
        let publisher = starting.finish().ok_or(ClientError::Closed)?;
        let life = Arc::new(Lifetime::new(port.clone(), done_rx));
        Ok(Node {
            path,
            endpoints,
            subs: Subscriptions::new(table, port.clone(), welcome.max_subscriptions),
            welcome,
            port,
            publisher: Mutex::new(Publisher {
                socket: Some(publisher),
                sequences: HashMap::new(),
            }),
            counters,
            replicas,
            events: Mutex::new(Some(ev_rx)),
            connect_timeout: options.connect_timeout,
            request_timeout: options.request_timeout,
            life,
        })
    }

    /// This node's path.
    pub fn path(&self) -> &NodePath {
        &self.path
    }

    /// The broker's endpoints.
    pub fn endpoints(&self) -> &BrokerEndpoints {
        &self.endpoints
    }

    /// What the broker said when we joined (epoch, limits).
    pub fn welcome(&self) -> &Welcome {
        &self.welcome
    }

    /// Events this node counted as missing (publisher sequence gaps) plus those
    /// dropped because the application read too slowly.
    pub fn dropped(&self) -> u64 {
        let c = lock(&self.counters);
        c.gaps + c.overflow
    }

    /// The event stream. Can be taken once.
    pub fn events(&self) -> Result<Events, ClientError> {
        lock(&self.events)
            .take()
            .map(|rx| Events { rx })
            .ok_or(ClientError::EventsTaken)
    }

    fn apply(&self, prefixes: Vec<(Vec<u8>, bool)>, on: bool) -> Result<(), ClientError> {
        self.subs.apply(&prefixes, on)
    }

    /// Waits until every subscription made before the call is in force at
    /// the broker: once it returns, events the broker receives for them are
    /// delivered (ZeroMQ applies subscriptions asynchronously, so an event
    /// published right after `subscribe` may otherwise be dropped).
    ///
    /// How: the node subscribes to a fresh echo topic addressed to itself,
    /// after its other subscriptions on the same connection, and publishes
    /// to it until the echo comes back. The echo passes the broker only
    /// once it has applied that subscription, so the earlier ones too; the
    /// broker has also sent them on to every publisher (each of which
    /// applies them as they arrive on its link).
    pub async fn sync_subscriptions(&self) -> Result<(), ClientError> {
        let topic = format!("{ECHO_TOPIC_PREFIX}{:016x}", rand::random::<u64>());
        let address = Address::Node(self.path.clone());
        let frame = encode_topic(&address, &topic)?;
        let (tx, mut rx) = oneshot::channel();
        self.port.command(Command::Echo(frame.clone(), tx))?;
        let _done = EchoGuard {
            port: self.port.clone(),
            frame,
        };
        let deadline = Instant::now() + self.request_timeout;
        loop {
            self.send_event(&address, &topic, 0, &[], false)?;
            match tokio::time::timeout(ECHO_RETRY, &mut rx).await {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(_)) => return Err(ClientError::Closed),
                Err(_) if Instant::now() >= deadline => {
                    return Err(ClientError::Timeout {
                        endpoint: self.endpoints.router.clone(),
                        waited_ms: self.request_timeout.as_millis() as u64,
                    })
                }
                Err(_) => {}
            }
        }
    }

    fn node_prefixes(&self, topic_prefix: &str) -> Result<Vec<(Vec<u8>, bool)>, ClientError> {
        check_plain_topic(topic_prefix)?;
        let mut out: Vec<(Vec<u8>, bool)> = self
            .path
            .group
            .ancestors_and_self()
            .map(|g| (g.level_prefix(topic_prefix), false))
            .collect();
        out.push((self.path.node_prefix(topic_prefix), false));
        out.push((topic_prefix.as_bytes().to_vec(), true));
        Ok(out)
    }

    /// Receives events whose topic starts with `topic_prefix` that are addressed
    /// to any of this node's ancestor groups, to this node, or published on a
    /// plain topic.
    pub fn subscribe(&self, topic_prefix: &str) -> Result<(), ClientError> {
        self.apply(self.node_prefixes(topic_prefix)?, true)
    }

    /// Undoes [`subscribe`](Self::subscribe).
    pub fn unsubscribe(&self, topic_prefix: &str) -> Result<(), ClientError> {
        self.apply(self.node_prefixes(topic_prefix)?, false)
    }

    /// Observes every addressed event (group or node) in the subtree `group`.
    pub fn subscribe_subtree(&self, group: &str) -> Result<(), ClientError> {
        let g = GroupPath::parse(group)?;
        self.apply(vec![(g.subtree_prefix(), false)], true)
    }

    /// Undoes [`subscribe_subtree`](Self::subscribe_subtree).
    pub fn unsubscribe_subtree(&self, group: &str) -> Result<(), ClientError> {
        let g = GroupPath::parse(group)?;
        self.apply(vec![(g.subtree_prefix(), false)], false)
    }

    /// Publishes `value` as MessagePack.
    pub fn publish<T: Serialize + ?Sized>(
        &self,
        address: &Address,
        topic: &str,
        value: &T,
    ) -> Result<(), ClientError> {
        let payload =
            rmp_serde::to_vec_named(value).map_err(|e| ClientError::Payload(e.to_string()))?;
        self.send_event(address, topic, FLAG_MSGPACK, &payload, true)
    }

    /// Publishes bytes that already are MessagePack (flagged as such).
    pub fn publish_msgpack(
        &self,
        address: &Address,
        topic: &str,
        payload: &[u8],
    ) -> Result<(), ClientError> {
        self.send_event(address, topic, FLAG_MSGPACK, payload, true)
    }

    /// Publishes raw bytes.
    pub fn publish_raw(
        &self,
        address: &Address,
        topic: &str,
        payload: &[u8],
    ) -> Result<(), ClientError> {
        self.send_event(address, topic, 0, payload, true)
    }

    /// Publishes `value` to every node in `group` and below.
    pub fn publish_group<T: Serialize + ?Sized>(
        &self,
        group: &str,
        topic: &str,
        value: &T,
    ) -> Result<(), ClientError> {
        self.publish(&Address::Group(GroupPath::parse(group)?), topic, value)
    }

    /// Publishes `value` to one node, `group/name`.
    pub fn publish_node<T: Serialize + ?Sized>(
        &self,
        node: &str,
        topic: &str,
        value: &T,
    ) -> Result<(), ClientError> {
        self.publish(&Address::Node(NodePath::parse(node)?), topic, value)
    }

    /// Publishes `value` on a plain topic.
    pub fn publish_topic<T: Serialize + ?Sized>(
        &self,
        topic: &str,
        value: &T,
    ) -> Result<(), ClientError> {
        self.publish(&Address::Plain, topic, value)
    }

    fn send_event(
        &self,
        address: &Address,
        topic: &str,
        flags: u8,
        payload: &[u8],
        numbered: bool,
    ) -> Result<(), ClientError> {
        let topic_frame = encode_topic(address, topic)?;
        let mut p = lock(&self.publisher);
        // Sequence 0: not numbered (echoes; receivers track no gaps).
        let sequence = if numbered {
            let seq = p.sequences.entry(topic_frame.clone()).or_insert(0);
            *seq += 1;
            *seq
        } else {
            0
        };
        let header = EventHeader {
            flags,
            sequence,
            timestamp_ns: now_ns(),
            publisher: self.path.to_string(),
        }
        .encode()
        .map_err(|e| ClientError::Payload(e.to_string()))?;
        let size = topic_frame.len() + header.len() + payload.len();
        if size as u64 > self.welcome.max_message_size {
            return Err(ClientError::TooLarge {
                what: "event",
                size,
                limit: self.welcome.max_message_size,
            });
        }
        let socket = p.socket.as_ref().ok_or(ClientError::Closed)?;
        // Subscription messages from the broker pile up unless read.
        while socket.recv_msg(zmq::DONTWAIT).is_ok() {}
        socket.send(topic_frame, zmq::SNDMORE).z()?;
        socket.send(header, zmq::SNDMORE).z()?;
        socket.send(payload, 0).z()?;
        Ok(())
    }

    /// Opens a local replica of store `name`: this node's levels (every
    /// ancestor group, its group, itself), snapshot + live updates, merged
    /// so the most specific level wins. Returns once every level is synced.
    pub async fn store(&self, name: &str) -> Result<Replica, ClientError> {
        let path = self.path.clone();
        self.store_seen_by(name, &path).await
    }

    /// A replica of store `name` as node `node` sees it (its group levels
    /// and its own node level), for tools that look at another node's view;
    /// reads and watches as [`Node::store`], writes still go out as this node.
    pub async fn store_seen_by(&self, name: &str, node: &NodePath) -> Result<Replica, ClientError> {
        canopy_schemas::state::check_store_name(name)
            .map_err(|e| ClientError::InvalidArgument(e.to_string()))?;
        let shared = Arc::new(ReplicaShared::new(
            name,
            canopy_schemas::state::Level::chain(node),
        ));
        self.open_replica(shared, node.clone()).await
    }

    /// Registers `shared`, asks for its snapshots and waits until synced.
    async fn open_replica(
        &self,
        shared: Arc<ReplicaShared>,
        node: NodePath,
    ) -> Result<Replica, ClientError> {
        // Dropped (unsubscribed, unregistered) if this future is cancelled
        // or the sync times out.
        let registration = Registration::new(
            Arc::clone(&shared),
            self.subs.clone(),
            Arc::clone(&self.replicas),
            Arc::clone(&self.life),
        )?;
        let mut state = shared.state();
        self.port.command(Command::Resync(Arc::clone(&shared)))?;
        let synced = tokio::time::timeout(
            self.connect_timeout,
            state.wait_for(|s| matches!(s, ReplicaState::Synced | ReplicaState::Closed)),
        )
        .await;
        match synced {
            Ok(Ok(s)) if *s == ReplicaState::Synced => {}
            Ok(_) => return Err(ClientError::Closed),
            Err(_) => {
                return Err(ClientError::Timeout {
                    endpoint: self.endpoints.router.clone(),
                    waited_ms: self.connect_timeout.as_millis() as u64,
                })
            }
        }
        Ok(Replica::new(registration, self.port.clone(), node))
    }

    /// A replica of one level of the opaque CHP space (PROTOCOL.md 10.3):
    /// the keys that RFC 12 clients write outside canopy's stores, such as
    /// `/client/727`. `level` is `/FIRST/` (every opaque key whose first
    /// segment is FIRST) or `/` (opaque keys with no second `/`). Reads,
    /// `keys`, `scan` and `watch` take whole keys; values are the bytes as
    /// written ([`Replica::get_raw`]); write with [`Replica::chp_put`].
    pub async fn chp_store(&self, level: &str) -> Result<Replica, ClientError> {
        let probe = format!("{level}x");
        if canopy_schemas::state::opaque_level(&probe) != Some(level) {
            return Err(ClientError::InvalidArgument(format!(
                "{level:?} is not a level of the opaque CHP space: use \"/NAME/\" or \"/\""
            )));
        }
        let shared = Arc::new(ReplicaShared::opaque(level));
        self.open_replica(shared, self.path.clone()).await
    }

    /// Sets the opaque CHP key `key` to `value` (bytes, verbatim) without
    /// keeping a replica; `ttl` None: the `[chp]` default.
    pub async fn chp_put(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<crate::replica::WriteAck, ClientError> {
        let mut spec = crate::replica::WriteSpec::new(
            canopy_schemas::state::OpKind::Put,
            &canopy_schemas::state::Level::root(),
            key,
        )
        .value_msgpack(value);
        if let Some(ttl) = ttl {
            spec = spec.ttl(ttl);
        }
        self.write(canopy_schemas::state::OPAQUE_STORE, spec).await
    }

    /// Deletes the opaque CHP key `key` without keeping a replica.
    pub async fn chp_delete(&self, key: &str) -> Result<crate::replica::WriteAck, ClientError> {
        let spec = crate::replica::WriteSpec::new(
            canopy_schemas::state::OpKind::Delete,
            &canopy_schemas::state::Level::root(),
            key,
        );
        self.write(canopy_schemas::state::OPAQUE_STORE, spec).await
    }

    /// Replicas open on this node (diagnostics: a dropped or cancelled
    /// replica no longer counts).
    pub fn open_replicas(&self) -> usize {
        lock(&self.replicas).len()
    }

    /// Prefixes this node holds on its SUB socket (what PING reports).
    pub fn subscription_count(&self) -> usize {
        lock(&self.subs.table).count()
    }

    /// Sends one acknowledged write to store `name` without keeping a
    /// replica (a replica's own write methods also apply the result locally).
    pub async fn write(
        &self,
        name: &str,
        spec: crate::replica::WriteSpec,
    ) -> Result<crate::replica::WriteAck, ClientError> {
        crate::replica::send_write(&self.port, name, &spec).await
    }

    /// Sends every write to store `name` at once, in batches as
    /// [`Replica::write_many`](crate::Replica::write_many) does, each
    /// acknowledged on its own; the outcomes come in the order of `specs`.
    pub async fn write_many(
        &self,
        name: &str,
        specs: Vec<crate::replica::WriteSpec>,
    ) -> Vec<Result<crate::replica::WriteAck, ClientError>> {
        crate::replica::send_many(&self.port, name, specs)
            .await
            .into_iter()
            .map(|(_, outcome)| outcome)
            .collect()
    }

    /// The stores the broker has, with sizes and the current sequence.
    pub async fn stores(&self) -> Result<canopy_schemas::state::StoresReply, ClientError> {
        match self
            .port
            .request(|id| Request::Stores(Empty { id }))
            .await?
        {
            Reply::Stores(s) => Ok(s),
            other => Err(ClientError::Protocol(format!("{other:?}"))),
        }
    }

    /// The broker's counters.
    pub async fn stats(&self) -> Result<StatsReport, ClientError> {
        match self.port.request(|id| Request::Stats(Empty { id })).await? {
            Reply::Stats(s) => Ok(s.report),
            other => Err(ClientError::Protocol(format!("{other:?}"))),
        }
    }

    /// Nodes present, within `group` when given.
    pub async fn nodes(&self, group: Option<&str>) -> Result<Vec<NodeInfo>, ClientError> {
        let group = group.map(str::to_owned);
        match self
            .port
            .request(|id| Request::Nodes(NodesQuery { id, group }))
            .await?
        {
            Reply::Nodes(n) => Ok(n.nodes),
            other => Err(ClientError::Protocol(format!("{other:?}"))),
        }
    }

    /// Says BYE and stops the I/O thread, also for the replicas opened
    /// from this node (their reads keep answering from the last data, in
    /// state [`ReplicaState::Closed`]). Waits, without blocking the runtime,
    /// until pending publishes are flushed (up to two seconds).
    pub async fn close(&self) {
        self.retire_publisher();
        for r in lock(&self.replicas).iter() {
            r.mark_closed();
        }
        self.life.close().await;
    }

    fn retire_publisher(&self) {
        if let Some(socket) = lock(&self.publisher).socket.take() {
            retire(&self.port, socket);
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // The I/O thread closes it (and lingers for it), not this thread.
        self.retire_publisher();
    }
}

/// Takes an echo's subscription back when its wait ends, however it ends.
struct EchoGuard {
    port: Port,
    frame: Vec<u8>,
}

impl Drop for EchoGuard {
    fn drop(&mut self) {
        let _ = self
            .port
            .command(Command::EchoDone(std::mem::take(&mut self.frame)));
    }
}

/// Waits for the first WELCOME (or the refusal the I/O thread reports).
/// When it does not come, a TCP probe says why if it can (nothing listens,
/// no route): at the deadline, or with `fail_fast` already after a short
/// silence, so that "nothing there" is told at once.
async fn wait_for_welcome(
    mut first: oneshot::Receiver<Result<Welcome, ClientError>>,
    options: &NodeOptions,
) -> Result<Welcome, ClientError> {
    let deadline = tokio::time::Instant::now() + options.connect_timeout;
    let mut probe_at = deadline;
    if options.fail_fast {
        probe_at = probe_at.min(tokio::time::Instant::now() + crate::reach::PROBE_AFTER);
    }
    let timeout = || ClientError::Timeout {
        endpoint: options.broker.clone(),
        waited_ms: options.connect_timeout.as_millis() as u64,
    };
    let mut probed = false;
    loop {
        let until = if probed { deadline } else { probe_at };
        match tokio::time::timeout_at(until, &mut first).await {
            Ok(Ok(result)) => return result,
            Ok(Err(_)) => return Err(ClientError::Closed),
            Err(_) if probed => return Err(timeout()),
            Err(_) => {
                probed = true;
                let broker = options.broker.clone();
                let left = deadline
                    .saturating_duration_since(tokio::time::Instant::now())
                    .max(crate::reach::PROBE_AFTER);
                let probe =
                    tokio::task::spawn_blocking(move || crate::reach::probe(&broker, left)).await;
                if let Ok(Err(why)) = probe {
                    return Err(why);
                }
                if until >= deadline {
                    return Err(timeout());
                }
            }
        }
    }
}

/// Waits until the broker's standing subscription reaches our publisher
/// socket; before that, ZeroMQ would drop what we publish.
async fn wait_for_broker_subscription(publisher: &zmq::Socket, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if publisher.recv_msg(zmq::DONTWAIT).is_ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    false
}

/// The node's events, as an async stream.
pub struct Events {
    rx: mpsc::Receiver<NodeEvent>,
}

impl Events {
    /// The next event; `None` once the node is closed.
    pub async fn next(&mut self) -> Option<NodeEvent> {
        self.rx.recv().await
    }
}

impl tokio_stream::Stream for Events {
    type Item = NodeEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<NodeEvent>> {
        self.rx.poll_recv(cx)
    }
}
