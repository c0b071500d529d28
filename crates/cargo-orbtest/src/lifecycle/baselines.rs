//! Baseline machines: created from an image, provisioned, stopped, and then cloned instead of
//! created from scratch. A baseline is reused while its recipe (image, user, provision steps)
//! is unchanged, and rebuilt when the recipe changes or on `--rebuild-baselines`.
//!
//! A baseline is known by its machine id, recorded when it was created: only that exact machine
//! is ever stopped, reused or rebuilt. A machine that merely has a baseline's name — one someone
//! made after deleting the baseline, say — is somebody else's, and preflight stops and says so.
//!
//! Besides the configured ones, an automatic baseline (`orbtest-auto-<distro>-<version>`, not
//! provisioned) is made for each image the previous run's tests created again and again without
//! a baseline to clone ([`automatic`]; `auto_baselines = false` turns it off). Building
//! baselines never changes the user's default machine: OrbStack makes the first machine the
//! default, and preflight sets the old one back.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::state::{BaselineRecord, ProviderState, now_ms};
use crate::config::Baseline;
use orbctl::images::canonical;
use orbtest_machines::broker::ImageDemand;
use orbtest_machines::files::write_atomic;
use orbtest_machines::{Client, MachineRecord, MachinesError, Op};

/// Why a baseline could not be made ready. Messages that quote provision steps are redacted.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BaselineError {
    #[error(
        "a machine named `{name}` exists (id {id}) but is not the baseline cargo orbtest built{}: rename or \
         delete it yourself, or give the baseline another name (cargo orbtest never touches machines \
         that are not its own)",
        .was.as_ref().map(|id| format!(" (that one was {id})")).unwrap_or_default()
    )]
    NotOurs {
        name: String,
        id: String,
        /// The id of the baseline we built, when known.
        was: Option<String>,
    },
    #[error("delete the old baseline: {0}")]
    DeleteOld(#[source] super::cleanup::CleanupError),
    #[error("cannot record baseline `{name}`: {source}")]
    Record {
        name: String,
        #[source]
        source: std::io::Error,
    },
    #[error("baseline `{name}`: cannot read its id: {source}")]
    Id {
        name: String,
        #[source]
        source: MachinesError,
    },
    #[error("cannot create {}: {source}", .path.display())]
    LogDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `create` or `stop` of the baseline failed.
    #[error("{what}: {source}")]
    Call {
        what: &'static str,
        #[source]
        source: MachinesError,
    },
    #[error("{}", redacted(&format!("baseline `{baseline}`: provision step {number} (`{step}`): {source}")))]
    ProvisionCall {
        baseline: String,
        number: usize,
        step: String,
        #[source]
        source: MachinesError,
    },
    #[error("{0}")]
    ProvisionFailed(Box<ProvisionFailure>),
}

/// A provision step that ran and failed.
#[derive(Debug)]
pub(crate) struct ProvisionFailure {
    pub baseline: String,
    pub number: usize,
    pub step: String,
    /// `timed out after 10m`, `exited with 2`.
    pub why: String,
    pub log: PathBuf,
    /// The step's last lines of output.
    pub tail: String,
}

impl std::fmt::Display for ProvisionFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let message = format!(
            "baseline `{}`: provision step {} (`{}`) {}; output in {}:\n{}",
            self.baseline,
            self.number,
            self.step,
            self.why,
            self.log.display(),
            self.tail
        );
        f.write_str(&redacted(&message))
    }
}

impl BaselineError {
    /// An interrupt stopped an orbctl call: the machine may still be on its way.
    pub(crate) fn is_interrupted(&self) -> bool {
        let source = match self {
            BaselineError::Call { source, .. }
            | BaselineError::Id { source, .. }
            | BaselineError::ProvisionCall { source, .. } => source,
            _ => return false,
        };
        matches!(source, MachinesError::Interrupted { .. })
    }
}

fn redacted(message: &str) -> String {
    orbtest_machines::redact::global().redact(message).into_owned()
}

/// A ready baseline, as the shim needs it to turn creates into clones.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReadyBaseline {
    pub name: String,
    pub image: String,
    pub user: Option<String>,
    pub clone_for_create: bool,
}

use super::state::BUILDING;

/// What a baseline is built from; any change means a rebuild.
pub(crate) fn recipe_hash(b: &Baseline) -> String {
    let recipe = serde_json::json!({ "image": b.image, "user": b.user, "provision": b.provision });
    let digest = Sha256::digest(recipe.to_string().as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug, Clone, Default)]
pub(crate) struct BaselineReport {
    pub ready: Vec<ReadyBaseline>,
    pub reused: Vec<String>,
    pub built: Vec<String>,
}

/// Makes every configured baseline ready. `existing` is the machine list at the start.
pub(crate) fn ensure(
    client: &Client,
    state: &ProviderState,
    baselines: &[Baseline],
    existing: &[MachineRecord],
    rebuild: bool,
    log_dir: &Path,
) -> Result<BaselineReport, BaselineError> {
    let before = if baselines.is_empty() {
        None
    } else {
        default_machine(client)
    };
    let mut out = BaselineReport::default();
    let made = ensure_each(client, state, baselines, existing, rebuild, log_dir, &mut out);
    if !out.built.is_empty() {
        keep_default(client, before.as_deref(), &out.built);
    }
    made.map(|()| out)
}

