//! What the linked libzmq is and can do, checked when the broker starts:
//! canopy ships one build (libzmq 4.3.5 with libsodium CURVE and canopy's
//! XPUB patches, third_party/), and refuses to run on anything else rather
//! than silently losing a protection.

use crate::config::{Config, ConfigError};

/// The libzmq release canopy's patches apply to.
pub const REQUIRED_VERSION: (i32, i32, i32) = (4, 3, 5);

/// The linked libzmq's version, `4.3.5`.
pub fn version() -> String {
    let (major, minor, patch) = zmq::version();
    format!("{major}.{minor}.{patch}")
}

/// True when the linked libzmq can do CURVE (built with libsodium).
pub fn has_curve() -> bool {
    zmq::has("curve") == Some(true)
}

/// `libzmq 4.3.5, curve`: what `--version` and the logs say about the build.
pub fn summary() -> String {
    let curve = if has_curve() { "curve" } else { "no curve" };
    format!("libzmq {}, {curve}", version())
}

/// Why the linked libzmq cannot run this broker.
#[derive(Debug, thiserror::Error)]
pub enum LibzmqError {
    /// Another libzmq than canopy's own was linked.
    #[error(
        "canopy needs its own libzmq {}.{}.{} (third_party/, with canopy's XPUB patches); this binary links libzmq {found}",
        REQUIRED_VERSION.0,
        REQUIRED_VERSION.1,
        REQUIRED_VERSION.2
    )]
    WrongVersion {
        /// The linked version.
        found: String,
    },
    /// The linked libzmq refuses canopy's own XPUB option.
    #[error("the linked libzmq {0} lacks canopy's XPUB patches (third_party/README.md)")]
    Unpatched(String),
}

/// Fails unless the linked libzmq is the release canopy's patches are for.
pub fn check_version() -> Result<(), LibzmqError> {
    if zmq::version() == REQUIRED_VERSION {
        Ok(())
    } else {
        Err(LibzmqError::WrongVersion { found: version() })
    }
}

/// Refuses a configuration that asks for CURVE when `curve` (the linked
/// libzmq's ability) is false, naming the settings that ask for it.
pub fn require_curve(config: &Config, curve: bool) -> Result<(), ConfigError> {
    if curve {
        return Ok(());
    }
    let asking: Vec<&str> = [
        ("curve_key_file", config.curve_key_file.is_some()),
        ("allow_list", config.allow_list.is_some()),
        ("upstream_server_key", config.upstream_server_key.is_some()),
        ("upstream_key_file", config.upstream_key_file.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect();
    if asking.is_empty() {
        return Ok(());
    }
    Err(ConfigError::Invalid(format!(
        "{} ask(s) for CURVE, but the linked libzmq {} was built without it",
        asking.join(", "),
        version()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn links_canopys_libzmq_with_curve() {
        assert_eq!(zmq::version(), REQUIRED_VERSION);
        assert!(has_curve(), "libsodium CURVE must be built in");
        assert_eq!(summary(), "libzmq 4.3.5, curve");
        check_version().unwrap();
    }

    #[test]
    fn curve_settings_are_refused_without_curve() {
        let plain = Config::default();
        require_curve(&plain, false).unwrap();
        let asking = Config {
            curve_key_file: Some(PathBuf::from("b.key")),
            allow_list: Some(PathBuf::from("allow")),
            ..Config::default()
        };
        require_curve(&asking, true).unwrap();
        let e = require_curve(&asking, false).unwrap_err().to_string();
        assert!(
            e.contains("curve_key_file, allow_list") && e.contains("without it"),
            "{e}"
        );
        let link = Config {
            upstream_key_file: Some(PathBuf::from("child.key")),
            ..Config::default()
        };
        assert!(require_curve(&link, false)
            .unwrap_err()
            .to_string()
            .contains("upstream_key_file"));
    }
}
