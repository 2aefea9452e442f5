//! Link probing as the HealthActor runs it: the pure [`LinkProber`] pumped with the data
//! plane's clock, probes sealed and sent on the data socket (so the measured path is the data
//! path), echoes taken from the table the data loop fills ([`LinkProbes`]).
//!
//! Discovery and health meet through [`LinkShare`]: discovery writes the peers to probe (live
//! members with a published data address and probe key, with the operator's reach book
//! applied); health writes back the measured links, which discovery publishes as the node's
//! link claims. Neither waits for the other.

use std::net::SocketAddr;
use std::sync::Arc;

use parking_lot::RwLock;

use lightspeed_mesh::dataplane::io::DataPlane;
use lightspeed_mesh::dataplane::link_probe::{ECHO_QUEUE, Echo, LinkProbes, PROBE_LEN};
use lightspeed_mesh::topology::{LinkClaim, LinkProber, ProbeTarget, ProberConfig};

/// What discovery and health share about links.
#[derive(Debug, Default)]
pub struct LinkShare {
    targets: RwLock<(u64, Vec<ProbeTarget>)>,
    measured: RwLock<Vec<(LinkClaim, SocketAddr)>>,
}

impl LinkShare {
    /// Replaces the peers to probe (a no-op when unchanged).
    pub fn set_targets(&self, mut targets: Vec<ProbeTarget>) {
        targets.sort_by(|a, b| a.name.cmp(&b.name));
        let mut t = self.targets.write();
        if t.1 != targets {
            t.0 += 1;
            t.1 = targets;
        }
    }

    /// The peers to probe, if they changed since generation `seen`; with the new generation.
    fn targets_since(&self, seen: u64) -> Option<(u64, Vec<ProbeTarget>)> {
        let t = self.targets.read();
        (t.0 != seen).then(|| (t.0, t.1.clone()))
    }

    /// The links measured so far, with the address each was measured to, in name order.
    pub fn measured(&self) -> Vec<(LinkClaim, SocketAddr)> {
        self.measured.read().clone()
    }
}

/// The probing half of the HealthActor.
#[derive(Debug)]
pub struct ProbeDriver {
    prober: LinkProber,
    probes: Arc<LinkProbes>,
    dp: Arc<DataPlane>,
    share: Arc<LinkShare>,
    generation: u64,
    echoes: Vec<Echo>,
}

impl ProbeDriver {
    /// Probes with `config` through `dp`, whose data loop answers and collects with `probes`.
    pub fn new(
        config: ProberConfig,
        probes: Arc<LinkProbes>,
        dp: Arc<DataPlane>,
        share: Arc<LinkShare>,
    ) -> ProbeDriver {
        ProbeDriver {
            prober: LinkProber::new(config),
            probes,
            dp,
            share,
            generation: 0,
            echoes: Vec::with_capacity(ECHO_QUEUE),
        }
    }

    /// One round: take new targets, feed the echoes, send due probes, publish the figures.
    pub fn tick(&mut self) {
        let now = self.dp.clock.now();
        if let Some((generation, targets)) = self.share.targets_since(self.generation) {
            self.generation = generation;
            let changes = self.prober.set_targets(now, targets);
            self.probes.set_slots(&changes);
        }
        self.probes.drain(&mut self.echoes);
        for e in self.echoes.drain(..) {
            let hold = std::time::Duration::from_micros(u64::from(e.hold_us));
            self.prober.on_echo(e.at, e.slot, e.seq, hold);
        }
        let mut buf = [0u8; PROBE_LEN];
        for probe in self.prober.poll(now) {
            let len = self
                .probes
                .seal_probe(probe.slot, probe.seq, now, &probe.key, &mut buf);
            // A full socket buffer loses the probe, which is what loss means.
            let _ = self
                .dp
                .send_raw(probe.to, buf.get(..len).unwrap_or_default());
        }
        *self.share.measured.write() = self.prober.links(now);
    }
}
