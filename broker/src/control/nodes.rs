//! NODES: the nodes present, within a group when asked.

use super::Control;
use canopy_schemas::control::{NodesQuery, NodesReply};
use canopy_schemas::{ErrorCode, GroupPath, Reply};

impl Control {
    pub(super) fn nodes(&self, q: NodesQuery) -> Reply {
        let group = match q.group.as_deref().map(GroupPath::parse).transpose() {
            Ok(g) => g,
            Err(e) => return Reply::error(q.id, ErrorCode::InvalidName, e.to_string()),
        };
        Reply::Nodes(NodesReply {
            id: q.id,
            nodes: self.presence.list(group.as_ref()),
        })
    }
}
