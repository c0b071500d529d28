//! report.html in a real browser: headless Chromium loads a real failed run's report (with
//! machine operations in its journal and earlier runs beside it), 1400 and 800 pixels wide,
//! takes a screenshot at each width and checks that every part is there and visible: the
//! header's facts and links, failures first with every attempt, the test table filtered by
//! result and searched by name, the machine events, tier labels that do not overlap, the
//! trend, both themes. `.ci/run` installs Debian's chromium; without a browser that starts,
//! the test says so and skips (and fails when CI=true).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::report::runs::{mixed_run, run_dir};
use crate::support::cli::{code, stderr};

/// Flags for a machine without network or display (without them Chromium waits on
/// connections it cannot make).
pub(super) const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

pub(super) fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"]
        .iter()
        .find_map(|name| which::which(name).ok())
}

/// Runs Chromium on `url` with extra arguments, killing it if it hangs.
pub(super) fn run_chromium(browser: &Path, args: &[&str], url: &str) -> Result<Output, String> {
    let profile = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut child = Command::new(browser)
        .args(CHROMIUM_FLAGS)
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", browser.display()))?;
    // Read output on threads so a full pipe cannot stall the browser.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut out, &mut v);
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut err, &mut v);
        v
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err("chromium did not finish within 120 s".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Ok(Output {
        status,
        stdout: out_reader.join().unwrap_or_default(),
        stderr: err_reader.join().unwrap_or_default(),
    })
}

/// Facts the browser computed, written into the page by a probe appended to a copy of the
/// report: what is visible, how it is laid out, and what the page's own controls do.
const PROBE: &str = r#"<script>
const q = (s) => [...document.querySelectorAll(s)];
const visible = (el) => {
  if (!el) return false;
  const r = el.getBoundingClientRect();
  const st = getComputedStyle(el);
  return r.width > 0 && r.height > 0 && st.visibility !== 'hidden' && st.display !== 'none';
};
const seen = (s) => visible(document.querySelector(s));
const shown = () => q('#all-tests tbody tr').filter(r => !r.hidden).length;
const probe = {};
probe.width = window.innerWidth;
probe.page_overflows = document.documentElement.scrollWidth > window.innerWidth + 1;
for (const s of ['#outcome', '#counts', '#facts', '#command-line', '#selected-tiers', '#git-commit', '#host',
                 '#files', '#failures', '#all-tests', '#test-search', '#result-filter', '#machine-events',
                 '#tiers', '#trend-chart', 'svg.timeline', '#slowest', '#theme']) {
  probe['visible ' + s] = seen(s);
}
probe.first_section = (document.querySelector('body > section') || {}).id;
probe.files = q('#files a').map(a => a.getAttribute('href'));
probe.command_line = (document.querySelector('#command-line') || {}).textContent;
probe.tiers_line = (document.querySelector('#selected-tiers') || {}).textContent;
probe.failures = q('#failures details.failure').length;
probe.attempt_rows = q('#failures table.attempts tbody tr').map(r => r.cells[1].textContent.trim());
probe.flaky_attempt_rows = q('#flaky table.attempts tbody tr').length;
probe.events = q('#machine-events tbody tr').map(r => [r.cells[1].textContent, r.cells[3].textContent, r.cells[4].textContent]);
const svg = document.querySelector('svg.timeline');
const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
probe.svg_width = Math.round(box.width);
probe.series = Object.fromEntries(q('svg.timeline polyline.series').map(p => [p.classList[1], Math.round(p.getTotalLength())]));
const labels = q('svg.timeline text.tier-label').filter(t => t.textContent).map(t => t.getBoundingClientRect());
probe.labels = q('svg.timeline text.tier-label').map(t => t.textContent);
probe.labels_overlap = labels.some((a, i) => labels.slice(i + 1).some(b =>
  a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom));
