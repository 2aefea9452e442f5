//! Multi-node simulations of the membership and topology cores on [`TestNet`]: joins, crash
//! detection, graceful leave, restarts, claim convergence, forged claims, bounds, determinism.

use std::time::Duration;

use lightspeed_protocol::Micros;

use super::testnet::TestNet;
use super::*;
use crate::topology::claim::{claim_item, signed_message};
use crate::topology::{ClaimBody, ClaimSigner, ClaimVersion, LinkClaim, SimKeys};

const STEP: Duration = Duration::from_millis(100);

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Node 0 starts alone; every other node joins through it, 10 ms apart.
fn mesh(seed: u64, n: usize, loss: f64, delay_us: (u64, u64)) -> TestNet {
    let mut net = TestNet::new(seed, n, MembershipConfig::lan(n as u32));
    net.loss = loss;
    net.delay_us = delay_us;
    net.start(0, 1, None);
    for i in 1..n {
        net.start(i, 1, Some(0));
        net.run_for(Duration::from_millis(10));
    }
    net
}

fn ring_links(i: usize, n: usize, k: usize) -> Vec<LinkClaim> {
    (1..=k)
        .map(|d| {
            let j = (i + d) % n;
            LinkClaim {
                to: format!("node-{j:03}"),
                rtt_us: 1_000 + ((i * 7 + j * 13) % 50) as u32 * 1_000,
                jitter_us: 200,
                loss_ppm: 0,
                age_ms: 100,
            }
        })
        .collect()
}

#[test]
fn the_core_can_move_into_an_actor_thread() {
    fn send<T: Send>() {}
    send::<Membership>();
}

#[test]
fn five_nodes_join_through_one_seed() {
    let mut net = mesh(1, 5, 0.0, (1_000, 5_000));
    let took = net.run_until_cond(STEP, secs(30), TestNet::converged);
    let took = took.expect("5 nodes converge");
    eprintln!("5 nodes: membership converged in {took:?}");
    assert!(took <= secs(2), "{took:?}");
    for i in 1..5 {
        let ups = net
            .events_about(i, Micros::ZERO)
            .iter()
            .filter(|s| matches!(s.event, MembershipEvent::Up { .. }))
            .count();
        assert_eq!(ups, 4, "every other node reported node {i} up once");
    }
}

#[test]
fn fifty_nodes_converge_under_loss() {
    let mut net = mesh(2, 50, 0.01, (5_000, 40_000));
    let took = net
        .run_until_cond(STEP, secs(60), TestNet::converged)
        .expect("50 nodes converge");
    eprintln!("50 nodes, 1% loss: membership converged in {took:?}");
    assert!(took <= secs(10), "{took:?}");
}

#[test]
fn crashed_node_is_declared_down_by_all_within_the_detection_time() {
    for n in [5usize, 50] {
        let mut net = mesh(3, n, 0.0, (1_000, 20_000));
        net.run_until_cond(STEP, secs(60), TestNet::converged)
            .expect("converged");
        let crash_at = net.now;
        net.crash(3);
        let bound = net.config.expected_detection_time() * 2;
        let took = net
            .run_until_cond(STEP, bound, |net| {
                net.events_about(3, crash_at)
                    .iter()
                    .filter(|s| matches!(s.event, MembershipEvent::Down { .. }))
                    .count()
                    == n - 1
            })
            .unwrap_or_else(|| panic!("n={n}: not every node saw node 3 down within {bound:?}"));
        eprintln!(
            "n={n}: crash detected by all in {took:?} (expected {:?})",
            net.config.expected_detection_time()
        );
        assert!(
            net.events_about(3, crash_at)
                .iter()
                .all(|s| !matches!(s.event, MembershipEvent::Left { .. })),
            "a crash is not a leave"
        );
        // Nobody else was declared down: no false positives on a lossless network.
        let others_down = net
            .seen
            .iter()
            .filter(
                |s| matches!(&s.event, MembershipEvent::Down { id, .. } if id.name() != "node-003"),
            )
            .count();
        assert_eq!(others_down, 0);
    }
}

#[test]
fn graceful_leave_is_reported_as_left_not_failed() {
    let mut net = mesh(4, 8, 0.0, (1_000, 5_000));
    net.run_until_cond(STEP, secs(30), TestNet::converged)
        .expect("converged");
    let at = net.now;
    net.leave(2);
    let took = net
        .run_until_cond(STEP, secs(10), |net| {
            net.events_about(2, at)
                .iter()
                .filter(|s| matches!(s.event, MembershipEvent::Left { .. }))
                .count()
                == 7
        })
        .expect("all 7 saw the leave");
    assert!(
        took <= secs(2),
        "a leave spreads by gossip, not by timeout: {took:?}"
    );
    net.run_for(secs(30));
    let about = net.events_about(2, at);
    assert!(
        about
            .iter()
            .all(|s| matches!(s.event, MembershipEvent::Left { .. })),
        "{about:?}"
    );
    assert_eq!(about.len(), 7);
}

