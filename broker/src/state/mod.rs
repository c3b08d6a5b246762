//! The state plane. This file is the master engine: every store's keys, the
//! sequence, per-level update numbers, TTLs, and the atomic application of
//! writes; pure data. `plane.rs` drives it from the broker loop (broadcast,
//! persistence, acknowledgements, snapshots); `ops`, `store`, `snapshot` and
//! `persist` hold one idea each. Nothing here imports federation: what a
//! child broker must send to its parent is handed back to the loop.

pub mod map;
pub mod ops;
pub mod persist;
pub mod plane;
pub mod snapshot;
pub mod store;

use canopy_schemas::state::{
    self as wire, check_user_key, classify_key, KeySpace, KvMsg, Level, OpKind, StoreInfo, Write,
    Written, OPAQUE_STORE,
};
use canopy_schemas::ErrorCode;
pub use map::{EntryRef, StateMap};
use ops::OpError;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
pub use store::{Store, StoreConfig, StoreError};

/// One key's state in the master.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// MessagePack value.
    pub value: Box<[u8]>,
    /// Sequence of the write that set it.
    pub seq: u64,
    /// Unix ms at which it expires; 0 = never.
    pub expires_ms: u64,
}

/// One change to broadcast (and persist): the result of a write, a KVSET or
/// an expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Full key.
    pub key: Box<str>,
    /// Length of the key's level prefix.
    pub level_len: usize,
    /// Sequence assigned.
    pub seq: u64,
    /// Number of this update within its level.
    pub lseq: u64,
    /// New value; None = deleted.
    pub value: Option<Box<[u8]>>,
    /// Unix ms of expiry; 0 = never.
    pub expires_ms: u64,
    /// Whether the key's store persists.
    pub persist: bool,
    /// The writer's uuid (a CHP KVSET's), republished in the KVPUB.
    pub uuid: Option<Box<[u8]>>,
}

impl Change {
    /// The level prefix of the key.
    pub fn level(&self) -> &str {
        &self.key[..self.level_len]
    }
}

/// What a restart loads from disk.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The sequence to carry on from.
    pub seq: u64,
    /// The previous run's reservation: start above it.
    pub seq_floor: u64,
    /// Per-level update numbers.
    pub lseqs: HashMap<Box<str>, u64>,
    /// Every persisted key, sorted.
    pub entries: Vec<(Box<str>, Entry)>,
    /// Keys of `persist = false` stores a restore left for this start.
    pub restored_volatile: Vec<(Box<str>, Entry)>,
    /// The history the directory's level numbers belong to, when it may
    /// carry on: the previous run stopped cleanly (every change it
    /// published was committed) and nothing was rolled back since.
    pub history: Option<u64>,
    /// The history of a previous run that did not stop cleanly, when the
    /// database passed its integrity check: a new history begins, but each
    /// level at its committed lseq is the state that lseq named then.
    pub crashed_history: Option<u64>,
}

/// Keys on disk that a start does not serve.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Unserved {
    /// Keys of this store on disk.
    pub keys: u64,
    /// True when the store is declared but no longer persists; false when
    /// the configuration does not declare it.
    pub declared: bool,
}

/// What a start did with what the disk held.
#[derive(Debug, Default)]
pub struct Restored {
    /// Keys to delete from disk: those of the stores `--drop-store` named.
    pub erase: Vec<Box<str>>,
    /// Stores whose keys are kept on disk but not served, by name.
    pub unserved: BTreeMap<String, Unserved>,
    /// Restored volatile keys now served from memory.
    pub volatile_served: u64,
    /// Restored volatile keys dropped: their store no longer exists with
    /// `persist = false` (the configuration changed since the restore).
    pub volatile_dropped: u64,
}

/// The master of every store.
pub struct StateEngine {
    stores: HashMap<String, Store>,
    map: StateMap,
    expiry: BTreeSet<(u64, Box<str>)>,
    lseqs: HashMap<Box<str>, u64>,
    seq: u64,
    max_key_length: usize,
}

/// The store a full key belongs to (`$chp` for an opaque CHP key) and the
/// length of its level prefix; `None` for what is no state key.
pub fn home(key: &str) -> Option<(&str, usize)> {
    match classify_key(key)? {
        KeySpace::Canonical(k) => Some((k.store, k.level_len)),
        KeySpace::Opaque { level_len } => Some((OPAQUE_STORE, level_len)),
    }
}

