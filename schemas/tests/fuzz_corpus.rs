//! Replays every input of the fuzz corpus (`fuzz/corpus/<target>/`) and every
//! crash the fuzzer found (`fuzz/regressions/<target>/`) through the same
//! entry points the `cargo fuzz` targets use, on the stable toolchain.
//!
//! `CANOPY_WRITE_SEEDS=1 cargo test -p canopy-schemas --test fuzz_corpus`
//! (re)writes the seed inputs, built from the encoders, into the corpus.

use canopy_schemas::control::{Empty, Hello, NodesQuery, Ping};
use canopy_schemas::fuzzing;
use canopy_schemas::state::{KvMsg, OpKind, SeqsQuery, SnapshotQuery, Write};
use canopy_schemas::{Address, EventHeader, GroupPath, NodePath, Reply, Request};
use std::path::{Path, PathBuf};

type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 5] = [
    ("topic", fuzzing::topic),
    ("header", fuzzing::header),
    ("control", fuzzing::control),
    ("chp", fuzzing::chp),
    ("keys", fuzzing::keys),
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// Frames in the fuzz input format: a length byte before each frame.
fn framed(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in parts {
        let p = &p[..p.len().min(255)];
        out.push(p.len() as u8);
        out.extend_from_slice(p);
    }
    out
}

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let eu = GroupPath::parse("eu/fra").unwrap();
    let node = NodePath::parse("eu/fra/s1").unwrap();
    match target {
        "topic" => vec![
            canopy_schemas::topic::encode_topic(&Address::Group(eu.clone()), "temp").unwrap(),
            canopy_schemas::topic::encode_topic(&Address::Node(node.clone()), "cmd").unwrap(),
            canopy_schemas::topic::encode_topic(&Address::Plain, "alerts").unwrap(),
            b"@:t".to_vec(),
            b"eu/fra/s1".to_vec(),
        ],
        "header" => vec![EventHeader {
            flags: 1,
            sequence: 7,
            timestamp_ns: 1_700_000_000_000_000_000,
            publisher: "eu/fra/s1".into(),
        }
        .encode()
        .unwrap()],
        "control" => {
            let requests = [
                Request::Hello(Hello {
                    id: 1,
                    protocol: 1,
                    protocol_max: None,
                    name: "s1".into(),
                    group: "eu/fra".into(),
                    client_version: "x".into(),
                }),
                Request::Ping(Ping {
                    id: 2,
                    dropped: 0,
                    subscriptions: 3,
                    link: None,
                }),
                Request::Stats(Empty { id: 3 }),
                Request::Nodes(NodesQuery {
                    id: 4,
                    group: Some("eu".into()),
                }),
                Request::Write(Write {
                    id: 5,
                    store: "default".into(),
                    level: "eu".into(),
                    node: false,
                    key: "k".into(),
                    op: OpKind::Put,
                    value: Some(vec![0x2a]),
                    by: None,
                    expected_seq: None,
                    ttl_ms: Some(1000),
                }),
                Request::Seqs(SeqsQuery {
                    id: 6,
                    levels: vec!["/default/eu:".into()],
                }),
                Request::Snapshot(SnapshotQuery {
                    id: 7,
                    subtree: "/default/".into(),
                    lseqs: true,
                    have: None,
                }),
            ];
            let mut out: Vec<Vec<u8>> = requests
                .iter()
                .map(|r| {
                    let [a, b] = r.encode().unwrap();
                    framed(&[&a, &b])
                })
                .collect();
            let [a, b] = Reply::error(9, canopy_schemas::ErrorCode::Malformed, "x")
                .encode()
                .unwrap();
            out.push(framed(&[&a, &b]));
            out
        }
        "chp" => {
            let msg = KvMsg {
                key: b"/default/eu:k".to_vec(),
                sequence: 42,
                uuid: vec![1; 16],
                properties: [("ttl".to_owned(), "1000".to_owned())].into(),
                body: vec![0x2a],
            };
            let f = msg.encode();
            vec![
                framed(&[&f[0], &f[1], &f[2], &f[3], &f[4]]),
                b"/default/eu/fra/s1!k".to_vec(),
                b"ttl=5\nid=3\n".to_vec(),
            ]
        }
        "keys" => vec![
            canopy_schemas::keys::format_key_file(
                "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7",
                Some("JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"),
            )
            .into_bytes(),
            b"# clients\nalice rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\n".to_vec(),
        ],
        _ => Vec::new(),
    }
}

fn inputs(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn every_corpus_and_regression_input_is_handled() {
    let root = fuzz_dir();
    if std::env::var_os("CANOPY_WRITE_SEEDS").is_some() {
        for (target, _) in TARGETS {
            let dir = root.join("corpus").join(target);
            std::fs::create_dir_all(&dir).unwrap();
            for (i, seed) in seeds(target).iter().enumerate() {
                std::fs::write(dir.join(format!("seed-{i}")), seed).unwrap();
            }
        }
    }
    for (target, run) in TARGETS {
        let corpus = inputs(&root.join("corpus").join(target));
        assert!(
            corpus.len() >= seeds(target).len(),
            "fuzz/corpus/{target} is missing its seeds"
        );
        let regressions = inputs(&root.join("regressions").join(target));
        for (path, bytes) in corpus.iter().chain(&regressions) {
            let outcome = std::panic::catch_unwind(|| run(bytes));
            assert!(outcome.is_ok(), "{} panicked", path.display());
        }
    }
}

#[test]
fn seeds_are_accepted_by_their_decoders() {
    // The seeds are valid input: they exercise the accepting paths (and the
    // round-trip checks), not only the rejections.
    for seed in seeds("control") {
        let parts = fuzzing::frames(&seed);
        assert!(
            Request::decode(&parts).is_ok() || Reply::decode(&parts).is_ok(),
            "{seed:?}"
        );
    }
    let chp = &seeds("chp")[0];
    assert!(KvMsg::decode(&fuzzing::frames(chp)).is_ok());
    for seed in seeds("topic").iter().take(3) {
        assert!(canopy_schemas::topic::decode_topic(seed).is_ok());
    }
    assert!(EventHeader::decode(&seeds("header")[0]).is_ok());
}
