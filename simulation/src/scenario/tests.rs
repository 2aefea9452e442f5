//! Format parsing and errors, phase figures, expectation messages, table and plot rendering.
//! No sockets: runs with real nodes are in `tests/scenarios.rs`.

use std::time::Duration;

use lightspeed_actors::spec::FecSetting;

use super::report::{self, Snapshot};
use super::validate::fec_setting;
use super::world::FecTotals;
use super::*;
use crate::link::{LinkStats, LossModel};
use crate::udp_link::UdpLinkStats;

const BASE: &str = r#"
[scenario]
name = "t"
duration_s = 10

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
delay_ms = 20
"#;

const GAME: &str = r#"
[game]
profile = "cs2"
server = "proxy"
edge = "edge"
route = ["relay"]
"#;

fn parse(extra: &str) -> Result<Scenario, ScenarioError> {
    Scenario::from_toml(&format!("{BASE}{GAME}{extra}"))
}

fn err(text: &str) -> String {
    match Scenario::from_toml(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

fn err_extra(extra: &str) -> String {
    err(&format!("{BASE}{GAME}{extra}"))
}

#[test]
fn a_full_scenario_parses_into_links_path_events_phases_and_expectations() {
    let sc = parse(
        r#"
[[link]]
a = "edge"
b = "proxy"
delay_ms = 100
symmetric = false
loss = { burst_loss = 0.05, mean_burst = 3 }

[[link]]
a = "proxy"
b = "edge"
delay_ms = 90
symmetric = false
loss = { iid = 0.01 }
rate_kbps = 500

[[event]]
at_s = 6
action = "heal"
link = ["edge", "relay"]
phase = "healed"

[[event]]
at_s = 3
action = "partition"
link = ["relay", "edge"]

[[expect]]
residual_loss_max = 0.001
rtt_p50_min_ms = 50

[[expect]]
phase = "healed"
path = ["edge", "relay", "proxy"]
"#,
    )
    .unwrap();
    assert_eq!(sc.duration, Duration::from_secs(10));
    assert_eq!(sc.seed, 1);
    assert_eq!(sc.links.len(), 3);
    let direct = sc.link("proxy", "edge").unwrap();
    assert_eq!(direct.a_to_b.delay, Duration::from_millis(100));
    assert_eq!(direct.b_to_a.delay, Duration::from_millis(90));
    assert_eq!(direct.b_to_a.loss, LossModel::Iid { p: 0.01 });
    assert_eq!(direct.b_to_a.rate_bps, Some(500_000));
    assert!((direct.a_to_b.loss.mean_loss_rate() - 0.05).abs() < 1e-12);
    assert_eq!(sc.game.path(), ["edge", "relay", "proxy"]);
    assert_eq!(sc.game.fec, FecSetting::Auto);
    assert_eq!(sc.game.players, 1);
    // Sorted by time; phases split at 3 s (auto-named) and 6 s (named).
    assert_eq!(sc.events[0].at, Duration::from_secs(3));
    let names: Vec<_> = sc.phases.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["start", "partition relay–edge @3s", "healed"]);
    assert_eq!(sc.phases[1].start, Duration::from_secs(3));
    assert_eq!(sc.phases[1].end, Duration::from_secs(6));
    assert_eq!(sc.phases[2].end, Duration::from_secs(10));
    let keys: Vec<_> = sc.expects.iter().map(|e| (e.index, e.key)).collect();
    assert_eq!(
        keys,
        [(0, "residual_loss_max"), (0, "rtt_p50_min_ms"), (1, "path")]
    );
    assert_eq!(sc.expects[1].bound, Bound::Min(50.0));
    assert_eq!(sc.expects[2].phase.as_deref(), Some("healed"));
}

#[test]
fn unknown_missing_and_mistyped_fields_are_named() {
    let e = err(&format!("{BASE}{GAME}").replace("delay_ms = 5", "delay = 5"));
    assert!(e.contains("unknown field `delay`"), "{e}");
    let e = err(&format!("{BASE}{GAME}").replace("edge = \"edge\"\n", ""));
    assert!(e.contains("missing field `edge`"), "{e}");
    let e = err(&format!("{BASE}{GAME}").replace("delay_ms = 5", "delay_ms = \"5\""));
    assert!(e.contains("delay_ms"), "{e}");
    let e = err_extra("[[expect]]\nresidual_loss = 0.1\n");
    assert!(e.contains("unknown field `residual_loss`"), "{e}");
    let e = err_extra("[[event]]\nat_s = 1\naction = \"explode\"\nnode = \"relay\"\n");
    assert!(e.contains("unknown variant `explode`"), "{e}");
}

#[test]
fn bad_values_name_the_field() {
    let cases: [(&str, &str, &str); 12] = [
        ("delay_ms = 5", "delay_ms = -1", "link[0].delay_ms"),
        (
            "delay_ms = 5",
            "delay_ms = 5\nloss = { iid = 1.5 }",
            "link[0].loss",
        ),
        (
            "delay_ms = 5",
            "delay_ms = 5\nloss = { iid = 0.1, burst_loss = 0.1, mean_burst = 2 }",
            "link[0].loss",
        ),
        (
            "delay_ms = 5",
            "delay_ms = 5\nloss = { burst_loss = 0.1 }",
            "link[0].loss.mean_burst",
        ),
        (
            "delay_ms = 5",
            "delay_ms = 5\nrate_kbps = 0",
            "link[0].rate_kbps",
        ),
        ("b = \"relay\"", "b = \"nowhere\"", "link[0].b"),
        ("profile = \"cs2\"", "profile = \"pong\"", "game.profile"),
        (
            "route = [\"relay\"]",
            "route = [\"proxy\"]",
            "game.route[0]",
        ),
        ("route = [\"relay\"]", "route = []", "game.route (hop 0)"),
        ("server = \"proxy\"", "server = \"relay\"", "game.server"),
        (
            "route = [\"relay\"]",
            "route = [\"relay\"]\nfec = \"xor(0)\"",
            "game.fec",
        ),
        ("duration_s = 10", "duration_s = 0", "scenario.duration_s"),
    ];
    for (from, to, field) in cases {
        let text = format!("{BASE}{GAME}").replacen(from, to, 1);
        let e = err(&text);
        assert!(e.starts_with(&format!("{field}:")), "{field}: got {e}");
    }
}

#[test]
fn directed_links_need_both_directions_and_no_repeats() {
    let one_way = "[[link]]\na = \"edge\"\nb = \"proxy\"\nsymmetric = false\n";
    let e = err_extra(one_way);
    assert!(e.contains("no [[link]] gives proxy → edge"), "{e}");
    let e = err_extra("[[link]]\na = \"relay\"\nb = \"edge\"\n");
    assert!(
        e.starts_with("link[2]:") && e.contains("given twice"),
        "{e}"
    );
}

#[test]
fn events_are_checked() {
    let ev = |body: &str| err_extra(&format!("[[event]]\n{body}\n"));
    let e = ev("at_s = 1\naction = \"restart\"\nnode = \"relay\"");
    assert!(
        e.starts_with("event[0].node:") && e.contains("restart follows a kill"),
        "{e}"
    );
    let e = ev("at_s = 10\naction = \"kill\"\nnode = \"relay\"");
    assert!(e.starts_with("event[0].at_s:"), "{e}");
    let e = ev("at_s = 1\naction = \"degrade\"\nlink = [\"edge\", \"relay\"]");
    assert!(e.contains("degrade needs at least one"), "{e}");
    let e = ev("at_s = 1\naction = \"kill\"\nnode = \"relay\"\ndelay_ms = 5");
    assert!(e.contains("belong to degrade events only"), "{e}");
    let e = ev("at_s = 1\naction = \"partition\"\nnode = \"relay\"\nlink = [\"edge\", \"relay\"]");
    assert!(e.starts_with("event[0].link:"), "{e}");
    let e = ev("at_s = 1\naction = \"restore\"\nlink = [\"edge\", \"proxy\"]");
    assert!(e.contains("no [[link]] joins 'edge' and 'proxy'"), "{e}");
    let twice = "[[event]]\nat_s = 1\naction = \"kill\"\nnode = \"relay\"\n\
                 [[event]]\nat_s = 2\naction = \"kill\"\nnode = \"relay\"\n";
    assert!(err_extra(twice).starts_with("event[1].node:"));
}

#[test]
fn simultaneous_events_share_a_phase_and_names_must_be_unique() {
    let sc = parse(
        "[[event]]\nat_s = 0\naction = \"degrade\"\nlink = [\"edge\", \"relay\"]\njitter_ms = 2\n\
         phase = \"jittery\"\n\
         [[event]]\nat_s = 4\naction = \"kill\"\nnode = \"relay\"\n\
         [[event]]\nat_s = 4\naction = \"partition\"\nnode = \"proxy\"\nphase = \"down\"\n",
    )
    .unwrap();
    let names: Vec<_> = sc.phases.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["jittery", "down"]);
    assert_eq!(sc.events.len(), 3);
    let e =
        err_extra("[[event]]\nat_s = 4\naction = \"kill\"\nnode = \"relay\"\nphase = \"start\"\n");
    assert!(e.contains("phase name 'start'"), "{e}");
}

