//! [`run`]: the phases of a scale run (see the module docs of [`super`]).

use std::time::Duration;

use lightspeed_mesh::membership::MAX_PACKET_SIZE;
use lightspeed_mesh::topology::{PublishPolicy, TopologyConfig};
use lightspeed_protocol::Micros;

use super::driver::{ScaleNet, Traffic, Want, Watch};
use super::net::{LinkModel, mix};
use super::report::{
    ClaimsReport, CrashReport, FormationReport, JoinReport, LossReport, ParamsReport, Rates,
    ScaleReport, TrafficReport,
};
use super::{ScaleError, ScaleParams};

/// How often phase conditions are checked (membership); times measured by a [`Watch`] are
/// exact, the formation time is exact, others are rounded up to this.
const STEP: Duration = Duration::from_millis(100);

/// How often the (costlier) claim condition is checked.
const CLAIM_STEP: Duration = Duration::from_secs(1);

/// Quiet time between phases, so one phase's gossip does not count in the next.
const SETTLE: Duration = Duration::from_secs(5);

/// A claim with 4 links, signature and framing, for [`PublishPolicy::scaled`].
const CLAIM_BYTES: usize = 300;

fn us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn ms_between(from: Micros, to: Micros) -> u64 {
    to.0.saturating_sub(from.0) / 1_000
}

/// Steps the clock until `done` holds or `deadline` passes; announces idle nodes again on the
/// way. Returns whether `done` held.
fn run_while(
    net: &mut ScaleNet,
    deadline: Micros,
    step: Duration,
    mut done: impl FnMut(&mut ScaleNet) -> bool,
) -> bool {
    loop {
        if done(net) {
            return true;
        }
        if net.now >= deadline {
            return false;
        }
        let next = (net.now + step).min(deadline);
        net.run_until(next);
        net.rejoin_idle();
    }
}

fn run_for(net: &mut ScaleNet, d: Duration) {
    let deadline = net.now + d;
    run_while(net, deadline, STEP, |_| false);
}

/// Traffic between two snapshots, over `nodes`, per second of `window_us`.
fn rates(before: &Traffic, after: &Traffic, nodes: &[usize], window_us: u64) -> Rates {
    let window_us = window_us.max(1);
    let count = (nodes.len() as u64).max(1);
    let diff = |v: &[u64], w: &[u64], i: usize| w[i].saturating_sub(v[i]);
    let bytes: Vec<u64> = nodes
        .iter()
        .map(|&i| diff(&before.bytes, &after.bytes, i))
        .collect();
    let datagrams: u64 = nodes
        .iter()
        .map(|&i| diff(&before.datagrams, &after.datagrams, i))
        .sum();
    let per_s = |v: u64| (u128::from(v) * 1_000_000 / u128::from(window_us)) as u64;
    Rates {
        window_ms: window_us / 1_000,
        mean_bytes_per_s: per_s(bytes.iter().sum::<u64>()) / count,
        max_bytes_per_s: per_s(bytes.iter().copied().max().unwrap_or(0)),
        mean_datagrams_per_ks: per_s(datagrams.saturating_mul(1_000)) / count,
    }
}

/// The time the `k`-th observer (1-based) reported, from the watch's start.
fn kth(w: &Watch, k: usize) -> Option<u64> {
    let mut seen: Vec<Micros> = w.seen.iter().flatten().copied().collect();
    seen.sort_unstable();
    let at = *seen.get(k.checked_sub(1)?)?;
    Some(ms_between(w.since, at))
}

fn running_nodes(net: &ScaleNet, slots: usize) -> Vec<usize> {
    (0..slots).filter(|&i| net.is_running(i)).collect()
}

/// Runs the phases and reports. Deterministic: the same parameters give the same report.
pub fn run(params: &ScaleParams) -> Result<ScaleReport, ScaleError> {
    run_with_progress(params, &mut |_| {})
}

