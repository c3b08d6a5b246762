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

/// Major version of the library (and of this header). The crate's version:
/// a compile-time check below keeps them equal.
pub const CANOPY_VERSION_MAJOR: u32 = 0;
/// Minor version.
pub const CANOPY_VERSION_MINOR: u32 = 1;
/// Patch version.
pub const CANOPY_VERSION_PATCH: u32 = 0;
/// The version as one number, `(MAJOR << 16) | (MINOR << 8) | PATCH`, for
/// `#if` tests and for `canopy_check_version`.
pub const CANOPY_VERSION_NUMBER: u32 = 0x000100;

/// Parses a decimal version part at compile time.
const fn version_part(text: &str) -> u32 {
    let bytes = text.as_bytes();
    let mut value = 0u32;
    let mut i = 0;
    while i < bytes.len() {
        value = value * 10 + (bytes[i] - b'0') as u32;
        i += 1;
    }
    value
}

// The header's version is the crate's: a release that bumps one without the
// other does not compile.
const _: () = {
    assert!(CANOPY_VERSION_MAJOR == version_part(env!("CARGO_PKG_VERSION_MAJOR")));
    assert!(CANOPY_VERSION_MINOR == version_part(env!("CARGO_PKG_VERSION_MINOR")));
    assert!(CANOPY_VERSION_PATCH == version_part(env!("CARGO_PKG_VERSION_PATCH")));
    assert!(
        CANOPY_VERSION_NUMBER
            == (CANOPY_VERSION_MAJOR << 16) | (CANOPY_VERSION_MINOR << 8) | CANOPY_VERSION_PATCH
    );
};

/// Address kind for `canopy_publish`: every node in a group and below.
pub const CANOPY_TARGET_GROUP: c_int = 1;
/// Address kind: one node (`group/name`).
pub const CANOPY_TARGET_NODE: c_int = 2;
/// Address kind: a plain topic (no group semantics; `target` is ignored).
pub const CANOPY_TARGET_TOPIC: c_int = 3;

