//! canopy's async Rust client: join a broker as a node of a group, publish to
//! groups, nodes or plain topics, and receive events as an async stream.
//!
//! ```no_run
//! # async fn demo() -> Result<(), canopy_client::ClientError> {
//! use canopy_client::{Node, NodeOptions, NodeEvent};
//! let node = Node::connect(NodeOptions::new("tcp://127.0.0.1:5556", "s1", "eu/fra")).await?;
//! node.subscribe("temp")?;
//! // Returns once the broker applies the subscription: nothing published
//! // from here on is lost for want of it.
//! node.sync_subscriptions().await?;
//! node.publish_group("eu", "temp", &21.5)?;
//! let mut events = node.events()?;
//! while let Some(NodeEvent::Event(e)) = events.next().await {
//!     println!("{} from {}: {}", e.topic, e.publisher(), e.decode::<f64>()?);
//! }
//! # Ok(()) }
//! ```
//!
//! The node runs one I/O thread that owns its ZeroMQ sockets; it heartbeats,
//! notices a broker restart, joins again and reports it as
//! [`NodeEvent::Reconnected`].
//!
//! Cancellation: dropping a [`Node::connect`] or [`Node::store`] future
//! stops what it started (the I/O thread, the replica's registration and
//! subscriptions). Nothing here blocks an async runtime: [`Node::close`] is
//! `async`, and dropping a node or replica only signals its I/O thread.

pub mod admin;
pub mod curve;
pub mod endpoint;
mod error;
pub mod event;
pub mod ffi;
mod io;
mod locking;
pub mod node;
mod port;
mod reach;
pub mod replica;
mod subs;
mod subscriptions;

pub use canopy_schemas::state::{Level, OpKind};
pub use canopy_schemas::{Address, EventHeader, GroupPath, NodePath};
pub use curve::CurveKeys;
pub use endpoint::BrokerEndpoints;
pub use error::{ClientError, ErrorKind, TransportError};
pub use event::{Event, NodeEvent};
pub use node::{Events, Node, NodeOptions};
pub use replica::shared::{Change, ReplicaEntry, ReplicaState};
pub use replica::{Replica, View, Watch, WriteAck, WriteSpec};
