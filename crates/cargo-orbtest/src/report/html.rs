//! `report.html`: one self-contained page (inline CSS and SVG, no scripts, nothing fetched)
//! with the run header, the gate, the tier table, failed and flaky tests with their output, an
//! SVG timeline of memory, swap, machines and running tests with tier boundaries, and the
//! machine-operation latency table. All text from the run is escaped.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use super::journal::{JournalOp, op_stats};
use crate::monitor::Sample;
use crate::report::human_duration;
use crate::results::{RunOutcome, RunResult, TestResult, TestStatus, TierOutcome};

/// Failures shown with their output; the rest are listed by name (keeps a 5,000-failure run
/// readable and the file small).
const DETAILED_FAILURES: usize = 100;
/// Failures shown expanded; the others are one click away.
const OPEN_FAILURES: usize = 10;
const OUTPUT_LINES: usize = 40;
const SLOWEST: usize = 15;
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

/// What the page shows besides the run itself.
pub struct Extras<'a> {
    pub timelines: &'a [Timeline],
    pub ops: &'a [JournalOp],
    /// Run ids of merged shard reports.
    pub merged_from: &'a [String],
    /// A merged report's shards: predicted against actual time.
    pub shards: &'a [super::ShardActual],
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

pub fn render(run: &RunResult, extras: &Extras<'_>) -> String {
    let mut h = String::with_capacity(64 * 1024);
    let outcome = outcome_label(run);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>orbtest {} · {}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        esc(&run.run_id),
        esc(outcome.0)
    );
    header(&mut h, run, extras, outcome);
    // The overview first; the lists that can run long after it.
    gate(&mut h, run);
    tiers(&mut h, run);
    resources(&mut h, run, extras.timelines);
    machines(&mut h, run, extras.ops);
    failures(&mut h, run);
    flaky(&mut h, run);
    slowest(&mut h, run);
    h.push_str("</body>\n</html>\n");
    h
}

