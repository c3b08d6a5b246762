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
    let endpoints = BrokerEndpoints::parse(broker)?;
    let broker = broker.to_owned();
    let work = move || -> Result<Reply, ClientError> {
        let ctx = zmq::Context::new();
        let dealer = ctx.socket(zmq::DEALER)?;
        dealer.set_linger(0)?;
        dealer.set_rcvtimeo(timeout.as_millis().min(i32::MAX as u128) as i32)?;
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
    match request(broker, Request::Stats(Empty { id: 1 }), timeout).await? {
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
    let query = NodesQuery {
        id: 1,
        group: group.map(str::to_owned),
    };
    match request(broker, Request::Nodes(query), timeout).await? {
        Reply::Nodes(n) => Ok(n.nodes),
        other => Err(ClientError::Protocol(format!("{other:?}"))),
    }
}
