//! HealthActor: reads per-session link figures (RTT, jitter, loss, FEC) from the data plane's
//! endpoint cores once a second and publishes a snapshot for the admin API and logs; on mesh
//! nodes it also probes every known peer over the data port ([`ProbeDriver`]).
//!
//! Loop invariant: each probe tick takes new targets, feeds every queued echo to the prober,
//! then sends every probe due; the tick is a tenth of the probe interval (10–100 ms), which
//! only delays when a probe leaves, never what it measures (echoes are stamped by the data
//! loop on arrival).

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use parking_lot::RwLock;

use lightspeed_mesh::dataplane::endpoint::EndpointStats;
use lightspeed_mesh::dataplane::table::{SessionState, SessionTable};
use lightspeed_protocol::SessionId;

use crate::link_probe::ProbeDriver;

/// One session's figures at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionHealth {
    /// The session.
    pub id: SessionId,
    /// `edge`, `proxy` or `relay`.
    pub role: &'static str,
    /// Endpoint figures (zero for relays, which only forward).
    pub stats: EndpointStats,
}

/// The latest snapshot, shared with whoever reports it.
pub type HealthSnapshot = Arc<RwLock<Vec<SessionHealth>>>;

/// Reads figures of every session (pure over the table; no packet-path work).
pub fn snapshot(table: &SessionTable) -> Vec<SessionHealth> {
    let mut out: Vec<SessionHealth> = table
        .entries()
        .iter()
        .map(|e| {
            let state = e.state.lock();
            let (role, stats) = match &*state {
                // The RTT of the path carrying the game (what `saved_ms` compares with direct).
                SessionState::Edge { session, .. } => ("edge", session.stats()),
                SessionState::Proxy { session, .. } => ("proxy", session.stats()),
                SessionState::Relay(_) => ("relay", EndpointStats::default()),
            };
            SessionHealth {
                id: e.id,
                role,
                stats,
            }
        })
        .collect();
    out.sort_by_key(|h| h.id);
    out
}

/// Periodically snapshots session health.
#[derive(Debug)]
pub struct HealthActor {
    table: Arc<SessionTable>,
    published: HealthSnapshot,
    period: Duration,
    probes: Option<(ProbeDriver, Duration)>,
}

impl HealthActor {
    /// Publishes into `published` every `period`.
    pub fn new(table: Arc<SessionTable>, published: HealthSnapshot, period: Duration) -> Self {
        HealthActor {
            table,
            published,
            period,
            probes: None,
        }
    }

    /// Also probes peer links with `driver`, one probe per peer every `interval`.
    pub fn with_probes(mut self, driver: ProbeDriver, interval: Duration) -> Self {
        self.probes = Some((driver, interval));
        self
    }
}

impl Actor for HealthActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if let Some((driver, interval)) = &mut self.probes {
            driver.tick();
            let tick =
                (*interval / 10).clamp(Duration::from_millis(10), Duration::from_millis(100));
            ctx.run_interval(tick, |act, _ctx| {
                if let Some((driver, _)) = &mut act.probes {
                    driver.tick();
                }
            });
        }
        ctx.run_interval(self.period, |act, _ctx| {
            let snap = snapshot(&act.table);
            for h in snap.iter().filter(|h| h.role == "edge") {
                tracing::debug!(
                    session = %h.id,
                    srtt_ms = h.stats.srtt_us as f64 / 1e3,
                    jitter_ms = h.stats.jitter_us as f64 / 1e3,
                    loss = h.stats.loss(),
                    recovered = h.stats.recovered,
                    "session health"
                );
            }
            *act.published.write() = snap;
        });
    }
}

impl Handler<crate::session::Stop> for HealthActor {
    type Result = ();
    fn handle(&mut self, _msg: crate::session::Stop, ctx: &mut Context<Self>) {
        // Its timers would otherwise keep it (and its probe driver's data plane) alive.
        ctx.stop();
    }
}
