//! From the file as written ([`super::file`]) to a [`Scenario`]: names resolved, numbers
//! checked, links paired, the timeline sorted and split into phases.

use std::time::Duration;

use lightspeed_actors::spec::{FecSetting, MultipathMode};
use lightspeed_mesh::Role;

use super::file::{File, GameEntry, LinkEntry, LossEntry, RouteEntry, ShapeEntry};
use super::model::{GameDef, LinkDef, NodeDef, Scenario, ScenarioError};
use super::validate_timeline;
use crate::link::{LinkConfig, LossModel};

/// Longest run: scenarios are CI checks, and every packet is recorded in memory.
pub const MAX_DURATION_S: f64 = 600.0;
/// Most players: each is a session, a redirect port and two emulated links.
pub const MAX_PLAYERS: u32 = 32;
/// Most relays on a path (the data-plane header carries at most two).
const MAX_RELAYS: usize = 2;

type Result<T> = std::result::Result<T, ScenarioError>;

pub(super) fn scenario(file: File) -> Result<Scenario> {
    let h = &file.scenario;
    if h.name.trim().is_empty() {
        return Err(ScenarioError::invalid("scenario.name", "must not be empty"));
    }
    if !(h.duration_s > 0.0 && h.duration_s <= MAX_DURATION_S) {
        return Err(ScenarioError::invalid(
            "scenario.duration_s",
            format!("must be in (0, {MAX_DURATION_S}], got {}", h.duration_s),
        ));
    }
    let duration = Duration::from_secs_f64(h.duration_s);
    let nodes = nodes(&file)?;
    let links = links(&file.link, &nodes)?;
    let game = game(&file.game, &nodes, &links, h.mesh)?;
    let events = validate_timeline::events(&file.event, &nodes, &links, duration)?;
    validate_timeline::late_joins(&events, &game, h.mesh)?;
    let phases = validate_timeline::phases(&h.first_phase, &file.event, &events, duration)?;
    let mut expects = Vec::new();
    for (i, e) in file.expect.iter().enumerate() {
        let context = validate_timeline::ExpectContext {
            phases: &phases,
            nodes: &nodes,
            events: &events,
            mesh: h.mesh,
        };
        expects.extend(validate_timeline::expect(i, e, &context)?);
    }
    Ok(Scenario {
        name: h.name.clone(),
        description: h.description.clone(),
        duration,
        seed: h.seed,
        mesh: h.mesh,
        nodes,
        links,
        game,
        events,
        phases,
        expects,
    })
}

fn nodes(file: &File) -> Result<Vec<NodeDef>> {
    let mut out: Vec<NodeDef> = Vec::new();
    for (i, n) in file.node.iter().enumerate() {
        let field = format!("node[{i}].name");
        let ok = !n.name.is_empty()
            && n.name.len() <= 63
            && n.name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            return Err(ScenarioError::invalid(
                field,
                format!("'{}' must be 1-63 letters, digits, '-' or '_'", n.name),
            ));
        }
        if out.iter().any(|o| o.name == n.name) {
            return Err(ScenarioError::invalid(
                field,
                format!("'{}' is defined twice", n.name),
            ));
        }
        if n.roles.is_empty() {
            return Err(ScenarioError::invalid(
                format!("node[{i}].roles"),
                "give at least one of edge, relay, proxy",
            ));
        }
        if n.roles.contains(&Role::Edge) && n.name != file.game.edge {
            return Err(ScenarioError::invalid(
                format!("node[{i}].roles"),
                format!(
                    "'{}' has the edge role but game.edge is '{}' (one edge per scenario)",
                    n.name, file.game.edge
                ),
            ));
        }
        out.push(NodeDef {
            name: n.name.clone(),
            roles: n.roles.clone(),
            region: n.region.clone(),
        });
    }
    Ok(out)
}

pub(super) fn known(nodes: &[NodeDef], field: &str, name: &str) -> Result<()> {
    if nodes.iter().any(|n| n.name == name) {
        Ok(())
    } else {
        Err(ScenarioError::invalid(
            field,
            format!("no [[node]] is named '{name}'"),
        ))
    }
}

