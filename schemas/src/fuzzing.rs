//! Entry points for the `cargo fuzz` targets in `fuzz/`, shared with the
//! corpus regression test so every input the fuzzer ever kept is replayed by
//! the ordinary test suite on a stable toolchain.
//!
//! Each function must never panic on any input. Where a decoder accepts an
//! input, the value must also survive an encode → decode round trip: a frame
//! the broker accepts and then re-emits differently would be a protocol bug.

use crate::control::{self, Reply, Request};
use crate::header::{self, EventHeader};
use crate::state::{self, KvMsg, Level};
use crate::topic::{self, GroupPath, NodePath};

/// Splits fuzz input into frames: each frame is a length byte followed by
/// that many bytes (the last one cut short at the end of the input).
pub fn frames(data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let n = (len as usize).min(tail.len());
        out.push(&tail[..n]);
        rest = &tail[n..];
    }
    out
}

/// Topic frames, group and node paths, plain topics.
pub fn topic(data: &[u8]) {
    if let Ok((address, user_topic)) = topic::decode_topic(data) {
        let again = topic::encode_topic(&address, &user_topic)
            .expect("a decoded topic frame encodes again");
        assert_eq!(again, data, "topic frame round trip");
    }
    let text = String::from_utf8_lossy(data);
    let _ = topic::check_plain_topic(&text);
    if let Ok(g) = GroupPath::parse(&text) {
        assert_eq!(GroupPath::parse(&g.to_string()).ok(), Some(g.clone()));
        let _ = g.subtree_prefix();
        let _ = g.ancestors_and_self().count();
    }
    if let Ok(n) = NodePath::parse(&text) {
        assert_eq!(NodePath::parse(&n.to_string()).ok(), Some(n));
    }
}

/// The 20-byte (plus publisher) event header.
pub fn header(data: &[u8]) {
    let checked = header::check(data).is_ok();
    match EventHeader::decode(data) {
        Ok(h) => {
            assert!(checked, "decode accepted what check refused");
            assert_eq!(h.encode().ok().as_deref(), Some(data), "header round trip");
        }
        // check() looks at structure only; decode also wants a UTF-8 publisher.
        Err(_) => {
            assert!(!checked || std::str::from_utf8(&data[header::HEADER_FIXED_LEN..]).is_err())
        }
    }
}

/// Control requests and replies on the ROUTER: `[NAME, BODY]`.
pub fn control(data: &[u8]) {
    let parts = frames(data);
    if let Some(body) = parts.get(1) {
        let _ = control::peek_envelope(body);
    }
    if let Ok(request) = Request::decode(&parts) {
        let encoded = request.encode().expect("a decoded request encodes");
        let again: Vec<&[u8]> = encoded.iter().map(Vec::as_slice).collect();
        assert_eq!(
            Request::decode(&again).ok(),
            Some(request),
            "request round trip"
        );
    }
    if let Ok(reply) = Reply::decode(&parts) {
        let encoded = reply.encode().expect("a decoded reply encodes");
        let again: Vec<&[u8]> = encoded.iter().map(Vec::as_slice).collect();
        assert_eq!(Reply::decode(&again).ok(), Some(reply), "reply round trip");
    }
}

/// The CHP path: KVSET/KVPUB/KVSYNC messages, their properties, state keys
/// and level paths.
pub fn chp(data: &[u8]) {
    let parts = frames(data);
    if let Ok(msg) = KvMsg::decode(&parts) {
        let again = KvMsg::decode(&msg.encode()).expect("a decoded KvMsg decodes again");
        assert_eq!(again, msg, "KvMsg round trip");
        if let Ok(key) = std::str::from_utf8(&msg.key) {
            let _ = state::parse_key(key);
            let _ = state::level_prefix(key);
        }
    }
    let _ = state::decode_properties(data);
    if let Ok(props) = state::PropertiesRef::parse(data) {
        let _ = props.ttl_ms();
    }
    let text = String::from_utf8_lossy(data);
    let _ = state::parse_key(&text);
    let _ = state::check_user_key(&text);
    let _ = state::check_store_name(&text);
    for node in [false, true] {
        if let Ok(level) = Level::parse(&text, node) {
            let _ = level.prefix("default");
            assert_eq!(Level::parse(&level.path(), node).ok(), Some(level));
        }
    }
}

/// Key files and allow-lists (read at start and on SIGHUP).
pub fn keys(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = crate::keys::parse_key_file(&text);
    let _ = crate::keys::parse_allow_list(&text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_on_length_bytes() {
        assert_eq!(
            frames(&[2, b'a', b'b', 0, 3, b'c']),
            vec![&b"ab"[..], b"", b"c"]
        );
        assert!(frames(&[]).is_empty());
    }
}
