//! `canopy-broker --check-config`: everything start-up would check about a
//! configuration, without binding a socket or touching the data directory,
//! so an operator can test a change before a restart.

use super::bind::{server_secret, upstream_keys, CURVE_OFF};
use super::{libzmq, BrokerError};
use crate::config::Config;
use crate::security::keys;
use crate::state::StateEngine;

/// Descriptors the broker holds besides its connections (database, inproc
/// sockets, libzmq's own), kept free when comparing with `max_connections`.
const OWN_DESCRIPTORS: u64 = 64;

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
    warnings.extend(host_limit_warnings(config));
    Ok(warnings)
}

/// What the machine would not give this configuration: descriptors for
/// `max_connections`, a listen queue of `listen_backlog`. Start-up logs
/// these too.
pub fn host_limit_warnings(config: &Config) -> Vec<String> {
    let mut warnings = Vec::new();
    if let Ok((_, hard)) = rlimit::getrlimit(rlimit::Resource::NOFILE) {
        let wanted = config.max_connections.saturating_add(OWN_DESCRIPTORS);
        if hard != rlimit::INFINITY && wanted > hard {
            warnings.push(format!(
                "max_connections = {} needs about {wanted} open descriptors, but this process may \
                 open at most {hard} (raise the hard limit, e.g. LimitNOFILE= in the systemd unit, \
                 or lower max_connections)",
                config.max_connections
            ));
        }
    }
    // Linux only; elsewhere the file is absent and nothing is said.
    let somaxconn = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok());
    if let Some(somaxconn) = somaxconn.filter(|&cap| cap < config.listen_backlog) {
        warnings.push(format!(
            "listen_backlog = {} is capped by the kernel at net.core.somaxconn = {somaxconn}: \
             in a reconnect storm, connections beyond it wait for TCP to retry (raise it with \
             sysctl)",
            config.listen_backlog
        ));
    }
    warnings
}
