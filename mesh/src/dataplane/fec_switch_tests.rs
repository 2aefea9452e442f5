//! Scheme switches between two real endpoints with real codecs, packets reordered across the
//! switch point and lost on both sides of it.

use std::net::SocketAddr;
use std::time::Duration;

use lightspeed_protocol::fec::{FecScheme, new_decoder, new_encoder};
use lightspeed_protocol::header::{self, Header, MAX_PACKET_LEN, PacketType};
use lightspeed_protocol::replay::{ReplayError, ReplayWindow, WINDOW};
use lightspeed_protocol::{Micros, SessionId, SessionKey};

use super::*;
use crate::dataplane::DropReason;
use crate::dataplane::endpoint::{Endpoint, EndpointOutput};

const KEY: SessionKey = SessionKey([5; 32]);
const DEADLINE: Duration = Duration::from_millis(50);

#[derive(Default)]
struct Wire {
    sent: Vec<Vec<u8>>,
    delivered: Vec<Vec<u8>>,
    recovered: usize,
}

impl EndpointOutput for Wire {
    fn to_peer(&mut self, _to: SocketAddr, header: &Header, payload: &[u8]) {
        let mut buf = vec![0u8; MAX_PACKET_LEN];
        let n = header::seal(header, &KEY, payload, &mut buf).expect("valid header");
        buf.truncate(n);
        self.sent.push(buf);
    }
    fn deliver(&mut self, payload: &[u8]) {
        self.delivered.push(payload.to_vec());
    }
    fn recovered(&mut self) {
        self.recovered += 1;
    }
}

fn endpoint(scheme: FecScheme) -> Endpoint {
    let (enc, dec) = codecs(scheme);
    let mut e = Endpoint::new(SessionId(7), enc, dec, Micros(0));
    e.set_peer("192.0.2.7:4434".parse().unwrap());
    e
}

fn codecs(scheme: FecScheme) -> (Encoder, Decoder) {
    if scheme == FecScheme::Off {
        return (None, None);
    }
    (
        Some(new_encoder(scheme, DEADLINE).unwrap()),
        Some(new_decoder(scheme, 16).unwrap()),
    )
}

/// A distinct payload per packet number, of varying length.
fn payload(i: u32) -> Vec<u8> {
    let mut p = i.to_be_bytes().to_vec();
    p.resize(8 + (i as usize * 7) % 40, (i % 251) as u8);
    p
}

fn receive(ep: &mut Endpoint, now: Micros, bytes: &[u8], out: &mut Wire) -> Result<(), DropReason> {
    let p = header::parse(bytes).unwrap().verify(&KEY).unwrap();
    ep.on_packet(now, &p, out).map(|_| ())
}

fn ptype(bytes: &[u8]) -> PacketType {
    header::parse(bytes)
        .unwrap()
        .verify(&KEY)
        .unwrap()
        .header
        .packet_type
}

/// Sends `range` from `ep` at 64 packets/s starting at `t0` µs; returns the wire packets.
fn send(ep: &mut Endpoint, range: std::ops::Range<u32>, t0: u64) -> Vec<Vec<u8>> {
    let mut out = Wire::default();
    for i in range.clone() {
        let now = Micros(t0 + u64::from(i - range.start) * 15_625);
        ep.send_data(now, &payload(i), &mut out);
    }
    // Close the last open group.
    ep.poll_timers(Micros(t0 + 10_000_000), &mut out);
    out.sent
}

fn sorted(mut v: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    v.sort();
    v
}