#[test]
fn expectations_are_checked() {
    let e = err_extra("[[expect]]\nphase = \"later\"\nresidual_loss_max = 0\n");
    assert!(
        e.starts_with("expect[0].phase:") && e.contains("[\"start\"]"),
        "{e}"
    );
    let e = err_extra("[[expect]]\nmembers_seen_min = 3\n");
    assert!(
        e.starts_with("expect[0].members_seen_min:") && e.contains("mesh = true"),
        "{e}"
    );
    let e = err_extra("[[expect]]\nphase = \"all\"\n");
    assert!(e.contains("checks nothing"), "{e}");
    let e = err_extra("[[expect]]\nrtt_p99_max_ms = -3\n");
    assert!(e.starts_with("expect[0].rtt_p99_max_ms:"), "{e}");
    let e = err_extra("[[expect]]\npath = [\"edge\", \"mars\"]\n");
    assert!(e.starts_with("expect[0].path[1]:"), "{e}");
}

#[test]
fn fec_settings_parse() {
    assert_eq!(fec_setting("off"), Some(FecSetting::Off));
    assert_eq!(fec_setting(" Auto "), Some(FecSetting::Auto));
    assert_eq!(fec_setting("dup"), Some(FecSetting::Dup));
    assert_eq!(fec_setting("xor(4)"), Some(FecSetting::Xor { k: 4 }));
    assert_eq!(fec_setting("rs(8, 2)"), Some(FecSetting::Rs { k: 8, m: 2 }));
    for bad in ["xor(16)", "rs(4)", "rs(0,1)", "xor4", "fec"] {
        assert_eq!(fec_setting(bad), None, "{bad}");
    }
}

