//! Scenario runs with real nodes on loopback, through the runner library.
//!
//! Runs are serialized (one at a time) so they do not disturb each other's timing on small
//! machines. Every run is bounded by the runner itself: its duration plus 60 s of slack, after
//! which it fails with `RunError::Timeout`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use lightspeed_sim::scenario::{self, PhaseStats, Report, RunOptions, Scenario};

static SERIAL: Mutex<()> = Mutex::new(());

fn run(sc: &Scenario) -> Report {
    let _one_at_a_time = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let report = scenario::run_blocking(sc, &RunOptions::default())
        .unwrap_or_else(|e| panic!("scenario {} did not run: {e}", sc.name));
    println!("{}", scenario::render_table(&report));
    report
}

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/scenarios")
}

fn phase<'a>(r: &'a Report, name: &str) -> &'a PhaseStats {
    r.phases
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no phase {name}"))
}

#[test]
fn every_shipped_scenario_passes() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(scenarios_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 3, "{files:?}");
    let mut failed = Vec::new();
    for f in &files {
        let sc = Scenario::load(f).unwrap();
        let r = run(&sc);
        failed.extend(r.failures().map(|o| format!("{}: {o}", sc.name)));
        // Before any event the game takes the configured path (automatic routing: the
        // path its measurements choose, checked below).
        if !sc.game.auto_route {
            assert_eq!(r.phases[0].path, sc.game.path(), "{}", sc.name);
        }
        let routed = |want: &[&str]| {
            assert_eq!(r.overall.path, want, "{}", sc.name);
            assert_eq!(r.overall.path_switches, 0, "{}", sc.name);
        };
        match sc.name.as_str() {
            // Through Singapore 209 ms against direct 206 ms: the relay does not pay.
            "bkk-sgp-la-routed" => routed(&["edge-bkk", "proxy-la"]),
            // Through Singapore 181 ms: saves ~25 ms ≥ the 10 ms select margin.
            "bkk-sgp-la-routed-relay" => routed(&["edge-bkk", "relay-sgp", "proxy-la"]),
            // Costs crossing by 6 ms every 2 s: within the 15 ms switch margin.
            "flap-bait" => routed(&["edge", "relay-a", "proxy"]),
            "mesh-churn" => {
                // A crash is only noticed through missed probes: never before the 1 s suspicion.
                let crashed = phase(&r, "crashed");
                assert!(
                    crashed.detect_ms.is_some_and(|d| d >= 1_000.0),
                    "{:?}",
                    crashed.detect_ms
                );
            }
            _ => {}
        }
        if sc.name == "relay-crash-multipath" {
            // Every packet went both ways and the later copies were dropped, not delivered.
            let start = &r.phases[0];
            assert!(start.duplicate_overhead > 0.9, "{start:?}");
            assert!(
                start.deduplicated * 10 > start.duplicates_sent * 9,
                "{start:?}"
            );
        }
    }
    assert!(
        failed.is_empty(),
        "failed expectations:\n{}",
        failed.join("\n")
    );
}

#[test]
fn the_proxy_measures_its_server_leg_from_the_game_traffic() {
    // two-node-basic with a 3 ms server link: the echo server answers every packet at once,
    // so the proxy's leg is 2 × 3 ms plus timer rounding (each delayed crossing rounds up to
    // tokio's 1 ms tick). The leg is shorter than cs2's 15.6 ms packet interval, the range
    // where the estimate holds (see mesh `server_leg.rs`: a longer leg under continuous
    // traffic is measured modulo the interval; 10 ms here read 6.7 ms instead of ~22). Its
    // RTT expectations no longer hold (the leg adds to them); only the leg is checked.
    let text = std::fs::read_to_string(scenarios_dir().join("two-node-basic.toml")).unwrap();
    let old = "server_link = { delay_ms = 0 }";
    assert!(text.contains(old));
    let sc = Scenario::from_toml(&text.replace(old, "server_link = { delay_ms = 3 }")).unwrap();
    let r = run(&sc);
    let leg = r
        .overall
        .server_rtt_ms
        .expect("the proxy measured its server leg");
    println!("server leg: {leg:.2} ms");
    assert!((6.0..12.0).contains(&leg), "{leg}");
}

