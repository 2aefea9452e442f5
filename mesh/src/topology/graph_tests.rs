//! Tests of the graph store: versions, signatures, parking, bounds, ageing, sync.

use std::time::Duration;

use lightspeed_protocol::Micros;

use super::claim::{ClaimVersion, LinkClaim, NodeAttrs};
use super::sim_keys::{SimKeys, SimSigner};
use super::*;
use crate::Role;

const KEYS: SimKeys = SimKeys::new(42);

fn cfg() -> TopologyConfig {
    TopologyConfig {
        max_nodes: 3,
        max_links_per_node: 28,
        max_pending: 2,
        stale_after: Duration::from_secs(90),
        expire_after: Duration::from_secs(300),
    }
}

fn topo(name: &str, config: TopologyConfig) -> (Topology, SimSigner) {
    (
        Topology::new(config, name, Box::new(KEYS.keyring(16))),
        KEYS.signer(name),
    )
}

fn attrs(load_pct: u8) -> NodeAttrs {
    NodeAttrs {
        roles: vec![Role::Relay],
        region: "sg".into(),
        load_pct,
        control_addr: "192.0.2.1:4433".parse().unwrap(),
        data_addr: Some("192.0.2.1:4434".parse().unwrap()),
    }
}

fn links(n: usize, rtt_us: u32) -> Vec<LinkClaim> {
    (0..n)
        .map(|i| LinkClaim {
            to: format!("peer-with-a-long-name-{i:02}"),
            rtt_us,
            jitter_us: 100,
            loss_ppm: 0,
            age_ms: 500,
        })
        .collect()
}

fn s(secs: u64) -> Micros {
    Micros::from_millis(secs * 1_000)
}

/// Publishes `name`'s state from its own topology and returns the items.
fn publish(name: &str, load: u8, n_links: usize, epoch: u32) -> Vec<Vec<u8>> {
    let (mut own, signer) = topo(name, TopologyConfig::default());
    for _ in 0..=load {
        // Bump the sequence so later calls with a higher `load` carry newer versions.
        own.publish_local(s(0), &signer, epoch, attrs(load), links(n_links, 1_000))
            .unwrap();
    }
    own.publish_local(s(0), &signer, epoch, attrs(load), links(n_links, 1_000))
        .unwrap()
}

fn apply_all(t: &mut Topology, now: Micros, items: &[Vec<u8>]) -> Vec<Result<Applied, ClaimError>> {
    items.iter().map(|i| t.apply_item(now, i)).collect()
}

#[test]
fn newer_versions_replace_older_ones_and_duplicates_are_known() {
    let (mut t, _) = topo("me", cfg());
    let old = publish("a", 1, 2, 7);
    let new = publish("a", 2, 2, 7);
    let results = apply_all(&mut t, s(1), &new);
    assert!(
        matches!(
            results[0],
            Ok(Applied {
                outcome: Outcome::New,
                ..
            })
        ),
        "cert"
    );
    assert_eq!(results[1].as_ref().unwrap().outcome, Outcome::New);
    assert_eq!(t.apply_item(s(1), &new[1]).unwrap().outcome, Outcome::Known);
    assert_eq!(t.apply_item(s(1), &old[1]).unwrap().outcome, Outcome::Stale);
    let a = t.node("a").unwrap();
    assert_eq!(a.attrs.unwrap().load_pct, 2);
    assert_eq!(a.version, ClaimVersion { epoch: 7, seq: 3 });
    assert_eq!(t.neighbours("a").len(), 2);
    // A restart (higher epoch) supersedes any sequence number of the previous life.
    let restarted = publish("a", 0, 1, 8);
    apply_all(&mut t, s(2), &restarted);
    assert_eq!(
        t.node("a").unwrap().version,
        ClaimVersion { epoch: 8, seq: 1 }
    );
    assert_eq!(t.neighbours("a").len(), 1);
}

#[test]
fn claims_signed_by_another_node_are_refused() {
    let (mut t, _) = topo("me", cfg());
    let genuine = publish("a", 1, 2, 1);
    t.apply_item(s(0), &genuine[0]).unwrap();
    t.apply_item(s(0), &publish("mallory", 1, 0, 1)[0]).unwrap();
    // mallory re-signs a's body with its own key.
    let super::claim::Item::Claim { body, .. } = super::claim::Item::parse(&genuine[1]).unwrap()
    else {
        panic!("not a claim")
    };
    let forged_sig = KEYS
        .signer("mallory")
        .sign(&super::claim::signed_message(body))
        .unwrap();
    let forged = super::claim::claim_item(&forged_sig, body);
    assert!(matches!(
        t.apply_item(s(0), &forged),
        Err(ClaimError::Auth(AuthError::BadSignature(origin))) if origin == "a"
    ));
    // A tampered body fails under the genuine signature too.
    let mut tampered = genuine[1].clone();
    if let Some(last) = tampered.last_mut() {
        *last ^= 1;
    }
    assert!(t.apply_item(s(0), &tampered).is_err());
    assert!(t.node("a").is_none());
    // The flipped last byte is the last link's `via` tag: the body no longer decodes.
    assert_eq!((t.counters().refused, t.counters().malformed), (1, 1));
    assert!(t.apply_item(s(0), &genuine[1]).is_ok());
}