fn ensure_each(
    client: &Client,
    state: &ProviderState,
    baselines: &[Baseline],
    existing: &[MachineRecord],
    rebuild: bool,
    log_dir: &Path,
    out: &mut BaselineReport,
) -> Result<(), BaselineError> {
    let mut registry = state.baselines();
    for b in baselines {
        let hash = recipe_hash(b);
        let machine = existing.iter().find(|m| m.name == b.name);
        let known = registry.get(&b.name);
        let ready = ReadyBaseline {
            name: b.name.clone(),
            image: b.image.clone(),
            user: b.user.clone(),
            clone_for_create: b.clone_for_create,
        };
        if let Some(m) = machine {
            if !known.is_some_and(|r| r.is_machine(&m.id)) {
                return Err(BaselineError::NotOurs {
                    name: b.name.clone(),
                    id: m.id.clone(),
                    was: known.and_then(|r| r.id.clone()),
                });
            }
            if !rebuild && known.is_some_and(|r| r.recipe == hash) {
                if m.is_running() {
                    run(client, &Op::stop(&b.name), "stop")?;
                }
                out.reused.push(b.name.clone());
                out.ready.push(ready);
                continue;
            }
            // Ours, with another recipe (or a build cut short, or --rebuild-baselines). Possibly
            // still being created by a run that was killed: wait for it, then delete.
            super::cleanup::delete_one(client, &b.name).map_err(BaselineError::DeleteOld)?;
        }
        let mut record = BaselineRecord {
            recipe: BUILDING.into(),
            image: b.image.clone(),
            built_ms: now_ms(),
            id: None,
        };
        save(state, &mut registry, b, record.clone())?;
        let built = build(client, b, &log_dir.join(&b.name), |id| {
            // Known by id from the moment it exists: a crash from here on leaves a build that
            // only this exact machine can finish.
            record.id = Some(id.to_string());
            save(state, &mut registry, b, record.clone())
        });
        if let Err(e) = built {
            // Leave nothing half-built behind (only the machine we made). A create cut short by
            // an interrupt may still finish in OrbStack, under no id we know: the registry then
            // keeps the build unfinished, and the next run deletes what it finds.
            let id = registry.get(&b.name).and_then(|r| r.id.clone());
            let deleted = id.is_some_and(|id| client.execute(&Op::delete(&id)).is_ok_and(|r| r.is_success()));
            if deleted || !e.is_interrupted() {
                registry.remove(&b.name);
                let _ = state.set_baselines(&registry);
            }
            return Err(e);
        }
        let id = registry.get(&b.name).and_then(|r| r.id.clone());
        let finished = BaselineRecord {
            recipe: hash,
            image: b.image.clone(),
            built_ms: now_ms(),
            id,
        };
        save(state, &mut registry, b, finished)?;
        out.built.push(b.name.clone());
        out.ready.push(ready);
    }
    Ok(())
}

/// Creates, provisions and stops baseline `b`; `created` learns its id as soon as it exists.
fn build(
    client: &Client,
    b: &Baseline,
    log_dir: &Path,
    mut created: impl FnMut(&str) -> Result<(), BaselineError>,
) -> Result<(), BaselineError> {
    run(
        client,
        &Op::Create {
            image: b.image.clone(),
            name: Some(b.name.clone()),
            arch: None,
            user: b.user.clone(),
            user_data: None,
            set_password: false,
        },
        "create",
    )?;
    let info = client.machine_info(&b.name).map_err(|source| BaselineError::Id {
        name: b.name.clone(),
        source,
    })?;
    created(&info.record.id)?;
    std::fs::create_dir_all(log_dir).map_err(|source| BaselineError::LogDir {
        path: log_dir.to_path_buf(),
        source,
    })?;
    let mut policy = client.policy().clone();
    policy.timeouts.run = Some(b.provision_timeout);
    let provisioner = client.clone().with_policy(policy);
    for (i, step) in b.provision.iter().enumerate() {
        let op = Op::Run {
            machine: Some(b.name.clone()),
            user: None,
            workdir: None,
            shell: false,
            path: false,
            command: vec!["sh".into(), "-c".into(), step.clone()],
        };
        let result = provisioner
            .execute(&op)
            .map_err(|source| BaselineError::ProvisionCall {
                baseline: b.name.clone(),
                number: i + 1,
                step: step.clone(),
                source,
            })?;
        let log = log_dir.join(format!("provision-{}.log", i + 1));
        let mut text = format!("$ {step}\n").into_bytes();
        text.extend_from_slice(&result.stdout);
        text.extend_from_slice(&result.stderr);
        let text = orbtest_machines::redact::global().redact_bytes(&text).into_owned();
        let _ = write_atomic(&log, &text);
        if !result.is_success() {
            let timeout = matches!(result.outcome, orbtest_machines::Outcome::TimedOut);
            let why = if timeout {
                format!("timed out after {}", humantime::format_duration(b.provision_timeout))
            } else {
                format!(
                    "exited with {}",
                    result.exit_code.map_or("a signal".into(), |c| c.to_string())
                )
            };
            return Err(BaselineError::ProvisionFailed(Box::new(ProvisionFailure {
                baseline: b.name.clone(),
                number: i + 1,
                step: step.clone(),
                why,
                log,
                tail: crate::report::tail(&String::from_utf8_lossy(&text), 10),
            })));
        }
    }
    run(client, &Op::stop(&b.name), "stop")
}

