//! `[[quarantine]]` at run time: which tests each live entry covers, and a tier's results with
//! those tests' failures set apart. A quarantined test runs as usual; when it fails, it is
//! listed under the tier's `quarantined` and does not count as failed, so a tier whose only
//! failures are quarantined passes ("passed (N quarantined failed)"). An expired entry covers
//! nothing: the run warns, and the test counts again.
//!
//! Entries are nextest filtersets. nextest evaluates them for nextest tiers (one listing per
//! entry). A command tier's tests are not nextest's, so there an entry covers a test when one
//! of its `test(...)` predicates matches the test's id (`=exact`, `~substring` or a bare
//! substring, against `group::name` or the name alone, pytest node ids matching their JUnit
//! names); other predicates match nothing there.

use std::collections::{BTreeMap, HashMap};

use crate::config::{Config, QuarantineEntry};
use crate::results::{QuarantinedTest, TestStatus, TierOutcome, TierResult};
use crate::shard::ids::match_key;

/// Entries in force today, and those past their date.
pub(crate) fn split<'c>(config: &'c Config, today: &str) -> (Vec<&'c QuarantineEntry>, Vec<&'c QuarantineEntry>) {
    config.quarantine.iter().partition(|e| !e.expired(today))
}

/// One warning per expired entry, with its place in the config.
pub(crate) fn expiry_warnings(config: &Config, today: &str) -> Vec<String> {
    split(config, today)
        .1
        .into_iter()
        .map(|e| {
            format!(
                "{}: the quarantine of `{}` (owner {}) expired on {}: those tests count again; renew or remove the entry",
                config.location(e.span.start),
                e.test,
                e.owner,
                e.expires
            )
        })
        .collect()
}

/// Which entry covers each test, by test name (`binary-id::name`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Covered {
    /// nextest tests: name → entry index in the config.
    nextest: HashMap<String, usize>,
    /// Entries for command tiers (by index).
    command: Vec<usize>,
}

impl Covered {
    /// `matches[i]` holds the nextest tests entry `live[i]` selects.
    pub(crate) fn new(config: &Config, live: &[&QuarantineEntry], matches: Vec<Vec<String>>) -> Self {
        let index = |e: &QuarantineEntry| config.quarantine.iter().position(|c| c == e).unwrap_or(0);
        let mut nextest = HashMap::new();
        for (entry, names) in live.iter().zip(matches) {
            for name in names {
                nextest.entry(name).or_insert(index(entry));
            }
        }
        Self {
            nextest,
            command: live.iter().map(|e| index(e)).collect(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.nextest.is_empty() && self.command.is_empty()
    }

    fn entry_for<'c>(&self, config: &'c Config, command_tier: bool, id: &str) -> Option<&'c QuarantineEntry> {
        if command_tier {
            self.command
                .iter()
                .map(|&i| &config.quarantine[i])
                .find(|e| command_matches(&e.test, id))
        } else {
            self.nextest.get(id).map(|&i| &config.quarantine[i])
        }
    }
}

/// Sets a finished tier's quarantined failures apart; a tier that failed only through them
/// passes.
pub(crate) fn apply(config: &Config, covered: &Covered, command_tier: bool, tier: &mut TierResult) {
    if covered.is_empty() {
        return;
    }
    let mut found = Vec::new();
    for test in tier.tests.iter().filter(|t| t.status.is_failure()) {
        if let Some(e) = covered.entry_for(config, command_tier, &test.id.to_string()) {
            found.push(QuarantinedTest {
                id: test.id.clone(),
                status: test.status,
                reason: e.reason.clone(),
                owner: e.owner.clone(),
                expires: e.expires.clone(),
            });
        }
    }
    for q in &found {
        match q.status {
            TestStatus::TimedOut => tier.counts.timed_out = tier.counts.timed_out.saturating_sub(1),
            _ => tier.counts.failed = tier.counts.failed.saturating_sub(1),
        }
        tier.counts.quarantined += 1;
    }
    tier.quarantined.extend(found);
    // Failed through its tests alone (no other reason), and none of those is left.
    if tier.outcome == TierOutcome::Failed
        && tier.reason.is_none()
        && tier.counts.failures() == 0
        && tier.counts.not_run == 0
        && tier.counts.quarantined > 0
    {
        tier.outcome = TierOutcome::Passed;
    }
}

/// Whether a filterset's `test(...)` predicates (joined by `|`, `+` or `or`) match a command
/// tier's test `id`.
pub(crate) fn command_matches(filterset: &str, id: &str) -> bool {
    let name = id.rsplit("::").next().unwrap_or(id);
    let key = match_key(id);
    test_matchers(filterset).iter().any(|m| match m {
        Matcher::Exact(s) => s == id || s == name || match_key(s) == key,
        Matcher::Contains(s) => id.contains(s.as_str()) || key.contains(&match_key(s)),
    })
}

enum Matcher {
    Exact(String),
    Contains(String),
}

