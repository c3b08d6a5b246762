//! Store replicas: open, read (copy or owned buffer, or JSON), every write
//! operation, and watches.

use super::{arg, bytes, guard, handle, opt_arg, owned_string, put, FfiError, *};
use crate::{Level, OpKind, Replica, WriteSpec};
use std::ffi::{c_char, c_int};
use std::sync::Arc;
use std::time::Duration;

/// Write operation: set the value.
pub const CANOPY_OP_PUT: c_int = 1;
/// Remove the key.
pub const CANOPY_OP_DELETE: c_int = 2;
/// Set only if the key does not exist.
pub const CANOPY_OP_PUT_IF_ABSENT: c_int = 3;
/// Set only if the key's sequence equals `expected_seq` (0: absent).
pub const CANOPY_OP_CAS: c_int = 4;
/// Add `by` to an integer (missing = 0).
pub const CANOPY_OP_INCR: c_int = 5;
/// Subtract `by` from an integer (missing = 0).
pub const CANOPY_OP_DECR: c_int = 6;
/// Append the value to a string, bytes or list.
pub const CANOPY_OP_APPEND: c_int = 7;
/// Insert the value into a set (a list without duplicates).
pub const CANOPY_OP_SET_INSERT: c_int = 8;
/// Remove the value from a set.
pub const CANOPY_OP_SET_REMOVE: c_int = 9;
/// Delete every key of the level starting with `key` (a prefix).
pub const CANOPY_OP_DELETE_SUBTREE: c_int = 10;

/// A local replica of one store, as the node sees it (its ancestor groups,
/// its group, itself; most specific wins). Thread-safe. Free with
/// `canopy_store_close`; it keeps its node's connection alive until then.
pub struct canopy_store {
    runtime: Arc<tokio::runtime::Runtime>,
    replica: Replica,
    /// Keeps the node (its connection) alive after `canopy_close`.
    node: Arc<crate::Node>,
}

/// `canopy_write_args.flags`: `ttl_ms` is set (0 then means no TTL);
/// without it the store's default TTL applies.
pub const CANOPY_WRITE_TTL: u32 = 1;
/// `canopy_write_args.flags`: `by` is set (0 then reads an integer without
/// changing it); without it incr/decr use 1.
pub const CANOPY_WRITE_BY: u32 = 2;
/// `canopy_put`'s `ttl_ms` for the store's default TTL.
pub const CANOPY_TTL_DEFAULT: i64 = -1;

/// Replica state: the first snapshot is loading.
pub const CANOPY_STORE_SYNCING: c_int = 1;
/// Replica state: every level is synced and live; reads are current.
pub const CANOPY_STORE_SYNCED: c_int = 2;
/// Replica state: a level is reloading; reads may be old since the time given.
pub const CANOPY_STORE_RESYNCING: c_int = 3;
/// Replica state: the link is down; reads may be old since the time given.
pub const CANOPY_STORE_STALE: c_int = 4;
/// Replica state: the node's connection is closed.
pub const CANOPY_STORE_CLOSED: c_int = 5;

/// One write for `canopy_write`. Zero-initialise it and set what the
/// operation needs: every field left zero means its default (`size` 0:
/// this header's layout; no TTL flag: the store's default TTL; no BY flag:
/// incr/decr by 1).
#[repr(C)]
pub struct canopy_write_args {
    /// 0, or `sizeof(canopy_write_args)` (needed only to use fields added
    /// after this layout).
    pub size: usize,
    /// `CANOPY_OP_*`.
    pub op: c_int,
    /// `CANOPY_WRITE_TTL` and/or `CANOPY_WRITE_BY`: which optional fields are set.
    pub flags: u32,
    /// Level path: a group path ("" or NULL = root), or a node path when
    /// `level_is_node` is non-zero. Borrowed for the call.
    pub level: *const c_char,
    /// Non-zero when `level` names a node.
    pub level_is_node: c_int,
    /// User key (a key prefix for `CANOPY_OP_DELETE_SUBTREE`). Borrowed.
    pub key: *const c_char,
    /// MessagePack operand (`value_len` bytes), or NULL. Borrowed.
    pub value: *const u8,
    /// Length of `value`.
    pub value_len: usize,
    /// The operand as JSON text instead of `value` (used when non-NULL). Borrowed.
    pub value_json: *const c_char,
    /// Amount for incr/decr, read with `CANOPY_WRITE_BY`.
    pub by: i64,
    /// Expected key sequence for compare-and-set (0: the key must be absent).
    pub expected_seq: u64,
    /// Time to live in ms, read with `CANOPY_WRITE_TTL` (0: none).
    pub ttl_ms: u64,
}

