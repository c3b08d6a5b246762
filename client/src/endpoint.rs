//! The broker's three endpoints, derived from its base endpoint `tcp://HOST:P`.

use crate::ClientError;
use canopy_schemas::{PUB_PORT_OFFSET, SUB_PORT_OFFSET};

/// Endpoints of one broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerEndpoints {
    /// ROUTER, port P.
    pub router: String,
    /// XPUB, port P+1 (we subscribe here).
    pub xpub: String,
    /// XSUB, port P+2 (we publish here).
    pub xsub: String,
}

impl BrokerEndpoints {
    /// Parses `tcp://HOST:P`.
    pub fn parse(base: &str) -> Result<Self, ClientError> {
        let bad = || ClientError::Endpoint(base.to_owned());
        let rest = base.strip_prefix("tcp://").ok_or_else(bad)?;
        let (host, port) = rest.rsplit_once(':').ok_or_else(bad)?;
        let port: u16 = port.parse().map_err(|_| bad())?;
        if host.is_empty() || port > u16::MAX - SUB_PORT_OFFSET {
            return Err(bad());
        }
        let at = |p: u16| format!("tcp://{host}:{p}");
        Ok(BrokerEndpoints {
            router: at(port),
            xpub: at(port + PUB_PORT_OFFSET),
            xsub: at(port + SUB_PORT_OFFSET),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_base_endpoint() {
        let e = BrokerEndpoints::parse("tcp://127.0.0.1:5556").unwrap();
        assert_eq!(e.xpub, "tcp://127.0.0.1:5557");
        assert_eq!(e.xsub, "tcp://127.0.0.1:5558");
        for bad in [
            "127.0.0.1:5556",
            "tcp://host",
            "tcp://:1",
            "tcp://h:x",
            "tcp://h:65535",
        ] {
            assert!(BrokerEndpoints::parse(bad).is_err(), "{bad}");
        }
    }
}