/// How to connect. Initialise with `canopy_options_init(&o, sizeof o)` (or
/// `CANOPY_OPTIONS_INIT(&o)`), then set fields. The library reads and writes
/// only the first `size` bytes, so a caller built against an older, shorter
/// layout stays safe; fields it does not have take their defaults. A
/// zero-initialised struct with `size` set means every default too.
#[repr(C)]
pub struct canopy_options {
    /// `sizeof(canopy_options)` as the caller was compiled (set by
    /// `canopy_options_init`).
    pub size: usize,
    /// Broker base endpoint, `tcp://HOST:PORT`; NULL: `tcp://127.0.0.1:5556`.
    /// Borrowed for the call.
    pub broker: *const c_char,
    /// Node name, unique within its group (required). Borrowed for the call.
    pub name: *const c_char,
    /// Group path such as `eu/fra/dc1`; NULL or "" for the root. Borrowed.
    pub group: *const c_char,
    /// How long `canopy_connect` and `canopy_store_open` wait, in ms (0: 5000).
    pub connect_timeout_ms: u32,
    /// How long a request (write, stats) waits for its reply, in ms (0: 5000).
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
/// be called from several threads at once, `canopy_close` included. Free
/// with `canopy_close`.
pub struct canopy_node {
    pub(crate) runtime: Arc<tokio::runtime::Runtime>,
    /// Shared with the stores opened from it: the last holder closes it.
    pub(crate) node: Arc<Node>,
    /// An async mutex: a second waiter waits for the first, or for close.
    pub(crate) events: tokio::sync::Mutex<Option<crate::Events>>,
    /// Set by `canopy_close`; wakes blocked calls.
    pub(crate) closing: tokio::sync::watch::Sender<bool>,
    pub(crate) calls: Calls,
}

/// The smallest layout accepted: up to and including `name`.
const OPTIONS_MIN_SIZE: usize = std::mem::offset_of!(canopy_options, group);
const DEFAULT_BROKER: &std::ffi::CStr = c"tcp://127.0.0.1:5556";
const DEFAULT_TIMEOUT_MS: u32 = 5000;

impl canopy_options {
    fn defaults(size: usize) -> Self {
        canopy_options {
            size,
            broker: DEFAULT_BROKER.as_ptr(),
            name: std::ptr::null(),
            group: std::ptr::null(),
            connect_timeout_ms: DEFAULT_TIMEOUT_MS,
            request_timeout_ms: DEFAULT_TIMEOUT_MS,
            server_key: std::ptr::null(),
            public_key: std::ptr::null(),
            secret_key: std::ptr::null(),
        }
    }
}

/// Copies the first `size` bytes the caller declared of a versioned struct
/// into a zeroed one of this library's layout (fields the caller lacks stay
/// zero: their defaults). `size` 0 means this library's own layout.
pub(crate) fn read_sized<T>(
    ptr: *const T,
    size: usize,
    min: usize,
    what: &str,
) -> Result<T, FfiError> {
    let own = std::mem::size_of::<T>();
    let size = if size == 0 { own } else { size };
    if size < min {
        return Err(FfiError::invalid(format!(
            "{what}.size is {size}: smaller than any layout this library knows ({min} bytes or more)"
        )));
    }
    // SAFETY: T is a repr(C) struct of integers and pointers, for which all
    // zero bytes are a valid value.
    let mut out: T = unsafe { std::mem::zeroed() };
    // SAFETY: the caller declared `size` readable bytes at `ptr`; we copy at
    // most our own size into `out`.
    unsafe {
        std::ptr::copy_nonoverlapping(
            ptr.cast::<u8>(),
            (&mut out as *mut T).cast::<u8>(),
            size.min(own),
        )
    };
    Ok(out)
}

/// Writes `value` into the first `size` bytes the caller declared (0: this
/// library's own layout), never past them.
pub(crate) fn write_sized<T>(out: *mut T, size: usize, value: &T) {
    let own = std::mem::size_of::<T>();
    let size = if size == 0 { own } else { size };
    // SAFETY: the caller declared `size` writable bytes at `out`.
    unsafe {
        std::ptr::copy_nonoverlapping(
            (value as *const T).cast::<u8>(),
            out.cast::<u8>(),
            size.min(own),
        )
    };
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

/// Refuses a NULL out-pointer before any work is done (which would
/// otherwise create something no one can free).
pub(crate) fn check_out<T>(out: *mut T) -> Result<(), FfiError> {
    if out.is_null() {
        return Err(FfiError::invalid("out is NULL"));
    }
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

/// Fills the first `size` bytes of `options` with defaults (pass
/// `sizeof *options`; the `CANOPY_OPTIONS_INIT` macro does): broker
/// `tcp://127.0.0.1:5556`, no name (required), the root group, 5000 ms
/// timeouts, no CURVE. Never writes past `size` bytes.
#[no_mangle]
pub extern "C" fn canopy_options_init(options: *mut canopy_options, size: usize) -> c_int {
    guard(|| {
        if options.is_null() {
            return Err(FfiError::invalid("options is NULL"));
        }
        if size < OPTIONS_MIN_SIZE {
            return Err(FfiError::invalid(format!(
                "size {size} is smaller than any canopy_options layout ({OPTIONS_MIN_SIZE} bytes or more): pass sizeof *options"
            )));
        }
        write_sized(options, size, &canopy_options::defaults(size));
        Ok(())
    })
}

/// The size of `canopy_options` in this library, for callers that declare
/// the struct themselves (ctypes, FFI generators) to check their layout.
#[no_mangle]
pub extern "C" fn canopy_options_size() -> usize {
    std::mem::size_of::<canopy_options>()
}

/// Waits for `future` unless the node is being closed: then
/// `CANOPY_ERR_CLOSED`. Every blocking node call goes through here, so that
/// `canopy_close` from another thread wakes it.
fn unless_closed<T>(
    n: &canopy_node,
    future: impl std::future::Future<Output = Result<T, FfiError>>,
) -> Result<T, FfiError> {
    let mut closing = n.closing.subscribe();
    n.runtime.block_on(async move {
        tokio::select! {
            out = future => out,
            _ = closing.wait_for(|c| *c) => Err(closed()),
        }
    })
}

fn closed() -> FfiError {
    FfiError::new(CANOPY_ERR_CLOSED, "node is closed")
}

/// Connects and joins as a node. On success `*out` owns a node handle: free it
/// with `canopy_close`. `CANOPY_ERR_AUTH` when the broker refuses the CURVE keys.
#[no_mangle]
pub extern "C" fn canopy_connect(
    options: *const canopy_options,
    out: *mut *mut canopy_node,
) -> c_int {
    guard(|| {
        if options.is_null() {
            return Err(FfiError::invalid("options is NULL"));
        }
        check_out(out)?;
        // SAFETY: the caller passes a struct whose first field is its size.
        let size = unsafe { options.cast::<usize>().read_unaligned() };
        let o = read_sized(options, size, OPTIONS_MIN_SIZE, "options")?;
        let broker = if o.broker.is_null() {
            DEFAULT_BROKER.to_str().unwrap_or_default()
        } else {
            arg(o.broker, "options.broker")?
        };
        let name = arg(o.name, "options.name")?;
        let group = opt_arg(o.group, "options.group")?;
        let ms = |v: u32| Duration::from_millis(if v == 0 { DEFAULT_TIMEOUT_MS } else { v }.into());
        let mut opts = NodeOptions::new(broker, name, group)
            .client_version(concat!("canopy-c/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(ms(o.connect_timeout_ms))
            .request_timeout(ms(o.request_timeout_ms));
        if !o.server_key.is_null() {
            opts = opts.curve(crate::CurveKeys::from_z85(
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
            node: Arc::new(node),
            events: tokio::sync::Mutex::new(Some(events)),
            closing: tokio::sync::watch::channel(false).0,
            calls: Calls::default(),
        });
        put(out, Box::into_raw(boxed), "out")
    })
}

/// Wakes every call blocked on the node in other threads
/// (`canopy_next_event`, `canopy_store_open`, `canopy_stats_json`,
/// `canopy_sync_subscriptions`): they return `CANOPY_ERR_CLOSED` at once, as
/// does every later call on it. The handle stays valid until `canopy_close`.
/// The way to stop a thread blocked in `canopy_next_event(node, -1, ...)`:
/// shut down, join the thread, close. NULL is ignored.
#[no_mangle]
pub extern "C" fn canopy_shutdown(node: *const canopy_node) {
    if let Ok(n) = handle(node, "node") {
        n.closing.send_replace(true);
    }
}

/// Shuts the node down (see `canopy_shutdown`), waits until calls still
/// inside return, and frees the handle. No call on `node` may start after
/// this one returns. Stores opened from the node keep working until they are
/// closed too; the last of them (or this call, when there is none) says BYE
/// and waits for pending publishes to be flushed (up to 2 s). NULL is ignored.
#[no_mangle]
pub extern "C" fn canopy_close(node: *mut canopy_node) {
    let _ = guard(|| {
        if node.is_null() {
            return Ok(());
        }
        {
            // SAFETY: `node` came from canopy_connect and is not freed yet.
            let n = unsafe { &*node };
            n.closing.send_replace(true);
            n.calls.wait_idle();
        }
        // SAFETY: no call is inside any more, and none may start: freed once.
        let boxed = unsafe { Box::from_raw(node) };
        let canopy_node {
            runtime, node: n, ..
        } = *boxed;
        release(&runtime, n);
        Ok(())
    });
}

/// Drops one holder of a node; the last one says BYE and waits for the flush.
pub(crate) fn release(runtime: &tokio::runtime::Runtime, node: Arc<Node>) {
    if let Some(node) = Arc::into_inner(node) {
        runtime.block_on(node.close());
    }
}

/// Calls in progress on a node handle, so that `canopy_close` frees it only
/// once they have returned.
#[derive(Default)]
pub(crate) struct Calls {
    count: Mutex<usize>,
    idle: std::sync::Condvar,
}

/// One call in progress; leaving decrements the count.
pub(crate) struct Call<'a>(&'a Calls);

impl Calls {
    fn wait_idle(&self) {
        let mut count = self.count.lock().unwrap_or_else(|e| e.into_inner());
        while *count > 0 {
            count = self.idle.wait(count).unwrap_or_else(|e| e.into_inner());
        }
    }
}

impl Drop for Call<'_> {
    fn drop(&mut self) {
        let mut count = self.0.count.lock().unwrap_or_else(|e| e.into_inner());
        *count = count.saturating_sub(1);
        if *count == 0 {
            self.0.idle.notify_all();
        }
    }
}

impl canopy_node {
    /// Enters a call: refused once the node is closing.
    pub(crate) fn enter(&self) -> Result<Call<'_>, FfiError> {
        let mut count = self.calls.count.lock().unwrap_or_else(|e| e.into_inner());
        if *self.closing.borrow() {
            return Err(closed());
        }
        *count += 1;
        Ok(Call(&self.calls))
    }
}

/// Calls in progress on `node` (for tests of `canopy_shutdown`; not in the
/// C header).
#[doc(hidden)]
pub fn calls_in_progress(node: *const canopy_node) -> usize {
    handle(node, "node").map_or(0, |n| {
        *n.calls.count.lock().unwrap_or_else(|e| e.into_inner())
    })
}

/// Borrows a node handle and enters a call on it.
pub(crate) fn node_call<'a>(
    node: *const canopy_node,
) -> Result<(&'a canopy_node, Call<'a>), FfiError> {
    let n = handle(node, "node")?;
    let call = n.enter()?;
    Ok((n, call))
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
        let (n, _call) = node_call(node)?;
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
        let (n, _call) = node_call(node)?;
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
        let (n, _call) = node_call(node)?;
        Ok(n.node.subscribe(opt_arg(prefix, "prefix")?)?)
    })
}

