//! The rows of `GET /api/sessions` and the end-of-session summary line, built from a
//! [`SessionRecord`] (see `session_view.rs`).

use lightspeed_protocol::Micros;
use lightspeed_protocol::control::LinkReport;

use crate::session_view::{SessionRecord, SessionRole, scheme_name};

/// One direction of a row of `GET /api/sessions`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DirectionRow {
    /// Fraction of the sender's packets (data, parity, probes) that did not arrive.
    pub loss_before_fec: Option<f64>,
    /// Fraction of the sender's game datagrams never delivered, after FEC.
    pub loss_after_fec: Option<f64>,
    /// Game datagrams the sender sent.
    pub sent: Option<u64>,
    /// Game datagrams delivered to the receiver's side.
    pub delivered: Option<u64>,
    /// Of those, rebuilt from parity.
    pub recovered: Option<u64>,
}

/// The FEC part of a row.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FecRow {
    /// The scheme in use.
    pub scheme: String,
    /// Scheme changes so far.
    pub changes: u32,
    /// Milliseconds since the last change.
    pub last_change_ms_ago: Option<u64>,
    /// Schemes used, in order of first use.
    pub used: Vec<String>,
}

/// One row of `GET /api/sessions`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SessionRow {
    /// Session id (8 hex digits, as in the logs).
    pub id: String,
    /// `edge` or `proxy`.
    pub role: SessionRole,
    /// Node names from edge to proxy.
    pub path: Vec<String>,
    /// Milliseconds since the session was installed.
    pub age_ms: u64,
    /// Smoothed RTT, ms.
    pub rtt_ms: Option<f64>,
    /// Interarrival jitter of the packets this node receives, ms.
    pub jitter_ms: f64,
    /// Edge → proxy.
    pub upstream: DirectionRow,
    /// Proxy → edge.
    pub downstream: DirectionRow,
    /// FEC.
    pub fec: FecRow,
    /// Path changes (failovers included).
    pub path_switches: u32,
    /// RTT of the direct edge → proxy path measured in this session, ms.
    pub direct_rtt_ms: Option<f64>,
    /// `direct_rtt_ms − rtt_ms`; `null` without a direct measurement.
    pub saved_ms: Option<f64>,
    /// The proxy's leg to the game server from the game traffic's timing, ms (an upper
    /// bound: it includes the server's processing or tick delay); `null` until measured.
    pub server_rtt_ms: Option<f64>,
    /// `rtt_ms + server_rtt_ms`: the player's whole path to the server; `null` until both
    /// are known.
    pub end_to_end_rtt_ms: Option<f64>,
}

fn direction(rx: Option<LinkReport>, sender_data: Option<u64>) -> DirectionRow {
    DirectionRow {
        loss_before_fec: rx.filter(|r| r.expected > 0).map(|r| r.loss_before_fec()),
        loss_after_fec: rx.and_then(|r| r.loss_after_fec()),
        sent: sender_data,
        delivered: rx.map(|r| r.delivered),
        recovered: rx.map(|r| r.recovered),
    }
}

/// The row of `r` at `now`.
pub fn row(r: &SessionRecord, now: Micros) -> SessionRow {
    let (up, down) = r.receivers();
    let (up_sent, down_sent) = match r.role {
        SessionRole::Edge => (Some(r.local.data_sent), r.remote.map(|x| x.data_sent)),
        SessionRole::Proxy => (r.remote.map(|x| x.data_sent), Some(r.local.data_sent)),
    };
    let ms = |us: u64| us as f64 / 1e3;
    SessionRow {
        id: r.id.to_string(),
        role: r.role,
        path: r.path.clone(),
        age_ms: now.saturating_since(r.started).as_millis() as u64,
        rtt_ms: r.srtt_us().map(ms),
        jitter_ms: ms(r.jitter_us),
        upstream: direction(up, up_sent),
        downstream: direction(down, down_sent),
        fec: FecRow {
            scheme: scheme_name(r.fec),
            changes: r.fec_changes,
            last_change_ms_ago: r
                .last_fec_change
                .map(|t| now.saturating_since(t).as_millis() as u64),
            used: r.schemes_used.iter().copied().map(scheme_name).collect(),
        },
        path_switches: r.path_switches,
        direct_rtt_ms: r.direct_rtt_us.map(ms),
        saved_ms: r.saved_ms(),
        server_rtt_ms: r.server_rtt_us().map(ms),
        end_to_end_rtt_ms: r.end_to_end_rtt_us().map(ms),
    }
}

/// Logs the summary of an ended session (one `info` line with structured fields).
pub fn log_summary(r: &SessionRecord, now: Micros) {
    let row = row(r, now);
    let used: Vec<String> = row.fec.used.clone();
    let mean_rtt_ms = (r.rtt_samples > 0).then(|| r.rtt_sum_us as f64 / r.rtt_samples as f64 / 1e3);
    tracing::info!(
        session = %row.id,
        role = r.role.as_str(),
        duration_s = row.age_ms as f64 / 1e3,
        path = %row.path.join(" > "),
        up_sent = row.upstream.sent.unwrap_or(0),
        up_delivered = row.upstream.delivered.unwrap_or(0),
        down_sent = row.downstream.sent.unwrap_or(0),
        down_delivered = row.downstream.delivered.unwrap_or(0),
        up_loss_before_fec = row.upstream.loss_before_fec,
        up_loss_after_fec = row.upstream.loss_after_fec,
        down_loss_before_fec = row.downstream.loss_before_fec,
        down_loss_after_fec = row.downstream.loss_after_fec,
        fec_schemes = %used.join(","),
        fec_changes = r.fec_changes,
        path_switches = r.path_switches,
        mean_rtt_ms,
        "session summary"
    );
}
