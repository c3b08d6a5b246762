//! Turning events and payloads into JSON for people and machines.

use canopy_client::{Address, Event};
use serde_json::{json, Value};

/// A MessagePack value as JSON (bytes that are not MessagePack become an
/// array of byte values).
pub fn msgpack_json(bytes: &[u8]) -> Value {
    rmp_serde::from_slice::<rmpv::Value>(bytes)
        .ok()
        .and_then(|v| serde_json::to_value(&v).ok())
        .unwrap_or_else(|| Value::Array(bytes.iter().map(|b| json!(b)).collect()))
}

/// A payload as JSON: MessagePack decoded, raw bytes as a string when they
/// are UTF-8, else as an array of byte values.
pub fn payload_json(event: &Event) -> Value {
    if event.header.is_msgpack() {
        if let Ok(v) = rmp_serde::from_slice::<rmpv::Value>(&event.payload) {
            if let Ok(j) = serde_json::to_value(&v) {
                return j;
            }
        }
    }
    match std::str::from_utf8(&event.payload) {
        Ok(s) => Value::String(s.to_owned()),
        Err(_) => Value::Array(event.payload.iter().map(|b| json!(b)).collect()),
    }
}

/// One event as the JSON line `canopy sub` prints.
pub fn event_json(event: &Event) -> Value {
    let mut line = json!({
        "topic": event.topic,
        "publisher": event.header.publisher,
        "seq": event.header.sequence,
        "timestamp_ns": event.header.timestamp_ns,
        "encoding": if event.header.is_msgpack() { "msgpack" } else { "raw" },
        "payload": payload_json(event),
    });
    match &event.address {
        Address::Group(g) => line["group"] = json!(g.to_string()),
        Address::Node(n) => line["node"] = json!(n.to_string()),
        Address::Plain => line["plain"] = json!(true),
    }
    line
}
