//! Store definitions: a named key prefix with its rules (schema, default TTL,
//! size limits, persistence), and the running counts those limits apply to.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One store as configured (`[stores.NAME]` in the TOML file).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// JSON Schema file (in `schemas_dir`) every value must satisfy.
    pub schema: Option<String>,
    /// Time to live given to writes that name none, in ms; 0 = none.
    pub default_ttl_ms: u64,
    /// Most keys the store may hold; 0 = unlimited.
    pub max_keys: u64,
    /// Most bytes (keys + values) the store may hold; 0 = unlimited.
    pub max_bytes: u64,
    /// Whether writes are made durable before they are acknowledged.
    pub persist: bool,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            schema: None,
            default_ttl_ms: 0,
            max_keys: 0,
            max_bytes: 0,
            persist: true,
        }
    }
}

impl StoreConfig {
    /// The opaque CHP space's defaults: persistent, with a budget (a million
    /// keys, 256 MiB), since any CHP client on the XSUB may write there.
    pub fn opaque_default() -> Self {
        StoreConfig {
            max_keys: 1_000_000,
            max_bytes: 256 * 1024 * 1024,
            ..StoreConfig::default()
        }
    }
}

/// Why a store could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The schema file could not be read.
    #[error("store {store}: reading schema {path}: {source}")]
    Read {
        /// Store name.
        store: String,
        /// Schema file.
        path: PathBuf,
        /// I/O error.
        source: std::io::Error,
    },
    /// The schema file is not JSON, or not a valid JSON Schema.
    #[error("store {store}: schema {path}: {message}")]
    Schema {
        /// Store name.
        store: String,
        /// Schema file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The store name is invalid.
    #[error("invalid store name {0:?}: use A-Z a-z 0-9 _ -")]
    Name(String),
}

/// A store at run time.
pub struct Store {
    /// Name.
    pub name: String,
    /// Its configuration.
    pub config: StoreConfig,
    validator: Option<jsonschema::Validator>,
    /// Keys held now.
    pub keys: u64,
    /// Bytes (keys + values) held now.
    pub bytes: u64,
}

impl Store {
    /// Builds a store, compiling its schema from `schemas_dir`.
    pub fn new(name: &str, config: StoreConfig, schemas_dir: &Path) -> Result<Self, StoreError> {
        canopy_schemas::state::check_store_name(name)
            .map_err(|_| StoreError::Name(name.to_owned()))?;
        let validator = match &config.schema {
            None => None,
            Some(file) => {
                let path = schemas_dir.join(file);
                let text = std::fs::read_to_string(&path).map_err(|source| StoreError::Read {
                    store: name.to_owned(),
                    path: path.clone(),
                    source,
                })?;
                let schema_error = |message: String| StoreError::Schema {
                    store: name.to_owned(),
                    path: path.clone(),
                    message,
                };
                let json: serde_json::Value =
                    serde_json::from_str(&text).map_err(|e| schema_error(e.to_string()))?;
                Some(jsonschema::validator_for(&json).map_err(|e| schema_error(e.to_string()))?)
            }
        };
        Ok(Store {
            name: name.to_owned(),
            config,
            validator,
            keys: 0,
            bytes: 0,
        })
    }

    /// The opaque CHP space (`$chp`): no schema, values kept as bytes.
    pub fn opaque(config: StoreConfig) -> Self {
        Store {
            name: canopy_schemas::state::OPAQUE_STORE.to_owned(),
            config: StoreConfig {
                schema: None,
                ..config
            },
            validator: None,
            keys: 0,
            bytes: 0,
        }
    }

    /// Checks a MessagePack value against the schema; the error names the
    /// failing rule and where in the value it failed.
    pub fn validate(&self, value: &rmpv::Value) -> Result<(), String> {
        let Some(validator) = &self.validator else {
            return Ok(());
        };
        let json = serde_json::to_value(value)
            .map_err(|e| format!("value is not representable as JSON: {e}"))?;
        validator.validate(&json).map_err(|e| {
            let at = e.instance_path().to_string();
            let at = if at.is_empty() {
                "the value".to_owned()
            } else {
                at
            };
            format!("{e} (at {at}, schema rule {})", e.schema_path())
        })
    }

    /// Would adding `keys` keys and `bytes` bytes exceed a limit?
    pub fn check_limits(&self, keys: i64, bytes: i64) -> Result<(), String> {
        let after_keys = self.keys as i64 + keys;
        let after_bytes = self.bytes as i64 + bytes;
        if self.config.max_keys > 0 && keys > 0 && after_keys > self.config.max_keys as i64 {
            return Err(format!(
                "store {} is at max_keys = {}",
                self.name, self.config.max_keys
            ));
        }
        if self.config.max_bytes > 0 && bytes > 0 && after_bytes > self.config.max_bytes as i64 {
            return Err(format!(
                "store {} would exceed max_bytes = {} ({} bytes held)",
                self.name, self.config.max_bytes, self.bytes
            ));
        }
        Ok(())
    }
}
