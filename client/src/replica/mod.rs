//! [`Replica`]: the application's handle on a store. Reads are local and
//! synchronous; writes go to the master and are acknowledged, then applied
//! to this replica at once (read-your-writes).

pub(crate) mod shared;

use crate::locking::lock;
use crate::port::{Lifetime, Port};
use crate::subscriptions::Subscriptions;
use crate::ClientError;
use canopy_schemas::state::{Level, OpKind, Write, WriteBatch, WriteResult, Written};
use canopy_schemas::{ErrorCode, NodePath, Reply, Request};
use serde::de::DeserializeOwned;
use serde::Serialize;
use shared::{Change, ReplicaEntry, ReplicaShared, ReplicaState};
use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Writes [`Replica::write_many`] and [`Node::write_many`](crate::Node::write_many)
/// keep in flight at once: 16 WRITES requests of 256 writes (each request
/// counts once against the broker's `max_inflight_per_connection`, 10,000).
/// Deep enough that the broker applies one batch while the disk commits
/// another and the acknowledgements of a third travel back: with 1,024 the
/// stages took turns (4 persistent writers loaded 1M keys at ~0.83x the
/// rate); 8,192 was no faster and left the broker ~6 bytes a key more
/// memory after a load (its transient buffers fragment the heap).
pub const PIPELINE: usize = 4096;

/// Watch channel capacity; beyond it changes are dropped and counted.
const WATCH_CAPACITY: usize = 10_000;

/// A frozen copy of the merged view: user key → entry.
pub type View = BTreeMap<String, ReplicaEntry>;

/// The outcome of an acknowledged write.
pub type WriteAck = Written;

/// One write, for [`Replica::write`] and [`Node::write`](crate::Node::write):
/// an operation on a level's key, built with chained setters.
///
/// ```
/// # use canopy_client::{Level, OpKind, WriteSpec};
/// # use std::time::Duration;
/// let spec = WriteSpec::new(OpKind::Put, &Level::root(), "k")
///     .value(&42)?
///     .ttl(Duration::from_secs(30));
/// # Ok::<(), canopy_client::ClientError>(())
/// ```
#[derive(Debug, Clone)]
pub struct WriteSpec {
    pub(crate) op: OpKind,
    pub(crate) level: Level,
    pub(crate) key: String,
    pub(crate) value: Option<Vec<u8>>,
    pub(crate) by: Option<i64>,
    pub(crate) expected_seq: Option<u64>,
    pub(crate) ttl: Option<Duration>,
}

impl WriteSpec {
    /// `op` on `level`/`key` (a key prefix for delete-subtree), with the
    /// store's defaults for everything else: no operand, `by` 1, the
    /// store's default TTL.
    pub fn new(op: OpKind, level: &Level, key: &str) -> Self {
        WriteSpec {
            op,
            level: level.clone(),
            key: key.to_owned(),
            value: None,
            by: None,
            expected_seq: None,
            ttl: None,
        }
    }

    /// The operand, encoded as MessagePack.
    pub fn value<T: Serialize + ?Sized>(mut self, value: &T) -> Result<Self, ClientError> {
        self.value = Some(encode(value)?);
        Ok(self)
    }

    /// The operand as bytes that already are MessagePack.
    pub fn value_msgpack(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.value = Some(bytes.into());
        self
    }

    /// The amount for incr/decr (default 1; 0 reads the current value).
    pub fn by(mut self, by: i64) -> Self {
        self.by = Some(by);
        self
    }

    /// For compare-and-set: the sequence the key must have (0: absent).
    pub fn expected_seq(mut self, seq: u64) -> Self {
        self.expected_seq = Some(seq);
        self
    }

    /// A time to live; `Duration::ZERO` means none (overrides the store's
    /// default).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// The operation.
    pub fn op(&self) -> OpKind {
        self.op
    }

    /// The level written.
    pub fn level(&self) -> &Level {
        &self.level
    }

    /// The key (or key prefix).
    pub fn key(&self) -> &str {
        &self.key
    }
}

/// Sends one acknowledged write to the master.
fn to_write(id: u64, store: &str, spec: &WriteSpec) -> Write {
    Write {
        id,
        store: store.to_owned(),
        level: spec.level.path(),
        node: spec.level.is_node(),
        key: spec.key.clone(),
        op: spec.op,
        value: spec.value.clone(),
        by: spec.by,
        expected_seq: spec.expected_seq,
        // Saturates: a TTL beyond u64 milliseconds is "for ever".
        ttl_ms: spec
            .ttl
            .map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX)),
    }
}

