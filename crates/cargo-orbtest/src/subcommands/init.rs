//! `cargo orbtest init`: write an orchestrator.toml derived from the project as it is. In a
//! cargo workspace, tiers come from the test binaries nextest lists (unit tests in `fast`,
//! `tests/*` in `integration`, an `e2e` tier only if a binary is named so); elsewhere, command
//! tiers for the test runners found (pytest, go test, npm test).

use std::path::{Path, PathBuf};

use crate::cli::GlobalArgs;
use crate::config::{self, CommandTierStarter};
use crate::errors::{Error, Result};
use crate::exit_code;
use crate::tiers::nextest;
use crate::workspace::Workspace;
use orbtest_machines::files::write_atomic;

pub(super) fn execute(global: &GlobalArgs, force: bool) -> Result<i32> {
    // What a run of the written config would trip over first (a runner that is not installed).
    let mut warnings = Vec::new();
    let (path, text, what) = match Workspace::discover(global.manifest_path.as_deref()) {
        Ok(ws) => {
            let path = super::project::config_path(global, &ws);
            refuse_overwrite(&path, force)?;
            nextest::check_version(&ws.cargo)?;
            if !global.quiet {
                crate::errln!("orbtest: building and listing the tests to derive tiers from them");
            }
            let binaries = nextest::list_binaries(&ws, global.quiet)?;
            let derived = config::Derived::from_binaries(&binaries);
            let tiers: Vec<&str> = derived.tiers().iter().map(|t| t.0).collect();
            let what = if tiers.is_empty() {
                "one tier, fast (no tests yet)".to_string()
            } else {
                format!("tiers {}", tiers.join(", "))
            };
            (path, config::for_workspace(&binaries), what)
        }
        Err(e) if global.manifest_path.is_none() => {
            let dir = match &global.config {
                Some(p) => p.parent().map(Path::to_path_buf).unwrap_or_default(),
                None => std::env::current_dir().map_err(|e| Error::io("cannot read", ".", e))?,
            };
            let dir = if dir.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                dir
            };
            let path = global.config.clone().unwrap_or_else(|| dir.join(config::FILE_NAME));
            refuse_overwrite(&path, force)?;
            let runners = detect(&dir);
            if runners.is_empty() {
                return Err(Error::Usage(format!(
                    "{} is not a cargo workspace, and no test runner was found there\n  \
                     = note: init looks for pytest (pytest.ini, conftest.py, [tool.pytest] in pyproject.toml, \
                     tests/test_*.py), go test (go.mod) and npm test (a \"test\" script in package.json)\n  \
                     = help: write orchestrator.toml yourself with a command tier:\n\n    \
                     [tiers.tests]\n    command = [\"./run-tests\", \"--junit\", \"{{junit}}\"]\n\n  \
                     = note: cargo said: {}",
                    dir.display(),
                    e.to_string().lines().last().unwrap_or_default().trim()
                )));
            }
            for r in &runners {
                if let Some(problem) = super::doctor::missing_python_module(&r.command, &dir, &r.env) {
                    warnings.push(format!("tier {}: {problem}", r.name));
                }
            }
            let names: Vec<&str> = runners.iter().map(|r| r.name).collect();
            (
                path,
                config::for_commands(&runners),
                format!("command tiers {}", names.join(", ")),
            )
        }
        Err(e) => return Err(e),
    };
    // What init writes must load: a starter that does not is a bug here, not the user's.
    if let Err(e) = config::parse(config::Source::new(&path, text.as_str())) {
        return Err(Error::Infrastructure(format!(
            "the config init derived does not load (please report this):\n{e}"
        )));
    }
    write_atomic(&path, text.as_bytes()).map_err(|e| Error::io("cannot write", &path, e))?;
    crate::errln!(
        "wrote {} with {what}\nnext: `cargo orbtest list` shows what each tier selects; `cargo orbtest` runs them",
        path.display()
    );
    for w in &warnings {
        crate::errln!("warning: {w}");
    }
    Ok(exit_code::PASSED)
}

fn refuse_overwrite(path: &Path, force: bool) -> Result<()> {
    if path.exists() && !force {
        return Err(Error::Usage(format!(
            "{} already exists\n  = help: pass --force to replace it with a freshly derived config",
            path.display()
        )));
    }
    Ok(())
}

/// The test runners a directory without cargo uses, each as a command tier.
pub(super) fn detect(dir: &Path) -> Vec<CommandTierStarter> {
    [detect_pytest(dir), detect_go(dir), detect_npm(dir)]
        .into_iter()
        .flatten()
        .collect()
}

fn read(dir: &Path, name: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(name)).ok()
}

