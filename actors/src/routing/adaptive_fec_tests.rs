use std::time::Duration;

use lightspeed_protocol::Micros;
use lightspeed_protocol::fec::FecScheme;

use super::adaptive_fec::*;
use super::fec_model::block_residual;

fn est(loss_ppm: u32, pps: u32) -> LossEstimate {
    LossEstimate {
        loss_ppm,
        mean_burst: 1.0,
        pps,
        second_path_loss_ppm: None,
        second_path_delay: Duration::ZERO,
    }
}

/// The policy without the latency budget: the residual model alone decides.
fn residual_only() -> FecConfig {
    FecConfig {
        max_late: 1.0,
        ..FecConfig::default()
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= b.abs() * 1e-3
}

#[test]
fn binomial_formula_matches_hand_computed_values() {
    assert!(close(binomial_tail(4, 0.5, 2), 11.0 / 16.0));
    assert_eq!(binomial_tail(4, 0.1, 0), 1.0);
    assert_eq!(binomial_tail(4, 0.1, 5), 0.0);
    // XOR k = 4 at 0.5 %: 0.005 × (1 − 0.995⁴)
    assert!(close(
        block_residual(0.005, 4, 1, 1.0, None),
        0.005 * (1.0 - 0.995f64.powi(4))
    ));
    // RS(3,2) at 5 %: 0.05 × P[Bin(4, 0.05) ≥ 2] = 7.01e-4
    assert!(close(block_residual(0.05, 3, 2, 1.0, None), 7.009375e-4));
    // Bursts of 3 defeat a single parity: residual is the loss itself.
    assert_eq!(block_residual(0.02, 4, 2, 3.0, None), 0.02);
}

#[test]
fn choices_at_64_pps_from_clean_to_ten_percent_loss() {
    let cfg = FecConfig::default();
    let at = |ppm| choose(&est(ppm, 64), &cfg, true);

    let c = at(0);
    assert_eq!((c.scheme, c.overhead), (FecScheme::Off, 0.0));

    // 0.5 %: one XOR parity per four packets (k ≤ 4: three gaps of 15.6 ms fit 50 ms).
    let c = at(5_000);
    assert_eq!(c.scheme, FecScheme::Xor { k: 4 });
    assert!(close(c.residual, 9.925e-5) && c.overhead == 0.25);
    assert_eq!(c.deadline, Duration::from_micros(47_875));

    // 2 %: XOR k = 2 (7.9e-4) and RS(4,2) (7.7e-5) both cost 50 %. By residual alone the
    // comfortable RS(4,2) wins, but its first two members wait 2-3 gaps: 1 % of packets late,
    // over the 0.5 % budget, so XOR k = 2 (recovered by the next packet) is taken.
    let c = choose(&est(20_000, 64), &residual_only(), true);
    assert_eq!(c.scheme, FecScheme::ReedSolomon { k: 4, m: 2 });
    assert!(close(c.residual, 7.6848e-5) && close(c.late, 0.01));
    let c = at(20_000);
    assert_eq!((c.scheme, c.late), (FecScheme::Xor { k: 2 }, 0.0));
    assert!(close(c.residual, 7.92e-4));

    // 5 %: by residual alone RS(3,2), 67 % overhead, 7.0e-4 (RS(4,2) at 1.13e-3 misses the
    // target), but a third of the losses wait two gaps (1.7 % of packets late). In budget:
    // 100 % overhead; the measured sliding W2 (1e-4, late 0.01 %) is the smallest of those
    // recovering by the next packet.
    let c = choose(&est(50_000, 64), &residual_only(), true);
    assert_eq!(c.scheme, FecScheme::ReedSolomon { k: 3, m: 2 });
    assert!(close(c.residual, 7.009e-4) && c.meets_target);
    let c = at(50_000);
    assert_eq!(
        c.scheme,
        FecScheme::Sliding {
            window: 2,
            repairs: 1,
            interval: 1
        }
    );
    assert!(c.late <= cfg.max_late && c.residual <= 1e-4);

    // 10 %: 100 % overhead; the measured sliding W4 1/1 (1e-5, recovers by the next packet)
    // beats RS(3,3) (8.6e-4) and RS(4,4) (2.7e-4).
    let c = at(100_000);
    assert_eq!(
        c.scheme,
        FecScheme::Sliding {
            window: 4,
            repairs: 1,
            interval: 1
        }
    );
    assert_eq!((c.overhead, c.residual), (1.0, 1e-5));

    // 20 %: nothing meets the target; the lowest residual is taken and says so.
    let c = at(200_000);
    assert!(!c.meets_target);
    assert_eq!(c.scheme, FecScheme::ReedSolomon { k: 4, m: 4 });
}

#[test]
fn packet_rate_bursts_and_a_second_path_change_the_choice() {
    // The residual model alone (the latency budget has its own tests).
    let cfg = residual_only();
    // 128 pps allows k = 7 within 50 ms: 14 % overhead at 0.5 %.
    let c = choose(&est(5_000, 128), &cfg, true);
    assert_eq!(c.scheme, FecScheme::Xor { k: 7 });
    assert!(close(c.residual, 1.724e-4));
    // 30 pps (33 ms gap) allows only k = 2.
    assert_eq!(
        choose(&est(5_000, 30), &cfg, true).scheme,
        FecScheme::Xor { k: 2 }
    );

    // Bursts of 3 at 2 %: needs m ≥ 3 per burst; sliding (W8 3.9e-4 at 100 %) costs more.
    let bursty = LossEstimate {
        mean_burst: 3.0,
        ..est(20_000, 64)
    };
    let c = choose(&bursty, &cfg, true);
    assert_eq!(c.scheme, FecScheme::ReedSolomon { k: 4, m: 3 });
    assert!(close(c.residual, 7.868e-4));

    // 5 % on the primary, 1 % on a disjoint second path: parity there halves the overhead.
    let two = LossEstimate {
        second_path_loss_ppm: Some(10_000),
        ..est(50_000, 64)
    };
    let c = choose(&two, &cfg, true);
    assert_eq!(
        (c.scheme, c.placement),
        (FecScheme::ReedSolomon { k: 4, m: 2 }, Placement::SecondPath)
    );
    assert!(close(c.residual, 5.015e-4));
}

#[test]
fn hysteresis_raises_at_once_lowers_slowly_and_turns_off_only_when_clean() {
    let cfg = residual_only();
    let ms = Micros::from_millis;
    let start = choose(&est(100_000, 64), &cfg, true);
    let mut fec = AdaptiveFec::new(cfg, start, ms(0));
    // Loss falls to 0.5 %: the cheaper XOR k = 4 waits for the 5 s hold.
    assert_eq!(fec.update(ms(1_000), &est(5_000, 64)), None);
    let c = fec.update(ms(5_000), &est(5_000, 64)).unwrap();
    assert_eq!(c.scheme, FecScheme::Xor { k: 4 });

    // Loss wandering 0.3 %–0.6 % for 100 s: no change.
    for i in 0..100u64 {
        let loss = if i % 2 == 0 { 3_000 } else { 6_000 };
        assert_eq!(fec.update(ms(6_000 + i * 1_000), &est(loss, 64)), None);
    }
    // 0.05 %: Off would meet the target but FEC stays on above 0.01 %.
    assert_eq!(fec.update(ms(200_000), &est(500, 64)), None);
    // 5 %: raised at once (XOR k = 4 would leave 7e-3).
    let c = fec.update(ms(200_001), &est(50_000, 64)).unwrap();
    assert_eq!(c.scheme, FecScheme::ReedSolomon { k: 3, m: 2 });
    // Clean: off, but only after the hold.
    assert_eq!(fec.update(ms(201_000), &est(50, 64)), None);
    assert_eq!(
        fec.update(ms(205_001), &est(50, 64)).map(|c| c.scheme),
        Some(FecScheme::Off)
    );
    // Off stays off up to the 0.1 % target, turns on just above.
    assert_eq!(fec.update(ms(205_002), &est(1_000, 64)), None);
    let c = fec.update(ms(205_003), &est(2_000, 64)).unwrap();
    assert_eq!(c.scheme, FecScheme::Xor { k: 4 });
    assert_eq!(fec.current().scheme, FecScheme::Xor { k: 4 });
}

#[test]
fn every_measured_sliding_configuration_has_a_one_percent_row() {
    use super::fec_model::{SLIDING_CONFIGS, sliding_residual};
    for (w, r, i) in SLIDING_CONFIGS {
        assert_eq!(
            sliding_residual(w, r, i, 0.01, 1.0),
            Some(0.0),
            "W{w} {r}/{i}"
        );
        assert!(
            sliding_residual(w, r, i, 0.01, 2.0).is_some(),
            "measured under bursts of 2"
        );
        assert_eq!(
            sliding_residual(w, r, i, 0.01, 3.5),
            None,
            "beyond the bursts measured"
        );
        assert_eq!(
            sliding_residual(w, r, i, 0.11, 1.0),
            None,
            "beyond the table"
        );
    }
    assert_eq!(sliding_residual(2, 1, 1, 0.06, 1.0), Some(1.1e-3));
    assert_eq!(sliding_residual(3, 1, 1, 0.01, 1.0), None);
}

fn bursty(loss_ppm: u32, mean_burst: f64) -> LossEstimate {
    LossEstimate {
        mean_burst,
        ..est(loss_ppm, 64)
    }
}

const W4: FecScheme = FecScheme::Sliding {
    window: 4,
    repairs: 1,
    interval: 1,
};
const W8: FecScheme = FecScheme::Sliding {
    window: 8,
    repairs: 1,
    interval: 1,
};

/// lossy-last-mile: 5 % Gilbert-Elliott loss of mean burst 2 on the link, measured per
/// session as 5-6 % with mean bursts of 1.2-1.6 packets (docs/routing.md).
#[test]
fn bursty_loss_keeps_the_sliding_code() {
    let cfg = FecConfig::default();
    // The sliding table interpolated at burst 1.5: W8 1.75e-5 (half of 3.5e-5 at burst 2),
    // W4 4.85e-4; block codes are taken as bursts of 2 and miss the target (RS(4,4) at 100 %
    // leaves 1.1e-3), and would delay 2.5 % of packets besides.
    let c = choose(&bursty(50_000, 1.5), &cfg, true);
    assert_eq!(c.scheme, W8);
    assert!(close(c.residual, 1.75e-5), "{}", c.residual);
    assert_eq!(
        predict(W4, Placement::SamePath, &bursty(50_000, 1.5), &cfg),
        Some(4.85e-4)
    );
    let rs44 = predict(
        FecScheme::ReedSolomon { k: 4, m: 4 },
        Placement::SamePath,
        &bursty(50_000, 1.5),
        &cfg,
    );
    assert!(rs44.is_some_and(|r| r > cfg.target_residual), "{rs44:?}");

    // Started on W4 (auto's start) under that loss for a minute: W4 still meets the target
    // and nothing cheaper does, so no switch.
    let ms = Micros::from_millis;
    let start = crate::fec_control::describe(W4, Some(64));
    let mut fec = AdaptiveFec::new(cfg, start, ms(0));
    for s in 1..=60u64 {
        let b = 1.2 + 0.3 * ((s % 3) as f64) / 2.0;
        assert_eq!(fec.update(ms(s * 1_000), &bursty(50_000, b)), None, "{s} s");
    }
    // 6 % is read in the 10 % row: W4 under bursts of 1.6 leaves 1.6e-3, so protection goes
    // up at once to W8 (1.3e-4) at the same overhead.
    let c = fec.update(ms(61_000), &bursty(60_000, 1.6)).unwrap();
    assert_eq!(c.scheme, W8);
    assert!(close(c.residual, 1.32e-4), "{}", c.residual);

    // What went wrong before bursts were measured: taken as independent and without the
    // latency budget, 5 % relaxed to 7.5 % lets RS(4,3) (75 %) replace W4 after the hold,
    // though it loses 7e-3 under these bursts and holds packets for up to three gaps.
    let mut old = AdaptiveFec::new(residual_only(), start, ms(0));
    let c = old.update(ms(5_000), &bursty(50_000, 1.0)).unwrap();
    assert_eq!(c.scheme, FecScheme::ReedSolomon { k: 4, m: 3 });
    let real = predict(c.scheme, c.placement, &bursty(50_000, 2.0), &cfg).unwrap();
    assert!(real > 5e-3, "{real}");
}

fn with_second(e: LossEstimate, p2: u32, delay_ms: u64) -> LossEstimate {
    LossEstimate {
        second_path_loss_ppm: Some(p2),
        second_path_delay: Duration::from_millis(delay_ms),
        ..e
    }
}

#[test]
fn a_second_paths_extra_delay_caps_its_codes_and_too_slow_a_path_is_not_used() {
    let cfg = FecConfig::default();
    let xor4 = FecScheme::Xor { k: 4 };
    // 1 % independent loss, a clean second path 2 ms slower one way: XOR k = 4 with its
    // parity there, 2.97e-4 against 3.94e-4 behind the data, same 25 %.
    let c = choose(&with_second(est(10_000, 64), 0, 2), &cfg, true);
    assert_eq!((c.scheme, c.placement), (xor4, Placement::SecondPath));
    assert!(close(c.residual, 2.9701e-4) && c.overhead == 0.25);
    assert_eq!(c.recovery_gaps, 3);
    // 10 ms slower: three gaps + 10 ms > 50 ms, so k ≤ 3 there; k = 4 stays with the data.
    let slow = with_second(est(10_000, 64), 0, 10);
    assert_eq!(predict(xor4, Placement::SecondPath, &slow, &cfg), None);
    let x3 = find(FecScheme::Xor { k: 3 }, Placement::SecondPath, &slow, &cfg).unwrap();
    // The first member waits two gaps + 10 ms, the second one gap + 10 ms (25.6 ms, under
    // two gaps): one late member in three, and the delay rounds to one more gap.
    assert_eq!(x3.recovery_gaps, 3);
    assert!(close(x3.late, 0.01 / 3.0));
    let c = choose(&slow, &cfg, true);
    assert_eq!((c.scheme, c.placement), (xor4, Placement::SamePath));

    // 5 % in bursts of 2, clean second path: a copy there (the FEC's repair is the packet
    // itself) is never lost with the original: residual 0, nothing late. Without the second
    // path, W8 at 3.5e-5 but 1.8 % of packets late.
    let b = bursty(50_000, 2.0);
    let c = choose(&b, &cfg, true);
    assert_eq!(
        c.scheme,
        FecScheme::Sliding {
            window: 8,
            repairs: 1,
            interval: 1
        }
    );
    assert!(close(c.late, 0.018));
    let c = choose(&with_second(b, 0, 2), &cfg, true);
    assert_eq!(
        (c.scheme, c.placement, c.residual, c.late),
        (FecScheme::Duplicate, Placement::SecondPath, 0.0, 0.0)
    );
    // 40 ms slower: every copy that rebuilds a packet is 2.56 gaps late, over the budget
    // like W8, and W8 recovers sooner; 60 ms (beyond the 50 ms a recovery may take): the
    // second path is not offered at all.
    let late = with_second(b, 0, 40);
    let dup2 = find(FecScheme::Duplicate, Placement::SecondPath, &late, &cfg).unwrap();
    assert_eq!((dup2.late, dup2.recovery_gaps), (0.05, 3));
    assert_eq!(choose(&late, &cfg, true).placement, Placement::SamePath);
    let too_late = with_second(b, 0, 60);
    assert_eq!(
        predict(FecScheme::Duplicate, Placement::SecondPath, &too_late, &cfg),
        None
    );
    assert_eq!(choose(&too_late, &cfg, true), choose(&b, &cfg, true));
}

#[test]
fn a_running_session_moves_to_its_second_path_when_it_pays_and_back() {
    let cfg = FecConfig::default();
    let s = |secs: u64| Micros(secs * 1_000_000);
    let w8 = FecScheme::Sliding {
        window: 8,
        repairs: 1,
        interval: 1,
    };
    let start = choose(&bursty(10_000, 1.0), &cfg, false);
    let mut a = AdaptiveFec::new(
        cfg,
        FecChoice {
            scheme: W4,
            ..start
        },
        s(0),
    );
    // 5 % in bursts of 2 on the primary, the standby not measured yet: W4 (9.7e-4 measured)
    // still meets the target, nothing cheaper does: it stays.
    let lossy = bursty(50_000, 2.0);
    assert_eq!(a.update(s(1), &lossy), None);
    assert_eq!(a.update(s(6), &lossy), None);
    // The standby's figure arrives (clean, 2 ms slower): a copy on it is within the latency
    // budget (W4 holds 1.75 % of packets two gaps or more), at the same overhead.
    let two = with_second(lossy, 0, 2);
    let c = a.update(s(7), &two).expect("moves to the second path");
    assert_eq!(
        (c.scheme, c.placement),
        (FecScheme::Duplicate, Placement::SecondPath)
    );
    assert_eq!(a.update(s(8), &two), None);
    // The standby turns lossy (4 %): copies there miss the target (2e-3): at once, back to
    // the data's path.
    let c = a
        .update(s(9), &with_second(lossy, 40_000, 2))
        .expect("raised");
    assert_eq!((c.scheme, c.placement), (w8, Placement::SamePath));
    // At 0.5 % the copies there predict 2.5e-4, more than W8's 3.5e-5 but within the latency
    // budget: a move for timeliness, so only after the 5 s hold.
    let fair = with_second(lossy, 5_000, 2);
    assert_eq!(choose(&fair, &cfg, false).placement, Placement::SecondPath);
    assert_eq!(a.update(s(10), &fair), None);
    let c = a.update(s(14), &fair).expect("moves after the hold");
    assert_eq!(
        (c.scheme, c.placement),
        (FecScheme::Duplicate, Placement::SecondPath)
    );
    // The standby goes away: the copies have no prediction, so protection is chosen again
    // at once, with the data.
    let c = a.update(s(15), &lossy).expect("standby gone");
    assert_eq!((c.scheme, c.placement), (w8, Placement::SamePath));
    // Back and clean: the copies there lose nothing (W8: 3.5e-5), more protection at the
    // same overhead, so at once.
    let c = a.update(s(16), &two).expect("more protection at once");
    assert_eq!(
        (c.scheme, c.placement),
        (FecScheme::Duplicate, Placement::SecondPath)
    );
}

#[test]
fn parity_moves_to_an_equally_costly_second_path_only_when_that_halves_the_residual() {
    let cfg = FecConfig::default();
    let s = |secs: u64| Micros(secs * 1_000_000);
    let xor4 = FecScheme::Xor { k: 4 };
    let one = est(10_000, 64);
    let same = choose(&one, &cfg, false);
    assert_eq!((same.scheme, same.placement), (xor4, Placement::SamePath));
    let mut a = AdaptiveFec::new(cfg, same, s(0));
    // 1 % independent: XOR k = 4 with parity on a clean second path predicts 2.97e-4 against
    // 3.94e-4: a new choice would place it there, a running one is not moved for that.
    let two = with_second(one, 0, 0);
    assert_eq!(choose(&two, &cfg, false).placement, Placement::SecondPath);
    assert_eq!(a.update(s(10), &two), None);
    // Started there, it stays there while the second path is no worse than the primary…
    let mut a = AdaptiveFec::new(cfg, choose(&two, &cfg, false), s(0));
    assert_eq!(a.update(s(10), &with_second(one, 10_000, 0)), None);
    // …and comes back when the data's path halves the residual (second path at 3 %:
    // 5.9e-4 there against 3.9e-4 with the data is not half; at 9 %: 1.2e-3 misses the target
    // and protection is raised at once).
    assert_eq!(a.update(s(20), &with_second(one, 30_000, 0)), None);
    let c = a
        .update(s(21), &with_second(one, 90_000, 0))
        .expect("raised");
    assert_eq!((c.scheme, c.placement), (xor4, Placement::SamePath));
}
