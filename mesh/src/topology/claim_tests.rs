//! Tests of the claim wire format: budgets, strict decoding, framing.

use super::claim::*;
use crate::Role;

fn attrs() -> NodeAttrs {
    NodeAttrs {
        roles: vec![Role::Relay, Role::Proxy],
        region: "ap-southeast-1".into(),
        load_pct: 12,
        control_addr: "[2001:db8::1]:4433".parse().unwrap(),
        data_addr: Some("[2001:db8::1]:4434".parse().unwrap()),
    }
}

fn link(to: &str) -> ClaimedLink {
    ClaimedLink {
        link: LinkClaim {
            to: to.into(),
            rtt_us: 206_000,
            jitter_us: 15_000,
            loss_ppm: 1_000_000,
            age_ms: u32::MAX,
        },
        via: Some("[2001:db8::ffff:ffff]:65535".parse().unwrap()),
    }
}

fn key() -> Option<lightspeed_protocol::SessionKey> {
    Some(lightspeed_protocol::SessionKey([0xff; 32]))
}

#[test]
fn worst_case_identity_names_fit_the_budget() {
    // 64 links to 64-byte names with IPv6 `via` addresses, all numbers at their widest
    // varints, and a probe key.
    let links: Vec<_> = (0..64)
        .map(|i| link(&format!("{:0>64}", format!("n{i}"))))
        .collect();
    let mut a = attrs();
    a.region = "r".repeat(MAX_REGION_LEN);
    let origin = "o".repeat(MAX_NAME_LEN);
    let version = ClaimVersion {
        epoch: u32::MAX,
        seq: u32::MAX,
    };
    let parts = paginate(&origin, version, a, key(), links).unwrap();
    assert_eq!(parts.len(), 10, "7 links of 64-byte names per part");
    assert!(parts.len() <= usize::from(MAX_PARTS));
    let total: usize = parts.iter().map(|p| p.links.len()).sum();
    assert_eq!(total, 64);
    for (i, part) in parts.iter().enumerate() {
        let body = part.encode();
        assert!(body.len() <= MAX_BODY_BYTES, "{}", body.len());
        assert_eq!(ClaimBody::decode(&body).unwrap(), *part);
        assert_eq!(part.part as usize, i);
        assert_eq!(part.parts, 10);
        assert_eq!(part.node.is_some(), i == 0);
        assert_eq!(part.probe_key.is_some(), i == 0);
    }
}

#[test]
fn typical_claim_is_one_part() {
    let links: Vec<_> = (0..16).map(|i| link(&format!("relay-{i}.sg"))).collect();
    let parts = paginate("edge-1", ClaimVersion::default(), attrs(), key(), links).unwrap();
    assert_eq!(parts.len(), 1, "16 links fit one part even at their widest");
    let len = parts[0].encode().len();
    assert!(len <= MAX_BODY_BYTES, "{len}");
}

#[test]
fn strict_decoding() {
    let body = paginate(
        "a",
        ClaimVersion::default(),
        attrs(),
        key(),
        vec![link("b")],
    )
    .unwrap()
    .remove(0);
    let bytes = body.encode();
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert_eq!(ClaimBody::decode(&trailing), Err(MalformedClaim::Decode));
    assert_eq!(
        ClaimBody::decode(&bytes[..bytes.len() - 1]),
        Err(MalformedClaim::Decode)
    );
    let mut bad = body.clone();
    bad.links.push(link("a"));
    assert_eq!(bad.validate(), Err(MalformedClaim::Links));
    let mut bad = body.clone();
    bad.links = vec![link("c"), link("b")];
    assert_eq!(bad.validate(), Err(MalformedClaim::Links));
    let mut bad = body.clone();
    bad.origin = "Upper".into();
    assert_eq!(bad.validate(), Err(MalformedClaim::Name));
    let mut bad = body.clone();
    bad.part = 1;
    assert_eq!(bad.validate(), Err(MalformedClaim::Parts));
    let mut bad = body.clone();
    bad.node.as_mut().unwrap().load_pct = 101;
    assert_eq!(bad.validate(), Err(MalformedClaim::Attributes));
    let mut bad = body.clone();
    bad.node.as_mut().unwrap().roles = vec![Role::Proxy, Role::Relay];
    assert_eq!(bad.validate(), Err(MalformedClaim::Attributes));
    let mut bad = body.clone();
    bad.probe_key = Some(lightspeed_protocol::SessionKey([0; 32]));
    assert_eq!(bad.validate(), Err(MalformedClaim::Attributes));
    let mut bad = body.clone();
    bad.links[0].via = Some("0.0.0.0:4434".parse().unwrap());
    assert_eq!(bad.validate(), Err(MalformedClaim::Links));
    bad.links[0].via = Some("192.0.2.1:0".parse().unwrap());
    assert_eq!(bad.validate(), Err(MalformedClaim::Links));
    bad.links[0].via = None;
    assert_eq!(bad.validate(), Ok(()));
    // A probe key outside part 0 is refused like attributes would be.
    let mut bad = body;
    bad.node = None;
    bad.part = 1;
    bad.parts = 2;
    assert_eq!(bad.validate(), Err(MalformedClaim::Parts));
}

#[test]
fn item_framing() {
    let sig = [7u8; SIGNATURE_LEN];
    let item = claim_item(&sig, b"xyz");
    assert_eq!(
        Item::parse(&item),
        Ok(Item::Claim {
            signature: &sig,
            body: b"xyz"
        })
    );
    assert_eq!(Item::parse(&item[..65]), Err(MalformedClaim::Framing));
    assert_eq!(Item::parse(&[]), Err(MalformedClaim::Framing));
    assert_eq!(Item::parse(&[9, 1, 2]), Err(MalformedClaim::Framing));
    assert_eq!(Item::parse(&[KIND_CERT]), Err(MalformedClaim::Framing));
    let cert = cert_item(b"der").unwrap();
    assert_eq!(Item::parse(&cert), Ok(Item::Cert { der: b"der" }));
    assert!(cert_item(&[0; MAX_ITEM_BYTES]).is_none());
    assert_eq!(
        Item::parse(&[1; MAX_ITEM_BYTES + 1]),
        Err(MalformedClaim::TooLarge)
    );
}
