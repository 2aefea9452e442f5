//! The graph as this node knows it: every node's latest signed claim parts, bounded.
//!
//! Claims are applied from any sender, direct or relayed, because each part carries its
//! origin's signature (see [`super::auth`]). A part replaces the stored part with the same
//! index only when its version is newer. Memory is bounded by [`TopologyConfig::max_nodes`]
//! nodes × [`TopologyConfig::max_links_per_node`] links plus at most
//! [`TopologyConfig::max_pending`] parked parts.

use std::collections::BTreeMap;

use lightspeed_protocol::Micros;

use super::auth::{AuthError, ClaimSigner, Keyring};
use super::claim::{
    ClaimBody, ClaimVersion, Item, LinkClaim, NodeAttrs, SIGNATURE_LEN, cert_item, claim_item,
    paginate, signed_message,
};
use super::local::LocalProbeInfo;
use super::outcome::{
    Applied, ClaimError, ItemId, Outcome, PublishError, TopologyConfig, TopologyCounters,
};

#[derive(Debug, Clone)]
pub(super) struct StoredPart {
    pub(super) body: ClaimBody,
    pub(super) signature: [u8; SIGNATURE_LEN],
    pub(super) received_at: Micros,
}

#[derive(Debug, Clone, Default)]
pub(super) struct NodeEntry {
    /// Indexed by part number.
    pub(super) parts: BTreeMap<u8, StoredPart>,
    pub(super) down: bool,
    pub(super) updated_at: Micros,
}

impl NodeEntry {
    pub(super) fn attrs(&self) -> Option<(&NodeAttrs, ClaimVersion)> {
        let part = self.parts.get(&0)?;
        Some((part.body.node.as_ref()?, part.body.version))
    }

    fn link_count(&self) -> usize {
        self.parts.values().map(|p| p.body.links.len()).sum()
    }
}

struct Parked {
    version: ClaimVersion,
    item: Vec<u8>,
    received_at: Micros,
}

/// The whole mesh graph as this node knows it. Pure: time comes in as `now`.
pub struct Topology {
    pub(super) config: TopologyConfig,
    pub(super) local: String,
    pub(super) keyring: Box<dyn Keyring>,
    pub(super) nodes: BTreeMap<String, NodeEntry>,
    pending: BTreeMap<(String, u8), Parked>,
    unparked: Vec<Vec<u8>>,
    counters: TopologyCounters,
    local_version: ClaimVersion,
    local_probe: LocalProbeInfo,
}

impl Topology {
    /// An empty graph for node `local`, checking signatures with `keyring`.
    pub fn new(config: TopologyConfig, local: &str, keyring: Box<dyn Keyring>) -> Topology {
        Topology {
            config,
            local: local.to_owned(),
            keyring,
            nodes: BTreeMap::new(),
            pending: BTreeMap::new(),
            unparked: Vec::new(),
            counters: TopologyCounters::default(),
            local_version: ClaimVersion::default(),
            local_probe: LocalProbeInfo::default(),
        }
    }

    /// Sets the probe key and per-peer addresses carried by this node's next publications.
    pub fn set_local_probe_info(&mut self, info: LocalProbeInfo) {
        self.local_probe = info;
    }

    /// The bounds in force.
    pub fn config(&self) -> &TopologyConfig {
        &self.config
    }

    /// Outcome counters since creation.
    pub fn counters(&self) -> TopologyCounters {
        self.counters
    }

    /// Applies one gossip item (claim part or certificate), whoever relayed it: claims must
    /// carry a valid signature by their origin, certificates must verify against the mesh CA.
    pub fn apply_item(&mut self, now: Micros, item: &[u8]) -> Result<Applied, ClaimError> {
        let result = match Item::parse(item) {
            Ok(Item::Cert { der }) => self.apply_cert(now, der),
            Ok(Item::Claim { signature, body }) => self.apply_claim(now, signature, body, item),
            Err(e) => Err(e.into()),
        };
        self.count(&result);
        result
    }

    fn count(&mut self, result: &Result<Applied, ClaimError>) {
        let c = &mut self.counters;
        match result {
            Ok(Applied {
                outcome: Outcome::New,
                ..
            }) => c.applied += 1,
            Ok(_) => c.ignored += 1,
            Err(ClaimError::Malformed(_)) => c.malformed += 1,
            Err(ClaimError::Auth(_)) => c.refused += 1,
            Err(ClaimError::Parked(_)) => c.parked += 1,
            Err(_) => c.over_bound += 1,
        }
    }

