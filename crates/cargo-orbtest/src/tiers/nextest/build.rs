//! Build once: compile every test binary the selected tiers may need, before the first tier
//! runs, and record them so each tier reuses the build instead of invoking cargo again.

use std::path::{Path, PathBuf};

use nextest_metadata::NextestExitCode;

use super::{ConfigSite, ToolConfig, config_sites};
use crate::config::{Config, Diagnostic};
use crate::env::scrubbed;
use crate::errors::{Error, Result};
use crate::report::tail;
use crate::signals::Interrupts;
use crate::workspace::Workspace;
use orbtest_process::{Invocation, Output, Sink, Supervision};

/// The reuse-build inputs each tier's `cargo nextest run` gets.
#[derive(Debug, Clone)]
pub(crate) struct Built {
    pub binaries_metadata: PathBuf,
    pub cargo_metadata: PathBuf,
}

impl Built {
    /// Each test binary's path and binary id, from the build's binaries metadata (empty when
    /// it cannot be read: only the live view's names need it).
    pub(crate) fn binary_ids(&self) -> Vec<(PathBuf, String)> {
        let Ok(text) = std::fs::read_to_string(&self.binaries_metadata) else {
            return Vec::new();
        };
        let Ok(list) = serde_json::from_str::<nextest_metadata::BinaryListSummary>(&text) else {
            return Vec::new();
        };
        list.rust_binaries
            .values()
            .map(|b| (b.binary_path.clone().into_std_path_buf(), b.binary_id.to_string()))
            .collect()
    }

    pub(crate) fn args(&self) -> [String; 4] {
        [
            "--binaries-metadata".into(),
            self.binaries_metadata.display().to_string(),
            "--cargo-metadata".into(),
            self.cargo_metadata.display().to_string(),
        ]
    }
}

/// What to build, and how.
pub(crate) struct BuildRequest<'a> {
    pub ws: &'a Workspace,
    pub config: &'a Config,
    pub tool_config: &'a ToolConfig,
    /// Forwarded cargo build arguments (features, profile, packages, ...).
    pub build_args: &'a [String],
    /// `always` or `never`.
    pub color: &'a str,
    /// Where the build's metadata and log go.
    pub out_dir: &'a Path,
    /// cargo's output to the terminal instead of `build.log`.
    pub echo: bool,
    pub interrupts: &'a Interrupts,
}

/// Compiles the workspace's tests through nextest (which also validates every tier's
/// filtersets: a bad one is reported as a config error at its line in orchestrator.toml).
pub(crate) fn build(request: &BuildRequest<'_>) -> Result<Built> {
    let BuildRequest {
        ws,
        config,
        tool_config,
        build_args,
        color,
        out_dir,
        echo,
        interrupts,
    } = *request;
    let binaries_metadata = out_dir.join("binaries-metadata.json");
    let cargo_metadata = out_dir.join("cargo-metadata.json");
    let log_path = out_dir.join("build.log");
    orbtest_machines::files::write_atomic(&cargo_metadata, ws.metadata_json.as_bytes())
        .map_err(|e| Error::io("cannot write", &cargo_metadata, e))?;

    let stdout = orbtest_machines::files::create_private_file(&binaries_metadata)
        .map_err(|e| Error::io("cannot create", &binaries_metadata, e))?;
    let log = orbtest_machines::files::create_private_file(&log_path)
        .map_err(|e| Error::io("cannot create", &log_path, e))?;
    let inv = Invocation::new(&ws.cargo)
        .args([
            "nextest",
            "list",
            "--list-type",
            "binaries-only",
            "--message-format",
            "json",
        ])
        .arg("--tool-config-file")
        .arg(tool_config.arg())
        .args(["--color", color])
        .arg("--manifest-path")
        .arg(ws.root.join("Cargo.toml"))
        .args(build_args)
        .dir(&ws.root);
    let output = Output::Redirect {
        stdout: Sink::File(stdout),
        stderr: if echo { Sink::Inherit } else { Sink::File(log) },
    };
    let status = orbtest_process::run(
        &scrubbed(inv),
        &Supervision::new().interrupts(interrupts.clone()),
        output,
    )
    .map_err(|e| Error::Infrastructure(format!("could not run `cargo nextest list`: {e}")))?;
    if status.success() {
        return Ok(Built {
            binaries_metadata,
            cargo_metadata,
        });
    }
    if let Err(e) = orbtest_machines::redact::global().scrub_file(&log_path) {
        tracing::warn!("cannot redact {}: {e}", log_path.display());
    }
    let output = std::fs::read_to_string(&log_path).unwrap_or_default();
    let code = status.code;
    match code {
        Some(NextestExitCode::BUILD_FAILED) => Err(Error::Build {
            code: "101".into(),
            output_tail: tail(&output, 60),
        }),
        Some(NextestExitCode::INVALID_FILTERSET | NextestExitCode::SETUP_ERROR) => Err(config_error(config, &output)
            .unwrap_or_else(|| Error::Nextest {
                what: "cargo-nextest rejected the generated configuration".into(),
                detail: tail(&output, 30),
            })),
        _ if interrupts.received().is_some() => Err(Error::Infrastructure("build interrupted".into())),
        _ => Err(Error::Nextest {
            what: format!(
                "`cargo nextest list` failed ({})",
                code.map_or_else(|| "killed by a signal".to_string(), |c| format!("exit {c}"))
            ),
            detail: tail(&output, 30),
        }),
    }
}

/// Turns nextest's complaints about tier filtersets into diagnostics at their place in
/// orchestrator.toml.
fn config_error(config: &Config, stderr: &str) -> Option<Error> {
    let sites = config_sites(stderr);
    let mut diagnostics = Vec::new();
    for (site, message) in sites {
        let (tier_name, span, what) = match &site {
            ConfigSite::Filter { tier } => {
                let t = config.tier(tier)?;
                (tier, t.spans.filter.clone().unwrap_or(t.spans.header.clone()), "filter")
            }
            ConfigSite::Flaky { tier, index } => {
                let t = config.tier(tier)?;
                (tier, t.spans.flaky.get(*index)?.clone(), "flaky filterset")
            }
        };
        diagnostics.push(
            Diagnostic::new(
                span,
                format!("invalid {what} in [tiers.{tier_name}] (as cargo-nextest reads it)"),
            )
            .note(format!("cargo-nextest says:\n{}", indent(&message)))
            .help("see https://nexte.st/docs/filtersets/ for the filterset language"),
        );
    }
    if diagnostics.is_empty() {
        return None;
    }
    // nextest names the bad filtersets in no fixed order; show them in file order.
    diagnostics.sort_by_key(|d| d.span.start);
    let mut err = config.error_at(diagnostics.remove(0));
    err.diagnostics.extend(diagnostics);
    Some(Error::from(err))
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("      {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
