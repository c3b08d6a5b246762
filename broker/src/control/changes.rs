//! Presence changes (joins, leaves, child links up and down) recorded for
//! the `$sys/` topics, which the loop drains every turn.

use std::collections::VecDeque;

/// Presence changes kept between two loop turns at most (a burst beyond
/// it is counted in `sys_messages_dropped`, not sent on `$sys/`).
const MAX_PENDING: usize = 4096;

/// A change the loop reports on `$sys/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A node joined (`reason`: `hello` or `replaced`, a new connection).
    Joined {
        /// Node path.
        path: String,
        /// Client version from HELLO.
        client_version: String,
        /// Why.
        reason: &'static str,
    },
    /// A node left (`reason`: `bye` or `expired`).
    Left {
        /// Node path.
        path: String,
        /// Why.
        reason: &'static str,
    },
    /// A child broker's link came up (its first PING with a link report).
    ChildUp {
        /// The child's node path.
        path: String,
    },
    /// A child broker's link went down (it left or expired).
    ChildDown {
        /// The child's node path.
        path: String,
        /// Why.
        reason: &'static str,
    },
}

/// Presence changes waiting for the loop to send them.
#[derive(Debug, Default)]
pub struct Changes {
    pending: VecDeque<Change>,
    /// Changes dropped because the queue was full.
    pub dropped: u64,
}

impl Changes {
    /// Records a change.
    pub fn push(&mut self, event: Change) {
        if self.pending.len() >= MAX_PENDING {
            self.dropped = self.dropped.saturating_add(1);
            return;
        }
        self.pending.push_back(event);
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    pub fn drain(&mut self) -> std::collections::vec_deque::Drain<'_, Change> {
        self.pending.drain(..)
    }
}
