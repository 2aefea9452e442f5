//! Semantic checks that serde cannot express: ranges, cross-references, per-role requirements.
//! Each failure names the field (`edge.via[1]`) and the problem in words an operator can act on.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use lightspeed_mesh::Role;

use super::sections::{EdgeSection, LimitsSection, NodeSection, Peer, ProxySection, Token};
use super::{Config, ConfigError};

pub(super) type Check = Result<(), ConfigError>;

pub(super) fn fail(field: impl Into<String>, problem: impl Into<String>) -> Check {
    Err(ConfigError {
        field: field.into(),
        problem: problem.into(),
    })
}

/// Runs every check in file order and returns the first failure.
pub(super) fn validate(config: &Config) -> Check {
    node(&config.node)?;
    tls(config)?;
    limits(&config.limits)?;
    peers(config)?;
    proxy(&config.proxy, config.node.roles.contains(&Role::Proxy))?;
    edge(config)?;
    super::validate_mesh::mesh(config)
}

/// A DNS host name: 1..=253 characters, dot-separated labels of 1..=63 letters, digits and
/// hyphens, no label starting or ending with a hyphen. Node names double as TLS names.
pub(super) fn dns_name(field: &str, name: &str) -> Check {
    let what = "must be a DNS-style name (letters, digits, '-' and '.'; labels of 1 to 63 characters not starting or ending with '-')";
    if name.is_empty() || name.len() > 253 {
        return fail(field, format!("'{name}' {what}"));
    }
    for label in name.split('.') {
        let ok = (1..=63).contains(&label.len())
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return fail(field, format!("'{name}' {what}"));
        }
    }
    Ok(())
}

/// A short label: 1..=32 ASCII letters, digits, '-' or '_'.
fn label(field: &str, value: &str) -> Check {
    let ok = (1..=32).contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        fail(
            field,
            format!("'{value}' must be 1 to 32 letters, digits, '-' or '_'"),
        )
    }
}

/// Two UDP sockets would collide: same non-zero port and the same or a wildcard address.
fn collide(a: SocketAddr, b: SocketAddr) -> bool {
    a.port() == b.port()
        && a.port() != 0
        && (a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified())
}

/// A remote address we can send to: a concrete IP and a non-zero port.
pub(super) fn remote(field: &str, addr: SocketAddr) -> Check {
    if addr.ip().is_unspecified() {
        return fail(field, format!("{addr} has no concrete IP address"));
    }
    if addr.port() == 0 {
        return fail(field, format!("{addr} has port 0"));
    }
    Ok(())
}

fn range<T: PartialOrd + std::fmt::Debug>(field: &str, v: T, lo: T, hi: T) -> Check {
    if v < lo || v > hi {
        return fail(
            field,
            format!("{v:?} is out of range; allowed {lo:?} to {hi:?}"),
        );
    }
    Ok(())
}

fn token(field: &str, t: &Token) -> Check {
    let s = t.expose();
    let n = s.chars().count();
    if !(16..=256).contains(&n) {
        return fail(
            field,
            format!("token has {n} characters; 16 to 256 are required so it cannot be guessed"),
        );
    }
    if !s.chars().all(|c| c.is_ascii_graphic()) {
        return fail(
            field,
            "token must be printable ASCII without spaces".to_string(),
        );
    }
    Ok(())
}

fn node(n: &NodeSection) -> Check {
    dns_name("node.name", &n.name)?;
    if let Some(region) = &n.region {
        label("node.region", region)?;
    }
    if n.roles.is_empty() {
        return fail(
            "node.roles",
            "at least one role is required (edge, relay, proxy)",
        );
    }
    if let Some(adv) = n.data_advertise
        && (adv.ip().is_unspecified() || adv.port() == 0)
    {
        return fail(
            "node.data_advertise",
            format!("{adv} is not reachable: give the address peers send to"),
        );
    }
    if n.roles.contains(&Role::Proxy)
        && n.data_listen.ip().is_unspecified()
        && n.data_advertise.is_none()
    {
        return fail(
            "node.data_advertise",
            "required for role proxy when node.data_listen is a wildcard address",
        );
    }
    if collide(n.control_listen, n.data_listen) {
        return fail(
            "node.control_listen",
            format!(
                "{} collides with node.data_listen {}",
                n.control_listen, n.data_listen
            ),
        );
    }
    Ok(())
}

