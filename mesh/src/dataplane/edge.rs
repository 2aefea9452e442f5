//! The edge end of a session (pure): binds through the path with retried Binds, queues the
//! game's first datagrams (bounded) until the BindAck, then forwards, sends keepalive probes,
//! and reports a path that stopped answering.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use lightspeed_protocol::Micros;
use lightspeed_protocol::header::{Packet, PacketType};

use super::DropReason;
use super::endpoint::{Endpoint, EndpointOutput};

/// Datagrams held while the session binds. The game's first packets are its connection
/// handshake, so they are kept rather than dropped; 32 covers ~250 ms of a 128 Hz game.
pub const MAX_PENDING: usize = 32;
/// Held datagrams older than this when the session binds are dropped, not sent: a game
/// packet a quarter second old is worse than none (the game has moved on, and a burst of
/// stale input can be replayed as if current).
pub const MAX_PENDING_AGE: Duration = Duration::from_millis(250);
/// Interval between Bind attempts until a BindAck arrives.
pub const BIND_RETRY: Duration = Duration::from_millis(100);

/// Edge session timing.
#[derive(Debug, Clone, Copy)]
pub struct EdgeTiming {
    /// Keepalive probe interval once bound.
    pub keepalive: Duration,
    /// A bound path with no authenticated packet for this long is reported dead.
    pub dead_after: Duration,
}

/// What the driver must know after an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeEvent {
    /// Nothing beyond the outputs already emitted.
    None,
    /// The BindAck arrived: the session forwards now.
    Bound,
    /// No answer on the path for `dead_after`.
    PathDead,
    /// The proxy closed the session.
    Closed,
}

/// A session at its edge.
#[derive(Debug)]
pub struct EdgeSession {
    /// The tunnel endpoint; its peer is the first hop.
    pub endpoint: Endpoint,
    nonce: [u8; 8],
    bound: bool,
    next_bind: Micros,
    next_probe: Micros,
    timing: EdgeTiming,
    pending: VecDeque<(Micros, Vec<u8>)>,
    dead_reported: bool,
}

impl EdgeSession {
    /// A session that starts binding towards `first_hop` at `now`.
    pub fn new(
        mut endpoint: Endpoint,
        first_hop: SocketAddr,
        nonce: [u8; 8],
        timing: EdgeTiming,
        now: Micros,
    ) -> EdgeSession {
        endpoint.set_peer(first_hop);
        EdgeSession {
            endpoint,
            nonce,
            bound: false,
            next_bind: now,
            next_probe: now,
            timing,
            pending: VecDeque::new(),
            dead_reported: false,
        }
    }

    /// True once the BindAck arrived.
    pub fn is_bound(&self) -> bool {
        self.bound
    }

    /// A datagram from the game client.
    pub fn from_game(
        &mut self,
        now: Micros,
        payload: &[u8],
        out: &mut impl EndpointOutput,
    ) -> Result<(), DropReason> {
        if self.bound {
            self.endpoint.send_data(now, payload, out);
            return Ok(());
        }
        if self.pending.len() >= MAX_PENDING {
            return Err(DropReason::FlowPending);
        }
        self.pending.push_back((now, payload.to_vec()));
        Ok(())
    }

    /// Handles an authenticated packet from `from`.
    pub fn on_packet(
        &mut self,
        now: Micros,
        from: SocketAddr,
        packet: &Packet<'_>,
        out: &mut impl EndpointOutput,
    ) -> Result<EdgeEvent, DropReason> {
        if self.endpoint.peer() != Some(from) {
            return Err(DropReason::NotBound);
        }
        match self.endpoint.on_packet(now, packet, out)? {
            Some(PacketType::BindAck) if packet.payload == self.nonce && !self.bound => {
                self.bound = true;
                self.dead_reported = false;
                self.next_probe = now + self.timing.keepalive;
                while let Some((held_at, p)) = self.pending.pop_front() {
                    if now.saturating_since(held_at) > MAX_PENDING_AGE {
                        out.dropped(DropReason::FlowPending);
                    } else {
                        self.endpoint.send_data(now, &p, out);
                    }
                }
                self.pending = VecDeque::new();
                Ok(EdgeEvent::Bound)
            }
            Some(PacketType::BindAck) => Ok(EdgeEvent::None),
            Some(PacketType::Close) => Ok(EdgeEvent::Closed),
            Some(_) => Err(DropReason::WrongType),
            None => {
                self.dead_reported = false;
                Ok(EdgeEvent::None)
            }
        }
    }

    /// Runs timers: Bind retries, keepalive probes, FEC deadlines, dead-path detection.
    pub fn poll(&mut self, now: Micros, out: &mut impl EndpointOutput) -> EdgeEvent {
        self.endpoint.poll_timers(now, out);
        if !self.bound {
            if now >= self.next_bind {
                let nonce = self.nonce;
                self.endpoint
                    .send_control(now, PacketType::Bind, &nonce, out);
                self.next_bind = now + BIND_RETRY;
            }
            return EdgeEvent::None;
        }
        if now >= self.next_probe {
            self.endpoint.send_probe(now, out);
            self.next_probe = now + self.timing.keepalive;
        }
        let silent = now.saturating_since(self.endpoint.last_seen());
        if silent >= self.timing.dead_after && !self.dead_reported {
            self.dead_reported = true;
            return EdgeEvent::PathDead;
        }
        EdgeEvent::None
    }

    /// Moves the session to a new first hop (failover): it binds again there, holding the
    /// game's packets meanwhile.
    pub fn rebind(&mut self, first_hop: SocketAddr, now: Micros) {
        self.endpoint.set_peer(first_hop);
        self.bound = false;
        self.next_bind = now;
    }

    /// When [`EdgeSession::poll`] must next run.
    pub fn next_timeout(&self) -> Micros {
        let timer = if self.bound {
            self.next_probe
        } else {
            self.next_bind
        };
        self.endpoint
            .next_deadline()
            .map_or(timer, |d| d.min(timer))
    }
}

#[cfg(test)]
#[path = "roles_tests.rs"]
mod tests;
