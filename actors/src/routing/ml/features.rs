//! What the ML selector sees of a candidate (pure): a fixed vector of bounded numbers built
//! from the candidate's metrics, its recent samples and its time-of-day profile.
//!
//! [`FeatureTracker`] keeps, per path, the last [`RECENT`] RTT samples and a daily profile:
//! the mean RTT of each quarter hour of the day ([`BINS`] bins), folded into the profile when
//! the quarter ends (half old, half new), so yesterday's evening peak is known at today's
//! evening before it happens. The profile is what lets a model anticipate a daily cycle that
//! the nearest selector only reacts to.
//!
//! Time is wall time (µs since the UNIX epoch, UTC) because daily cycles follow the clock on
//! the wall; the driver reads it and passes it in, the tracker stays pure.

use lightspeed_protocol::Micros;

use super::super::paths::{Candidate, Path, ppm_to_fraction};

/// Number of features per candidate.
pub const N_FEATURES: usize = 14;

/// Version of the feature vector's layout; recorded rows and models carry it, and a model is
/// refused for rows (or a selector) of another version.
pub const FEATURES_VERSION: u32 = 1;

/// Feature names, in vector order (docs/routing.md explains each).
pub const FEATURE_NAMES: [&str; N_FEATURES] = [
    "cost_ms",
    "rtt_ms",
    "jitter_ms",
    "loss_pct",
    "cost_above_best_ms",
    "relays",
    "tod_sin",
    "tod_cos",
    "rtt_above_recent_mean_ms",
    "rtt_step_ms",
    "recent_std_ms",
    "profile_change_ahead_ms",
    "rtt_above_profile_ms",
    "profile_ahead_above_best_ms",
];

/// One candidate's features.
pub type FeatureVec = [f64; N_FEATURES];

/// Recent RTT samples kept per path: 16 rounds are minutes of history at any probe rate the
/// node uses and enough for a mean and a spread.
pub const RECENT: usize = 16;

/// Quarter-hour bins of the daily profile: fine enough for a peak that builds over half an
/// hour, coarse enough that each bin is measured many times a day.
pub const BINS: usize = 96;

/// Paths tracked at once; the least recently seen is forgotten first. 64 is twice the
/// candidate limit of one evaluation (`EnumConfig::max_candidates`), about 40 KB.
pub const MAX_TRACKED_PATHS: usize = 64;

const DAY_US: u64 = 86_400_000_000;
const BIN_US: u64 = DAY_US / BINS as u64;
/// Every feature is clamped to ±this (ms, or units for the others): a broken measurement must
/// not push a value where no tree split was ever learned.
const FEATURE_BOUND: f64 = 10_000.0;

#[derive(Debug, Clone)]
struct PathTrack {
    recent: [u32; RECENT],
    recent_len: usize,
    recent_next: usize,
    profile: [f32; BINS],
    profile_seen: [bool; BINS],
    bin: u64,
    bin_sum: f64,
    bin_n: u32,
    last_seen: Micros,
}

impl PathTrack {
    fn new(wall: Micros) -> PathTrack {
        PathTrack {
            recent: [0; RECENT],
            recent_len: 0,
            recent_next: 0,
            profile: [0.0; BINS],
            profile_seen: [false; BINS],
            bin: wall.0 / BIN_US,
            bin_sum: 0.0,
            bin_n: 0,
            last_seen: wall,
        }
    }

    fn record(&mut self, wall: Micros, rtt_us: u32) {
        let bin = wall.0 / BIN_US;
        if bin != self.bin {
            self.fold_bin();
            self.bin = bin;
        }
        self.bin_sum += f64::from(rtt_us);
        self.bin_n += 1;
        if let Some(slot) = self.recent.get_mut(self.recent_next) {
            *slot = rtt_us;
        }
        self.recent_next = (self.recent_next + 1) % RECENT;
        self.recent_len = (self.recent_len + 1).min(RECENT);
        self.last_seen = wall;
    }

    fn fold_bin(&mut self) {
        if self.bin_n == 0 {
            return;
        }
        let mean = (self.bin_sum / f64::from(self.bin_n)) as f32;
        let i = (self.bin % BINS as u64) as usize;
        if let (Some(p), Some(seen)) = (self.profile.get_mut(i), self.profile_seen.get_mut(i)) {
            *p = if *seen { 0.5 * *p + 0.5 * mean } else { mean };
            *seen = true;
        }
        self.bin_sum = 0.0;
        self.bin_n = 0;
    }

    fn profile_at(&self, bin: u64) -> Option<f64> {
        let i = (bin % BINS as u64) as usize;
        match (self.profile.get(i), self.profile_seen.get(i)) {
            (Some(p), Some(true)) => Some(f64::from(*p)),
            _ => None,
        }
    }

