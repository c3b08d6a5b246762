//! Who sent a ROUTER message: what the control and state planes and the
//! link to a parent need to answer it.

/// The sender of one ROUTER message.
#[derive(Debug, Clone)]
pub(crate) struct Peer {
    /// The ROUTER routing id (where replies go).
    pub identity: Vec<u8>,
    /// The CURVE identity of the connection, if any.
    pub user: Option<String>,
}