#[test]
fn without_fec_the_lossy_scenario_fails_and_names_the_expectation() {
    let text = std::fs::read_to_string(scenarios_dir().join("lossy-last-mile.toml")).unwrap();
    assert!(text.contains("fec = \"auto\""));
    let sc = Scenario::from_toml(&text.replace("fec = \"auto\"", "fec = \"off\"")).unwrap();
    let r = run(&sc);
    assert!(!r.passed);
    let failures: Vec<String> = r.failures().map(ToString::to_string).collect();
    assert!(
        failures
            .iter()
            .any(|f| f.starts_with("FAILED expect[0] residual_loss_max = 0.001: measured 0.")),
        "{failures:?}"
    );
    // 5 % loss each way on one leg: roughly one game packet in ten loses its echo.
    assert!(
        r.overall.residual_loss > 0.03,
        "{}",
        r.overall.residual_loss
    );
    assert_eq!(r.overall.fec_recovered, 0);
}

#[test]
fn without_its_standby_the_cross_path_scenario_keeps_parity_with_the_data_and_says_so() {
    let text = std::fs::read_to_string(scenarios_dir().join("cross-path-parity.toml")).unwrap();
    assert!(text.contains("backup_route = []\n"));
    let sc = Scenario::from_toml(&text.replace("backup_route = []\n", "")).unwrap();
    let r = run(&sc);
    let failures: Vec<String> = r.failures().map(ToString::to_string).collect();
    assert!(
        failures.iter().any(|f| f
            == "FAILED expect[1] cross_parity_min = 0.9 (phase \"cross-path\"): measured 0.0000"),
        "{failures:?}"
    );
    // The loss is the same and FEC still repairs it, with the data (the sliding code).
    let cross = phase(&r, "cross-path");
    assert_eq!(cross.cross_parity, 0.0);
    assert!(cross.fec_recovered > 50, "{cross:?}");
    assert!(cross.fec_overhead > 0.9, "{cross:?}");
}

const TIMELINE: &str = r#"
[scenario]
name = "timeline"
duration_s = 9
first_phase = "clean"

[[node]]
name = "edge"
roles = ["edge"]

[[node]]
name = "proxy"
roles = ["proxy"]

[[link]]
a = "edge"
b = "proxy"
delay_ms = 5

[game]
profile = "cs2"
server = "proxy"
edge = "edge"

[[event]]
at_s = 2
action = "degrade"
link = ["edge", "proxy"]
delay_ms = 45
phase = "slow"

[[event]]
at_s = 4
action = "restore"
link = ["proxy", "edge"]
phase = "normal"

[[event]]
at_s = 6
action = "partition"
link = ["edge", "proxy"]
phase = "cut"

[[event]]
at_s = 7
action = "heal"
node = "proxy"
phase = "healed"

[[expect]]
phase = "cut"
failover_max_ms = 300
"#;

#[test]
fn timeline_events_shape_their_phases() {
    let r = run(&Scenario::from_toml(TIMELINE).unwrap());
    let (clean, slow, normal, cut, healed) = (
        phase(&r, "clean"),
        phase(&r, "slow"),
        phase(&r, "normal"),
        phase(&r, "cut"),
        phase(&r, "healed"),
    );
    assert_eq!(clean.residual_loss, 0.0);
    assert!(clean.rtt_ms.p50 >= 10.0, "{}", clean.rtt_ms.p50);
    // 40 ms more each way while degraded, back after the restore.
    assert!(
        slow.rtt_ms.p50 >= clean.rtt_ms.p50 + 75.0,
        "{}",
        slow.rtt_ms.p50
    );
    assert!(
        normal.rtt_ms.p50 < clean.rtt_ms.p50 + 5.0,
        "{}",
        normal.rtt_ms.p50
    );
    // Partitioned for a second: most of what is sent then is lost, and the gap shows it. The
    // edge declares the path dead after three silent keepalives, sets up a fresh session and
    // holds the game's packets while it binds; after the heal it sends only those held for
    // at most 250 ms (MAX_PENDING_AGE), so a few of the cut's last packets arrive, late but
    // never stale.
    assert!(cut.residual_loss > 0.7, "{}", cut.residual_loss);
    assert!(cut.max_gap_ms > 700.0, "{}", cut.max_gap_ms);
    assert!(
        cut.rtt_ms.max < 400.0,
        "held packets are never stale: {}",
        cut.rtt_ms.max
    );
    assert!(cut.path.is_empty(), "{:?}", cut.path);
    assert_eq!(healed.residual_loss, 0.0);
    assert_eq!(healed.path, ["edge", "proxy"]);
    // The 300 ms failover bound cannot hold over a one-second cut with no other path.
    let f: Vec<String> = r.failures().map(ToString::to_string).collect();
    assert_eq!(f.len(), 1);
    assert!(
        f[0].starts_with("FAILED expect[0] failover_max_ms = 300 (phase \"cut\"): measured "),
        "{f:?}"
    );
    assert!(cut.max_gap_ms > 300.0, "{}", cut.max_gap_ms);
}