pub(super) fn ms(field: &str, v: f64) -> Result<Duration> {
    if v.is_finite() && (0.0..=60_000.0).contains(&v) {
        Ok(Duration::from_micros((v * 1_000.0).round() as u64))
    } else {
        Err(ScenarioError::invalid(
            field,
            format!("must be a number of milliseconds from 0 to 60000, got {v}"),
        ))
    }
}

pub(super) fn loss(field: &str, l: &LossEntry) -> Result<LossModel> {
    let model = match (l.iid, l.burst_loss, l.mean_burst) {
        (Some(p), None, None) => LossModel::Iid { p },
        (None, Some(rate), Some(burst)) => LossModel::gilbert_elliott_from_mean(rate, burst)
            .map_err(|e| ScenarioError::invalid(field, e.to_string()))?,
        (None, Some(_), None) => {
            return Err(ScenarioError::invalid(
                format!("{field}.mean_burst"),
                "required with burst_loss (mean burst length in packets)",
            ));
        }
        _ => {
            return Err(ScenarioError::invalid(
                field,
                "give either { iid = P } or { burst_loss = P, mean_burst = N }",
            ));
        }
    };
    model
        .validate()
        .map_err(|e| ScenarioError::invalid(field, e.to_string()))?;
    Ok(model)
}

pub(super) fn rate(field: &str, kbps: Option<u64>) -> Result<Option<u64>> {
    match kbps {
        Some(0) => Err(ScenarioError::invalid(field, "must be positive")),
        Some(k) => Ok(Some(k.saturating_mul(1_000))),
        None => Ok(None),
    }
}

fn shape(
    field: &str,
    delay_ms: f64,
    jitter_ms: f64,
    l: Option<&LossEntry>,
    rate_kbps: Option<u64>,
) -> Result<LinkConfig> {
    let config = LinkConfig {
        delay: ms(&format!("{field}.delay_ms"), delay_ms)?,
        jitter: ms(&format!("{field}.jitter_ms"), jitter_ms)?,
        loss: l
            .map(|l| loss(&format!("{field}.loss"), l))
            .transpose()?
            .unwrap_or_default(),
        rate_bps: rate(&format!("{field}.rate_kbps"), rate_kbps)?,
        ..LinkConfig::default()
    };
    config
        .validate()
        .map_err(|e| ScenarioError::invalid(field, e.to_string()))?;
    Ok(config)
}

fn last_mile(field: &str, s: &ShapeEntry) -> Result<LinkConfig> {
    shape(field, s.delay_ms, s.jitter_ms, s.loss.as_ref(), s.rate_kbps)
}

fn links(entries: &[LinkEntry], nodes: &[NodeDef]) -> Result<Vec<LinkDef>> {
    // Each unordered pair gets both directions, from one symmetric entry or two directed ones.
    let mut pairs: Vec<(String, String, Option<LinkConfig>, Option<LinkConfig>)> = Vec::new();
    for (i, l) in entries.iter().enumerate() {
        let field = format!("link[{i}]");
        known(nodes, &format!("{field}.a"), &l.a)?;
        known(nodes, &format!("{field}.b"), &l.b)?;
        if l.a == l.b {
            return Err(ScenarioError::invalid(
                format!("{field}.b"),
                "a link joins two different nodes",
            ));
        }
        let config = shape(
            &field,
            l.delay_ms,
            l.jitter_ms,
            l.loss.as_ref(),
            l.rate_kbps,
        )?;
        let pos = pairs
            .iter()
            .position(|(a, b, ..)| (*a == l.a && *b == l.b) || (*a == l.b && *b == l.a));
        let pos = pos.unwrap_or_else(|| {
            pairs.push((l.a.clone(), l.b.clone(), None, None));
            pairs.len() - 1
        });
        let Some(pair) = pairs.get_mut(pos) else {
            continue;
        };
        let forward = pair.0 == l.a;
        let dirs: &[bool] = if l.symmetric {
            &[true, false]
        } else {
            &[forward]
        };
        for &ab in dirs {
            // `ab`: the pair's a → b direction (else b → a).
            let slot = if ab { &mut pair.2 } else { &mut pair.3 };
            if slot.is_some() {
                return Err(ScenarioError::invalid(
                    field,
                    format!("the link {} → {} is given twice", l.a, l.b),
                ));
            }
            *slot = Some(config.clone());
        }
    }
    pairs
        .into_iter()
        .map(|(a, b, ab, ba)| match (ab, ba) {
            (Some(a_to_b), Some(b_to_a)) => Ok(LinkDef {
                a,
                b,
                a_to_b,
                b_to_a,
            }),
            (None, _) => Err(missing_direction(&a, &b)),
            (_, None) => Err(missing_direction(&b, &a)),
        })
        .collect()
}

