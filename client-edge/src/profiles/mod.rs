//! Game profiles: what each supported game looks like on the wire and in the process list.
//!
//! The nine games of the design (Fortnite, CS2, Dota 2, Rust, VALORANT, Apex Legends,
//! Overwatch 2, League of Legends, PUBG) live in one constant table. Lookups are pure; only
//! [`running_process_names`] reads the OS.
//!
//! Layout:
//! - `model.rs`: the profile types ([`GameProfile`], [`TrafficShape`], [`AntiCheat`], ...).
//! - `games.rs`: the table itself, with the provenance of every number.
//! - `process.rs`: process-name matching and the `/proc` listing.
//!
//! Trust: packet sizes are always estimates and port ranges mostly come from the seed note;
//! each profile says so in [`GameProfile::ports_source`] and [`GameProfile::rate_source`].

mod games;
mod model;
mod process;

pub use model::{
    ACCELERATOR_RULES, AntiCheat, Direction, GameProfile, PortRange, ProcessNames, SizeRange,
    Source, TrafficShape,
};
pub use process::{MAX_PROCESSES, running_process_names};

/// All supported games, in a fixed order.
pub fn profiles() -> &'static [GameProfile] {
    &games::PROFILES
}

/// The profile whose id or display name is `key`, ignoring ASCII case (`"CS2"`,
/// `"counter-strike 2"`, `"Dota 2"` and `"dota2"` all work).
pub fn profile(key: &str) -> Option<&'static GameProfile> {
    let key = key.trim();
    profiles()
        .iter()
        .find(|p| p.id.eq_ignore_ascii_case(key) || p.name.eq_ignore_ascii_case(key))
}

/// The first game (in [`profiles`] order) with a process among `names`, the running process
/// list as [`running_process_names`] returns it. Names match ignoring ASCII case, and a
/// 15-byte Linux `comm` matches a longer executable name by prefix.
pub fn detect_by_process(names: &[&str]) -> Option<&'static GameProfile> {
    profiles().iter().find(|p| {
        p.all_process_names()
            .any(|known| names.iter().any(|n| process::name_matches(n, known)))
    })
}

/// Every game whose server port ranges contain `port`. Several ranges overlap (7000-7500 is
/// claimed by Fortnite, VALORANT and PUBG), so a port alone rarely names one game.
pub fn match_port(port: u16) -> Vec<&'static GameProfile> {
    profiles().iter().filter(|p| p.has_port(port)).collect()
}

#[cfg(test)]
mod tests;
