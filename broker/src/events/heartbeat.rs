//! CHP heartbeats (`HUGZ`) on the XPUB.

/// Sends a CHP heartbeat on the XPUB: `[HUGZ, seq 0, uuid, properties, body]`.
pub fn send_hugz(xpub: &zmq::Socket) -> Result<(), zmq::Error> {
    xpub.send(canopy_schemas::HUGZ, zmq::SNDMORE)?;
    xpub.send(&0u64.to_be_bytes()[..], zmq::SNDMORE)?;
    xpub.send(&b""[..], zmq::SNDMORE)?;
    xpub.send(&b""[..], zmq::SNDMORE)?;
    xpub.send(&b""[..], 0)
}
