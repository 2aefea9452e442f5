//! The e2e tests' mesh: edge, optional relay and proxy processes from generated TOML files
//! and a fresh mesh CA, an echo game server, a game client on the edge's redirect port, and
//! optionally a [`Forwarder`] on the edge ↔ relay leg.

use std::net::SocketAddr;
use std::time::Duration;

use super::udp::{Echo, Forwarder, GameClient};
use super::{Node, TempDir, mesh_identities};

pub(crate) const TOKEN: &str = "e2e-player-token-0123456789abcdef";
pub(crate) const EDGE: &str = "edge-bkk";
pub(crate) const RELAY: &str = "relay-sgp";
pub(crate) const PROXY: &str = "proxy-lax";
/// Game packets per second the client sends: a fast game's tick rate, well inside the
/// default per-session limit even with `auto` FEC doubling the packets on the wire.
pub(crate) const PPS: u32 = 250;
/// How long to keep waiting for echoes after the last one arrived.
pub(crate) const LINGER: Duration = Duration::from_secs(2);

/// What differs between the tests' meshes.
pub(crate) struct Setup {
    /// Go through the relay (else edge → proxy direct).
    pub(crate) via_relay: bool,
    /// Put a [`Forwarder`] with this loss on the edge ↔ relay leg.
    pub(crate) forwarder_loss: Option<f64>,
    /// The edge's token (the proxy accepts only [`TOKEN`]).
    pub(crate) edge_token: &'static str,
    pub(crate) fec: &'static str,
    pub(crate) idle_timeout: &'static str,
    pub(crate) keepalive: &'static str,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            via_relay: true,
            forwarder_loss: None,
            edge_token: TOKEN,
            fec: "auto",
            idle_timeout: "30s",
            keepalive: "500ms",
        }
    }
}

/// A running mesh. Fields drop in order: the edge is killed first.
pub(crate) struct Mesh {
    pub(crate) edge: Node,
    pub(crate) relay: Option<Node>,
    pub(crate) proxy: Node,
    pub(crate) forwarder: Option<Forwarder>,
    pub(crate) echo: Echo,
    pub(crate) client: GameClient,
    pub(crate) setup: Setup,
    pub(crate) dir: TempDir,
}

pub(crate) fn node_section(name: &str, roles: &str, idle: &str) -> String {
    format!(
        r#"
[node]
name = "{name}"
roles = ["{roles}"]
data_listen = "127.0.0.1:0"
control_listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"

[limits]
idle_timeout = "{idle}"
"#
    )
}

pub(crate) fn tls_section(name: &str) -> String {
    format!(
        r#"
[tls]
ca_cert = "{name}/ca.crt"
cert = "{name}/node.crt"
key = "{name}/node.key"
"#
    )
}

pub(crate) fn peer(name: &str, control: SocketAddr, data: SocketAddr) -> String {
    format!("\n[[peers]]\nname = \"{name}\"\ncontrol = \"{control}\"\ndata = \"{data}\"\n")
}

pub(crate) fn edge_toml(
    s: &Setup,
    proxy: &Node,
    relay: Option<(SocketAddr, SocketAddr)>,
    echo: SocketAddr,
) -> String {
    let via = if relay.is_some() {
        format!("[\"{RELAY}\"]")
    } else {
        "[]".to_string()
    };
    let mut t = node_section(EDGE, "edge", s.idle_timeout);
    // An edge needs only the mesh CA, to verify its proxy.
    t += "\n[tls]\nca_cert = \"ca.crt\"\n";
    t += &format!(
        r#"
[edge]
token = "{token}"
proxy = "{PROXY}"
via = {via}
fec = "{fec}"
keepalive = "{keepalive}"

[[edge.redirect]]
listen = "127.0.0.1:0"
target = "{echo}"
"#,
        token = s.edge_token,
        fec = s.fec,
        keepalive = s.keepalive,
    );
    t += &peer(PROXY, proxy.control(), proxy.data);
    if let Some((control, data)) = relay {
        t += &peer(RELAY, control, data);
    }
    t
}

impl Drop for Mesh {
    fn drop(&mut self) {
        if std::env::var_os("E2E_DUMP").is_none() {
            return;
        }
        let all = std::env::var_os("E2E_ALL").is_some();
        let mut nodes = vec![("edge", &self.edge), ("proxy", &self.proxy)];
        if let Some(r) = &self.relay {
            nodes.push(("relay", r));
        }
        for (name, node) in nodes {
            for line in node.proc.stderr().lines() {
                if all || !line.contains("\"INFO\"") {
                    eprintln!("{name}: {line}");
                }
            }
        }
    }
}

impl Mesh {
    pub(crate) fn start(setup: Setup) -> Mesh {
        let dir = TempDir::new("e2e");
        mesh_identities(&dir.0, &[RELAY, PROXY]);
        let echo = Echo::start();

        let relay = setup.via_relay.then(|| {
            let t = node_section(RELAY, "relay", setup.idle_timeout) + &tls_section(RELAY);
            Node::start(&dir, "relay.toml", &t)
        });

        let mut t = node_section(PROXY, "proxy", setup.idle_timeout) + &tls_section(PROXY);
        t += &format!("\n[proxy]\ntokens = [\"{TOKEN}\"]\nallow_loopback_for_testing = true\n");
        if let Some(r) = &relay {
            t += &peer(RELAY, r.control(), r.data);
        }
        let proxy = Node::start(&dir, "proxy.toml", &t);

        let forwarder = match (&relay, setup.forwarder_loss) {
            (Some(r), Some(loss)) => Some(Forwarder::start(r.data, loss, 0x0e2e_5eed)),
            _ => None,
        };
        let relay_peer = relay.as_ref().map(|r| {
            let data = forwarder.as_ref().map_or(r.data, |f| f.addr);
            (r.control(), data)
        });
        let edge = Node::start(
            &dir,
            "edge.toml",
            &edge_toml(&setup, &proxy, relay_peer, echo.addr),
        );
        let redirect = *edge
            .redirects
            .first()
            .expect("edge logged its redirect port");
        Mesh {
            edge,
            relay,
            proxy,
            forwarder,
            echo,
            client: GameClient::new(redirect),
            setup,
            dir,
        }
    }

    pub(crate) fn relay(&self) -> &Node {
        self.relay.as_ref().expect("mesh has a relay")
    }

    /// Sends `range`, asserting every packet came back byte for byte.
    pub(crate) fn all_echoed(&self, range: std::ops::Range<u32>) {
        let n = range.len();
        let echoes = self.client.burst(range, PPS, LINGER);
        assert_eq!(echoes.corrupt, 0, "echoes differing from what was sent");
        assert_eq!(echoes.got.len(), n, "packets that came back");
    }
}
