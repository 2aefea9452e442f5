//! One running emulated link of a scenario: a [`UdpLink`] plus what the timeline did to it, and
//! the counters of the links it replaced, so its figures stay cumulative when a restarted node
//! makes it retarget.

use std::net::SocketAddr;
use std::time::Duration;

use super::RunError;
use crate::link::{DropCounts, LinkConfig, LinkStats};
use crate::udp_link::{UdpLink, UdpLinkStats};

/// How long a retargeted link may wait for its old front port to be released.
const REBIND_TRIES: u32 = 40;
const REBIND_PAUSE: Duration = Duration::from_millis(25);

/// A running link; `from` sends to the front, the forwarder sends on to `to`.
pub(super) struct LinkSlot {
    pub(super) from: String,
    pub(super) to: String,
    /// `None` only while being replaced.
    udp: Option<UdpLink>,
    front: SocketAddr,
    seed: u64,
    pub(super) base: (LinkConfig, LinkConfig),
    current: (LinkConfig, LinkConfig),
    partitioned: bool,
    crashed: bool,
    retired: UdpLinkStats,
}

pub(super) async fn spawn(
    bind: SocketAddr,
    target: SocketAddr,
    (up, down): (&LinkConfig, &LinkConfig),
    seed: u64,
) -> Result<UdpLink, RunError> {
    UdpLink::spawn(bind, target, up.clone(), down.clone(), seed)
        .await
        .map_err(|e| RunError::Setup {
            what: format!("emulated link to {target}"),
            reason: Box::new(e),
        })
}

fn add_drops(a: &DropCounts, b: &DropCounts) -> DropCounts {
    DropCounts {
        loss: a.loss + b.loss,
        outage: a.outage + b.outage,
        queue_full: a.queue_full + b.queue_full,
        in_flight_full: a.in_flight_full + b.in_flight_full,
    }
}

fn add(a: &LinkStats, b: &LinkStats) -> LinkStats {
    LinkStats {
        sent: a.sent + b.sent,
        sent_bytes: a.sent_bytes + b.sent_bytes,
        delivered: a.delivered + b.delivered,
        delivered_bytes: a.delivered_bytes + b.delivered_bytes,
        duplicated: a.duplicated + b.duplicated,
        reordered: a.reordered + b.reordered,
        dropped: add_drops(&a.dropped, &b.dropped),
        in_flight: b.in_flight,
    }
}

impl LinkSlot {
    pub(super) async fn start(
        (from, to): (String, String),
        bind: SocketAddr,
        target: SocketAddr,
        base: (LinkConfig, LinkConfig),
        seed: u64,
    ) -> Result<LinkSlot, RunError> {
        let udp = spawn(bind, target, (&base.0, &base.1), seed).await?;
        Ok(LinkSlot {
            from,
            to,
            front: udp.front_addr(),
            udp: Some(udp),
            seed,
            current: base.clone(),
            base,
            partitioned: false,
            crashed: false,
            retired: UdpLinkStats::default(),
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

    /// Cumulative figures, including links this one replaced.
    pub(super) fn stats(&self) -> UdpLinkStats {
        let now = self.udp.as_ref().map(UdpLink::stats).unwrap_or_default();
        UdpLinkStats {
            up: add(&self.retired.up, &now.up),
            down: add(&self.retired.down, &now.down),
            data_dropped: self.retired.data_dropped + now.data_dropped,
        }
    }

    fn apply_down(&self) {
        if let Some(u) = &self.udp {
            u.set_down(self.partitioned || self.crashed);
        }
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
        if let Some(u) = &self.udp {
            let _ = u.set_config(shape.0.clone(), shape.1.clone());
        }
        self.current = shape;
    }

    /// Points the link at a new target (a restarted node's new address), keeping its front
    /// address, shape, state and counters.
    pub(super) async fn retarget(&mut self, target: SocketAddr) -> Result<(), RunError> {
        self.retired = self.stats();
        // Dropping the old forwarder aborts its task; its sockets close once the task is
        // dropped, which may take a moment on another worker.
        drop(self.udp.take());
        let seed = self.seed.wrapping_add(1);
        let mut tries = 0;
        let udp = loop {
            let shape = (&self.current.0, &self.current.1);
            match spawn(self.front, target, shape, seed).await {
                Ok(u) => break u,
                Err(e) if tries >= REBIND_TRIES => return Err(e),
                Err(_) => {
                    tries += 1;
                    tokio::time::sleep(REBIND_PAUSE).await;
                }
            }
        };
        self.udp = Some(udp);
        self.seed = seed;
        self.apply_down();
        Ok(())
    }
}