fn missing_direction(from: &str, to: &str) -> ScenarioError {
    ScenarioError::invalid(
        "link",
        format!(
            "the link {to} → {from} is directed (symmetric = false) but no [[link]] gives {from} → {to}"
        ),
    )
}

/// `off`, `auto`, `dup`, `xor(K)` or `rs(K,M)`, K and M in 1..=15.
pub(super) fn fec_setting(text: &str) -> Option<FecSetting> {
    let t = text.trim().to_ascii_lowercase();
    let num = |s: &str| s.trim().parse::<u8>().ok().filter(|n| (1..=15).contains(n));
    match t.as_str() {
        "off" => Some(FecSetting::Off),
        "auto" => Some(FecSetting::Auto),
        "dup" => Some(FecSetting::Dup),
        _ => {
            let args = |prefix: &str| t.strip_prefix(prefix)?.strip_suffix(')');
            if let Some(k) = args("xor(") {
                return Some(FecSetting::Xor { k: num(k)? });
            }
            let (k, m) = args("rs(")?.split_once(',')?;
            Some(FecSetting::Rs {
                k: num(k)?,
                m: num(m)?,
            })
        }
    }
}

fn has_role(nodes: &[NodeDef], name: &str, role: Role) -> bool {
    nodes
        .iter()
        .any(|n| n.name == name && n.roles.contains(&role))
}