#[test]
fn shipped_scenarios_parse() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/scenarios");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let sc = Scenario::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(!sc.expects.is_empty(), "{}", path.display());
            assert!(sc.duration <= Duration::from_secs(15), "{}", path.display());
            n += 1;
        }
    }
    assert!(n >= 3);
}

fn sample(sent_ms: u64, rtt_ms: Option<u64>) -> Sample {
    Sample {
        sent_us: sent_ms * 1_000,
        rtt_us: rtt_ms.map(|r| r * 1_000),
    }
}

fn link_stats(sent: u64, delivered: u64, lost: u64) -> UdpLinkStats {
    let mut up = LinkStats {
        sent,
        delivered,
        ..LinkStats::default()
    };
    up.dropped.loss = lost;
    UdpLinkStats {
        up,
        down: LinkStats::default(),
        data_dropped: lost,
    }
}

#[test]
fn phase_figures_come_from_samples_and_counter_deltas() {
    let sc = parse("").unwrap();
    // Player 0: 10 ms ticks, RTTs 20..29 with packets 3, 4 (sent 30, 40 ms) lost.
    let p0: Vec<Sample> = (0..10)
        .map(|i| sample(i * 10, (!matches!(i, 3 | 4)).then_some(20 + i)))
        .collect();
    // Player 1 outside the phase except one packet.
    let p1 = vec![sample(95, Some(40)), sample(200, Some(1))];
    let links = [
        ("edge".to_string(), "relay".to_string()),
        ("relay".to_string(), "proxy".to_string()),
    ];
    let before = Snapshot {
        links: vec![link_stats(100, 100, 0), link_stats(100, 100, 0)],
        fec: FecTotals::default(),
        views: Vec::new(),
    };
    let after = Snapshot {
        links: vec![link_stats(122, 120, 2), link_stats(120, 120, 0)],
        fec: FecTotals {
            data: 20,
            parity: 10,
            recovered: 2,
            duplicates: 4,
            deduplicated: 3,
            switches: 1,
            server_rtt_us: Some(21_500),
            edge_parity: 6,
            cross_parity: 3,
        },
        views: Vec::new(),
    };
    let s = report::phase_stats(
        &sc,
        "p",
        (0, 100_000),
        &[p0.clone(), p1],
        &links,
        &before,
        &after,
    );
    assert_eq!((s.sent, s.received), (11, 9));
    // The server leg is a level, not a counter: the phase's end value.
    assert_eq!(s.server_rtt_ms, Some(21.5));
    assert!((s.residual_loss - 2.0 / 11.0).abs() < 1e-12);
    // RTTs: 20 21 22 25 26 27 28 29 40 → p50 = 5th = 26, p95/p99/max = 40.
    assert_eq!(s.rtt_ms.p50, 26.0);
    assert_eq!(s.rtt_ms.p99, 40.0);
    assert_eq!(s.rtt_ms.max, 40.0);
    // Player 0's |Δ|: 1,1,3,1,1,1,1 over 7 pairs.
    assert!((s.jitter_ms - 9.0 / 7.0).abs() < 1e-9);
    // First loss sent at 30 ms, next echo sent at 50 ms.
    assert_eq!(s.max_gap_ms, 20.0);
    assert!((s.link_loss - 2.0 / 42.0).abs() < 1e-12);
    assert_eq!(s.data_lost_on_links, 2);
    assert_eq!(s.fec_recovered, 2);
    assert_eq!(s.fec_overhead, 0.5);
    assert_eq!(s.cross_parity, 0.5);
    assert_eq!(s.path, ["edge", "relay", "proxy"]);
    // The first phase has no event: from the first loss (sent at 30 ms) to the first
    // delivery after it, packet 5, sent at 50 ms with a 25 ms RTT: at the server at 62.5 ms.
    assert_eq!(s.failover_ms, 32.5);
    // A phase opened by an event at 10 ms counts from the event.
    let later = report::phase_stats(&sc, "p", (10_000, 100_000), &[p0], &links, &before, &after);
    assert_eq!(later.failover_ms, 52.5);
    assert_eq!((s.duplicates_sent, s.deduplicated), (4, 3));
    assert_eq!(s.duplicate_overhead, 0.2);
}

