//! The proxy end of a session (pure): binds its downstream only on an authenticated Bind,
//! answers it with a same-sized BindAck, and otherwise accepts packets only from the bound
//! address. Game datagrams come out through [`EndpointOutput::deliver`] for the egress socket.

use std::net::SocketAddr;

use lightspeed_protocol::Micros;
use lightspeed_protocol::header::{Packet, PacketType};

use super::DropReason;
use super::endpoint::{Endpoint, EndpointOutput};
use super::limiter::TokenBucket;

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
    /// The tunnel endpoint; its peer is the bound downstream address.
    pub endpoint: Endpoint,
    limiter: TokenBucket,
}

impl ProxySession {
    /// A session admitted but not yet bound.
    pub fn new(endpoint: Endpoint, limiter: TokenBucket) -> ProxySession {
        ProxySession { endpoint, limiter }
    }

    /// Handles an authenticated packet that arrived from `from`.
    pub fn on_packet(
        &mut self,
        now: Micros,
        from: SocketAddr,
        packet: &Packet<'_>,
        out: &mut impl EndpointOutput,
    ) -> Result<ProxyEvent, DropReason> {
        let is_bind = packet.header.packet_type == PacketType::Bind;
        if !is_bind && self.endpoint.peer() != Some(from) {
            return Err(DropReason::NotBound);
        }
        if !self.limiter.try_take(now) {
            return Err(DropReason::RateLimited);
        }
        match self.endpoint.on_packet(now, packet, out)? {
            Some(PacketType::Bind) => {
                // Fresh (replay-checked) and authenticated: (re)bind to where it came from and
                // echo the nonce, same size as the request.
                self.endpoint.set_peer(from);
                self.endpoint
                    .send_control(now, PacketType::BindAck, packet.payload, out);
                Ok(ProxyEvent::None)
            }
            Some(PacketType::Close) => Ok(ProxyEvent::Closed),
            Some(_) => Err(DropReason::WrongType),
            None => Ok(ProxyEvent::None),
        }
    }

    /// A datagram from the game server for this session.
    pub fn from_server(&mut self, now: Micros, payload: &[u8], out: &mut impl EndpointOutput) {
        self.endpoint.send_data(now, payload, out);
    }
}
