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
}
