//! FEC decoders under loss, duplication, reordering and corrupt parity, and under raw input.
//!
//! Structured mode (most inputs): a scheme (XOR k, Reed-Solomon (k,m), duplication), a
//! deadline, a decoder ring of 1..=16 slots and up to 96 timed payloads of 1..=1400 bytes come from the
//! input; the real encoder turns them into data and parity (its invariants are checked in
//! `lightspeed_protocol_fuzz::fec::encode`); an input-chosen channel drops, duplicates, holds
//! back (reorders) and corrupts parity (bytes, length or FEC field); a decoder gets the rest.
//! Invariants:
//! - no panic;
//! - a data packet never errors in a group no corrupt parity pointed at, and every payload
//!   recovered in such a group is byte-exact the original of its `(group, index)`;
//! - when no FEC field was corrupted (so the decoder's window is known exactly): parity of a
//!   group older than the window is refused as stale and intact parity of an untouched group
//!   is accepted; nothing is delivered twice unless a copy arrived after its group left the
//!   window; and in every untouched group that lost at most `m` of its packets and had nothing
//!   arrive after leaving the window, every data packet is delivered or recovered exactly once.
//!
//! Raw mode (inputs whose first byte is a multiple of 4): arbitrary `(field, payload)` pairs,
//! polls with short buffers, and encoder calls with arbitrary times and lengths. Invariants: no
//! panic, lengths within the caller's buffers, length limits enforced.
#![no_main]

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use lightspeed_protocol::Micros;
use lightspeed_protocol::fec::{
    DataVerdict, FecError, FecField, FecScheme, MAX_DATA_PAYLOAD, MAX_DECODER_SLOTS,
    MAX_PARITY_PAYLOAD, new_decoder, new_encoder,
};
use lightspeed_protocol_fuzz::fec::{
    Corruption, Stream, arrivals, encode, fates, raw_field, scheme, shape, timed_payloads,
};

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    if data.first().is_some_and(|b| b % 4 == 0) {
        let _ = u.bytes(1);
        let _ = raw(&mut u);
    } else {
        let _ = structured(&mut u);
    }
});

fn structured(u: &mut Unstructured<'_>) -> Result<()> {
    let scheme = scheme(u)?;
    let (_, m) = shape(scheme);
    let deadline = Duration::from_micros(u.int_in_range(1..=50_000)?);
    // Small rings: window wrap-around is what needs covering, and every slot costs
    // (k + m) × 1,402 zeroed bytes per execution.
    let slots = u.int_in_range(1..=16usize)?;
    let payloads = timed_payloads(u, deadline)?;
    let Stream { wire, originals } = encode(scheme, deadline, &payloads);
    let fates = fates(u, wire.len())?;
    let arrivals = arrivals(&wire, &fates);

    let window = u16::try_from(slots.next_power_of_two()).expect("at most 16 slots");
    let fields_corrupted = arrivals
        .iter()
        .any(|a| a.corrupted.is_some_and(Corruption::touches_field));
    // Groups a corrupt parity packet came from or was moved to.
    let touched: BTreeSet<u16> = arrivals
        .iter()
        .filter(|a| a.corrupted.is_some())
        .flat_map(|a| [wire[a.wire].field.group, a.field.group])
        .collect();

    let mut dec = new_decoder(scheme, slots).expect("valid scheme and slots");
    let mut out = vec![0u8; MAX_DATA_PAYLOAD];
    let mut handed_out: BTreeMap<(u16, u8), usize> = BTreeMap::new();
    let mut late_keys = BTreeSet::new();
    let mut late_groups = BTreeSet::new();
    let mut newest: Option<u16> = None;
    for (t, a) in arrivals.iter().enumerate() {
        let now = Micros(wire[a.wire].at.0 + t as u64);
        let group = a.field.group;
        // Without corrupt fields, groups run 0..=96 and never wrap, and the decoder's window
        // is the `window` groups ending at the newest group that reached its ring (every
        // packet but parity refused for its length first).
        let reaches_ring = !a.parity || (2..=MAX_PARITY_PAYLOAD).contains(&a.bytes.len());
        if reaches_ring {
            newest = Some(newest.map_or(group, |n| n.max(group)));
        }
        // Meaningful only without corrupt fields (the only case it is asserted on); with them
        // a refused packet's group may lie beyond `newest`.
        let late = reaches_ring && newest.is_some_and(|n| n.wrapping_sub(group) >= window);
        if late {
            late_groups.insert(group);
        }
        let clean_group = !touched.contains(&group);
        if a.parity {
            let result = dec.on_parity(now, a.field, &a.bytes);
            if !fields_corrupted && a.corrupted.is_none() {
                if late {
                    assert_eq!(result, Err(FecError::StaleGroup(group)), "{a:?}");
                } else if clean_group {
                    assert_eq!(result, Ok(()), "intact parity refused: {a:?}");
                }
            }
        } else {
            let verdict = dec.on_data(now, a.field, &a.bytes);
            if clean_group {
                assert!(verdict.is_ok(), "intact data refused: {verdict:?} {a:?}");
            }
            if verdict == Ok(DataVerdict::Deliver) {
                *handed_out.entry((group, a.field.index)).or_default() += 1;
                if late {
                    late_keys.insert((group, a.field.index));
                }
            }
        }
        while let Some(r) = dec.poll_recovered(&mut out) {
            assert!(r.len <= MAX_DATA_PAYLOAD);
            let key = (r.field.group, r.field.index);
            if !touched.contains(&r.field.group) {
                let original = originals.get(&key).expect("recovered a packet never sent");
                assert_eq!(
                    &out[..r.len],
                    &original[..],
                    "wrong bytes recovered for {key:?}"
                );
                assert_eq!(r.field.m, m);
            }
            *handed_out.entry(key).or_default() += 1;
        }
    }

    if fields_corrupted {
        return Ok(());
    }
    for (key, &count) in &handed_out {
        assert!(
            count == 1 || late_keys.contains(key),
            "{key:?} handed out {count} times with every copy inside the window"
        );
    }
    let mut lost: BTreeMap<u16, usize> = BTreeMap::new();
    let arrived: BTreeSet<usize> = arrivals.iter().map(|a| a.wire).collect();
    for (i, w) in wire.iter().enumerate() {
        if !arrived.contains(&i) {
            *lost.entry(w.field.group).or_default() += 1;
        }
    }
    for key @ (group, _) in originals.keys() {
        let recoverable = lost.get(group).copied().unwrap_or(0) <= usize::from(m);
        if recoverable && !touched.contains(group) && !late_groups.contains(group) {
            assert_eq!(
                handed_out.get(key),
                Some(&1),
                "{key:?} of a group that lost {:?} of its packets",
                lost.get(group)
            );
        }
    }
    Ok(())
}

