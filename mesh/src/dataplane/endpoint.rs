//! A tunnel endpoint (the edge or the proxy end of a session) as a pure state machine.
//!
//! It numbers and FEC-encodes outgoing game datagrams, authenticates-then-replay-checks and
//! FEC-decodes incoming ones, answers probes and measures RTT, one-way jitter and loss. All
//! effects go through an [`EndpointOutput`] the driver implements with sockets (or a test with
//! vectors). Invariant for drivers (str0m style): after every input, and whenever
//! [`Endpoint::next_deadline`] passes, call [`Endpoint::poll_timers`]; outputs are emitted
//! synchronously inside each call, so nothing is left pending between calls.

use std::net::SocketAddr;
use std::time::Duration;

use lightspeed_protocol::fec::{DataVerdict, FecDecoder, FecEncoder, FecField, MAX_PARITY_PAYLOAD};
use lightspeed_protocol::header::{
    CONTROL_PAYLOAD_LEN, Header, Packet, PacketType, ProbeReplyBody,
};
use lightspeed_protocol::replay::ReplayWindow;
use lightspeed_protocol::time::rtt_from_echo;
use lightspeed_protocol::{Micros, SessionId};

use super::DropReason;
use super::fec_switch::{self, FecSwitch, SWITCH_SEQ_JUMP};
use super::relay::replay_reason;

/// Where an endpoint's effects go.
pub trait EndpointOutput {
    /// Seal `header` + `payload` with the session key and send it to `to`, the endpoint's peer
    /// (the first hop for an edge, the bound downstream address for a proxy).
    fn to_peer(&mut self, to: SocketAddr, header: &Header, payload: &[u8]);
    /// Hand a game datagram to the local side (game client at the edge, game server at the
    /// proxy).
    fn deliver(&mut self, payload: &[u8]);
    /// A packet was rebuilt from parity (it is also passed to [`EndpointOutput::deliver`]).
    fn recovered(&mut self) {}
    /// A parity packet was sent (it is also passed to [`EndpointOutput::to_peer`]).
    fn parity_sent(&mut self) {}
    /// An RTT sample from a probe reply.
    fn rtt(&mut self, _rtt: Duration) {}
    /// A packet was dropped after authentication.
    fn dropped(&mut self, _reason: DropReason) {}
}

/// Running link figures of one endpoint, read by the health actor.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EndpointStats {
    /// Game datagrams sent.
    pub data_sent: u64,
    /// Parity packets sent.
    pub parity_sent: u64,
    /// Second copies of game datagrams sent on another path (multipath).
    pub duplicates_sent: u64,
    /// Authenticated packets received (all types).
    pub received: u64,
    /// Game datagrams delivered locally (received or recovered).
    pub delivered: u64,
    /// Game datagrams rebuilt from parity.
    pub recovered: u64,
    /// Smoothed RTT from probes (RFC 6298 style, α = 1/8), µs; 0 before the first sample.
    pub srtt_us: u64,
    /// Interarrival jitter of the peer's packets (RFC 3550 §6.4.1), µs.
    pub jitter_us: u64,
    /// First extended sequence number received, for the loss estimate.
    pub first_seq: Option<u64>,
    /// Highest extended sequence number received.
    pub highest_seq: u64,
    /// Sequence numbers the peer jumped over at FEC switches (`fec_switch.rs`): not sent,
    /// so not lost.
    pub skipped: u64,
    /// Runs of consecutive missing sequence numbers (loss bursts): a packet arriving past a
    /// gap (switch jumps excluded) starts one. `lost / loss_runs` is the mean burst length.
    pub loss_runs: u64,
    /// The proxy → game server leg's smoothed RTT from the game traffic, µs; 0 before the
    /// first sample and on every other role (`server_leg.rs`; an upper bound).
    pub server_rtt_us: u64,
}

impl EndpointStats {
    /// Fraction of the peer's packets that did not arrive, from sequence-number gaps (before
    /// FEC: it counts parity as well as data).
    pub fn loss(&self) -> f64 {
        match self.expected() {
            0 => 0.0,
            expected => 1.0 - (self.received.min(expected) as f64 / expected as f64),
        }
    }

    /// Packets the peer sent as far as sequence numbers tell (all types, switch jumps
    /// excluded); 0 before the first.
    pub fn expected(&self) -> u64 {
        match self.first_seq {
            Some(first) if self.highest_seq >= first => {
                (self.highest_seq - first + 1).saturating_sub(self.skipped)
            }
            _ => 0,
        }
    }
}