probe.trend_bars = q('#trend-chart rect.run-bar').filter(visible).length;
probe.trend_this = q('#trend-chart rect.this-run').length;
probe.rows_all = shown();
// The page's filter: only failed tests, then a search by name.
const boxes = q('#result-filter input');
boxes.forEach(b => { b.checked = b.value === 'failed'; b.dispatchEvent(new Event('change')); });
probe.rows_failed = shown();
boxes.forEach(b => { b.checked = true; b.dispatchEvent(new Event('change')); });
const search = document.querySelector('#test-search');
search.value = 'FLAKY_LISTED';
search.dispatchEvent(new Event('input'));
probe.rows_searched = shown();
probe.searched = q('#all-tests tbody tr').filter(r => !r.hidden).map(r => r.dataset.name);
probe.shown_count = (document.querySelector('#shown-count') || {}).textContent;
search.value = '';
search.dispatchEvent(new Event('input'));
// Both themes: the button switches, and the page's colours follow.
const bg = () => getComputedStyle(document.body).backgroundColor;
const first = bg();
document.querySelector('#theme').click();
const second = bg();
document.querySelector('#theme').click();
probe.themes = [first, second, bg()];
const pre = document.createElement('pre');
pre.id = 'probe';
pre.textContent = JSON.stringify(probe);
document.body.appendChild(pre);
</script>"#;

const JOURNAL: &str = r#"{"event":"op","ts_ms":1,"run_id":"r","pid":1,"test":"fixture-basic::tests::passes","op":"create","machine":"test-a","attempt":1,"timeout_ms":180000,"waited_ms":0,"duration_ms":15234,"outcome":"ok","recovered":false,"exit_code":0}
{"event":"op","ts_ms":2,"run_id":"r","pid":1,"test":"fixture-basic::tests::passes","op":"create","machine":"test-b","attempt":2,"timeout_ms":180000,"waited_ms":1200,"duration_ms":180000,"outcome":"timed-out","recovered":true,"exit_code":null}
{"event":"op","ts_ms":3,"run_id":"r","pid":1,"test":"fixture-basic::tests::flaky_listed","op":"clone","machine":"test-c","attempt":1,"timeout_ms":180000,"waited_ms":0,"duration_ms":2100,"outcome":"ok","recovered":false,"exit_code":0}
{"event":"owned","machine":"test-a"}
{"event":"op","ts_ms":4,"run_id":"r","pid":1,"test":null,"op":"delete","machine":"test-a","attempt":1,"timeout_ms":60000,"waited_ms":0,"duration_ms":900,"outcome":"ok","recovered":false,"exit_code":0}
"#;

