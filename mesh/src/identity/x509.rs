//! Reading back what our certificates carry: the node name, the mesh name, the public key.

use x509_parser::extensions::GeneralName;

use super::IdentityError;
use super::names::check_node_name;

/// What the identity code needs from a parsed certificate.
pub(crate) struct CertInfo {
    /// The single DNS subjectAltName, when there is exactly one.
    pub(crate) dns_name: Option<String>,
    /// The first organisation (O) attribute of the subject: the mesh name for our CAs.
    pub(crate) organization: Option<String>,
    /// basicConstraints cA = true.
    pub(crate) is_ca: bool,
    /// The DER SubjectPublicKeyInfo, to match against a private key.
    pub(crate) spki: Vec<u8>,
}

fn bad(what: impl Into<String>) -> IdentityError {
    IdentityError::BadCertificate(what.into())
}

/// Parses a DER certificate; trailing bytes after it are an error.
pub(crate) fn inspect(der: &[u8]) -> Result<CertInfo, IdentityError> {
    let (rest, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| bad(format!("not an X.509 certificate: {e}")))?;
    if !rest.is_empty() {
        return Err(bad("trailing bytes after the certificate"));
    }
    let san = cert
        .subject_alternative_name()
        .map_err(|e| bad(format!("bad subjectAltName: {e}")))?;
    let mut dns_names = san
        .iter()
        .flat_map(|ext| ext.value.general_names.iter())
        .filter_map(|name| match name {
            GeneralName::DNSName(dns) => Some(*dns),
            _ => None,
        });
    let dns_name = match (dns_names.next(), dns_names.next()) {
        (Some(one), None) => Some(one.to_owned()),
        _ => None,
    };
    let organization = cert
        .subject()
        .iter_organization()
        .next()
        .and_then(|attr| attr.as_str().ok())
        .map(str::to_owned);
    Ok(CertInfo {
        dns_name,
        organization,
        is_ca: cert.is_ca(),
        spki: cert.public_key().raw.to_vec(),
    })
}

/// The node name a mesh certificate carries: its one DNS subjectAltName, which must also be an
/// acceptable node name. Call only on certificates already verified against the mesh CA.
pub(crate) fn node_name(der: &[u8]) -> Result<String, IdentityError> {
    let name = inspect(der)?
        .dns_name
        .ok_or_else(|| bad("a node certificate needs exactly one DNS subjectAltName"))?;
    check_node_name(&name)?;
    Ok(name)
}