/// One end of a session's tunnel.
pub struct Endpoint {
    session: SessionId,
    peer: Option<SocketAddr>,
    path: u8,
    parity_route: Option<(SocketAddr, u8)>,
    seq_out: u32,
    replay_in: ReplayWindow,
    encoder: Option<Box<dyn FecEncoder>>,
    decoder: Option<Box<dyn FecDecoder>>,
    fec_switch: FecSwitch,
    scratch: Box<[u8]>,
    last_transit: Option<i64>,
    jitter_us_x16: u64,
    last_seen: Micros,
    stats: EndpointStats,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("session", &self.session)
            .field("fec", &self.encoder.is_some())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// A new endpoint. `encoder`/`decoder` are the session's FEC codec halves (`None`: off).
    pub fn new(
        session: SessionId,
        encoder: Option<Box<dyn FecEncoder>>,
        decoder: Option<Box<dyn FecDecoder>>,
        now: Micros,
    ) -> Endpoint {
        Endpoint {
            session,
            peer: None,
            path: 0,
            parity_route: None,
            seq_out: 0,
            replay_in: ReplayWindow::new(),
            encoder,
            decoder,
            fec_switch: FecSwitch::default(),
            scratch: vec![0u8; MAX_PARITY_PAYLOAD].into_boxed_slice(),
            last_transit: None,
            jitter_us_x16: 0,
            last_seen: now,
            stats: EndpointStats::default(),
        }
    }

    /// Replaces the FEC codec halves (FEC policy change agreed with the peer).
    pub fn set_fec(
        &mut self,
        encoder: Option<Box<dyn FecEncoder>>,
        decoder: Option<Box<dyn FecDecoder>>,
    ) {
        self.encoder = encoder;
        self.decoder = decoder;
    }

    /// The sequence number to announce as the first of a new FEC scheme in this endpoint's
    /// sending direction (`fec_switch.rs`).
    pub fn fec_switch_seq(&self) -> u32 {
        self.seq_out.wrapping_add(SWITCH_SEQ_JUMP)
    }

    /// Whether `seq` lies after every peer packet accepted so far (a valid switch point).
    pub fn peer_seq_ahead(&self, seq: u32) -> bool {
        let highest = self.replay_in.highest();
        highest.is_none_or(|h| fec_switch::extend(Some(h), seq) > h)
    }

    /// Peer packets numbered `from_seq` and later are decoded with `decoder` (`None`: FEC
    /// off); earlier ones keep the current decoder.
    pub fn arm_fec_rx(&mut self, decoder: Option<Box<dyn FecDecoder>>, from_seq: u32) {
        let highest = self.replay_in.highest();
        self.fec_switch.arm(decoder, from_seq, highest);
    }

    /// Sends with `encoder` from now on, numbering from `at` (announced to the peer earlier
    /// by [`Endpoint::fec_switch_seq`]).
    pub fn switch_fec_tx(&mut self, encoder: Option<Box<dyn FecEncoder>>, at: u32) {
        self.encoder = encoder;
        // Only forward: numbering backwards would hit the peer's replay window.
        if (at.wrapping_sub(self.seq_out) as i32) > 0 {
            self.seq_out = at.wrapping_sub(1);
        }
    }

    /// Like [`Endpoint::switch_fec_tx`], but only once a peer packet numbered `after_peer_seq`
    /// or later arrives: the peer sends those only after arming its own decoder.
    pub fn schedule_fec_tx(
        &mut self,
        encoder: Option<Box<dyn FecEncoder>>,
        at: u32,
        after_peer_seq: u32,
    ) {
        let highest = self.replay_in.highest();
        self.fec_switch
            .schedule_tx(encoder, at, after_peer_seq, highest);
    }

    /// Whether a FEC switch waits: a sender switch for the peer, or an armed decoder for its
    /// first packet.
    pub fn fec_switch_pending(&self) -> bool {
        self.fec_switch.tx_pending() || self.fec_switch.rx_armed()
    }

