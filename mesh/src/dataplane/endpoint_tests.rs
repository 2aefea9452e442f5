use super::*;

fn ep() -> Endpoint {
    let mut e = Endpoint::new(SessionId(9), None, None, Micros(0));
    e.set_peer("192.0.2.1:4434".parse().unwrap());
    e
}
use lightspeed_protocol::SessionKey;
use lightspeed_protocol::header::{self, MAX_PACKET_LEN};

const KEY: SessionKey = SessionKey([3; 32]);

#[derive(Default)]
struct Wire {
    sent: Vec<Vec<u8>>,
    delivered: Vec<Vec<u8>>,
    rtts: Vec<Duration>,
    recovered: usize,
}

impl EndpointOutput for Wire {
    fn to_peer(&mut self, _to: SocketAddr, header: &Header, payload: &[u8]) {
        let mut buf = vec![0u8; MAX_PACKET_LEN];
        let n =
            header::seal(header, &KEY, payload, &mut buf).expect("endpoint emits valid headers");
        buf.truncate(n);
        self.sent.push(buf);
    }
    fn deliver(&mut self, payload: &[u8]) {
        self.delivered.push(payload.to_vec());
    }
    fn recovered(&mut self) {
        self.recovered += 1;
    }
    fn rtt(&mut self, rtt: Duration) {
        self.rtts.push(rtt);
    }
}

fn receive(
    ep: &mut Endpoint,
    now: Micros,
    bytes: &[u8],
    out: &mut Wire,
) -> Result<Option<PacketType>, DropReason> {
    let p = header::parse(bytes).unwrap().verify(&KEY).unwrap();
    ep.on_packet(now, &p, out)
}

#[test]
fn data_crosses_once_and_replays_are_dropped() {
    let mut edge = ep();
    let mut proxy = ep();
    let mut e_out = Wire::default();
    let mut p_out = Wire::default();
    for i in 0..10u8 {
        edge.send_data(Micros(u64::from(i) * 1000), &[i; 50], &mut e_out);
    }
    assert_eq!(e_out.sent.len(), 10);
    for pkt in &e_out.sent {
        assert_eq!(
            receive(&mut proxy, Micros(20_000), pkt, &mut p_out),
            Ok(None)
        );
    }
    assert_eq!(p_out.delivered.len(), 10);
    assert_eq!(p_out.delivered[3], vec![3u8; 50]);
    assert_eq!(
        receive(&mut proxy, Micros(20_000), &e_out.sent[3], &mut p_out),
        Err(DropReason::Replay)
    );
    let s = proxy.stats();
    assert_eq!((s.received, s.delivered), (10, 10));
    assert_eq!(s.loss(), 0.0);
}

#[test]
fn probe_is_answered_with_same_size_and_yields_rtt() {
    let mut edge = ep();
    let mut proxy = ep();
    let (mut e_out, mut p_out) = (Wire::default(), Wire::default());
    edge.send_probe(Micros(1_000_000), &mut e_out);
    receive(&mut proxy, Micros(1_020_000), &e_out.sent[0], &mut p_out).unwrap();
    assert_eq!(p_out.sent.len(), 1);
    assert_eq!(p_out.sent[0].len(), e_out.sent[0].len(), "no amplification");
    receive(&mut edge, Micros(1_045_000), &p_out.sent[0], &mut e_out).unwrap();
    assert_eq!(e_out.rtts, vec![Duration::from_millis(45)]);
    assert_eq!(edge.stats().srtt_us, 45_000);
}

