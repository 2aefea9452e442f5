//! Mesh identity: generation, issuance, PEM files, permission and trust checks.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use lightspeed_mesh::identity::{
    CA_CERT_FILE, CA_KEY_FILE, Identity, IdentityError, MAX_PEM_FILE_BYTES, MeshCa, MeshTrust,
    NODE_CERT_FILE, NODE_KEY_FILE, NodeIdentity,
};

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("ls-mesh-{}-{tag}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        TempDir(path)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn ca_save_load_round_trip_and_file_modes() {
    let dir = TempDir::new("ca-round-trip");
    let ca = MeshCa::generate("home-mesh").unwrap();
    ca.save(dir.path()).unwrap();

    assert_eq!(mode(&dir.path().join(CA_KEY_FILE)), 0o600);
    // Certificates are public: 0644, less if the umask says so.
    assert_eq!(mode(&dir.path().join(CA_CERT_FILE)) & !0o644, 0);
    assert_eq!(mode(dir.path()), 0o700);

    let loaded = MeshCa::load(dir.path()).unwrap();
    assert_eq!(loaded.mesh_name(), "home-mesh");
    assert_eq!(loaded.cert_der(), ca.cert_der());

    // The reloaded CA signs certificates the original trust anchor accepts.
    let node = loaded.issue_node("relay-1").unwrap();
    let identity = Identity::new(ca.trust(), node).unwrap();
    assert_eq!(identity.name(), "relay-1");
}

#[test]
fn node_bundle_save_load_round_trip() {
    let dir = TempDir::new("node-round-trip");
    let ca = MeshCa::generate("m").unwrap();
    let identity = Identity::new(ca.trust(), ca.issue_node("sg.relay-2").unwrap()).unwrap();
    identity.save(dir.path()).unwrap();

    assert_eq!(mode(&dir.path().join(NODE_KEY_FILE)), 0o600);
    assert_eq!(mode(&dir.path().join(NODE_CERT_FILE)) & !0o644, 0);
    assert_eq!(mode(&dir.path().join(CA_CERT_FILE)) & !0o644, 0);
    let key_pem = fs::read_to_string(dir.path().join(NODE_KEY_FILE)).unwrap();
    assert!(
        key_pem.starts_with("-----BEGIN PRIVATE KEY-----"),
        "{key_pem}"
    );

    let loaded = Identity::load(
        &dir.path().join(CA_CERT_FILE),
        &dir.path().join(NODE_CERT_FILE),
        &dir.path().join(NODE_KEY_FILE),
    )
    .unwrap();
    assert_eq!(loaded.name(), "sg.relay-2");
    assert_eq!(loaded.node().cert_der(), identity.node().cert_der());
    assert_eq!(loaded.trust().cert_der(), ca.cert_der());
    assert_eq!(
        loaded.node().key_der().secret_der(),
        identity.node().key_der().secret_der()
    );
    assert_eq!(Identity::load_dir(dir.path()).unwrap().name(), "sg.relay-2");
}

