//! Telling a service manager how the broker is doing: systemd's
//! `Type=notify` protocol (READY=1 once every socket is bound and the state
//! loaded, STOPPING=1 when a stop begins). Without `NOTIFY_SOCKET` in the
//! environment these do nothing.

use sd_notify::NotifyState;

fn notify(states: &[NotifyState<'_>]) {
    // The environment is left as it is: changing it is unsound once other
    // threads run.
    if let Err(e) = sd_notify::notify(false, states) {
        tracing::warn!(error = %e, "could not notify the service manager");
    }
}

/// The broker serves: sockets bound, state loaded, ready line printed.
pub fn ready(status: &str) {
    notify(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// A stop began (SIGTERM or SIGINT): replies are being flushed.
pub fn stopping() {
    notify(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}