fn tls(config: &Config) -> Check {
    let t = &config.tls;
    for (field, path) in [
        ("tls.ca_cert", &t.ca_cert),
        ("tls.cert", &t.cert),
        ("tls.key", &t.key),
    ] {
        if let Some(path) = path
            && !path.is_file()
        {
            return fail(field, format!("file not found: {}", path.display()));
        }
    }
    match (&t.cert, &t.key) {
        (Some(_), None) => return fail("tls.key", "required when tls.cert is set"),
        (None, Some(_)) => return fail("tls.cert", "required when tls.key is set"),
        _ => {}
    }
    // Relays and proxies are mesh members: they need a CA-issued certificate. An edge only
    // needs the CA, to verify the proxy it talks to.
    for role in [Role::Relay, Role::Proxy] {
        if config.has_role(role) && t.cert.is_none() {
            return fail(
                "tls.cert",
                format!("required for role {role} (a mesh node certificate)"),
            );
        }
    }
    if t.ca_cert.is_none() {
        return fail("tls.ca_cert", "required: the mesh CA certificate");
    }
    Ok(())
}

fn limits(l: &LimitsSection) -> Check {
    range("limits.max_sessions", l.max_sessions, 1, 1_000_000)?;
    range(
        "limits.idle_timeout",
        l.idle_timeout,
        Duration::from_secs(1),
        Duration::from_secs(3600),
    )?;
    range("limits.per_session_pps", l.per_session_pps, 1, 1_000_000)?;
    range("limits.per_source_pps", l.per_source_pps, 1, 1_000_000)?;
    if l.per_source_pps < l.per_session_pps {
        return fail(
            "limits.per_source_pps",
            format!(
                "{} is below limits.per_session_pps {}: one session could never reach its own limit",
                l.per_source_pps, l.per_session_pps
            ),
        );
    }
    range("limits.max_pending_flows", l.max_pending_flows, 1, 65_536)
}

fn peers(config: &Config) -> Check {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, p) in config.peers.iter().enumerate() {
        peer(i, p)?;
        if p.name == config.node.name {
            return fail(
                format!("peers[{i}].name"),
                format!("'{}' is this node's own name (node.name)", p.name),
            );
        }
        if let Some(first) = seen.insert(&p.name, i) {
            return fail(
                format!("peers[{i}].name"),
                format!("'{}' is already the name of peers[{first}]", p.name),
            );
        }
    }
    Ok(())
}

fn peer(i: usize, p: &Peer) -> Check {
    dns_name(&format!("peers[{i}].name"), &p.name)?;
    if let Some(sn) = &p.server_name {
        dns_name(&format!("peers[{i}].server_name"), sn)?;
    }
    remote(&format!("peers[{i}].control"), p.control)?;
    remote(&format!("peers[{i}].data"), p.data)?;
    if p.control == p.data {
        return fail(
            format!("peers[{i}].data"),
            format!("{} is the same as peers[{i}].control", p.data),
        );
    }
    Ok(())
}

fn proxy(p: &ProxySection, is_proxy: bool) -> Check {
    if is_proxy && p.tokens.is_empty() {
        return fail(
            "proxy.tokens",
            "at least one client token is required for role proxy",
        );
    }
    for (i, t) in p.tokens.iter().enumerate() {
        token(&format!("proxy.tokens[{i}]"), t)?;
    }
    for (i, allow) in p.allow_destinations.iter().enumerate() {
        if let Some(j) = p.deny_destinations.iter().position(|d| d == allow) {
            return fail(
                format!("proxy.allow_destinations[{i}]"),
                format!("{allow} is also proxy.deny_destinations[{j}]; keep it in one list"),
            );
        }
    }
    super::server_probe::validate(&p.server_probe)
}

