//! Socket options that `zmq` 0.9 has no setter for, canopy's own XPUB
//! option among them (third_party/README.md).

/// Sets an int socket option that zmq 0.9 has no setter for.
fn set_int_option(
    socket: &mut zmq::Socket,
    option: u32,
    value: std::ffi::c_int,
) -> Result<(), zmq::Error> {
    // SAFETY: a live socket, and the option takes an int by pointer.
    let rc = unsafe {
        zmq_sys::zmq_setsockopt(
            socket.as_mut_ptr(),
            option as std::ffi::c_int,
            (&value as *const std::ffi::c_int).cast(),
            std::mem::size_of::<std::ffi::c_int>(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        // SAFETY: reads the calling thread's errno as libzmq set it.
        Err(zmq::Error::from_raw(unsafe { zmq_sys::zmq_errno() }))
    }
}

/// Turns on ZMQ_XPUB_MANUAL: the broker applies each subscription itself.
pub fn set_xpub_manual(socket: &mut zmq::Socket) -> Result<(), zmq::Error> {
    set_int_option(socket, zmq_sys::ZMQ_XPUB_MANUAL, 1)
}

/// Canopy's own XPUB option in the patched libzmq (third_party/): most
/// prefixes one connection may hold in manual mode.
const CANOPY_XPUB_PIPE_SUBSCRIPTIONS: u32 = 0x63616e;

/// Caps the prefixes one connection may hold. Fails with EINVAL on a libzmq
/// without canopy's patch (the system build).
pub fn set_subscriptions_per_connection(
    socket: &mut zmq::Socket,
    limit: u32,
) -> Result<(), zmq::Error> {
    let limit = std::ffi::c_int::try_from(limit).unwrap_or(std::ffi::c_int::MAX);
    set_int_option(socket, CANOPY_XPUB_PIPE_SUBSCRIPTIONS, limit)
}

/// Turns on ZMQ_XPUB_NODROP: a full pipe makes a send fail with EAGAIN
/// (counted by the caller) instead of dropping silently.
pub fn set_xpub_nodrop(socket: &mut zmq::Socket) -> Result<(), zmq::Error> {
    set_int_option(socket, zmq_sys::ZMQ_XPUB_NODROP, 1)
}

/// Starts a socket monitor on `socket` for `events` and returns the PAIR
/// that reads it (unbounded on our side: a dropped event would skew what
/// the broker counts from them).
pub fn monitor(
    context: &zmq::Context,
    socket: &zmq::Socket,
    endpoint: &str,
    events: i32,
) -> Result<zmq::Socket, zmq::Error> {
    socket.monitor(endpoint, events)?;
    let pair = context.socket(zmq::PAIR)?;
    pair.set_linger(0)?;
    pair.set_rcvhwm(0)?;
    pair.connect(endpoint)?;
    Ok(pair)
}
