use super::*;
use std::collections::HashSet;

const IDS: [&str; 9] = [
    "fortnite",
    "cs2",
    "dota2",
    "rust",
    "valorant",
    "apex",
    "overwatch2",
    "lol",
    "pubg",
];

#[test]
fn table_holds_the_nine_games_with_unique_lowercase_ids() {
    let ids: Vec<_> = profiles().iter().map(|p| p.id).collect();
    assert_eq!(ids, IDS);
    for p in profiles() {
        assert_eq!(p.id, p.id.to_ascii_lowercase());
        assert!(!p.id.contains(' '));
    }
    let names: HashSet<_> = profiles()
        .iter()
        .map(|p| p.name.to_ascii_lowercase())
        .collect();
    assert_eq!(names.len(), 9);
}

#[test]
fn every_profile_is_valid() {
    for p in profiles() {
        assert!(!p.name.is_empty(), "{}", p.id);
        assert!(
            !p.processes.windows.is_empty(),
            "{}: no Windows process",
            p.id
        );
        assert!(!p.server_ports.is_empty(), "{}: no ports", p.id);
        for r in p.server_ports {
            assert!(r.first <= r.last, "{}: range {r:?} reversed", p.id);
            assert!(r.first >= 1024, "{}: {r:?} in the privileged range", p.id);
        }
        assert!(!p.anti_cheat.is_empty(), "{}", p.id);
        assert!(!p.ports_note.is_empty(), "{}", p.id);
        for dir in [Direction::ClientToServer, Direction::ServerToClient] {
            let t = p.traffic(dir);
            assert!(
                t.pps > 0 && t.pps <= 1000,
                "{} {dir:?}: pps {}",
                p.id,
                t.pps
            );
            let s = t.size;
            assert!(s.min >= 20, "{} {dir:?}: min below the probe header", p.id);
            assert!(
                s.min <= s.mean && s.mean <= s.max,
                "{} {dir:?}: {s:?}",
                p.id
            );
            // One game datagram stays under a 1,280-byte path MTU with our 28-byte header.
            assert!(s.max <= 1200, "{} {dir:?}: max {}", p.id, s.max);
            // Design §5: game traffic averages 60-300 bytes upstream.
            if dir == Direction::ClientToServer {
                assert!((60..=300).contains(&s.mean), "{}: mean {}", p.id, s.mean);
            }
        }
    }
}

#[test]
fn lookup_by_id_or_display_name_ignores_case() {
    assert_eq!(profile("cs2").map(|p| p.name), Some("Counter-Strike 2"));
    assert_eq!(profile("CS2").map(|p| p.id), Some("cs2"));
    assert_eq!(profile("counter-strike 2").map(|p| p.id), Some("cs2"));
    assert_eq!(profile("Dota 2").map(|p| p.id), Some("dota2"));
    assert_eq!(profile(" lol ").map(|p| p.id), Some("lol"));
    assert_eq!(profile("League of Legends").map(|p| p.id), Some("lol"));
    assert_eq!(profile("Overwatch 2").map(|p| p.id), Some("overwatch2"));
    assert!(profile("minecraft").is_none());
    assert!(profile("").is_none());
    for id in IDS {
        assert_eq!(profile(id).map(|p| p.id), Some(id));
    }
}

#[test]
fn detection_finds_the_game_in_a_process_list() {
    let desktop = ["systemd", "bash", "steam", "Discord", "firefox"];
    assert!(detect_by_process(&desktop).is_none());
    assert!(detect_by_process(&[]).is_none());

    let mut with_cs2 = desktop.to_vec();
    with_cs2.push("cs2");
    assert_eq!(detect_by_process(&with_cs2).map(|p| p.id), Some("cs2"));

    let cases = [
        ("VALORANT-Win64-Shipping.exe", "valorant"),
        ("r5apex_dx12.exe", "apex"),
        ("league of legends.exe", "lol"),
        ("TslGame.exe", "pubg"),
        ("RustClient.exe", "rust"),
        ("dota2", "dota2"),
        // Proton games as Linux shows them: a full name, and a comm cut to 15 bytes.
        ("Overwatch.exe", "overwatch2"),
        ("FortniteClient-", "fortnite"),
    ];
    for (name, id) in cases {
        assert_eq!(
            detect_by_process(&["init", name]).map(|p| p.id),
            Some(id),
            "{name}"
        );
    }
    // Launchers and lookalikes are not games.
    assert!(detect_by_process(&["RiotClientServices.exe", "LeagueClient.exe"]).is_none());
    assert!(detect_by_process(&["rust-analyzer", "cargo", "rustc"]).is_none());
}

