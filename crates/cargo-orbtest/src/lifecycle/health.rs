//! Is OrbStack usable: running (started when asked), and new enough.

use std::time::{Duration, Instant};

use crate::config::MachinesConfig;
use crate::errors::{Error, Result};
use orbtest_machines::{Client, Op};

/// Waits out `Starting`; starts a stopped OrbStack only when asked to.
pub(crate) fn ensure_running(client: &Client, config: &MachinesConfig, start: bool) -> Result<String> {
    let deadline = Instant::now() + config.timeouts.lifecycle;
    let mut started = false;
    loop {
        let status = client
            .execute(&Op::Status)
            .map_err(|e| Error::preflight("provider", format!("`orbctl status` failed: {e}")))?;
        let word = status.stdout_text().trim().to_string();
        match word.as_str() {
            "Running" => return Ok(if started { "started".into() } else { "running".into() }),
            "Stopped" if !start => {
                return Err(Error::preflight(
                    "provider",
                    "OrbStack is stopped: start it (`orbctl start` or open the OrbStack app), or pass --start-orbstack",
                ));
            }
            "Stopped" if !started => {
                started = true;
                let r = client
                    .execute(&Op::Start {
                        names: Vec::new(),
                        all: false,
                    })
                    .map_err(|e| Error::preflight("provider", format!("`orbctl start` failed: {e}")))?;
                if !r.is_success() {
                    return Err(Error::preflight(
                        "provider",
                        format!("`orbctl start` failed: {}", r.stderr_text().trim()),
                    ));
                }
            }
            "Starting" | "Stopped" => {}
            other => {
                let said = status.stderr_text();
                return Err(Error::preflight(
                    "provider",
                    format!(
                        "`orbctl status` printed {other:?} (expected Running, Starting or Stopped){}",
                        if said.trim().is_empty() {
                            String::new()
                        } else {
                            format!(": {}", said.trim())
                        }
                    ),
                ));
            }
        }
        if Instant::now() >= deadline {
            return Err(Error::preflight(
                "provider",
                format!(
                    "OrbStack did not reach Running within {} (machines.timeouts.lifecycle)",
                    humantime::format_duration(config.timeouts.lifecycle)
                ),
            ));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Reads `orbctl version` (`Version: 2.0.0 (2000000)`) and checks the floor.
pub(crate) fn check_version(client: &Client, floor: &str) -> Result<String> {
    let out = client
        .execute(&Op::Version)
        .and_then(|r| r.into_result())
        .map_err(|e| Error::preflight("provider", format!("`orbctl version` failed: {e}")))?;
    let text = out.stdout_text();
    let version = text
        .lines()
        .find_map(|l| l.strip_prefix("Version:"))
        .and_then(|v| v.split_whitespace().next())
        .ok_or_else(|| {
            Error::preflight(
                "provider",
                format!("cannot read the OrbStack version from {:?}", text.trim()),
            )
        })?
        .to_string();
    if version_less(&version, floor) {
        return Err(Error::preflight(
            "provider",
            format!("OrbStack {version} is older than {floor} ([machines] min_version): update OrbStack"),
        ));
    }
    Ok(version)
}

fn version_less(a: &str, b: &str) -> bool {
    let parts = |v: &str| -> Vec<u64> { v.split(['.', '-']).map_while(|p| p.parse().ok()).collect() };
    parts(a) < parts(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically() {
        assert!(version_less("1.9.5", "1.10.0"));
        assert!(!version_less("2.0.0", "1.10.0"));
        assert!(!version_less("1.10.0", "1.10.0"));
    }
}
