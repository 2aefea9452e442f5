//! Valid control envelopes built from fuzzer bytes.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use arbitrary::{Result, Unstructured};
use lightspeed_protocol::control::{
    ClientToken, CloseReason, Envelope, ErrorCode, HopSpec, MAX_ERROR_MESSAGE_LEN, MAX_GAME_LEN,
    MAX_IDLE_TIMEOUT_MS, MAX_NODE_NAME_LEN, MAX_PATH_HOPS, MAX_PATH_ID, MAX_SYNC_ITEM_LEN, LinkReport,
    MAX_TOKEN_LEN, Message, SyncItem, TraceContext,
};
use lightspeed_protocol::fec::FecScheme;
use lightspeed_protocol::{SessionId, SessionKey};

/// An envelope that passes `Envelope::validate`, with every message variant reachable.
pub fn envelope(u: &mut Unstructured<'_>) -> Result<Envelope> {
    let request_id = u.arbitrary()?;
    let trace = if u.arbitrary()? {
        Some(trace(u)?)
    } else {
        None
    };
    Ok(Envelope::new(request_id, trace, message(u)?))
}

/// Any of the sixteen version-1 messages, valid.
pub fn message(u: &mut Unstructured<'_>) -> Result<Message> {
    Ok(match u.choose_index(16)? {
        0 => Message::SessionRequest {
            token: ClientToken(visible(u, MAX_TOKEN_LEN)?),
            target: addr(u)?,
            game: if u.arbitrary()? {
                Some(visible(u, MAX_GAME_LEN)?)
            } else {
                None
            },
            fec: fec(u)?,
            path: path(u)?,
        },
        1 => Message::SessionGrant {
            session: session(u)?,
            key: key(u)?,
            data_addr: addr(u)?,
            fec: fec(u)?,
            idle_timeout_ms: u.int_in_range(1..=MAX_IDLE_TIMEOUT_MS)?,
        },
        2 => Message::SessionBind {
            session: session(u)?,
        },
        3 => Message::SessionClose {
            session: session(u)?,
            reason: *u.choose(&[
                CloseReason::ClientExit,
                CloseReason::IdleTimeout,
                CloseReason::NodeShutdown,
                CloseReason::Revoked,
                CloseReason::RouteChanged,
            ])?,
        },
        4 => Message::RelayInstall {
            session: session(u)?,
            key: key(u)?,
            upstream: addr(u)?,
            idle_timeout_ms: u.int_in_range(1..=MAX_IDLE_TIMEOUT_MS)?,
        },
        5 => Message::FecUpdate {
            session: session(u)?,
            fec: fec(u)?,
        },
        6 => Message::RouteUpdate {
            session: session(u)?,
            path: path(u)?,
        },
        7 => Message::Ack,
        8 => Message::Ping {
            nonce: u.arbitrary()?,
        },
        9 => Message::Pong {
            nonce: u.arbitrary()?,
        },
        10 => Message::TopologySync {
            from: u.arbitrary()?,
        },
        11 => Message::TopologyItems {
            items: sync_items(u)?,
            next: u.arbitrary()?,
        },
        12 => Message::FecSwitch {
            session: session(u)?,
            fec: fec(u)?,
            from_seq: u.arbitrary()?,
        },
        13 => {
            let delivered: u64 = u.arbitrary()?;
            let expected: u64 = u.arbitrary()?;
            Message::FecReport {
                session: session(u)?,
                report: LinkReport {
                    data_sent: u.arbitrary()?,
                    expected,
                    received: u.arbitrary()?,
                    delivered,
                    recovered: u.int_in_range(0..=delivered)?,
                    peer_data_sent: u.arbitrary()?,
                    delivered_then: u.int_in_range(0..=delivered)?,
                    srtt_us: u.arbitrary()?,
                    loss_runs: u.int_in_range(0..=expected)?,
                    server_rtt_us: u.arbitrary()?,
                },
            }
        }
        14 => Message::PathSetup {
            session: session(u)?,
            path_id: u.int_in_range(0..=MAX_PATH_ID)?,
            path: path(u)?,
        },
        _ => Message::Error {
            code: *u.choose(&[
                ErrorCode::BadToken,
                ErrorCode::SessionLimit,
                ErrorCode::RateLimited,
                ErrorCode::DestinationRefused,
                ErrorCode::UnknownSession,
                ErrorCode::UnsupportedVersion,
                ErrorCode::Malformed,
                ErrorCode::Internal,
            ])?,
            message: text(u, MAX_ERROR_MESSAGE_LEN)?,
        },
    })
}

