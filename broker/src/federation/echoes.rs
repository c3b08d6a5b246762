//! Echo suppression: an event a child sends up comes back down when the
//! child itself subscribes to it; a fingerprint of what went up drops the
//! echo, so nobody below sees a message twice.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, VecDeque};
use std::hash::Hasher;

/// Fingerprints of events sent up, remembered until their echo returns.
const MAX_ECHOES: usize = 1 << 20;

/// Events sent up whose echo may come back down.
#[derive(Default)]
pub(super) struct Echoes {
    pending: HashMap<u64, u32>,
    order: VecDeque<u64>,
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

    pub(super) fn sent(&mut self, fp: u64) {
        if self.order.len() >= MAX_ECHOES {
            if let Some(old) = self.order.pop_front() {
                self.forget(old);
            }
        }
        self.order.push_back(fp);
        *self.pending.entry(fp).or_insert(0) += 1;
    }

    pub(super) fn forget(&mut self, fp: u64) {
        if let Some(n) = self.pending.get_mut(&fp) {
            *n -= 1;
            if *n == 0 {
                self.pending.remove(&fp);
            }
        }
    }

    /// True (and forgotten) when `fp` is the echo of something sent up.
    pub(super) fn is_echo(&mut self, fp: u64) -> bool {
        let echo = self.pending.contains_key(&fp);
        if echo {
            self.forget(fp);
        }
        echo
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_echo_is_dropped_once() {
        let mut e = Echoes::default();
        let fp = Echoes::fingerprint(&[b"@a/:t", b"h", b"p"]);
        e.sent(fp);
        e.sent(fp);
        assert!(e.is_echo(fp));
        assert!(e.is_echo(fp));
        assert!(!e.is_echo(fp));
        assert_ne!(fp, Echoes::fingerprint(&[b"@a/:t", b"hp", b""]));
    }
}
