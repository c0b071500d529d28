//! Host pressure before and during machine tiers: memory and swap, from the provider when it
//! knows them (orbsim's scenario) or from the host (sysinfo, macOS and Linux), and what to do
//! when swap (or memory) is over its limit. During the tiers the run's broker admits creates
//! by the same figures.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::{OnPressure, PressureConfig};
use crate::monitor::host_pressure;
use orbtest_machines::admission::PressureLimits;
use orbtest_machines::{Pressure, PressureSource, Provider};

/// Current memory and swap use, percent: the provider's own figures (orbsim's scenario), else
/// the host's.
pub(crate) fn sample(provider: &dyn Provider) -> Pressure {
    provider.pressure().unwrap_or_else(host_pressure)
}

/// The orchestrator's sampler as the broker's pressure source.
pub(crate) struct HostPressure(pub Arc<dyn Provider>);

impl PressureSource for HostPressure {
    fn sample(&self) -> Option<Pressure> {
        Some(sample(self.0.as_ref()))
    }
}

/// `[pressure]` as the broker's admission limits; `None` with `on_pressure = "ignore"`.
pub(crate) fn limits(config: &PressureConfig) -> Option<PressureLimits> {
    match config.on_pressure {
        OnPressure::Ignore => None,
        action => Some(PressureLimits {
            swap_limit_percent: config.swap_limit_percent,
            memory_limit_percent: config.memory_limit_percent,
            max_wait: config.max_wait,
            fail_after_wait: matches!(action, OnPressure::Wait | OnPressure::Fail),
        }),
    }
}

/// Why `p` is over the limits, if it is.
pub(crate) fn over_limit(config: &PressureConfig, p: &Pressure) -> Option<String> {
    if p.swap_percent > config.swap_limit_percent {
        return Some(format!(
            "swap at {:.0}% is over the {:.0}% limit (memory {:.0}%)",
            p.swap_percent, config.swap_limit_percent, p.memory_percent
        ));
    }
    match config.memory_limit_percent {
        Some(limit) if p.memory_percent > limit => Some(format!(
            "memory at {:.0}% is over the {limit:.0}% limit (swap {:.0}%)",
            p.memory_percent, p.swap_percent
        )),
        _ => None,
    }
}

/// Why the run cannot go on under host pressure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PressureError {
    #[error("host under pressure: {0}; free memory (stop machines or apps) or raise [pressure] swap_limit_percent")]
    Over(String),
    #[error(
        "host still under pressure after waiting {}: {reason}; free memory or raise [pressure] max_wait",
        humantime::format_duration(*.waited)
    )]
    StillOver { waited: Duration, reason: String },
    #[error("interrupted while waiting for host pressure to drop")]
    Interrupted,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PressureOutcome {
    /// Under the limits (possibly after waiting).
    Clear(Pressure),
    /// Over the limits and `on_pressure = "ignore"`: go ahead, but say so.
    Ignored(String),
    /// `on_pressure = "skip"`: machine tiers are skipped with this reason.
    Skip(String),
}

/// Applies `on_pressure`. Errors say why the run cannot go on (`fail`, or `wait` timed out).
/// `waiting` is told the situation while waiting (at most every `every`).
pub(crate) fn check(
    config: &PressureConfig,
    mut sample: impl FnMut() -> Pressure,
    poll: Duration,
    every: Duration,
    mut waiting: impl FnMut(&str, Duration),
) -> Result<PressureOutcome, PressureError> {
    let first = sample();
    let Some(reason) = over_limit(config, &first) else {
        return Ok(PressureOutcome::Clear(first));
    };
    match config.on_pressure {
        OnPressure::Ignore => Ok(PressureOutcome::Ignored(reason)),
        OnPressure::Skip => Ok(PressureOutcome::Skip(format!(
            "host under pressure: {reason} (on_pressure = \"skip\")"
        ))),
        OnPressure::Fail => Err(PressureError::Over(reason)),
        OnPressure::Wait => {
            let start = Instant::now();
            let mut told: Option<Instant> = None;
            let mut reason = reason;
            loop {
                if told.is_none_or(|t| t.elapsed() >= every) {
                    waiting(&reason, start.elapsed());
                    told = Some(Instant::now());
                }
                if start.elapsed() >= config.max_wait {
                    return Err(PressureError::StillOver {
                        waited: config.max_wait,
                        reason,
                    });
                }
                if crate::signals::received().is_some() {
                    return Err(PressureError::Interrupted);
                }
                std::thread::sleep(poll);
                let now = sample();
                match over_limit(config, &now) {
                    None => return Ok(PressureOutcome::Clear(now)),
                    Some(r) => reason = r,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(swap: f64) -> Pressure {
        Pressure::percent(90.0, swap)
    }

    fn config(on_pressure: OnPressure) -> PressureConfig {
        PressureConfig {
            on_pressure,
            max_wait: Duration::from_secs(3600),
            ..PressureConfig::default()
        }
    }

    #[test]
    fn each_action_when_over_the_limit() {
        let quiet = |_: &str, _: Duration| {};
        let zero = Duration::ZERO;
        assert_eq!(
            check(&config(OnPressure::Fail), || p(10.0), zero, zero, quiet),
            Ok(PressureOutcome::Clear(p(10.0)))
        );
        assert!(
            check(&config(OnPressure::Fail), || p(95.0), zero, zero, quiet)
                .unwrap_err()
                .to_string()
                .contains("swap at 95%")
        );
        assert!(matches!(
            check(&config(OnPressure::Skip), || p(95.0), zero, zero, quiet),
            Ok(PressureOutcome::Skip(_))
        ));
        assert!(matches!(
            check(&config(OnPressure::Ignore), || p(95.0), zero, zero, quiet),
            Ok(PressureOutcome::Ignored(_))
        ));
    }

    #[test]
    fn wait_proceeds_once_pressure_drops() {
        let mut samples = vec![p(95.0), p(92.0), p(85.0), p(40.0)].into_iter();
        let mut told = Vec::new();
        let verdict = check(
            &config(OnPressure::Wait),
            || samples.next().unwrap_or(p(40.0)),
            Duration::ZERO,
            Duration::ZERO,
            |reason, _| told.push(reason.to_string()),
        );
        assert_eq!(verdict, Ok(PressureOutcome::Clear(p(40.0))));
        assert_eq!(told.len(), 3, "{told:?}");
        assert!(told[0].contains("95%"));
    }

    #[test]
    fn wait_gives_up_after_max_wait() {
        let c = PressureConfig {
            max_wait: Duration::ZERO,
            ..config(OnPressure::Wait)
        };
        let err = check(&c, || p(95.0), Duration::ZERO, Duration::ZERO, |_, _| {})
            .unwrap_err()
            .to_string();
        assert!(err.contains("still under pressure"), "{err}");
    }

    #[test]
    fn memory_limit_counts_when_set() {
        let c = PressureConfig {
            memory_limit_percent: Some(80.0),
            ..config(OnPressure::Fail)
        };
        assert!(over_limit(&c, &p(0.0)).unwrap().contains("memory at 90%"));
    }
}
