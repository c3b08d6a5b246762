//! Persistence: changes go to a writer thread that commits them to redb in
//! batches (group commit), off the broadcast path, and reports the highest
//! durable sequence back to the broker loop, which only then acknowledges
//! writes to persistent stores.
//!
//! The changes of one write travel as one message and are never split
//! between two transactions, so a `delete_subtree` is on disk whole or not
//! at all. A failed commit is reported and the broker stops (see
//! `StatePlane::on_durable`): redb refuses every commit after an I/O error,
//! and a broker that went on would serve changes that can never be durable.

use super::{Change, Entry, Loaded, StateMap};
use canopy_schemas::backup::{Backup, BackupEntry, BACKUP_MAGIC};
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::mpsc::{Receiver, Sender};
use std::thread::JoinHandle;

const ENTRIES: TableDefinition<&str, &[u8]> = TableDefinition::new("entries");
const LEVELS: TableDefinition<&str, u64> = TableDefinition::new("levels");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// Keys of `persist = false` stores a restore brought (`--restore`): the
/// start that follows serves them from memory and deletes the table, so
/// they live as long as that run, like any volatile key. Only a restored
/// directory has it; a broker that does not know it ignores it.
const RESTORED_VOLATILE: TableDefinition<&str, &[u8]> = TableDefinition::new("restored_volatile");
const SEQ: &str = "seq";
/// META key: no sequence at or below it may be handed out again (raised at
/// every start, so neither a lost commit nor a clock step back reuses one).
const SEQ_FLOOR: &str = "seq_floor";
/// How far above its starting sequence a run may number changes before the
/// next start begins above them: 2^40 (about 35 years at 1,000 changes a
/// second).
pub const SEQ_RESERVATION: u64 = 1 << 40;
/// META key: the history the levels' numbers belong to (12.1): within
/// one history a level's lseq names one state of the level.
const HISTORY: &str = "history";
/// META key, present only after a clean stop: the sequence committed last.
/// A start that finds it (and that sequence) carries the history on; every
/// start removes it before serving, so a crash afterwards starts a new one.
const CLEAN_AT: &str = "clean_at_seq";
/// META key: `SEQ` as a broker that keeps `HISTORY` last wrote it (every
/// commit and every start sets both). When they differ, a broker that
/// knows no history committed since, and nothing on disk is taken over.
const HISTORY_SEQ: &str = "history_seq";
/// META key: the disk format of this database (absent before format 1).
const FORMAT: &str = "format";
/// The disk format this broker writes, and the newest it reads. Format 0
/// (no marker, canopy 0.1.0) has the same tables and is stamped 1 on open.
pub const DISK_FORMAT: u64 = 1;
/// redb page cache size.
const CACHE_BYTES: usize = 8 * 1024 * 1024;
/// Most changes committed in one transaction.
const MAX_BATCH: usize = 100_000;

/// Why persistence failed.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    /// redb failed.
    #[error("state database: {0}")]
    Db(#[from] redb::Error),
    /// A stored entry is corrupt.
    #[error("state database: corrupt entry for key {0:?}")]
    Corrupt(String),
    /// Another process (a running broker) has the database open.
    #[error("state database {0} is in use by another process (a running broker?)")]
    InUse(String),
    /// A restore found state already there.
    #[error("state database {0} already holds state: restore into an empty data directory")]
    NotEmpty(String),
    /// A backup could not be encoded.
    #[error("backup: {0}")]
    Backup(String),
    /// The database file is damaged beyond what redb can repair.
    #[error(
        "state database {path} is damaged and cannot be repaired ({detail}). Restore a backup \
         (canopy-broker --restore FILE, into an empty data directory) or move the file aside \
         to start with no state"
    )]
    Damaged {
        /// The database file.
        path: String,
        /// What redb found.
        detail: String,
    },
    /// The database was written by a newer canopy; it is left untouched.
    #[error(
        "state database {path}: disk format {found} was written by a newer canopy; this broker \
         reads disk formats 0 to {DISK_FORMAT}. Run the newer release (or restore a backup made \
         for this one); the directory was not changed"
    )]
    NewerFormat {
        /// The database file.
        path: String,
        /// The format it records.
        found: u64,
    },
}

fn db_err<E: Into<redb::Error>>(e: E) -> PersistError {
    PersistError::Db(e.into())
}

/// Entry encoding: sequence (8 bytes BE), expiry ms (8 bytes BE), value.
fn encode_entry(seq: u64, expires_ms: u64, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + value.len());
    encode_entry_into(&mut out, seq, expires_ms, value);
    out
}

