//! orbtest's target runner: how a machine tier with worker machines gets `ORBTEST_WORKER` set
//! per test. nextest gives each running test its slot (`NEXTEST_TEST_GLOBAL_SLOT`) only in the
//! test's own environment, and it honours cargo's target runner
//! (`CARGO_TARGET_<TRIPLE>_RUNNER`) for every test process, also with a reused build. So the
//! tier's environment names `orbtest-runner` (this binary) as the runner: per test it checks
//! the slot's worker (replacing a broken one), sets `ORBTEST_WORKER` and executes the test, or
//! the runner the user had configured (chained through `ORBTEST_CHAINED_RUNNER`, a JSON list).
//!
//! The user's runner is found as cargo finds it: `CARGO_TARGET_<TRIPLE>_RUNNER`, else
//! `target.<triple>.runner` in the nearest `.cargo/config.toml` from the workspace root up,
//! then `$CARGO_HOME/config.toml`. A `target.'cfg(..)'.runner` cannot be chained (orbtest does
//! not evaluate cfg expressions) and is refused with a message saying what to do.

use std::path::{Path, PathBuf};

/// Why a tier's tests cannot be routed through orbtest's target runner.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TargetRunnerError {
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not JSON: {source}", .path.display())]
    NotJson {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{} names no target platform", .0.display())]
    NoPlatform(PathBuf),
    #[error(
        "orbtest's target runner {0} has whitespace in its path, which cargo's runner setting cannot \
         hold; set ORBTEST_HOME to a path without spaces"
    )]
    Whitespace(String),
    #[error("different target runners are configured for {}; orbtest can chain only one", .0.join(" and "))]
    Several(Vec<String>),
    #[error("target.{triple}.runner in {} is neither a string nor a list", .file.display())]
    Shape { triple: String, file: PathBuf },
    #[error(
        "{} sets target.'{key}'.runner, which orbtest cannot chain to give each test its worker machine; \
         set it as target.{triple}.runner or in {} instead",
        .file.display(),
        env_name(.triple)
    )]
    Cfg { file: PathBuf, key: String, triple: String },
}

/// The user's runner for the wrapper to execute the test through.
pub(crate) const CHAINED_ENV: &str = crate::env::CHAINED_RUNNER;

/// `CARGO_TARGET_<TRIPLE>_RUNNER` for a target triple.
pub(crate) fn env_name(triple: &str) -> String {
    format!("CARGO_TARGET_{}_RUNNER", triple.to_uppercase().replace(['-', '.'], "_"))
}

/// The target triples a build made test binaries for (nextest's binaries metadata).
pub(crate) fn triples(binaries_metadata: &Path) -> Result<Vec<String>, TargetRunnerError> {
    let path = || binaries_metadata.to_path_buf();
    let text = std::fs::read_to_string(binaries_metadata)
        .map_err(|source| TargetRunnerError::Read { path: path(), source })?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|source| TargetRunnerError::NotJson { path: path(), source })?;
    let meta = &json["rust-build-meta"];
    let mut out: Vec<String> = meta["target-platforms"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["triple"].as_str().map(str::to_string))
        .collect();
    if let Some(host) = meta["platforms"]["host"]["platform"]["triple"].as_str()
        && !out.iter().any(|t| t == host)
    {
        out.push(host.to_string());
    }
    if out.is_empty() {
        return Err(TargetRunnerError::NoPlatform(path()));
    }
    Ok(out)
}

/// Environment that routes a tier's tests through `runner` (orbtest's own), chaining the
/// user's runner when there is one.
pub(crate) fn tier_env(
    runner: &Path,
    triples: &[String],
    ws_root: &Path,
) -> Result<Vec<(String, String)>, TargetRunnerError> {
    let ours = runner.display().to_string();
    if ours.chars().any(char::is_whitespace) {
        return Err(TargetRunnerError::Whitespace(ours));
    }
    let mut chained: Option<Vec<String>> = None;
    let mut env = Vec::new();
    for triple in triples {
        if let Some(user) = user_runner(triple, ws_root, |k| std::env::var(k).ok())? {
            if chained.as_ref().is_some_and(|c| c != &user) {
                return Err(TargetRunnerError::Several(triples.to_vec()));
            }
            chained = Some(user);
        }
        env.push((env_name(triple), ours.clone()));
    }
    if let Some(user) = chained {
        env.push((
            CHAINED_ENV.to_string(),
            serde_json::to_string(&user).unwrap_or_default(),
        ));
    }
    Ok(env)
}

