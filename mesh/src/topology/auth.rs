//! Who may say what: claim signatures and the keys that check them.
//!
//! Gossip relays claims through nodes other than their origin, so the QUIC peer that hands us
//! a claim is usually not the node it describes. Every claim part is therefore signed with the
//! origin's own mesh key (the ECDSA P-256 key of its certificate), and a receiver accepts it only
//! if the signature verifies under the public key of the certificate that names the origin.
//! Certificates themselves travel as gossip items and are accepted only when they verify
//! against the mesh CA; a node also learns a certificate from every QUIC handshake. A member
//! can therefore describe itself and nobody else, however the claim reached us.
//!
//! The topology core sees only the [`ClaimSigner`] and [`Keyring`] traits. [`EcdsaSigner`] and
//! [`MeshKeyring`] are the real implementations; [`super::SimKeys`] is a cheap, insecure
//! stand-in so a simulation of thousands of nodes does not spend its time in ECDSA.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, UnparsedPublicKey,
};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;
use rustls_pki_types::{CertificateDer, UnixTime};

use super::claim::{SIGNATURE_LEN, valid_name};
use crate::identity::{MeshTrust, NodeIdentity, node_name, ring_provider};

/// Why a claim could not be signed or checked, or a certificate was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No verified certificate names the claim's origin yet.
    #[error("no verified key for node {0:?}")]
    UnknownKey(String),
    /// The signature does not verify under the origin's key: forged, or signed by another node.
    #[error("signature does not verify under {0:?}'s key")]
    BadSignature(String),
    /// The certificate does not verify against the mesh CA, or names no usable node.
    #[error("certificate refused: {0}")]
    UntrustedCertificate(String),
    /// The keyring already holds its maximum number of keys.
    #[error("keyring full ({0} keys)")]
    KeyringFull(usize),
    /// The node's own private key could not be loaded or used.
    #[error("signing key unusable: {0}")]
    SigningKey(String),
}

/// A certificate the keyring accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertAdded {
    /// The node the certificate names.
    pub name: String,
    /// False when the exact certificate was already known.
    pub new: bool,
}

/// Signs this node's claims.
pub trait ClaimSigner: Send {
    /// The node name, as its certificate carries it.
    fn name(&self) -> &str;
    /// The node's certificate, DER (gossiped so others learn the key).
    fn certificate(&self) -> &[u8];
    /// Signs `message` (already prefixed with the signing context).
    fn sign(&self, message: &[u8]) -> Result<[u8; SIGNATURE_LEN], AuthError>;
}

/// The verified keys of other nodes.
pub trait Keyring: Send {
    /// Verifies a certificate and remembers the key of the node it names.
    fn add_certificate(&mut self, der: &[u8]) -> Result<CertAdded, AuthError>;
    /// Checks `signature` over `message` under `origin`'s key.
    fn verify(
        &self,
        origin: &str,
        message: &[u8],
        signature: &[u8; SIGNATURE_LEN],
    ) -> Result<(), AuthError>;
    /// The certificate known for `name`, for a full-state sync.
    fn certificate(&self, name: &str) -> Option<&[u8]>;
    /// How many keys are held.
    fn len(&self) -> usize;
    /// True when no key is held.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Signs with the node's mesh certificate key (ECDSA P-256, SHA-256, fixed-length `r || s`).
pub struct EcdsaSigner {
    name: String,
    cert: Vec<u8>,
    key: EcdsaKeyPair,
    rng: SystemRandom,
}

impl EcdsaSigner {
    /// Loads the key of `node`.
    pub fn new(node: &NodeIdentity) -> Result<EcdsaSigner, AuthError> {
        let rng = SystemRandom::new();
        let der = node.key_der();
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der.secret_der(), &rng)
                .map_err(|e| AuthError::SigningKey(e.to_string()))?;
        Ok(EcdsaSigner {
            name: node.name().to_owned(),
            cert: node.cert_der().to_vec(),
            key,
            rng,
        })
    }
}

impl fmt::Debug for EcdsaSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EcdsaSigner")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl ClaimSigner for EcdsaSigner {
    fn name(&self) -> &str {
        &self.name
    }

    fn certificate(&self) -> &[u8] {
        &self.cert
    }

    fn sign(&self, message: &[u8]) -> Result<[u8; SIGNATURE_LEN], AuthError> {
        let sig = self
            .key
            .sign(&self.rng, message)
            .map_err(|e| AuthError::SigningKey(e.to_string()))?;
        sig.as_ref()
            .try_into()
            .map_err(|_| AuthError::SigningKey("signature is not 64 bytes".into()))
    }
}

struct KnownCert {
    der: Vec<u8>,
    /// SEC1 uncompressed P-256 point.
    public_key: Vec<u8>,
}

/// Keys of certificates verified against the mesh CA, at most `capacity` of them.
///
/// Validity dates are checked against the wall clock when a certificate is added: this is the
/// one piece of the topology machinery that reads a clock, and it sits behind [`Keyring`] so
/// the deterministic core never does.
pub struct MeshKeyring {
    verifier: Arc<dyn ClientCertVerifier>,
    certs: BTreeMap<String, KnownCert>,
    capacity: usize,
}

