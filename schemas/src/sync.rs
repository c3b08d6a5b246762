//! The one sync machine behind every replica of the master's state: a
//! client's replica of a level and a child broker's mirror of its parent.
//!
//! It does no I/O. The caller feeds it what arrived (updates with their
//! level numbers, snapshot parts tagged with the request id, KTHXBAI, LSEQS,
//! SEQS answers, epochs, the clock) and it says what to do: apply, hold,
//! skip, or start over with a fresh snapshot. The data itself stays with the
//! caller, so the same rules hold wherever state is replicated, and the
//! machine can be driven by a deterministic simulation.
//!
//! The rules:
//! - Updates are numbered per level (`lseq`). A live replica applies the next
//!   number, skips numbers it has, and starts over on a gap.
//! - A snapshot belongs to one request id: parts of any other (abandoned)
//!   snapshot are refused. Updates that arrive meanwhile are held and
//!   replayed after it, with the same gap check.
//! - A sync that makes no progress (no accepted part) for a while restarts;
//!   one that is merely long does not.
//! - A SEQS answer below what the replica had when it asked means the master
//!   lost changes (rolled back); a level still below what the broker had at
//!   the previous check missed updates. Both start over, as does a new epoch.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Level numbers by level prefix.
pub type Lseqs = BTreeMap<String, u64>;

/// An update held while a snapshot is on its way.
#[derive(Debug)]
struct Held<U> {
    level: String,
    lseq: u64,
    update: U,
}

/// A snapshot being received.
#[derive(Debug)]
struct Pending<U> {
    id: u64,
    progress: Instant,
    /// KTHXBAI's sequence, and the level numbers when it carried them.
    kthxbai: Option<(u64, Option<Lseqs>)>,
    /// LSEQS reply: the sequence it was taken at and the level numbers.
    lseqs: Option<(u64, Lseqs)>,
    /// Whether an LSEQS reply is needed besides KTHXBAI.
    wants_lseqs: bool,
    held: Vec<Held<U>>,
}

#[derive(Debug)]
enum Phase<U> {
    /// Never synced: updates are of no use yet.
    Unsynced,
    Syncing(Pending<U>),
    Live,
}

/// Why a replica starts over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    /// An update's level number skipped one.
    Gap,
    /// KTHXBAI and LSEQS disagree on the sequence.
    Mismatch,
    /// The broker has fewer updates than the replica: the master rolled back.
    RolledBack,
    /// Still behind what the broker had at the previous SEQS check.
    Behind,
    /// The sync made no progress for too long.
    Stalled,
}

/// What to do with one update.
#[derive(Debug, PartialEq, Eq)]
pub enum UpdateStep<U> {
    /// Apply it now.
    Apply(U),
    /// Held until the snapshot completes.
    Held,
    /// Already applied (or of no use before the first sync): drop it.
    Skip,
    /// A gap: start over (the update is dropped).
    Restart(Restart),
}

/// Where a snapshot stands after KTHXBAI or LSEQS.
#[derive(Debug, PartialEq, Eq)]
pub enum Finish<U> {
    /// Not for the current sync (an abandoned snapshot): ignore it.
    Ignored,
    /// Waiting for the other half (KTHXBAI or LSEQS).
    NotYet,
    /// Complete: take the snapshot (as of `seq`), then apply `replay` in
    /// order. The machine is live.
    Done {
        /// The sequence the snapshot was taken at.
        seq: u64,
        /// The level numbers the snapshot was taken at.
        lseqs: Lseqs,
        /// Held updates newer than the snapshot, in arrival order.
        replay: Vec<U>,
    },
    /// Unusable (sequences disagree, or the held updates have a gap):
    /// discard the snapshot and start over.
    Restart(Restart),
}

/// The sync machine of one replicated stream (one level, or a whole tree).
#[derive(Debug)]
pub struct SyncMachine<U> {
    phase: Phase<U>,
    lseqs: Lseqs,
    /// Per level, the broker's number at the previous SEQS check.
    expected: Lseqs,
}

impl<U> Default for SyncMachine<U> {
    fn default() -> Self {
        SyncMachine {
            phase: Phase::Unsynced,
            lseqs: Lseqs::new(),
            expected: Lseqs::new(),
        }
    }
}

impl<U> SyncMachine<U> {
    /// A machine that has not synced yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a sync with request `id` (dropping any sync in progress and
    /// what it held). `wants_lseqs`: completion needs an LSEQS reply as
    /// well as KTHXBAI (a subtree of many levels).
    pub fn begin(&mut self, id: u64, wants_lseqs: bool, now: Instant) {
        self.phase = Phase::Syncing(Pending {
            id,
            progress: now,
            kthxbai: None,
            lseqs: None,
            wants_lseqs,
            held: Vec::new(),
        });
    }

    /// True when the replica is in sync and updates apply as they come.
    pub fn is_live(&self) -> bool {
        matches!(self.phase, Phase::Live)
    }

    /// The request id of the sync in progress.
    pub fn syncing(&self) -> Option<u64> {
        match &self.phase {
            Phase::Syncing(p) => Some(p.id),
            _ => None,
        }
    }

    /// The level numbers applied so far (live replicas).
    pub fn lseqs(&self) -> &Lseqs {
        &self.lseqs
    }

    /// The number applied for `level` (0 when none).
    pub fn lseq(&self, level: &str) -> u64 {
        self.lseqs.get(level).copied().unwrap_or(0)
    }

