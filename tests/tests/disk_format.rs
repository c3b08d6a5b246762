//! The data directory's disk format: a directory written by an earlier
//! release (kept under `tests/golden/`) still loads, and one written by a
//! newer canopy is refused without being touched.

mod common;

use common::*;
use std::path::Path;

fn golden(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("golden")
        .join(name)
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

fn get(broker: &BrokerProcess, group: &str, key: &str) -> String {
    let out = run_cli(&["--broker", &broker.endpoint(), "get", "--group", group, key]);
    assert!(
        out.status.success(),
        "get {group} {key}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn a_data_directory_of_disk_format_0_still_loads() {
    let mut broker =
        BrokerProcess::start_with_data(&[], |dir| copy_dir(&golden("disk-format-0"), dir));
    assert_eq!(get(&broker, "eu/fra/dc1", "threshold"), "20");
    assert_eq!(get(&broker, "eu/de", "threshold"), "10");
    assert_eq!(get(&broker, "eu", "greeting"), "\"hello\"");
    assert_eq!(get(&broker, "eu", "hits"), "5");
    assert!(broker
        .stderr()
        .contains("migrated to the current disk format"));
    // Stamped once: the next start reads format 1 and migrates nothing.
    broker.terminate();
    broker.restart();
    assert_eq!(get(&broker, "eu/fra/dc1", "threshold"), "20");
    assert!(!broker.stderr().contains("migrated"), "{}", broker.stderr());
}

#[test]
fn a_data_directory_of_a_newer_disk_format_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("state.redb");
    {
        let db = redb::Database::create(&db_path).unwrap();
        let tx = db.begin_write().unwrap();
        {
            let meta: redb::TableDefinition<&str, u64> = redb::TableDefinition::new("meta");
            let mut t = tx.open_table(meta).unwrap();
            t.insert("format", 99).unwrap();
            t.insert("seq", 7).unwrap();
        }
        tx.commit().unwrap();
    }
    let before = std::fs::read(&db_path).unwrap();
    let err = broker_refuses(dir.path(), &[]);
    assert!(
        err.contains("disk format 99") && err.contains("reads disk formats 0 to 1"),
        "{err}"
    );
    assert!(
        std::fs::read(&db_path).unwrap() == before,
        "the database changed"
    );
}
