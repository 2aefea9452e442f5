//! Route selection: the static path of the configuration (direct to the proxy, or through up
//! to two relays, with `backup_via` as the standby), or — with `edge.route = "auto"` — paths
//! planned from the gossiped topology and re-planned every probe round
//! ([`crate::route_auto`], docs/routing.md).
//!
//! Hop names resolve through the DiscoveryActor at session set-up: static `[[peers]]` first,
//! then live mesh members with a published data address (at the reach book's address when
//! the operator gave one), so an edge may name a relay it knows only through membership.

use actix::prelude::*;

use crate::discovery::{DiscoveryActor, LookupPeer};
use crate::route_auto::{AutoRouter, AutoWiring, PathEvent, PathMoved, Track};
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
    #[error("unknown peer '{0}': not in [[peers]] and not a live mesh member with a data address")]
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

/// The standby path of the edge configuration (pure): the same proxy through
/// `backup_via` (`None` when no standby is configured).
pub fn static_standby(spec: &NodeSpec) -> Result<Option<Path>, RouteError> {
    let edge = spec.edge.as_ref().ok_or(RouteError::NotAnEdge)?;
    let Some(relays) = &edge.backup_via else {
        return Ok(None);
    };
    let primary = static_path(spec)?;
    let find = |name: &String| {
        spec.peers
            .iter()
            .find(|p| p.name == *name)
            .cloned()
            .ok_or_else(|| RouteError::UnknownPeer(name.clone()))
    };
    Ok(Some(Path {
        proxy: primary.proxy,
        relays: relays.iter().map(find).collect::<Result<_, _>>()?,
    }))
}

impl Path {
    /// The relays as a control message carries them.
    pub fn hops(&self) -> Vec<lightspeed_protocol::control::HopSpec> {
        self.relays
            .iter()
            .map(|r| lightspeed_protocol::control::HopSpec {
                node: r.name.clone(),
                data_addr: r.data,
            })
            .collect()
    }

    /// Where the edge sends on this path: the first relay, or the proxy itself.
    pub fn first_hop(&self) -> std::net::SocketAddr {
        self.relays.first().map_or(self.proxy.data, |r| r.data)
    }
}

/// Where each relay of a session's path must forward towards the proxy (pure): the relay
/// nearest the proxy forwards to the proxy's own data address, every other relay to the next
/// relay's. Returned proxy side first, the order a proxy installs them in, so that no relay
/// forwards to a hop that is not ready yet. Also returns the edge's first hop.
pub fn relay_chain(
    path: &[lightspeed_protocol::control::HopSpec],
    proxy_data: std::net::SocketAddr,
) -> (Vec<(String, std::net::SocketAddr)>, std::net::SocketAddr) {
    let chain = path
        .iter()
        .enumerate()
        .rev()
        .map(|(i, hop)| {
            let upstream = path.get(i + 1).map_or(proxy_data, |next| next.data_addr);
            (hop.node.clone(), upstream)
        })
        .collect();
    let first_hop = path.first().map_or(proxy_data, |h| h.data_addr);
    (chain, first_hop)
}

/// Owns route choice for the node's sessions.
pub struct RouteActor {
    spec: std::sync::Arc<NodeSpec>,
    discovery: Option<Addr<DiscoveryActor>>,
    auto: Option<AutoRouter>,
}

impl std::fmt::Debug for RouteActor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteActor")
            .field("auto", &self.auto.is_some())
            .finish_non_exhaustive()
    }
}

impl RouteActor {
    /// A route actor over the node's configuration and static peers only.
    pub fn new(spec: std::sync::Arc<NodeSpec>) -> RouteActor {
        RouteActor {
            spec,
            discovery: None,
            auto: None,
        }
    }

    /// Plans paths automatically when the edge configuration asks for it
    /// (`edge.route = "auto"`); a no-op otherwise.
    pub fn with_auto(mut self, wiring: AutoWiring) -> RouteActor {
        if let Some(edge) = self.spec.edge.as_ref().filter(|e| e.routing.auto) {
            self.auto = Some(AutoRouter::new(
                &self.spec.name,
                &edge.proxy,
                &edge.routing,
                wiring,
            ));
        }
        self
    }

    /// A route actor resolving hop names through `discovery`.
    pub fn with_discovery(
        spec: std::sync::Arc<NodeSpec>,
        discovery: Addr<DiscoveryActor>,
    ) -> RouteActor {
        RouteActor {
            spec,
            discovery: Some(discovery),
            auto: None,
        }
    }
}

