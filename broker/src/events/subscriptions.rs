//! Subscriptions arriving on the XPUB, applied by the broker itself
//! (manual mode) and forwarded to the publishers and the parent.

use crate::metrics::Counters;
use crate::security::acl::Acls;
use std::collections::HashMap;
use std::sync::Arc;

/// Subscriptions from subscribers, applied by the broker itself (the XPUB
/// runs in manual mode): a prefix is applied to the connection that asked
/// only if it is not over-long, its identity's ACL allows it, and the broker
/// is under its cap of distinct prefixes; each prefix goes upstream to the
/// publishers while at least one connection holds it.
///
/// An unsubscribe without connection metadata comes from a closed
/// connection. canopy's libzmq remembers only the prefixes the broker
/// applied, so those always name an accepted prefix; nothing is kept about
/// refused ones but counters and a truncated sample in the (rate-limited)
/// log, so strangers cannot make the broker hold what it refused.
#[derive(Debug)]
pub struct Subscriptions {
    acls: Option<Arc<Acls>>,
    limits: SubscriptionLimits,
    /// Connections holding each prefix.
    accepted: HashMap<Vec<u8>, u32>,
    /// Prefixes the parent broker wants from this one (a child broker's
    /// local publishers must send them too).
    from_parent: std::collections::HashSet<Vec<u8>>,
    /// Subscriptions refused so far, for rate-limiting their log lines.
    refusals: u64,
}

/// Longest piece of a refused prefix written to the log.
const LOGGED_PREFIX_BYTES: usize = 64;

/// The start of `prefix` for a log line, marked when cut.
fn prefix_sample(prefix: &[u8]) -> String {
    let cut = &prefix[..prefix.len().min(LOGGED_PREFIX_BYTES)];
    let mut text = String::from_utf8_lossy(cut).into_owned();
    if prefix.len() > cut.len() {
        text.push_str(&format!("… ({} bytes)", prefix.len()));
    }
    text
}

/// Caps on what subscribers may make the broker hold.
#[derive(Debug, Clone, Copy)]
pub struct SubscriptionLimits {
    /// Distinct prefixes held at once, all connections together.
    pub max_total: usize,
    /// Longest prefix accepted, in bytes.
    pub max_length: usize,
}

fn decrement(map: &mut HashMap<Vec<u8>, u32>, key: &[u8]) -> Option<u32> {
    let n = map.get_mut(key)?;
    *n -= 1;
    let left = *n;
    if left == 0 {
        map.remove(key);
    }
    Some(left)
}

/// Why a subscription was not applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    Acl,
    TooLong,
    TotalLimit,
    /// The connection holds max_subscriptions_per_connection prefixes
    /// (enforced by the patched libzmq, see third_party/README.md).
    ConnectionLimit,
}

impl Subscriptions {
    /// Subscriptions under `acls` (if any) and `limits`; the XPUB must be in
    /// manual mode.
    pub fn new(acls: Option<Arc<Acls>>, limits: SubscriptionLimits) -> Self {
        Subscriptions {
            acls,
            limits,
            accepted: HashMap::new(),
            from_parent: Default::default(),
            refusals: 0,
        }
    }

    /// True when some connection holds a prefix of `topic` (a message on
    /// it would reach someone): one lookup per prefix length.
    pub fn wanted(&self, topic: &[u8]) -> bool {
        !self.accepted.is_empty()
            && (0..=topic.len()).any(|n| self.accepted.contains_key(&topic[..n]))
    }

    /// The `limit` prefixes held by the most connections, most first (ties
    /// by prefix), and the number of distinct prefixes.
    pub fn top(&self, limit: usize) -> (usize, Vec<(Vec<u8>, u32)>) {
        let mut all: Vec<(&Vec<u8>, u32)> = self.accepted.iter().map(|(p, n)| (p, *n)).collect();
        let by_count = |a: &(&Vec<u8>, u32), b: &(&Vec<u8>, u32)| b.1.cmp(&a.1).then(a.0.cmp(b.0));
        if all.len() > limit {
            all.select_nth_unstable_by(limit, by_count);
            all.truncate(limit);
        }
        all.sort_by(by_count);
        (
            self.accepted.len(),
            all.into_iter().map(|(p, n)| (p.clone(), n)).collect(),
        )
    }

    fn verdict(&self, identity: Option<&str>, op: u8, prefix: &[u8]) -> Result<(), Refusal> {
        if prefix.len() > self.limits.max_length {
            return Err(Refusal::TooLong);
        }
        if let Some(acls) = &self.acls {
            if !acls.of(identity).may_subscribe(prefix) {
                return Err(Refusal::Acl);
            }
        }
        if op == 1
            && !self.accepted.contains_key(prefix)
            && self.accepted.len() >= self.limits.max_total
        {
            return Err(Refusal::TotalLimit);
        }
        Ok(())
    }

