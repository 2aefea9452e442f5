//! FEC inputs built from fuzzer bytes: a scheme, a timed stream of payloads run through the
//! real encoder, and a lossy, duplicating, reordering, corrupting channel schedule.

use std::collections::BTreeMap;
use std::time::Duration;

use arbitrary::{Result, Unstructured};
use lightspeed_protocol::Micros;
use lightspeed_protocol::fec::{
    FecEncoder, FecField, FecScheme, MAX_DATA_PAYLOAD, MAX_PARITY_PAYLOAD, new_encoder,
};

/// Most payloads one structured input sends: enough for dozens of groups and ring wrap-around
/// with small decoders, small enough for thousands of executions per second.
pub const MAX_PAYLOADS: usize = 96;

/// Longest channel delay, in wire positions, a packet can be held back by.
pub const MAX_HOLD: usize = 48;

/// A coding scheme that has parity: XOR (k,1), Reed-Solomon (k,m) or duplication.
pub fn scheme(u: &mut Unstructured<'_>) -> Result<FecScheme> {
    Ok(match u.choose_index(3)? {
        0 => FecScheme::Xor {
            k: u.int_in_range(1..=15)?,
        },
        1 => FecScheme::ReedSolomon {
            k: u.int_in_range(1..=15)?,
            m: u.int_in_range(1..=15)?,
        },
        _ => FecScheme::Duplicate,
    })
}

/// `(k, m)` of a scheme with parity.
pub fn shape(scheme: FecScheme) -> (u8, u8) {
    match scheme.shape() {
        Ok(Some(shape)) => shape,
        _ => (0, 0),
    }
}

/// One packet as the encoder produced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wire {
    /// Parity (true) or data.
    pub parity: bool,
    /// The FEC field the encoder assigned.
    pub field: FecField,
    /// Payload as sent.
    pub bytes: Vec<u8>,
    /// When the encoder emitted it.
    pub at: Micros,
}

/// The encoder's output for one stream, and the sent data by `(group, index)`.
pub struct Stream {
    /// Packets in sending order.
    pub wire: Vec<Wire>,
    /// Data payloads by `(group, index)`.
    pub originals: BTreeMap<(u16, u8), Vec<u8>>,
}

/// `count` payloads of 1..=1400 bytes with send times 0..=3 deadlines apart (so some groups
/// close on `k`, others on the deadline), content a cheap pattern keyed by input bytes.
pub fn timed_payloads(
    u: &mut Unstructured<'_>,
    deadline: Duration,
) -> Result<Vec<(Micros, Vec<u8>)>> {
    let count = u.int_in_range(1..=MAX_PAYLOADS)?;
    let max_gap = u64::try_from(deadline.as_micros()).unwrap_or(u64::MAX / 4) * 3;
    let mut now = 0u64;
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        now += u.int_in_range(0..=max_gap)?;
        let len = if u.arbitrary()? {
            u.int_in_range(1..=MAX_DATA_PAYLOAD)?
        } else {
            usize::from(u.int_in_range(1..=255u8)?)
        };
        let seed: u8 = u.arbitrary()?;
        let payload = (0..len)
            .map(|i| seed.wrapping_add((i as u8).wrapping_mul(seed | 1)) ^ (i >> 8) as u8)
            .collect();
        out.push((Micros(now), payload));
    }
    Ok(out)
}

