//! Topology claims on the wire: what a node says about itself, split into signed parts that
//! each fit in one gossip broadcast item.
//!
//! A claim describes only its origin: its attributes (roles, region, load, addresses) and its
//! own outgoing links. A node with many links publishes several *parts*; part 0 carries the
//! attributes. Every part carries the same [`ClaimVersion`] and is signed on its own, so any
//! relay can forward any part and any receiver can check it (see [`super::auth`]).
//!
//! Item framing (the bytes handed to foca as one custom broadcast):
//!
//! ```text
//! claim: 0x01 | signature (64 bytes, ECDSA P-256 r||s) | body (postcard ClaimBody)
//! cert:  0x02 | certificate (DER, the origin's mesh certificate)
//! ```
//!
//! The signature covers [`SIGNING_CONTEXT`] followed by the body bytes. Bodies must be
//! canonical (re-encoding the decoded body gives the same bytes), so a stored claim can be
//! re-sent as decoded and still verify, and two encodings of one claim cannot coexist.

use std::net::SocketAddr;

use lightspeed_protocol::SessionKey;
use serde::{Deserialize, Serialize};

use crate::Role;

/// Longest node name that gossip carries. Names travel in every foca header (twice) and in every
/// link entry, and the header must leave room for a broadcast item inside a
/// [`crate::membership::MAX_PACKET_SIZE`] datagram; 64 bytes keeps a worst-case header at 186
/// bytes. Certificates may carry longer names; such nodes cannot join the gossip mesh.
pub const MAX_NAME_LEN: usize = 64;

/// Longest region label (e.g. `ap-southeast-1`).
pub const MAX_REGION_LEN: usize = 32;

/// Most parts one node's claim may be split into. 64 links of worst-case 64-byte peer names
/// need 8 parts; 16 leaves room without letting one node occupy unbounded memory.
pub const MAX_PARTS: u8 = 16;

/// Largest broadcast item. A foca `Broadcast` message of [`crate::membership::MAX_PACKET_SIZE`]
/// (1,100) bytes spends at most 186 on its header (two 91-byte identities, incarnation, tag)
/// and 2 on the item's length prefix, leaving 912; 900 keeps a margin.
pub const MAX_ITEM_BYTES: usize = 900;

/// Length of a claim signature: P-256 `r || s`.
pub const SIGNATURE_LEN: usize = 64;

/// Largest encoded [`ClaimBody`]: an item minus its kind byte and signature.
pub const MAX_BODY_BYTES: usize = MAX_ITEM_BYTES - 1 - SIGNATURE_LEN;

/// Prefix of every signed message, so a claim signature can never be replayed as a signature
/// over anything else the node key signs (TLS handshakes sign different contexts).
pub const SIGNING_CONTEXT: &[u8] = b"lightspeed topology claim v1\0";

pub(super) const KIND_CLAIM: u8 = 0x01;
pub(super) const KIND_CERT: u8 = 0x02;

/// Orders claims from one origin. `epoch` is the origin's membership bump (it grows across
/// restarts), `seq` counts publications within an epoch; the pair compares lexicographically.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct ClaimVersion {
    /// The origin's membership bump when it published.
    pub epoch: u32,
    /// Publication counter within the epoch.
    pub seq: u32,
}

/// What a node says about itself (part 0 only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeAttrs {
    /// Roles held, sorted, without duplicates.
    pub roles: Vec<Role>,
    /// Region label: up to [`MAX_REGION_LEN`] bytes of `a-z 0-9 -`, possibly empty.
    pub region: String,
    /// Load in percent, 0–100.
    pub load_pct: u8,
    /// QUIC control-plane address.
    pub control_addr: SocketAddr,
    /// Data-plane UDP address, when the node forwards traffic.
    pub data_addr: Option<SocketAddr>,
}

/// One measured link from the claim's origin to `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkClaim {
    /// The peer at the far end.
    pub to: String,
    /// Smoothed round-trip time, µs.
    pub rtt_us: u32,
    /// Jitter, µs.
    pub jitter_us: u32,
    /// Loss in parts per million (0–1,000,000).
    pub loss_ppm: u32,
    /// Age of the measurement when the claim was signed, ms. Receivers subtract it from their
    /// own clock; no clock is shared between nodes.
    pub age_ms: u32,
}

/// One link as a claim part carries it: the measured figures and the data-plane address the
/// origin reaches the peer at (its probes and its traffic go there), so a node computing a
/// path knows which address hop *i* uses for hop *i + 1* (a private address between two
/// relays of one VPC, say). `None` when the origin did not say (measured by other means).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimedLink {
    /// The figures.
    pub link: LinkClaim,
    /// Where the origin sends to reach `link.to`.
    pub via: Option<SocketAddr>,
}

