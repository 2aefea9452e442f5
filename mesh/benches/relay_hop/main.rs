//! Relay hop benchmark: a LightSpeed relay (`DataPlane` with a transit entry) against a minimal
//! batched UDP forwarder, side by side on loopback in the same run, for the DESIGN.md §12
//! budget: added latency per hop (p50 ≤ 1.2×, p99 ≤ 1.5× the baseline's), forwarding
//! throughput per core (≥ 80 % of the baseline's), idle relay RSS (≤ 10 MB) and memory per
//! session (≤ 2 KB at 10 000 sessions).
//!
//! Run: `cargo build --release -p lightspeed-node && cargo bench -p lightspeed-mesh --bench
//! relay_hop`. Knobs (environment): `RELAY_HOP_PROBES` (measured probes per path, default
//! 20 000), `RELAY_HOP_RATE` (probes per second, default 2 000), `RELAY_HOP_SECS` (seconds per
//! throughput run, default 2), `RELAY_HOP_ROUNDS` (baseline/relay run pairs, default 3),
//! `RELAY_HOP_OFFER_KPPS` (offered load, default 400), `RELAY_HOP_ONLY` (`latency`,
//! `throughput` or `memory`), `RELAY_HOP_BASELINE_TICK` (diagnostic: give the baseline's
//! runtime a 1 ms ticker, the relay timer loop's old wake-up pattern). Results in
//! docs/performance.md.

mod hops;
mod latency;
mod memory;
mod throughput;

use std::time::{Duration, Instant};

fn knob<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1_000.0
}

fn latency_section() {
    let probes: usize = knob("RELAY_HOP_PROBES", 20_000);
    let rate: u32 = knob("RELAY_HOP_RATE", 2_000);
    println!(
        "== latency: {probes} probes per path, {rate} probes/s, paths interleaved (random order per round)"
    );
    let t = Instant::now();
    let l = latency::run(probes, rate);
    println!("   ({:.1} s)", t.elapsed().as_secs_f64());
    println!(
        "{:<18} {:>9} {:>9} {:>9} {:>9} {:>6}",
        "RTT (µs)", "p50", "p90", "p99", "p99.9", "lost"
    );
    for (i, name) in latency::PATHS.iter().enumerate() {
        let h = &l.rtt[i];
        println!(
            "{:<18} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>6}",
            name,
            us(h.value_at_quantile(0.5)),
            us(h.value_at_quantile(0.9)),
            us(h.value_at_quantile(0.99)),
            us(h.value_at_quantile(0.999)),
            l.lost[i]
        );
    }
    let added =
        |i: usize, q: f64| us(l.rtt[i].value_at_quantile(q)) - us(l.rtt[0].value_at_quantile(q));
    println!(
        "added latency per hop (RTT quantile minus the direct path's; two hop traversals per RTT):"
    );
    println!("{:<18} {:>9} {:>9}", "added (µs)", "p50", "p99");
    for i in 1..3 {
        println!(
            "{:<18} {:>9.1} {:>9.1}",
            latency::PATHS[i],
            added(i, 0.5),
            added(i, 0.99)
        );
    }
    let r50 = added(2, 0.5) / added(1, 0.5);
    let r99 = added(2, 0.99) / added(1, 0.99);
    println!(
        "ratio LightSpeed/baseline: p50 {r50:.2} (budget ≤ 1.20: {}), p99 {r99:.2} (budget ≤ 1.50: {})",
        verdict(r50 <= 1.2),
        verdict(r99 <= 1.5)
    );
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "MISSED" }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn throughput_section() {
    let secs: f64 = knob("RELAY_HOP_SECS", 2.0);
    let rounds: u32 = knob("RELAY_HOP_ROUNDS", 3);
    let offer: f64 = knob("RELAY_HOP_OFFER_KPPS", 400.0);
    println!(
        "\n== throughput: 16 sessions, 226-byte packets offered at {offer} kpps, {secs} s per run, {rounds} alternating rounds"
    );
    println!(
        "{:<18} {:>10} {:>10} {:>10} {:>6} {:>11} {:>6} {:>6} {:>6}",
        "run (kpps)",
        "offered",
        "forwarded",
        "delivered",
        "cpu",
        "fwd/cpu-s",
        "snd",
        "rcv",
        "drops"
    );
    let mut runs: [Vec<throughput::Run>; 2] = [Vec::new(), Vec::new()];
    for round in 0..rounds {
        for (i, relay) in [false, true].into_iter().enumerate() {
            let r = throughput::run_once(relay, round, Duration::from_secs_f64(secs), offer * 1e3);
            println!(
                "{:<18} {:>10.1} {:>10.1} {:>10.1} {:>5.0}% {:>11.1} {:>5.0}% {:>5.0}% {:>6}",
                format!(
                    "{} #{}",
                    if relay { "LightSpeed" } else { "baseline" },
                    round + 1
                ),
                r.offered / 1e3,
                r.forwarded / 1e3,
                r.delivered / 1e3,
                r.cpu * 100.0,
                r.per_cpu_second / 1e3,
                r.load_cpu.0 * 100.0,
                r.load_cpu.1 * 100.0,
                r.drops
            );
            runs[i].push(r);
        }
    }
    let med = |i: usize, f: fn(&throughput::Run) -> f64| median(runs[i].iter().map(f).collect());
    let (b, l) = (med(0, |r| r.delivered), med(1, |r| r.delivered));
    let (bc, lc) = (med(0, |r| r.per_cpu_second), med(1, |r| r.per_cpu_second));
    println!(
        "median delivered: baseline {:.1} kpps, LightSpeed {:.1} kpps, ratio {:.2}",
        b / 1e3,
        l / 1e3,
        l / b
    );
    println!(
        "median per forwarder CPU-second: baseline {:.1} kpps, LightSpeed {:.1} kpps, ratio {:.2} (budget ≥ 0.80: {})",
        bc / 1e3,
        lc / 1e3,
        lc / bc,
        verdict(lc / bc >= 0.8)
    );
    println!(
        "per packet per forwarder CPU: baseline {:.2} µs, LightSpeed {:.2} µs (+{:.2} µs); parse + MAC verify alone: {:.2} µs",
        1e6 / bc,
        1e6 / lc,
        1e6 / lc - 1e6 / bc,
        throughput::verify_ns() / 1e3
    );
}

