//! What the benchmark pushes messages through: a canopy broker or a bare
//! libzmq proxy, both in this process, on free loopback ports.

use anyhow::Context;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// High-water mark used by both targets and every benchmark socket.
pub const HWM: i32 = 100_000;

/// Which forwarder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `zmq::proxy(xsub, xpub)`.
    Proxy,
    /// `canopy_broker::Broker` with send and receive HWM 100,000 (as the
    /// proxy and every benchmark socket).
    Canopy,
    /// `canopy_broker::Broker` with its default configuration, as a user
    /// who changes nothing runs it.
    CanopyDefaults,
    /// `canopy_broker::Broker` as [`Kind::Canopy`], with its monitoring
    /// HTTP server on and `/metrics` scraped every 100 ms meanwhile.
    CanopyScraped,
    /// `canopy_broker::Broker` with CURVE on (every benchmark socket is a
    /// CURVE client with an allow-listed key).
    CanopyCurve,
    /// A chain of this many canopy brokers, each the `upstream` child of the
    /// one before: publishers on the root, subscribers on the last.
    Tiers(u8),
}

/// A running forwarder.
pub struct Target {
    /// Where subscribers connect.
    pub xpub: String,
    /// Where publishers connect.
    pub xsub: String,
    /// Keys every benchmark socket must use (CURVE runs).
    pub keys: Option<canopy_client::CurveKeys>,
    stop: Box<dyn FnOnce() + Send>,
    threads: Vec<JoinHandle<()>>,
    /// `/metrics` scrapes answered so far ([`Kind::CanopyScraped`]).
    pub scrapes: Arc<AtomicU64>,
}

/// How often [`Kind::CanopyScraped`] scrapes `/metrics`.
pub const SCRAPE_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

/// One `GET /metrics`; true when it was answered 200.
fn scrape(address: &std::net::SocketAddr) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(address) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
    let request = "GET /metrics HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n";
    let mut response = Vec::new();
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read_to_end(&mut response).is_ok()
        && response.starts_with(b"HTTP/1.1 200")
}

/// Scrapes `address` every [`SCRAPE_EVERY`] until `stop`.
fn scraper(address: String, stop: Arc<AtomicBool>, scrapes: Arc<AtomicU64>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let address = address.trim_start_matches("http://");
        let Ok(address) = address.parse::<std::net::SocketAddr>() else {
            eprintln!("canopy bench: bad monitoring address {address}");
            return;
        };
        while !stop.load(Ordering::Relaxed) {
            if scrape(&address) {
                scrapes.fetch_add(1, Ordering::Relaxed);
            }
            std::thread::sleep(SCRAPE_EVERY);
        }
    })
}

impl Target {
    /// A socket of `kind` for this target (CURVE client when needed).
    pub fn socket(&self, ctx: &zmq::Context, kind: zmq::SocketType) -> anyhow::Result<zmq::Socket> {
        let s = ctx.socket(kind)?;
        if let Some(k) = &self.keys {
            s.set_curve_serverkey(&k.server_public)?;
            s.set_curve_publickey(&k.public)?;
            s.set_curve_secretkey(&k.secret)?;
        }
        Ok(s)
    }
}

