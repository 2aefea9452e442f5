//! Config parsing and validation: every rule fails on the field it names.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use lightspeed_mesh::identity::{Identity, MeshCa};

use super::*;

/// A valid node holding all three roles, so every per-role rule is active.
const ALL_ROLES: &str = r#"
[node]
name = "bkk-home"
region = "bkk"
roles = ["edge", "relay", "proxy"]
data_listen = "0.0.0.0:4434"
data_advertise = "198.51.100.40:4434"
control_listen = "0.0.0.0:4433"

[proxy]
tokens = ["0123456789abcdef-player-one"]

[edge]
token = "0123456789abcdef-player-one"
proxy = "lax"
via = ["sgp"]
fec = "rs(4,2)"

[[edge.redirect]]
listen = "127.0.0.1:27015"
target = "203.0.113.10:27015"
game = "cs2"

[[peers]]
name = "sgp"
control = "198.51.100.20:4433"
data = "198.51.100.20:4434"

[[peers]]
name = "lax"
control = "203.0.113.30:4433"
data = "203.0.113.30:4434"
server_name = "lax.mesh.example"
"#;

/// A real mesh identity (CA certificate, node certificate and key, as `mesh issue` writes
/// them) in a scratch directory that is removed on drop.
pub(super) struct TlsFiles {
    dir: PathBuf,
}

