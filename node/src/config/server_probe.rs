//! `[proxy.server_probe]`: whether and how the proxy queries the game servers of its sessions
//! to time its leg to them (docs/routing.md, "The server leg"), its checks, and its runtime
//! form. Off by default: sending unsolicited queries to game servers is the operator's choice.

use std::time::Duration;

use lightspeed_mesh::dataplane::server_probe::{ProbeKind, ProberSettings};
use lightspeed_mesh::policy::DestinationPolicy;
use lightspeed_protocol::server_query::{MAX_QUERY_LEN, MAX_REPLY_PREFIX_LEN};
use serde::Deserialize;

use super::validate::{Check, fail};

/// `kind`: which query, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProbeKindName {
    /// No queries: the server leg is timed from the game traffic only.
    #[default]
    Off,
    /// Valve's A2S_INFO (Source, Source 2, GoldSrc and the many servers speaking it).
    A2s,
    /// The operator's own query (`payload_hex`) and answer prefix (`reply_prefix_hex`).
    Udp,
}

/// `[proxy.server_probe]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerProbeSection {
    /// `off` (default), `a2s` or `udp`.
    pub kind: ProbeKindName,
    /// Between two queries to one server. Default 1 s: the estimate follows a route change
    /// within a few seconds for one small datagram a second per server. Allowed 100 ms..=60 s.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// Only servers on these ports are queried (e.g. `[27015]`); default empty: any port.
    /// At most 64 entries.
    pub ports: Vec<u16>,
    /// For `udp`: the query, as hex (`"ffffffff54"`), 1..=256 bytes.
    pub payload_hex: Option<String>,
    /// For `udp`: what every answer starts with, as hex, 1..=64 bytes.
    pub reply_prefix_hex: Option<String>,
    /// Most servers queried at once. Default 1 024: a proxy's sessions rarely spread over
    /// more game servers, and the table stays a few hundred kB. Allowed 1..=65 536.
    pub max_targets: usize,
}

impl Default for ServerProbeSection {
    fn default() -> Self {
        ServerProbeSection {
            kind: ProbeKindName::Off,
            interval: Duration::from_secs(1),
            ports: Vec::new(),
            payload_hex: None,
            reply_prefix_hex: None,
            max_targets: 1_024,
        }
    }
}

impl ServerProbeSection {
    /// The prober's settings under `policy` (`None`: off). Assumes the section validated.
    pub fn settings(&self, policy: &DestinationPolicy) -> Option<ProberSettings> {
        let kind = match self.kind {
            ProbeKindName::Off => return None,
            ProbeKindName::A2s => ProbeKind::A2s,
            ProbeKindName::Udp => ProbeKind::Udp {
                payload: hex(self.payload_hex.as_deref()?).ok()?,
                reply_prefix: hex(self.reply_prefix_hex.as_deref()?).ok()?,
            },
        };
        Some(ProberSettings {
            kind,
            interval: self.interval,
            ports: self.ports.clone(),
            max_targets: self.max_targets,
            policy: policy.clone(),
        })
    }
}

/// Decodes hex digits (either case, an even number of them).
fn hex(s: &str) -> Result<Vec<u8>, String> {
    if !s.len().is_multiple_of(2) {
        return Err(format!("'{s}' has an odd number of hex digits"));
    }
    s.as_bytes()
        .chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|p| u8::from_str_radix(p, 16).ok())
                .ok_or_else(|| format!("'{s}' is not hex (digits 0-9, a-f only)"))
        })
        .collect()
}

fn hex_field(field: &str, value: Option<&str>, max: usize) -> Check {
    let Some(v) = value else {
        return fail(field, "required for kind = \"udp\"");
    };
    match hex(v) {
        Err(e) => fail(field, e),
        Ok(b) if b.is_empty() || b.len() > max => {
            fail(field, format!("{} bytes; 1 to {max} are allowed", b.len()))
        }
        Ok(_) => Ok(()),
    }
}