fn run(client: &Client, op: &Op, what: &'static str) -> Result<(), BaselineError> {
    client
        .execute(op)
        .and_then(|r| r.into_result())
        .map(drop)
        .map_err(|source| BaselineError::Call { what, source })
}

/// Records `record` for baseline `b` in the registry.
fn save(
    state: &ProviderState,
    registry: &mut BTreeMap<String, BaselineRecord>,
    b: &Baseline,
    record: BaselineRecord,
) -> Result<(), BaselineError> {
    registry.insert(b.name.clone(), record);
    state.set_baselines(registry).map_err(|source| BaselineError::Record {
        name: b.name.clone(),
        source,
    })
}

/// How often the previous run must have created machines from one image (and user) for an
/// automatic baseline of it.
pub(crate) const AUTO_MIN_CREATES: u32 = 3;

/// Prefix of automatic baselines' names.
pub(crate) const AUTO_PREFIX: &str = "orbtest-auto-";

/// Automatic baselines: one per image (and user) the previous run's tests created at least
/// [`AUTO_MIN_CREATES`] times and no configured baseline serves, named after the image as
/// OrbStack resolves it, not provisioned, cloned for matching creates.
pub(crate) fn automatic(configured: &[Baseline], demand: &[ImageDemand]) -> Vec<Baseline> {
    let mut out: Vec<Baseline> = Vec::new();
    for d in demand.iter().filter(|d| d.creates >= AUTO_MIN_CREATES) {
        let Some((distro, version)) = canonical(&d.image) else {
            continue;
        };
        let serves = |b: &Baseline| {
            b.clone_for_create
                && canonical(&b.image).is_some_and(|c| c == (distro, version.clone()))
                && b.user == d.user
        };
        if configured.iter().any(serves) || out.iter().any(serves) {
            continue;
        }
        let mut name = format!("{AUTO_PREFIX}{distro}-{version}");
        if let Some(user) = &d.user {
            name.push('-');
            name.push_str(user);
        }
        let name: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '.' { c } else { '-' })
            .collect();
        out.push(Baseline {
            name,
            image: d.image.clone(),
            user: d.user.clone(),
            provision: Vec::new(),
            provision_timeout: std::time::Duration::from_secs(600),
            clone_for_create: true,
        });
    }
    out
}

/// The machine `orbctl default` names, when there is one.
fn default_machine(client: &Client) -> Option<String> {
    let r = client
        .execute(&Op::Default { name: None })
        .ok()
        .filter(|r| r.is_success())?;
    Some(r.stdout_text().trim().to_string()).filter(|n| !n.is_empty())
}

/// Sets the user's default machine back when building baselines changed it to one of them.
fn keep_default(client: &Client, before: Option<&str>, built: &[String]) {
    let now = default_machine(client);
    if let (Some(before), Some(now)) = (before, now)
        && now != before
        && built.contains(&now)
    {
        let restore = Op::Default {
            name: Some(before.to_string()),
        };
        if !client.execute(&restore).is_ok_and(|r| r.is_success()) {
            tracing::warn!("building baselines made `{now}` the default machine and `{before}` could not be set back");
        }
    }
}

/// Images that have a ready baseline (no need to warm them).
pub(crate) fn images(ready: &[ReadyBaseline]) -> BTreeMap<String, String> {
    ready.iter().map(|b| (b.image.clone(), b.name.clone())).collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn baseline(steps: &[&str]) -> Baseline {
        Baseline {
            name: "base".into(),
            image: "ubuntu:22.04".into(),
            user: None,
            provision: steps.iter().map(|s| s.to_string()).collect(),
            provision_timeout: Duration::from_secs(60),
            clone_for_create: true,
        }
    }

    #[test]
    fn the_recipe_changes_with_image_user_and_steps_only() {
        let a = baseline(&["apt-get update"]);
        assert_eq!(recipe_hash(&a), recipe_hash(&baseline(&["apt-get update"])));
        assert_ne!(recipe_hash(&a), recipe_hash(&baseline(&["apt-get update", "true"])));
        let mut b = a.clone();
        b.user = Some("dev".into());
        assert_ne!(recipe_hash(&a), recipe_hash(&b));
        let mut c = a.clone();
        c.provision_timeout = Duration::from_secs(1);
        c.clone_for_create = false;
        assert_eq!(recipe_hash(&a), recipe_hash(&c));
    }
}
