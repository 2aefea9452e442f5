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

    // 2 %: XOR k = 2 (7.9e-4) and RS(4,2) (7.7e-5) both cost 50 %; the comfortable one wins.
    let c = at(20_000);
    assert_eq!(c.scheme, FecScheme::ReedSolomon { k: 4, m: 2 });
    assert!(close(c.residual, 7.6848e-5));

    // 5 %: RS(3,2), 67 % overhead, 7.0e-4 (RS(4,2) at 1.13e-3 misses the target).
    let c = at(50_000);
    assert_eq!(c.scheme, FecScheme::ReedSolomon { k: 3, m: 2 });
    assert!(close(c.residual, 7.009e-4) && c.meets_target);
    assert!(
        !choose(&est(50_000, 64), &cfg, true)
            .scheme
            .eq(&FecScheme::ReedSolomon { k: 4, m: 2 })
    );

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
    let cfg = FecConfig::default();
    // 128 pps allows k = 7 within 50 ms: 14 % overhead at 0.5 %.
    let c = choose(&est(5_000, 128), &cfg, true);
    assert_eq!(c.scheme, FecScheme::Xor { k: 7 });
    assert!(close(c.residual, 1.724e-4));
    // 30 pps (33 ms gap) allows only k = 2.
    assert_eq!(
        choose(&est(5_000, 30), &cfg, true).scheme,
        FecScheme::Xor { k: 2 }
    );

    // Bursts of 3 at 2 %: needs m ≥ 3 per burst; sliding (unmeasured under bursts) is out.
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
    let cfg = FecConfig::default();
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
