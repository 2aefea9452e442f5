//! Proxy admission (pure): decides whether a session request is admitted, before any state
//! exists for it.

use std::net::SocketAddr;

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
        }
    }

    fn req(token: &str, target: &str, sessions: usize) -> Result<(), ErrorCode> {
        adm()
            .decide(&Request {
                token,
                target: target.parse().unwrap(),
                sessions,
            })
            .map_err(|(c, _)| c)
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
