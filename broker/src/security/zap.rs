//! The ZAP handler (ZeroMQ RFC 27): admits only allow-listed CURVE keys,
//! each under an identity name, re-reads the list on SIGHUP, and enforces
//! `max_connections` for every handshake.

use super::connections::Connections;
use super::keys::{load_allow_list, AuthError};
use crate::metrics::Counters;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The endpoint libzmq sends ZAP requests to.
const ZAP_ENDPOINT: &str = "inproc://zeromq.zap.01";
/// ZAP domain the broker's sockets declare.
pub const ZAP_DOMAIN: &str = "canopy";

/// The CURVE allow-list and where it is read from.
struct AllowList {
    allowed: HashMap<[u8; 32], String>,
    path: PathBuf,
}

/// The ZAP handler: a REP socket in the broker's context, served by the
/// loop. Every connection to the three sockets passes through it (the
/// sockets declare a ZAP domain even without CURVE), so it enforces the
/// CURVE allow-list when there is one and `max_connections` always.
pub struct Zap {
    /// The REP socket (polled by the loop).
    pub socket: zmq::Socket,
    curve: Option<AllowList>,
    /// Connections open on the broker's sockets.
    pub connections: Connections,
    max_connections: u64,
}

impl Zap {
    /// Binds the ZAP endpoint, loads the allow-list when CURVE is on, and
    /// makes `sockets` (not yet bound) ask it about every connection.
    pub fn start(
        context: &zmq::Context,
        allow_list: Option<&Path>,
        sockets: &[(&zmq::Socket, &str)],
        max_connections: u64,
    ) -> Result<Zap, AuthError> {
        let curve = match allow_list {
            Some(path) => {
                if zmq::has("curve") != Some(true) {
                    return Err(AuthError::NoCurve);
                }
                let allowed = load_allow_list(path)?;
                tracing::info!(clients = allowed.len(), path = %path.display(), "CURVE on: allow-list loaded");
                Some(AllowList {
                    allowed,
                    path: path.to_owned(),
                })
            }
            None => None,
        };
        let socket = context.socket(zmq::REP)?;
        socket.set_linger(0)?;
        socket.bind(ZAP_ENDPOINT)?;
        for (s, _) in sockets {
            s.set_zap_domain(ZAP_DOMAIN)?;
        }
        Ok(Zap {
            socket,
            curve,
            connections: Connections::watch(context, sockets)?,
            max_connections,
        })
    }

    /// True when CURVE is on.
    pub fn secured(&self) -> bool {
        self.curve.is_some()
    }

    /// Re-reads the allow-list; on error the old one stays in force.
    pub fn reload(&mut self, c: &mut Counters) {
        let Some(list) = &mut self.curve else { return };
        match load_allow_list(&list.path) {
            Ok(allowed) => {
                c.auth_reloads += 1;
                tracing::info!(clients = allowed.len(), "allow-list reloaded");
                list.allowed = allowed;
            }
            Err(e) => {
                c.auth_reload_failures += 1;
                tracing::error!(error = %e, "allow-list reload failed; keeping the previous list");
            }
        }
    }

    /// Who a ZAP request is, or why (and with which RFC 27 status) it is refused.
    fn verdict(
        &mut self,
        frames: &[Vec<u8>],
        c: &mut Counters,
    ) -> Result<String, (&'static str, &'static str)> {
        // RFC 27: version, request id, domain, address, identity, mechanism, credentials…
        if frames.first().map(Vec::as_slice) != Some(b"1.0") {
            return Err(("400", "unsupported ZAP version"));
        }
        // The asking connection is still in its handshake: it is not among
        // the established ones, and strangers stalled in theirs never are.
        let count = self.connections.refresh(c);
        if count.established >= self.max_connections {
            c.connections_refused += 1;
            if c.connections_refused.is_power_of_two() {
                // Logged at 1, 2, 4, 8… refusals: visible, never a flood.
                tracing::warn!(
                    open = count.established,
                    handshaking = count.handshaking,
                    max_connections = self.max_connections,
                    refused = c.connections_refused,
                    "connection refused: max_connections reached"
                );
            }
            // 500, not RFC 27's "temporary" 300: libzmq turns 300 into a
            // silent disconnect, while 500 reaches the client as an ERROR
            // it can tell apart from a refused key (400).
            return Err(("500", "max_connections reached"));
        }
        let mechanism = frames.get(5).map(Vec::as_slice).unwrap_or_default();
        let Some(list) = &self.curve else {
            return Ok(String::new());
        };
        let key = frames
            .get(6)
            .and_then(|k| <[u8; 32]>::try_from(k.as_slice()).ok());
        let found = match (mechanism, key) {
            (b"CURVE", Some(k)) => list.allowed.get(&k).cloned().ok_or("unknown key"),
            _ => Err("only CURVE is accepted"),
        };
        found.map_err(|why| {
            c.auth_denied += 1;
            let shown = key
                .and_then(|k| zmq::z85_encode(&k).ok())
                .unwrap_or_default();
            tracing::warn!(address = %address(frames), key = %shown, reason = why, "client refused");
            ("400", why)
        })
    }

    /// Answers every waiting ZAP request.
    pub fn serve(&mut self, c: &mut Counters) -> Result<(), zmq::Error> {
        while let Ok(frames) = self.socket.recv_multipart(zmq::DONTWAIT) {
            let request_id = frames.get(1).cloned().unwrap_or_default();
            let (code, text, user) = match self.verdict(&frames, c) {
                Ok(identity) => {
                    if self.curve.is_some() {
                        c.auth_allowed += 1;
                        tracing::debug!(%identity, address = %address(&frames), "client admitted");
                    }
                    ("200", "OK", identity)
                }
                Err((code, why)) => {
                    tracing::debug!(address = %address(&frames), reason = why, "connection refused");
                    (code, why, String::new())
                }
            };
            self.socket.send_multipart(
                [
                    &b"1.0"[..],
                    &request_id,
                    code.as_bytes(),
                    text.as_bytes(),
                    user.as_bytes(),
                    b"",
                ],
                0,
            )?;
        }
        Ok(())
    }
}

fn address(frames: &[Vec<u8>]) -> String {
    frames
        .get(3)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .unwrap_or_default()
}
