//! Packet loss models: none, independent (iid) and bursty (Gilbert-Elliott).

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::config::{LinkConfigError, check_probability};

/// How packets are lost after the bottleneck.
///
/// Serialized with a `kind` tag, e.g. `loss = { kind = "iid", p = 0.01 }`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum LossModel {
    /// Nothing is lost.
    #[default]
    None,
    /// Each packet is lost independently with probability `p`.
    Iid {
        /// Loss probability in `[0, 1]`.
        p: f64,
    },
    /// Two-state Markov chain (Gilbert-Elliott). For every packet the chain first steps
    /// (good → bad with `p_good_to_bad`, bad → good with `p_bad_to_good`), then the packet is
    /// lost with the loss probability of the state it is in. The chain starts in the good state
    /// and keeps its state across [`Link::set_config`](super::Link::set_config).
    ///
    /// Stationary share of bad state `π_B = p_gb / (p_gb + p_bg)`; mean loss rate
    /// `(1 − π_B)·loss_in_good + π_B·loss_in_bad`; a stay in the bad state lasts
    /// `1 / p_bg` packets on average (geometric), which with `loss_in_bad = 1` and
    /// `loss_in_good = 0` is the mean loss burst length.
    GilbertElliott {
        /// Per-packet probability of moving from the good to the bad state, in `[0, 1]`.
        p_good_to_bad: f64,
        /// Per-packet probability of moving from the bad to the good state, in `[0, 1]`.
        p_bad_to_good: f64,
        /// Loss probability while good, in `[0, 1]` (usually 0).
        loss_in_good: f64,
        /// Loss probability while bad, in `[0, 1]` (usually 1).
        loss_in_bad: f64,
    },
}

impl LossModel {
    /// A Gilbert-Elliott model (`loss_in_good = 0`, `loss_in_bad = 1`) with the given mean
    /// loss rate and mean burst length in packets.
    ///
    /// Solves `1/p_bg = mean_burst` and `p_gb/(p_gb+p_bg) = loss_rate`, i.e.
    /// `p_bg = 1/mean_burst`, `p_gb = loss_rate·p_bg/(1 − loss_rate)`.
    ///
    /// # Errors
    /// [`LinkConfigError::Probability`] if `loss_rate` is not in `[0, 1)`,
    /// [`LinkConfigError::BurstLength`] if `mean_burst < 1` or NaN,
    /// [`LinkConfigError::UnreachableLossRate`] if that needs `p_gb > 1` (e.g. 60 % loss in
    /// bursts of one packet: bad stays would have to be followed by no good packet at all).
    pub fn gilbert_elliott_from_mean(
        loss_rate: f64,
        mean_burst: f64,
    ) -> Result<LossModel, LinkConfigError> {
        if !(0.0..1.0).contains(&loss_rate) {
            return Err(LinkConfigError::Probability {
                field: "loss_rate",
                value: loss_rate,
            });
        }
        if !(mean_burst >= 1.0 && mean_burst.is_finite()) {
            return Err(LinkConfigError::BurstLength(mean_burst));
        }
        let p_bad_to_good = 1.0 / mean_burst;
        let p_good_to_bad = loss_rate * p_bad_to_good / (1.0 - loss_rate);
        if p_good_to_bad > 1.0 {
            return Err(LinkConfigError::UnreachableLossRate {
                loss_rate,
                mean_burst,
            });
        }
        Ok(LossModel::GilbertElliott {
            p_good_to_bad,
            p_bad_to_good,
            loss_in_good: 0.0,
            loss_in_bad: 1.0,
        })
    }

    /// Long-run fraction of packets lost (for Gilbert-Elliott, the stationary expectation;
    /// if both transition probabilities are 0 the chain never leaves the good state).
    pub fn mean_loss_rate(&self) -> f64 {
        match *self {
            LossModel::None => 0.0,
            LossModel::Iid { p } => p,
            LossModel::GilbertElliott {
                p_good_to_bad,
                p_bad_to_good,
                loss_in_good,
                loss_in_bad,
            } => {
                let total = p_good_to_bad + p_bad_to_good;
                let bad_share = if total > 0.0 {
                    p_good_to_bad / total
                } else {
                    0.0
                };
                (1.0 - bad_share) * loss_in_good + bad_share * loss_in_bad
            }
        }
    }