/// Checks the section; errors name the field (`proxy.server_probe.interval`).
pub(super) fn validate(s: &ServerProbeSection) -> Check {
    let f = |name: &str| format!("proxy.server_probe.{name}");
    if s.interval < Duration::from_millis(100) || s.interval > Duration::from_secs(60) {
        return fail(
            f("interval"),
            format!("{:?} is out of range; allowed 100ms to 60s", s.interval),
        );
    }
    if !(1..=65_536).contains(&s.max_targets) {
        return fail(
            f("max_targets"),
            format!("{} is out of range; allowed 1 to 65536", s.max_targets),
        );
    }
    if s.ports.len() > 64 {
        return fail(f("ports"), format!("{} entries; at most 64", s.ports.len()));
    }
    if let Some(i) = s.ports.iter().position(|&p| p == 0) {
        return fail(
            format!("proxy.server_probe.ports[{i}]"),
            "port 0 is no server port",
        );
    }
    if s.kind == ProbeKindName::Udp {
        hex_field(&f("payload_hex"), s.payload_hex.as_deref(), MAX_QUERY_LEN)?;
        hex_field(
            &f("reply_prefix_hex"),
            s.reply_prefix_hex.as_deref(),
            MAX_REPLY_PREFIX_LEN,
        )?;
    } else {
        for (name, v) in [
            ("payload_hex", &s.payload_hex),
            ("reply_prefix_hex", &s.reply_prefix_hex),
        ] {
            if v.is_some() {
                return fail(f(name), "only for kind = \"udp\"");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn udp(payload: &str, prefix: &str) -> ServerProbeSection {
        ServerProbeSection {
            kind: ProbeKindName::Udp,
            payload_hex: Some(payload.into()),
            reply_prefix_hex: Some(prefix.into()),
            ..ServerProbeSection::default()
        }
    }

    fn error(s: &ServerProbeSection) -> String {
        validate(s).unwrap_err().to_string()
    }

    #[test]
    fn off_by_default_and_a2s_needs_nothing_else() {
        let s = ServerProbeSection::default();
        assert_eq!(validate(&s), Ok(()));
        assert!(s.settings(&DestinationPolicy::default()).is_none());
        let a2s = ServerProbeSection {
            kind: ProbeKindName::A2s,
            ports: vec![27015],
            ..s
        };
        let set = a2s.settings(&DestinationPolicy::default()).unwrap();
        assert_eq!(set.kind, ProbeKind::A2s);
        assert_eq!(
            (set.interval, set.ports, set.max_targets),
            (Duration::from_secs(1), vec![27015], 1_024)
        );
    }

    #[test]
    fn udp_hex_is_decoded() {
        let s = udp("DEADbeef", "be");
        assert_eq!(validate(&s), Ok(()));
        let set = s.settings(&DestinationPolicy::default()).unwrap();
        assert_eq!(
            set.kind,
            ProbeKind::Udp {
                payload: vec![0xde, 0xad, 0xbe, 0xef],
                reply_prefix: vec![0xbe]
            }
        );
    }

    #[test]
    fn each_problem_names_its_field() {
        let bad_interval = ServerProbeSection {
            interval: Duration::from_millis(50),
            ..ServerProbeSection::default()
        };
        assert_eq!(
            error(&bad_interval),
            "proxy.server_probe.interval: 50ms is out of range; allowed 100ms to 60s"
        );
        assert!(
            error(&udp("abc", "00"))
                .starts_with("proxy.server_probe.payload_hex: 'abc' has an odd")
        );
        assert!(
            error(&udp("zz", "00")).starts_with("proxy.server_probe.payload_hex: 'zz' is not hex")
        );
        assert_eq!(
            error(&udp(&"00".repeat(257), "00")),
            "proxy.server_probe.payload_hex: 257 bytes; 1 to 256 are allowed"
        );
        assert_eq!(
            error(&udp("00", "")),
            "proxy.server_probe.reply_prefix_hex: 0 bytes; 1 to 64 are allowed"
        );
        let missing = ServerProbeSection {
            kind: ProbeKindName::Udp,
            ..ServerProbeSection::default()
        };
        assert_eq!(
            error(&missing),
            "proxy.server_probe.payload_hex: required for kind = \"udp\""
        );
        let stray = ServerProbeSection {
            kind: ProbeKindName::A2s,
            payload_hex: Some("00".into()),
            ..ServerProbeSection::default()
        };
        assert_eq!(
            error(&stray),
            "proxy.server_probe.payload_hex: only for kind = \"udp\""
        );
        let port0 = ServerProbeSection {
            ports: vec![27015, 0],
            ..ServerProbeSection::default()
        };
        assert_eq!(
            error(&port0),
            "proxy.server_probe.ports[1]: port 0 is no server port"
        );
        let zero = ServerProbeSection {
            max_targets: 0,
            ..ServerProbeSection::default()
        };
        assert!(error(&zero).starts_with("proxy.server_probe.max_targets: 0 is out of range"));
    }
}
