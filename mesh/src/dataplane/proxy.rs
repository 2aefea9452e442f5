//! The proxy end of a session (pure): binds a downstream address per path only on an
//! authenticated Bind stamped with that path's id, answers it with a same-sized BindAck, and
//! otherwise accepts packets only from the address bound for the path they carry. Game
//! datagrams come out through [`EndpointOutput::deliver`] for the egress socket.
//!
//! Downstream, game datagrams go on the path the latest upstream game datagram came in on,
//! and on the other path too while upstream data also arrives there (the edge is duplicating:
//! multipath). Replies to probes and Binds go back on the path the request came on. The
//! later copy of a duplicated packet is dropped by the replay window before FEC or the game
//! see it, and counted as deduplicated. When the edge sends its FEC repairs on the other path
//! (cross-path parity), so does the proxy.
//!
//! The game traffic through the session also times the leg to the game server
//! (`server_leg.rs`): an upstream game datagram delivered, the server's next datagram back.
//! Where the proxy also queries the server (`server_probe.rs`), its driver writes the probed
//! estimate here once per answer; [`ProxySession::stats`] reports it in preference, since the
//! passive one reads low once the leg is longer than the game's packet interval.

use std::net::SocketAddr;
use std::time::Duration;

use lightspeed_protocol::Micros;
use lightspeed_protocol::header::{Packet, PacketType};

use super::DropReason;
use super::edge::PATHS;
use super::endpoint::{Endpoint, EndpointOutput, EndpointStats};
use super::limiter::TokenBucket;
use super::server_leg::ServerLeg;

/// The other path is treated as duplicating while upstream game data arrived on it within
/// this of now. 100 ms is three packet gaps at 30 pps (the slowest profile), so a
/// duplicating edge is never missed between two packets, and a path the edge stopped using
/// stops getting copies within a tenth of a second.
pub const DUPLICATE_WINDOW: Duration = Duration::from_millis(100);

/// Downstream parity goes on the other path while the edge's upstream parity arrived on it
/// within this of now (the edge runs cross-path parity). Parity is sparser than data (one or
/// two per FEC group: every ~130 ms at 30 pps with four data packets a group), so the window
/// is a second, not [`DUPLICATE_WINDOW`].
pub const PARITY_WINDOW: Duration = Duration::from_secs(1);

/// What the driver must do after a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyEvent {
    /// Nothing beyond the outputs already emitted.
    None,
    /// The peer closed the session: remove it.
    Closed,
}

/// A session at its proxy.
#[derive(Debug)]
pub struct ProxySession {
    /// The tunnel endpoint; its peer is the primary downstream address.
    pub endpoint: Endpoint,
    limiter: TokenBucket,
    downstream: [Option<SocketAddr>; PATHS],
    last_data: [Option<Micros>; PATHS],
    last_parity: [Option<Micros>; PATHS],
    primary: usize,
    /// Sequence number of the newest data packet seen: only a newer one moves `primary`, so
    /// a packet still in flight on the path the edge just left (a slower one, say) does not
    /// pull the replies back onto it.
    newest_data: Option<u32>,
    server_leg: ServerLeg,
    probed_server_rtt_us: Option<u64>,
}

impl ProxySession {
    /// A session admitted but not yet bound.
    pub fn new(endpoint: Endpoint, limiter: TokenBucket) -> ProxySession {
        ProxySession {
            endpoint,
            limiter,
            downstream: [None; PATHS],
            last_data: [None; PATHS],
            last_parity: [None; PATHS],
            primary: 0,
            newest_data: None,
            server_leg: ServerLeg::default(),
            probed_server_rtt_us: None,
        }
    }

    /// The address bound for path `id`.
    pub fn downstream(&self, id: u8) -> Option<SocketAddr> {
        self.downstream.get(usize::from(id)).copied().flatten()
    }

    /// The path downstream game datagrams go on first.
    pub fn primary_path(&self) -> u8 {
        self.primary as u8
    }

