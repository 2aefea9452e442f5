//! The demo's summary: what the acceptance criteria read, as a table or one JSON object.

use lightspeed_actors::health;
use lightspeed_actors::node::NodeHandle;
use serde::Serialize;

use super::traffic::Outcome;
use crate::cli::DemoArgs;

/// Data and parity packets the tunnel's endpoints sent, and what FEC rebuilt.
pub(super) struct Totals {
    data: u64,
    parity: u64,
    recovered: u64,
}

impl Totals {
    pub(super) fn read(edge: &NodeHandle, proxy: &NodeHandle) -> Totals {
        let mut t = Totals {
            data: 0,
            parity: 0,
            recovered: 0,
        };
        for h in health::snapshot(&edge.dp.table)
            .into_iter()
            .chain(health::snapshot(&proxy.dp.table))
        {
            t.data += h.stats.data_sent;
            t.parity += h.stats.parity_sent;
            t.recovered += h.stats.recovered;
        }
        t
    }
}

/// RTT percentiles, ms.
#[derive(Debug, Clone, Serialize)]
pub struct Rtt {
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Worst.
    pub max: f64,
}

/// The demo's result.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Game profile.
    pub game: String,
    /// Its packet rate, per second and direction.
    pub pps: u32,
    /// FEC setting.
    pub fec: String,
    /// Configured loss on each direction of the edge ↔ relay leg.
    pub link_loss: f64,
    /// Game packets sent by the client.
    pub sent: u64,
    /// Echoes received (each game packet crossed the tunnel twice).
    pub received: u64,
    /// Echoes received twice (must be 0: the decoder deduplicates).
    pub duplicates: u64,
    /// Tunnel data packets dropped by the emulated link, both directions.
    pub lost_before_fec: u64,
    /// Packets rebuilt by FEC at the edge and the proxy.
    pub recovered: u64,
    /// `1 - received / sent`.
    pub residual_loss: f64,
    /// Round-trip time of the game's packets through the whole path.
    pub rtt_ms: Rtt,
    /// Parity packets per data packet, both directions.
    pub fec_overhead: f64,
}

impl Summary {
    pub(super) fn new(args: &DemoArgs, o: Outcome, t: Totals, lost_before_fec: u64) -> Summary {
        let ms = |q: f64| o.rtt.value_at_quantile(q) as f64 / 1e3;
        Summary {
            game: args.game.clone(),
            pps: o.pps,
            fec: args.fec.clone(),
            link_loss: args.loss,
            sent: o.sent,
            received: o.received,
            duplicates: o.duplicates,
            lost_before_fec,
            recovered: t.recovered,
            residual_loss: if o.sent == 0 {
                0.0
            } else {
                1.0 - o.received as f64 / o.sent as f64
            },
            rtt_ms: Rtt {
                p50: ms(0.5),
                p99: ms(0.99),
                max: o.rtt.max() as f64 / 1e3,
            },
            fec_overhead: if t.data == 0 {
                0.0
            } else {
                t.parity as f64 / t.data as f64
            },
        }
    }

    /// Prints the summary table.
    pub fn print_human(&self) {
        println!();
        println!(
            "LightSpeed demo: {} at {} pkt/s, edge → relay → proxy → game server on loopback",
            self.game, self.pps
        );
        println!(
            "  link loss        {:.1} % each way on the edge ↔ relay leg",
            self.link_loss * 100.0
        );
        println!(
            "  FEC              {} (overhead {:.0} % parity)",
            self.fec,
            self.fec_overhead * 100.0
        );
        println!("  sent / echoed    {} / {}", self.sent, self.received);
        println!(
            "  lost on the link {} data packets; FEC recovered {}",
            self.lost_before_fec, self.recovered
        );
        println!("  residual loss    {:.3} %", self.residual_loss * 100.0);
        println!(
            "  RTT              p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            self.rtt_ms.p50, self.rtt_ms.p99, self.rtt_ms.max
        );
    }
}
