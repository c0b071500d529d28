//! report.html's chart: memory, swap, machines and running tests over the run, with each tier's
//! span shaded and named. Tier names are placed in rows above the plot so that none overlaps
//! another; a name with no room left is shortened. Colours come from the page's theme.

use std::fmt::Write as _;
use std::time::Duration;

use super::esc;
use crate::monitor::Sample;
use crate::report::human_duration;
use crate::results::RunResult;

/// Points per chart series at most; longer timelines keep each bucket's maximum.
const MAX_POINTS: usize = 1200;

/// A resource timeline to chart, with the tiers' spans on it.
pub struct Timeline {
    pub label: Option<String>,
    pub samples: Vec<Sample>,
    pub bands: Vec<Band>,
}

/// A tier's span on the chart, in milliseconds since the run started.
#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    pub tier: String,
    pub start_ms: u64,
    pub end_ms: u64,
}

/// Tier spans from the tier results (their start times relative to the run's).
pub fn bands_from_run(run: &RunResult) -> Vec<Band> {
    run.tiers
        .iter()
        .filter_map(|t| {
            let start = t.started_at?.duration_since(run.started_at).ok()?.as_millis() as u64;
            Some(Band {
                tier: t.name.clone(),
                start_ms: start,
                end_ms: start + t.duration.as_millis() as u64,
            })
        })
        .collect()
}

/// Tier spans from the samples' `tier` field (merged shards: one chart per shard).
pub fn bands_from_samples(samples: &[Sample]) -> Vec<Band> {
    let mut bands: Vec<Band> = Vec::new();
    let mut prev: Option<&str> = None;
    for s in samples {
        match (s.tier.as_deref(), prev) {
            (Some(t), Some(p)) if t == p => {
                if let Some(b) = bands.last_mut() {
                    b.end_ms = s.t_ms;
                }
            }
            (Some(t), _) => bands.push(Band {
                tier: t.to_string(),
                start_ms: s.t_ms,
                end_ms: s.t_ms,
            }),
            (None, _) => {}
        }
        prev = s.tier.as_deref();
    }
    bands
}

pub(super) fn resources(h: &mut String, run: &RunResult, timelines: &[Timeline]) {
    h.push_str("<section id=\"resources\"><h2>Resources</h2>\n");
    let pct = |p: Option<f64>| p.map_or("not measured".to_string(), |p| format!("{p:.1}%"));
    let _ = writeln!(
        h,
        "<p>Peak memory <strong>{}</strong>, peak swap <strong>{}</strong>.</p>",
        pct(run.resources.peak_memory_percent),
        pct(run.resources.peak_swap_percent)
    );
    let mut any = false;
    for (i, t) in timelines.iter().enumerate() {
        if t.samples.is_empty() {
            continue;
        }
        any = true;
        if let Some(label) = &t.label {
            let _ = writeln!(h, "<h3>{}</h3>", esc(label));
        }
        chart(h, t, run.duration, i);
    }
    if !any {
        h.push_str("<p class=\"empty\">No resource samples were recorded for this run.</p>\n");
    }
    h.push_str("</section>\n");
}

const W: f64 = 1000.0;
const LEFT: f64 = 46.0;
const RIGHT: f64 = 46.0;
/// The plot's height, and the room under it for the time axis.
const PLOT: f64 = 244.0;
const BOTTOM: f64 = 30.0;
/// A row of tier labels above the plot.
const LABEL_ROW: f64 = 14.0;
/// Width of one character of a label, in the chart's units (11px sans-serif, a little over).
const CHAR_W: f64 = 6.6;
/// Rows of tier labels at most; a label that fits in none is shortened.
const LABEL_ROWS: usize = 3;

struct Series {
    class: &'static str,
    label: &'static str,
    /// Plotted against the percent axis (else the count axis, drawn as steps: counts change
    /// at a sample, they do not slide between samples).
    percent: bool,
    value: fn(&Sample) -> Option<f64>,
}

const SERIES: &[Series] = &[
    Series {
        class: "memory",
        label: "memory %",
        percent: true,
        value: |s| Some(s.memory_percent),
    },
    Series {
        class: "swap",
        label: "swap %",
        percent: true,
        value: |s| Some(s.swap_percent),
    },
    Series {
        class: "machines",
        label: "machines",
        percent: false,
        value: |s| s.machines.map(|m| m as f64),
    },
    Series {
        class: "running",
        label: "running tests",
        percent: false,
        value: |s| Some(s.running_tests as f64),
    },
];