#[test]
fn saving_never_overwrites() {
    let dir = TempDir::new("no-overwrite");
    let ca = MeshCa::generate("m").unwrap();
    ca.save(dir.path()).unwrap();
    let before = fs::read(dir.path().join(CA_KEY_FILE)).unwrap();
    let other = MeshCa::generate("m").unwrap();
    match other.save(dir.path()) {
        Err(IdentityError::AlreadyExists { path }) => assert!(path.ends_with(CA_CERT_FILE)),
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    assert_eq!(fs::read(dir.path().join(CA_KEY_FILE)).unwrap(), before);
}

#[test]
fn group_or_world_accessible_keys_are_refused() {
    let dir = TempDir::new("key-mode");
    let ca = MeshCa::generate("m").unwrap();
    ca.issue_node("relay-1").unwrap().save(dir.path()).unwrap();
    let key = dir.path().join(NODE_KEY_FILE);
    let cert = dir.path().join(NODE_CERT_FILE);
    for bad in [0o640, 0o604, 0o660, 0o644] {
        fs::set_permissions(&key, fs::Permissions::from_mode(bad)).unwrap();
        match NodeIdentity::load(&cert, &key) {
            Err(IdentityError::KeyPermissions { mode, .. }) => assert_eq!(mode, bad),
            other => panic!("mode {bad:o}: expected KeyPermissions, got {other:?}"),
        }
    }
    fs::set_permissions(&key, fs::Permissions::from_mode(0o400)).unwrap();
    assert_eq!(NodeIdentity::load(&cert, &key).unwrap().name(), "relay-1");
}

#[test]
fn certificate_from_another_ca_is_untrusted() {
    let ours = MeshCa::generate("ours").unwrap();
    let theirs = MeshCa::generate("theirs").unwrap();
    let node = theirs.issue_node("relay-1").unwrap();
    assert!(matches!(
        Identity::new(ours.trust(), node),
        Err(IdentityError::Untrusted(_))
    ));
}

#[test]
fn key_of_another_certificate_is_refused() {
    let dir_a = TempDir::new("mismatch-a");
    let dir_b = TempDir::new("mismatch-b");
    let ca = MeshCa::generate("m").unwrap();
    ca.issue_node("relay-1")
        .unwrap()
        .save(dir_a.path())
        .unwrap();
    ca.issue_node("relay-1")
        .unwrap()
        .save(dir_b.path())
        .unwrap();
    assert!(matches!(
        NodeIdentity::load(
            &dir_a.path().join(NODE_CERT_FILE),
            &dir_b.path().join(NODE_KEY_FILE)
        ),
        Err(IdentityError::KeyMismatch)
    ));
}

#[test]
fn bad_names_are_refused() {
    assert!(matches!(
        MeshCa::generate("my mesh"),
        Err(IdentityError::InvalidName { .. })
    ));
    let ca = MeshCa::generate("m").unwrap();
    for bad in ["Relay-1", "relay_1", "", "10.0.0.1", "a..b"] {
        assert!(
            matches!(ca.issue_node(bad), Err(IdentityError::InvalidName { .. })),
            "{bad:?}"
        );
    }
}

#[test]
fn files_that_are_not_pem_or_too_large_are_refused() {
    let dir = TempDir::new("bad-files");
    fs::create_dir_all(dir.path()).unwrap();
    let big = dir.path().join("big.crt");
    fs::write(&big, vec![b'A'; MAX_PEM_FILE_BYTES as usize + 1]).unwrap();
    assert!(matches!(
        MeshTrust::load(&big),
        Err(IdentityError::FileTooLarge { max, .. }) if max == MAX_PEM_FILE_BYTES
    ));
    let junk = dir.path().join("junk.crt");
    fs::write(&junk, "not a certificate").unwrap();
    match MeshTrust::load(&junk) {
        Err(e @ IdentityError::Pem { .. }) => assert_eq!(
            e.to_string(),
            format!("{}: no PEM certificate: no items found", junk.display())
        ),
        other => panic!("expected a PEM error naming the file, got {other:?}"),
    }
    assert!(matches!(
        MeshTrust::load(&dir.path().join("missing.crt")),
        Err(IdentityError::Io { .. })
    ));

    // A node certificate is not a trust anchor.
    let ca = MeshCa::generate("m").unwrap();
    let node = ca.issue_node("relay-1").unwrap();
    assert!(matches!(
        MeshTrust::from_pem(node.cert_pem()),
        Err(IdentityError::BadCertificate(_))
    ));
    let not_ca = dir.path().join("node-as-ca.crt");
    fs::write(&not_ca, node.cert_pem()).unwrap();
    assert!(matches!(
        MeshTrust::load(&not_ca),
        Err(IdentityError::Pem { path, reason })
            if path == not_ca && reason == "the mesh trust anchor is not a CA certificate"
    ));
}