#[test]
fn switch_with_old_packets_overtaken_delivers_every_packet_once_byte_exact() {
    let old = FecScheme::ReedSolomon { k: 3, m: 2 };
    let new = FecScheme::ReedSolomon { k: 4, m: 2 };
    let mut edge = endpoint(old);
    let mut proxy = endpoint(old);

    let before = send(&mut edge, 0..30, 0);
    // The proxy arms first (the control request), then the edge jumps and switches.
    let from = edge.fec_switch_seq();
    assert!(proxy.peer_seq_ahead(from));
    proxy.arm_fec_rx(codecs(new).1, from);
    edge.switch_fec_tx(codecs(new).0, from);
    let after = send(&mut edge, 30..60, 1_000_000);

    // The last 12 old packets (data and parity) are overtaken by the first 12 new ones; one
    // data packet of each scheme is lost, so both decoders must recover.
    let (early, late) = before.split_at(before.len() - 12);
    let mut order: Vec<&Vec<u8>> = early.iter().collect();
    order.extend(after.iter().take(12));
    order.extend(late.iter());
    order.extend(after.iter().skip(12));
    // RS(3,2) sends d d d p p, RS(4,2) d d d d p p: 45 is the first data packet of the last
    // old group (in the overtaken part), 7 the second of the second new group.
    let lost = [&before[45], &after[7]];
    assert!(lost.iter().all(|p| ptype(p) == PacketType::Data));

    let mut out = Wire::default();
    let mut errors = Vec::new();
    for (n, p) in order.iter().enumerate() {
        if lost.contains(p) {
            continue;
        }
        if let Err(e) = receive(&mut proxy, Micros(2_000_000 + n as u64), p, &mut out) {
            errors.push(e);
        }
    }
    assert_eq!(errors, vec![], "no packet refused by a decoder");
    assert_eq!(out.recovered, 2, "one recovery per scheme");
    let want: Vec<Vec<u8>> = (0..60).map(payload).collect();
    assert_eq!(
        sorted(out.delivered),
        sorted(want),
        "each packet once, byte-exact"
    );
    let s = proxy.stats();
    assert_eq!(s.skipped, u64::from(SWITCH_SEQ_JUMP) - 1);
    let sent = (before.len() + after.len()) as u64;
    assert_eq!(s.expected(), sent);
    assert_eq!(s.received, sent - 2);
}

#[test]
fn a_naive_decoder_swap_loses_old_packets_in_flight() {
    // What the agreed switch point prevents: new RS(4,2) group 0 arrives first, then a
    // straggler of old RS(3,2) group 0 lands in the same slot and is taken for a duplicate.
    let old = FecScheme::ReedSolomon { k: 3, m: 2 };
    let new = FecScheme::ReedSolomon { k: 4, m: 2 };
    let mut edge = endpoint(old);
    let mut proxy = endpoint(old);
    let before = send(&mut edge, 0..3, 0);
    edge.set_fec(codecs(new).0, None);
    proxy.set_fec(None, codecs(new).1);
    let after = send(&mut edge, 3..5, 1_000_000);
    let mut out = Wire::default();
    receive(&mut proxy, Micros(1), &after[0], &mut out).unwrap();
    // Refused as not fitting the slot that new group 0 opened: payload 0 is lost.
    assert_eq!(
        receive(&mut proxy, Micros(2), &before[0], &mut out),
        Err(DropReason::FecRejected)
    );
    assert_eq!(out.delivered, vec![payload(3)]);
}