/// The signed content of one claim part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimBody {
    /// The node described; the only node whose key may sign this body.
    pub origin: String,
    /// Publication version, shared by all parts of one publication.
    pub version: ClaimVersion,
    /// This part's index, below `parts`.
    pub part: u8,
    /// How many parts the publication has.
    pub parts: u8,
    /// Attributes: present in part 0, absent elsewhere.
    pub node: Option<NodeAttrs>,
    /// The key link probes to the origin are sealed with (part 0 only, never all zero):
    /// only mesh members receive claims, so only they can probe it. See
    /// `crate::dataplane::link_probe`.
    pub probe_key: Option<SessionKey>,
    /// Links, sorted by `to`, no duplicates, none to `origin`.
    pub links: Vec<ClaimedLink>,
}

/// Why bytes are not a valid claim or item. Nothing is stored when these are returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MalformedClaim {
    /// Empty item, unknown kind byte, or shorter than its fixed fields.
    #[error("not a topology item (bad kind or too short)")]
    Framing,
    /// Larger than [`MAX_ITEM_BYTES`].
    #[error("item larger than {MAX_ITEM_BYTES} bytes")]
    TooLarge,
    /// The body did not decode, or had trailing bytes.
    #[error("claim body does not decode")]
    Decode,
    /// The body decodes but re-encodes differently.
    #[error("claim body is not canonically encoded")]
    NonCanonical,
    /// A node name is empty, longer than [`MAX_NAME_LEN`] or has characters other than
    /// `a-z 0-9 - .`.
    #[error("invalid node name")]
    Name,
    /// `part >= parts`, `parts` is 0 or above [`MAX_PARTS`], or attributes or a probe key
    /// are present in a part other than 0 (or attributes missing from part 0).
    #[error("inconsistent part numbering")]
    Parts,
    /// Region too long or with bad characters, load above 100, roles unsorted or duplicated,
    /// or an all-zero probe key.
    #[error("invalid node attributes")]
    Attributes,
    /// Links unsorted, duplicated, pointing at the origin, loss above 1,000,000 ppm, or a
    /// `via` address with port 0 or an unspecified IP.
    #[error("invalid link list")]
    Links,
}

/// Accepts 1–[`MAX_NAME_LEN`] bytes of `a-z 0-9 - .` — the alphabet the mesh CA issues names
/// in, capped for gossip.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
}

fn valid_region(region: &str) -> bool {
    region.len() <= MAX_REGION_LEN
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl NodeAttrs {
    /// Checks the limits documented on each field.
    pub fn validate(&self) -> Result<(), MalformedClaim> {
        let sorted = self.roles.windows(2).all(|w| w[0] < w[1]);
        if !sorted || !valid_region(&self.region) || self.load_pct > 100 {
            return Err(MalformedClaim::Attributes);
        }
        Ok(())
    }
}

impl ClaimBody {
    /// Checks every structural rule; called on decode and before signing.
    pub fn validate(&self) -> Result<(), MalformedClaim> {
        if !valid_name(&self.origin) {
            return Err(MalformedClaim::Name);
        }
        if self.parts == 0 || self.parts > MAX_PARTS || self.part >= self.parts {
            return Err(MalformedClaim::Parts);
        }
        match (&self.node, self.part) {
            (Some(attrs), 0) => attrs.validate()?,
            (None, p) if p > 0 => {}
            _ => return Err(MalformedClaim::Parts),
        }
        match (&self.probe_key, self.part) {
            (Some(key), 0) if key.0 == [0; 32] => return Err(MalformedClaim::Attributes),
            (Some(_), p) if p > 0 => return Err(MalformedClaim::Parts),
            _ => {}
        }
        for ClaimedLink { link, via } in &self.links {
            if !valid_name(&link.to) {
                return Err(MalformedClaim::Name);
            }
            if link.to == self.origin || link.loss_ppm > 1_000_000 {
                return Err(MalformedClaim::Links);
            }
            if via.is_some_and(|a| a.port() == 0 || a.ip().is_unspecified()) {
                return Err(MalformedClaim::Links);
            }
        }
        if !self.links.windows(2).all(|w| w[0].link.to < w[1].link.to) {
            return Err(MalformedClaim::Links);
        }
        Ok(())
    }

    /// Postcard encoding of the body.
    pub fn encode(&self) -> Vec<u8> {
        // Serialising plain structs into a Vec cannot fail.
        postcard::to_allocvec(self).unwrap_or_default()
    }

    /// Strict decoding: no trailing bytes, canonical encoding, all rules of
    /// [`ClaimBody::validate`].
    pub fn decode(bytes: &[u8]) -> Result<ClaimBody, MalformedClaim> {
        if bytes.len() > MAX_BODY_BYTES {
            return Err(MalformedClaim::TooLarge);
        }
        let (body, rest): (ClaimBody, _) =
            postcard::take_from_bytes(bytes).map_err(|_| MalformedClaim::Decode)?;
        if !rest.is_empty() {
            return Err(MalformedClaim::Decode);
        }
        body.validate()?;
        if body.encode() != bytes {
            return Err(MalformedClaim::NonCanonical);
        }
        Ok(body)
    }
}

/// The message a claim signature covers: [`SIGNING_CONTEXT`] then the body bytes.
pub fn signed_message(body: &[u8]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(SIGNING_CONTEXT.len() + body.len());
    msg.extend_from_slice(SIGNING_CONTEXT);
    msg.extend_from_slice(body);
    msg
}

/// One gossip item, borrowed from the received bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item<'a> {
    /// A signed claim part.
    Claim {
        /// Signature over [`signed_message`] of `body`.
        signature: &'a [u8; SIGNATURE_LEN],
        /// Encoded [`ClaimBody`].
        body: &'a [u8],
    },
    /// A node's mesh certificate (DER), which binds its name to the key that signs its claims.
    Cert {
        /// The certificate.
        der: &'a [u8],
    },
}

