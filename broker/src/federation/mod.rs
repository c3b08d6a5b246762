//! A child broker's link to its parent (`upstream`): the tree of brokers.
//!
//! - Events: the child's subscriptions (the union of everything below it) go
//!   up through an XSUB on the parent's XPUB, so the parent sends a message
//!   once per child link. Events published below go up once through an XPUB
//!   on the parent's XSUB (which only sends what the parent subscribed to).
//!   Events from above go to local subscribers only, never back up.
//! - Echoes: an event sent up comes back down when the child itself
//!   subscribes to it; the child remembers a fingerprint of what it sent and
//!   drops the echo, so nobody below sees a message twice.
//! - State: the root is the master. The child mirrors the parent's state
//!   (snapshot with the level numbers, then the KVPUB stream, with the
//!   master's sequences), answers its nodes' snapshots and SEQS locally, and
//!   relays their WRITEs and KVSETs up, the acknowledgements back down.

mod echoes;
mod mirror;
mod relay;

use crate::events::Upstream;
use crate::metrics::Counters;
use crate::outbox::Outbox;
use crate::security::keys::ClientKeys;
use crate::security::transport::{Inbound, TransportLimits};
use crate::state::plane::StatePlane;
use canopy_schemas::control::{Hello, LinkReport, Ping};
use canopy_schemas::state::KvMsg;
use canopy_schemas::{BaseEndpoint, ProtocolRange, Reply, Request, HUGZ};
use echoes::Echoes;
use mirror::Mirror;
use relay::{with_id, Relayed};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Messages read from the parent per loop turn.
const BATCH: usize = 256;

