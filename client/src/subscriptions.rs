//! A node's subscriptions as the application changes them: the shared
//! table ([`SubTable`]) plus the way to tell the I/O thread, which owns the
//! SUB socket. Used by the node and by each replica's registration.

use crate::io::Command;
use crate::locking::lock;
use crate::port::Port;
use crate::subs::SubTable;
use crate::ClientError;
use std::sync::{Arc, Mutex};

/// The table, the port, and the broker's limit.
#[derive(Clone)]
pub(crate) struct Subscriptions {
    pub table: Arc<Mutex<SubTable>>,
    port: Port,
    /// The broker's per-node limit (from WELCOME).
    max: u32,
}

impl Subscriptions {
    pub fn new(table: Arc<Mutex<SubTable>>, port: Port, max: u32) -> Self {
        Subscriptions { table, port, max }
    }

    /// Adds (`on`) or drops a reference on each prefix; the SUB socket
    /// changes only for prefixes that appear or disappear.
    pub fn apply(&self, prefixes: &[(Vec<u8>, bool)], on: bool) -> Result<(), ClientError> {
        let mut subs = lock(&self.table);
        if on {
            let after = subs.count() + subs.new_count(prefixes);
            if after > self.max as usize {
                return Err(ClientError::SubscriptionLimit(self.max));
            }
        }
        for (prefix, plain) in prefixes {
            let changed = if on {
                subs.add(prefix, *plain)
            } else {
                subs.remove(prefix)
            };
            if changed {
                self.port
                    .command(Command::Subscription(prefix.clone(), on))?;
            }
        }
        Ok(())
    }
}
