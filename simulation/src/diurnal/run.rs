//! The diurnal driver: one probe round a simulated minute, the routing cores fed exactly as a
//! route actor would feed them, and the regret of each arm measured against the true RTTs of
//! the minute that follows.

use std::collections::BTreeMap;

use lightspeed_actors::routing::ml::eval::{Regret, evaluate};
use lightspeed_actors::routing::ml::{Fallback, MlSelector, PathModel, RecordedRound, Recorder};
use lightspeed_actors::routing::paths::{
    Candidate, CostModel, EnumConfig, NodeId, Path, RouteGraph, candidates,
};
use lightspeed_actors::routing::policy::{Decision, PathPolicy, PolicyConfig};
use lightspeed_actors::routing::selector::{History, NearestSelector, Selector};
use lightspeed_protocol::Micros;

use super::report::{Arm, DiurnalReport, ParamsReport, TrainingReport};
use super::world::{DAY_MIN, EDGE, PROXY, World};
use super::{DiurnalError, DiurnalParams};

const MINUTE_US: u64 = 60_000_000;

/// A run's report and what it recorded.
#[derive(Debug, Clone)]
pub struct DiurnalRun {
    /// The comparison.
    pub report: DiurnalReport,
    /// Rounds recorded on the training days (the model's training set).
    pub train_rounds: Vec<RecordedRound>,
    /// Rounds recorded on the test days.
    pub test_rounds: Vec<RecordedRound>,
}

/// Per-arm accumulators.
#[derive(Default)]
struct Tally {
    regret_us: Vec<u32>,
    rtt_us: u64,
    switches: u64,
    last: Option<Path>,
}

impl Tally {
    fn add(&mut self, path: Option<Path>, truth: &[(Path, u32)], best: u32) {
        let Some(p) = path else { return };
        if self.last.is_some_and(|l| l != p) {
            self.switches += 1;
        }
        self.last = Some(p);
        let rtt = truth
            .iter()
            .find(|(q, _)| *q == p)
            .map_or(best, |(_, r)| *r);
        self.rtt_us += u64::from(rtt);
        self.regret_us.push(rtt.saturating_sub(best));
    }

    fn arm(mut self) -> Arm {
        let n = self.regret_us.len().max(1) as u64;
        let r = Regret::of(&mut self.regret_us);
        Arm {
            mean_regret_ms: round3(r.mean_ms),
            p95_regret_ms: round3(r.p95_ms),
            mean_rtt_ms: round3(self.rtt_us as f64 / n as f64 / 1_000.0),
            switches: self.switches,
        }
    }
}

pub(super) fn round3(x: f64) -> f64 {
    (x * 1_000.0).round() / 1_000.0
}

