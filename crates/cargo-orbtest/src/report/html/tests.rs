//! report.html's test sections, rendered from the run's [`Digest`]: the failures (each attempt
//! with its result, time, blame, message and output), every test in one table that the page
//! filters by result and searches by name, the flaky tests with their attempts, and the
//! slowest tests.

use std::fmt::Write as _;

use super::esc;
use crate::report::{Digest, Entry, count, failure_word, human_duration};
use crate::results::{Attempt, Blame, TestResult, TestStatus};

/// Failures shown with their output; the rest are listed by name (keeps a 5,000-failure run
/// readable and the file small).
const DETAILED_FAILURES: usize = 100;
/// Failures shown expanded; the others are one click away.
const OPEN_FAILURES: usize = 10;
const OUTPUT_LINES: usize = 40;
const SLOWEST: usize = 15;

pub(super) fn failures(h: &mut String, d: &Digest<'_>) {
    if d.failures.is_empty() {
        return;
    }
    let _ = writeln!(
        h,
        "<section id=\"failures\"><h2>Failed tests ({})</h2>",
        d.failures.len()
    );
    for (i, e) in d.failures.iter().take(DETAILED_FAILURES).enumerate() {
        let r = e.test;
        let _ = writeln!(
            h,
            "<details class=\"failure\"{}><summary>{} <span class=\"why\">{}, {}, {}</span></summary>",
            if i < OPEN_FAILURES { " open" } else { "" },
            esc(&r.id.shown()),
            esc(e.tier),
            failure_word(r.status),
            count(r.attempts, "attempt")
        );
        if let Some(why) = r.machine_blame() {
            let _ = writeln!(h, "<p class=\"blame\"><strong>machine layer</strong>: {}</p>", esc(why));
        }
        let excerpt = r
            .output
            .as_deref()
            .map(|o| crate::report::failure_excerpt(o, OUTPUT_LINES));
        if let Some(m) = &r.message
            && !excerpt.as_deref().is_some_and(|e| e.contains(m.trim()))
        {
            let _ = writeln!(h, "<p class=\"why\">{}</p>", esc(m));
        }
        if let (Some(out), Some(excerpt)) = (&r.output, excerpt) {
            let tail = crate::report::tail(out, OUTPUT_LINES);
            let _ = writeln!(h, "<pre>{}</pre>", esc(&excerpt));
            if tail != excerpt {
                let _ = writeln!(
                    h,
                    "<details class=\"output\"><summary>output (last {OUTPUT_LINES} lines)</summary><pre>{}</pre></details>",
                    esc(&tail)
                );
            }
        }
        attempts(h, r);
        if let Some(rerun) = &e.rerun {
            let _ = writeln!(h, "<p>rerun: <code class=\"rerun\">{}</code></p>", esc(rerun));
        }
        h.push_str("</details>\n");
    }
    if d.failures.len() > DETAILED_FAILURES {
        let _ = writeln!(
            h,
            "<p class=\"why\">{} more failures (output in summary.json):</p><ul>",
            d.failures.len() - DETAILED_FAILURES
        );
        for e in &d.failures[DETAILED_FAILURES..] {
            let _ = writeln!(
                h,
                "<li><code>{}</code> <span class=\"why\">{}</span></li>",
                esc(&e.test.id.shown()),
                esc(e.tier)
            );
        }
        h.push_str("</ul>\n");
    }
    h.push_str("</section>\n");
}

/// Every attempt of a test that failed at least once, oldest first.
fn attempts(h: &mut String, r: &TestResult) {
    if r.attempt_log.is_empty() {
        return;
    }
    h.push_str(
        "<table class=\"attempts\"><thead><tr><th class=\"n\">attempt</th><th>result</th><th class=\"n\">time</th>\
         <th>blame</th><th>message</th></tr></thead><tbody>\n",
    );
    for a in &r.attempt_log {
        attempt_row(h, a);
    }
    h.push_str("</tbody></table>\n");
}