/// A page of 0..=8 sync items of 1..=1024 bytes (within the page's byte budget).
fn sync_items(u: &mut Unstructured<'_>) -> Result<Vec<SyncItem>> {
    let n = u.int_in_range(0..=8)?;
    (0..n)
        .map(|_| {
            let len = u.int_in_range(1..=MAX_SYNC_ITEM_LEN)?;
            Ok(SyncItem(u.bytes(len)?.to_vec()))
        })
        .collect()
}

/// A trace context with non-zero ids and, sometimes, a well-formed `tracestate`.
pub fn trace(u: &mut Unstructured<'_>) -> Result<TraceContext> {
    let mut trace_id: [u8; 16] = u.arbitrary()?;
    trace_id[15] |= u8::from(trace_id == [0; 16]);
    let mut parent_id: [u8; 8] = u.arbitrary()?;
    parent_id[7] |= u8::from(parent_id == [0; 8]);
    let ctx = TraceContext::new(trace_id, parent_id, u.arbitrary()?).expect("ids are non-zero");
    if !u.arbitrary::<bool>()? {
        return Ok(ctx);
    }
    // Distinct keys k0..k7 with values of allowed characters, at most ~8 * 40 bytes.
    const VALUE_CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 !#$%&'()*+-./:;<>?@[]^_`{|}~";
    let mut state = String::new();
    for i in 0..u.int_in_range(0..=8u8)? {
        if i > 0 {
            state.push(',');
        }
        state.push_str(&format!("k{i}="));
        for _ in 0..u.int_in_range(0..=30u8)? {
            state.push(char::from(*u.choose(VALUE_CHARS)?));
        }
        state.push('v'); // a value is non-empty and may not end in a space
    }
    Ok(ctx
        .with_tracestate(state)
        .expect("built to the W3C grammar"))
}

fn visible(u: &mut Unstructured<'_>, max: usize) -> Result<String> {
    let len = u.int_in_range(1..=max)?;
    let mut s = String::with_capacity(len);
    for _ in 0..len {
        s.push(char::from(b'!' + u.int_in_range(0..=93u8)?));
    }
    Ok(s)
}

/// Arbitrary UTF-8 cut to at most `max` bytes on a character boundary.
fn text(u: &mut Unstructured<'_>, max: usize) -> Result<String> {
    let mut s: String = u.arbitrary()?;
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    Ok(s)
}

fn addr(u: &mut Unstructured<'_>) -> Result<SocketAddr> {
    let port = u.int_in_range(1..=u16::MAX)?;
    Ok(if u.arbitrary()? {
        SocketAddr::V4(SocketAddrV4::new(
            Ipv4Addr::from(u.arbitrary::<[u8; 4]>()?),
            port,
        ))
    } else {
        SocketAddr::V6(SocketAddrV6::new(
            Ipv6Addr::from(u.arbitrary::<[u8; 16]>()?),
            port,
            0,
            0,
        ))
    })
}

fn fec(u: &mut Unstructured<'_>) -> Result<FecScheme> {
    Ok(match u.choose_index(5)? {
        0 => FecScheme::Off,
        1 => FecScheme::Xor {
            k: u.int_in_range(1..=15)?,
        },
        2 => FecScheme::ReedSolomon {
            k: u.int_in_range(1..=15)?,
            m: u.int_in_range(1..=15)?,
        },
        3 => FecScheme::Duplicate,
        _ => FecScheme::Sliding {
            window: u.int_in_range(1..=15)?,
            repairs: u.int_in_range(1..=15)?,
            interval: u.int_in_range(1..=15)?,
        },
    })
}

fn session(u: &mut Unstructured<'_>) -> Result<SessionId> {
    Ok(SessionId(u.int_in_range(1..=u32::MAX)?))
}

fn key(u: &mut Unstructured<'_>) -> Result<SessionKey> {
    let mut key: [u8; 32] = u.arbitrary()?;
    key[31] |= u8::from(key == [0; 32]);
    Ok(SessionKey(key))
}

fn path(u: &mut Unstructured<'_>) -> Result<Vec<HopSpec>> {
    let hops = u.int_in_range(0..=MAX_PATH_HOPS)?;
    (0..hops)
        .map(|_| {
            Ok(HopSpec {
                node: visible(u, MAX_NODE_NAME_LEN)?,
                data_addr: addr(u)?,
            })
        })
        .collect()
}
