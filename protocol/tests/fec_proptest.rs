//! Property: for any payloads, any group size, any loss pattern within the code's capability
//! and any arrival order, every data packet comes out byte-exact, exactly once.

mod fec_common;

use fec_common::{Delivered, LONG, encode_group, feed};
use lightspeed_protocol::Micros;
use lightspeed_protocol::fec::{FecScheme, MAX_DATA_PAYLOAD, new_decoder, new_encoder};
use proptest::prelude::*;

fn scheme() -> impl Strategy<Value = FecScheme> {
    prop_oneof![
        (1u8..=15).prop_map(|k| FecScheme::Xor { k }),
        (1u8..=15, 1u8..=15).prop_map(|(k, m)| FecScheme::ReedSolomon { k, m }),
        Just(FecScheme::Duplicate),
    ]
}

/// A scheme, the group's payloads (1..=k of them, fewer closing on the deadline), which
/// packets to lose (at most m) and a shuffle of the rest.
fn case() -> impl Strategy<Value = (FecScheme, Vec<Vec<u8>>, Vec<usize>, Vec<usize>)> {
    scheme().prop_flat_map(|scheme| {
        let (k, m) = scheme.shape().unwrap().unwrap();
        let payload = prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..=300),
            proptest::collection::vec(any::<u8>(), MAX_DATA_PAYLOAD..=MAX_DATA_PAYLOAD),
        ];
        proptest::collection::vec(payload, 1..=usize::from(k)).prop_flat_map(move |payloads| {
            let total = payloads.len() + usize::from(m);
            let lost =
                proptest::sample::subsequence((0..total).collect::<Vec<_>>(), 0..=usize::from(m));
            let order = Just((0..total).collect::<Vec<_>>()).prop_shuffle();
            (Just(scheme), Just(payloads), lost, order)
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn losses_within_capability_are_recovered_exactly((scheme, sent, lost, order) in case()) {
        let mut enc = new_encoder(scheme, LONG).unwrap();
        let mut dec = new_decoder(scheme, 4).unwrap();
        let packets = encode_group(enc.as_mut(), &sent, Micros(5));
        let arrivals = order.iter().filter(|n| !lost.contains(n)).map(|&n| &packets[n]);
        let mut got = Delivered::default();
        feed(dec.as_mut(), arrivals, Micros(5), &mut got);
        prop_assert_eq!(got.errors, 0, "{:?}", got.last_error);
        let lost_data = lost.iter().filter(|&&n| n < sent.len()).count();
        // Parity arriving early can rebuild a packet whose original is still on its way.
        prop_assert!(got.recovered >= lost_data);
        prop_assert_eq!(got.packets.into_values().collect::<Vec<_>>(), sent);
    }
}
