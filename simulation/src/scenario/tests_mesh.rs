//! Mesh mode's format: node lifecycles on the timeline, late joins, membership expectations
//! and their checks. No sockets: runs are in `tests/scenarios.rs`.

use super::members::View;
use super::model::{Action, Bound, Metric};
use super::report::{self, Snapshot};
use super::*;

const MESH: &str = r#"
[scenario]
name = "m"
duration_s = 10
mesh = true

[[node]]
name = "edge"
roles = ["edge"]

[[node]]
name = "proxy"
roles = ["proxy"]

[[node]]
name = "r1"
roles = ["relay"]

[[node]]
name = "r2"
roles = ["relay"]

[[link]]
a = "edge"
b = "proxy"
delay_ms = 5

[[link]]
a = "r1"
b = "proxy"

[game]
profile = "cs2"
server = "proxy"
edge = "edge"
"#;

fn parse(extra: &str) -> Result<Scenario, ScenarioError> {
    Scenario::from_toml(&format!("{MESH}{extra}"))
}

fn err(extra: &str) -> String {
    match parse(extra) {
        Ok(_) => panic!("accepted:\n{extra}"),
        Err(e) => e.to_string(),
    }
}

fn event(at: f64, action: &str, node: &str) -> String {
    format!("[[event]]\nat_s = {at}\naction = \"{action}\"\nnode = \"{node}\"\n")
}

#[test]
fn node_lifecycles_parse_in_time_order_and_crash_is_kill() {
    let text = [
        event(1.0, "join", "r2"),
        event(3.0, "crash", "r1"),
        event(5.0, "leave", "r2"),
        event(6.0, "restart", "r1"),
        event(7.0, "restart", "r2"),
    ]
    .concat();
    let sc = parse(&text).unwrap();
    assert!(sc.mesh);
    assert!(sc.joins_late("r2") && !sc.joins_late("r1"));
    let actions: Vec<String> = sc.events.iter().map(|e| e.action.to_string()).collect();
    assert_eq!(
        actions,
        ["join r2", "kill r1", "leave r2", "restart r1", "restart r2"]
    );
    assert_eq!(sc.phases.len(), 6);
}

#[test]
fn impossible_lifecycles_are_refused_naming_the_event() {
    let e = err(&[event(1.0, "join", "r2"), event(2.0, "join", "r2")].concat());
    assert!(
        e.starts_with("event[1].node:") && e.contains("joins only once"),
        "{e}"
    );
    let e = err(&[event(1.0, "leave", "r2"), event(2.0, "join", "r2")].concat());
    assert!(
        e.starts_with("event[0].node:") && e.contains("not joined yet"),
        "{e}"
    );
    let e = err(&event(1.0, "restart", "r1"));
    assert!(e.contains("restart follows a kill or a leave"), "{e}");
    let e = err(&[event(1.0, "leave", "r1"), event(2.0, "kill", "r1")].concat());
    assert!(
        e.starts_with("event[1].node:") && e.contains("already killed or gone"),
        "{e}"
    );
    // The game's nodes exist from the start; without mesh nobody could find a joiner.
    let e = err(&event(1.0, "join", "proxy"));
    assert!(e.contains("carries the game"), "{e}");
    let plain = format!(
        "{}{}",
        MESH.replace("mesh = true\n", ""),
        event(1.0, "join", "r2")
    );
    let e = Scenario::from_toml(&plain).unwrap_err().to_string();
    assert!(e.contains("needs mesh mode"), "{e}");
}

#[test]
fn membership_expectations_are_validated() {
    let sc =
        parse("[[expect]]\nmembers_alive = 4\nmembers_down = 0\nobservers = [\"edge\", \"r1\"]\n")
            .unwrap();
    assert_eq!(sc.expects.len(), 2);
    assert_eq!(sc.expects[0].metric, Metric::MembersAlive);
    assert_eq!(sc.expects[0].bound, Bound::Exact(4.0));
    assert_eq!(sc.expects[1].observers, ["edge", "r1"]);
    let e = err("[[expect]]\nmembers_alive = 4\nobservers = [\"mars\"]\n");
    assert!(e.starts_with("expect[0].observers[0]:"), "{e}");
    let e = err("[[expect]]\nresidual_loss_max = 0\nobservers = [\"edge\"]\n");
    assert!(e.starts_with("expect[0].observers:"), "{e}");
    // Detection needs a phase opened by a node event.
    let e = err("[[expect]]\ndetect_max_ms = 3000\n");
    assert!(e.starts_with("expect[0].detect_max_ms:"), "{e}");
    let sc = parse(&format!(
        "{}phase = \"dead\"\n[[expect]]\nphase = \"dead\"\ndetect_max_ms = 3000\n",
        event(2.0, "kill", "r1")
    ))
    .unwrap();
    assert_eq!(sc.expects[0].metric, Metric::Detect);
}

fn counts(node: &str, alive: u32, down: u32) -> MemberCounts {
    MemberCounts {
        node: node.into(),
        alive,
        suspect: 0,
        down,
        left: 0,
    }
}

#[test]
fn member_counts_must_hold_for_every_observer_and_name_the_outliers() {
    let sc = parse(&format!(
        "{}phase = \"dead\"\n[[expect]]\nphase = \"dead\"\nmembers_alive = 3\nmembers_down = 1\ndetect_max_ms = 2500\n\
         [[expect]]\nphase = \"dead\"\nmembers_seen_min = 3\nobservers = [\"edge\", \"r1\"]\n",
        event(2.0, "kill", "r1")
    ))
    .unwrap();
    let snap = Snapshot::default();
    let mut dead =
        report::phase_stats(&sc, "dead", (2_000_000, 10_000_000), &[], &[], &snap, &snap);
    dead.members = vec![
        counts("edge", 3, 1),
        counts("proxy", 3, 1),
        counts("r2", 4, 0),
    ];
    dead.detect_ms = Some(2_100.0);
    let overall = dead.clone();
    let outcomes: Vec<String> = sc
        .expects
        .iter()
        .map(|e| report::check(e, std::slice::from_ref(&dead), &overall).to_string())
        .collect();
    assert_eq!(
        outcomes,
        [
            "FAILED expect[0] members_alive = 3 (phase \"dead\"): measured edge 3, proxy 3, r2 4",
            "FAILED expect[0] members_down = 1 (phase \"dead\"): measured edge 1, proxy 1, r2 0",
            "ok     expect[0] detect_max_ms = 2500 (phase \"dead\"): measured 2100 ms",
            "FAILED expect[1] members_seen_min = 3 (phase \"dead\"): measured edge 3, r1 not running",
        ]
    );
    dead.detect_ms = None;
    let e = &sc.expects[2];
    let o = report::check(e, std::slice::from_ref(&dead), &overall);
    assert!(!o.passed && o.measured.starts_with("never"), "{o}");
    assert!(matches!(sc.events[0].action, Action::Kill(_)));
}

#[test]
fn a_view_counts_itself_alive() {
    let v = View {
        node: "a".into(),
        own_bump: 3,
        rows: Vec::new(),
    };
    assert_eq!(v.counts(), counts("a", 1, 0));
}