/// [`encode_entry`] into a buffer the caller reuses (one per commit).
fn encode_entry_into(out: &mut Vec<u8>, seq: u64, expires_ms: u64, value: &[u8]) {
    out.clear();
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&expires_ms.to_be_bytes());
    out.extend_from_slice(value);
}

fn decode_entry(key: &str, bytes: &[u8]) -> Result<Entry, PersistError> {
    if bytes.len() < 16 {
        return Err(PersistError::Corrupt(key.to_owned()));
    }
    let mut a = [0u8; 8];
    a.copy_from_slice(&bytes[..8]);
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[8..16]);
    Ok(Entry {
        value: bytes[16..].into(),
        seq: u64::from_be_bytes(a),
        expires_ms: u64::from_be_bytes(b),
    })
}

/// The disk format a database records: `None` for a fresh file, 0 for
/// one written before the marker existed.
fn recorded_format(db: &impl ReadableDatabase) -> Result<Option<u64>, PersistError> {
    let tx = db.begin_read().map_err(db_err)?;
    let meta = match tx.open_table(META) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(e) => return Err(db_err(e)),
    };
    if let Some(format) = meta.get(FORMAT).map_err(db_err)? {
        return Ok(Some(format.value()));
    }
    Ok(meta.get(SEQ).map_err(db_err)?.map(|_| 0))
}

/// A database file written by a newer canopy.
fn newer_check(label: &str, found: Option<u64>) -> Result<(), PersistError> {
    match found {
        Some(found) if found > DISK_FORMAT => Err(PersistError::NewerFormat {
            path: label.to_owned(),
            found,
        }),
        _ => Ok(()),
    }
}

/// What redb's open errors mean to an operator.
fn open_error(label: &str, e: redb::DatabaseError) -> PersistError {
    match e {
        redb::DatabaseError::Storage(redb::StorageError::Corrupted(detail)) => {
            PersistError::Damaged {
                path: label.to_owned(),
                detail,
            }
        }
        // A file cut short (a truncated copy, a full disk) reads past its
        // end: damaged too, not an I/O fault the operator can retry.
        redb::DatabaseError::Storage(redb::StorageError::Io(e))
            if e.kind() == std::io::ErrorKind::UnexpectedEof =>
        {
            PersistError::Damaged {
                path: label.to_owned(),
                detail: format!("the file ends early: {e}"),
            }
        }
        redb::DatabaseError::DatabaseAlreadyOpen => PersistError::InUse(label.to_owned()),
        e => db_err(e),
    }
}

fn builder(label: &str) -> redb::Builder {
    // The master keeps every key in memory; redb's page cache only needs to
    // serve commits, so it stays small instead of redb's default of 1 GiB.
    let mut builder = redb::Builder::new();
    builder.set_cache_size(CACHE_BYTES);
    let shown = label.to_owned();
    builder.set_repair_callback(move |session| {
        if session.progress() == 0.0 {
            tracing::warn!(path = %shown, "state database not closed cleanly: repairing it to its last commit");
        }
    });
    builder
}

/// Opens (or creates) the database and loads everything in it. A database
/// of a newer disk format is refused before anything is written; an older
/// one is migrated (format 0 only needs its marker).
pub fn open(path: &Path) -> Result<(Database, Loaded), PersistError> {
    let label = path.display().to_string();
    let builder = builder(&label);
    // Read-only first: opening for writing may already change the file.
    // (A file that needs repair cannot be read so; it is checked below.)
    if path.exists() {
        if let Ok(read_only) = builder.open_read_only(path) {
            newer_check(&label, recorded_format(&read_only)?)?;
        }
    }
    let db = builder.create(path).map_err(|e| open_error(&label, e))?;
    load(db, &label)
}

/// Opens a database on a storage backend of the tests' own.
#[cfg(test)]
pub(crate) fn open_backend(
    backend: impl redb::StorageBackend,
) -> Result<(Database, Loaded), PersistError> {
    let db = builder("test backend")
        .create_with_backend(backend)
        .map_err(|e| open_error("test backend", e))?;
    load(db, "test backend")
}

