//! A TCP proxy for the three ports of a broker (ROUTER, XPUB, XSUB at base,
//! base+1, base+2), so a test can put faults on the link between two
//! brokers: cut the connections, hold the bytes (a partition that does not
//! close anything), or delay them.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// How often blocked pumps look at the fault switches.
const POLL: Duration = Duration::from_millis(20);

#[derive(Default)]
struct Switches {
    /// Bumped by `cut`: connections of older generations close.
    generation: AtomicU64,
    /// Per port offset: hold the bytes (read nothing, send nothing).
    held: [AtomicBool; 3],
    /// Per port offset: extra delay before each chunk is passed on (ms).
    delay_ms: [AtomicU64; 3],
    stopped: AtomicBool,
}

/// A running proxy; it stops when dropped.
pub struct LinkProxy {
    /// The proxy's base port: give `tcp://127.0.0.1:{port}` as upstream.
    pub port: u16,
    switches: Arc<Switches>,
}

impl LinkProxy {
    /// Proxies the three ports of the broker at `target_base`.
    pub fn start(target_base: u16) -> LinkProxy {
        for _ in 0..50 {
            let base = super::free_base_port();
            let listeners: Vec<TcpListener> = (0..3)
                .filter_map(|i| TcpListener::bind(("127.0.0.1", base + i)).ok())
                .collect();
            if listeners.len() != 3 {
                continue;
            }
            let switches = Arc::new(Switches::default());
            for (offset, listener) in listeners.into_iter().enumerate() {
                let switches = switches.clone();
                let target = target_base + offset as u16;
                thread::spawn(move || accept(listener, target, offset, switches));
            }
            return LinkProxy {
                port: base,
                switches,
            };
        }
        panic!("no free ports for the link proxy");
    }

    /// `tcp://127.0.0.1:P`, the proxy's base endpoint.
    pub fn endpoint(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.port)
    }

    /// Closes every connection through the proxy now; bytes in flight are
    /// lost. New connections are accepted.
    pub fn cut(&self) {
        self.switches.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Holds (true) or releases (false) the bytes of one port (0 ROUTER,
    /// 1 XPUB, 2 XSUB) in both directions, without closing anything.
    pub fn hold(&self, offset: usize, held: bool) {
        self.switches.held[offset].store(held, Ordering::SeqCst);
    }

    /// Holds or releases all three ports.
    pub fn hold_all(&self, held: bool) {
        for i in 0..3 {
            self.hold(i, held);
        }
    }

    /// Delays every chunk on every port by `delay`.
    pub fn delay(&self, delay: Duration) {
        for offset in 0..3 {
            self.delay_port(offset, delay);
        }
    }

    /// Delays every chunk on one port (0 ROUTER, 1 XPUB, 2 XSUB) by `delay`.
    pub fn delay_port(&self, offset: usize, delay: Duration) {
        self.switches.delay_ms[offset].store(delay.as_millis() as u64, Ordering::SeqCst);
    }
}

impl Drop for LinkProxy {
    fn drop(&mut self) {
        self.switches.stopped.store(true, Ordering::SeqCst);
        self.cut();
        // Unblock the accept loops.
        for i in 0..3 {
            let _ = TcpStream::connect(("127.0.0.1", self.port + i));
        }
    }
}

fn accept(listener: TcpListener, target: u16, offset: usize, switches: Arc<Switches>) {
    for client in listener.incoming() {
        if switches.stopped.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = client else { continue };
        let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
            continue; // the target is down: the peer retries
        };
        let generation = switches.generation.load(Ordering::SeqCst);
        for (from, to) in [(&client, &server), (&server, &client)] {
            let (Ok(from), Ok(to)) = (from.try_clone(), to.try_clone()) else {
                continue;
            };
            let switches = switches.clone();
            thread::spawn(move || pump(from, to, offset, generation, switches));
        }
    }
}

fn pump(
    mut from: TcpStream,
    mut to: TcpStream,
    offset: usize,
    generation: u64,
    switches: Arc<Switches>,
) {
    let _ = from.set_read_timeout(Some(POLL));
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if switches.generation.load(Ordering::SeqCst) != generation {
            break;
        }
        if switches.held[offset].load(Ordering::SeqCst) {
            thread::sleep(POLL);
            continue;
        }
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(_) => break,
        };
        // Held while this chunk was being read: it waits too (or is lost
        // to a cut), so nothing read after `hold` returns gets through.
        while switches.held[offset].load(Ordering::SeqCst)
            && switches.generation.load(Ordering::SeqCst) == generation
        {
            thread::sleep(POLL);
        }
        let delay = switches.delay_ms[offset].load(Ordering::SeqCst);
        if delay > 0 {
            thread::sleep(Duration::from_millis(delay));
        }
        if switches.generation.load(Ordering::SeqCst) != generation {
            break; // cut while this chunk was in flight: it is lost
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}
