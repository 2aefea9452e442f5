//! FEC policy (pure): which scheme a session uses, from the operator's setting and, when the
//! setting is `auto`, what is known about the path.

use std::time::Duration;

use lightspeed_protocol::fec::FecScheme;

use crate::spec::FecSetting;

/// Decoder ring size used with the schemes chosen here: 16 groups cover well over a second
/// of game traffic, far beyond any useful recovery time.
pub const DECODER_SLOTS: usize = 16;

/// Packet rate assumed when the game is unknown (a 64 Hz tick, CS2's).
pub const DEFAULT_PPS: u32 = 64;

/// Group deadline for `auto`: one packet gap plus 1 ms, so a group of two closes on its second
/// packet and recovery is at most one packet gap late (DESIGN.md §12).
pub fn auto_deadline(game_pps: Option<u32>) -> Duration {
    let pps = game_pps.filter(|p| *p > 0).unwrap_or(DEFAULT_PPS);
    Duration::from_micros(1_000_000 / u64::from(pps) + 1_000)
}

/// Group deadline of `scheme` at `pps` packets/s: `(k − 1)` packet gaps plus 1 ms for block
/// codes, so a group closes on its `k`-th packet (as `routing::adaptive_fec` predicts), and
/// one gap plus 1 ms otherwise (the sliding code and duplication ignore it).
pub fn deadline_for(scheme: FecScheme, pps: Option<u32>) -> Duration {
    let gap = auto_deadline(pps) - Duration::from_millis(1);
    let k = match scheme {
        FecScheme::Xor { k } | FecScheme::ReedSolomon { k, .. } => u32::from(k.max(2)),
        _ => 2,
    };
    gap * (k - 1) + Duration::from_millis(1)
}

/// The scheme and group deadline for a new session.
pub fn choose_with_deadline(
    setting: FecSetting,
    configured_deadline: Duration,
    game_pps: Option<u32>,
) -> (FecScheme, Duration) {
    match setting {
        FecSetting::Auto => (choose(setting), auto_deadline(game_pps)),
        other => (choose(other), configured_deadline),
    }
}

/// `auto` starts protected: a session's first seconds are the game's connection handshake and
/// nothing is known yet about the path. The sliding-window code with one repair over the last
/// four packets after every packet (100 % packet overhead) sends its repair at once — nothing
/// waits for a group — and at 5 % loss recovered 200,000 of 200,000 lost packets, 99.4 % of
/// them by the next packet (`protocol/src/fec/sliding.rs`); block codes at the same overhead
/// and delay leave ~3e-4 unrecovered. Measured loss refines this in the routing work.
pub const AUTO: FecScheme = FecScheme::Sliding {
    window: 4,
    repairs: 1,
    interval: 1,
};

/// The scheme for a setting.
pub fn choose(setting: FecSetting) -> FecScheme {
    setting.fixed_scheme().unwrap_or(AUTO)
}

/// Accepts an edge's proposal at a proxy, or falls back to `auto` when it is not one this
/// node can run.
pub fn accept(proposed: FecScheme) -> FecScheme {
    match proposed.shape() {
        Ok(_) => proposed,
        Err(_) => choose(FecSetting::Auto),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_map_to_schemes_and_bad_proposals_fall_back() {
        assert_eq!(choose(FecSetting::Off), FecScheme::Off);
        assert_eq!(choose(FecSetting::Xor { k: 4 }), FecScheme::Xor { k: 4 });
        assert_eq!(
            choose(FecSetting::Rs { k: 4, m: 2 }),
            FecScheme::ReedSolomon { k: 4, m: 2 }
        );
        assert_eq!(accept(FecScheme::Duplicate), FecScheme::Duplicate);
        assert_eq!(auto_deadline(Some(128)), Duration::from_micros(8_812));
        assert_eq!(auto_deadline(None), Duration::from_micros(16_625));
        assert_eq!(
            choose_with_deadline(FecSetting::Xor { k: 3 }, Duration::from_millis(2), Some(30)).1,
            Duration::from_millis(2)
        );
        assert_eq!(
            deadline_for(FecScheme::Xor { k: 4 }, Some(64)),
            Duration::from_micros(3 * 15_625 + 1_000)
        );
        assert_eq!(deadline_for(AUTO, Some(128)), auto_deadline(Some(128)));
        assert_eq!(
            deadline_for(FecScheme::ReedSolomon { k: 3, m: 2 }, None),
            Duration::from_micros(2 * 15_625 + 1_000)
        );
        assert_eq!(
            accept(FecScheme::ReedSolomon { k: 0, m: 3 }),
            choose(FecSetting::Auto)
        );
    }
}