    /// An update of `level` numbered `lseq` (0: unnumbered, applied as is).
    pub fn update(&mut self, level: &str, lseq: u64, update: U) -> UpdateStep<U> {
        match &mut self.phase {
            Phase::Unsynced => UpdateStep::Skip,
            Phase::Syncing(p) => {
                p.held.push(Held {
                    level: level.to_owned(),
                    lseq,
                    update,
                });
                UpdateStep::Held
            }
            Phase::Live => match step(&mut self.lseqs, level, lseq) {
                Step::Next => UpdateStep::Apply(update),
                Step::Old => UpdateStep::Skip,
                Step::Gap => UpdateStep::Restart(Restart::Gap),
            },
        }
    }

    /// A snapshot part (KVSYNC) of request `id`: true when it belongs to the
    /// sync in progress and is to be kept.
    pub fn snapshot_part(&mut self, id: u64, now: Instant) -> bool {
        match &mut self.phase {
            Phase::Syncing(p) if p.id == id => {
                p.progress = now;
                true
            }
            _ => false,
        }
    }

    /// KTHXBAI of request `id`, taken at `seq`; `lseqs` when it carries the
    /// level numbers itself (a single-level snapshot).
    pub fn kthxbai(&mut self, id: u64, seq: u64, lseqs: Option<Lseqs>, now: Instant) -> Finish<U> {
        match &mut self.phase {
            Phase::Syncing(p) if p.id == id => {
                p.progress = now;
                p.kthxbai = Some((seq, lseqs));
            }
            _ => return Finish::Ignored,
        }
        self.try_finish()
    }

    /// The LSEQS reply of request `id`, taken at `seq`.
    pub fn lseqs_reply(&mut self, id: u64, seq: u64, lseqs: Lseqs, now: Instant) -> Finish<U> {
        match &mut self.phase {
            Phase::Syncing(p) if p.id == id => {
                p.progress = now;
                p.lseqs = Some((seq, lseqs));
            }
            _ => return Finish::Ignored,
        }
        self.try_finish()
    }

    fn try_finish(&mut self) -> Finish<U> {
        let Phase::Syncing(p) = &mut self.phase else {
            return Finish::Ignored;
        };
        let (seq, lseqs) = match (p.kthxbai.take(), p.lseqs.take(), p.wants_lseqs) {
            (Some((seq, Some(l))), _, false) => (seq, l),
            (Some((seq, None)), _, false) => (seq, Lseqs::new()),
            (Some((seq, _)), Some((lseqs_seq, l)), true) => {
                if seq != lseqs_seq {
                    return Finish::Restart(Restart::Mismatch);
                }
                (seq, l)
            }
            (k, l, _) => {
                p.kthxbai = k;
                p.lseqs = l;
                return Finish::NotYet;
            }
        };
        let Phase::Syncing(p) = std::mem::replace(&mut self.phase, Phase::Live) else {
            return Finish::Ignored;
        };
        self.lseqs = lseqs.clone();
        self.expected.clear();
        let mut replay = Vec::new();
        for held in p.held {
            match step(&mut self.lseqs, &held.level, held.lseq) {
                Step::Next => replay.push(held.update),
                Step::Old => {}
                Step::Gap => {
                    self.phase = Phase::Unsynced;
                    return Finish::Restart(Restart::Gap);
                }
            }
        }
        Finish::Done { seq, lseqs, replay }
    }

    /// True when a sync has made no progress for longer than `limit`.
    pub fn stalled(&self, now: Instant, limit: Duration) -> bool {
        matches!(&self.phase, Phase::Syncing(p) if now.saturating_duration_since(p.progress) > limit)
    }

    /// A SEQS answer for `level`: `asked_at` is the number this replica had
    /// when it sent the question, `theirs` the broker's. Returns why the
    /// replica must start over, if it must.
    pub fn seqs_answer(&mut self, level: &str, asked_at: u64, theirs: u64) -> Option<Restart> {
        if !self.is_live() {
            return None;
        }
        if theirs < asked_at {
            return Some(Restart::RolledBack);
        }
        let have = self.lseq(level);
        let expected = self.expected.get(level).copied().unwrap_or(0);
        // Updates sent after the broker answered may already be applied
        // here, so only "still behind what the broker had last time" means
        // something was missed.
        if have < expected {
            return Some(Restart::Behind);
        }
        self.expected.insert(level.to_owned(), theirs);
        None
    }
}

enum Step {
    Next,
    Old,
    Gap,
}

fn step(lseqs: &mut Lseqs, level: &str, lseq: u64) -> Step {
    if lseq == 0 {
        return Step::Next; // unnumbered (a plain CHP master): no check
    }
    let have = lseqs.get(level).copied().unwrap_or(0);
    if lseq <= have {
        Step::Old
    } else if lseq == have + 1 {
        lseqs.insert(level.to_owned(), lseq);
        Step::Next
    } else {
        Step::Gap
    }
}

/// Notices a new epoch of the broker above (it restarted, or it rebuilt
/// what it serves): everything below starts over.
#[derive(Debug, Default, Clone, Copy)]
pub struct EpochWatch {
    seen: Option<u64>,
}

impl EpochWatch {
    /// Records `epoch`; true when it differs from the one seen before.
    pub fn changed(&mut self, epoch: u64) -> bool {
        matches!(self.seen.replace(epoch), Some(old) if old != epoch)
    }

    /// The epoch last seen.
    pub fn current(&self) -> Option<u64> {
        self.seen
    }
}

#[cfg(test)]
mod tests;
