//! The node's TOML configuration: typed sections with documented defaults, parsing that names
//! the offending field, and semantic validation after command-line overrides.
//!
//! Loading is three steps, each with its own error: read the file ([`LoadError::Read`]), parse
//! and type-check it with serde ([`LoadError::Parse`], unknown fields refused everywhere), then
//! apply [`Overrides`] from the command line and run [`Config::validate`]
//! ([`LoadError::Invalid`]). Every field, its default and the reason for each limit are listed
//! in `docs/configuration.md`.
//!
//! Layout: `sections.rs` (the structs and defaults), `validate.rs` (semantic checks),
//! `validate_mesh.rs` (the `[mesh]` checks), `server_probe.rs` (`[proxy.server_probe]`),
//! `toml_path.rs` (maps a TOML error's position to a key path). IP
//! prefixes and the destination policy are `lightspeed_mesh::policy`'s, the same code the
//! data plane enforces.

mod sections;
mod server_probe;
mod toml_path;
mod validate;
mod validate_mesh;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use lightspeed_mesh::Role;
use serde::Deserialize;

pub use lightspeed_actors::fec_setting::{FecSetting, FecSettingError};
pub use lightspeed_mesh::policy::{Cidr, CidrError};
pub use sections::{
    EdgeSection, LimitsSection, LogFormat, MeshPreset, MeshSection, Multipath, NodeSection, Peer,
    PolicySection, ProxySection, Reach, Redirect, RouteMode, SelectorName, TlsSection, Token,
};
pub use server_probe::{ProbeKindName, ServerProbeSection};

/// A whole node configuration. Every section is optional in the file and defaults as
/// documented on its fields.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `[node]`: name, roles, listening addresses, log format.
    pub node: NodeSection,
    /// `[tls]`: mesh identity files.
    pub tls: TlsSection,
    /// `[limits]`: session, rate and queue bounds.
    pub limits: LimitsSection,
    /// `[proxy]`: client tokens and destination policy (role proxy).
    pub proxy: ProxySection,
    /// `[edge]`: token, route and redirects (role edge).
    pub edge: EdgeSection,
    /// `[[peers]]`: statically known nodes.
    pub peers: Vec<Peer>,
    /// `[mesh]`: gossip membership; absent means static peers only.
    pub mesh: Option<MeshSection>,
}

/// A semantic problem in a parsed config: which field, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
#[non_exhaustive]
pub struct ConfigError {
    /// Dotted path of the field, with array indices: `edge.via[1]`.
    pub field: String,
    /// What is wrong, in words an operator can act on.
    pub problem: String,
}

/// A TOML syntax or type error, with the field it concerns when that can be told.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParseError {
    /// Dotted key path the error points at, if any (`limits.max_sessions`).
    pub field: Option<String>,
    /// The parser's message (`invalid type: string "x", expected usize`).
    pub message: String,
    /// The offending line with a caret under the problem, as the `toml` crate prints it.
    pub context: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        write!(f, "{}", self.message.trim_end())?;
        if !self.context.is_empty() {
            write!(f, "\n{}", self.context.trim_end())?;
        }
        Ok(())
    }
}

impl std::error::Error for ParseError {}

/// Why a configuration could not be loaded. All of them mean "fix the config or flags" (the
/// binary exits with code 2).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not match the schema.
    #[error("invalid config {origin}: {source}")]
    Parse {
        /// The file, or a note that built-in defaults were used.
        origin: String,
        /// The parser's error.
        source: ParseError,
    },
    /// The configuration (after overrides) breaks a rule.
    #[error("invalid config {origin}: {source}")]
    Invalid {
        /// The file, or a note that built-in defaults were used.
        origin: String,
        /// The failed rule.
        source: ConfigError,
    },
}

/// Command-line values that replace the file's.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Overrides {
    /// `--role`: replaces `node.roles`.
    pub roles: Option<Vec<Role>>,
    /// `--log-format`: replaces `node.log_format`.
    pub log_format: Option<LogFormat>,
    /// `--admin`: replaces `node.admin_listen`.
    pub admin_listen: Option<SocketAddr>,
}

impl Config {
    /// Parses and type-checks a TOML document. Does not validate (see [`Config::validate`]).
    pub fn from_toml(text: &str) -> Result<Config, ParseError> {
        toml::from_str(text).map_err(|e| {
            let field = e.span().and_then(|s| toml_path::key_path_at(text, s.start));
            let message = e.message().to_string();
            let full = e.to_string();
            let context = full
                .strip_suffix(&format!("{message}\n"))
                .unwrap_or("")
                .to_string();
            ParseError {
                field,
                message,
                context,
            }
        })
    }

    /// Replaces fields with the command line's values.
    pub fn apply(&mut self, overrides: &Overrides) {
        if let Some(roles) = &overrides.roles {
            self.node.roles.clone_from(roles);
        }
        if let Some(format) = overrides.log_format {
            self.node.log_format = format;
        }
        if let Some(addr) = overrides.admin_listen {
            self.node.admin_listen = addr;
        }
    }

    /// Checks ranges, cross-references and per-role requirements; returns the first problem.
    /// TLS paths are checked on disk, so call this after relative paths were resolved.
    pub fn validate(&self) -> Result<(), ConfigError> {
        validate::validate(self)
    }

    /// Whether the node holds `role`.
    pub fn has_role(&self, role: Role) -> bool {
        self.node.roles.contains(&role)
    }

    /// The `[[peers]]` entry called `name`.
    pub fn peer(&self, name: &str) -> Option<&Peer> {
        self.peers.iter().find(|p| p.name == name)
    }

    /// Makes relative TLS paths relative to `dir` (the config file's directory), so a node
    /// started from any working directory finds the same files.
    fn resolve_paths(&mut self, dir: &Path) {
        for path in [&mut self.tls.ca_cert, &mut self.tls.cert, &mut self.tls.key]
            .into_iter()
            .flatten()
        {
            if path.is_relative() {
                *path = dir.join(&*path);
            }
        }
    }
}

/// Reads `path` (or starts from the defaults when `None`), applies `overrides` and validates.
pub fn load(path: Option<&Path>, overrides: &Overrides) -> Result<Config, LoadError> {
    let (mut config, origin) = match path {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            let origin = path.display().to_string();
            let mut config = Config::from_toml(&text).map_err(|source| LoadError::Parse {
                origin: origin.clone(),
                source,
            })?;
            config.resolve_paths(path.parent().unwrap_or(Path::new(".")));
            (config, origin)
        }
        None => (
            Config::default(),
            "(no --config given; built-in defaults)".to_string(),
        ),
    };
    config.apply(overrides);
    config
        .validate()
        .map_err(|source| LoadError::Invalid { origin, source })?;
    Ok(config)
}

#[cfg(test)]
mod mesh_tests;
#[cfg(test)]
mod tests;
