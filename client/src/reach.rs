//! Why a broker cannot be reached, told at once: libzmq retries a connection
//! silently for ever, so without this every failure (a host name that does
//! not resolve, nothing listening, no route) would look the same: a timeout
//! after the whole deadline.

use crate::ClientError;
use canopy_schemas::BaseEndpoint;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// How long a request may go unanswered before the TCP probe runs (a broker
/// that is up answers well within it).
pub(crate) const PROBE_AFTER: Duration = Duration::from_millis(300);

/// Resolves the broker's host: a name that does not resolve is an error now.
pub(crate) fn resolve(broker: &str) -> Result<(), ClientError> {
    let base = BaseEndpoint::parse(broker).map_err(|_| ClientError::Endpoint(broker.to_owned()))?;
    match (base.host(), base.port()).to_socket_addrs() {
        Ok(mut addrs) => match addrs.next() {
            Some(_) => Ok(()),
            None => Err(unreachable(
                broker,
                "the host name resolves to no address".into(),
            )),
        },
        Err(e) => Err(unreachable(
            broker,
            format!("cannot resolve host {:?}: {e}", base.host()),
        )),
    }
}

/// A plain TCP connection to the broker's ROUTER port: Ok when something
/// listens there (then the broker is slow or refuses the handshake), the
/// reason otherwise (refused: nothing listens; unreachable; timed out).
pub(crate) fn probe(broker: &str, timeout: Duration) -> Result<(), ClientError> {
    let base = BaseEndpoint::parse(broker).map_err(|_| ClientError::Endpoint(broker.to_owned()))?;
    let addrs: Vec<_> = (base.host(), base.port())
        .to_socket_addrs()
        .map_err(|e| {
            unreachable(
                broker,
                format!("cannot resolve host {:?}: {e}", base.host()),
            )
        })?
        .collect();
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(_) => return Ok(()),
            Err(e) => last = Some(e),
        }
    }
    let reason = match last {
        Some(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            "connection refused: nothing listens on that port (is the broker running, on this port?)"
                .to_owned()
        }
        Some(e) => format!("cannot connect: {e}"),
        None => "the host name resolves to no address".to_owned(),
    };
    Err(unreachable(broker, reason))
}

fn unreachable(broker: &str, reason: String) -> ClientError {
    ClientError::Unreachable {
        endpoint: broker.to_owned(),
        reason,
    }
}
