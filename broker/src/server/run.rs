//! The poll loop: wait on every socket, then hand each ready one to its
//! plane; timers (heartbeat, TTL expiry) between turns; a clean stop.

use super::poll::{self, Ready};
use super::{
    Broker, BrokerError, ZmqContext, BATCH, GOODBYE_GRACE_MS, HELD_REPLY_RETRY_MS, MAX_POLL_MS,
    STOP_LINGER_MS,
};
use crate::control::{Deferred, Handled};
use crate::events::{EventLimits, Forwarder, Inbound, SubscriptionLimits, Subscriptions, Upstream};
use crate::state::plane::ForMaster;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

impl Broker {
    /// Runs the poll loop until `stop` becomes true.
    pub fn run(mut self, stop: Arc<AtomicBool>) -> Result<(), BrokerError> {
        let heartbeat = Duration::from_millis(self.config.heartbeat_ms);
        let node_timeout = Duration::from_millis(self.config.node_timeout_ms);
        let mut forwarder = Forwarder::new(
            EventLimits {
                max_message_size: self.config.max_message_size,
                max_topic_length: self.config.max_topic_length,
            },
            self.acls.clone(),
        );
        let mut subscriptions = Subscriptions::new(
            self.acls.clone(),
            SubscriptionLimits {
                max_total: self.config.max_subscriptions_total,
                max_length: self.config.max_topic_length,
            },
        );
        let mut next_beat = Instant::now();
        let mut snapshots_blocked = false;
        while !stop.load(Ordering::Relaxed) {
            let now = Instant::now();
            if now >= next_beat {
                self.housekeeping(node_timeout)?;
                self.monitoring_beat(&subscriptions)?;
                next_beat = now + heartbeat;
            }
            if self.uplink.is_none() {
                // A child's mirror expires keys when the master says so.
                self.state
                    .expire(&self.xpub, &mut self.counters)
                    .ctx(|| "expiring keys".into())?;
            }
            let wait = self.wait_ms(next_beat, snapshots_blocked);
            if self.reload.swap(false, Ordering::Relaxed) {
                self.zap.reload(&mut self.counters);
            }
            let ready = match poll::poll(&self.poll_sockets(), wait) {
                Ok(ready) => ready,
                Err(zmq::Error::EINTR) => continue,
                Err(e) => return Err(e).ctx(|| "poll".into()),
            };
            snapshots_blocked = self.dispatch(ready, &mut forwarder, &mut subscriptions)?;
            self.monitoring_turn(&subscriptions)?;
            if let Some(why) = self.state.storage_failed() {
                let why = why.to_owned();
                self.state
                    .fail_pending(&self.router, &mut self.outbox, &mut self.counters)
                    .ctx(|| "answering writes after a storage failure".into())?;
                return Err(BrokerError::Storage(why));
            }
        }
        tracing::info!("broker stopping");
        super::service::stopping();
        self.drain()
    }

    /// A clean stop: the loop serves no new request; what is queued is made
    /// durable and answered, then every node that speaks version 2 or later
    /// is told the broker is going (GOODBYE), so it reconnects without
    /// waiting out its timeout. (Unbinding first would close the accepted
    /// connections too: libzmq ties them to their listener.)
    fn drain(&mut self) -> Result<(), BrokerError> {
        self.state
            .shutdown(&self.router, &mut self.outbox, &mut self.counters)
            .ctx(|| "flushing state".into())?;
        let goodbye = canopy_schemas::Reply::Goodbye(canopy_schemas::control::Goodbye {
            id: 0,
            epoch: self.control.epoch,
        });
        let nodes = self.control.presence.speaking_at_least(2);
        for node in &nodes {
            self.outbox
                .send(&self.router, node, &goodbye, &mut self.counters)
                .ctx(|| "GOODBYE".into())?;
        }
        self.outbox
            .flush(&self.router, &mut self.counters)
            .ctx(|| "replies".into())?;
        self.counters.goodbyes_sent += nodes.len() as u64;
        let unconfirmed = self.await_goodbye_receipts(nodes.iter().cloned().collect())?;
        tracing::info!(
            nodes = nodes.len(),
            unconfirmed,
            "nodes told the broker is stopping"
        );
        // Queued replies and goodbyes get a moment to leave at close.
        self.router
            .set_linger(STOP_LINGER_MS)
            .ctx(|| "router linger".into())
    }

