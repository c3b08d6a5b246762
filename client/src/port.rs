//! The way into a node's I/O thread: queue a command, wake the thread, and
//! for requests await the routed reply. Cloned into every store replica.

use crate::io::Command;
use crate::ClientError;
use canopy_schemas::{Reply, Request};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// Stops the node's I/O thread when the last holder (the node or one of its
/// replicas) goes away, or when closed explicitly.
pub(crate) struct Lifetime {
    port: Port,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Lifetime {
    pub fn new(port: Port, thread: std::thread::JoinHandle<()>) -> Self {
        Lifetime {
            port,
            thread: Mutex::new(Some(thread)),
        }
    }

    /// Says BYE and joins the I/O thread (once).
    pub fn close(&self) {
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(thread) = thread {
            let _ = self.port.command(Command::Close);
            let _ = thread.join();
        }
    }
}

impl Drop for Lifetime {
    fn drop(&mut self) {
        self.close();
    }
}

/// Handle to a node's I/O thread.
#[derive(Clone)]
pub(crate) struct Port {
    commands: std::sync::mpsc::Sender<Command>,
    wake: Arc<Mutex<zmq::Socket>>,
    /// Request ids, shared with the I/O thread.
    pub ids: Arc<AtomicU64>,
    timeout: Duration,
    endpoint: String,
}

impl Port {
    pub fn new(
        commands: std::sync::mpsc::Sender<Command>,
        wake: zmq::Socket,
        ids: Arc<AtomicU64>,
        timeout: Duration,
        endpoint: String,
    ) -> Self {
        Port {
            commands,
            wake: Arc::new(Mutex::new(wake)),
            ids,
            timeout,
            endpoint,
        }
    }

    /// A fresh request id.
    pub fn next_id(&self) -> u64 {
        self.ids.fetch_add(1, Ordering::Relaxed)
    }

    /// Queues a command and wakes the I/O thread.
    pub fn command(&self, command: Command) -> Result<(), ClientError> {
        self.commands
            .send(command)
            .map_err(|_| ClientError::Closed)?;
        // A failed wake means one is already pending.
        let wake = self.wake.lock().unwrap_or_else(|e| e.into_inner());
        let _ = wake.send(&b""[..], zmq::DONTWAIT);
        Ok(())
    }

    /// Sends a request and awaits its reply; an ERROR reply becomes
    /// [`ClientError::Refused`].
    pub async fn request(&self, make: impl FnOnce(u64) -> Request) -> Result<Reply, ClientError> {
        let request = make(self.next_id());
        let (tx, rx) = oneshot::channel();
        self.command(Command::Request(request, tx))?;
        match tokio::time::timeout(self.timeout, rx).await {
            Ok(Ok(Ok(Reply::Error(e)))) => Err(ClientError::Refused {
                code: e.code,
                message: e.message,
            }),
            Ok(Ok(reply)) => reply,
            Ok(Err(_)) => Err(ClientError::Closed),
            Err(_) => Err(ClientError::Timeout {
                endpoint: self.endpoint.clone(),
                waited_ms: self.timeout.as_millis() as u64,
            }),
        }
    }
}