const CSS: &str = "
:root{--ok:#1a7f37;--bad:#cf222e;--warn:#9a6700;--muted:#59636e;--line:#d1d9e0;--bg:#f6f8fa}
body{font:14px/1.45 -apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;color:#1f2328;max-width:1100px;margin:24px auto;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}
.badge{display:inline-block;padding:2px 10px;border-radius:12px;color:#fff;font-weight:600;font-size:13px;vertical-align:middle}
.b-passed{background:var(--ok)}.b-failed,.b-error,.b-gate-failed{background:var(--bad)}.b-skipped{background:var(--warn)}
.meta{color:var(--muted)}.meta span{margin-right:16px}
table{border-collapse:collapse;width:100%;margin:6px 0}th,td{border:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
th{background:var(--bg);font-weight:600}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
tr.failed td:first-child{border-left:4px solid var(--bad)}tr.skipped td:first-child{border-left:4px solid var(--warn)}tr.passed td:first-child{border-left:4px solid var(--ok)}
.why{color:var(--muted);font-size:13px}.blame{border-left:4px solid var(--warn);padding-left:8px;font-size:13px}
ul.violations li{color:var(--bad)}
details{border:1px solid var(--line);border-radius:6px;margin:6px 0;padding:4px 10px}details.output{border:none;padding:0;margin:0}details.output summary{font-size:12px;color:var(--muted)}
summary{cursor:pointer;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}
pre{background:var(--bg);padding:8px;overflow-x:auto;font-size:12px;line-height:1.35;margin:6px 0;white-space:pre-wrap;word-break:break-all}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.chart{margin:8px 0 16px}.chart svg{width:100%;height:auto;border:1px solid var(--line);border-radius:6px;background:#fff}
.legend span{margin-right:14px;font-size:13px}.legend i{display:inline-block;width:14px;height:3px;vertical-align:middle;margin-right:4px}
.empty{color:var(--muted);font-style:italic}
";

fn outcome_label(run: &RunResult) -> (&'static str, &'static str) {
    match (run.interrupted, run.outcome()) {
        (Some(_), _) => ("INTERRUPTED", "error"),
        (None, RunOutcome::Passed) => ("PASSED", "passed"),
        (None, RunOutcome::Failed) => ("FAILED", "failed"),
        (None, RunOutcome::GateFailed) => ("GATE FAILED", "gate-failed"),
        (None, RunOutcome::Error) => ("ERROR", "error"),
    }
}

fn header(h: &mut String, run: &RunResult, extras: &Extras<'_>, (label, class): (&str, &str)) {
    let c = run.counts();
    let _ = writeln!(
        h,
        "<header><h1>orbtest run <code>{}</code> <span class=\"badge b-{class}\" id=\"outcome\">{label}</span></h1>",
        esc(&run.run_id)
    );
    let _ = writeln!(
        h,
        "<p class=\"meta\"><span>started {}</span><span>took {}</span><span>exit code {}</span><span>nextest {}</span></p>",
        esc(&rfc3339(run.started_at)),
        human_duration(run.duration),
        run.exit_code(),
        esc(&run.nextest_version)
    );
    let _ = writeln!(
        h,
        "<p><strong>{}</strong> tests: {} passed, {} failed, {} timed out, {} flaky, {} skipped</p>",
        c.total(),
        c.passed,
        c.failed,
        c.timed_out,
        c.flaky,
        c.skipped
    );
    if let Some(i) = run.interrupted {
        let _ = writeln!(h, "<p class=\"why\">Interrupted by {}.</p>", i.name());
    }
    if let Some(e) = &run.error {
        let _ = writeln!(h, "<pre class=\"error-text\">{}</pre>", esc(e));
    }
    if !extras.merged_from.is_empty() {
        let ids: Vec<String> = extras
            .merged_from
            .iter()
            .map(|id| format!("<code>{}</code>", esc(id)))
            .collect();
        let _ = writeln!(
            h,
            "<p class=\"meta\">Merged from {} shard reports: {}</p>",
            extras.merged_from.len(),
            ids.join(", ")
        );
    }
    shard_times(h, extras.shards);
    h.push_str("</header>\n");
}

/// Each shard's predicted time (its plan's) against the time it took.
fn shard_times(h: &mut String, shards: &[super::ShardActual]) {
    if shards.iter().all(|s| s.shard.is_none()) {
        return;
    }
    let ms = |v: u64| human_duration(std::time::Duration::from_millis(v));
    h.push_str("<table class=\"shards\"><tr><th>shard</th><th>predicted</th><th>actual</th><th>run</th></tr>\n");
    for s in shards {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            esc(s.shard.as_deref().unwrap_or("-")),
            s.predicted_ms.map_or_else(|| "-".to_string(), ms),
            ms(s.actual_ms),
            esc(&s.run_id)
        );
    }
    h.push_str("</table>\n");
}

fn gate(h: &mut String, run: &RunResult) {
    if !run.gate.evaluated {
        return;
    }
    h.push_str("<section id=\"gate\"><h2>Release gate</h2>\n");
    if run.gate.passed {
        h.push_str("<p><span class=\"badge b-passed\">passed</span> every criterion was met.</p>\n");
    } else {
        h.push_str("<p><span class=\"badge b-failed\">failed</span></p>\n<ul class=\"violations\">\n");
        for v in &run.gate.violations {
            let _ = writeln!(h, "<li>{}</li>", esc(v));
        }
        h.push_str("</ul>\n");
    }
    h.push_str("</section>\n");
}

fn tiers(h: &mut String, run: &RunResult) {
    h.push_str(
        "<section><h2>Tiers</h2>\n<table id=\"tiers\"><thead><tr><th>tier</th><th>result</th>\
         <th class=\"n\">tests</th><th class=\"n\">passed</th><th class=\"n\">failed</th><th class=\"n\">flaky</th>\
         <th class=\"n\">timed out</th><th class=\"n\">skipped</th><th class=\"n\">time</th></tr></thead><tbody>\n",
    );
    for t in &run.tiers {
        let c = &t.counts;
        let _ = write!(
            h,
            "<tr class=\"{0}\"><td>{1}</td><td><span class=\"badge b-{0}\">{0}</span>",
            t.outcome.as_str(),
            esc(&t.name)
        );
        if let Some(r) = &t.reason {
            let _ = write!(h, "<div class=\"why\">{}</div>", esc(r));
        }
        let _ = writeln!(
            h,
            "</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            c.total(),
            c.passed,
            c.failed,
            c.flaky,
            c.timed_out,
            c.skipped,
            if t.outcome == TierOutcome::Skipped {
                "–".to_string()
            } else {
                human_duration(t.duration)
            }
        );
    }
    h.push_str("</tbody></table></section>\n");
}

fn failures(h: &mut String, run: &RunResult) {
    let failures: Vec<(&str, &TestResult)> = run
        .tiers
        .iter()
        .flat_map(|t| t.failures().map(move |r| (t.name.as_str(), r)))
        .collect();
    if failures.is_empty() {
        return;
    }
    let _ = writeln!(h, "<section id=\"failures\"><h2>Failed tests ({})</h2>", failures.len());
    for (i, (tier, r)) in failures.iter().take(DETAILED_FAILURES).enumerate() {
        let what = if r.status == TestStatus::TimedOut {
            "timed out"
        } else {
            "failed"
        };
        let _ = writeln!(
            h,
            "<details{}><summary>{} <span class=\"why\">{}, {what}, {}</span></summary>",
            if i < OPEN_FAILURES { " open" } else { "" },
            esc(&r.id.shown()),
            esc(tier),
            attempts(r.attempts)
        );
        if let Some(why) = r.machine_blame() {
            let _ = writeln!(h, "<p class=\"blame\"><strong>machine layer</strong>: {}</p>", esc(why));
        }
        let excerpt = r.output.as_deref().map(|o| super::failure_excerpt(o, OUTPUT_LINES));
        if let Some(m) = &r.message
            && !excerpt.as_deref().is_some_and(|e| e.contains(m.trim()))
        {
            let _ = writeln!(h, "<p class=\"why\">{}</p>", esc(m));
        }
        if let (Some(out), Some(excerpt)) = (&r.output, excerpt) {
            let tail = super::tail(out, OUTPUT_LINES);
            let _ = writeln!(h, "<pre>{}</pre>", esc(&excerpt));
            if tail != excerpt {
                let _ = writeln!(
                    h,
                    "<details class=\"output\"><summary>output (last {OUTPUT_LINES} lines)</summary><pre>{}</pre></details>",
                    esc(&tail)
                );
            }
        }
        let _ = writeln!(
            h,
            "<p>rerun: <code>{}</code></p></details>",
            esc(&super::rerun_in(run, tier, &r.id))
        );
    }
    if failures.len() > DETAILED_FAILURES {
        let _ = writeln!(
            h,
            "<p class=\"why\">{} more failures (output in summary.json):</p><ul>",
            failures.len() - DETAILED_FAILURES
        );
        for (tier, r) in &failures[DETAILED_FAILURES..] {
            let _ = writeln!(
                h,
                "<li><code>{}</code> <span class=\"why\">{}</span></li>",
                esc(&r.id.shown()),
                esc(tier)
            );
        }
        h.push_str("</ul>\n");
    }
    h.push_str("</section>\n");
}

fn flaky(h: &mut String, run: &RunResult) {
    let flaky: Vec<(&str, &TestResult)> = run
        .tiers
        .iter()
        .flat_map(|t| t.flaky().map(move |r| (t.name.as_str(), r)))
        .collect();
    if flaky.is_empty() {
        return;
    }
    let _ = writeln!(
        h,
        "<section id=\"flaky\"><h2>Flaky tests ({}) <span class=\"why\">failed, then passed on a retry</span></h2>\n\
         <table><thead><tr><th>test</th><th>tier</th><th class=\"n\">attempts</th><th>first failure</th></tr></thead><tbody>",
        flaky.len()
    );
    for (tier, r) in &flaky {
        let _ = writeln!(
            h,
            "<tr><td><code>{}</code></td><td>{}</td><td class=\"n\">{}</td><td class=\"why\">{}</td></tr>",
            esc(&r.id.shown()),
            esc(tier),
            r.attempts,
            esc(r.message.as_deref().unwrap_or(""))
        );
    }
    h.push_str("</tbody></table></section>\n");
}

fn slowest(h: &mut String, run: &RunResult) {
    let mut all: Vec<(&str, &TestResult)> = run
        .tiers
        .iter()
        .flat_map(|t| t.tests.iter().map(move |r| (t.name.as_str(), r)))
        .filter(|(_, r)| r.status != TestStatus::Skipped)
        .collect();
    if all.is_empty() {
        return;
    }
    all.sort_by_key(|(_, r)| std::cmp::Reverse(r.duration));
    h.push_str(
        "<section><h2>Slowest tests</h2>\n<table id=\"slowest\"><thead><tr><th class=\"n\">time</th><th>test</th>\
         <th>tier</th><th>result</th></tr></thead><tbody>\n",
    );
    for (tier, r) in all.iter().take(SLOWEST) {
        let _ = writeln!(
            h,
            "<tr><td class=\"n\">{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            human_duration(r.duration),
            esc(&r.id.shown()),
            esc(tier),
            r.status.as_str()
        );
    }
    h.push_str("</tbody></table></section>\n");
}

fn resources(h: &mut String, run: &RunResult, timelines: &[Timeline]) {
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
const H: f64 = 300.0;
const LEFT: f64 = 46.0;
const RIGHT: f64 = 46.0;
const TOP: f64 = 26.0;
const BOTTOM: f64 = 30.0;

struct Series {
    class: &'static str,
    label: &'static str,
    color: &'static str,
    /// Plotted against the percent axis (else the count axis, drawn as steps: counts change
    /// at a sample, they do not slide between samples).
    percent: bool,
    value: fn(&Sample) -> Option<f64>,
}

const SERIES: &[Series] = &[
    Series {
        class: "memory",
        label: "memory %",
        color: "#0969da",
        percent: true,
        value: |s| Some(s.memory_percent),
    },
    Series {
        class: "swap",
        label: "swap %",
        color: "#cf222e",
        percent: true,
        value: |s| Some(s.swap_percent),
    },
    Series {
        class: "machines",
        label: "machines",
        color: "#1a7f37",
        percent: false,
        value: |s| s.machines.map(|m| m as f64),
    },
    Series {
        class: "running",
        label: "running tests",
        color: "#8250df",
        percent: false,
        value: |s| Some(s.running_tests as f64),
    },
];

fn chart(h: &mut String, t: &Timeline, run_duration: Duration, index: usize) {
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
    let ph = H - TOP - BOTTOM;
    let x = |ms: u64| LEFT + pw * ms as f64 / end_ms as f64;
    let y_pct = |p: f64| TOP + ph * (1.0 - p.clamp(0.0, 100.0) / 100.0);
    let y_count = |c: f64| TOP + ph * (1.0 - (c / count_top as f64).clamp(0.0, 1.0));

    let _ = writeln!(
        h,
        "<div class=\"chart\"><svg class=\"timeline\" id=\"timeline-{index}\" viewBox=\"0 0 {W} {H}\" \
         xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"resource timeline\" \
         font-family=\"sans-serif\" font-size=\"11\">"
    );
    // Tier spans: alternating shades, a boundary line and the name at the top.
    for (i, b) in t.bands.iter().enumerate() {
        let (x0, x1) = (x(b.start_ms), x(b.end_ms.max(b.start_ms)));
        let shade = if i % 2 == 0 { "#f0f4f8" } else { "#f8f5ee" };
        let _ = writeln!(
            h,
            "<g class=\"tier-band\"><title>tier {0}: {1} – {2}</title>\
             <rect x=\"{x0:.1}\" y=\"{TOP}\" width=\"{w:.1}\" height=\"{ph}\" fill=\"{shade}\"/>\
             <line class=\"tier-boundary\" x1=\"{x0:.1}\" y1=\"{top2}\" x2=\"{x0:.1}\" y2=\"{bottom}\" stroke=\"#8c959f\" stroke-dasharray=\"4 3\"/>\
             <text x=\"{tx:.1}\" y=\"{ty}\" fill=\"#59636e\">{0}</text></g>",
            esc(&b.tier),
            human_duration(Duration::from_millis(b.start_ms)),
            human_duration(Duration::from_millis(b.end_ms)),
            w = (x1 - x0).max(1.0),
            top2 = TOP - 14.0,
            bottom = TOP + ph,
            tx = x0 + 3.0,
            ty = TOP - 4.0,
        );
    }
    // Grid and axes.
    for p in [0.0, 25.0, 50.0, 75.0, 100.0] {
        let y = y_pct(p);
        let _ = writeln!(
            h,
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{x2}\" y2=\"{y:.1}\" stroke=\"#e5e9ed\"/>\
             <text x=\"{lx}\" y=\"{ly:.1}\" text-anchor=\"end\" fill=\"#59636e\">{p:.0}%</text>\
             <text x=\"{rx}\" y=\"{ly:.1}\" fill=\"#59636e\">{c}</text>",
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
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\" fill=\"#59636e\">{}</text>",
            x(ms),
            H - 10.0,
            human_duration(Duration::from_millis(ms))
        );
    }
    let _ = writeln!(
        h,
        "<rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{pw}\" height=\"{ph}\" fill=\"none\" stroke=\"#8c959f\"/>"
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
            "<polyline class=\"series {}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.8\" stroke-linejoin=\"round\" points=\"{}\"><title>{}</title></polyline>",
            s.class,
            s.color,
            points.trim_end(),
            s.label
        );
    }
    h.push_str("</svg>\n<div class=\"legend\">");
    for s in SERIES {
        let axis = if s.percent { "left axis" } else { "right axis" };
        let _ = write!(
            h,
            "<span><i style=\"background:{}\"></i>{} <span class=\"why\">({axis})</span></span>",
            s.color, s.label
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

fn machines(h: &mut String, run: &RunResult, ops: &[JournalOp]) {
    let m = &run.machines;
    h.push_str("<section id=\"machines\"><h2>Machines</h2>\n");
    let _ = writeln!(
        h,
        "<p>{} created, {} cloned, {} recovered, {} retried, peak {} concurrent creates, {} leftover.</p>",
        m.created,
        m.cloned,
        m.recovered,
        m.retried,
        m.peak_concurrent_creates,
        m.leftover.len()
    );
    if !m.leftover.is_empty() {
        let names: Vec<String> = m.leftover.iter().map(|n| format!("<code>{}</code>", esc(n))).collect();
        let _ = writeln!(h, "<p class=\"why\">Leftover machines: {}</p>", names.join(", "));
    }
    let stats = op_stats(ops);
    h.push_str(
        "<table id=\"machine-ops\"><thead><tr><th>operation</th><th class=\"n\">attempts</th><th class=\"n\">ok</th>\
         <th class=\"n\">failed</th><th class=\"n\">timed out</th><th class=\"n\">retries</th><th class=\"n\">recoveries</th>\
         <th class=\"n\">p50</th><th class=\"n\">p95</th><th class=\"n\">max</th><th class=\"n\">longest wait</th></tr></thead><tbody>\n",
    );
    if stats.is_empty() {
        h.push_str(
            "<tr><td colspan=\"11\" class=\"empty\">No machine operations were recorded for this run.</td></tr>\n",
        );
    }
    let ms = |v: u64| human_duration(Duration::from_millis(v));
    for s in &stats {
        let _ = writeln!(
            h,
            "<tr><td><code>{}</code></td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(&s.op),
            s.attempts,
            s.ok,
            s.failed,
            s.timed_out,
            s.retries,
            s.recoveries,
            ms(s.p50_ms),
            ms(s.p95_ms),
            ms(s.max_ms),
            ms(s.max_waited_ms)
        );
    }
    h.push_str("</tbody></table></section>\n");
}

fn attempts(n: u32) -> String {
    if n == 1 {
        "1 attempt".to_string()
    } else {
        format!("{n} attempts")
    }
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Escapes text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters (ANSI colour escapes in test output) are not valid HTML text.
            c if c.is_control() && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
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
    fn escapes_markup_and_drops_control_characters() {
        assert_eq!(
            esc("<script>\"a\" & 'b'</script>\x1b[31m"),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;[31m"
        );
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
}
