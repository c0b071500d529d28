//! report.html in a real browser: headless Chromium loads a real run's report (with machine
//! operations in its journal) and the chart and tables are laid out. `.ci/run` installs
//! Debian's chromium; without a browser that starts, the test says so and skips.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::report::runs::{mixed_run, run_dir};
use crate::support::cli::{code, stderr};

/// Flags for a machine without network or display (without them Chromium waits on
/// connections it cannot make).
pub const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

pub fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"]
        .iter()
        .find_map(|name| which::which(name).ok())
}

/// Runs Chromium on `url` with extra arguments, killing it if it hangs.
pub fn run_chromium(browser: &Path, args: &[&str], url: &str) -> Result<Output, String> {
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

/// Layout facts the browser computed, written into the page by a probe appended to a copy of
/// the report (the report itself has no scripts).
const PROBE: &str = r#"<script>
const q = (s) => [...document.querySelectorAll(s)];
const svg = document.querySelector('svg.timeline');
const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
const probe = {
  svg_width: Math.round(box.width),
  svg_height: Math.round(box.height),
  series: Object.fromEntries(q('svg.timeline polyline.series').map(p => [p.classList[1], Math.round(p.getTotalLength())])),
  bands: q('svg.timeline g.tier-band text').map(t => t.textContent),
  tables: Object.fromEntries(q('table').map(t => [t.id, {rows: t.rows.length, height: Math.round(t.getBoundingClientRect().height)}])),
  ops: q('#machine-ops tbody tr td:first-child').map(td => td.textContent),
  failures: q('#failures details[open]').length,
};
const pre = document.createElement('pre');
pre.id = 'probe';
pre.textContent = JSON.stringify(probe);
document.body.appendChild(pre);
</script>"#;

const JOURNAL: &str = r#"{"event":"op","ts_ms":1,"run_id":"r","pid":1,"test":"fixture-basic::tests::passes","op":"create","machine":"test-a","attempt":1,"timeout_ms":180000,"waited_ms":0,"duration_ms":15234,"outcome":"ok","recovered":false,"exit_code":0}
{"event":"op","ts_ms":2,"run_id":"r","pid":1,"test":"fixture-basic::tests::passes","op":"create","machine":"test-b","attempt":2,"timeout_ms":180000,"waited_ms":1200,"duration_ms":180000,"outcome":"timed-out","recovered":true,"exit_code":null}
{"event":"owned","machine":"test-a"}
{"event":"op","ts_ms":3,"run_id":"r","pid":1,"test":null,"op":"delete","machine":"test-a","attempt":1,"timeout_ms":60000,"waited_ms":0,"duration_ms":900,"outcome":"ok","recovered":false,"exit_code":0}
"#;

#[test]
fn report_html_renders_its_chart_and_tables_in_chromium() {
    let Some(browser) = chromium() else {
        eprintln!(
            "SKIPPED: no Chromium on PATH, so report.html cannot be checked in a browser. \
             `.ci/run` installs it (apt-get install -y chromium)."
        );
        return;
    };
    match run_chromium(&browser, &["--dump-dom"], "about:blank") {
        Ok(out) if out.status.success() => {}
        Ok(out) => {
            eprintln!(
                "SKIPPED: {} does not start here ({}): {}",
                browser.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            return;
        }
        Err(e) => {
            eprintln!("SKIPPED: {} does not start here: {e}", browser.display());
            return;
        }
    }

    // A real run, plus machine operations in its journal; `report` renders the page again.
    let (s, out) = mixed_run();
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let page_dir = tempfile::tempdir().unwrap();
    for name in ["summary.json", "junit.xml", "timeline.jsonl"] {
        std::fs::copy(run_dir(&s).join(name), page_dir.path().join(name)).unwrap();
    }
    std::fs::write(page_dir.path().join("journal.jsonl"), JOURNAL).unwrap();
    let shown = s
        .command(["report".as_ref(), page_dir.path().as_os_str()])
        .output()
        .unwrap();
    assert_eq!(code(&shown), 0, "{}", stderr(&shown));
    let html = std::fs::read_to_string(page_dir.path().join("report.html")).unwrap();
    let probed = page_dir.path().join("probed.html");
    std::fs::write(&probed, html.replace("</body>", &format!("{PROBE}</body>"))).unwrap();

    let url = format!("file://{}", probed.display());
    let out = run_chromium(&browser, &["--dump-dom", "--window-size=1200,900"], &url).unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let dom = String::from_utf8_lossy(&out.stdout);
    let json = dom
        .split("<pre id=\"probe\">")
        .nth(1)
        .and_then(|rest| rest.split("</pre>").next())
        .unwrap_or_else(|| panic!("the probe did not run:\n{dom}"));
    let probe: serde_json::Value = serde_json::from_str(&json.replace("&amp;", "&")).unwrap();

    assert!(
        probe["svg_width"].as_u64() > Some(500),
        "the chart is laid out: {probe}"
    );
    assert!(probe["svg_height"].as_u64() > Some(100), "{probe}");
    for series in ["memory", "swap", "running"] {
        assert!(probe["series"][series].as_u64() > Some(0), "{series} is drawn: {probe}");
    }
    assert_eq!(probe["bands"], serde_json::json!(["unit"]), "tier boundaries: {probe}");
    assert_eq!(probe["tables"]["tiers"]["rows"], 3, "header + 2 tiers: {probe}");
    assert!(probe["tables"]["tiers"]["height"].as_u64() > Some(40), "{probe}");
    assert_eq!(probe["ops"], serde_json::json!(["create", "delete"]), "{probe}");
    assert!(probe["tables"]["slowest"]["rows"].as_u64() >= Some(4), "{probe}");
    assert_eq!(probe["failures"], 2, "{probe}");
    // The latency table's figures: p50/p95/max of create over its two attempts.
    assert!(
        html.contains("<td class=\"n\">15.2s</td><td class=\"n\">3m 00s</td><td class=\"n\">3m 00s</td>"),
        "{html}"
    );
}
