//! Echo suppression: an event a child sends up comes back down when the
//! child itself subscribes to it; a fingerprint of what went up drops the
//! echo, so nobody below sees a message twice.
//!
//! An echo comes back within a round trip, or never (when the child does
//! not subscribe to what it sent). A fingerprint is therefore kept for a
//! window only: otherwise one whose echo never comes would drop, for ever,
//! an identical event from above (anonymous publishers with a constant
//! header send identical frames).

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, VecDeque};
use std::hash::Hasher;
use std::time::{Duration, Instant};

/// Fingerprints of events sent up, remembered until their echo returns.
const MAX_ECHOES: usize = 1 << 20;

/// How long an echo is waited for.
pub(super) const ECHO_WINDOW: Duration = Duration::from_secs(2);

/// Events sent up whose echo may come back down.
#[derive(Default)]
pub(super) struct Echoes {
    /// Per fingerprint, when each copy still awaited was sent (oldest first).
    pending: HashMap<u64, VecDeque<Instant>>,
    /// Every copy sent, oldest first, for the window.
    order: VecDeque<(Instant, u64)>,
}

impl Echoes {
    pub(super) fn fingerprint(frames: &[&[u8]]) -> u64 {
        let mut h = DefaultHasher::new();
        for f in frames {
            h.write_usize(f.len());
            h.write(f);
        }
        h.finish()
    }

    /// Remembers a copy of `fp` sent up at `now`.
    pub(super) fn sent(&mut self, fp: u64, now: Instant) {
        self.expire(now);
        if self.order.len() >= MAX_ECHOES {
            if let Some((at, old)) = self.order.pop_front() {
                self.drop_copy(old, at);
            }
        }
        self.order.push_back((now, fp));
        self.pending.entry(fp).or_default().push_back(now);
    }

    /// Forgets the newest copy of `fp` (it could not be sent after all).
    pub(super) fn forget(&mut self, fp: u64) {
        if let Some(copies) = self.pending.get_mut(&fp) {
            copies.pop_back();
            if copies.is_empty() {
                self.pending.remove(&fp);
            }
        }
    }

    /// Forgets the copy of `fp` sent at `at`, unless its echo took it.
    fn drop_copy(&mut self, fp: u64, at: Instant) {
        if let Some(copies) = self.pending.get_mut(&fp) {
            if copies.front() == Some(&at) {
                copies.pop_front();
            }
            if copies.is_empty() {
                self.pending.remove(&fp);
            }
        }
    }

    /// Forgets copies sent longer ago than the window.
    fn expire(&mut self, now: Instant) {
        while let Some(&(at, fp)) = self.order.front() {
            if now.saturating_duration_since(at) < ECHO_WINDOW {
                break;
            }
            self.order.pop_front();
            self.drop_copy(fp, at);
        }
    }

    /// True (and that copy forgotten) when `fp` is the echo of something
    /// sent up within the window.
    pub(super) fn is_echo(&mut self, fp: u64, now: Instant) -> bool {
        self.expire(now);
        let Some(copies) = self.pending.get_mut(&fp) else {
            return false;
        };
        copies.pop_front();
        if copies.is_empty() {
            self.pending.remove(&fp);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_echo_is_dropped_once() {
        let mut e = Echoes::default();
        let now = Instant::now();
        let fp = Echoes::fingerprint(&[b"@a/:t", b"h", b"p"]);
        e.sent(fp, now);
        e.sent(fp, now);
        assert!(e.is_echo(fp, now));
        assert!(e.is_echo(fp, now));
        assert!(!e.is_echo(fp, now));
        assert_ne!(fp, Echoes::fingerprint(&[b"@a/:t", b"hp", b""]));
    }

    /// Finding 9: an event sent up whose echo never came (the child did not
    /// subscribe to it) used to drop an identical event from above for ever.
    #[test]
    fn an_identical_event_from_above_after_the_window_is_not_an_echo() {
        let mut e = Echoes::default();
        let t = Instant::now();
        let fp = Echoes::fingerprint(&[b"@a/:t", &[0u8; 20], b"same"]);
        e.sent(fp, t);
        assert!(!e.is_echo(fp, t + ECHO_WINDOW + Duration::from_millis(1)));
        // Counts stay right when an echo came back before its expiry.
        e.sent(fp, t);
        e.sent(fp, t + Duration::from_secs(1));
        assert!(e.is_echo(fp, t + Duration::from_millis(10)));
        let later = t + ECHO_WINDOW + Duration::from_millis(500);
        assert!(e.is_echo(fp, later), "the second one is still awaited");
        assert!(!e.is_echo(fp, later));
        assert!(e.pending.is_empty());
    }
}