/// Runs the comparison (see the module doc of `diurnal`).
///
/// # Errors
/// [`DiurnalError::Params`], [`DiurnalError::Train`].
pub fn run(p: &DiurnalParams) -> Result<DiurnalRun, DiurnalError> {
    p.check()?;
    let mut world = World::new(p.seed, p.relays);
    let ends: Vec<(NodeId, NodeId)> = world.link_ends().collect();
    let index: BTreeMap<(NodeId, NodeId), usize> =
        ends.iter().enumerate().map(|(i, e)| (*e, i)).collect();
    let (model, enum_cfg) = (CostModel::default(), EnumConfig::default());
    let policy_cfg = PolicyConfig::default();
    let mut near_policy = PathPolicy::new(policy_cfg);
    let mut ml_policy = PathPolicy::new(policy_cfg);
    let mut fc_policy = PathPolicy::new(policy_cfg);
    let mut ml = MlSelector::fallback(p.ml, Fallback::NoModel);
    let mut recorder = Recorder::new(p.recorder);
    // Both selectors ignore the short history; an empty one is what they would get.
    let history = History::default();

    let train_end = p.train_days * DAY_MIN;
    let end = (p.train_days + p.test_days) * DAY_MIN;
    let (mut train_rounds, mut test_rounds) = (Vec::new(), Vec::new());
    let mut training = None;
    let [mut near_t, mut ml_t, mut fc_t, mut near_raw, mut ml_raw] =
        std::array::from_fn(|_| Tally::default());
    let mut forecast = Vec::new();
    let (mut measured, mut truth_links, mut feats) = (Vec::new(), Vec::new(), Vec::new());
    let mut truth: Vec<(Path, u32)> = Vec::new();
    let mut cands_per_round = 0;

    for minute in 0..end {
        if minute == train_end {
            let m = PathModel::train(&train_rounds, &p.train).map_err(DiurnalError::Train)?;
            training = Some(TrainingReport::of(&train_rounds, &m)?);
            ml.set_model(m);
        }
        let now = Micros(minute * MINUTE_US);
        world.measure(minute, &mut measured);
        let mut graph = RouteGraph::new(EDGE);
        world.relays().iter().for_each(|&r| graph.add_relay(r));
        graph.add_proxy(PROXY, None).map_err(graph_err)?;
        for (&(from, to), m) in ends.iter().zip(&measured) {
            graph.add_link(from, to, *m).map_err(graph_err)?;
        }
        let cands = candidates(&graph, &model, &enum_cfg);
        cands_per_round = cands.len();
        ml.observe(now, &cands);
        ml.features(&cands, &mut feats);
        for r in recorder.observe(now, &cands, &feats) {
            if r.at_us < train_end * MINUTE_US {
                train_rounds.push(r);
            } else {
                test_rounds.push(r);
            }
        }
        let near_pick = decide(&mut near_policy, now, &cands, &NearestSelector, &history);
        let ml_pick = decide(&mut ml_policy, now, &cands, &ml, &history);
        forecast.clone_from(&cands);
        ml.forecast(&mut forecast);
        let fc_pick = decide(&mut fc_policy, now, &forecast, &NearestSelector, &history);
        if minute < train_end {
            continue;
        }
        // The session rides the chosen path for the next minute; the oracle knows its RTTs.
        world.true_rtts(minute + 1, &mut truth_links);
        truth.clear();
        for c in &cands {
            truth.push((c.path, path_rtt(&c.path, &index, &truth_links)));
        }
        let best = truth.iter().map(|(_, r)| *r).min().unwrap_or(0);
        near_t.add(near_pick, &truth, best);
        ml_t.add(ml_pick, &truth, best);
        fc_t.add(fc_pick, &truth, best);
        let raw = |i: Option<usize>| i.and_then(|i| cands.get(i)).map(|c: &Candidate| c.path);
        near_raw.add(raw(NearestSelector.choose(&cands, &history)), &truth, best);
        ml_raw.add(raw(ml.choose(&cands, &history)), &truth, best);
    }

    let training = training.ok_or(DiurnalError::Params("no test days".into()))?;
    let offline = ml
        .model()
        .map(|m| evaluate(m, &test_rounds, p.ml.doubt_penalty))
        .transpose()
        .map_err(DiurnalError::Train)?;
    let (nearest, ml_arm, fc_arm) = (near_t.arm(), ml_t.arm(), fc_t.arm());
    let report = DiurnalReport {
        params: ParamsReport::of(p, cands_per_round),
        training,
        test_rounds: (p.test_days * DAY_MIN) as usize,
        ml_beats_nearest: ml_arm.mean_regret_ms < nearest.mean_regret_ms,
        ml_forecast_beats_nearest: fc_arm.mean_regret_ms < nearest.mean_regret_ms,
        nearest,
        ml: ml_arm,
        ml_forecast: fc_arm,
        nearest_selector_only: near_raw.arm(),
        ml_selector_only: ml_raw.arm(),
        offline_accuracy: offline.map_or(0.0, |o| round3(o.accuracy)),
    };
    Ok(DiurnalRun {
        report,
        train_rounds,
        test_rounds,
    })
}

fn decide(
    policy: &mut PathPolicy,
    now: Micros,
    cands: &[Candidate],
    selector: &dyn Selector,
    history: &History,
) -> Option<Path> {
    match policy.decide(now, cands, selector, history) {
        Decision::NoPath => None,
        Decision::Stay | Decision::Switch { .. } => policy.current().map(|(p, _)| p),
    }
}

/// True RTT of a path (µs): its links' true RTTs added up.
fn path_rtt(path: &Path, index: &BTreeMap<(NodeId, NodeId), usize>, links: &[f64]) -> u32 {
    let mut prev = EDGE;
    let mut ms = 0.0;
    for &hop in path.hops() {
        ms += index
            .get(&(prev, hop))
            .and_then(|&i| links.get(i))
            .copied()
            .unwrap_or(0.0);
        prev = hop;
    }
    (ms * 1_000.0).round() as u32
}

fn graph_err(e: lightspeed_actors::routing::paths::GraphError) -> DiurnalError {
    DiurnalError::Params(e.to_string())
}
