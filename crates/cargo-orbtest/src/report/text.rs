//! Text as reports and views show it: durations, and the part of a test's output worth showing.

use std::time::Duration;

/// Durations the way people read them: `850ms`, `4.2s`, `3m 05s`.
pub fn human_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        let s = d.as_secs();
        format!("{}m {:02}s", s / 60, s % 60)
    }
}

/// A duration in whole seconds for clocks that tick (`850ms`, `12s`, `3m 05s`): what a test has
/// run so far, an ETA, a wait.
pub fn seconds(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        return format!("{}ms", d.as_millis());
    }
    let s = d.as_secs();
    if s < 60 {
        format!("{s}s")
    } else {
        format!("{}m {:02}s", s / 60, s % 60)
    }
}

/// `1 test`, `2 tests`: a count with its noun, singular for one (nouns that add an `s`).
pub fn count(n: impl Into<u64>, noun: &str) -> String {
    count_as(n, noun, &format!("{noun}s"))
}

/// `1 retry`, `2 retries`: a count with the singular or plural given.
pub fn count_as(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// The part of a failed test's output worth showing: from the last panic message up to its
/// backtrace (at most `n` lines), else the last `n` lines.
pub fn failure_excerpt(output: &str, n: usize) -> String {
    let lines: Vec<&str> = output.lines().collect();
    let Some(start) = lines.iter().rposition(|l| l.contains("panicked at")) else {
        return tail(output, n);
    };
    lines[start..]
        .iter()
        .take_while(|l| !l.starts_with("stack backtrace:") && !l.starts_with("note: run with `RUST_BACKTRACE"))
        .take(n)
        .copied()
        .collect::<Vec<_>>()
        .join("\n")
}

/// The last `n` lines of `text`, each cut at 2,000 bytes (a minified line can be megabytes).
pub fn tail(text: &str, n: usize) -> String {
    orbtest_machines::text::tail(text, n, 2_000)
}

pub use orbtest_machines::text::excerpt;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_is_singular() {
        assert_eq!(count(1u64, "test"), "1 test");
        assert_eq!(count(0u64, "machine"), "0 machines");
        assert_eq!(count(2u32, "attempt"), "2 attempts");
    }

    #[test]
    fn excerpt_shows_the_panic_not_the_backtrace() {
        let out = "running 1 test\nthread 't' panicked at src/lib.rs:4:62:\nboom\nstack backtrace:\n   0: frame";
        assert_eq!(
            failure_excerpt(out, 10),
            "thread 't' panicked at src/lib.rs:4:62:\nboom"
        );
        assert_eq!(failure_excerpt("a\nb\nc", 2), "b\nc");
    }
}
