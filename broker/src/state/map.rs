//! The master's key map. Every key lives with its value, sequence and expiry
//! in one shared allocation (a `triomphe::ThinArc`: an 8-byte pointer, one
//! reference count), and the ordered persistent set holds only that pointer.
//! Two allocations and a 48-byte map slot per key before (key box, value
//! box, sequence, expiry) cost about 63 bytes more per key. With the
//! sequence in the allocation too, a 16-key leaf is 160 bytes instead of 288
//! (160 instead of 320 from the allocator), and an insert hands back the
//! entry it replaced without a second lookup. A copy-on-write of a node
//! shared with a frozen view bumps reference counts instead of copying keys
//! and values.
//!
//! Comparisons read only the key. A branch node of the set keeps a clone of
//! some keys as separators; that clone shares its allocation, so it may hold
//! an overwritten value's bytes until the separator moves.

use super::Entry;
use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::ops::Bound;

/// The bit of the length tag that says the slot ends with an expiry.
const HAS_EXPIRY: u64 = 1;

/// Bytes of the sequence at the start of a slot.
const SEQ_LEN: usize = 8;

/// Slots up to this many bytes are laid out on the stack before they are
/// copied into their allocation.
const SMALL_SLOT: usize = 512;

/// One key, its sequence, value and expiry: `[seq][tag][key][value][expiry]`,
/// where the sequence is 8 bytes little-endian, the tag is
/// `key length << 1 | has expiry` as a LEB128 varint and the expiry (unix
/// ms, 8 bytes little-endian) is there only when it is set.
#[derive(Clone)]
struct Slot(triomphe::ThinArc<(), u8>);

impl Slot {
    fn new(key: &str, value: &[u8], seq: u64, expires_ms: u64) -> Slot {
        // A key's length is at most isize::MAX, so the shift cannot
        // overflow a u64.
        let tag = ((key.len() as u64) << 1) | u64::from(expires_ms != 0);
        let mut head = [0u8; SEQ_LEN + MAX_VARINT_LEN];
        head[..SEQ_LEN].copy_from_slice(&seq.to_le_bytes());
        let head_len = SEQ_LEN + put_varint(&mut head[SEQ_LEN..], tag);
        let expiry = expires_ms.to_le_bytes();
        let tail: &[u8] = if expires_ms != 0 { &expiry } else { &[] };
        let parts = [&head[..head_len], key.as_bytes(), value, tail];
        let len: usize = parts.iter().map(|part| part.len()).sum();
        // The parts are laid out in a buffer first and copied in one go:
        // triomphe fills from an iterator one byte at a time, which cost
        // more than the rest of building a slot. A small slot's buffer is
        // on the stack.
        if len <= SMALL_SLOT {
            let mut buf = [0u8; SMALL_SLOT];
            let mut at = 0;
            for part in parts {
                buf[at..at + part.len()].copy_from_slice(part);
                at += part.len();
            }
            Slot(triomphe::ThinArc::from_header_and_slice((), &buf[..len]))
        } else {
            Slot(triomphe::ThinArc::from_header_and_slice(
                (),
                &parts.concat(),
            ))
        }
    }

    fn bytes(&self) -> &[u8] {
        &self.0.slice
    }

    /// Where the key starts and ends, and whether an expiry follows.
    fn layout(&self) -> (usize, usize, bool) {
        let (tag, tag_len) = get_varint(&self.bytes()[SEQ_LEN..]);
        let start = SEQ_LEN + tag_len;
        // Both fit: the tag was made from a key's length in this slot.
        let end = start + (tag >> 1) as usize;
        (start, end, tag & HAS_EXPIRY != 0)
    }

    fn seq(&self) -> u64 {
        let mut raw = [0u8; SEQ_LEN];
        raw.copy_from_slice(&self.bytes()[..SEQ_LEN]);
        u64::from_le_bytes(raw)
    }

    fn key(&self) -> &str {
        let (start, end, _) = self.layout();
        let key = &self.bytes()[start..end];
        // SAFETY: `new` copied these bytes from a `&str`, and a slot is
        // never written after.
        unsafe { std::str::from_utf8_unchecked(key) }
    }