    fn apply(
        &mut self,
        mut msg: zmq::Message,
        xpub: &zmq::Socket,
        xsub: &zmq::Socket,
        uplink: Option<&zmq::Socket>,
        counters: &mut Counters,
    ) -> Result<(), zmq::Error> {
        // Messages from a live connection carry its metadata; the
        // unsubscriptions libzmq makes for a closed one carry none.
        let live = msg.gets("Peer-Address").is_some() || msg.gets("User-Id").is_some();
        let identity = msg.gets("User-Id").map(str::to_owned);
        let (op, prefix) = (msg[0], msg[1..].to_vec());
        // Up to the parent broker when there is one, and to the publishers
        // unless the parent already made them send it.
        let mut forwarded = 0;
        let parent_has = self.from_parent.contains(&prefix);
        let mut upstream = |on: bool| {
            let frame = subscription_frame(on, &prefix);
            if let Some(link) = uplink {
                link.send(&frame[..], 0)?;
                forwarded += 1;
            }
            if parent_has {
                return Ok(());
            }
            xsub.send(frame, 0)
        };
        if !live {
            counters.unsubscribes += 1;
            if decrement(&mut self.accepted, &prefix) == Some(0) {
                upstream(false)?;
            }
        } else {
            let verdict = match self.verdict(identity.as_deref(), op, &prefix) {
                Ok(()) if op == 1 => match xpub.set_subscribe(&prefix) {
                    Ok(()) => Ok(()),
                    Err(zmq::Error::ENOBUFS) => Err(Refusal::ConnectionLimit),
                    Err(e) => return Err(e),
                },
                other => other,
            };
            match (op, verdict) {
                (1, Ok(())) => {
                    counters.subscribes += 1;
                    let n = self.accepted.entry(prefix.clone()).or_insert(0);
                    *n += 1;
                    if *n == 1 {
                        upstream(true)?;
                    }
                }
                (1, Err(why)) => {
                    match why {
                        Refusal::Acl => counters.acl_subscribe_denied += 1,
                        Refusal::TooLong | Refusal::TotalLimit => {
                            counters.subscriptions_rejected += 1
                        }
                        Refusal::ConnectionLimit => {
                            counters.subscriptions_rejected += 1;
                            counters.subscription_connection_limit_hits += 1;
                        }
                    }
                    self.refusals += 1;
                    // Logged at the 1st, 2nd, 4th, 8th… refusal (ACL denials
                    // counted on their own, so none hides them), with a
                    // truncated sample of the prefix.
                    let acl_nth = (why == Refusal::Acl)
                        .then_some(counters.acl_subscribe_denied)
                        .filter(|n| n.is_power_of_two());
                    if acl_nth.is_some() || self.refusals.is_power_of_two() {
                        tracing::warn!(
                            identity = identity.as_deref().unwrap_or("-"),
                            prefix = %prefix_sample(&prefix),
                            ?why,
                            refused = self.refusals,
                            "subscription refused"
                        );
                    }
                }
                (_, verdict) => {
                    counters.unsubscribes += 1;
                    let applied = match verdict {
                        // Refused by ACL or length: never applied.
                        Err(_) => false,
                        Ok(()) => match xpub.set_unsubscribe(&prefix) {
                            Ok(()) => true,
                            // The patched libzmq: this connection never held it.
                            Err(zmq::Error::EINVAL) => false,
                            Err(e) => return Err(e),
                        },
                    };
                    if applied && decrement(&mut self.accepted, &prefix) == Some(0) {
                        upstream(false)?;
                    }
                }
            }
        }
        counters.subscriptions_active = self.accepted.len() as u64;
        counters.link_subscriptions_forwarded += forwarded;
        Ok(())
    }

    /// A subscription change from the parent broker (what it wants from this
    /// child): local publishers must send it whether or not anyone here
    /// subscribes.
    pub fn parent_wants(
        &mut self,
        on: bool,
        prefix: &[u8],
        xsub: &zmq::Socket,
    ) -> Result<(), zmq::Error> {
        let changed = if on {
            self.from_parent.insert(prefix.to_vec())
        } else {
            self.from_parent.remove(prefix)
        };
        if changed && !self.accepted.contains_key(prefix) {
            xsub.send(subscription_frame(on, prefix), 0)?;
        }
        Ok(())
    }

    /// Handles one message from the XPUB. Returns false when nothing was waiting.
    /// A child broker also sends subscription changes to its parent
    /// (`uplink`, the XSUB on the parent's XPUB).
    pub fn forward_one(
        &mut self,
        xpub: &zmq::Socket,
        xsub: &zmq::Socket,
        uplink: Option<&zmq::Socket>,
        counters: &mut Counters,
    ) -> Result<bool, zmq::Error> {
        let msg = match xpub.recv_msg(zmq::DONTWAIT) {
            Ok(m) => m,
            Err(zmq::Error::EAGAIN) => return Ok(false),
            Err(e) => return Err(e),
        };
        if msg.get_more() {
            // Subscribers cannot send multipart messages; drain and refuse.
            while xpub.get_rcvmore()? {
                xpub.recv_msg(0)?;
            }
            counters.subscriptions_rejected += 1;
            return Ok(true);
        }
        if msg.is_empty() || msg[0] > 1 {
            counters.subscriptions_rejected += 1;
            return Ok(true);
        }
        self.apply(msg, xpub, xsub, uplink, counters)?;
        Ok(true)
    }
}

/// A subscribe (`on`) or unsubscribe message for `prefix`.
fn subscription_frame(on: bool, prefix: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(prefix.len() + 1);
    frame.push(on as u8);
    frame.extend_from_slice(prefix);
    frame
}
