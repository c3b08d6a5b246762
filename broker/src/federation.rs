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

use crate::metrics::Counters;
use crate::outbox::Outbox;
use crate::state_plane::StatePlane;
use canopy_schemas::control::{Hello, LinkReport, Ping};
use canopy_schemas::state::{KvMsg, SnapshotQuery, Write, KTHXBAI, PROP_LSEQ, PROP_TTL_MS};
use canopy_schemas::{Reply, Request, HUGZ, PROTOCOL_VERSION};
use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::Hasher;
use std::time::{Duration, Instant};

/// Fingerprints of events sent up, remembered until their echo returns.
const MAX_ECHOES: usize = 1 << 20;
/// A relayed write unanswered this long is forgotten (its client timed out).
const RELAY_TIMEOUT: Duration = Duration::from_secs(60);
/// Messages read from the parent per loop turn.
const BATCH: usize = 256;

/// Why the link could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// `upstream` is not `tcp://HOST:PORT`.
    #[error("upstream {0:?} is not tcp://HOST:PORT (the parent's base port)")]
    Endpoint(String),
    /// A ZeroMQ call failed.
    #[error("upstream link: {0}")]
    Zmq(#[from] zmq::Error),
}

/// The parent's three endpoints from its base endpoint.
pub fn parent_endpoints(upstream: &str) -> Result<[String; 3], LinkError> {
    let bad = || LinkError::Endpoint(upstream.to_owned());
    let (host, port) = upstream.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    if !host.starts_with("tcp://") || port > u16::MAX - 2 {
        return Err(bad());
    }
    Ok([0, 1, 2].map(|o| format!("{host}:{}", port + o)))
}

/// Events sent up whose echo may come back down.
#[derive(Default)]
struct Echoes {
    pending: HashMap<u64, u32>,
    order: VecDeque<u64>,
}

impl Echoes {
    fn fingerprint(frames: &[&[u8]]) -> u64 {
        let mut h = DefaultHasher::new();
        for f in frames {
            h.write_usize(f.len());
            h.write(f);
        }
        h.finish()
    }

    fn sent(&mut self, fp: u64) {
        if self.order.len() >= MAX_ECHOES {
            if let Some(old) = self.order.pop_front() {
                self.forget(old);
            }
        }
        self.order.push_back(fp);
        *self.pending.entry(fp).or_insert(0) += 1;
    }

    fn forget(&mut self, fp: u64) {
        if let Some(n) = self.pending.get_mut(&fp) {
            *n -= 1;
            if *n == 0 {
                self.pending.remove(&fp);
            }
        }
    }

    /// True (and forgotten) when `fp` is the echo of something sent up.
    fn is_echo(&mut self, fp: u64) -> bool {
        let echo = self.pending.contains_key(&fp);
        if echo {
            self.forget(fp);
        }
        echo
    }
}

/// The link sockets the parent sends on.
#[derive(Clone, Copy)]
enum Side {
    Down,
    Control,
}

/// A WRITE relayed to the parent.
struct Relayed {
    peer: Vec<u8>,
    id: u64,
    at: Instant,
}

/// Where the mirror stands.
enum Sync {
    /// The mirror matches the parent; updates apply as they arrive.
    Ready,
    /// A snapshot of the parent is on its way; updates wait.
    Syncing {
        id: u64,
        started: Instant,
        kthxbai: Option<u64>,
        lseqs: Option<(u64, BTreeMap<String, u64>)>,
        buffered: Vec<KvMsg>,
    },
}