/// The smallest layout accepted: this one (the first with `size`).
const WRITE_ARGS_MIN_SIZE: usize = std::mem::size_of::<canopy_write_args>();

impl canopy_write_args {
    /// An operation on `group`/`key` with nothing else set (store's TTL).
    fn basic(op: c_int, group: *const c_char, key: *const c_char) -> Self {
        canopy_write_args {
            size: 0,
            op,
            flags: 0,
            level: group,
            level_is_node: 0,
            key,
            value: std::ptr::null(),
            value_len: 0,
            value_json: std::ptr::null(),
            by: 0,
            expected_seq: 0,
            ttl_ms: 0,
        }
    }

    /// `canopy_put`'s TTL argument: negative is the store's default.
    fn with_ttl(mut self, ttl_ms: i64) -> Self {
        if let Ok(ms) = u64::try_from(ttl_ms) {
            self.flags |= CANOPY_WRITE_TTL;
            self.ttl_ms = ms;
        }
        self
    }
}

/// What a write did. The library writes only the first `size` bytes
/// (0: this header's layout).
#[repr(C)]
pub struct canopy_write_result {
    /// 0, or `sizeof(canopy_write_result)`.
    pub size: usize,
    /// Sequence assigned (the last one for delete-subtree).
    pub seq: u64,
    /// Keys deleted (delete, delete-subtree).
    pub deleted: u64,
    /// New integer value after incr/decr (0 otherwise).
    pub integer: i64,
}

impl canopy_write_result {
    fn empty() -> Self {
        canopy_write_result {
            size: 0,
            seq: 0,
            deleted: 0,
            integer: 0,
        }
    }
}

/// Converts MessagePack to JSON text.
pub(crate) fn msgpack_to_json(data: &[u8]) -> Result<String, FfiError> {
    let value: rmpv::Value = rmp_serde::from_slice(data)
        .map_err(|e| FfiError::new(CANOPY_ERR_PAYLOAD, format!("value is not MessagePack: {e}")))?;
    serde_json::to_string(&value).map_err(|e| FfiError::new(CANOPY_ERR_PAYLOAD, e.to_string()))
}

fn json_to_msgpack(text: &str) -> Result<Vec<u8>, FfiError> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| FfiError::invalid(format!("json: {e}")))?;
    rmp_serde::to_vec_named(&value).map_err(|e| FfiError::new(CANOPY_ERR_PAYLOAD, e.to_string()))
}

fn not_found(key: &str) -> FfiError {
    FfiError::new(CANOPY_ERR_NOT_FOUND, format!("key {key:?} not found"))
}

/// Opens a replica of store `name` and waits until every level is synced.
/// `*out` is owned by the caller: free with `canopy_store_close`.
#[no_mangle]
pub extern "C" fn canopy_store_open(
    node: *const canopy_node,
    name: *const c_char,
    out: *mut *mut canopy_store,
) -> c_int {
    guard(|| {
        let name = arg(name, "name")?;
        open_replica(node, out, |n| async move { n.store(name).await })
    })
}