impl MeshKeyring {
    /// A keyring trusting certificates issued by `trust`, holding up to `capacity` keys (use
    /// the topology's node bound: one key per node).
    pub fn new(trust: &MeshTrust, capacity: usize) -> Result<MeshKeyring, AuthError> {
        let roots = trust
            .roots()
            .map_err(|e| AuthError::UntrustedCertificate(e.to_string()))?;
        let verifier = WebPkiClientVerifier::builder_with_provider(roots, ring_provider())
            .build()
            .map_err(|e| AuthError::UntrustedCertificate(e.to_string()))?;
        Ok(MeshKeyring {
            verifier,
            certs: BTreeMap::new(),
            capacity,
        })
    }
}

impl fmt::Debug for MeshKeyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MeshKeyring")
            .field("keys", &self.certs.len())
            .finish_non_exhaustive()
    }
}

pub(super) fn untrusted(e: impl fmt::Display) -> AuthError {
    AuthError::UntrustedCertificate(e.to_string())
}

impl Keyring for MeshKeyring {
    fn add_certificate(&mut self, der: &[u8]) -> Result<CertAdded, AuthError> {
        let cert = CertificateDer::from(der);
        self.verifier
            .verify_client_cert(&cert, &[], UnixTime::now())
            .map_err(untrusted)?;
        let name = node_name(der).map_err(untrusted)?;
        if !valid_name(&name) {
            return Err(untrusted("node name too long for gossip"));
        }
        if self.certs.get(&name).is_some_and(|known| known.der == der) {
            return Ok(CertAdded { name, new: false });
        }
        if !self.certs.contains_key(&name) && self.certs.len() >= self.capacity {
            return Err(AuthError::KeyringFull(self.capacity));
        }
        let (_, parsed) = x509_parser::parse_x509_certificate(der).map_err(untrusted)?;
        let public_key = parsed.public_key().subject_public_key.data.to_vec();
        self.certs.insert(
            name.clone(),
            KnownCert {
                der: der.to_vec(),
                public_key,
            },
        );
        Ok(CertAdded { name, new: true })
    }

    fn verify(
        &self,
        origin: &str,
        message: &[u8],
        signature: &[u8; SIGNATURE_LEN],
    ) -> Result<(), AuthError> {
        let known = self
            .certs
            .get(origin)
            .ok_or_else(|| AuthError::UnknownKey(origin.to_owned()))?;
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &known.public_key)
            .verify(message, signature)
            .map_err(|_| AuthError::BadSignature(origin.to_owned()))
    }

    fn certificate(&self, name: &str) -> Option<&[u8]> {
        self.certs.get(name).map(|c| c.der.as_slice())
    }

    fn len(&self) -> usize {
        self.certs.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::MeshCa;
    use crate::topology::claim::{MAX_ITEM_BYTES, cert_item, signed_message};

    #[test]
    fn ecdsa_claims_verify_only_under_the_signers_certificate() {
        let ca = MeshCa::generate("test-mesh").unwrap();
        let a = ca.issue_node("relay-a").unwrap();
        let b = ca.issue_node("relay-b").unwrap();
        let mut ring = MeshKeyring::new(&ca.trust(), 8).unwrap();
        let signer_a = EcdsaSigner::new(&a).unwrap();
        let signer_b = EcdsaSigner::new(&b).unwrap();
        let msg = signed_message(b"body");
        let sig = signer_a.sign(&msg).unwrap();

        assert_eq!(
            ring.verify("relay-a", &msg, &sig),
            Err(AuthError::UnknownKey("relay-a".into()))
        );
        let added = ring.add_certificate(signer_a.certificate()).unwrap();
        assert_eq!(
            added,
            CertAdded {
                name: "relay-a".into(),
                new: true
            }
        );
        assert!(!ring.add_certificate(signer_a.certificate()).unwrap().new);
        ring.add_certificate(signer_b.certificate()).unwrap();
        assert_eq!(ring.verify("relay-a", &msg, &sig), Ok(()));
        // relay-b signing a claim about relay-a: refused.
        let forged = signer_b.sign(&msg).unwrap();
        assert_eq!(
            ring.verify("relay-a", &msg, &forged),
            Err(AuthError::BadSignature("relay-a".into()))
        );
        assert_eq!(
            ring.verify("relay-a", &signed_message(b"other"), &sig),
            Err(AuthError::BadSignature("relay-a".into()))
        );
        assert_eq!(ring.certificate("relay-a"), Some(signer_a.certificate()));
        assert_eq!(ring.len(), 2);
        // A real node certificate fits in one gossip item.
        let item = cert_item(signer_a.certificate()).unwrap();
        eprintln!("certificate item: {} bytes", item.len());
        assert!(item.len() < MAX_ITEM_BYTES, "{}", item.len());
    }

    #[test]
    fn certificates_from_another_ca_are_refused() {
        let ca = MeshCa::generate("test-mesh").unwrap();
        let rogue = MeshCa::generate("test-mesh").unwrap();
        let mallory = rogue.issue_node("relay-a").unwrap();
        let mut ring = MeshKeyring::new(&ca.trust(), 8).unwrap();
        assert!(matches!(
            ring.add_certificate(mallory.cert_der()),
            Err(AuthError::UntrustedCertificate(_))
        ));
        assert!(matches!(
            ring.add_certificate(b"garbage"),
            Err(AuthError::UntrustedCertificate(_))
        ));
        let mut small = MeshKeyring::new(&ca.trust(), 1).unwrap();
        small
            .add_certificate(ca.issue_node("n1").unwrap().cert_der())
            .unwrap();
        assert_eq!(
            small.add_certificate(ca.issue_node("n2").unwrap().cert_der()),
            Err(AuthError::KeyringFull(1))
        );
        assert_eq!(ring.len(), 0);
    }
}