fn edge(config: &Config) -> Check {
    let e: &EdgeSection = &config.edge;
    let is_edge = config.node.roles.contains(&Role::Edge);
    // With a [mesh] section, names may be mesh members found at session set-up.
    let meshed = config.mesh.is_some();
    let known = |name: &str| meshed || config.peers.iter().any(|p| p.name == name);
    match &e.token {
        Some(t) => token("edge.token", t)?,
        None if is_edge => return fail("edge.token", "required for role edge"),
        None => {}
    }
    match &e.proxy {
        Some(p) if !known(p) => {
            return fail(
                "edge.proxy",
                format!("unknown peer '{p}' (not in [[peers]], and no [mesh] to find it in)"),
            );
        }
        Some(p) => dns_name("edge.proxy", p)?,
        None if is_edge => {
            return fail(
                "edge.proxy",
                "required for role edge: name a [[peers]] entry or a mesh member",
            );
        }
        None => {}
    }
    if e.via.len() > 2 {
        return fail(
            "edge.via",
            format!("{} relays given; at most 2 are allowed", e.via.len()),
        );
    }
    for (i, v) in e.via.iter().enumerate() {
        let field = format!("edge.via[{i}]");
        if !known(v) {
            return fail(
                field,
                format!("unknown peer '{v}' (not in [[peers]], and no [mesh] to find it in)"),
            );
        }
        dns_name(&field, v)?;
        if e.proxy.as_deref() == Some(v) {
            return fail(
                field,
                format!("'{v}' is the proxy (edge.proxy), not a relay"),
            );
        }
        if e.via.get(..i).is_some_and(|before| before.contains(v)) {
            return fail(field, format!("'{v}' is listed twice"));
        }
    }
    backup_via(e, &known)?;
    routing(config)?;
    range(
        "edge.fec_deadline",
        e.fec_deadline,
        Duration::from_micros(100),
        Duration::from_millis(20),
    )?;
    range(
        "edge.keepalive",
        e.keepalive,
        Duration::from_millis(50),
        Duration::from_secs(10),
    )?;
    if e.keepalive * 2 >= config.limits.idle_timeout {
        return fail(
            "edge.keepalive",
            format!(
                "{:?} is not below half of limits.idle_timeout {:?}: one lost keepalive would expire the session",
                e.keepalive, config.limits.idle_timeout
            ),
        );
    }
    if !(1 << 20..=4 << 30).contains(&e.ml_record_max_bytes) {
        return fail(
            "edge.ml_record_max_bytes",
            format!("{} is outside 1 MiB..=4 GiB", e.ml_record_max_bytes),
        );
    }
    redirects(config, is_edge)
}

/// The standby path: at most two known relays, none of them the proxy or on `via`.
fn backup_via(e: &EdgeSection, known: &dyn Fn(&str) -> bool) -> Check {
    let Some(backup) = &e.backup_via else {
        if e.multipath != super::sections::Multipath::Off {
            return fail(
                "edge.multipath",
                "needs a standby path: set edge.backup_via ([] for the direct path)",
            );
        }
        return Ok(());
    };
    if backup.len() > 2 {
        return fail(
            "edge.backup_via",
            format!("{} relays given; at most 2 are allowed", backup.len()),
        );
    }
    if backup.is_empty() && e.via.is_empty() {
        return fail(
            "edge.backup_via",
            "the direct path is already the primary (edge.via is empty): name relays for the standby",
        );
    }
    for (i, v) in backup.iter().enumerate() {
        let field = format!("edge.backup_via[{i}]");
        if !known(v) {
            return fail(field, format!("unknown peer '{v}'"));
        }
        if e.proxy.as_deref() == Some(v) {
            return fail(
                field,
                format!("'{v}' is the proxy (edge.proxy), not a relay"),
            );
        }
        if e.via.contains(v) {
            return fail(
                field,
                format!(
                    "'{v}' is also on edge.via: the standby must share no relay with the primary"
                ),
            );
        }
        if backup.get(..i).is_some_and(|before| before.contains(v)) {
            return fail(field, format!("'{v}' is listed twice"));
        }
    }
    Ok(())
}

