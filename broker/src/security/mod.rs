//! Who may connect and what they may do: CURVE keys and the ZAP handler,
//! connection counting, per-identity ACLs, and the limits on requests in
//! flight and at the transport.

pub mod acl;
pub mod connections;
pub mod inflight;
pub mod keys;
pub mod transport;
pub mod zap;
