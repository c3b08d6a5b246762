//! The node's I/O thread: owns the DEALER (control) and SUB (events) sockets,
//! says HELLO, heartbeats, notices a silent or restarted broker and rejoins,
//! and hands events to the async side through a bounded channel.

use crate::event::{Event, NodeEvent};
use crate::locking::lock;
use crate::replica::shared::{ReplicaShared, ResyncRequest, SnapshotEnd};
use crate::subs::SubTable;
use crate::ClientError;
use canopy_schemas::control::{Hello, Ping, Welcome};
use canopy_schemas::state::{
    KvMsg, SeqsQuery, SnapshotQuery, KTHXBAI, PROP_FROM_HISTORY, PROP_HISTORY, PROP_ID, PROP_LSEQ,
    PROP_UNCHANGED,
};
use canopy_schemas::{topic, ErrorCode, EventHeader, Reply, Request};
use std::collections::HashMap;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// SEQS requests in flight: id → (sent at, replica, levels asked with the
/// lseq each had when asked).
type PendingSeqs = HashMap<u64, (Instant, Arc<ReplicaShared>, Vec<(String, u64)>)>;

/// Gap-tracking entries kept before the table is reset (bounds memory).
const MAX_TRACKED_STREAMS: usize = 100_000;
/// How often HELLO is repeated while not joined.
const HELLO_RETRY: Duration = Duration::from_millis(50);
/// Until the broker tells us, how often we say HELLO and how long we wait.
const DEFAULT_HEARTBEAT: Duration = Duration::from_millis(1000);
const DEFAULT_TIMEOUT: Duration = Duration::from_millis(5000);

/// What the handle asks the I/O thread to do.
pub(crate) enum Command {
    /// Add (`true`) or remove a prefix on the SUB socket.
    Subscription(Vec<u8>, bool),
    /// Send a request and route its reply.
    Request(Request, oneshot::Sender<Result<Reply, ClientError>>),
    /// Synchronise every level of a new replica.
    Resync(Arc<ReplicaShared>),
    /// Subscribe to an echo topic frame and report when it comes back.
    Echo(Vec<u8>, oneshot::Sender<()>),
    /// Unsubscribe from an echo topic frame.
    EchoDone(Vec<u8>),
    /// A publisher socket to close on this thread (it lingers to flush).
    Retire(zmq::Socket),
    /// Say BYE and stop.
    Close,
}

/// Counters the node keeps and reports in PING.
#[derive(Debug, Default)]
pub(crate) struct LocalCounters {
    /// Events missing according to publisher sequences.
    pub gaps: u64,
    /// Events dropped because the application did not read fast enough.
    pub overflow: u64,
    /// Events received that could not be decoded (skipped).
    pub malformed: u64,
}

pub(crate) struct Io {
    pub sub: zmq::Socket,
    pub dealer: zmq::Socket,
    /// Readable when the application queued commands.
    pub wake: UnixStream,
    /// Set by the application when it wrote a wake; cleared here before
    /// the queue is drained (see `Port::send`).
    pub wake_pending: Arc<std::sync::atomic::AtomicBool>,
    pub commands: Receiver<Command>,
    pub events: mpsc::Sender<NodeEvent>,
    pub subs: Arc<Mutex<SubTable>>,
    pub counters: Arc<Mutex<LocalCounters>>,
    pub hello: Hello,
    pub first_welcome: Option<oneshot::Sender<Result<Welcome, ClientError>>>,
    pub ids: Arc<std::sync::atomic::AtomicU64>,
    pub replicas: Arc<Mutex<Vec<Arc<ReplicaShared>>>>,
    /// Monitor of the DEALER: CURVE handshake refusals.
    pub monitor: zmq::Socket,
    /// The broker endpoint, for error messages.
    pub endpoint: String,
    /// Topic frames starting with this are echoes to this node: never
    /// delivered to the application.
    pub echo_prefix: Vec<u8>,
    /// Echoes awaited, by topic frame.
    pub echoes: HashMap<Vec<u8>, oneshot::Sender<()>>,
    /// Publisher sockets handed back by the application, closed with us.
    pub retired: Vec<zmq::Socket>,
    /// Dropped last of all, on this thread: terminating the context waits
    /// out the publishers' linger.
    pub _context: zmq::Context,
}

