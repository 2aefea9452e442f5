use std::net::SocketAddr;

use lightspeed_mesh::Role;
use lightspeed_mesh::topology::{
    ClaimVersion, LinkClaim, LinkSnapshot, NodeSnapshot, TopologySnapshot,
};
use lightspeed_protocol::Micros;

use super::planner::*;
use super::policy::{Decision, PathPolicy, PolicyConfig, Reason};
use super::selector::{History, NearestSelector};

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn node(name: &str, roles: &[Role], down: bool) -> NodeSnapshot {
    NodeSnapshot {
        name: name.into(),
        roles: roles.to_vec(),
        region: String::new(),
        load_pct: None,
        control_addr: None,
        data_addr: None,
        version: ClaimVersion::default(),
        down,
        age_ms: 0,
    }
}

fn link(from: &str, to: &str, rtt_ms: u32, via: &str) -> LinkSnapshot {
    LinkSnapshot {
        from: from.into(),
        to: to.into(),
        rtt_us: rtt_ms * 1_000,
        jitter_us: 0,
        loss_ppm: 0,
        age_ms: 0,
        stale: false,
        via: Some(addr(via)),
    }
}

/// bkk (edge) → la (proxy) 206 ms; bkk → sgp 31 ms; sgp → la as given. Every node reaches
/// the others at its own address for them (sgp reaches la at .9.3, the edge at .0.3).
fn bkk(sgp_la_ms: u32) -> TopologySnapshot {
    TopologySnapshot {
        local: "bkk".into(),
        nodes: vec![
            node("bkk", &[Role::Edge], false),
            node("la", &[Role::Proxy], false),
            node("sgp", &[Role::Relay], false),
        ],
        links: vec![
            link("bkk", "la", 206, "10.0.0.3:4434"),
            link("bkk", "sgp", 31, "10.0.0.2:4434"),
            link("sgp", "la", sgp_la_ms, "10.9.9.3:4434"),
        ],
    }
}

fn plan(p: &mut Planner, policy: &mut PathPolicy, now_ms: u64, topo: &TopologySnapshot) -> Plan {
    let round = p.round(topo, &[]);
    p.plan(
        Micros::from_millis(now_ms),
        &round,
        policy,
        &NearestSelector,
        &History::default(),
    )
}

#[test]
fn bkk_sgp_la_goes_direct_at_209_with_the_relay_as_standby() {
    let mut p = Planner::new("bkk", "la");
    let mut policy = PathPolicy::new(PolicyConfig::default());
    let plan = plan(&mut p, &mut policy, 0, &bkk(178));
    assert!(matches!(
        plan.decision,
        Decision::Switch {
            reason: Reason::Direct,
            ..
        }
    ));
    let primary = plan.primary.unwrap();
    assert!(primary.path.is_direct());
    assert_eq!(primary.candidate.metrics.rtt_us, 206_000);
    assert!(primary.relays.is_empty());
    assert_eq!(primary.first_hop(), addr("10.0.0.3:4434"));
    let standby = plan.standby.unwrap();
    assert_eq!(
        standby.relays,
        vec![("sgp".to_string(), addr("10.0.0.2:4434"))]
    );
    assert_eq!(standby.candidate.metrics.rtt_us, 209_000);
    // The proxy as sgp reaches it, not as the edge does.
    assert_eq!(standby.proxy_addr, addr("10.9.9.3:4434"));
    assert_eq!(standby.names().collect::<Vec<_>>(), vec!["sgp", "la"]);
}

#[test]
fn bkk_sgp_la_takes_the_relay_when_it_saves_15_ms_and_a_running_session_waits_for_its_dwell() {
    let mut p = Planner::new("bkk", "la");
    let mut fresh = PathPolicy::new(PolicyConfig::default());
    let got = plan(&mut p, &mut fresh, 0, &bkk(160));
    assert!(matches!(
        got.decision,
        Decision::Switch {
            reason: Reason::SavesLatency { saved_us: 15_000 },
            ..
        }
    ));
    let primary = got.primary.unwrap();
    assert_eq!(primary.first_hop(), addr("10.0.0.2:4434"));
    assert_eq!(primary.candidate.metrics.rtt_us, 191_000);
    assert!(got.standby.unwrap().path.is_direct());

    // A session on direct since 0 s: the same improvement moves it only after 10 s.
    let mut running = PathPolicy::new(PolicyConfig::default());
    let _ = plan(&mut p, &mut running, 0, &bkk(178));
    assert_eq!(
        plan(&mut p, &mut running, 9_000, &bkk(160)).decision,
        Decision::Stay
    );
    let moved = plan(&mut p, &mut running, 10_000, &bkk(160));
    assert!(matches!(
        moved.decision,
        Decision::Switch {
            reason: Reason::Better { gain_us: 15_000 },
            ..
        }
    ));
    assert_eq!(moved.primary.unwrap().relays[0].0, "sgp");
    // Ids are stable across rounds: nothing changed, nothing moves.
    assert_eq!(
        plan(&mut p, &mut running, 30_000, &bkk(160)).decision,
        Decision::Stay
    );
}

