//! The data-plane side of FEC changes, shared by both ends, and the proxy's answers to an
//! edge's `FecSwitch` and `FecReport` requests.
//!
//! Every request names a session; only the edge that asked for the session (same control
//! address) may query or change it, anyone else gets `UnknownSession`, the answer for a
//! session that does not exist. A repeated `FecSwitch` (the edge retries when an answer was
//! lost) gets the same answer without touching the data plane again.

use std::net::SocketAddr;

use lightspeed_mesh::dataplane::edge::EdgeSession;
use lightspeed_mesh::dataplane::endpoint::{Endpoint, EndpointStats};
use lightspeed_mesh::dataplane::io::DataPlane;
use lightspeed_mesh::dataplane::table::SessionState;
use lightspeed_protocol::control::{Envelope, ErrorCode, LinkReport, Message};
use lightspeed_protocol::fec::FecScheme;
use lightspeed_protocol::{Micros, SessionId};

use crate::control::error_reply;
use crate::fec_policy;
use crate::session::codecs;
use crate::session_view::{SessionBook, SessionRole, scheme_name};

/// Runs `f` on the endpoint of session `id` (edge or proxy) under its lock, then refreshes
/// the entry's timer (an encoder change moves it).
pub fn with_endpoint<R>(
    dp: &DataPlane,
    id: SessionId,
    f: impl FnOnce(&mut Endpoint) -> R,
) -> Option<R> {
    let entry = dp.table.get(id)?;
    let mut state = entry.state.lock();
    let out = match &mut *state {
        SessionState::Edge { session, .. } => f(&mut session.endpoint),
        SessionState::Proxy { session, .. } => f(&mut session.endpoint),
        SessionState::Relay(_) => return None,
    };
    entry.set_next_timer(&state);
    Some(out)
}

/// Runs `f` on edge session `id` (its paths: the standby's figures, cross-path parity) under
/// its lock, then refreshes the entry's timer; `None` when `id` is not an edge session here.
pub fn with_edge<R>(
    dp: &DataPlane,
    id: SessionId,
    f: impl FnOnce(&mut EdgeSession) -> R,
) -> Option<R> {
    let entry = dp.table.get(id)?;
    let mut state = entry.state.lock();
    let out = match &mut *state {
        SessionState::Edge { session, .. } => f(session),
        SessionState::Proxy { .. } | SessionState::Relay(_) => return None,
    };
    entry.set_next_timer(&state);
    Some(out)
}

/// The endpoint figures of session `id`.
pub fn stats(dp: &DataPlane, id: SessionId) -> Option<EndpointStats> {
    let entry = dp.table.get(id)?;
    let state = entry.state.lock();
    match &*state {
        // The edge's figures carry the RTT of the path the game is on.
        SessionState::Edge { session, .. } => Some(session.stats()),
        // The proxy's figures carry its server leg.
        SessionState::Proxy { session, .. } => Some(session.stats()),
        SessionState::Relay(_) => None,
    }
}

/// `stats` as a report, keeping the fields only the report exchange sets from `previous`.
pub fn report(stats: &EndpointStats, previous: LinkReport) -> LinkReport {
    LinkReport {
        data_sent: stats.data_sent,
        expected: stats.expected(),
        received: stats.received,
        delivered: stats.delivered,
        recovered: stats.recovered,
        srtt_us: stats.srtt_us,
        loss_runs: stats.loss_runs,
        server_rtt_us: stats.server_rtt_us,
        ..previous
    }
}

/// Packets per second a session has sent on average, for the group deadline of a new
/// scheme; `None` before any were sent.
pub fn mean_pps(data_sent: u64, started: Micros, now: Micros) -> Option<u32> {
    let secs = now.saturating_since(started).as_secs_f64();
    (data_sent > 0 && secs >= 1.0).then(|| (data_sent as f64 / secs).round().max(1.0) as u32)
}