const RELAY_CRASH: &str = r#"
[scenario]
name = "relay-crash-single-path"
duration_s = 8

[[node]]
name = "edge"
roles = ["edge"]

[[node]]
name = "relay"
roles = ["relay"]

[[node]]
name = "proxy"
roles = ["proxy"]

[[link]]
a = "edge"
b = "relay"
delay_ms = 5

[[link]]
a = "relay"
b = "proxy"
delay_ms = 5

[game]
profile = "cs2"
server = "proxy"
edge = "edge"
route = ["relay"]

[[event]]
at_s = 2.5
action = "kill"
node = "relay"
phase = "relay-dead"

[[event]]
at_s = 5
action = "restart"
node = "relay"
phase = "relay-back"

[[expect]]
phase = "start"
residual_loss_max = 0.01
"#;

#[test]
fn a_killed_relay_on_the_only_path_stops_the_game_and_restarts() {
    let r = run(&Scenario::from_toml(RELAY_CRASH).unwrap());
    assert!(r.passed, "before the crash nothing is lost");
    // No other path exists: everything sent while the relay is down is lost.
    let dead = phase(&r, "relay-dead");
    assert!(dead.residual_loss > 0.99, "{}", dead.residual_loss);
    assert!(dead.max_gap_ms > 2_000.0, "{}", dead.max_gap_ms);
    // The restarted relay is reachable again at the address its peers know.
    let back = phase(&r, "relay-back");
    assert_eq!(back.path.first().map(String::as_str), Some("edge"));
    assert_eq!(back.path.get(1).map(String::as_str), Some("relay"));
}

#[test]
fn without_its_standby_the_relay_crash_scenario_fails_and_names_the_failover_expectation() {
    let text = std::fs::read_to_string(scenarios_dir().join("relay-crash.toml")).unwrap();
    assert!(text.contains("backup_route = []\n"));
    let sc = Scenario::from_toml(&text.replace("backup_route = []\n", "")).unwrap();
    assert_eq!(sc.game.backup_route, None);
    let r = run(&sc);
    assert!(!r.passed);
    let failures: Vec<String> = r.failures().map(ToString::to_string).collect();
    assert!(
        failures.iter().any(|f| f.starts_with(
            "FAILED expect[1] failover_max_ms = 300 (phase \"relay-dead\"): measured "
        )),
        "{failures:?}"
    );
    // Without a standby the game waits for a new session through the dead relay.
    let dead = phase(&r, "relay-dead");
    assert!(dead.failover_ms > 1_000.0, "{}", dead.failover_ms);
    assert!(dead.residual_loss > 0.3, "{}", dead.residual_loss);
}

const MESH_TRIANGLE: &str = r#"
[scenario]
name = "mesh-topology"
duration_s = 5
mesh = true

[[node]]
name = "edge"
roles = ["edge"]

[[node]]
name = "relay"
roles = ["relay"]

[[node]]
name = "proxy"
roles = ["proxy"]

[[link]]
a = "edge"
b = "relay"
delay_ms = 20

[[link]]
a = "relay"
b = "proxy"
delay_ms = 100

[game]
profile = "cs2"
server = "proxy"
edge = "edge"
route = ["relay"]

[[expect]]
residual_loss_max = 0.01
members_alive = 3
"#;

