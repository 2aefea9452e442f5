//! The decoder's ring: group numbers wrap past 65535, newer groups evict older ones, parity of
//! groups older than the window is refused, and nothing in the decoder grows.

mod fec_common;

use fec_common::{Delivered, LONG, encode_group, feed};
use lightspeed_protocol::Micros;
use lightspeed_protocol::fec::{
    DataVerdict, FecError, FecField, FecScheme, MAX_DATA_PAYLOAD, decoder_buffer_bytes,
    new_decoder, new_encoder,
};

#[test]
fn group_numbers_wrap_and_recovery_continues_across_the_wrap() {
    let scheme = FecScheme::Xor { k: 2 };
    let mut enc = new_encoder(scheme, LONG).unwrap();
    let mut dec = new_decoder(scheme, 8).unwrap();
    let mut last_group = None;
    let mut rescued = 0;
    for n in 0..66_000u32 {
        let now = Micros(u64::from(n) * 1_000);
        let sent = [vec![n as u8; 3], (n as u16).to_be_bytes().to_vec()];
        let packets = encode_group(enc.as_mut(), &sent, now);
        let group = packets[0].field.group;
        assert_eq!(group, n as u16);
        if let Some(prev) = last_group {
            assert_eq!(group, u16::wrapping_add(prev, 1));
        }
        last_group = Some(group);
        // Around the wrap, lose the second packet of every group.
        let lose = (65_530..65_542).contains(&n);
        let survivors = packets
            .iter()
            .enumerate()
            .filter(|&(i, _)| !(lose && i == 1));
        // Per group: (group, index) keys repeat after the wrap.
        let mut got = Delivered::default();
        feed(dec.as_mut(), survivors.map(|(_, p)| p), now, &mut got);
        assert_eq!(
            (got.recovered, got.errors),
            (usize::from(lose), 0),
            "group {n}"
        );
        assert_eq!(
            got.packets.into_values().collect::<Vec<_>>(),
            sent,
            "group {n}"
        );
        rescued += usize::from(lose);
    }
    assert_eq!(rescued, 12);
    assert_eq!(last_group, Some((66_000u32 - 1) as u16));
}

#[test]
fn newer_groups_evict_older_ones_and_stale_parity_is_refused() {
    let scheme = FecScheme::ReedSolomon { k: 2, m: 1 };
    let mut enc = new_encoder(scheme, LONG).unwrap();
    let mut dec = new_decoder(scheme, 4).unwrap();
    let mut out = [0u8; MAX_DATA_PAYLOAD];
    let groups: Vec<_> = (0..6u64)
        .map(|g| {
            encode_group(
                enc.as_mut(),
                &[vec![g as u8; 10], vec![g as u8 + 100; 20]],
                Micros(g),
            )
        })
        .collect();
    // Group 0: first packet only. Groups 1..=4 complete, so group 4 takes group 0's slot.
    assert_eq!(
        dec.on_data(Micros(0), groups[0][0].field, &groups[0][0].bytes),
        Ok(DataVerdict::Deliver)
    );
    let mut got = Delivered::default();
    for g in &groups[1..5] {
        feed(dec.as_mut(), g, Micros(0), &mut got);
    }
    let p0 = &groups[0][2];
    assert_eq!(
        dec.on_parity(Micros(0), p0.field, &p0.bytes),
        Err(FecError::StaleGroup(0))
    );
    assert_eq!(dec.poll_recovered(&mut out), None);
    // Data of a group past the window is still delivered: FEC has no state left to judge it.
    let late = &groups[0][1];
    assert_eq!(
        dec.on_data(Micros(0), late.field, &late.bytes),
        Ok(DataVerdict::Deliver)
    );
    // Group 1 is still in the window {1,2,3,4}: its packets are known duplicates.
    let g1 = &groups[1][0];
    assert_eq!(
        dec.on_data(Micros(0), g1.field, &g1.bytes),
        Ok(DataVerdict::Duplicate)
    );
    // Group 5 evicts group 1.
    feed(dec.as_mut(), &groups[5], Micros(0), &mut got);
    assert_eq!(
        dec.on_parity(Micros(0), groups[1][2].field, &groups[1][2].bytes),
        Err(FecError::StaleGroup(1))
    );
}

