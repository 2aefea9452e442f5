//! The command line. `lightspeed-node [--config FILE] [--role ROLES] ...` runs a node;
//! `lightspeed-node demo ...` runs the loopback demo. Usage errors exit with code 2 (clap's
//! convention, kept for config errors too).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use lightspeed_mesh::Role;
use lightspeed_mesh::role::parse_roles;

use crate::config::{FecSetting, LogFormat, Overrides};

/// LightSpeed node: edge, relay and proxy roles in one binary.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "lightspeed-node",
    version,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// TOML config file (see docs/configuration.md). Without it, built-in defaults are used.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Roles to run, comma-separated (edge, relay, proxy); replaces node.roles.
    #[arg(long, value_name = "ROLES", value_parser = parse_role_list)]
    pub role: Option<RoleList>,
    /// Log line format; replaces node.log_format.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Admin HTTP address (/health, /metrics); replaces node.admin_listen.
    #[arg(long, value_name = "ADDR")]
    pub admin: Option<SocketAddr>,
    /// Something other than running a node.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Run edge, relay, proxy and a game-like client and server on loopback over a simulated
    /// lossy link, and report latency, loss and what FEC recovered.
    Demo(DemoArgs),
    /// Mesh identity: create the mesh CA, issue node certificates.
    #[command(subcommand)]
    Mesh(MeshCommand),
    /// Talk to a running node's admin API.
    Ctl(CtlArgs),
    /// Train or evaluate the ML path selector from recorded measurements.
    #[command(subcommand)]
    Ml(MlCommand),
}

/// `lightspeed-node ml ...`.
#[derive(Debug, Clone, PartialEq, Subcommand)]
pub enum MlCommand {
    /// Train a model from recorded rounds (JSON lines, see docs/routing.md).
    Train {
        /// Recording files, read in order.
        #[arg(long, value_name = "FILE", required = true, num_args = 1..)]
        data: Vec<PathBuf>,
        /// Where to write the model.
        #[arg(long, value_name = "MODEL")]
        out: PathBuf,
        /// Trees in the forest (1 to 512).
        #[arg(long, default_value_t = 31, value_parser = clap::value_parser!(u16).range(1..=512))]
        trees: u16,
        /// Seed of the bagging.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Accuracy of a model on recorded rounds, and its regret against nearest.
    Evaluate {
        /// The model file.
        #[arg(long, value_name = "MODEL")]
        model: PathBuf,
        /// Recording files, read in order.
        #[arg(long, value_name = "FILE", required = true, num_args = 1..)]
        data: Vec<PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `lightspeed-node ctl [--admin ADDR] ...`.
#[derive(Debug, Clone, PartialEq, Args)]
pub struct CtlArgs {
    /// The node's admin HTTP address (`node.admin_listen`).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub admin: std::net::SocketAddr,
    /// What to do.
    #[command(subcommand)]
    pub command: CtlCommand,
}

/// `ctl` subcommands.
#[derive(Debug, Clone, PartialEq, Subcommand)]
pub enum CtlCommand {
    /// Read or change the roles the node holds.
    #[command(subcommand)]
    Roles(RolesCommand),
    /// List the mesh members the node knows (JSON).
    Members,
    /// Print the measured mesh topology (JSON).
    Topology,
}

/// `ctl roles ...`.
#[derive(Debug, Clone, PartialEq, Subcommand)]
pub enum RolesCommand {
    /// Print the roles held now.
    Get,
    /// Replace the roles held, e.g. `relay,proxy`; the mesh sees the change within seconds.
    Set {
        /// Comma-separated roles.
        #[arg(value_parser = parse_role_list)]
        roles: RoleList,
    },
}

/// `lightspeed-node mesh ...`.
#[derive(Debug, Clone, PartialEq, Subcommand)]
pub enum MeshCommand {
    /// Create a mesh CA (ca.crt, ca.key with mode 0600) in DIR.
    Init {
        /// Directory to write into (created if missing; existing files are never overwritten).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Mesh name, written into every certificate.
        #[arg(long, default_value = "lightspeed")]
        name: String,
    },
    /// Issue a node certificate and key (node.crt, node.key 0600, plus ca.crt) signed by the CA.
    Issue {
        /// Directory holding the CA (ca.crt, ca.key).
        #[arg(long, value_name = "DIR")]
        ca: PathBuf,
        /// Node name (a DNS-style name; it is the node's TLS name).
        #[arg(long)]
        name: String,
        /// Directory to write into.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Print an edge token for PLAYER signed by the CA; every proxy of the mesh accepts it
    /// until it expires (besides its static `[proxy] tokens`).
    Token {
        /// Directory holding the CA (ca.crt, ca.key).
        #[arg(long, value_name = "DIR")]
        ca: PathBuf,
        /// Player name: 1-64 of A-Z a-z 0-9 - _.
        #[arg(long, value_name = "PLAYER")]
        name: String,
        /// Validity in days.
        #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u64).range(1..=3650))]
        days: u64,
    },
}

/// Arguments of `lightspeed-node demo`, validated by clap.
#[derive(Debug, Clone, PartialEq, Args)]
pub struct DemoArgs {
    /// How long to run, in seconds (1 to 3600).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub seconds: u64,
    /// Simulated packet loss on the relay link, as a fraction (0.05) or percentage (5%).
    #[arg(long, default_value_t = 0.0, value_parser = parse_loss)]
    pub loss: f64,
    /// FEC setting: off, auto, dup, xor(K) or rs(K,M).
    #[arg(long, default_value = "auto", value_parser = parse_fec)]
    pub fec: String,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Game traffic profile to imitate.
    #[arg(long, default_value = "cs2")]
    pub game: String,
}

/// A parsed `--role` list: sorted, without duplicates, never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleList(pub Vec<Role>);

fn parse_role_list(s: &str) -> Result<RoleList, String> {
    let roles = parse_roles(s).map_err(|e| e.to_string())?;
    if roles.is_empty() {
        return Err("at least one role is required (edge, relay, proxy)".to_string());
    }
    Ok(RoleList(roles))
}

fn parse_loss(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let (number, scale) = match t.strip_suffix('%') {
        Some(pct) => (pct, 100.0),
        None => (t, 1.0),
    };
    let v = number
        .trim()
        .parse::<f64>()
        .map_err(|_| format!("'{s}' is not a number"))?
        / scale;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("'{s}' is outside 0 to 1 (0% to 100%)"))
    }
}

fn parse_fec(s: &str) -> Result<String, String> {
    s.parse::<FecSetting>()
        .map(|f| f.to_string())
        .map_err(|e| e.to_string())
}

impl Cli {
    /// The values that replace config-file fields.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            roles: self.role.as_ref().map(|r| r.0.clone()),
            log_format: self.log_format,
            admin_listen: self.admin,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("lightspeed-node").chain(args.iter().copied()))
    }

