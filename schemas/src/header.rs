//! The event header: the second frame of every event on the XPUB.
//!
//! A fixed binary layout (big-endian) so that the broker can check it, and build
//! one for a plain publisher, without decoding anything:
//!
//! ```text
//! 0      magic 0xCA
//! 1      header version (1)
//! 2      flags: bit 0 = payload is MessagePack, bit 1 = header filled in by the broker
//! 3      L = length of the publisher field (0..=255)
//! 4..12  sequence: per (publisher, topic frame), starting at 1; 0 = unsequenced
//! 12..20 timestamp: publisher's clock, nanoseconds since the Unix epoch
//! 20..   publisher: the publishing node's path, UTF-8, L bytes
//! ```

/// First byte of every header.
pub const HEADER_MAGIC: u8 = 0xCA;
/// Version of the header layout.
pub const HEADER_VERSION: u8 = 1;
/// Length of the fixed part of the header.
pub const HEADER_FIXED_LEN: usize = 20;
/// Flag: the payload is MessagePack.
pub const FLAG_MSGPACK: u8 = 0b01;
/// Flag: the publisher sent `[topic, payload]` and the broker built this header.
pub const FLAG_BROKER_FILLED: u8 = 0b10;

/// Why a header frame was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// Shorter than the fixed part or than the publisher length it announces.
    #[error("event header has {actual} bytes, expected {expected}")]
    Length {
        /// Bytes the header should have.
        expected: usize,
        /// Bytes it has.
        actual: usize,
    },
    /// Wrong magic byte.
    #[error("event header magic is {0:#04x}, expected 0xca")]
    Magic(u8),
    /// A header version this build does not know.
    #[error("event header version {0} is not supported (this build speaks {HEADER_VERSION})")]
    Version(u8),
    /// The publisher field is not UTF-8.
    #[error("event header publisher is not UTF-8")]
    Publisher,
    /// The publisher name is longer than 255 bytes.
    #[error("publisher name is longer than 255 bytes")]
    PublisherTooLong,
}

/// Decoded event header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventHeader {
    /// Flag bits, see `FLAG_*`.
    pub flags: u8,
    /// Per (publisher, topic) sequence; 0 when the publisher does not number.
    pub sequence: u64,
    /// Publisher clock in nanoseconds since the Unix epoch.
    pub timestamp_ns: u64,
    /// Publishing node's path; empty for anonymous publishers.
    pub publisher: String,
}

impl EventHeader {
    /// True when the payload is MessagePack.
    pub fn is_msgpack(&self) -> bool {
        self.flags & FLAG_MSGPACK != 0
    }

    /// Encodes the header frame.
    pub fn encode(&self) -> Result<Vec<u8>, HeaderError> {
        let publisher = self.publisher.as_bytes();
        let len = u8::try_from(publisher.len()).map_err(|_| HeaderError::PublisherTooLong)?;
        let mut out = Vec::with_capacity(HEADER_FIXED_LEN + publisher.len());
        out.extend_from_slice(&[HEADER_MAGIC, HEADER_VERSION, self.flags, len]);
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&self.timestamp_ns.to_be_bytes());
        out.extend_from_slice(publisher);
        Ok(out)
    }

    /// Decodes a header frame.
    pub fn decode(frame: &[u8]) -> Result<Self, HeaderError> {
        check(frame)?;
        let mut seq = [0u8; 8];
        seq.copy_from_slice(&frame[4..12]);
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&frame[12..20]);
        let publisher = std::str::from_utf8(&frame[HEADER_FIXED_LEN..])
            .map_err(|_| HeaderError::Publisher)?
            .to_owned();
        Ok(EventHeader {
            flags: frame[2],
            sequence: u64::from_be_bytes(seq),
            timestamp_ns: u64::from_be_bytes(ts),
            publisher,
        })
    }
}

/// The broker's hot-path check: structure only, no allocation.
pub fn check(frame: &[u8]) -> Result<(), HeaderError> {
    if frame.len() < HEADER_FIXED_LEN {
        return Err(HeaderError::Length {
            expected: HEADER_FIXED_LEN,
            actual: frame.len(),
        });
    }
    if frame[0] != HEADER_MAGIC {
        return Err(HeaderError::Magic(frame[0]));
    }
    if frame[1] != HEADER_VERSION {
        return Err(HeaderError::Version(frame[1]));
    }
    let expected = HEADER_FIXED_LEN + frame[3] as usize;
    if frame.len() != expected {
        return Err(HeaderError::Length {
            expected,
            actual: frame.len(),
        });
    }
    Ok(())
}

/// Header the broker puts on a `[topic, payload]` message from a plain publisher.
pub fn broker_filled(timestamp_ns: u64) -> [u8; HEADER_FIXED_LEN] {
    let mut out = [0u8; HEADER_FIXED_LEN];
    out[0] = HEADER_MAGIC;
    out[1] = HEADER_VERSION;
    out[2] = FLAG_BROKER_FILLED;
    out[12..20].copy_from_slice(&timestamp_ns.to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_checks() {
        let h = EventHeader {
            flags: FLAG_MSGPACK,
            sequence: 7,
            timestamp_ns: 123,
            publisher: "eu/fra/s1".into(),
        };
        let bytes = h.encode().unwrap();
        assert_eq!(EventHeader::decode(&bytes).unwrap(), h);
        assert!(check(&bytes[..bytes.len() - 1]).is_err());
        let mut bad = bytes.clone();
        bad[0] = 0;
        assert_eq!(check(&bad), Err(HeaderError::Magic(0)));
        bad = bytes.clone();
        bad[1] = 9;
        assert_eq!(check(&bad), Err(HeaderError::Version(9)));
        let filled = broker_filled(5);
        let d = EventHeader::decode(&filled).unwrap();
        assert_eq!(d.flags, FLAG_BROKER_FILLED);
        assert_eq!(d.timestamp_ns, 5);
        assert!(EventHeader {
            publisher: "x".repeat(256),
            ..Default::default()
        }
        .encode()
        .is_err());
    }
}