fn raw(u: &mut Unstructured<'_>) -> Result<()> {
    let scheme = match u.choose_index(4)? {
        0 => FecScheme::Off,
        _ => scheme(u)?,
    };
    let (k, m) = shape(scheme);
    // Mostly small rings (cheap to allocate per execution), sometimes the limits.
    let slots = match u.choose_index(8)? {
        0 => *u.choose(&[0, MAX_DECODER_SLOTS, MAX_DECODER_SLOTS + 1, usize::MAX])?,
        _ => u.int_in_range(1..=16)?,
    };
    let Ok(mut dec) = new_decoder(scheme, slots) else {
        assert!(scheme != FecScheme::Off && (slots == 0 || slots > MAX_DECODER_SLOTS));
        return Ok(());
    };
    let deadline = Duration::from_micros(u.arbitrary()?);
    let mut enc = new_encoder(scheme, deadline).expect("valid scheme");
    let mut buf = vec![0u8; MAX_PARITY_PAYLOAD + 100];
    while !u.is_empty() {
        match u.choose_index(5)? {
            0 | 1 => {
                let field = if u.arbitrary()? {
                    raw_field(u)?
                } else {
                    plausible_field(u, k, m)?
                };
                let payload = payload(u)?;
                if u.arbitrary()? {
                    let result = dec.on_parity(Micros(u.arbitrary()?), field, &payload);
                    if payload.len() > MAX_PARITY_PAYLOAD {
                        assert!(result.is_err());
                    }
                } else {
                    let result = dec.on_data(Micros(u.arbitrary()?), field, &payload);
                    if payload.len() > MAX_DATA_PAYLOAD
                        && field.is_some()
                        && scheme != FecScheme::Off
                    {
                        assert!(result.is_err());
                    }
                }
            }
            2 => {
                let len = u.int_in_range(0..=MAX_DATA_PAYLOAD)?;
                if let Some(r) = dec.poll_recovered(&mut buf[..len]) {
                    assert!(r.len <= len);
                }
            }
            3 => {
                let payload = payload(u)?;
                let result = enc.on_data(Micros(u.arbitrary()?), &payload);
                let too_long = payload.len() > MAX_DATA_PAYLOAD && scheme != FecScheme::Off;
                assert_eq!(result.is_err(), too_long, "{result:?}");
            }
            _ => {
                let len = u.int_in_range(0..=MAX_PARITY_PAYLOAD)?;
                if let Some((field, n)) = enc.poll_parity(Micros(u.arbitrary()?), &mut buf[..len]) {
                    assert!(n <= len && field.is_some());
                }
                let _ = enc.next_deadline();
            }
        }
    }
    Ok(())
}

/// A field with the decoder's `m`, `k` up to its `k`, any index up to `k + m` and a group near
/// the start or the 16-bit wrap, so the decoder's checks pass often enough to reach recovery.
fn plausible_field(u: &mut Unstructured<'_>, k: u8, m: u8) -> Result<FecField> {
    let k = u.int_in_range(1..=k.max(1))?;
    Ok(FecField {
        group: u
            .int_in_range(0..=7u16)?
            .wrapping_sub(u.int_in_range(0..=3u16)?),
        index: u.int_in_range(0..=k.saturating_add(m))?,
        k,
        m,
    })
}

/// 0..=1,500 bytes: from the input while it lasts, then a pattern.
fn payload(u: &mut Unstructured<'_>) -> Result<Vec<u8>> {
    let len = u.int_in_range(0..=1_500usize)?;
    let mut bytes = vec![0u8; len];
    let from_input = len.min(u.len());
    u.fill_buffer(&mut bytes[..from_input])?;
    for (i, b) in bytes.iter_mut().enumerate().skip(from_input) {
        *b = i as u8;
    }
    Ok(bytes)
}
