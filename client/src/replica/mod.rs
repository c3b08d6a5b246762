//! [`Replica`]: the application's handle on a store. Reads are local and
//! synchronous; writes go to the master and are acknowledged, then applied
//! to this replica at once (read-your-writes).

pub(crate) mod shared;

use crate::port::{Lifetime, Port};
use crate::ClientError;
use canopy_schemas::state::{Level, OpKind, Write, Written};
use canopy_schemas::{NodePath, Reply, Request};
use serde::de::DeserializeOwned;
use serde::Serialize;
use shared::{Change, ReplicaEntry, ReplicaShared};
use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::mpsc;

/// Watch channel capacity; beyond it changes are dropped and counted.
const WATCH_CAPACITY: usize = 10_000;

/// A frozen copy of the merged view: user key → entry.
pub type View = BTreeMap<String, ReplicaEntry>;

/// The outcome of an acknowledged write.
pub type WriteAck = Written;

/// One write, for [`Replica::write`].
#[derive(Debug, Clone)]
pub struct WriteSpec {
    /// The operation.
    pub op: OpKind,
    /// The level written.
    pub level: Level,
    /// The user key (a key prefix for delete_subtree).
    pub key: String,
    /// MessagePack operand.
    pub value: Option<Vec<u8>>,
    /// incr/decr amount.
    pub by: Option<i64>,
    /// cas: the sequence the key must have (0 = absent).
    pub expected_seq: Option<u64>,
    /// Time to live; None = the store's default; zero = none.
    pub ttl: Option<Duration>,
}

impl WriteSpec {
    /// A spec for `op` on `level`/`key` with nothing else set.
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
}

/// Sends one acknowledged write to the master.
pub(crate) async fn send_write(
    port: &Port,
    store: &str,
    spec: &WriteSpec,
) -> Result<WriteAck, ClientError> {
    let reply = port
        .request(|id| {
            Request::Write(Write {
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
            })
        })
        .await?;
    match reply {
        Reply::Written(w) => Ok(w),
        other => Err(ClientError::Protocol(format!("{other:?}"))),
    }
}

/// A local replica of one store, as seen by one node.
#[derive(Clone)]
pub struct Replica {
    shared: Arc<ReplicaShared>,
    port: Port,
    // Keeps the node's I/O thread running while the replica is in use.
    _life: Arc<Lifetime>,
    node: NodePath,
}

fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, ClientError> {
    rmp_serde::to_vec_named(value).map_err(|e| ClientError::Payload(e.to_string()))
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ClientError> {
    rmp_serde::from_slice(bytes).map_err(|e| ClientError::Payload(e.to_string()))
}

impl Replica {
    pub(crate) fn new(
        shared: Arc<ReplicaShared>,
        port: Port,
        life: Arc<Lifetime>,
        node: NodePath,
    ) -> Self {
        Replica {
            shared,
            port,
            _life: life,
            node,
        }
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
        let prefix = spec.level.prefix(&self.shared.store);
        let w = send_write(&self.port, &self.shared.store, &spec).await?;
        self.shared
            .on_ack(&prefix, &spec.key, spec.op == OpKind::DeleteSubtree, &w);
        Ok(w)
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
