//! `lightspeed-node mesh init|issue|token`: the mesh identity files and CA-signed edge tokens.

use anyhow::Context as _;
use lightspeed_mesh::identity::{Identity, MeshCa, issue_token};

use crate::cli::MeshCommand;

/// Runs a mesh subcommand, printing what it wrote.
pub fn run(cmd: MeshCommand) -> anyhow::Result<()> {
    match cmd {
        MeshCommand::Init { out, name } => {
            let ca = MeshCa::generate(&name).context("creating the mesh CA")?;
            ca.save(&out)
                .with_context(|| format!("writing the mesh CA to {}", out.display()))?;
            println!(
                "mesh CA '{name}' written to {} (keep ca.key secret and offline if you can)",
                out.display()
            );
        }
        MeshCommand::Issue { ca, name, out } => {
            let ca = MeshCa::load(&ca)
                .with_context(|| format!("loading the mesh CA from {}", ca.display()))?;
            let node = ca
                .issue_node(&name)
                .with_context(|| format!("issuing a certificate for '{name}'"))?;
            Identity::new(ca.trust(), node)
                .context("checking the new certificate")?
                .save(&out)
                .with_context(|| format!("writing the node identity to {}", out.display()))?;
            println!("node '{name}' identity written to {}", out.display());
        }
        MeshCommand::Token { ca, name, days } => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .context("system clock before 1970")?
                .as_secs();
            let token = issue_token(&ca, &name, now + days * 86_400)
                .with_context(|| format!("signing a token for '{name}'"))?;
            println!("{token}");
        }
    }
    Ok(())
}
