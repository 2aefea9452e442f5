//! # lightspeed-mesh
//!
//! The mesh between LightSpeed nodes: QUIC transport (quinn + rustls) with mutual TLS against a
//! mesh CA, SWIM membership and topology gossip, link measurements, path computation, and the
//! batched UDP data-plane transport.
//!
//! What it is not: it holds no actors (those live in `lightspeed-actors`) and no game-facing
//! code (that is `lightspeed-edge`). Wire formats come from `lightspeed-protocol`.
//!
//! Layout: this crate is filled in by the tunnel and mesh work (see `docs/architecture.md`);
//! today it only fixes its place in the workspace.

#![forbid(unsafe_code)]
