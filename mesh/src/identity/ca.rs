//! The mesh CA: generated once by `lightspeed-node mesh init`, then used only to issue node
//! certificates. Its key should live on the operator's machine, not on relays.

use std::fmt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, PublicKeyData, SanType,
};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use super::IdentityError;
use super::files::{ensure_dir, join, read_key_pem, read_pem, refuse_existing, write_new};
use super::names::{check_mesh_name, check_node_name};
use super::node::{MeshTrust, NodeIdentity};
use super::x509::inspect;

/// File name of the CA certificate inside the directory given to [`MeshCa::save`].
pub const CA_CERT_FILE: &str = "ca.crt";
/// File name of the CA private key (mode 0600) inside the directory given to [`MeshCa::save`].
pub const CA_KEY_FILE: &str = "ca.key";

/// How long a mesh CA is valid: 10 years. There is no CA rotation yet, so a short life would
/// only mean a forced re-keying of every node; the key stays off the relays instead.
pub const CA_VALIDITY: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// How long a node certificate issued by [`MeshCa::issue_node`] is valid: 2 years. Node keys sit
/// on internet-facing boxes, so they expire; re-issuing is one `mesh issue` command.
pub const NODE_VALIDITY: Duration = Duration::from_secs(2 * 365 * 24 * 3600);

/// Certificates start one hour in the past so a peer whose clock is a little behind still
/// accepts a freshly issued one.
const BACKDATE: Duration = Duration::from_secs(3600);

/// Longest validity accepted, so date arithmetic stays far inside what X.509 can encode.
const MAX_VALIDITY: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// A clock reading beyond this (year ~7000) is clamped rather than overflowing the date type.
const MAX_CLOCK: Duration = Duration::from_secs(5000 * 365 * 24 * 3600);

/// The mesh certificate authority: its certificate and the key that signs node certificates.
pub struct MeshCa {
    mesh_name: String,
    cert: CertificateDer<'static>,
    cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl MeshCa {
    /// Creates a new self-signed CA for the mesh called `mesh_name` (1–64 bytes of
    /// `A-Za-z0-9._-`), with a fresh ECDSA P-256 key, valid for [`CA_VALIDITY`] from now. It
    /// may sign only end-entity certificates (path length 0).
    pub fn generate(mesh_name: &str) -> Result<MeshCa, IdentityError> {
        check_mesh_name(mesh_name)?;
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(
            DnType::CommonName,
            format!("LightSpeed mesh CA {mesh_name}"),
        );
        params
            .distinguished_name
            .push(DnType::OrganizationName, mesh_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        set_validity(&mut params, CA_VALIDITY);
        let cert = params.self_signed(&key)?;
        Ok(MeshCa {
            mesh_name: mesh_name.to_owned(),
            cert_pem: cert.pem(),
            cert: cert.der().clone(),
            issuer: Issuer::new(params, key),
        })
    }

    /// The mesh name (the CA subject's organisation).
    pub fn mesh_name(&self) -> &str {
        &self.mesh_name
    }

    /// The CA certificate alone: what every node and edge needs to verify peers.
    pub fn trust(&self) -> MeshTrust {
        MeshTrust::from_parts(self.cert.clone(), self.cert_pem.clone())
    }

    /// The CA certificate, DER.
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert
    }

    /// Issues a certificate for node `name`, valid for [`NODE_VALIDITY`].
    ///
    /// `name` must be a lower-case DNS name (labels of `a-z0-9-`, at most 253 bytes, not all
    /// digits): it becomes the certificate's only DNS subjectAltName and common name, is what
    /// clients pass as the TLS server name, and is what peers read back as the node's identity.
    /// The certificate has a fresh ECDSA P-256 key and both serverAuth and clientAuth EKUs.
    pub fn issue_node(&self, name: &str) -> Result<NodeIdentity, IdentityError> {
        self.issue_node_valid_for(name, NODE_VALIDITY)
    }

    /// [`MeshCa::issue_node`] with a chosen validity (capped at 100 years).
    pub fn issue_node_valid_for(
        &self,
        name: &str,
        validity: Duration,
    ) -> Result<NodeIdentity, IdentityError> {
        check_node_name(name)?;
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, name);
        params
            .distinguished_name
            .push(DnType::OrganizationName, self.mesh_name.as_str());
        params.subject_alt_names = vec![SanType::DnsName(name.try_into()?)];
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.use_authority_key_identifier_extension = true;
        set_validity(&mut params, validity);
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(NodeIdentity::from_parts(
            name.to_owned(),
            cert.der().clone(),
            cert.pem(),
            key,
        ))
    }

    /// Writes `dir/ca.crt` (0644) and `dir/ca.key` (0600), creating `dir` with mode 0700 if it
    /// is missing. Refuses to overwrite either file.
    pub fn save(&self, dir: &Path) -> Result<(), IdentityError> {
        ensure_dir(dir)?;
        let cert_path = join(dir, CA_CERT_FILE);
        let key_path = join(dir, CA_KEY_FILE);
        refuse_existing(&cert_path)?;
        refuse_existing(&key_path)?;
        write_new(&key_path, &self.issuer.key().serialize_pem(), 0o600)?;
        write_new(&cert_path, &self.cert_pem, 0o644)
    }

    /// Loads a CA saved by [`MeshCa::save`]. The key file must not be accessible to group or
    /// others, must belong to the certificate, and the certificate must be a CA carrying a mesh
    /// name.
    pub fn load(dir: &Path) -> Result<MeshCa, IdentityError> {
        let cert_path = join(dir, CA_CERT_FILE);
        let key_path = join(dir, CA_KEY_FILE);
        let cert_pem = read_pem(&cert_path)?;
        let cert = CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|e| IdentityError::Pem {
                path: cert_path.clone(),
                reason: format!("no certificate: {e}"),
            })?
            .into_owned();
        let key_pem = read_key_pem(&key_path)?;
        let key = KeyPair::from_pem(&key_pem).map_err(|e| IdentityError::Pem {
            path: key_path.clone(),
            reason: format!("no usable private key: {e}"),
        })?;
        let info = inspect(&cert)?;
        if !info.is_ca {
            return Err(IdentityError::BadCertificate(format!(
                "{} is not a CA certificate",
                cert_path.display()
            )));
        }
        if info.spki != key.subject_public_key_info() {
            return Err(IdentityError::KeyMismatch);
        }
        let mesh_name = info.organization.ok_or_else(|| {
            IdentityError::BadCertificate("the CA subject has no organisation (mesh name)".into())
        })?;
        check_mesh_name(&mesh_name)?;
        let issuer = Issuer::from_ca_cert_der(&cert, key)?;
        Ok(MeshCa {
            mesh_name,
            cert,
            cert_pem,
            issuer,
        })
    }
}

impl fmt::Debug for MeshCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MeshCa")
            .field("mesh_name", &self.mesh_name)
            .finish_non_exhaustive()
    }
}

/// Sets not-before to an hour ago and not-after to `validity` from now.
fn set_validity(params: &mut CertificateParams, validity: Duration) {
    // rcgen's date type is `time::OffsetDateTime`; building it from the Unix epoch plus a std
    // Duration avoids a direct dependency on `time`.
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .min(MAX_CLOCK);
    let now = rcgen::date_time_ymd(1970, 1, 1) + since_epoch;
    params.not_before = now - BACKDATE;
    params.not_after = now + validity.min(MAX_VALIDITY);
}
