//! `[gate]`: release criteria checked with `--gate` (or always with `enforce = true`).

use std::time::Duration;

use super::diagnostic::Diagnostic;
use super::reader::{Diagnostics, Table};
use super::write::{Writer, duration_string};

const KEYS: &[&str] = &[
    "enforce",
    "max_failed",
    "max_timed_out",
    "max_flaky",
    "max_duration",
    "max_peak_swap_percent",
    "max_leftover_machines",
    "max_flake_rate",
    "flake_window",
    "max_quarantined",
    "tiers",
];
/// Runs a flake rate looks back over, by default.
pub(super) const DEFAULT_FLAKE_WINDOW: u32 = 20;

const TIER_KEYS: &[&str] = &["max_failed", "max_timed_out", "max_flaky", "max_duration"];

/// Each criterion is optional: unset means not checked.
#[derive(Debug, Clone, PartialEq)]
pub struct GateConfig {
    /// Evaluate the gate on every run, not only with `--gate`. Default false.
    pub enforce: bool,
    /// Default 0.
    pub max_failed: Option<u64>,
    /// Default 0.
    pub max_timed_out: Option<u64>,
    pub max_flaky: Option<u64>,
    pub max_duration: Option<Duration>,
    pub max_peak_swap_percent: Option<f64>,
    /// Default 0.
    pub max_leftover_machines: Option<u64>,
    /// Highest flake rate (0–1) any test of the run may have over its last `flake_window`
    /// runs in the ledger. Not checked by default.
    pub max_flake_rate: Option<f64>,
    /// Runs a flake rate is computed over. Default 20.
    pub flake_window: u32,
    /// Most failing tests a run may excuse by quarantine. Not checked by default.
    pub max_quarantined: Option<u64>,
    /// Per-tier criteria, by tier name, in file order.
    pub tiers: Vec<(String, TierGate)>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TierGate {
    pub max_failed: Option<u64>,
    pub max_timed_out: Option<u64>,
    pub max_flaky: Option<u64>,
    pub max_duration: Option<Duration>,
}

impl Default for GateConfig {
    fn default() -> Self {
        Self {
            enforce: false,
            max_failed: Some(0),
            max_timed_out: Some(0),
            max_flaky: None,
            max_duration: None,
            max_peak_swap_percent: None,
            max_leftover_machines: Some(0),
            max_flake_rate: None,
            flake_window: DEFAULT_FLAKE_WINDOW,
            max_quarantined: None,
            tiers: Vec::new(),
        }
    }
}

fn count(t: &Table<'_, '_>, key: &str, default: Option<u64>, diags: &mut Diagnostics) -> Option<u64> {
    if t.get(key).is_none() {
        return default;
    }
    t.integer(key, 0..=i64::MAX, diags).map(|n| n as u64)
}

pub(crate) fn read(t: &Table<'_, '_>, tier_names: &[&str], diags: &mut Diagnostics) -> GateConfig {
    t.deny_unknown(KEYS, diags);
    let d = GateConfig::default();
    let mut tiers = Vec::new();
    if let Some(tt) = t.table("tiers", "[gate.tiers]".into(), diags) {
        for (name, value) in tt.table.iter() {
            let name = name.get_ref().as_ref();
            if !tier_names.contains(&name) {
                let mut diag = Diagnostic::new(value.span(), format!("[gate.tiers.{name}] names no tier"));
                if let Some(s) = super::diagnostic::did_you_mean(name, tier_names.iter().copied()) {
                    diag = diag.help(format!("did you mean `{s}`?"));
                }
                diags.push(diag.note(format!("tiers: {}", tier_names.join(", "))));
                continue;
            }
            let Some(g) = tt.table(name, format!("[gate.tiers.{name}]"), diags) else {
                continue;
            };
            g.deny_unknown(TIER_KEYS, diags);
            tiers.push((
                name.to_string(),
                TierGate {
                    max_failed: count(&g, "max_failed", None, diags),
                    max_timed_out: count(&g, "max_timed_out", None, diags),
                    max_flaky: count(&g, "max_flaky", None, diags),
                    max_duration: g.duration("max_duration", diags),
                },
            ));
        }
    }
    GateConfig {
        enforce: t.bool("enforce", diags).unwrap_or(d.enforce),
        max_failed: count(t, "max_failed", d.max_failed, diags),
        max_timed_out: count(t, "max_timed_out", d.max_timed_out, diags),
        max_flaky: count(t, "max_flaky", d.max_flaky, diags),
        max_duration: t.duration("max_duration", diags),
        max_peak_swap_percent: t.percent("max_peak_swap_percent", diags),
        max_leftover_machines: count(t, "max_leftover_machines", d.max_leftover_machines, diags),
        max_flake_rate: t.fraction("max_flake_rate", diags),
        flake_window: t
            .integer("flake_window", 1..=10_000, diags)
            .map_or(d.flake_window, |n| n as u32),
        max_quarantined: count(t, "max_quarantined", None, diags),
        tiers,
    }
}

impl GateConfig {
    pub(crate) fn write(&self, w: &mut Writer) {
        w.bool("enforce", self.enforce);
        let counts = [
            ("max_failed", self.max_failed),
            ("max_timed_out", self.max_timed_out),
            ("max_flaky", self.max_flaky),
            ("max_leftover_machines", self.max_leftover_machines),
            ("max_quarantined", self.max_quarantined),
        ];
        for (key, value) in counts {
            if let Some(v) = value {
                w.integer(key, v as i64);
            }
        }
        if let Some(d) = self.max_duration {
            w.string("max_duration", &duration_string(d));
        }
        if let Some(p) = self.max_peak_swap_percent {
            w.float("max_peak_swap_percent", p);
        }
        if let Some(r) = self.max_flake_rate {
            w.float("max_flake_rate", r);
        }
        w.integer("flake_window", i64::from(self.flake_window));
        if !self.tiers.is_empty() {
            w.inline_table("tiers", |tw| {
                for (name, g) in &self.tiers {
                    tw.inline_table(name, |gw| {
                        for (key, value) in [
                            ("max_failed", g.max_failed),
                            ("max_timed_out", g.max_timed_out),
                            ("max_flaky", g.max_flaky),
                        ] {
                            if let Some(v) = value {
                                gw.integer(key, v as i64);
                            }
                        }
                        if let Some(d) = g.max_duration {
                            gw.string("max_duration", &duration_string(d));
                        }
                    });
                }
            });
        }
    }
}
