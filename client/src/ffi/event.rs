//! Receiving events: `canopy_next_event` and the accessors of `canopy_event`.

use super::{handle, owned_string, put, FfiError, *};
use crate::NodeEvent;
use std::ffi::{c_char, c_int, CString};

/// Event kind: a message matching a subscription.
pub const CANOPY_EVENT_MESSAGE: c_int = 1;
/// Event kind: the broker went silent; the node keeps reconnecting.
pub const CANOPY_EVENT_DISCONNECTED: c_int = 2;
/// Event kind: the node is joined again (subscriptions restored).
pub const CANOPY_EVENT_RECONNECTED: c_int = 3;
/// Event kind: another connection joined under this node's name; the node is
/// no longer joined and does not take the name back; it joins again
/// (`CANOPY_EVENT_RECONNECTED`) once the other is gone.
pub const CANOPY_EVENT_NAME_TAKEN: c_int = 4;

/// One received event. Owned by the caller: free with `canopy_event_free`.
/// Strings and payload pointers it hands out live as long as the event.
/// Use an event from one thread at a time.
pub struct canopy_event {
    kind: c_int,
    topic: CString,
    target_kind: c_int,
    target: CString,
    publisher: CString,
    payload: Vec<u8>,
    msgpack: bool,
}

fn cstring(s: &str) -> CString {
    CString::new(s.replace('\0', " ")).unwrap_or_default()
}

impl canopy_event {
    fn from(event: NodeEvent) -> Self {
        let blank = |kind| canopy_event {
            kind,
            topic: CString::default(),
            target_kind: 0,
            target: CString::default(),
            publisher: CString::default(),
            payload: Vec::new(),
            msgpack: false,
        };
        match event {
            NodeEvent::Disconnected => blank(CANOPY_EVENT_DISCONNECTED),
            NodeEvent::Reconnected { .. } => blank(CANOPY_EVENT_RECONNECTED),
            NodeEvent::NameTaken => blank(CANOPY_EVENT_NAME_TAKEN),
            NodeEvent::Event(e) => {
                let (target_kind, target) = match &e.address {
                    crate::Address::Group(g) => (CANOPY_TARGET_GROUP, g.to_string()),
                    crate::Address::Node(n) => (CANOPY_TARGET_NODE, n.to_string()),
                    crate::Address::Plain => (CANOPY_TARGET_TOPIC, String::new()),
                };
                canopy_event {
                    kind: CANOPY_EVENT_MESSAGE,
                    topic: cstring(&e.topic),
                    target_kind,
                    target: cstring(&target),
                    publisher: cstring(e.publisher()),
                    msgpack: e.header.is_msgpack(),
                    payload: e.payload,
                }
            }
        }
    }
}

/// Waits up to `timeout_ms` (negative: forever) for the next event. On
/// success `*out` owns an event (free with `canopy_event_free`);
/// `CANOPY_ERR_TIMEOUT` when none came.
#[no_mangle]
pub extern "C" fn canopy_next_event(
    node: *const canopy_node,
    timeout_ms: c_int,
    out: *mut *mut canopy_event,
) -> c_int {
    guard(|| {
        super::check_out(out)?;
        let (n, _call) = super::node_call(node)?;
        let next = super::unless_closed(n, async {
            // Another thread may be waiting already: wait for it, or for close.
            let mut slot = n.events.lock().await;
            let events = slot
                .as_mut()
                .ok_or_else(|| FfiError::new(CANOPY_ERR_CLOSED, "node is closed"))?;
            let next = events.next();
            match u64::try_from(timeout_ms) {
                Err(_) => Ok(next.await),
                Ok(ms) => tokio::time::timeout(std::time::Duration::from_millis(ms), next)
                    .await
                    .map_err(|_| FfiError::new(CANOPY_ERR_TIMEOUT, "no event within the timeout")),
            }
        })?;
        match next {
            Some(e) => put(out, Box::into_raw(Box::new(canopy_event::from(e))), "out"),
            None => Err(FfiError::new(CANOPY_ERR_CLOSED, "node is closed")),
        }
    })
}

/// `CANOPY_EVENT_MESSAGE`, `CANOPY_EVENT_DISCONNECTED`, `CANOPY_EVENT_RECONNECTED` or `CANOPY_EVENT_NAME_TAKEN`
/// (0 for NULL).
#[no_mangle]
pub extern "C" fn canopy_event_kind(event: *const canopy_event) -> c_int {
    handle(event, "event").map_or(0, |e| e.kind)
}

/// The user topic ("" for notices). Owned by the event.
#[no_mangle]
pub extern "C" fn canopy_event_topic(event: *const canopy_event) -> *const c_char {
    handle(event, "event").map_or(c"".as_ptr(), |e| e.topic.as_ptr())
}

/// `CANOPY_TARGET_GROUP`, `_NODE` or `_TOPIC` (0 for notices).
#[no_mangle]
pub extern "C" fn canopy_event_target_kind(event: *const canopy_event) -> c_int {
    handle(event, "event").map_or(0, |e| e.target_kind)
}

/// The group or node path the event was addressed to ("" for plain topics).
/// Owned by the event.
#[no_mangle]
pub extern "C" fn canopy_event_target(event: *const canopy_event) -> *const c_char {
    handle(event, "event").map_or(c"".as_ptr(), |e| e.target.as_ptr())
}

/// The publishing node's path ("" for plain publishers). Owned by the event.
#[no_mangle]
pub extern "C" fn canopy_event_publisher(event: *const canopy_event) -> *const c_char {
    handle(event, "event").map_or(c"".as_ptr(), |e| e.publisher.as_ptr())
}

/// The payload bytes (MessagePack when `canopy_event_is_msgpack`). `*data`
/// points into the event.
#[no_mangle]
pub extern "C" fn canopy_event_payload(
    event: *const canopy_event,
    data: *mut *const u8,
    len: *mut usize,
) -> c_int {
    guard(|| {
        let e = handle(event, "event")?;
        put(data, e.payload.as_ptr(), "data")?;
        put(len, e.payload.len(), "len")
    })
}

/// 1 when the payload is MessagePack, 0 for raw bytes.
#[no_mangle]
pub extern "C" fn canopy_event_is_msgpack(event: *const canopy_event) -> c_int {
    handle(event, "event").map_or(0, |e| e.msgpack as c_int)
}

/// The payload as JSON text (raw payloads become a JSON string when UTF-8).
/// `*out` is owned by the caller: free with `canopy_string_free`.
#[no_mangle]
pub extern "C" fn canopy_event_payload_json(
    event: *const canopy_event,
    out: *mut *mut c_char,
) -> c_int {
    guard(|| {
        super::check_out(out)?;
        let e = handle(event, "event")?;
        let json = if e.msgpack {
            super::store::msgpack_to_json(&e.payload)?
        } else {
            match std::str::from_utf8(&e.payload) {
                Ok(s) => serde_json::Value::String(s.to_owned()).to_string(),
                Err(_) => {
                    return Err(FfiError::new(
                        CANOPY_ERR_PAYLOAD,
                        "raw payload is not UTF-8",
                    ))
                }
            }
        };
        put(out, owned_string(json)?, "out")
    })
}

/// Frees an event. NULL is ignored.
#[no_mangle]
pub extern "C" fn canopy_event_free(event: *mut canopy_event) {
    if !event.is_null() {
        // SAFETY: `event` came from canopy_next_event and is freed once.
        drop(unsafe { Box::from_raw(event) });
    }
}
