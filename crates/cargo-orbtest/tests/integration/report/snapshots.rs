//! What people read: the final terminal summary and the plain progress lines CI logs show.

use std::path::Path;
use std::time::Duration;

use orbtest::events::{Event, Observer, StepOutcome};
use orbtest::results::TestStatus;
use orbtest::view::{PlainProgress, Style, render_summary};

use crate::report::data;

#[test]
fn terminal_summary_of_a_failed_run_with_a_failed_gate() {
    let text = render_summary(
        &data::mixed(),
        Style { color: false },
        Some(Path::new("/work/target/orbtest/latest")),
    );
    insta::assert_snapshot!(text);
}

#[test]
fn terminal_summary_of_a_green_run_with_the_gate() {
    let text = render_summary(&data::green(), Style { color: false }, None);
    insta::assert_snapshot!(text);
}

#[test]
fn terminal_summary_without_colour_has_no_control_characters() {
    let text = render_summary(&data::mixed(), Style { color: false }, None);
    assert!(!text.contains('\x1b'));
    let coloured = render_summary(&data::mixed(), Style { color: true }, None);
    assert!(coloured.contains('\x1b'), "--color always colours the summary");
}

/// A whole run as the runner and the monitor report it.
fn feed(view: &dyn Observer) {
    let run = data::mixed();
    let dir = Path::new("/tmp/run");
    view.event(&Event::RunStarted {
        run_id: &run.run_id,
        dir,
    });
    view.event(&Event::BuildStarted);
    view.event(&Event::BuildFinished {
        duration: Duration::from_millis(850),
        failure: None,
    });
    view.event(&Event::StepStarted {
        step: "provider health",
    });
    view.event(&Event::StepFinished {
        step: "provider health",
        duration: Duration::from_millis(120),
        outcome: StepOutcome::Done("OrbStack 1.10.2".into()),
    });
    for tier in &run.tiers[..2] {
        view.event(&Event::TierStarted {
            tier: &tier.name,
            machines: tier.name == "integration",
        });
        view.event(&Event::TierProcess {
            tier: &tier.name,
            pid: 4242,
        });
        let total = tier.tests.len();
        view.event(&Event::TierTotal {
            tier: &tier.name,
            total,
        });
        for (i, t) in tier.tests.iter().enumerate() {
            let sample = data::sample(1000 * (i as u64 + 1), Some(&tier.name), (total - i) as u64);
            view.event(&Event::Resources { sample: &sample });
            view.event(&Event::TierOutput {
                tier: &tier.name,
                line: "        PASS [   0.012s] (1/3) app config::parses",
            });
            if t.status.is_failure() {
                let message: Vec<String> = t.message.iter().cloned().collect();
                view.event(&Event::TestFailed {
                    tier: &tier.name,
                    test: &t.id.shown(),
                    attempt: t.attempts,
                    status: t.status,
                    message: &message,
                });
            }
            view.event(&Event::TestFinished {
                tier: &tier.name,
                test: &t.id.shown(),
                status: t.status,
                duration: t.duration,
                done: i + 1,
                total,
            });
        }
        view.event(&Event::TierFinished { result: tier });
    }
    view.event(&Event::TierSkipped {
        tier: "e2e",
        reason: "needs `integration`, which failed",
    });
    view.event(&Event::Note {
        message: "postflight: deleted 4 machines",
    });
}

#[test]
fn plain_progress_in_ci() {
    // No rate limit, so every progress line shows.
    let progress = PlainProgress::with_interval(Vec::new(), Duration::ZERO);
    feed(&progress);
    let text = String::from_utf8(progress.into_inner()).unwrap();
    assert!(
        !text.chars().any(|c| c.is_control() && c != '\n'),
        "plain progress has no control characters"
    );
    insta::assert_snapshot!(text);
}

#[test]
fn plain_progress_in_github_actions_groups_each_tier() {
    let progress = PlainProgress::with_interval(Vec::new(), Duration::from_secs(3600)).github_groups(true);
    feed(&progress);
    let text = String::from_utf8(progress.into_inner()).unwrap();
    insta::assert_snapshot!(text);
}

#[test]
fn plain_progress_is_rate_limited_to_one_line_per_interval() {
    let progress = PlainProgress::with_interval(Vec::new(), Duration::from_secs(3600));
    progress.event(&Event::TierStarted {
        tier: "fast",
        machines: false,
    });
    for done in 1..=500 {
        progress.event(&Event::TestFinished {
            tier: "fast",
            test: "app t",
            status: TestStatus::Passed,
            duration: Duration::from_millis(3),
            done,
            total: 500,
        });
        let sample = data::sample(done as u64 * 100, Some("fast"), 2);
        progress.event(&Event::Resources { sample: &sample });
    }
    let text = String::from_utf8(progress.into_inner()).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
}