/// Checks, migrates and reads an open database.
fn load(mut db: Database, label: &str) -> Result<(Database, Loaded), PersistError> {
    // redb checks its page checksums only when it repairs after a crash: a
    // file damaged otherwise (a bad disk, a stray write) would be served as
    // it reads. Everything is loaded into memory next anyway, so the check
    // costs about one more read of the file.
    let intact = db.check_integrity().map_err(|e| open_error(label, e))?;
    if !intact {
        tracing::warn!(
            path = %label,
            "the state database failed its integrity check and was repaired to its last good \
             commit: writes after it are lost"
        );
    }
    let format = recorded_format(&db)?;
    newer_check(label, format)?;
    {
        // Make sure the tables exist so a fresh database reads as empty,
        // and record the format this broker writes.
        let tx = db.begin_write().map_err(db_err)?;
        tx.open_table(ENTRIES).map_err(db_err)?;
        tx.open_table(LEVELS).map_err(db_err)?;
        let mut meta = tx.open_table(META).map_err(db_err)?;
        if format != Some(DISK_FORMAT) {
            meta.insert(FORMAT, DISK_FORMAT).map_err(db_err)?;
        }
        drop(meta);
        tx.commit().map_err(db_err)?;
    }
    if let Some(old) = format.filter(|f| *f < DISK_FORMAT) {
        tracing::info!(path = %label, from = old, to = DISK_FORMAT, "data directory migrated to the current disk format");
    }
    let mut loaded = Loaded::default();
    let tx = db.begin_read().map_err(db_err)?;
    let meta = tx.open_table(META).map_err(db_err)?;
    loaded.seq = meta.get(SEQ).map_err(db_err)?.map_or(0, |v| v.value());
    loaded.seq_floor = meta
        .get(SEQ_FLOOR)
        .map_err(db_err)?
        .map_or(0, |v| v.value());
    let history = meta.get(HISTORY).map_err(db_err)?.map(|v| v.value());
    let clean_at = meta.get(CLEAN_AT).map_err(db_err)?.map(|v| v.value());
    let history_seq = meta.get(HISTORY_SEQ).map_err(db_err)?.map(|v| v.value());
    // Carried on only from a clean stop with nothing committed since (a
    // broker that knows no marker may have run in between) and no repair.
    loaded.history = history.filter(|_| intact && clean_at == Some(loaded.seq));
    // After a crash (or a failed commit) the database holds the last
    // commit whole: its level numbers still name the states replicas saw,
    // if only brokers that keep the history committed them.
    loaded.crashed_history =
        history.filter(|_| intact && loaded.history.is_none() && history_seq == Some(loaded.seq));
    let levels = tx.open_table(LEVELS).map_err(db_err)?;
    for row in levels.iter().map_err(db_err)? {
        let (k, v) = row.map_err(db_err)?;
        loaded.lseqs.insert(k.value().into(), v.value());
    }
    loaded.entries = read_entries(&tx.open_table(ENTRIES).map_err(db_err)?)?;
    match tx.open_table(RESTORED_VOLATILE) {
        Ok(table) => loaded.restored_volatile = read_entries(&table)?,
        Err(redb::TableError::TableDoesNotExist(_)) => {}
        Err(e) => return Err(db_err(e)),
    }
    Ok((db, loaded))
}

/// Every row of an entries table, in key order.
fn read_entries(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
) -> Result<Vec<(Box<str>, Entry)>, PersistError> {
    let mut out = Vec::with_capacity(ReadableTableMetadata::len(table).map_err(db_err)? as usize);
    for row in table.iter().map_err(db_err)? {
        let (k, v) = row.map_err(db_err)?;
        let key = k.value();
        out.push((key.into(), decode_entry(key, v.value())?));
    }
    Ok(out)
}

/// Records, before the broker serves, that this run numbers changes from
/// `start` up to `start + SEQ_RESERVATION` (the next start begins above)
/// under `history`, and removes the clean-stop marker: until this run
/// stops cleanly, a start must not trust its history. Restored volatile
/// keys, now in memory, leave the disk.
pub fn begin_run(db: &Database, start: u64, history: u64) -> Result<(), PersistError> {
    let tx = db.begin_write().map_err(db_err)?;
    tx.delete_table(RESTORED_VOLATILE).map_err(db_err)?;
    {
        let mut meta = tx.open_table(META).map_err(db_err)?;
        meta.insert(SEQ_FLOOR, start.saturating_add(SEQ_RESERVATION))
            .map_err(db_err)?;
        meta.insert(HISTORY, history).map_err(db_err)?;
        let seq = meta.get(SEQ).map_err(db_err)?.map_or(0, |v| v.value());
        meta.insert(HISTORY_SEQ, seq).map_err(db_err)?;
        meta.remove(CLEAN_AT).map_err(db_err)?;
    }
    tx.commit().map_err(db_err)?;
    Ok(())
}

/// The loop's orderly stop: everything it sent before is committed (a
/// failed commit returned earlier, unmarked), so the next start may carry
/// the history on.
fn stop_cleanly(db: &Database) {
    match mark_clean(db) {
        Ok(()) => tracing::debug!("clean stop recorded"),
        Err(e) => tracing::warn!(
            error = %e,
            "cannot record the clean stop: the next start begins a new history"
        ),
    }
}