/// The runner cargo would use for `triple`, as program and arguments.
pub(crate) fn user_runner(
    triple: &str,
    ws_root: &Path,
    get_env: impl Fn(&str) -> Option<String>,
) -> Result<Option<Vec<String>>, TargetRunnerError> {
    if let Some(value) = get_env(&env_name(triple)).filter(|v| !v.trim().is_empty()) {
        return Ok(Some(value.split_whitespace().map(str::to_string).collect()));
    }
    let mut files: Vec<PathBuf> = Vec::new();
    for dir in ws_root.ancestors() {
        files.extend(config_files(&dir.join(".cargo")));
    }
    let cargo_home = get_env("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| dirs::home_dir().map(|h| h.join(".cargo")));
    if let Some(home) = cargo_home {
        files.extend(config_files(&home));
    }
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let Ok(doc) = text.parse::<toml::Table>() else { continue };
        let Some(targets) = doc.get("target").and_then(|t| t.as_table()) else {
            continue;
        };
        // `.cargo/config.toml`'s paths with slashes are relative to the directory holding `.cargo`.
        let base = file.parent().and_then(Path::parent).unwrap_or(Path::new("."));
        if let Some(runner) = targets.get(triple).and_then(|t| t.get("runner")) {
            return parse_runner(runner, base)
                .map(Some)
                .ok_or_else(|| TargetRunnerError::Shape {
                    triple: triple.to_string(),
                    file: file.clone(),
                });
        }
        if let Some((key, _)) = targets
            .iter()
            .find(|(k, v)| k.starts_with("cfg(") && v.get("runner").is_some())
        {
            return Err(TargetRunnerError::Cfg {
                file: file.clone(),
                key: key.clone(),
                triple: triple.to_string(),
            });
        }
    }
    Ok(None)
}

fn config_files(dir: &Path) -> impl Iterator<Item = PathBuf> {
    ["config.toml", "config"]
        .into_iter()
        .map(move |name| dir.join(name))
        .filter(|p| p.is_file())
        .take(1)
}

fn parse_runner(value: &toml::Value, base: &Path) -> Option<Vec<String>> {
    let mut words: Vec<String> = match value {
        toml::Value::String(s) => s.split_whitespace().map(str::to_string).collect(),
        toml::Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string))
            .collect::<Option<_>>()?,
        _ => return None,
    };
    if let Some(program) = words.first_mut()
        && program.contains('/')
        && Path::new(program.as_str()).is_relative()
    {
        *program = base.join(&*program).display().to_string();
    }
    (!words.is_empty()).then_some(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_follow_cargo() {
        assert_eq!(
            env_name("x86_64-unknown-linux-gnu"),
            "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER"
        );
        assert_eq!(
            env_name("thumbv7em-none-eabihf"),
            "CARGO_TARGET_THUMBV7EM_NONE_EABIHF_RUNNER"
        );
    }

    #[test]
    fn finds_the_users_runner_in_env_then_nearest_config() {
        let root = tempfile::tempdir().unwrap();
        let ws = root.path().join("ws");
        std::fs::create_dir_all(ws.join(".cargo")).unwrap();
        let home_env = |k: &str| (k == "CARGO_HOME").then(|| root.path().join("no-home").display().to_string());
        assert_eq!(user_runner("t-x", &ws, home_env).unwrap(), None);
        std::fs::write(
            ws.join(".cargo/config.toml"),
            "[target.t-x]\nrunner = [\"tools/wrap\", \"--flag\"]\n",
        )
        .unwrap();
        let found = user_runner("t-x", &ws, home_env).unwrap().unwrap();
        assert_eq!(
            found,
            [ws.join("tools/wrap").display().to_string(), "--flag".to_string()]
        );
        let from_env = |k: &str| (k == "CARGO_TARGET_T_X_RUNNER").then(|| "valgrind -q".to_string());
        assert_eq!(user_runner("t-x", &ws, from_env).unwrap().unwrap(), ["valgrind", "-q"]);
        std::fs::write(ws.join(".cargo/config.toml"), "[target.'cfg(unix)']\nrunner = \"x\"\n").unwrap();
        let e = user_runner("t-x", &ws, home_env).unwrap_err().to_string();
        assert!(e.contains("cannot chain"), "{e}");
    }
}
