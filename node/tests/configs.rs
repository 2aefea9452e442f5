//! Every example in `configs/*.toml` parses and validates, and says what its name says.

use std::path::PathBuf;

use lightspeed_mesh::Role;
use lightspeed_node::config::{self, Config, Overrides};

fn examples() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../configs");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

fn load(name: &str) -> Config {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../configs")
        .join(name);
    config::load(Some(&path), &Overrides::default()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_example_config_is_valid() {
    let files = examples();
    let names: Vec<String> = files
        .iter()
        .filter_map(|p| Some(p.file_name()?.to_str()?.to_string()))
        .collect();
    for expected in ["edge.toml", "proxy.toml", "relay.toml"] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing: {names:?}"
        );
    }
    for file in &files {
        if let Err(e) = config::load(Some(file), &Overrides::default()) {
            panic!("{e}");
        }
    }
}

#[test]
fn examples_form_the_bangkok_singapore_la_mesh() {
    let edge = load("edge.toml");
    let relay = load("relay.toml");
    let proxy = load("proxy.toml");
    assert_eq!(edge.node.roles, vec![Role::Edge]);
    assert_eq!(relay.node.roles, vec![Role::Relay]);
    assert_eq!(proxy.node.roles, vec![Role::Proxy]);

    // The edge routes through the relay to the proxy, using the addresses those nodes use.
    assert_eq!(edge.edge.via, vec![relay.node.name.clone()]);
    assert_eq!(edge.edge.proxy.as_deref(), Some(proxy.node.name.as_str()));
    let sgp = edge.peer(&relay.node.name).unwrap();
    assert_eq!(sgp.control.port(), relay.node.control_listen.port());
    assert_eq!(sgp.data.port(), relay.node.data_listen.port());
    // The edge's token is one the proxy accepts.
    let token = edge.edge.token.as_ref().unwrap();
    assert!(proxy.proxy.tokens.contains(token));
    // The example game server is reachable under the proxy's destination policy.
    let target = edge.edge.redirect[0].target.ip();
    assert_eq!(proxy.proxy.check_destination(target), Ok(()));
}
