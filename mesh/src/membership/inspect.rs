//! The check every received datagram passes before foca sees it: the sender must be the
//! authenticated peer, the member table must stay within its bound, and the members it names
//! are noted for the mirror ([`super::events::Mirror`]).

use foca::{Codec, Message, PostcardCodec};

use super::events::{Look, Mirror};
use super::identity::NameKey;
use super::{MembershipError, NodeId};

/// Checks the header's sender and the member bound; notes for the mirror every member the
/// datagram says something new about; returns the sender, and whether `scratch` holds the
/// datagram to give foca instead.
///
/// Updates that equal what foca already holds (most of them: gossip delivers each update
/// to each node many times) are left out of that copy. foca would find each by scanning
/// its whole member table and then change nothing; the rest of the datagram is copied
/// byte for byte.
pub(super) fn inspect(
    mirror: &mut Mirror,
    scratch: &mut Vec<u8>,
    own: &NameKey,
    max_members: usize,
    from: &str,
    data: &[u8],
) -> Result<(NodeId, bool), MembershipError> {
    let mut buf = data;
    let header: foca::Header<NodeId> = PostcardCodec
        .decode_header(&mut buf)
        .map_err(|_| MembershipError::Decode)?;
    let header_len = data.len() - buf.len();
    if header.src.name() != from {
        return Err(MembershipError::SpoofedSender {
            claimed: header.src.name().to_owned(),
            authenticated: from.to_owned(),
        });
    }
    // foca keys members by name hash alone (see `identity.rs`): a second name with a hash
    // already held, or our own, would be taken for that member.
    let own_clash = |key: &NameKey| key.hash64() == own.hash64() && key != own;
    if own_clash(header.src.key())
        || own_clash(header.dst.key())
        || mirror.clashes(header.dst.key())
    {
        return Err(MembershipError::NameClash);
    }
    let mut new_names = 0;
    match mirror.look(&header.src, foca::State::Alive, header.src_incarnation) {
        Look::Clash => return Err(MembershipError::NameClash),
        Look::Held { differs: false } => {}
        look => {
            new_names += usize::from(look == Look::New);
            mirror.note(&header.src);
        }
    }
    let mut filtered = false;
    if let (Some((count, rest)), false) = (
        buf.split_first_chunk::<2>(),
        header.message == Message::Broadcast,
    ) {
        let count = u16::from_be_bytes(*count);
        buf = rest;
        scratch.clear();
        scratch.extend_from_slice(data.get(..header_len + 2).unwrap_or_default());
        let mut kept: u16 = 0;
        for _ in 0..count {
            let before = buf;
            let Ok(member): Result<foca::Member<NodeId>, _> = PostcardCodec.decode_member(&mut buf)
            else {
                // foca will refuse the datagram (before applying anything); let it say so.
                return Ok((header.src, false));
            };
            let name = member.id().key();
            let look = if own_clash(name) {
                Look::Clash
            } else {
                mirror.look(member.id(), member.state(), member.incarnation())
            };
            if look == Look::Clash {
                mirror.forget_noted();
                return Err(MembershipError::NameClash);
            }
            new_names += usize::from(look == Look::New && name != own);
            if look != (Look::Held { differs: false }) {
                mirror.note(member.id());
                let len = before.len() - buf.len();
                scratch.extend_from_slice(before.get(..len).unwrap_or_default());
                kept += 1;
            }
        }
        if kept < count {
            scratch.extend_from_slice(buf);
            if let Some(slot) = scratch.get_mut(header_len..header_len + 2) {
                slot.copy_from_slice(&kept.to_be_bytes());
            }
            filtered = true;
        }
    }
    if new_names > 0 && mirror.len() + new_names > max_members {
        mirror.forget_noted();
        return Err(MembershipError::TooManyMembers);
    }
    Ok((header.src, filtered))
}
