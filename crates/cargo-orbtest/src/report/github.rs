//! GitHub Actions output (when `GITHUB_ACTIONS=true`): an `::error` annotation per failed test,
//! at the panic's file and line when the output names one, and a markdown summary for
//! `$GITHUB_STEP_SUMMARY`. The per-tier `::group::` markers are written by the plain progress.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::report::{Digest, Verdict, count, counts_phrase, failure_word, human_duration};
use crate::results::{RunResult, TierOutcome};

/// Failures annotated; GitHub shows at most 10 error annotations per step anyway.
const ANNOTATED: usize = 50;
/// Failures shown with output in the step summary (which GitHub caps at 1 MiB).
const SUMMARY_DETAILED: usize = 20;
const SUMMARY_LISTED: usize = 200;
const EXCERPT_LINES: usize = 15;

pub(crate) fn in_actions() -> bool {
    std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true")
}

/// A source location from a Rust panic message: `panicked at src/lib.rs:4:62:` (Rust 1.73+) or
/// `panicked at 'msg', src/lib.rs:4:5` (older).
pub(crate) fn panic_location(text: &str) -> Option<(String, u32)> {
    for line in text.lines().rev() {
        let Some((_, rest)) = line.split_once("panicked at ") else {
            continue;
        };
        let loc = if rest.starts_with('\'') {
            rest.rsplit_once("', ").map(|(_, l)| l)?
        } else {
            rest.trim_end().strip_suffix(':').unwrap_or(rest.trim_end())
        };
        let mut parts = loc.rsplitn(3, ':');
        let (col, line_no, file) = (parts.next()?, parts.next()?, parts.next()?);
        if col.parse::<u32>().is_err() || file.is_empty() {
            continue;
        }
        if let Ok(n) = line_no.parse() {
            return Some((file.to_string(), n));
        }
    }
    None
}

/// The annotation's `file`: relative to `$GITHUB_WORKSPACE` (the checkout), else to the
/// workspace root. Rust prints workspace files relative to the workspace root; a location
/// outside both (a dependency, the standard library) is left out.
fn annotation_path(file: &str, ws_root: Option<&Path>, checkout: Option<&Path>) -> Option<String> {
    let path = Path::new(file);
    let abs: PathBuf = match (path.is_absolute(), ws_root) {
        (true, _) => path.to_path_buf(),
        (false, Some(root)) => root.join(path),
        (false, None) => return Some(file.to_string()),
    };
    for base in [checkout, ws_root].into_iter().flatten() {
        if let Ok(rel) = abs.strip_prefix(base) {
            return Some(rel.to_string_lossy().into_owned());
        }
    }
    None
}

/// `::error` lines for the failed tests.
pub(crate) fn annotations(run: &RunResult, ws_root: Option<&Path>) -> String {
    let checkout = std::env::var_os("GITHUB_WORKSPACE").map(PathBuf::from);
    annotations_with(run, ws_root, checkout.as_deref())
}

pub(crate) fn annotations_with(run: &RunResult, ws_root: Option<&Path>, checkout: Option<&Path>) -> String {
    let mut out = String::new();
    for e in Digest::of(run).failures.iter().take(ANNOTATED) {
        let r = e.test;
        let text = [r.output.as_deref(), r.message.as_deref()];
        let location = text.iter().flatten().find_map(|t| panic_location(t));
        let mut props = Vec::new();
        if let Some((file, line)) = &location
            && let Some(path) = annotation_path(file, ws_root, checkout)
        {
            props.push(format!("file={}", escape_property(&path)));
            props.push(format!("line={line}"));
        }
        let what = failure_word(r.status);
        props.push(format!(
            "title={}",
            escape_property(&format!("{} {what} (tier {})", r.id.shown(), e.tier))
        ));
        let body = match &r.output {
            Some(o) => super::failure_excerpt(o, EXCERPT_LINES),
            None => r.message.clone().unwrap_or_else(|| format!("test {what}")),
        };
        let body = format!("{body}\nrerun: {}", e.rerun.as_deref().unwrap_or_default());
        let _ = writeln!(out, "::error {}::{}", props.join(","), escape_data(&body));
    }
    out
}

/// Workflow-command escaping of the message.
fn escape_data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// Workflow-command escaping of a property value.
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// The markdown job summary.
pub(crate) fn step_summary(run: &RunResult) -> String {
    let d = Digest::of(run);
    let mut md = String::new();
    let verdict = match d.verdict {
        Verdict::Interrupted(i) => format!(":stop_sign: interrupted ({})", i.name()),
        Verdict::Passed => ":white_check_mark: passed".to_string(),
        Verdict::Failed => ":x: failed".to_string(),
        Verdict::GateFailed => ":no_entry: gate failed".to_string(),
        Verdict::Error => ":boom: error".to_string(),
    };
    let _ = writeln!(md, "## cargo orbtest: {verdict}\n");
    let _ = writeln!(
        md,
        "{}: {} in {} · exit {} · run `{}`\n",
        count(d.counts.total(), "test"),
        counts_phrase(&d.counts),
        human_duration(run.duration),
        run.exit_code(),
        run.run_id
    );
    tier_table(&mut md, &d);
    if let Some(e) = &run.error {
        let _ = writeln!(md, "\n**Error:**\n\n{}", fenced(e));
    }
    if run.gate.evaluated {
        if run.gate.passed {
            md.push_str("\n### Release gate: passed\n");
        } else {
            md.push_str("\n### Release gate: failed\n\n");
            for v in &run.gate.violations {
                let _ = writeln!(md, "- {v}");
            }
        }
    }
    failed_tests(&mut md, &d);
    if !d.flaky.is_empty() {
        let _ = writeln!(md, "\n### Flaky tests ({})\n", d.flaky.len());
        for e in d.flaky.iter().take(SUMMARY_LISTED) {
            let _ = writeln!(
                md,
                "- `{}` ({}, passed on attempt {})",
                e.test.id.shown(),
                e.tier,
                e.test.attempts
            );
        }
    }
    let pct = |p: Option<f64>| p.map_or("not measured".to_string(), |p| format!("{p:.1}%"));
    let _ = writeln!(
        md,
        "\nPeak memory {}, peak swap {}.",
        pct(run.resources.peak_memory_percent),
        pct(run.resources.peak_swap_percent)
    );
    md
}

