//! The node handle applications hold: connect, publish, subscribe, events,
//! stats and nodes.

use crate::endpoint::BrokerEndpoints;
use crate::event::NodeEvent;
use crate::io::{Command, Io, LocalCounters};
use crate::locking::lock;
use crate::port::{Lifetime, Port};
use crate::replica::shared::ReplicaShared;
use crate::replica::Replica;
use crate::subs::SubTable;
use crate::ClientError;
use canopy_schemas::control::{Empty, Hello, NodeInfo, NodesQuery, StatsReport, Welcome};
use canopy_schemas::header::FLAG_MSGPACK;
use canopy_schemas::topic::{check_plain_topic, encode_topic};
use canopy_schemas::{Address, EventHeader, GroupPath, NodePath, Reply, Request};
use serde::Serialize;
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// How to join.
#[derive(Debug, Clone)]
pub struct NodeOptions {
    /// Broker base endpoint, `tcp://HOST:P`.
    pub broker: String,
    /// Node name, unique within its group.
    pub name: String,
    /// Group path, `""` for the root.
    pub group: String,
    /// Reported in `nodes`.
    pub client_version: String,
    /// How long `connect` waits for the broker.
    pub connect_timeout: Duration,
    /// How long a request waits for its reply.
    pub request_timeout: Duration,
    /// Events buffered for the application before they are dropped (and counted).
    pub event_buffer: usize,
    /// Messages the broker may queue towards this node's SUB socket.
    pub receive_hwm: i32,
    /// CURVE keys when the broker requires CURVE.
    pub curve: Option<crate::CurveKeys>,
}

impl NodeOptions {
    /// Options with defaults for everything but where and who.
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
        }
    }
}

struct Publisher {
    socket: zmq::Socket,
    sequences: HashMap<Vec<u8>, u64>,
}

/// A joined node. Cheap to share behind an `Arc`; every method takes `&self`.
pub struct Node {
    path: NodePath,
    endpoints: BrokerEndpoints,
    welcome: Welcome,
    port: Port,
    publisher: Mutex<Publisher>,
    subs: Arc<Mutex<SubTable>>,
    counters: Arc<Mutex<LocalCounters>>,
    replicas: Arc<Mutex<Vec<Arc<ReplicaShared>>>>,
    events: Mutex<Option<mpsc::Receiver<NodeEvent>>>,
    connect_timeout: Duration,
    life: Arc<Lifetime>,
}

static WAKE_COUNTER: AtomicU64 = AtomicU64::new(0);

use canopy_schemas::clock::unix_ns as now_ns;

/// The sockets of one node: the DEALER (with its handshake monitor), the
/// SUB, the XPUB it publishes on, and the pair that wakes its I/O thread.
struct NodeSockets {
    dealer: zmq::Socket,
    monitor: zmq::Socket,
    sub: zmq::Socket,
    publisher: zmq::Socket,
    wake_rx: zmq::Socket,
    wake_tx: zmq::Socket,
}