/// Writes a broker key file and an allow-list with one client; returns the
/// client's keys.
fn curve_setup(
    dir: &std::path::Path,
    config: &mut canopy_broker::Config,
) -> anyhow::Result<canopy_client::CurveKeys> {
    use canopy_schemas::keys::format_key_file;
    std::fs::create_dir_all(dir)?;
    let (server_pub, server_secret) = canopy_client::CurveKeys::generate()?;
    let (client_pub, client_secret) = canopy_client::CurveKeys::generate()?;
    let key_file = dir.join("broker.key");
    std::fs::write(
        &key_file,
        format_key_file(&server_pub, Some(&server_secret)),
    )?;
    let allow = dir.join("allow.txt");
    std::fs::write(&allow, format!("bench {client_pub}\n"))?;
    config.curve_key_file = Some(key_file);
    config.allow_list = Some(allow);
    Ok(canopy_client::CurveKeys::from_z85(
        &server_pub,
        &client_pub,
        &client_secret,
    )?)
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
            Kind::Canopy | Kind::CanopyCurve | Kind::CanopyDefaults | Kind::CanopyScraped => {
                let dir = std::env::temp_dir()
                    .join(format!("canopy-bench-{}-{base}", std::process::id()));
                let mut config = canopy_broker::Config {
                    port: base,
                    data_dir: dir.clone(),
                    send_hwm: HWM,
                    receive_hwm: HWM,
                    http: Some(
                        if kind == Kind::CanopyScraped {
                            "127.0.0.1:0"
                        } else {
                            "off"
                        }
                        .into(),
                    ),
                    ..Default::default()
                };
                if kind == Kind::CanopyDefaults {
                    let defaults = canopy_broker::Config::default();
                    config.send_hwm = defaults.send_hwm;
                    config.receive_hwm = defaults.receive_hwm;
                }
                let keys = match kind {
                    Kind::CanopyCurve => Some(curve_setup(&dir, &mut config)?),
                    _ => None,
                };
                let broker =
                    canopy_broker::Broker::bind(config).context("binding canopy broker")?;
                let xpub = broker.endpoints().xpub.clone();
                let xsub = broker.endpoints().xsub.clone();
                let http = broker.endpoints().http.clone();
                let stop = Arc::new(AtomicBool::new(false));
                let flag = Arc::clone(&stop);
                let thread = std::thread::spawn(move || {
                    if let Err(e) = broker.run(flag) {
                        eprintln!("canopy broker: {e}");
                    }
                    let _ = std::fs::remove_dir_all(dir);
                });
                let scrapes = Arc::new(AtomicU64::new(0));
                let mut threads = vec![thread];
                if let Some(address) = http {
                    threads.push(scraper(address, Arc::clone(&stop), Arc::clone(&scrapes)));
                }
                Ok(Target {
                    xpub,
                    xsub,
                    keys,
                    stop: Box::new(move || stop.store(true, Ordering::Relaxed)),
                    threads,
                    scrapes,
                })
            }
            Kind::Tiers(n) => {
                let stop = Arc::new(AtomicBool::new(false));
                let mut threads = Vec::new();
                let (mut xsub, mut xpub, mut upstream) = (None, String::new(), None);
                for tier in 0..n {
                    let base = free_base()?;
                    let dir = std::env::temp_dir()
                        .join(format!("canopy-bench-{}-{base}", std::process::id()));
                    let config = canopy_broker::Config {
                        port: base,
                        data_dir: dir.clone(),
                        send_hwm: HWM,
                        receive_hwm: HWM,
                        upstream: upstream.take(),
                        http: Some("off".into()),
                        ..Default::default()
                    };
                    let broker = canopy_broker::Broker::bind(config)
                        .with_context(|| format!("binding broker of tier {tier}"))?;
                    xsub.get_or_insert_with(|| broker.endpoints().xsub.clone());
                    xpub = broker.endpoints().xpub.clone();
                    upstream = Some(broker.endpoints().router.clone());
                    let flag = Arc::clone(&stop);
                    threads.push(std::thread::spawn(move || {
                        if let Err(e) = broker.run(flag) {
                            eprintln!("canopy broker: {e}");
                        }
                        let _ = std::fs::remove_dir_all(dir);
                    }));
                }
                Ok(Target {
                    xpub,
                    xsub: xsub.context("no tiers")?,
                    keys: None,
                    stop: Box::new(move || stop.store(true, Ordering::Relaxed)),
                    threads,
                    scrapes: Arc::default(),
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
                    keys: None,
                    stop: Box::new(move || {
                        let mut ctx = ctx;
                        let _ = ctx.destroy();
                    }),
                    threads: vec![thread],
                    scrapes: Arc::default(),
                })
            }
        }
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let stop = std::mem::replace(&mut self.stop, Box::new(|| {}));
        stop();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
