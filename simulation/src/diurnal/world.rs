//! The time-varying topology of a diurnal run: one edge, one proxy, a few relays, every link's
//! RTT a daily cycle plus, on some links, a congestion peak at a link-specific hour whose
//! start and height wander from day to day, measured with noise and rare spikes.
//!
//! Everything is drawn from the seed: link parameters once, each day's peak from
//! `(seed, link, day)`, the measurement noise from one generator in a fixed order. The true
//! RTT (no noise) is a pure function of the minute, so the oracle can look one round ahead.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use lightspeed_actors::routing::paths::{LinkMetrics, NodeId};

/// Minutes in a day.
pub(super) const DAY_MIN: u64 = 1_440;

/// The edge's id.
pub(super) const EDGE: NodeId = NodeId(0);
/// The proxy's id.
pub(super) const PROXY: NodeId = NodeId(1);

/// One directed link's daily behaviour.
#[derive(Debug, Clone)]
struct Link {
    from: NodeId,
    to: NodeId,
    /// Quietest RTT (ms).
    base: f64,
    /// Daily swing (ms), peaking at `cycle_peak` minutes after midnight.
    swing: f64,
    cycle_peak: f64,
    /// Congestion peak: usual start (minute of day), length (min), height (ms).
    peak: Option<(f64, f64, f64)>,
}

/// A congestion peak on one day: start minute, length, height.
type DayPeak = Option<(f64, f64, f64)>;

/// The world of one run.
#[derive(Debug, Clone)]
pub(super) struct World {
    links: Vec<Link>,
    relays: Vec<NodeId>,
    seed: u64,
    day: u64,
    day_peaks: Vec<DayPeak>,
    noise: ChaCha8Rng,
}

fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

impl World {
    /// A world with `relays` relays (ids 2…) drawn from `seed`.
    pub(super) fn new(seed: u64, relays: u32) -> World {
        let mut rng = ChaCha8Rng::seed_from_u64(mix(seed ^ 0x6469_7572_6E61_6C00));
        let relay_ids: Vec<NodeId> = (0..relays).map(|i| NodeId(2 + i)).collect();
        let mut links = Vec::new();
        let mut link = |rng: &mut ChaCha8Rng, from, to, base: (f64, f64), peak_p: f64| {
            let peak = rng.random_bool(peak_p).then(|| {
                (
                    rng.random_range(8.0 * 60.0..23.0 * 60.0),
                    rng.random_range(60.0..180.0),
                    rng.random_range(15.0..50.0),
                )
            });
            links.push(Link {
                from,
                to,
                base: rng.random_range(base.0..base.1),
                swing: rng.random_range(2.0..10.0),
                cycle_peak: rng.random_range(0.0..DAY_MIN as f64),
                peak,
            });
        };
        // The direct path is the long way with the evening peak of a home ISP.
        link(&mut rng, EDGE, PROXY, (62.0, 75.0), 1.0);
        for &r in &relay_ids {
            link(&mut rng, EDGE, r, (8.0, 30.0), 0.5);
            link(&mut rng, r, PROXY, (30.0, 45.0), 0.6);
            for &s in relay_ids.iter().filter(|&&s| s != r) {
                link(&mut rng, r, s, (4.0, 15.0), 0.2);
            }
        }
        let mut w = World {
            links,
            relays: relay_ids,
            seed,
            day: u64::MAX,
            day_peaks: Vec::new(),
            noise: ChaCha8Rng::seed_from_u64(mix(seed ^ 0x6E6F_6973_6500)),
        };
        w.enter_day(0);
        w
    }

    /// The relays.
    pub(super) fn relays(&self) -> &[NodeId] {
        &self.relays
    }

    /// The directed links, in a fixed order.
    pub(super) fn link_ends(&self) -> impl Iterator<Item = (NodeId, NodeId)> + '_ {
        self.links.iter().map(|l| (l.from, l.to))
    }

    /// Draws each link's peak for `day` (start ±40 min, height ×0.6–1.4, absent one day in
    /// eight) from `(seed, link, day)` alone.
    fn enter_day(&mut self, day: u64) {
        if day == self.day {
            return;
        }
        self.day = day;
        self.day_peaks = self
            .links
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let (start, len, height) = l.peak?;
                let mut rng = ChaCha8Rng::seed_from_u64(mix(self.seed ^ mix(i as u64 ^ mix(day))));
                if rng.random_bool(0.125) {
                    return None;
                }
                let shift = rng.random_range(-40.0..40.0);
                let scale = rng.random_range(0.6..1.4);
                Some((start + shift, len, height * scale))
            })
            .collect();
    }

    /// True RTT of every link at `minute` (ms, link order), into `out`.
    pub(super) fn true_rtts(&mut self, minute: u64, out: &mut Vec<f64>) {
        self.enter_day(minute / DAY_MIN);
        let tod = (minute % DAY_MIN) as f64;
        out.clear();
        for (l, peak) in self.links.iter().zip(&self.day_peaks) {
            let phase = std::f64::consts::TAU * (tod - l.cycle_peak) / DAY_MIN as f64;
            let cycle = l.swing * 0.5 * (1.0 + phase.cos());
            let congestion = peak.map_or(0.0, |(start, len, height)| {
                // Builds over 20 min, holds, drains over 20 min.
                let up = ((tod - start) / 20.0).clamp(0.0, 1.0);
                let down = ((start + len - tod) / 20.0).clamp(0.0, 1.0);
                height * up.min(down)
            });
            out.push(l.base + cycle + congestion);
        }
    }

    /// What the edge's probes measure at `minute`: the true RTTs with noise (σ 1 ms plus 5 %
    /// of any congestion), jitter, and a 20 ms spike on one probe round in a hundred.
    pub(super) fn measure(&mut self, minute: u64, out: &mut Vec<LinkMetrics>) {
        let mut truth = Vec::with_capacity(self.links.len());
        self.true_rtts(minute, &mut truth);
        out.clear();
        for (l, t) in self.links.iter().zip(truth) {
            let excess = (t - l.base - l.swing).max(0.0);
            let sigma = 1.0 + 0.05 * excess;
            // Sum of uniforms: a cheap, bounded, roughly normal noise.
            let n: f64 = (0..4)
                .map(|_| self.noise.random_range(-1.0..1.0))
                .sum::<f64>();
            let spike = if self.noise.random_bool(0.01) {
                20.0
            } else {
                0.0
            };
            let ms = (t + n * sigma * 0.866 + spike).max(1.0);
            out.push(LinkMetrics {
                rtt_us: (ms * 1_000.0).round() as u32,
                jitter_us: (sigma * 1_000.0).round() as u32,
                loss_ppm: 0,
            });
        }
    }
}
