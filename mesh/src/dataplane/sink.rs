//! The socket-side [`EndpointOutput`]: seals packets for the peer into a send batch and hands
//! game datagrams to the local socket, counting everything.

use std::net::SocketAddr;
use std::os::fd::RawFd;

use lightspeed_protocol::SessionKey;
use lightspeed_protocol::header::{self, Header};

use super::batch_io::SendBatch;
use super::endpoint::EndpointOutput;
use super::{Counters, Direction, DropReason};

/// Where game datagrams go at this end.
pub(crate) enum Local<'a> {
    /// The proxy's connected egress socket towards the game server.
    Server(&'a tokio::net::UdpSocket),
    /// The edge's redirect socket and the game client's address.
    Game(&'a tokio::net::UdpSocket, SocketAddr),
}

pub(crate) struct Sink<'a> {
    pub(crate) batch: &'a mut SendBatch,
    pub(crate) fd: RawFd,
    pub(crate) key: &'a SessionKey,
    pub(crate) counters: &'a Counters,
    /// Direction of packets sent to the peer.
    pub(crate) towards_peer: Direction,
    pub(crate) local: Local<'a>,
}

/// Sends what is queued; a full socket buffer drops the batch (counted), since waiting would
/// stall every other session on this loop.
pub(crate) fn flush(batch: &mut SendBatch, fd: RawFd, counters: &Counters) {
    while !batch.is_empty() {
        match batch.flush(fd) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => {
                for _ in 0..batch.len() {
                    counters.dropped(DropReason::SendFailed);
                }
                batch.clear();
            }
        }
    }
}

impl EndpointOutput for Sink<'_> {
    fn to_peer(&mut self, to: SocketAddr, header: &Header, payload: &[u8]) {
        if self.batch.is_full() {
            flush(self.batch, self.fd, self.counters);
        }
        let Some(slot) = self.batch.slot(to) else {
            self.counters.dropped(DropReason::SendFailed);
            return;
        };
        match header::seal(header, self.key, payload, slot) {
            Ok(n) => {
                self.batch.commit(n);
                self.counters.packet(self.towards_peer, n);
            }
            // Only an oversized payload gets here; the redirect loop refuses those earlier.
            Err(_) => self.counters.dropped(DropReason::BadLength),
        }
    }

    fn deliver(&mut self, payload: &[u8]) {
        let sent = match &self.local {
            Local::Server(sock) => sock.try_send(payload).is_ok(),
            Local::Game(sock, to) => sock.try_send_to(payload, *to).is_ok(),
        };
        if sent {
            let dir = match self.towards_peer {
                Direction::Upstream => Direction::Downstream,
                Direction::Downstream => Direction::Upstream,
            };
            self.counters.packet(dir, payload.len());
        } else {
            self.counters.dropped(DropReason::SendFailed);
        }
    }

    fn recovered(&mut self) {
        self.counters.fec_recovered();
    }

    fn parity_sent(&mut self) {
        self.counters.fec_parity_sent();
    }

    fn rtt(&mut self, rtt: std::time::Duration) {
        self.counters.rtt(rtt);
    }

    fn dropped(&mut self, reason: DropReason) {
        self.counters.dropped(reason);
    }
}
