//! CA-signed edge tokens: `lightspeed-node mesh token` signs (player, expiry) with the mesh
//! CA key; any proxy checks the signature with the CA certificate it already holds, so
//! players can be added without editing every proxy's token list.
//!
//! Format: `lst1.<player>.<expiry unix seconds>.<hex ECDSA P-256 signature>`, the signature
//! (fixed 64-byte r‖s) over `lightspeed-edge-token/1\0<player>\0<expiry>`. A player name is
//! 1–64 bytes of `A-Za-z0-9_-`, so it can never contain the separator.

use std::path::Path;

use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, UnparsedPublicKey,
};

use super::files::{join, read_key_pem};
use super::{CA_KEY_FILE, IdentityError, MeshCa, MeshTrust};

/// Prefix of every CA-signed token.
pub const TOKEN_PREFIX: &str = "lst1.";

/// Most bytes of a player name.
pub const MAX_PLAYER_LEN: usize = 64;

/// Why a token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Not of the `lst1.player.expiry.signature` shape.
    #[error("not a CA-signed token")]
    Malformed,
    /// The player name breaks the naming rule.
    #[error("invalid player name")]
    BadPlayer,
    /// The signature does not verify with the mesh CA's key.
    #[error("token signature does not verify with the mesh CA")]
    BadSignature,
    /// The token's expiry has passed.
    #[error("token expired")]
    Expired,
}

fn valid_player(p: &str) -> bool {
    !p.is_empty()
        && p.len() <= MAX_PLAYER_LEN
        && p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn message(player: &str, expiry: u64) -> Vec<u8> {
    format!("lightspeed-edge-token/1\0{player}\0{expiry}").into_bytes()
}

/// Signs a token for `player` valid until `expiry` (Unix seconds) with the CA in `ca_dir`.
pub fn issue_token(ca_dir: &Path, player: &str, expiry: u64) -> Result<String, IdentityError> {
    if !valid_player(player) {
        return Err(IdentityError::InvalidName {
            name: player.to_owned(),
            reason: "player names are 1-64 bytes of A-Z a-z 0-9 - _",
        });
    }
    // Loading the CA checks the key's permissions and that it belongs to the certificate.
    MeshCa::load(ca_dir)?;
    let key_path = join(ca_dir, CA_KEY_FILE);
    let pem = read_key_pem(&key_path)?;
    let der = rcgen::KeyPair::from_pem(&pem)?.serialize_der();
    let rng = SystemRandom::new();
    let key =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der, &rng).map_err(|e| {
            IdentityError::Pem {
                path: key_path.clone(),
                reason: format!("not an ECDSA P-256 key: {e}"),
            }
        })?;
    let sig = key
        .sign(&rng, &message(player, expiry))
        .map_err(|_| IdentityError::BadCertificate("signing failed".into()))?;
    let hex: String = sig.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("{TOKEN_PREFIX}{player}.{expiry}.{hex}"))
}

/// Checks CA-signed tokens with the mesh CA certificate.
#[derive(Debug, Clone)]
pub struct TokenVerifier {
    key: Vec<u8>,
}

impl TokenVerifier {
    /// A verifier for tokens signed by `trust`'s CA.
    pub fn new(trust: &MeshTrust) -> Result<TokenVerifier, IdentityError> {
        let (_, cert) = x509_parser::parse_x509_certificate(trust.cert_der())
            .map_err(|e| IdentityError::BadCertificate(format!("CA certificate: {e}")))?;
        Ok(TokenVerifier {
            key: cert.public_key().subject_public_key.data.to_vec(),
        })
    }

    /// The player a valid token names, given the time `now` in Unix seconds.
    pub fn verify(&self, token: &str, now: u64) -> Result<String, TokenError> {
        let rest = token
            .strip_prefix(TOKEN_PREFIX)
            .ok_or(TokenError::Malformed)?;
        let mut parts = rest.split('.');
        let (Some(player), Some(expiry), Some(sig), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        if !valid_player(player) {
            return Err(TokenError::BadPlayer);
        }
        let expiry: u64 = expiry.parse().map_err(|_| TokenError::Malformed)?;
        if sig.len() != 128 || !sig.is_ascii() {
            return Err(TokenError::Malformed);
        }
        let sig: Vec<u8> = (0..64)
            .map(|i| {
                sig.get(2 * i..2 * i + 2)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
            })
            .collect::<Option<_>>()
            .ok_or(TokenError::Malformed)?;
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &self.key)
            .verify(&message(player, expiry), &sig)
            .map_err(|_| TokenError::BadSignature)?;
        if now >= expiry {
            return Err(TokenError::Expired);
        }
        Ok(player.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ca(tag: &str) -> (std::path::PathBuf, MeshCa) {
        let dir = std::env::temp_dir().join(format!("ls-token-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let ca = MeshCa::generate("token-test").unwrap();
        ca.save(&dir).unwrap();
        (dir, ca)
    }

    #[test]
    fn tokens_verify_under_their_ca_only_and_expire() {
        let (dir, ca) = ca("a");
        let (other_dir, other) = ca_pair();
        let token = issue_token(&dir, "player-1", 2_000).unwrap();
        assert!(token.starts_with("lst1.player-1.2000."));
        let v = TokenVerifier::new(&ca.trust()).unwrap();
        assert_eq!(v.verify(&token, 1_999).as_deref(), Ok("player-1"));
        assert_eq!(v.verify(&token, 2_000), Err(TokenError::Expired));
        let foreign = TokenVerifier::new(&other.trust()).unwrap();
        assert_eq!(foreign.verify(&token, 1_000), Err(TokenError::BadSignature));
        // Tampering with the player or the expiry breaks the signature.
        let forged = token.replace("player-1", "player-2");
        assert_eq!(v.verify(&forged, 1_000), Err(TokenError::BadSignature));
        let extended = token.replace(".2000.", ".9000.");
        assert_eq!(v.verify(&extended, 1_000), Err(TokenError::BadSignature));
        for bad in [
            "",
            "lst1.",
            "lst1.p.1",
            "lst1.p.x.00",
            "static-token",
            "lst1.a.b.c.d",
        ] {
            assert_eq!(v.verify(bad, 0), Err(TokenError::Malformed), "{bad:?}");
        }
        assert!(issue_token(&dir, "bad.name", 1).is_err());
        let _ = std::fs::remove_dir_all(dir);
        let _ = std::fs::remove_dir_all(other_dir);
    }

    fn ca_pair() -> (std::path::PathBuf, MeshCa) {
        ca("b")
    }
}
