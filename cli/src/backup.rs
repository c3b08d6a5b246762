//! `canopy backup`: a consistent copy of every store, taken by
//! the broker while it runs, written to a file `canopy-broker --restore`
//! reads.

use super::Cli;
use anyhow::{bail, Context};
use canopy_client::admin;
use canopy_schemas::control::Empty;
use canopy_schemas::{Reply, Request};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

/// Longest a backup may take when --timeout is shorter: copying millions
/// of keys takes longer than a heartbeat.
const MIN_BACKUP_WAIT: Duration = Duration::from_secs(120);

/// Arguments of `canopy backup`.
#[derive(clap::Args, Debug)]
pub struct BackupArgs {
    /// The file to write (replaced atomically when it exists).
    #[arg(long)]
    out: PathBuf,
    /// One JSON object for machines: {"file", "seq", "keys", "bytes"}.
    #[arg(long)]
    json: bool,
}

/// Runs `canopy backup`.
pub async fn run(cli: &Cli, args: &BackupArgs) -> anyhow::Result<()> {
    let curve = cli.curve()?;
    let wait = cli.timeout().max(MIN_BACKUP_WAIT);
    let reply = admin::request_with(
        &cli.broker,
        Request::Backup(Empty { id: 1 }),
        wait,
        curve.as_ref(),
    )
    .await
    .with_context(|| format!("asking {} for a backup", cli.broker))?;
    let Reply::Backup(backup) = reply else {
        bail!("unexpected reply to BACKUP: {reply:?}");
    };
    // Written beside the target and renamed: a half-written backup never
    // carries the final name.
    let partial = args.out.with_extension("partial");
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::File::create(&partial)?;
        file.write_all(&backup.data)?;
        file.sync_all()?;
        std::fs::rename(&partial, &args.out)
    };
    write().with_context(|| format!("writing {}", args.out.display()))?;
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "file": args.out.display().to_string(),
                "seq": backup.seq,
                "keys": backup.keys,
                "bytes": backup.data.len(),
            })
        );
    } else {
        println!(
            "backup of {} keys at sequence {} written to {} ({} bytes)",
            backup.keys,
            backup.seq,
            args.out.display(),
            backup.data.len()
        );
    }
    Ok(())
}
