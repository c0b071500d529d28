//! `report.html`: one self-contained page (inline CSS, SVG and a small script; nothing is
//! fetched). For a failed run the failures come first, each with every attempt; then the tier
//! table, every test in a table filtered by result and searched by name within the page, the
//! flaky tests, the machines (latency per operation, each recovery, retry and clone with its
//! test and machine), the resource chart with the tiers' spans, the trend of the last runs and
//! the slowest tests. The header has the command line, the tiers, the git commit and the host,
//! and links to summary.json, junit.xml and each tier's log. Light and dark themes follow the
//! system, and a button switches them. All text from the run is escaped.

mod chart;
mod machines;
mod tests;
mod trend;

use std::fmt::Write as _;
use std::time::SystemTime;

pub use chart::{Band, Timeline, bands_from_run, bands_from_samples, place_labels};

use super::journal::JournalOp;
use super::trend::TrendPoint;
use crate::report::{Digest, count, counts_phrase, human_duration};
use crate::results::{RunResult, TierOutcome};

/// What the page shows besides the run itself.
pub struct Extras<'a> {
    pub timelines: &'a [Timeline],
    pub ops: &'a [JournalOp],
    /// Run ids of merged shard reports.
    pub merged_from: &'a [String],
    /// A merged report's shards: predicted against actual time.
    pub shards: &'a [super::ShardActual],
    /// The workspace's last runs, this one included, oldest first.
    pub trend: &'a [TrendPoint],
}

pub fn render(run: &RunResult, extras: &Extras<'_>) -> String {
    let d = Digest::of(run);
    let mut h = String::with_capacity(64 * 1024);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"color-scheme\" content=\"light dark\">\n\
         <title>orbtest {} · {}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        esc(&run.run_id),
        esc(&d.verdict.label())
    );
    header(&mut h, &d, extras);
    gate(&mut h, run);
    // What went wrong first; the overview and the long lists after it.
    tests::failures(&mut h, &d);
    tiers(&mut h, &d);
    tests::all_tests(&mut h, &d);
    tests::flaky(&mut h, &d);
    machines::machines(&mut h, run, extras.ops);
    chart::resources(&mut h, run, extras.timelines);
    trend::trend(&mut h, extras.trend, &run.run_id);
    tests::slowest(&mut h, &d);
    let _ = write!(h, "<script>{SCRIPT}</script>\n</body>\n</html>\n");
    h
}

