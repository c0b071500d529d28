//! The simulated OrbStack daemon: what happens to machines over simulated time.
//!
//! There is no daemon process. Operations schedule a machine's future states (its timeline) at
//! the moment they are called; any later process that takes the lock "settles" what has
//! happened since (completions, failures, deletions, memory peaks). So a create whose client was
//! killed still completes, and its duplicate is refused meanwhile.

use orbctl::errors::DaemonError;
use rand::Rng;

use crate::scenario::{Dist, SimSecs, WindowKind};
use crate::state::{CreateKind, MState, OrbEvent, Pending, SimMachine, Tombstone, Txn};
use orbctl::output::{ImageSpec, MachineConfig, MachineInfo, MachineRecord};

/// OrbStack as a whole.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum OrbStatus {
    Running,
    Starting {
        ready_at: SimSecs,
    },
    Stopped,
    /// A scripted restart: daemon calls fail with `machine manager is stopping`.
    Restarting {
        until: SimSecs,
    },
}

/// What a command must do before it may talk to the daemon.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Gate {
    Ready,
    WaitUntil(SimSecs),
    Stopping,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Memory {
    pub memory_percent: f64,
    pub swap_percent: f64,
    pub slowdown: f64,
    /// Used memory and swap in MiB (what the percentages are of the scenario's sizes).
    pub memory_used_mib: u64,
    pub swap_used_mib: u64,
}

/// A create-class operation the daemon accepted.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CreatePlan {
    pub id: String,
    pub ends_at: SimSecs,
    pub failure: Option<String>,
    /// Simulated seconds the client keeps running after success.
    pub hang: SimSecs,
}

/// How a create-class operation ended, seen from its client.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Ended {
    Done,
    Failed(String),
    NotYet(SimSecs),
}

/// What a new machine looks like.
pub(crate) struct NewMachine {
    pub name: String,
    pub image: ImageSpec,
    pub username: String,
}

const CANCELED: &str = "setup: do initial setup: canceled by machine shutdown";
const TOMBSTONES_KEPT: usize = 256;

