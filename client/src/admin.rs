//! One-shot control requests that do not join as a node (`canopy stats`,
//! `canopy nodes`): a DEALER, one request, one reply.

use crate::endpoint::BrokerEndpoints;
use crate::error::ZmqResult;
use crate::ClientError;
use canopy_schemas::control::{Empty, NodeInfo, NodesQuery, StatsReport};
use canopy_schemas::{Reply, Request};
use std::time::Duration;

/// Sends `request` to the broker at `broker` and waits up to `timeout`.
pub async fn request(
    broker: &str,
    request: Request,
    timeout: Duration,
) -> Result<Reply, ClientError> {
    request_with(broker, request, timeout, None).await
}

/// Like [`request`], over CURVE when `curve` is given.
pub async fn request_with(
    broker: &str,
    request: Request,
    timeout: Duration,
    curve: Option<&crate::CurveKeys>,
) -> Result<Reply, ClientError> {
    let curve = curve.cloned();
    let endpoints = BrokerEndpoints::parse(broker)?;
    crate::reach::resolve(broker)?;
    let broker = broker.to_owned();
    let work = move || -> Result<Reply, ClientError> {
        let ctx = zmq::Context::new();
        let dealer = ctx.socket(zmq::DEALER).z()?;
        dealer.set_linger(0).z()?;
        if let Some(keys) = &curve {
            keys.apply(&dealer).z()?;
        }
        // A refused handshake (CURVE key not allowed, connection limit) is
        // told now, not after the whole timeout.
        let monitor_endpoint =
            format!("inproc://canopy-admin-{}-{:p}", std::process::id(), &dealer);
        dealer
            .monitor(
                &monitor_endpoint,
                zmq::SocketEvent::HANDSHAKE_FAILED_AUTH as i32
                    | zmq::SocketEvent::HANDSHAKE_FAILED_PROTOCOL as i32,
            )
            .z()?;
        let monitor = ctx.socket(zmq::PAIR).z()?;
        monitor.set_linger(0).z()?;
        monitor.connect(&monitor_endpoint).z()?;
        dealer.connect(&endpoints.router).z()?;
        let [name, body] = request
            .encode()
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        dealer.send(name, zmq::SNDMORE).z()?;
        dealer.send(body, 0).z()?;
        let started = std::time::Instant::now();
        let mut probed = false;
        let frames = loop {
            let left = timeout.saturating_sub(started.elapsed());
            if left.is_zero() {
                return Err(ClientError::Timeout {
                    endpoint: broker,
                    waited_ms: timeout.as_millis() as u64,
                });
            }
            let wait = if probed {
                left
            } else {
                left.min(crate::reach::PROBE_AFTER)
            };
            let mut items = [
                dealer.as_poll_item(zmq::POLLIN),
                monitor.as_poll_item(zmq::POLLIN),
            ];
            zmq::poll(&mut items, wait.as_millis().max(1) as i64).z()?;
            if items[1].is_readable() {
                return Err(ClientError::AuthRefused(broker));
            }
            if items[0].is_readable() {
                break dealer.recv_multipart(0).z()?;
            }
            if !probed {
                // No answer yet: is anything listening there at all?
                probed = true;
                crate::reach::probe(&broker, left)?;
            }
        };
        let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
        match Reply::decode(&refs).map_err(|e| ClientError::Protocol(e.to_string()))? {
            Reply::Error(e) => Err(ClientError::Refused {
                code: e.code,
                message: e.message,
            }),
            reply => Ok(reply),
        }
    };
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ClientError::Protocol(format!("request task: {e}")))?
}

/// The broker's counters.
pub async fn stats(broker: &str, timeout: Duration) -> Result<StatsReport, ClientError> {
    stats_with(broker, timeout, None).await
}

/// The broker's counters, over CURVE when `curve` is given.
pub async fn stats_with(
    broker: &str,
    timeout: Duration,
    curve: Option<&crate::CurveKeys>,
) -> Result<StatsReport, ClientError> {
    match request_with(broker, Request::Stats(Empty { id: 1 }), timeout, curve).await? {
        Reply::Stats(s) => Ok(s.report),
        other => Err(ClientError::Protocol(format!("{other:?}"))),
    }
}

/// Nodes present, within `group` when given.
pub async fn nodes(
    broker: &str,
    group: Option<&str>,
    timeout: Duration,
) -> Result<Vec<NodeInfo>, ClientError> {
    nodes_with(broker, group, timeout, None).await
}

/// Nodes present, over CURVE when `curve` is given.
pub async fn nodes_with(
    broker: &str,
    group: Option<&str>,
    timeout: Duration,
    curve: Option<&crate::CurveKeys>,
) -> Result<Vec<NodeInfo>, ClientError> {
    let query = NodesQuery {
        id: 1,
        group: group.map(str::to_owned),
    };
    match request_with(broker, Request::Nodes(query), timeout, curve).await? {
        Reply::Nodes(n) => Ok(n.nodes),
        other => Err(ClientError::Protocol(format!("{other:?}"))),
    }
}