    fn recent_stats(&self) -> Option<(f64, f64, u32)> {
        let samples = self.recent.get(..self.recent_len)?;
        if samples.is_empty() {
            return None;
        }
        let n = samples.len() as f64;
        let mean = samples.iter().map(|&r| f64::from(r)).sum::<f64>() / n;
        let var = samples
            .iter()
            .map(|&r| (f64::from(r) - mean).powi(2))
            .sum::<f64>()
            / n;
        let prev_i = (self.recent_next + 2 * RECENT - 2) % RECENT;
        let prev = if self.recent_len >= 2 {
            self.recent.get(prev_i).copied().unwrap_or(0)
        } else {
            0
        };
        Some((mean, var.sqrt(), prev))
    }
}

/// Per-path recent samples and daily profiles, bounded by [`MAX_TRACKED_PATHS`].
#[derive(Debug, Clone)]
pub struct FeatureTracker {
    /// Linear search: at most 64 entries, and a `Vec` keeps eviction order deterministic.
    paths: Vec<(Path, PathTrack)>,
    ahead_bins: u64,
}

impl Default for FeatureTracker {
    fn default() -> FeatureTracker {
        FeatureTracker::new(1)
    }
}

impl FeatureTracker {
    /// A tracker whose "ahead" features look `ahead_bins` quarter hours forward (at least 1):
    /// the model's label window, rounded up to quarters.
    pub fn new(ahead_bins: u64) -> FeatureTracker {
        FeatureTracker {
            paths: Vec::with_capacity(MAX_TRACKED_PATHS),
            ahead_bins: ahead_bins.clamp(1, BINS as u64),
        }
    }

    /// Adds one round of measured candidates at wall time `wall`.
    pub fn observe(&mut self, wall: Micros, candidates: &[Candidate]) {
        for c in candidates {
            if let Some((_, t)) = self.paths.iter_mut().find(|(p, _)| *p == c.path) {
                t.record(wall, c.metrics.rtt_us);
                continue;
            }
            if self.paths.len() >= MAX_TRACKED_PATHS {
                let oldest = (0..self.paths.len())
                    .min_by_key(|&i| self.paths.get(i).map(|(_, t)| t.last_seen));
                if let Some(i) = oldest {
                    self.paths.swap_remove(i);
                }
            }
            let mut t = PathTrack::new(wall);
            t.record(wall, c.metrics.rtt_us);
            self.paths.push((c.path, t));
        }
    }

    fn track(&self, path: &Path) -> Option<&PathTrack> {
        self.paths.iter().find(|(p, _)| p == path).map(|(_, t)| t)
    }

    /// Number of paths tracked.
    pub fn tracked(&self) -> usize {
        self.paths.len()
    }

    /// The features of every candidate at wall time `wall`, into `out` (cleared first).
    pub fn features(&self, wall: Micros, candidates: &[Candidate], out: &mut Vec<FeatureVec>) {
        out.clear();
        let bin = wall.0 / BIN_US;
        let ahead = bin + self.ahead_bins;
        let best_cost = candidates.iter().map(|c| c.cost_us).min().unwrap_or(0);
        let best_ahead = candidates
            .iter()
            .filter_map(|c| self.track(&c.path)?.profile_at(ahead))
            .fold(f64::INFINITY, f64::min);
        let angle = std::f64::consts::TAU * (wall.0 % DAY_US) as f64 / DAY_US as f64;
        for c in candidates {
            let rtt = f64::from(c.metrics.rtt_us);
            let track = self.track(&c.path);
            let (mean, std, prev) =
                track
                    .and_then(PathTrack::recent_stats)
                    .unwrap_or((rtt, 0.0, c.metrics.rtt_us));
            let now_p = track.and_then(|t| t.profile_at(bin));
            let ahead_p = track.and_then(|t| t.profile_at(ahead));
            let ms = |us: f64| us / 1_000.0;
            let v: FeatureVec = [
                ms(f64::from(c.cost_us)),
                ms(rtt),
                ms(f64::from(c.metrics.jitter_us)),
                ppm_to_fraction(c.metrics.loss_ppm) * 100.0,
                ms(f64::from(c.cost_us.saturating_sub(best_cost))),
                c.path.relays().len() as f64,
                angle.sin(),
                angle.cos(),
                ms(rtt - mean),
                ms(rtt - f64::from(prev)),
                ms(std),
                match (now_p, ahead_p) {
                    (Some(n), Some(a)) => ms(a - n),
                    _ => 0.0,
                },
                now_p.map_or(0.0, |n| ms(rtt - n)),
                ahead_p
                    .filter(|_| best_ahead.is_finite())
                    .map_or(0.0, |a| ms(a - best_ahead)),
            ];
            out.push(v.map(bound));
        }
    }
}

/// Clamps a feature to ±[`FEATURE_BOUND`]; NaN becomes 0.
pub fn bound(x: f64) -> f64 {
    if x.is_nan() {
        0.0
    } else {
        x.clamp(-FEATURE_BOUND, FEATURE_BOUND)
    }
}
