//! A deterministic simulation of a master and one replica driven by the
//! sync machine: generated schedules of writes, lost updates, lost
//! requests, delayed channels, stalls and master crashes that roll changes
//! back. After the faults stop, the replica must equal the master.
//! proptest prints the smallest failing schedule and its seed.

use super::*;
use proptest::prelude::*;
use std::collections::VecDeque;

const LEVELS: [&str; 3] = ["/s/a/:", "/s/b/:", "/s/c/:"];
const STALL: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, PartialEq)]
struct Update {
    level: String,
    lseq: u64,
    key: String,
    value: Option<u8>,
}

#[derive(Debug, Clone)]
enum Ctl {
    Lseqs {
        id: u64,
        seq: u64,
        lseqs: Lseqs,
    },
    Part {
        id: u64,
        key: String,
        value: u8,
    },
    Kthxbai {
        id: u64,
        seq: u64,
        lseqs: Option<Lseqs>,
    },
    SeqsAnswer {
        asked: Vec<(String, u64)>,
        theirs: Vec<u64>,
    },
    Epoch(u64),
}

#[derive(Debug, Clone)]
enum Req {
    Snapshot { id: u64 },
    Seqs { asked: Vec<(String, u64)> },
}

#[derive(Debug, Clone, Default)]
struct Durable {
    map: BTreeMap<String, u8>,
    lseqs: Lseqs,
}

struct Master {
    levels: usize,
    now: Durable,
    checkpoint: Durable,
    seq: u64,
    epoch: u64,
}

struct Replica {
    multi: bool,
    machine: SyncMachine<Update>,
    epoch: EpochWatch,
    data: BTreeMap<String, u8>,
    fresh: BTreeMap<String, u8>,
    next_id: u64,
    resyncs: u32,
}

struct World {
    master: Master,
    replica: Replica,
    updates: VecDeque<Update>,
    control: VecDeque<Ctl>,
    requests: VecDeque<Req>,
    clock: Instant,
}

#[derive(Debug, Clone)]
enum Op {
    Write {
        level: usize,
        key: u8,
        value: Option<u8>,
    },
    DeliverUpdate,
    DropUpdate,
    DeliverControl,
    Serve,
    LoseRequest,
    AskSeqs,
    Tick,
    Checkpoint,
    Crash,
    /// The replica gives up on its sync (a timer on a slow link) while the
    /// old snapshot may still be on its way.
    GiveUp,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0usize..3, 0u8..4, proptest::option::weighted(0.8, any::<u8>()))
            .prop_map(|(level, key, value)| Op::Write { level, key, value }),
        6 => Just(Op::DeliverUpdate),
        1 => Just(Op::DropUpdate),
        6 => Just(Op::DeliverControl),
        3 => Just(Op::Serve),
        1 => Just(Op::LoseRequest),
        1 => Just(Op::AskSeqs),
        1 => Just(Op::Tick),
        1 => Just(Op::Checkpoint),
        1 => Just(Op::Crash),
        1 => Just(Op::GiveUp),
    ]
}

impl Replica {
    fn resync(&mut self, now: Instant, requests: &mut VecDeque<Req>) {
        self.next_id += 1;
        self.resyncs += 1;
        self.machine.begin(self.next_id, self.multi, now);
        self.fresh.clear();
        requests.push_back(Req::Snapshot { id: self.next_id });
    }

    fn apply(&mut self, u: &Update) {
        match u.value {
            Some(v) => self.data.insert(u.key.clone(), v),
            None => self.data.remove(&u.key),
        };
    }

    fn finish(&mut self, f: Finish<Update>, now: Instant, requests: &mut VecDeque<Req>) {
        match f {
            Finish::Done { replay, .. } => {
                self.data = std::mem::take(&mut self.fresh);
                for u in &replay {
                    self.apply(u);
                }
            }
            Finish::Restart(_) => self.resync(now, requests),
            Finish::Ignored | Finish::NotYet => {}
        }
    }

    fn on_update(&mut self, u: Update, now: Instant, requests: &mut VecDeque<Req>) {
        let level = u.level.clone();
        let lseq = u.lseq;
        match self.machine.update(&level, lseq, u) {
            UpdateStep::Apply(u) => self.apply(&u),
            UpdateStep::Held | UpdateStep::Skip => {}
            UpdateStep::Restart(_) => self.resync(now, requests),
        }
    }