struct Link {
    joined: bool,
    /// Another connection took this node's path: never rejoin.
    name_taken: bool,
    lost: bool,
    epoch: Option<u64>,
    heartbeat: Duration,
    timeout: Duration,
    last_heard: Instant,
    next_beat: Instant,
}

impl Io {
    /// Sends without blocking; false when it could not be queued.
    fn send_request(&self, request: &Request) -> bool {
        let Ok([name, body]) = request.encode() else {
            return false;
        };
        // IMMEDIATE is set: while the broker is away this fails at once, and
        // the heartbeat logic retries.
        match self
            .dealer
            .send(name, zmq::SNDMORE | zmq::DONTWAIT)
            .and_then(|()| self.dealer.send(body, 0))
        {
            Ok(()) => true,
            Err(e) => {
                tracing::debug!(error = %e, "request not sent");
                false
            }
        }
    }

    fn say_hello(&self) {
        let mut hello = self.hello.clone();
        hello.id = self.ids.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.send_request(&Request::Hello(hello));
    }

    fn emit(&self, event: NodeEvent) {
        if self.events.try_send(event).is_err() {
            lock(&self.counters).overflow += 1;
        }
    }

    /// Runs until Close or until the handle is gone.
    pub fn run(mut self) {
        let mut link = Link {
            name_taken: false,
            joined: false,
            lost: false,
            epoch: None,
            heartbeat: DEFAULT_HEARTBEAT,
            timeout: DEFAULT_TIMEOUT,
            last_heard: Instant::now(),
            next_beat: Instant::now(),
        };
        let mut pending: HashMap<u64, oneshot::Sender<Result<Reply, ClientError>>> = HashMap::new();
        let mut streams: HashMap<(String, Vec<u8>), u64> = HashMap::new();
        let mut seqs: PendingSeqs = HashMap::new();
        loop {
            let now = Instant::now();
            if now >= link.next_beat {
                self.beat(&mut link, &mut seqs);
                // Requests whose caller gave up (timed out) are forgotten.
                pending.retain(|_, waiter| !waiter.is_closed());
            }
            let wait = link.next_beat.saturating_duration_since(Instant::now());
            let mut items = [
                self.sub.as_poll_item(zmq::POLLIN),
                self.dealer.as_poll_item(zmq::POLLIN),
                zmq::PollItem::from_fd(self.wake.as_raw_fd(), zmq::POLLIN),
                self.monitor.as_poll_item(zmq::POLLIN),
            ];
            if zmq::poll(&mut items, wait.as_millis() as i64 + 1).is_err() {
                continue;
            }
            let [sub, dealer, wake, monitor] = items.map(|item| item.is_readable());
            if monitor {
                self.on_handshake_failures();
            }
            if sub {
                while let Some(frames) = recv_all(&self.sub) {
                    link.last_heard = Instant::now();
                    self.on_sub_message(frames, &mut streams);
                }
            }
            if dealer {
                // One clock read per CLOCK_EVERY messages: a snapshot is
                // millions of KVSYNCs, and the liveness and snapshot-progress
                // marks need no finer time than that.
                let mut received = 0usize;
                let mut now = Instant::now();
                // KVSYNCs are received into the same five parts each time.
                let mut frames = Vec::with_capacity(5);
                while recv_into(&self.dealer, &mut frames) {
                    received += 1;
                    if received.is_multiple_of(CLOCK_EVERY) {
                        now = Instant::now();
                    }
                    link.last_heard = now;
                    if frames.len() == 5 {
                        self.on_snapshot_message(&frames, now);
                    } else {
                        let frames = std::mem::take(&mut frames);
                        self.on_reply(frames, &mut link, &mut pending, &mut seqs);
                    }
                }
            }
            if wake && self.on_commands(&mut pending, &mut streams) {
                return;
            }
        }
    }

    /// Handshakes the broker refused (CURVE key, connection limit): the
    /// first one ends `connect` with a clear error.
    fn on_handshake_failures(&mut self) {
        while let Some(frames) = recv_all(&self.monitor) {
            // Event frame: u16 event, u32 value (the ZAP status code: 400 a
            // refused key, 500 the broker's connection limit).
            let status = frames
                .first()
                .and_then(|f| f.get(2..6))
                .and_then(|v| <[u8; 4]>::try_from(v).ok())
                .map(u32::from_le_bytes);
            let err = if status == Some(500) {
                ClientError::BrokerFull(self.endpoint.clone())
            } else {
                ClientError::AuthRefused(self.endpoint.clone())
            };
            tracing::warn!(broker = %self.endpoint, error = %err, "handshake refused by the broker");
            if let Some(first) = self.first_welcome.take() {
                let _ = first.send(Err(err));
            }
        }
    }

