//! report.html's machine section: what the run did with machines, latency per operation, and
//! every recovery, retry and clone with the machine and the test it was for.

use std::fmt::Write as _;
use std::time::Duration;

use super::esc;
use crate::report::human_duration;
use crate::report::journal::{JournalOp, op_stats};
use crate::results::RunResult;

pub(super) fn machines(h: &mut String, run: &RunResult, ops: &[JournalOp]) {
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
    h.push_str("</tbody></table>\n");
    events(h, run, ops);
    h.push_str("</section>\n");
}

/// Rows of the events table shown at most (a run with thousands of retries stays readable).
const EVENTS: usize = 500;

/// Every recovery, retry and clone: when, which operation on which machine, for which test.
fn events(h: &mut String, run: &RunResult, ops: &[JournalOp]) {
    let notable: Vec<&JournalOp> = ops
        .iter()
        .filter(|o| o.recovered || o.attempt > 1 || o.op == "clone")
        .collect();
    if notable.is_empty() {
        return;
    }
    let start_ms = run
        .started_at
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let _ = writeln!(
        h,
        "<h3>Recoveries, retries and clones ({})</h3>\n<table id=\"machine-events\"><thead><tr>\
         <th class=\"n\">at</th><th>what</th><th>operation</th><th>machine</th><th>test</th><th class=\"n\">took</th>\
         </tr></thead><tbody>",
        notable.len()
    );
    for o in notable.iter().take(EVENTS) {
        let what = match (o.recovered, o.attempt > 1, o.op == "clone") {
            (true, _, _) => format!("recovered ({} but the machine was made)", o.outcome.replace('-', " ")),
            (false, true, _) => format!("retry, attempt {} ({})", o.attempt, o.outcome.replace('-', " ")),
            _ => "clone of a baseline".to_string(),
        };
        let at = if start_ms > 0 && o.ts_ms >= start_ms {
            human_duration(Duration::from_millis(o.ts_ms - start_ms))
        } else {
            "–".to_string()
        };
        let _ = writeln!(
            h,
            "<tr class=\"{class}\"><td class=\"n\">{at}</td><td>{what}</td><td><code>{op}</code></td>\
             <td><code>{machine}</code></td><td>{test}</td><td class=\"n\">{took}</td></tr>",
            class = if o.recovered {
                "recovered"
            } else if o.attempt > 1 {
                "retried"
            } else {
                "cloned"
            },
            what = esc(&what),
            op = esc(&o.op),
            machine = esc(o.machine.as_deref().unwrap_or("–")),
            test = o.test.as_deref().map_or_else(
                || "<span class=\"why\">outside a test (preflight, postflight)</span>".to_string(),
                |t| { format!("<code>{}</code>", esc(t)) }
            ),
            took = human_duration(Duration::from_millis(o.duration_ms)),
        );
    }
    h.push_str("</tbody></table>\n");
    if notable.len() > EVENTS {
        let _ = writeln!(
            h,
            "<p class=\"why\">and {} more in journal.jsonl</p>",
            notable.len() - EVENTS
        );
    }
}