/// The `test(...)` predicates of a filterset, outermost level of unions only.
fn test_matchers(filterset: &str) -> Vec<Matcher> {
    let mut out = Vec::new();
    let mut rest = filterset;
    while let Some(start) = rest.find("test(") {
        let before = &rest[..start];
        // Inside `not`, `&` or `-`, the predicate does not widen the set: skip it.
        let negated = before.trim_end().ends_with("not") || before.trim_end().ends_with('!');
        let body_start = start + "test(".len();
        let mut end = None;
        let mut escaped = false;
        for (i, c) in rest[body_start..].char_indices() {
            match c {
                '\\' if !escaped => escaped = true,
                ')' if !escaped => {
                    end = Some(body_start + i);
                    break;
                }
                _ => escaped = false,
            }
        }
        let Some(end) = end else { break };
        let raw = unescape(&rest[body_start..end]);
        if !negated && !filterset.contains('&') && !filterset.contains(" - ") {
            out.push(match raw.strip_prefix('=') {
                Some(exact) => Matcher::Exact(exact.to_string()),
                None => Matcher::Contains(raw.strip_prefix('~').unwrap_or(&raw).to_string()),
            });
        }
        rest = &rest[end + 1..];
    }
    out
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Quarantine entries to suggest, as TOML, for tests with a flake rate over `threshold`.
pub(crate) fn suggestions(
    flakes: &[crate::ledger::TestFlakes],
    threshold: f64,
    config: &Config,
    today: &str,
) -> String {
    let expires = in_days(today, 30);
    let mut out = String::new();
    let mut by_tier: BTreeMap<&str, usize> = BTreeMap::new();
    for f in flakes.iter().filter(|f| f.rate > threshold) {
        *by_tier.entry(&f.tier).or_default() += 1;
        let command_tier = config.tier(&f.tier).is_some_and(|t| t.is_command());
        let test = if command_tier {
            format!("test(={})", f.id)
        } else if f.binary_id.is_empty() {
            format!("test(={})", f.name)
        } else {
            format!("binary_id(={}) & test(={})", f.binary_id, f.name)
        };
        out.push_str(&format!(
            "[[quarantine]]\ntest = {}\nreason = {}\nowner = \"TODO\"\nexpires = \"{expires}\"\n\n",
            toml_string(&test),
            toml_string(&format!(
                "flaky in {} of its last {} runs ({:.0}%), tier {}; last seen {}",
                f.flaky,
                f.runs,
                f.rate * 100.0,
                f.tier,
                &f.last_seen.get(..10).unwrap_or(&f.last_seen)
            ))
        ));
    }
    out
}

fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// `today` plus `days`, as `YYYY-MM-DD`.
fn in_days(today: &str, days: u64) -> String {
    humantime::parse_rfc3339(&format!("{today}T00:00:00Z"))
        .map(|t| {
            humantime::format_rfc3339_seconds(t + std::time::Duration::from_secs(days * 86_400)).to_string()[..10]
                .to_string()
        })
        .unwrap_or_else(|_| today.to_string())
}

/// What each live entry covers in this run: nextest lists what each entry's filterset selects
/// (with the build's tool config), one listing per entry.
pub(crate) fn prepare(
    ws: &crate::workspace::Workspace,
    config: &Config,
    tiers: &[crate::config::Tier],
    nextest: Option<&(crate::tiers::nextest::ToolConfig, crate::tiers::nextest::Built)>,
    today: &str,
) -> crate::errors::Result<Covered> {
    let (live, _) = split(config, today);
    if live.is_empty() {
        return Ok(Covered::default());
    }
    let first_nextest = tiers.iter().find(|t| !t.is_command());
    let matches = match (nextest, first_nextest) {
        (Some((tool_config, built)), Some(tier)) => {
            let filtersets: Vec<&str> = live.iter().map(|e| e.test.as_str()).collect();
            crate::tiers::nextest::list_matching(ws, tool_config, built, &tier.name, &filtersets)
                .map_err(|e| match e {
                    crate::errors::Error::Nextest { detail, .. } => crate::errors::Error::Usage(format!(
                        "a [[quarantine]] `test` in {} is not a filterset nextest accepts:\n{detail}",
                        config.path().display()
                    )),
                    other => other,
                })?
                .into_iter()
                .map(|ids| ids.into_iter().map(|id| id.to_string()).collect())
                .collect()
        }
        _ => live.iter().map(|_| Vec::new()).collect(),
    };
    Ok(Covered::new(config, &live, matches))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_tier_matching_reads_test_predicates() {
        assert!(command_matches("test(=tests.test_a::test_x)", "tests.test_a::test_x"));
        assert!(command_matches(
            "test(=tests/test_a.py::test_x)",
            "tests.test_a::test_x"
        ));
        assert!(command_matches("test(=test_x)", "tests.test_a::test_x"));
        assert!(!command_matches("test(=test_x)", "tests.test_a::test_xy"));
        assert!(command_matches("test(flip) | test(=other)", "tests.t::flips_sometimes"));
        assert!(command_matches("test(~flip)", "tests.t::flips"));
        assert!(!command_matches("not test(flip)", "tests.t::flips"));
        assert!(!command_matches("package(x)", "tests.t::flips"));
        assert!(command_matches(r"test(=odd\)name)", "t::odd)name"));
    }

    #[test]
    fn dates_move_forward() {
        assert_eq!(in_days("2026-12-20", 30), "2027-01-19");
    }
}
