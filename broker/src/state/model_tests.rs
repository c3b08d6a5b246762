//! Model-based tests of the master engine: generated sequences of
//! operations (puts with and without TTLs, deletes, put-if-absent,
//! compare-and-set, increments, subtree deletes, time passing) applied to the
//! engine and to a plain reference map, which must agree after every step on
//! every key, value, sequence, expiry and level number. proptest shrinks a
//! failure to the smallest sequence and prints it.

use super::*;
use proptest::prelude::*;

const LEVELS: [&str; 2] = ["", "eu"];
const KEYS: [&str; 4] = ["a", "a/b", "b", "b/c"];

#[derive(Debug, Clone)]
enum Op {
    Put {
        l: usize,
        k: usize,
        v: i64,
        ttl: Option<u64>,
    },
    Delete {
        l: usize,
        k: usize,
    },
    PutIfAbsent {
        l: usize,
        k: usize,
        v: i64,
    },
    Cas {
        l: usize,
        k: usize,
        v: i64,
        right: bool,
    },
    Incr {
        l: usize,
        k: usize,
        by: i64,
    },
    DeleteSubtree {
        l: usize,
        prefix: &'static str,
    },
    Advance {
        ms: u64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let lk = (0..LEVELS.len(), 0..KEYS.len());
    let ttl = prop_oneof![Just(None), Just(Some(0u64)), (1u64..400).prop_map(Some)];
    prop_oneof![
        4 => (lk.clone(), -3i64..3, ttl).prop_map(|((l, k), v, ttl)| Op::Put { l, k, v, ttl }),
        2 => lk.clone().prop_map(|(l, k)| Op::Delete { l, k }),
        1 => (lk.clone(), -3i64..3).prop_map(|((l, k), v)| Op::PutIfAbsent { l, k, v }),
        1 => (lk.clone(), -3i64..3, any::<bool>())
            .prop_map(|((l, k), v, right)| Op::Cas { l, k, v, right }),
        2 => (lk, -2i64..3).prop_map(|((l, k), by)| Op::Incr { l, k, by }),
        1 => (0..LEVELS.len(), prop_oneof![Just(""), Just("a"), Just("b/")])
            .prop_map(|(l, prefix)| Op::DeleteSubtree { l, prefix }),
        2 => (0u64..300).prop_map(|ms| Op::Advance { ms }),
    ]
}

/// The reference: full key → (value, seq, expires_ms), plus the counters.
#[derive(Default)]
struct Model {
    map: BTreeMap<String, (i64, u64, u64)>,
    seq: u64,
    lseqs: BTreeMap<String, u64>,
}

fn level_prefix(l: usize) -> String {
    Level::parse(LEVELS[l], false).unwrap().prefix("default")
}

impl Model {
    fn live(&self, key: &str, now: u64) -> Option<(i64, u64, u64)> {
        self.map
            .get(key)
            .copied()
            .filter(|(_, _, exp)| *exp == 0 || *exp > now)
    }

