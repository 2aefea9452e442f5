//! The edge's FEC setting: `off`, `auto`, `dup`, `xor(K)` or `rs(K,M)`.

use std::fmt;
use std::str::FromStr;

use lightspeed_protocol::fec::{FecScheme, MAX_K, MAX_M};

/// What FEC an edge asks for on its sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Deserialize)]
#[serde(try_from = "String")]
pub enum FecSetting {
    /// No FEC.
    Off,
    /// Let the FEC policy pick a scheme from measured loss and packet rate.
    #[default]
    Auto,
    /// Send every packet twice.
    Dup,
    /// One XOR parity packet per `k` data packets.
    Xor {
        /// Data packets per group, 1..=15.
        k: u8,
    },
    /// Reed-Solomon: `m` parity packets per `k` data packets.
    Rs {
        /// Data packets per group, 1..=15.
        k: u8,
        /// Parity packets per group, 1..=15.
        m: u8,
    },
}

/// Why a string is not a valid FEC setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FecSettingError {
    /// Not one of the known forms.
    #[error("unknown FEC setting '{0}' (expected off, auto, dup, xor(K) or rs(K,M))")]
    Unknown(String),
    /// `k` or `m` is not a number from 1 to 15, the most the data-plane header encodes.
    #[error("{name} must be a number from 1 to {max}, got '{value}'")]
    OutOfRange {
        /// `K` or `M`.
        name: &'static str,
        /// The text given.
        value: String,
        /// The largest value allowed.
        max: u8,
    },
}

impl FecSetting {
    /// The fixed scheme this setting asks for, or `None` for [`FecSetting::Auto`].
    pub fn fixed_scheme(self) -> Option<FecScheme> {
        match self {
            FecSetting::Off => Some(FecScheme::Off),
            FecSetting::Auto => None,
            FecSetting::Dup => Some(FecScheme::Duplicate),
            FecSetting::Xor { k } => Some(FecScheme::Xor { k }),
            FecSetting::Rs { k, m } => Some(FecScheme::ReedSolomon { k, m }),
        }
    }
}

fn parse_param(name: &'static str, text: &str, max: u8) -> Result<u8, FecSettingError> {
    let text = text.trim();
    text.parse::<u8>()
        .ok()
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| FecSettingError::OutOfRange {
            name,
            value: text.to_string(),
            max,
        })
}

impl FromStr for FecSetting {
    type Err = FecSettingError;

    fn from_str(s: &str) -> Result<FecSetting, FecSettingError> {
        let t = s.trim();
        match t {
            "off" => return Ok(FecSetting::Off),
            "auto" => return Ok(FecSetting::Auto),
            "dup" => return Ok(FecSetting::Dup),
            _ => {}
        }
        let unknown = || FecSettingError::Unknown(t.to_string());
        let (name, args) = t.split_once('(').ok_or_else(unknown)?;
        let args = args.strip_suffix(')').ok_or_else(unknown)?;
        match (name.trim(), args.split_once(',')) {
            ("xor", None) => Ok(FecSetting::Xor {
                k: parse_param("K", args, MAX_K)?,
            }),
            ("rs", Some((k, m))) => Ok(FecSetting::Rs {
                k: parse_param("K", k, MAX_K)?,
                m: parse_param("M", m, MAX_M)?,
            }),
            _ => Err(unknown()),
        }
    }
}

impl TryFrom<String> for FecSetting {
    type Error = FecSettingError;
    fn try_from(s: String) -> Result<FecSetting, FecSettingError> {
        s.parse()
    }
}

impl fmt::Display for FecSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FecSetting::Off => f.write_str("off"),
            FecSetting::Auto => f.write_str("auto"),
            FecSetting::Dup => f.write_str("dup"),
            FecSetting::Xor { k } => write!(f, "xor({k})"),
            FecSetting::Rs { k, m } => write!(f, "rs({k},{m})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form_and_round_trips() {
        let cases = [
            ("off", FecSetting::Off),
            ("auto", FecSetting::Auto),
            ("dup", FecSetting::Dup),
            ("xor(4)", FecSetting::Xor { k: 4 }),
            ("rs(8,2)", FecSetting::Rs { k: 8, m: 2 }),
            ("rs(15,15)", FecSetting::Rs { k: 15, m: 15 }),
        ];
        for (text, want) in cases {
            assert_eq!(text.parse::<FecSetting>(), Ok(want), "{text}");
            assert_eq!(want.to_string(), text);
        }
        assert_eq!(" rs( 4 , 1 ) ".parse(), Ok(FecSetting::Rs { k: 4, m: 1 }));
    }

    #[test]
    fn rejects_out_of_range_and_unknown_forms() {
        assert_eq!(
            "xor(0)".parse::<FecSetting>(),
            Err(FecSettingError::OutOfRange {
                name: "K",
                value: "0".into(),
                max: 15
            })
        );
        assert_eq!(
            "rs(4,16)".parse::<FecSetting>(),
            Err(FecSettingError::OutOfRange {
                name: "M",
                value: "16".into(),
                max: 15
            })
        );
        for bad in [
            "",
            "on",
            "xor",
            "xor(4",
            "xor(1,2)",
            "rs(4)",
            "reed(4,2)",
            "Auto",
        ] {
            assert!(
                matches!(bad.parse::<FecSetting>(), Err(FecSettingError::Unknown(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn maps_to_protocol_schemes() {
        assert_eq!(FecSetting::Auto.fixed_scheme(), None);
        assert_eq!(FecSetting::Dup.fixed_scheme(), Some(FecScheme::Duplicate));
        assert_eq!(
            FecSetting::Rs { k: 4, m: 2 }.fixed_scheme(),
            Some(FecScheme::ReedSolomon { k: 4, m: 2 })
        );
    }
}