#[test]
fn recovered_packets_nobody_polled_leave_with_their_group() {
    let scheme = FecScheme::Xor { k: 1 };
    let mut enc = new_encoder(scheme, LONG).unwrap();
    let mut dec = new_decoder(scheme, 2).unwrap();
    let mut out = [0u8; MAX_DATA_PAYLOAD];
    // Only the parity of groups 0, 1, 2 arrives and nobody polls in between.
    for g in 0..3u8 {
        let packets = encode_group(enc.as_mut(), &[vec![g; 5]], Micros(u64::from(g)));
        dec.on_parity(Micros(0), packets[1].field, &packets[1].bytes)
            .unwrap();
    }
    // Group 2 evicted group 0 (2 slots): 1 and 2 come out, oldest first.
    let r = dec.poll_recovered(&mut out).unwrap();
    assert_eq!((r.field.group, &out[..r.len]), (1, &[1u8; 5][..]));
    let r = dec.poll_recovered(&mut out).unwrap();
    assert_eq!((r.field.group, &out[..r.len]), (2, &[2u8; 5][..]));
    assert_eq!(dec.poll_recovered(&mut out), None);
}

#[test]
fn slot_counts_are_checked_and_rounded_to_a_power_of_two() {
    let scheme = FecScheme::ReedSolomon { k: 4, m: 2 };
    assert_eq!(
        new_decoder(scheme, 0).err(),
        Some(FecError::InvalidSlots(0))
    );
    assert_eq!(
        new_decoder(scheme, 257).err(),
        Some(FecError::InvalidSlots(257))
    );
    assert_eq!(decoder_buffer_bytes(scheme, 16), 16 * 6 * 1_402);
    assert_eq!(decoder_buffer_bytes(scheme, 12), 16 * 6 * 1_402);
    assert_eq!(decoder_buffer_bytes(FecScheme::Off, 16), 0);
    // 3 slots become 4: groups 0..=3 all stay in the window.
    let mut dec = new_decoder(FecScheme::Xor { k: 2 }, 3).unwrap();
    for g in 0..4u16 {
        let f = FecField {
            group: g,
            index: 0,
            k: 2,
            m: 1,
        };
        assert_eq!(dec.on_data(Micros(0), f, b"x"), Ok(DataVerdict::Deliver));
    }
    let f = FecField {
        group: 0,
        index: 0,
        k: 2,
        m: 1,
    };
    assert_eq!(dec.on_data(Micros(0), f, b"x"), Ok(DataVerdict::Duplicate));
}

#[test]
fn scheme_parameters_are_validated() {
    for bad in [
        FecScheme::Xor { k: 0 },
        FecScheme::Xor { k: 16 },
        FecScheme::ReedSolomon { k: 0, m: 1 },
        FecScheme::ReedSolomon { k: 4, m: 0 },
        FecScheme::ReedSolomon { k: 4, m: 16 },
    ] {
        let (k, m) = match bad {
            FecScheme::Xor { k } => (k, 1),
            FecScheme::ReedSolomon { k, m } => (k, m),
            _ => unreachable!(),
        };
        let want = FecError::InvalidParameters { k, m };
        assert_eq!(new_encoder(bad, LONG).err(), Some(want.clone()));
        assert_eq!(new_decoder(bad, 8).err(), Some(want));
    }
}

#[test]
fn off_is_a_no_op_pair() {
    let mut enc = new_encoder(FecScheme::Off, LONG).unwrap();
    let mut dec = new_decoder(FecScheme::Off, 0).unwrap();
    let mut buf = [0u8; 1_402];
    assert_eq!(enc.on_data(Micros(0), b"abc"), Ok(FecField::NONE));
    assert_eq!(enc.poll_parity(Micros(10_000_000), &mut buf), None);
    assert_eq!(enc.next_deadline(), None);
    assert_eq!(
        dec.on_data(Micros(0), FecField::NONE, b"abc"),
        Ok(DataVerdict::Deliver)
    );
    let f = FecField {
        group: 0,
        index: 1,
        k: 1,
        m: 1,
    };
    assert_eq!(
        dec.on_parity(Micros(0), f, b"\0\0"),
        Err(FecError::BadField(f))
    );
    assert_eq!(dec.poll_recovered(&mut buf), None);
}
