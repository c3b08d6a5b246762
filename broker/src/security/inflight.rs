//! Requests each ROUTER connection has outstanding in the state plane
//! (writes waiting to be durable, snapshots queued or streaming), so one
//! connection cannot make the broker hold an unbounded amount of work.

use std::collections::HashMap;

/// Outstanding requests by ROUTER routing id.
#[derive(Debug, Default)]
pub struct InFlight {
    counts: HashMap<Vec<u8>, usize>,
}

impl InFlight {
    /// A request from `identity` is now outstanding.
    pub fn begin(&mut self, identity: &[u8]) {
        match self.counts.get_mut(identity) {
            Some(n) => *n += 1,
            None => {
                self.counts.insert(identity.to_vec(), 1);
            }
        }
    }

    /// A request from `identity` has been answered (or abandoned).
    pub fn end(&mut self, identity: &[u8]) {
        if let Some(n) = self.counts.get_mut(identity) {
            *n -= 1;
            if *n == 0 {
                self.counts.remove(identity);
            }
        }
    }

    /// Requests outstanding for `identity`.
    pub fn of(&self, identity: &[u8]) -> usize {
        self.counts.get(identity).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_identity_and_forgets_idle_ones() {
        let mut f = InFlight::default();
        f.begin(b"a");
        f.begin(b"a");
        f.begin(b"b");
        assert_eq!((f.of(b"a"), f.of(b"b"), f.of(b"c")), (2, 1, 0));
        f.end(b"a");
        f.end(b"a");
        f.end(b"a");
        assert_eq!(f.of(b"a"), 0);
        assert!(!f.counts.contains_key(&b"a"[..]));
    }
}
