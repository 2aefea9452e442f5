//! TLS and QUIC transport configuration for the control plane.
//!
//! One server configuration accepts both kinds of peer: nodes, which present a certificate
//! from the mesh CA (verified, then named by its DNS SAN), and edges, which present none and
//! authenticate later with a token inside their first message. A client certificate from any
//! other CA fails the handshake. Clients always verify the server against the mesh CA only and
//! the expected node name. TLS 1.3 only (QUIC requires it); no 0-RTT, so no replayable
//! requests.

use std::sync::Arc;
use std::time::Duration;

use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use quinn::{IdleTimeout, TransportConfig, VarInt};
use rustls::client::WebPkiServerVerifier;
use rustls::server::WebPkiClientVerifier;

use super::QuicError;
use crate::identity::{Identity, MeshTrust, ring_provider};

/// ALPN protocol id of the LightSpeed control plane, version 1. A peer speaking anything else
/// fails the handshake with `no_application_protocol`.
pub const ALPN: &[u8] = b"lightspeed/1";

/// QUIC transport settings shared by servers and clients. Every limit is per connection unless
/// it says otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportSettings {
    /// Interval of QUIC PINGs on an otherwise quiet connection. Default 5 s: well under the
    /// 30 s UDP binding timeout of the stingiest consumer NATs an edge may sit behind, and
    /// several pings per idle timeout so one lost ping never kills a connection.
    pub keep_alive: Duration,
    /// A connection with no packets from the peer for this long is dead. Default 20 s (four
    /// missed keep-alives). Mesh liveness is SWIM's job and reacts faster; this only frees
    /// the state of peers that vanished. It also bounds a handshake that never completes.
    pub idle_timeout: Duration,
    /// Bidirectional streams the peer may have open at once, i.e. concurrent requests per
    /// connection. Default 64; more requests wait for credit instead of failing.
    pub max_concurrent_streams: u32,
    /// Bytes the peer may send on one stream ahead of our reads. Default 80 KiB: one
    /// maximum-size frame (64 KiB + 4-byte prefix) fits without waiting for a window update.
    pub stream_receive_window: u32,
    /// Bytes the peer may send on all streams of a connection ahead of our reads. Default
    /// 256 KiB, so 512 connections buffer at most 128 MiB whatever they send.
    pub receive_window: u32,
    /// Unreliable datagrams (SWIM rides on them) buffered for the application, bytes; `0`
    /// disables datagrams. Default 64 KiB (about 60 SWIM packets of ≤ 1,100 bytes). The largest
    /// datagram payload is `Connection::max_datagram_size()`: 1,162 bytes at QUIC's 1,200-byte
    /// minimum MTU (1,200 − 29 bytes of short header and AEAD tag with quinn's 8-byte
    /// connection ids − 9 bytes of DATAGRAM frame header), more once path MTU discovery raises
    /// the MTU — so SWIM's `max_packet_size` of ≤ 1,100 always fits.
    pub datagram_buffer: usize,
    /// Server only: handshakes that may be pending at once (quinn `max_incoming`). Default
    /// 256; beyond it new connection attempts are refused before any state is kept.
    pub max_pending_handshakes: usize,
}

impl Default for TransportSettings {
    fn default() -> TransportSettings {
        TransportSettings {
            keep_alive: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(20),
            max_concurrent_streams: 64,
            stream_receive_window: 80 * 1024,
            receive_window: 256 * 1024,
            datagram_buffer: 64 * 1024,
            max_pending_handshakes: 256,
        }
    }
}

impl TransportSettings {
    /// The quinn transport configuration these settings describe.
    pub fn transport_config(&self) -> Result<TransportConfig, QuicError> {
        let idle = IdleTimeout::try_from(self.idle_timeout)
            .map_err(|_| QuicError::TlsConfig("idle timeout out of range".into()))?;
        let mut t = TransportConfig::default();
        t.keep_alive_interval(Some(self.keep_alive))
            .max_idle_timeout(Some(idle))
            .max_concurrent_bidi_streams(VarInt::from_u32(self.max_concurrent_streams))
            // Every exchange is request/response on a bidirectional stream.
            .max_concurrent_uni_streams(VarInt::from_u32(0))
            .stream_receive_window(VarInt::from_u32(self.stream_receive_window))
            .receive_window(VarInt::from_u32(self.receive_window))
            .send_window(u64::from(self.receive_window))
            .datagram_receive_buffer_size(
                (self.datagram_buffer > 0).then_some(self.datagram_buffer),
            )
            .datagram_send_buffer_size(self.datagram_buffer);
        Ok(t)
    }
}

fn tls_err(e: impl std::fmt::Display) -> QuicError {
    QuicError::TlsConfig(e.to_string())
}

