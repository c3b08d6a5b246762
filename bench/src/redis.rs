//! The Redis reference for `--state --redis`: redis-server with its
//! append-only file (`appendfsync everysec`, which acknowledges before the
//! fsync, and `always`, which acknowledges after it, as canopy does), driven
//! by redis-benchmark with 4 clients and 64 commands pipelined each: SET of
//! 100-byte values over a million keys, in the same run as canopy's writes.

use anyhow::Context as _;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// redis-server and redis-benchmark.
#[derive(Debug, Clone)]
pub struct Redis {
    server: PathBuf,
    benchmark: PathBuf,
}

/// The two binaries from `arg`: a folder holding both, or `auto` for the
/// ones on PATH.
pub fn binaries(arg: &str) -> anyhow::Result<Redis> {
    let dirs: Vec<PathBuf> = if arg == "auto" {
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()).collect()
    } else {
        vec![PathBuf::from(arg)]
    };
    let find = |name: &str| {
        dirs.iter()
            .map(|d| d.join(name))
            .find(|p| p.is_file())
            .with_context(|| {
                format!("no {name} in {arg} (Debian: apt-get install redis-server redis-tools)")
            })
    };
    Ok(Redis {
        server: find("redis-server")?,
        benchmark: find("redis-benchmark")?,
    })
}

/// A running redis-server, killed on drop.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Redis {
    /// SET/s with `appendfsync` (`everysec` or `always`) over `requests`.
    pub fn set_rate(&self, dir: &Path, appendfsync: &str, requests: u64) -> anyhow::Result<f64> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let data = dir.join(format!("redis-{appendfsync}"));
        std::fs::create_dir_all(&data)?;
        let _server = Server(
            Command::new(&self.server)
                .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
                .args(["--appendonly", "yes", "--appendfsync", appendfsync])
                .args(["--save", "", "--daemonize", "no"])
                .arg("--dir")
                .arg(&data)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .with_context(|| format!("starting {}", self.server.display()))?,
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            anyhow::ensure!(Instant::now() < deadline, "redis-server did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = Command::new(&self.benchmark)
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .args(["-c", "4", "-P", "64", "-d", "100", "-r", "1000000"])
            .args(["-t", "set", "-n", &requests.to_string(), "--csv"])
            .output()
            .context("running redis-benchmark")?;
        anyhow::ensure!(
            out.status.success(),
            "redis-benchmark failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        parse_csv_rate(&String::from_utf8_lossy(&out.stdout))
    }
}

/// The requests/s of the SET line of `redis-benchmark --csv`
/// (`"SET","458715.59",...`).
fn parse_csv_rate(csv: &str) -> anyhow::Result<f64> {
    csv.lines()
        .find(|l| l.starts_with("\"SET"))
        .and_then(|l| l.split(',').nth(1))
        .and_then(|v| v.trim_matches('"').parse().ok())
        .with_context(|| format!("no SET rate in redis-benchmark's output: {csv}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_set_rate_is_read_from_the_csv() {
        let csv = "\"test\",\"rps\",\"avg_latency_ms\"\n\"SET\",\"458715.59\",\"0.5\"\n";
        assert_eq!(parse_csv_rate(csv).unwrap(), 458715.59);
        assert!(parse_csv_rate("nothing").is_err());
    }
}