#[test]
fn every_listed_process_name_detects_its_own_profile() {
    for p in profiles() {
        for name in p.all_process_names() {
            assert_eq!(
                detect_by_process(&[name]).map(|d| d.id),
                Some(p.id),
                "{name}"
            );
        }
    }
}

#[test]
fn port_matching_reports_every_overlapping_game() {
    let ids = |port| match_port(port).iter().map(|p| p.id).collect::<Vec<_>>();
    assert_eq!(ids(27015), ["cs2", "dota2"]);
    assert_eq!(ids(27050), ["cs2", "dota2"]);
    assert!(ids(27051).is_empty());
    assert_eq!(ids(7000), ["fortnite", "valorant", "pubg"]);
    assert_eq!(ids(7501), ["fortnite", "pubg"]);
    assert_eq!(ids(9001), ["pubg"]);
    assert_eq!(ids(17999), ["pubg"]);
    assert_eq!(ids(28016), ["rust"]);
    assert_eq!(ids(37025), ["apex"]);
    assert_eq!(ids(5000), ["overwatch2", "lol"]);
    assert_eq!(ids(5501), ["overwatch2"]);
    assert_eq!(ids(3478), ["overwatch2"]);
    // The doubtful OW2 range even covers LightSpeed's own QUIC and data ports.
    assert_eq!(ids(4433), ["overwatch2"]);
    assert_eq!(ids(4434), ["overwatch2"]);
    assert!(ids(443).is_empty());
    assert!(ids(0).is_empty());
    assert!(ids(u16::MAX).is_empty());
}

#[test]
fn provenance_is_recorded_where_it_matters() {
    // Only LoL's ports come from a publisher page we have seen; the rest are the seed's.
    let published: Vec<_> = profiles()
        .iter()
        .filter(|p| p.ports_source == Source::Publisher)
        .map(|p| p.id)
        .collect();
    assert_eq!(published, ["lol"]);
    let ow = profile("overwatch2")
        .map(|p| p.ports_note)
        .unwrap_or_default();
    assert!(ow.contains("Never divert"), "{ow}");
    for id in ["cs2", "dota2"] {
        let note = profile(id).map(|p| p.ports_note).unwrap_or_default();
        assert!(note.contains("Steam Datagram Relay"), "{id}");
    }
}

#[test]
fn profiles_serialize_for_the_admin_api() {
    let cs2 = profile("cs2").expect("cs2 profile");
    let json = serde_json::to_value(cs2).expect("serializes");
    assert_eq!(json["id"], "cs2");
    assert_eq!(json["server_ports"][0]["first"], 27015);
    assert_eq!(json["server_ports"][0]["last"], 27050);
    assert_eq!(json["anti_cheat"][0], "vac");
    assert_eq!(json["upstream"]["pps"], 64);
    assert_eq!(json["ports_source"], "seed");
    assert_eq!(json["processes"]["linux"][0], "cs2");
}

#[test]
fn anti_cheat_notes_are_present() {
    assert!(ACCELERATOR_RULES.contains("inject"));
    assert!(ACCELERATOR_RULES.contains("redirect mode"));
    for p in profiles() {
        for ac in p.anti_cheat {
            assert!(!ac.name().is_empty());
            assert!(ac.note().len() > 40, "{ac:?}");
        }
    }
}
