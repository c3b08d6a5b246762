//! Wall-clock time as the wire carries it (TTL deadlines, header
//! timestamps), shared by broker and client so both round the same way.

use std::time::{SystemTime, UNIX_EPOCH};

fn since_epoch() -> std::time::Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn unix_ms() -> u64 {
    u64::try_from(since_epoch().as_millis()).unwrap_or(u64::MAX)
}

/// Microseconds since the Unix epoch.
pub fn unix_us() -> u64 {
    u64::try_from(since_epoch().as_micros()).unwrap_or(u64::MAX)
}

/// Nanoseconds since the Unix epoch.
pub fn unix_ns() -> u64 {
    u64::try_from(since_epoch().as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_agree() {
        let (ms, us, ns) = (unix_ms(), unix_us(), unix_ns());
        assert!(ms > 1_600_000_000_000);
        assert!(us / 1000 >= ms && us / 1000 - ms < 1000);
        assert!(ns / 1_000_000 >= ms);
    }
}
