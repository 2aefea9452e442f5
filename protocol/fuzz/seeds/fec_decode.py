#!/usr/bin/env python3
"""Writes the seed corpus of the `fec_decode` fuzz target (corpus/fec_decode/*.bin).

The target reads its input through `arbitrary::Unstructured` (arbitrary 1.5); this script
encodes chosen values the way that crate decodes them, so each seed is a meaningful scenario:
an integer in `a..=b` takes as many big-endian bytes as `b - a` needs and is `a + int % (b -
a + 1)`; a bool is `byte & 1`; `choose_index(n)` is an integer in `0..=n-1`. The layout
follows `structured` in fuzz_targets/fec_decode.rs and `timed_payloads` / `fates` in
src/fec.rs: change them together. Run from anywhere: `python3 protocol/fuzz/seeds/fec_decode.py`.
"""
import os

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus", "fec_decode")


def int_in(lo, hi, value):
    """Bytes that decode to `value` in `lo..=hi`."""
    assert lo <= value <= hi
    delta, offset, n = hi - lo, value - lo, 0
    while delta >> (8 * n):
        n += 1
    return offset.to_bytes(n, "big") if n else b""


SCHEME_BYTE = {"xor": 3, "rs": 1, "dup": 2}  # byte % 3 picks the scheme, byte % 4 != 0 = structured


def scheme(kind, k=None, m=None):
    out = bytes([SCHEME_BYTE[kind]])
    if kind == "xor":
        out += int_in(1, 15, k)
    elif kind == "rs":
        out += int_in(1, 15, k) + int_in(1, 15, m)
    return out


def stream(kind, k, m, deadline_us, slots, packets):
    """`packets`: list of (gap_us, payload_len). Returns (input prefix, wire layout), the layout
    being 'd'/'p' per wire packet, as the encoder emits them."""
    out = scheme(kind, k, m) + int_in(1, 50_000, deadline_us) + int_in(1, 16, slots)
    out += int_in(1, 96, len(packets))
    if kind == "dup":
        k, m = 1, 1
    elif kind == "xor":
        m = 1
    max_gap = deadline_us * 3
    layout, now, opened, count = [], 0, None, 0
    for seed, (gap, length) in enumerate(packets):
        out += int_in(0, max_gap, gap)
        if length > 255:
            out += bytes([1]) + int_in(1, 1400, length)
        else:
            out += bytes([0]) + int_in(1, 255, length)
        out += bytes([(seed * 37 + 11) & 0xFF])
        now += gap
        if count and kind != "dup" and now >= opened + deadline_us:
            layout += ["p"] * m
            count = 0
        if count == 0:
            opened = now
        layout.append("d")
        count += 1
        if count >= k:
            layout += ["p"] * m
            count = 0
    if count:
        layout += ["p"] * m
    return out, layout


DELIVER, DROP = bytes([0]), bytes([3])


def dup(n):
    return bytes([4]) + int_in(0, 48, n)


def hold(n):
    return bytes([5]) + int_in(1, 48, n)


def corrupt_byte(at, mask):
    return bytes([6, 0]) + at.to_bytes(8, "little") + int_in(1, 255, mask)


def corrupt_truncate(to):
    return bytes([6, 1]) + to.to_bytes(8, "little")


def corrupt_field(group, index, k, m):
    return bytes([6, 3]) + group.to_bytes(2, "little") + bytes([index, k, m])


def game(n, tick=8_000):
    return [(tick, 60 + (i * 97) % 241) for i in range(n)]


def fates(layout, pick):
    """`pick(i, kind, nth_in_group)` returns the fate bytes for wire packet i."""
    out, nth, prev = b"", 0, None
    for i, kind in enumerate(layout):
        nth = nth + 1 if prev == kind or (prev == "d" and kind == "p") else 0
        if prev == "p" and kind == "d":
            nth = 0
        prev = kind
        out += pick(i, kind, nth)
    return out


def seeds():
    s = {}
    prefix, layout = stream("xor", 4, None, 50_000, 8, game(24))
    s["xor4_clean"] = prefix
    s["xor4_one_loss_per_group"] = prefix + fates(layout, lambda i, k, n: DROP if k == "d" and n == 1 else DELIVER)
    s["xor4_parity_lost_and_data_lost"] = prefix + fates(layout, lambda i, k, n: DROP if i % 10 in (0, 4) else DELIVER)

    prefix, layout = stream("rs", 4, 2, 50_000, 8, game(32))
    s["rs4_2_two_losses_per_group"] = prefix + fates(layout, lambda i, k, n: DROP if n in (0, 2) and k == "d" else DELIVER)
    s["rs4_2_dup_and_hold"] = prefix + fates(layout, lambda i, k, n: dup(3) if i % 3 == 0 else hold(5) if i % 7 == 0 else DELIVER)

    prefix, layout = stream("rs", 8, 4, 50_000, 4, [(8_000, 60 + (i * 53) % 1341) for i in range(48)])
    s["rs8_4_bursts_of_four"] = prefix + fates(layout, lambda i, k, n: DROP if i % 12 in (2, 3, 4, 5) else DELIVER)

    # Gaps longer than the deadline: groups closed early by time, parity with a smaller k.
    prefix, layout = stream("rs", 6, 3, 20_000, 4, [(9_000 if i % 3 else 25_000, 60 + i * 7) for i in range(30)])
    s["rs6_3_deadline_groups"] = prefix + fates(layout, lambda i, k, n: DROP if k == "d" and n == 0 else DELIVER)

    prefix, layout = stream("dup", None, None, 10_000, 2, game(40))
    s["dup_reorder_past_window"] = prefix + fates(layout, lambda i, k, n: hold(9) if i % 5 == 0 else DROP if i % 5 == 2 else DELIVER)

    prefix, layout = stream("rs", 4, 2, 50_000, 8, game(16))
    parity_seen = [0]

    def corrupt(i, kind, n):
        if kind != "p":
            return DROP if n == 0 else DELIVER
        parity_seen[0] += 1
        return [corrupt_byte(5, 0x40), corrupt_truncate(7), corrupt_field(1, 5, 4, 2), DELIVER][parity_seen[0] % 4]

    s["rs4_2_corrupt_parity"] = prefix + fates(layout, corrupt)

    # Raw mode (first byte % 4 == 0): XOR k=3, 4 slots, then (field, payload) pairs and polls.
    raw = bytes([0]) + bytes([1]) + bytes([0]) + int_in(1, 15, 3) + bytes([1]) + int_in(1, 16, 4)
    raw += (20_000).to_bytes(8, "little")
    for group in (0, 1, 65535):
        base, back = (0, 1) if group == 65535 else (group, 0)
        for index in (0, 2, 3):  # index 1 missing, 3 is the parity
            length = 44 if index == 3 else 40 + index
            raw += bytes([0, 0]) + int_in(1, 3, 3) + int_in(0, 7, base) + int_in(0, 3, back)
            raw += int_in(0, 4, index) + int_in(0, 1500, length) + bytes(range(length))
            raw += bytes([index == 3]) + (index).to_bytes(8, "little")
        raw += bytes([2]) + int_in(0, 1400, 1400)
    s["raw_xor3_wrap"] = raw
    return s


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    for name, data in seeds().items():
        with open(os.path.join(OUT, name + ".bin"), "wb") as f:
            f.write(data)
        print(f"{name}.bin: {len(data)} bytes")