#[test]
fn claims_wait_for_their_certificate() {
    let (mut t, _) = topo("me", cfg());
    let a = publish("a", 1, 2, 1);
    let b = publish("b", 1, 2, 1);
    let c = publish("c", 1, 2, 1);
    assert_eq!(
        t.apply_item(s(0), &a[1]),
        Err(ClaimError::Parked("a".into()))
    );
    assert_eq!(
        t.apply_item(s(0), &b[1]),
        Err(ClaimError::Parked("b".into()))
    );
    assert_eq!(t.apply_item(s(0), &c[1]), Err(ClaimError::PendingFull));
    assert_eq!(t.pending_len(), 2);
    assert!(t.node("a").is_none());
    t.apply_item(s(1), &a[0]).unwrap();
    assert_eq!(t.neighbours("a").len(), 2);
    assert_eq!(t.take_unparked(), vec![a[1].clone()]);
    assert!(t.take_unparked().is_empty());
    // Parked parts age out.
    t.expire(s(400));
    assert_eq!(t.pending_len(), 0);
}

#[test]
fn node_bound_evicts_only_stale_nodes_down_first() {
    let (mut t, _) = topo("me", cfg());
    for (i, name) in ["a", "b", "c"].into_iter().enumerate() {
        apply_all(&mut t, s(1_000 + i as u64), &publish(name, 1, 1, 1));
    }
    let d = publish("d", 1, 1, 1);
    t.apply_item(s(1_010), &d[0]).unwrap();
    assert_eq!(t.apply_item(s(1_010), &d[1]), Err(ClaimError::TableFull));
    t.mark_down("b");
    assert_eq!(t.apply_item(s(1_100), &d[1]).unwrap().outcome, Outcome::New);
    let names: Vec<_> = t.nodes().map(|n| n.name.to_owned()).collect();
    assert_eq!(
        names,
        ["a", "c", "d"],
        "b was down, so it went before the older a"
    );
    assert_eq!(t.counters().evicted, 1);
}

#[test]
fn link_bound_and_part_turnover() {
    let (mut t, _) = topo("me", cfg());
    // 30 links > 28 allowed: spread over two parts, the second part is refused.
    let big = publish("a", 1, 30, 1);
    assert_eq!(big.len(), 3, "cert + 2 parts");
    let results = apply_all(&mut t, s(0), &big);
    assert!(results[1].is_ok());
    assert_eq!(results[2], Err(ClaimError::TooManyLinks("a".into())));
    assert!(t.neighbours("a").len() <= 28);
    // A newer, smaller publication replaces both parts.
    let small = publish("a", 2, 3, 1);
    apply_all(&mut t, s(1), &small);
    assert_eq!(t.neighbours("a").len(), 3);
    // Parts of the older, two-part publication are now stale.
    assert_eq!(t.apply_item(s(1), &big[2]).unwrap().outcome, Outcome::Stale);
}

#[test]
fn local_publication_and_full_sync() {
    let (mut t, signer) = topo("me", TopologyConfig::default());
    let items = t
        .publish_local(s(0), &signer, 3, attrs(9), links(40, 20_000))
        .unwrap();
    assert_eq!(items.len(), 3, "cert + two parts");
    assert_eq!(t.neighbours("me").len(), 40);
    apply_all(&mut t, s(0), &publish("a", 1, 5, 1));
    let (mut fresh, _) = topo("newcomer", TopologyConfig::default());
    let sync = t.sync_items();
    assert_eq!(sync.len(), 2 + 3, "two certs, three parts");
    for r in apply_all(&mut fresh, s(5), &sync) {
        assert_eq!(r.unwrap().outcome, Outcome::New);
    }
    assert_eq!(fresh.links().count(), 45);
    let snap = fresh.snapshot(s(6));
    assert_eq!(snap.nodes.len(), 2);
    assert_eq!(snap.links.len(), 45);
    let l = &snap.links[0];
    assert_eq!(
        (l.from.as_str(), l.rtt_us, l.age_ms, l.stale),
        ("a", 1_000, 1_500, false)
    );
    // Re-publishing bumps the version within the epoch.
    t.publish_local(s(1), &signer, 3, attrs(9), vec![]).unwrap();
    assert_eq!(
        t.node("me").unwrap().version,
        ClaimVersion { epoch: 3, seq: 1 }
    );
    assert!(t.neighbours("me").is_empty());
}

#[test]
fn down_nodes_leave_the_link_set_and_silent_ones_expire() {
    let (mut t, signer) = topo("me", cfg());
    t.publish_local(s(0), &signer, 1, attrs(0), links(2, 5))
        .unwrap();
    apply_all(&mut t, s(0), &publish("a", 1, 2, 1));
    assert_eq!(t.links().count(), 4);
    t.mark_down("a");
    assert_eq!(t.links().count(), 2);
    assert!(t.node("a").unwrap().down);
    t.mark_up("a");
    assert_eq!(t.links().count(), 4);
    let stale_after = t.config().stale_after;
    assert!(t.links().all(|l| !l.is_stale(s(60), stale_after)));
    assert!(t.links().all(|l| l.is_stale(s(100), stale_after)));
    t.expire(s(299));
    assert_eq!(t.len(), 2);
    t.expire(s(300));
    assert_eq!(t.len(), 1, "our own entry stays");
    assert_eq!(t.counters().expired, 1);
}

#[test]
fn garbage_never_panics_and_is_counted() {
    let (mut t, _) = topo("me", cfg());
    let genuine = publish("a", 1, 3, 1);
    for item in &genuine {
        for cut in 0..item.len() {
            let _ = t.apply_item(s(0), &item[..cut]);
        }
    }
    for b in 0..=255u8 {
        let _ = t.apply_item(s(0), &[1, b, b, b]);
        let _ = t.apply_item(s(0), &[2, b]);
    }
    assert!(t.counters().malformed > 0);
    assert!(t.counters().refused > 0);
}
