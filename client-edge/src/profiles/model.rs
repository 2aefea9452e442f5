//! The types a game profile is made of.
//!
//! Everything is `'static` data so the table in `games.rs` is a plain constant: no allocation,
//! no initialisation order, and `serde` can still render it for the admin API.

use serde::Serialize;

/// Where a number in a profile comes from, so callers know how far to trust it.
///
/// Capture mode diverts traffic by port; a range that only the seed asserts should not be the
/// sole reason to divert a flow (combine it with process detection or flow observation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Source {
    /// Stated by the publisher (support page or developer post).
    Publisher,
    /// Taken from the project's seed architecture note; not verified against the publisher.
    Seed,
    /// Our estimate from the engine's tick rate and similar games; expect ±50 %.
    Estimate,
}

/// An inclusive range of UDP ports on the game-server side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct PortRange {
    /// First port of the range.
    pub first: u16,
    /// Last port of the range (inclusive).
    pub last: u16,
}

impl PortRange {
    /// Builds an inclusive range (`first <= last` is checked by the profile tests, not here,
    /// so the table can stay `const`).
    pub const fn new(first: u16, last: u16) -> PortRange {
        PortRange { first, last }
    }

    /// Whether `port` lies in the range.
    pub const fn contains(self, port: u16) -> bool {
        self.first <= port && port <= self.last
    }
}

/// Which way a packet travels between the game client and its server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From the player's game client to the game server (inputs, usercmds).
    ClientToServer,
    /// From the game server to the client (snapshots, state updates).
    ServerToClient,
}

/// Bounds and mean of UDP payload sizes in bytes, one direction.
///
/// Always an estimate: no publisher documents payload sizes. Snapshots grow with the number
/// of players in view, so `max` is set near the usual 1,200-byte MTU-safe ceiling that engines
/// fragment below.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct SizeRange {
    /// Smallest payload seen in steady play (bytes).
    pub min: u16,
    /// Mean payload (bytes).
    pub mean: u16,
    /// Largest payload in steady play (bytes).
    pub max: u16,
}

/// Typical traffic in one direction during a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct TrafficShape {
    /// Packets per second in steady play (the tick or send rate).
    pub pps: u32,
    /// Payload size distribution.
    pub size: SizeRange,
}

/// Process names of a game's client, per operating system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct ProcessNames {
    /// Executable names on Windows (the game process itself, not its launcher: launchers such
    /// as the Riot Client are shared between games and stay running after a match).
    pub windows: &'static [&'static str],
    /// Names on Linux: native binaries, or the Windows executable name as Proton/Wine shows
    /// it. Empty when the game does not run on Linux (its anti-cheat refuses Proton).
    pub linux: &'static [&'static str],
}

/// A kernel or user-mode anti-cheat that protects a game.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum AntiCheat {
    /// Easy Anti-Cheat (Epic): kernel driver on Windows, Proton support is opt-in per game.
    EasyAntiCheat,
    /// Valve Anti-Cheat: user-mode, signature based, delayed bans.
    Vac,
    /// Riot Vanguard: kernel driver loaded at boot (`vgk.sys`), Windows only.
    Vanguard,
    /// BattlEye: kernel driver on Windows.
    BattlEye,
    /// Blizzard's in-house client anti-cheat (the seed calls it Warden).
    Blizzard,
}

impl AntiCheat {
    /// Human-readable name.
    pub const fn name(self) -> &'static str {
        match self {
            AntiCheat::EasyAntiCheat => "Easy Anti-Cheat",
            AntiCheat::Vac => "Valve Anti-Cheat (VAC)",
            AntiCheat::Vanguard => "Riot Vanguard",
            AntiCheat::BattlEye => "BattlEye",
            AntiCheat::Blizzard => "Blizzard anti-cheat (Warden)",
        }
    }

    /// What this anti-cheat is known to react to, as it concerns an accelerator. These are
    /// summaries of public behaviour, not vendor statements.
    pub const fn note(self) -> &'static str {
        match self {
            AntiCheat::EasyAntiCheat => {
                "Kernel driver; reacts to handles opened on the game process, injected modules \
                 and untrusted drivers. Traffic steered outside the process is not its concern."
            }
            AntiCheat::Vac => {
                "User-mode scanner; detects injected code and memory tampering, bans are delayed \
                 so a mistake surfaces late. Network redirection is invisible to it."
            }
            AntiCheat::Vanguard => {
                "Boot-time kernel driver that blocks drivers it distrusts from loading; a \
                 third-party packet-diversion driver is a risk here (unverified), so prefer \
                 redirect mode or the OS's own filtering for Riot games."
            }
            AntiCheat::BattlEye => {
                "Kernel driver; scans for injected code, debuggers and handles on the game. \
                 Steering packets outside the process does not touch what it guards."
            }
            AntiCheat::Blizzard => {
                "Client-side scanner of memory and running processes; flags injected code and \
                 memory readers. Network redirection is outside its scope."
            }
        }
    }
}

/// What an accelerator must never do to a protected game, whatever the anti-cheat.
pub const ACCELERATOR_RULES: &str = "Never open a handle to the game process, read or write its \
memory, inject code or DLLs, hook its sockets (Winsock LSPs, API hooks) or modify its files. \
Only steer its UDP traffic from outside the process: redirect mode (the game or the OS sends to \
a local port) is the most anti-cheat-friendly; capture mode diverts packets in the network stack, \
never in the game. Process detection only reads process names from the OS list.";

/// Everything LightSpeed knows about one game.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct GameProfile {
    /// Lowercase slug used in configs and the API (`"cs2"`).
    pub id: &'static str,
    /// Display name (`"Counter-Strike 2"`).
    pub name: &'static str,
    /// Process names of the game client.
    pub processes: ProcessNames,
    /// UDP port ranges on the game-server side.
    pub server_ports: &'static [PortRange],
    /// Where `server_ports` comes from.
    pub ports_source: Source,
    /// Caveats about the ports (relays, wider published lists, shared ranges).
    pub ports_note: &'static str,
    /// Anti-cheat systems protecting the game.
    pub anti_cheat: &'static [AntiCheat],
    /// Client-to-server traffic in a match.
    pub upstream: TrafficShape,
    /// Server-to-client traffic in a match.
    pub downstream: TrafficShape,
    /// Where the packet rates come from (sizes are always [`Source::Estimate`]).
    pub rate_source: Source,
    /// Anything else a player or operator should know.
    pub note: &'static str,
}

impl GameProfile {
    /// Traffic in one direction.
    pub const fn traffic(&self, direction: Direction) -> &TrafficShape {
        match direction {
            Direction::ClientToServer => &self.upstream,
            Direction::ServerToClient => &self.downstream,
        }
    }

    /// Whether `port` is in one of the game's server port ranges.
    pub fn has_port(&self, port: u16) -> bool {
        self.server_ports.iter().any(|r| r.contains(port))
    }

    /// Every process name on every OS.
    pub fn all_process_names(&self) -> impl Iterator<Item = &'static str> {
        self.processes
            .windows
            .iter()
            .chain(self.processes.linux.iter())
            .copied()
    }
}
