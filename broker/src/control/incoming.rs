//! Reading one request from the ROUTER: routing id, CURVE identity, and at
//! most a few frames (the rest drained but counted in the size).

use crate::peer::Peer;

/// Most frames read from one ROUTER message; the rest are drained.
const MAX_CONTROL_FRAMES: usize = 8;

/// One message read from the ROUTER.
pub(super) struct Incoming {
    pub identity: Vec<u8>,
    pub user: Option<String>,
    pub frames: Vec<zmq::Message>,
    pub total: usize,
    pub frame_count: usize,
}

impl Incoming {
    pub fn peer(&self) -> Peer {
        Peer {
            identity: self.identity.clone(),
            user: self.user.clone(),
        }
    }
}

pub(super) fn receive(router: &zmq::Socket) -> Result<Option<Incoming>, zmq::Error> {
    let identity = match router.recv_msg(zmq::DONTWAIT) {
        Ok(m) => m.to_vec(),
        Err(zmq::Error::EAGAIN) => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut frames = Vec::new();
    let mut total = 0;
    let mut frame_count = 0;
    // The CURVE identity rides on the first of the peer's frames (canopy's
    // libzmq attaches metadata to a message's first part only).
    let mut user = None;
    while router.get_rcvmore()? {
        let mut m = router.recv_msg(0)?;
        if frame_count == 0 {
            user = m.gets("User-Id").map(str::to_owned);
        }
        total += m.len();
        frame_count += 1;
        if frames.len() < MAX_CONTROL_FRAMES {
            frames.push(m);
        }
    }
    Ok(Some(Incoming {
        identity,
        user,
        frames,
        total,
        frame_count,
    }))
}