    fn value(&self) -> &[u8] {
        let (_, end, expiry) = self.layout();
        let bytes = self.bytes();
        let stop = if expiry { bytes.len() - 8 } else { bytes.len() };
        &bytes[end..stop]
    }

    fn expires_ms(&self) -> u64 {
        let (_, _, expiry) = self.layout();
        if !expiry {
            return 0;
        }
        let bytes = self.bytes();
        let mut raw = [0u8; 8];
        raw.copy_from_slice(&bytes[bytes.len() - 8..]);
        u64::from_le_bytes(raw)
    }
}

/// The most bytes a LEB128 varint of a u64 takes.
const MAX_VARINT_LEN: usize = 10;

/// Writes `n` as a varint at the start of `out` (at least
/// `MAX_VARINT_LEN` long) and returns its length.
fn put_varint(out: &mut [u8], mut n: u64) -> usize {
    let mut len = 0;
    while n >= 0x80 {
        out[len] = (n as u8) | 0x80;
        n >>= 7;
        len += 1;
    }
    out[len] = n as u8;
    len + 1
}

/// The varint at the start of `bytes` and its length. Only reads what
/// `put_varint` wrote.
fn get_varint(bytes: &[u8]) -> (u64, usize) {
    let mut n = 0u64;
    for (i, b) in bytes.iter().enumerate() {
        n |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return (n, i + 1);
        }
    }
    (n, bytes.len())
}

impl PartialEq for Slot {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Slot {}

impl PartialOrd for Slot {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Slot {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(other.key())
    }
}

impl Borrow<str> for Slot {
    fn borrow(&self) -> &str {
        self.key()
    }
}

/// One key's state, borrowed from a [`StateMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryRef<'a> {
    /// Full key.
    pub key: &'a str,
    /// MessagePack value (bytes for the opaque space).
    pub value: &'a [u8],
    /// Sequence of the write that set it.
    pub seq: u64,
    /// Unix ms at which it expires; 0 = never.
    pub expires_ms: u64,
}

impl<'a> EntryRef<'a> {
    fn of(slot: &'a Slot) -> Self {
        EntryRef {
            key: slot.key(),
            value: slot.value(),
            seq: slot.seq(),
            expires_ms: slot.expires_ms(),
        }
    }
}

/// What an insert replaced or a remove took out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replaced {
    /// Length of the old value.
    pub value_len: usize,
    /// Its expiry; 0 = never.
    pub expires_ms: u64,
    /// Its sequence.
    pub seq: u64,
}

impl Replaced {
    fn of(entry: EntryRef<'_>) -> Self {
        Replaced {
            value_len: entry.value.len(),
            expires_ms: entry.expires_ms,
            seq: entry.seq,
        }
    }
}

/// Every key, ordered. A persistent map: a clone is O(1) and is a frozen
/// view (what a snapshot or a backup reads) that later writes do not touch.
#[derive(Clone, Default)]
pub struct StateMap {
    slots: imbl::OrdSet<Slot>,
}

impl fmt::Debug for StateMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StateMap({} keys)", self.slots.len())
    }
}

impl StateMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keys held.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Forgets every key.
    pub fn clear(&mut self) {
        self.slots.clear();
    }

    /// The entry of `key`, expired or not.
    pub fn get(&self, key: &str) -> Option<EntryRef<'_>> {
        self.slots.get(key).map(EntryRef::of)
    }

    /// True when `key` is held, expired or not.
    pub fn contains_key(&self, key: &str) -> bool {
        self.slots.contains(key)
    }

    /// Sets `key`; returns what it held before.
    pub fn insert(
        &mut self,
        key: &str,
        value: &[u8],
        seq: u64,
        expires_ms: u64,
    ) -> Option<Replaced> {
        self.slots
            .insert(Slot::new(key, value, seq, expires_ms))
            .map(|old| Replaced::of(EntryRef::of(&old)))
    }

    /// Removes `key`; returns what it held.
    pub fn remove(&mut self, key: &str) -> Option<Replaced> {
        self.slots
            .remove(key)
            .map(|old| Replaced::of(EntryRef::of(&old)))
    }

    /// Every entry, in key order.
    pub fn iter(&self) -> impl Iterator<Item = EntryRef<'_>> {
        self.slots.iter().map(EntryRef::of)
    }

    /// Keys starting with `subtree`, after `cursor` (exclusive) when given.
    pub fn range_after<'a>(
        &'a self,
        subtree: &'a str,
        cursor: Option<&str>,
    ) -> impl Iterator<Item = EntryRef<'a>> + 'a {
        let start = match cursor {
            Some(c) => Bound::Excluded(c),
            None => Bound::Included(subtree),
        };
        self.slots
            .range::<_, str>((start, Bound::Unbounded))
            .map(EntryRef::of)
            .take_while(move |e| e.key.starts_with(subtree))
    }
}