pub(crate) async fn send_write(
    port: &Port,
    store: &str,
    spec: &WriteSpec,
) -> Result<WriteAck, ClientError> {
    let reply = port
        .request(|id| Request::Write(to_write(id, store, spec)))
        .await?;
    match reply {
        Reply::Written(w) => Ok(w),
        other => Err(ClientError::Protocol(format!("{other:?}"))),
    }
}

/// Writes one WRITES carries at most (the broker takes up to
/// [`MAX_BATCH_WRITES`]).
const BATCH_WRITES: usize = 256;
/// Encoded bytes one WRITES carries at most: well inside the broker's
/// default `max_control_size` (64 KiB).
const BATCH_BYTES: usize = 32 * 1024;

/// Cuts `specs` into batches of at most [`BATCH_WRITES`] writes and about
/// [`BATCH_BYTES`] of keys and values (a bigger write goes alone).
fn batches(specs: Vec<WriteSpec>) -> Vec<Vec<WriteSpec>> {
    let mut out: Vec<Vec<WriteSpec>> = Vec::new();
    let mut bytes = 0;
    for spec in specs {
        // Level, key, value and about 64 bytes of field names and numbers.
        let size = spec.key.len() + spec.value.as_ref().map_or(0, Vec::len) + 64;
        let fits = out
            .last()
            .is_some_and(|b| b.len() < BATCH_WRITES && bytes + size <= BATCH_BYTES);
        if !fits {
            out.push(Vec::new());
            bytes = 0;
        }
        bytes += size;
        if let Some(batch) = out.last_mut() {
            batch.push(spec);
        }
    }
    out
}

/// The same error again, for every write of a batch that failed whole.
fn for_each_write(e: &ClientError) -> ClientError {
    match e {
        ClientError::Refused { code, message } => ClientError::Refused {
            code: *code,
            message: message.clone(),
        },
        ClientError::Timeout {
            endpoint,
            waited_ms,
        } => ClientError::Timeout {
            endpoint: endpoint.clone(),
            waited_ms: *waited_ms,
        },
        ClientError::Closed => ClientError::Closed,
        ClientError::NotSent => ClientError::NotSent,
        other => ClientError::Protocol(other.to_string()),
    }
}

/// Sends `specs` as one WRITES (falling back to single WRITEs, and
/// remembering to, when the broker does not know WRITES): one outcome per
/// spec, in order.
pub(crate) async fn send_batch(
    port: &Port,
    store: &str,
    specs: &[WriteSpec],
) -> Vec<Result<WriteAck, ClientError>> {
    if specs.len() > 1 && port.batches.load(Ordering::Relaxed) {
        let reply = port
            .request(|id| {
                let writes = specs
                    .iter()
                    .enumerate()
                    .map(|(i, spec)| to_write(i as u64, store, spec))
                    .collect();
                Request::Writes(WriteBatch { id, writes })
            })
            .await;
        match reply {
            Ok(Reply::Wrote(w)) if w.results.len() == specs.len() => {
                return w
                    .results
                    .into_iter()
                    .map(|r| match r {
                        WriteResult::Written(written) => Ok(written),
                        WriteResult::Error(e) => Err(ClientError::Refused {
                            code: e.code,
                            message: e.message,
                        }),
                    })
                    .collect();
            }
            Ok(other) => {
                let e = ClientError::Protocol(format!("WRITES answered with {other:?}"));
                return specs.iter().map(|_| Err(for_each_write(&e))).collect();
            }
            Err(ClientError::Refused {
                code: ErrorCode::UnknownCommand,
                ..
            }) => {
                // A broker from before WRITES: one WRITE at a time from now on.
                port.batches.store(false, Ordering::Relaxed);
            }
            Err(e) => return specs.iter().map(|_| Err(for_each_write(&e))).collect(),
        }
    }
    let mut out = Vec::with_capacity(specs.len());
    for spec in specs {
        out.push(send_write(port, store, spec).await);
    }
    out
}