/// Opens a replica with `open` (a blocking node call that `canopy_close`
/// wakes) and hands it out as a store that keeps its node alive.
fn open_replica<'a, F, Fut>(
    node: *const canopy_node,
    out: *mut *mut canopy_store,
    open: F,
) -> Result<(), FfiError>
where
    F: FnOnce(&'a crate::Node) -> Fut,
    Fut: std::future::Future<Output = Result<Replica, crate::ClientError>> + 'a,
{
    super::check_out(out)?;
    let (n, _call) = super::node_call(node)?;
    let replica = super::unless_closed(n, async { Ok(open(&n.node).await?) })?;
    let store = Box::new(canopy_store {
        runtime: Arc::clone(&n.runtime),
        replica,
        node: Arc::clone(&n.node),
    });
    put(out, Box::into_raw(store), "out")
}

/// Opens a replica of one level of the opaque CHP space (`level` = `/NAME/`
/// or `/`): the keys RFC 12 clients write outside canopy's stores. On it,
/// `canopy_get`, `canopy_get_alloc`, `canopy_keys_json` and watches take
/// whole keys (`/client/727`) and values are the bytes as written; write with
/// `canopy_chp_put` / `canopy_chp_delete`. Free with `canopy_store_close`.
#[no_mangle]
pub extern "C" fn canopy_chp_open(
    node: *const canopy_node,
    level: *const c_char,
    out: *mut *mut canopy_store,
) -> c_int {
    guard(|| {
        let level = arg(level, "level")?;
        open_replica(node, out, |n| async move { n.chp_store(level).await })
    })
}

/// Sets the opaque CHP key `key` to `len` bytes at `value` (verbatim) on a
/// store from `canopy_chp_open`; `ttl_ms`: `CANOPY_TTL_DEFAULT` for the
/// `[chp]` default, 0 for none. An empty value deletes. `seq` may be NULL.
#[no_mangle]
pub extern "C" fn canopy_chp_put(
    store: *const canopy_store,
    key: *const c_char,
    value: *const u8,
    len: usize,
    ttl_ms: i64,
    seq: *mut u64,
) -> c_int {
    guard(|| {
        let s = handle(store, "store")?;
        let key = arg(key, "key")?;
        let data = bytes(value, len, "value")?;
        let ttl = u64::try_from(ttl_ms).ok().map(Duration::from_millis);
        let ack = s.runtime.block_on(s.replica.chp_put(key, data, ttl))?;
        if !seq.is_null() {
            // SAFETY: the caller passes a writable pointer or NULL.
            unsafe { seq.write(ack.seq) };
        }
        Ok(())
    })
}

/// Deletes the opaque CHP key `key` on a store from `canopy_chp_open`.
/// `seq` may be NULL.
#[no_mangle]
pub extern "C" fn canopy_chp_delete(
    store: *const canopy_store,
    key: *const c_char,
    seq: *mut u64,
) -> c_int {
    guard(|| {
        let s = handle(store, "store")?;
        let ack = s.runtime.block_on(s.replica.chp_delete(arg(key, "key")?))?;
        if !seq.is_null() {
            // SAFETY: the caller passes a writable pointer or NULL.
            unsafe { seq.write(ack.seq) };
        }
        Ok(())
    })
}

/// Frees a replica: its watches end (`CANOPY_ERR_CLOSED`). When its node was
/// closed already and this is its last store, says BYE and waits for the
/// flush. NULL is ignored.
#[no_mangle]
pub extern "C" fn canopy_store_close(store: *mut canopy_store) {
    let _ = guard(|| {
        if !store.is_null() {
            // SAFETY: `store` came from canopy_store_open and is freed once.
            let boxed = unsafe { Box::from_raw(store) };
            let canopy_store {
                runtime,
                replica,
                node,
            } = *boxed;
            drop(replica);
            super::release(&runtime, node);
        }
        Ok(())
    });
}

/// The replica's state (`CANOPY_STORE_*`); for resyncing and stale, `*since_ms`
/// (may be NULL) gets the Unix time in ms since which reads may be old, else 0.
/// 0 for a NULL store.
#[no_mangle]
pub extern "C" fn canopy_store_state(store: *const canopy_store, since_ms: *mut u64) -> c_int {
    let Ok(s) = handle(store, "store") else {
        return 0;
    };
    let ms = |t: std::time::SystemTime| {
        t.duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    };
    let (state, since) = match s.replica.state() {
        crate::ReplicaState::Syncing => (CANOPY_STORE_SYNCING, 0),
        crate::ReplicaState::Synced => (CANOPY_STORE_SYNCED, 0),
        crate::ReplicaState::Resyncing { since } => (CANOPY_STORE_RESYNCING, ms(since)),
        crate::ReplicaState::Stale { since } => (CANOPY_STORE_STALE, ms(since)),
        _ => (CANOPY_STORE_CLOSED, 0),
    };
    if !since_ms.is_null() {
        // SAFETY: the caller passes a writable pointer or NULL.
        unsafe { since_ms.write(since) };
    }
    state
}

/// Copies the merged value of `key` (MessagePack) into `buf` (`cap` bytes)
/// and writes its length to `*len`. `CANOPY_ERR_NOT_FOUND` when no level has
/// the key; `CANOPY_ERR_BUFFER_TOO_SMALL` (with `*len` = the size needed)
/// when `cap` is too small. Local: no network round trip.
#[no_mangle]
pub extern "C" fn canopy_get(
    store: *const canopy_store,
    key: *const c_char,
    buf: *mut u8,
    cap: usize,
    len: *mut usize,
) -> c_int {
    guard(|| {
        let s = handle(store, "store")?;
        let key = arg(key, "key")?;
        let value = s.replica.get_raw(key).ok_or_else(|| not_found(key))?;
        put(len, value.len(), "len")?;
        if value.len() > cap {
            return Err(FfiError::new(
                CANOPY_ERR_BUFFER_TOO_SMALL,
                format!("value of {key:?} has {} bytes, buffer {cap}", value.len()),
            ));
        }
        if !value.is_empty() {
            if buf.is_null() {
                return Err(FfiError::invalid("buf is NULL"));
            }
            // SAFETY: the caller passes `cap` writable bytes at `buf`.
            unsafe { std::ptr::copy_nonoverlapping(value.as_ptr(), buf, value.len()) };
        }
        Ok(())
    })
}

/// Like `canopy_get`, returning a buffer the caller owns: free it with
/// `canopy_buffer_free(*data, *len)`.
#[no_mangle]
pub extern "C" fn canopy_get_alloc(
    store: *const canopy_store,
    key: *const c_char,
    data: *mut *mut u8,
    len: *mut usize,
) -> c_int {
    guard(|| {
        let s = handle(store, "store")?;
        let key = arg(key, "key")?;
        let value = s.replica.get_raw(key).ok_or_else(|| not_found(key))?;
        if data.is_null() || len.is_null() {
            return Err(FfiError::invalid("data or len is NULL"));
        }
        let boxed = value.into_boxed_slice();
        let n = boxed.len();
        put(len, n, "len")?;
        put(data, Box::into_raw(boxed).cast::<u8>(), "data")
    })
}

/// The merged value of `key` as JSON text; `*out` is owned by the caller:
/// free with `canopy_string_free`.
#[no_mangle]
pub extern "C" fn canopy_get_json(
    store: *const canopy_store,
    key: *const c_char,
    out: *mut *mut c_char,
) -> c_int {
    guard(|| {
        super::check_out(out)?;
        let s = handle(store, "store")?;
        let key = arg(key, "key")?;
        let value = s.replica.get_raw(key).ok_or_else(|| not_found(key))?;
        put(out, owned_string(msgpack_to_json(&value)?)?, "out")
    })
}

/// The keys of the merged view starting with `prefix`, as a JSON array of
/// strings; `*out` is owned by the caller: free with `canopy_string_free`.
#[no_mangle]
pub extern "C" fn canopy_keys_json(
    store: *const canopy_store,
    prefix: *const c_char,
    out: *mut *mut c_char,
) -> c_int {
    guard(|| {
        super::check_out(out)?;
        let s = handle(store, "store")?;
        let keys = s.replica.keys(opt_arg(prefix, "prefix")?);
        let text = serde_json::to_string(&keys)
            .map_err(|e| FfiError::new(CANOPY_ERR_PAYLOAD, e.to_string()))?;
        put(out, owned_string(text)?, "out")
    })
}

fn op_kind(op: c_int) -> Result<OpKind, FfiError> {
    Ok(match op {
        CANOPY_OP_PUT => OpKind::Put,
        CANOPY_OP_DELETE => OpKind::Delete,
        CANOPY_OP_PUT_IF_ABSENT => OpKind::PutIfAbsent,
        CANOPY_OP_CAS => OpKind::Cas,
        CANOPY_OP_INCR => OpKind::Incr,
        CANOPY_OP_DECR => OpKind::Decr,
        CANOPY_OP_APPEND => OpKind::Append,
        CANOPY_OP_SET_INSERT => OpKind::SetInsert,
        CANOPY_OP_SET_REMOVE => OpKind::SetRemove,
        CANOPY_OP_DELETE_SUBTREE => OpKind::DeleteSubtree,
        other => return Err(FfiError::invalid(format!("unknown op {other}"))),
    })
}

/// Any acknowledged write (`args->op`), applied to this replica as soon as
/// it is acknowledged. `result` may be NULL. Errors from the store's rules
/// (schema, limits, compare-and-set, put-if-absent, types) are
/// `CANOPY_ERR_CONFLICT` with the reason in `canopy_last_error`.
#[no_mangle]
pub extern "C" fn canopy_write(
    store: *const canopy_store,
    args: *const canopy_write_args,
    result: *mut canopy_write_result,
) -> c_int {
    guard(|| {
        let s = handle(store, "store")?;
        let spec = spec_at(args, 0)?;
        let op = spec.op();
        let ack = s.runtime.block_on(s.replica.write(spec))?;
        write_result_at(result, 0, op, &ack);
        Ok(())
    })
}

/// The write spec of `args[index]`; the array's stride is the first
/// element's `size` (0: this header's layout), as every element has one.
fn spec_at(args: *const canopy_write_args, index: usize) -> Result<WriteSpec, FfiError> {
    if args.is_null() {
        return Err(FfiError::invalid("args is NULL"));
    }
    // SAFETY: the caller passes structs whose first field is their size.
    let size = unsafe { args.cast::<usize>().read_unaligned() };
    let stride = if size == 0 { WRITE_ARGS_MIN_SIZE } else { size };
    let offset = index
        .checked_mul(stride)
        .ok_or_else(|| FfiError::invalid("args array too large"))?;
    // SAFETY: the caller passes `index + 1` or more elements of `stride` bytes.
    let element = unsafe { args.cast::<u8>().add(offset) }.cast::<canopy_write_args>();
    let a = &super::read_sized(element, size, WRITE_ARGS_MIN_SIZE, "args")?;
    let op = op_kind(a.op)?;
    let level = Level::parse(opt_arg(a.level, "level")?, a.level_is_node != 0)?;
    let key = if op == OpKind::DeleteSubtree {
        opt_arg(a.key, "key")?
    } else {
        arg(a.key, "key")?
    };
    if a.value.is_null() && a.value_len > 0 {
        return Err(FfiError::invalid("value is NULL with a non-zero length"));
    }
    let mut spec = WriteSpec::new(op, &level, key);
    spec.value = if a.value_json.is_null() {
        (!a.value.is_null())
            .then(|| bytes(a.value, a.value_len, "value").map(<[u8]>::to_vec))
            .transpose()?
    } else {
        Some(json_to_msgpack(arg(a.value_json, "value_json")?)?)
    };
    if a.flags & CANOPY_WRITE_BY != 0 {
        spec.by = Some(a.by);
    }
    spec.expected_seq = Some(a.expected_seq);
    if a.flags & CANOPY_WRITE_TTL != 0 {
        spec.ttl = Some(Duration::from_millis(a.ttl_ms));
    }
    Ok(spec)
}

/// Writes the outcome of a write into `results[index]` (NULL: nothing),
/// the stride being the first element's `size`.
fn write_result_at(
    results: *mut canopy_write_result,
    index: usize,
    op: OpKind,
    ack: &crate::WriteAck,
) {
    if results.is_null() {
        return;
    }
    // SAFETY: the caller passes structs whose first field is their size.
    let size = unsafe { results.cast::<usize>().read_unaligned() };
    let stride = if size == 0 {
        std::mem::size_of::<canopy_write_result>()
    } else {
        size
    };
    let Some(offset) = index.checked_mul(stride) else {
        return;
    };
    let integer = match op {
        OpKind::Incr | OpKind::Decr => ack
            .value
            .as_deref()
            .and_then(|v| rmp_serde::from_slice::<i64>(v).ok())
            .unwrap_or(0),
        _ => 0,
    };
    // SAFETY: the caller passes `index + 1` or more elements of `stride` bytes.
    let element = unsafe { results.cast::<u8>().add(offset) }.cast::<canopy_write_result>();
    super::write_sized(
        element,
        size,
        &canopy_write_result {
            size,
            seq: ack.seq,
            deleted: ack.deleted,
            integer,
        },
    );
}

/// `n` writes at once: all in flight together (pipelined), each
/// acknowledged on its own after the commit and applied to this replica.
/// `results` (may be NULL) and `statuses` (may be NULL) get one element per
/// write, in order. Returns `CANOPY_OK` when every write succeeded, else the
/// first failure's status (its reason in `canopy_last_error`). Every element
/// of `args` (and of `results`) has the same `size` as the first.
#[no_mangle]
pub extern "C" fn canopy_write_many(
    store: *const canopy_store,
    args: *const canopy_write_args,
    n: usize,
    results: *mut canopy_write_result,
    statuses: *mut c_int,
) -> c_int {
    guard(|| {
        let s = handle(store, "store")?;
        let specs = (0..n)
            .map(|i| spec_at(args, i))
            .collect::<Result<Vec<_>, _>>()?;
        let ops: Vec<OpKind> = specs.iter().map(WriteSpec::op).collect();
        let outcomes = s.runtime.block_on(s.replica.write_many(specs));
        let mut first_failure = None;
        for (i, (outcome, op)) in outcomes.into_iter().zip(ops).enumerate() {
            let status = match outcome {
                Ok(ack) => {
                    write_result_at(results, i, op, &ack);
                    CANOPY_OK
                }
                Err(e) => {
                    let e = FfiError::from(e);
                    let code = e.code();
                    first_failure.get_or_insert(e);
                    code
                }
            };
            if !statuses.is_null() {
                // SAFETY: the caller passes `n` writable ints, or NULL.
                unsafe { statuses.add(i).write(status) };
            }
        }
        first_failure.map_or(Ok(()), Err)
    })
}

/// Sets `key` at group level `group` ("" = root) to a MessagePack value;
/// `ttl_ms`: `CANOPY_TTL_DEFAULT` (or any negative) for the store's default,
/// 0 for none. `seq` may be NULL.
#[no_mangle]
pub extern "C" fn canopy_put(
    store: *const canopy_store,
    group: *const c_char,
    key: *const c_char,
    value: *const u8,
    len: usize,
    ttl_ms: i64,
    seq: *mut u64,
) -> c_int {
    let args = canopy_write_args {
        // An empty value may come as NULL; NULL with a length stays NULL
        // and is refused.
        value: if value.is_null() && len == 0 {
            c"".as_ptr().cast()
        } else {
            value
        },
        value_len: len,
        ..canopy_write_args::basic(CANOPY_OP_PUT, group, key).with_ttl(ttl_ms)
    };
    write_seq(store, &args, seq)
}

/// Like `canopy_put` with the value as JSON text.
#[no_mangle]
pub extern "C" fn canopy_put_json(
    store: *const canopy_store,
    group: *const c_char,
    key: *const c_char,
    json: *const c_char,
    ttl_ms: i64,
    seq: *mut u64,
) -> c_int {
    if json.is_null() {
        return guard(|| Err(FfiError::invalid("json is NULL")));
    }
    let args = canopy_write_args {
        value_json: json,
        ..canopy_write_args::basic(CANOPY_OP_PUT, group, key).with_ttl(ttl_ms)
    };
    write_seq(store, &args, seq)
}

/// Deletes `key` at group level `group`. `seq` may be NULL.
#[no_mangle]
pub extern "C" fn canopy_delete(
    store: *const canopy_store,
    group: *const c_char,
    key: *const c_char,
    seq: *mut u64,
) -> c_int {
    let args = canopy_write_args::basic(CANOPY_OP_DELETE, group, key);
    write_seq(store, &args, seq)
}

/// Adds `by` to the integer `key` at group level `group`; the new value goes
/// to `*value` (may be NULL).
#[no_mangle]
pub extern "C" fn canopy_incr(
    store: *const canopy_store,
    group: *const c_char,
    key: *const c_char,
    by: i64,
    value: *mut i64,
) -> c_int {
    let op = if by < 0 {
        CANOPY_OP_DECR
    } else {
        CANOPY_OP_INCR
    };
    let args = canopy_write_args {
        by: by.checked_abs().unwrap_or(i64::MAX),
        flags: CANOPY_WRITE_BY,
        ..canopy_write_args::basic(op, group, key)
    };
    let mut result = canopy_write_result::empty();
    let status = canopy_write(store, &args, &mut result);
    if status == CANOPY_OK && !value.is_null() {
        // SAFETY: the caller passes a writable pointer or NULL.
        unsafe { value.write(result.integer) };
    }
    status
}

fn write_seq(store: *const canopy_store, args: &canopy_write_args, seq: *mut u64) -> c_int {
    let mut result = canopy_write_result::empty();
    let status = canopy_write(store, args, &mut result);
    if status == CANOPY_OK && !seq.is_null() {
        // SAFETY: the caller passes a writable pointer or NULL.
        unsafe { seq.write(result.seq) };
    }
    status
}

/// A watch on a replica's merged view. Free with `canopy_watch_free`. Use
/// from one thread at a time.
pub struct canopy_watch {
    runtime: Arc<tokio::runtime::Runtime>,
    watch: crate::Watch,
}

/// One change of the merged view. Free with `canopy_change_free`.
pub struct canopy_change {
    key: std::ffi::CString,
    value: Option<Vec<u8>>,
    seq: u64,
}

/// Watches keys starting with `prefix`; `*out` is owned by the caller.
#[no_mangle]
pub extern "C" fn canopy_watch_open(
    store: *const canopy_store,
    prefix: *const c_char,
    out: *mut *mut canopy_watch,
) -> c_int {
    guard(|| {
        super::check_out(out)?;
        let s = handle(store, "store")?;
        let watch = s.replica.watch(opt_arg(prefix, "prefix")?);
        put(
            out,
            Box::into_raw(Box::new(canopy_watch {
                runtime: Arc::clone(&s.runtime),
                watch,
            })),
            "out",
        )
    })
}

/// Waits up to `timeout_ms` (negative: forever) for the next change; `*out`
/// is owned by the caller (free with `canopy_change_free`).
#[no_mangle]
pub extern "C" fn canopy_watch_next(
    watch: *mut canopy_watch,
    timeout_ms: c_int,
    out: *mut *mut canopy_change,
) -> c_int {
    guard(|| {
        // SAFETY: `watch` came from canopy_watch_open; one thread at a time.
        let w = unsafe { watch.as_mut() }.ok_or_else(|| FfiError::invalid("watch is NULL"))?;
        let runtime = Arc::clone(&w.runtime);
        let next = runtime.block_on(async {
            if timeout_ms < 0 {
                Ok(w.watch.next().await)
            } else {
                tokio::time::timeout(Duration::from_millis(timeout_ms as u64), w.watch.next()).await
            }
        });
        match next {
            Ok(Some(c)) => {
                let change = canopy_change {
                    key: std::ffi::CString::new(c.key.replace('\0', " ")).unwrap_or_default(),
                    value: c.value.map(|v| v.to_vec()),
                    seq: c.seq,
                };
                put(out, Box::into_raw(Box::new(change)), "out")
            }
            Ok(None) => Err(FfiError::new(CANOPY_ERR_CLOSED, "store is closed")),
            Err(_) => Err(FfiError::new(
                CANOPY_ERR_TIMEOUT,
                "no change within the timeout",
            )),
        }
    })
}

/// The changed key. Owned by the change.
#[no_mangle]
pub extern "C" fn canopy_change_key(change: *const canopy_change) -> *const c_char {
    handle(change, "change").map_or(c"".as_ptr(), |c| c.key.as_ptr())
}

/// The new merged value (MessagePack), pointing into the change; `*data` is
/// NULL and `*len` 0 when the key is gone.
#[no_mangle]
pub extern "C" fn canopy_change_value(
    change: *const canopy_change,
    data: *mut *const u8,
    len: *mut usize,
) -> c_int {
    guard(|| {
        let c = handle(change, "change")?;
        let (p, n) = c
            .value
            .as_ref()
            .map_or((std::ptr::null(), 0), |v| (v.as_ptr(), v.len()));
        put(data, p, "data")?;
        put(len, n, "len")
    })
}

/// The sequence of the update behind the change.
#[no_mangle]
pub extern "C" fn canopy_change_seq(change: *const canopy_change) -> u64 {
    handle(change, "change").map_or(0, |c| c.seq)
}

/// Frees a change. NULL is ignored.
#[no_mangle]
pub extern "C" fn canopy_change_free(change: *mut canopy_change) {
    if !change.is_null() {
        // SAFETY: `change` came from canopy_watch_next and is freed once.
        drop(unsafe { Box::from_raw(change) });
    }
}

/// Frees a watch. NULL is ignored.
#[no_mangle]
pub extern "C" fn canopy_watch_free(watch: *mut canopy_watch) {
    if !watch.is_null() {
        // SAFETY: `watch` came from canopy_watch_open and is freed once.
        drop(unsafe { Box::from_raw(watch) });
    }
}