#[test]
fn proxy_side_switch_waits_for_the_edge_and_both_directions_change() {
    let old = FecScheme::Xor { k: 4 };
    let new = FecScheme::Off;
    let mut edge = endpoint(old);
    let mut proxy = endpoint(old);
    let mut e_out = Wire::default();
    let mut p_out = Wire::default();

    // Edge → proxy: "switch, my switch point is `up`"; proxy arms, schedules its own switch
    // and answers with `down`.
    let up = edge.fec_switch_seq();
    proxy.arm_fec_rx(codecs(new).1, up);
    let down = proxy.fec_switch_seq();
    proxy.schedule_fec_tx(codecs(new).0, down, up);
    assert!(proxy.fec_switch_pending());

    // Downstream traffic before the edge acted stays on XOR and decodes at the edge.
    for p in send(&mut proxy, 100..108, 0) {
        receive(&mut edge, Micros(1), &p, &mut e_out).unwrap();
    }
    assert_eq!(e_out.delivered.len(), 8);

    // The edge gets the answer: arms downstream, then switches upstream.
    edge.arm_fec_rx(codecs(new).1, down);
    edge.switch_fec_tx(codecs(new).0, up);
    let first_new = send(&mut edge, 0..1, 1_000_000);
    assert_eq!(first_new.len(), 1, "FEC off: no parity");
    receive(&mut proxy, Micros(2), &first_new[0], &mut p_out).unwrap();
    assert!(
        !proxy.fec_switch_pending(),
        "the proxy switched on the edge's packet"
    );

    // Downstream is now unprotected and numbered from `down`; an XOR parity still in flight
    // from before reaches the edge's previous decoder, not the new one.
    let new_down = send(&mut proxy, 108..116, 2_000_000);
    assert_eq!(new_down.len(), 8);
    for p in &new_down {
        receive(&mut edge, Micros(3), p, &mut e_out).unwrap();
    }
    let want: Vec<Vec<u8>> = (100..116).map(payload).collect();
    assert_eq!(sorted(e_out.delivered.clone()), sorted(want));
    // `down` was announced when the proxy had sent nothing; it sent 10 packets meanwhile.
    assert_eq!(edge.stats().skipped, u64::from(down) - 10 - 1);
    assert_eq!(edge.stats().loss(), 0.0);
    assert_eq!(proxy.stats().loss(), 0.0);
}

#[test]
fn old_packets_pass_the_old_window_once_and_the_previous_scheme_retires() {
    let mut sw = FecSwitch::default();
    let mut replay = ReplayWindow::new();
    let mut current: Decoder = Some(new_decoder(FecScheme::Xor { k: 2 }, 4).unwrap());
    let mut accept = |sw: &mut FecSwitch, current: &mut Decoder, seq: u32| {
        sw.accept(&mut replay, seq, current).map(|(ext, _)| ext)
    };
    assert_eq!(accept(&mut sw, &mut current, 10), Ok(10));
    sw.arm(None, 5_000, Some(10));
    assert_eq!(accept(&mut sw, &mut current, 50), Ok(50));
    assert!(current.is_some(), "not yet: 50 is before the switch point");
    assert_eq!(accept(&mut sw, &mut current, 5_000), Ok(5_000));
    assert!(current.is_none(), "FEC off from 5,000 on");
    assert_eq!(sw.skipped(), 5_000 - 51);
    // A straggler from before the switch, 4,990 behind: accepted once, by the old window.
    assert_eq!(accept(&mut sw, &mut current, 11), Ok(11));
    assert_eq!(
        accept(&mut sw, &mut current, 11),
        Err(ReplayError::Duplicate)
    );
    assert_eq!(
        accept(&mut sw, &mut current, 50),
        Err(ReplayError::Duplicate)
    );
    assert!(
        sw.decoder(49, &mut current).is_some(),
        "the old XOR decoder"
    );
    assert!(sw.decoder(5_000, &mut current).is_none());
    let last = 5_000 + WINDOW as u32;
    assert_eq!(accept(&mut sw, &mut current, last), Ok(u64::from(last)));
    assert!(sw.previous().is_some());
    assert_eq!(
        accept(&mut sw, &mut current, last + 1),
        Ok(u64::from(last) + 1)
    );
    assert!(
        sw.previous().is_none(),
        "nothing older can pass the replay window now"
    );
    assert_eq!(accept(&mut sw, &mut current, 12), Err(ReplayError::TooOld));
    assert_eq!(sw.switches(), 1);
}

#[test]
fn extension_follows_the_replay_window_across_the_wrap() {
    assert_eq!(extend(None, 5), 5);
    assert_eq!(extend(Some(10), 20), 20);
    let top = (1u64 << 32) - 3;
    assert_eq!(extend(Some(top), 2), (1 << 32) + 2);
    assert_eq!(extend(Some((1 << 32) + 2), u32::MAX), (1 << 32) - 1);
}
