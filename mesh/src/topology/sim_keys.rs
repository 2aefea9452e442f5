//! INSECURE stand-in keys for simulations (see [`SimKeys`]).

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use super::auth::{AuthError, CertAdded, ClaimSigner, Keyring, untrusted};
use super::claim::{SIGNATURE_LEN, valid_name};

/// INSECURE stand-in keys for simulations: anyone who knows the mesh seed can forge any
/// signature. It keeps the shape of the real scheme (a node signs only with its own key, a
/// receiver must have seen the node's "certificate" before it can check) at the cost of a
/// SipHash instead of an ECDSA verification. Never use it outside a simulation.
#[derive(Debug, Clone, Copy)]
pub struct SimKeys {
    seed: u64,
}

const SIM_CERT_PREFIX: &[u8] = b"sim-cert:";

impl SimKeys {
    /// Keys of one simulated mesh.
    pub const fn new(seed: u64) -> SimKeys {
        SimKeys { seed }
    }

    /// The signer of node `name`.
    pub fn signer(&self, name: &str) -> SimSigner {
        let mut cert = SIM_CERT_PREFIX.to_vec();
        cert.extend_from_slice(name.as_bytes());
        SimSigner {
            keys: *self,
            name: name.to_owned(),
            cert,
        }
    }

    /// An empty keyring of this mesh holding up to `capacity` keys.
    pub fn keyring(&self, capacity: usize) -> SimKeyring {
        SimKeyring {
            keys: *self,
            known: BTreeMap::new(),
            capacity,
        }
    }

    fn signature(&self, name: &str, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        let mut sig = [0u8; SIGNATURE_LEN];
        for (i, chunk) in sig.chunks_exact_mut(8).enumerate() {
            let mut h = DefaultHasher::new();
            (self.seed, name, i, message).hash(&mut h);
            chunk.copy_from_slice(&h.finish().to_le_bytes());
        }
        sig
    }
}

/// A simulated node's signer (see [`SimKeys`]).
#[derive(Debug, Clone)]
pub struct SimSigner {
    keys: SimKeys,
    name: String,
    cert: Vec<u8>,
}

impl ClaimSigner for SimSigner {
    fn name(&self) -> &str {
        &self.name
    }

    fn certificate(&self) -> &[u8] {
        &self.cert
    }

    fn sign(&self, message: &[u8]) -> Result<[u8; SIGNATURE_LEN], AuthError> {
        Ok(self.keys.signature(&self.name, message))
    }
}

/// A simulated keyring (see [`SimKeys`]).
#[derive(Debug, Clone)]
pub struct SimKeyring {
    keys: SimKeys,
    known: BTreeMap<String, Vec<u8>>,
    capacity: usize,
}

impl Keyring for SimKeyring {
    fn add_certificate(&mut self, der: &[u8]) -> Result<CertAdded, AuthError> {
        let name = der
            .strip_prefix(SIM_CERT_PREFIX)
            .and_then(|n| std::str::from_utf8(n).ok())
            .filter(|n| valid_name(n))
            .ok_or_else(|| untrusted("not a simulated certificate"))?;
        if self.known.contains_key(name) {
            return Ok(CertAdded {
                name: name.to_owned(),
                new: false,
            });
        }
        if self.known.len() >= self.capacity {
            return Err(AuthError::KeyringFull(self.capacity));
        }
        self.known.insert(name.to_owned(), der.to_vec());
        Ok(CertAdded {
            name: name.to_owned(),
            new: true,
        })
    }

    fn verify(
        &self,
        origin: &str,
        message: &[u8],
        signature: &[u8; SIGNATURE_LEN],
    ) -> Result<(), AuthError> {
        if !self.known.contains_key(origin) {
            return Err(AuthError::UnknownKey(origin.to_owned()));
        }
        if self.keys.signature(origin, message) == *signature {
            Ok(())
        } else {
            Err(AuthError::BadSignature(origin.to_owned()))
        }
    }

    fn certificate(&self, name: &str) -> Option<&[u8]> {
        self.known.get(name).map(Vec::as_slice)
    }

    fn len(&self) -> usize {
        self.known.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sim_keys_keep_the_shape_of_the_real_scheme() {
        let keys = SimKeys::new(7);
        let (a, b) = (keys.signer("a"), keys.signer("b"));
        let mut ring = keys.keyring(4);
        let sig = a.sign(b"m").unwrap();
        assert_eq!(
            ring.verify("a", b"m", &sig),
            Err(AuthError::UnknownKey("a".into()))
        );
        ring.add_certificate(a.certificate()).unwrap();
        assert_eq!(ring.verify("a", b"m", &sig), Ok(()));
        assert_eq!(
            ring.verify("a", b"m", &b.sign(b"m").unwrap()),
            Err(AuthError::BadSignature("a".into()))
        );
        assert_ne!(
            SimKeys::new(8).signer("a").sign(b"m").unwrap(),
            sig,
            "another mesh's keys differ"
        );
    }
}