/// A KVSET's uuid, kept for the KVPUB when it has the RFC's 16 bytes.
fn client_uuid(uuid: &[u8]) -> Option<Box<[u8]>> {
    (uuid.len() == 16).then(|| uuid.into())
}

/// PUT_IF_ABSENT and CAS: the key's current state must be what the write
/// expects.
fn check_precondition(w: &Write, key: &str, current: Option<EntryRef<'_>>) -> Result<(), OpError> {
    let current_seq = current.map_or(0, |e| e.seq);
    match w.op {
        OpKind::PutIfAbsent if current.is_some() => Err(err(
            ErrorCode::Exists,
            format!("key {key} exists (sequence {current_seq})"),
        )),
        OpKind::Cas if w.expected_seq.unwrap_or(0) != current_seq => Err(err(
            ErrorCode::CasFailed,
            format!(
                "key {key} has sequence {current_seq}, expected {}",
                w.expected_seq.unwrap_or(0)
            ),
        )),
        _ => Ok(()),
    }
}

fn err(code: ErrorCode, message: impl Into<String>) -> OpError {
    (code, message.into())
}

impl StateEngine {
    /// Builds the stores; the built-in `default` store exists unless the
    /// configuration defines it differently. The opaque CHP space gets
    /// [`StoreConfig::opaque_default`]; see [`StateEngine::with_opaque`].
    #[cfg(test)]
    pub fn new(
        configs: &BTreeMap<String, StoreConfig>,
        schemas_dir: &Path,
        max_key_length: usize,
    ) -> Result<Self, StoreError> {
        Self::with_opaque(
            configs,
            StoreConfig::opaque_default(),
            schemas_dir,
            max_key_length,
        )
    }

    /// Builds the stores and the opaque CHP space (`[chp]`) with `opaque`.
    pub fn with_opaque(
        configs: &BTreeMap<String, StoreConfig>,
        opaque: StoreConfig,
        schemas_dir: &Path,
        max_key_length: usize,
    ) -> Result<Self, StoreError> {
        let mut stores = HashMap::new();
        stores.insert(OPAQUE_STORE.to_owned(), Store::opaque(opaque));
        if !configs.contains_key(wire::DEFAULT_STORE) {
            stores.insert(
                wire::DEFAULT_STORE.to_owned(),
                Store::new(wire::DEFAULT_STORE, StoreConfig::default(), schemas_dir)?,
            );
        }
        for (name, config) in configs {
            stores.insert(name.clone(), Store::new(name, config.clone(), schemas_dir)?);
        }
        Ok(StateEngine {
            stores,
            map: StateMap::new(),
            expiry: BTreeSet::new(),
            lseqs: HashMap::new(),
            seq: 0,
            max_key_length,
        })
    }

    /// Takes in what a restart loaded. Keys of stores that are not declared,
    /// or no longer persist, are not served but kept on disk (a config change
    /// must never delete data), unless their store is in `drop_stores`: then
    /// they are returned to be erased.
    pub fn restore(&mut self, loaded: Loaded, drop_stores: &[String]) -> Restored {
        // Carry on above the last durable sequence and above what the
        // previous run reserved: sequences used by non-persistent stores (or
        // lost in a crash) are never handed out again, so CHP clients, which
        // drop updates at or below what they have seen, keep receiving. The
        // clock in microseconds only lifts a first start (or a directory from
        // before the reservation); a clock stepped back cannot lower it.
        let clock_us = canopy_schemas::clock::unix_us();
        self.seq = self.seq.max(loaded.seq).max(loaded.seq_floor).max(clock_us);
        self.lseqs = loaded.lseqs;
        let mut restored = Restored::default();
        let mut kept = Vec::with_capacity(loaded.entries.len());
        for (key, entry) in loaded.entries {
            let name = home(&key).map_or("", |(store, _)| store).to_owned();
            match self.stores.get_mut(&name).filter(|s| s.config.persist) {
                Some(s) => {
                    s.keys += 1;
                    s.bytes += (key.len() + entry.value.len()) as u64;
                    if entry.expires_ms != 0 {
                        self.expiry.insert((entry.expires_ms, key.clone()));
                    }
                    kept.push((key, entry));
                }
                None if drop_stores.contains(&name) => restored.erase.push(key),
                None => {
                    let declared = self.stores.contains_key(&name);
                    let u = restored.unserved.entry(name).or_default();
                    u.keys += 1;
                    u.declared = declared;
                }
            }
        }
        // One insert per key, without `replace`'s lookup of an old entry
        // (a start has none): the counts and expiries are kept above.
        self.map = kept.into_iter().collect();
        for (key, entry) in loaded.restored_volatile {
            let name = home(&key).map_or("", |(store, _)| store);
            if self.stores.get(name).is_some_and(|s| !s.config.persist) {
                self.replace(&key, name, Some(&entry.value), entry.seq, entry.expires_ms);
                restored.volatile_served += 1;
            } else {
                restored.volatile_dropped += 1;
            }
        }
        restored
    }

