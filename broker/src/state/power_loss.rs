//! Power loss, simulated under redb: a storage backend that keeps what was
//! written since the last `sync_data` apart from what is durable, and a
//! crash that keeps the durable image plus a random subset of the unsynced
//! writes, some of them torn. kill -9 keeps the page cache, so it never
//! tests this; a power cut does (it cost NATS acknowledged writes).
//!
//! The test drives the persistence layer (`persist::commit`, then
//! `persist::open_backend` after the crash) through seeded schedules of
//! batches, with the disk failing part-way through a commit, and checks that
//! every batch whose commit returned is there, and that the one in flight is
//! there whole or not at all.

use super::persist;
use super::{Change, Loaded};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex};

#[derive(Debug, Default)]
struct DiskState {
    /// What reads see (the page cache).
    visible: Vec<u8>,
    /// What survives a power cut.
    durable: Vec<u8>,
    /// Writes since the last sync: (offset, bytes), in order.
    unsynced: Vec<(u64, Vec<u8>)>,
    /// Writes and syncs left before the disk fails (None: never).
    fails_in: Option<u32>,
}

/// A disk that can lose power.
#[derive(Debug, Clone, Default)]
struct Disk(Arc<Mutex<DiskState>>);

fn failed() -> io::Error {
    io::Error::other("simulated power loss")
}

impl DiskState {
    fn tick(&mut self) -> io::Result<()> {
        match &mut self.fails_in {
            Some(0) => Err(failed()),
            Some(n) => {
                *n -= 1;
                Ok(())
            }
            None => Ok(()),
        }
    }
}

impl Disk {
    fn state(&self) -> std::sync::MutexGuard<'_, DiskState> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The disk after a power cut: the durable image, plus some of the
    /// unsynced writes (each kept whole, torn, or lost).
    fn after_power_cut(&self, rng: &mut impl FnMut(u32) -> u32) -> Disk {
        let s = self.state();
        let mut image = s.durable.clone();
        for (offset, bytes) in &s.unsynced {
            let keep = match rng(3) {
                0 => 0,
                1 => bytes.len(),
                _ => (rng(bytes.len() as u32 + 1)) as usize,
            };
            let end = *offset as usize + keep;
            if image.len() < end {
                image.resize(end, 0);
            }
            image[*offset as usize..end].copy_from_slice(&bytes[..keep]);
        }
        Disk(Arc::new(Mutex::new(DiskState {
            visible: image.clone(),
            durable: image,
            ..Default::default()
        })))
    }
}

impl redb::StorageBackend for Disk {
    fn len(&self) -> Result<u64, io::Error> {
        Ok(self.state().visible.len() as u64)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), io::Error> {
        let s = self.state();
        let start = offset as usize;
        let end = start + out.len();
        if end > s.visible.len() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "read past the end",
            ));
        }
        out.copy_from_slice(&s.visible[start..end]);
        Ok(())
    }

    fn set_len(&self, len: u64) -> Result<(), io::Error> {
        let mut s = self.state();
        s.tick()?;
        s.visible.resize(len as usize, 0);
        // A length change is durable only at the next sync, like data.
        let tail = s.visible[..]
            .get(len as usize..)
            .map(<[u8]>::to_vec)
            .unwrap_or_default();
        s.unsynced.push((len, tail));
        Ok(())
    }

    fn sync_data(&self) -> Result<(), io::Error> {
        let mut s = self.state();
        s.tick()?;
        s.durable = s.visible.clone();
        s.unsynced.clear();
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), io::Error> {
        let mut s = self.state();
        s.tick()?;
        let end = offset as usize + data.len();
        if s.visible.len() < end {
            s.visible.resize(end, 0);
        }
        s.visible[offset as usize..end].copy_from_slice(data);
        s.unsynced.push((offset, data.to_vec()));
        Ok(())
    }
}

/// Key → value after applying batches, as the database must hold them.
type State = BTreeMap<String, Vec<u8>>;

fn apply(state: &mut State, batch: &[Change]) {
    for c in batch {
        match &c.value {
            Some(v) => state.insert(c.key.to_string(), v.to_vec()),
            None => state.remove(&*c.key),
        };
    }
}

fn loaded_state(loaded: &Loaded) -> State {
    loaded
        .entries
        .iter()
        .map(|(k, e)| (k.to_string(), e.value.to_vec()))
        .collect()
}

/// A batch of changes to keys k0..k7 (a delete when `value` is None).
fn batch(seq: &mut u64, ops: &[(u8, Option<u8>)]) -> Vec<Change> {
    ops.iter()
        .map(|(k, v)| {
            *seq += 1;
            Change {
                key: format!("/default/:k{k}").into(),
                level_len: 10,
                seq: *seq,
                lseq: *seq,
                value: v.map(|v| vec![v; 1 + v as usize * 37].into()),
                expires_ms: 0,
                persist: true,
                uuid: None,
            }
        })
        .collect()
}

/// One batch: (key number, new value or None for a delete) per change.
type BatchOps = Vec<(u8, Option<u8>)>;

/// Batches, the disk operations before it fails, and the cut's seed.
fn schedule() -> impl Strategy<Value = (Vec<BatchOps>, u32, u64)> {
    let op = (0u8..8, proptest::option::weighted(0.8, any::<u8>()));
    (
        proptest::collection::vec(proptest::collection::vec(op, 1..12), 1..12),
        0u32..400,
        any::<u64>(),
    )
}

fn run(batches: &[BatchOps], fail_after: u32, seed: u64) -> Result<(), TestCaseError> {
    let disk = Disk::default();
    let (db, _) = persist::open_backend(disk.clone()).expect("open a fresh database");
    disk.state().fails_in = Some(fail_after);
    let mut seq = 0;
    let mut acknowledged = State::new();
    let mut in_flight = None;
    for ops in batches {
        let b = batch(&mut seq, ops);
        match persist::commit(&db, &b) {
            Ok(()) => apply(&mut acknowledged, &b),
            Err(_) => {
                let mut with = acknowledged.clone();
                apply(&mut with, &b);
                in_flight = Some(with);
                break;
            }
        }
    }
    drop(db);
    // The cut's choices, from the case's seed.
    let mut cut = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed);
    let mut rng = |n: u32| rand::Rng::gen_range(&mut cut, 0..n.max(1));
    let after = disk.after_power_cut(&mut rng);
    let (_db, loaded) = persist::open_backend(after).map_err(|e| {
        TestCaseError::fail(format!("the database did not reopen after the cut: {e}"))
    })?;
    let got = loaded_state(&loaded);
    let fine = got == acknowledged || in_flight.as_ref() == Some(&got);
    prop_assert!(
        fine,
        "after the power cut the database holds {:?}, acknowledged {:?}, with the batch in flight {:?}",
        got,
        acknowledged,
        in_flight
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Every committed batch survives a power cut; the one in flight is
    /// there whole or not at all.
    #[test]
    fn committed_batches_survive_a_power_cut((batches, fail_after, seed) in schedule()) {
        run(&batches, fail_after, seed)?;
    }
}