#[test]
fn the_edges_own_probes_replace_its_gossiped_claims() {
    let mut p = Planner::new("bkk", "la");
    let own = vec![
        (
            LinkClaim {
                to: "la".into(),
                rtt_us: 180_000,
                jitter_us: 0,
                loss_ppm: 0,
                age_ms: 0,
            },
            addr("10.0.0.33:4434"),
        ),
        (
            LinkClaim {
                to: "sgp".into(),
                rtt_us: 31_000,
                jitter_us: 0,
                loss_ppm: 0,
                age_ms: 0,
            },
            addr("10.0.0.2:4434"),
        ),
    ];
    let round = p.round(&bkk(160), &own);
    assert_eq!(round.direct().unwrap().rtt_us, 180_000);
    let mut policy = PathPolicy::new(PolicyConfig::default());
    let plan = p.plan(
        Micros::ZERO,
        &round,
        &mut policy,
        &NearestSelector,
        &History::default(),
    );
    // 180 direct against 191 via sgp: direct, at the address the edge probes.
    let primary = plan.primary.unwrap();
    assert!(primary.path.is_direct());
    assert_eq!(primary.first_hop(), addr("10.0.0.33:4434"));
}

#[test]
fn stale_links_down_relays_and_links_without_an_address_are_left_out() {
    let mut p = Planner::new("bkk", "la");
    let mut topo = bkk(160);
    topo.links[2].stale = true;
    assert_eq!(p.round(&topo, &[]).candidates.len(), 1);
    let mut topo = bkk(160);
    topo.links[2].via = None;
    assert_eq!(p.round(&topo, &[]).candidates.len(), 1);
    let mut topo = bkk(160);
    topo.nodes[2].down = true;
    assert_eq!(p.round(&topo, &[]).candidates.len(), 1);
    let mut topo = bkk(160);
    topo.links[1].loss_ppm = 1_000_000;
    assert_eq!(p.round(&topo, &[]).candidates.len(), 1);
    // A node without the relay role is no relay.
    let mut topo = bkk(160);
    topo.nodes[2].roles = vec![Role::Edge];
    assert_eq!(p.round(&topo, &[]).candidates.len(), 1);
    assert_eq!(p.round(&bkk(160), &[]).candidates.len(), 2);
}

#[test]
fn a_two_relay_path_takes_each_hops_address_from_the_previous_hops_claim() {
    let mut topo = bkk(178);
    topo.nodes.push(node("tyo", &[Role::Relay], false));
    topo.links.push(link("sgp", "tyo", 70, "10.9.9.4:4434"));
    topo.links.push(link("tyo", "la", 100, "10.8.8.3:4434"));
    let mut p = Planner::new("bkk", "la");
    let mut policy = PathPolicy::new(PolicyConfig::default());
    let got = plan(&mut p, &mut policy, 0, &topo);
    // 31 + 70 + 100 = 201 saves 5 ms over 206: not enough to select, direct.
    assert!(got.primary.as_ref().unwrap().path.is_direct());
    let round = p.round(&topo, &[]);
    let two = round
        .candidates
        .iter()
        .find(|c| c.path.relays().len() == 2)
        .unwrap();
    let planned = p.planned(&round, two).unwrap();
    assert_eq!(
        planned.relays,
        vec![
            ("sgp".to_string(), addr("10.0.0.2:4434")),
            ("tyo".to_string(), addr("10.9.9.4:4434")),
        ]
    );
    assert_eq!(planned.proxy_addr, addr("10.8.8.3:4434"));
    assert_eq!(planned.candidate.metrics.rtt_us, 201_000);
}

#[test]
fn a_vetoed_path_is_neither_primary_nor_standby() {
    let mut p = Planner::new("bkk", "la");
    let mut policy = PathPolicy::new(PolicyConfig::default());
    let first = plan(&mut p, &mut policy, 0, &bkk(160));
    let relay = first.primary.unwrap().path;
    assert!(!relay.is_direct());
    policy.veto(Micros::from_millis(1_000), relay);
    let after = plan(&mut p, &mut policy, 1_000, &bkk(160));
    assert!(matches!(
        after.decision,
        Decision::Switch {
            reason: Reason::Direct,
            ..
        }
    ));
    assert!(after.primary.unwrap().path.is_direct());
    assert_eq!(after.standby, None);
}

#[test]
fn the_interner_keeps_ids_and_starts_over_when_full() {
    let mut names = Interner::default();
    let a = names.id("a");
    assert_eq!(names.id("b").0, 1);
    assert_eq!(names.id("a"), a);
    assert_eq!(names.name(a), Some("a"));
    for i in 0..MAX_NAMES {
        names.id(&format!("n{i}"));
    }
    assert_eq!(names.name(a), Some("n8190"));
}
