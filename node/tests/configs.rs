//! Every example in `configs/*.toml` parses and validates, and says what its name says.
//!
//! Each example is copied into its own scratch directory, as if it were on its own machine,
//! next to the mesh identity files its `[tls]` section names (`mesh/ca.crt`, `mesh/node.crt`,
//! `mesh/node.key`, issued by one test CA for the example's `node.name`), then loaded the way
//! the binary loads it.

mod support;

use std::path::{Path, PathBuf};

use lightspeed_mesh::Role;
use lightspeed_mesh::identity::{Identity, MeshCa};
use lightspeed_node::config::{self, Config, Overrides};
use support::TempDir;

fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../configs")
}

fn examples() -> Vec<PathBuf> {
    let dir = examples_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

/// The examples installed in a scratch directory, each with its identity files.
struct Installed {
    dir: TempDir,
}

impl Installed {
    fn new() -> Installed {
        let dir = TempDir::new("configs");
        let ca = MeshCa::generate("example-mesh").unwrap();
        for file in examples() {
            let text = std::fs::read_to_string(&file).unwrap();
            let name = Config::from_toml(&text)
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
                .node
                .name;
            let home = dir.path(&stem(&file));
            let node = ca.issue_node(&name).unwrap();
            Identity::new(ca.trust(), node)
                .unwrap()
                .save(&home.join("mesh"))
                .unwrap();
            std::fs::write(home.join(file.file_name().unwrap()), text).unwrap();
        }
        Installed { dir }
    }

    /// The installed copy of `configs/<name>`.
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path(&stem(Path::new(name))).join(name)
    }

    fn load(&self, name: &str) -> Config {
        config::load(Some(&self.path(name)), &Overrides::default())
            .unwrap_or_else(|e| panic!("{e}"))
    }
}

fn stem(file: &Path) -> String {
    file.file_stem().unwrap().to_string_lossy().into_owned()
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
    let installed = Installed::new();
    for name in &names {
        let c = installed.load(name);
        // The TLS paths are relative in the examples and resolve next to the file.
        let home = installed.path(name).parent().unwrap().to_path_buf();
        assert_eq!(c.tls.ca_cert, Some(home.join("mesh/ca.crt")), "{name}");
    }
}

#[test]
fn examples_need_their_identity_files() {
    // Without the files next to it, each example names the first missing one.
    let dir = TempDir::new("configs-bare");
    for file in examples() {
        let copy = dir.path(&file.file_name().unwrap().to_string_lossy());
        std::fs::copy(&file, &copy).unwrap();
        let err = config::load(Some(&copy), &Overrides::default()).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(&format!(
                "tls.ca_cert: file not found: {}",
                dir.path("mesh/ca.crt").display()
            )),
            "{text}"
        );
    }
}

#[test]
fn examples_form_the_bangkok_singapore_la_mesh() {
    let installed = Installed::new();
    let edge = installed.load("edge.toml");
    let relay = installed.load("relay.toml");
    let proxy = installed.load("proxy.toml");
    assert_eq!(edge.node.roles, vec![Role::Edge]);
    assert_eq!(relay.node.roles, vec![Role::Relay]);
    assert_eq!(proxy.node.roles, vec![Role::Proxy]);

    // The edge holds only the CA; relay and proxy are mesh members with certificates.
    assert_eq!(
        (edge.tls.cert.as_ref(), edge.tls.key.as_ref()),
        (None, None)
    );
    assert!(relay.tls.cert.is_some() && relay.tls.key.is_some());
    assert!(proxy.tls.cert.is_some() && proxy.tls.key.is_some());

    // The edge routes through the relay to the proxy, using the addresses those nodes use.
    assert_eq!(edge.edge.via, vec![relay.node.name.clone()]);
    assert_eq!(edge.edge.proxy.as_deref(), Some(proxy.node.name.as_str()));
    let sgp = edge.peer(&relay.node.name).unwrap();
    assert_eq!(sgp.control.port(), relay.node.control_listen.port());
    assert_eq!(sgp.data.port(), relay.node.data_listen.port());
    // The proxy listens on a wildcard address and advertises the one the edge knows it by.
    let lax = edge.peer(&proxy.node.name).unwrap();
    assert!(proxy.node.data_listen.ip().is_unspecified());
    assert_eq!(proxy.node.data_advertise, Some(lax.data));
    assert_eq!(lax.control.port(), proxy.node.control_listen.port());
    // The edge's token is one the proxy accepts.
    let token = edge.edge.token.as_ref().unwrap();
    assert!(proxy.proxy.tokens.contains(token));
    // The example game server is reachable under the proxy's destination policy.
    let target = edge.edge.redirect[0].target;
    assert_eq!(proxy.proxy.destination_policy().check(target), Ok(()));
}
