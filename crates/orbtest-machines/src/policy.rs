//! Timeouts per operation class and the retry schedule. Plain data with serde, so the
//! orchestrator's config can hold it as `timeouts = { create = "180s", ... }`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use orbctl::op::OpClass;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    pub timeouts: Timeouts,
    pub retry: Retry,
    /// How long the `status` probe after a timeout may take before OrbStack counts as down.
    #[serde(with = "duration")]
    pub probe_timeout: Duration,
    /// How often `info` is polled while waiting for a machine we asked for to finish.
    #[serde(with = "duration")]
    pub poll_interval: Duration,
    /// Watch create-class attempts while they run (every `poll_interval`): a client still
    /// running after its machine is finished is hanging after success, and is stopped instead
    /// of waited for. Off by default; the shim turns it on for a run's tests.
    pub watch_hangs: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            timeouts: Timeouts::default(),
            retry: Retry::default(),
            probe_timeout: Duration::from_secs(5),
            poll_interval: Duration::from_millis(500),
            watch_hangs: false,
        }
    }
}

impl Policy {
    /// The timeout an operation of `class` gets per attempt; `None` = unbounded.
    pub fn timeout(&self, class: OpClass) -> Option<Duration> {
        match class {
            OpClass::Create => Some(self.timeouts.create),
            OpClass::Lifecycle => Some(self.timeouts.lifecycle),
            OpClass::Query => Some(self.timeouts.query),
            OpClass::Run => self.timeouts.run,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Timeouts {
    /// create, clone, import.
    #[serde(with = "duration")]
    pub create: Duration,
    /// start, stop, restart, delete.
    #[serde(with = "duration")]
    pub lifecycle: Duration,
    /// Everything else except `run`.
    #[serde(with = "duration")]
    pub query: Duration,
    /// `run`; unbounded by default (the test's own timeout bounds it).
    #[serde(with = "opt_duration", skip_serializing_if = "Option::is_none")]
    pub run: Option<Duration>,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            create: Duration::from_secs(180),
            lifecycle: Duration::from_secs(60),
            query: Duration::from_secs(30),
            run: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backoff {
    Exponential,
    Fixed,
}

impl Backoff {
    /// As configured: `fixed`, `exponential`.
    pub fn as_str(self) -> &'static str {
        match self {
            Backoff::Fixed => "fixed",
            Backoff::Exponential => "exponential",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Retry {
    /// Total attempts, the first included (so 4 = up to 3 retries).
    pub attempts: u32,
    #[serde(with = "duration")]
    pub delay: Duration,
    pub backoff: Backoff,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: 4,
            delay: Duration::from_secs(2),
            backoff: Backoff::Exponential,
        }
    }
}

impl Retry {
    /// The pause before retry number `retry` (1 for the first retry): 2 s, 4 s, 8 s by default.
    pub fn delay_before(&self, retry: u32) -> Duration {
        match self.backoff {
            Backoff::Fixed => self.delay,
            Backoff::Exponential => {
                let factor = 2u32.saturating_pow(retry.saturating_sub(1));
                self.delay.saturating_mul(factor)
            }
        }
    }
}

/// Durations as humantime strings (`"180s"`, `"1m 30s"`).
pub mod duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text).map_err(|e| {
            serde::de::Error::custom(format!(
                "invalid duration {text:?}: {e} (write e.g. \"180s\", \"2m\", \"500ms\")"
            ))
        })
    }
}

mod opt_duration {
    use std::time::Duration;

    use serde::{Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => super::duration::serialize(d, s),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        super::duration::deserialize(d).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_design() {
        let p = Policy::default();
        assert_eq!(p.timeout(OpClass::Create), Some(Duration::from_secs(180)));
        assert_eq!(p.timeout(OpClass::Lifecycle), Some(Duration::from_secs(60)));
        assert_eq!(p.timeout(OpClass::Query), Some(Duration::from_secs(30)));
        assert_eq!(p.timeout(OpClass::Run), None);
        assert_eq!(p.retry.attempts, 4);
    }

    #[test]
    fn exponential_backoff_doubles() {
        let r = Retry::default();
        let d: Vec<u64> = (1..=3).map(|n| r.delay_before(n).as_secs()).collect();
        assert_eq!(d, [2, 4, 8]);
        let fixed = Retry {
            backoff: Backoff::Fixed,
            ..Retry::default()
        };
        assert_eq!(fixed.delay_before(3), Duration::from_secs(2));
    }

    #[test]
    fn reads_the_config_shape() {
        let p: Policy = toml::from_str(
            r#"
            timeouts = { create = "3m", lifecycle = "45s", query = "10s" }
            retry = { attempts = 2, delay = "250ms", backoff = "fixed" }
            "#,
        )
        .unwrap();
        assert_eq!(p.timeouts.create, Duration::from_secs(180));
        assert_eq!(p.timeouts.lifecycle, Duration::from_secs(45));
        assert_eq!(p.retry.delay, Duration::from_millis(250));
        assert_eq!(p.retry.backoff, Backoff::Fixed);
        let e = toml::from_str::<Policy>("timeouts = { create = \"soon\" }").unwrap_err();
        assert!(e.to_string().contains("invalid duration \"soon\""), "{e}");
    }
}