    /// Commands from the application's threads; true when told to close.
    fn on_commands(
        &mut self,
        pending: &mut HashMap<u64, oneshot::Sender<Result<Reply, ClientError>>>,
        streams: &mut HashMap<(String, Vec<u8>), u64>,
    ) -> bool {
        // The wake bytes first, then the flag: a wake written after this
        // drain stays in the pipe for the next poll, so the flag is never
        // set with no byte on its way (which would lose a wakeup). A swap,
        // not a store: it reads the application's set, so the commands
        // queued before that set are visible to the drain below.
        let mut drain = [0u8; 64];
        while matches!((&self.wake).read(&mut drain), Ok(n) if n > 0) {}
        self.wake_pending
            .swap(false, std::sync::atomic::Ordering::AcqRel);
        loop {
            match self.commands.try_recv() {
                Ok(Command::Subscription(prefix, on)) => {
                    let r = if on {
                        self.sub.set_subscribe(&prefix)
                    } else {
                        self.sub.set_unsubscribe(&prefix)
                    };
                    if let Err(e) = r {
                        tracing::warn!(error = %e, "changing subscription failed");
                    }
                    if !on {
                        // Events missed while unsubscribed are not drops.
                        streams.clear();
                    }
                }
                Ok(Command::Request(request, reply)) => {
                    if self.send_request(&request) {
                        pending.insert(request.id(), reply);
                    } else {
                        let _ = reply.send(Err(ClientError::NotSent));
                    }
                }
                Ok(Command::Resync(replica)) => {
                    let requests = replica.initial_sync(&self.ids);
                    self.request_snapshots(requests);
                }
                Ok(Command::Echo(frame, done)) => {
                    if let Err(e) = self.sub.set_subscribe(&frame) {
                        tracing::warn!(error = %e, "subscribing to an echo failed");
                    }
                    self.echoes.insert(frame, done);
                }
                Ok(Command::EchoDone(frame)) => {
                    self.echoes.remove(&frame);
                    let _ = self.sub.set_unsubscribe(&frame);
                }
                Ok(Command::Retire(socket)) => self.retired.push(socket),
                Ok(Command::Close) | Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                    self.send_request(&Request::Bye(Default::default()));
                    return true;
                }
                Err(std::sync::mpsc::TryRecvError::Empty) => return false,
            }
        }
    }

    fn replicas(&self) -> Vec<Arc<ReplicaShared>> {
        lock(&self.replicas).clone()
    }

    /// The link is down: every replica's reads may be old from now on.
    fn mark_stale(&self) {
        for r in self.replicas() {
            r.mark_stale();
        }
    }

    /// Asks for snapshots of levels being resynced.
    fn request_snapshots(&self, requests: Vec<ResyncRequest>) {
        for r in requests {
            self.send_request(&Request::Snapshot(SnapshotQuery {
                id: r.id,
                subtree: r.subtree,
                lseqs: false,
                have: r.have,
            }));
        }
    }

    /// KVSYNC or KTHXBAI on the DEALER.
    fn on_snapshot_message(&self, frames: &[zmq::Message], now: Instant) {
        if &frames[0][..] != KTHXBAI {
            // KVSYNC: parsed in place, no copies (snapshots can be millions).
            let (Ok(key), Ok(seq)) = (
                std::str::from_utf8(&frames[0]),
                <[u8; 8]>::try_from(&frames[1][..]),
            ) else {
                lock(&self.counters).malformed += 1;
                return;
            };
            let seq = u64::from_be_bytes(seq);
            for r in lock(&self.replicas).iter() {
                r.on_kvsync(key, seq, &frames[3], &frames[4], now);
            }
            return;
        }
        let refs: Vec<&[u8]> = frames.iter().map(|m| &m[..]).collect();
        let Ok(msg) = KvMsg::decode(&refs) else {
            lock(&self.counters).malformed += 1;
            return;
        };
        if msg.key == KTHXBAI {
            let Ok(subtree) = std::str::from_utf8(&msg.body) else {
                return;
            };
            let Some(id) = msg.prop_u64(PROP_ID) else {
                return; // a plain ICANHAZ? answer: not ours
            };
            let end = SnapshotEnd {
                seq: msg.sequence,
                lseq: msg.prop_u64(PROP_LSEQ).unwrap_or(0),
                history: msg.prop_u64(PROP_HISTORY),
                unchanged: msg.prop_u64(PROP_UNCHANGED) == Some(1),
                from_history: msg.prop_u64(PROP_FROM_HISTORY),
            };
            for r in self.replicas() {
                if let Some(again) = r.on_kthxbai(subtree, id, end, &self.ids) {
                    self.request_snapshots(vec![again]);
                }
            }
        }
    }

    /// A KVPUB on the SUB.
    fn on_state_update(&self, frames: &[zmq::Message]) {
        let refs: Vec<&[u8]> = frames.iter().map(|m| &m[..]).collect();
        let Ok(msg) = KvMsg::decode(&refs) else {
            lock(&self.counters).malformed += 1;
            return;
        };
        let Ok(key) = std::str::from_utf8(&msg.key) else {
            return;
        };
        let wanting: Vec<Arc<ReplicaShared>> = self
            .replicas()
            .into_iter()
            .filter(|r| r.level_index(key).is_some())
            .collect();
        for r in wanting {
            if let Some(resync) = r.on_update(msg.clone(), &self.ids) {
                self.request_snapshots(vec![resync]);
            }
        }
    }

    /// Heartbeat tick: PING when joined, HELLO when not, and notice silence.
    fn beat(&mut self, link: &mut Link, seqs: &mut PendingSeqs) {
        link.next_beat = Instant::now() + link.heartbeat;
        if link.name_taken {
            // Not HELLO: that would take the name back from the other node.
            // A PING asks whether it is still there; once it is gone the
            // answer is unknown_node and this node joins again.
            let id = self.ids.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.send_request(&Request::Ping(Ping {
                id,
                dropped: 0,
                subscriptions: 0,
                link: None,
            }));
            return;
        }
        if link.joined && link.last_heard.elapsed() > link.timeout {
            link.joined = false;
            link.lost = true;
            tracing::warn!("broker silent; reconnecting");
            self.mark_stale();
            self.emit(NodeEvent::Disconnected);
        }
        if link.joined {
            let c = lock(&self.counters);
            let ping = Ping {
                id: self.ids.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
                dropped: c.gaps + c.overflow,
                subscriptions: lock(&self.subs).count() as u32,
                link: None,
            };
            drop(c);
            self.send_request(&Request::Ping(ping));
            // Replicas: check no level fell behind, and drop expired keys.
            // An answer may come after the next beat; one older than the
            // node timeout will not come.
            let timeout = link.timeout;
            seqs.retain(|_, (sent, _, _)| sent.elapsed() < timeout);
            for r in self.replicas() {
                r.sweep();
                let stalled = r.restart_stalled(link.timeout * 2, &self.ids);
                self.request_snapshots(stalled);
                let asked = r.seqs_query();
                if asked.is_empty() {
                    continue;
                }
                let id = self.ids.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                self.send_request(&Request::Seqs(SeqsQuery {
                    id,
                    levels: asked.iter().map(|(p, _)| p.clone()).collect(),
                }));
                seqs.insert(id, (Instant::now(), r, asked));
            }
        } else {
            self.say_hello();
            // Not joined: try again soon. The first HELLO often meets a
            // connection still in its handshake (IMMEDIATE refuses it).
            link.next_beat = Instant::now() + link.heartbeat.min(HELLO_RETRY);
        }
    }

    fn on_reply(
        &mut self,
        frames: Vec<zmq::Message>,
        link: &mut Link,
        pending: &mut HashMap<u64, oneshot::Sender<Result<Reply, ClientError>>>,
        seqs: &mut PendingSeqs,
    ) {
        let refs: Vec<&[u8]> = frames.iter().map(|m| &m[..]).collect();
        let reply = match Reply::decode(&refs) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "undecodable reply from broker");
                return;
            }
        };
        if let Some(waiter) = pending.remove(&reply.id()) {
            let _ = waiter.send(Ok(reply));
            return;
        }
        if let Reply::Seqs(s) = &reply {
            if let Some((_, replica, asked)) = seqs.remove(&s.id) {
                let resyncs = replica.on_seqs(&asked, &s.lseqs, &self.ids);
                self.request_snapshots(resyncs);
            }
            return;
        }
        match reply {
            Reply::Welcome(w) if !canopy_schemas::ProtocolRange::CURRENT.contains(w.protocol) => {
                let err = ClientError::VersionMismatch(format!(
                    "broker chose canopy protocol {}, this client speaks {}",
                    w.protocol,
                    canopy_schemas::ProtocolRange::CURRENT
                ));
                match self.first_welcome.take() {
                    Some(first) => {
                        let _ = first.send(Err(err));
                    }
                    None => tracing::error!(error = %err, "cannot rejoin"),
                }
            }
            Reply::Welcome(w) => {
                let restarted = link.epoch.is_some_and(|e| e != w.epoch);
                if link.lost || restarted {
                    self.emit(NodeEvent::Reconnected {
                        epoch: w.epoch,
                        broker_restarted: restarted,
                    });
                    // Whatever happened while away, replicas start over.
                    for r in self.replicas() {
                        let requests = r.resync_all(&self.ids);
                        self.request_snapshots(requests);
                    }
                }
                link.joined = true;
                link.lost = false;
                link.epoch = Some(w.epoch);
                link.heartbeat = Duration::from_millis(w.heartbeat_ms.max(10));
                link.timeout = Duration::from_millis(w.node_timeout_ms.max(30));
                link.next_beat = Instant::now() + link.heartbeat;
                if let Some(first) = self.first_welcome.take() {
                    let _ = first.send(Ok(w));
                }
            }
            Reply::Error(e) => match e.code {
                ErrorCode::NameTaken => {
                    if !link.name_taken {
                        link.name_taken = true;
                        link.joined = false;
                        // What is missed until it joins again is resynced.
                        link.lost = true;
                        tracing::error!(message = %e.message, "another node joined under this node's name; not rejoining");
                        self.mark_stale();
                        self.emit(NodeEvent::NameTaken);
                    }
                }
                ErrorCode::UnknownNode => {
                    link.name_taken = false;
                    // The broker restarted (or forgot us): join again.
                    link.joined = false;
                    self.say_hello();
                }
                ErrorCode::VersionMismatch
                | ErrorCode::InvalidName
                | ErrorCode::TooManyNodes
                | ErrorCode::AclDenied => {
                    let err = if e.code == ErrorCode::VersionMismatch {
                        ClientError::VersionMismatch(e.message)
                    } else {
                        ClientError::Refused {
                            code: e.code,
                            message: e.message,
                        }
                    };
                    match self.first_welcome.take() {
                        Some(first) => {
                            let _ = first.send(Err(err));
                        }
                        None => tracing::error!(error = %err, "broker refused to take us back"),
                    }
                }
                _ => tracing::warn!(code = ?e.code, message = %e.message, "broker error"),
            },
            Reply::Pong(p) => {
                // A new epoch without a rejoin: the broker rebuilt what it
                // serves (a child whose parent restarted): start over.
                if link.epoch.is_some_and(|e| e != p.epoch) {
                    tracing::info!(epoch = p.epoch, "broker epoch changed; resyncing replicas");
                    link.epoch = Some(p.epoch);
                    self.emit(NodeEvent::Reconnected {
                        epoch: p.epoch,
                        broker_restarted: true,
                    });
                    for r in self.replicas() {
                        let requests = r.resync_all(&self.ids);
                        self.request_snapshots(requests);
                    }
                }
            }
            Reply::Goodbye(g) => {
                // The broker is stopping: reconnect now rather than after
                // the silence timeout.
                tracing::info!(epoch = g.epoch, "broker stopping; reconnecting");
                if link.joined {
                    link.joined = false;
                    link.lost = true;
                    self.mark_stale();
                    self.emit(NodeEvent::Disconnected);
                }
                // HELLO at once: it tells the stopping broker the GOODBYE
                // arrived (it waits for that before closing, since a closed
                // connection drops what its peer had not read yet), and
                // rejoins whichever broker answers first.
                self.say_hello();
            }
            other => tracing::debug!(reply = ?other, "unsolicited reply"),
        }
    }

    fn on_sub_message(
        &mut self,
        frames: Vec<zmq::Message>,
        streams: &mut HashMap<(String, Vec<u8>), u64>,
    ) {
        if frames.len() == 5 && frames[0].first() == Some(&topic::STATE_MARK) {
            self.on_state_update(&frames);
            return;
        }
        let [topic_frame, header, payload] = &frames[..] else {
            return; // HUGZ (5 frames) and anything else: liveness only
        };
        if topic_frame.starts_with(&self.echo_prefix) {
            if let Some(done) = self.echoes.remove(&topic_frame[..]) {
                let _ = done.send(());
            }
            return;
        }
        if !lock(&self.subs).matches(topic_frame) {
            return;
        }
        let (Ok((address, topic)), Ok(header)) = (
            topic::decode_topic(topic_frame),
            EventHeader::decode(header),
        ) else {
            lock(&self.counters).malformed += 1;
            tracing::debug!("undecodable event skipped");
            return;
        };
        if header.sequence != 0 {
            if streams.len() > MAX_TRACKED_STREAMS {
                streams.clear();
            }
            let key = (header.publisher.clone(), topic_frame.to_vec());
            let last = streams.insert(key, header.sequence).unwrap_or(0);
            if last != 0 && header.sequence > last + 1 {
                lock(&self.counters).gaps += header.sequence - last - 1;
            }
        }
        self.emit(NodeEvent::Event(Event {
            address,
            topic,
            header,
            payload: payload.to_vec(),
        }));
    }
}