/// Marks a clean stop: every change this run published is committed.
fn mark_clean(db: &Database) -> Result<(), PersistError> {
    let tx = db.begin_write().map_err(db_err)?;
    {
        let mut meta = tx.open_table(META).map_err(db_err)?;
        let seq = meta.get(SEQ).map_err(db_err)?.map_or(0, |v| v.value());
        meta.insert(CLEAN_AT, seq).map_err(db_err)?;
    }
    tx.commit().map_err(db_err)?;
    Ok(())
}

/// What one commit cost: for the commit histograms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CommitCost {
    /// Changes in the batch.
    pub changes: u32,
    /// Microseconds the commit took (saturating).
    pub micros: u32,
}

impl CommitCost {
    /// The cost appended to a 17-byte report, if there is one.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let changes = bytes.get(9..13)?.try_into().ok()?;
        let micros = bytes.get(13..17)?.try_into().ok()?;
        Some(CommitCost {
            changes: u32::from_be_bytes(changes),
            micros: u32::from_be_bytes(micros),
        })
    }
}

/// What the writer thread tells the broker loop after each commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durable {
    /// Every change up to this sequence is on disk.
    Through(u64),
    /// The batch ending at this sequence failed to commit.
    Failed(u64),
}

impl Durable {
    /// 9-byte wire form for the notification socket.
    pub fn encode(self) -> [u8; 9] {
        let (tag, seq) = match self {
            Durable::Through(s) => (0, s),
            Durable::Failed(s) => (1, s),
        };
        let mut out = [0u8; 9];
        out[0] = tag;
        out[1..].copy_from_slice(&seq.to_be_bytes());
        out
    }

    /// The wire form with what the commit cost appended (17 bytes).
    pub fn encode_with(self, cost: CommitCost) -> [u8; 17] {
        let mut out = [0u8; 17];
        out[..9].copy_from_slice(&self.encode());
        out[9..13].copy_from_slice(&cost.changes.to_be_bytes());
        out[13..].copy_from_slice(&cost.micros.to_be_bytes());
        out
    }

    /// Parses the wire form (with or without the cost).
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != 9 && bytes.len() != 17 {
            return None;
        }
        let seq = u64::from_be_bytes(bytes.get(1..9)?.try_into().ok()?);
        match bytes.first()? {
            0 => Some(Durable::Through(seq)),
            1 => Some(Durable::Failed(seq)),
            _ => None,
        }
    }
}

/// Commits one batch. Keys erased at start-up come as deletions with seq 0.
pub(crate) fn commit(db: &Database, batch: &[Change]) -> Result<(), PersistError> {
    let tx = db.begin_write().map_err(db_err)?;
    {
        let mut entries = tx.open_table(ENTRIES).map_err(db_err)?;
        let mut levels = tx.open_table(LEVELS).map_err(db_err)?;
        let mut meta = tx.open_table(META).map_err(db_err)?;
        let mut max_seq = 0;
        // A batch touches few levels many times: each level's number is
        // written once, its highest, instead of once per change.
        let mut level_numbers: BTreeMap<&str, u64> = BTreeMap::new();
        let mut encoded = Vec::new();
        for c in batch {
            match &c.value {
                Some(v) => {
                    encode_entry_into(&mut encoded, c.seq, c.expires_ms, v);
                    entries
                        .insert(&*c.key, encoded.as_slice())
                        .map_err(db_err)?;
                }
                None => {
                    entries.remove(&*c.key).map_err(db_err)?;
                }
            }
            if c.lseq > 0 {
                let number = level_numbers.entry(c.level()).or_insert(c.lseq);
                *number = (*number).max(c.lseq);
            }
            max_seq = max_seq.max(c.seq);
        }
        for (level, lseq) in level_numbers {
            levels.insert(level, lseq).map_err(db_err)?;
        }
        if max_seq > 0 {
            meta.insert(SEQ, max_seq).map_err(db_err)?;
            meta.insert(HISTORY_SEQ, max_seq).map_err(db_err)?;
        }
    }
    tx.commit().map_err(db_err)?;
    Ok(())
}

/// What the loop asks of the writer thread.
#[derive(Debug)]
pub enum ToWriter {
    /// The changes of one write (or KVSET, expiry, erase), committed in one
    /// transaction.
    Changes(Vec<Change>),
    /// The loop stops in order: commit what came before, record the clean
    /// stop, end the thread.
    Stop,
    /// A backup for the connection `peer`, answering request `id`: taken
    /// after everything sent before it is committed, and nothing sent after.
    Backup {
        /// Routing id of the asking connection.
        peer: Vec<u8>,
        /// Its request id.
        id: u64,
        /// What it takes from memory.
        point: BackupPoint,
    },
}

