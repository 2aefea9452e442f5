//! Mesh identity: the mesh CA, node certificates, and their files on disk.
//!
//! Trust model (DESIGN.md §4, §10): `lightspeed-node mesh init` creates a [`MeshCa`]; the CA
//! issues each node a [`NodeIdentity`] whose certificate names the node in its DNS
//! subjectAltName and carries both the serverAuth and clientAuth EKUs, so the same certificate
//! serves QUIC connections in either direction with mutual TLS. Peers learn a node's name from
//! that SAN after the CA signature has been verified, and nowhere else.
//!
//! Keys are ECDSA P-256 with SHA-256 signatures: the ring provider of rustls verifies them, every
//! TLS stack and `openssl x509` reads them, and signing is cheap.
//!
//! Files are PEM. Private keys are created with mode 0600 and a key file whose mode grants any
//! permission to group or others is refused on load (an error, not a warning, as ssh does): a
//! leaked node key lets anyone join the mesh, a leaked CA key lets anyone mint members.
//! Saving never overwrites an existing file.
//!
//! Layout:
//! - `ca.rs`: [`MeshCa`], generation, issuance, save/load of `ca.crt` + `ca.key`.
//! - `node.rs`: [`NodeIdentity`], [`MeshTrust`] (the CA certificate alone) and [`Identity`]
//!   (what a running node loads: trust + its own certificate and key).
//! - `files.rs`: bounded reads, 0600 writes, permission checks.
//! - `names.rs`: which mesh and node names are accepted.
//! - `x509.rs`: reading the node name, mesh name and public key back from a certificate.

mod ca;
mod files;
mod names;
mod node;
mod token;
mod x509;

use std::path::PathBuf;

pub use ca::{CA_CERT_FILE, CA_KEY_FILE, CA_VALIDITY, MeshCa, NODE_VALIDITY};
pub use files::MAX_PEM_FILE_BYTES;
pub use names::{MAX_MESH_NAME_LEN, MAX_NODE_NAME_LEN};
pub(crate) use node::ring_provider;
pub use node::{Identity, MeshTrust, NODE_CERT_FILE, NODE_KEY_FILE, NodeIdentity};
pub use token::{MAX_PLAYER_LEN, TOKEN_PREFIX, TokenError, TokenVerifier, issue_token};
pub(crate) use x509::node_name;

/// Why an identity could not be created, saved or loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// A mesh or node name is not acceptable (see [`MAX_NODE_NAME_LEN`] and the rules in
    /// [`MeshCa::issue_node`]).
    #[error("invalid name {name:?}: {reason}")]
    InvalidName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// rcgen failed to generate a key, sign a certificate or parse a PEM key.
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Saving would overwrite an existing file; identities are never silently replaced.
    #[error("{path} already exists; refusing to overwrite it")]
    AlreadyExists {
        /// The existing file.
        path: PathBuf,
    },
    /// A private key file is accessible to group or others.
    #[error(
        "{path} has mode {mode:o}; private keys must not be accessible to group or others (chmod 600)"
    )]
    KeyPermissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A file is larger than [`MAX_PEM_FILE_BYTES`]; certificates and keys are about 1 KiB.
    #[error("{path} is larger than {max} bytes; not a certificate or key file")]
    FileTooLarge {
        /// The file.
        path: PathBuf,
        /// The limit.
        max: u64,
    },
    /// A file does not hold the PEM item expected (a certificate or a PKCS#8 key).
    #[error("{path}: {reason}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// A certificate could not be parsed as X.509 or lacks what a mesh certificate must carry
    /// (a DNS subjectAltName naming the node; an organisation naming the mesh, for a CA).
    #[error("bad certificate: {0}")]
    BadCertificate(String),
    /// The private key does not belong to the certificate beside it.
    #[error("the private key does not match the certificate's public key")]
    KeyMismatch,
    /// The node certificate does not verify against the mesh CA (other CA, expired, wrong
    /// key usage).
    #[error("node certificate is not valid under this mesh CA: {0}")]
    Untrusted(rustls::Error),
}
