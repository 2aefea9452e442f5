//! A relay's transit entry: forwards authenticated packets of a bound session between its
//! downstream (edge side) and upstream (proxy side) neighbours, bytes unchanged.
//!
//! The relay holds the session key (installed over mutual-TLS QUIC by the proxy), so it can
//! authenticate every packet before forwarding: it is never an open reflector. It learns its
//! downstream address only from an authenticated Bind, never answers anything itself, and
//! forwards nothing for a session before that Bind.

use std::net::SocketAddr;

use lightspeed_protocol::Micros;
use lightspeed_protocol::header::{Header, PacketType};
use lightspeed_protocol::replay::ReplayError;

use super::DropReason;
use super::limiter::TokenBucket;
use super::relay_window::RelayWindow;

/// Transit state of one session on a relay.
#[derive(Debug, Clone)]
pub struct RelayState {
    upstream: SocketAddr,
    downstream: Option<SocketAddr>,
    replay_up: RelayWindow,
    replay_down: RelayWindow,
    limiter: TokenBucket,
    last_seen: Micros,
}

impl RelayState {
    /// A transit entry forwarding towards `upstream`, not yet bound downstream.
    pub fn new(upstream: SocketAddr, limiter: TokenBucket, now: Micros) -> RelayState {
        RelayState {
            upstream,
            downstream: None,
            replay_up: RelayWindow::new(),
            replay_down: RelayWindow::new(),
            limiter,
            last_seen: now,
        }
    }

    /// Last time an authenticated packet passed, for idle expiry.
    pub fn last_seen(&self) -> Micros {
        self.last_seen
    }

    /// The next hop towards the proxy.
    pub fn upstream(&self) -> SocketAddr {
        self.upstream
    }

    /// Points the entry at a new next hop (the proxy re-installed the session: its path
    /// changed beyond this relay). The downstream binding and replay windows stay.
    pub fn set_upstream(&mut self, upstream: SocketAddr) {
        self.upstream = upstream;
    }

    /// The bound downstream address, if any.
    pub fn downstream(&self) -> Option<SocketAddr> {
        self.downstream
    }

    /// Decides where an authenticated packet goes. The caller verified the MAC.
    pub fn on_packet(
        &mut self,
        now: Micros,
        from: SocketAddr,
        header: &Header,
    ) -> Result<SocketAddr, DropReason> {
        if from == self.upstream {
            let to = self.downstream.ok_or(DropReason::NotBound)?;
            self.replay_down.accept(header.seq).map_err(replay_reason)?;
            self.last_seen = now;
            return Ok(to);
        }
        let bound_here = self.downstream == Some(from);
        if !bound_here && header.packet_type != PacketType::Bind {
            return Err(DropReason::NotBound);
        }
        if !self.limiter.try_take(now) {
            return Err(DropReason::RateLimited);
        }
        self.replay_up.accept(header.seq).map_err(replay_reason)?;
        if header.packet_type == PacketType::Bind {
            // An authenticated, fresh Bind moves the session (NAT rebinding, path change).
            self.downstream = Some(from);
        }
        self.last_seen = now;
        Ok(self.upstream)
    }
}

/// Maps a replay-window refusal to its drop reason.
pub(crate) fn replay_reason(e: ReplayError) -> DropReason {
    match e {
        ReplayError::TooOld => DropReason::TooOld,
        _ => DropReason::Replay,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lightspeed_protocol::SessionId;
    use lightspeed_protocol::fec::FecField;

    fn hdr(packet_type: PacketType, seq: u32) -> Header {
        Header {
            packet_type,
            path: 0,
            session: SessionId(1),
            seq,
            timestamp: 0,
            fec: FecField::NONE,
        }
    }

    #[test]
    fn forwards_only_after_an_authenticated_bind_and_only_for_the_bound_address() {
        let up: SocketAddr = "10.0.0.1:4434".parse().unwrap();
        let edge: SocketAddr = "192.0.2.7:5000".parse().unwrap();
        let other: SocketAddr = "192.0.2.8:5000".parse().unwrap();
        let mut r = RelayState::new(up, TokenBucket::new(0, 1, Micros(0)), Micros(0));
        let now = Micros(1);
        assert_eq!(
            r.on_packet(now, edge, &hdr(PacketType::Data, 1)),
            Err(DropReason::NotBound)
        );
        assert_eq!(
            r.on_packet(now, up, &hdr(PacketType::Data, 1)),
            Err(DropReason::NotBound)
        );
        assert_eq!(r.on_packet(now, edge, &hdr(PacketType::Bind, 2)), Ok(up));
        assert_eq!(r.on_packet(now, edge, &hdr(PacketType::Data, 3)), Ok(up));
        assert_eq!(r.on_packet(now, up, &hdr(PacketType::BindAck, 1)), Ok(edge));
        assert_eq!(
            r.on_packet(now, other, &hdr(PacketType::Data, 4)),
            Err(DropReason::NotBound)
        );
        assert_eq!(
            r.on_packet(now, edge, &hdr(PacketType::Data, 3)),
            Err(DropReason::Replay)
        );
        assert_eq!(
            r.on_packet(now, up, &hdr(PacketType::Data, 1)),
            Err(DropReason::Replay)
        );
        // Rebinding to a new address needs a fresh Bind.
        assert_eq!(r.on_packet(now, other, &hdr(PacketType::Bind, 5)), Ok(up));
        assert_eq!(r.on_packet(now, up, &hdr(PacketType::Data, 2)), Ok(other));
    }

    #[test]
    fn rate_limit_applies_to_the_downstream_side() {
        let up: SocketAddr = "10.0.0.1:4434".parse().unwrap();
        let edge: SocketAddr = "192.0.2.7:5000".parse().unwrap();
        let mut r = RelayState::new(up, TokenBucket::new(10, 2, Micros(0)), Micros(0));
        assert!(
            r.on_packet(Micros(0), edge, &hdr(PacketType::Bind, 1))
                .is_ok()
        );
        assert!(
            r.on_packet(Micros(0), edge, &hdr(PacketType::Data, 2))
                .is_ok()
        );
        assert_eq!(
            r.on_packet(Micros(0), edge, &hdr(PacketType::Data, 3)),
            Err(DropReason::RateLimited)
        );
    }
}
