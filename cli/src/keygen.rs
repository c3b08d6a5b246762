//! `canopy keygen`: a CURVE key pair for a broker or a client.

use anyhow::{bail, Context};
use canopy_client::CurveKeys;
use canopy_schemas::keys::format_key_file;
use std::io::Write;
use std::path::PathBuf;

/// Arguments of `canopy keygen`.
#[derive(clap::Args, Debug)]
pub struct KeygenArgs {
    /// Writes PATH.key (public + secret, mode 0600) and PATH.pub (public only).
    #[arg(long)]
    out: PathBuf,
    /// Replace existing files.
    #[arg(long)]
    force: bool,
}

/// Runs `canopy keygen`: prints the public key.
pub fn run(args: &KeygenArgs) -> anyhow::Result<()> {
    let key = args.out.with_extension("key");
    let public = args.out.with_extension("pub");
    for path in [&key, &public] {
        if path.exists() && !args.force {
            bail!("{} exists (use --force to replace it)", path.display());
        }
    }
    let (pub_z85, secret_z85) = CurveKeys::generate()?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(&key)
        .and_then(|mut f| f.write_all(format_key_file(&pub_z85, Some(&secret_z85)).as_bytes()))
        .with_context(|| format!("writing {}", key.display()))?;
    std::fs::write(&public, format_key_file(&pub_z85, None))
        .with_context(|| format!("writing {}", public.display()))?;
    println!("{pub_z85}");
    Ok(())
}