/// Undoes `canopy_subscribe`.
#[no_mangle]
pub extern "C" fn canopy_unsubscribe(node: *const canopy_node, prefix: *const c_char) -> c_int {
    guard(|| {
        let (n, _call) = node_call(node)?;
        Ok(n.node.unsubscribe(opt_arg(prefix, "prefix")?)?)
    })
}

/// Observes every addressed event in the subtree `group` ("" = everything).
#[no_mangle]
pub extern "C" fn canopy_subscribe_subtree(
    node: *const canopy_node,
    group: *const c_char,
) -> c_int {
    guard(|| {
        let (n, _call) = node_call(node)?;
        Ok(n.node.subscribe_subtree(opt_arg(group, "group")?)?)
    })
}

/// The broker's counters as a JSON object. On success `*out` is a string the
/// caller frees with `canopy_string_free`.
#[no_mangle]
pub extern "C" fn canopy_stats_json(node: *const canopy_node, out: *mut *mut c_char) -> c_int {
    guard(|| {
        check_out(out)?;
        let (n, _call) = node_call(node)?;
        let report = unless_closed(n, async { Ok(n.node.stats().await?) })?;
        let text = serde_json::to_string(&report)
            .map_err(|e| FfiError::new(CANOPY_ERR_PROTOCOL, e.to_string()))?;
        put(out, owned_string(text)?, "out")
    })
}