/// Where each tier's label goes: a row above the plot (0 nearest it), the x it starts at and
/// its text. A label goes on the first row where it clears the label before it; when no row
/// has room at the band's start, it moves right past the row's last label and is shortened
/// with "…" to end before the next band, or left out (the band's tooltip still names it).
/// Labels never overlap.
pub fn place_labels(bands: &[(f64, f64, String)]) -> Vec<(usize, f64, String)> {
    let width = |s: &str| s.chars().count() as f64 * CHAR_W;
    let mut row_end = [f64::NEG_INFINITY; LABEL_ROWS];
    let mut out = Vec::with_capacity(bands.len());
    for (i, (x0, _, name)) in bands.iter().enumerate() {
        let start = x0 + 3.0;
        if let Some(row) = (0..LABEL_ROWS).find(|&r| row_end[r] + 4.0 <= start) {
            row_end[row] = start + width(name);
            out.push((row, start, name.clone()));
            continue;
        }
        let row = (0..LABEL_ROWS)
            .min_by(|a, b| row_end[*a].total_cmp(&row_end[*b]))
            .unwrap_or(0);
        let at = row_end[row] + 4.0;
        let next = bands.get(i + 1).map_or(W, |b| b.0 + 3.0);
        let fits = ((next - 4.0 - at) / CHAR_W).floor();
        let shown = if fits >= name.chars().count() as f64 {
            name.clone()
        } else if fits >= 2.0 {
            name.chars().take(fits as usize - 1).collect::<String>() + "…"
        } else {
            String::new()
        };
        if !shown.is_empty() {
            row_end[row] = at + width(&shown);
        }
        out.push((row, at, shown));
    }
    out
}

