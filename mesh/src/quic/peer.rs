//! Who is on the other end of an accepted connection.

use std::net::SocketAddr;

use rustls_pki_types::CertificateDer;

use crate::identity::{IdentityError, node_name};

/// What the TLS handshake proved about a peer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PeerIdentity {
    /// The peer presented a certificate that verified against the mesh CA; this is the node
    /// name from its DNS subjectAltName. Gossip claims from this connection are bound to it.
    Node(String),
    /// The peer presented no certificate: an edge (or anyone). It must authenticate with a
    /// token inside its first message before it is given anything.
    Anonymous,
}

impl PeerIdentity {
    /// The node name, for a mesh member.
    pub fn node_name(&self) -> Option<&str> {
        match self {
            PeerIdentity::Node(name) => Some(name),
            PeerIdentity::Anonymous => None,
        }
    }
}

/// A connected peer as a [`Handler`](super::Handler) sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    /// The peer's UDP address when the connection was accepted.
    pub addr: SocketAddr,
    /// What its certificate (or lack of one) proved.
    pub identity: PeerIdentity,
}

/// Reads the peer identity of an established connection. rustls has already verified any
/// certificate against the mesh CA (a bad one fails the handshake), so only the name is read
/// here; a verified certificate that names no valid node is an error.
pub(crate) fn identify(conn: &quinn::Connection) -> Result<PeerIdentity, IdentityError> {
    let Some(any) = conn.peer_identity() else {
        return Ok(PeerIdentity::Anonymous);
    };
    let chain = any
        .downcast::<Vec<CertificateDer<'static>>>()
        .map_err(|_| IdentityError::BadCertificate("peer identity is not an X.509 chain".into()))?;
    match chain.first() {
        None => Ok(PeerIdentity::Anonymous),
        Some(leaf) => Ok(PeerIdentity::Node(node_name(leaf)?)),
    }
}
