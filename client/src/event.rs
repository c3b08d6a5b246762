//! What a node receives.

use crate::ClientError;
use canopy_schemas::{Address, EventHeader};
use serde::de::DeserializeOwned;

/// One event delivered to a node.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Where it was addressed.
    pub address: Address,
    /// The user topic (without the address part).
    pub topic: String,
    /// The header (publisher, sequence, timestamp, flags).
    pub header: EventHeader,
    /// The payload bytes: MessagePack when `header.is_msgpack()`.
    pub payload: Vec<u8>,
}

impl Event {
    /// Decodes a MessagePack payload into `T`.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, ClientError> {
        rmp_serde::from_slice(&self.payload).map_err(|e| ClientError::Payload(e.to_string()))
    }

    /// The publishing node's path, empty for plain publishers.
    pub fn publisher(&self) -> &str {
        &self.header.publisher
    }
}

/// What the event stream yields. New notices may come in minor releases.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum NodeEvent {
    /// An event matching one of the node's subscriptions.
    Event(Event),
    /// The broker stopped answering; the node keeps trying to reconnect.
    Disconnected,
    /// The node is joined again after a disconnect or a broker restart;
    /// subscriptions are back in place.
    Reconnected {
        /// The broker's new epoch.
        epoch: u64,
        /// True when the epoch changed: the broker restarted.
        broker_restarted: bool,
    },
    /// Another connection joined under this node's path (two processes use
    /// one name): this node is no longer joined and does not take the name
    /// back; it joins again (`Reconnected`) once the other is gone. Give each
    /// node its own name.
    NameTaken,
}