/// Messages received from the DEALER between two clock reads.
const CLOCK_EVERY: usize = 256;

/// Receives one whole multipart message into `frames` without blocking,
/// reusing the parts already there (no allocation per message); false when
/// none waits or it was cut short.
fn recv_into(socket: &zmq::Socket, frames: &mut Vec<zmq::Message>) -> bool {
    let mut parts = 0;
    loop {
        if frames.len() == parts {
            frames.push(zmq::Message::new());
        }
        let flags = if parts == 0 { zmq::DONTWAIT } else { 0 };
        if socket.recv(&mut frames[parts], flags).is_err() {
            frames.truncate(parts);
            return false;
        }
        let more = frames[parts].get_more();
        parts += 1;
        if !more {
            frames.truncate(parts);
            return true;
        }
    }
}

/// Receives one whole multipart message without blocking.
fn recv_all(socket: &zmq::Socket) -> Option<Vec<zmq::Message>> {
    let first = socket.recv_msg(zmq::DONTWAIT).ok()?;
    let mut more = first.get_more();
    // CHP messages have 5 frames: room for them in one allocation.
    let mut frames = Vec::with_capacity(5);
    frames.push(first);
    while more {
        let m = socket.recv_msg(0).ok()?;
        more = m.get_more();
        frames.push(m);
    }
    Some(frames)
}