/// Colours are variables: the light theme by default, the dark one when the system prefers it
/// or the page's button chose it.
const CSS: &str = "
:root{--fg:#1f2328;--page:#ffffff;--ok:#1a7f37;--bad:#cf222e;--warn:#9a6700;--muted:#59636e;--line:#d1d9e0;--bg:#f6f8fa;
--shade0:#f0f4f8;--shade1:#f8f5ee;--grid:#e5e9ed;--frame:#8c959f;--memory:#0969da;--swap:#cf222e;--machines:#1a7f37;--running:#8250df;--rate:#0969da}
:root[data-theme=dark]{--fg:#e6edf3;--page:#0d1117;--ok:#3fb950;--bad:#f85149;--warn:#d29922;--muted:#9198a1;--line:#3d444d;--bg:#151b23;
--shade0:#161c25;--shade1:#1c1a16;--grid:#262c36;--frame:#656c76;--memory:#4493f8;--swap:#f85149;--machines:#3fb950;--running:#ab7df8;--rate:#4493f8}
@media (prefers-color-scheme:dark){:root:not([data-theme=light]){--fg:#e6edf3;--page:#0d1117;--ok:#3fb950;--bad:#f85149;--warn:#d29922;--muted:#9198a1;--line:#3d444d;--bg:#151b23;
--shade0:#161c25;--shade1:#1c1a16;--grid:#262c36;--frame:#656c76;--memory:#4493f8;--swap:#f85149;--machines:#3fb950;--running:#ab7df8;--rate:#4493f8}}
body{font:14px/1.45 -apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;color:var(--fg);background:var(--page);max-width:1100px;margin:24px auto;padding:0 16px}
a{color:var(--memory)}
h1{font-size:22px;margin:0 0 4px;overflow-wrap:anywhere}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}h3{font-size:15px}
.badge{display:inline-block;padding:2px 10px;border-radius:12px;color:#fff;font-weight:600;font-size:13px;vertical-align:middle}
.b-passed{background:var(--ok)}.b-failed,.b-error,.b-gate-failed,.b-timed-out{background:var(--bad)}.b-skipped,.b-flaky{background:var(--warn)}
.meta{color:var(--muted)}.meta span{margin-right:16px}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:8px 0}dl.facts dt{color:var(--muted)}dl.facts dd{margin:0;overflow-wrap:anywhere}
nav.files a{margin-right:14px}
#theme{float:right;background:var(--bg);color:var(--fg);border:1px solid var(--line);border-radius:6px;padding:2px 10px;cursor:pointer}
table{border-collapse:collapse;width:100%;margin:6px 0}th,td{border:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top;overflow-wrap:break-word}
th{background:var(--bg);font-weight:600}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.failed td:first-child,tr.timed-out td:first-child{border-left:4px solid var(--bad)}tr.skipped td:first-child,tr.flaky td:first-child{border-left:4px solid var(--warn)}tr.passed td:first-child{border-left:4px solid var(--ok)}
tr[hidden]{display:none}
.why{color:var(--muted);font-size:13px}.blame{border-left:4px solid var(--warn);padding-left:8px;font-size:13px}
ul.violations li{color:var(--bad)}
details{border:1px solid var(--line);border-radius:6px;margin:6px 0;padding:4px 10px}details.output{border:none;padding:0;margin:0}details.output summary{font-size:12px;color:var(--muted)}
summary{cursor:pointer;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px;overflow-wrap:anywhere}
pre{background:var(--bg);padding:8px;overflow-x:auto;font-size:12px;line-height:1.35;margin:6px 0;white-space:pre-wrap;word-break:break-all}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px;overflow-wrap:anywhere}
.controls{display:none;flex-wrap:wrap;gap:8px 14px;align-items:center;margin:6px 0}.js .controls{display:flex}
.controls input[type=search]{flex:1 1 220px;padding:4px 8px;background:var(--page);color:var(--fg);border:1px solid var(--line);border-radius:6px}
.controls label{white-space:nowrap;font-size:13px}
.chart{margin:8px 0 16px}.chart svg{width:100%;height:auto;border:1px solid var(--line);border-radius:6px;background:var(--page)}
.chart text{fill:var(--muted)}.chart .grid{stroke:var(--grid)}.chart .frame,.chart .tier-boundary{stroke:var(--frame)}
.tier-band.shade-0 rect{fill:var(--shade0)}.tier-band.shade-1 rect{fill:var(--shade1)}
.series.memory{stroke:var(--memory)}.series.swap{stroke:var(--swap)}.series.machines{stroke:var(--machines)}.series.running{stroke:var(--running)}
.key.memory{background:var(--memory)}.key.swap{background:var(--swap)}.key.machines{background:var(--machines)}.key.running{background:var(--running)}
.run-bar{fill:var(--ok);opacity:.75}.run-bar.o-failed,.run-bar.o-error{fill:var(--bad)}.run-bar.o-gate-failed{fill:var(--warn)}.run-bar.this-run{opacity:1;stroke:var(--fg);stroke-width:1.5}
.pass-rate{stroke:var(--rate)}.key.pass-rate{background:var(--rate)}.key.run-bar-key{background:var(--ok)}
.legend span{margin-right:14px;font-size:13px}.legend i{display:inline-block;width:14px;height:3px;vertical-align:middle;margin-right:4px}
.empty{color:var(--muted);font-style:italic}
@media (max-width:700px){body{margin:12px auto;padding:0 8px}th,td{padding:3px 4px}}
";

/// The page's only script: the theme button, and filtering and searching the test table.
/// Without it the page still shows everything.
const SCRIPT: &str = "
(()=>{const root=document.documentElement;root.classList.add('js');
const b=document.getElementById('theme');
const isDark=()=>root.dataset.theme?root.dataset.theme==='dark':matchMedia('(prefers-color-scheme: dark)').matches;
if(b){b.textContent=isDark()?'light theme':'dark theme';
b.addEventListener('click',()=>{const dark=isDark();root.dataset.theme=dark?'light':'dark';b.textContent=dark?'dark theme':'light theme';});}
const q=document.getElementById('test-search');if(!q)return;
const rows=[...document.querySelectorAll('#all-tests tbody tr')];
const boxes=[...document.querySelectorAll('#result-filter input')];
const n=document.getElementById('shown-count');
function apply(){const s=q.value.trim().toLowerCase();const on=new Set(boxes.filter(x=>x.checked).map(x=>x.value));let k=0;
for(const r of rows){const v=on.has(r.dataset.result)&&(!s||r.dataset.name.includes(s));r.hidden=!v;if(v)k++;}
n.textContent=k+' of '+rows.length+' shown';}
q.addEventListener('input',apply);boxes.forEach(x=>x.addEventListener('change',apply));apply();})();
";

fn header(h: &mut String, d: &Digest<'_>, extras: &Extras<'_>) {
    let run = d.run;
    let _ = writeln!(
        h,
        "<header><button id=\"theme\" type=\"button\" title=\"switch between the light and the dark theme\">theme</button>\
         <h1>orbtest run <code>{}</code> <span class=\"badge b-{}\" id=\"outcome\">{}</span></h1>",
        esc(&run.run_id),
        d.verdict.class(),
        esc(&d.verdict.label())
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
        "<p id=\"counts\"><strong>{}</strong>: {}</p>",
        count(d.counts.total(), "test"),
        counts_phrase(&d.counts)
    );
    facts(h, d);
    files(h, run);
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

/// How the run was asked for and where: command line, tiers, commit, host.
fn facts(h: &mut String, d: &Digest<'_>) {
    let run = d.run;
    let inv = &run.invocation;
    h.push_str("<dl class=\"facts\" id=\"facts\">");
    if !inv.command_line.is_empty() {
        let _ = write!(
            h,
            "<dt>command</dt><dd><code id=\"command-line\">{}</code></dd>",
            esc(&inv.command_line)
        );
    }
    let tiers: Vec<String> = d
        .tiers
        .iter()
        .map(|r| format!("{} <span class=\"why\">({})</span>", esc(&r.tier.name), esc(&r.verdict)))
        .collect();
    let _ = write!(h, "<dt>tiers</dt><dd id=\"selected-tiers\">{}</dd>", tiers.join(", "));
    let _ = write!(
        h,
        "<dt>git commit</dt><dd><code id=\"git-commit\">{}</code></dd>",
        esc(inv.git_commit.as_deref().unwrap_or("not a git checkout"))
    );
    let _ = write!(
        h,
        "<dt>host</dt><dd id=\"host\">{}</dd>",
        esc(inv.host.as_deref().unwrap_or("unknown"))
    );
    h.push_str("</dl>\n");
}

/// Links to the files beside the page: summary.json, junit.xml, and each tier's log (under
/// `tiers/<tier>/`, published with the reports).
fn files(h: &mut String, run: &RunResult) {
    h.push_str("<nav class=\"files\" id=\"files\"><a href=\"summary.json\">summary.json</a><a href=\"junit.xml\">junit.xml</a>");
    for t in &run.tiers {
        let Some(name) = t.log.as_deref().and_then(|l| l.file_name()).and_then(|n| n.to_str()) else {
            continue;
        };
        let _ = write!(
            h,
            "<a class=\"tier-log\" href=\"tiers/{tier}/{file}\">{tier} log</a>",
            tier = esc(&url_path(&t.name)),
            file = esc(&url_path(name))
        );
    }
    h.push_str("</nav>\n");
}

/// A path segment for a link: what is not plainly safe, percent-encoded.
fn url_path(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
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

fn tiers(h: &mut String, d: &Digest<'_>) {
    h.push_str(
        "<section><h2>Tiers</h2>\n<table id=\"tiers\"><thead><tr><th>tier</th><th>result</th>\
         <th class=\"n\">tests</th><th class=\"n\">passed</th><th class=\"n\">failed</th><th class=\"n\">flaky</th>\
         <th class=\"n\">timed out</th><th class=\"n\">skipped</th><th class=\"n\">time</th></tr></thead><tbody>\n",
    );
    for row in &d.tiers {
        let t = row.tier;
        let c = &t.counts;
        let _ = write!(
            h,
            "<tr class=\"{0}\"><td>{1}</td><td><span class=\"badge b-{0}\">{2}</span>",
            t.outcome.as_str(),
            esc(&t.name),
            esc(&row.verdict)
        );
        if let Some(r) = &row.note {
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

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Escapes text for HTML element content and attribute values.
pub(crate) fn esc(s: &str) -> String {
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
mod tests_of_the_page {
    use super::*;

    #[test]
    fn escapes_markup_and_drops_control_characters() {
        assert_eq!(
            esc("<script>\"a\" & 'b'</script>\x1b[31m"),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;[31m"
        );
    }

    #[test]
    fn link_paths_are_encoded() {
        assert_eq!(url_path("e2e tier/..?"), "e2e%20tier%2F..%3F");
    }
}