/// The configured path with every name resolved by `discovery`.
async fn resolved_path(
    spec: std::sync::Arc<NodeSpec>,
    discovery: Addr<DiscoveryActor>,
) -> Result<Path, RouteError> {
    let edge = spec.edge.as_ref().ok_or(RouteError::NotAnEdge)?;
    let find = |name: String| {
        let discovery = discovery.clone();
        async move {
            discovery
                .send(LookupPeer(name.clone()))
                .await
                .ok()
                .flatten()
                .ok_or(RouteError::UnknownPeer(name))
        }
    };
    let proxy = find(edge.proxy.clone()).await?;
    let mut relays = Vec::with_capacity(edge.via.len());
    for name in &edge.via {
        relays.push(find(name.clone()).await?);
    }
    Ok(Path { proxy, relays })
}

impl Actor for RouteActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if self.auto.is_some() {
            ctx.run_interval(ROUND, |act, _ctx| {
                if let Some(auto) = &mut act.auto {
                    auto.tick();
                }
            });
        }
    }
}

/// How often automatic routing re-plans: the link probe round.
pub const ROUND: std::time::Duration = std::time::Duration::from_secs(1);

/// A new session's paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routes {
    /// The primary path.
    pub primary: Path,
    /// The standby path, set up once the session is granted (static `backup_via`; automatic
    /// routing sets its standby up itself after [`Track`]).
    pub standby: Option<Path>,
    /// Automatic routing: the ticket to [`Track`] the session under.
    pub ticket: Option<u64>,
}

/// Asks for a new session's paths.
#[derive(Debug, Message)]
#[rtype(result = "Result<Routes, RouteError>")]
pub struct RouteFor {
    /// The game server of the session.
    pub target: std::net::SocketAddr,
    /// Its game profile, whose packet rate sets the policy's dwell.
    pub game: Option<String>,
}

impl Handler<RouteFor> for RouteActor {
    type Result = ResponseFuture<Result<Routes, RouteError>>;
    fn handle(&mut self, msg: RouteFor, _ctx: &mut Context<Self>) -> Self::Result {
        let spec = std::sync::Arc::clone(&self.spec);
        let standby = static_standby(&spec);
        let Some(auto) = &mut self.auto else {
            let primary = self.handle(PathFor { target: msg.target }, _ctx);
            return Box::pin(async move {
                Ok(Routes {
                    primary: primary.await?,
                    standby: standby?,
                    ticket: None,
                })
            });
        };
        let planned = auto.plan_new(msg.game.as_deref());
        let ticket = match &planned {
            Some((ticket, _)) => *ticket,
            None => auto.fallback_ticket(msg.game.as_deref()),
        };
        let discovery = self.discovery.clone();
        Box::pin(async move {
            let edge = spec.edge.as_ref().ok_or(RouteError::NotAnEdge)?;
            let proxy = match discovery {
                Some(d) => d.send(LookupPeer(edge.proxy.clone())).await.ok().flatten(),
                None => spec.peers.iter().find(|p| p.name == edge.proxy).cloned(),
            }
            .ok_or_else(|| RouteError::UnknownPeer(edge.proxy.clone()))?;
            let primary = match planned {
                Some((_, p)) => crate::route_auto::route_path(&proxy, &p),
                None => Path {
                    proxy,
                    relays: Vec::new(),
                },
            };
            Ok(Routes {
                primary,
                standby: None,
                ticket: Some(ticket),
            })
        })
    }
}

impl Handler<Track> for RouteActor {
    type Result = ();
    fn handle(&mut self, msg: Track, _ctx: &mut Context<Self>) {
        if let Some(auto) = &mut self.auto {
            auto.track(msg);
        }
    }
}

impl Handler<PathMoved> for RouteActor {
    type Result = ();
    fn handle(&mut self, msg: PathMoved, _ctx: &mut Context<Self>) {
        if let Some(auto) = &mut self.auto {
            auto.moved(msg);
        }
    }
}

impl Handler<PathEvent> for RouteActor {
    type Result = ();
    fn handle(&mut self, msg: PathEvent, _ctx: &mut Context<Self>) {
        if let Some(auto) = &mut self.auto {
            auto.data_event(msg);
        }
    }
}

/// Asks for the path of a new session.
#[derive(Debug, Message)]
#[rtype(result = "Result<Path, RouteError>")]
pub struct PathFor {
    /// The game server of the session.
    pub target: std::net::SocketAddr,
}