fn memory_section() {
    println!("\n== memory");
    match memory::idle_node() {
        Ok((rss, hwm)) => println!(
            "idle `lightspeed-node --role relay` process: VmRSS {:.1} MiB (peak VmHWM {:.1} MiB; budget ≤ 10 MB: {})",
            rss as f64 / 1024.0,
            hwm as f64 / 1024.0,
            verdict(rss * 1024 <= 10_000_000)
        ),
        Err(why) => println!("idle relay process: not measured ({why})"),
    }
    match memory::sessions() {
        Some(m) => {
            let n = u64::from(memory::SESSIONS);
            let per = |kib: u64| (kib.saturating_sub(m.idle_dataplane) * 1024) as f64 / n as f64;
            println!(
                "in-process relay DataPlane (fresh process): before {} KiB, idle data plane {} KiB",
                m.before, m.idle_dataplane
            );
            println!(
                "{} relay sessions installed: {} KiB → {:.0} B/session; after a Bind through each ({} forwarded): {} KiB → {:.0} B/session (budget ≤ 2 KB: {}); size_of::<Entry>() = {} B",
                memory::SESSIONS,
                m.with_sessions,
                per(m.with_sessions),
                m.binds_forwarded,
                m.after_binds,
                per(m.after_binds),
                verdict(per(m.after_binds) <= 2048.0),
                m.entry_bytes
            );
        }
        None => println!("sessions: the --memory-child run failed"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--memory-child") {
        memory::child();
        return;
    }
    println!(
        "relay_hop: {} CPUs; each forwarder on its own thread with a current-thread tokio runtime",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let only: String = knob("RELAY_HOP_ONLY", String::new());
    if only.is_empty() || only == "latency" {
        latency_section();
    }
    if only.is_empty() || only == "throughput" {
        throughput_section();
    }
    if only.is_empty() || only == "memory" {
        memory_section();
    }
}
