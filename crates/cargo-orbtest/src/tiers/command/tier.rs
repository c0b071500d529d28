//! One command tier: its attempts within the tier deadline, their JUnit or exit codes, and the
//! tier's result.

use std::path::{Path, PathBuf};

use super::{attempts, process};
use crate::junit;
use std::time::{Duration, Instant, SystemTime};

use crate::config::placeholders;
use crate::config::{Backoff, CommandTier, Config, Retries, Threads, Tier};
use crate::errors::{Error, Result};
use crate::events::{Event, Observer};
use crate::report::RunDir;
use crate::results::{TestCounts, TestId, TestResult, TestStatus, TierOutcome, TierResult};
use crate::signals::Interrupts;
use orbtest_machines::files::write_atomic;

/// Everything one command tier needs to run.
pub(crate) struct CommandRun<'a> {
    pub tier: &'a Tier,
    pub command: &'a CommandTier,
    pub config_dir: &'a Path,
    pub dir: &'a RunDir,
    /// Environment from the run (the shim's PATH and settings, workers) before the tier's own.
    pub env: Vec<(String, String)>,
    /// Copy the command's output to our stderr as it comes.
    pub echo: bool,
    pub observer: &'a dyn Observer,
    /// The run's interrupts: forwarded to the command, and no retry after one.
    pub interrupts: &'a Interrupts,
    /// This shard's tests for `{tests}`; `None` runs them all (`{tests}` is empty).
    pub tests: Option<Vec<String>>,
}

/// `{threads}`: the tier's `threads` as a number.
pub(crate) fn threads(threads: Threads) -> usize {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    match threads {
        Threads::NumCpus => cpus,
        Threads::Count(n) if n > 0 => n as usize,
        Threads::Count(n) => cpus.saturating_sub(n.unsigned_abs() as usize).max(1),
    }
}