#[test]
fn outcomes_name_the_expectation_and_the_measurement() {
    let sc = parse(
        "[[expect]]\nrtt_p50_max_ms = 100\n\
         [[expect]]\nresidual_loss_max = 0.001\nfec_recovered_min = 5\npath = [\"edge\", \"proxy\"]\n",
    )
    .unwrap();
    let links = [("edge".to_string(), "relay".to_string())];
    let snap = Snapshot {
        links: vec![link_stats(0, 0, 0)],
        fec: FecTotals::default(),
        views: Vec::new(),
    };
    let mut samples: Vec<Sample> = (0..1000).map(|i| sample(i, Some(30))).collect();
    for s in samples.iter_mut().take(12) {
        s.rtt_us = None;
    }
    let stats = report::phase_stats(
        &sc,
        "all",
        (0, 10_000_000),
        &[samples],
        &links,
        &snap,
        &snap,
    );
    let out: Vec<String> = sc
        .expects
        .iter()
        .map(|e| report::check(e, &[], &stats).to_string())
        .collect();
    assert_eq!(
        out[0],
        "ok     expect[0] rtt_p50_max_ms = 100: measured 30.0000"
    );
    assert_eq!(
        out[1],
        "FAILED expect[1] residual_loss_max = 0.001: measured 0.0120"
    );
    assert_eq!(out[2], "FAILED expect[1] fec_recovered_min = 5: measured 0");
    assert_eq!(
        out[3],
        "FAILED expect[1] path = [\"edge\", \"proxy\"]: measured []"
    );
}