#[cfg(test)]
mod tests {
    use super::recv_into;

    /// Messages of different lengths, one after another, into one buffer:
    /// each comes out whole and alone.
    #[test]
    fn parts_reused_hold_each_message_exactly() {
        let ctx = zmq::Context::new();
        let pull = ctx.socket(zmq::PULL).unwrap_or_else(|e| panic!("{e}"));
        let push = ctx.socket(zmq::PUSH).unwrap_or_else(|e| panic!("{e}"));
        pull.bind("inproc://recv-into")
            .unwrap_or_else(|e| panic!("{e}"));
        push.connect("inproc://recv-into")
            .unwrap_or_else(|e| panic!("{e}"));
        let messages: [&[&[u8]]; 4] = [
            &[b"k", b"1", b"u", b"p", b"v"],
            &[b"reply", b"body"],
            &[b"alone"],
            &[b"k2", b"2", b"u2", b"p2", b"v2"],
        ];
        for m in messages {
            push.send_multipart(m.iter(), 0)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let mut frames = Vec::new();
        for m in messages {
            // inproc delivers at once, but poll rather than assume it.
            pull.poll(zmq::POLLIN, 5_000)
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(recv_into(&pull, &mut frames));
            let got: Vec<&[u8]> = frames.iter().map(|f| &f[..]).collect();
            assert_eq!(got, m);
        }
        assert!(!recv_into(&pull, &mut frames), "nothing more waits");
        assert!(frames.is_empty());
    }
}
