//! Timeline actions applied to the running [`World`]: crash, stop, join and restart nodes,
//! degrade and restore links, partition and heal.
//!
//! A crash (`kill`) is emulated: the node's links (and, for the edge or the game's proxy,
//! their last-mile links) go dark first, so nothing it sends on the way down reaches anyone,
//! then the node stops without a Close or a membership Leave ([`NodeHandle::crash`]). A `leave`
//! is the graceful [`NodeHandle::shutdown`]: Leave notices and Closes go out first, then its
//! links go dark. A node that starts (late join) or restarts binds a fresh data port and the
//! forwarders that lead to it are re-pointed, keeping their front addresses, which are what
//! its peers know; a restart binds its QUIC control port again as it was.
//!
//! [`NodeHandle::crash`]: lightspeed_actors::node::NodeHandle::crash
//! [`NodeHandle::shutdown`]: lightspeed_actors::node::NodeHandle::shutdown

use std::time::Duration;

use super::RunError;
use super::model::{Action, Target};
use super::world::{World, loopback, pin_addresses, start_node};

/// How long a restarted node may wait for its old control port to be released.
const REBIND_TRIES: u32 = 60;
const REBIND_PAUSE: Duration = Duration::from_millis(50);

impl World {
    fn crash_links(&mut self, node: &str, crashed: bool) {
        for l in self.all_links_mut().filter(|l| l.touches(node)) {
            l.set_crashed(crashed);
        }
        if node == self.edge {
            self.clients.iter_mut().for_each(|c| c.set_crashed(crashed));
        }
        if node == self.proxy {
            self.servers.iter_mut().for_each(|s| s.set_crashed(crashed));
        }
    }

    /// Starts the node called `name` (a late join or a restart): fresh data and redirect
    /// ports, its control port as before, the running nodes as seeds.
    async fn launch(&mut self, name: &str) -> Result<(), RunError> {
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
        let seeds = self.seeds(name);
        if let Some(m) = spec.mesh.as_mut() {
            m.seeds = seeds;
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
        let data = spec.data_listen;
        if let Some(slot) = self.nodes.get_mut(i) {
            slot.spec = spec;
            slot.handle = Some(handle);
        }
        self.point_links_at(name, data);
        if name == self.edge {
            for (c, r) in self.clients.iter_mut().zip(redirects) {
                c.retarget(r);
            }
        }
        self.crash_links(name, false);
        Ok(())
    }

    fn take_handle(&mut self, name: &str) -> Option<lightspeed_actors::node::NodeHandle> {
        self.nodes
            .iter_mut()
            .find(|s| s.spec.name == name)
            .and_then(|s| s.handle.take())
    }

    /// Applies one timeline action.
    pub(super) async fn apply(&mut self, action: &Action) -> Result<(), RunError> {
        match action {
            Action::Kill(n) => {
                self.crash_links(n, true);
                if let Some(h) = self.take_handle(n) {
                    h.crash().await;
                }
            }
            Action::Leave(n) => {
                if let Some(h) = self.take_handle(n) {
                    h.shutdown().await;
                }
                self.crash_links(n, true);
            }
            Action::Join(n) | Action::Restart(n) => self.launch(n).await?,
            Action::Degrade { a, b, change } => {
                for l in self.all_links_mut().filter(|l| l.joins(a, b)) {
                    let shape = (change.apply(&l.base.0), change.apply(&l.base.1));
                    l.set_shape(shape);
                }
            }
            Action::Restore { a, b } => {
                for l in self.all_links_mut().filter(|l| l.joins(a, b)) {
                    let base = l.base.clone();
                    l.set_shape(base);
                }
            }
            Action::Partition(t) | Action::Heal(t) => {
                let cut = matches!(action, Action::Partition(_));
                for l in self.all_links_mut() {
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