    fn change(&mut self, l: usize, key: &str, value: Option<(i64, u64)>) -> u64 {
        self.seq += 1;
        *self.lseqs.entry(level_prefix(l)).or_insert(0) += 1;
        match value {
            Some((v, exp)) => self.map.insert(key.to_owned(), (v, self.seq, exp)),
            None => self.map.remove(key),
        };
        self.seq
    }
}

fn write(op: OpKind, l: usize, key: &str) -> Write {
    Write {
        id: 1,
        store: "default".into(),
        level: LEVELS[l].into(),
        node: false,
        key: key.into(),
        op,
        value: None,
        by: None,
        expected_seq: None,
        ttl_ms: None,
    }
}

fn int(v: i64) -> Option<Vec<u8>> {
    Some(ops::encode(&rmpv::Value::from(v)))
}

fn check(engine: &StateEngine, model: &Model) -> Result<(), TestCaseError> {
    let held: BTreeMap<String, (i64, u64, u64)> = engine
        .map
        .iter()
        .map(|e| {
            let v = ops::decode(e.value)
                .ok()
                .and_then(|v| v.as_i64())
                .unwrap_or(i64::MIN);
            (e.key.to_owned(), (v, e.seq, e.expires_ms))
        })
        .collect();
    prop_assert_eq!(&held, &model.map);
    prop_assert_eq!(engine.seq(), model.seq);
    for l in 0..LEVELS.len() {
        let p = level_prefix(l);
        prop_assert_eq!(engine.lseq(&p), model.lseqs.get(&p).copied().unwrap_or(0));
    }
    let in_index: BTreeSet<(u64, String)> = engine
        .expiry
        .iter()
        .map(|(d, k)| (*d, k.to_string()))
        .collect();
    let expected: BTreeSet<(u64, String)> = model
        .map
        .iter()
        .filter(|(_, (_, _, exp))| *exp != 0)
        .map(|(k, (_, _, exp))| (*exp, k.clone()))
        .collect();
    prop_assert_eq!(in_index, expected, "the expiry index matches the keys");
    Ok(())
}

fn run(ops: &[Op]) -> Result<(), TestCaseError> {
    let mut engine = StateEngine::new(&BTreeMap::new(), Path::new("."), 1024).unwrap();
    let mut model = Model::default();
    let mut now = 1_000_000u64;
    for op in ops {
        match op.clone() {
            Op::Put { l, k, v, ttl } => {
                let key = format!("{}{}", level_prefix(l), KEYS[k]);
                let mut w = write(OpKind::Put, l, KEYS[k]);
                w.value = int(v);
                w.ttl_ms = ttl;
                let (written, _) = engine.write(&w, now).unwrap();
                let exp = match ttl {
                    Some(t) if t > 0 => now + t,
                    _ => 0,
                };
                prop_assert_eq!(written.seq, model.change(l, &key, Some((v, exp))));
            }
            Op::Delete { l, k } => {
                let key = format!("{}{}", level_prefix(l), KEYS[k]);
                let (written, changes) = engine
                    .write(&write(OpKind::Delete, l, KEYS[k]), now)
                    .unwrap();
                if model.map.contains_key(&key) {
                    prop_assert_eq!(written.seq, model.change(l, &key, None));
                } else {
                    prop_assert!(changes.is_empty());
                }
            }
            Op::PutIfAbsent { l, k, v } => {
                let key = format!("{}{}", level_prefix(l), KEYS[k]);
                let mut w = write(OpKind::PutIfAbsent, l, KEYS[k]);
                w.value = int(v);
                match (engine.write(&w, now), model.live(&key, now)) {
                    (Err((code, _)), Some(_)) => prop_assert_eq!(code, ErrorCode::Exists),
                    (Ok((written, _)), None) => {
                        prop_assert_eq!(written.seq, model.change(l, &key, Some((v, 0))))
                    }
                    (got, live) => prop_assert!(
                        false,
                        "put_if_absent: {:?} with {:?}",
                        got.map(|g| g.0),
                        live
                    ),
                }
            }
            Op::Cas { l, k, v, right } => {
                let key = format!("{}{}", level_prefix(l), KEYS[k]);
                let current = model.live(&key, now).map_or(0, |(_, s, _)| s);
                let mut w = write(OpKind::Cas, l, KEYS[k]);
                w.value = int(v);
                w.expected_seq = Some(if right { current } else { current + 1 });
                match engine.write(&w, now) {
                    Ok((written, _)) => {
                        prop_assert!(right);
                        prop_assert_eq!(written.seq, model.change(l, &key, Some((v, 0))));
                    }
                    Err((code, _)) => {
                        prop_assert!(!right);
                        prop_assert_eq!(code, ErrorCode::CasFailed);
                    }
                }
            }
            Op::Incr { l, k, by } => {
                let key = format!("{}{}", level_prefix(l), KEYS[k]);
                let mut w = write(OpKind::Incr, l, KEYS[k]);
                w.by = Some(by);
                let (written, _) = engine.write(&w, now).unwrap();
                let next = model.live(&key, now).map_or(0, |(v, _, _)| v) + by;
                prop_assert_eq!(
                    written
                        .value
                        .as_deref()
                        .map(|b| ops::decode(b).unwrap().as_i64()),
                    Some(Some(next))
                );
                prop_assert_eq!(written.seq, model.change(l, &key, Some((next, 0))));
            }
            Op::DeleteSubtree { l, prefix } => {
                let full = format!("{}{}", level_prefix(l), prefix);
                let doomed: Vec<String> = model
                    .map
                    .keys()
                    .filter(|k| k.starts_with(&full))
                    .cloned()
                    .collect();
                let (written, _) = engine
                    .write(&write(OpKind::DeleteSubtree, l, prefix), now)
                    .unwrap();
                prop_assert_eq!(written.deleted, doomed.len() as u64);
                for key in doomed {
                    model.change(l, &key, None);
                }
            }
            Op::Advance { ms } => {
                now += ms;
                let gone = engine.expire_due(now);
                let due: Vec<(String, u64)> = model
                    .map
                    .iter()
                    .filter(|(_, (_, _, exp))| *exp != 0 && *exp <= now)
                    .map(|(k, (_, _, exp))| (k.clone(), *exp))
                    .collect();
                prop_assert_eq!(gone.len(), due.len());
                // The engine expires in deadline order.
                let mut due = due;
                due.sort_by_key(|(k, exp)| (*exp, k.clone()));
                for (key, _) in due {
                    let l = (0..LEVELS.len())
                        .find(|l| key.starts_with(&level_prefix(*l)))
                        .unwrap_or(0);
                    model.change(l, &key, None);
                }
            }
        }
        check(&engine, &model)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_engine_agrees_with_a_reference_map(ops in proptest::collection::vec(op(), 0..80)) {
        run(&ops)?;
    }
}