/// The loop's state when it read a BACKUP: the writer pairs it with the
/// database as of the same point (everything sent before committed, nothing
/// after), so the persistent and the volatile stores come from one moment.
#[derive(Debug)]
pub struct BackupPoint {
    /// The sequence then: every change at or below it is in the backup.
    pub seq: u64,
    /// Every key then, frozen (an O(1) clone of the engine's map).
    pub map: StateMap,
    /// The stores declared with `persist = false`, whose keys only memory
    /// holds.
    pub volatile_stores: Vec<String>,
}

impl BackupPoint {
    /// The keys of the volatile stores, in key order.
    fn volatile_entries(&self) -> Vec<BackupEntry> {
        if self.volatile_stores.is_empty() {
            return Vec::new();
        }
        self.map
            .iter()
            .filter(|e| {
                super::home(e.key)
                    .is_some_and(|(store, _)| self.volatile_stores.iter().any(|v| v == store))
            })
            .map(|e| BackupEntry {
                key: e.key.to_owned(),
                seq: e.seq,
                expires_ms: e.expires_ms,
                value: e.value.to_vec(),
            })
            .collect()
    }
}

/// First frame of a backup message on the notification socket (a
/// durability report is one 9-byte frame).
pub const BACKUP_DONE: &[u8] = b"B";

/// A consistent copy of every store: the database in one read transaction
/// (one commit) and the volatile stores from `point`, taken at the moment
/// that commit completes.
pub fn backup(db: &Database, broker_id: &str, point: &BackupPoint) -> Result<Backup, PersistError> {
    let tx = db.begin_read().map_err(db_err)?;
    let meta = tx.open_table(META).map_err(db_err)?;
    let seq = meta
        .get(SEQ)
        .map_err(db_err)?
        .map_or(0, |v| v.value())
        .max(point.seq);
    let mut levels = std::collections::BTreeMap::new();
    for row in tx
        .open_table(LEVELS)
        .map_err(db_err)?
        .iter()
        .map_err(db_err)?
    {
        let (k, v) = row.map_err(db_err)?;
        levels.insert(k.value().to_owned(), v.value());
    }
    let entries = read_entries(&tx.open_table(ENTRIES).map_err(db_err)?)?
        .into_iter()
        .map(|(key, e)| BackupEntry {
            key: key.into(),
            seq: e.seq,
            expires_ms: e.expires_ms,
            value: e.value.into(),
        })
        .collect();
    let volatile = point.volatile_entries();
    Ok(Backup {
        magic: BACKUP_MAGIC.to_owned(),
        format: Backup::layout_for(&volatile),
        disk_format: DISK_FORMAT,
        seq,
        broker_id: broker_id.to_owned(),
        created_ms: canopy_schemas::clock::unix_ms(),
        levels,
        entries,
        volatile,
    })
}

/// Writes `backup` into a new database at `path`, which must not hold any
/// state yet (a restore never merges into live data). Volatile keys of
/// stores that `volatile_now` says are still declared with `persist =
/// false` wait in their own table for the start that follows; those of a
/// store that now persists (or is no longer declared) join the database,
/// so a configuration change loses nothing.
pub fn restore(
    path: &Path,
    backup: &Backup,
    volatile_now: impl Fn(&str) -> bool,
) -> Result<(), PersistError> {
    let (db, loaded) = open(path)?;
    if loaded.seq != 0 || !loaded.entries.is_empty() || !loaded.restored_volatile.is_empty() {
        return Err(PersistError::NotEmpty(path.display().to_string()));
    }
    let tx = db.begin_write().map_err(db_err)?;
    {
        let mut entries = tx.open_table(ENTRIES).map_err(db_err)?;
        for e in &backup.entries {
            entries
                .insert(
                    e.key.as_str(),
                    encode_entry(e.seq, e.expires_ms, &e.value).as_slice(),
                )
                .map_err(db_err)?;
        }
        let mut seeds = tx.open_table(RESTORED_VOLATILE).map_err(db_err)?;
        for e in &backup.volatile {
            let encoded = encode_entry(e.seq, e.expires_ms, &e.value);
            if super::home(&e.key).is_some_and(|(store, _)| volatile_now(store)) {
                seeds
                    .insert(e.key.as_str(), encoded.as_slice())
                    .map_err(db_err)?;
                continue;
            }
            // A key kept on disk from when its store persisted may be older.
            let newer = match entries.get(e.key.as_str()).map_err(db_err)? {
                Some(held) => decode_entry(&e.key, held.value())?.seq < e.seq,
                None => true,
            };
            if newer {
                entries
                    .insert(e.key.as_str(), encoded.as_slice())
                    .map_err(db_err)?;
            }
        }
        let mut levels = tx.open_table(LEVELS).map_err(db_err)?;
        for (level, lseq) in &backup.levels {
            levels.insert(level.as_str(), *lseq).map_err(db_err)?;
        }
        let mut meta = tx.open_table(META).map_err(db_err)?;
        meta.insert(SEQ, backup.seq).map_err(db_err)?;
        // What a broker may have left here (a run that never committed)
        // names none of these states: the start begins a new history and
        // takes nothing over.
        for key in [HISTORY, CLEAN_AT, HISTORY_SEQ] {
            meta.remove(key).map_err(db_err)?;
        }
    }
    tx.commit().map_err(db_err)?;
    Ok(())
}