impl Handler<PathFor> for RouteActor {
    type Result = ResponseFuture<Result<Path, RouteError>>;
    fn handle(&mut self, _msg: PathFor, _ctx: &mut Context<Self>) -> Self::Result {
        match &self.discovery {
            Some(d) => Box::pin(resolved_path(std::sync::Arc::clone(&self.spec), d.clone())),
            None => Box::pin(std::future::ready(static_path(&self.spec))),
        }
    }
}

/// Asks for the standby path of a session (disjoint from its primary), if any.
#[derive(Debug, Message)]
#[rtype(result = "Result<Option<Path>, RouteError>")]
pub struct StandbyFor {
    /// The game server of the session.
    pub target: std::net::SocketAddr,
}

impl Handler<StandbyFor> for RouteActor {
    type Result = Result<Option<Path>, RouteError>;
    fn handle(&mut self, _msg: StandbyFor, _ctx: &mut Context<Self>) -> Self::Result {
        static_standby(&self.spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{EdgeSpec, FecSetting, Limits, MultipathMode, ProxySpec, TlsSpec};
    use lightspeed_protocol::control::HopSpec;

    fn peer(name: &str, data: &str) -> PeerSpec {
        PeerSpec {
            name: name.into(),
            control: "192.0.2.9:4433".parse().unwrap(),
            data: data.parse().unwrap(),
            server_name: name.into(),
        }
    }

    fn edge_spec(via: &[&str], backup: Option<&[&str]>) -> NodeSpec {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        NodeSpec {
            name: "edge".into(),
            roles: vec![lightspeed_mesh::Role::Edge],
            data_listen: "0.0.0.0:0".parse().unwrap(),
            data_advertise: None,
            control_listen: "0.0.0.0:0".parse().unwrap(),
            tls: TlsSpec {
                ca_cert: "ca.crt".into(),
                cert: None,
                key: None,
            },
            limits: Limits::default(),
            proxy: ProxySpec::default(),
            edge: Some(EdgeSpec {
                token: "t".into(),
                proxy: "lax".into(),
                via: names(via),
                backup_via: backup.map(names),
                multipath: MultipathMode::Always,
                fec: FecSetting::Auto,
                fec_deadline: std::time::Duration::from_millis(2),
                keepalive: std::time::Duration::from_millis(500),
                redirects: Vec::new(),
                routing: Default::default(),
            }),
            peers: vec![
                peer("lax", "203.0.113.30:4434"),
                peer("sgp", "198.51.100.20:4434"),
                peer("hkg", "198.51.100.21:4434"),
            ],
            mesh: None,
        }
    }

    #[test]
    fn the_standby_is_the_same_proxy_through_backup_via_and_its_first_hop_follows() {
        assert_eq!(static_standby(&edge_spec(&["sgp"], None)), Ok(None));
        let direct = static_standby(&edge_spec(&["sgp"], Some(&[])))
            .unwrap()
            .unwrap();
        assert!(direct.relays.is_empty());
        assert_eq!(direct.first_hop(), "203.0.113.30:4434".parse().unwrap());
        assert!(direct.hops().is_empty());
        let via_hkg = static_standby(&edge_spec(&["sgp"], Some(&["hkg"])))
            .unwrap()
            .unwrap();
        assert_eq!(via_hkg.proxy.name, "lax");
        assert_eq!(via_hkg.first_hop(), "198.51.100.21:4434".parse().unwrap());
        assert_eq!(via_hkg.hops()[0].node, "hkg");
        assert_eq!(
            static_standby(&edge_spec(&["sgp"], Some(&["fra"]))),
            Err(RouteError::UnknownPeer("fra".into()))
        );
    }

    #[test]
    fn relays_forward_towards_the_proxy_and_are_installed_proxy_side_first() {
        let proxy: std::net::SocketAddr = "203.0.113.30:4434".parse().unwrap();
        let hop = |n: &str, a: &str| HopSpec {
            node: n.into(),
            data_addr: a.parse().unwrap(),
        };
        assert_eq!(relay_chain(&[], proxy), (vec![], proxy));
        let path = [
            hop("sgp", "198.51.100.20:4434"),
            hop("tyo", "198.51.100.21:4434"),
        ];
        let (chain, first) = relay_chain(&path, proxy);
        assert_eq!(first, path[0].data_addr);
        assert_eq!(
            chain,
            vec![
                ("tyo".to_string(), proxy),
                ("sgp".to_string(), path[1].data_addr),
            ]
        );
    }
}
