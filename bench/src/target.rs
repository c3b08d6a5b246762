//! What the benchmark pushes messages through: a canopy broker or a bare
//! libzmq proxy, both in this process, on free loopback ports.

use anyhow::Context;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// High-water mark used by both targets and every benchmark socket.
pub const HWM: i32 = 100_000;

/// Which forwarder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `zmq::proxy(xsub, xpub)`.
    Proxy,
    /// `canopy_broker::Broker`.
    Canopy,
}

/// A running forwarder.
pub struct Target {
    /// Where subscribers connect.
    pub xpub: String,
    /// Where publishers connect.
    pub xsub: String,
    stop: Box<dyn FnOnce() + Send>,
    thread: Option<JoinHandle<()>>,
}

fn free_base() -> anyhow::Result<u16> {
    for _ in 0..100 {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        if port < 65000 && (0..3).all(|i| TcpListener::bind(("127.0.0.1", port + i)).is_ok()) {
            return Ok(port);
        }
    }
    anyhow::bail!("no three consecutive free ports")
}

impl Target {
    /// Starts a forwarder of `kind`.
    pub fn start(kind: Kind) -> anyhow::Result<Target> {
        let base = free_base()?;
        match kind {
            Kind::Canopy => {
                let dir = std::env::temp_dir()
                    .join(format!("canopy-bench-{}-{base}", std::process::id()));
                let config = canopy_broker::Config {
                    port: base,
                    data_dir: dir.clone(),
                    send_hwm: HWM,
                    receive_hwm: HWM,
                    ..Default::default()
                };
                let broker =
                    canopy_broker::Broker::bind(config).context("binding canopy broker")?;
                let xpub = broker.endpoints().xpub.clone();
                let xsub = broker.endpoints().xsub.clone();
                let stop = Arc::new(AtomicBool::new(false));
                let flag = Arc::clone(&stop);
                let thread = std::thread::spawn(move || {
                    if let Err(e) = broker.run(flag) {
                        eprintln!("canopy broker: {e}");
                    }
                    let _ = std::fs::remove_dir_all(dir);
                });
                Ok(Target {
                    xpub,
                    xsub,
                    stop: Box::new(move || stop.store(true, Ordering::Relaxed)),
                    thread: Some(thread),
                })
            }
            Kind::Proxy => {
                let ctx = zmq::Context::new();
                let xpub_ep = format!("tcp://127.0.0.1:{}", base + 1);
                let xsub_ep = format!("tcp://127.0.0.1:{}", base + 2);
                let xpub = ctx.socket(zmq::XPUB)?;
                let xsub = ctx.socket(zmq::XSUB)?;
                xpub.set_sndhwm(HWM)?;
                xsub.set_rcvhwm(HWM)?;
                xpub.set_linger(0)?;
                xsub.set_linger(0)?;
                xpub.bind(&xpub_ep)?;
                xsub.bind(&xsub_ep)?;
                let thread = std::thread::spawn(move || {
                    // Returns (with ETERM) once the context is terminated.
                    let _ = zmq::proxy(&xsub, &xpub);
                });
                Ok(Target {
                    xpub: xpub_ep,
                    xsub: xsub_ep,
                    stop: Box::new(move || {
                        let mut ctx = ctx;
                        let _ = ctx.destroy();
                    }),
                    thread: Some(thread),
                })
            }
        }
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let stop = std::mem::replace(&mut self.stop, Box::new(|| {}));
        stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