/// Takes a backup and reports it (or why it failed) to the loop.
fn answer_backup(
    db: &Database,
    broker_id: &str,
    (peer, id, point): (Vec<u8>, u64, BackupPoint),
    notify: &zmq::Socket,
) {
    let result = backup(db, broker_id, &point).and_then(|b| {
        let keys = b.keys();
        let seq = b.seq;
        b.encode()
            .map(|data| (seq, keys, data))
            .map_err(|e| PersistError::Backup(e.to_string()))
    });
    let (status, body) = match result {
        Ok((seq, keys, data)) => {
            let mut body = Vec::with_capacity(16 + data.len());
            body.extend_from_slice(&seq.to_be_bytes());
            body.extend_from_slice(&keys.to_be_bytes());
            body.extend_from_slice(&data);
            (&b"ok"[..], body)
        }
        Err(e) => {
            tracing::error!(error = %e, "backup failed");
            (&b"error"[..], e.to_string().into_bytes())
        }
    };
    let sent = notify.send_multipart(
        [
            BACKUP_DONE,
            &peer[..],
            &id.to_be_bytes()[..],
            status,
            &body[..],
        ],
        0,
    );
    if let Err(e) = sent {
        tracing::error!(error = %e, "cannot hand a backup to the broker loop");
    }
}

