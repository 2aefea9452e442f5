//! Real sockets around the link emulator core: a UDP forwarder that carries one peer's
//! traffic to a target through two seeded [`Link`]s (one per direction).
//!
//! The client sends to [`UdpLink::front_addr`]; the forwarder relays through the "up" link to
//! the target and brings the target's replies back through the "down" link to the last client
//! address seen. Used by `lightspeed-node demo` for the edge ↔ relay leg and by the scenario
//! runner for every emulated link. A test harness, so it allocates per packet.
//!
//! The target can be set later ([`UdpLink::spawn_pending`], [`UdpLink::set_target`]): the
//! scenario runner binds every forwarder before the nodes behind them exist, so each node's
//! reach book is complete when it starts, and re-points a forwarder at a restarted node
//! without rebinding its front. Until a target is set, what comes in on the front is dropped
//! after crossing the link; the back only accepts packets from the current target.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use lightspeed_protocol::Micros;
use parking_lot::Mutex;
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

use crate::link::{Link, LinkConfig, LinkConfigError, LinkStats, SendOutcome};

/// Figures of both directions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UdpLinkStats {
    /// Client → target.
    pub up: LinkStats,
    /// Target → client.
    pub down: LinkStats,
    /// LightSpeed data packets (header type 0) dropped, both directions: "lost before FEC".
    pub data_dropped: u64,
}

struct Shared {
    up: Mutex<Link<Vec<u8>>>,
    down: Mutex<Link<Vec<u8>>>,
    data_dropped: AtomicU64,
    client: Mutex<Option<SocketAddr>>,
    target: Mutex<Option<SocketAddr>>,
}

