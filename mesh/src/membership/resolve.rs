//! The DNS side of seeds: a thin async wrapper over hickory-resolver that answers
//! [`ResolveQuery`]s. The pure schedule lives in [`super::seeds`].

use std::net::{IpAddr, SocketAddr};

use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::{Resolver, TokioResolver};

use super::seeds::ResolveQuery;

/// Most SRV targets followed per lookup, so one answer cannot fan out into unbounded lookups.
pub const MAX_SRV_TARGETS: usize = 16;

/// A lookup failed (no such name, no answer, server unreachable, timeout).
#[derive(Debug, thiserror::Error)]
#[error("DNS lookup of {name} failed: {reason}")]
pub struct ResolveError {
    /// The name looked up.
    pub name: String,
    /// The resolver's explanation.
    pub reason: String,
}

/// Resolves seed entries.
#[derive(Clone)]
pub struct SeedResolver {
    resolver: TokioResolver,
}

impl std::fmt::Debug for SeedResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeedResolver").finish_non_exhaustive()
    }
}

fn err(name: &str, reason: impl std::fmt::Display) -> ResolveError {
    ResolveError {
        name: name.to_owned(),
        reason: reason.to_string(),
    }
}

impl SeedResolver {
    /// Uses the system's resolver configuration (`/etc/resolv.conf`).
    pub fn system() -> Result<SeedResolver, ResolveError> {
        let builder = Resolver::builder_tokio().map_err(|e| err("(system config)", e))?;
        let resolver = builder.build().map_err(|e| err("(system config)", e))?;
        Ok(SeedResolver { resolver })
    }

    /// Asks only the DNS server at `server` (UDP, falling back to TCP on truncation).
    pub fn with_server(server: SocketAddr) -> Result<SeedResolver, ResolveError> {
        let mut ns = NameServerConfig::udp_and_tcp(server.ip());
        for connection in &mut ns.connections {
            connection.port = server.port();
        }
        let config = ResolverConfig::from_parts(None, Vec::new(), vec![ns]);
        let resolver = Resolver::builder_with_config(config, TokioRuntimeProvider::default())
            .build()
            .map_err(|e| err(&server.to_string(), e))?;
        Ok(SeedResolver { resolver })
    }

    /// Resolves one query to socket addresses (unsorted; [`super::SeedList`] normalises).
    pub async fn resolve(&self, query: &ResolveQuery) -> Result<Vec<SocketAddr>, ResolveError> {
        match query {
            ResolveQuery::Host { name, port } => Ok(self
                .ips(name)
                .await?
                .into_iter()
                .map(|ip| SocketAddr::new(ip, *port))
                .collect()),
            ResolveQuery::Srv { name } => {
                let lookup = self
                    .resolver
                    .srv_lookup(name.as_str())
                    .await
                    .map_err(|e| err(name, e))?;
                let mut targets: Vec<_> = lookup
                    .answers()
                    .iter()
                    .filter_map(|r| match &r.data {
                        RData::SRV(srv) => Some((srv.priority, srv.target.to_ascii(), srv.port)),
                        _ => None,
                    })
                    .collect();
                targets.sort();
                targets.truncate(MAX_SRV_TARGETS);
                let mut addrs = Vec::new();
                let mut last_error = None;
                for (_, target, port) in targets {
                    match self.ips(&target).await {
                        Ok(ips) => {
                            addrs.extend(ips.into_iter().map(|ip| SocketAddr::new(ip, port)))
                        }
                        Err(e) => last_error = Some(e),
                    }
                }
                match (addrs.is_empty(), last_error) {
                    (true, Some(e)) => Err(e),
                    _ => Ok(addrs),
                }
            }
        }
    }

    async fn ips(&self, name: &str) -> Result<Vec<IpAddr>, ResolveError> {
        let lookup = self
            .resolver
            .lookup_ip(name)
            .await
            .map_err(|e| err(name, e))?;
        Ok(lookup.iter().collect())
    }
}
