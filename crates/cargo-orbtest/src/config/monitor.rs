//! `[monitor]`: the resource sampler behind `timeline.jsonl` and the live status line.

use std::time::Duration;

use super::diagnostic::Diagnostic;
use super::reader::{Diagnostics, Table};
use super::write::{Writer, duration_string};

const KEYS: &[&str] = &["sample_every"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonitorConfig {
    /// Default 2s.
    pub sample_every: Duration,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        Self {
            sample_every: Duration::from_secs(2),
        }
    }
}

pub(crate) fn read(t: &Table<'_, '_>, diags: &mut Diagnostics) -> MonitorConfig {
    t.deny_unknown(KEYS, diags);
    let sample_every = match t.duration("sample_every", diags) {
        Some(d) if d < Duration::from_millis(100) => {
            let span = t.get("sample_every").map_or(t.span.clone(), |v| v.span());
            diags.push(Diagnostic::new(span, "`sample_every` must be at least 100ms"));
            None
        }
        other => other,
    };
    MonitorConfig {
        sample_every: sample_every.unwrap_or(MonitorConfig::default().sample_every),
    }
}

impl MonitorConfig {
    pub(crate) fn write(&self, w: &mut Writer) {
        w.string("sample_every", &duration_string(self.sample_every));
    }
}