impl<'a> Item<'a> {
    /// Splits an item into its kind and fields; checks sizes only.
    pub fn parse(bytes: &'a [u8]) -> Result<Item<'a>, MalformedClaim> {
        if bytes.len() > MAX_ITEM_BYTES {
            return Err(MalformedClaim::TooLarge);
        }
        match bytes.split_first() {
            Some((&KIND_CLAIM, rest)) => {
                let (signature, body) = rest
                    .split_first_chunk::<SIGNATURE_LEN>()
                    .ok_or(MalformedClaim::Framing)?;
                if body.is_empty() {
                    return Err(MalformedClaim::Framing);
                }
                Ok(Item::Claim { signature, body })
            }
            Some((&KIND_CERT, der)) if !der.is_empty() => Ok(Item::Cert { der }),
            _ => Err(MalformedClaim::Framing),
        }
    }
}

/// Frames a signed claim part as an item.
pub fn claim_item(signature: &[u8; SIGNATURE_LEN], body: &[u8]) -> Vec<u8> {
    let mut item = Vec::with_capacity(1 + SIGNATURE_LEN + body.len());
    item.push(KIND_CLAIM);
    item.extend_from_slice(signature);
    item.extend_from_slice(body);
    item
}

/// Frames a certificate as an item; `None` when it would exceed [`MAX_ITEM_BYTES`].
pub fn cert_item(der: &[u8]) -> Option<Vec<u8>> {
    if der.is_empty() || der.len() + 1 > MAX_ITEM_BYTES {
        return None;
    }
    let mut item = Vec::with_capacity(1 + der.len());
    item.push(KIND_CERT);
    item.extend_from_slice(der);
    Some(item)
}

/// Splits a node's state into claim parts that each encode within [`MAX_BODY_BYTES`]; the
/// probe key goes into part 0 with the attributes.
///
/// Links are sorted by peer name first. Returns `None` when the links need more than
/// [`MAX_PARTS`] parts (only possible with more links than any configured bound allows).
pub fn paginate(
    origin: &str,
    version: ClaimVersion,
    attrs: NodeAttrs,
    probe_key: Option<SessionKey>,
    mut links: Vec<ClaimedLink>,
) -> Option<Vec<ClaimBody>> {
    links.sort_by(|a, b| a.link.to.cmp(&b.link.to));
    links.dedup_by(|a, b| a.link.to == b.link.to);
    let mut parts: Vec<ClaimBody> = Vec::new();
    let mut current = ClaimBody {
        origin: origin.to_owned(),
        version,
        part: 0,
        parts: 1,
        node: Some(attrs),
        probe_key,
        links: Vec::new(),
    };
    for link in links {
        current.links.push(link);
        if current.encode().len() > MAX_BODY_BYTES {
            let link = current.links.pop()?;
            let next_part = u8::try_from(parts.len() + 1).ok()?;
            let full = std::mem::replace(
                &mut current,
                ClaimBody {
                    origin: origin.to_owned(),
                    version,
                    part: next_part,
                    parts: 1,
                    node: None,
                    probe_key: None,
                    links: vec![link],
                },
            );
            parts.push(full);
        }
    }
    parts.push(current);
    let count = u8::try_from(parts.len()).ok().filter(|&n| n <= MAX_PARTS)?;
    for part in &mut parts {
        part.parts = count;
    }
    Some(parts)
}
