//! One-shot control requests that do not join as a node (`canopy stats`,
//! `canopy nodes`): a DEALER, one request, one reply.

use crate::endpoint::BrokerEndpoints;
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
    let broker = broker.to_owned();
    let work = move || -> Result<Reply, ClientError> {
        let ctx = zmq::Context::new();
        let dealer = ctx.socket(zmq::DEALER)?;
        dealer.set_linger(0)?;
        dealer.set_rcvtimeo(timeout.as_millis().min(i32::MAX as u128) as i32)?;
        if let Some(keys) = &curve {
            keys.apply(&dealer)?;
        }
        dealer.connect(&endpoints.router)?;
        let [name, body] = request
            .encode()
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        dealer.send(name, zmq::SNDMORE)?;
        dealer.send(body, 0)?;
        let frames = match dealer.recv_multipart(0) {
            Ok(f) => f,
            Err(zmq::Error::EAGAIN) => {
                return Err(ClientError::Timeout {
                    endpoint: broker,
                    waited_ms: timeout.as_millis() as u64,
                })
            }
            Err(e) => return Err(e.into()),
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
