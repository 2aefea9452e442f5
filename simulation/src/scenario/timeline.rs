//! Timeline actions applied to the running [`World`]: crash and restart nodes, degrade and
//! restore links, partition and heal.
//!
//! A crash is emulated: the node's links (and, for the edge or the game's proxy, their
//! last-mile links) go dark first, so nothing it sends on the way down reaches anyone, then the
//! node is shut down. A stopped node's actors keep its data socket bound, so a restarted node
//! binds a fresh data port and the links that lead to it are re-pointed, keeping their front
//! addresses, which are what its peers know; its QUIC control port is bound again as it was.

use std::time::Duration;

use super::RunError;
use super::model::{Action, Target};
use super::world::{World, loopback, pin_addresses, start_node};

/// How long a restarted node may wait for its old control port to be released.
const REBIND_TRIES: u32 = 60;
const REBIND_PAUSE: Duration = Duration::from_millis(50);

impl World {
    fn crash_links(&mut self, node: &str, crashed: bool) {
        for l in self.links.iter_mut().filter(|l| l.touches(node)) {
            l.set_crashed(crashed);
        }
        if node == self.edge {
            self.clients.iter_mut().for_each(|c| c.set_crashed(crashed));
        }
        if node == self.proxy {
            self.servers.iter_mut().for_each(|s| s.set_crashed(crashed));
        }
    }

    async fn restart(&mut self, name: &str) -> Result<(), RunError> {
        let Some(i) = self.nodes.iter().position(|s| s.spec.name == name) else {
            return Ok(());
        };
        let Some(mut spec) = self.nodes.get(i).map(|s| s.spec.clone()) else {
            return Ok(());
        };
        spec.data_listen = loopback();
        if let Some(e) = spec.edge.as_mut() {
            e.redirects.iter_mut().for_each(|r| r.listen = loopback());
        }
        let mut tries = 0;
        let handle = loop {
            match start_node(spec.clone()).await {
                Ok(h) => break h,
                Err(e) if tries >= REBIND_TRIES => return Err(e),
                Err(_) => {
                    tries += 1;
                    tokio::time::sleep(REBIND_PAUSE).await;
                }
            }
        };
        pin_addresses(&mut spec, &handle);
        let redirects = handle.redirects.clone();
        if let Some(slot) = self.nodes.get_mut(i) {
            slot.spec = spec;
            slot.handle = Some(handle);
        }
        let data = self.data_addr(name)?;
        for l in self.links.iter_mut().filter(|l| l.to == name) {
            l.retarget(data).await?;
        }
        if name == self.edge {
            for (c, r) in self.clients.iter_mut().zip(redirects) {
                c.retarget(r).await?;
            }
        }
        self.crash_links(name, false);
        Ok(())
    }

    /// Applies one timeline action.
    pub(super) async fn apply(&mut self, action: &Action) -> Result<(), RunError> {
        match action {
            Action::Kill(n) => {
                self.crash_links(n, true);
                let handle = self
                    .nodes
                    .iter_mut()
                    .find(|s| s.spec.name == *n)
                    .and_then(|s| s.handle.take());
                if let Some(h) = handle {
                    h.shutdown().await;
                }
            }
            Action::Restart(n) => self.restart(n).await?,
            Action::Degrade { a, b, change } => {
                for l in self.links.iter_mut().filter(|l| l.joins(a, b)) {
                    let shape = (change.apply(&l.base.0), change.apply(&l.base.1));
                    l.set_shape(shape);
                }
            }
            Action::Restore { a, b } => {
                for l in self.links.iter_mut().filter(|l| l.joins(a, b)) {
                    let base = l.base.clone();
                    l.set_shape(base);
                }
            }
            Action::Partition(t) | Action::Heal(t) => {
                let cut = matches!(action, Action::Partition(_));
                for l in self.links.iter_mut() {
                    let hit = match t {
                        Target::Link(a, b) => l.joins(a, b),
                        Target::Node(n) => l.touches(n),
                    };
                    if hit {
                        l.set_partitioned(cut);
                    }
                }
            }
        }
        Ok(())
    }
}
