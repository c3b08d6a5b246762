//! `canopy-broker --check-config`: everything start-up would check about a
//! configuration, without binding a socket or touching the data directory,
//! so an operator can test a change before a restart.

use super::bind::{server_secret, upstream_keys, CURVE_OFF};
use super::{libzmq, BrokerError};
use crate::config::Config;
use crate::security::keys;
use crate::state::StateEngine;

/// Checks `config` as start-up would (limits, libzmq, CURVE keys and
/// allow-list, store schemas, the parent's endpoint and keys). Returns the
/// warnings an operator should see, or the first error.
pub fn check_config(config: &Config) -> Result<Vec<String>, BrokerError> {
    config.validate()?;
    libzmq::check_version()?;
    libzmq::require_curve(config, libzmq::has_curve())?;
    let mut warnings = Vec::new();
    match (server_secret(config)?, &config.allow_list) {
        (Some(_), Some(allow_list)) => {
            keys::load_allow_list(allow_list)?;
        }
        _ => warnings.push(CURVE_OFF.to_owned()),
    }
    StateEngine::with_opaque(
        &config.stores,
        config.chp.clone(),
        &config.schemas_dir,
        config.max_key_length,
    )?;
    if let Some(upstream) = &config.upstream {
        canopy_schemas::BaseEndpoint::parse(upstream)
            .map_err(crate::federation::LinkError::from)?;
        upstream_keys(config)?;
    }
    warnings.extend(super::host::limit_warnings(config));
    Ok(warnings)
}