    /// Waits up to [`GOODBYE_GRACE_MS`] until every node told GOODBYE has
    /// sent something after it (the canopy client answers with HELLO): a
    /// connection closed at once would drop a GOODBYE its node had not read
    /// yet (libzmq discards what an IMMEDIATE DEALER had not read when its
    /// connection goes). What they send is not served. Returns how many
    /// never answered (older clients, gone or slow nodes).
    fn await_goodbye_receipts(
        &mut self,
        mut told: std::collections::HashSet<Vec<u8>>,
    ) -> Result<usize, BrokerError> {
        let deadline = Instant::now() + Duration::from_millis(GOODBYE_GRACE_MS);
        while !told.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let ms = i64::try_from(left.as_millis()).unwrap_or(i64::MAX).max(1);
            match self.router.poll(zmq::POLLIN, ms) {
                Ok(0) | Err(zmq::Error::EINTR) => continue,
                Ok(_) => {}
                Err(e) => return Err(e).ctx(|| "waiting for GOODBYE receipts".into()),
            }
            while let Ok(frames) = self.router.recv_multipart(zmq::DONTWAIT) {
                if let Some(identity) = frames.first() {
                    told.remove(identity);
                }
            }
        }
        Ok(told.len())
    }

    /// How long the next poll may wait: not at all while replies or
    /// snapshots are pending, else until the next heartbeat or expiry.
    fn wait_ms(&self, next_beat: Instant, snapshots_blocked: bool) -> i64 {
        if snapshots_blocked {
            return 1;
        }
        if self.state.busy() || (self.outbox.busy() && !self.outbox.stalled()) {
            return 0;
        }
        // Only the master expires keys; a child's mirror waits for the
        // master's deletions, so its past deadlines must not make it spin
        // (with its parent away they stay past).
        let now_ms = canopy_schemas::clock::unix_ms();
        let until_expiry = match self.uplink {
            Some(_) => u64::MAX,
            None => self
                .state
                .engine
                .next_expiry()
                .map_or(u64::MAX, |d| d.saturating_sub(now_ms)),
        };
        // Replies held for peers that read nothing: retry now and then, not
        // in a busy loop (ROUTER cannot say when one peer has room).
        let retry = if self.outbox.stalled() {
            HELD_REPLY_RETRY_MS
        } else {
            u64::MAX
        };
        next_beat
            .saturating_duration_since(Instant::now())
            .as_millis()
            .min(u128::from(MAX_POLL_MS))
            .min(u128::from(until_expiry))
            .min(u128::from(retry)) as i64
    }

    /// The sockets the loop waits on, by name.
    fn poll_sockets(&self) -> poll::Sockets<'_> {
        poll::Sockets {
            xsub: &self.xsub,
            xpub: &self.xpub,
            router: &self.router,
            durable: &self.state.durable,
            zap: &self.zap.socket,
            link: self
                .uplink
                .as_ref()
                .map(|l| [&l.down, &l.control, &l.up, &l.handshakes]),
        }
    }

    /// Hands each ready socket to its plane, then flushes held replies and
    /// streams snapshots. Returns true when a snapshot peer is full.
    fn dispatch(
        &mut self,
        ready: Ready,
        forwarder: &mut Forwarder,
        subscriptions: &mut Subscriptions,
    ) -> Result<bool, BrokerError> {
        self.on_link(ready, subscriptions)?;
        if ready.zap {
            self.zap.serve(&mut self.counters).ctx(|| "ZAP".into())?;
        }
        if ready.xpub {
            self.on_subscriptions(subscriptions)?;
        }
        if ready.xsub {
            self.on_events(forwarder)?;
        }
        if ready.router {
            self.on_control()?;
        }
        if ready.durable {
            self.state
                .on_durable(&self.router, &mut self.outbox, &mut self.counters)
                .ctx(|| "durability".into())?;
        }
        if self.outbox.busy() {
            self.outbox
                .flush(&self.router, &mut self.counters)
                .ctx(|| "replies".into())?;
        }
        if !self.state.busy() {
            return Ok(false);
        }
        self.state
            .pump_snapshots(&self.router, &mut self.counters)
            .ctx(|| "snapshot".into())
    }

    /// A child's three link sockets: what the parent publishes, its
    /// replies, and its subscriptions.
    fn on_link(
        &mut self,
        ready: Ready,
        subscriptions: &mut Subscriptions,
    ) -> Result<(), BrokerError> {
        let Some(link) = &mut self.uplink else {
            return Ok(());
        };
        if ready.link_monitor {
            link.handshake_events(&mut self.counters)
                .ctx(|| "link handshakes".into())?;
        }
        if ready.link_down {
            link.receive_published(&self.xpub, &mut self.state, &mut self.counters)
                .ctx(|| "from the parent".into())?;
        }
        if ready.link_control {
            link.replies(
                &mut self.state,
                &self.router,
                &mut self.outbox,
                &mut self.counters,
            )
            .ctx(|| "parent replies".into())?;
            if link.points_at_itself() {
                return Err(BrokerError::Config(crate::config::ConfigError::Invalid(
                    format!(
                        "upstream {} is this broker itself: give a child the base endpoint of \
                     another broker (its parent)",
                        self.config.upstream.as_deref().unwrap_or_default()
                    ),
                )));
            }
            if link.take_new_epoch() {
                // The parent restarted: what this broker serves was rebuilt,
                // so the replicas and mirrors below must start over too.
                self.control.epoch = canopy_schemas::clock::unix_ms().max(self.control.epoch + 1);
                self.state.epoch = self.control.epoch;
                tracing::info!(
                    epoch = self.control.epoch,
                    "new epoch after the parent's restart"
                );
            }
        }
        if ready.link_up {
            while let Some((on, prefix)) = link
                .parent_interest()
                .ctx(|| "parent subscriptions".into())?
            {
                subscriptions
                    .parent_wants(on, &prefix, &self.xsub)
                    .ctx(|| "parent subscriptions".into())?;
            }
        }
        Ok(())
    }

    /// Subscriptions from the XPUB, a batch at a time.
    fn on_subscriptions(&mut self, subscriptions: &mut Subscriptions) -> Result<(), BrokerError> {
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
        Ok(())
    }

    /// Events (and KVSETs) from the XSUB, a batch at a time.
    fn on_events(&mut self, forwarder: &mut Forwarder) -> Result<(), BrokerError> {
        for _ in 0..BATCH {
            let upstream = self.uplink.as_mut().map(|l| l as &mut dyn Upstream);
            match forwarder
                .forward_one(&self.xsub, &self.xpub, upstream, &mut self.counters)
                .ctx(|| "event forwarding".into())?
            {
                Inbound::Idle => break,
                Inbound::Handled => {}
                Inbound::Kvset(msg, identity) => {
                    let up = self
                        .state
                        .kvset(msg, identity, &self.xpub, &mut self.counters)
                        .ctx(|| "KVSET".into())?;
                    self.relay_to_master(up)?;
                }
            }
        }
        Ok(())
    }

    /// Control requests from the ROUTER, a batch at a time.
    fn on_control(&mut self) -> Result<(), BrokerError> {
        // Control traffic only (never the event path): STATS then reports
        // the connections as they are now.
        self.zap.connections.refresh(&mut self.counters);
        self.control.seq = self.state.engine.seq();
        for _ in 0..BATCH {
            let inflight = &self.state.inflight;
            let handled = self
                .control
                .handle_one(
                    &self.router,
                    &mut self.outbox,
                    &|identity| inflight.of(identity),
                    &self.config,
                    &mut self.counters,
                )
                .ctx(|| "control".into())?;
            let deferred = match handled {
                Handled::Idle => break,
                Handled::Done => continue,
                Handled::Deferred(deferred) => *deferred,
            };
            match deferred {
                Deferred::Snapshot(request) => self
                    .state
                    .snapshot(request, &self.router, &mut self.outbox, &mut self.counters)
                    .ctx(|| "snapshot request".into())?,
                Deferred::State { peer, request } => {
                    let up = self
                        .state
                        .request(
                            peer,
                            request,
                            &self.router,
                            &mut self.outbox,
                            &self.xpub,
                            &mut self.counters,
                        )
                        .ctx(|| "state request".into())?;
                    self.relay_to_master(up)?;
                }
            }
        }
        Ok(())
    }

    /// Sends what a child's state plane handed back on to the parent.
    fn relay_to_master(&mut self, up: Option<ForMaster>) -> Result<(), BrokerError> {
        let (Some(up), Some(link)) = (up, &mut self.uplink) else {
            return Ok(());
        };
        match up {
            ForMaster::Kvset(msg) => link
                .send_kvset(&msg, &mut self.counters)
                .ctx(|| "relaying a KVSET".into()),
            ForMaster::Write { peer, write } => link
                .relay_write(
                    peer,
                    write,
                    &mut self.state,
                    (&self.router, &mut self.outbox),
                    &mut self.counters,
                )
                .ctx(|| "relaying a WRITE".into()),
            ForMaster::Writes { peer, batch, local } => link
                .relay_writes(
                    peer,
                    batch,
                    local,
                    &mut self.state,
                    (&self.router, &mut self.outbox),
                    &mut self.counters,
                )
                .ctx(|| "relaying a WRITES".into()),
        }
    }

    /// Once per heartbeat: HUGZ out, silent nodes out.
    fn housekeeping(&mut self, node_timeout: Duration) -> Result<(), BrokerError> {
        crate::events::send_hugz(&self.xpub).ctx(|| "sending HUGZ".into())?;
        self.counters.heartbeats_sent += 1;
        self.state.check_writer();
        self.zap.connections.refresh(&mut self.counters);
        if let Some(link) = &mut self.uplink {
            let subscriptions = self.counters.subscriptions_active.min(u32::MAX as u64) as u32;
            link.beat(
                node_timeout,
                &mut self.state,
                subscriptions,
                (&self.router, &mut self.outbox),
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