/// Server configuration for a node: presents `identity`'s certificate; asks every client for a
/// certificate, verifies one if given against the mesh CA (clientAuth EKU), and also accepts
/// clients that give none (edges). See [`PeerIdentity`](super::PeerIdentity).
pub fn server_config(
    identity: &Identity,
    transport: &TransportSettings,
) -> Result<quinn::ServerConfig, QuicError> {
    let provider = ring_provider();
    let verifier =
        WebPkiClientVerifier::builder_with_provider(identity.trust().roots()?, provider.clone())
            .allow_unauthenticated()
            .build()
            .map_err(tls_err)?;
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(tls_err)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![identity.node().cert_der().clone()],
            identity.node().key_der(),
        )
        .map_err(tls_err)?;
    tls.alpn_protocols = vec![ALPN.to_vec()];
    let quic = QuicServerConfig::try_from(tls).map_err(tls_err)?;
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(quic));
    config
        .transport_config(Arc::new(transport.transport_config()?))
        .max_incoming(transport.max_pending_handshakes.max(1));
    Ok(config)
}

/// Client configuration for a node: presents `identity`'s certificate (mutual TLS) and accepts
/// only servers whose certificate the mesh CA issued for the name passed at connect time.
pub fn node_client_config(
    identity: &Identity,
    transport: &TransportSettings,
) -> Result<quinn::ClientConfig, QuicError> {
    client_config(identity.trust(), Some(identity), transport)
}

/// Client configuration for an edge: no client certificate (edges are not mesh members and
/// authenticate with a token in their first message), server verified against the mesh CA and
/// the name passed at connect time.
pub fn edge_client_config(
    trust: &MeshTrust,
    transport: &TransportSettings,
) -> Result<quinn::ClientConfig, QuicError> {
    client_config(trust, None, transport)
}

fn client_config(
    trust: &MeshTrust,
    identity: Option<&Identity>,
    transport: &TransportSettings,
) -> Result<quinn::ClientConfig, QuicError> {
    let provider = ring_provider();
    let verifier = WebPkiServerVerifier::builder_with_provider(trust.roots()?, provider.clone())
        .build()
        .map_err(tls_err)?;
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(tls_err)?
        .with_webpki_verifier(verifier);
    let mut tls = match identity {
        Some(id) => builder
            .with_client_auth_cert(vec![id.node().cert_der().clone()], id.node().key_der())
            .map_err(tls_err)?,
        None => builder.with_no_client_auth(),
    };
    tls.alpn_protocols = vec![ALPN.to_vec()];
    let quic = QuicClientConfig::try_from(tls).map_err(tls_err)?;
    let mut config = quinn::ClientConfig::new(Arc::new(quic));
    config.transport_config(Arc::new(transport.transport_config()?));
    Ok(config)
}

/// The TLS server name a seed connection asks for. Seeds are configured by address, so their
/// name is not known before the handshake; [`seed_client_config`] accepts any node name the
/// mesh CA issued and the name is read from the certificate afterwards.
pub const SEED_SERVER_NAME: &str = "seed.lightspeed.invalid";

/// Client configuration for learning a seed's name: presents `identity`'s certificate and
/// verifies the server's chain against the mesh CA exactly like [`node_client_config`], except
/// that any node name is accepted. Use it only to read the name (the connection is then
/// closed); membership traffic goes over connections that check the name.
pub fn seed_client_config(
    identity: &Identity,
    transport: &TransportSettings,
) -> Result<quinn::ClientConfig, QuicError> {
    let provider = ring_provider();
    let inner =
        WebPkiServerVerifier::builder_with_provider(identity.trust().roots()?, provider.clone())
            .build()
            .map_err(tls_err)?;
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(tls_err)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyNodeName(inner)))
        .with_client_auth_cert(
            vec![identity.node().cert_der().clone()],
            identity.node().key_der(),
        )
        .map_err(tls_err)?;
    tls.alpn_protocols = vec![ALPN.to_vec()];
    let quic = QuicClientConfig::try_from(tls).map_err(tls_err)?;
    let mut config = quinn::ClientConfig::new(Arc::new(quic));
    config.transport_config(Arc::new(transport.transport_config()?));
    Ok(config)
}

/// The mesh CA verifier with the name check waived (the chain, validity and EKU still count).
#[derive(Debug)]
struct AnyNodeName(Arc<WebPkiServerVerifier>);

impl rustls::client::danger::ServerCertVerifier for AnyNodeName {
    fn verify_server_cert(
        &self,
        end_entity: &rustls_pki_types::CertificateDer<'_>,
        intermediates: &[rustls_pki_types::CertificateDer<'_>],
        server_name: &rustls_pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        use rustls::{CertificateError, Error};
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(rustls::client::danger::ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}
