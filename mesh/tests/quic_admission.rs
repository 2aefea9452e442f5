//! Who gets in: certificates from other CAs, wrong server names, forged node names and
//! connection caps, over real sockets on loopback.

mod quic_support;

use std::sync::atomic::Ordering;

use lightspeed_mesh::identity::{CA_KEY_FILE, MeshCa};
use lightspeed_mesh::quic::{ControlClient, QuicError, ServerLimits, codes};
use quic_support::*;

#[tokio::test]
async fn node_certificate_from_another_ca_is_refused() {
    bounded(async {
        let ca = MeshCa::generate("test").unwrap();
        let other = MeshCa::generate("other").unwrap();
        let srv = start(&ca, ServerLimits::default());
        let rogue = other.issue_node("relay-1").unwrap();
        let endpoint =
            endpoint_presenting(&ca, rogue.cert_der().clone(), rogue.key_der(), srv.addr());
        let err = refused(endpoint, srv.addr(), SERVER_NAME).await;
        assert!(matches!(err, QuicError::Refused(_)), "{err:?}");
        let stats = stats_until(&srv.server, |s| s.handshakes_failed == 1).await;
        assert_eq!(stats.connections_accepted, 0);
        assert_eq!(srv.echo.calls.load(Ordering::SeqCst), 0);
    })
    .await;
}

#[tokio::test]
async fn ca_signed_certificate_without_a_valid_node_name_is_closed() {
    bounded(async {
        let ca = MeshCa::generate("test").unwrap();
        let srv = start(&ca, ServerLimits::default());
        // Sign, with the real CA key, a client certificate whose only name is not a node name.
        let dir = TempDir::new("forged-name");
        ca.save(dir.path()).unwrap();
        let ca_key_pem = std::fs::read_to_string(dir.path().join(CA_KEY_FILE)).unwrap();
        let ca_key = rcgen::KeyPair::from_pem(&ca_key_pem).unwrap();
        let issuer = rcgen::Issuer::from_ca_cert_der(ca.cert_der(), ca_key).unwrap();
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["Not_A_Node".to_owned()]).unwrap();
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&leaf_key, &issuer).unwrap();
        let key = rustls_pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());

        let endpoint = endpoint_presenting(&ca, cert.der().clone(), key, srv.addr());
        let err = refused(endpoint, srv.addr(), SERVER_NAME).await;
        match err {
            QuicError::Closed(quinn::ConnectionError::ApplicationClosed(close)) => {
                assert_eq!(
                    close.error_code.into_inner(),
                    u64::from(codes::NO_NODE_NAME)
                );
            }
            other => panic!("expected NO_NODE_NAME close, got {other:?}"),
        }
        let stats = stats_until(&srv.server, |s| s.no_node_name == 1).await;
        assert_eq!(stats.connections_accepted, 0);
        assert_eq!(srv.echo.calls.load(Ordering::SeqCst), 0);
    })
    .await;
}

#[tokio::test]
async fn wrong_server_name_or_foreign_server_is_refused() {
    bounded(async {
        let ca = MeshCa::generate("test").unwrap();
        let srv = start(&ca, ServerLimits::default());
        // The server proves "proxy-1"; this client wants "relay-9".
        let err = refused(
            node_endpoint(&ca, "relay-1", srv.addr()),
            srv.addr(),
            "relay-9",
        )
        .await;
        assert!(matches!(err, QuicError::Refused(_)), "{err:?}");
        // An edge that trusts another mesh's CA refuses our server.
        let other = MeshCa::generate("other").unwrap();
        let err = refused(edge_endpoint(&other, srv.addr()), srv.addr(), SERVER_NAME).await;
        assert!(matches!(err, QuicError::Refused(_)), "{err:?}");
        assert_eq!(srv.echo.calls.load(Ordering::SeqCst), 0);
        stats_until(&srv.server, |s| s.handshakes_failed == 2).await;
    })
    .await;
}

#[tokio::test]
async fn connection_caps_refuse_extra_clients() {
    bounded(async {
        let ca = MeshCa::generate("test").unwrap();
        let limits = ServerLimits {
            max_connections: 2,
            max_anonymous_connections: 1,
            ..ServerLimits::default()
        };
        let srv = start(&ca, limits);
        let addr = srv.addr();
        let edge1 = ControlClient::connect(edge_endpoint(&ca, addr), addr, SERVER_NAME)
            .await
            .unwrap();
        assert_eq!(edge1.request(b"1", REQ).await.unwrap(), b"anon|1");

        // A second anonymous connection is closed with BUSY right after its handshake.
        let err = refused(edge_endpoint(&ca, addr), addr, SERVER_NAME).await;
        match err {
            QuicError::Closed(quinn::ConnectionError::ApplicationClosed(close)) => {
                assert_eq!(close.error_code.into_inner(), u64::from(codes::BUSY));
            }
            other => panic!("expected BUSY close, got {other:?}"),
        }
        stats_until(&srv.server, |s| s.connections_refused_capacity == 1).await;

        // Mesh members still get in; the slots are then full for everyone.
        let node = ControlClient::connect(node_endpoint(&ca, "relay-1", addr), addr, SERVER_NAME)
            .await
            .unwrap();
        assert_eq!(node.request(b"2", REQ).await.unwrap(), b"node:relay-1|2");
        let err = refused(node_endpoint(&ca, "relay-2", addr), addr, SERVER_NAME).await;
        assert!(matches!(err, QuicError::Refused(_)), "{err:?}");
        let stats = stats_until(&srv.server, |s| s.connections_refused_capacity == 2).await;
        assert_eq!(stats.connections_accepted, 2);
    })
    .await;
}
