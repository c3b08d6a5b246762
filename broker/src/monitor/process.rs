//! The broker process as Prometheus' process collectors describe it:
//! resident memory, CPU time, file descriptors (read from /proc on Linux;
//! absent elsewhere).

/// What the process uses now; `None` where the platform does not say.
#[derive(Debug, Default, Clone, Copy)]
pub struct ProcessFigures {
    /// Resident memory, bytes.
    pub resident_bytes: Option<u64>,
    /// User and system CPU time, seconds.
    pub cpu_seconds: Option<f64>,
    /// Open file descriptors.
    pub open_fds: Option<u64>,
    /// The descriptor limit (soft).
    pub max_fds: Option<u64>,
    /// Threads.
    pub threads: Option<u64>,
}

/// A `Key:   value kB` line of /proc/self/status, as a number.
fn status_field(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..].split_whitespace().next()?.parse().ok()
}

/// Reads the figures of this process.
pub fn read() -> ProcessFigures {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    // schedstat's first field: nanoseconds on a CPU (no clock-tick unit to
    // look up).
    let cpu_seconds = std::fs::read_to_string("/proc/self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map(|ns| ns as f64 / 1e9);
    ProcessFigures {
        resident_bytes: status_field(&status, "VmRSS:").map(|kb| kb.saturating_mul(1024)),
        cpu_seconds,
        open_fds: std::fs::read_dir("/proc/self/fd")
            .ok()
            .map(|d| d.count() as u64),
        max_fds: rlimit::getrlimit(rlimit::Resource::NOFILE)
            .ok()
            .map(|(soft, _)| soft),
        threads: status_field(&status, "Threads:"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(target_os = "linux")]
    fn the_process_reads_itself() {
        let p = super::read();
        assert!(p.resident_bytes.unwrap_or(0) > 0);
        assert!(p.open_fds.unwrap_or(0) > 0);
        assert!(p.threads.unwrap_or(0) >= 1);
        assert!(p.cpu_seconds.is_some());
    }
}
