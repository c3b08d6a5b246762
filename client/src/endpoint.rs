//! The broker's three endpoints, derived from its base endpoint `tcp://HOST:P`.

use crate::ClientError;
use canopy_schemas::BaseEndpoint;

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
    /// Parses `tcp://HOST:P` (see [`BaseEndpoint::parse`]).
    pub fn parse(base: &str) -> Result<Self, ClientError> {
        let base = BaseEndpoint::parse(base).map_err(|_| ClientError::Endpoint(base.to_owned()))?;
        let [router, xpub, xsub] = base.sockets();
        Ok(BrokerEndpoints { router, xpub, xsub })
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