/// Runs `payloads` through a fresh encoder, polling parity at every send and at every group
/// deadline in between, and flushing the last group at its deadline.
///
/// Asserts the encoder's own invariants: data fields carry the planned shape with
/// consecutive indices from 0, each closed group gets exactly `m` parity packets right after
/// it closes, carrying its actual size, and parity is as wide as the group's longest symbol.
pub fn encode(scheme: FecScheme, deadline: Duration, payloads: &[(Micros, Vec<u8>)]) -> Stream {
    let (k, m) = shape(scheme);
    let mut enc = new_encoder(scheme, deadline).expect("fuzzed schemes are valid");
    let mut wire = Vec::new();
    let mut originals = BTreeMap::new();
    for (now, payload) in payloads {
        drain_until(enc.as_mut(), *now, &mut wire);
        let field = enc.on_data(*now, payload).expect("payloads within limits");
        assert_eq!((field.k, field.m), (k, m), "data field {field:?}");
        let expected_index = match wire.last() {
            Some(Wire {
                parity: false,
                field: last,
                ..
            }) if last.group == field.group => last.index + 1,
            _ => 0,
        };
        assert_eq!(field.index, expected_index, "data field {field:?}");
        assert!(
            originals
                .insert((field.group, field.index), payload.clone())
                .is_none()
        );
        wire.push(Wire {
            parity: false,
            field,
            bytes: payload.clone(),
            at: *now,
        });
        drain(enc.as_mut(), *now, &mut wire);
    }
    if let Some(deadline) = enc.next_deadline() {
        drain(enc.as_mut(), deadline, &mut wire);
    }
    assert_eq!(
        enc.next_deadline(),
        None,
        "a group is still open after the flush"
    );
    check_parity_layout(&wire, m);
    Stream { wire, originals }
}

/// Polls at every deadline that expires no later than `now`.
fn drain_until(enc: &mut dyn FecEncoder, now: Micros, wire: &mut Vec<Wire>) {
    // Each round closes a group or empties the parity queue; a stream has at most
    // MAX_PAYLOADS groups, so the bound only guards against a broken encoder.
    for _ in 0..=2 * MAX_PAYLOADS {
        match enc.next_deadline() {
            Some(deadline) if deadline <= now => drain(enc, deadline, wire),
            _ => return,
        }
    }
    panic!("the encoder's deadline never advances");
}

fn drain(enc: &mut dyn FecEncoder, now: Micros, wire: &mut Vec<Wire>) {
    let mut buf = vec![0u8; MAX_PARITY_PAYLOAD];
    while let Some((field, len)) = enc.poll_parity(now, &mut buf) {
        wire.push(Wire {
            parity: true,
            field,
            bytes: buf[..len].to_vec(),
            at: now,
        });
    }
}

/// Each group's data is followed by exactly its `m` parity packets, of the right shape.
fn check_parity_layout(wire: &[Wire], m: u8) {
    let mut i = 0;
    let mut expected_group = 0u16;
    while let Some(first) = wire.get(i) {
        assert!(!first.parity, "parity before its group's data at {i}");
        let group = first.field.group;
        assert_eq!(
            group, expected_group,
            "groups are numbered consecutively from 0"
        );
        expected_group = expected_group.wrapping_add(1);
        let data: Vec<&Wire> = wire[i..]
            .iter()
            .take_while(|w| !w.parity && w.field.group == group)
            .collect();
        let j = data.len() as u8;
        let width = data.iter().map(|w| w.bytes.len() + 2).max().unwrap_or(0);
        let parity = &wire[i + data.len()..];
        assert!(parity.len() >= usize::from(m), "group {group} lacks parity");
        for (p, w) in parity.iter().take(usize::from(m)).enumerate() {
            let want = FecField {
                group,
                index: j + p as u8,
                k: j,
                m,
            };
            assert!(
                w.parity && w.field == want,
                "parity {p} of group {group}: {:?}",
                w.field
            );
            assert_eq!(w.bytes.len(), width, "parity width of group {group}");
        }
        i += data.len() + usize::from(m);
    }
}

/// What the channel does to one wire packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Delivered in order.
    Deliver,
    /// Lost.
    Drop,
    /// Delivered in order, and a copy `n` positions later.
    Duplicate(usize),
    /// Delivered `n` positions late (reordered behind later packets).
    Hold(usize),
    /// Delivered in order after `Corruption` (parity only; data is delivered intact).
    Corrupt(Corruption),
}

/// How a parity packet is damaged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Corruption {
    /// XOR `mask` (non-zero) into byte `at % len`.
    Byte {
        /// Position, reduced modulo the length.
        at: usize,
        /// Non-zero XOR mask.
        mask: u8,
    },
    /// Cut to `len % old_len` bytes.
    Truncate(usize),
    /// Append this many bytes of 0xA5.
    Extend(usize),
    /// Replace the FEC field.
    Field(FecField),
}

