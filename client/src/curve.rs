//! Client-side CURVE: the broker's public key and this client's key pair,
//! applied to every socket a node or an admin request opens.

use crate::error::ZmqResult;
use crate::ClientError;
use canopy_schemas::keys::load_client_keys;
use std::path::Path;

/// Keys for a CURVE connection.
#[derive(Clone, PartialEq, Eq)]
pub struct CurveKeys {
    /// The broker's public key.
    pub server_public: [u8; 32],
    /// This client's public key (must be in the broker's allow-list).
    pub public: [u8; 32],
    /// This client's secret key.
    pub secret: [u8; 32],
}

impl std::fmt::Debug for CurveKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret key.
        f.debug_struct("CurveKeys")
            .field(
                "server_public",
                &zmq::z85_encode(&self.server_public).unwrap_or_default(),
            )
            .field("public", &zmq::z85_encode(&self.public).unwrap_or_default())
            .finish_non_exhaustive()
    }
}

fn z85(text: &str, what: &str) -> Result<[u8; 32], ClientError> {
    zmq::z85_decode(text.trim())
        .ok()
        .and_then(|v| <[u8; 32]>::try_from(v).ok())
        .ok_or_else(|| ClientError::Curve(format!("{what} is not a 40-character Z85 key")))
}

impl CurveKeys {
    /// From Z85 text: the broker's public key, this client's public and secret keys.
    pub fn from_z85(server_public: &str, public: &str, secret: &str) -> Result<Self, ClientError> {
        Ok(CurveKeys {
            server_public: z85(server_public, "server key")?,
            public: z85(public, "public key")?,
            secret: z85(secret, "secret key")?,
        })
    }

    /// From files: `server` is the broker's `.pub` (or `.key`) file, or its
    /// public key as Z85 text; `key_file` is this client's `.key` file.
    pub fn load(server: &str, key_file: &Path) -> Result<Self, ClientError> {
        let text =
            load_client_keys(server, key_file).map_err(|e| ClientError::Curve(e.to_string()))?;
        Self::from_z85(&text.server_public, &text.public, &text.secret)
    }

    /// Makes `socket` a CURVE client of the broker.
    pub(crate) fn apply(&self, socket: &zmq::Socket) -> Result<(), zmq::Error> {
        socket.set_curve_serverkey(&self.server_public)?;
        socket.set_curve_publickey(&self.public)?;
        socket.set_curve_secretkey(&self.secret)
    }

    /// A new key pair as Z85 text (public, secret).
    pub fn generate() -> Result<(String, String), ClientError> {
        let pair = zmq::CurveKeyPair::new().z()?;
        let enc = |k: &[u8]| zmq::z85_encode(k).map_err(|e| ClientError::Curve(format!("{e:?}")));
        Ok((enc(&pair.public_key)?, enc(&pair.secret_key)?))
    }
}
