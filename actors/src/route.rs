//! Route selection. For now a static path from configuration (direct to the proxy, or through
//! up to two relays); the routing work replaces the pure core behind the same messages.

use actix::prelude::*;

use crate::spec::{NodeSpec, PeerSpec};

/// A path from this edge to a proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    /// The proxy (egress) node.
    pub proxy: PeerSpec,
    /// Relays, edge side first.
    pub relays: Vec<PeerSpec>,
}

/// Why no path exists.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RouteError {
    /// This node has no edge settings.
    #[error("node has no edge configuration")]
    NotAnEdge,
    /// A configured hop names no known peer.
    #[error("unknown peer '{0}'")]
    UnknownPeer(String),
}

/// The static path of the edge configuration (pure).
pub fn static_path(spec: &NodeSpec) -> Result<Path, RouteError> {
    let edge = spec.edge.as_ref().ok_or(RouteError::NotAnEdge)?;
    let find = |name: &str| {
        spec.peers
            .iter()
            .find(|p| p.name == name)
            .cloned()
            .ok_or_else(|| RouteError::UnknownPeer(name.to_string()))
    };
    Ok(Path {
        proxy: find(&edge.proxy)?,
        relays: edge.via.iter().map(|n| find(n)).collect::<Result<_, _>>()?,
    })
}

/// Owns route choice for the node's sessions.
#[derive(Debug)]
pub struct RouteActor {
    spec: std::sync::Arc<NodeSpec>,
}

impl RouteActor {
    /// A route actor over the node's configuration.
    pub fn new(spec: std::sync::Arc<NodeSpec>) -> RouteActor {
        RouteActor { spec }
    }
}

impl Actor for RouteActor {
    type Context = Context<Self>;
}

/// Asks for the path of a new session.
#[derive(Debug, Message)]
#[rtype(result = "Result<Path, RouteError>")]
pub struct PathFor {
    /// The game server of the session.
    pub target: std::net::SocketAddr,
}

impl Handler<PathFor> for RouteActor {
    type Result = Result<Path, RouteError>;
    fn handle(&mut self, _msg: PathFor, _ctx: &mut Context<Self>) -> Self::Result {
        static_path(&self.spec)
    }
}
