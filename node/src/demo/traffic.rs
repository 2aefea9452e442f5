//! The demo's game client: sends a game profile's packets through the edge's redirect port on
//! the profile's tick clock and matches the echoes.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use hdrhistogram::Histogram;
use lightspeed_edge::profiles::{self, Direction};
use lightspeed_protocol::Micros;
use lightspeed_sim::echo::GamePacket;
use lightspeed_sim::traffic::GameTraffic;
use parking_lot::Mutex;
use tokio::net::UdpSocket;

use super::DRAIN;
use super::mesh::DemoMesh;
use crate::cli::DemoArgs;

/// What the client saw.
pub(super) struct Outcome {
    pub(super) sent: u64,
    pub(super) received: u64,
    pub(super) duplicates: u64,
    /// Round-trip times, µs.
    pub(super) rtt: Histogram<u64>,
    pub(super) pps: u32,
}

struct Seen {
    got: Vec<bool>,
    received: u64,
    duplicates: u64,
    rtt: Histogram<u64>,
}

/// Flow id of the measured packets; warm-up packets use another so they are never counted.
const FLOW: u32 = 1;
const WARMUP_FLOW: u32 = 0;

pub(super) async fn drive(args: &DemoArgs, mesh: &DemoMesh) -> anyhow::Result<Outcome> {
    let profile =
        profiles::profile(&args.game).with_context(|| format!("unknown game '{}'", args.game))?;
    let sock = Arc::new(UdpSocket::bind("127.0.0.1:0").await?);
    sock.connect(mesh.redirect).await?;
    let origin = tokio::time::Instant::now();
    let now = move || Micros(origin.elapsed().as_micros() as u64);

    // Warm-up: the session is set up on the first packet (QUIC handshake, relay install,
    // bind); measure only once an echo has come back.
    let mut buf = vec![0u8; 2048];
    let mut pkt = [0u8; 64];
    let warm = async {
        loop {
            GamePacket {
                flow: WARMUP_FLOW,
                seq: 0,
                sent_at: now(),
            }
            .encode(&mut pkt)?;
            sock.send(&pkt).await?;
            if let Ok(Ok(_)) =
                tokio::time::timeout(Duration::from_millis(200), sock.recv(&mut buf)).await
            {
                return anyhow::Ok(());
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), warm)
        .await
        .context("the tunnel did not come up within 10 s")??;

    let pps = profile.upstream.pps;
    let total = u64::from(pps) * args.seconds;
    let seen = Arc::new(Mutex::new(Seen {
        got: vec![false; total as usize],
        received: 0,
        duplicates: 0,
        rtt: Histogram::new_with_bounds(1, 60_000_000, 3)?,
    }));
    let rx = {
        let (sock, seen) = (Arc::clone(&sock), Arc::clone(&seen));
        tokio::spawn(async move {
            let mut buf = vec![0u8; 2048];
            while let Ok(n) = sock.recv(&mut buf).await {
                let Ok(p) = GamePacket::decode(&buf[..n]) else {
                    continue;
                };
                if p.flow != FLOW {
                    continue;
                }
                let rtt = p.rtt(now()).as_micros() as u64;
                let mut s = seen.lock();
                match s.got.get(p.seq as usize).copied() {
                    Some(false) => {
                        s.got[p.seq as usize] = true;
                        s.received += 1;
                        let _ = s.rtt.record(rtt.max(1));
                    }
                    Some(true) => s.duplicates += 1,
                    None => {}
                }
            }
        })
    };

    let mut schedule =
        GameTraffic::new(profile, Direction::ClientToServer, 0xdeca)?.starting_at(now());
    let mut out = vec![0u8; 2048];
    let mut next_report = 1u64;
    for seq in 0..total {
        let (at, size) = schedule.next_send();
        tokio::time::sleep_until(origin + Duration::from_micros(at.0)).await;
        let size = size.clamp(lightspeed_sim::echo::GAME_PACKET_HEADER, out.len());
        GamePacket {
            flow: FLOW,
            seq,
            sent_at: now(),
        }
        .encode(&mut out[..size])?;
        sock.send(&out[..size]).await?;
        if seq + 1 == u64::from(pps) * next_report {
            live_line(args, next_report, seq + 1, &seen.lock(), mesh);
            next_report += 1;
        }
    }
    tokio::time::sleep(DRAIN).await;
    rx.abort();
    let s = seen.lock();
    Ok(Outcome {
        sent: total,
        received: s.received,
        duplicates: s.duplicates,
        rtt: s.rtt.clone(),
        pps,
    })
}

fn live_line(args: &DemoArgs, second: u64, sent: u64, s: &Seen, mesh: &DemoMesh) {
    let line = format!(
        "[{second:>3}s] sent {sent:>6}  echoed {:>6}  rtt p50 {:>6.2} ms  p99 {:>6.2} ms  \
         lost on link {:>4}  recovered {:>4}",
        s.received,
        s.rtt.value_at_quantile(0.5) as f64 / 1e3,
        s.rtt.value_at_quantile(0.99) as f64 / 1e3,
        mesh.link.stats().data_dropped,
        mesh.edge.dp.counters.recovered() + mesh.proxy.dp.counters.recovered(),
    );
    if args.json {
        eprintln!("{line}");
    } else {
        println!("{line}");
    }
}