    /// Handles an authenticated packet that arrived from `from`.
    pub fn on_packet(
        &mut self,
        now: Micros,
        from: SocketAddr,
        packet: &Packet<'_>,
        out: &mut impl EndpointOutput,
    ) -> Result<ProxyEvent, DropReason> {
        let p = usize::from(packet.header.path);
        if p >= PATHS {
            return Err(DropReason::NotBound);
        }
        let is_bind = packet.header.packet_type == PacketType::Bind;
        if !is_bind && self.downstream(p as u8) != Some(from) {
            return Err(DropReason::NotBound);
        }
        if !self.limiter.try_take(now) {
            return Err(DropReason::RateLimited);
        }
        // Replies to this packet go back on its own path.
        self.endpoint.set_route(from, p as u8);
        let result = self.endpoint.on_packet(now, packet, out);
        let is_data = packet.header.packet_type == PacketType::Data;
        let multipath = self.downstream(other(p) as u8).is_some();
        let outcome = match result {
            Err(DropReason::Replay) if is_data && multipath => {
                self.mark_data(p, now);
                Err(DropReason::Deduplicated)
            }
            Err(e) => Err(e),
            Ok(Some(PacketType::Bind)) => {
                // Fresh (replay-checked) and authenticated: (re)bind this path to where it
                // came from and echo the nonce, same size as the request.
                if let Some(d) = self.downstream.get_mut(p) {
                    *d = Some(from);
                }
                self.endpoint
                    .send_control(now, PacketType::BindAck, packet.payload, out);
                if self.downstream(self.primary as u8).is_none() {
                    self.primary = p;
                }
                Ok(ProxyEvent::None)
            }
            Ok(Some(PacketType::Close)) => Ok(ProxyEvent::Closed),
            Ok(None) if packet.header.packet_type == PacketType::Parity => {
                if let Some(t) = self.last_parity.get_mut(p) {
                    *t = Some(now);
                }
                Ok(ProxyEvent::None)
            }
            Ok(Some(_)) => Err(DropReason::WrongType),
            Ok(None) => {
                if is_data {
                    // Delivered to the server just now (the output ran synchronously).
                    self.server_leg.on_upstream(now);
                    self.mark_data(p, now);
                    let seq = packet.header.seq;
                    // Wrapping order: newer when less than half the sequence space ahead.
                    if self
                        .newest_data
                        .is_none_or(|n| (seq.wrapping_sub(n) as i32) > 0)
                    {
                        self.newest_data = Some(seq);
                        self.primary = p;
                    }
                }
                Ok(ProxyEvent::None)
            }
        };
        self.route_primary();
        outcome
    }

    fn mark_data(&mut self, p: usize, now: Micros) {
        if let Some(t) = self.last_data.get_mut(p) {
            *t = Some(now);
        }
    }

    fn route_primary(&mut self) {
        if let Some(to) = self.downstream(self.primary as u8) {
            self.endpoint.set_route(to, self.primary as u8);
        }
    }

    /// Mirrors the edge's cross-path parity: repairs go on the other path while the edge's
    /// latest repairs arrived there (within [`PARITY_WINDOW`]). The latest, not "none on the
    /// primary for a second": the edge's adaptive FEC moves its repairs at once, and a
    /// second of downstream repairs left behind the data is a second unprotected from bursts.
    fn route_parity(&mut self, now: Micros) {
        let recent = |t: Option<&Option<Micros>>| {
            t.copied()
                .flatten()
                .is_some_and(|t| now.saturating_since(t) <= PARITY_WINDOW)
        };
        let b = other(self.primary);
        let at = |p: usize| self.last_parity.get(p).copied().flatten();
        let cross = recent(self.last_parity.get(b)) && at(b) > at(self.primary);
        let route = self
            .downstream(b as u8)
            .filter(|_| cross)
            .map(|to| (to, b as u8));
        self.endpoint.set_parity_route(route);
    }

    /// Where a downstream game datagram's second copy goes now, if anywhere.
    pub fn duplicate_target(&self, now: Micros) -> Option<(SocketAddr, u8)> {
        let b = other(self.primary);
        let recent = self
            .last_data
            .get(b)
            .copied()
            .flatten()
            .is_some_and(|t| now.saturating_since(t) <= DUPLICATE_WINDOW);
        let to = self.downstream(b as u8)?;
        recent.then_some((to, b as u8))
    }

