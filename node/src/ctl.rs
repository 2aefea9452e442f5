//! `lightspeed-node ctl`: a small client of a running node's admin API (plain HTTP/1.1 on
//! loopback, so no HTTP client library is needed).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{Context as _, bail};

use crate::cli::{CtlArgs, CtlCommand, RolesCommand};

/// Time for the whole exchange with the admin server.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Runs a ctl subcommand and prints the node's answer.
pub fn run(args: CtlArgs) -> anyhow::Result<()> {
    let (method, path, body) = match &args.command {
        CtlCommand::Roles(RolesCommand::Get) => ("GET", "/api/roles", String::new()),
        CtlCommand::Roles(RolesCommand::Set { roles }) => (
            "POST",
            "/api/roles",
            serde_json::json!({ "roles": roles.0 }).to_string(),
        ),
        CtlCommand::Members => ("GET", "/api/members", String::new()),
        CtlCommand::Topology => ("GET", "/api/topology", String::new()),
    };
    let (status, answer) = request(args.admin, method, path, &body)?;
    if !(200..300).contains(&status) {
        bail!("{method} {path}: HTTP {status}: {}", answer.trim());
    }
    match &args.command {
        CtlCommand::Roles(_) => {
            let v: serde_json::Value =
                serde_json::from_str(&answer).context("reading the node's answer")?;
            let roles: Vec<&str> = v["roles"]
                .as_array()
                .map(|rs| rs.iter().filter_map(|r| r.as_str()).collect())
                .unwrap_or_default();
            println!("{}", roles.join(","));
        }
        _ => println!("{}", answer.trim()),
    }
    Ok(())
}

/// One HTTP/1.1 request; returns the status code and body.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
) -> anyhow::Result<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, TIMEOUT)
        .with_context(|| format!("cannot reach the admin API at {addr} (node.admin_listen)"))?;
    s.set_read_timeout(Some(TIMEOUT))?;
    s.set_write_timeout(Some(TIMEOUT))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = String::new();
    s.read_to_string(&mut raw)
        .context("reading the admin API's answer")?;
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .context("malformed HTTP answer")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .context("malformed HTTP status line")?;
    Ok((status, body.to_owned()))
}