impl TlsFiles {
    fn new() -> TlsFiles {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "ls-node-tls-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let ca = MeshCa::generate("test-mesh").unwrap();
        let node = ca.issue_node("bkk-home").unwrap();
        Identity::new(ca.trust(), node).unwrap().save(&dir).unwrap();
        TlsFiles { dir }
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// Points `[tls]` at all three files.
    fn apply(&self, c: &mut Config) {
        c.tls = TlsSection {
            ca_cert: Some(self.path("ca.crt")),
            cert: Some(self.path("node.crt")),
            key: Some(self.path("node.key")),
        };
    }
}

impl Drop for TlsFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The valid all-roles config with real TLS files; keep the files alive while validating.
pub(super) fn base() -> (Config, TlsFiles) {
    let mut c = Config::from_toml(ALL_ROLES).unwrap();
    let tls = TlsFiles::new();
    tls.apply(&mut c);
    (c, tls)
}

/// Applies `change` to the valid base config and returns the field validation names.
pub(super) fn field_after(change: impl FnOnce(&mut Config)) -> String {
    let (mut c, _tls) = base();
    change(&mut c);
    c.validate().expect_err("expected a validation error").field
}

fn parse_err(doc: &str) -> ParseError {
    Config::from_toml(doc).expect_err("expected a parse error")
}

#[test]
fn base_config_is_valid_and_parsed_as_written() {
    let (c, _tls) = base();
    c.validate().unwrap();
    assert_eq!(c.node.roles, vec![Role::Edge, Role::Relay, Role::Proxy]);
    assert_eq!(c.edge.fec, FecSetting::Rs { k: 4, m: 2 });
    assert_eq!(c.edge.redirect[0].game.as_deref(), Some("cs2"));
    assert_eq!(c.peer("lax").unwrap().tls_name(), "lax.mesh.example");
    assert_eq!(c.peer("sgp").unwrap().tls_name(), "sgp");
    // Unset fields keep their documented defaults.
    assert_eq!(c.limits, LimitsSection::default());
    assert_eq!(c.edge.keepalive, Duration::from_millis(500));
    assert_eq!(c.edge.fec_deadline, Duration::from_millis(2));
    assert_eq!(c.node.admin_listen, "127.0.0.1:8080".parse().unwrap());
    assert_eq!(
        c.node.data_advertise,
        Some("198.51.100.40:4434".parse().unwrap())
    );
}

#[test]
fn empty_file_is_the_default_relay() {
    let c = Config::from_toml("").unwrap();
    assert_eq!(c, Config::default());
    assert_eq!(c.node.name, "lightspeed");
    assert_eq!(c.node.roles, vec![Role::Relay]);
    assert_eq!(c.limits.max_sessions, 10_000);
    assert_eq!(c.limits.idle_timeout, Duration::from_secs(30));
    assert_eq!(
        (c.limits.per_session_pps, c.limits.per_source_pps),
        (1_000, 2_000)
    );
    assert_eq!(c.limits.max_pending_flows, 256);
    assert_eq!(c.node.data_advertise, None);
    assert_eq!(c.tls, TlsSection::default());
    // A relay is a mesh member: the defaults lack its certificate until [tls] is filled in.
    assert_eq!(c.validate().unwrap_err().field, "tls.cert");
    let mut c = c;
    let tls = TlsFiles::new();
    tls.apply(&mut c);
    c.validate().unwrap();
}

#[test]
fn token_debug_output_is_redacted() {
    let (c, _tls) = base();
    let dump = format!("{c:?}");
    assert!(!dump.contains("player-one"), "{dump}");
    assert!(dump.contains("Token(<27 chars redacted>)"));
}

#[test]
fn node_rules_name_their_fields() {
    assert_eq!(
        field_after(|c| c.node.name = "bad name".into()),
        "node.name"
    );
    assert_eq!(field_after(|c| c.node.name = "-x".into()), "node.name");
    assert_eq!(
        field_after(|c| c.node.region = Some(String::new())),
        "node.region"
    );
    assert_eq!(field_after(|c| c.node.roles.clear()), "node.roles");
    assert_eq!(
        field_after(|c| c.node.control_listen = "127.0.0.1:4434".parse().unwrap()),
        "node.control_listen"
    );
}

#[test]
fn tls_paths_must_exist_and_come_in_pairs() {
    assert_eq!(
        field_after(|c| c.tls.ca_cert = Some("/nonexistent/ca.pem".into())),
        "tls.ca_cert"
    );
    assert_eq!(
        field_after(|c| c.tls.cert = Some("/nonexistent/node.crt".into())),
        "tls.cert"
    );
    assert_eq!(
        field_after(|c| c.tls.key = Some("/nonexistent/node.key".into())),
        "tls.key"
    );
    assert_eq!(field_after(|c| c.tls.key = None), "tls.key");
    let err = {
        let (mut c, _tls) = base();
        c.tls.cert = None;
        c.validate().unwrap_err()
    };
    assert_eq!(err.to_string(), "tls.cert: required when tls.key is set");
}

#[test]
fn relay_and_proxy_need_a_node_certificate() {
    for role in [Role::Relay, Role::Proxy] {
        let (mut c, _tls) = base();
        c.node.roles = vec![role];
        c.tls.cert = None;
        c.tls.key = None;
        let err = c.validate().unwrap_err();
        assert_eq!(err.field, "tls.cert", "role {role}");
        assert_eq!(
            err.problem,
            format!("required for role {role} (a mesh node certificate)")
        );
    }
    // An edge only verifies its proxy: the CA alone is enough.
    let (mut c, _tls) = base();
    c.node.roles = vec![Role::Edge];
    c.tls.cert = None;
    c.tls.key = None;
    c.validate().unwrap();
}

#[test]
fn every_role_needs_the_mesh_ca() {
    for roles in [vec![Role::Edge], vec![Role::Relay], vec![Role::Proxy]] {
        let (mut c, _tls) = base();
        c.node.roles = roles.clone();
        c.tls.ca_cert = None;
        let err = c.validate().unwrap_err();
        assert_eq!(err.field, "tls.ca_cert", "roles {roles:?}");
        assert_eq!(err.problem, "required: the mesh CA certificate");
    }
}

#[test]
fn proxy_on_a_wildcard_address_needs_data_advertise() {
    let err = {
        let (mut c, _tls) = base();
        c.node.data_advertise = None;
        c.validate().unwrap_err()
    };
    assert_eq!(
        err.to_string(),
        "node.data_advertise: required for role proxy when node.data_listen is a wildcard address"
    );
    assert_eq!(
        field_after(|c| c.node.data_advertise = Some("0.0.0.0:4434".parse().unwrap())),
        "node.data_advertise"
    );
    assert_eq!(
        field_after(|c| c.node.data_advertise = Some("198.51.100.40:0".parse().unwrap())),
        "node.data_advertise"
    );
    // A concrete listen address is what peers send to; no advertise needed.
    let (mut c, _tls) = base();
    c.node.data_listen = "198.51.100.40:4434".parse().unwrap();
    c.node.data_advertise = None;
    c.validate().unwrap();
    // Only proxies hand their data address out; a wildcard relay is fine.
    c.node.data_listen = "0.0.0.0:4434".parse().unwrap();
    c.node.roles = vec![Role::Edge, Role::Relay];
    c.validate().unwrap();
}

#[test]
fn limit_rules_name_their_fields() {
    assert_eq!(
        field_after(|c| c.limits.max_sessions = 0),
        "limits.max_sessions"
    );
    assert_eq!(
        field_after(|c| c.limits.idle_timeout = Duration::from_millis(10)),
        "limits.idle_timeout"
    );
    assert_eq!(
        field_after(|c| c.limits.per_session_pps = 0),
        "limits.per_session_pps"
    );
    let err = {
        let (mut c, _tls) = base();
        c.limits.per_source_pps = 500;
        c.validate().unwrap_err()
    };
    assert_eq!(err.field, "limits.per_source_pps");
    assert!(
        err.problem.contains("below limits.per_session_pps 1000"),
        "{err}"
    );
    assert_eq!(
        field_after(|c| c.limits.max_pending_flows = 100_000),
        "limits.max_pending_flows"
    );
}

#[test]
fn peer_rules_name_their_fields() {
    assert_eq!(
        field_after(|c| c.peers[1].name = "sgp".into()),
        "peers[1].name"
    );
    assert_eq!(
        field_after(|c| c.peers[0].name = "bkk-home".into()),
        "peers[0].name"
    );
    assert_eq!(
        field_after(|c| c.peers[1].server_name = Some("a..b".into())),
        "peers[1].server_name"
    );
    assert_eq!(
        field_after(|c| c.peers[0].control = "0.0.0.0:4433".parse().unwrap()),
        "peers[0].control"
    );
    assert_eq!(
        field_after(|c| c.peers[0].data = "198.51.100.20:0".parse().unwrap()),
        "peers[0].data"
    );
}

#[test]
fn proxy_rules_name_their_fields() {
    assert_eq!(field_after(|c| c.proxy.tokens.clear()), "proxy.tokens");
    assert_eq!(
        field_after(|c| c.proxy.tokens.push(Token::new("short"))),
        "proxy.tokens[1]"
    );
    assert_eq!(
        field_after(|c| c.proxy.tokens.push(Token::new("has a space in it!!"))),
        "proxy.tokens[1]"
    );
    let net: Cidr = "192.168.0.0/16".parse().unwrap();
    assert_eq!(
        field_after(|c| {
            c.proxy.allow_destinations = vec![net];
            c.proxy.deny_destinations = vec![net];
        }),
        "proxy.allow_destinations[0]"
    );
    // Without role proxy, no tokens is fine.
    let (mut c, _tls) = base();
    c.node.roles = vec![Role::Edge];
    c.proxy.tokens.clear();
    c.validate().unwrap();
}

#[test]
fn edge_rules_name_their_fields() {
    assert_eq!(field_after(|c| c.edge.token = None), "edge.token");
    assert_eq!(field_after(|c| c.edge.proxy = None), "edge.proxy");
    assert_eq!(
        field_after(|c| c.edge.proxy = Some("nyc".into())),
        "edge.proxy"
    );
    assert_eq!(
        field_after(|c| c.edge.via.push("sgp".into())),
        "edge.via[1]"
    );
    assert_eq!(
        field_after(|c| c.edge.via = vec!["lax".into()]),
        "edge.via[0]"
    );
    assert_eq!(
        field_after(|c| c.edge.via = vec!["sgp".into(), "sgp".into(), "sgp".into()]),
        "edge.via"
    );
    assert_eq!(
        field_after(|c| c.edge.fec_deadline = Duration::from_millis(50)),
        "edge.fec_deadline"
    );
    assert_eq!(
        field_after(|c| c.edge.keepalive = Duration::from_millis(10)),
        "edge.keepalive"
    );
    assert_eq!(
        field_after(|c| c.limits.idle_timeout = Duration::from_secs(1)),
        "edge.keepalive"
    );
    assert_eq!(field_after(|c| c.edge.redirect.clear()), "edge.redirect");
}

#[test]
fn unknown_via_peer_message_names_field_and_peer() {
    let (mut c, _tls) = base();
    c.edge.via = vec!["sgp".into(), "fra".into()];
    let err = c.validate().unwrap_err();
    assert_eq!(
        err.to_string(),
        "edge.via[1]: unknown peer 'fra' (not in [[peers]], and no [mesh] to find it in)"
    );
}

#[test]
fn redirect_rules_name_their_fields() {
    let dup = |c: &mut Config| {
        let mut r = c.edge.redirect[0].clone();
        r.target = "203.0.113.11:27015".parse().unwrap();
        c.edge.redirect.push(r);
    };
    assert_eq!(field_after(dup), "edge.redirect[1].listen");
    assert_eq!(
        field_after(|c| c.edge.redirect[0].listen = "127.0.0.1:4434".parse().unwrap()),
        "edge.redirect[0].listen"
    );
    assert_eq!(
        field_after(|c| c.edge.redirect[0].target = "203.0.113.10:0".parse().unwrap()),
        "edge.redirect[0].target"
    );
    assert_eq!(
        field_after(|c| c.edge.redirect[0].game = Some("c s".into())),
        "edge.redirect[0].game"
    );
}

#[test]
fn role_override_replaces_roles_before_validation() {
    let mut c = Config::default();
    c.apply(&Overrides {
        roles: Some(vec![Role::Edge]),
        log_format: Some(LogFormat::Json),
        admin_listen: Some("127.0.0.1:9100".parse().unwrap()),
    });
    assert_eq!(c.node.roles, vec![Role::Edge]);
    assert_eq!(c.node.log_format, LogFormat::Json);
    assert_eq!(c.node.admin_listen.port(), 9100);
    assert_eq!(c.validate().unwrap_err().field, "tls.ca_cert");
    // With the CA (all an edge needs from [tls]) the edge's own fields are what is missing.
    let tls = TlsFiles::new();
    c.tls.ca_cert = Some(tls.path("ca.crt"));
    assert_eq!(c.validate().unwrap_err().field, "edge.token");
}

#[test]
fn parse_errors_name_the_field() {
    let e = parse_err("[limits]\nmax_sessions = \"many\"\n");
    assert_eq!(e.field.as_deref(), Some("limits.max_sessions"));
    assert!(e.message.contains("invalid type"), "{e}");
    assert!(e.context.contains("line 2"), "{e}");

    let e = parse_err("[node]\nname = \"x\"\nrolez = [\"relay\"]\n");
    assert_eq!(e.field.as_deref(), Some("node.rolez"));
    assert!(e.message.contains("unknown field `rolez`"), "{e}");

    let e = parse_err("[node]\nroles = [\"relay\", \"router\"]\n");
    assert_eq!(e.field.as_deref(), Some("node.roles[1]"));

    let e = parse_err("[proxy]\ndeny_destinations = [\"10.0.0.0/8\", \"10.1.0.0/8\"]\n");
    // Errors from inside a string-converted element carry the array's span, so the message
    // names the element instead.
    assert_eq!(e.field.as_deref(), Some("proxy.deny_destinations"));
    assert!(
        e.message
            .contains("host bits are set in 10.1.0.0/8; did you mean 10.0.0.0/8?"),
        "{e}"
    );

    let e = parse_err("[edge]\nfec = \"xor(20)\"\n");
    assert_eq!(e.field.as_deref(), Some("edge.fec"));
    assert!(e.message.contains("K must be a number from 1 to 15"), "{e}");

    let e = parse_err("[edge]\nkeepalive = \"soon\"\n");
    assert_eq!(e.field.as_deref(), Some("edge.keepalive"));

    let e = parse_err("[[edge.redirect]]\nlisten = \"127.0.0.1:1\"\n");
    assert_eq!(e.field.as_deref(), Some("edge.redirect[0]"));
    assert!(e.message.contains("missing field `target`"), "{e}");

    let e = parse_err("[[peers]]\nname = \"a\"\ncontrol = \"1.2.3.4\"\ndata = \"1.2.3.4:1\"\n");
    assert_eq!(e.field.as_deref(), Some("peers[0].control"));

    let e = parse_err("[node\nname = 1\n");
    assert!(e.to_string().contains("line 1"), "{e}");
}

#[test]
fn load_reports_file_and_resolves_tls_paths_against_it() {
    let tls = TlsFiles::new();
    let dir = tls.dir.clone();
    let file = dir.join("relay.toml");
    std::fs::write(
        &file,
        "[tls]\nca_cert = \"ca.crt\"\ncert = \"node.crt\"\nkey = \"./node.key\"\n",
    )
    .unwrap();
    let c = load(Some(&file), &Overrides::default()).unwrap();
    assert_eq!(c.tls.ca_cert, Some(dir.join("ca.crt")));
    assert_eq!(c.tls.cert, Some(dir.join("node.crt")));
    assert_eq!(c.tls.key, Some(dir.join("./node.key")));

    std::fs::write(&file, "[tls]\ncert = \"missing.pem\"\n").unwrap();
    let err = load(Some(&file), &Overrides::default()).unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "invalid config {}: tls.cert: file not found",
            file.display()
        )),
        "{text}"
    );

    let err = load(Some(&dir.join("nope.toml")), &Overrides::default()).unwrap_err();
    assert!(matches!(err, LoadError::Read { .. }), "{err}");
}

