//! The workloads of the lossless search and the paced schedule their
//! trials keep, shared by the ZeroMQ trials (`lossless`) and NATS's
//! (`nats`).

use std::time::{Duration, Instant};

/// One workload of the table.
#[derive(Debug, Clone, Copy)]
pub struct Workload {
    /// Its name in tables and JSON.
    pub name: &'static str,
    /// Payload bytes.
    pub payload: usize,
    /// Subscribers.
    pub subscribers: usize,
    /// Each subscriber holds its own prefix and the publisher cycles
    /// through them (each message reaches one subscriber); otherwise every
    /// subscriber receives every message.
    pub by_prefix: bool,
}

/// The workloads, as the issue measured them.
pub const WORKLOADS: [Workload; 4] = [
    Workload {
        name: "64B 1->1",
        payload: 64,
        subscribers: 1,
        by_prefix: false,
    },
    Workload {
        name: "64B 1->4",
        payload: 64,
        subscribers: 4,
        by_prefix: false,
    },
    Workload {
        name: "1KiB 1->4",
        payload: 1024,
        subscribers: 4,
        by_prefix: false,
    },
    Workload {
        name: "64B 1->16 by prefix",
        payload: 64,
        subscribers: 16,
        by_prefix: true,
    },
];

impl Workload {
    /// Distinct measured topics: one per subscriber by prefix, else one.
    pub fn groups(&self) -> usize {
        if self.by_prefix {
            self.subscribers
        } else {
            1
        }
    }

    /// Messages subscriber `i` should receive of `total` published (by
    /// prefix the publisher cycles through the subscribers).
    pub fn expected(&self, i: usize, total: u64) -> u64 {
        if !self.by_prefix {
            return total;
        }
        let (i, n) = (i as u64, self.subscribers as u64);
        total / n + u64::from(i < total % n)
    }

    /// Messages all subscribers together should receive.
    pub fn expected_total(&self, total: u64) -> u64 {
        (0..self.subscribers).map(|i| self.expected(i, total)).sum()
    }
}

/// A paced publishing schedule: `rate` messages a second for `seconds`.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    start: Instant,
    rate: f64,
    seconds: f64,
    total: u64,
}

impl Schedule {
    /// Messages the schedule publishes in all.
    pub fn total(rate: f64, seconds: f64) -> u64 {
        (rate * seconds).max(1.0) as u64
    }

    /// A schedule starting now.
    pub fn start(rate: f64, seconds: f64) -> Self {
        Schedule {
            start: Instant::now(),
            rate,
            seconds,
            total: Self::total(rate, seconds),
        }
    }

    /// Messages due by now.
    pub fn due(&self) -> u64 {
        ((self.start.elapsed().as_secs_f64() * self.rate) as u64).min(self.total)
    }

    /// True when publishing took clearly longer than the schedule: the rate
    /// was not offered (a client that blocks instead of dropping slows down
    /// to what the system takes), so the trial does not count as lossless.
    pub fn fell_behind(&self) -> bool {
        let took: Duration = self.start.elapsed();
        took.as_secs_f64() > self.seconds * 1.05 + 0.05
    }
}
