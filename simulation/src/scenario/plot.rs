//! An SVG plot of a run, written by hand (no plotting dependency): every echoed packet's RTT
//! over time as a dot, lost packets as red marks under the axis, and a dashed vertical line with
//! a label at each timeline event.

use std::fmt::Write as _;

use super::report::Report;

const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 420.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 36.0;
const BOTTOM: f64 = 56.0;
/// Player colours (cycled).
const COLOURS: [&str; 6] = [
    "#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#17becf", "#7f7f7f",
];

/// A "nice" axis step (1, 2 or 5 × 10^n) giving about `ticks` divisions of `span`.
fn step(span: f64, ticks: f64) -> f64 {
    let raw = (span / ticks).max(1e-9);
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let nice = if norm < 1.5 {
        1.0
    } else if norm < 3.5 {
        2.0
    } else if norm < 7.5 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The run as an SVG document.
pub fn render_svg(r: &Report) -> String {
    let x_max = r.duration_s.max(0.001);
    let y_top = r
        .samples
        .iter()
        .flat_map(|p| p.rtt_ms.iter().flatten())
        .fold(0.0f64, |m, v| m.max(*v));
    let y_step = step(y_top.max(1.0), 5.0);
    let y_max = ((y_top / y_step).floor() + 1.0) * y_step;
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x = |t_s: f64| LEFT + t_s / x_max * plot_w;
    let y = |ms: f64| TOP + plot_h - ms / y_max * plot_h;

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{LEFT}" y="20" font-size="14">{} — RTT per game packet ({} × {}, FEC {})</text>"#,
        escape(&r.scenario),
        r.players,
        escape(&r.game),
        escape(&r.fec)
    );
    // Grid and axes.
    let mut v = 0.0;
    while v <= y_max + 1e-9 {
        let yy = y(v);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#e0e0e0"/><text x="{:.1}" y="{:.1}" text-anchor="end">{v}</text>"##,
            WIDTH - RIGHT,
            LEFT - 6.0,
            yy + 4.0
        );
        v += y_step;
    }
    let x_step = step(x_max, 10.0);
    let mut t = 0.0;
    while t <= x_max + 1e-9 {
        let xx = x(t);
        let _ = writeln!(
            s,
            r#"<text x="{xx:.1}" y="{:.1}" text-anchor="middle">{t}</text>"#,
            TOP + plot_h + 16.0
        );
        t += x_step;
    }
    let _ = writeln!(
        s,
        r##"<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#444"/>"##
    );
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">time (s)</text><text x="16" y="{:.1}" transform="rotate(-90 16 {:.1})" text-anchor="middle">RTT (ms)</text>"#,
        LEFT + plot_w / 2.0,
        HEIGHT - 12.0,
        TOP + plot_h / 2.0,
        TOP + plot_h / 2.0
    );
    // Samples.
    for p in &r.samples {
        let colour = COLOURS
            .get(p.player % COLOURS.len())
            .copied()
            .unwrap_or("#000");
        let _ = write!(s, r#"<g fill="{colour}">"#);
        for (sent, rtt) in p.sent_ms.iter().zip(&p.rtt_ms) {
            if let Some(rtt) = rtt {
                let _ = write!(
                    s,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="1.4"/>"#,
                    x(sent / 1e3),
                    y(*rtt)
                );
            }
        }
        let _ = writeln!(s, "</g>");
        let _ = write!(s, r##"<g stroke="#d62728" stroke-width="1.2">"##);
        for (sent, rtt) in p.sent_ms.iter().zip(&p.rtt_ms) {
            if rtt.is_none() {
                let xx = x(sent / 1e3);
                let _ = write!(
                    s,
                    r#"<line x1="{xx:.1}" y1="{:.1}" x2="{xx:.1}" y2="{:.1}"/>"#,
                    TOP + plot_h - 8.0,
                    TOP + plot_h
                );
            }
        }
        let _ = writeln!(s, "</g>");
    }
    // Events.
    for e in &r.events {
        let xx = x(e.at_s);
        let _ = writeln!(
            s,
            r##"<line x1="{xx:.1}" y1="{TOP}" x2="{xx:.1}" y2="{:.1}" stroke="#ff7f0e" stroke-dasharray="5,4"/><text x="{:.1}" y="{:.1}" fill="#ff7f0e">{}</text>"##,
            TOP + plot_h,
            xx + 3.0,
            TOP + 12.0,
            escape(&e.action)
        );
    }
    let _ = writeln!(
        s,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="end" fill="#d62728">red marks: lost packets</text>"##,
        WIDTH - RIGHT,
        HEIGHT - 12.0
    );
    s.push_str("</svg>\n");
    s
}
