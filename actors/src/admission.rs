//! Proxy admission (pure): decides whether a session request is admitted, before any state
//! exists for it.

use std::net::SocketAddr;

use lightspeed_mesh::identity::TokenVerifier;
use lightspeed_mesh::policy::DestinationPolicy;
use lightspeed_protocol::control::ErrorCode;

/// The inputs of one decision.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The token presented.
    pub token: &'a str,
    /// The game server asked for.
    pub target: SocketAddr,
    /// Sessions in the table now.
    pub sessions: usize,
    /// Wall-clock time, Unix seconds, for the expiry of CA-signed tokens.
    pub now_unix: u64,
}

/// Admission rules of a proxy.
#[derive(Debug, Clone, Default)]
pub struct Admission {
    /// Accepted tokens.
    pub tokens: Vec<String>,
    /// Destination rules.
    pub policy: DestinationPolicy,
    /// Session cap.
    pub max_sessions: usize,
    /// Checks CA-signed tokens (`lightspeed-node mesh token`), accepted besides `tokens`.
    pub ca_tokens: Option<TokenVerifier>,
}

impl Admission {
    /// Admits or refuses, with the reason a client can act on and a human message.
    pub fn decide(&self, req: &Request<'_>) -> Result<(), (ErrorCode, String)> {
        // Constant-time compare would matter for a secret checked byte by byte over the
        // network many times; tokens are long random strings, and the comparison below still
        // avoids an early exit per token.
        let token_ok = self.tokens.iter().fold(false, |ok, t| {
            ok | ct_eq(t.as_bytes(), req.token.as_bytes())
        });
        let token_ok = token_ok
            || self
                .ca_tokens
                .as_ref()
                .is_some_and(|v| v.verify(req.token, req.now_unix).is_ok());
        if !token_ok {
            return Err((ErrorCode::BadToken, "unknown client token".into()));
        }
        if let Err(why) = self.policy.check(req.target) {
            return Err((
                ErrorCode::DestinationRefused,
                format!("destination {} refused: {why}", req.target),
            ));
        }
        if req.sessions >= self.max_sessions {
            return Err((
                ErrorCode::SessionLimit,
                "proxy is at its session cap".into(),
            ));
        }
        Ok(())
    }
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adm() -> Admission {
        Admission {
            tokens: vec!["player-token-0123456789".into()],
            policy: DestinationPolicy::default(),
            max_sessions: 1,
            ca_tokens: None,
        }
    }

    fn req(token: &str, target: &str, sessions: usize) -> Result<(), ErrorCode> {
        adm()
            .decide(&Request {
                token,
                target: target.parse().unwrap(),
                sessions,
                now_unix: 1_000,
            })
            .map_err(|(c, _)| c)
    }

    #[test]
    fn ca_signed_tokens_are_accepted_until_they_expire() {
        use lightspeed_mesh::identity::{MeshCa, issue_token};
        let dir = std::env::temp_dir().join(format!("ls-adm-token-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let ca = MeshCa::generate("adm-test").unwrap();
        ca.save(&dir).unwrap();
        let token = issue_token(&dir, "alice", 2_000).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        let a = Admission {
            ca_tokens: Some(TokenVerifier::new(&ca.trust()).unwrap()),
            ..adm()
        };
        let decide = |token: &str, now_unix| {
            a.decide(&Request {
                token,
                target: "203.0.113.5:7777".parse().unwrap(),
                sessions: 0,
                now_unix,
            })
            .map_err(|(c, _)| c)
        };
        assert_eq!(decide(&token, 1_999), Ok(()));
        assert_eq!(decide(&token, 2_000), Err(ErrorCode::BadToken));
        assert_eq!(decide("player-token-0123456789", 5_000), Ok(()));
        assert_eq!(
            decide("lst1.alice.2000.00", 1_000),
            Err(ErrorCode::BadToken)
        );
    }

    #[test]
    fn token_destination_and_cap_are_checked_in_that_order() {
        assert_eq!(
            req("player-token-0123456789", "203.0.113.5:7777", 0),
            Ok(())
        );
        assert_eq!(
            req("player-token-012345678X", "203.0.113.5:7777", 0),
            Err(ErrorCode::BadToken)
        );
        assert_eq!(req("", "203.0.113.5:7777", 0), Err(ErrorCode::BadToken));
        assert_eq!(
            req("player-token-0123456789", "127.0.0.1:7777", 0),
            Err(ErrorCode::DestinationRefused)
        );
        assert_eq!(
            req("player-token-0123456789", "203.0.113.5:7777", 1),
            Err(ErrorCode::SessionLimit)
        );
    }
}
