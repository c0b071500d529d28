//! The project's own GitHub Actions workflow (the setup docs/ci.md describes) must be valid: the
//! GitHub workflow schema (check-jsonschema's copy of SchemaStore's) and zizmor's audits, both
//! from PyPI; and every `cargo orbtest` command in it and in docs/ci.md parses as this
//! cargo-orbtest reads its command line.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn workflows() -> Vec<PathBuf> {
    let dir = repo().join(".github/workflows");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no workflow in {}", dir.display());
    files
}

/// `check-jsonschema` and `zizmor`: on PATH (`.ci/run` installs them), else in a virtualenv
/// made here with pip; `Err` says why neither worked.
fn tools() -> Result<(PathBuf, PathBuf), String> {
    if let (Ok(a), Ok(b)) = (which::which("check-jsonschema"), which::which("zizmor")) {
        return Ok((a, b));
    }
    let bin = crate::support::pysuite::venv("ci-lint-venv", &["check-jsonschema", "zizmor"])?;
    Ok((bin.join("check-jsonschema"), bin.join("zizmor")))
}

#[test]
fn the_github_workflow_validates() {
    let (schema, zizmor) = match tools() {
        Ok(t) => t,
        Err(why) => {
            assert_ne!(
                std::env::var("CI").as_deref(),
                Ok("true"),
                "CI must validate the workflow: {why}"
            );
            eprintln!("SKIPPED the_github_workflow_validates: {why}");
            return;
        }
    };
    for file in workflows() {
        let out = Command::new(&schema)
            .args(["--builtin-schema", "vendor.github-workflows"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{} does not match GitHub's workflow schema:\n{}{}",
            file.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let out = Command::new(&zizmor).arg("--offline").arg(&file).output().unwrap();
        assert!(
            out.status.success(),
            "zizmor finds problems in {}:\n{}",
            file.display(),
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

/// Each `cargo orbtest ...` (or `cargo run ... -- orbtest ...`) command in `text`, joined over
/// `\` line ends, as argv after `orbtest`, with the workflow's variables given example values.
fn orbtest_commands(text: &str) -> Vec<Vec<String>> {
    let joined = text.replace("\\\n", " ");
    let mut out = Vec::new();
    for line in joined.lines() {
        let Some(at) = line
            .find("cargo orbtest ")
            .map(|i| i + "cargo orbtest ".len())
            .or_else(|| line.find("-- orbtest ").map(|i| i + "-- orbtest ".len()))
        else {
            continue;
        };
        let rest = line[at..]
            .replace("$((JOB_COMPLETION_INDEX + 1))", "2")
            .replace("$CI_NODE_INDEX/$CI_NODE_TOTAL", "2/4")
            .replace("$SHARDS", "4")
            .replace("$SHARD", "2/4")
            .replace("$INDEX", "2")
            .replace("$CI_NODE_INDEX", "2")
            .replace("$K", "2")
            .replace("K/N", "2/4")
            .replace("--shards N", "--shards 4")
            .replace("shard-K", "shard-2");
        // The command ends where the shell or the prose takes over.
        let end = rest.find([')', '(', '>', '|', '#', '`', ';']).unwrap_or(rest.len());
        let args: Vec<String> = rest[..end]
            .split_whitespace()
            .map(|a| a.trim_matches('"').to_string())
            .collect();
        out.push(args);
    }
    out
}

/// The text of a markdown file's fenced code blocks, comment lines left out.
fn fenced_code(markdown: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            inside = !inside;
        } else if inside && !line.trim_start().starts_with('#') {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[test]
fn every_cargo_orbtest_command_in_the_workflow_and_docs_parses() {
    let mut checked = 0;
    let docs = repo().join("docs/ci.md");
    let mut sources: Vec<PathBuf> = workflows();
    sources.push(docs);
    for source in sources {
        let text = std::fs::read_to_string(&source).unwrap_or_else(|e| panic!("{}: {e}", source.display()));
        let code = if source.extension().is_some_and(|x| x == "md") {
            fenced_code(&text)
        } else {
            text.lines()
                .filter(|l| !l.trim_start().starts_with('#'))
                .collect::<Vec<_>>()
                .join("\n")
        };
        for args in orbtest_commands(&code) {
            let mut argv: Vec<std::ffi::OsString> = vec!["cargo-orbtest".into(), "orbtest".into()];
            argv.extend(args.iter().map(Into::into));
            if let Err(e) = orbtest::cli::parse(argv) {
                panic!(
                    "{}: `cargo orbtest {}` does not parse:\n{e}",
                    source.display(),
                    args.join(" ")
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 6, "found only {checked} commands");
}
