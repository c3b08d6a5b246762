//! CURVE key material: the broker's key pair, client keys for the link to
//! a parent, and the allow-list of client public keys.

use canopy_schemas::keys::{
    load_client_keys, parse_allow_list, parse_key_file, KeyFileError, KeyLoadError,
};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

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
    /// Client keys (for the link to a parent) could not be loaded.
    #[error(transparent)]
    ClientKeys(#[from] KeyLoadError),
    /// Only one of upstream_server_key and upstream_key_file is set.
    #[error("a CURVE link to the parent needs both upstream_server_key and upstream_key_file")]
    IncompleteUpstream,
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

/// Keys of a CURVE client connection: the server's public key, and this
/// side's public and secret keys.
#[derive(Clone)]
pub struct ClientKeys {
    server: [u8; 32],
    public: [u8; 32],
    secret: [u8; 32],
}

impl ClientKeys {
    /// Loads the server's `.pub` file (or its Z85 public key) and this
    /// side's `.key` file, as the client library does.
    pub fn load(server_pub: &Path, key_file: &Path) -> Result<ClientKeys, AuthError> {
        let text = load_client_keys(&server_pub.to_string_lossy(), key_file)?;
        let decode = |z85: &str| z85_key(z85, key_file);
        Ok(ClientKeys {
            server: z85_key(&text.server_public, server_pub)?,
            public: decode(&text.public)?,
            secret: decode(&text.secret)?,
        })
    }

    /// Makes `socket` a CURVE client with these keys.
    pub fn apply(&self, socket: &zmq::Socket) -> Result<(), zmq::Error> {
        socket.set_curve_serverkey(&self.server)?;
        socket.set_curve_publickey(&self.public)?;
        socket.set_curve_secretkey(&self.secret)
    }
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

/// Makes a bound socket a CURVE server (the ZAP handler decides who enters).
pub fn secure(socket: &zmq::Socket, secret: &[u8; 32]) -> Result<(), zmq::Error> {
    socket.set_curve_server(true)?;
    socket.set_curve_secretkey(secret)
}