#[test]
fn in_mesh_mode_every_node_measures_exactly_the_scenario_links() {
    let sc = Scenario::from_toml(MESH_TRIANGLE).unwrap();
    let r = run(&sc);
    let failures: Vec<String> = r.failures().map(ToString::to_string).collect();
    assert!(r.passed, "{failures:?}");
    assert_eq!(r.overall.path, ["edge", "relay", "proxy"]);
    // Every node holds every directed link of the scenario, at twice the one-way delay (plus
    // the emulator's ~1 ms per crossing), and nothing between edge and proxy.
    for observer in ["edge", "relay", "proxy"] {
        let mut seen: Vec<(&str, &str, f64)> = r
            .topology
            .iter()
            .filter(|l| l.observer == observer)
            .map(|l| (l.from.as_str(), l.to.as_str(), l.rtt_ms))
            .collect();
        seen.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        let pairs: Vec<(&str, &str)> = seen.iter().map(|(f, t, _)| (*f, *t)).collect();
        assert_eq!(
            pairs,
            [
                ("edge", "relay"),
                ("proxy", "relay"),
                ("relay", "edge"),
                ("relay", "proxy")
            ],
            "{observer}: {seen:?}"
        );
        for (from, to, rtt) in &seen {
            let want = if [*from, *to].contains(&"edge") {
                40.0
            } else {
                200.0
            };
            assert!(
                (want..want + 8.0).contains(rtt),
                "{observer} sees {from}→{to} at {rtt} ms, want ≈ {want}"
            );
        }
    }
}

const MESH_CRASH: &str = r#"
[scenario]
name = "mesh-crash"
duration_s = 4
mesh = true

[[node]]
name = "edge"
roles = ["edge"]

[[node]]
name = "relay"
roles = ["relay"]

[[node]]
name = "proxy"
roles = ["proxy"]

[[link]]
a = "edge"
b = "proxy"
delay_ms = 5

[[link]]
a = "relay"
b = "proxy"
delay_ms = 5

[game]
profile = "cs2"
server = "proxy"
edge = "edge"

[[event]]
at_s = 1
action = "crash"
node = "relay"
phase = "crashed"

[[expect]]
phase = "crashed"
detect_max_ms = 500
members_down = 1
members_alive = 2
"#;

#[test]
fn a_crash_cannot_be_detected_faster_than_the_suspicion_and_the_expectation_says_so() {
    let r = run(&Scenario::from_toml(MESH_CRASH).unwrap());
    let failures: Vec<String> = r.failures().map(ToString::to_string).collect();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        failures[0]
            .starts_with("FAILED expect[0] detect_max_ms = 500 (phase \"crashed\"): measured "),
        "{failures:?}"
    );
    // Seen down by both survivors, after the 1 s suspicion and within the ~1.9 s expected.
    let crashed = phase(&r, "crashed");
    let d = crashed.detect_ms.expect("detected within the phase");
    assert!((1_000.0..4_500.0).contains(&d), "{d}");
    let tables: Vec<(&str, u32, u32)> = crashed
        .members
        .iter()
        .map(|c| (c.node.as_str(), c.alive, c.down))
        .collect();
    assert_eq!(tables, [("proxy", 2, 1), ("edge", 2, 1)]);
}

#[test]
fn flap_bait_with_a_crossing_beyond_the_switch_margin_moves_and_fails_switches_max_by_name() {
    // The shipped flap bait with relay-a's leg degraded by 20 ms instead of 4: path A becomes
    // 34 ms dearer than B (≥ the 15 ms switch margin), so each session moves to B once its
    // estimate and its 1 s dwell allow (in the step's phase or, on a loaded machine, the
    // next), and stays there when A is 6 ms cheaper again (inside the margin). An expectation
    // of no switch over the run must fail, naming itself.
    let text = std::fs::read_to_string(scenarios_dir().join("flap-bait.toml"))
        .unwrap()
        .replace("delay_ms = 34", "delay_ms = 50")
        .replace(
            "phase = \"a-dearer-3\"\nswitches_max = 0\npath = [\"edge\", \"relay-a\", \"proxy\"]",
            "switches_max = 0",
        );
    let sc = Scenario::from_toml(&text).unwrap();
    let r = run(&sc);
    // One move per player (each player is its own session), and no move back.
    assert_eq!(
        r.overall.path_switches,
        u64::from(sc.game.players),
        "{:?}",
        r.overall
    );
    assert_eq!(phase(&r, "start").path_switches, 0);
    let late = phase(&r, "a-dearer-2");
    assert_eq!(late.path, ["edge", "relay-b", "proxy"], "{late:?}");
    let failures: Vec<String> = r.failures().map(ToString::to_string).collect();
    assert!(
        failures
            .iter()
            .any(|f| f.starts_with("FAILED expect[1] switches_max = 0: measured 2")),
        "{failures:?}"
    );
    assert!(!r.passed);
}