    fn apply_cert(&mut self, now: Micros, der: &[u8]) -> Result<Applied, ClaimError> {
        let added = self
            .keyring
            .add_certificate(der)
            .map_err(ClaimError::Auth)?;
        let outcome = if added.new {
            self.unpark(now, &added.name);
            Outcome::New
        } else {
            Outcome::Known
        };
        Ok(Applied {
            id: ItemId::Cert { name: added.name },
            outcome,
        })
    }

    fn unpark(&mut self, now: Micros, name: &str) {
        let keys: Vec<_> = self
            .pending
            .range((name.to_owned(), 0)..=(name.to_owned(), u8::MAX))
            .map(|(k, _)| k.clone())
            .collect();
        for key in keys {
            if let Some(parked) = self.pending.remove(&key)
                && let Ok(applied) = self.apply_item(now, &parked.item)
                && applied.outcome == Outcome::New
            {
                self.unparked.push(parked.item);
            }
        }
    }

    /// Items that were parked and have just been applied (their certificate arrived): the
    /// membership layer queues them for relaying, since they were not relayed on arrival.
    pub fn take_unparked(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.unparked)
    }

    fn apply_claim(
        &mut self,
        now: Micros,
        signature: &[u8; SIGNATURE_LEN],
        body_bytes: &[u8],
        item: &[u8],
    ) -> Result<Applied, ClaimError> {
        let body = ClaimBody::decode(body_bytes)?;
        let id = ItemId::Claim {
            origin: body.origin.clone(),
            part: body.part,
            version: body.version,
        };
        if let Some(outcome) = self.compare_with_stored(&body) {
            return Ok(Applied { id, outcome });
        }
        match self
            .keyring
            .verify(&body.origin, &signed_message(body_bytes), signature)
        {
            Ok(()) => {}
            Err(AuthError::UnknownKey(origin)) => return self.park(now, body, item, origin),
            Err(e) => return Err(ClaimError::Auth(e)),
        }
        if body.links.len() > self.config.max_links_per_node {
            return Err(ClaimError::TooManyLinks(body.origin));
        }
        if !self.nodes.contains_key(&body.origin) {
            self.make_room(now)?;
        }
        let max_links = self.config.max_links_per_node;
        let entry = self.nodes.entry(body.origin.clone()).or_default();
        // Parts of older publications give way first; a node's current publication always
        // fits, so only a node claiming too much is refused.
        entry.parts.retain(|&index, stored| {
            stored.body.version >= body.version || (index < body.parts && index != body.part)
        });
        let others = entry.link_count()
            - entry
                .parts
                .get(&body.part)
                .map_or(0, |p| p.body.links.len());
        if others + body.links.len() > max_links {
            entry
                .parts
                .retain(|&i, stored| stored.body.version >= body.version || i == body.part);
            let others = entry.link_count()
                - entry
                    .parts
                    .get(&body.part)
                    .map_or(0, |p| p.body.links.len());
            if others + body.links.len() > max_links {
                return Err(ClaimError::TooManyLinks(body.origin));
            }
        }
        entry.updated_at = now;
        entry.parts.insert(
            body.part,
            StoredPart {
                body,
                signature: *signature,
                received_at: now,
            },
        );
        Ok(Applied {
            id,
            outcome: Outcome::New,
        })
    }

    /// `Some` when the stored state already covers this part.
    fn compare_with_stored(&self, body: &ClaimBody) -> Option<Outcome> {
        let entry = self.nodes.get(&body.origin)?;
        if let Some(stored) = entry.parts.get(&body.part) {
            if stored.body.version == body.version {
                return Some(Outcome::Known);
            }
            if stored.body.version > body.version {
                return Some(Outcome::Stale);
            }
        }
        // A newer publication with fewer parts makes this one obsolete.
        let head = entry.parts.get(&0)?;
        (head.body.version > body.version && body.part >= head.body.parts).then_some(Outcome::Stale)
    }

    fn park(
        &mut self,
        now: Micros,
        body: ClaimBody,
        item: &[u8],
        origin: String,
    ) -> Result<Applied, ClaimError> {
        let key = (body.origin, body.part);
        let newer = self
            .pending
            .get(&key)
            .is_none_or(|p| p.version < body.version);
        if newer {
            if !self.pending.contains_key(&key) && self.pending.len() >= self.config.max_pending {
                return Err(ClaimError::PendingFull);
            }
            self.pending.insert(
                key,
                Parked {
                    version: body.version,
                    item: item.to_vec(),
                    received_at: now,
                },
            );
        }
        Err(ClaimError::Parked(origin))
    }

    fn make_room(&mut self, now: Micros) -> Result<(), ClaimError> {
        if self.nodes.len() < self.config.max_nodes {
            return Ok(());
        }
        let stale_before = Micros(
            now.0
                .saturating_sub(self.config.stale_after.as_micros() as u64),
        );
        let victim = self
            .nodes
            .iter()
            .filter(|(name, e)| **name != self.local && e.updated_at <= stale_before)
            .min_by_key(|(_, e)| (!e.down, e.updated_at))
            .map(|(name, _)| name.clone())
            .ok_or(ClaimError::TableFull)?;
        self.nodes.remove(&victim);
        self.counters.evicted += 1;
        Ok(())
    }

    /// Publishes this node's own state: splits it into parts, signs each, stores them and
    /// returns the items to gossip (the certificate item first). `epoch` is the node's
    /// membership bump, so a restarted node's claims supersede those of its previous life.
    pub fn publish_local(
        &mut self,
        now: Micros,
        signer: &dyn ClaimSigner,
        epoch: u32,
        attrs: NodeAttrs,
        links: Vec<LinkClaim>,
    ) -> Result<Vec<Vec<u8>>, PublishError> {
        if links.len() > self.config.max_links_per_node {
            return Err(PublishError::TooManyLinks(links.len()));
        }
        self.keyring.add_certificate(signer.certificate())?;
        let held = self
            .nodes
            .get(&self.local)
            .and_then(|e| e.parts.values().map(|p| p.body.version).max())
            .unwrap_or_default()
            .max(self.local_version);
        let next = ClaimVersion {
            epoch: held.epoch,
            seq: held.seq.saturating_add(1),
        };
        let version = next.max(ClaimVersion { epoch, seq: 0 });
        let links = self.local_probe.claimed(links);
        let key = self.local_probe.key.clone();
        let parts = paginate(&self.local, version, attrs, key, links)
            .ok_or(PublishError::TooManyLinks(self.config.max_links_per_node))?;
        let mut items = Vec::with_capacity(parts.len() + 1);
        items.extend(cert_item(signer.certificate()));
        let mut stored = BTreeMap::new();
        for body in parts {
            body.validate()?;
            let bytes = body.encode();
            let signature = signer.sign(&signed_message(&bytes))?;
            items.push(claim_item(&signature, &bytes));
            stored.insert(
                body.part,
                StoredPart {
                    body,
                    signature,
                    received_at: now,
                },
            );
        }
        self.local_version = version;
        if !self.nodes.contains_key(&self.local) {
            // Our own entry is never refused for room: evict if we must, else grow by one.
            let _ = self.make_room(now);
        }
        let entry = self.nodes.entry(self.local.clone()).or_default();
        entry.parts = stored;
        entry.updated_at = now;
        entry.down = false;
        Ok(items)
    }

    /// The membership layer saw `name` fail or leave: its links leave route computation but
    /// its claims stay (they age out), so a late relay of an old claim cannot resurrect it.
    pub fn mark_down(&mut self, name: &str) {
        if let Some(entry) = self.nodes.get_mut(name) {
            entry.down = true;
        }
    }

    /// The membership layer saw `name` come (back) up.
    pub fn mark_up(&mut self, name: &str) {
        if let Some(entry) = self.nodes.get_mut(name) {
            entry.down = false;
        }
    }

    /// Removes parts not refreshed for [`TopologyConfig::expire_after`], nodes left with no
    /// part, and parked parts as old. Our own entry never expires.
    pub fn expire(&mut self, now: Micros) {
        let horizon = self.config.expire_after.as_micros() as u64;
        let expired = |t: Micros| now.0.saturating_sub(t.0) >= horizon;
        let mut removed = 0;
        for (name, entry) in self.nodes.iter_mut() {
            if *name == self.local {
                continue;
            }
            let before = entry.parts.len();
            entry.parts.retain(|_, p| !expired(p.received_at));
            removed += (before - entry.parts.len()) as u64;
        }
        self.nodes.retain(|_, e| !e.parts.is_empty());
        self.pending.retain(|_, p| !expired(p.received_at));
        self.counters.expired += removed;
    }

    /// Every item needed to bring a new member up to date (certificates, then claim parts):
    /// sent over a QUIC stream when a member joins, applied there with
    /// [`Topology::apply_item`].
    pub fn sync_items(&self) -> Vec<Vec<u8>> {
        let mut items = Vec::new();
        for name in self.nodes.keys() {
            if let Some(item) = self.keyring.certificate(name).and_then(cert_item) {
                items.push(item);
            }
        }
        for entry in self.nodes.values() {
            for part in entry.parts.values() {
                items.push(claim_item(&part.signature, &part.body.encode()));
            }
        }
        items
    }

    /// How many parts are parked waiting for a certificate.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }
}
