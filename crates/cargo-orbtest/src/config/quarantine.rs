//! `[[quarantine]]`: tests that run as usual but do not fail their tier or the gate until the
//! entry expires.
//!
//! ```toml
//! [[quarantine]]
//! test = "test(=flips)"      # a nextest filterset
//! reason = "flips on slow hosts"
//! owner = "ci-team"
//! expires = "2027-01-31"     # last day it applies (UTC); a TOML date works too
//! ```

use std::ops::Range;

use toml::de::DeValue;

use super::diagnostic::Diagnostic;
use super::reader::{Diagnostics, Table};
use super::write::Writer;

const KEYS: &[&str] = &["test", "reason", "owner", "expires"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantineEntry {
    /// A nextest filterset (command tiers: see `quarantine::matches`).
    pub test: String,
    pub reason: String,
    pub owner: String,
    /// `YYYY-MM-DD`, the last day the entry applies.
    pub expires: String,
    /// The entry's table, and its `test` value.
    pub span: Range<usize>,
    pub test_span: Range<usize>,
}

impl QuarantineEntry {
    /// Whether the entry no longer applies on `today` (`YYYY-MM-DD`).
    pub(crate) fn expired(&self, today: &str) -> bool {
        today > self.expires.as_str()
    }
}

/// Today's date in UTC as `YYYY-MM-DD`.
pub fn today() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()[..10].to_string()
}

pub(crate) fn read(top: &Table<'_, '_>, diags: &mut Diagnostics) -> Vec<QuarantineEntry> {
    let mut out = Vec::new();
    for (i, t) in top.table_list("quarantine", diags).into_iter().enumerate() {
        let t = Table::new(t.table, t.span.clone(), format!("[[quarantine]] #{}", i + 1));
        t.deny_unknown(KEYS, diags);
        let mut required = |key: &str, example: &str| -> Option<toml::Spanned<String>> {
            match t.string(key, diags) {
                Some(v) if !v.get_ref().trim().is_empty() => Some(v),
                Some(v) => {
                    diags.push(
                        Diagnostic::new(v.span(), format!("`{key}` is empty"))
                            .help(format!("for example {key} = {example}")),
                    );
                    None
                }
                None if t.get(key).is_none() => {
                    diags.push(
                        Diagnostic::new(t.span.clone(), format!("{} has no `{key}`", t.name)).help(format!(
                            "every quarantine entry says {}: {key} = {example}",
                            purpose(key)
                        )),
                    );
                    None
                }
                None => None,
            }
        };
        let test = required("test", "\"test(=flips)\"");
        let reason = required("reason", "\"flips on slow hosts\"");
        let owner = required("owner", "\"ci-team\"");
        let expires = read_date(&t, diags);
        if let (Some(test), Some(reason), Some(owner), Some(expires)) = (test, reason, owner, expires) {
            out.push(QuarantineEntry {
                test_span: test.span(),
                test: test.into_inner(),
                reason: reason.into_inner(),
                owner: owner.into_inner(),
                expires,
                span: t.span.clone(),
            });
        }
    }
    out
}

fn purpose(key: &str) -> &'static str {
    match key {
        "test" => "which tests (a filterset)",
        "reason" => "why",
        "owner" => "who will fix it",
        _ => "until when",
    }
}

fn read_date(t: &Table<'_, '_>, diags: &mut Diagnostics) -> Option<String> {
    let Some(value) = t.get("expires") else {
        diags.push(
            Diagnostic::new(t.span.clone(), format!("{} has no `expires`", t.name))
                .help("a quarantine ends: expires = \"2027-01-31\" (the last day it applies)"),
        );
        return None;
    };
    let text = match value.get_ref() {
        DeValue::String(s) => s.to_string(),
        DeValue::Datetime(d) if d.date.is_some() && d.time.is_none() => d.to_string(),
        _ => String::new(),
    };
    let valid = text.len() == 10
        && text.as_bytes()[4] == b'-'
        && text.as_bytes()[7] == b'-'
        && humantime::parse_rfc3339(&format!("{text}T00:00:00Z")).is_ok();
    if !valid {
        diags.push(
            Diagnostic::new(value.span(), "`expires` must be a date, YYYY-MM-DD")
                .help("for example expires = \"2027-01-31\" (the last day the entry applies, UTC)"),
        );
        return None;
    }
    Some(text)
}

pub(crate) fn write(entries: &[QuarantineEntry]) -> toml::Value {
    toml::Value::Array(
        entries
            .iter()
            .map(|e| {
                let mut w = Writer::default();
                w.string("test", &e.test);
                w.string("reason", &e.reason);
                w.string("owner", &e.owner);
                w.string("expires", &e.expires);
                toml::Value::Table(w.table)
            })
            .collect(),
    )
}