pub(super) fn chart(h: &mut String, t: &Timeline, run_duration: Duration, index: usize) {
    let samples = downsample(&t.samples, MAX_POINTS);
    let end_ms = samples
        .iter()
        .map(|s| s.t_ms)
        .chain(t.bands.iter().map(|b| b.end_ms))
        .chain([run_duration.as_millis() as u64])
        .max()
        .unwrap_or(0)
        .max(1000);
    let max_count = samples
        .iter()
        .flat_map(|s| [s.machines.unwrap_or(0), s.running_tests])
        .max()
        .unwrap_or(0);
    let count_top = nice_ceiling(max_count.max(4));
    let pw = W - LEFT - RIGHT;
    let ph = PLOT;
    let x = |ms: u64| LEFT + pw * ms as f64 / end_ms as f64;
    let spans: Vec<(f64, f64, String)> = t
        .bands
        .iter()
        .map(|b| (x(b.start_ms), x(b.end_ms.max(b.start_ms)), b.tier.clone()))
        .collect();
    let labels = place_labels(&spans);
    let rows = labels.iter().map(|(r, _, _)| r + 1).max().unwrap_or(0);
    let top = 10.0 + LABEL_ROW * rows as f64;
    let height = top + ph + BOTTOM;
    let y_pct = |p: f64| top + ph * (1.0 - p.clamp(0.0, 100.0) / 100.0);
    let y_count = |c: f64| top + ph * (1.0 - (c / count_top as f64).clamp(0.0, 1.0));

    let _ = writeln!(
        h,
        "<div class=\"chart\"><svg class=\"timeline\" id=\"timeline-{index}\" viewBox=\"0 0 {W} {height}\" \
         xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"resource timeline\" \
         font-family=\"sans-serif\" font-size=\"11\">"
    );
    // Tier spans: alternating shades, a boundary line up to the name's row, and the name.
    for (i, ((x0, x1, _), (row, tx, label))) in spans.iter().zip(&labels).enumerate() {
        let b = &t.bands[i];
        let ty = top - 4.0 - LABEL_ROW * *row as f64;
        let _ = writeln!(
            h,
            "<g class=\"tier-band shade-{shade}\"><title>tier {name}: {from} – {to}</title>\
             <rect x=\"{x0:.1}\" y=\"{top}\" width=\"{w:.1}\" height=\"{ph}\"/>\
             <line class=\"tier-boundary\" x1=\"{x0:.1}\" y1=\"{y1:.1}\" x2=\"{x0:.1}\" y2=\"{bottom}\" stroke-dasharray=\"4 3\"/>\
             <text class=\"tier-label\" x=\"{tx:.1}\" y=\"{ty:.1}\">{label}</text></g>",
            shade = i % 2,
            name = esc(&b.tier),
            from = human_duration(Duration::from_millis(b.start_ms)),
            to = human_duration(Duration::from_millis(b.end_ms)),
            label = esc(label),
            w = (x1 - x0).max(1.0),
            y1 = ty - 10.0,
            bottom = top + ph,
        );
    }
    // Grid and axes.
    for p in [0.0, 25.0, 50.0, 75.0, 100.0] {
        let y = y_pct(p);
        let _ = writeln!(
            h,
            "<line class=\"grid\" x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{x2}\" y2=\"{y:.1}\"/>\
             <text class=\"axis\" x=\"{lx}\" y=\"{ly:.1}\" text-anchor=\"end\">{p:.0}%</text>\
             <text class=\"axis\" x=\"{rx}\" y=\"{ly:.1}\">{c}</text>",
            x2 = W - RIGHT,
            lx = LEFT - 4.0,
            rx = W - RIGHT + 4.0,
            ly = y + 4.0,
            c = (count_top as f64 * p / 100.0).round() as u64,
        );
    }
    let step = tick_step(end_ms);
    for ms in (0..=end_ms).step_by(step as usize) {
        let _ = writeln!(
            h,
            "<text class=\"axis\" x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            x(ms),
            height - 10.0,
            human_duration(Duration::from_millis(ms))
        );
    }
    let _ = writeln!(
        h,
        "<rect class=\"frame\" x=\"{LEFT}\" y=\"{top}\" width=\"{pw}\" height=\"{ph}\" fill=\"none\"/>"
    );
    for s in SERIES {
        let mut points = String::new();
        let mut last_y: Option<f64> = None;
        for sample in &samples {
            if let Some(v) = (s.value)(sample) {
                let y = if s.percent { y_pct(v) } else { y_count(v) };
                if let Some(prev) = last_y.filter(|_| !s.percent) {
                    let _ = write!(points, "{:.1},{prev:.1} ", x(sample.t_ms));
                }
                let _ = write!(points, "{:.1},{:.1} ", x(sample.t_ms), y);
                last_y = Some(y);
            }
        }
        if points.is_empty() {
            continue;
        }
        let _ = writeln!(
            h,
            "<polyline class=\"series {}\" fill=\"none\" stroke-width=\"1.8\" stroke-linejoin=\"round\" points=\"{}\"><title>{}</title></polyline>",
            s.class,
            points.trim_end(),
            s.label
        );
    }
    h.push_str("</svg>\n<div class=\"legend\">");
    for s in SERIES {
        let axis = if s.percent { "left axis" } else { "right axis" };
        let _ = write!(
            h,
            "<span><i class=\"key {}\"></i>{} <span class=\"why\">({axis})</span></span>",
            s.class, s.label
        );
    }
    if samples.iter().all(|s| s.machines.is_none()) {
        h.push_str("<span class=\"why\">no machine provider in this run</span>");
    }
    if samples.iter().any(|s| s.pressure_from == "provider") {
        h.push_str("<span class=\"why\">memory and swap as the provider reports them</span>");
    }
    h.push_str("</div></div>\n");
}

/// At most `max` points: each bucket keeps its first time and the maximum of every series, so
/// peaks survive.
fn downsample(samples: &[Sample], max: usize) -> Vec<Sample> {
    if samples.len() <= max {
        return samples.to_vec();
    }
    let per = samples.len().div_ceil(max);
    samples
        .chunks(per)
        .filter_map(|chunk| {
            let mut out = chunk.first()?.clone();
            for s in &chunk[1..] {
                out.memory_percent = out.memory_percent.max(s.memory_percent);
                out.swap_percent = out.swap_percent.max(s.swap_percent);
                out.cpu_percent = out.cpu_percent.max(s.cpu_percent);
                out.machines = out.machines.max(s.machines);
                out.creates_in_flight = out.creates_in_flight.max(s.creates_in_flight);
                out.running_tests = out.running_tests.max(s.running_tests);
            }
            Some(out)
        })
        .collect()
}

