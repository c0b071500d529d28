//! report.html's trend: the workspace's last runs side by side, each a bar as long as the run
//! took, coloured by its outcome, with the pass rate drawn across them.

use std::fmt::Write as _;
use std::time::Duration;

use super::esc;
use crate::report::human_duration;
use crate::report::trend::TrendPoint;

const W: f64 = 1000.0;
const H: f64 = 170.0;
const LEFT: f64 = 46.0;
const RIGHT: f64 = 46.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 22.0;

pub(super) fn trend(h: &mut String, points: &[TrendPoint], this_run: &str) {
    h.push_str("<section id=\"trend\"><h2>Recent runs</h2>\n");
    if points.len() < 2 {
        h.push_str(
            "<p class=\"empty\">The trend appears once this workspace has two runs under runs/.</p></section>\n",
        );
        return;
    }
    let longest = points.iter().map(|p| p.duration_ms).max().unwrap_or(1).max(1);
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let slot = pw / points.len() as f64;
    let bar = (slot * 0.7).min(40.0);
    let x = |i: usize| LEFT + slot * i as f64 + slot / 2.0;
    let _ = writeln!(
        h,
        "<div class=\"chart\"><svg class=\"trend\" id=\"trend-chart\" viewBox=\"0 0 {W} {H}\" \
         xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"recent runs: duration and pass rate\" \
         font-family=\"sans-serif\" font-size=\"11\">"
    );
    for (label, frac) in [("100%", 0.0), ("50%", 0.5), ("0%", 1.0)] {
        let y = TOP + ph * frac;
        let _ = writeln!(
            h,
            "<line class=\"grid\" x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{x2}\" y2=\"{y:.1}\"/>\
             <text class=\"axis\" x=\"{rx}\" y=\"{ly:.1}\">{label}</text>",
            x2 = W - RIGHT,
            rx = W - RIGHT + 4.0,
            ly = y + 4.0,
        );
    }
    let _ = writeln!(
        h,
        "<text class=\"axis\" x=\"{lx}\" y=\"{ty}\" text-anchor=\"end\">{}</text>",
        human_duration(Duration::from_millis(longest)),
        lx = LEFT - 4.0,
        ty = TOP + 4.0,
    );
    for (i, p) in points.iter().enumerate() {
        let height = (ph * p.duration_ms as f64 / longest as f64).max(1.0);
        let rate = p
            .pass_rate()
            .map_or("no test ran".to_string(), |r| format!("{:.0}% passed", r * 100.0));
        let _ = writeln!(
            h,
            "<rect class=\"run-bar o-{outcome}{this}\" x=\"{bx:.1}\" y=\"{by:.1}\" width=\"{bar:.1}\" height=\"{height:.1}\">\
             <title>{id}: {outcome}, {rate}, {took}</title></rect>",
            outcome = esc(&p.outcome),
            this = if p.run_id == this_run { " this-run" } else { "" },
            bx = x(i) - bar / 2.0,
            by = TOP + ph - height,
            id = esc(&p.run_id),
            took = human_duration(Duration::from_millis(p.duration_ms)),
        );
    }
    let rate_points: Vec<String> = points
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            p.pass_rate()
                .map(|r| format!("{:.1},{:.1}", x(i), TOP + ph * (1.0 - r)))
        })
        .collect();
    if !rate_points.is_empty() {
        let _ = writeln!(
            h,
            "<polyline class=\"pass-rate\" fill=\"none\" stroke-width=\"2\" points=\"{}\"><title>pass rate</title></polyline>",
            rate_points.join(" ")
        );
    }
    let first = points.first().map_or("", |p| p.run_id.as_str());
    let last = points.last().map_or("", |p| p.run_id.as_str());
    let _ = writeln!(
        h,
        "<text class=\"axis\" x=\"{LEFT}\" y=\"{y}\">{}</text><text class=\"axis\" x=\"{x2}\" y=\"{y}\" text-anchor=\"end\">{}</text>",
        esc(first),
        esc(last),
        y = H - 6.0,
        x2 = W - RIGHT,
    );
    let _ = writeln!(
        h,
        "</svg>\n<div class=\"legend\"><span><i class=\"key run-bar-key\"></i>duration (bar), coloured by outcome \
         <span class=\"why\">(left axis)</span></span><span><i class=\"key pass-rate\"></i>pass rate \
         <span class=\"why\">(right axis)</span></span><span class=\"why\">the last {} runs; this one outlined</span></div></div>",
        points.len()
    );
    h.push_str("</section>\n");
}
