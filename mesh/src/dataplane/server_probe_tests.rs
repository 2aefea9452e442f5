use super::*;
use crate::policy::Cidr;

const INFO: &[u8] = b"\xFF\xFF\xFF\xFFI\x11server\0map\0";

fn ms(v: u64) -> Micros {
    Micros(v * 1000)
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn settings(kind: ProbeKind) -> ProberSettings {
    ProberSettings {
        kind,
        interval: Duration::from_secs(1),
        ports: Vec::new(),
        max_targets: 4,
        policy: DestinationPolicy::default(),
    }
}

/// Polls and returns what was sent.
fn sent(p: &mut ServerProber, now: Micros) -> Vec<(SocketAddr, Vec<u8>)> {
    let mut out = Vec::new();
    p.poll(now, |to, bytes| out.push((to, bytes.to_vec())));
    out
}

#[test]
fn a2s_query_answer_and_challenge_round() {
    let server = addr("203.0.113.5:27015");
    let mut p = ServerProber::new(settings(ProbeKind::A2s));
    assert_eq!(p.touch(ms(0), server), Touch::Tracked);
    let q = sent(&mut p, ms(0));
    assert_eq!(q, vec![(server, server_query::A2S_INFO.to_vec())]);
    // Nothing more while the query is outstanding or before the interval.
    assert!(sent(&mut p, ms(500)).is_empty());
    let s = p
        .on_reply(ms(30), server, b"\xFF\xFF\xFF\xFFA\x01\x02\x03\x04")
        .unwrap();
    assert_eq!((s.rtt_us, s.srtt_us), (30_000, 30_000));
    // The challenge rides on the next query; the info answer is a sample too.
    let q = sent(&mut p, ms(1_000));
    let mut with_challenge = server_query::A2S_INFO.to_vec();
    with_challenge.extend([1, 2, 3, 4]);
    assert_eq!(q, vec![(server, with_challenge)]);
    let s = p.on_reply(ms(1_022), server, INFO).unwrap();
    // (30 * 7 + 22) / 8 = 29 ms
    assert_eq!((s.rtt_us, s.srtt_us), (22_000, 29_000));
    let v = p.target(server).unwrap();
    assert_eq!((v.sent, v.answered, v.min_us), (2, 2, Some(22_000)));
    assert_eq!(v.fresh_srtt_us(), Some(29_000));
}

#[test]
fn only_the_server_and_only_answers_of_the_kind_are_samples() {
    let server = addr("203.0.113.5:27015");
    let mut p = ServerProber::new(settings(ProbeKind::A2s));
    p.touch(ms(0), server);
    sent(&mut p, ms(0));
    let stranger = addr("203.0.113.6:27015");
    assert_eq!(
        p.on_reply(ms(5), stranger, INFO),
        Err(Ignored::UnknownSource)
    );
    // Same IP, other port: another address.
    let other_port = addr("203.0.113.5:27016");
    assert_eq!(
        p.on_reply(ms(5), other_port, INFO),
        Err(Ignored::UnknownSource)
    );
    // A game datagram from the server, our own query reflected, a short challenge.
    for junk in [
        &b"\x10game"[..],
        &server_query::A2S_INFO[..],
        b"\xFF\xFF\xFF\xFFA\x01",
        b"",
    ] {
        assert_eq!(p.on_reply(ms(6), server, junk), Err(Ignored::NotAnAnswer));
    }
    assert!(p.on_reply(ms(20), server, INFO).is_ok());
    // A second datagram of the same answer (a split answer's next part) is no sample.
    assert_eq!(
        p.on_reply(ms(21), server, b"\xFE\xFF\xFF\xFF\x01\x00\x00\x00\x02\x01"),
        Err(Ignored::NotOutstanding)
    );
    let c = p.counters();
    assert_eq!((c.sent, c.answered, c.ignored), (1, 1, 7));
}

#[test]
fn udp_kind_sends_the_payload_and_matches_the_prefix() {
    let server = addr("198.51.100.9:7777");
    let kind = ProbeKind::Udp {
        payload: vec![0xde, 0xad],
        reply_prefix: vec![0xbe, 0xef],
    };
    let mut p = ServerProber::new(settings(kind));
    p.touch(ms(0), server);
    assert_eq!(sent(&mut p, ms(0)), vec![(server, vec![0xde, 0xad])]);
    assert_eq!(p.on_reply(ms(3), server, INFO), Err(Ignored::NotAnAnswer));
    assert_eq!(
        p.on_reply(ms(4), server, &[0xbe]),
        Err(Ignored::NotAnAnswer)
    );
    let s = p.on_reply(ms(9), server, &[0xbe, 0xef, 0]).unwrap();
    assert_eq!(s.rtt_us, 9_000);
}

#[test]
fn a_silent_server_is_backed_off_doubling_and_recovers_when_it_answers() {
    let server = addr("203.0.113.5:27015");
    let mut p = ServerProber::new(settings(ProbeKind::A2s));
    p.touch(ms(0), server);
    // Queries at 0, 1, 2, 3, 4 s (each lost a second later, the next sent at once).
    let mut t = 0;
    let mut times = Vec::new();
    while t <= 10_000 {
        p.touch(ms(t), server);
        if !sent(&mut p, ms(t)).is_empty() {
            times.push(t);
        }
        t += 100;
    }
    assert_eq!(times, vec![0, 1_000, 2_000, 3_000, 4_000]);
    let v = p.target(server).unwrap();
    assert!(v.backed_off);
    assert_eq!(v.fresh_srtt_us(), None);
    assert_eq!(p.counters().lost, 5);
    assert_eq!(p.counters().backoffs, 1);
    // Next query 60 s after the last one; lost again: 120 s after that.
    p.touch(ms(63_000), server);
    assert!(sent(&mut p, ms(63_999)).is_empty());
    assert_eq!(sent(&mut p, ms(64_000)).len(), 1);
    p.touch(ms(65_000), server);
    assert!(sent(&mut p, ms(65_000)).is_empty());
    assert_eq!(p.counters().backoffs, 2);
    for t in (70_000..184_000).step_by(10_000) {
        p.touch(ms(t), server);
        assert!(sent(&mut p, ms(t)).is_empty(), "at {t} ms");
    }
    p.touch(ms(184_000), server);
    assert_eq!(sent(&mut p, ms(184_000)).len(), 1);
    // It answers: normal rhythm again, fresh estimate.
    p.on_reply(ms(184_040), server, INFO).unwrap();
    let v = p.target(server).unwrap();
    assert_eq!((v.backed_off, v.fresh_srtt_us()), (false, Some(40_000)));
    p.touch(ms(185_000), server);
    assert_eq!(sent(&mut p, ms(185_000)).len(), 1);
}

#[test]
fn the_backoff_is_capped() {
    let server = addr("203.0.113.5:27015");
    let mut p = ServerProber::new(settings(ProbeKind::A2s));
    let mut t = 0u64;
    let mut last = 0u64;
    let mut gaps = Vec::new();
    // A day of a silent server, polled every 10 s (and every second in the first minute).
    while t < 86_400_000 {
        p.touch(ms(t), server);
        if !sent(&mut p, ms(t)).is_empty() {
            gaps.push(t - last);
            last = t;
        }
        t += if t < 60_000 { 1_000 } else { 10_000 };
    }
    assert!(gaps.iter().all(|&g| g <= 970_000), "{gaps:?}");
    assert!(
        gaps.iter().filter(|&&g| g >= 960_000).count() > 50,
        "{gaps:?}"
    );
    // 5 quick ones, then 60, 120, 240, 480, 960, 960, ... s: about 90 a day, not 86,400.
    assert!(p.target(server).unwrap().sent < 100);
}

#[test]
fn the_table_is_bounded_and_refusals_are_counted() {
    let mut p = ServerProber::new(settings(ProbeKind::A2s));
    for i in 0..6 {
        let a = SocketAddr::new([203, 0, 113, i].into(), 27015);
        let expect = if i < 4 {
            Touch::Tracked
        } else {
            Touch::Refused
        };
        assert_eq!(p.touch(ms(0), a), expect);
    }
    assert_eq!(p.len(), 4);
    assert_eq!(p.counters().refused, 2);
    assert_eq!(sent(&mut p, ms(0)).len(), 4);
}

#[test]
fn scope_and_destination_policy_are_respected() {
    let mut s = settings(ProbeKind::A2s);
    s.ports = vec![27015];
    s.policy.deny = vec![Cidr::new([203, 0, 113, 0].into(), 24).unwrap()];
    let mut p = ServerProber::new(s);
    assert_eq!(
        p.touch(ms(0), addr("198.51.100.1:27016")),
        Touch::OutOfScope
    );
    assert_eq!(p.touch(ms(0), addr("203.0.113.1:27015")), Touch::Denied);
    // Built-in refusals too: a private address is never queried.
    assert_eq!(p.touch(ms(0), addr("10.0.0.1:27015")), Touch::Denied);
    assert_eq!(p.touch(ms(0), addr("198.51.100.1:27015")), Touch::Tracked);
    assert_eq!(p.len(), 1);
    assert_eq!(p.counters().denied, 2);
}

#[test]
fn servers_no_session_uses_are_dropped() {
    let (a, b) = (addr("203.0.113.1:27015"), addr("203.0.113.2:27015"));
    let mut p = ServerProber::new(settings(ProbeKind::A2s));
    p.touch(ms(0), a);
    p.touch(ms(0), b);
    p.touch(ms(20_000), a);
    sent(&mut p, ms(29_999));
    assert_eq!(p.len(), 2);
    sent(&mut p, ms(30_000));
    assert_eq!(p.len(), 1);
    assert!(p.target(b).is_none());
    assert_eq!(p.on_reply(ms(30_001), b, INFO), Err(Ignored::UnknownSource));
    // The one left is still found through the rebuilt index.
    assert!(p.on_reply(ms(30_010), a, INFO).is_ok());
    assert_eq!(p.counters().expired, 1);
}

#[test]
fn a_late_answer_after_the_timeout_is_not_a_sample() {
    let server = addr("203.0.113.5:27015");
    let mut s = settings(ProbeKind::A2s);
    s.interval = Duration::from_secs(5);
    let mut p = ServerProber::new(s);
    p.touch(ms(0), server);
    sent(&mut p, ms(0));
    sent(&mut p, ms(1_000));
    assert_eq!(
        p.on_reply(ms(1_200), server, INFO),
        Err(Ignored::NotOutstanding)
    );
    assert_eq!(p.counters().lost, 1);
}

#[test]
fn a_new_kind_forgets_estimates_and_a_smaller_table_trims() {
    let mut p = ServerProber::new(settings(ProbeKind::A2s));
    for i in 0..4 {
        p.touch(ms(0), SocketAddr::new([203, 0, 113, i].into(), 27015));
    }
    let mut s = settings(ProbeKind::A2s);
    s.max_targets = 2;
    p.set_settings(s);
    assert_eq!(p.len(), 2);
    assert!(p.target(addr("203.0.113.1:27015")).is_some());
    assert!(p.target(addr("203.0.113.2:27015")).is_none());
    p.set_settings(settings(ProbeKind::Udp {
        payload: vec![1],
        reply_prefix: vec![2],
    }));
    assert!(p.is_empty());
}

#[test]
fn garbage_from_anywhere_never_panics_and_never_samples_without_a_query() {
    // splitmix64: seeded, no dependency.
    let mut state = 7u64;
    let mut next = move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let server = addr("203.0.113.5:27015");
    let mut p = ServerProber::new(settings(ProbeKind::A2s));
    p.touch(ms(0), server);
    let mut buf = [0u8; 64];
    let mut samples = 0;
    for i in 0..20_000u64 {
        let len = (next() % 64) as usize;
        for b in &mut buf[..len] {
            *b = next() as u8;
        }
        // Half of them with the A2S header, so the parser's deeper branches run.
        if next() % 2 == 0 && len >= 5 {
            buf[..4].copy_from_slice(&[0xFF; 4]);
        }
        let from = if next() % 2 == 0 {
            server
        } else {
            SocketAddr::new([203, 0, 113, next() as u8].into(), next() as u16)
        };
        if p.on_reply(ms(i), from, &buf[..len]).is_ok() {
            samples += 1;
        }
    }
    // Never queried: nothing is a sample.
    assert_eq!(samples, 0);
    assert_eq!(p.counters().ignored, 20_000);
}
