//! The canopy broker: binds the three sockets of `PROTOCOL.md`, forwards
//! events, answers control commands, masters the key/value state and links
//! to a parent broker.
//!
//! One thread runs [`Broker::run`], a ZeroMQ poll loop over the ROUTER, XPUB
//! and XSUB. It owns every piece of broker state, so nothing on the hot path
//! takes a lock. Dependencies run one way (README, "Where things live"):
//! `server` → `monitor` → the planes (`federation` → `state`, `events`, `control`) →
//! `security` → the shared pieces at this level → `canopy-schemas`.

pub mod cli;
mod config;
mod control;
mod events;
mod federation;
mod metrics;
mod monitor;
mod outbox;
mod peer;
mod security;
mod server;
mod sockopt;
mod state;

pub use config::{reference as config_reference, Config, ConfigError, LogFormat};
pub use server::{restore, Broker, BrokerError, Endpoints};