/// Starts the writer thread. `notify` is a connected PAIR socket to the loop.
pub fn spawn(
    db: Database,
    notify: zmq::Socket,
    broker_id: String,
) -> std::io::Result<(Sender<ToWriter>, JoinHandle<()>)> {
    let (tx, rx): (Sender<ToWriter>, Receiver<ToWriter>) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("canopy-persist".into())
        .spawn(move || {
            let mut batch = Vec::new();
            let mut backups = Vec::new();
            let mut stop = false;
            while let Ok(first) = rx.recv() {
                batch.clear();
                let mut next = Some(first);
                while let Some(item) = next.take() {
                    match item {
                        ToWriter::Changes(c) => batch.extend(c),
                        ToWriter::Backup { peer, id, point } => backups.push((peer, id, point)),
                        ToWriter::Stop => stop = true,
                    }
                    // A backup ends the batch: it holds nothing sent after it.
                    if batch.len() < MAX_BATCH && backups.is_empty() {
                        next = rx.try_recv().ok();
                    }
                }
                if batch.is_empty() {
                    for request in backups.drain(..) {
                        answer_backup(&db, &broker_id, request, &notify);
                    }
                    if stop {
                        return stop_cleanly(&db);
                    }
                    continue;
                }
                let last = batch.iter().map(|c| c.seq).max().unwrap_or(0);
                let started = std::time::Instant::now();
                let status = match commit(&db, &batch) {
                    Ok(()) => Durable::Through(last),
                    Err(e) => {
                        tracing::error!(error = %e, changes = batch.len(), "commit failed");
                        Durable::Failed(last)
                    }
                };
                let cost = CommitCost {
                    changes: u32::try_from(batch.len()).unwrap_or(u32::MAX),
                    micros: u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX),
                };
                if let Err(e) = notify.send(&status.encode_with(cost)[..], 0) {
                    tracing::error!(error = %e, "cannot notify the broker loop");
                }
                if matches!(status, Durable::Failed(_)) {
                    // Nothing after a failed commit can be trusted to reach
                    // the disk: stop taking changes (the loop stops too).
                    return;
                }
                // After the commit: a backup holds everything sent before it.
                for request in backups.drain(..) {
                    answer_backup(&db, &broker_id, request, &notify);
                }
                if stop {
                    return stop_cleanly(&db);
                }
            }
        });
    Ok((tx, thread?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An empty directory of this process for one test (removed again by
    /// the test).
    fn scratch_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn commit_and_reload() {
        let dir = scratch_dir("canopy-persist-test");
        let path = dir.join("state.redb");
        let (db, loaded) = open(&path).unwrap();
        assert_eq!(loaded.seq, 0);
        let c = |key: &str, seq, value: Option<&[u8]>| Change {
            key: key.into(),
            level_len: 10,
            seq,
            lseq: seq,
            value: value.map(Into::into),
            expires_ms: 7,
            persist: true,
            uuid: None,
        };
        commit(
            &db,
            &[
                c("/default/:a", 1, Some(b"\x01")),
                c("/default/:b", 2, Some(b"\x02")),
            ],
        )
        .unwrap();
        commit(&db, &[c("/default/:a", 3, None)]).unwrap();
        drop(db);
        let (_db, loaded) = open(&path).unwrap();
        assert_eq!(loaded.seq, 3);
        assert_eq!(loaded.entries.len(), 1);
        assert_eq!(&*loaded.entries[0].0, "/default/:b");
        assert_eq!(
            loaded.entries[0].1,
            Entry {
                value: b"\x02"[..].into(),
                seq: 2,
                expires_ms: 7
            }
        );
        assert_eq!(loaded.lseqs.get("/default/:"), Some(&3));
        assert_eq!(
            Durable::decode(&Durable::Failed(9).encode()),
            Some(Durable::Failed(9))
        );
        let cost = CommitCost {
            changes: 3,
            micros: 1500,
        };
        let report = Durable::Through(7).encode_with(cost);
        assert_eq!(Durable::decode(&report), Some(Durable::Through(7)));
        assert_eq!(CommitCost::decode(&report), Some(cost));
        assert_eq!(CommitCost::decode(&Durable::Through(7).encode()), None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// One batch that interleaves levels keeps each level's highest number
    /// (the commit writes each level once).
    #[test]
    fn a_batch_keeps_each_levels_highest_number() {
        let dir = scratch_dir("canopy-persist-levels");
        let path = dir.join("state.redb");
        let (db, _) = open(&path).unwrap();
        let c = |key: &str, level_len, seq, lseq| Change {
            key: key.into(),
            level_len,
            seq,
            lseq,
            value: Some(b"\x01"[..].into()),
            expires_ms: 0,
            persist: true,
            uuid: None,
        };
        let a = "/default/:".len();
        let b = "/default/:b/".len();
        commit(
            &db,
            &[
                c("/default/:x", a, 1, 1),
                c("/default/:b/y", b, 2, 1),
                c("/default/:z", a, 3, 2),
                c("/default/:b/w", b, 4, 2),
                c("/default/:v", a, 5, 3),
            ],
        )
        .unwrap();
        drop(db);
        let (_db, loaded) = open(&path).unwrap();
        assert_eq!(loaded.seq, 5);
        assert_eq!(loaded.lseqs.get("/default/:"), Some(&3));
        assert_eq!(loaded.lseqs.get("/default/:b/"), Some(&2));
        assert_eq!(loaded.entries.len(), 5);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A run that did not record its clean stop leaves its history as the
    /// one a fork begins from; a clean stop carries it on instead, and a
    /// fresh directory has neither.
    #[test]
    fn a_crashed_run_leaves_the_history_to_fork_from() {
        let dir = scratch_dir("canopy-fork-test");
        let path = dir.join("state.redb");
        let (db, loaded) = open(&path).unwrap();
        assert_eq!((loaded.history, loaded.crashed_history), (None, None));
        begin_run(&db, 1, 5).unwrap();
        drop(db); // no clean stop: as after kill -9
        let (db, loaded) = open(&path).unwrap();
        assert_eq!((loaded.history, loaded.crashed_history), (None, Some(5)));
        begin_run(&db, 2, 6).unwrap();
        mark_clean(&db).unwrap();
        drop(db);
        let (_db, loaded) = open(&path).unwrap();
        assert_eq!((loaded.history, loaded.crashed_history), (Some(6), None));
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A file cut to a few bytes is refused as damaged, with what to do,
    /// not reported as an I/O error (found by the fault test, seed 21: a
    /// data file truncated to 45 bytes).
    #[test]
    fn a_file_cut_short_is_damaged() {
        let dir = scratch_dir("canopy-cut");
        let path = dir.join("state.redb");
        let (db, _) = open(&path).unwrap();
        begin_run(&db, 1, 5).unwrap();
        drop(db);
        for len in [45, 600, 5000] {
            let copy = dir.join(format!("cut-{len}.redb"));
            std::fs::copy(&path, &copy).unwrap();
            let f = std::fs::OpenOptions::new().write(true).open(&copy).unwrap();
            f.set_len(len).unwrap();
            drop(f);
            match open(&copy) {
                Err(e @ PersistError::Damaged { .. }) => {
                    assert!(e.to_string().contains("--restore"), "{e}")
                }
                Err(e) => panic!("cut to {len} bytes: {e}"),
                Ok(_) => {} // repaired to a commit: disk_faults.rs checks what it serves
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A commit by a broker that keeps no history (an older release run on
    /// the directory) leaves `SEQ` ahead of what this broker last wrote:
    /// nothing is taken over. Nor is anything after a restore into a
    /// directory where a broker once started without committing.
    #[test]
    fn nothing_is_taken_over_after_another_broker_or_a_restore() {
        let dir = scratch_dir("canopy-fork-other");
        let path = dir.join("state.redb");
        let (db, _) = open(&path).unwrap();
        begin_run(&db, 1, 5).unwrap();
        let tx = db.begin_write().unwrap();
        tx.open_table(META).unwrap().insert(SEQ, 40).unwrap();
        tx.commit().unwrap();
        drop(db);
        let (db, loaded) = open(&path).unwrap();
        assert_eq!((loaded.history, loaded.crashed_history), (None, None));
        drop(db);

        let restored = dir.join("restored.redb");
        let (db, _) = open(&restored).unwrap();
        begin_run(&db, 1, 9).unwrap();
        drop(db); // started, never committed, crashed
        let backup = Backup {
            magic: BACKUP_MAGIC.to_owned(),
            format: Backup::layout_for(&[]),
            disk_format: DISK_FORMAT,
            seq: 3,
            broker_id: "b".into(),
            created_ms: 0,
            levels: [("/default/:".to_owned(), 1)].into(),
            entries: vec![BackupEntry {
                key: "/default/:k".into(),
                seq: 3,
                expires_ms: 0,
                value: vec![1],
            }],
            volatile: Vec::new(),
        };
        restore(&restored, &backup, |_| false).unwrap();
        let (db, loaded) = open(&restored).unwrap();
        assert_eq!((loaded.history, loaded.crashed_history), (None, None));
        let tx = db.begin_read().unwrap();
        let meta = tx.open_table(META).unwrap();
        for key in [HISTORY, CLEAN_AT, HISTORY_SEQ] {
            assert!(
                meta.get(key).unwrap().is_none(),
                "{key} left by the restore"
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Finding 8: the changes of one write reached the writer one message
    /// each, and a batch could end between two of them (or at MAX_BATCH),
    /// so a delete_subtree could be half on disk after kill -9. One write's
    /// changes are now one message, committed in one transaction.
    #[test]
    fn the_changes_of_one_write_are_committed_in_one_transaction() {
        let dir = scratch_dir("canopy-atomic-test");
        let (db, _) = open(&dir.join("state.redb")).unwrap();
        let context = zmq::Context::new();
        let loop_side = context.socket(zmq::PAIR).unwrap();
        loop_side.bind("inproc://atomic-test").unwrap();
        let notify = context.socket(zmq::PAIR).unwrap();
        notify.connect("inproc://atomic-test").unwrap();
        let (tx, thread) = spawn(db, notify, "test".into()).unwrap();
        // More changes than MAX_BATCH, as one delete_subtree of that many
        // keys would make.
        let changes: Vec<Change> = (1..=(MAX_BATCH as u64 + 500))
            .map(|seq| Change {
                key: format!("/default/:k{seq}").into(),
                level_len: 10,
                seq,
                lseq: seq,
                value: Some(b"\x01"[..].into()),
                expires_ms: 0,
                persist: true,
                uuid: None,
            })
            .collect();
        let last = changes.len() as u64;
        tx.send(ToWriter::Changes(changes)).unwrap();
        let report = loop_side.recv_bytes(0).unwrap();
        assert_eq!(
            Durable::decode(&report),
            Some(Durable::Through(last)),
            "one commit for the whole write"
        );
        assert_eq!(
            CommitCost::decode(&report).map(|c| c.changes),
            Some(last as u32),
            "the report says how many changes the commit held"
        );
        drop(tx);
        thread.join().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Finding 12: the restart floor was the wall clock alone, so a clock
    /// stepped back (or a run that numbered non-persistent changes far above
    /// its last commit) made the next run reuse sequences.
    #[test]
    fn a_restart_starts_above_what_the_previous_run_reserved_whatever_the_clock() {
        let dir = scratch_dir("canopy-floor-test");
        let path = dir.join("state.redb");
        let (db, _) = open(&path).unwrap();
        // The previous run started an hour "ahead" of today's clock (the
        // clock has since been stepped back) and numbered changes from there.
        let previous_start = canopy_schemas::clock::unix_us() + 3_600_000_000;
        begin_run(&db, previous_start, 1).unwrap();
        drop(db);
        let (_db, loaded) = open(&path).unwrap();
        assert_eq!(loaded.seq_floor, previous_start + SEQ_RESERVATION);
        let mut engine =
            super::super::StateEngine::new(&Default::default(), Path::new("."), 1024).unwrap();
        engine.restore(loaded, &[]);
        assert!(engine.seq() >= previous_start + SEQ_RESERVATION);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
