//! CURVE authentication: the broker's key pair on all three sockets, and a
//! ZAP handler (ZeroMQ RFC 27) admitting only clients whose public key is in
//! an allow-list file, each under an identity name. The list is re-read on
//! SIGHUP without a restart.

use crate::metrics::Counters;
use canopy_schemas::keys::{parse_allow_list, parse_key_file, KeyFileError};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The endpoint libzmq sends ZAP requests to.
const ZAP_ENDPOINT: &str = "inproc://zeromq.zap.01";
/// ZAP domain the broker's sockets declare.
pub const ZAP_DOMAIN: &str = "canopy";

/// Why CURVE could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// A file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file's content is invalid.
    #[error("{path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        source: KeyFileError,
    },
    /// The broker key file has no secret key.
    #[error("{0}: the broker key file needs both public and secret (canopy keygen writes one)")]
    MissingSecret(PathBuf),
    /// A key is not valid Z85.
    #[error("{0}: invalid Z85 key")]
    Z85(PathBuf),
    /// This libzmq was built without CURVE.
    #[error("this libzmq has no CURVE support")]
    NoCurve,
    /// A ZeroMQ call failed.
    #[error("zap: {0}")]
    Zmq(#[from] zmq::Error),
    /// Only one of curve_key_file and allow_list is set.
    #[error("CURVE needs both curve_key_file and allow_list")]
    Incomplete,
}

fn read(path: &Path) -> Result<String, AuthError> {
    std::fs::read_to_string(path).map_err(|source| AuthError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Decodes a 40-character Z85 key.
pub fn z85_key(text: &str, path: &Path) -> Result<[u8; 32], AuthError> {
    zmq::z85_decode(text)
        .ok()
        .and_then(|v| <[u8; 32]>::try_from(v).ok())
        .ok_or_else(|| AuthError::Z85(path.to_owned()))
}

/// The broker's key pair from its key file.
pub fn load_server_keys(path: &Path) -> Result<([u8; 32], [u8; 32]), AuthError> {
    let parsed = parse_key_file(&read(path)?).map_err(|source| AuthError::Parse {
        path: path.to_owned(),
        source,
    })?;
    let (Some(public), Some(secret)) = (parsed.public, parsed.secret) else {
        return Err(AuthError::MissingSecret(path.to_owned()));
    };
    Ok((z85_key(&public, path)?, z85_key(&secret, path)?))
}

/// Allowed client keys → identity names.
pub fn load_allow_list(path: &Path) -> Result<HashMap<[u8; 32], String>, AuthError> {
    let entries = parse_allow_list(&read(path)?).map_err(|source| AuthError::Parse {
        path: path.to_owned(),
        source,
    })?;
    entries
        .into_iter()
        .map(|(identity, key)| Ok((z85_key(&key, path)?, identity)))
        .collect()
}

/// Makes a bound socket a CURVE server that asks the ZAP handler.
pub fn secure(socket: &zmq::Socket, secret: &[u8; 32]) -> Result<(), zmq::Error> {
    socket.set_curve_server(true)?;
    socket.set_curve_secretkey(secret)?;
    socket.set_zap_domain(ZAP_DOMAIN)
}

/// The ZAP handler: a REP socket in the broker's context, served by the loop.
pub struct Zap {
    /// The REP socket (polled by the loop).
    pub socket: zmq::Socket,
    allowed: HashMap<[u8; 32], String>,
    path: PathBuf,
}

impl Zap {
    /// Binds the ZAP endpoint and loads the allow-list.
    pub fn start(context: &zmq::Context, allow_list: &Path) -> Result<Zap, AuthError> {
        if zmq::has("curve") != Some(true) {
            return Err(AuthError::NoCurve);
        }
        let allowed = load_allow_list(allow_list)?;
        let socket = context.socket(zmq::REP)?;
        socket.set_linger(0)?;
        socket.bind(ZAP_ENDPOINT)?;
        tracing::info!(clients = allowed.len(), path = %allow_list.display(), "CURVE on: allow-list loaded");
        Ok(Zap {
            socket,
            allowed,
            path: allow_list.to_owned(),
        })
    }

    /// Re-reads the allow-list; on error the old one stays in force.
    pub fn reload(&mut self, c: &mut Counters) {
        match load_allow_list(&self.path) {
            Ok(allowed) => {
                c.auth_reloads += 1;
                tracing::info!(clients = allowed.len(), "allow-list reloaded");
                self.allowed = allowed;
            }
            Err(e) => {
                c.auth_reload_failures += 1;
                tracing::error!(error = %e, "allow-list reload failed; keeping the previous list");
            }
        }
    }

    /// Answers every waiting ZAP request.
    pub fn serve(&mut self, c: &mut Counters) -> Result<(), zmq::Error> {
        while let Ok(frames) = self.socket.recv_multipart(zmq::DONTWAIT) {
            // RFC 27: version, request id, domain, address, identity, mechanism, credentials…
            let version = frames.first().cloned().unwrap_or_default();
            let request_id = frames.get(1).cloned().unwrap_or_default();
            let address = frames
                .get(3)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .unwrap_or_default();
            let mechanism = frames.get(5).map(Vec::as_slice).unwrap_or_default();
            let key = frames
                .get(6)
                .and_then(|k| <[u8; 32]>::try_from(k.as_slice()).ok());
            let verdict = match (version.as_slice(), mechanism, key) {
                (b"1.0", b"CURVE", Some(k)) => self.allowed.get(&k).cloned().ok_or("unknown key"),
                (b"1.0", _, _) => Err("only CURVE is accepted"),
                _ => Err("unsupported ZAP version"),
            };
            let (code, text, user) = match verdict {
                Ok(identity) => {
                    c.auth_allowed += 1;
                    tracing::debug!(%identity, %address, "client admitted");
                    ("200", "OK", identity)
                }
                Err(why) => {
                    c.auth_denied += 1;
                    let shown = key
                        .and_then(|k| zmq::z85_encode(&k).ok())
                        .unwrap_or_default();
                    tracing::warn!(%address, key = %shown, reason = why, "client refused");
                    ("400", why, String::new())
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
