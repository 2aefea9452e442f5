//! A node's own certificate and key, the mesh trust anchor, and the two together.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rcgen::{KeyPair, PublicKeyData};
use rustls::RootCertStore;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};

use super::files::{ensure_dir, join, read_key_pem, read_pem, refuse_existing, write_new};
use super::x509::{inspect, node_name};
use super::{CA_CERT_FILE, IdentityError};

/// File name of a node certificate inside the directory given to [`NodeIdentity::save`].
pub const NODE_CERT_FILE: &str = "node.crt";
/// File name of a node private key (mode 0600) inside the directory given to
/// [`NodeIdentity::save`].
pub const NODE_KEY_FILE: &str = "node.key";

/// The rustls crypto provider used everywhere in the mesh: ring, as DESIGN.md §11 fixes.
pub(crate) fn ring_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn pem_err(path: &Path, reason: String) -> IdentityError {
    IdentityError::Pem {
        path: path.to_path_buf(),
        reason,
    }
}

/// A node's certificate (issued by the mesh CA) and its private key.
pub struct NodeIdentity {
    name: String,
    cert: CertificateDer<'static>,
    cert_pem: String,
    key: PrivatePkcs8KeyDer<'static>,
}

impl NodeIdentity {
    pub(crate) fn from_parts(
        name: String,
        cert: CertificateDer<'static>,
        cert_pem: String,
        key: KeyPair,
    ) -> NodeIdentity {
        NodeIdentity {
            name,
            cert,
            cert_pem,
            key: PrivatePkcs8KeyDer::from(key.serialize_der()),
        }
    }

    /// The node name carried in the certificate's DNS subjectAltName.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The certificate, DER.
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert
    }

    /// The certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// A copy of the private key (PKCS#8 DER) for a TLS configuration.
    pub fn key_der(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(self.key.clone_key())
    }

    /// Writes `dir/node.crt` (0644) and `dir/node.key` (0600), creating `dir` with mode 0700 if
    /// it is missing. Refuses to overwrite either file.
    pub fn save(&self, dir: &Path) -> Result<(), IdentityError> {
        ensure_dir(dir)?;
        let cert_path = join(dir, NODE_CERT_FILE);
        let key_path = join(dir, NODE_KEY_FILE);
        refuse_existing(&cert_path)?;
        refuse_existing(&key_path)?;
        let key = KeyPair::try_from(&self.key)?;
        write_new(&key_path, &key.serialize_pem(), 0o600)?;
        write_new(&cert_path, &self.cert_pem, 0o644)
    }

    /// Loads a certificate and its PKCS#8 key. The key file must not be accessible to group or
    /// others and must belong to the certificate; the certificate must name a node. Whether the
    /// mesh CA signed it is checked by [`Identity::new`].
    pub fn load(cert_path: &Path, key_path: &Path) -> Result<NodeIdentity, IdentityError> {
        let cert_pem = read_pem(cert_path)?;
        let cert = CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|e| pem_err(cert_path, format!("no certificate: {e}")))?
            .into_owned();
        let key_pem = read_key_pem(key_path)?;
        let key = KeyPair::from_pem(&key_pem)
            .map_err(|e| pem_err(key_path, format!("no usable PKCS#8 private key: {e}")))?;
        if inspect(&cert)?.spki != key.subject_public_key_info() {
            return Err(IdentityError::KeyMismatch);
        }
        let name = node_name(&cert)?;
        Ok(NodeIdentity::from_parts(name, cert, cert_pem, key))
    }
}

impl Clone for NodeIdentity {
    fn clone(&self) -> NodeIdentity {
        NodeIdentity {
            name: self.name.clone(),
            cert: self.cert.clone(),
            cert_pem: self.cert_pem.clone(),
            key: self.key.clone_key(),
        }
    }
}

impl fmt::Debug for NodeIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeIdentity")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// The mesh CA certificate without its key: the trust anchor every node and edge holds.
#[derive(Clone)]
pub struct MeshTrust {
    cert: CertificateDer<'static>,
    cert_pem: String,
}

impl MeshTrust {
    pub(crate) fn from_parts(cert: CertificateDer<'static>, cert_pem: String) -> MeshTrust {
        MeshTrust { cert, cert_pem }
    }

    /// Parses a PEM CA certificate (the contents of `ca.crt`); it must be a CA certificate.
    pub fn from_pem(pem: &str) -> Result<MeshTrust, IdentityError> {
        let cert = CertificateDer::from_pem_slice(pem.as_bytes())
            .map_err(|e| IdentityError::BadCertificate(format!("no PEM certificate: {e}")))?
            .into_owned();
        if !inspect(&cert)?.is_ca {
            return Err(IdentityError::BadCertificate(
                "the mesh trust anchor is not a CA certificate".into(),
            ));
        }
        let trust = MeshTrust::from_parts(cert, pem.to_owned());
        // Fails now, with a clear error, rather than at the first handshake.
        trust.roots()?;
        Ok(trust)
    }