    fn on_control(&mut self, ctl: Ctl, now: Instant, requests: &mut VecDeque<Req>) {
        match ctl {
            Ctl::Lseqs { id, seq, lseqs } => {
                let f = self.machine.lseqs_reply(id, seq, lseqs, now);
                self.finish(f, now, requests);
            }
            Ctl::Part { id, key, value } => {
                if self.machine.snapshot_part(id, now) {
                    self.fresh.insert(key, value);
                }
            }
            Ctl::Kthxbai { id, seq, lseqs } => {
                let f = self.machine.kthxbai(id, seq, lseqs, now);
                self.finish(f, now, requests);
            }
            Ctl::SeqsAnswer { asked, theirs } => {
                let restart = asked
                    .iter()
                    .zip(&theirs)
                    .any(|((level, at), t)| self.machine.seqs_answer(level, *at, *t).is_some());
                if restart {
                    self.resync(now, requests);
                }
            }
            Ctl::Epoch(e) => {
                if self.epoch.changed(e) {
                    self.resync(now, requests);
                }
            }
        }
    }
}

impl World {
    fn new(levels: usize) -> Self {
        let mut world = World {
            master: Master {
                levels,
                now: Durable::default(),
                checkpoint: Durable::default(),
                seq: 0,
                epoch: 1,
            },
            replica: Replica {
                multi: levels > 1,
                machine: SyncMachine::new(),
                epoch: EpochWatch::default(),
                data: BTreeMap::new(),
                fresh: BTreeMap::new(),
                next_id: 0,
                resyncs: 0,
            },
            updates: VecDeque::new(),
            control: VecDeque::new(),
            requests: VecDeque::new(),
            clock: Instant::now(),
        };
        world.control.push_back(Ctl::Epoch(1));
        world.replica.resync(world.clock, &mut world.requests);
        world
    }

    fn serve(&mut self, req: Req) {
        let m = &self.master;
        match req {
            Req::Snapshot { id } => {
                // Consistent: the whole view as of one sequence.
                if m.levels > 1 {
                    self.control.push_back(Ctl::Lseqs {
                        id,
                        seq: m.seq,
                        lseqs: m.now.lseqs.clone(),
                    });
                }
                for (key, value) in &m.now.map {
                    self.control.push_back(Ctl::Part {
                        id,
                        key: key.clone(),
                        value: *value,
                    });
                }
                let lseqs = (m.levels == 1).then(|| {
                    let l = m.now.lseqs.get(LEVELS[0]).copied().unwrap_or(0);
                    Lseqs::from([(LEVELS[0].to_owned(), l)])
                });
                self.control.push_back(Ctl::Kthxbai {
                    id,
                    seq: m.seq,
                    lseqs,
                });
            }
            Req::Seqs { asked } => {
                let theirs = asked
                    .iter()
                    .map(|(l, _)| m.now.lseqs.get(l).copied().unwrap_or(0))
                    .collect();
                self.control.push_back(Ctl::SeqsAnswer { asked, theirs });
            }
        }
    }

    fn ask_seqs(&mut self) {
        if !self.replica.machine.is_live() {
            return;
        }
        let asked = LEVELS[..self.master.levels]
            .iter()
            .map(|l| (l.to_string(), self.replica.machine.lseq(l)))
            .collect();
        self.requests.push_back(Req::Seqs { asked });
    }

    fn run(&mut self, op: &Op) {
        let now = self.clock;
        match op {
            Op::Write { level, key, value } => {
                let level = LEVELS[level % self.master.levels].to_owned();
                let key = format!("{level}k{key}");
                let m = &mut self.master;
                m.seq += 1;
                let lseq = m.now.lseqs.entry(level.clone()).or_insert(0);
                *lseq += 1;
                let lseq = *lseq;
                match value {
                    Some(v) => m.now.map.insert(key.clone(), *v),
                    None => m.now.map.remove(&key),
                };
                self.updates.push_back(Update {
                    level,
                    lseq,
                    key,
                    value: *value,
                });
            }
            Op::DeliverUpdate => {
                if let Some(u) = self.updates.pop_front() {
                    self.replica.on_update(u, now, &mut self.requests);
                }
            }
            Op::DropUpdate => {
                self.updates.pop_front();
            }
            Op::DeliverControl => {
                if let Some(c) = self.control.pop_front() {
                    self.replica.on_control(c, now, &mut self.requests);
                }
            }
            Op::Serve => {
                if let Some(r) = self.requests.pop_front() {
                    self.serve(r);
                }
            }
            Op::LoseRequest => {
                self.requests.pop_front();
            }
            Op::AskSeqs => self.ask_seqs(),
            Op::Tick => {
                self.clock += Duration::from_secs(1);
                if self.replica.machine.stalled(self.clock, STALL) {
                    self.replica.resync(self.clock, &mut self.requests);
                }
            }
            Op::Checkpoint => self.master.checkpoint = self.master.now.clone(),
            Op::Crash => {
                // Changes after the checkpoint are lost; connections reset.
                let m = &mut self.master;
                m.now = m.checkpoint.clone();
                m.epoch += 1;
                self.updates.clear();
                self.control.clear();
                self.requests.clear();
                self.control.push_back(Ctl::Epoch(m.epoch));
            }
            Op::GiveUp => {
                if self.replica.machine.syncing().is_some() {
                    self.replica.resync(now, &mut self.requests);
                }
            }
        }
    }

