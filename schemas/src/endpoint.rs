//! Base endpoints: `tcp://HOST:P` names a broker, whose three sockets sit on
//! P, P+1 and P+2. One parser for the client, the CLI, the C ABI and a child
//! broker's `upstream`.

use crate::{PUB_PORT_OFFSET, SUB_PORT_OFFSET};

/// Why a base endpoint was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a base endpoint tcp://HOST:PORT (PORT 1-65533, HOST not empty)")]
pub struct EndpointError(pub String);

/// A broker's base endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseEndpoint {
    host: String,
    port: u16,
}

impl BaseEndpoint {
    /// Parses `tcp://HOST:P`: HOST not empty, P from 1 up to what leaves
    /// room for P+2.
    pub fn parse(text: &str) -> Result<Self, EndpointError> {
        let bad = || EndpointError(text.to_owned());
        let rest = text.trim().strip_prefix("tcp://").ok_or_else(bad)?;
        let (host, port) = rest.rsplit_once(':').ok_or_else(bad)?;
        let port: u16 = port.parse().map_err(|_| bad())?;
        if host.is_empty() || port == 0 || port > u16::MAX - SUB_PORT_OFFSET {
            return Err(bad());
        }
        Ok(BaseEndpoint {
            host: host.to_owned(),
            port,
        })
    }

    /// `tcp://HOST:P+offset`.
    pub fn at(&self, offset: u16) -> String {
        format!("tcp://{}:{}", self.host, self.port + offset)
    }

    /// The ROUTER (P), XPUB (P+1) and XSUB (P+2) endpoints.
    pub fn sockets(&self) -> [String; 3] {
        [
            self.at(0),
            self.at(PUB_PORT_OFFSET),
            self.at(SUB_PORT_OFFSET),
        ]
    }

    /// The host part.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The base port P.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl std::fmt::Display for BaseEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "tcp://{}:{}", self.host, self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_base_endpoints_and_refuses_the_rest() {
        let e = BaseEndpoint::parse("tcp://127.0.0.1:5556").unwrap();
        assert_eq!(
            e.sockets(),
            [
                "tcp://127.0.0.1:5556",
                "tcp://127.0.0.1:5557",
                "tcp://127.0.0.1:5558"
            ]
        );
        assert_eq!(e.to_string(), "tcp://127.0.0.1:5556");
        assert_eq!(
            BaseEndpoint::parse("tcp://[::1]:7000").unwrap().host(),
            "[::1]"
        );
        for bad in [
            "127.0.0.1:5556",
            "tcp://host",
            "tcp://:1",
            "tcp://h:x",
            "tcp://h:0",
            "tcp://h:65534",
            "udp://h:1",
        ] {
            assert!(BaseEndpoint::parse(bad).is_err(), "{bad}");
        }
    }
}