#[test]
fn standby_and_multipath_rules_name_their_fields() {
    let (c, _tls) = base();
    assert_eq!(c.edge.backup_via, None);
    assert_eq!(c.edge.multipath, Multipath::Off);
    let doc = ALL_ROLES.replace(
        "fec = \"rs(4,2)\"",
        "fec = \"rs(4,2)\"\nbackup_via = []\nmultipath = \"adaptive\"",
    );
    let mut c = Config::from_toml(&doc).unwrap();
    let _tls = TlsFiles::new();
    _tls.apply(&mut c);
    c.validate().unwrap();
    assert_eq!(c.edge.backup_via, Some(Vec::new()));
    assert_eq!(
        c.edge.multipath.mode(),
        lightspeed_actors::spec::MultipathMode::Adaptive
    );
    let doc = ALL_ROLES.replace(
        "fec = \"rs(4,2)\"",
        "fec = \"rs(4,2)\"\nbackup_via = []\nmultipath = \"parity\"",
    );
    let c = Config::from_toml(&doc).unwrap();
    assert_eq!(
        c.edge.multipath.mode(),
        lightspeed_actors::spec::MultipathMode::Parity
    );
    let e =
        parse_err(&ALL_ROLES.replace("via = [\"sgp\"]", "via = [\"sgp\"]\nmultipath = \"both\""));
    assert_eq!(e.field.as_deref(), Some("edge.multipath"));
    assert_eq!(
        field_after(|c| c.edge.multipath = Multipath::Duplicate),
        "edge.multipath"
    );
    assert_eq!(
        field_after(|c| c.edge.backup_via = Some(vec!["sgp".into()])),
        "edge.backup_via[0]"
    );
    assert_eq!(
        field_after(|c| c.edge.backup_via = Some(vec!["lax".into()])),
        "edge.backup_via[0]"
    );
    assert_eq!(
        field_after(|c| c.edge.backup_via = Some(vec!["fra".into()])),
        "edge.backup_via[0]"
    );
    assert_eq!(
        field_after(|c| {
            c.edge.via.clear();
            c.edge.backup_via = Some(Vec::new());
        }),
        "edge.backup_via"
    );
    let (mut c, _tls) = base();
    c.edge.backup_via = Some(vec!["sgp".into()]);
    assert_eq!(
        c.validate().unwrap_err().to_string(),
        "edge.backup_via[0]: 'sgp' is also on edge.via: the standby must share no relay with the primary"
    );
}
