//! Issue #6's performance targets:
//! - resource sampling and the live view cost under 1% of one core over a 10-minute run;
//! - report.html for a run of 5,000 tests is under 2 MB and renders in Chromium in under 2 s.
//!
//! The first is measured as CPU time on the threads that do the work, over a shorter run with
//! a faster cadence, and extrapolated to ten minutes at the real cadence (one sample a second
//! with a live view; 5,000 tests finishing). Run: `cargo bench --bench report` (prints figures;
//! exits non-zero if a target is missed).

use std::io;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use orbtest::config::MonitorConfig;
use orbtest::events::{Event, Observer, Tee};
use orbtest::monitor::{Monitor, Probe, Sample};
use orbtest::report::html::{self, Band, Extras, Timeline};
use orbtest::report::journal::JournalOp;
use orbtest::results::{
    GateVerdict, MachineStats, ResourcePeaks, RunResult, TestCounts, TestId, TestResult, TestStatus, TierOutcome,
    TierResult,
};
use orbtest::view::{AnsiTerm, LiveView};

const TEN_MINUTES: f64 = 600.0;
const TESTS: usize = 5000;

fn main() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-report");
    std::fs::create_dir_all(&dir).unwrap();
    let mut ok = true;
    ok &= monitor_and_view_cost();
    ok &= html_size_and_render(&dir);
    if !ok {
        std::process::exit(1);
    }
}

/// CPU time used by the calling thread.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes into the timespec we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// A terminal that only counts the bytes drawn on it.
#[derive(Clone, Default)]
struct Sink(Arc<AtomicU64>);

impl io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.fetch_add(buf.len() as u64, Ordering::Relaxed);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn monitor_and_view_cost() -> bool {
    // Eight "running tests": children of this process, which plays nextest.
    let mut children: Vec<_> = (0..8)
        .map(|_| Command::new("sleep").arg("60").stdout(Stdio::null()).spawn().unwrap())
        .collect();

    // 1. The probe alone, in a tight loop.
    let mut probe = Probe::new();
    let n = 2000;
    let start = thread_cpu();
    let mut seen = 0;
    for _ in 0..n {
        let _ = probe.host();
        seen = probe.children(std::process::id());
    }
    let per_probe = (thread_cpu() - start) / n;

    // 2. The real monitor and live view for a few seconds at 10 samples a second, with
    //    5,000 tests finishing meanwhile.
    let run_dir = tempfile::tempdir().unwrap();
    let sink = Sink::default();
    let view = LiveView::on(
        AnsiTerm::new(Box::new(sink.clone()), Box::new(|| (40, 120))),
        Some(8),
        true,
        false,
    );
    let config = MonitorConfig {
        sample_every: Duration::from_millis(100),
    };
    let monitor = Monitor::new(&config, true, None, &view);
    let tee = Tee(vec![&monitor, &view]);
    let wall = Duration::from_secs(5);
    let (monitor_cpu, view_cpu, samples) = std::thread::scope(|s| {
        let sampler = s.spawn(|| {
            let t0 = thread_cpu();
            monitor.run();
            thread_cpu() - t0
        });
        let t0 = thread_cpu();
        tee.event(&Event::RunStarted {
            run_id: "bench",
            dir: run_dir.path(),
        });
        tee.event(&Event::TierStarted {
            tier: "integration",
            machines: false,
        });
        tee.event(&Event::TierProcess {
            tier: "integration",
            pid: std::process::id(),
        });
        tee.event(&Event::TierTotal {
            tier: "integration",
            total: TESTS,
        });
        let began = Instant::now();
        let mut view_cpu = thread_cpu() - t0;
        for done in 1..=TESTS {
            // Spread the tests over the run, as nextest would report them.
            let due = wall.mul_f64(done as f64 / TESTS as f64);
            if let Some(wait) = due.checked_sub(began.elapsed()) {
                std::thread::sleep(wait);
            }
            let t0 = thread_cpu();
            tee.event(&Event::TestFinished {
                tier: "integration",
                test: "app::api::test",
                status: if done % 97 == 0 {
                    TestStatus::Failed
                } else {
                    TestStatus::Passed
                },
                duration: Duration::from_millis(3),
                done,
                total: TESTS,
            });
            view_cpu += thread_cpu() - t0;
        }
        monitor.stop();
        let monitor_cpu = sampler.join().unwrap();
        (monitor_cpu, view_cpu, monitor.finish().samples)
    });
    view.finish();
    for c in &mut children {
        let _ = c.kill();
        let _ = c.wait();
    }

