//! `[pressure]`: host memory/swap limits and what to do when they are exceeded.

use std::time::Duration;

use super::diagnostic::Diagnostic;
use super::reader::{Diagnostics, Table};
use super::write::{Writer, duration_string};

const KEYS: &[&str] = &["swap_limit_percent", "memory_limit_percent", "on_pressure", "max_wait"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnPressure {
    /// Wait (up to `max_wait`) for pressure to drop, then fail.
    Wait,
    /// Skip machine tiers, with the reason.
    Skip,
    /// Fail the run (exit 3).
    Fail,
    /// Go ahead anyway.
    Ignore,
}

impl OnPressure {
    pub fn as_str(self) -> &'static str {
        match self {
            OnPressure::Wait => "wait",
            OnPressure::Skip => "skip",
            OnPressure::Fail => "fail",
            OnPressure::Ignore => "ignore",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PressureConfig {
    /// Default 80.
    pub swap_limit_percent: f64,
    /// Default none (memory alone never counts as pressure).
    pub memory_limit_percent: Option<f64>,
    /// Default wait.
    pub on_pressure: OnPressure,
    /// Default 10m.
    pub max_wait: Duration,
}

impl Default for PressureConfig {
    fn default() -> Self {
        Self {
            swap_limit_percent: 80.0,
            memory_limit_percent: None,
            on_pressure: OnPressure::Wait,
            max_wait: Duration::from_secs(600),
        }
    }
}

pub(crate) fn read(t: &Table<'_, '_>, diags: &mut Diagnostics) -> PressureConfig {
    t.deny_unknown(KEYS, diags);
    let d = PressureConfig::default();
    let on_pressure = match t.string("on_pressure", diags) {
        None => d.on_pressure,
        Some(s) => match s.get_ref().as_str() {
            "wait" => OnPressure::Wait,
            "skip" => OnPressure::Skip,
            "fail" => OnPressure::Fail,
            "ignore" => OnPressure::Ignore,
            other => {
                diags.push(
                    Diagnostic::new(s.span(), format!("unknown on_pressure action `{other}`"))
                        .help("use \"wait\", \"skip\", \"fail\" or \"ignore\""),
                );
                d.on_pressure
            }
        },
    };
    PressureConfig {
        swap_limit_percent: t.percent("swap_limit_percent", diags).unwrap_or(d.swap_limit_percent),
        memory_limit_percent: t.percent("memory_limit_percent", diags),
        on_pressure,
        max_wait: t.duration("max_wait", diags).unwrap_or(d.max_wait),
    }
}

impl PressureConfig {
    pub(crate) fn write(&self, w: &mut Writer) {
        w.float("swap_limit_percent", self.swap_limit_percent);
        if let Some(m) = self.memory_limit_percent {
            w.float("memory_limit_percent", m);
        }
        w.string("on_pressure", self.on_pressure.as_str());
        w.string("max_wait", &duration_string(self.max_wait));
    }
}