#[test]
fn restarted_node_rejoins_with_a_higher_incarnation() {
    let mut net = mesh(5, 6, 0.0, (1_000, 5_000));
    net.run_until_cond(STEP, secs(30), TestNet::converged)
        .expect("converged");
    net.crash(1);
    net.run_for(secs(2));
    // Restart before the crash was even detected, with a higher bump.
    let at = net.now;
    net.start(1, 2, Some(0));
    net.run_for(secs(3));
    assert!(net.converged());
    let ups: Vec<_> = net
        .events_about(1, at)
        .into_iter()
        .filter_map(|s| match &s.event {
            MembershipEvent::Up { id, .. } => Some(id.bump()),
            _ => None,
        })
        .collect();
    assert_eq!(
        ups,
        vec![2; 5],
        "everyone saw the new life (bump 2) come up"
    );
    net.run_for(secs(20));
    assert!(
        net.events_about(1, at)
            .iter()
            .all(|s| !matches!(s.event, MembershipEvent::Down { .. })),
        "the old life is superseded, not reported failed"
    );

    // A restart that reuses its old bump after being declared down: foca renews it.
    net.crash(4);
    net.run_for(net.config.expected_detection_time() * 2);
    let at = net.now;
    net.start(4, 1, Some(0));
    net.run_until_cond(STEP, secs(30), TestNet::converged)
        .expect("reconverged after renewal");
    let renewed = net
        .seen
        .iter()
        .find(|s| s.node == 4 && s.at >= at && matches!(s.event, MembershipEvent::Rejoined { .. }));
    assert!(renewed.is_some(), "node 4 learnt it was down and renewed");
    assert!(net.nodes[4].as_ref().unwrap().identity().bump() >= 2);
}

#[test]
fn topology_claims_converge_within_a_few_rounds() {
    let n = 50;
    let k = 8;
    let mut net = mesh(6, n, 0.01, (5_000, 40_000));
    net.run_until_cond(STEP, secs(60), TestNet::converged)
        .expect("converged");
    let bytes_before = net.sent_bytes();
    let start = net.now;
    for i in 0..n {
        net.publish(i, ring_links(i, n, k));
    }
    let took = net
        .run_until_cond(STEP, secs(30), |net| {
            net.nodes
                .iter()
                .flatten()
                .all(|m| m.with_topology(|t| t.links().count()) == n * k)
        })
        .expect("every node holds every link");
    let rounds = took.as_millis() / net.config.gossip_period.as_millis();
    eprintln!(
        "all {n} nodes publishing at once ({} links): converged in {took:?} = {rounds} gossip rounds",
        n * k
    );
    assert!(took <= secs(10), "{took:?}");
    // Every node has the same view of one link.
    for m in net.nodes.iter().flatten() {
        let l = m.with_topology(|t| {
            t.neighbours("node-007")
                .iter()
                .find(|l| l.to == "node-010")
                .map(|l| l.rtt_us)
        });
        assert_eq!(l, Some(1_000 + ((7 * 7 + 10 * 13) % 50) * 1_000));
    }
    net.run_for(secs(10));
    let elapsed = net.now.saturating_since(start).as_secs_f64();
    let per_node = (net.sent_bytes() - bytes_before) as f64 / n as f64 / elapsed;
    eprintln!("gossip traffic over the burst and 10 s after: {per_node:.0} bytes/s per node");
    assert!(
        per_node < 23_000.0,
        "within the documented bound: {per_node}"
    );

    // One node's link changes: the new claim reaches everyone in a few gossip rounds.
    let mut links = ring_links(7, n, k);
    links[0].rtt_us = 99_000;
    net.publish(7, links);
    let took = net
        .run_until_cond(Duration::from_millis(20), secs(10), |net| {
            net.nodes.iter().flatten().all(|m| {
                m.with_topology(|t| t.neighbours("node-007").iter().any(|l| l.rtt_us == 99_000))
            })
        })
        .expect("the change reached everyone");
    let rounds = took.as_millis() / net.config.gossip_period.as_millis();
    eprintln!("one changed claim reached all {n} nodes in {took:?} = {rounds} gossip rounds");
    assert!(rounds <= 8, "{took:?}");
    let quiet_start = net.sent_bytes();
    net.run_for(secs(30));
    let steady = (net.sent_bytes() - quiet_start) as f64 / n as f64 / 30.0;
    eprintln!("steady-state membership traffic: {steady:.0} bytes/s per node");
}

