//! Wire types of canopy: everything that crosses a socket, and the naming rules
//! that keep events, state and heartbeats apart. No sockets live here.
//!
//! The normative description is `PROTOCOL.md` beside this crate; every constant
//! below is named there.

pub mod clock;
pub mod control;
pub mod endpoint;
pub mod fuzzing;
pub mod header;
pub mod keys;
pub mod state;
pub mod topic;

pub use control::{ControlError, ErrorCode, NodeInfo, Reply, Request, StatsReport};
pub use endpoint::{BaseEndpoint, EndpointError};
pub use header::{EventHeader, HeaderError};
pub use topic::{Address, GroupPath, NodePath, TopicError};

/// Version of the wire protocol described in `PROTOCOL.md`. Carried in HELLO and
/// WELCOME and in byte 1 of every event header.
pub const PROTOCOL_VERSION: u32 = 1;

/// Default base port P: ROUTER on P, XPUB on P+1, XSUB on P+2.
pub const DEFAULT_BASE_PORT: u16 = 5556;

/// Offset of the XPUB (outbound) socket from the base port.
pub const PUB_PORT_OFFSET: u16 = 1;

/// Offset of the XSUB (inbound) socket from the base port.
pub const SUB_PORT_OFFSET: u16 = 2;

/// Topic frame of the CHP heartbeat sent on the XPUB every `heartbeat_ms`
/// (default one second).
pub const HUGZ: &[u8] = b"HUGZ";