fn tier_table(md: &mut String, d: &Digest<'_>) {
    md.push_str("| tier | result | tests | passed | failed | flaky | timed out | skipped | time |\n");
    md.push_str("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for row in &d.tiers {
        let t = row.tier;
        let c = &t.counts;
        let result = match (&t.outcome, &row.note) {
            (TierOutcome::Passed, _) => row.verdict.clone(),
            (_, Some(note)) => format!("{} ({})", row.verdict, cell(note)),
            (_, None) => row.verdict.clone(),
        };
        let _ = writeln!(
            md,
            "| {} | {result} | {} | {} | {} | {} | {} | {} | {} |",
            cell(&t.name),
            c.total(),
            c.passed,
            c.failed,
            c.flaky,
            c.timed_out,
            c.skipped,
            human_duration(t.duration)
        );
    }
}

fn failed_tests(md: &mut String, d: &Digest<'_>) {
    if d.failures.is_empty() {
        return;
    }
    let _ = writeln!(md, "\n### Failed tests ({})\n", d.failures.len());
    for (i, e) in d.failures.iter().enumerate().take(SUMMARY_LISTED) {
        let r = e.test;
        let what = failure_word(r.status);
        if i >= SUMMARY_DETAILED {
            let _ = writeln!(md, "- `{}` ({}, {what})", r.id.shown(), e.tier);
            continue;
        }
        let _ = writeln!(
            md,
            "<details><summary><code>{}</code> ({}, {what}, {})</summary>\n",
            super::html::esc(&r.id.shown()),
            e.tier,
            count(r.attempts, "attempt")
        );
        if let Some(o) = &r.output {
            let _ = writeln!(md, "{}", fenced(&super::failure_excerpt(o, EXCERPT_LINES)));
        }
        let _ = writeln!(
            md,
            "rerun: `{}`\n\n</details>\n",
            e.rerun.as_deref().unwrap_or_default()
        );
    }
    if d.failures.len() > SUMMARY_LISTED {
        let _ = writeln!(
            md,
            "- … and {} more (see summary.json)",
            d.failures.len() - SUMMARY_LISTED
        );
    }
}

/// A table cell: no pipes or newlines.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// A fenced block whose fence cannot be closed by the text inside.
fn fenced(text: &str) -> String {
    let mut fence = "```".to_string();
    while text.contains(&fence) {
        fence.push('`');
    }
    format!("{fence}text\n{text}\n{fence}")
}

/// Appends to the file `$GITHUB_STEP_SUMMARY` names (if set).
pub(crate) fn append_step_summary(markdown: &str) -> std::io::Result<Option<PathBuf>> {
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").map(PathBuf::from) else {
        return Ok(None);
    };
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
    f.write_all(markdown.as_bytes())?;
    Ok(Some(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_panic_locations_in_both_formats() {
        assert_eq!(
            panic_location("running 1 test\nthread 't' panicked at src/lib.rs:4:62:\nboom"),
            Some(("src/lib.rs".into(), 4))
        );
        assert_eq!(
            panic_location("thread 'main' panicked at 'boom', tests/a.rs:10:5"),
            Some(("tests/a.rs".into(), 10))
        );
        assert_eq!(
            panic_location("thread 't' panicked at C:\\x\\src\\lib.rs:7:1:"),
            Some(("C:\\x\\src\\lib.rs".into(), 7))
        );
        assert_eq!(panic_location("no panic here"), None);
    }

    #[test]
    fn annotation_paths_are_relative_to_the_checkout() {
        let root = Path::new("/w/repo/crates");
        assert_eq!(
            annotation_path("src/lib.rs", Some(root), Some(Path::new("/w/repo"))),
            Some("crates/src/lib.rs".into())
        );
        assert_eq!(
            annotation_path("src/lib.rs", Some(root), None),
            Some("src/lib.rs".into())
        );
        assert_eq!(
            annotation_path(
                "/root/.cargo/registry/x/src/lib.rs",
                Some(root),
                Some(Path::new("/w/repo"))
            ),
            None
        );
    }

    #[test]
    fn escapes_workflow_command_values() {
        assert_eq!(escape_data("50%\nnext"), "50%25%0Anext");
        assert_eq!(escape_property("a::b, c"), "a%3A%3Ab%2C c");
    }
}
