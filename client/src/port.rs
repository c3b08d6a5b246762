//! The way into a node's I/O thread: queue a command, wake the thread, and
//! for requests await the routed reply. Cloned into every store replica.
//!
//! Nothing here blocks: the I/O thread owns every ZeroMQ socket at the end
//! (the publisher is handed back to it), so the context's termination,
//! which waits out the publisher's linger, runs on that thread and never on
//! the caller's (an async runtime's worker).

use crate::io::Command;
use crate::ClientError;
use canopy_schemas::{Reply, Request};
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{oneshot, watch};

/// Stops the node's I/O thread when the last holder (the node or one of its
/// replicas) goes away, or when closed explicitly.
pub(crate) struct Lifetime {
    port: Port,
    /// Becomes true (or closes) once the I/O thread has said BYE, flushed
    /// and released everything.
    done: watch::Receiver<bool>,
}

impl Lifetime {
    pub fn new(port: Port, done: watch::Receiver<bool>) -> Self {
        Lifetime { port, done }
    }

    /// Asks the I/O thread to say BYE and stop; returns at once.
    pub fn stop(&self) {
        let _ = self.port.command(Command::Close);
    }

    /// Asks the I/O thread to stop and waits, without blocking the
    /// runtime, until it has (pending publishes flushed, up to 2 s).
    pub async fn close(&self) {
        self.stop();
        let mut done = self.done.clone();
        // An error means the thread is gone: stopped too.
        let _ = done.wait_for(|d| *d).await;
    }

    /// True once the I/O thread has stopped.
    pub fn is_done(&self) -> bool {
        *self.done.borrow() || self.done.has_changed().is_err()
    }
}

impl Drop for Lifetime {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Handle to a node's I/O thread.
#[derive(Clone)]
pub(crate) struct Port {
    commands: std::sync::mpsc::Sender<Command>,
    /// One byte written here wakes the I/O thread's poll.
    wake: Arc<UnixStream>,
    /// True while a wake is on its way: later commands need none (one
    /// syscall per burst of commands, not per command).
    wake_pending: Arc<AtomicBool>,
    /// Request ids, shared with the I/O thread.
    pub ids: Arc<AtomicU64>,
    /// False once the broker said it does not know WRITES (an older one):
    /// batches then go as single WRITEs.
    pub batches: Arc<AtomicBool>,
    timeout: Duration,
    endpoint: String,
}

impl Port {
    pub fn new(
        commands: std::sync::mpsc::Sender<Command>,
        wake: UnixStream,
        wake_pending: Arc<AtomicBool>,
        ids: Arc<AtomicU64>,
        timeout: Duration,
        endpoint: String,
    ) -> Self {
        Port {
            commands,
            wake: Arc::new(wake),
            wake_pending,
            ids,
            batches: Arc::new(AtomicBool::new(true)),
            timeout,
            endpoint,
        }
    }

    /// A fresh request id.
    pub fn next_id(&self) -> u64 {
        self.ids.fetch_add(1, Ordering::Relaxed)
    }

    /// Queues a command and wakes the I/O thread; gives the command back
    /// when the thread is gone.
    fn send(&self, command: Command) -> Result<(), Box<Command>> {
        self.commands.send(command).map_err(|e| Box::new(e.0))?;
        // The I/O thread clears the flag before it drains the queue, so a
        // command queued while it is set is seen by that drain.
        if !self.wake_pending.swap(true, Ordering::AcqRel) {
            // WouldBlock means the pipe is full of wakes: enough.
            let _ = (&*self.wake).write(&[1]);
        }
        Ok(())
    }

    /// Queues a command and wakes the I/O thread.
    pub fn command(&self, command: Command) -> Result<(), ClientError> {
        self.send(command).map_err(|_| ClientError::Closed)
    }

    /// Hands a publisher socket to the I/O thread to close (it lingers to
    /// flush there); gives it back when the thread is gone.
    pub fn retire(&self, socket: zmq::Socket) -> Option<zmq::Socket> {
        match self.send(Command::Retire(socket)) {
            Ok(()) => None,
            Err(command) => match *command {
                Command::Retire(socket) => Some(socket),
                _ => None,
            },
        }
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
