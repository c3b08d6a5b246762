//! The C ABI: what `client/include/canopy.h` declares (generated from this
//! module by cbindgen; see `client/cbindgen.toml`).
//!
//! Conventions, for every function:
//! - The return value is a status: `CANOPY_OK` (0) or a negative `CANOPY_ERR_*`.
//!   On error, `canopy_last_error()` describes it (thread-local).
//! - Nothing unwinds across the boundary: a panic becomes `CANOPY_ERR_PANIC`.
//! - Strings in are NUL-terminated UTF-8, borrowed for the call only.
//! - Out-pointers are written only on success.

#![allow(non_camel_case_types)]
// C callers cannot call `unsafe fn`s any differently: the contract of each
// pointer argument is in its doc comment (and in the header).
#![allow(clippy::not_unsafe_ptr_arg_deref)]

mod event;
mod status;
mod store;

pub use event::*;
pub use status::*;
pub use store::*;

use crate::{Address, GroupPath, Node, NodeOptions, NodePath};
use std::ffi::{c_char, c_int, CStr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Major version of the library (and of this header).
pub const CANOPY_VERSION_MAJOR: u32 = 0;
/// Minor version.
pub const CANOPY_VERSION_MINOR: u32 = 1;
/// Patch version.
pub const CANOPY_VERSION_PATCH: u32 = 0;

/// Address kind for `canopy_publish`: every node in a group and below.
pub const CANOPY_TARGET_GROUP: c_int = 1;
/// Address kind: one node (`group/name`).
pub const CANOPY_TARGET_NODE: c_int = 2;
/// Address kind: a plain topic (no group semantics; `target` is ignored).
pub const CANOPY_TARGET_TOPIC: c_int = 3;

/// How to connect. Initialise with `canopy_options_init`, then set fields.
#[repr(C)]
pub struct canopy_options {
    /// Broker base endpoint, `tcp://HOST:PORT`. Borrowed for the call.
    pub broker: *const c_char,
    /// Node name, unique within its group. Borrowed for the call.
    pub name: *const c_char,
    /// Group path such as `eu/fra/dc1`; NULL or "" for the root. Borrowed.
    pub group: *const c_char,
    /// How long `canopy_connect` and `canopy_store_open` wait, in ms.
    pub connect_timeout_ms: u32,
    /// How long a request (write, stats) waits for its reply, in ms.
    pub request_timeout_ms: u32,
    /// CURVE: the broker's public key, 40 Z85 characters; NULL when the
    /// broker runs without CURVE. Borrowed for the call.
    pub server_key: *const c_char,
    /// CURVE: this client's public key (Z85). Borrowed.
    pub public_key: *const c_char,
    /// CURVE: this client's secret key (Z85). Borrowed.
    pub secret_key: *const c_char,
}

/// A connected node. Thread-safe: every function taking a `canopy_node *` may
/// be called from several threads at once. Free with `canopy_close`.
pub struct canopy_node {
    pub(crate) runtime: Arc<tokio::runtime::Runtime>,
    pub(crate) node: Node,
    pub(crate) events: Mutex<Option<crate::Events>>,
}

/// Reads a required C string argument.
pub(crate) fn arg<'a>(ptr: *const c_char, what: &str) -> Result<&'a str, FfiError> {
    if ptr.is_null() {
        return Err(FfiError::invalid(format!("{what} is NULL")));
    }
    // SAFETY: the caller passes a NUL-terminated string valid for the call.
    unsafe { CStr::from_ptr(ptr) }
        .to_str()
        .map_err(|_| FfiError::invalid(format!("{what} is not UTF-8")))
}

/// Reads an optional C string argument (NULL = "").
pub(crate) fn opt_arg<'a>(ptr: *const c_char, what: &str) -> Result<&'a str, FfiError> {
    if ptr.is_null() {
        Ok("")
    } else {
        arg(ptr, what)
    }
}

/// Borrows a handle argument.
pub(crate) fn handle<'a, T>(ptr: *const T, what: &str) -> Result<&'a T, FfiError> {
    // SAFETY: the caller passes a pointer this library returned and has not freed.
    unsafe { ptr.as_ref() }.ok_or_else(|| FfiError::invalid(format!("{what} is NULL")))
}

/// Writes an out-parameter.
pub(crate) fn put<T>(out: *mut T, value: T, what: &str) -> Result<(), FfiError> {
    if out.is_null() {
        return Err(FfiError::invalid(format!("{what} is NULL")));
    }
    // SAFETY: the caller passes a valid, writable pointer.
    unsafe { out.write(value) };
    Ok(())
}

/// Reads a byte buffer argument (NULL allowed when `len` is 0).
pub(crate) fn bytes<'a>(data: *const u8, len: usize, what: &str) -> Result<&'a [u8], FfiError> {
    if len == 0 {
        return Ok(&[]);
    }
    if data.is_null() {
        return Err(FfiError::invalid(format!(
            "{what} is NULL with a non-zero length"
        )));
    }
    // SAFETY: the caller passes `len` readable bytes at `data`.
    Ok(unsafe { std::slice::from_raw_parts(data, len) })
}

/// Fills `options` with defaults: broker `tcp://127.0.0.1:5556`, no name
/// (required), the root group, 5000 ms timeouts, no CURVE.
#[no_mangle]
pub extern "C" fn canopy_options_init(options: *mut canopy_options) -> c_int {
    guard(|| {
        put(
            options,
            canopy_options {
                broker: c"tcp://127.0.0.1:5556".as_ptr(),
                name: std::ptr::null(),
                group: std::ptr::null(),
                connect_timeout_ms: 5000,
                request_timeout_ms: 5000,
                server_key: std::ptr::null(),
                public_key: std::ptr::null(),
                secret_key: std::ptr::null(),
            },
            "options",
        )
    })
}

/// Connects and joins as a node. On success `*out` owns a node handle: free it
/// with `canopy_close`. `CANOPY_ERR_AUTH` when the broker refuses the CURVE keys.
#[no_mangle]
pub extern "C" fn canopy_connect(
    options: *const canopy_options,
    out: *mut *mut canopy_node,
) -> c_int {
    guard(|| {
        let o = handle(options, "options")?;
        let broker = arg(o.broker, "options.broker")?;
        let name = arg(o.name, "options.name")?;
        let group = opt_arg(o.group, "options.group")?;
        let mut opts = NodeOptions::new(broker, name, group);
        opts.client_version = concat!("canopy-c/", env!("CARGO_PKG_VERSION")).to_owned();
        opts.connect_timeout = Duration::from_millis(o.connect_timeout_ms.max(1).into());
        opts.request_timeout = Duration::from_millis(o.request_timeout_ms.max(1).into());
        if !o.server_key.is_null() {
            opts.curve = Some(crate::CurveKeys::from_z85(
                arg(o.server_key, "options.server_key")?,
                arg(o.public_key, "options.public_key")?,
                arg(o.secret_key, "options.secret_key")?,
            )?);
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| FfiError::new(CANOPY_ERR_IO, format!("starting runtime: {e}")))?;
        let node = runtime.block_on(Node::connect(opts))?;
        let events = node.events()?;
        let boxed = Box::new(canopy_node {
            runtime: Arc::new(runtime),
            node,
            events: Mutex::new(Some(events)),
        });
        put(out, Box::into_raw(boxed), "out")
    })
}

/// Leaves (BYE) and frees the node. Stores opened from it keep working
/// until they are closed too. NULL is ignored.
#[no_mangle]
pub extern "C" fn canopy_close(node: *mut canopy_node) {
    let _ = guard(|| {
        if !node.is_null() {
            // SAFETY: `node` came from canopy_connect and is freed once.
            let boxed = unsafe { Box::from_raw(node) };
            boxed.node.close();
        }
        Ok(())
    });
}

fn address(kind: c_int, target: *const c_char) -> Result<Address, FfiError> {
    Ok(match kind {
        CANOPY_TARGET_GROUP => Address::Group(GroupPath::parse(opt_arg(target, "target")?)?),
        CANOPY_TARGET_NODE => Address::Node(NodePath::parse(arg(target, "target")?)?),
        CANOPY_TARGET_TOPIC => Address::Plain,
        other => return Err(FfiError::invalid(format!("unknown target kind {other}"))),
    })
}

/// Publishes a MessagePack payload (`len` bytes at `payload`) on `topic`,
/// addressed by `kind` (`CANOPY_TARGET_*`) and `target` (a group path, a node
/// path, or ignored for a plain topic).
#[no_mangle]
pub extern "C" fn canopy_publish(
    node: *const canopy_node,
    kind: c_int,
    target: *const c_char,
    topic: *const c_char,
    payload: *const u8,
    len: usize,
) -> c_int {
    guard(|| {
        let n = handle(node, "node")?;
        let data = bytes(payload, len, "payload")?;
        n.node
            .publish_msgpack(&address(kind, target)?, arg(topic, "topic")?, data)?;
        Ok(())
    })
}

/// Like `canopy_publish`, with the payload given as JSON text (converted to
/// MessagePack).
#[no_mangle]
pub extern "C" fn canopy_publish_json(
    node: *const canopy_node,
    kind: c_int,
    target: *const c_char,
    topic: *const c_char,
    json: *const c_char,
) -> c_int {
    guard(|| {
        let n = handle(node, "node")?;
        let value: serde_json::Value = serde_json::from_str(arg(json, "json")?)
            .map_err(|e| FfiError::invalid(format!("json: {e}")))?;
        n.node
            .publish(&address(kind, target)?, arg(topic, "topic")?, &value)?;
        Ok(())
    })
}

/// Receives events whose topic starts with `prefix` addressed to this node's
/// groups, to itself, or on plain topics.
#[no_mangle]
pub extern "C" fn canopy_subscribe(node: *const canopy_node, prefix: *const c_char) -> c_int {
    guard(|| {
        Ok(handle(node, "node")?
            .node
            .subscribe(opt_arg(prefix, "prefix")?)?)
    })
}

/// Undoes `canopy_subscribe`.
#[no_mangle]
pub extern "C" fn canopy_unsubscribe(node: *const canopy_node, prefix: *const c_char) -> c_int {
    guard(|| {
        Ok(handle(node, "node")?
            .node
            .unsubscribe(opt_arg(prefix, "prefix")?)?)
    })
}

/// Observes every addressed event in the subtree `group` ("" = everything).
#[no_mangle]
pub extern "C" fn canopy_subscribe_subtree(
    node: *const canopy_node,
    group: *const c_char,
) -> c_int {
    guard(|| {
        Ok(handle(node, "node")?
            .node
            .subscribe_subtree(opt_arg(group, "group")?)?)
    })
}

/// The broker's counters as a JSON object. On success `*out` is a string the
/// caller frees with `canopy_string_free`.
#[no_mangle]
pub extern "C" fn canopy_stats_json(node: *const canopy_node, out: *mut *mut c_char) -> c_int {
    guard(|| {
        let n = handle(node, "node")?;
        let report = n.runtime.block_on(n.node.stats())?;
        let text = serde_json::to_string(&report)
            .map_err(|e| FfiError::new(CANOPY_ERR_PROTOCOL, e.to_string()))?;
        put(out, owned_string(text)?, "out")
    })
}

/// The library version, e.g. "0.1.0". Static: never free it.
#[no_mangle]
pub extern "C" fn canopy_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