/// Why the link could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// `upstream` is not `tcp://HOST:PORT`.
    #[error("upstream: {0} (the parent's base port)")]
    Endpoint(#[from] canopy_schemas::EndpointError),
    /// A ZeroMQ call failed.
    #[error("upstream link: {0}")]
    Zmq(#[from] zmq::Error),
}

/// The link sockets the parent sends on.
#[derive(Clone, Copy)]
enum Side {
    Down,
    Control,
}

/// A child broker's link to its parent, as the child sees it.
#[derive(Debug, Clone, serde::Serialize, PartialEq, Eq)]
pub struct LinkStatus {
    /// The parent's base endpoint.
    pub parent: String,
    /// Joined (WELCOME received, PONGs coming).
    pub joined: bool,
    /// The mirror of the parent's state is whole and following the stream.
    pub synced: bool,
    /// The parent's sequence at its last PONG.
    pub parent_seq: u64,
}

/// The link to the parent.
pub struct Uplink {
    /// XSUB on the parent's XPUB: events and state from above.
    pub down: zmq::Socket,
    /// XPUB on the parent's XSUB: events and KVSETs to above.
    pub up: zmq::Socket,
    /// DEALER on the parent's ROUTER: join, heartbeat, writes, mirror.
    pub control: zmq::Socket,
    /// Handshake events of the control link (done: say HELLO now; failed:
    /// CURVE refused, mechanism mismatch), from a socket monitor.
    pub handshakes: zmq::Socket,
    endpoint: String,
    /// This broker's id, to notice an upstream that is this broker itself.
    broker_id: String,
    /// Set when the parent's WELCOME named this broker's own id.
    points_at_itself: bool,
    /// The parent answered name_taken (and was told so in the log).
    name_taken: bool,
    /// The protocol versions this broker offers its parent.
    protocols: ProtocolRange,
    name: String,
    echoes: Echoes,
    next_id: u64,
    relayed: HashMap<u64, Relayed>,
    joined: bool,
    hello_id: u64,
    parent_seq: u64,
    last_heard: Instant,
    mirror: Mirror,
}

fn recv_frames(socket: &zmq::Socket) -> Result<Option<Vec<zmq::Message>>, zmq::Error> {
    let first = match socket.recv_msg(zmq::DONTWAIT) {
        Ok(m) => m,
        Err(zmq::Error::EAGAIN) => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut more = first.get_more();
    let mut frames = vec![first];
    while more {
        let m = match socket.recv_msg(0) {
            Ok(m) => m,
            // The rest of the message went with a connection that dropped
            // (third_party patch 6): what was read is discarded.
            Err(zmq::Error::EFSM) => return Ok(None),
            Err(e) => return Err(e),
        };
        more = m.get_more();
        frames.push(m);
    }
    Ok(Some(frames))
}

fn send_frames(socket: &zmq::Socket, frames: &[&[u8]]) -> Result<bool, zmq::Error> {
    for (i, f) in frames.iter().enumerate() {
        let flags = if i + 1 < frames.len() {
            zmq::SNDMORE
        } else {
            0
        };
        match socket.send(*f, flags | zmq::DONTWAIT) {
            Ok(()) => {}
            Err(zmq::Error::EAGAIN) if i == 0 => return Ok(false),
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// How a child links to its parent.
pub struct LinkSettings<'a> {
    /// The parent's base endpoint.
    pub upstream: &'a str,
    /// CURVE client keys, when the parent runs CURVE.
    pub keys: Option<&'a ClientKeys>,
    /// Frame caps and handshake deadline for the link's sockets.
    pub limits: &'a TransportLimits,
    /// The protocol versions offered to the parent.
    pub protocols: ProtocolRange,
}

impl Uplink {
    /// Connects the three sockets to the parent named in `link`, and starts
    /// the mirror's first sync.
    pub fn connect(
        context: &zmq::Context,
        link: &LinkSettings<'_>,
        broker_id: &str,
        state: &mut StatePlane,
        c: &mut Counters,
    ) -> Result<Uplink, LinkError> {
        let LinkSettings {
            upstream,
            keys,
            limits,
            protocols,
        } = *link;
        let [router, xpub, xsub] = BaseEndpoint::parse(upstream)?.sockets();
        let down = context.socket(zmq::XSUB)?;
        let mut up = context.socket(zmq::XPUB)?;
        let control = context.socket(zmq::DEALER)?;
        // The parent is a peer like any other: its frames are capped and
        // its handshake has a deadline.
        for (s, inbound) in [
            (&down, Inbound::Data),
            (&up, Inbound::Subscriptions),
            (&control, Inbound::Data),
        ] {
            limits.apply(s, inbound)?;
            s.set_linger(0)?;
            if let Some(k) = keys {
                k.apply(s)?;
            }
        }
        // Dropped (and counted) rather than blocking the loop when the
        // parent falls behind.
        crate::sockopt::set_xpub_nodrop(&mut up)?;
        // Requests are refused while the parent is not connected instead of
        // queued for a later connection: a relayed write is answered now,
        // not applied after its node gave up.
        control.set_immediate(true)?;
        let handshakes = crate::sockopt::monitor(
            context,
            &control,
            &format!("inproc://canopy-uplink-{broker_id}"),
            zmq::SocketEvent::HANDSHAKE_FAILED_AUTH as i32
                | zmq::SocketEvent::HANDSHAKE_FAILED_PROTOCOL as i32
                | zmq::SocketEvent::HANDSHAKE_FAILED_NO_DETAIL as i32
                | zmq::SocketEvent::HANDSHAKE_SUCCEEDED as i32,
        )?;
        down.connect(&xpub)?;
        up.connect(&xsub)?;
        control.connect(&router)?;
        // The whole state space, for the mirror (the parent's KVPUBs).
        down.send(crate::events::STANDING_SUBSCRIPTION, 0)?;
        let mut link = Uplink {
            down,
            up,
            control,
            handshakes,
            endpoint: upstream.to_owned(),
            broker_id: broker_id.to_owned(),
            points_at_itself: false,
            name_taken: false,
            protocols,
            name: format!("broker-{}", &broker_id[..broker_id.len().min(16)]),
            echoes: Echoes::default(),
            next_id: 1,
            relayed: HashMap::new(),
            joined: false,
            hello_id: 0,
            parent_seq: 0,
            last_heard: Instant::now(),
            mirror: Mirror::default(),
        };
        link.hello()?;
        link.resync(state, c)?;
        tracing::info!(upstream, "connecting to the parent broker");
        Ok(link)
    }

    pub(super) fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub(super) fn request(&self, request: &Request) -> Result<(), zmq::Error> {
        self.try_request(request).map(|_| ())
    }

    /// Sends a request to the parent; false when the link cannot take it
    /// now (not connected: the DEALER is IMMEDIATE; or full).
    pub(super) fn try_request(&self, request: &Request) -> Result<bool, zmq::Error> {
        match request.encode() {
            Ok([name, body]) => {
                // DONTWAIT: a parent that is down must not stall the loop.
                match self.control.send(name, zmq::SNDMORE | zmq::DONTWAIT) {
                    Ok(()) => self.control.send(body, 0).map(|()| true),
                    Err(zmq::Error::EAGAIN) => Ok(false),
                    Err(e) => Err(e),
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "encoding a link request failed");
                Ok(false)
            }
        }
    }

    fn hello(&mut self) -> Result<(), zmq::Error> {
        self.hello_id = self.id();
        self.request(&Request::Hello(Hello {
            id: self.hello_id,
            protocol: self.protocols.min,
            protocol_max: Some(self.protocols.max),
            name: self.name.clone(),
            group: String::new(),
            client_version: format!("canopy-broker {}", env!("CARGO_PKG_VERSION")),
        }))
    }

    /// Handshake events of the control link: a finished handshake is the
    /// moment to join (requests sent before it were refused); failures are
    /// counted, and refusals logged.
    pub fn handshake_events(&mut self, c: &mut Counters) -> Result<(), zmq::Error> {
        let mut failed = 0;
        while let Ok(event) = self.handshakes.recv_multipart(zmq::DONTWAIT) {
            let id = event
                .first()
                .and_then(|f| f.get(..2))
                .map(|b| u16::from_le_bytes([b[0], b[1]]));
            match id {
                Some(e) if e == zmq::SocketEvent::HANDSHAKE_SUCCEEDED as u16 => {
                    if !self.joined {
                        self.hello()?;
                    }
                }
                // Cut off mid-handshake (the parent went away, a proxy in
                // between lost it): not a refusal.
                Some(e) if e == zmq::SocketEvent::HANDSHAKE_FAILED_NO_DETAIL as u16 => {
                    c.link_handshake_interrupted += 1;
                }
                _ => failed += 1,
            }
        }
        if failed > 0 {
            c.link_handshake_failures += failed;
            tracing::warn!(
                upstream = %self.endpoint,
                failed,
                "the parent refused the handshake: are upstream_server_key and \
                 upstream_key_file set, and is this broker's key in its allow-list?"
            );
        }
        Ok(())
    }

    /// True when the parent's WELCOME named this broker: `upstream` points
    /// at this broker itself (the broker refuses to run so).
    pub fn points_at_itself(&self) -> bool {
        self.points_at_itself
    }

    /// What monitoring shows of the link: joined, mirror live, parent's
    /// sequence.
    pub fn status(&self) -> LinkStatus {
        LinkStatus {
            parent: self.endpoint.clone(),
            joined: self.joined,
            synced: self.mirror_live(),
            parent_seq: self.parent_seq,
        }
    }

    /// Once per heartbeat: join or ping, notice a silent parent, retry a
    /// stalled sync, forget relayed writes long unanswered.
    pub fn beat(
        &mut self,
        node_timeout: Duration,
        state: &mut StatePlane,
        subscriptions: u32,
        answer: (&zmq::Socket, &mut Outbox),
        c: &mut Counters,
    ) -> Result<(), zmq::Error> {
        let (router, outbox) = answer;
        if self.last_heard.elapsed() > node_timeout && self.joined {
            tracing::warn!(upstream = %self.endpoint, "parent broker silent; rejoining");
            self.joined = false;
            self.give_up_relayed(Duration::ZERO, state, (router, &mut *outbox), c)?;
        }
        if self.joined {
            let id = self.id();
            self.request(&Request::Ping(Ping {
                id,
                dropped: c.link_drops_up,
                subscriptions,
                link: Some(LinkReport {
                    events_up: c.link_events_up,
                    bytes_up: c.link_bytes_up,
                    events_down: c.link_events_down,
                    bytes_down: c.link_bytes_down,
                    echoes_dropped: c.link_echoes_dropped,
                    subscriptions_forwarded: c.link_subscriptions_forwarded,
                    writes_relayed: c.link_writes_relayed,
                    resyncs: c.link_resyncs,
                    state_lag: c.link_state_lag,
                }),
            }))?;
        } else {
            self.hello()?;
        }
        self.restart_stalled(node_timeout * 2, state, c)?;
        self.give_up_relayed(node_timeout * 2, state, (router, outbox), c)?;
        c.link_up = self.joined as u64;
        c.link_state_lag = self.parent_seq.saturating_sub(state.engine.seq());
        Ok(())
    }

    /// The next subscription change of the parent (what it wants from this
    /// child), if one is waiting.
    pub fn parent_interest(&mut self) -> Result<Option<(bool, Vec<u8>)>, zmq::Error> {
        loop {
            let msg = match self.up.recv_msg(zmq::DONTWAIT) {
                Ok(m) => m,
                Err(zmq::Error::EAGAIN) => return Ok(None),
                Err(e) => return Err(e),
            };
            match msg.first() {
                Some(&op) if op <= 1 && !msg.get_more() => {
                    return Ok(Some((op == 1, msg[1..].to_vec())))
                }
                _ => {} // not a subscription: ignored
            }
        }
    }

    /// Sends an event received from below up to the parent, remembering
    /// its fingerprint to drop the echo.
    pub fn send_up(&mut self, frames: &[&[u8]], c: &mut Counters) -> Result<(), zmq::Error> {
        let fp = Echoes::fingerprint(frames);
        self.echoes.sent(fp, Instant::now());
        if send_frames(&self.up, frames)? {
            c.link_events_up += 1;
            c.link_bytes_up += frames.iter().map(|f| f.len() as u64).sum::<u64>();
        } else {
            self.echoes.forget(fp);
            c.link_drops_up += 1;
        }
        Ok(())
    }

    /// Relays a KVSET from below to the master.
    pub fn send_kvset(&mut self, msg: &KvMsg, c: &mut Counters) -> Result<(), zmq::Error> {
        let frames = msg.encode();
        let parts: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
        if send_frames(&self.up, &parts)? {
            c.link_kvsets_relayed += 1;
        } else {
            c.link_drops_up += 1;
        }
        Ok(())
    }

    /// One message from the parent on `side`; anything heard keeps the
    /// link alive.
    fn receive(&mut self, side: Side) -> Result<Option<Vec<zmq::Message>>, zmq::Error> {
        let socket = match side {
            Side::Down => &self.down,
            Side::Control => &self.control,
        };
        let frames = recv_frames(socket)?;
        if frames.is_some() {
            self.last_heard = Instant::now();
        }
        Ok(frames)
    }

    /// Reads what the parent published: events to local subscribers (not
    /// echoes), state updates to the mirror and on to local subscribers.
    pub fn receive_published(
        &mut self,
        xpub: &zmq::Socket,
        state: &mut StatePlane,
        c: &mut Counters,
    ) -> Result<(), zmq::Error> {
        for _ in 0..BATCH {
            let Some(frames) = self.receive(Side::Down)? else {
                break;
            };
            let parts: Vec<&[u8]> = frames.iter().map(|m| &m[..]).collect();
            if parts[0] == HUGZ {
                continue;
            }
            let bytes: u64 = parts.iter().map(|p| p.len() as u64).sum();
            if parts[0].first() == Some(&canopy_schemas::topic::STATE_MARK) {
                let Ok(msg) = KvMsg::decode(&parts) else {
                    c.link_rejected += 1;
                    continue;
                };
                c.link_state_down += 1;
                self.update(msg, state, c)?;
            } else {
                if parts.len() != 3 {
                    c.link_rejected += 1;
                    continue;
                }
                if self
                    .echoes
                    .is_echo(Echoes::fingerprint(&parts), Instant::now())
                {
                    c.link_echoes_dropped += 1;
                    continue;
                }
                c.link_events_down += 1;
                c.link_bytes_down += bytes;
            }
            // On to local subscribers (nodes and child links) as it came.
            let last = frames.len() - 1;
            for (i, f) in frames.into_iter().enumerate() {
                xpub.send(f, if i < last { zmq::SNDMORE } else { 0 })?;
            }
        }
        Ok(())
    }

    /// Reads the parent's replies: join, heartbeats, relayed acknowledgements
    /// and the mirror's snapshot.
    pub fn replies(
        &mut self,
        state: &mut StatePlane,
        router: &zmq::Socket,
        outbox: &mut Outbox,
        c: &mut Counters,
    ) -> Result<(), zmq::Error> {
        for _ in 0..BATCH {
            let Some(frames) = self.receive(Side::Control)? else {
                break;
            };
            let parts: Vec<&[u8]> = frames.iter().map(|m| &m[..]).collect();
            if parts.len() == 5 {
                self.snapshot_part(&parts, state, router, outbox, c)?;
                continue;
            }
            let Ok(reply) = Reply::decode(&parts) else {
                c.link_rejected += 1;
                continue;
            };
            if let Some(r) = self.relayed.remove(&reply.id()) {
                state.inflight.end(&r.peer);
                let peer = r.peer.clone();
                let reply = with_id(reply, r);
                outbox.send(router, &peer, &reply, c)?;
                continue;
            }
            match reply {
                Reply::Welcome(w) if w.broker_id == self.broker_id => {
                    tracing::error!(upstream = %self.endpoint, "the upstream is this broker itself");
                    self.points_at_itself = true;
                }
                Reply::Welcome(w) => {
                    let rejoined = !self.joined;
                    if rejoined {
                        tracing::info!(parent = %self.endpoint, protocol = w.protocol, "joined the parent broker");
                    }
                    self.joined = true;
                    c.link_up = 1;
                    if !self.epoch(w.epoch, state, (router, &mut *outbox), c)? && rejoined {
                        // A snapshot request sent while the link was down
                        // was refused: ask again now that it is up.
                        self.resync_if_syncing(state, c)?;
                    }
                }
                Reply::Pong(p) => {
                    self.epoch(p.epoch, state, (router, &mut *outbox), c)?;
                    self.parent_seq(p.seq, state, c)?;
                }
                Reply::Lseqs(l) => self.lseqs(l, state, router, outbox, c)?,
                Reply::Goodbye(_) => {
                    // The parent is stopping: rejoin (HELLO now, which also
                    // tells the parent the GOODBYE arrived, then each
                    // heartbeat) instead of waiting out its silence.
                    tracing::info!(parent = %self.endpoint, "parent broker stopping");
                    self.joined = false;
                    c.link_up = 0;
                    self.give_up_relayed(Duration::ZERO, state, (router, &mut *outbox), c)?;
                    self.hello()?;
                }
                Reply::Error(e) if e.code == canopy_schemas::ErrorCode::UnknownNode => {
                    self.name_taken = false;
                    // The parent forgot this link (it restarted): what it
                    // had not answered will not be answered.
                    self.joined = false;
                    self.give_up_relayed(Duration::ZERO, state, (router, &mut *outbox), c)?;
                    self.hello()?;
                }
                // Another connection joined under this broker's name (a
                // stale HELLO of a previous run, read late, or a second
                // broker with this id): keep asking with PING, which rejoins
                // once it is gone. Said once, not every beat.
                Reply::Error(e)
                    if e.code == canopy_schemas::ErrorCode::NameTaken && !self.name_taken =>
                {
                    tracing::warn!(message = %e.message, "parent broker says this broker's name is taken; waiting for it to be free");
                    self.name_taken = true;
                }
                Reply::Error(e) if e.code == canopy_schemas::ErrorCode::NameTaken => {}
                Reply::Error(e) => {
                    tracing::warn!(code = %e.code, message = %e.message, "parent broker refused");
                }
                _ => {}
            }
        }
        Ok(())
    }
}

impl Upstream for Uplink {
    fn send_up(&mut self, frames: &[&[u8]], c: &mut Counters) -> Result<(), zmq::Error> {
        Uplink::send_up(self, frames, c)
    }
}
