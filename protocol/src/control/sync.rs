//! The items of a topology sync ([`super::Message::TopologySync`] /
//! [`super::Message::TopologyItems`]): opaque gossip items (certificates and signed claim
//! parts, checked by the receiver's topology), paged so each answer fits one frame.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::error::ControlError;

/// Longest item (bytes); gossip items are at most 900 bytes.
pub const MAX_SYNC_ITEM_LEN: usize = 1_024;

/// Most bytes of items in one page: 12 KiB leaves room for the envelope inside the 16 KiB
/// frame.
pub const MAX_SYNC_PAGE_BYTES: usize = 12 * 1_024;

/// Most items in one page.
pub const MAX_SYNC_PAGE_ITEMS: usize = 64;

/// One gossip item. Encoded as postcard bytes (a varint length, then the bytes), decoded
/// without trusting the declared length for preallocation.
#[derive(Clone, PartialEq, Eq)]
pub struct SyncItem(pub Vec<u8>);

impl fmt::Debug for SyncItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SyncItem({} bytes)", self.0.len())
    }
}

impl Serialize for SyncItem {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for SyncItem {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<SyncItem, D::Error> {
        struct Bytes;
        impl serde::de::Visitor<'_> for Bytes {
            type Value = SyncItem;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("item bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<SyncItem, E> {
                if v.len() > MAX_SYNC_ITEM_LEN {
                    return Err(E::custom("sync item too long"));
                }
                Ok(SyncItem(v.to_vec()))
            }
        }
        d.deserialize_bytes(Bytes)
    }
}

/// Deserialises a page without trusting the declared item count for preallocation.
pub(super) fn de_items<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<SyncItem>, D::Error> {
    struct Items;
    impl<'de> serde::de::Visitor<'de> for Items {
        type Value = Vec<SyncItem>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a sequence of items")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut items =
                Vec::with_capacity(seq.size_hint().unwrap_or(0).min(MAX_SYNC_PAGE_ITEMS));
            while let Some(item) = seq.next_element()? {
                items.push(item);
            }
            Ok(items)
        }
    }
    d.deserialize_seq(Items)
}

/// Checks a page's limits.
pub(super) fn validate_page(items: &[SyncItem]) -> Result<(), ControlError> {
    if items.len() > MAX_SYNC_PAGE_ITEMS {
        return Err(ControlError::TooLong {
            field: "TopologyItems.items",
            len: items.len(),
            max: MAX_SYNC_PAGE_ITEMS,
        });
    }
    let mut total = 0;
    for item in items {
        if item.0.is_empty() || item.0.len() > MAX_SYNC_ITEM_LEN {
            return Err(ControlError::Invalid {
                field: "TopologyItems.items",
                reason: "empty or longer than 1024 bytes",
            });
        }
        total += item.0.len();
    }
    if total > MAX_SYNC_PAGE_BYTES {
        return Err(ControlError::TooLong {
            field: "TopologyItems.items",
            len: total,
            max: MAX_SYNC_PAGE_BYTES,
        });
    }
    Ok(())
}
