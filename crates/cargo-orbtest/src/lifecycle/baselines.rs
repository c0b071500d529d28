//! Baseline machines: created from an image, provisioned, stopped, and then cloned instead of
//! created from scratch. A baseline is reused while its recipe (image, user, provision steps)
//! is unchanged, and rebuilt when the recipe changes or on `--rebuild-baselines`.
//!
//! A baseline is known by its machine id, recorded when it was created: only that exact machine
//! is ever stopped, reused or rebuilt. A machine that merely has a baseline's name — one someone
//! made after deleting the baseline, say — is somebody else's, and preflight stops and says so.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::state::{BaselineRecord, ProviderState, now_ms};
use crate::config::Baseline;
use orbtest_machines::files::write_atomic;
use orbtest_machines::{Client, MachineRecord, Op};

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
pub fn recipe_hash(b: &Baseline) -> String {
    let recipe = serde_json::json!({ "image": b.image, "user": b.user, "provision": b.provision });
    let digest = Sha256::digest(recipe.to_string().as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub ready: Vec<ReadyBaseline>,
    pub reused: Vec<String>,
    pub built: Vec<String>,
}

/// Makes every configured baseline ready. `existing` is the machine list at the start.
pub fn ensure(
    client: &Client,
    state: &ProviderState,
    baselines: &[Baseline],
    existing: &[MachineRecord],
    rebuild: bool,
    log_dir: &Path,
) -> Result<Outcome, String> {
    let mut registry = state.baselines();
    let mut out = Outcome::default();
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
                return Err(format!(
                    "a machine named `{}` exists (id {}) but is not the baseline cargo orbtest built{}: rename or \
                     delete it yourself, or give the baseline another name (cargo orbtest never touches machines \
                     that are not its own)",
                    b.name,
                    m.id,
                    match known.and_then(|r| r.id.as_deref()) {
                        Some(id) => format!(" (that one was {id})"),
                        None => String::new(),
                    }
                ));
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
            super::cleanup::delete_one(client, &b.name).map_err(|e| format!("delete the old baseline: {e}"))?;
        }
        let mut record = BaselineRecord {
            recipe: BUILDING.into(),
            image: b.image.clone(),
            built_ms: now_ms(),
            id: None,
        };
        registry.insert(b.name.clone(), record.clone());
        state
            .set_baselines(&registry)
            .map_err(|e| format!("cannot record baseline `{}`: {e}", b.name))?;
        let built = build(client, b, &log_dir.join(&b.name), |id| {
            // Known by id from the moment it exists: a crash from here on leaves a build that
            // only this exact machine can finish.
            record.id = Some(id.to_string());
            registry.insert(b.name.clone(), record.clone());
            state
                .set_baselines(&registry)
                .map_err(|e| format!("cannot record baseline `{}`: {e}", b.name))
        });
        if let Err(e) = built {
            // Leave nothing half-built behind (only the machine we made).
            if let Some(id) = registry.get(&b.name).and_then(|r| r.id.clone()) {
                let _ = client.execute(&Op::delete(&id));
            }
            registry.remove(&b.name);
            let _ = state.set_baselines(&registry);
            return Err(e);
        }
        let id = registry.get(&b.name).and_then(|r| r.id.clone());
        registry.insert(
            b.name.clone(),
            BaselineRecord {
                recipe: hash,
                image: b.image.clone(),
                built_ms: now_ms(),
                id,
            },
        );
        state
            .set_baselines(&registry)
            .map_err(|e| format!("cannot record baseline `{}`: {e}", b.name))?;
        out.built.push(b.name.clone());
        out.ready.push(ready);
    }
    Ok(out)
}

/// Creates, provisions and stops baseline `b`; `created` learns its id as soon as it exists.
fn build(
    client: &Client,
    b: &Baseline,
    log_dir: &Path,
    mut created: impl FnMut(&str) -> Result<(), String>,
) -> Result<(), String> {
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
    let info = client
        .machine_info(&b.name)
        .map_err(|e| format!("baseline `{}`: cannot read its id: {e}", b.name))?;
    created(&info.record.id)?;
    std::fs::create_dir_all(log_dir).map_err(|e| format!("cannot create {}: {e}", log_dir.display()))?;
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
        let result = provisioner.execute(&op).map_err(|e| {
            let message = format!("baseline `{}`: provision step {} (`{step}`): {e}", b.name, i + 1);
            orbtest_machines::redact::global().redact(&message).into_owned()
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
            let tail = crate::report::tail(&String::from_utf8_lossy(&text), 10);
            let message = format!(
                "baseline `{}`: provision step {} (`{step}`) {why}; output in {}:\n{tail}",
                b.name,
                i + 1,
                log.display()
            );
            return Err(orbtest_machines::redact::global().redact(&message).into_owned());
        }
    }
    run(client, &Op::stop(&b.name), "stop")
}

fn run(client: &Client, op: &Op, what: &str) -> Result<(), String> {
    client
        .execute(op)
        .and_then(|r| r.into_result())
        .map(drop)
        .map_err(|e| format!("{what}: {e}"))
}

/// Names of every baseline we know: configured or in the registry (never reaped).
pub fn known_names(state: &ProviderState, configured: &[Baseline]) -> BTreeSet<String> {
    let mut names: BTreeSet<String> = state.baselines().into_keys().collect();
    names.extend(configured.iter().map(|b| b.name.clone()));
    names
}

/// Images that have a ready baseline (no need to warm them).
pub fn images(ready: &[ReadyBaseline]) -> BTreeMap<String, String> {
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