/// The command line as one shell-quoted string, for messages and reports.
pub(crate) fn display(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%{}".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Checks before anything runs that each selected command tier's program exists, so a typo
/// fails in a second with where it is in the config, not after preflight.
pub(crate) fn check_programs(config: &Config, tiers: &[Tier]) -> Result<()> {
    for tier in tiers {
        let Some(command) = &tier.command else { continue };
        let Some(program) = command.argv.first() else { continue };
        if program.contains('{') {
            continue;
        }
        let workdir = command.workdir(&config.dir());
        if !workdir.is_dir() {
            return Err(Error::Infrastructure(format!(
                "tier `{}`: its workdir {} is not a directory\n  = help: fix `workdir` in [tiers.{}] ({}); it is relative to the config file",
                tier.name,
                workdir.display(),
                tier.name,
                config.path().display()
            )));
        }
        let path = process::search_path(&command.env);
        if let Err(e) = process::resolve_program(program, path.as_deref(), &workdir) {
            let at = tier
                .spans
                .command_args
                .first()
                .or(tier.spans.command.as_ref())
                .map(|s| config.location(s.start))
                .unwrap_or_else(|| config.path().display().to_string());
            return Err(Error::Infrastructure(format!(
                "tier `{}`: command {e}, at {at}\n  = help: install it, or fix `command` in [tiers.{}]; a relative path is taken from the tier's workdir ({})",
                tier.name,
                tier.name,
                workdir.display()
            )));
        }
    }
    Ok(())
}

/// What one attempt left behind.
struct CommandAttempt {
    tests: Vec<TestResult>,
    exit: process::CommandExit,
    /// Why the JUnit report could not be used, when one was expected or written.
    junit_problem: Option<String>,
    /// A report was written but could not be read: the attempt failed, whatever the exit code.
    unreadable: bool,
}

/// Runs the tier: attempts until one passes, retries run out, the deadline passes or we are
/// interrupted. The second value is an infrastructure problem that makes the run an error.
pub(crate) fn run_tier(run: &CommandRun<'_>) -> Result<(TierResult, Option<String>)> {
    let tier = run.tier;
    let tier_dir = run
        .dir
        .tier_dir(&tier.name)
        .map_err(|e| Error::io("cannot create", run.dir.path.join("tiers"), e))?;
    let log_path = tier_dir.join("command.log");
    let mut log = process::Log::open(&log_path, run.echo).map_err(|e| Error::io("cannot create", &log_path, e))?;
    run.observer.event(&Event::TierStarted {
        tier: &tier.name,
        machines: tier.machines,
    });
    let started_at = SystemTime::now();
    let clock = Instant::now();
    let program = run.command.argv.first().cloned().unwrap_or_default();
    let tr = TierRunner {
        run,
        tier_dir,
        workdir: run.command.workdir(run.config_dir),
        threads: threads(tier.threads),
        deadline: clock + tier.timeout,
        expects_junit: uses_junit(run.command),
        pseudo_id: TestId {
            binary_id: tier.name.clone(),
            name: Path::new(&program)
                .file_name()
                .map_or_else(|| program.clone(), |n| n.to_string_lossy().into_owned()),
        },
    };

    let mut attempts: Vec<CommandAttempt> = Vec::new();
    let mut infra_error = None;
    for number in 1..=tier.retries.count + 1 {
        if number > 1 && !sleep_unless_interrupted(delay_before(&tier.retries, number - 1), tr.deadline, run.interrupts)
        {
            break;
        }
        match tr.attempt(number, &mut log) {
            Ok(attempt) => {
                let done =
                    attempt.passed() || attempt.exit.status.timed_out || attempt.exit.status.interrupted.is_some();
                attempts.push(attempt);
                if done || Instant::now() >= tr.deadline {
                    break;
                }
            }
            Err(e) => {
                let message = format!("tier `{}`: command {e}", tier.name);
                log.line(&format!("orbtest: {message}"));
                infra_error = Some(message);
                break;
            }
        }
    }

    let mut result = TierResult {
        command: Some(display(&run.command.argv)),
        ..TierResult::ran(&tier.name, started_at, clock.elapsed(), log_path)
    };
    tr.conclude(&mut result, &attempts, infra_error.as_deref(), &mut log);
    Ok((result, infra_error))
}

/// One command tier while it runs.
struct TierRunner<'a, 'b> {
    run: &'a CommandRun<'b>,
    tier_dir: PathBuf,
    workdir: PathBuf,
    threads: usize,
    /// The tier's timeout, for every attempt together.
    deadline: Instant,
    expects_junit: bool,
    /// `<tier>::<program>`: the command's own result when it wrote no JUnit.
    pseudo_id: TestId,
}

impl TierRunner<'_, '_> {
    /// Runs attempt `number` (1 is the first run, later ones are retries); `Err` when the
    /// command could not be started.
    fn attempt(&self, number: u32, log: &mut process::Log) -> std::result::Result<CommandAttempt, process::SpawnError> {
        let (tier, command) = (self.run.tier, self.run.command);
        let junit_path = attempt_junit(&self.tier_dir, number);
        let _ = std::fs::remove_file(&junit_path);
        let _ = std::fs::remove_dir_all(&junit_path);
        let tests = self.run.tests.as_deref().unwrap_or_default();
        let value = |name: &str| -> Option<String> {
            Some(match name {
                "junit" => junit_path.display().to_string(),
                "threads" => self.threads.to_string(),
                "tier" => tier.name.clone(),
                "run_dir" => self.run.dir.path.display().to_string(),
                "tests" => tests.join(" "),
                _ => return None,
            })
        };
        let template = match (&command.rerun, number) {
            (Some(rerun), n) if n > 1 => rerun,
            _ => &command.argv,
        };
        let argv: Vec<String> = template
            .iter()
            .flat_map(|a| {
                // `{tests}` alone is one argument per test (none without --shard).
                if a == "{tests}" {
                    tests.to_vec()
                } else {
                    vec![placeholders::expand(a, value)]
                }
            })
            .collect();
        let mut env = self.run.env.clone();
        env.extend([
            (crate::env::TIER.to_string(), tier.name.clone()),
            (crate::env::ATTEMPT.to_string(), number.to_string()),
            (crate::env::JUNIT.to_string(), junit_path.display().to_string()),
        ]);
        env.extend(
            command
                .env
                .iter()
                .map(|(k, v)| (k.clone(), placeholders::expand(v, value))),
        );

        let shown = display(&argv);
        log.line(&format!(
            "orbtest: attempt {number}: {shown} (in {})",
            self.workdir.display()
        ));
        let observer = self.run.observer;
        observer.event(&Event::TierCommand {
            tier: &tier.name,
            attempt: number,
            command: &shown,
        });
        let spawn = process::Spawn {
            argv: &argv,
            workdir: &self.workdir,
            env: &env,
            deadline: self.deadline,
            grace: tier.grace_period,
            interrupts: self.run.interrupts.clone(),
        };
        let attempt_clock = Instant::now();
        let exit = process::run(
            &spawn,
            &mut |pid| observer.event(&Event::TierProcess { tier: &tier.name, pid }),
            &mut |line| {
                let line = orbtest_machines::redact::global().redact(line);
                log.line(&line);
                observer.event(&Event::TierOutput {
                    tier: &tier.name,
                    line: &line,
                });
            },
        )?;
        if exit.status.timed_out {
            log.line(&format!(
                "orbtest: the tier's timeout ({}) passed: the command's process group was killed",
                humantime::format_duration(tier.timeout)
            ));
        }
        let attempt = read_attempt(
            &junit_path,
            self.expects_junit,
            exit,
            attempt_clock.elapsed(),
            &self.pseudo_id,
            tier,
        );
        if let Some(problem) = &attempt.junit_problem {
            log.line(&format!("orbtest: {problem}"));
            if self.expects_junit {
                let message = format!("tier `{}`: {problem}", tier.name);
                observer.event(&Event::Note { message: &message });
            }
        }
        Ok(attempt)
    }

    /// The tier's tests, counts, outcome and normalized JUnit from its attempts.
    fn conclude(
        &self,
        result: &mut TierResult,
        attempts: &[CommandAttempt],
        infra_error: Option<&str>,
        log: &mut process::Log,
    ) {
        let tier = self.run.tier;
        let Some(last) = attempts.last() else {
            result.reason = Some(infra_error.unwrap_or("the command never ran").to_string());
            return;
        };
        result.nextest_exit = last.exit.status.code;
        let final_ok = last.passed();
        let per_attempt: Vec<Vec<TestResult>> = attempts.iter().map(|a| a.tests.clone()).collect();
        let mut tests = attempts::merge(&per_attempt);
        // The command itself failed once (no JUnit then) and later passed: flaky, not failed.
        if final_ok {
            for t in tests
                .iter_mut()
                .filter(|t| t.id == self.pseudo_id && t.status.is_failure())
            {
                t.status = TestStatus::Flaky;
            }
        }
        result.counts = TestCounts::of(&tests);
        let junit_path = self.run.dir.junit_path(&tier.name);
        let written = junit::normalized(&tier.name, &tests)
            .map_err(|e| format!("cannot write JUnit: {e}"))
            .and_then(|xml| {
                write_atomic(&junit_path, xml.as_bytes())
                    .map_err(|e| format!("cannot write {}: {e}", junit_path.display()))
            });
        match written {
            Ok(()) => result.junit = Some(junit_path),
            Err(e) => log.line(&format!("orbtest: {e}")),
        }
        result.tests = tests;
        if final_ok && result.counts.failures() == 0 && infra_error.is_none() {
            result.outcome = TierOutcome::Passed;
        } else if last.unreadable {
            result.reason = last.junit_problem.clone();
        } else if result.counts.failures() == 0 {
            result.reason = Some(match (infra_error, last.exit.status.interrupted) {
                (Some(e), _) => e.to_string(),
                (None, Some(i)) => format!("interrupted by {}", i.name()),
                (None, None) => format!(
                    "`{}` {} although its JUnit reports no failure: {}",
                    self.pseudo_id.name,
                    last.exit.status.describe(),
                    last_line(&last.exit.tail)
                ),
            });
        }
    }
}

impl CommandAttempt {
    /// The command succeeded and reported no failing test.
    fn passed(&self) -> bool {
        self.exit.status.success() && !self.unreadable && !self.tests.iter().any(|t| t.status.is_failure())
    }
}

/// Reads an attempt's JUnit (a file, or a directory of them); without one, the command's exit
/// code becomes one pseudo-test. A timed-out attempt adds a timed-out pseudo-test to whatever
/// the runner managed to write.
fn read_attempt(
    junit_path: &Path,
    expects_junit: bool,
    exit: process::CommandExit,
    duration: Duration,
    pseudo_id: &TestId,
    tier: &Tier,
) -> CommandAttempt {
    let mut unreadable = false;
    let (mut tests, junit_problem, had_junit) = if junit_path.exists() {
        match junit::read_path(junit_path) {
            Ok(tests) => (tests, None, true),
            Err(e) => {
                // A report that exists but cannot be read (truncated, not XML, another schema)
                // may hide failures: the exit code alone cannot pass the tier.
                unreadable = true;
                (
                    Vec::new(),
                    Some(format!(
                        "its JUnit report could not be read: {}",
                        crate::report::excerpt(&e.to_string(), 5, 2000)
                    )),
                    false,
                )
            }
        }
    } else if expects_junit {
        (
            Vec::new(),
            Some(format!(
                "the command wrote no JUnit report at {} (`{{junit}}`)",
                junit_path.display()
            )),
            false,
        )
    } else {
        (Vec::new(), None, false)
    };
    let pseudo = |status: TestStatus, message: String| {
        let tail = orbtest_machines::redact::global().redact(&exit.tail).into_owned();
        let attempt = crate::results::Attempt {
            message: Some(message),
            output: (!tail.is_empty() && status.is_failure()).then_some(tail),
            ..crate::results::Attempt::new(1, status, duration)
        };
        junit::from_attempts(pseudo_id.clone(), status, vec![attempt])
    };
    if exit.status.timed_out {
        tests.push(pseudo(
            TestStatus::TimedOut,
            format!(
                "the command ran past the tier's timeout ({}) and its process group was killed",
                humantime::format_duration(tier.timeout)
            ),
        ));
    } else if !had_junit {
        let status = if exit.status.success() && !unreadable {
            TestStatus::Passed
        } else {
            TestStatus::Failed
        };
        let why = junit_problem.as_deref().unwrap_or("no JUnit report");
        tests.push(pseudo(
            status,
            format!("`{}` {} ({why})", pseudo_id.name, exit.status.describe()),
        ));
    }
    CommandAttempt {
        tests,
        exit,
        junit_problem,
        unreadable,
    }
}

/// Whether `{junit}` appears anywhere the command reads it.
fn uses_junit(command: &CommandTier) -> bool {
    let mentions = |s: &String| placeholders::check(s).is_ok_and(|names| names.contains(&"junit"));
    command.argv.iter().any(mentions)
        || command.rerun.iter().flatten().any(mentions)
        || command.env.iter().any(|(_, v)| mentions(v))
}

/// The pause before retry `n` (1 for the first retry).
fn delay_before(r: &Retries, n: u32) -> Duration {
    let mut d = match r.backoff {
        Backoff::Fixed => r.delay,
        Backoff::Exponential => r.delay.saturating_mul(2u32.saturating_pow(n.saturating_sub(1))),
    };
    if let Some(max) = r.max_delay {
        d = d.min(max);
    }
    if r.jitter && !d.is_zero() {
        d = d.mul_f64(0.5 + rand::random::<f64>() * 0.5);
    }
    d
}

/// Sleeps `wait` (cut short by the deadline or an interrupt); false when interrupted or out of
/// time.
fn sleep_unless_interrupted(wait: Duration, deadline: Instant, interrupts: &Interrupts) -> bool {
    let until = (Instant::now() + wait).min(deadline);
    let (tx, rx) = std::sync::mpsc::channel();
    let _listening = interrupts.listen(move |_, _| {
        let _ = tx.send(());
    });
    if interrupts.received().is_none() {
        let _ = rx.recv_timeout(until.saturating_duration_since(Instant::now()));
    }
    interrupts.received().is_none() && Instant::now() < deadline
}

fn last_line(tail: &str) -> String {
    let line = tail
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no output")
        .trim();
    crate::report::excerpt(line, 1, 500)
}

/// Where a tier's attempts write `{junit}`.
pub(super) fn attempt_junit(tier_dir: &Path, number: u32) -> PathBuf {
    tier_dir.join(format!("attempt-{number}.xml"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_shown_quoted_only_where_needed() {
        let argv: Vec<String> = ["pytest", "-q", "-k", "not slow", "--junitxml=/r/a.xml", "it's"]
            .map(String::from)
            .to_vec();
        assert_eq!(display(&argv), r"pytest -q -k 'not slow' --junitxml=/r/a.xml 'it'\''s'");
    }

    #[test]
    fn retry_delays_back_off_up_to_the_maximum() {
        let r = Retries {
            count: 3,
            delay: Duration::from_secs(1),
            backoff: Backoff::Exponential,
            max_delay: Some(Duration::from_secs(3)),
            jitter: false,
        };
        let delays: Vec<_> = (1..=3).map(|n| delay_before(&r, n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 3]);
    }

    #[test]
    fn threads_resolve_against_the_cpus() {
        let cpus = threads(Threads::NumCpus);
        assert!(cpus >= 1);
        assert_eq!(threads(Threads::Count(3)), 3);
        assert_eq!(threads(Threads::Count(-1024)), 1);
    }
}
