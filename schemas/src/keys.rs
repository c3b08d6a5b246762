//! CURVE key files, as `canopy keygen` writes them and the broker and the
//! clients read them. Keys are Z85 text (40 characters for 32 bytes).
//!
//! ```text
//! # NAME.key: a key pair; keep it secret
//! public = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
//! secret = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"
//! # NAME.pub: the public half only
//! public = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
//! ```
//!
//! An allow-list has one client per line, `IDENTITY Z85-PUBLIC-KEY`, with `#`
//! comments and blank lines ignored.

/// Length of a Z85-encoded CURVE key.
pub const Z85_KEY_LEN: usize = 40;

/// Why a key file or allow-list line was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyFileError {
    /// A line is not `name = "value"`.
    #[error("line {0}: expected name = \"value\"")]
    Syntax(usize),
    /// A key is not 40 characters of Z85.
    #[error("line {0}: a key must be 40 Z85 characters")]
    KeyLength(usize),
    /// An allow-list line is not `IDENTITY KEY`.
    #[error("line {0}: expected IDENTITY Z85-PUBLIC-KEY")]
    AllowLine(usize),
    /// The same identity or key appears twice.
    #[error("line {0}: duplicate identity or key {1:?}")]
    Duplicate(usize, String),
    /// An identity has characters outside `[A-Za-z0-9_.-]`.
    #[error("line {0}: identity {1:?} must be 1-64 characters of A-Z a-z 0-9 _ . -")]
    Identity(usize, String),
}

/// The two halves a key file may hold, as Z85 text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyFile {
    /// `public = "…"`.
    pub public: Option<String>,
    /// `secret = "…"`.
    pub secret: Option<String>,
}

fn check_z85(value: &str, line: usize) -> Result<(), KeyFileError> {
    if value.len() != Z85_KEY_LEN || !value.is_ascii() {
        return Err(KeyFileError::KeyLength(line));
    }
    Ok(())
}

/// Parses a key file.
pub fn parse_key_file(text: &str) -> Result<KeyFile, KeyFileError> {
    let mut out = KeyFile::default();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, value) = line.split_once('=').ok_or(KeyFileError::Syntax(n))?;
        let value = value
            .trim()
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .ok_or(KeyFileError::Syntax(n))?;
        check_z85(value, n)?;
        match name.trim() {
            "public" => out.public = Some(value.to_owned()),
            "secret" => out.secret = Some(value.to_owned()),
            _ => return Err(KeyFileError::Syntax(n)),
        }
    }
    Ok(out)
}

/// The Z85 text of a CURVE client's keys, as both the client library and a
/// child broker's link load them.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientKeyText {
    /// The server's public key.
    pub server_public: String,
    /// This side's public key (in the server's allow-list).
    pub public: String,
    /// This side's secret key.
    pub secret: String,
}

impl std::fmt::Debug for ClientKeyText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret key.
        f.debug_struct("ClientKeyText")
            .field("server_public", &self.server_public)
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

/// Why client keys could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyLoadError {
    /// A file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file's content is invalid.
    #[error("{path}: {source}")]
    Parse {
        /// The file.
        path: String,
        /// What is wrong.
        source: KeyFileError,
    },
    /// A key the file must hold is missing.
    #[error("{path}: {what} (canopy keygen writes one)")]
    Missing {
        /// The file.
        path: String,
        /// What is missing.
        what: &'static str,
    },
}

fn read_key_file(path: &std::path::Path) -> Result<KeyFile, KeyLoadError> {
    let shown = || path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| KeyLoadError::Read {
        path: shown(),
        source,
    })?;
    parse_key_file(&text).map_err(|source| KeyLoadError::Parse {
        path: shown(),
        source,
    })
}