/// The link to the parent.
pub struct Uplink {
    /// XSUB on the parent's XPUB: events and state from above.
    pub down: zmq::Socket,
    /// XPUB on the parent's XSUB: events and KVSETs to above.
    pub up: zmq::Socket,
    /// DEALER on the parent's ROUTER: join, heartbeat, writes, mirror.
    pub control: zmq::Socket,
    /// Handshake failures of the control link (CURVE refused, mechanism
    /// mismatch), from a socket monitor.
    handshakes: zmq::Socket,
    endpoint: String,
    name: String,
    echoes: Echoes,
    next_id: u64,
    relayed: HashMap<u64, Relayed>,
    joined: bool,
    hello_id: u64,
    parent_epoch: Option<u64>,
    parent_seq: u64,
    last_heard: Instant,
    sync: Sync,
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
        let m = socket.recv_msg(0)?;
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

impl Uplink {
    /// Connects the three sockets to the parent at `upstream` (base port),
    /// as a CURVE client with `keys` when the parent runs CURVE, and starts
    /// the mirror's first sync.
    pub fn connect(
        context: &zmq::Context,
        upstream: &str,
        keys: Option<&crate::auth::ClientKeys>,
        limits: &crate::transport::TransportLimits,
        broker_id: &str,
        state: &mut StatePlane,
        c: &mut Counters,
    ) -> Result<Uplink, LinkError> {
        let [router, xpub, xsub] = parent_endpoints(upstream)?;
        let down = context.socket(zmq::XSUB)?;
        let mut up = context.socket(zmq::XPUB)?;
        let control = context.socket(zmq::DEALER)?;
        // The parent is a peer like any other: its frames are capped and
        // its handshake has a deadline.
        use crate::transport::Inbound;
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
        crate::events::set_xpub_nodrop(&mut up)?;
        let monitor = format!("inproc://canopy-uplink-{broker_id}");
        control.monitor(
            &monitor,
            zmq::SocketEvent::HANDSHAKE_FAILED_AUTH as i32
                | zmq::SocketEvent::HANDSHAKE_FAILED_PROTOCOL as i32
                | zmq::SocketEvent::HANDSHAKE_FAILED_NO_DETAIL as i32,
        )?;
        let handshakes = context.socket(zmq::PAIR)?;
        handshakes.set_linger(0)?;
        handshakes.connect(&monitor)?;
        down.connect(&xpub)?;
        up.connect(&xsub)?;
        control.connect(&router)?;
        // The whole state space, for the mirror (the parent's KVPUBs).
        down.send(crate::STANDING_SUBSCRIPTION, 0)?;
        let mut link = Uplink {
            down,
            up,
            control,
            handshakes,
            endpoint: upstream.to_owned(),
            name: format!("broker-{}", &broker_id[..broker_id.len().min(16)]),
            echoes: Echoes::default(),
            next_id: 1,
            relayed: HashMap::new(),
            joined: false,
            hello_id: 0,
            parent_epoch: None,
            parent_seq: 0,
            last_heard: Instant::now(),
            sync: Sync::Ready,
        };
        link.hello()?;
        link.resync(state, c)?;
        tracing::info!(upstream, "linked to parent broker");
        Ok(link)
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn request(&self, request: &Request) -> Result<(), zmq::Error> {
        match request.encode() {
            Ok([name, body]) => {
                // DONTWAIT: a parent that is down must not stall the loop.
                match self.control.send(name, zmq::SNDMORE | zmq::DONTWAIT) {
                    Ok(()) => self.control.send(body, 0),
                    Err(zmq::Error::EAGAIN) => Ok(()),
                    Err(e) => Err(e),
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "encoding a link request failed");
                Ok(())
            }
        }
    }

    fn hello(&mut self) -> Result<(), zmq::Error> {
        self.hello_id = self.id();
        self.request(&Request::Hello(Hello {
            id: self.hello_id,
            protocol: PROTOCOL_VERSION,
            name: self.name.clone(),
            group: String::new(),
            client_version: format!("canopy-broker {}", env!("CARGO_PKG_VERSION")),
        }))
    }

    /// Forgets the mirror and asks the parent for a snapshot of all state.
    fn resync(&mut self, state: &mut StatePlane, c: &mut Counters) -> Result<(), zmq::Error> {
        c.link_resyncs += 1;
        state.engine.mirror_clear();
        state.hold_snapshots();
        let id = self.id();
        self.sync = Sync::Syncing {
            id,
            started: Instant::now(),
            kthxbai: None,
            lseqs: None,
            buffered: Vec::new(),
        };
        self.request(&Request::Snapshot(SnapshotQuery {
            id,
            subtree: "/".into(),
            lseqs: true,
        }))
    }

    /// Once per heartbeat: join or ping, notice a silent parent, retry a
    /// stalled sync, forget relayed writes long unanswered.
    pub fn beat(
        &mut self,
        node_timeout: Duration,
        state: &mut StatePlane,
        subscriptions: u32,
        c: &mut Counters,
    ) -> Result<(), zmq::Error> {
        let mut failed = 0;
        while self.handshakes.recv_multipart(zmq::DONTWAIT).is_ok() {
            failed += 1;
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
        if self.last_heard.elapsed() > node_timeout && self.joined {
            tracing::warn!(upstream = %self.endpoint, "parent broker silent; rejoining");
            self.joined = false;
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
        if let Sync::Syncing { started, .. } = &self.sync {
            if started.elapsed() > node_timeout * 2 {
                tracing::warn!("mirror sync made no progress; starting again");
                self.resync(state, c)?;
            }
        }
        let expired: Vec<u64> = self
            .relayed
            .iter()
            .filter(|(_, r)| r.at.elapsed() >= RELAY_TIMEOUT)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            if let Some(r) = self.relayed.remove(&id) {
                state.inflight.end(&r.peer);
                c.link_writes_lost += 1;
            }
        }
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
        self.echoes.sent(fp);
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

    /// Relays a WRITE from `peer` to the parent under a link-local id.
    pub fn relay_write(
        &mut self,
        peer: Vec<u8>,
        mut w: Write,
        state: &mut StatePlane,
        c: &mut Counters,
    ) -> Result<(), zmq::Error> {
        let id = self.id();
        state.inflight.begin(&peer);
        self.relayed.insert(
            id,
            Relayed {
                peer,
                id: w.id,
                at: Instant::now(),
            },
        );
        w.id = id;
        c.link_writes_relayed += 1;
        self.request(&Request::Write(w))
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
    pub fn from_above(
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
                if self.echoes.is_echo(Echoes::fingerprint(&parts)) {
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

    /// A KVPUB from the parent.
    fn update(
        &mut self,
        msg: KvMsg,
        state: &mut StatePlane,
        c: &mut Counters,
    ) -> Result<(), zmq::Error> {
        if let Sync::Syncing { buffered, .. } = &mut self.sync {
            buffered.push(msg);
            return Ok(());
        }
        let key = String::from_utf8_lossy(&msg.key).into_owned();
        let Ok(level) = canopy_schemas::state::level_prefix(&key) else {
            return Ok(());
        };
        let lseq = msg.prop_u64(PROP_LSEQ).unwrap_or(0);
        if lseq != state.engine.lseq(level) + 1 {
            // A lost update: the mirror starts over.
            tracing::warn!(
                level,
                lseq,
                have = state.engine.lseq(level),
                "mirror gap; resyncing"
            );
            return self.resync(state, c);
        }
        apply(state, &msg, &key, Some(lseq));
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
                let reply = with_id(reply, r.id);
                outbox.send(router, &r.peer, &reply, c)?;
                continue;
            }
            match reply {
                Reply::Welcome(w) => {
                    self.joined = true;
                    c.link_up = 1;
                    self.epoch(w.epoch, state, c)?;
                }
                Reply::Pong(p) => {
                    self.parent_seq = p.seq;
                    self.epoch(p.epoch, state, c)?;
                }
                Reply::Lseqs(l) => {
                    if let Sync::Syncing { id, lseqs, .. } = &mut self.sync {
                        if l.id == *id {
                            *lseqs = Some((l.seq, l.lseqs));
                        }
                    }
                    self.finish_sync(state, router, outbox, c)?;
                }
                Reply::Error(e) if e.code == canopy_schemas::ErrorCode::UnknownNode => {
                    self.joined = false;
                    self.hello()?;
                }
                Reply::Error(e) => {
                    tracing::warn!(code = %e.code, message = %e.message, "parent broker refused");
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// A new parent epoch means the parent restarted: mirror again.
    fn epoch(
        &mut self,
        epoch: u64,
        state: &mut StatePlane,
        c: &mut Counters,
    ) -> Result<(), zmq::Error> {
        match self.parent_epoch.replace(epoch) {
            Some(old) if old != epoch => {
                tracing::info!("parent broker restarted; resyncing the mirror");
                for (_, r) in self.relayed.drain() {
                    state.inflight.end(&r.peer);
                    c.link_writes_lost += 1;
                }
                self.resync(state, c)
            }
            _ => Ok(()),
        }
    }

    /// A KVSYNC or KTHXBAI of the mirror's snapshot.
    fn snapshot_part(
        &mut self,
        parts: &[&[u8]],
        state: &mut StatePlane,
        router: &zmq::Socket,
        outbox: &mut Outbox,
        c: &mut Counters,
    ) -> Result<(), zmq::Error> {
        let Ok(msg) = KvMsg::decode(parts) else {
            c.link_rejected += 1;
            return Ok(());
        };
        let Sync::Syncing { id, kthxbai, .. } = &mut self.sync else {
            return Ok(());
        };
        if msg.key == KTHXBAI {
            if msg.prop_u64(canopy_schemas::state::PROP_ID) == Some(*id) {
                *kthxbai = Some(msg.sequence);
                return self.finish_sync(state, router, outbox, c);
            }
            return Ok(());
        }
        let key = String::from_utf8_lossy(&msg.key).into_owned();
        apply(state, &msg, &key, None);
        Ok(())
    }

    /// With KTHXBAI and LSEQS in, the mirror takes the level numbers, applies
    /// the updates that arrived meanwhile and starts serving.
    fn finish_sync(
        &mut self,
        state: &mut StatePlane,
        router: &zmq::Socket,
        outbox: &mut Outbox,
        c: &mut Counters,
    ) -> Result<(), zmq::Error> {
        let Sync::Syncing {
            kthxbai: Some(seq),
            lseqs: Some((lseqs_seq, _)),
            ..
        } = &self.sync
        else {
            return Ok(());
        };
        if seq != lseqs_seq {
            tracing::warn!("mirror snapshot and level numbers disagree; resyncing");
            return self.resync(state, c);
        }
        let seq = *seq;
        let Sync::Syncing {
            lseqs: Some((_, lseqs)),
            buffered,
            ..
        } = std::mem::replace(&mut self.sync, Sync::Ready)
        else {
            return Ok(());
        };
        state.engine.mirror_start(seq, lseqs);
        for msg in buffered {
            if msg.sequence <= seq {
                continue;
            }
            let key = String::from_utf8_lossy(&msg.key).into_owned();
            let lseq = msg.prop_u64(PROP_LSEQ);
            apply(state, &msg, &key, lseq);
        }
        tracing::info!(
            keys = state.engine.len(),
            seq,
            "mirror in sync with the parent"
        );
        state.release_snapshots(router, outbox, c)
    }
}

/// Applies one KVSYNC (`lseq` None) or KVPUB to the mirror.
fn apply(state: &mut StatePlane, msg: &KvMsg, key: &str, lseq: Option<u64>) {
    let value = (!msg.body.is_empty()).then(|| msg.body.clone().into_boxed_slice());
    let expires_ms = match msg.prop_u64(PROP_TTL_MS) {
        Some(ms) if value.is_some() => crate::state_plane::now_ms() + ms,
        _ => 0,
    };
    state
        .engine
        .mirror_set(key, msg.sequence, lseq, value, expires_ms);
}

/// The parent's reply, renumbered for the node that asked.
fn with_id(reply: Reply, id: u64) -> Reply {
    match reply {
        Reply::Written(mut w) => {
            w.id = id;
            Reply::Written(w)
        }
        Reply::Error(mut e) => {
            e.id = id;
            Reply::Error(e)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_endpoints_follow_the_base_port() {
        assert_eq!(
            parent_endpoints("tcp://10.0.0.1:7000").unwrap(),
            [
                "tcp://10.0.0.1:7000".to_owned(),
                "tcp://10.0.0.1:7001".to_owned(),
                "tcp://10.0.0.1:7002".to_owned()
            ]
        );
        assert!(parent_endpoints("10.0.0.1:7000").is_err());
        assert!(parent_endpoints("tcp://h:65535").is_err());
    }

    #[test]
    fn an_echo_is_dropped_once() {
        let mut e = Echoes::default();
        let fp = Echoes::fingerprint(&[b"@a/:t", b"h", b"p"]);
        e.sent(fp);
        e.sent(fp);
        assert!(e.is_echo(fp));
        assert!(e.is_echo(fp));
        assert!(!e.is_echo(fp));
        assert_ne!(fp, Echoes::fingerprint(&[b"@a/:t", b"hp", b""]));
    }
}