fn game(g: &GameEntry, nodes: &[NodeDef], links: &[LinkDef], mesh: bool) -> Result<GameDef> {
    let profile = lightspeed_edge::profiles::profile(&g.profile).ok_or_else(|| {
        ScenarioError::invalid("game.profile", format!("unknown game '{}'", g.profile))
    })?;
    if !(1..=MAX_PLAYERS).contains(&g.players) {
        return Err(ScenarioError::invalid(
            "game.players",
            format!("must be 1 to {MAX_PLAYERS}, got {}", g.players),
        ));
    }
    known(nodes, "game.edge", &g.edge)?;
    known(nodes, "game.server", &g.server)?;
    if !has_role(nodes, &g.edge, Role::Edge) {
        return Err(ScenarioError::invalid(
            "game.edge",
            format!("node '{}' has no edge role", g.edge),
        ));
    }
    if !has_role(nodes, &g.server, Role::Proxy) {
        return Err(ScenarioError::invalid(
            "game.server",
            format!(
                "node '{}' has no proxy role; the game server sits behind a proxy \
                 (its link is game.server_link)",
                g.server
            ),
        ));
    }
    let (route, auto_route) = match &g.route {
        RouteEntry::Relays(r) => (r.clone(), false),
        RouteEntry::Mode(m) if m == "auto" => (Vec::new(), true),
        RouteEntry::Mode(m) => {
            return Err(ScenarioError::invalid(
                "game.route",
                format!("'{m}' is neither a list of relays nor \"auto\""),
            ));
        }
    };
    if auto_route && !mesh {
        return Err(ScenarioError::invalid(
            "game.route",
            "\"auto\" plans paths from the gossiped topology: set [scenario] mesh = true",
        ));
    }
    if auto_route && g.backup_route.is_some() {
        return Err(ScenarioError::invalid(
            "game.backup_route",
            "not used with route = \"auto\" (the standby is planned)",
        ));
    }
    if g.min_dwell_ms.is_some() && !auto_route {
        return Err(ScenarioError::invalid(
            "game.min_dwell_ms",
            "the path policy applies only with route = \"auto\"",
        ));
    }
    if route.len() > MAX_RELAYS {
        return Err(ScenarioError::invalid(
            "game.route",
            format!("at most {MAX_RELAYS} relays, got {}", route.len()),
        ));
    }
    for (i, r) in route.iter().enumerate() {
        let field = format!("game.route[{i}]");
        known(nodes, &field, r)?;
        if !has_role(nodes, r, Role::Relay) {
            return Err(ScenarioError::invalid(
                field,
                format!("node '{r}' has no relay role"),
            ));
        }
    }
    let fec = fec_setting(&g.fec).ok_or_else(|| {
        ScenarioError::invalid(
            "game.fec",
            format!(
                "unknown FEC setting '{}' (off, auto, dup, xor(K) or rs(K,M), K and M 1-15)",
                g.fec
            ),
        )
    })?;
    let multipath = MultipathMode::parse(g.multipath.trim()).ok_or_else(|| {
        ScenarioError::invalid(
            "game.multipath",
            format!(
                "unknown multipath setting '{}' (off, duplicate, adaptive or parity)",
                g.multipath
            ),
        )
    })?;
    backup_route(g, multipath)?;
    let def = GameDef {
        profile: profile.id.to_string(),
        players: g.players,
        proxy: g.server.clone(),
        edge: g.edge.clone(),
        route,
        auto_route,
        min_dwell: g.min_dwell_ms.map(std::time::Duration::from_millis),
        backup_route: g.backup_route.clone(),
        multipath,
        fec,
        fec_text: g.fec.trim().to_string(),
        client_link: last_mile("game.client_link", &g.client_link)?,
        server_link: last_mile("game.server_link", &g.server_link)?,
    };
    if !def.auto_route {
        linked("game.route", &def.path(), links)?;
    }
    if let Some(backup) = def.backup_path() {
        linked("game.backup_route", &backup, links)?;
    }
    Ok(def)
}

/// The standby path: direct only (see the error), and multipath needs it.
fn backup_route(g: &GameEntry, multipath: MultipathMode) -> Result<()> {
    match &g.backup_route {
        None if multipath != MultipathMode::Off => Err(ScenarioError::invalid(
            "game.multipath",
            "needs a standby path: set game.backup_route ([] for the direct path)",
        )),
        None => Ok(()),
        Some(b) if b.is_empty() && matches!(&g.route, RouteEntry::Relays(r) if r.is_empty()) => {
            Err(ScenarioError::invalid(
                "game.backup_route",
                "the direct path is already the primary (game.route is empty)",
            ))
        }
        Some(b) if !b.is_empty() => Err(ScenarioError::Unsupported {
            field: "game.backup_route".into(),
            reason: "only the direct path ([]) can be the standby here: a relay on it would \
                     reach the proxy at the address the primary's last link owns",
        }),
        Some(_) => Ok(()),
    }
}

/// Every consecutive pair of `path` is joined by a link, and no node repeats.
fn linked(field: &str, path: &[String], links: &[LinkDef]) -> Result<()> {
    for (i, w) in path.windows(2).enumerate() {
        if let [x, y] = w {
            if path.iter().filter(|n| *n == x).count() > 1 {
                return Err(ScenarioError::invalid(
                    field,
                    format!("node '{x}' appears twice on the path {path:?}"),
                ));
            }
            if !links.iter().any(|l| l.joins(x, y)) {
                return Err(ScenarioError::invalid(
                    format!("{field} (hop {i})"),
                    format!("no [[link]] joins '{x}' and '{y}' on the path {path:?}"),
                ));
            }
        }
    }
    Ok(())
}