impl FromIterator<(Box<str>, Entry)> for StateMap {
    fn from_iter<I: IntoIterator<Item = (Box<str>, Entry)>>(entries: I) -> Self {
        let slots = entries
            .into_iter()
            .map(|(key, e)| Slot::new(&key, &e.value, e.seq, e.expires_ms))
            .collect();
        StateMap { slots }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_gives_back_its_key_value_and_expiry() {
        let long_key = "k".repeat(300); // a two-byte length tag
        for key in ["", "/default/:a", long_key.as_str()] {
            for value in [&b""[..], b"\x01", &[7u8; 200][..]] {
                for (seq, expires_ms) in [(1, 0), (u64::MAX, 1), (0x0102_0304, u64::MAX)] {
                    let slot = Slot::new(key, value, seq, expires_ms);
                    assert_eq!(slot.key(), key);
                    assert_eq!(slot.value(), value);
                    assert_eq!(slot.seq(), seq);
                    assert_eq!(slot.expires_ms(), expires_ms);
                }
            }
        }
    }

    #[test]
    fn varints_round_trip() {
        for n in [0, 1, 0x7f, 0x80, 0x3fff, 0x4000, u64::MAX >> 1, u64::MAX] {
            let mut out = [0u8; MAX_VARINT_LEN];
            let len = put_varint(&mut out, n);
            assert_eq!(get_varint(&out[..len]), (n, len));
        }
    }

    #[test]
    fn insert_replaces_value_and_expiry_and_reports_the_old() {
        let mut map = StateMap::new();
        assert_eq!(map.insert("/s/:a", b"one", 1, 50), None);
        let frozen = map.clone();
        let old = map.insert("/s/:a", b"three", 2, 0);
        assert_eq!(
            old,
            Some(Replaced {
                value_len: 3,
                expires_ms: 50,
                seq: 1
            })
        );
        let now = map.get("/s/:a").unwrap();
        assert_eq!((now.value, now.seq, now.expires_ms), (&b"three"[..], 2, 0));
        // The frozen view still holds the old entry.
        let then = frozen.get("/s/:a").unwrap();
        assert_eq!(
            (then.value, then.seq, then.expires_ms),
            (&b"one"[..], 1, 50)
        );
        assert_eq!(map.remove("/s/:a").map(|r| r.seq), Some(2));
        assert!(map.len() == 0 && !map.contains_key("/s/:a"));
        assert_eq!(frozen.len(), 1);
    }

    #[test]
    fn range_after_stays_inside_the_subtree() {
        let map: StateMap = ["/a/:1", "/a/:2", "/a/:3", "/b/:1"]
            .into_iter()
            .map(|k| {
                (
                    Box::<str>::from(k),
                    Entry {
                        value: b"v"[..].into(),
                        seq: 1,
                        expires_ms: 0,
                    },
                )
            })
            .collect();
        let keys = |cursor| {
            map.range_after("/a/", cursor)
                .map(|e| e.key.to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(keys(None), ["/a/:1", "/a/:2", "/a/:3"]);
        assert_eq!(keys(Some("/a/:1")), ["/a/:2", "/a/:3"]);
        assert_eq!(map.iter().count(), 4);
    }
}
