//! The demo's nodes: a throwaway mesh CA, an echo game server, proxy, relay, the emulated
//! edge ↔ relay link, and the edge.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use lightspeed_actors::node::{self, NodeHandle};
use lightspeed_actors::spec::{
    EdgeSpec, Limits, NodeSpec, PeerSpec, ProxySpec, RedirectSpec, TlsSpec,
};
use lightspeed_mesh::Role;
use lightspeed_mesh::dataplane::Counters;
use lightspeed_mesh::identity::{Identity, MeshCa};
use lightspeed_mesh::policy::DestinationPolicy;
use lightspeed_sim::echo::EchoServer;
use lightspeed_sim::link::{LinkConfig, LossModel};
use lightspeed_sim::udp_link::UdpLink;

use super::report::{Summary, Totals};
use super::traffic::Outcome;
use crate::cli::DemoArgs;
use crate::config::FecSetting;

const TOKEN: &str = "demo-player-token-0123456789abcdef";
const LOOPBACK: &str = "127.0.0.1:0";

/// Everything the demo started.
pub(super) struct DemoMesh {
    pub(super) echo: EchoServer,
    pub(super) link: UdpLink,
    pub(super) edge: NodeHandle,
    pub(super) relay: NodeHandle,
    pub(super) proxy: NodeHandle,
    pub(super) redirect: SocketAddr,
    dir: PathBuf,
}

fn identity(dir: &std::path::Path, ca: &MeshCa, name: &str) -> anyhow::Result<TlsSpec> {
    let node_dir = dir.join(name);
    Identity::new(ca.trust(), ca.issue_node(name)?)?.save(&node_dir)?;
    Ok(TlsSpec {
        ca_cert: node_dir.join("ca.crt"),
        cert: Some(node_dir.join("node.crt")),
        key: Some(node_dir.join("node.key")),
    })
}

fn spec(name: &str, roles: Vec<Role>, tls: TlsSpec) -> anyhow::Result<NodeSpec> {
    Ok(NodeSpec {
        name: name.into(),
        roles,
        data_listen: LOOPBACK.parse()?,
        data_advertise: None,
        control_listen: LOOPBACK.parse()?,
        tls,
        limits: Limits {
            idle_timeout: Duration::from_secs(30),
            ..Limits::default()
        },
        proxy: ProxySpec::default(),
        edge: None,
        peers: Vec::new(),
        mesh: None,
    })
}

fn peer(name: &str, node: &NodeHandle, data: SocketAddr) -> anyhow::Result<PeerSpec> {
    Ok(PeerSpec {
        name: name.into(),
        control: node.control_addr.context("node has no control server")?,
        data,
        server_name: name.into(),
    })
}

impl DemoMesh {
    pub(super) async fn start(args: &DemoArgs) -> anyhow::Result<DemoMesh> {
        let dir = std::env::temp_dir().join(format!("lightspeed-demo-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let ca = MeshCa::generate("demo")?;
        let echo = EchoServer::bind(LOOPBACK.parse()?).await?;

        let relay = node::start(
            spec(
                "relay-sgp",
                vec![Role::Relay],
                identity(&dir, &ca, "relay-sgp")?,
            )?,
            Arc::new(Counters::default()),
        )
        .await?;
        let lossy = LinkConfig {
            loss: if args.loss > 0.0 {
                LossModel::Iid { p: args.loss }
            } else {
                LossModel::None
            },
            ..LinkConfig::default()
        };
        let link = UdpLink::spawn(
            LOOPBACK.parse()?,
            relay.dp.local_addr()?,
            lossy.clone(),
            lossy,
            0x5eed,
        )
        .await?;
        let relay_peer = peer("relay-sgp", &relay, link.front_addr())?;

        let mut proxy_spec = spec(
            "proxy-la",
            vec![Role::Proxy],
            identity(&dir, &ca, "proxy-la")?,
        )?;
        proxy_spec.proxy = ProxySpec {
            tokens: vec![TOKEN.into()],
            policy: DestinationPolicy {
                allow_loopback_for_testing: true,
                ..DestinationPolicy::default()
            },
            egress_bind: None,
        };
        proxy_spec.peers = vec![relay_peer.clone()];
        let proxy = node::start(proxy_spec, Arc::new(Counters::default())).await?;

        let fec: FecSetting = args.fec.parse().context("--fec")?;
        let mut edge_spec = spec(
            "edge-bkk",
            vec![Role::Edge],
            TlsSpec {
                ca_cert: dir.join("proxy-la").join("ca.crt"),
                cert: None,
                key: None,
            },
        )?;
        edge_spec.edge = Some(EdgeSpec {
            token: TOKEN.into(),
            proxy: "proxy-la".into(),
            via: vec!["relay-sgp".into()],
            backup_via: None,
            multipath: lightspeed_actors::spec::MultipathMode::Off,
            fec,
            fec_deadline: Duration::from_millis(2),
            keepalive: Duration::from_millis(250),
            routing: Default::default(),
            redirects: vec![RedirectSpec {
                listen: LOOPBACK.parse()?,
                target: echo.local_addr(),
                game: Some(args.game.clone()),
            }],
        });
        edge_spec.peers = vec![
            peer("proxy-la", &proxy, proxy.dp.local_addr()?)?,
            relay_peer,
        ];
        let edge = node::start(edge_spec, Arc::new(Counters::default())).await?;
        let redirect = *edge
            .redirects
            .first()
            .context("edge has no redirect socket")?;
        Ok(DemoMesh {
            echo,
            link,
            edge,
            relay,
            proxy,
            redirect,
            dir,
        })
    }

    pub(super) async fn summarize(&self, args: &DemoArgs, outcome: Outcome) -> Summary {
        let totals = Totals::read(&self.edge, &self.proxy);
        Summary::new(args, outcome, totals, self.link.stats().data_dropped)
    }

    pub(super) async fn stop(self) {
        self.edge.shutdown().await;
        self.relay.shutdown().await;
        self.proxy.shutdown().await;
        self.echo.shutdown().await;
        drop(self.link);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
