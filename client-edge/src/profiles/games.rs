//! The nine supported games as one constant table.
//!
//! Packet sizes are estimates for every game (no publisher documents them); packet rates say
//! their [`Source`]. Port ranges from the seed are kept as the seed states them and their
//! doubts are written in `ports_note` rather than silently "corrected".

use super::model::{
    AntiCheat, GameProfile, PortRange, ProcessNames, SizeRange, Source, TrafficShape,
};

const fn shape(pps: u32, min: u16, mean: u16, max: u16) -> TrafficShape {
    TrafficShape {
        pps,
        size: SizeRange { min, mean, max },
    }
}

const SDR_NOTE: &str = "Valve matchmaking runs over Steam Datagram Relay: the client talks to \
Valve relay addresses, not to the game server, so an accelerator carries the SDR flow to a \
relay near the server. Community servers are reached directly on 27015-27050.";

/// All profiles, in a fixed order (detection and port matching report them in this order).
pub(super) static PROFILES: [GameProfile; 9] = [
    GameProfile {
        id: "fortnite",
        name: "Fortnite",
        processes: ProcessNames {
            windows: &["FortniteClient-Win64-Shipping.exe"],
            // Epic has not enabled EAC's Proton support for Fortnite.
            linux: &[],
        },
        server_ports: &[PortRange::new(7000, 9000)],
        ports_source: Source::Seed,
        ports_note: "Published port lists disagree (5222, 5795-5847, 7777-7790, 9000 and wide \
                     12000-65000 ranges all appear); treat 7000-9000 as a hint and confirm by \
                     process.",
        anti_cheat: &[AntiCheat::EasyAntiCheat, AntiCheat::BattlEye],
        // Unreal server tick ~30 Hz; the client sends moves more often than it receives.
        upstream: shape(60, 50, 110, 300),
        downstream: shape(30, 60, 300, 1200),
        rate_source: Source::Estimate,
        note: "Battle royale: downstream snapshots grow with players in view.",
    },
    GameProfile {
        id: "cs2",
        name: "Counter-Strike 2",
        processes: ProcessNames {
            windows: &["cs2.exe"],
            linux: &["cs2"],
        },
        server_ports: &[PortRange::new(27015, 27050)],
        ports_source: Source::Seed,
        ports_note: SDR_NOTE,
        anti_cheat: &[AntiCheat::Vac],
        // 64 Hz with sub-tick input timestamps; CS:GO's 128-tick servers did not carry over.
        upstream: shape(64, 60, 120, 300),
        downstream: shape(64, 60, 250, 1200),
        rate_source: Source::Publisher,
        note: "Sub-tick: input timing rides in the packets, so jitter matters as much as RTT.",
    },
    GameProfile {
        id: "dota2",
        name: "Dota 2",
        processes: ProcessNames {
            windows: &["dota2.exe"],
            linux: &["dota2"],
        },
        server_ports: &[PortRange::new(27015, 27050)],
        ports_source: Source::Seed,
        ports_note: SDR_NOTE,
        anti_cheat: &[AntiCheat::Vac],
        upstream: shape(30, 40, 80, 200),
        downstream: shape(30, 60, 200, 1200),
        rate_source: Source::Estimate,
        note: "30 Hz server tick; low rate, so one lost packet is a long gap.",
    },
    GameProfile {
        id: "rust",
        name: "Rust",
        processes: ProcessNames {
            windows: &["RustClient.exe"],
            // Facepunch dropped the Linux client and EAC refuses Proton for Rust.
            linux: &[],
        },
        server_ports: &[PortRange::new(28015, 28017)],
        ports_source: Source::Seed,
        ports_note: "28015 is only the default game port; community servers pick their own, so \
                     many fall outside this range (28016 is RCON over TCP).",
        anti_cheat: &[AntiCheat::EasyAntiCheat],
        upstream: shape(30, 40, 100, 300),
        downstream: shape(30, 60, 300, 1200),
        rate_source: Source::Estimate,
        note: "Facepunch's Rust, not the language. Base and entity updates make downstream \
               bursty.",
    },
    GameProfile {
        id: "valorant",
        name: "VALORANT",
        processes: ProcessNames {
            windows: &["VALORANT-Win64-Shipping.exe"],
            // Vanguard is Windows-only.
            linux: &[],
        },
        server_ports: &[PortRange::new(7000, 7500)],
        ports_source: Source::Seed,
        ports_note: "Riot's support pages list UDP 7000-8000 for VALORANT (not re-checked \
                     here). Overlaps Fortnite and PUBG: detect by process first.",
        anti_cheat: &[AntiCheat::Vanguard],
        upstream: shape(128, 60, 120, 300),
        downstream: shape(128, 60, 200, 800),
        rate_source: Source::Publisher,
        note: "128-tick servers: the highest packet rate of the nine games.",
    },
    GameProfile {
        id: "apex",
        name: "Apex Legends",
        processes: ProcessNames {
            windows: &["r5apex.exe", "r5apex_dx12.exe"],
            // EA blocked Linux/Steam Deck play in late 2024.
            linux: &[],
        },
        server_ports: &[PortRange::new(37000, 37050)],
        ports_source: Source::Seed,
        ports_note: "EA's published list is reported to be wider (37000-40000 and 1024-1124; \
                     unverified here).",
        anti_cheat: &[AntiCheat::EasyAntiCheat],
        // Respawn's netcode deep dive states 20 Hz servers.
        upstream: shape(20, 60, 150, 400),
        downstream: shape(20, 80, 400, 1200),
        rate_source: Source::Publisher,
        note: "20 Hz servers: larger, rarer snapshots; loss costs 50 ms of state each.",
    },
    GameProfile {
        id: "overwatch2",
        name: "Overwatch 2",
        processes: ProcessNames {
            windows: &["Overwatch.exe"],
            // Runs under Proton (Steam or Battle.net via Wine) with the same executable name.
            linux: &["Overwatch.exe"],
        },
        server_ports: &[PortRange::new(3478, 6250)],
        ports_source: Source::Seed,
        ports_note: "Doubtful: 3478-6250 looks like Blizzard's voice/NAT ports (3478-3479, 5060, \
                     5062, 6250) collapsed into one range, while Blizzard lists game traffic on a \
                     wide UDP range (reported 12000-64000; unverified). It even contains \
                     LightSpeed's own ports 4433/4434. Never divert on this range alone.",
        anti_cheat: &[AntiCheat::Blizzard],
        // 62.5 Hz, usually quoted as 63.
        upstream: shape(63, 60, 120, 300),
        downstream: shape(63, 80, 250, 1000),
        rate_source: Source::Publisher,
        note: "Ability-heavy: downstream size varies with team fights.",
    },
    GameProfile {
        id: "lol",
        name: "League of Legends",
        processes: ProcessNames {
            // The game process; LeagueClient*.exe is the lobby and speaks TCP.
            windows: &["League of Legends.exe"],
            // Vanguard since 2024: no Linux play.
            linux: &[],
        },
        server_ports: &[PortRange::new(5000, 5500)],
        ports_source: Source::Publisher,
        ports_note: "Riot's port-forwarding article: UDP 5000-5500 for the game client.",
        anti_cheat: &[AntiCheat::Vanguard],
        upstream: shape(30, 40, 70, 200),
        downstream: shape(30, 50, 150, 800),
        rate_source: Source::Estimate,
        note: "Low rate and small packets; latency spikes matter more than bandwidth.",
    },
    GameProfile {
        id: "pubg",
        name: "PUBG: Battlegrounds",
        processes: ProcessNames {
            windows: &["TslGame.exe"],
            // BattlEye is not enabled for Proton in PUBG.
            linux: &[],
        },
        server_ports: &[PortRange::new(7000, 17999)],
        ports_source: Source::Seed,
        ports_note: "Very wide and overlaps Fortnite and VALORANT: detect by process first.",
        anti_cheat: &[AntiCheat::BattlEye],
        upstream: shape(60, 50, 120, 300),
        downstream: shape(60, 80, 350, 1200),
        rate_source: Source::Estimate,
        note: "60 Hz servers since 2018 (was lower at launch).",
    },
];
