//! What the host allows a configuration: open descriptors for
//! `max_connections`, a listen queue of `listen_backlog`. Start-up logs
//! these warnings and `--check-config` prints them.

use crate::config::Config;

/// Descriptors the broker holds besides its connections (database, inproc
/// sockets, libzmq's own), kept free when comparing with `max_connections`.
const OWN_DESCRIPTORS: u64 = 64;

/// What the machine would not give this configuration: descriptors for
/// `max_connections`, a listen queue of `listen_backlog`. Start-up logs
/// these too.
pub fn limit_warnings(config: &Config) -> Vec<String> {
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