    #[test]
    fn node_flags_become_overrides() {
        let cli = parse(&[
            "--config",
            "relay.toml",
            "--role",
            "proxy,relay",
            "--log-format",
            "json",
            "--admin",
            "127.0.0.1:9000",
        ])
        .unwrap();
        assert_eq!(cli.config, Some(PathBuf::from("relay.toml")));
        let o = cli.overrides();
        assert_eq!(o.roles, Some(vec![Role::Relay, Role::Proxy]));
        assert_eq!(o.log_format, Some(LogFormat::Json));
        assert_eq!(o.admin_listen, Some("127.0.0.1:9000".parse().unwrap()));
        assert!(cli.command.is_none());
    }

    #[test]
    fn bad_roles_are_usage_errors_naming_the_flag() {
        for bad in ["router", "edge,router", ","] {
            let err = parse(&["--role", bad]).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ValueValidation, "{bad}");
            assert_eq!(err.exit_code(), 2);
            assert!(err.to_string().contains("--role"), "{err}");
        }
    }

    #[test]
    fn demo_defaults_and_validation() {
        let cli = parse(&["demo"]).unwrap();
        let Some(Command::Demo(d)) = cli.command else {
            panic!("expected demo")
        };
        assert_eq!(
            d,
            DemoArgs {
                seconds: 10,
                loss: 0.0,
                fec: "auto".into(),
                json: false,
                game: "cs2".into()
            }
        );
        let cli = parse(&["demo", "--loss", "5%", "--fec", "rs( 4,2)", "--json"]).unwrap();
        let Some(Command::Demo(d)) = cli.command else {
            panic!("expected demo")
        };
        assert!((d.loss - 0.05).abs() < 1e-12);
        assert_eq!(d.fec, "rs(4,2)");
        assert!(d.json);
        for bad in [
            &["demo", "--loss", "1.5"][..],
            &["demo", "--loss", "x"],
            &["demo", "--fec", "xor(16)"],
            &["demo", "--seconds", "0"],
            &["--config", "x.toml", "demo"],
        ] {
            assert_eq!(parse(bad).unwrap_err().exit_code(), 2, "{bad:?}");
        }
    }
}