/// Sends every write, in batches of one WRITES each, several batches in
/// flight; the outcomes come in the order of `specs`.
pub(crate) async fn send_many(
    port: &Port,
    store: &str,
    specs: Vec<WriteSpec>,
) -> Vec<(WriteSpec, Result<WriteAck, ClientError>)> {
    use futures_util::StreamExt;
    let in_flight = (PIPELINE / BATCH_WRITES).max(1);
    let done: Vec<Vec<(WriteSpec, Result<WriteAck, ClientError>)>> =
        futures_util::stream::iter(batches(specs).into_iter().map(|batch| async move {
            let outcomes = send_batch(port, store, &batch).await;
            batch.into_iter().zip(outcomes).collect()
        }))
        .buffered(in_flight)
        .collect()
        .await;
    done.into_iter().flatten().collect()
}

/// A replica's place in its node: registered with the I/O thread and
/// subscribed to its levels while it lives; dropping the last handle (or a
/// cancelled [`Node::store`](crate::Node::store)) takes both back.
pub(crate) struct Registration {
    pub shared: Arc<ReplicaShared>,
    subs: Subscriptions,
    prefixes: Vec<(Vec<u8>, bool)>,
    replicas: Arc<Mutex<Vec<Arc<ReplicaShared>>>>,
    // Keeps the node's I/O thread running while the replica is in use.
    pub life: Arc<Lifetime>,
}

impl Registration {
    /// Subscribes to the levels of `shared` and registers it.
    pub fn new(
        shared: Arc<ReplicaShared>,
        subs: Subscriptions,
        replicas: Arc<Mutex<Vec<Arc<ReplicaShared>>>>,
        life: Arc<Lifetime>,
    ) -> Result<Self, ClientError> {
        let prefixes: Vec<(Vec<u8>, bool)> = shared
            .prefixes()
            .into_iter()
            .map(|p| (p.into_bytes(), false))
            .collect();
        subs.apply(&prefixes, true)?;
        lock(&replicas).push(Arc::clone(&shared));
        Ok(Registration {
            shared,
            subs,
            prefixes,
            replicas,
            life,
        })
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        lock(&self.replicas).retain(|r| !Arc::ptr_eq(r, &self.shared));
        // A closed node has no subscriptions left to take back.
        let _ = self.subs.apply(&self.prefixes, false);
        self.shared.mark_closed();
    }
}

/// A local replica of one store, as seen by one node. Clones share one
/// replica; when the last is dropped it unsubscribes and unregisters.
#[derive(Clone)]
pub struct Replica {
    reg: Arc<Registration>,
    shared: Arc<ReplicaShared>,
    port: Port,
    node: NodePath,
}

fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, ClientError> {
    rmp_serde::to_vec_named(value).map_err(|e| ClientError::Payload(e.to_string()))
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ClientError> {
    rmp_serde::from_slice(bytes).map_err(|e| ClientError::Payload(e.to_string()))
}

impl Replica {
    pub(crate) fn new(reg: Registration, port: Port, node: NodePath) -> Self {
        Replica {
            shared: Arc::clone(&reg.shared),
            reg: Arc::new(reg),
            port,
            node,
        }
    }

    /// Whether reads are current: synced, resyncing or stale since a time,
    /// or closed. Reads answer in every state; this says how far to trust them.
    pub fn state(&self) -> ReplicaState {
        if self.reg.life.is_done() {
            return ReplicaState::Closed;
        }
        *self.shared.state().borrow()
    }

    /// The state, as a watch: `changed().await` wakes on every move.
    pub fn state_changes(&self) -> watch::Receiver<ReplicaState> {
        self.shared.state()
    }

    /// The store's name.
    pub fn name(&self) -> &str {
        &self.shared.store
    }

    /// The levels replicated, least specific first.
    pub fn levels(&self) -> Vec<Level> {
        self.shared.levels()
    }

    /// The node's own level (the most specific).
    pub fn node_level(&self) -> Level {
        Level::Node(self.node.clone())
    }

    /// The node's group level.
    pub fn group_level(&self) -> Level {
        Level::Group(self.node.group.clone())
    }

    /// The merged value of `key`, decoded; no network round trip.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, ClientError> {
        self.shared
            .get(key)
            .map(|(e, _)| decode(&e.value))
            .transpose()
    }

    /// The merged value of `key`, or `default` when no level has it.
    pub fn get_or<T: DeserializeOwned>(&self, key: &str, default: T) -> Result<T, ClientError> {
        Ok(self.get(key)?.unwrap_or(default))
    }

    /// The raw MessagePack value of `key`.
    pub fn get_raw(&self, key: &str) -> Option<Vec<u8>> {
        self.shared.get(key).map(|(e, _)| e.value.to_vec())
    }

    /// The entry of `key` with the level it comes from.
    pub fn entry(&self, key: &str) -> Option<(ReplicaEntry, Level)> {
        self.shared.get(key)
    }

    /// A frozen copy of the whole merged view.
    pub fn view(&self) -> View {
        self.shared.view("")
    }

    /// A frozen copy of the merged view under `prefix`.
    pub fn scan(&self, prefix: &str) -> View {
        self.shared.view(prefix)
    }

    /// Keys under `prefix`, sorted.
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        self.shared.view(prefix).into_keys().collect()
    }

    /// Changes of the merged view under `prefix` (a key is a prefix of itself).
    pub fn watch(&self, prefix: &str) -> Watch {
        Watch {
            rx: self.shared.watch(prefix, WATCH_CAPACITY),
        }
    }

    /// Resyncs so far, per level (gaps, reconnects, restarts, lagging
    /// levels); the first sync does not count.
    pub fn resyncs(&self) -> u64 {
        self.shared.resyncs.load(Ordering::Relaxed)
    }

    /// Changes dropped because a watcher did not keep up.
    pub fn watch_overflow(&self) -> u64 {
        self.shared.watch_overflow.load(Ordering::Relaxed)
    }

    /// Sends any write to the master and applies its result here.
    pub async fn write(&self, spec: WriteSpec) -> Result<WriteAck, ClientError> {
        let prefix = self.prefix_of(&spec);
        let w = send_write(&self.port, &self.shared.store, &spec).await?;
        self.shared
            .on_ack(&prefix, &spec.key, spec.op == OpKind::DeleteSubtree, &w);
        Ok(w)
    }

    /// Sends every write at once: in batches (one WRITES request for up to
    /// 256 writes, several batches in flight; single pipelined WRITEs to a
    /// broker from before WRITES), each write applied on its own (not a
    /// transaction), acknowledged after the commit and applied here; the
    /// outcomes come in the order of `specs`. Much faster than awaiting one
    /// write after another.
    pub async fn write_many(&self, specs: Vec<WriteSpec>) -> Vec<Result<WriteAck, ClientError>> {
        send_many(&self.port, &self.shared.store, specs)
            .await
            .into_iter()
            .map(|(spec, outcome)| {
                outcome.inspect(|w| {
                    let prefix = self.prefix_of(&spec);
                    self.shared
                        .on_ack(&prefix, &spec.key, spec.op == OpKind::DeleteSubtree, w);
                })
            })
            .collect()
    }

    /// The level prefix a write's acknowledgement applies to.
    fn prefix_of(&self, spec: &WriteSpec) -> String {
        if self.shared.opaque {
            canopy_schemas::state::opaque_level(&spec.key)
                .unwrap_or_default()
                .to_owned()
        } else {
            spec.level.prefix(&self.shared.store)
        }
    }

    async fn with_value<T: Serialize + ?Sized>(
        &self,
        op: OpKind,
        level: &Level,
        key: &str,
        value: &T,
    ) -> Result<WriteAck, ClientError> {
        let mut spec = WriteSpec::new(op, level, key);
        spec.value = Some(encode(value)?);
        self.write(spec).await
    }

    /// Sets `key` at `level`; returns the acknowledgement (its `seq`).
    pub async fn put<T: Serialize + ?Sized>(
        &self,
        level: &Level,
        key: &str,
        value: &T,
    ) -> Result<WriteAck, ClientError> {
        self.with_value(OpKind::Put, level, key, value).await
    }

    /// Sets `key` at `level` for `ttl`; every replica drops it when it runs out.
    pub async fn put_ttl<T: Serialize + ?Sized>(
        &self,
        level: &Level,
        key: &str,
        value: &T,
        ttl: Duration,
    ) -> Result<WriteAck, ClientError> {
        let mut spec = WriteSpec::new(OpKind::Put, level, key);
        spec.value = Some(encode(value)?);
        spec.ttl = Some(ttl);
        self.write(spec).await
    }

    /// Deletes `key` at `level`.
    pub async fn delete(&self, level: &Level, key: &str) -> Result<WriteAck, ClientError> {
        self.write(WriteSpec::new(OpKind::Delete, level, key)).await
    }

    /// Sets `key` only if it does not exist (else [`ErrorCode::Exists`](canopy_schemas::ErrorCode::Exists)).
    pub async fn put_if_absent<T: Serialize + ?Sized>(
        &self,
        level: &Level,
        key: &str,
        value: &T,
    ) -> Result<WriteAck, ClientError> {
        self.with_value(OpKind::PutIfAbsent, level, key, value)
            .await
    }

    /// Sets `key` only if its sequence is `expected_seq` (0: absent).
    pub async fn cas<T: Serialize + ?Sized>(
        &self,
        level: &Level,
        key: &str,
        expected_seq: u64,
        value: &T,
    ) -> Result<WriteAck, ClientError> {
        let mut spec = WriteSpec::new(OpKind::Cas, level, key);
        spec.value = Some(encode(value)?);
        spec.expected_seq = Some(expected_seq);
        self.write(spec).await
    }

    /// Adds `by` to an integer (missing counts as 0); returns the new value.
    pub async fn incr(&self, level: &Level, key: &str, by: i64) -> Result<i64, ClientError> {
        let mut spec = WriteSpec::new(OpKind::Incr, level, key);
        spec.by = Some(by);
        let w = self.write(spec).await?;
        decode(w.value.as_deref().unwrap_or_default())
    }

    /// Subtracts `by` from an integer; returns the new value.
    pub async fn decr(&self, level: &Level, key: &str, by: i64) -> Result<i64, ClientError> {
        let mut spec = WriteSpec::new(OpKind::Decr, level, key);
        spec.by = Some(by);
        let w = self.write(spec).await?;
        decode(w.value.as_deref().unwrap_or_default())
    }

    /// Appends to a string, bytes or list.
    pub async fn append<T: Serialize + ?Sized>(
        &self,
        level: &Level,
        key: &str,
        value: &T,
    ) -> Result<WriteAck, ClientError> {
        self.with_value(OpKind::Append, level, key, value).await
    }

    /// Inserts into a set.
    pub async fn set_insert<T: Serialize + ?Sized>(
        &self,
        level: &Level,
        key: &str,
        value: &T,
    ) -> Result<WriteAck, ClientError> {
        self.with_value(OpKind::SetInsert, level, key, value).await
    }

    /// Removes from a set.
    pub async fn set_remove<T: Serialize + ?Sized>(
        &self,
        level: &Level,
        key: &str,
        value: &T,
    ) -> Result<WriteAck, ClientError> {
        self.with_value(OpKind::SetRemove, level, key, value).await
    }

    /// True for a replica of the opaque CHP space ([`Node::chp_store`](crate::Node::chp_store)).
    pub fn is_chp(&self) -> bool {
        self.shared.opaque
    }

    fn chp_only(&self) -> Result<(), ClientError> {
        if self.shared.opaque {
            Ok(())
        } else {
            Err(ClientError::InvalidArgument(format!(
                "store {} is a canopy store: chp_* writes need a replica from Node::chp_store",
                self.shared.store
            )))
        }
    }

    /// Sets the opaque CHP key `key` (the whole key, `/client/727`) to
    /// `value`, kept as bytes; `ttl` None: the `[chp]` default. Applied here
    /// once acknowledged. An empty value deletes, as in CHP.
    pub async fn chp_put(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<WriteAck, ClientError> {
        self.chp_only()?;
        let mut spec = WriteSpec::new(OpKind::Put, &Level::root(), key).value_msgpack(value);
        spec.ttl = ttl;
        self.write(spec).await
    }

    /// Deletes the opaque CHP key `key`.
    pub async fn chp_delete(&self, key: &str) -> Result<WriteAck, ClientError> {
        self.chp_only()?;
        self.write(WriteSpec::new(OpKind::Delete, &Level::root(), key))
            .await
    }

    /// Deletes every key of `level` starting with `prefix`; returns how many.
    pub async fn delete_subtree(&self, level: &Level, prefix: &str) -> Result<u64, ClientError> {
        Ok(self
            .write(WriteSpec::new(OpKind::DeleteSubtree, level, prefix))
            .await?
            .deleted)
    }
}

/// A stream of changes of a replica's merged view.
pub struct Watch {
    rx: mpsc::Receiver<Change>,
}

impl Watch {
    /// The next change.
    pub async fn next(&mut self) -> Option<Change> {
        self.rx.recv().await
    }
}

impl tokio_stream::Stream for Watch {
    type Item = Change;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Change>> {
        self.rx.poll_recv(cx)
    }
}
