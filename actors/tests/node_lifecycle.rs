//! A node started and stopped in-process releases its sockets (so a restarted node can take
//! its old ports again), both after a clean shutdown and after a simulated crash.

use std::sync::Arc;
use std::time::Duration;

use lightspeed_actors::node;
use lightspeed_actors::spec::{Limits, NodeSpec, ProxySpec, TlsSpec};
use lightspeed_mesh::Role;
use lightspeed_mesh::dataplane::Counters;
use lightspeed_mesh::identity::{Identity, MeshCa};

fn relay_spec(dir: &std::path::Path) -> NodeSpec {
    let ca = MeshCa::generate("lifecycle").unwrap();
    let node_dir = dir.join("relay-1");
    Identity::new(ca.trust(), ca.issue_node("relay-1").unwrap())
        .unwrap()
        .save(&node_dir)
        .unwrap();
    NodeSpec {
        name: "relay-1".into(),
        roles: vec![Role::Relay],
        data_listen: "127.0.0.1:0".parse().unwrap(),
        data_advertise: None,
        control_listen: "127.0.0.1:0".parse().unwrap(),
        tls: TlsSpec {
            ca_cert: node_dir.join("ca.crt"),
            cert: Some(node_dir.join("node.crt")),
            key: Some(node_dir.join("node.key")),
        },
        limits: Limits::default(),
        proxy: ProxySpec::default(),
        edge: None,
        peers: Vec::new(),
        mesh: None,
    }
}

async fn port_is_free(addr: std::net::SocketAddr) -> bool {
    // The loops are aborted; give the runtime a moment to drop them, bounded.
    for _ in 0..100 {
        if std::net::UdpSocket::bind(addr).is_ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[actix_rt::test]
async fn shutdown_and_crash_release_the_data_port() {
    let dir = std::env::temp_dir().join(format!("ls-lifecycle-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    tokio::time::timeout(Duration::from_secs(20), async {
        let mut spec = relay_spec(&dir);
        let n = node::start(spec.clone(), Arc::new(Counters::default()))
            .await
            .unwrap();
        let data = n.dp.local_addr().unwrap();
        assert!(
            std::net::UdpSocket::bind(data).is_err(),
            "the node holds its port"
        );
        n.shutdown().await;
        assert!(port_is_free(data).await, "shutdown released {data}");

        spec.data_listen = data;
        let again = node::start(spec, Arc::new(Counters::default()))
            .await
            .expect("a restarted node takes its old data port");
        assert_eq!(again.dp.local_addr().unwrap(), data);
        again.crash().await;
        assert!(port_is_free(data).await, "crash released {data}");
    })
    .await
    .expect("bounded");
    let _ = std::fs::remove_dir_all(&dir);
}
