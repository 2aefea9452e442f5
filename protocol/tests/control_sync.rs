//! Topology sync messages: round trip, page limits, and hostile pages refused at decode.

use lightspeed_protocol::control::{
    CONTROL_VERSION, ControlError, Envelope, MAX_SYNC_ITEM_LEN, MAX_SYNC_PAGE_BYTES,
    MAX_SYNC_PAGE_ITEMS, Message, SyncItem, decode_frame, encode_frame,
};

fn frame(env: &Envelope) -> Result<Vec<u8>, ControlError> {
    let mut out = Vec::new();
    encode_frame(env, &mut out)?;
    Ok(out)
}

/// A frame carrying `body` (postcard bytes) with no validation, as a hostile peer could send.
fn raw(body: &[u8]) -> Vec<u8> {
    let mut out = ((body.len() + 2) as u32).to_be_bytes().to_vec();
    out.extend_from_slice(&CONTROL_VERSION.to_be_bytes());
    out.extend_from_slice(body);
    out
}

#[test]
fn sync_request_and_page_round_trip() {
    let req = Envelope::new(3, None, Message::TopologySync { from: 40 });
    let (back, _) = decode_frame(&frame(&req).unwrap()).unwrap();
    assert_eq!(back, req);
    let page = Envelope::new(
        3,
        None,
        Message::TopologyItems {
            items: vec![SyncItem(vec![1; 900]), SyncItem(vec![2, 3])],
            next: Some(42),
        },
    );
    let bytes = frame(&page).unwrap();
    // Items are length-prefixed bytes: 900 + 2 bytes of items cost 902 + 2 + 1 on the wire.
    assert!(bytes.len() < 930, "{}", bytes.len());
    let (back, used) = decode_frame(&bytes).unwrap();
    assert_eq!((back, used), (page, bytes.len()));
}

#[test]
fn pages_over_their_limits_are_refused_both_ways() {
    let page =
        |items: Vec<SyncItem>| Envelope::new(1, None, Message::TopologyItems { items, next: None });
    let too_many = page(vec![SyncItem(vec![1]); MAX_SYNC_PAGE_ITEMS + 1]);
    assert!(matches!(
        frame(&too_many),
        Err(ControlError::TooLong { .. })
    ));
    let too_big = page(vec![
        SyncItem(vec![1; 1_000]);
        MAX_SYNC_PAGE_BYTES / 1_000 + 1
    ]);
    assert!(matches!(frame(&too_big), Err(ControlError::TooLong { .. })));
    let empty_item = page(vec![SyncItem(vec![])]);
    assert!(matches!(
        frame(&empty_item),
        Err(ControlError::Invalid { .. })
    ));

    // Decoding: an item longer than allowed, written by hand.
    let long = page(vec![SyncItem(vec![7; MAX_SYNC_ITEM_LEN + 1])]);
    let body = postcard::to_stdvec(&long).unwrap();
    assert!(decode_frame(&raw(&body)).is_err());
    // An item count of four billion in a tiny frame fails without reserving memory for it.
    let mut hostile = postcard::to_stdvec(&page(vec![])).unwrap();
    let at = hostile.len() - 2; // the item count, then `next`
    hostile.truncate(at);
    hostile.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
    assert!(decode_frame(&raw(&hostile)).is_err());
}