/// Chromium on this machine, or why the test cannot run (an error when CI=true).
fn browser_or_skip() -> Option<PathBuf> {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let Some(browser) = chromium() else {
        assert!(!ci, "CI=true: Chromium must be installed (.ci/run installs it)");
        eprintln!(
            "SKIPPED: no Chromium on PATH, so report.html cannot be checked in a browser. \
             `.ci/run` installs it (apt-get install -y chromium)."
        );
        return None;
    };
    match run_chromium(&browser, &["--dump-dom"], "about:blank") {
        Ok(out) if out.status.success() => Some(browser),
        Ok(out) => {
            assert!(
                !ci,
                "CI=true: {} does not start: {}",
                browser.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            eprintln!("SKIPPED: {} does not start here ({})", browser.display(), out.status);
            None
        }
        Err(e) => {
            assert!(!ci, "CI=true: {} does not start: {e}", browser.display());
            eprintln!("SKIPPED: {} does not start here: {e}", browser.display());
            None
        }
    }
}

/// A PNG's width, from its header.
fn png_width(png: &[u8]) -> Option<u32> {
    (png.len() > 24 && png.starts_with(b"\x89PNG")).then(|| u32::from_be_bytes([png[16], png[17], png[18], png[19]]))
}

/// An earlier run's summary, for the trend.
fn earlier_summary(run_id: &str, outcome: &str, passed: u64, failed: u64, ms: u64) -> String {
    format!(
        r#"{{"schema":1,"run_id":"{run_id}","outcome":"{outcome}","duration_ms":{ms},"started_at":"2027-01-01T00:00:00Z","exit_code":0,"nextest_version":"0.9.143","tiers":[{{"name":"unit","outcome":"{outcome}","duration_ms":{ms},"tests":{{"passed":{passed},"failed":{failed},"flaky":0,"timed_out":0,"skipped":0}},"failed_tests":[],"flaky_tests":[]}}],"machines":{{"created":0,"recovered":0,"retried":0,"leftover":0,"peak_concurrent_creates":0}},"resources":{{"peak_memory_percent":null,"peak_swap_percent":null}},"gate":{{"evaluated":false,"passed":false,"violations":[]}}}}"#
    )
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_tree(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn report_html_at_1400_and_800_pixels_in_chromium() {
    let Some(browser) = browser_or_skip() else { return };

    // A real failed run, laid out as under <target-dir>/orbtest/runs/ with two earlier runs,
    // plus machine operations in its journal; `report` renders the page again from the files.
    let (s, out) = mixed_run();
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let root = tempfile::tempdir().unwrap();
    let runs = root.path().join("runs");
    let run_id = s.summary()["run_id"].as_str().unwrap().to_string();
    let page_dir = runs.join(&run_id);
    copy_tree(&run_dir(&s), &page_dir);
    std::fs::write(page_dir.join("journal.jsonl"), JOURNAL).unwrap();
    // `report` writes a page only where there is none.
    std::fs::remove_file(page_dir.join("report.html")).unwrap();
    for (i, (outcome, passed, failed, ms)) in [("passed", 10, 0, 4000), ("failed", 8, 2, 6500)]
        .into_iter()
        .enumerate()
    {
        let id = format!("20000101-00000{i}-aaaaaa");
        std::fs::create_dir_all(runs.join(&id)).unwrap();
        std::fs::write(
            runs.join(&id).join("summary.json"),
            earlier_summary(&id, outcome, passed, failed, ms),
        )
        .unwrap();
    }
    let shown = s.command(["report".as_ref(), page_dir.as_os_str()]).output().unwrap();
    assert_eq!(code(&shown), 0, "{}", stderr(&shown));
    let html = std::fs::read_to_string(page_dir.join("report.html")).unwrap();
    // Nothing is fetched: no URL but the SVG namespace.
    let external = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    assert!(
        !external.contains("http://") && !external.contains("https://"),
        "{html}"
    );
    // Each link points at a file that is there beside the page.
    for href in ["summary.json", "junit.xml", "tiers/unit/nextest.log"] {
        assert!(html.contains(&format!("href=\"{href}\"")), "no link to {href}");
        assert!(page_dir.join(href).is_file(), "{href} is not beside the page");
    }
    let probed = page_dir.join("probed.html");
    std::fs::write(&probed, html.replace("</body>", &format!("{PROBE}</body>"))).unwrap();
    let url = format!("file://{}", probed.display());
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR"));

    for width in [1400u32, 800] {
        let shot = shots.join(format!("report-{width}.png"));
        let _ = std::fs::remove_file(&shot);
        let size = format!("--window-size={width},1600");
        let out = run_chromium(&browser, &[&format!("--screenshot={}", shot.display()), &size], &url).unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let png = std::fs::read(&shot).unwrap_or_else(|e| panic!("no screenshot at {width} px: {e}"));
        assert_eq!(png_width(&png), Some(width), "the screenshot is {width} px wide");
        assert!(
            png.len() > 20_000,
            "a page was drawn at {width} px, not a blank: {} bytes",
            png.len()
        );

        let out = run_chromium(&browser, &["--dump-dom", &size], &url).unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let dom = String::from_utf8_lossy(&out.stdout);
        let json = dom
            .split("<pre id=\"probe\">")
            .nth(1)
            .and_then(|rest| rest.split("</pre>").next())
            .unwrap_or_else(|| panic!("the probe did not run at {width} px:\n{dom}"));
        let probe: serde_json::Value =
            serde_json::from_str(&json.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")).unwrap();
        let at = format!("at {width} px: {probe}");

        assert_eq!(probe["width"], width, "{at}");
        for (key, value) in probe.as_object().unwrap() {
            if let Some(what) = key.strip_prefix("visible ") {
                assert_eq!(value, true, "{what} is not visible {at}");
            }
        }
        assert_eq!(probe["page_overflows"], false, "the page scrolls sideways {at}");
        assert_eq!(probe["first_section"], "failures", "failures come first {at}");
        assert_eq!(probe["failures"], 2, "{at}");
        assert!(
            probe["command_line"].as_str().unwrap().starts_with("cargo orbtest "),
            "{at}"
        );
        assert!(probe["tiers_line"].as_str().unwrap().contains("unit"), "{at}");
        assert!(probe["tiers_line"].as_str().unwrap().contains("integration"), "{at}");
        assert_eq!(
            probe["files"],
            serde_json::json!(["summary.json", "junit.xml", "tiers/unit/nextest.log"]),
            "{at}"
        );
        // Every attempt: fails_on_request's and hangs_on_request's (1 each: no retries there).
        assert!(probe["attempt_rows"].as_array().unwrap().len() >= 2, "{at}");
        assert!(
            probe["attempt_rows"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a == "timed out"),
            "{at}"
        );
        assert_eq!(probe["flaky_attempt_rows"], 2, "flaky_listed failed, then passed {at}");
        // Which test and machine each recovery, retry and clone was for.
        let events = probe["events"].as_array().unwrap();
        assert_eq!(events.len(), 2, "{at}");
        assert!(events[0][0].as_str().unwrap().starts_with("recovered"), "{at}");
        assert_eq!(events[0][1], "test-b", "{at}");
        assert_eq!(events[0][2], "fixture-basic::tests::passes", "{at}");
        assert_eq!(events[1][0], "clone of a baseline", "{at}");
        assert_eq!(events[1][1], "test-c", "{at}");
        // The chart and its tier names, none over another.
        assert!(probe["svg_width"].as_u64() > Some(width as u64 / 2), "{at}");
        for series in ["memory", "swap", "running"] {
            assert!(probe["series"][series].as_u64() > Some(0), "{series} is drawn {at}");
        }
        assert_eq!(probe["labels"], serde_json::json!(["unit"]), "{at}");
        assert_eq!(probe["labels_overlap"], false, "{at}");
        // The trend: the two earlier runs and this one.
        assert_eq!(probe["trend_bars"], 3, "{at}");
        assert_eq!(probe["trend_this"], 1, "{at}");
        // The test table: every test, only the failed ones, then a search.
        let all = probe["rows_all"].as_u64().unwrap();
        let counted: u64 = s.summary()["tiers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                ["passed", "failed", "timed_out", "skipped"]
                    .iter()
                    .map(|k| t["tests"][k].as_u64().unwrap())
                    .sum::<u64>()
            })
            .sum();
        assert_eq!(all, counted, "every test of the run is listed {at}");
        assert_eq!(
            probe["rows_failed"], 1,
            "only failed (the timeout is its own result) {at}"
        );
        assert_eq!(probe["rows_searched"], 1, "{at}");
        assert_eq!(
            probe["searched"],
            serde_json::json!(["fixture-basic tests::flaky_listed"]),
            "{at}"
        );
        assert_eq!(probe["shown_count"], format!("1 of {all} shown"), "{at}");
        // Light and dark: the button switches the page's colours and back.
        let themes = probe["themes"].as_array().unwrap();
        assert_ne!(themes[0], themes[1], "the theme button changes the colours {at}");
        assert_eq!(themes[0], themes[2], "{at}");
    }
    // Without its script the page still shows everything: the tests, the failures.
    assert!(html.contains("<table id=\"all-tests\">"));
}