    /// No more faults: everything sent is delivered, SEQS asked each round.
    fn heal(&mut self) -> bool {
        for _ in 0..20 {
            while !self.updates.is_empty() || !self.control.is_empty() || !self.requests.is_empty()
            {
                for op in [Op::DeliverUpdate, Op::Serve, Op::DeliverControl] {
                    self.run(&op);
                }
            }
            if self.replica.machine.is_live() && self.replica.data == self.master.now.map {
                return true;
            }
            self.run(&Op::AskSeqs);
            self.run(&Op::Tick);
        }
        false
    }
}

fn check(levels: usize, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut world = World::new(levels);
    for op in ops {
        world.run(op);
    }
    prop_assert!(
        world.heal(),
        "replica did not converge: live={} replica={:?} master={:?} lseqs={:?}/{:?}",
        world.replica.machine.is_live(),
        world.replica.data,
        world.master.now.map,
        world.replica.machine.lseqs(),
        world.master.now.lseqs
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// A client's replica of one level.
    #[test]
    fn one_level_replica_converges(ops in proptest::collection::vec(op(), 0..160)) {
        check(1, &ops)?;
    }

    /// A child broker's mirror of every level.
    #[test]
    fn mirror_of_many_levels_converges(ops in proptest::collection::vec(op(), 0..160)) {
        check(3, &ops)?;
    }
}

#[test]
fn a_lost_last_update_is_found_by_two_seqs_checks() {
    let mut w = World::new(1);
    for op in [Op::Serve, Op::DeliverControl, Op::DeliverControl] {
        w.run(&op);
    }
    assert!(w.replica.machine.is_live());
    w.run(&Op::Write {
        level: 0,
        key: 1,
        value: Some(7),
    });
    w.run(&Op::DropUpdate);
    let before = w.replica.resyncs;
    assert!(w.heal());
    assert_eq!(w.replica.resyncs, before + 1);
}

/// Level numbers alone cannot tell a rollback that the master has since
/// written past (the new epoch does that), but a SEQS check before then
/// finds it.
#[test]
fn a_rollback_without_a_new_epoch_is_found_by_seqs() {
    let mut w = World::new(1);
    for op in [Op::Serve, Op::DeliverControl, Op::DeliverControl] {
        w.run(&op);
    }
    for key in 0..3 {
        w.run(&Op::Write {
            level: 0,
            key,
            value: Some(1),
        });
        w.run(&Op::DeliverUpdate);
    }
    w.master.now = Durable::default(); // lost, and no one was told
    let before = w.replica.resyncs;
    assert!(w.heal());
    assert_eq!(w.replica.resyncs, before + 1);
    assert!(w.replica.data.is_empty());
}

#[test]
fn parts_of_an_abandoned_snapshot_are_refused() {
    let mut m: SyncMachine<()> = SyncMachine::new();
    let t = Instant::now();
    m.begin(1, false, t);
    assert!(m.snapshot_part(1, t));
    m.begin(2, false, t);
    assert!(!m.snapshot_part(1, t));
    assert_eq!(m.kthxbai(1, 5, None, t), Finish::Ignored);
    assert!(m.snapshot_part(2, t));
}

#[test]
fn a_long_sync_that_progresses_is_not_stalled() {
    let mut m: SyncMachine<()> = SyncMachine::new();
    let t = Instant::now();
    m.begin(1, false, t);
    for s in 1..10 {
        let at = t + Duration::from_secs(s);
        assert!(m.snapshot_part(1, at));
        assert!(!m.stalled(at, STALL));
    }
    assert!(m.stalled(t + Duration::from_secs(20), STALL));
}

#[test]
fn a_gap_in_held_updates_restarts() {
    let mut m = SyncMachine::new();
    let t = Instant::now();
    m.begin(1, false, t);
    assert_eq!(m.update("L", 6, 'a'), UpdateStep::Held);
    assert_eq!(m.update("L", 8, 'b'), UpdateStep::Held);
    let f = m.kthxbai(1, 10, Some(Lseqs::from([("L".into(), 5)])), t);
    assert_eq!(f, Finish::Restart(Restart::Gap));
}

#[test]
fn a_broker_below_the_replica_is_a_rollback() {
    let mut m: SyncMachine<()> = SyncMachine::new();
    let t = Instant::now();
    m.begin(1, false, t);
    let f = m.kthxbai(1, 10, Some(Lseqs::from([("L".into(), 5)])), t);
    assert!(matches!(f, Finish::Done { .. }));
    assert_eq!(m.seqs_answer("L", 5, 3), Some(Restart::RolledBack));
    assert_eq!(m.seqs_answer("L", 5, 5), None);
}
