//! Mapping nextest's complaints about a generated profile back to the tier setting they
//! came from.

use super::tool_config;

/// Where nextest's config problems point: a tier's filter or one of its flaky filtersets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ConfigSite {
    Filter { tier: String },
    Flaky { tier: String, index: usize },
}

/// Finds which tier setting nextest complained about in its stderr, from the config key it
/// names (`profile.orbtest-<tier>.default-filter`, `profile.orbtest-<tier>.overrides at index N`).
pub(crate) fn config_sites(stderr: &str) -> Vec<(ConfigSite, String)> {
    let mut out = Vec::new();
    let mut current: Option<ConfigSite> = None;
    let mut message = String::new();
    let flush = |current: &mut Option<ConfigSite>, message: &mut String, out: &mut Vec<(ConfigSite, String)>| {
        if let Some(site) = current.take() {
            out.push((site, message.trim_end().to_string()));
        }
        message.clear();
    };
    for line in stderr.lines() {
        if let Some(rest) = line.split("failed to parse profile.").nth(1) {
            flush(&mut current, &mut message, &mut out);
            let (profile, what) = rest.split_once('.').unwrap_or((rest, ""));
            let Some(tier) = profile.strip_prefix(tool_config::PROFILE_PREFIX) else {
                continue;
            };
            current = if what.starts_with("default-filter") {
                Some(ConfigSite::Filter { tier: tier.to_string() })
            } else if let Some(index) = what.strip_prefix("overrides at index ") {
                index.trim().parse().ok().map(|index| ConfigSite::Flaky {
                    tier: tier.to_string(),
                    index,
                })
            } else {
                None
            };
        } else if current.is_some() {
            message.push_str(line);
            message.push('\n');
        }
    }
    flush(&mut current, &mut message, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_tier_setting_nextest_rejected() {
        let stderr = "error: for config file `/r/orbtest.toml` provided by tool `orbtest`, failed to parse profile.orbtest-fast.default-filter\n  error: expected close parenthesis\n   ╭────\n 1 │ binary(zz\n   ╰────\n\nerror: for config file `/r/orbtest.toml` provided by tool `orbtest`, failed to parse profile.orbtest-int.overrides at index 1\n  error: invalid regex\n";
        let sites = config_sites(stderr);
        assert_eq!(sites.len(), 2);
        assert_eq!(sites[0].0, ConfigSite::Filter { tier: "fast".into() });
        assert!(sites[0].1.contains("expected close parenthesis"));
        assert_eq!(
            sites[1].0,
            ConfigSite::Flaky {
                tier: "int".into(),
                index: 1
            }
        );
    }
}