fn tiny_report() -> Report {
    let stats = PhaseStats {
        name: "start".into(),
        start_s: 0.0,
        end_s: 2.0,
        sent: 3,
        received: 2,
        residual_loss: 1.0 / 3.0,
        rtt_ms: Percentiles {
            p50: 20.0,
            p95: 21.0,
            p99: 21.0,
            max: 21.0,
        },
        jitter_ms: 1.0,
        max_gap_ms: 10.0,
        failover_ms: 0.0,
        duplicates_sent: 0,
        duplicate_overhead: 0.0,
        deduplicated: 0,
        link_loss: 0.0,
        data_lost_on_links: 0,
        fec_recovered: 0,
        fec_overhead: 1.0,
        cross_parity: 0.0,
        path_switches: 0,
        path: vec!["edge".into(), "proxy".into()],
        members: Vec::new(),
        detect_ms: None,
        server_rtt_ms: None,
    };
    Report {
        scenario: "tiny <&>".into(),
        seed: 1,
        game: "cs2".into(),
        players: 1,
        fec: "auto".into(),
        configured_path: vec!["edge".into(), "proxy".into()],
        duration_s: 2.0,
        events: vec![EventReport {
            at_s: 1.0,
            action: "kill relay".into(),
        }],
        phases: vec![stats.clone()],
        overall: PhaseStats {
            name: "all".into(),
            ..stats
        },
        expectations: vec![Outcome {
            expectation: "expect[0] residual_loss_max = 0".into(),
            measured: "0.3333".into(),
            passed: false,
        }],
        passed: false,
        topology: Vec::new(),
        wall_s: 3.0,
        samples: vec![PlayerSamples {
            player: 0,
            sent_ms: vec![0.0, 10.0, 20.0],
            rtt_ms: vec![Some(20.0), None, Some(21.0)],
        }],
    }
}

#[test]
fn table_lists_phases_paths_and_verdicts() {
    let t = render_table(&tiny_report());
    assert!(t.contains("event at   1.0 s: kill relay"), "{t}");
    assert!(t.contains("path in use, start: edge → proxy"), "{t}");
    assert!(
        t.contains("FAILED expect[0] residual_loss_max = 0: measured 0.3333"),
        "{t}"
    );
    assert!(t.contains("FAILED: 0 of 1 expectations held"), "{t}");
    assert!(
        t.lines()
            .any(|l| l.starts_with("start") && l.contains("33.333 %")),
        "{t}"
    );
}

#[test]
fn plot_has_a_dot_per_echo_a_mark_per_loss_and_a_line_per_event() {
    let svg = render_svg(&tiny_report());
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert_eq!(svg.matches("<circle").count(), 2);
    assert!(svg.contains("kill relay"));
    assert!(svg.contains("stroke-dasharray"));
    assert!(svg.contains("tiny &lt;&amp;&gt;"), "title is escaped");
    // One red loss mark inside the loss group.
    let losses = svg.split(r##"<g stroke="#d62728""##).nth(1).unwrap();
    assert_eq!(
        losses
            .split("</g>")
            .next()
            .unwrap()
            .matches("<line")
            .count(),
        1
    );
}
