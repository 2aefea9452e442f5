//! Routing cores (pure): which path a session takes, when it moves, when a path is dead, and
//! how much FEC it sends. The route actor ([`crate::route`]) drives the path cores when an
//! edge routes automatically (`edge.route = "auto"`); docs/routing.md says what is wired.
//!
//! Layout:
//! - `paths.rs`: the route graph a caller fills from the topology, candidate enumeration
//!   (direct, one relay, two relays), metric composition, the cost model, disjointness.
//! - `planner.rs`: the topology snapshot and the edge's probes → a round of candidates with
//!   stable node ids; a session's policy over it → primary and disjoint standby with addresses.
//! - `policy.rs`: the per-session hysteresis policy (select/switch margins, loss rule,
//!   minimum dwell, veto), with per-game defaults.
//! - `failover.rs`: dead-path detection from echo silence, failover timing and budget, the
//!   multipath duplicate switch.
//! - `adaptive_fec.rs`: the FEC scheme from measured loss, burstiness and packet rate.
//! - `fec_model.rs`: residual-loss predictions (binomial for block codes, the measured
//!   sliding-window table).
//! - `selector.rs`: the [`selector::Selector`] trait and [`selector::NearestSelector`].
//! - `ml/`: the ML selector ([`ml::MlSelector`]), its features, recorder, model and
//!   offline evaluation.

pub mod adaptive_fec;
pub mod failover;
pub mod fec_model;
pub mod ml;
pub mod paths;
pub mod planner;
pub mod policy;
pub mod selector;

#[cfg(test)]
mod adaptive_fec_tests;
#[cfg(test)]
mod failover_tests;
#[cfg(test)]
mod paths_tests;
#[cfg(test)]
mod planner_tests;
#[cfg(test)]
mod policy_tests;