impl Txn<'_> {
    /// Accounts for everything that happened between the last settle and now.
    pub(crate) fn settle(&mut self) {
        let now = self.now;
        let from = self.state.settled_at;
        let mut changed = false;

        let mut times: Vec<SimSecs> = self
            .state
            .machines
            .iter()
            .flat_map(|m| m.timeline.iter().map(|p| p.at))
            .filter(|&t| t > from && t <= now)
            .collect();
        times.push(now);
        for t in times {
            let m = self.memory_at(t);
            let c = &mut self.state.counters;
            if m.memory_percent > c.peak_memory_percent {
                c.peak_memory_percent = m.memory_percent;
                changed = true;
            }
            if m.swap_percent > c.peak_swap_percent {
                c.peak_swap_percent = m.swap_percent;
                changed = true;
            }
        }

        let mut new_default = None;
        for m in &mut self.state.machines {
            let Some(p) = m.pending.clone() else { continue };
            if p.ends_at > now {
                continue;
            }
            let c = &mut self.state.counters;
            match (&p.failure, p.kind) {
                (Some(err), _) => {
                    c.creates_failed += 1;
                    self.state.tombstones.push(Tombstone {
                        id: m.id.clone(),
                        error: err.clone(),
                    });
                }
                (None, CreateKind::Create) => c.creates_finished += 1,
                (None, CreateKind::Clone) => c.clones_finished += 1,
                (None, CreateKind::Import) => c.imports_finished += 1,
            }
            if p.failure.is_none() && new_default.is_none() {
                new_default = Some(m.id.clone());
            }
            m.pending = None;
            changed = true;
        }
        // The first machine created becomes the default.
        if self.state.default_id.is_none()
            && let Some(id) = new_default
        {
            self.state.default_id = Some(id);
        }

        let gone: Vec<usize> = (0..self.state.machines.len())
            .filter(|&i| self.state.machines[i].state_at(now) == MState::Gone)
            .collect();
        for &i in gone.iter().rev() {
            let m = self.state.machines.remove(i);
            if m.deleted {
                self.state.counters.deletes += 1;
            }
            if self.state.default_id.as_deref() == Some(&m.id) {
                self.state.default_id = None;
            }
            // Best effort: a leftover directory only costs disk space.
            let _ = std::fs::remove_dir_all(self.store.machine_dir(&m.id));
            changed = true;
        }

        let before = self.state.live_creates.len();
        self.state.live_creates.retain(|&(_, end)| end > now);
        changed |= before != self.state.live_creates.len();
        if self.state.tombstones.len() > TOMBSTONES_KEPT {
            let extra = self.state.tombstones.len() - TOMBSTONES_KEPT;
            self.state.tombstones.drain(..extra);
        }
        if changed {
            self.state.settled_at = now;
            self.touch();
        }
    }

    pub(crate) fn orb_status(&self, t: SimSecs) -> OrbStatus {
        let windows = &self.scenario.windows;
        if let Some(w) = windows
            .iter()
            .find(|w| w.kind == WindowKind::Restarting && w.from <= t && t < w.to)
        {
            return OrbStatus::Restarting { until: w.to };
        }
        let scripted = windows.iter().filter(|w| w.kind == WindowKind::Stopped).flat_map(|w| {
            [
                OrbEvent::Stop { at: w.from },
                OrbEvent::Start {
                    at: w.to,
                    ready_at: w.to,
                },
            ]
        });
        // Later events win; at equal times a command's own event (listed last) wins.
        let latest = scripted
            .chain(self.state.orbstack.iter().copied())
            .filter(|e| e.at() <= t)
            .fold(None::<OrbEvent>, |best, e| match best {
                Some(b) if b.at() > e.at() => Some(b),
                _ => Some(e),
            });
        match latest {
            None => OrbStatus::Running,
            Some(OrbEvent::Stop { .. }) => OrbStatus::Stopped,
            Some(OrbEvent::Start { ready_at, .. }) if t < ready_at => OrbStatus::Starting { ready_at },
            Some(OrbEvent::Start { .. }) => OrbStatus::Running,
        }
    }

    /// Auto-start, as most orbctl commands do before talking to the daemon.
    pub(crate) fn ensure_started(&mut self) -> Gate {
        match self.orb_status(self.now) {
            OrbStatus::Running => Gate::Ready,
            OrbStatus::Starting { ready_at } => Gate::WaitUntil(ready_at),
            OrbStatus::Restarting { .. } => Gate::Stopping,
            OrbStatus::Stopped => {
                let ready_at = self.now + self.latency("startup");
                self.state.orbstack.push(OrbEvent::Start { at: self.now, ready_at });
                self.touch();
                if ready_at > self.now {
                    Gate::WaitUntil(ready_at)
                } else {
                    Gate::Ready
                }
            }
        }
    }

    /// `orbctl stop` without names.
    pub(crate) fn stop_orbstack(&mut self) {
        self.state.orbstack.push(OrbEvent::Stop { at: self.now });
        self.touch();
    }

    pub(crate) fn memory_at(&self, t: SimSecs) -> Memory {
        let h = &self.scenario.host;
        let n = self
            .state
            .machines
            .iter()
            .filter(|m| m.state_at(t).uses_memory())
            .count() as u64;
        let used = h.base_mib + n * h.machine_mib;
        let memory_percent = used.min(h.memory_mib) as f64 * 100.0 / h.memory_mib as f64;
        let swap_percent = if h.swap_mib == 0 {
            0.0
        } else {
            (used.saturating_sub(h.memory_mib) as f64 * 100.0 / h.swap_mib as f64).min(100.0)
        };
        let threshold = h.slowdown_above_swap_percent;
        let slowdown = if swap_percent > threshold && threshold < 100.0 {
            1.0 + (h.max_slowdown - 1.0).max(0.0) * (swap_percent - threshold) / (100.0 - threshold)
        } else {
            1.0
        };
        Memory {
            memory_percent,
            swap_percent,
            slowdown,
            memory_used_mib: used.min(h.memory_mib),
            swap_used_mib: used.saturating_sub(h.memory_mib).min(h.swap_mib),
        }
    }

    /// An operation's latency now: its drawn duration times the pressure slowdown.
    pub(crate) fn latency(&mut self, key: &str) -> SimSecs {
        let Some(dist) = self.scenario.latency(key).cloned() else {
            return 0.0;
        };
        let base = match dist {
            Dist::Fixed(v) => v,
            random => random.draw(self.rng()),
        };
        base * self.memory_at(self.now).slowdown
    }

    /// By id first, then by name, among machines that still exist.
    pub(crate) fn find(&self, key: &str) -> Option<usize> {
        let alive = |m: &SimMachine| m.state_at(self.now) != MState::Gone;
        let ms = &self.state.machines;
        ms.iter()
            .position(|m| m.id == key && alive(m))
            .or_else(|| ms.iter().position(|m| m.name == key && alive(m)))
    }

    /// The default machine: the one set, else the first by name.
    pub(crate) fn default_machine(&self) -> Option<usize> {
        if let Some(id) = &self.state.default_id
            && let Some(i) = self.find(id)
        {
            return Some(i);
        }
        let mut order: Vec<usize> = (0..self.state.machines.len())
            .filter(|&i| self.state.machines[i].state_at(self.now) != MState::Gone)
            .collect();
        order.sort_by(|&a, &b| self.state.machines[a].name.cmp(&self.state.machines[b].name));
        order.first().copied()
    }

    /// Existing machines sorted by name.
    pub(crate) fn listing(&self) -> Vec<usize> {
        let mut v: Vec<usize> = (0..self.state.machines.len())
            .filter(|&i| self.state.machines[i].state_at(self.now) != MState::Gone)
            .collect();
        v.sort_by(|&a, &b| self.state.machines[a].name.cmp(&self.state.machines[b].name));
        v
    }

    pub(crate) fn state_of(&self, i: usize) -> MState {
        self.state.machines[i].state_at(self.now)
    }

    fn new_id(&mut self) -> String {
        let ms = (crate::clock::unix_ns_now() / 1_000_000) as u64;
        let random: u128 = self.rng().random();
        ulid::Ulid::from_parts(ms, random).to_string()
    }

    /// Decides whether this create-class call fails part-way (and when) or hangs after success.
    fn draw_faults(&mut self, op: &str, latency: SimSecs) -> (Option<(SimSecs, String)>, SimSecs) {
        let mut failure = None;
        if let Some(tr) = self.scenario.faults.transient.clone()
            && tr.ops.iter().any(|o| o == op)
        {
            let under_limit = tr
                .limit
                .is_none_or(|l| self.state.counters.transient_failures_injected < l);
            let left = self.state.bursts.get(op).copied().unwrap_or(0);
            let u: f64 = self.rng().random();
            let fail = under_limit && (left > 0 || u < tr.rate);
            if fail {
                let next = if left > 0 { left - 1 } else { tr.burst - 1 };
                self.state.bursts.insert(op.to_string(), next);
                self.state.counters.transient_failures_injected += 1;
                failure = Some((latency * tr.at, tr.error.clone()));
            }
        }
        let mut hang = 0.0;
        if failure.is_none()
            && let Some(h) = self.scenario.faults.hang.clone()
            && h.ops.iter().any(|o| o == op)
        {
            let u: f64 = self.rng().random();
            if u < h.probability {
                let f: f64 = self.rng().random();
                hang = h.min + f * (h.max - h.min);
                self.state.counters.hangs_injected += 1;
            }
        }
        (failure, hang)
    }

    /// Whether `[faults.kill]` kills this call's process (after its work, before its output):
    /// the signal to die from.
    pub(crate) fn draw_kill(&mut self, verb: &str) -> Option<i32> {
        let k = self.scenario.faults.kill.clone()?;
        if !k.ops.iter().any(|o| o == verb) || k.limit.is_some_and(|l| self.state.counters.kills_injected >= l) {
            return None;
        }
        let u: f64 = self.rng().random();
        if u >= k.probability {
            return None;
        }
        self.state.counters.kills_injected += 1;
        crate::scenario::signal_number(&k.signal)
    }

    /// Records a create-class interval and the new peak of overlapping ones.
    fn track_create(&mut self, end: SimSecs) {
        let now = self.now;
        let overlapping = self.state.live_creates.iter().filter(|&&(_, e)| e > now).count() as u64;
        let c = &mut self.state.counters;
        c.peak_concurrent_creates = c.peak_concurrent_creates.max(overlapping + 1);
        self.state.live_creates.push((now, end.max(now)));
    }

    /// Checks a new machine name as `beginCreate` does.
    pub(crate) fn check_new_name(&self, name: &str) -> Result<(), NameError> {
        if !orbctl::images::valid_machine_name(name) {
            return Err(NameError::Invalid);
        }
        if self.find(name).is_some() {
            return Err(NameError::Taken);
        }
        Ok(())
    }

    /// `create`: validated by the caller up to the name; returns the plan or the daemon's
    /// message (without `create 'N': `, which the caller adds).
    pub(crate) fn begin_create(
        &mut self,
        m: NewMachine,
        cloud_init: bool,
        known_version: bool,
    ) -> Result<CreatePlan, DaemonError> {
        let name = m.name.clone();
        match self.check_new_name(&name) {
            Err(NameError::Invalid) => return Err(DaemonError::InvalidName(name.to_string())),
            Err(NameError::Taken) => return Err(DaemonError::AlreadyExists(name.to_string())),
            Ok(()) => {}
        }
        if cloud_init && !orbctl::images::distro_by_image(&m.image.distro).is_some_and(|d| d.cloud_init) {
            return Err(DaemonError::CloudInitUnsupported(m.image.distro.clone()));
        }
        let creating = self.latency("create");
        let provisioning = self.latency("provisioning");
        let (mut failure, hang) = self.draw_faults("create", creating);
        if !known_version {
            // UNVERIFIED exact text: OrbStack fails a missing version while downloading.
            failure = Some((
                creating,
                "make rootfs: download metadata: GET download status: 404 Not Found".into(),
            ));
        }
        let t0 = self.now;
        let id = self.new_id();
        let (timeline, ends_at, failure) = match failure {
            Some((at, err)) => (
                vec![(t0, MState::Creating), (t0 + at, MState::Gone)],
                t0 + at,
                Some(err),
            ),
            None => (
                vec![
                    (t0, MState::Creating),
                    (t0 + creating, MState::Provisioning),
                    (t0 + creating + provisioning, MState::Running),
                ],
                t0 + creating + provisioning,
                None,
            ),
        };
        self.insert(id.clone(), m, &timeline, CreateKind::Create, ends_at, failure.clone());
        self.state.counters.creates_started += 1;
        Ok(CreatePlan {
            id,
            ends_at,
            failure,
            hang,
        })
    }

    /// `clone SRC DST`: the copy ends up stopped. Errors are the daemon's messages.
    pub(crate) fn begin_clone(&mut self, src: usize, dst: &str) -> Result<CreatePlan, DaemonError> {
        self.check_hold(src, "clone")?;
        match self.check_new_name(dst) {
            Err(NameError::Invalid) => return Err(DaemonError::InvalidName(dst.to_string())),
            Err(NameError::Taken) => return Err(DaemonError::AlreadyExists(dst.to_string())),
            Ok(()) => {}
        }
        let latency = self.latency("clone");
        let (failure, hang) = self.draw_faults("clone", latency);
        let source = self.state.machines[src].clone();
        let id = self.new_id();
        let _ = copy_dir(&self.store.machine_dir(&source.id), &self.store.machine_dir(&id));
        self.state.counters.clones_started += 1;
        let m = NewMachine {
            name: dst.to_string(),
            image: source.image,
            username: source.username,
        };
        Ok(self.begin_settling(id, m, CreateKind::Clone, latency, failure, hang))
    }

    /// `import`: `staged` already holds the archive's files; it becomes the machine directory.
    pub(crate) fn begin_import(&mut self, m: NewMachine, staged: &std::path::Path) -> Result<CreatePlan, DaemonError> {
        let name = m.name.clone();
        // UNVERIFIED: import reports name problems like clone (no `create 'N': ` prefix).
        match self.check_new_name(&name) {
            Err(NameError::Invalid) => return Err(DaemonError::InvalidName(name.to_string())),
            Err(NameError::Taken) => return Err(DaemonError::AlreadyExists(name.to_string())),
            Ok(()) => {}
        }
        let latency = self.latency("import");
        let (failure, hang) = self.draw_faults("import", latency);
        let id = self.new_id();
        std::fs::rename(staged, self.store.machine_dir(&id))
            .map_err(|e| DaemonError::Message(format!("import: move files into place: {e}")))?;
        self.state.counters.imports_started += 1;
        Ok(self.begin_settling(id, m, CreateKind::Import, latency, failure, hang))
    }

    /// Clone and import: `creating`, then stopped (UNVERIFIED for import: assumed like clone).
    fn begin_settling(
        &mut self,
        id: String,
        m: NewMachine,
        kind: CreateKind,
        latency: SimSecs,
        failure: Option<(SimSecs, String)>,
        hang: SimSecs,
    ) -> CreatePlan {
        let t0 = self.now;
        let (timeline, ends_at, failure) = match failure {
            Some((at, err)) => (
                vec![(t0, MState::Creating), (t0 + at, MState::Gone)],
                t0 + at,
                Some(err),
            ),
            None => (
                vec![(t0, MState::Creating), (t0 + latency, MState::Stopped)],
                t0 + latency,
                None,
            ),
        };
        self.insert(id.clone(), m, &timeline, kind, ends_at, failure.clone());
        CreatePlan {
            id,
            ends_at,
            failure,
            hang,
        }
    }

    fn insert(
        &mut self,
        id: String,
        m: NewMachine,
        timeline: &[(SimSecs, MState)],
        kind: CreateKind,
        ends_at: SimSecs,
        failure: Option<String>,
    ) {
        let home = self
            .store
            .machine_dir(&id)
            .join(home_of(&m.username).trim_start_matches('/'));
        let _ = std::fs::create_dir_all(home);
        let ip_index = self.state.next_ip;
        self.state.next_ip += 1;
        let mut machine = SimMachine {
            id,
            name: m.name,
            image: m.image,
            username: m.username,
            ip_index,
            timeline: Vec::new(),
            pending: Some(Pending { kind, ends_at, failure }),
            deleted: false,
        };
        machine.schedule(self.now, timeline);
        self.state.machines.push(machine);
        self.track_create(ends_at);
        self.touch();
    }

    /// How our create-class call `id` ended.
    pub(crate) fn ended(&self, id: &str) -> Ended {
        if let Some(t) = self.state.tombstones.iter().rev().find(|t| t.id == id) {
            return Ended::Failed(t.error.clone());
        }
        match self.state.machines.iter().find(|m| m.id == id) {
            Some(m) => match &m.pending {
                Some(p) if p.ends_at > self.now => Ended::NotYet(p.ends_at),
                Some(p) => match &p.failure {
                    Some(e) => Ended::Failed(e.clone()),
                    None => Ended::Done,
                },
                None => Ended::Done,
            },
            // Finished and deleted since: it was made.
            None => Ended::Done,
        }
    }

    /// The hold OrbStack keeps while a machine is being created.
    /// Text format from the source; which operations it blocks is UNVERIFIED.
    pub(crate) fn check_hold(&self, i: usize, verb: &'static str) -> Result<(), DaemonError> {
        match self.state_of(i) {
            MState::Creating => Err(in_progress(verb, "creating")),
            _ => Ok(()),
        }
    }

    /// A machine still provisioning is stopped or deleted: its creation is canceled.
    fn cancel_creation(&mut self, i: usize) {
        let now = self.now;
        let m = &mut self.state.machines[i];
        if m.pending.take().is_some() {
            self.state.counters.creates_failed += 1;
            self.state.tombstones.push(Tombstone {
                id: m.id.clone(),
                error: CANCELED.into(),
            });
            for span in &mut self.state.live_creates {
                if span.1 > now && span.0 <= now {
                    span.1 = span.1.min(now);
                    break;
                }
            }
        }
    }

    /// Schedules a start from `t`; returns when it is running.
    pub(crate) fn start_at(&mut self, i: usize, t: SimSecs) -> Result<SimSecs, DaemonError> {
        match self.state_of(i) {
            MState::Running | MState::Starting | MState::Provisioning => Ok(t.max(self.state.machines[i].settles_at())),
            MState::Creating => Err(in_progress("start", "creating")),
            MState::Deleting => Err(in_progress("start", "deleting")),
            MState::Stopped | MState::Stopping | MState::Gone => {
                let l = self.latency("start");
                self.state.machines[i].schedule(t, &[(t, MState::Starting), (t + l, MState::Running)]);
                self.touch();
                Ok(t + l)
            }
        }
    }

    /// Schedules a stop from `t`. A machine still provisioning disappears (creation canceled).
    pub(crate) fn stop_at(&mut self, i: usize, t: SimSecs) -> Result<SimSecs, DaemonError> {
        match self.state_of(i) {
            MState::Stopped | MState::Stopping => Ok(t.max(self.state.machines[i].settles_at())),
            MState::Creating => Err(in_progress("stop", "creating")),
            MState::Deleting => Err(in_progress("stop", "deleting")),
            MState::Provisioning => {
                self.cancel_creation(i);
                self.state.machines[i].schedule(t, &[(t, MState::Gone)]);
                self.touch();
                Ok(t)
            }
            MState::Running | MState::Starting | MState::Gone => {
                let l = self.latency("stop");
                self.state.machines[i].schedule(t, &[(t, MState::Stopping), (t + l, MState::Stopped)]);
                self.touch();
                Ok(t + l)
            }
        }
    }

    pub(crate) fn restart_at(&mut self, i: usize, t: SimSecs) -> Result<SimSecs, DaemonError> {
        match self.state_of(i) {
            MState::Creating => Err(in_progress("restart", "creating")),
            MState::Deleting => Err(in_progress("restart", "deleting")),
            MState::Provisioning => Ok(t.max(self.state.machines[i].settles_at())),
            _ => {
                let l = self.latency("restart");
                self.state.machines[i].schedule(
                    t,
                    &[
                        (t, MState::Stopping),
                        (t + l / 2.0, MState::Starting),
                        (t + l, MState::Running),
                    ],
                );
                self.touch();
                Ok(t + l)
            }
        }
    }

    /// Schedules a delete from `t`; returns when it is gone.
    pub(crate) fn delete_at(&mut self, i: usize, t: SimSecs) -> Result<SimSecs, DaemonError> {
        match self.state_of(i) {
            MState::Creating => Err(in_progress("delete", "creating")),
            MState::Deleting | MState::Gone => Ok(t.max(self.state.machines[i].settles_at())),
            state => {
                if state == MState::Provisioning {
                    self.cancel_creation(i);
                }
                let l = self.latency("delete");
                let m = &mut self.state.machines[i];
                m.deleted = true;
                m.schedule(t, &[(t, MState::Deleting), (t + l, MState::Gone)]);
                self.touch();
                Ok(t + l)
            }
        }
    }

    /// `rename`; the id stays.
    pub(crate) fn rename(&mut self, i: usize, new: &str) -> Result<(), DaemonError> {
        if self.state.machines[i].name == new {
            return Ok(());
        }
        match self.check_new_name(new) {
            Err(NameError::Invalid) => Err(DaemonError::InvalidName(new.to_string())),
            Err(NameError::Taken) => Err(DaemonError::RenameTaken(new.to_string())),
            Ok(()) => {
                self.state.machines[i].name = new.to_string();
                self.touch();
                Ok(())
            }
        }
    }

    pub(crate) fn record(&self, i: usize) -> MachineRecord {
        let m = &self.state.machines[i];
        MachineRecord {
            id: m.id.clone(),
            name: m.name.clone(),
            image: m.image.clone(),
            config: MachineConfig {
                isolated: false,
                default_username: m.username.clone(),
                extra: Default::default(),
            },
            builtin: false,
            state: self.state_of(i).as_str().to_string(),
        }
    }

    pub(crate) fn info(&self, i: usize) -> MachineInfo {
        let m = &self.state.machines[i];
        let running = self.state_of(i) == MState::Running;
        let base = orbctl::images::distro_by_image(&m.image.distro)
            .map(|d| d.base_disk_bytes())
            .unwrap_or(847_974_400);
        let files = dir_size(&self.store.machine_dir(&m.id));
        let n = m.ip_index + 2;
        MachineInfo {
            record: self.record(i),
            disk_size: Some(base + files),
            ip4: running.then(|| format!("192.168.{}.{}", 138 + (n / 256) % 2, n % 256)),
            ip6: running.then(|| format!("fd07:b51a:cc66:0:a617:db5e:ab7:{:x}", n)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameError {
    Invalid,
    Taken,
}

/// Home directory inside the machine for `user`.
pub(crate) fn home_of(user: &str) -> String {
    if user == "root" {
        "/root".into()
    } else {
        format!("/home/{user}")
    }
}

fn dir_size(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map(|m| m.len()).unwrap_or(0),
            _ => 0,
        })
        .sum()
}

/// Recursive copy (files, directories, symlinks).
pub(crate) fn copy_dir(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else if kind.is_symlink() {
            let link = std::fs::read_link(entry.path())?;
            std::os::unix::fs::symlink(link, target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

fn in_progress(verb: &'static str, state: &'static str) -> DaemonError {
    DaemonError::InProgress { verb, state }
}