/// Loads a CURVE client's keys: `server` is the server's `.pub` (or `.key`)
/// file, or its public key as 40 characters of Z85 text; `key_file` is this
/// side's `.key` file (public and secret).
pub fn load_client_keys(
    server: &str,
    key_file: &std::path::Path,
) -> Result<ClientKeyText, KeyLoadError> {
    let server_path = std::path::Path::new(server);
    let server_public = if server_path.exists() {
        read_key_file(server_path)?
            .public
            .ok_or_else(|| KeyLoadError::Missing {
                path: server.to_owned(),
                what: "no public key",
            })?
    } else {
        let text = server.trim();
        check_z85(text, 1).map_err(|source| KeyLoadError::Parse {
            path: server.to_owned(),
            source,
        })?;
        text.to_owned()
    };
    let mine = read_key_file(key_file)?;
    let (Some(public), Some(secret)) = (mine.public, mine.secret) else {
        return Err(KeyLoadError::Missing {
            path: key_file.display().to_string(),
            what: "a client key file needs public and secret",
        });
    };
    Ok(ClientKeyText {
        server_public,
        public,
        secret,
    })
}

/// Writes a key file.
pub fn format_key_file(public: &str, secret: Option<&str>) -> String {
    match secret {
        Some(s) => format!(
            "# canopy CURVE key pair: keep this file secret\npublic = \"{public}\"\nsecret = \"{s}\"\n"
        ),
        None => format!("# canopy CURVE public key\npublic = \"{public}\"\n"),
    }
}

/// Parses an allow-list into (identity, Z85 public key) pairs.
pub fn parse_allow_list(text: &str) -> Result<Vec<(String, String)>, KeyFileError> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.split_whitespace();
        let (Some(identity), Some(key), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(KeyFileError::AllowLine(n));
        };
        let ok = !identity.is_empty()
            && identity.len() <= 64
            && identity
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-');
        if !ok {
            return Err(KeyFileError::Identity(n, identity.to_owned()));
        }
        check_z85(key, n)?;
        if out.iter().any(|(id, k)| id == identity || k == key) {
            return Err(KeyFileError::Duplicate(n, identity.to_owned()));
        }
        out.push((identity.to_owned(), key.to_owned()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const K: &str = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";

    #[test]
    fn key_files_and_allow_lists() {
        let text = format_key_file(K, Some(K));
        let parsed = parse_key_file(&text).unwrap();
        assert_eq!(parsed.public.as_deref(), Some(K));
        assert_eq!(parsed.secret.as_deref(), Some(K));
        assert_eq!(
            parse_key_file(&format_key_file(K, None)).unwrap().secret,
            None
        );
        assert_eq!(
            parse_key_file("public = \"short\""),
            Err(KeyFileError::KeyLength(1))
        );
        assert_eq!(parse_key_file("public: x"), Err(KeyFileError::Syntax(1)));
        let list = parse_allow_list(&format!("# clients\n\nsensor-1 {K}\n")).unwrap();
        assert_eq!(list, vec![("sensor-1".to_owned(), K.to_owned())]);
        assert!(matches!(
            parse_allow_list(&format!("a {K}\nb {K}")),
            Err(KeyFileError::Duplicate(2, _))
        ));
        assert!(matches!(
            parse_allow_list("a"),
            Err(KeyFileError::AllowLine(1))
        ));
        assert!(matches!(
            parse_allow_list(&format!("b@d {K}")),
            Err(KeyFileError::Identity(1, _))
        ));
    }

    #[test]
    fn client_keys_load_from_files_or_z85_text() {
        let dir = std::env::temp_dir().join(format!("canopy-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let server = dir.join("server.pub");
        let client = dir.join("client.key");
        std::fs::write(&server, format_key_file(K, None)).unwrap();
        std::fs::write(&client, format_key_file(K, Some(K))).unwrap();
        let from_file = load_client_keys(server.to_str().unwrap(), &client).unwrap();
        let from_text = load_client_keys(&format!(" {K}\n"), &client).unwrap();
        assert_eq!(from_file, from_text);
        assert_eq!(from_file.secret, K);
        assert!(!format!("{from_file:?}").contains("secret"));
        assert!(matches!(
            load_client_keys("not-a-key", &client),
            Err(KeyLoadError::Parse { .. })
        ));
        assert!(matches!(
            load_client_keys(server.to_str().unwrap(), &server),
            Err(KeyLoadError::Missing { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