    /// Where packets go; `None` until known (a proxy learns it from an authenticated Bind).
    pub fn peer(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// Sets the peer address.
    pub fn set_peer(&mut self, peer: SocketAddr) {
        self.peer = Some(peer);
    }

    /// The path id stamped on outgoing packets.
    pub fn set_path(&mut self, path: u8) {
        self.path = path;
    }

    /// The path id stamped on outgoing packets.
    pub fn path(&self) -> u8 {
        self.path
    }

    /// Sends FEC parity to `route` (address, path id) instead of with the data (cross-path
    /// parity); `None` puts it back behind the data.
    pub fn set_parity_route(&mut self, route: Option<(SocketAddr, u8)>) {
        self.parity_route = route;
    }

    /// Sets where packets go and the path id they carry (a role switching between paths).
    pub fn set_route(&mut self, peer: SocketAddr, path: u8) {
        self.peer = Some(peer);
        self.path = path;
    }

    /// Figures so far.
    pub fn stats(&self) -> EndpointStats {
        EndpointStats {
            jitter_us: self.jitter_us_x16 / 16,
            ..self.stats
        }
    }

    /// Last time an authenticated packet arrived.
    pub fn last_seen(&self) -> Micros {
        self.last_seen
    }

    fn emit(
        &mut self,
        now: Micros,
        packet_type: PacketType,
        fec: FecField,
        payload: &[u8],
        out: &mut impl EndpointOutput,
    ) -> bool {
        let Some(to) = self.peer else {
            out.dropped(DropReason::NotBound);
            return false;
        };
        let header = self.header(now, packet_type, fec);
        out.to_peer(to, &header, payload);
        true
    }

    fn header(&mut self, now: Micros, packet_type: PacketType, fec: FecField) -> Header {
        self.seq_out = self.seq_out.wrapping_add(1);
        Header {
            packet_type,
            path: self.path,
            session: self.session,
            seq: self.seq_out,
            timestamp: now.as_wire(),
            fec,
        }
    }

    /// Sends one game datagram now (never delayed), then any parity that became due.
    pub fn send_data(&mut self, now: Micros, payload: &[u8], out: &mut impl EndpointOutput) {
        self.send_data_dup(now, payload, None, out);
    }

    /// Like [`Endpoint::send_data`], and with `dup = Some((to, path))` a second copy of the
    /// datagram to `to` stamped with `path`: the same sequence number and FEC fields, so the
    /// receiver's replay window keeps whichever copy arrives first and drops the other.
    /// Parity goes to the peer only.
    pub fn send_data_dup(
        &mut self,
        now: Micros,
        payload: &[u8],
        dup: Option<(SocketAddr, u8)>,
        out: &mut impl EndpointOutput,
    ) {
        let fec = match self.encoder.as_mut().map(|e| e.on_data(now, payload)) {
            Some(Ok(field)) => field,
            // Too large for FEC: still sent, just unprotected.
            Some(Err(_)) | None => FecField::NONE,
        };
        match self.peer {
            Some(to) => {
                let header = self.header(now, PacketType::Data, fec);
                out.to_peer(to, &header, payload);
                self.stats.data_sent += 1;
                if let Some((second, path)) = dup {
                    out.to_peer(second, &Header { path, ..header }, payload);
                    self.stats.duplicates_sent += 1;
                }
            }
            None => out.dropped(DropReason::NotBound),
        }
        self.poll_timers(now, out);
    }

    /// Emits parity that is due at `now`.
    pub fn poll_timers(&mut self, now: Micros, out: &mut impl EndpointOutput) {
        loop {
            let Some(enc) = self.encoder.as_mut() else {
                return;
            };
            let Some((field, len)) = enc.poll_parity(now, &mut self.scratch) else {
                return;
            };
            let Some(peer) = self.peer else {
                out.dropped(DropReason::NotBound);
                continue;
            };
            let header = self.header(now, PacketType::Parity, field);
            let (to, header) = match self.parity_route {
                Some((to, path)) => (to, Header { path, ..header }),
                None => (peer, header),
            };
            out.to_peer(to, &header, &self.scratch[..len]);
            out.parity_sent();
            self.stats.parity_sent += 1;
        }
    }

    /// When [`Endpoint::poll_timers`] must next be called.
    pub fn next_deadline(&self) -> Option<Micros> {
        self.encoder.as_ref().and_then(|e| e.next_deadline())
    }

    /// Sends a keepalive probe; the peer answers with a same-sized probe reply.
    pub fn send_probe(&mut self, now: Micros, out: &mut impl EndpointOutput) {
        self.emit(
            now,
            PacketType::Probe,
            FecField::NONE,
            &[0u8; CONTROL_PAYLOAD_LEN],
            out,
        );
    }

    /// Sends a control-type packet (Bind, BindAck, Close) with the given payload.
    pub fn send_control(
        &mut self,
        now: Micros,
        packet_type: PacketType,
        payload: &[u8],
        out: &mut impl EndpointOutput,
    ) {
        self.emit(now, packet_type, FecField::NONE, payload, out);
    }

    /// Handles an authenticated packet from the peer. Bind, BindAck and Close are returned to
    /// the caller (the role decides what they mean); everything else is handled here.
    pub fn on_packet(
        &mut self,
        now: Micros,
        packet: &Packet<'_>,
        out: &mut impl EndpointOutput,
    ) -> Result<Option<PacketType>, DropReason> {
        let h = &packet.header;
        let (ext, tx) = self
            .fec_switch
            .accept(&mut self.replay_in, h.seq, &mut self.decoder)
            .map_err(replay_reason)?;
        if let Some(tx) = tx {
            self.switch_fec_tx(tx.encoder, tx.at);
        }
        let skipped = self.fec_switch.skipped();
        let jumped = skipped.saturating_sub(self.stats.skipped);
        self.stats.skipped = skipped;
        if self.stats.first_seq.is_some()
            && ext.saturating_sub(self.stats.highest_seq) > jumped.saturating_add(1)
        {
            self.stats.loss_runs += 1;
        }
        self.last_seen = now;
        self.stats.received += 1;
        self.stats.first_seq.get_or_insert(ext);
        self.stats.highest_seq = self.stats.highest_seq.max(ext);
        self.observe_transit(now, h.timestamp);
        match h.packet_type {
            PacketType::Data => {
                let dec = self.fec_switch.decoder(ext, &mut self.decoder);
                let verdict = match (dec, h.fec.is_some()) {
                    (Some(dec), true) => dec
                        .on_data(now, h.fec, packet.payload)
                        .map_err(|_| DropReason::FecRejected)?,
                    _ => DataVerdict::Deliver,
                };
                if verdict == DataVerdict::Duplicate {
                    return Err(DropReason::FecDuplicate);
                }
                out.deliver(packet.payload);
                self.stats.delivered += 1;
                self.drain_recovered(out);
                Ok(None)
            }
            PacketType::Parity => {
                let dec = self
                    .fec_switch
                    .decoder(ext, &mut self.decoder)
                    .ok_or(DropReason::WrongType)?;
                dec.on_parity(now, h.fec, packet.payload)
                    .map_err(|_| DropReason::FecRejected)?;
                self.drain_recovered(out);
                Ok(None)
            }
            PacketType::Probe => {
                let body = ProbeReplyBody {
                    echo_timestamp: h.timestamp,
                    hold_us: 0,
                };
                self.emit(
                    now,
                    PacketType::ProbeReply,
                    FecField::NONE,
                    &body.to_bytes(),
                    out,
                );
                Ok(None)
            }
            PacketType::ProbeReply => {
                if let Some(body) = ProbeReplyBody::from_bytes(packet.payload) {
                    let rtt = rtt_from_echo(now, body.echo_timestamp, body.hold_us);
                    let us = rtt.as_micros().min(u128::from(u64::MAX)) as u64;
                    self.stats.srtt_us = if self.stats.srtt_us == 0 {
                        us
                    } else {
                        (self.stats.srtt_us * 7 + us) / 8
                    };
                    out.rtt(rtt);
                }
                Ok(None)
            }
            other => Ok(Some(other)),
        }
    }

    fn drain_recovered(&mut self, out: &mut impl EndpointOutput) {
        // Packets of the previous scheme may still complete its groups after a switch.
        let decoders = [self.decoder.as_deref_mut(), self.fec_switch.previous()];
        for dec in decoders.into_iter().flatten() {
            while let Some(rec) = dec.poll_recovered(&mut self.scratch) {
                out.deliver(&self.scratch[..rec.len]);
                out.recovered();
                self.stats.recovered += 1;
                self.stats.delivered += 1;
            }
        }
    }

    /// RFC 3550 interarrival jitter from the peer's send timestamps: the clocks' offset cancels
    /// out because only differences of transit times are used.
    fn observe_transit(&mut self, now: Micros, sent_wire: u32) {
        let transit = i64::from(now.as_wire().wrapping_sub(sent_wire) as i32);
        if let Some(prev) = self.last_transit {
            let d = (transit - prev).unsigned_abs();
            // J += (|D| - J) / 16, kept scaled by 16 to stay in integers.
            self.jitter_us_x16 = self.jitter_us_x16 + d - (self.jitter_us_x16 + 8) / 16;
        }
        self.last_transit = Some(transit);
    }
}

#[cfg(test)]
#[path = "endpoint_tests.rs"]
mod tests;
