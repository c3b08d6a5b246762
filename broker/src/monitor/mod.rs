//! Monitoring: the broker loop publishes its figures for an HTTP server on
//! its own thread (Prometheus `/metrics`, JSON endpoints, health) and sends
//! its own `$sys/` topics.
//!
//! The HTTP side never touches the loop's sockets: it raises a flag (one
//! atomic the loop reads each turn) and waits for the next set of figures
//! the loop hands over through a watch channel. Figures younger than
//! [`FRESH`] are served again, so however often anyone scrapes, the loop
//! builds them at most a few dozen times a second.

mod figures;
mod http;
mod process;
mod prometheus;
pub(crate) mod sys;

pub use figures::{ChildLink, Figures, PrefixCount, Readiness, SubscriptionFigures};
pub use http::{HttpError, HttpServer};

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Figures this young are served without asking the loop again.
pub const FRESH: Duration = Duration::from_millis(50);

/// Sections of the figures: the counters, histograms, stores and links are
/// always there; nodes and subscriptions only when asked (they grow with
/// the number of nodes).
pub mod want {
    /// Counters, histograms, stores, links, readiness.
    pub const BASE: u32 = 1;
    /// The node list.
    pub const NODES: u32 = 2;
    /// The subscription prefixes.
    pub const SUBSCRIPTIONS: u32 = 4;
}

/// What the loop and the HTTP thread share.
#[derive(Debug)]
pub struct Shared {
    wanted: AtomicU32,
    figures: tokio::sync::watch::Sender<Option<Arc<Figures>>>,
}

impl Default for Shared {
    fn default() -> Self {
        Shared {
            wanted: AtomicU32::new(0),
            figures: tokio::sync::watch::Sender::new(None),
        }
    }
}

impl Shared {
    /// The sections asked for since the last call (0: nobody is waiting).
    /// The loop calls this every turn: one atomic swap.
    pub fn take_wanted(&self) -> u32 {
        if self.wanted.load(Ordering::Relaxed) == 0 {
            return 0;
        }
        self.wanted.swap(0, Ordering::AcqRel)
    }

    /// Hands a new set of figures to whoever waits.
    pub fn publish(&self, figures: Figures) {
        self.figures.send_replace(Some(Arc::new(figures)));
    }

    /// Figures holding `sections`, no older than [`FRESH`], asked of the
    /// loop if need be; None when the loop did not answer within `patience`
    /// (it is stuck, or stopping).
    pub async fn fresh(&self, sections: u32, patience: Duration) -> Option<Arc<Figures>> {
        let mut rx = self.figures.subscribe();
        let usable = |f: &Option<Arc<Figures>>| {
            f.as_ref()
                .filter(|f| f.holds(sections) && f.age() <= FRESH)
                .cloned()
        };
        if let Some(f) = usable(&rx.borrow_and_update()) {
            return Some(f);
        }
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            self.wanted.fetch_or(sections, Ordering::AcqRel);
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {
                    if let Some(f) = usable(&rx.borrow_and_update()) {
                        return Some(f);
                    }
                }
                _ => return None,
            }
        }
    }
}
