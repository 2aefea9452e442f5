//! One running emulated link of a scenario: a [`UdpLink`] forwarder from one node (or player,
//! or proxy egress) to another, plus what the timeline did to it. Forwarders are bound before
//! the node behind them starts and pointed at it once it has (and again when it restarts), so
//! their front addresses, which are what the sending side knows, never change and their
//! counters stay cumulative.

use std::net::SocketAddr;

use super::RunError;
use crate::link::LinkConfig;
use crate::udp_link::{UdpLink, UdpLinkStats};

/// A running link; `from` sends to the front, the forwarder sends on to `to`.
pub(super) struct LinkSlot {
    pub(super) from: String,
    pub(super) to: String,
    udp: UdpLink,
    front: SocketAddr,
    pub(super) base: (LinkConfig, LinkConfig),
    partitioned: bool,
    crashed: bool,
}

impl LinkSlot {
    /// A forwarder on `bind` towards `target` (`None`: set later with [`LinkSlot::retarget`]).
    pub(super) async fn start(
        (from, to): (String, String),
        bind: SocketAddr,
        target: Option<SocketAddr>,
        base: (LinkConfig, LinkConfig),
        seed: u64,
    ) -> Result<LinkSlot, RunError> {
        let udp = UdpLink::spawn_pending(bind, base.0.clone(), base.1.clone(), seed)
            .await
            .map_err(|e| RunError::Setup {
                what: format!("emulated link {from} → {to}"),
                reason: Box::new(e),
            })?;
        if let Some(t) = target {
            udp.set_target(t);
        }
        Ok(LinkSlot {
            from,
            to,
            front: udp.front_addr(),
            udp,
            base,
            partitioned: false,
            crashed: false,
        })
    }

    /// Whether the link joins `x` and `y`.
    pub(super) fn joins(&self, x: &str, y: &str) -> bool {
        (self.from == x && self.to == y) || (self.from == y && self.to == x)
    }

    /// Whether `node` is an end.
    pub(super) fn touches(&self, node: &str) -> bool {
        self.from == node || self.to == node
    }

    pub(super) fn front(&self) -> SocketAddr {
        self.front
    }

    /// Cumulative figures.
    pub(super) fn stats(&self) -> UdpLinkStats {
        self.udp.stats()
    }

    fn apply_down(&self) {
        self.udp.set_down(self.partitioned || self.crashed);
    }

    pub(super) fn set_partitioned(&mut self, cut: bool) {
        self.partitioned = cut;
        self.apply_down();
    }

    pub(super) fn set_crashed(&mut self, crashed: bool) {
        self.crashed = crashed;
        self.apply_down();
    }

    /// Changes both directions' shape (degrade, restore).
    pub(super) fn set_shape(&mut self, shape: (LinkConfig, LinkConfig)) {
        // Both configurations were validated when the scenario was loaded.
        let _ = self.udp.set_config(shape.0, shape.1);
    }

    /// Points the link at `target` (a node that just started or restarted on a fresh data
    /// port), keeping its front address, shape, state and counters.
    pub(super) fn retarget(&mut self, target: SocketAddr) {
        self.udp.set_target(target);
    }
}
