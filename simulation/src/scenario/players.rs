//! The game clients: each player sends its game profile's upstream packets (rate and sizes)
//! through its last-mile link to the edge and records, per packet, when it was sent and its
//! round-trip time, or that no echo came back.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use lightspeed_edge::profiles::{self, Direction};
use lightspeed_protocol::Micros;
use parking_lot::Mutex;
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::RunError;
use crate::echo::{GAME_PACKET_HEADER, GamePacket};
use crate::traffic::GameTraffic;

/// Flow id of warm-up packets, never counted.
const WARMUP_FLOW: u32 = u32::MAX;
/// How long the tunnel may take to come up (QUIC handshake, relay installs, first bind).
const WARMUP_LIMIT: Duration = Duration::from_secs(10);
/// Warm-up probe interval.
const WARMUP_PROBE: Duration = Duration::from_millis(200);

/// One game packet's fate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// Send time, µs from the start of the measured run.
    pub sent_us: u64,
    /// Round-trip time, µs; `None` if no echo came back.
    pub rtt_us: Option<u64>,
}

/// Everything one player sent, in send order (index = sequence number).
pub(super) type Samples = Arc<Mutex<Vec<Sample>>>;

/// A player's socket, its records and its tasks.
pub(super) struct Player {
    sock: Arc<UdpSocket>,
    pub(super) samples: Samples,
    rx: Option<JoinHandle<()>>,
}

/// Binds one socket per player aimed at `targets[i]`, waits until every one gets an echo
/// through the tunnel, and starts the receivers. Returns the players and the run's clock
/// origin (`t0`), with `origin` the instant `GamePacket::sent_at` counts from.
pub(super) async fn warm_up(
    targets: &[SocketAddr],
    origin: Instant,
    capacity: usize,
) -> Result<(Vec<Player>, Instant), RunError> {
    let now = move || Micros(origin.elapsed().as_micros() as u64);
    let mut players = Vec::new();
    for t in targets {
        let sock = UdpSocket::bind("127.0.0.1:0").await.map_err(RunError::Io)?;
        sock.connect(t).await.map_err(RunError::Io)?;
        players.push(Arc::new(sock));
    }
    for (i, sock) in players.iter().enumerate() {
        let mut pkt = [0u8; 64];
        let mut buf = vec![0u8; 2048];
        let warm = async {
            loop {
                let p = GamePacket {
                    flow: WARMUP_FLOW,
                    seq: 0,
                    sent_at: now(),
                };
                if p.encode(&mut pkt).is_ok() {
                    sock.send(&pkt).await?;
                }
                if let Ok(Ok(_)) = tokio::time::timeout(WARMUP_PROBE, sock.recv(&mut buf)).await {
                    return Ok::<(), std::io::Error>(());
                }
            }
        };
        match tokio::time::timeout(WARMUP_LIMIT, warm).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(RunError::Io(e)),
            Err(_) => return Err(RunError::TunnelDown { player: i }),
        }
    }
    let t0 = Instant::now();
    let offset = t0.duration_since(origin).as_micros() as u64;
    let out = players
        .into_iter()
        .map(|sock| {
            let samples: Samples = Arc::new(Mutex::new(Vec::with_capacity(capacity)));
            let rx = tokio::spawn(receive(
                Arc::clone(&sock),
                Arc::clone(&samples),
                origin,
                offset,
            ));
            Player {
                sock,
                samples,
                rx: Some(rx),
            }
        })
        .collect();
    Ok((out, t0))
}

async fn receive(sock: Arc<UdpSocket>, samples: Samples, origin: Instant, offset: u64) {
    let mut buf = vec![0u8; 65_536];
    while let Ok(n) = sock.recv(&mut buf).await {
        let now = Micros(origin.elapsed().as_micros() as u64);
        let Ok(p) = GamePacket::decode(buf.get(..n).unwrap_or_default()) else {
            continue;
        };
        if p.flow == WARMUP_FLOW {
            continue;
        }
        let rtt = now.0.saturating_sub(p.sent_at.0);
        let mut s = samples.lock();
        // Only the first echo counts; the sample must exist and match the send time.
        if let Some(slot) = usize::try_from(p.seq).ok().and_then(|i| s.get_mut(i))
            && slot.rtt_us.is_none()
            && slot.sent_us + offset == p.sent_at.0
        {
            slot.rtt_us = Some(rtt);
        }
    }
}

impl Player {
    /// Sends the game's packets from `t0` for `duration`; the schedule is seeded.
    pub(super) fn spawn_sender(
        &self,
        profile: &str,
        seed: u64,
        stagger: Duration,
        origin: Instant,
        t0: Instant,
        duration: Duration,
    ) -> Result<JoinHandle<()>, RunError> {
        let profile = profiles::profile(profile).ok_or(RunError::Setup {
            what: "game profile".into(),
            reason: format!("unknown game '{profile}'").into(),
        })?;
        let offset = t0.duration_since(origin).as_micros() as u64;
        let start = Micros(stagger.as_micros() as u64);
        let mut schedule = GameTraffic::new(profile, Direction::ClientToServer, seed)
            .map_err(|e| RunError::Setup {
                what: "game traffic".into(),
                reason: Box::new(e),
            })?
            .starting_at(start);
        let (sock, samples) = (Arc::clone(&self.sock), Arc::clone(&self.samples));
        let end = duration.as_micros() as u64;
        Ok(tokio::spawn(async move {
            let mut out = vec![0u8; 2048];
            for seq in 0u64.. {
                let (at, size) = schedule.next_send();
                if at.0 >= end {
                    break;
                }
                tokio::time::sleep_until(t0 + Duration::from_micros(at.0)).await;
                let sent_us = t0.elapsed().as_micros() as u64;
                let size = size.clamp(GAME_PACKET_HEADER, out.len());
                let Some(buf) = out.get_mut(..size) else {
                    break;
                };
                let p = GamePacket {
                    flow: 0,
                    seq,
                    sent_at: Micros(sent_us + offset),
                };
                if p.encode(buf).is_err() {
                    break;
                }
                samples.lock().push(Sample {
                    sent_us,
                    rtt_us: None,
                });
                // A send error (e.g. a port briefly unreachable) is a lost packet, not a stop.
                let _ = sock.send(buf).await;
            }
        }))
    }

    /// Stops receiving.
    pub(super) fn stop(&mut self) {
        if let Some(rx) = self.rx.take() {
            rx.abort();
        }
    }
}

impl Drop for Player {
    fn drop(&mut self) {
        self.stop();
    }
}