#[test]
fn real_certificates_and_ecdsa_signatures_end_to_end() {
    let n = 5;
    let mut net = TestNet::new(9, n, MembershipConfig::lan(n as u32)).with_mesh_ca();
    net.start(0, 1, None);
    for i in 1..n {
        net.start(i, 1, Some(0));
    }
    net.run_until_cond(STEP, secs(10), TestNet::converged)
        .expect("converged");
    for i in 0..n {
        net.publish(i, ring_links(i, n, 2));
    }
    let took = net
        .run_until_cond(STEP, secs(10), |net| {
            net.nodes
                .iter()
                .flatten()
                .all(|m| m.with_topology(|t| t.links().count()) == n * 2)
        })
        .expect("signed claims and certificates crossed the mesh");
    eprintln!("5 nodes with ECDSA-signed claims converged in {took:?}");
    for m in net.nodes.iter().flatten() {
        let c = m.with_topology(|t| t.counters());
        assert_eq!((c.refused, c.malformed), (0, 0), "{c:?}");
        assert_eq!(
            m.with_topology(|t| t.sync_items().len()),
            2 * n,
            "a cert and a part each"
        );
    }
}

#[test]
fn forged_and_spoofed_input_changes_nothing() {
    let mut net = mesh(7, 3, 0.0, (1_000, 5_000));
    net.run_until_cond(STEP, secs(30), TestNet::converged)
        .expect("converged");
    net.publish(1, ring_links(1, 3, 2));
    net.run_for(secs(2));
    // node-002 signs a claim that says node-001 has a 1 µs link to everyone.
    let forged_body = ClaimBody {
        origin: "node-001".into(),
        version: ClaimVersion { epoch: 9, seq: 9 },
        part: 0,
        parts: 1,
        node: None,
        probe_key: None,
        links: vec![],
    };
    let mut forged_body = forged_body;
    forged_body.node = net.nodes[1]
        .as_ref()
        .unwrap()
        .with_topology(|t| t.node("node-001").and_then(|n| n.attrs.cloned()));
    let bytes = forged_body.encode();
    let sig = SimKeys::new(7)
        .signer("node-002")
        .sign(&signed_message(&bytes))
        .unwrap();
    let forged = claim_item(&sig, &bytes);
    let now = net.now;
    let before = net.nodes[0]
        .as_ref()
        .unwrap()
        .with_topology(|t| t.counters());
    net.with(0, |m| m.apply_sync_item(now, &forged));
    let m0 = net.nodes[0].as_ref().unwrap();
    assert_eq!(
        m0.with_topology(|t| t.counters()).refused,
        before.refused + 1
    );
    assert_eq!(
        m0.with_topology(|t| t.node("node-001").map(|n| n.version.epoch)),
        Some(1),
        "the genuine claim (epoch 1) stands"
    );

    // A datagram from node-002's connection that claims to come from node-001.
    let datagram = {
        let m1 = net.nodes[1].as_mut().unwrap();
        m1.publish(now, forged_body.node.clone().unwrap(), vec![])
            .unwrap();
        let mut last = None;
        while let Some(t) = m1.poll_transmit() {
            last = Some(t.bytes);
        }
        while m1.poll_timer().is_some() {}
        last.expect("publishing sends a broadcast")
    };
    let m0 = net.nodes[0].as_mut().unwrap();
    let err = m0.handle_data(now, "node-002", &datagram).unwrap_err();
    assert!(
        matches!(err, MembershipError::SpoofedSender { .. }),
        "{err}"
    );
    assert_eq!(m0.counters().spoofed, 1);
    assert_eq!(
        m0.handle_data(now, "node-001", &vec![0; MAX_PACKET_SIZE + 1]),
        Err(MembershipError::TooLarge(MAX_PACKET_SIZE + 1))
    );
    assert_eq!(
        m0.handle_data(now, "node-001", &[0xff; 7]),
        Err(MembershipError::Decode)
    );
}

#[test]
fn member_table_is_bounded() {
    let mut config = MembershipConfig::lan(6);
    config.max_members = 3;
    let mut net = TestNet::new(8, 6, config);
    net.start(0, 1, None);
    for i in 1..6 {
        net.start(i, 1, Some(0));
    }
    net.run_for(secs(20));
    for m in net.nodes.iter().flatten() {
        assert!(m.members().count() <= 3, "{}", m.identity());
    }
    let refused: u64 = net
        .nodes
        .iter()
        .flatten()
        .map(|m| m.counters().table_full)
        .sum();
    assert!(refused > 0);
}

#[test]
fn same_seed_same_trace() {
    let run = |seed| {
        let mut net = mesh(seed, 10, 0.02, (1_000, 30_000));
        net.run_for(secs(5));
        net.crash(4);
        for i in 0..10 {
            net.publish(i, ring_links(i, 10, 3));
        }
        net.run_for(secs(20));
        (net.trace, net.delivered)
    };
    let (a, da) = run(11);
    let (b, db) = run(11);
    assert_eq!(da, db);
    assert_eq!(a, b);
    assert!(a.lines().count() > 50, "{a}");
    let (c, _) = run(12);
    assert_ne!(a, c);
}