/// Waits up to `timeout_ms` (negative: the node's request timeout) until
/// every subscription made so far is in force at the broker: events
/// published from then on are not lost for want of them.
/// `CANOPY_ERR_TIMEOUT` when the broker did not confirm in time.
#[no_mangle]
pub extern "C" fn canopy_sync_subscriptions(node: *const canopy_node, timeout_ms: c_int) -> c_int {
    guard(|| {
        let (n, _call) = node_call(node)?;
        unless_closed(n, async {
            let sync = n.node.sync_subscriptions();
            match u64::try_from(timeout_ms) {
                Err(_) => Ok(sync.await?),
                Ok(ms) => match tokio::time::timeout(Duration::from_millis(ms), sync).await {
                    Ok(r) => Ok(r?),
                    Err(_) => Err(FfiError::new(
                        CANOPY_ERR_TIMEOUT,
                        "the broker did not confirm the subscriptions in time",
                    )),
                },
            }
        })
    })
}

/// The library version, e.g. "0.1.0". Static: never free it.
#[no_mangle]
pub extern "C" fn canopy_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The library's version as `CANOPY_VERSION_NUMBER` encodes it, which may
/// differ from the header the caller was compiled with.
#[no_mangle]
pub extern "C" fn canopy_version_number() -> u32 {
    CANOPY_VERSION_NUMBER
}

/// Checks that this library can serve a caller compiled against the header
/// of version `header_version` (pass `CANOPY_VERSION_NUMBER`, or use
/// `CANOPY_CHECK_VERSION()`): same major version (before 1.0: same minor),
/// and a library at least as new. `CANOPY_ERR_VERSION` otherwise, with both
/// versions in `canopy_last_error`.
#[no_mangle]
pub extern "C" fn canopy_check_version(header_version: u32) -> c_int {
    guard(|| {
        let part = |v: u32| (v >> 16, (v >> 8) & 0xff, v & 0xff);
        let (hm, hn, hp) = part(header_version);
        let (lm, ln, lp) = part(CANOPY_VERSION_NUMBER);
        let same_series = hm == lm && (lm > 0 || hn == ln);
        if same_series && (ln, lp) >= (hn, hp) {
            return Ok(());
        }
        Err(FfiError::new(
            CANOPY_ERR_VERSION,
            format!(
                "built against canopy.h {hm}.{hn}.{hp}, running with libcanopy_client {lm}.{ln}.{lp}: {}",
                if same_series {
                    "the library is older than the header; install a newer library"
                } else {
                    "incompatible versions; rebuild against this library's header"
                }
            ),
        ))
    })
}