/// Switches the sending direction of `id` to `scheme` at once (the edge, after the proxy's
/// answer) and arms its receiving side for the peer's packets from `peer_from`.
///
/// # Errors
/// The codec could not be built (the scheme was validated before, so this does not happen in
/// practice), or the session is gone.
pub fn apply_edge_switch(
    dp: &DataPlane,
    id: SessionId,
    scheme: FecScheme,
    pps: Option<u32>,
    own_from: u32,
    peer_from: u32,
) -> Result<(), String> {
    let (enc, dec) =
        codecs(scheme, fec_policy::deadline_for(scheme, pps)).map_err(|e| e.to_string())?;
    with_endpoint(dp, id, |ep| {
        ep.arm_fec_rx(dec, peer_from);
        ep.switch_fec_tx(enc, own_from);
    })
    .ok_or_else(|| "session gone".to_string())
}

fn owned_by(book: &SessionBook, id: SessionId, edge: SocketAddr) -> bool {
    book.get(id)
        .is_some_and(|r| r.role == SessionRole::Proxy && r.edge_control == Some(edge))
}

/// The proxy's answer to an edge's `FecSwitch` or `FecReport` (request `env` from the
/// control address `edge`).
pub fn serve(
    dp: &DataPlane,
    book: &SessionBook,
    edge: SocketAddr,
    env: Envelope,
    now: Micros,
) -> Envelope {
    let rid = env.request_id;
    let unknown = |s: SessionId| error_reply(rid, ErrorCode::UnknownSession, format!("{s}"));
    match env.body {
        Message::FecReport {
            session,
            report: theirs,
        } => {
            if !owned_by(book, session, edge) {
                return unknown(session);
            }
            let Some(st) = stats(dp, session) else {
                return unknown(session);
            };
            let ours = book.update(session, |r| {
                // Aligned: their data count as of sending, our deliveries as of its arrival.
                r.local = LinkReport {
                    peer_data_sent: theirs.data_sent,
                    delivered_then: st.delivered,
                    ..report(&st, r.local)
                };
                r.remote = Some(theirs);
                r.local
            });
            match ours {
                Some(report) => Envelope::new(rid, None, Message::FecReport { session, report }),
                None => unknown(session),
            }
        }
        Message::FecSwitch {
            session,
            fec,
            from_seq,
        } => {
            if !owned_by(book, session, edge) {
                return unknown(session);
            }
            switch(dp, book, rid, session, fec, from_seq, now)
        }
        _ => error_reply(rid, ErrorCode::Malformed, "not a FEC request"),
    }
}

fn switch(
    dp: &DataPlane,
    book: &SessionBook,
    rid: u64,
    session: SessionId,
    asked: FecScheme,
    edge_from: u32,
    now: Micros,
) -> Envelope {
    let Some(record) = book.get(session) else {
        return error_reply(rid, ErrorCode::UnknownSession, format!("{session}"));
    };
    let answer = |fec, from_seq| {
        Envelope::new(
            rid,
            None,
            Message::FecSwitch {
                session,
                fec,
                from_seq,
            },
        )
    };
    if let Some((prev_asked, prev_from, own_from)) = record.last_switch
        && (prev_asked, prev_from) == (asked, edge_from)
    {
        return answer(record.fec, own_from);
    }
    let accepted = fec_policy::accept(asked);
    let pps = mean_pps(record.local.data_sent, record.started, now);
    let (enc, dec) = match codecs(accepted, fec_policy::deadline_for(accepted, pps)) {
        Ok(c) => c,
        Err(e) => return error_reply(rid, ErrorCode::Internal, e.to_string()),
    };
    let applied = with_endpoint(dp, session, |ep| {
        if !ep.peer_seq_ahead(edge_from) {
            return None;
        }
        ep.arm_fec_rx(dec, edge_from);
        let own_from = ep.fec_switch_seq();
        ep.schedule_fec_tx(enc, own_from, edge_from);
        Some(own_from)
    });
    let own_from = match applied {
        None => return error_reply(rid, ErrorCode::UnknownSession, format!("{session}")),
        Some(None) => {
            return error_reply(
                rid,
                ErrorCode::Malformed,
                "switch point not ahead of the packets received",
            );
        }
        Some(Some(s)) => s,
    };
    book.fec_changed(session, accepted, now);
    book.update(session, |r| {
        r.last_switch = Some((asked, edge_from, own_from))
    });
    tracing::info!(
        session = %session,
        role = "proxy",
        from = %scheme_name(record.fec),
        to = %scheme_name(accepted),
        "FEC scheme changed"
    );
    answer(accepted, own_from)
}