/// [`run`], calling `progress` with each phase's name as it ends (the CLI prints wall times).
pub fn run_with_progress(
    params: &ScaleParams,
    progress: &mut dyn FnMut(&str),
) -> Result<ScaleReport, ScaleError> {
    params.validate()?;
    let n = params.nodes;
    let slots = n + 1;
    let config = params.preset.config(n);
    let capacity = (config.gossip_fanout * MAX_PACKET_SIZE) as u64 * 1_000
        / (config.gossip_period.as_millis() as u64).max(1);
    let policy = PublishPolicy::scaled(n, CLAIM_BYTES, config.max_transmissions, capacity);
    let links = LinkModel::new(
        params.seed,
        (us(params.delay.0), us(params.delay.1)),
        us(params.jitter),
    );
    let mut net = ScaleNet::new(
        slots,
        params.seed,
        config.clone(),
        TopologyConfig::for_refresh(policy.refresh),
        links,
        params.links_per_node,
    );
    let seeds_of = |i: usize| match i {
        0 => vec![],
        i if i < params.seeds => vec![0],
        i => vec![i % params.seeds],
    };

    // 1. Formation.
    net.track_full(n);
    let interval = us(params.join_interval);
    for i in 0..n {
        net.run_until(Micros(i as u64 * interval));
        net.rejoin_idle();
        net.start(i, &seeds_of(i))?;
    }
    let last_start = net.now;
    let deadline = last_start + params.phase_limit;
    run_while(&mut net, deadline, STEP, |net| net.full_at.is_some());
    let formation_end = net.now;
    let formation = FormationReport {
        starts_span_ms: last_start.0 / 1_000,
        all_see_all_ms: net.full_at.map(|t| t.0 / 1_000),
        after_last_start_ms: net.full_at.map(|t| ms_between(last_start, t)),
        sync_requests: net.sync_requests,
        sync_bytes: net.sync_bytes,
    };
    let formation_rates = rates(
        &Traffic {
            bytes: vec![0; slots],
            datagrams: vec![0; slots],
        },
        &net.traffic,
        &(0..n).collect::<Vec<_>>(),
        formation_end.0,
    );

    progress("formation");

    // 2. Steady state; claims keep spreading, checked every second.
    let claims = params.links_per_node > 0;
    let mut claims_at = None;
    let mut next_check = net.now;
    let mut check = |net: &mut ScaleNet| {
        if claims && claims_at.is_none() && net.now >= next_check {
            next_check = net.now + CLAIM_STEP;
            if net.check_claims(n) == n {
                claims_at = Some(net.now);
            }
        }
        false
    };
    let deadline = net.now + SETTLE;
    run_while(&mut net, deadline, STEP, &mut check);
    let before = net.traffic.clone();
    net.flaps = Some(Default::default());
    let deadline = net.now + params.steady_window;
    run_while(&mut net, deadline, STEP, &mut check);
    let steady_flaps = net.flaps.take().unwrap_or_default();
    let claims = claims.then(|| ClaimsReport {
        all_hold_all_ms: claims_at.map(|t| t.0 / 1_000),
        nodes_complete: net.check_claims(n),
    });
    let steady = rates(
        &before,
        &net.traffic,
        &running_nodes(&net, slots),
        us(params.steady_window),
    );

    progress("steady");

    // 3. One more node joins.
    net.watch(n, Want::Up);
    net.start(n, &seeds_of(n))?;
    let deadline = net.now + params.phase_limit;
    run_while(&mut net, deadline, STEP, |net| {
        net.watch.as_ref().is_some_and(|w| w.count >= w.observers)
    });
    let w = net.finish_watch();
    let join = JoinReport {
        seen_by_all_ms: kth(&w, w.observers),
        seen_by_half_ms: kth(&w, w.observers.div_ceil(2)),
        seen_by: w.count,
        observers: w.observers,
    };

    progress("join");

    // 4. A node crashes.
    run_for(&mut net, SETTLE);
    let victim = params.seeds + (mix(params.seed) % (n - params.seeds) as u64) as usize;
    net.watch(victim, Want::Down);
    net.crash(victim);
    let deadline = net.now + params.phase_limit;
    run_while(&mut net, deadline, STEP, |net| {
        net.watch.as_ref().is_some_and(|w| w.count >= w.observers)
    });
    let w = net.finish_watch();
    let crash = CrashReport {
        first_down_ms: kth(&w, 1),
        half_down_ms: kth(&w, w.observers.div_ceil(2)),
        all_down_ms: kth(&w, w.observers),
        expected_ms: config.expected_detection_time().as_millis() as u64,
        seen_by: w.count,
        observers: w.observers,
    };

    progress("crash");

    // 5. Loss on every link.
    run_for(&mut net, SETTLE);
    let before = net.traffic.clone();
    net.flaps = Some(Default::default());
    net.links.loss = params.loss;
    run_for(&mut net, params.loss_window);
    net.links.loss = 0.0;
    let flaps = net.flaps.take().unwrap_or_default();
    let loss_rates = rates(
        &before,
        &net.traffic,
        &running_nodes(&net, slots),
        us(params.loss_window),
    );
    let loss_end = net.now;
    progress("loss");
    let deadline = net.now + params.phase_limit;
    let reconverged = run_while(&mut net, deadline, STEP, |net| net.converged());
    let loss = LossReport {
        suspicions: flaps.suspicions,
        refutations: flaps.refutations,
        false_downs: flaps.false_downs,
        nodes_falsely_down: flaps.falsely_down.len(),
        rejoins: flaps.rejoins,
        steady_suspicions: steady_flaps.suspicions,
        steady_false_downs: steady_flaps.false_downs,
        reconverged_ms: reconverged.then(|| ms_between(loss_end, net.now)),
    };
    progress("reconverge");

    let datagrams = net.traffic.datagrams.iter().sum();
    Ok(ScaleReport {
        params: params_report(params),
        formation,
        claims,
        join,
        crash,
        loss,
        traffic: TrafficReport {
            formation: formation_rates,
            steady,
            loss: loss_rates,
            datagrams,
            lost: net.lost,
            refused: net.refused,
            events: net.processed,
        },
    })
}

fn params_report(p: &ScaleParams) -> ParamsReport {
    let c = p.preset.config(p.nodes);
    ParamsReport {
        nodes: p.nodes,
        seed: p.seed,
        preset: p.preset,
        seeds: p.seeds,
        join_interval_ms: p.join_interval.as_millis() as u64,
        delay_ms: (p.delay.0.as_millis() as u64, p.delay.1.as_millis() as u64),
        jitter_us: us(p.jitter),
        loss_ppm: (p.loss * 1e6).round() as u64,
        loss_window_s: p.loss_window.as_secs(),
        steady_window_s: p.steady_window.as_secs(),
        links_per_node: p.links_per_node,
        probe_period_ms: c.probe_period.as_millis() as u64,
        suspect_to_down_ms: c.suspect_to_down_after.as_millis() as u64,
        gossip_period_ms: c.gossip_period.as_millis() as u64,
        max_transmissions: c.max_transmissions,
    }
}
