//! A stand-in game server that echoes every datagram, and the probe payload sent to it.
//!
//! The traffic driver sends [`GamePacket`]s shaped by [`crate::traffic`] through the tunnel to
//! an [`EchoServer`]; each echo comes back carrying its own flow id, sequence number and send
//! time, so RTT and loss are computed per packet without any state on the server.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use lightspeed_protocol::Micros;
use tokio::net::UdpSocket;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Bytes of [`GamePacket`] fields at the start of every probe (flow 4 + seq 8 + time 8); also
/// the smallest probe.
pub const GAME_PACKET_HEADER: usize = 20;

/// Largest probe: the UDP payload limit over IPv4.
pub const GAME_PACKET_MAX: usize = 65_507;

/// Why a probe could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GamePacketError {
    /// The buffer is shorter than [`GAME_PACKET_HEADER`].
    #[error("game packet of {len} bytes is shorter than the {GAME_PACKET_HEADER}-byte header")]
    TooShort {
        /// Length of the buffer.
        len: usize,
    },
    /// The buffer is longer than [`GAME_PACKET_MAX`].
    #[error("game packet of {len} bytes exceeds the UDP limit {GAME_PACKET_MAX}")]
    TooLarge {
        /// Length of the buffer.
        len: usize,
    },
}

/// The test payload a simulated game sends: who, which packet, and when, then zero padding up
/// to the wanted size. Big-endian on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GamePacket {
    /// Which simulated flow sent it.
    pub flow: u32,
    /// Per-flow sequence number, from 0.
    pub seq: u64,
    /// Sender's clock when it was sent.
    pub sent_at: Micros,
}

impl GamePacket {
    /// Writes the probe over all of `out`: the 20 header bytes, then zeros. The packet's size is
    /// `out.len()`, which must be in `GAME_PACKET_HEADER..=GAME_PACKET_MAX`. Allocates nothing.
    pub fn encode(&self, out: &mut [u8]) -> Result<(), GamePacketError> {
        let len = out.len();
        if len > GAME_PACKET_MAX {
            return Err(GamePacketError::TooLarge { len });
        }
        let (head, pad) = out
            .split_at_mut_checked(GAME_PACKET_HEADER)
            .ok_or(GamePacketError::TooShort { len })?;
        let (flow, rest) = head.split_at_mut(4);
        let (seq, time) = rest.split_at_mut(8);
        flow.copy_from_slice(&self.flow.to_be_bytes());
        seq.copy_from_slice(&self.seq.to_be_bytes());
        time.copy_from_slice(&self.sent_at.0.to_be_bytes());
        pad.fill(0);
        Ok(())
    }

    /// Reads a probe (padding is ignored, so any size in range decodes).
    pub fn decode(bytes: &[u8]) -> Result<GamePacket, GamePacketError> {
        let len = bytes.len();
        if len > GAME_PACKET_MAX {
            return Err(GamePacketError::TooLarge { len });
        }
        let too_short = GamePacketError::TooShort { len };
        let (flow, rest) = bytes.split_first_chunk::<4>().ok_or(too_short.clone())?;
        let (seq, rest) = rest.split_first_chunk::<8>().ok_or(too_short.clone())?;
        let (time, _) = rest.split_first_chunk::<8>().ok_or(too_short)?;
        Ok(GamePacket {
            flow: u32::from_be_bytes(*flow),
            seq: u64::from_be_bytes(*seq),
            sent_at: Micros(u64::from_be_bytes(*time)),
        })
    }

    /// Round-trip time of this probe's echo received at `now` (zero if `now` is earlier).
    pub fn rtt(&self, now: Micros) -> Duration {
        now.saturating_since(self.sent_at)
    }
}

/// Counters of an [`EchoServer`], as read at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EchoStats {
    /// Datagrams received (each is echoed once).
    pub packets: u64,
    /// Payload bytes received.
    pub bytes: u64,
    /// Receive or send errors (ICMP unreachable reported on the socket, full buffers).
    pub errors: u64,
}

#[derive(Debug, Default)]
struct Counters {
    packets: AtomicU64,
    bytes: AtomicU64,
    errors: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> EchoStats {
        EchoStats {
            packets: self.packets.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
        }
    }
}

/// Receive buffer: one datagram of the largest possible size, allocated once per server.
const RECV_BUF: usize = 65_535;

/// After this many socket errors in a row the socket is taken to be broken and the server
/// stops, rather than spinning on an error that will not clear.
const MAX_CONSECUTIVE_ERRORS: u32 = 64;

/// A UDP echo server on a tokio task: every datagram goes back to its sender unchanged.
///
/// It stops on [`EchoServer::shutdown`] (which waits until the socket is closed) or when
/// dropped (the task is aborted and the socket closes shortly after).
#[derive(Debug)]
pub struct EchoServer {
    local_addr: SocketAddr,
    counters: Arc<Counters>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl EchoServer {
    /// Binds `addr` (use port 0 for an ephemeral port) and starts echoing. Must be called
    /// inside a tokio runtime.
    pub async fn bind(addr: SocketAddr) -> io::Result<EchoServer> {
        let socket = UdpSocket::bind(addr).await?;
        let local_addr = socket.local_addr()?;
        let counters = Arc::new(Counters::default());
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(serve(socket, Arc::clone(&counters), stopped));
        Ok(EchoServer {
            local_addr,
            counters,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The bound address (with the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Datagrams echoed so far.
    pub fn packets(&self) -> u64 {
        self.counters.packets.load(Ordering::Relaxed)
    }

    /// All counters.
    pub fn stats(&self) -> EchoStats {
        self.counters.snapshot()
    }

    /// Stops the server and waits until its socket is closed; returns the final counters.
    pub async fn shutdown(mut self) -> EchoStats {
        if let Some(stop) = self.stop.take() {
            // The task may already have ended on errors; then nobody listens, which is fine.
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            // The task never panics; a JoinError could only be a cancellation.
            let _ = task.await;
        }
        self.counters.snapshot()
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn serve(socket: UdpSocket, counters: Arc<Counters>, mut stopped: oneshot::Receiver<()>) {
    let mut buf = vec![0u8; RECV_BUF];
    let mut consecutive_errors = 0u32;
    loop {
        let received = tokio::select! {
            _ = &mut stopped => return,
            r = socket.recv_from(&mut buf) => r,
        };
        let ok = match received {
            Ok((len, from)) => {
                counters.packets.fetch_add(1, Ordering::Relaxed);
                counters.bytes.fetch_add(len as u64, Ordering::Relaxed);
                let datagram = buf.get(..len).unwrap_or_default();
                socket.send_to(datagram, from).await.is_ok()
            }
            Err(_) => false,
        };
        if ok {
            consecutive_errors = 0;
        } else {
            counters.errors.fetch_add(1, Ordering::Relaxed);
            consecutive_errors += 1;
            if consecutive_errors >= MAX_CONSECUTIVE_ERRORS {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests;