    /// Loads `ca.crt` (or any PEM CA certificate file). A file that is not a CA certificate
    /// is reported as [`IdentityError::Pem`] naming it: an operator with several PEM files
    /// must be told which one is wrong.
    pub fn load(path: &Path) -> Result<MeshTrust, IdentityError> {
        MeshTrust::from_pem(&read_pem(path)?).map_err(|e| match e {
            IdentityError::BadCertificate(reason) => pem_err(path, reason),
            other => other,
        })
    }

    /// The CA certificate, DER.
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert
    }

    /// The CA certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// A root store holding only the mesh CA: no public CA is ever trusted inside the mesh.
    pub(crate) fn roots(&self) -> Result<Arc<RootCertStore>, IdentityError> {
        let mut roots = RootCertStore::empty();
        roots
            .add(self.cert.clone())
            .map_err(IdentityError::Untrusted)?;
        Ok(Arc::new(roots))
    }

    /// Checks that `node`'s certificate is valid now under this CA both as a TLS client and as
    /// a TLS server for its own name — exactly what its peers will check.
    pub fn verify_node(&self, node: &NodeIdentity) -> Result<(), IdentityError> {
        let roots = self.roots()?;
        let now = UnixTime::now();
        let as_client = WebPkiClientVerifier::builder_with_provider(roots.clone(), ring_provider())
            .build()
            .map_err(|e| IdentityError::Untrusted(rustls::Error::General(e.to_string())))?;
        as_client
            .verify_client_cert(node.cert_der(), &[], now)
            .map_err(IdentityError::Untrusted)?;
        let as_server = WebPkiServerVerifier::builder_with_provider(roots, ring_provider())
            .build()
            .map_err(|e| IdentityError::Untrusted(rustls::Error::General(e.to_string())))?;
        let server_name = ServerName::try_from(node.name().to_owned()).map_err(|_| {
            IdentityError::InvalidName {
                name: node.name().to_owned(),
                reason: "not a TLS server name",
            }
        })?;
        as_server
            .verify_server_cert(node.cert_der(), &[], &server_name, &[], now)
            .map_err(IdentityError::Untrusted)?;
        Ok(())
    }
}

impl fmt::Debug for MeshTrust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MeshTrust").finish_non_exhaustive()
    }
}

/// What a running node loads: the mesh trust anchor and its own certificate and key, checked
/// against each other.
#[derive(Clone, Debug)]
pub struct Identity {
    trust: MeshTrust,
    node: NodeIdentity,
}

impl Identity {
    /// Pairs a node identity with the mesh CA, refusing a certificate the CA did not issue or
    /// that is expired or lacks the serverAuth/clientAuth EKUs.
    pub fn new(trust: MeshTrust, node: NodeIdentity) -> Result<Identity, IdentityError> {
        trust.verify_node(&node)?;
        Ok(Identity { trust, node })
    }

    /// Loads the CA certificate, node certificate and node key from three paths (as a config
    /// file names them) and checks them with [`Identity::new`].
    pub fn load(ca_cert: &Path, cert: &Path, key: &Path) -> Result<Identity, IdentityError> {
        Identity::new(MeshTrust::load(ca_cert)?, NodeIdentity::load(cert, key)?)
    }

    /// Loads `dir/ca.crt`, `dir/node.crt` and `dir/node.key`, as written by [`Identity::save`].
    pub fn load_dir(dir: &Path) -> Result<Identity, IdentityError> {
        Identity::load(
            &join(dir, CA_CERT_FILE),
            &join(dir, NODE_CERT_FILE),
            &join(dir, NODE_KEY_FILE),
        )
    }

    /// Writes `dir/ca.crt`, `dir/node.crt` and `dir/node.key` (0600): the bundle to copy to a
    /// node. Refuses to overwrite any of them.
    pub fn save(&self, dir: &Path) -> Result<(), IdentityError> {
        ensure_dir(dir)?;
        let ca_path = join(dir, CA_CERT_FILE);
        refuse_existing(&ca_path)?;
        self.node.save(dir)?;
        write_new(&ca_path, self.trust.cert_pem(), 0o644)
    }

    /// The mesh CA certificate.
    pub fn trust(&self) -> &MeshTrust {
        &self.trust
    }

    /// This node's certificate and key.
    pub fn node(&self) -> &NodeIdentity {
        &self.node
    }

    /// This node's name.
    pub fn name(&self) -> &str {
        self.node.name()
    }
}
