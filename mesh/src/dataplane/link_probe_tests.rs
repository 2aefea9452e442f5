use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::time::Duration;

use super::*;

fn key(b: u8) -> SessionKey {
    SessionKey([b; 32])
}

/// A sender whose batches land on `rx`, and `rx`'s address.
fn sockets() -> (UdpSocket, UdpSocket) {
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    rx.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    (tx, rx)
}

fn received(sb: &mut SendBatch, tx: &UdpSocket, rx: &UdpSocket) -> Vec<Vec<u8>> {
    let n = sb.len();
    sb.flush(tx.as_raw_fd()).unwrap();
    (0..n)
        .map(|_| {
            let mut buf = [0u8; 64];
            let len = rx.recv(&mut buf).unwrap();
            buf[..len].to_vec()
        })
        .collect()
}

#[test]
fn a_probe_is_answered_in_place_with_an_equal_size_reply_and_the_echo_reaches_the_prober() {
    let (tx, rx) = sockets();
    let a = LinkProbes::new(key(1), Micros(0));
    let b = LinkProbes::new(key(2), Micros(0));
    a.set_slots(&[SlotKey {
        slot: 3,
        key: Some(key(2)),
    }]);
    let counters = Counters::default();
    let mut probe = [0u8; PROBE_LEN];
    let len = a.seal_probe(3, 41, Micros(1_000), &key(2), &mut probe);
    assert_eq!(len, 34);

    let parsed = header::parse(&probe).unwrap();
    assert_eq!(parsed.session(), SessionId(0xFFFF_0003));
    let mut sb = SendBatch::default();
    let from = rx.local_addr().unwrap();
    assert!(b.on_packet(Micros(2_000), parsed, from, &mut sb, &counters));
    let replies = received(&mut sb, &tx, &rx);
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].len(), len, "never larger than the probe");

    let reply = header::parse(&replies[0]).unwrap();
    assert_eq!(reply.packet_type(), PacketType::ProbeReply);
    assert!(a.on_packet(Micros(3_000), reply, from, &mut sb, &counters));
    assert!(sb.is_empty(), "replies are never answered");
    let mut echoes = Vec::with_capacity(ECHO_QUEUE);
    a.drain(&mut echoes);
    assert_eq!(
        echoes,
        [Echo {
            slot: 3,
            seq: 41,
            hold_us: 0,
            at: Micros(3_000)
        }]
    );
    assert_eq!(
        (
            a.counters().sent,
            b.counters().answered,
            a.counters().echoes
        ),
        (1, 1, 1)
    );
    assert_eq!(
        DropReason::ALL
            .iter()
            .map(|r| counters.drops(*r))
            .sum::<u64>(),
        0
    );
}

#[test]
fn forged_probes_and_replies_are_dropped_and_counted() {
    let a = LinkProbes::new(key(1), Micros(0));
    a.set_slots(&[SlotKey {
        slot: 0,
        key: Some(key(2)),
    }]);
    let counters = Counters::default();
    let mut sb = SendBatch::default();
    let from: SocketAddr = "192.0.2.7:4434".parse().unwrap();
    let mut buf = [0u8; PROBE_LEN];

    // A probe sealed with a key other than ours.
    a.seal_probe(0, 1, Micros(0), &key(9), &mut buf);
    assert!(!a.on_packet(
        Micros(0),
        header::parse(&buf).unwrap(),
        from,
        &mut sb,
        &counters
    ));
    assert_eq!(counters.drops(DropReason::BadMac), 1);

    // A reply for a slot nobody holds, and one sealed with the wrong peer key.
    let reply = |slot: u16, k: &SessionKey, out: &mut [u8; PROBE_LEN]| {
        let h = header_of(PacketType::ProbeReply, probe_session(slot), 1, Micros(0));
        header::seal(&h, k, &[0; CONTROL_PAYLOAD_LEN], out).unwrap();
    };
    reply(5, &key(2), &mut buf);
    assert!(!a.on_packet(
        Micros(0),
        header::parse(&buf).unwrap(),
        from,
        &mut sb,
        &counters
    ));
    assert_eq!(counters.drops(DropReason::UnknownSession), 1);
    reply(0, &key(1), &mut buf);
    assert!(!a.on_packet(
        Micros(0),
        header::parse(&buf).unwrap(),
        from,
        &mut sb,
        &counters
    ));
    assert_eq!(counters.drops(DropReason::BadMac), 2);

    // A freed slot no longer verifies anything.
    a.set_slots(&[SlotKey { slot: 0, key: None }]);
    reply(0, &key(2), &mut buf);
    assert!(!a.on_packet(
        Micros(0),
        header::parse(&buf).unwrap(),
        from,
        &mut sb,
        &counters
    ));
    assert_eq!(counters.drops(DropReason::UnknownSession), 2);

    // Other packet types in the probe range.
    let h = header_of(PacketType::Bind, probe_session(0), 1, Micros(0));
    header::seal(&h, &key(1), &[0; CONTROL_PAYLOAD_LEN], &mut buf).unwrap();
    assert!(!a.on_packet(
        Micros(0),
        header::parse(&buf).unwrap(),
        from,
        &mut sb,
        &counters
    ));
    assert_eq!(counters.drops(DropReason::WrongType), 1);
    assert!(sb.is_empty());
    let mut echoes = Vec::new();
    a.drain(&mut echoes);
    assert!(echoes.is_empty());
}

#[test]
fn one_source_gets_a_bounded_number_of_answers_per_second() {
    let b = LinkProbes::new(key(2), Micros(0));
    let counters = Counters::default();
    let from: SocketAddr = "192.0.2.7:4434".parse().unwrap();
    let mut buf = [0u8; PROBE_LEN];
    b.seal_probe(0, 1, Micros(0), &key(2), &mut buf);
    let mut answered = 0;
    // 1,000 replays of one valid probe within 100 ms.
    for i in 0..1_000u64 {
        let mut sb = SendBatch::default();
        let now = Micros(i * 100);
        assert!(b.on_packet(now, header::parse(&buf).unwrap(), from, &mut sb, &counters));
        answered += sb.len();
    }
    // The burst (32) plus 100/s for 0.1 s.
    assert!((32..=43).contains(&answered), "{answered}");
    assert_eq!(
        counters.drops(DropReason::ProbeRateLimited),
        1_000 - answered as u64
    );
    // Another source is not affected.
    let mut sb = SendBatch::default();
    let other: SocketAddr = "192.0.2.8:4434".parse().unwrap();
    b.on_packet(
        Micros(100_000),
        header::parse(&buf).unwrap(),
        other,
        &mut sb,
        &counters,
    );
    assert_eq!(sb.len(), 1);
}

#[test]
fn the_probe_range_is_disjoint_from_granted_sessions() {
    assert!(is_link_probe(probe_session(0)));
    assert!(is_link_probe(probe_session(u16::MAX)));
    assert!(!is_link_probe(SessionId(LINK_PROBE_BASE - 1)));
    assert_eq!(probe_session(u16::MAX), SessionId(u32::MAX));
}
