//! `[mesh]` parsing and validation: the reach book, timings, seeds, and edge routes through
//! mesh members that are not in `[[peers]]`.

use super::tests::{base, field_after};
use super::{Config, MeshSection, Reach};

fn reach(peer: &str, addr: &str) -> Reach {
    Reach {
        peer: peer.into(),
        data_addr: addr.parse().unwrap(),
    }
}

#[test]
fn reach_book_parses_from_toml() {
    let c = Config::from_toml(
        r#"
[mesh]
seeds = ["192.0.2.1:4433"]
probe_interval = "250ms"

[[mesh.reach]]
peer = "relay-sgp"
data_addr = "10.0.0.5:4434"

[[mesh.reach]]
peer = "relay-tyo"
data_addr = "[fd00::7]:4434"
"#,
    )
    .unwrap();
    let m = c.mesh.unwrap();
    assert_eq!(m.probe_interval, std::time::Duration::from_millis(250));
    assert_eq!(
        m.reach,
        vec![
            reach("relay-sgp", "10.0.0.5:4434"),
            reach("relay-tyo", "[fd00::7]:4434")
        ]
    );
    let err =
        Config::from_toml("[[mesh.reach]]\npeer = \"x\"\ndata = \"10.0.0.5:1\"\n").unwrap_err();
    assert_eq!(err.field.as_deref(), Some("mesh.reach[0].data"), "{err}");
}

fn with_mesh(change: impl FnOnce(&mut MeshSection)) -> impl FnOnce(&mut Config) {
    move |c: &mut Config| {
        let mut m = MeshSection::default();
        change(&mut m);
        c.mesh = Some(m);
    }
}

#[test]
fn mesh_rules_name_their_fields() {
    let (mut c, _tls) = base();
    with_mesh(|m| m.reach = vec![reach("relay-sgp", "10.0.0.5:4434")])(&mut c);
    assert_eq!(c.validate(), Ok(()));

    let own = |m: &mut MeshSection| m.reach = vec![reach("bkk-home", "10.0.0.5:4434")];
    assert_eq!(field_after(with_mesh(own)), "mesh.reach[0].peer");
    let twice = |m: &mut MeshSection| {
        m.reach = vec![reach("a", "10.0.0.5:4434"), reach("a", "10.0.0.6:4434")]
    };
    assert_eq!(field_after(with_mesh(twice)), "mesh.reach[1].peer");
    let bad_name = |m: &mut MeshSection| m.reach = vec![reach("not a name", "10.0.0.5:4434")];
    assert_eq!(field_after(with_mesh(bad_name)), "mesh.reach[0].peer");
    let wildcard = |m: &mut MeshSection| m.reach = vec![reach("a", "0.0.0.0:4434")];
    assert_eq!(field_after(with_mesh(wildcard)), "mesh.reach[0].data_addr");
    let port0 = |m: &mut MeshSection| m.reach = vec![reach("a", "10.0.0.5:0")];
    assert_eq!(field_after(with_mesh(port0)), "mesh.reach[0].data_addr");
    let fast = |m: &mut MeshSection| m.probe_interval = std::time::Duration::from_millis(1);
    assert_eq!(field_after(with_mesh(fast)), "mesh.probe_interval");
    let seed = |m: &mut MeshSection| m.seeds = vec!["srv:".into()];
    assert_eq!(field_after(with_mesh(seed)), "mesh.seeds[0]");
    let (mut c, _tls) = base();
    with_mesh(|_| {})(&mut c);
    c.tls.cert = None;
    c.tls.key = None;
    c.node.roles = vec![lightspeed_mesh::Role::Edge];
    assert_eq!(c.validate().unwrap_err().field, "tls.cert");
}

#[test]
fn with_a_mesh_the_edge_may_name_members_that_are_not_in_peers() {
    let (mut c, _tls) = base();
    c.edge.via = vec!["relay-found-by-gossip".into()];
    assert_eq!(c.validate().unwrap_err().field, "edge.via[0]");
    with_mesh(|_| {})(&mut c);
    assert_eq!(c.validate(), Ok(()));
    c.edge.proxy = Some("proxy-found-by-gossip".into());
    assert_eq!(c.validate(), Ok(()));
    c.edge.via = vec!["Not_A_Name".into()];
    assert_eq!(c.validate().unwrap_err().field, "edge.via[0]");
}

#[test]
fn automatic_routing_rules_name_their_fields() {
    use super::{RouteMode, SelectorName};
    let auto = |c: &mut Config| {
        with_mesh(|_| {})(c);
        c.edge.route = RouteMode::Auto;
        c.edge.via.clear();
    };
    let (mut c, _tls) = base();
    auto(&mut c);
    assert_eq!(c.validate(), Ok(()));
    let doc = "[edge.policy]\nmin_dwell = \"1s\"\nswitch_margin = \"20ms\"\n";
    let parsed = Config::from_toml(doc).unwrap();
    assert_eq!(
        parsed.edge.policy.min_dwell,
        Some(std::time::Duration::from_secs(1))
    );
    assert_eq!(
        parsed.edge.policy.switch_margin,
        Some(std::time::Duration::from_millis(20))
    );
    assert_eq!(parsed.edge.policy.veto, None);

    assert_eq!(
        field_after(|c| c.edge.route = RouteMode::Auto),
        "edge.route",
        "auto needs [mesh]"
    );
    assert_eq!(
        field_after(|c| {
            auto(c);
            c.edge.via = vec!["sgp".into()];
        }),
        "edge.via"
    );
    assert_eq!(
        field_after(|c| {
            auto(c);
            c.edge.backup_via = Some(Vec::new());
        }),
        "edge.backup_via"
    );
    assert_eq!(
        field_after(|c| {
            auto(c);
            c.edge.ml_model = Some("m.json".into());
        }),
        "edge.ml_model"
    );
    assert_eq!(
        field_after(|c| c.edge.selector = SelectorName::Ml),
        "edge.selector",
        "selectors need auto"
    );
    assert_eq!(
        field_after(|c| {
            auto(c);
            c.edge.policy.min_dwell = Some(std::time::Duration::from_secs(601));
        }),
        "edge.policy.min_dwell"
    );
    assert_eq!(
        field_after(|c| {
            auto(c);
            c.edge.policy.keep_margin = Some(std::time::Duration::from_millis(11));
        }),
        "edge.policy.keep_margin"
    );
    let (mut c, _tls) = base();
    auto(&mut c);
    c.edge.selector = SelectorName::Ml;
    c.edge.ml_model = Some("m.json".into());
    assert_eq!(c.validate(), Ok(()));
}