impl Corruption {
    /// True when the corruption changes the FEC field (so it can move the packet to another
    /// group and advance the decoder's ring).
    pub fn touches_field(self) -> bool {
        matches!(self, Corruption::Field(_))
    }

    /// Applies the corruption.
    pub fn apply(self, field: &mut FecField, bytes: &mut Vec<u8>) {
        match self {
            Corruption::Byte { at, mask } => {
                if let Some(len) = std::num::NonZeroUsize::new(bytes.len()) {
                    bytes[at % len] ^= mask;
                }
            }
            Corruption::Truncate(to) => {
                let len = bytes.len().max(1);
                bytes.truncate(to % len);
            }
            Corruption::Extend(n) => bytes.extend(std::iter::repeat_n(0xa5, n)),
            Corruption::Field(f) => *field = f,
        }
    }
}

/// The channel's fate for each of `count` packets, from the input; exhausted input delivers
/// the rest.
pub fn fates(u: &mut Unstructured<'_>, count: usize) -> Result<Vec<Fate>> {
    (0..count)
        .map(|_| {
            Ok(match u.choose_index(8)? {
                0..=2 => Fate::Deliver,
                3 => Fate::Drop,
                4 => Fate::Duplicate(u.int_in_range(0..=MAX_HOLD)?),
                5 => Fate::Hold(u.int_in_range(1..=MAX_HOLD)?),
                6 => Fate::Corrupt(corruption(u)?),
                _ => Fate::Deliver,
            })
        })
        .collect()
}

fn corruption(u: &mut Unstructured<'_>) -> Result<Corruption> {
    Ok(match u.choose_index(4)? {
        0 => Corruption::Byte {
            at: u.arbitrary()?,
            mask: u.int_in_range(1..=255)?,
        },
        1 => Corruption::Truncate(u.arbitrary()?),
        2 => Corruption::Extend(u.int_in_range(1..=8)?),
        _ => Corruption::Field(raw_field(u)?),
    })
}

/// Any FEC field at all, in or out of the ranges the header allows.
pub fn raw_field(u: &mut Unstructured<'_>) -> Result<FecField> {
    Ok(FecField {
        group: u.arbitrary()?,
        index: u.arbitrary()?,
        k: u.arbitrary()?,
        m: u.arbitrary()?,
    })
}

/// One packet as the decoder receives it.
#[derive(Debug, Clone)]
pub struct Arrival {
    /// Position in the encoder's output.
    pub wire: usize,
    /// Parity (true) or data.
    pub parity: bool,
    /// Field as received.
    pub field: FecField,
    /// Payload as received.
    pub bytes: Vec<u8>,
    /// Damaged by the channel, and how.
    pub corrupted: Option<Corruption>,
}

/// The packets the decoder receives, in arrival order: drops removed, copies and held packets
/// placed `n` positions later (stable among equal positions), parity corrupted as told.
/// `fates` has one entry per wire packet ([`fates`] always returns `count` of them).
pub fn arrivals(wire: &[Wire], fates: &[Fate]) -> Vec<Arrival> {
    let mut slots: Vec<(usize, Arrival)> = Vec::with_capacity(wire.len() * 2);
    for (i, (w, fate)) in wire.iter().zip(fates).enumerate() {
        let arrival = Arrival {
            wire: i,
            parity: w.parity,
            field: w.field,
            bytes: w.bytes.clone(),
            corrupted: None,
        };
        match *fate {
            Fate::Deliver => slots.push((i, arrival)),
            Fate::Drop => {}
            Fate::Duplicate(n) => {
                slots.push((i, arrival.clone()));
                slots.push((i + n, arrival));
            }
            Fate::Hold(n) => slots.push((i + n, arrival)),
            Fate::Corrupt(c) if w.parity => {
                let mut arrival = arrival;
                c.apply(&mut arrival.field, &mut arrival.bytes);
                arrival.corrupted = Some(c);
                slots.push((i, arrival));
            }
            Fate::Corrupt(_) => slots.push((i, arrival)),
        }
    }
    slots.sort_by_key(|(at, _)| *at);
    slots.into_iter().map(|(_, a)| a).collect()
}