    // The monitor thread also drew the status line on each sample: its time covers sampling,
    // the timeline and the view's per-sample work.
    let per_sample = monitor_cpu / samples.max(1) as u32;
    let per_test = view_cpu / TESTS as u32;
    // Ten minutes with a live view: a sample each second, 5,000 tests finishing.
    let projected = per_sample.as_secs_f64() * TEN_MINUTES + per_test.as_secs_f64() * TESTS as f64;
    let percent = projected / TEN_MINUTES * 100.0;
    println!(
        "monitor-probe: {:.1}µs per sample (host memory/swap/CPU + {seen} children)",
        per_probe.as_secs_f64() * 1e6
    );
    println!(
        "monitor+view: {samples} samples in {:.1}s: monitor thread {:.1}ms ({:.1}µs/sample incl. timeline and status line), view on runner thread {:.1}ms ({:.1}µs/test), {} bytes drawn",
        wall.as_secs_f64(),
        monitor_cpu.as_secs_f64() * 1e3,
        per_sample.as_secs_f64() * 1e6,
        view_cpu.as_secs_f64() * 1e3,
        per_test.as_secs_f64() * 1e6,
        sink.0.load(Ordering::Relaxed)
    );
    println!(
        "monitor+view over 10 min (600 samples at 1 Hz, {TESTS} tests): {:.0}ms CPU = {percent:.3}% of one core (target < 1%)",
        projected * 1e3
    );
    percent < 1.0
}

fn synthetic_run() -> (RunResult, Vec<Timeline>, Vec<JournalOp>) {
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let output: String = (0..60)
        .map(|i| format!("log line {i}: connecting to test-machine-{i} <ok> & continuing\n"))
        .chain(["thread 'x' panicked at tests/api.rs:41:9:\nassertion `left == right` failed\n".to_string()])
        .collect();
    let mut tiers = Vec::new();
    let names = ["fast", "integration", "e2e"];
    let per_tier = TESTS / names.len() + 1;
    let mut made = 0;
    let mut offset = 5_000;
    for (ti, name) in names.iter().enumerate() {
        let count = per_tier.min(TESTS - made);
        let tests: Vec<TestResult> = (0..count)
            .map(|i| {
                let k = made + i;
                let status = match k % 50 {
                    0 => TestStatus::Failed,
                    1 => TestStatus::Flaky,
                    _ => TestStatus::Passed,
                };
                TestResult {
                    id: TestId {
                        binary_id: format!("app::{name}_{}", i % 20),
                        name: format!("module_{}::case_{k:05}", i % 37),
                    },
                    status,
                    duration: Duration::from_millis((k as u64 * 7919) % 30_000),
                    attempts: if status == TestStatus::Passed { 1 } else { 2 },
                    message: (status != TestStatus::Passed).then(|| "thread panicked at tests/api.rs:41:9".into()),
                    output: (status == TestStatus::Failed).then(|| output.clone()),
                    attempt_log: Vec::new(),
                }
            })
            .collect();
        made += count;
        let duration = Duration::from_secs(60 + 120 * ti as u64);
        tiers.push(TierResult {
            name: name.to_string(),
            outcome: TierOutcome::Failed,
            reason: None,
            started_at: Some(start + Duration::from_millis(offset)),
            duration,
            counts: TestCounts::of(&tests),
            tests,
            nextest_exit: Some(100),
            log: None,
            junit: None,
            command: None,
            quarantined: Vec::new(),
            nothing_selected: false,
        });
        offset += duration.as_millis() as u64;
    }
    let run = RunResult {
        run_id: "20270115-080000-abcdef".into(),
        invocation: Default::default(),
        started_at: start,
        duration: Duration::from_millis(offset + 5_000),
        tiers,
        interrupted: None,
        error: None,
        nextest_version: "0.9.143".into(),
        machines: MachineStats {
            created: 400,
            cloned: 350,
            recovered: 4,
            retried: 9,
            peak_concurrent_creates: 2,
            leftover: Vec::new(),
            postflight_error: None,
        },
        resources: ResourcePeaks {
            peak_memory_percent: Some(81.0),
            peak_swap_percent: Some(22.0),
        },
        gate: GateVerdict {
            evaluated: true,
            passed: false,
            violations: vec!["100 tests failed (max 0)".into()],
        },
        shard: None,
    };
    let samples: Vec<Sample> = (0..=(run.duration.as_millis() as u64 / 2000))
        .map(|i| {
            let t_ms = i * 2000;
            let tier = html::bands_from_run(&run)
                .into_iter()
                .find(|b: &Band| b.start_ms <= t_ms && t_ms < b.end_ms)
                .map(|b| b.tier);
            Sample {
                t_ms,
                memory_percent: 40.0 + (i % 40) as f64,
                swap_percent: (i % 23) as f64,
                cpu_percent: 70.0,
                machines: Some(i % 9),
                creates_in_flight: Some(i % 3),
                running_tests: if tier.is_some() { 2 + i % 6 } else { 0 },
                tier,
                pressure_from: "host".into(),
            }
        })
        .collect();
    let bands = html::bands_from_run(&run);
    let ops: Vec<JournalOp> = (0..1500)
        .map(|i| JournalOp {
            ts_ms: i,
            test: Some(format!("app::integration::case_{i}")),
            op: ["create", "clone", "start", "delete", "run"][i as usize % 5].to_string(),
            machine: Some(format!("test-{i}")),
            attempt: 1 + u32::from(i % 40 == 0),
            timeout_ms: Some(180_000),
            waited_ms: i % 700,
            duration_ms: 500 + (i * 7919) % 20_000,
            outcome: if i % 97 == 0 { "timed-out" } else { "ok" }.into(),
            recovered: i % 194 == 0,
            exit_code: Some(0),
        })
        .collect();
    (
        run,
        vec![Timeline {
            label: None,
            samples,
            bands,
        }],
        ops,
    )
}