impl NodeSockets {
    /// Creates and connects them to the broker's three endpoints.
    fn open(
        ctx: &zmq::Context,
        endpoints: &BrokerEndpoints,
        options: &NodeOptions,
    ) -> Result<NodeSockets, ClientError> {
        let dealer = ctx.socket(zmq::DEALER)?;
        tune(&dealer, options.curve.as_ref())?;
        dealer.set_immediate(true)?;
        // Room for many pipelined requests and for snapshot streams.
        dealer.set_sndhwm(100_000)?;
        dealer.set_rcvhwm(100_000)?;
        // Handshake failures (CURVE refused) are reported by a monitor.
        let monitor_endpoint = format!(
            "inproc://canopy-monitor-{}-{}",
            std::process::id(),
            WAKE_COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        dealer.monitor(
            &monitor_endpoint,
            zmq::SocketEvent::HANDSHAKE_FAILED_AUTH as i32,
        )?;
        let monitor = ctx.socket(zmq::PAIR)?;
        monitor.set_linger(0)?;
        monitor.connect(&monitor_endpoint)?;
        dealer.connect(&endpoints.router)?;
        let sub = ctx.socket(zmq::SUB)?;
        tune(&sub, options.curve.as_ref())?;
        sub.set_rcvhwm(options.receive_hwm)?;
        sub.set_subscribe(canopy_schemas::HUGZ)?;
        sub.connect(&endpoints.xpub)?;
        // An XPUB, not a PUB, so we can see the broker's subscriptions arrive
        // and know when a publish will not be dropped for want of them.
        let publisher = ctx.socket(zmq::XPUB)?;
        tune(&publisher, options.curve.as_ref())?;
        publisher.set_linger(2000)?;
        publisher.set_sndhwm(100_000)?;
        publisher.connect(&endpoints.xsub)?;
        let wake_name = format!(
            "inproc://canopy-wake-{}-{}",
            std::process::id(),
            WAKE_COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let wake_rx = ctx.socket(zmq::PAIR)?;
        wake_rx.bind(&wake_name)?;
        let wake_tx = ctx.socket(zmq::PAIR)?;
        wake_tx.set_linger(0)?;
        wake_tx.connect(&wake_name)?;
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

impl Node {
    /// Joins the broker as `group/name`. Fails with a clear error when the
    /// broker does not answer, speaks another protocol version, or refuses.
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
        let subs = Arc::new(Mutex::new(SubTable::default()));
        let counters = Arc::new(Mutex::new(LocalCounters::default()));
        let ids = Arc::new(AtomicU64::new(1));
        let replicas: Arc<Mutex<Vec<Arc<ReplicaShared>>>> = Arc::default();
        let io = Io {
            sub,
            dealer,
            wake: wake_rx,
            commands: cmd_rx,
            events: ev_tx,
            subs: Arc::clone(&subs),
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
        };
        let thread = std::thread::Builder::new()
            .name(format!("canopy-node-{}", path.name))
            .spawn(move || io.run())
            .map_err(|e| ClientError::Protocol(format!("spawning I/O thread: {e}")))?;
        let stop = |thread: JoinHandle<()>| {
            let _ = cmd_tx.send(Command::Close);
            let _ = wake_tx.send(&b""[..], zmq::DONTWAIT);
            let _ = thread.join();
        };
        let timeout = Err(ClientError::Timeout {
            endpoint: options.broker.clone(),
            waited_ms: options.connect_timeout.as_millis() as u64,
        });
        let welcome = match tokio::time::timeout(options.connect_timeout, first_rx).await {
            Ok(Ok(Ok(w))) => w,
            Ok(Ok(Err(e))) => {
                stop(thread);
                return Err(e);
            }
            Ok(Err(_)) => {
                stop(thread);
                return Err(ClientError::Closed);
            }
            Err(_) => {
                stop(thread);
                // Say why when it is known: nothing listens, no route.
                let broker = options.broker.clone();
                let probe = tokio::task::spawn_blocking(move || {
                    crate::reach::probe(&broker, crate::reach::PROBE_AFTER)
                })
                .await;
                if let Ok(Err(why)) = probe {
                    return Err(why);
                }
                return timeout;
            }
        };
        if !wait_for_broker_subscription(&publisher, options.connect_timeout).await {
            stop(thread);
            return timeout;
        }
        let router_endpoint = endpoints.router.clone();
        let port = Port::new(
            cmd_tx,
            wake_tx,
            ids,
            options.request_timeout,
            router_endpoint,
        );
        let life = Arc::new(Lifetime::new(port.clone(), thread));
        Ok(Node {
            path,
            endpoints,
            welcome,
            port,
            publisher: Mutex::new(Publisher {
                socket: publisher,
                sequences: HashMap::new(),
            }),
            subs,
            counters,
            replicas,
            events: Mutex::new(Some(ev_rx)),
            connect_timeout: options.connect_timeout,
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
        let mut subs = lock(&self.subs);
        if on {
            let after = subs.count() + subs.new_count(&prefixes);
            if after > self.welcome.max_subscriptions as usize {
                return Err(ClientError::SubscriptionLimit(
                    self.welcome.max_subscriptions,
                ));
            }
        }
        for (prefix, plain) in prefixes {
            let changed = if on {
                subs.add(&prefix, plain)
            } else {
                subs.remove(&prefix)
            };
            if changed {
                self.port.command(Command::Subscription(prefix, on))?;
            }
        }
        Ok(())
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
        self.send_event(address, topic, FLAG_MSGPACK, &payload)
    }

    /// Publishes bytes that already are MessagePack (flagged as such).
    pub fn publish_msgpack(
        &self,
        address: &Address,
        topic: &str,
        payload: &[u8],
    ) -> Result<(), ClientError> {
        self.send_event(address, topic, FLAG_MSGPACK, payload)
    }

    /// Publishes raw bytes.
    pub fn publish_raw(
        &self,
        address: &Address,
        topic: &str,
        payload: &[u8],
    ) -> Result<(), ClientError> {
        self.send_event(address, topic, 0, payload)
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
    ) -> Result<(), ClientError> {
        let topic_frame = encode_topic(address, topic)?;
        let mut p = lock(&self.publisher);
        let seq = p.sequences.entry(topic_frame.clone()).or_insert(0);
        *seq += 1;
        let header = EventHeader {
            flags,
            sequence: *seq,
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
        // Subscription messages from the broker pile up unless read.
        while p.socket.recv_msg(zmq::DONTWAIT).is_ok() {}
        p.socket.send(topic_frame, zmq::SNDMORE)?;
        p.socket.send(header, zmq::SNDMORE)?;
        p.socket.send(payload, 0)?;
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
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        let shared = Arc::new(ReplicaShared::new(
            name,
            canopy_schemas::state::Level::chain(node),
        ));
        let prefixes: Vec<(Vec<u8>, bool)> = shared
            .prefixes()
            .into_iter()
            .map(|p| (p.into_bytes(), false))
            .collect();
        self.apply(prefixes, true)?;
        lock(&self.replicas).push(Arc::clone(&shared));
        let mut ready = shared.subscribe_ready();
        self.port.command(Command::Resync(Arc::clone(&shared)))?;
        let synced = tokio::time::timeout(self.connect_timeout, ready.wait_for(|r| *r)).await;
        if !matches!(synced, Ok(Ok(_))) {
            return Err(ClientError::Timeout {
                endpoint: self.endpoints.router.clone(),
                waited_ms: self.connect_timeout.as_millis() as u64,
            });
        }
        Ok(Replica::new(
            shared,
            self.port.clone(),
            Arc::clone(&self.life),
            node.clone(),
        ))
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

    /// Says BYE and stops the I/O thread; pending publishes are flushed for up
    /// to two seconds.
    pub fn close(&self) {
        self.life.close();
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