/// A round time step (100ms, 200ms, ..., 30s, 1m, 2m, 5m, ...) giving at most 6 steps.
fn tick_step(end_ms: u64) -> u64 {
    const STEPS: &[u64] = &[
        100, 200, 500, 1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000,
        1_800_000, 3_600_000, 7_200_000,
    ];
    STEPS
        .iter()
        .copied()
        .find(|step| end_ms / step <= 6)
        .unwrap_or_else(|| end_ms.div_ceil(6).max(1))
}

/// 4, 8, 10, 20, 40, 50, 100, ... : an axis top that divides into four readable steps.
fn nice_ceiling(n: u64) -> u64 {
    let mut step = 1;
    loop {
        for m in [4, 8, 10, 20, 40] {
            if n <= m * step {
                return m * step;
            }
        }
        step *= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(t_ms: u64, tier: Option<&str>, mem: f64) -> Sample {
        Sample {
            t_ms,
            memory_percent: mem,
            swap_percent: 1.0,
            cpu_percent: 5.0,
            machines: None,
            creates_in_flight: None,
            running_tests: 2,
            tier: tier.map(str::to_string),
            pressure_from: "host".into(),
        }
    }

    #[test]
    fn bands_follow_the_samples_tiers() {
        let s = [
            sample(0, None, 1.0),
            sample(1000, Some("fast"), 1.0),
            sample(2000, Some("fast"), 1.0),
            sample(3000, Some("e2e"), 1.0),
            sample(4000, None, 1.0),
        ];
        let b = bands_from_samples(&s);
        assert_eq!(
            b,
            [
                Band {
                    tier: "fast".into(),
                    start_ms: 1000,
                    end_ms: 2000
                },
                Band {
                    tier: "e2e".into(),
                    start_ms: 3000,
                    end_ms: 3000
                }
            ]
        );
    }

    #[test]
    fn downsampling_keeps_peaks() {
        let s: Vec<Sample> = (0..10_000)
            .map(|i| sample(i * 10, None, if i == 7777 { 99.0 } else { 10.0 }))
            .collect();
        let d = downsample(&s, MAX_POINTS);
        assert!(d.len() <= MAX_POINTS);
        assert_eq!(d.iter().map(|s| s.memory_percent).fold(0.0, f64::max), 99.0);
    }

    #[test]
    fn time_ticks_are_round() {
        assert_eq!(tick_step(8_900), 2_000);
        assert_eq!(tick_step(1_000), 200);
        assert_eq!(tick_step(550_000), 120_000);
        assert_eq!(tick_step(3_600_000), 600_000);
        assert_eq!(tick_step(100_000_000), 100_000_000 / 6 + 1);
    }

    #[test]
    fn axis_tops_are_round() {
        assert_eq!(nice_ceiling(4), 4);
        assert_eq!(nice_ceiling(5), 8);
        assert_eq!(nice_ceiling(37), 40);
        assert_eq!(nice_ceiling(41), 80);
        assert_eq!(nice_ceiling(120), 200);
    }

    #[test]
    fn tier_labels_never_overlap() {
        // Five tiers squeezed into 60 units: rows first, then shortened names.
        let bands: Vec<(f64, f64, String)> = ["integration", "e2e", "machines-long-name", "fast", "python"]
            .iter()
            .enumerate()
            .map(|(i, n)| (100.0 + 12.0 * i as f64, 112.0 + 12.0 * i as f64, n.to_string()))
            .collect();
        let placed = place_labels(&bands);
        let boxes: Vec<(usize, f64, f64)> = placed
            .iter()
            .filter(|(_, _, text)| !text.is_empty())
            .map(|(row, x, text)| (*row, *x, x + text.chars().count() as f64 * CHAR_W))
            .collect();
        for (i, a) in boxes.iter().enumerate() {
            for b in &boxes[i + 1..] {
                assert!(
                    a.0 != b.0 || a.2 <= b.1 || b.2 <= a.1,
                    "{a:?} and {b:?} overlap: {placed:?}"
                );
            }
        }
        assert!(placed.iter().all(|(row, _, _)| *row < LABEL_ROWS));
        assert!(
            placed.iter().take(3).all(|(_, _, t)| !t.is_empty()),
            "three rows of names: {placed:?}"
        );
        // Wide bands keep their names whole, on the first row, at their band's start.
        let wide = place_labels(&[(50.0, 400.0, "fast".into()), (400.0, 900.0, "integration".into())]);
        assert_eq!(
            wide,
            [(0, 53.0, "fast".to_string()), (0, 403.0, "integration".to_string())]
        );
    }
}
