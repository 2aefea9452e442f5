//! Which mesh and node names are accepted.
//!
//! Node names end up in certificate SANs, in TLS server-name checks and in gossip, where they
//! are compared byte for byte, so only one spelling of each name is allowed: lower-case DNS
//! names. Mesh names go into the CA's subject, whose X.520 attributes are capped at 64 chars.

use super::IdentityError;

/// Longest node name: the longest DNS name in presentation form (RFC 1035 §2.3.4).
pub const MAX_NODE_NAME_LEN: usize = 253;

/// Longest mesh name: X.520 `ub-organization-name` is 64.
pub const MAX_MESH_NAME_LEN: usize = 64;

/// Longest DNS label (RFC 1035 §2.3.4).
const MAX_LABEL_LEN: usize = 63;

fn invalid(name: &str, reason: &'static str) -> IdentityError {
    IdentityError::InvalidName {
        name: name.to_owned(),
        reason,
    }
}

/// Accepts lower-case DNS names: dot-separated labels of `a-z`, `0-9` and `-`, no label starting
/// or ending with `-`, not all digits (so it can never be read as an IP address).
pub(crate) fn check_node_name(name: &str) -> Result<(), IdentityError> {
    if name.is_empty() {
        return Err(invalid(name, "empty"));
    }
    if name.len() > MAX_NODE_NAME_LEN {
        return Err(invalid(name, "longer than 253 bytes"));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err(invalid(
                name,
                "empty label (leading, trailing or double dot)",
            ));
        }
        if label.len() > MAX_LABEL_LEN {
            return Err(invalid(name, "label longer than 63 bytes"));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(invalid(name, "only a-z, 0-9, '-' and '.' are allowed"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(invalid(name, "label starts or ends with '-'"));
        }
    }
    if name.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(invalid(name, "all digits (looks like an IP address)"));
    }
    Ok(())
}

/// Accepts 1–64 bytes of `A-Z a-z 0-9 . _ -`.
pub(crate) fn check_mesh_name(name: &str) -> Result<(), IdentityError> {
    if name.is_empty() {
        return Err(invalid(name, "empty"));
    }
    if name.len() > MAX_MESH_NAME_LEN {
        return Err(invalid(name, "longer than 64 bytes"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err(invalid(
            name,
            "only A-Z, a-z, 0-9, '.', '_' and '-' are allowed",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names() {
        for ok in ["relay-1", "a", "sg.relay-2", "x1", &"a".repeat(63)] {
            assert!(check_node_name(ok).is_ok(), "{ok}");
        }
        let long_label = "a".repeat(64);
        let long_name = ["abc"; 64].join(".");
        assert_eq!(long_name.len(), 255);
        for bad in [
            "",
            "Relay-1",
            "relay_1",
            "-relay",
            "relay-",
            "a..b",
            ".a",
            "a.",
            "10.0.0.1",
            "123",
            "réseau",
            &long_label,
            &long_name,
        ] {
            assert!(
                matches!(check_node_name(bad), Err(IdentityError::InvalidName { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn mesh_names() {
        for ok in ["home", "My_Mesh-2.eu", &"m".repeat(64)] {
            assert!(check_mesh_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a b", "mesh/1", &"m".repeat(65)] {
            assert!(check_mesh_name(bad).is_err(), "{bad}");
        }
    }
}
