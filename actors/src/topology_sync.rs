//! Full topology sync over the control plane: a node that joins (or holds claims it cannot
//! verify) pulls every certificate and claim part a member holds, page by page, instead of
//! waiting for each node's next periodic refresh.
//!
//! The server side pages [`lightspeed_mesh::membership::Membership::sync_items`] ([`page`],
//! pure); the client side ([`pull`]) asks for pages until the last one or [`MAX_SYNC_ITEMS`].
//! Items are applied like gossip: each claim must carry its origin's signature and each
//! certificate must verify against the mesh CA, so a sync peer can withhold but not forge.
//! Only certificate-authenticated mesh nodes are answered.

use std::net::SocketAddr;
use std::time::Duration;

use lightspeed_mesh::quic::{ControlClient, Endpoint, QuicError};
use lightspeed_protocol::control::{
    ControlError, Envelope, MAX_SYNC_PAGE_BYTES, MAX_SYNC_PAGE_ITEMS, Message, SyncItem,
};

use crate::control::{decode, encode};

/// Most items one sync brings: a 1,000-node mesh with a certificate and a few parts each,
/// ~14 MB at the 900-byte item maximum (a 100-node mesh is ~300 items, ~150 KB). Whatever a
/// larger mesh holds beyond it arrives by gossip.
pub const MAX_SYNC_ITEMS: usize = 16_384;

/// Time for one page.
pub const PAGE_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a sync stopped early.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// The QUIC connection or request failed.
    #[error("control connection: {0}")]
    Quic(#[from] QuicError),
    /// A frame did not encode or decode.
    #[error("control message: {0}")]
    Control(#[from] ControlError),
    /// The peer answered with an error or something else than a page.
    #[error("unexpected answer: {0}")]
    Unexpected(String),
}

/// The page of `items` that starts at `from`: as many items as fit the page limits (at least
/// one, when any is left), and the index of the next page.
pub fn page(items: &[Vec<u8>], from: u32) -> (Vec<SyncItem>, Option<u32>) {
    let start = usize::try_from(from).unwrap_or(usize::MAX);
    let mut out = Vec::new();
    let mut bytes = 0;
    for item in items.iter().skip(start) {
        if out.len() == MAX_SYNC_PAGE_ITEMS || bytes + item.len() > MAX_SYNC_PAGE_BYTES {
            break;
        }
        bytes += item.len();
        out.push(SyncItem(item.clone()));
    }
    let end = start.saturating_add(out.len());
    let next = (end < items.len() && !out.is_empty())
        .then(|| u32::try_from(end).ok())
        .flatten();
    (out, next)
}

/// Pulls every page from the node `name` at control address `addr`, connecting from
/// `endpoint` (whose default client configuration presents this node's certificate).
pub async fn pull(
    endpoint: Endpoint,
    addr: SocketAddr,
    name: &str,
) -> Result<Vec<Vec<u8>>, SyncError> {
    let client = ControlClient::connect(endpoint, addr, name).await?;
    let result = pages(&client).await;
    client.close().await;
    result
}

async fn pages(client: &ControlClient) -> Result<Vec<Vec<u8>>, SyncError> {
    let mut items = Vec::new();
    let mut from = Some(0u32);
    let mut request_id = 1;
    while let Some(at) = from {
        if items.len() >= MAX_SYNC_ITEMS {
            break;
        }
        let env = Envelope::new(request_id, None, Message::TopologySync { from: at });
        request_id += 1;
        let reply = decode(&client.request(&encode(&env)?, PAGE_TIMEOUT).await?)?;
        match reply.body {
            Message::TopologyItems { items: page, next } => {
                let room = MAX_SYNC_ITEMS - items.len();
                items.extend(page.into_iter().take(room).map(|i| i.0));
                // A peer that points backwards would make this loop forever.
                from = next.filter(|&n| n > at);
            }
            other => return Err(SyncError::Unexpected(format!("{other:?}"))),
        }
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_cover_every_item_once_within_the_limits() {
        let items: Vec<Vec<u8>> = (0..100u8).map(|i| vec![i; 500 + usize::from(i)]).collect();
        let mut from = Some(0);
        let mut seen = Vec::new();
        let mut pages = 0;
        while let Some(at) = from {
            let (p, next) = page(&items, at);
            assert!(p.len() <= MAX_SYNC_PAGE_ITEMS);
            assert!(p.iter().map(|i| i.0.len()).sum::<usize>() <= MAX_SYNC_PAGE_BYTES);
            seen.extend(p.into_iter().map(|i| i.0));
            from = next;
            pages += 1;
        }
        assert_eq!(seen, items);
        // ~55 KB of items in pages of at most 12 KiB.
        assert_eq!(pages, 5);
        assert_eq!(page(&items, 100), (vec![], None));
        assert_eq!(page(&items, u32::MAX), (vec![], None));
        let small: Vec<Vec<u8>> = vec![vec![1; 10]; 70];
        let (first, next) = page(&small, 0);
        assert_eq!((first.len(), next), (MAX_SYNC_PAGE_ITEMS, Some(64)));
        assert_eq!(page(&small, 64).1, None);
    }
}