    /// A datagram from the game server for this session.
    pub fn from_server(&mut self, now: Micros, payload: &[u8], out: &mut impl EndpointOutput) {
        self.server_leg.on_downstream(now);
        self.route_primary();
        self.route_parity(now);
        let dup = self.duplicate_target(now);
        self.endpoint.send_data_dup(now, payload, dup, out);
    }

    /// The proxy → game server leg as measured so far.
    pub fn server_leg(&self) -> &ServerLeg {
        &self.server_leg
    }

    /// Sets the server leg's RTT as the server prober measures it (µs), or `None` when the
    /// prober has no current figure (the server stopped answering, probing was turned off).
    pub fn set_probed_server_rtt(&mut self, us: Option<u64>) {
        self.probed_server_rtt_us = us;
    }

    /// The probed server leg RTT, µs, while it is current.
    pub fn probed_server_rtt_us(&self) -> Option<u64> {
        self.probed_server_rtt_us
    }

    /// The endpoint's figures with the server leg filled in: the probed figure while there
    /// is one, else the passive one (0: neither yet).
    pub fn stats(&self) -> EndpointStats {
        EndpointStats {
            server_rtt_us: self
                .probed_server_rtt_us
                .or(self.server_leg.srtt_us())
                .unwrap_or(0),
            ..self.endpoint.stats()
        }
    }

    /// Runs the endpoint's timers (FEC parity deadlines) towards the primary path.
    pub fn poll(&mut self, now: Micros, out: &mut impl EndpointOutput) {
        self.route_primary();
        self.route_parity(now);
        self.endpoint.poll_timers(now, out);
    }
}

fn other(p: usize) -> usize {
    1 - p.min(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lightspeed_protocol::fec::FecField;
    use lightspeed_protocol::header::{self, Header, MAX_PACKET_LEN};
    use lightspeed_protocol::{SessionId, SessionKey};

    const KEY: SessionKey = SessionKey([9; 32]);

    #[derive(Default)]
    struct Out(Vec<Vec<u8>>);

    impl EndpointOutput for Out {
        fn to_peer(&mut self, _to: SocketAddr, _header: &Header, _payload: &[u8]) {}
        fn deliver(&mut self, payload: &[u8]) {
            self.0.push(payload.to_vec());
        }
        fn dropped(&mut self, _reason: DropReason) {}
    }

    fn packet(t: PacketType, seq: u32, payload: &[u8]) -> Vec<u8> {
        let h = Header {
            packet_type: t,
            path: 0,
            session: SessionId(3),
            seq,
            timestamp: 0,
            fec: FecField::NONE,
        };
        let mut buf = vec![0u8; MAX_PACKET_LEN];
        let n = header::seal(&h, &KEY, payload, &mut buf).unwrap();
        buf.truncate(n);
        buf
    }

    #[test]
    fn the_probed_server_rtt_wins_over_the_passive_one_while_set() {
        let edge: SocketAddr = "198.51.100.10:50000".parse().unwrap();
        let mut p = ProxySession::new(
            Endpoint::new(SessionId(3), None, None, Micros(0)),
            TokenBucket::new(0, 1, Micros(0)),
        );
        let mut out = Out::default();
        let bind = packet(PacketType::Bind, 1, &[1; 8]);
        let bind = header::parse(&bind).unwrap().verify(&KEY).unwrap();
        p.on_packet(Micros(0), edge, &bind, &mut out).unwrap();
        let data = packet(PacketType::Data, 2, b"game");
        let data = header::parse(&data).unwrap().verify(&KEY).unwrap();
        p.on_packet(Micros(1_000), edge, &data, &mut out).unwrap();
        assert_eq!(out.0, vec![b"game".to_vec()]);
        // The server answers 6 ms later: the passive estimate (a long leg reads low like this).
        p.from_server(Micros(7_000), b"reply", &mut out);
        assert_eq!(p.stats().server_rtt_us, 6_000);
        p.set_probed_server_rtt(Some(30_000));
        assert_eq!(p.stats().server_rtt_us, 30_000);
        assert_eq!(p.probed_server_rtt_us(), Some(30_000));
        assert_eq!(p.server_leg().srtt_us(), Some(6_000));
        // The prober lost the server: back to the passive figure.
        p.set_probed_server_rtt(None);
        assert_eq!(p.stats().server_rtt_us, 6_000);
    }
}