    /// The stores declared with `persist = false`.
    pub fn volatile_stores(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .stores
            .iter()
            .filter(|(_, s)| !s.config.persist)
            .map(|(name, _)| name.clone())
            .collect();
        names.sort();
        names
    }

    /// Every declared store's name (the opaque space's too).
    pub fn store_names(&self) -> impl Iterator<Item = &str> {
        self.stores.keys().map(String::as_str)
    }

    /// True when `store` is declared (persistent or not).
    pub fn declares(&self, store: &str) -> bool {
        self.stores.contains_key(store)
    }

    /// True when `store` is declared and persists (its keys are served).
    pub fn serves_from_disk(&self, store: &str) -> bool {
        self.stores.get(store).is_some_and(|s| s.config.persist)
    }

    /// The current sequence.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The current update number of a level prefix (0 = never written).
    pub fn lseq(&self, level: &str) -> u64 {
        self.lseqs.get(level).copied().unwrap_or(0)
    }

    /// Keys held, all stores.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Keys starting with `subtree`, after `cursor` (exclusive) when given.
    pub fn range_after<'a>(
        &'a self,
        subtree: &'a str,
        cursor: Option<&str>,
    ) -> impl Iterator<Item = EntryRef<'a>> + 'a {
        self.map.range_after(subtree, cursor)
    }

    /// The state as it is now, frozen (O(1)); later changes do not show.
    pub fn frozen(&self) -> StateMap {
        self.map.clone()
    }

    /// The stores, by name.
    pub fn stores_info(&self) -> Vec<StoreInfo> {
        let mut out: Vec<StoreInfo> = self
            .stores
            .values()
            .map(|s| StoreInfo {
                name: s.name.clone(),
                keys: s.keys,
                bytes: s.bytes,
                persist: s.config.persist,
                schema: s.config.schema.clone(),
                default_ttl_ms: s.config.default_ttl_ms,
                max_keys: s.config.max_keys,
                max_bytes: s.config.max_bytes,
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// Sets or deletes one key, assigning the next sequence and level number.
    fn set(
        &mut self,
        key: Box<str>,
        level_len: usize,
        value: Option<Box<[u8]>>,
        expires_ms: u64,
        store: &str,
    ) -> Change {
        self.seq += 1;
        let seq = self.seq;
        let lseq = {
            let slot = self.lseqs.entry(key[..level_len].into()).or_insert(0);
            *slot += 1;
            *slot
        };
        let persist = self.stores.get(store).is_some_and(|s| s.config.persist);
        self.replace(&key, store, value.as_deref(), seq, expires_ms);
        Change {
            key,
            level_len,
            seq,
            lseq,
            value,
            expires_ms,
            persist,
            uuid: None,
        }
    }

    /// One lookup of `key` for a write: its live entry (expired counts as
    /// absent) for the precondition and the operation, and the length of
    /// the value held (an expired key still counts until its deletion) for
    /// the limits.
    fn held(&self, key: &str, now_ms: u64) -> (Option<EntryRef<'_>>, Option<usize>) {
        let held = self.map.get(key);
        let live = held.filter(|e| e.expires_ms == 0 || e.expires_ms > now_ms);
        (live, held.map(|e| e.value.len()))
    }

    fn store(&self, name: &str) -> Result<&Store, OpError> {
        self.stores
            .get(name)
            .ok_or_else(|| err(ErrorCode::UnknownStore, format!("no store named {name:?}")))
    }

    /// Checks schema (for a decoded MessagePack value; the opaque space has
    /// none) and limits for `key` taking `value`, where `held` is the length
    /// of the value the map holds for it now, from the caller's lookup.
    fn admit(
        &self,
        store: &Store,
        key: &str,
        decoded: Option<&rmpv::Value>,
        value: &[u8],
        held: Option<usize>,
    ) -> Result<(), OpError> {
        if let Some(decoded) = decoded {
            store
                .validate(decoded)
                .map_err(|why| err(ErrorCode::SchemaViolation, format!("key {key}: {why}")))?;
        }
        let (keys, bytes) = match held {
            Some(old) => (0, value.len() as i64 - old as i64),
            None => (1, (key.len() + value.len()) as i64),
        };
        store
            .check_limits(keys, bytes)
            .map_err(|why| err(ErrorCode::LimitReached, format!("key {key}: {why}")))
    }

    /// Applies an acknowledged write.
    pub fn write(&mut self, w: &Write, now_ms: u64) -> Result<(Written, Vec<Change>), OpError> {
        if w.store == OPAQUE_STORE {
            return self.write_opaque(w, now_ms);
        }
        let store_name = self.store(&w.store)?.name.clone();
        let (prefix_len, key) = self.full_key(w)?;
        if w.op == OpKind::DeleteSubtree {
            return Ok(self.delete_subtree(w, &key, prefix_len, &store_name));
        }
        check_user_key(&w.key).map_err(|e| err(ErrorCode::InvalidKey, e.to_string()))?;
        let (current, held_len) = self.held(&key, now_ms);
        check_precondition(w, &key, current)?;
        let operand = w.value.as_deref().map(ops::decode).transpose()?;
        let needs_current = matches!(
            w.op,
            OpKind::Incr | OpKind::Decr | OpKind::Append | OpKind::SetInsert | OpKind::SetRemove
        );
        let current_value = match (needs_current, current) {
            (true, Some(e)) => Some(ops::decode(e.value)?),
            _ => None,
        };
        let next = ops::apply(
            w.op,
            &key,
            current_value.as_ref(),
            operand.as_ref(),
            w.by.unwrap_or(1),
        )?;
        let Some(next) = next else {
            return Ok(self.delete_key(w, key, prefix_len, &store_name));
        };
        // A plain put keeps the caller's bytes; computed values are re-encoded.
        let bytes: Box<[u8]> = match (&w.value, w.op) {
            (Some(v), OpKind::Put | OpKind::PutIfAbsent | OpKind::Cas) => v.clone().into(),
            _ => ops::encode(&next).into(),
        };
        let store = self.store(&store_name)?;
        self.admit(store, &key, Some(&next), &bytes, held_len)?;
        Ok(self.store_value(w, key.into(), prefix_len, bytes, &store_name, now_ms))
    }

    /// Sets an admitted value with the write's TTL (else the store's
    /// default) and answers the write.
    fn store_value(
        &mut self,
        w: &Write,
        key: Box<str>,
        level_len: usize,
        bytes: Box<[u8]>,
        store_name: &str,
        now_ms: u64,
    ) -> (Written, Vec<Change>) {
        let default_ttl = self
            .stores
            .get(store_name)
            .map_or(0, |s| s.config.default_ttl_ms);
        let ttl_ms = w.ttl_ms.unwrap_or(default_ttl);
        let expires_ms = wire::expiry_ms(Some(ttl_ms), now_ms);
        let change = self.set(key, level_len, Some(bytes.clone()), expires_ms, store_name);
        let written = Written {
            id: w.id,
            seq: change.seq,
            value: Some(bytes.into()),
            ttl_ms,
            deleted: 0,
        };
        (written, vec![change])
    }

    /// An acknowledged write of an opaque CHP key (`store` = `$chp`, `key`
    /// the whole key): put, put-if-absent and compare-and-set of bytes, or
    /// delete. An empty value is a deletion, as in CHP.
    fn write_opaque(&mut self, w: &Write, now_ms: u64) -> Result<(Written, Vec<Change>), OpError> {
        let key = w.key.as_str();
        let Some(KeySpace::Opaque { level_len }) = classify_key(key) else {
            return Err(err(
                ErrorCode::InvalidKey,
                format!(
                    "{key:?} is not an opaque CHP key: it must start with / and not be a \
                     canonical /STORE/LEVEL:KEY"
                ),
            ));
        };
        self.check_length(key)?;
        let (current, held_len) = self.held(key, now_ms);
        check_precondition(w, key, current)?;
        let value = match w.op {
            OpKind::Put | OpKind::PutIfAbsent | OpKind::Cas => w.value.as_deref().unwrap_or(&[]),
            OpKind::Delete => &[],
            other => {
                return Err(err(
                    ErrorCode::TypeMismatch,
                    format!("key {key}: opaque CHP values are bytes; {other:?} does not apply"),
                ))
            }
        };
        if value.is_empty() {
            return Ok(self.delete_key(w, key.to_owned(), level_len, OPAQUE_STORE));
        }
        let store = self.store(OPAQUE_STORE)?;
        self.admit(store, key, None, value, held_len)?;
        Ok(self.store_value(w, key.into(), level_len, value.into(), OPAQUE_STORE, now_ms))
    }

    /// Refuses a key longer than `max_key_length`.
    fn check_length(&self, key: &str) -> Result<(), OpError> {
        if key.len() > self.max_key_length {
            return Err(err(
                ErrorCode::InvalidKey,
                format!(
                    "key {key} is longer than max_key_length = {}",
                    self.max_key_length
                ),
            ));
        }
        Ok(())
    }

    /// The full key a WRITE names (`/STORE/LEVEL` + user key) and the
    /// length of its level prefix, within `max_key_length`.
    fn full_key(&self, w: &Write) -> Result<(usize, String), OpError> {
        let level = Level::parse(&w.level, w.node)
            .map_err(|e| err(ErrorCode::InvalidKey, e.to_string()))?;
        let prefix = level.prefix(&w.store);
        let key = format!("{prefix}{}", w.key);
        self.check_length(&key)?;
        Ok((prefix.len(), key))
    }

    /// Deletes every key under `subtree` (DELETE_SUBTREE).
    fn delete_subtree(
        &mut self,
        w: &Write,
        subtree: &str,
        prefix_len: usize,
        store_name: &str,
    ) -> (Written, Vec<Change>) {
        let doomed: Vec<Box<str>> = self
            .range_after(subtree, None)
            .map(|e| Box::from(e.key))
            .collect();
        let changes: Vec<Change> = doomed
            .into_iter()
            .map(|k| self.set(k, prefix_len, None, 0, store_name))
            .collect();
        let written = Written {
            id: w.id,
            seq: changes.last().map_or(self.seq, |c| c.seq),
            value: None,
            ttl_ms: 0,
            deleted: changes.len() as u64,
        };
        (written, changes)
    }

    /// Deletes one key, if it is there.
    fn delete_key(
        &mut self,
        w: &Write,
        key: String,
        prefix_len: usize,
        store_name: &str,
    ) -> (Written, Vec<Change>) {
        let deleted = |seq, n| Written {
            id: w.id,
            seq,
            value: None,
            ttl_ms: 0,
            deleted: n,
        };
        if !self.map.contains_key(key.as_str()) {
            return (deleted(self.seq, 0), vec![]);
        }
        let change = self.set(key.into(), prefix_len, None, 0, store_name);
        (deleted(change.seq, 1), vec![change])
    }

    /// Applies a CHP KVSET (no acknowledgement exists in CHP): a put, or a
    /// delete when the body is empty, honouring the `ttl` property (seconds).
    /// A canonical key goes to its store (schema, MessagePack); any other key
    /// starting with `/` to the opaque space, its value kept as bytes.
    pub fn kvset(&mut self, msg: &KvMsg, now_ms: u64) -> Result<Vec<Change>, OpError> {
        let key = std::str::from_utf8(&msg.key)
            .map_err(|_| err(ErrorCode::InvalidKey, "key is not UTF-8"))?;
        let (store_name, level_len) = home(key).ok_or_else(|| {
            err(
                ErrorCode::InvalidKey,
                format!("key {key:?} does not start with /"),
            )
        })?;
        self.check_length(key)?;
        let store = self.store(store_name)?;
        let store_name = store.name.clone();
        if msg.body.is_empty() {
            if !self.map.contains_key(key) {
                return Ok(vec![]);
            }
            let mut change = self.set(key.into(), level_len, None, 0, &store_name);
            change.uuid = client_uuid(&msg.uuid);
            return Ok(vec![change]);
        }
        let decoded = match store_name.as_str() {
            OPAQUE_STORE => None,
            _ => Some(ops::decode(&msg.body)?),
        };
        let held_len = self.map.get(key).map(|e| e.value.len());
        self.admit(store, key, decoded.as_ref(), &msg.body, held_len)?;
        let ttl_ms = msg
            .ttl_ms()
            .map_err(|e| err(ErrorCode::Malformed, e.to_string()))?
            .unwrap_or(store.config.default_ttl_ms);
        let expires_ms = wire::expiry_ms(Some(ttl_ms), now_ms);
        let mut change = self.set(
            key.into(),
            level_len,
            Some(msg.body.clone().into()),
            expires_ms,
            &store_name,
        );
        change.uuid = client_uuid(&msg.uuid);
        Ok(vec![change])
    }

    /// Deletes every key whose deadline has passed.
    pub fn expire_due(&mut self, now_ms: u64) -> Vec<Change> {
        let mut out = Vec::new();
        while let Some((deadline, key)) = self.expiry.first().cloned() {
            if deadline > now_ms {
                break;
            }
            self.expiry.pop_first();
            let Some((store, level_len)) = home(&key).map(|(s, l)| (s.to_owned(), l)) else {
                continue;
            };
            if self.map.get(&key).is_some_and(|e| e.expires_ms == deadline) {
                out.push(self.set(key, level_len, None, 0, &store));
            }
        }
        out
    }

    /// Every level's update number under `subtree` (LSEQS).
    pub fn lseqs_under(&self, subtree: &str) -> BTreeMap<String, u64> {
        self.lseqs
            .iter()
            .filter(|(level, _)| level.starts_with(subtree))
            .map(|(level, n)| (level.to_string(), *n))
            .collect()
    }

    /// Mirror (child broker): forgets every key, sequence and level number.
    pub fn mirror_clear(&mut self) {
        self.map.clear();
        self.expiry.clear();
        self.lseqs.clear();
        self.seq = 0;
        for store in self.stores.values_mut() {
            store.keys = 0;
            store.bytes = 0;
        }
    }

    /// Mirror: replaces everything with the parent's snapshot (`entries`
    /// in any order) taken at `seq` with level numbers `lseqs`.
    pub fn mirror_replace(
        &mut self,
        entries: Vec<(Box<str>, Entry)>,
        seq: u64,
        lseqs: BTreeMap<String, u64>,
    ) {
        self.mirror_clear();
        for (key, entry) in entries {
            let Some(store) = home(&key).map(|(s, _)| s.to_owned()) else {
                continue;
            };
            self.replace(
                &key,
                &store,
                Some(&entry.value),
                entry.seq,
                entry.expires_ms,
            );
        }
        // The master's numbering, not this broker's own clock floor: the
        // KTHXBAIs it sends below must match the KVPUBs it forwards, and the
        // parent's PONG sequence is compared with it.
        self.seq = seq;
        self.lseqs = lseqs.into_iter().map(|(k, v)| (k.into(), v)).collect();
    }

    /// Mirror: sets (or deletes, `value` None) `key` exactly as the master
    /// numbered it. `lseq` is the level's new number when the change came
    /// as an update (None for a snapshot entry). A snapshot entry older
    /// than what the mirror holds is ignored.
    pub fn mirror_set(
        &mut self,
        key: &str,
        seq: u64,
        lseq: Option<u64>,
        value: Option<Box<[u8]>>,
        expires_ms: u64,
    ) {
        let Some((store, level_len)) = home(key).map(|(s, l)| (s.to_owned(), l)) else {
            return;
        };
        if lseq.is_none() && self.map.get(key).is_some_and(|e| e.seq >= seq) {
            return;
        }
        let key: Box<str> = key.into();
        if let Some(l) = lseq {
            self.lseqs.insert(key[..level_len].into(), l);
        }
        self.seq = self.seq.max(seq);
        self.replace(&key, &store, value.as_deref(), seq, expires_ms);
    }

    /// Puts or removes one entry, keeping the expiry index and the store's
    /// counts in step.
    fn replace(&mut self, key: &str, store: &str, value: Option<&[u8]>, seq: u64, expires_ms: u64) {
        let added = value.as_ref().map(|v| (key.len() + v.len()) as u64);
        let old = match value {
            Some(value) => self.map.insert(key, value, seq, expires_ms),
            None => self.map.remove(key),
        };
        if let Some(old) = &old {
            if old.expires_ms != 0 {
                self.expiry.remove(&(old.expires_ms, key.into()));
            }
        }
        if added.is_some() && expires_ms != 0 {
            self.expiry.insert((expires_ms, key.into()));
        }
        if let Some(s) = self.stores.get_mut(store) {
            if let Some(old) = &old {
                s.keys = s.keys.saturating_sub(1);
                s.bytes = s.bytes.saturating_sub((key.len() + old.value_len) as u64);
            }
            if let Some(bytes) = added {
                s.keys += 1;
                s.bytes += bytes;
            }
        }
    }

    /// The next expiry deadline, unix ms.
    pub fn next_expiry(&self) -> Option<u64> {
        self.expiry.first().map(|(d, _)| *d)
    }
}

#[cfg(test)]
mod model_tests;
#[cfg(test)]
mod power_loss;

#[cfg(test)]
mod tests {
    use super::*;
    use canopy_schemas::state::OpKind;

    fn engine() -> StateEngine {
        StateEngine::new(&BTreeMap::new(), Path::new("."), 1024).unwrap()
    }

    fn write(op: OpKind, level: &str, key: &str, value: Option<rmpv::Value>) -> Write {
        Write {
            id: 1,
            store: "default".into(),
            level: level.into(),
            node: false,
            key: key.into(),
            op,
            value: value.map(|v| ops::encode(&v)),
            by: None,
            expected_seq: None,
            ttl_ms: None,
        }
    }

    #[test]
    fn sequences_levels_and_ops() {
        let mut e = engine();
        let (w, c) = e
            .write(&write(OpKind::Put, "eu", "a", Some(1.into())), 0)
            .unwrap();
        assert_eq!((w.seq, c[0].lseq, &*c[0].key), (1, 1, "/default/eu/:a"));
        let (w, _) = e.write(&write(OpKind::Incr, "eu", "a", None), 0).unwrap();
        assert_eq!(
            ops::decode(&w.value.unwrap()).unwrap(),
            rmpv::Value::from(2)
        );
        assert_eq!(e.lseq("/default/eu/:"), 2);
        assert_eq!(
            e.write(&write(OpKind::PutIfAbsent, "eu", "a", Some(1.into())), 0)
                .unwrap_err()
                .0,
            ErrorCode::Exists
        );
        let mut cas = write(OpKind::Cas, "eu", "a", Some(5.into()));
        cas.expected_seq = Some(1);
        assert_eq!(e.write(&cas, 0).unwrap_err().0, ErrorCode::CasFailed);
        cas.expected_seq = Some(2);
        assert_eq!(e.write(&cas, 0).unwrap().0.seq, 3);
        e.write(&write(OpKind::Put, "eu", "b/1", Some(1.into())), 0)
            .unwrap();
        e.write(&write(OpKind::Put, "eu", "b/2", Some(1.into())), 0)
            .unwrap();
        let (w, c) = e
            .write(&write(OpKind::DeleteSubtree, "eu", "b/", None), 0)
            .unwrap();
        assert_eq!((w.deleted, c.len()), (2, 2));
        assert_eq!(e.len(), 1);
        let infos = e.stores_info();
        let info = infos.iter().find(|s| s.name == "default").unwrap();
        assert_eq!(info.keys, 1);
        let mut bad = write(OpKind::Put, "eu", "a", Some(1.into()));
        bad.store = "nope".into();
        assert_eq!(e.write(&bad, 0).unwrap_err().0, ErrorCode::UnknownStore);
    }

    #[test]
    fn ttl_expiry_and_kvset() {
        let mut e = engine();
        let mut w = write(OpKind::Put, "", "t", Some(1.into()));
        w.ttl_ms = Some(100);
        e.write(&w, 1000).unwrap();
        assert_eq!(e.next_expiry(), Some(1100));
        assert!(e.expire_due(1099).is_empty());
        let gone = e.expire_due(1100);
        assert_eq!(gone.len(), 1);
        assert!(gone[0].value.is_none());
        let mut m = KvMsg {
            key: b"/default/:k".to_vec(),
            body: ops::encode(&"v".into()),
            ..Default::default()
        };
        m.properties.insert("ttl".into(), "2".into());
        let c = e.kvset(&m, 0).unwrap();
        assert_eq!(c[0].expires_ms, 2000);
        m.body.clear();
        assert!(e.kvset(&m, 0).unwrap()[0].value.is_none());
        m.key = b"/nostore/:k".to_vec();
        m.body = ops::encode(&1.into());
        assert_eq!(e.kvset(&m, 0).unwrap_err().0, ErrorCode::UnknownStore);
    }

    /// Issue 16: keys that are not canonical live in the opaque space,
    /// verbatim, with TTLs, limits and the same sequence; canonical keys keep
    /// their stores and the MessagePack rule.
    #[test]
    fn opaque_keys_are_kept_verbatim() {
        let mut e = StateEngine::with_opaque(
            &BTreeMap::new(),
            StoreConfig {
                max_keys: 3,
                ..StoreConfig::opaque_default()
            },
            Path::new("."),
            1024,
        )
        .unwrap();
        let kvset = |key: &str, body: &[u8], ttl: Option<&str>| {
            let mut m = KvMsg {
                key: key.as_bytes().to_vec(),
                body: body.to_vec(),
                ..Default::default()
            };
            if let Some(t) = ttl {
                m.properties.insert("ttl".into(), t.into());
            }
            m
        };
        // ASCII, not MessagePack: kept as it is, in level /client/.
        let c = e.kvset(&kvset("/client/727", b"hello", None), 0).unwrap();
        assert_eq!(
            (&*c[0].key, c[0].level(), c[0].lseq),
            ("/client/727", "/client/", 1)
        );
        assert_eq!(c[0].value.as_deref(), Some(&b"hello"[..]));
        assert!(c[0].persist);
        // A key with no second slash is in level "/"; odd spellings too.
        let c = e.kvset(&kvset("/a", b"x", Some("2")), 1000).unwrap();
        assert_eq!((c[0].level(), c[0].expires_ms), ("/", 3000));
        // The canonical form still needs MessagePack and a store.
        assert_eq!(
            e.kvset(&kvset("/default/:k", b"hello", None), 0)
                .unwrap_err()
                .0,
            ErrorCode::TypeMismatch
        );
        assert_eq!(
            e.kvset(&kvset("/nostore/:k", &ops::encode(&1.into()), None), 0)
                .unwrap_err()
                .0,
            ErrorCode::UnknownStore
        );
        // The budget.
        e.kvset(&kvset("/client/2", b"2", None), 0).unwrap();
        assert_eq!(
            e.kvset(&kvset("/client/3", b"3", None), 0).unwrap_err().0,
            ErrorCode::LimitReached
        );
        // WRITE of an opaque key: bytes, preconditions, no typed operations.
        let mut w = write(OpKind::Cas, "", "/client/727", None);
        w.store = OPAQUE_STORE.into();
        w.value = Some(b"again".to_vec());
        w.expected_seq = Some(1);
        let (written, c) = e.write(&w, 0).unwrap();
        assert_eq!(
            (written.value.as_deref(), c[0].seq),
            (Some(&b"again"[..]), 4)
        );
        w.op = OpKind::Incr;
        assert_eq!(e.write(&w, 0).unwrap_err().0, ErrorCode::TypeMismatch);
        w.key = "/default/:k".into();
        w.op = OpKind::Put;
        assert_eq!(e.write(&w, 0).unwrap_err().0, ErrorCode::InvalidKey);
        // Expiry deletes an opaque key like any other.
        let gone = e.expire_due(3000);
        assert_eq!((gone.len(), &*gone[0].key), (1, "/a"));
        // A snapshot of one opaque level knows its update number.
        assert_eq!(e.lseq("/client/"), 3);
        let info = e.stores_info();
        let chp = info.iter().find(|s| s.name == OPAQUE_STORE).unwrap();
        assert_eq!(chp.keys, 2);
    }
}