fn html_size_and_render(dir: &Path) -> bool {
    let (run, timelines, ops) = synthetic_run();
    let t0 = Instant::now();
    let page = html::render(
        &run,
        &Extras {
            timelines: &timelines,
            ops: &ops,
            merged_from: &[],
            shards: &[],
            trend: &[],
        },
    );
    let render_ms = t0.elapsed().as_secs_f64() * 1e3;
    let path = dir.join("report-5000.html");
    std::fs::write(&path, &page).unwrap();
    let mb = page.len() as f64 / 1_048_576.0;
    println!(
        "report.html: {TESTS} tests ({} failed, {} flaky), {} samples, {} machine ops: {:.2} MB, generated in {render_ms:.1}ms (target < 2 MB)",
        run.counts().failed,
        run.counts().flaky,
        timelines[0].samples.len(),
        ops.len(),
        mb
    );
    let size_ok = page.len() < 2 * 1024 * 1024;

    let Some(browser) = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|b| which::which(b).ok())
    else {
        println!("report.html render: SKIPPED (no Chromium; `.ci/run` installs it)");
        return size_ok;
    };
    // In-page: load + style + layout, measured by a probe appended to a copy of the page.
    let probed = dir.join("report-5000-probed.html");
    std::fs::write(
        &probed,
        page.replace(
            "</body>",
            "<script>document.body.getBoundingClientRect();const p=document.createElement('pre');p.id='probe';\
             p.textContent=String(Math.round(performance.now()));document.body.appendChild(p);</script></body>",
        ),
    )
    .unwrap();
    let in_page: Vec<f64> = (0..3)
        .filter_map(|_| {
            let out = chromium(&browser, &["--dump-dom"], &format!("file://{}", probed.display()));
            out.split("<pre id=\"probe\">")
                .nth(1)?
                .split("</pre>")
                .next()?
                .parse()
                .ok()
        })
        .collect();
    // Wall clock of a full screenshot, against the same for an empty page (browser start-up).
    let shot = dir.join("report-5000.png");
    let time = |url: &str| {
        let t0 = Instant::now();
        chromium(
            &browser,
            &[&format!("--screenshot={}", shot.display()), "--window-size=1200,3000"],
            url,
        );
        t0.elapsed().as_secs_f64()
    };
    let blank = time("about:blank");
    let full = time(&format!("file://{}", path.display()));
    let in_page_ms = in_page.iter().copied().fold(f64::NAN, f64::min);
    println!(
        "report.html render in Chromium: load+layout {in_page_ms:.0}ms in the page (best of {}); screenshot {:.2}s wall vs {:.2}s for an empty page (browser start-up) → {:.2}s for the report (target < 2 s); screenshot at {}",
        in_page.len(),
        full,
        blank,
        full - blank,
        shot.display()
    );
    size_ok && in_page_ms < 2000.0 && (full - blank) < 2.0
}

fn chromium(browser: &Path, args: &[&str], url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}