#[test]
fn loss_and_jitter_estimates() {
    let mut edge = ep();
    let mut proxy = ep();
    let (mut e_out, mut p_out) = (Wire::default(), Wire::default());
    for i in 0..100u64 {
        edge.send_data(Micros(i * 10_000), &[1; 20], &mut e_out);
    }
    // Every 10th packet lost; alternate transit 5 ms / 7 ms so |D| = 2 ms each time.
    for (i, pkt) in e_out.sent.iter().enumerate() {
        if i % 10 == 5 {
            continue;
        }
        let transit = if i % 2 == 0 { 5_000 } else { 7_000 };
        receive(
            &mut proxy,
            Micros(i as u64 * 10_000 + transit),
            pkt,
            &mut p_out,
        )
        .unwrap();
    }
    let s = proxy.stats();
    assert!((s.loss() - 0.10).abs() < 1e-9, "{}", s.loss());
    assert_eq!(s.loss_runs, 10, "ten isolated losses are ten runs");
    // The RFC 3550 estimator tracks the mean |D|: 2 ms between neighbours, 0 across a gap
    // (i-1 and i+1 have the same transit), so 80 of 89 differences are 2 ms: about 1.8 ms.
    assert!((1_600..=2_000).contains(&s.jitter_us), "{}", s.jitter_us);
}

#[test]
fn bind_and_close_are_returned_to_the_role() {
    let mut edge = ep();
    let mut proxy = ep();
    let (mut e_out, mut p_out) = (Wire::default(), Wire::default());
    edge.send_control(Micros(0), PacketType::Bind, &[7; 8], &mut e_out);
    edge.send_control(Micros(0), PacketType::Close, &[], &mut e_out);
    assert_eq!(
        receive(&mut proxy, Micros(1), &e_out.sent[0], &mut p_out),
        Ok(Some(PacketType::Bind))
    );
    assert_eq!(
        receive(&mut proxy, Micros(1), &e_out.sent[1], &mut p_out),
        Ok(Some(PacketType::Close))
    );
    assert!(p_out.delivered.is_empty());
}

#[test]
fn parity_without_a_decoder_is_a_wrong_type_drop() {
    let mut proxy = ep();
    let mut out = Wire::default();
    let h = Header {
        packet_type: PacketType::Parity,
        path: 0,
        session: SessionId(9),
        seq: 1,
        timestamp: 0,
        fec: FecField {
            group: 0,
            index: 1,
            k: 1,
            m: 1,
        },
    };
    let mut buf = vec![0u8; MAX_PACKET_LEN];
    let n = header::seal(&h, &KEY, &[0, 1, 9], &mut buf).unwrap();
    assert_eq!(
        receive(&mut proxy, Micros(0), &buf[..n], &mut out),
        Err(DropReason::WrongType)
    );
}

#[test]
fn loss_runs_count_bursts_not_packets() {
    let mut edge = ep();
    let mut proxy = ep();
    let (mut e_out, mut p_out) = (Wire::default(), Wire::default());
    for i in 0..40u64 {
        edge.send_data(Micros(i * 10_000), &[1; 20], &mut e_out);
    }
    // Bursts of 3 (5..=7), 1 (12) and 2 (20, 21); 9 overtakes 8 at the end of the first.
    let lost = [5, 6, 7, 12, 20, 21];
    let mut order: Vec<usize> = (0..40).filter(|i| !lost.contains(i)).collect();
    order.swap(5, 6);
    assert_eq!(&order[3..7], &[3, 4, 9, 8]);
    for &i in &order {
        receive(
            &mut proxy,
            Micros(i as u64 * 10_000),
            &e_out.sent[i],
            &mut p_out,
        )
        .unwrap();
    }
    let s = proxy.stats();
    assert_eq!(s.expected() - s.received, 6);
    // 9 past 4 opens one run (5..=8), the straggler 8 none: three runs, mean burst 2.
    assert_eq!(s.loss_runs, 3);

    // Reordering alone (31 before 30) opens a run with no loss in it: the error inflates
    // the run count, so the mean burst errs towards independent loss, never burstier.
    let mut late = ep();
    let mut out = Wire::default();
    for i in (0..30).chain([31, 30]) {
        receive(&mut late, Micros(0), &e_out.sent[i], &mut out).unwrap();
    }
    assert_eq!(
        (
            late.stats().expected() - late.stats().received,
            late.stats().loss_runs
        ),
        (0, 1)
    );
}
