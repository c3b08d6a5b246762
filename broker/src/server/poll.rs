//! The loop's poll: every socket it waits on has a named slot, so dispatch
//! reads `ready.router`, never an index. The items live in a fixed array
//! built each turn (libzmq wants them contiguous), five for a root broker,
//! nine for a child.

/// Which sockets have something to read.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Ready {
    /// XSUB: events and KVSETs from publishers.
    pub xsub: bool,
    /// XPUB: subscriptions from subscribers.
    pub xpub: bool,
    /// ROUTER: control requests and snapshot requests.
    pub router: bool,
    /// The disk writer's durability reports.
    pub durable: bool,
    /// ZAP requests for new connections.
    pub zap: bool,
    /// A child's link: events and KVPUBs from the parent.
    pub link_down: bool,
    /// A child's link: the parent's replies.
    pub link_control: bool,
    /// A child's link: the parent's subscriptions.
    pub link_up: bool,
    /// A child's link: handshake events of the control connection.
    pub link_monitor: bool,
}

/// The sockets of one poll.
pub(super) struct Sockets<'a> {
    pub xsub: &'a zmq::Socket,
    pub xpub: &'a zmq::Socket,
    pub router: &'a zmq::Socket,
    pub durable: &'a zmq::Socket,
    pub zap: &'a zmq::Socket,
    /// `[down, control, up, monitor]` of the link to the parent, on a child.
    pub link: Option<[&'a zmq::Socket; 4]>,
}

fn item(socket: &zmq::Socket) -> zmq::PollItem<'_> {
    socket.as_poll_item(zmq::POLLIN)
}

/// Waits up to `timeout_ms` (0: do not wait) for any of `sockets`.
pub(super) fn poll(sockets: &Sockets<'_>, timeout_ms: i64) -> Result<Ready, zmq::Error> {
    let core = [
        item(sockets.xsub),
        item(sockets.xpub),
        item(sockets.router),
        item(sockets.durable),
        item(sockets.zap),
    ];
    let readable = |items: &[zmq::PollItem], i: usize| items[i].is_readable();
    let core_ready = |items: &[zmq::PollItem]| Ready {
        xsub: readable(items, 0),
        xpub: readable(items, 1),
        router: readable(items, 2),
        durable: readable(items, 3),
        zap: readable(items, 4),
        ..Ready::default()
    };
    match sockets.link {
        None => {
            let mut items = core;
            zmq::poll(&mut items, timeout_ms)?;
            Ok(core_ready(&items))
        }
        Some([down, control, up, monitor]) => {
            let [a, b, c, d, e] = core;
            let mut items = [
                a,
                b,
                c,
                d,
                e,
                item(down),
                item(control),
                item(up),
                item(monitor),
            ];
            zmq::poll(&mut items, timeout_ms)?;
            Ok(Ready {
                link_down: readable(&items, 5),
                link_control: readable(&items, 6),
                link_up: readable(&items, 7),
                link_monitor: readable(&items, 8),
                ..core_ready(&items)
            })
        }
    }
}