    /// Checks every probability is in `[0, 1]`.
    pub fn validate(&self) -> Result<(), LinkConfigError> {
        match *self {
            LossModel::None => Ok(()),
            LossModel::Iid { p } => check_probability("loss.p", p),
            LossModel::GilbertElliott {
                p_good_to_bad,
                p_bad_to_good,
                loss_in_good,
                loss_in_bad,
            } => {
                check_probability("loss.p_good_to_bad", p_good_to_bad)?;
                check_probability("loss.p_bad_to_good", p_bad_to_good)?;
                check_probability("loss.loss_in_good", loss_in_good)?;
                check_probability("loss.loss_in_bad", loss_in_bad)
            }
        }
    }
}

/// Draws `true` with probability `p`. Never panics: `p ≤ 0` (or NaN) is never, `p ≥ 1` always.
pub(crate) fn chance<R: Rng>(rng: &mut R, p: f64) -> bool {
    // No draw for p = 0: a disabled feature costs nothing and leaves the random stream of the
    // enabled ones untouched, so spelling out a zero in a scenario never changes its outcome.
    p > 0.0 && rng.random::<f64>() < p
}

/// The loss stage's state: the Gilbert-Elliott chain position (one bit per link).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct LossState {
    bad: bool,
}

impl LossState {
    /// Decides whether the next packet is lost under `model`, stepping the chain.
    pub(crate) fn lose<R: Rng>(&mut self, model: &LossModel, rng: &mut R) -> bool {
        match *model {
            LossModel::None => false,
            LossModel::Iid { p } => chance(rng, p),
            LossModel::GilbertElliott {
                p_good_to_bad,
                p_bad_to_good,
                loss_in_good,
                loss_in_bad,
            } => {
                let leave = if self.bad {
                    p_bad_to_good
                } else {
                    p_good_to_bad
                };
                if chance(rng, leave) {
                    self.bad = !self.bad;
                }
                chance(rng, if self.bad { loss_in_bad } else { loss_in_good })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_mean_solves_for_transition_probabilities() {
        let m = LossModel::gilbert_elliott_from_mean(0.05, 4.0).unwrap();
        let LossModel::GilbertElliott {
            p_good_to_bad,
            p_bad_to_good,
            loss_in_good,
            loss_in_bad,
        } = m
        else {
            panic!("expected Gilbert-Elliott, got {m:?}");
        };
        assert_eq!(p_bad_to_good, 0.25);
        assert!((p_good_to_bad - 0.25 * 0.05 / 0.95).abs() < 1e-15);
        assert_eq!((loss_in_good, loss_in_bad), (0.0, 1.0));
        assert!((m.mean_loss_rate() - 0.05).abs() < 1e-12);
        assert_eq!(m.validate(), Ok(()));
    }

    #[test]
    fn from_mean_rejects_impossible_requests() {
        assert!(matches!(
            LossModel::gilbert_elliott_from_mean(1.0, 2.0),
            Err(LinkConfigError::Probability { .. })
        ));
        assert_eq!(
            LossModel::gilbert_elliott_from_mean(0.1, 0.5),
            Err(LinkConfigError::BurstLength(0.5))
        );
        assert!(LossModel::gilbert_elliott_from_mean(0.1, f64::NAN).is_err());
        assert!(matches!(
            LossModel::gilbert_elliott_from_mean(0.6, 1.0),
            Err(LinkConfigError::UnreachableLossRate { .. })
        ));
        // 50 % in bursts of one: alternate lost / delivered, p_gb exactly 1.
        assert!(LossModel::gilbert_elliott_from_mean(0.5, 1.0).is_ok());
    }

    #[test]
    fn stuck_chain_has_good_state_loss_rate() {
        let m = LossModel::GilbertElliott {
            p_good_to_bad: 0.0,
            p_bad_to_good: 0.0,
            loss_in_good: 0.2,
            loss_in_bad: 1.0,
        };
        assert_eq!(m.mean_loss_rate(), 0.2);
    }
}