/// `edge.route`, `edge.selector`, `edge.ml_model` and `[edge.policy]`.
fn routing(config: &Config) -> Check {
    use super::sections::{RouteMode, SelectorName};
    let e = &config.edge;
    if e.route == RouteMode::Static {
        if e.selector != SelectorName::Nearest || e.ml_model.is_some() {
            return fail(
                "edge.selector",
                "selectors choose paths only with edge.route = \"auto\"",
            );
        }
        if e.policy != Default::default() {
            return fail(
                "edge.policy",
                "the path policy applies only with edge.route = \"auto\"",
            );
        }
        return Ok(());
    }
    if config.mesh.is_none() {
        return fail(
            "edge.route",
            "\"auto\" plans paths from the mesh topology: add a [mesh] section",
        );
    }
    if !e.via.is_empty() {
        return fail(
            "edge.via",
            "not used with edge.route = \"auto\" (paths are planned): remove it",
        );
    }
    if e.backup_via.is_some() {
        return fail(
            "edge.backup_via",
            "not used with edge.route = \"auto\" (the standby is planned): remove it",
        );
    }
    if e.ml_model.is_some() && e.selector != SelectorName::Ml {
        return fail("edge.ml_model", "needs edge.selector = \"ml\"");
    }
    let p = &e.policy;
    let ms = Duration::from_millis;
    for (field, v, max) in [
        ("edge.policy.select_margin", p.select_margin, ms(200)),
        ("edge.policy.switch_margin", p.switch_margin, ms(200)),
        ("edge.policy.keep_margin", p.keep_margin, ms(200)),
        (
            "edge.policy.min_dwell",
            p.min_dwell,
            Duration::from_secs(600),
        ),
        ("edge.policy.veto", p.veto, Duration::from_secs(600)),
    ] {
        if let Some(v) = v {
            range(field, v, Duration::ZERO, max)?;
        }
    }
    let select = p.select_margin.unwrap_or(ms(10));
    if p.keep_margin.unwrap_or(ms(5)) > select {
        return fail(
            "edge.policy.keep_margin",
            "must not exceed select_margin: a path selected for saving select_margin would at once no longer pay",
        );
    }
    Ok(())
}

fn redirects(config: &Config, is_edge: bool) -> Check {
    let list = &config.edge.redirect;
    if is_edge && list.is_empty() {
        return fail(
            "edge.redirect",
            "at least one [[edge.redirect]] is required for role edge",
        );
    }
    for (i, r) in list.iter().enumerate() {
        let listen = format!("edge.redirect[{i}].listen");
        for (other, addr) in [
            ("node.data_listen", config.node.data_listen),
            ("node.control_listen", config.node.control_listen),
        ] {
            if collide(r.listen, addr) {
                return fail(listen, format!("{} collides with {other} {addr}", r.listen));
            }
        }
        if let Some(j) = list
            .get(..i)
            .and_then(|before| before.iter().position(|b| collide(b.listen, r.listen)))
        {
            return fail(
                listen,
                format!("{} collides with edge.redirect[{j}].listen", r.listen),
            );
        }
        remote(&format!("edge.redirect[{i}].target"), r.target)?;
        if let Some(game) = &r.game {
            label(&format!("edge.redirect[{i}].game"), game)?;
        }
    }
    Ok(())
}