fn attempt_row(h: &mut String, a: &Attempt) {
    let blame = match &a.blame {
        Blame::Test => "test".to_string(),
        Blame::Machines(why) => format!("machine layer: {}", esc(why)),
    };
    let output = a
        .output
        .as_deref()
        .filter(|o| !o.trim().is_empty())
        .map_or(String::new(), |o| {
            format!(
                "<details class=\"output\"><summary>output</summary><pre>{}</pre></details>",
                esc(&crate::report::tail(o, OUTPUT_LINES))
            )
        });
    let _ = writeln!(
        h,
        "<tr class=\"{status}\"><td class=\"n\">{n}</td><td><span class=\"badge b-{status}\">{label}</span></td>\
         <td class=\"n\">{time}</td><td>{blame}</td><td>{message}{output}</td></tr>",
        status = a.status.as_str(),
        n = a.n,
        label = a.status.as_str().replace('-', " "),
        time = human_duration(a.duration),
        message = esc(a.message.as_deref().unwrap_or("")),
    );
}

/// Every test of the run: tier, result, time, attempts. The page's script filters the rows by
/// result and by a search on the name; without scripts all rows show.
pub(super) fn all_tests(h: &mut String, d: &Digest<'_>) {
    let rows: Vec<(&str, &TestResult)> = d
        .run
        .tiers
        .iter()
        .flat_map(|t| t.tests.iter().map(move |r| (t.name.as_str(), r)))
        .collect();
    if rows.is_empty() {
        return;
    }
    let results = [
        (TestStatus::Failed, "failed"),
        (TestStatus::TimedOut, "timed out"),
        (TestStatus::Flaky, "flaky"),
        (TestStatus::Passed, "passed"),
        (TestStatus::Skipped, "skipped"),
    ];
    let _ = writeln!(
        h,
        "<section id=\"tests\"><h2>All tests ({})</h2>\n<div class=\"controls\" id=\"test-controls\">\
         <input type=\"search\" id=\"test-search\" placeholder=\"search by name\" aria-label=\"search tests by name\">\
         <span id=\"result-filter\" role=\"group\" aria-label=\"results shown\">",
        rows.len()
    );
    for (status, label) in results {
        let n = rows.iter().filter(|(_, r)| r.status == status).count();
        if n == 0 {
            continue;
        }
        let _ = write!(
            h,
            "<label class=\"filter-{0}\"><input type=\"checkbox\" value=\"{0}\" checked> {label} ({n})</label>",
            status.as_str()
        );
    }
    h.push_str(
        "</span><span id=\"shown-count\" class=\"why\"></span></div>\n<table id=\"all-tests\"><thead><tr><th>test</th>\
         <th>tier</th><th>result</th><th class=\"n\">time</th><th class=\"n\">attempts</th></tr></thead><tbody>\n",
    );
    for (tier, r) in rows {
        let shown = r.id.shown();
        let _ = writeln!(
            h,
            "<tr class=\"{status}\" data-result=\"{status}\" data-name=\"{name}\"><td><code>{shown}</code></td>\
             <td>{tier}</td><td>{label}</td><td class=\"n\">{time}</td><td class=\"n\">{attempts}</td></tr>",
            status = r.status.as_str(),
            name = esc(&shown.to_lowercase()),
            shown = esc(&shown),
            tier = esc(tier),
            label = r.status.as_str().replace('-', " "),
            time = if r.status == TestStatus::Skipped {
                "–".to_string()
            } else {
                human_duration(r.duration)
            },
            attempts = r.attempts,
        );
    }
    h.push_str("</tbody></table></section>\n");
}

pub(super) fn flaky(h: &mut String, d: &Digest<'_>) {
    if d.flaky.is_empty() {
        return;
    }
    let _ = writeln!(
        h,
        "<section id=\"flaky\"><h2>Flaky tests ({}) <span class=\"why\">failed, then passed on a retry</span></h2>",
        d.flaky.len()
    );
    for e in &d.flaky {
        let r = e.test;
        let _ = writeln!(
            h,
            "<details class=\"flaky-test\"><summary>{} <span class=\"why\">{}, passed on attempt {}</span></summary>",
            esc(&r.id.shown()),
            esc(e.tier),
            r.attempts
        );
        attempts(h, r);
        h.push_str("</details>\n");
    }
    h.push_str("</section>\n");
}

pub(super) fn slowest(h: &mut String, d: &Digest<'_>) {
    if d.slowest.is_empty() {
        return;
    }
    h.push_str(
        "<section><h2>Slowest tests</h2>\n<table id=\"slowest\"><thead><tr><th class=\"n\">time</th><th>test</th>\
         <th>tier</th><th>result</th></tr></thead><tbody>\n",
    );
    for Entry { tier, test: r, .. } in d.slowest.iter().take(SLOWEST) {
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
