//! [`SeedResolver`] against a small authoritative DNS server on 127.0.0.1 (an ephemeral UDP
//! port), driven through the pure [`SeedList`] schedule.

use std::net::{Ipv4Addr, SocketAddr};
use std::str::FromStr;

use hickory_resolver::proto::op::{Message, ResponseCode};
use hickory_resolver::proto::rr::rdata::{A, SRV};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use lightspeed_protocol::Micros;
use tokio::net::UdpSocket;

use super::*;

fn answer(query: &Message) -> Message {
    let mut reply = Message::response(query.metadata.id, query.metadata.op_code);
    reply.metadata.authoritative = true;
    reply.metadata.recursion_desired = query.metadata.recursion_desired;
    reply.queries = query.queries.clone();
    let Some(q) = query.queries.first() else {
        reply.metadata.response_code = ResponseCode::FormErr;
        return reply;
    };
    let name = q.name.to_ascii().to_ascii_lowercase();
    let a = |ip: [u8; 4]| Record::from_rdata(q.name.clone(), 60, RData::A(A(Ipv4Addr::from(ip))));
    let srv = |prio, port, target: &str| {
        let target = Name::from_str(target).unwrap();
        Record::from_rdata(
            q.name.clone(),
            60,
            RData::SRV(SRV::new(prio, 0, port, target)),
        )
    };
    let answers = match (name.trim_end_matches('.'), q.query_type) {
        ("relay.test", RecordType::A) => vec![a([127, 0, 0, 2]), a([127, 0, 0, 5])],
        ("a.test", RecordType::A) => vec![a([127, 0, 0, 3])],
        ("b.test", RecordType::A) => vec![a([127, 0, 0, 4])],
        ("_lightspeed._udp.mesh.test", RecordType::SRV) => {
            vec![srv(20, 5002, "b.test."), srv(10, 5001, "a.test.")]
        }
        ("relay.test" | "a.test" | "b.test", _) => vec![],
        _ => {
            reply.metadata.response_code = ResponseCode::NXDomain;
            vec![]
        }
    };
    reply.answers = answers;
    reply
}

async fn dns_server() -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 1_500];
        while let Ok((len, peer)) = socket.recv_from(&mut buf).await {
            let Ok(query) = Message::from_vec(&buf[..len]) else {
                continue;
            };
            if let Ok(bytes) = answer(&query).to_vec() {
                let _ = socket.send_to(&bytes, peer).await;
            }
        }
    });
    addr
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[tokio::test]
async fn resolves_hosts_and_srv_through_a_chosen_server() {
    let resolver = SeedResolver::with_server(dns_server().await).unwrap();
    let mut host = resolver
        .resolve(&ResolveQuery::Host {
            name: "relay.test".into(),
            port: 4433,
        })
        .await
        .unwrap();
    host.sort();
    assert_eq!(host, vec![sa("127.0.0.2:4433"), sa("127.0.0.5:4433")]);
    let srv = resolver
        .resolve(&ResolveQuery::Srv {
            name: "_lightspeed._udp.mesh.test".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        srv,
        vec![sa("127.0.0.3:5001"), sa("127.0.0.4:5002")],
        "targets in priority order, each with its record's port"
    );
    let missing = resolver
        .resolve(&ResolveQuery::Host {
            name: "nowhere.test".into(),
            port: 1,
        })
        .await;
    assert!(missing.is_err());
}

#[tokio::test]
async fn seed_list_fills_from_dns() {
    let resolver = SeedResolver::with_server(dns_server().await).unwrap();
    let entries = [
        "192.0.2.1:4433",
        "relay.test:4433",
        "srv:mesh.test",
        "nowhere.test",
    ]
    .iter()
    .map(|s| s.parse().unwrap())
    .collect();
    let mut list = SeedList::new(SeedConfig::default(), entries);
    let now = Micros::ZERO;
    for (index, query) in list.due(now) {
        let result = resolver.resolve(&query).await.map_err(|_| ());
        list.resolved(now, index, result);
    }
    assert_eq!(
        list.addrs(),
        vec![
            sa("127.0.0.2:4433"),
            sa("127.0.0.3:5001"),
            sa("127.0.0.4:5002"),
            sa("127.0.0.5:4433"),
            sa("192.0.2.1:4433"),
        ]
    );
    assert_eq!(
        list.next_deadline(),
        Some(now + SeedConfig::default().retry),
        "the failed name is retried first"
    );
}