/// A running forwarder.
pub struct UdpLink {
    front: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

/// Why a forwarder could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UdpLinkError {
    /// A link configuration is invalid.
    #[error("link config: {0}")]
    Config(#[from] LinkConfigError),
    /// A socket failed.
    #[error("socket: {0}")]
    Io(#[from] io::Error),
}

fn is_data(bytes: &[u8]) -> bool {
    bytes.first().is_some_and(|b| b >> 4 == 1 && b & 0x0f == 0)
}

impl UdpLink {
    /// Starts forwarding from a fresh socket on `bind` to `target`.
    pub async fn spawn(
        bind: SocketAddr,
        target: SocketAddr,
        up: LinkConfig,
        down: LinkConfig,
        seed: u64,
    ) -> Result<UdpLink, UdpLinkError> {
        let link = UdpLink::spawn_pending(bind, up, down, seed).await?;
        link.set_target(target);
        Ok(link)
    }

    /// Starts a forwarder on `bind` with no target yet (see [`UdpLink::set_target`]).
    pub async fn spawn_pending(
        bind: SocketAddr,
        up: LinkConfig,
        down: LinkConfig,
        seed: u64,
    ) -> Result<UdpLink, UdpLinkError> {
        let shared = Arc::new(Shared {
            up: Mutex::new(Link::new(up, seed)?),
            down: Mutex::new(Link::new(down, seed.wrapping_add(0x9e37_79b9))?),
            data_dropped: AtomicU64::new(0),
            client: Mutex::new(None),
            target: Mutex::new(None),
        });
        let front = Arc::new(UdpSocket::bind(bind).await?);
        let back = Arc::new(UdpSocket::bind(SocketAddr::new(bind.ip(), 0)).await?);
        let front_addr = front.local_addr()?;
        let task = tokio::spawn(run(front, back, Arc::clone(&shared)));
        Ok(UdpLink {
            front: front_addr,
            shared,
            task,
        })
    }

    /// Sends what crosses the link to `target` from now on (packets already queued included),
    /// and accepts replies only from it.
    pub fn set_target(&self, target: SocketAddr) {
        *self.shared.target.lock() = Some(target);
    }

    /// Where clients send.
    pub fn front_addr(&self) -> SocketAddr {
        self.front
    }

    /// Changes both directions' configuration (degrade / restore).
    pub fn set_config(&self, up: LinkConfig, down: LinkConfig) -> Result<(), LinkConfigError> {
        self.shared.up.lock().set_config(up)?;
        self.shared.down.lock().set_config(down)
    }

    /// Cuts or restores the link in both directions.
    pub fn set_down(&self, down: bool) {
        self.shared.up.lock().set_down(down);
        self.shared.down.lock().set_down(down);
    }

    /// Figures so far.
    pub fn stats(&self) -> UdpLinkStats {
        UdpLinkStats {
            up: self.shared.up.lock().stats(),
            down: self.shared.down.lock().stats(),
            data_dropped: self.shared.data_dropped.load(Relaxed),
        }
    }
}

impl Drop for UdpLink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn run(front: Arc<UdpSocket>, back: Arc<UdpSocket>, s: Arc<Shared>) {
    let origin = tokio::time::Instant::now();
    let now = move || Micros(origin.elapsed().as_micros() as u64);
    let mut fbuf = vec![0u8; 65_536];
    let mut bbuf = vec![0u8; 65_536];
    loop {
        let next = [s.up.lock().next_release(), s.down.lock().next_release()]
            .into_iter()
            .flatten()
            .min();
        let sleep = async {
            match next {
                Some(t) => {
                    tokio::time::sleep_until(origin + std::time::Duration::from_micros(t.0)).await
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = front.recv_from(&mut fbuf) => {
                if let Ok((n, from)) = r {
                    *s.client.lock() = Some(from);
                    let pkt = fbuf[..n].to_vec();
                    let data = is_data(&pkt);
                    if let SendOutcome::Dropped(_) = s.up.lock().send(now(), pkt, n) && data {
                        s.data_dropped.fetch_add(1, Relaxed);
                    }
                }
            }
            r = back.recv_from(&mut bbuf) => {
                // As a connected socket would: only the target's packets come back.
                let target = *s.target.lock();
                if let Ok((n, from)) = r && Some(from) == target {
                    let pkt = bbuf[..n].to_vec();
                    let data = is_data(&pkt);
                    if let SendOutcome::Dropped(_) = s.down.lock().send(now(), pkt, n) && data {
                        s.data_dropped.fetch_add(1, Relaxed);
                    }
                }
            }
            _ = sleep => {}
        }
        let t = now();
        let target = *s.target.lock();
        while let Some(p) = s.up.lock().poll(t) {
            if let Some(to) = target {
                let _ = back.try_send_to(&p, to);
            }
        }
        let client = *s.client.lock();
        while let Some(p) = s.down.lock().poll(t) {
            if let Some(c) = client {
                let _ = front.try_send_to(&p, c);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::LossModel;
    use std::time::Duration;

    #[tokio::test]
    async fn forwards_both_ways_with_delay_and_counts_loss() {
        tokio::time::timeout(Duration::from_secs(10), async {
            let echo = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let echo_addr = echo.local_addr().unwrap();
            tokio::spawn(async move {
                let mut b = [0u8; 2048];
                while let Ok((n, from)) = echo.recv_from(&mut b).await {
                    let _ = echo.send_to(&b[..n], from).await;
                }
            });
            let delayed = LinkConfig {
                delay: Duration::from_millis(20),
                ..LinkConfig::default()
            };
            let link = UdpLink::spawn(
                "127.0.0.1:0".parse().unwrap(),
                echo_addr,
                delayed.clone(),
                delayed,
                7,
            )
            .await
            .unwrap();
            let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let t0 = std::time::Instant::now();
            client
                .send_to(b"\x10ping", link.front_addr())
                .await
                .unwrap();
            let mut b = [0u8; 64];
            let (n, _) = client.recv_from(&mut b).await.unwrap();
            assert_eq!(&b[..n], b"\x10ping");
            assert!(t0.elapsed() >= Duration::from_millis(40), "two 20 ms legs");
            // Now drop everything upstream: data packets are counted as lost before FEC.
            let lossy = LinkConfig {
                loss: LossModel::Iid { p: 1.0 },
                ..LinkConfig::default()
            };
            link.set_config(lossy, LinkConfig::default()).unwrap();
            for _ in 0..10 {
                client
                    .send_to(b"\x10data", link.front_addr())
                    .await
                    .unwrap();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            let st = link.stats();
            assert_eq!(st.data_dropped, 10);
            assert_eq!(st.up.sent, 11);
            assert_eq!(st.down.delivered, 1);
        })
        .await
        .expect("bounded");
    }

    #[tokio::test]
    async fn a_pending_link_forwards_once_pointed_and_follows_a_new_target() {
        tokio::time::timeout(Duration::from_secs(10), async {
            let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let c = LinkConfig::default();
            let link = UdpLink::spawn_pending("127.0.0.1:0".parse().unwrap(), c.clone(), c, 3)
                .await
                .unwrap();
            let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            client.send_to(b"lost", link.front_addr()).await.unwrap();
            tokio::time::sleep(Duration::from_millis(50)).await;
            link.set_target(a.local_addr().unwrap());
            client.send_to(b"to-a", link.front_addr()).await.unwrap();
            let mut buf = [0u8; 16];
            let (n, back) = a.recv_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"to-a", "nothing sent before the target was set");
            // Only the target's replies come back.
            b.send_to(b"stranger", back).await.unwrap();
            a.send_to(b"reply", back).await.unwrap();
            let (n, _) = client.recv_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"reply");
            link.set_target(b.local_addr().unwrap());
            client.send_to(b"to-b", link.front_addr()).await.unwrap();
            let (n, _) = b.recv_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"to-b");
            assert_eq!(link.stats().up.delivered, 3);
        })
        .await
        .expect("bounded");
    }
}