fn on_path(program: &str) -> bool {
    which::which(program).is_ok()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn detect_pytest(dir: &Path) -> Option<CommandTierStarter> {
    let has_test_files = |d: &Path| {
        std::fs::read_dir(d).into_iter().flatten().flatten().any(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.ends_with(".py") && (name.starts_with("test_") || name.ends_with("_test.py"))
        })
    };
    let found = if dir.join("pytest.ini").is_file() {
        "pytest.ini"
    } else if read(dir, "pyproject.toml").is_some_and(|t| t.contains("[tool.pytest")) {
        "[tool.pytest] in pyproject.toml"
    } else if read(dir, "setup.cfg").is_some_and(|t| t.contains("[tool:pytest]")) {
        "[tool:pytest] in setup.cfg"
    } else if read(dir, "tox.ini").is_some_and(|t| t.contains("[pytest]")) {
        "[pytest] in tox.ini"
    } else if dir.join("conftest.py").is_file() {
        "conftest.py"
    } else if has_test_files(&dir.join("tests")) {
        "tests/test_*.py"
    } else if has_test_files(dir) {
        "test_*.py"
    } else {
        return None;
    };
    // A virtualenv in the project wins over whatever pytest is on PATH.
    let venv = [".venv", "venv"]
        .iter()
        .map(|v| format!("{v}/bin/pytest"))
        .find(|p| dir.join(p).is_file());
    let mut notes = Vec::new();
    let program: Vec<String> = match venv {
        Some(p) => vec![p],
        None if on_path("pytest") => strings(&["pytest"]),
        None => {
            notes.push("pytest was not on PATH when this was written: python3 -m pytest runs it.".to_string());
            strings(&["python3", "-m", "pytest"])
        }
    };
    notes.push("With pytest-xdist, add \"-n\", \"{threads}\" to run tests in parallel.".to_string());
    let with = |extra: &[&str]| {
        let mut argv = program.clone();
        argv.extend(strings(extra));
        argv
    };
    Some(CommandTierStarter {
        name: "pytest",
        found: found.to_string(),
        command: with(&["-q", "--junitxml={junit}"]),
        rerun: Some(with(&["-q", "--lf", "--junitxml={junit}"])),
        env: Vec::new(),
        notes,
    })
}

fn detect_go(dir: &Path) -> Option<CommandTierStarter> {
    if !dir.join("go.mod").is_file() {
        return None;
    }
    let (command, notes) = if on_path("gotestsum") {
        (
            strings(&["gotestsum", "--junitfile", "{junit}", "--", "./..."]),
            Vec::new(),
        )
    } else {
        (
            strings(&["go", "test", "./..."]),
            vec![
                "go test writes no JUnit, so the tier is one result (its exit code); with gotestsum".to_string(),
                "each test is its own: [\"gotestsum\", \"--junitfile\", \"{junit}\", \"--\", \"./...\"].".to_string(),
            ],
        )
    };
    Some(CommandTierStarter {
        name: "go",
        found: "go.mod".into(),
        command,
        rerun: None,
        env: Vec::new(),
        notes,
    })
}

fn detect_npm(dir: &Path) -> Option<CommandTierStarter> {
    let package: serde_json::Value = serde_json::from_str(&read(dir, "package.json")?).ok()?;
    let script = package["scripts"]["test"].as_str()?;
    // npm init's placeholder fails on purpose: it is not a test suite.
    if script.contains("no test specified") {
        return None;
    }
    let has_dep = |name: &str| {
        ["dependencies", "devDependencies"]
            .iter()
            .any(|section| package[section].get(name).is_some())
    };
    let (command, env, notes) = if has_dep("jest-junit") {
        (
            strings(&["npm", "test", "--", "--reporters=default", "--reporters=jest-junit"]),
            vec![("JEST_JUNIT_OUTPUT_FILE".to_string(), "{junit}".to_string())],
            Vec::new(),
        )
    } else {
        (
            strings(&["npm", "test"]),
            Vec::new(),
            vec![
                "Without a JUnit report the tier is one result (its exit code); with jest, add jest-junit".to_string(),
                "and pass --reporters=jest-junit with env JEST_JUNIT_OUTPUT_FILE = \"{junit}\".".to_string(),
            ],
        )
    };
    Some(CommandTierStarter {
        name: "npm",
        found: format!("the test script in package.json ({script})"),
        command,
        rerun: None,
        env,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_each_runner_by_its_files() {
        let dir = tempfile::tempdir().unwrap();
        assert!(detect(dir.path()).is_empty());
        std::fs::write(dir.path().join("go.mod"), "module x\n").unwrap();
        std::fs::write(
            dir.path().join("package.json"),
            r#"{"scripts":{"test":"jest"},"devDependencies":{"jest-junit":"1"}}"#,
        )
        .unwrap();
        std::fs::write(dir.path().join("pyproject.toml"), "[tool.pytest.ini_options]\n").unwrap();
        let found = detect(dir.path());
        assert_eq!(
            found.iter().map(|r| r.name).collect::<Vec<_>>(),
            ["pytest", "go", "npm"]
        );
        assert!(found[0].command.contains(&"--junitxml={junit}".to_string()));
        assert_eq!(
            found[2].env,
            [("JEST_JUNIT_OUTPUT_FILE".to_string(), "{junit}".to_string())]
        );
    }

    #[test]
    fn npm_inits_placeholder_script_is_not_a_suite() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("package.json"),
            r#"{"scripts":{"test":"echo \"Error: no test specified\" && exit 1"}}"#,
        )
        .unwrap();
        assert!(detect(dir.path()).is_empty());
        std::fs::write(dir.path().join("package.json"), "{not json").unwrap();
        assert!(detect(dir.path()).is_empty());
    }

    #[test]
    fn a_project_virtualenv_runs_pytest() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".venv/bin")).unwrap();
        std::fs::write(dir.path().join(".venv/bin/pytest"), "").unwrap();
        std::fs::create_dir(dir.path().join("tests")).unwrap();
        std::fs::write(dir.path().join("tests/test_a.py"), "").unwrap();
        let found = detect(dir.path());
        assert_eq!(found[0].found, "tests/test_*.py");
        assert_eq!(found[0].command[0], ".venv/bin/pytest");
    }
}
