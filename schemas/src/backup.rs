//! The backup file: a consistent copy of every store as of one sequence
//! (persistent stores from the database, `persist = false` stores from the
//! broker's memory at the same point), written by `canopy backup` (from the broker's BACKUP reply)
//! and read by `canopy-broker --restore`. One MessagePack map.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The newest version of this file layout this release reads and writes.
/// 2 added `volatile`; a backup without volatile keys is still written as 1,
/// so the release before can restore it.
pub const BACKUP_FORMAT: u32 = 2;

/// The layout of a backup without volatile keys.
pub const BACKUP_FORMAT_PERSISTENT_ONLY: u32 = 1;

/// What identifies a canopy backup file.
pub const BACKUP_MAGIC: &str = "canopy-backup";

/// One backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backup {
    /// Always [`BACKUP_MAGIC`].
    pub magic: String,
    /// The layout: [`BACKUP_FORMAT_PERSISTENT_ONLY`], or [`BACKUP_FORMAT`]
    /// when `volatile` holds keys (see [`Backup::layout_for`]).
    pub format: u32,
    /// The disk format of the database it was taken from.
    pub disk_format: u64,
    /// Every change up to this sequence is here, none after.
    pub seq: u64,
    /// The broker it was taken from.
    pub broker_id: String,
    /// When it was taken, Unix ms.
    pub created_ms: u64,
    /// Every level's update number (`lseq`).
    pub levels: BTreeMap<String, u64>,
    /// Every key of the database: persistent stores, and keys kept on disk
    /// for stores that are not served.
    pub entries: Vec<BackupEntry>,
    /// Every key of the stores declared with `persist = false`, from memory
    /// (format 2; absent in format 1).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volatile: Vec<BackupEntry>,
}

/// One key of a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupEntry {
    /// Full state key.
    pub key: String,
    /// Sequence of its last change.
    pub seq: u64,
    /// Expiry deadline, Unix ms (0: none).
    pub expires_ms: u64,
    /// Value (MessagePack, or opaque bytes).
    #[serde(with = "serde_bytes")]
    pub value: Vec<u8>,
}

/// Why bytes are not a backup this release can read.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// Not MessagePack of this shape.
    #[error("not a canopy backup: {0}")]
    Decode(#[from] rmp_serde::decode::Error),
    /// Another kind of file.
    #[error("not a canopy backup (no {BACKUP_MAGIC:?} marker)")]
    Magic,
    /// A newer layout.
    #[error("backup format {0} is newer than this release reads ({BACKUP_FORMAT})")]
    Newer(u32),
    /// Encoding failed.
    #[error("encoding the backup: {0}")]
    Encode(#[from] rmp_serde::encode::Error),
}

impl Backup {
    /// The layout a backup with these volatile keys is written as: the
    /// oldest that can describe it.
    pub fn layout_for(volatile: &[BackupEntry]) -> u32 {
        if volatile.is_empty() {
            BACKUP_FORMAT_PERSISTENT_ONLY
        } else {
            BACKUP_FORMAT
        }
    }

    /// Keys held, both kinds.
    pub fn keys(&self) -> u64 {
        (self.entries.len() as u64).saturating_add(self.volatile.len() as u64)
    }

    /// Encodes the file.
    pub fn encode(&self) -> Result<Vec<u8>, BackupError> {
        Ok(rmp_serde::to_vec_named(self)?)
    }

    /// Decodes and checks a file.
    pub fn decode(bytes: &[u8]) -> Result<Backup, BackupError> {
        let backup: Backup = rmp_serde::from_slice(bytes)?;
        if backup.magic != BACKUP_MAGIC {
            return Err(BackupError::Magic);
        }
        if backup.format > BACKUP_FORMAT {
            return Err(BackupError::Newer(backup.format));
        }
        Ok(backup)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backup_round_trips_and_foreign_files_are_refused() {
        let b = Backup {
            magic: BACKUP_MAGIC.into(),
            format: BACKUP_FORMAT_PERSISTENT_ONLY,
            disk_format: 1,
            seq: 9,
            broker_id: "b".into(),
            created_ms: 1,
            levels: [("/default/:".to_owned(), 3)].into(),
            entries: vec![BackupEntry {
                key: "/default/:k".into(),
                seq: 9,
                expires_ms: 0,
                value: vec![0xc3],
            }],
            volatile: Vec::new(),
        };
        let bytes = b.encode().unwrap();
        assert_eq!(Backup::decode(&bytes).unwrap(), b);
        // Format 2 carries volatile keys; format 1 (no such field) reads as
        // none.
        let with_volatile = Backup {
            format: Backup::layout_for(&b.entries),
            volatile: b.entries.clone(),
            ..b.clone()
        };
        assert_eq!(with_volatile.format, BACKUP_FORMAT);
        assert_eq!(with_volatile.keys(), 2);
        let decoded = Backup::decode(&with_volatile.encode().unwrap()).unwrap();
        assert_eq!(decoded, with_volatile);
        assert_eq!(Backup::layout_for(&[]), BACKUP_FORMAT_PERSISTENT_ONLY);
        assert!(!bytes.windows(8).any(|w| w == b"volatile"));
        assert!(matches!(
            Backup::decode(b"junk"),
            Err(BackupError::Decode(_))
        ));
        let other = Backup {
            magic: "x".into(),
            ..b.clone()
        };
        assert!(matches!(
            Backup::decode(&other.encode().unwrap()),
            Err(BackupError::Magic)
        ));
        let newer = Backup { format: 99, ..b };
        assert!(matches!(
            Backup::decode(&newer.encode().unwrap()),
            Err(BackupError::Newer(99))
        ));
    }
}
