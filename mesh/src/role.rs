//! Node roles. One binary holds any set of them and can change the set at runtime.

use std::fmt;
use std::str::FromStr;

/// What a node does for the mesh.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Originates sessions for local game traffic.
    Edge,
    /// Transit between nodes.
    Relay,
    /// Egress that talks to the game server.
    Proxy,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 3] = [Role::Edge, Role::Relay, Role::Proxy];

    /// Lower-case name, as in configs and the CLI.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Edge => "edge",
            Role::Relay => "relay",
            Role::Proxy => "proxy",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not `edge`, `relay` or `proxy`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role '{0}' (expected edge, relay or proxy)")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Role, UnknownRole> {
        match s.trim() {
            "edge" => Ok(Role::Edge),
            "relay" => Ok(Role::Relay),
            "proxy" => Ok(Role::Proxy),
            other => Err(UnknownRole(other.to_string())),
        }
    }
}

/// Parses a comma list such as `relay,proxy` into a sorted set without duplicates.
pub fn parse_roles(list: &str) -> Result<Vec<Role>, UnknownRole> {
    let mut roles = list
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(Role::from_str)
        .collect::<Result<Vec<_>, _>>()?;
    roles.sort();
    roles.dedup();
    Ok(roles)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_comma_lists() {
        assert_eq!(
            parse_roles("proxy, relay,proxy").unwrap(),
            vec![Role::Relay, Role::Proxy]
        );
        assert_eq!(parse_roles("").unwrap(), vec![]);
        assert_eq!(
            parse_roles("edge,router"),
            Err(UnknownRole("router".into()))
        );
    }
}
