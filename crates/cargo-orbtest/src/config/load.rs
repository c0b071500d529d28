//! The typed [`Config`]: reading a whole file, every section, and the checks across tiers.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use toml::de::{DeTable, DeValue};

use super::reader::{Diagnostics, Table};
use super::write::Writer;
use super::*;

/// The file name looked for at the workspace root.
pub const FILE_NAME: &str = "orchestrator.toml";

const TOP_KEYS: &[&str] = &["tiers", "machines", "pressure", "gate", "monitor", "quarantine"];

/// A validated `orchestrator.toml`.
#[derive(Debug, Clone)]
pub struct Config {
    pub source: Arc<Source>,
    /// In file order, which is run order.
    pub tiers: Vec<Tier>,
    pub machines: MachinesConfig,
    pub pressure: PressureConfig,
    pub gate: GateConfig,
    pub monitor: MonitorConfig,
    /// `[[quarantine]]` entries, in file order.
    pub quarantine: Vec<QuarantineEntry>,
}

impl Config {
    pub fn path(&self) -> &Path {
        &self.source.path
    }

    pub fn tier(&self, name: &str) -> Option<&Tier> {
        self.tiers.iter().find(|t| t.name == name)
    }

    pub fn tier_names(&self) -> Vec<&str> {
        self.tiers.iter().map(|t| t.name.as_str()).collect()
    }

    /// Whether any tier needs machines (and so preflight/postflight run).
    pub(crate) fn uses_machines(&self) -> bool {
        self.tiers.iter().any(|t| t.machines)
    }

    /// The directory the config file is in: command tiers run there by default.
    pub fn dir(&self) -> PathBuf {
        match self.source.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    /// `file:line:col` of a byte offset in the file, for messages about its settings.
    pub(crate) fn location(&self, offset: usize) -> String {
        let (line, col) = self.source.line_col(offset);
        format!("{}:{line}:{col}", self.source.path.display())
    }

    /// A config error pointing at `span` of this file (used when nextest rejects a filterset).
    pub(crate) fn error_at(&self, diagnostic: Diagnostic) -> ConfigError {
        ConfigError::single(self.source.clone(), diagnostic)
    }

    /// The whole config with every default spelled out. Loading it gives the same config.
    pub fn to_explicit_toml(&self) -> String {
        let mut root = Writer::default();
        let mut tiers = Writer::default();
        for t in &self.tiers {
            tiers.inline_table(&t.name, |w| t.write(w));
        }
        root.table.insert("tiers".into(), toml::Value::Table(tiers.table));
        root.inline_table("machines", |w| self.machines.write(w));
        root.inline_table("pressure", |w| self.pressure.write(w));
        root.inline_table("gate", |w| self.gate.write(w));
        root.inline_table("monitor", |w| self.monitor.write(w));
        if !self.quarantine.is_empty() {
            root.table
                .insert("quarantine".into(), quarantine::write(&self.quarantine));
        }
        toml::to_string(&root.table).unwrap_or_default()
    }
}

/// Errors finding or reading the file (as opposed to its contents).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{}", missing_config_message(.path))]
    Missing { path: PathBuf },
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Not a file to read: a directory, a device.
    #[error("{} is not a file: give --config the path of an orchestrator.toml", .path.display())]
    NotAFile { path: PathBuf },
    #[error("{} is not UTF-8 text (invalid byte at offset {offset}): is it the right file?", .path.display())]
    NotText { path: PathBuf, offset: usize },
    #[error(transparent)]
    Invalid(#[from] ConfigError),
}

/// Reads and validates the config file at `path`.
pub fn load(path: &Path) -> Result<Config, LoadError> {
    if path.metadata().is_ok_and(|m| !m.is_file()) {
        return Err(LoadError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(LoadError::Missing {
                path: path.to_path_buf(),
            });
        }
        Err(source) => {
            return Err(LoadError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let text = String::from_utf8(bytes).map_err(|e| LoadError::NotText {
        path: path.to_path_buf(),
        offset: e.utf8_error().valid_up_to(),
    })?;
    Ok(parse(Source::new(path, text))?)
}

/// Validates config text. Relative paths in it resolve against the file's directory.
pub fn parse(source: Arc<Source>) -> Result<Config, ConfigError> {
    let doc = match DeTable::parse(&source.text) {
        Ok(doc) => doc,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            let message = format!("invalid TOML: {}", e.message().trim_end());
            return Err(ConfigError::single(source.clone(), Diagnostic::new(span, message)));
        }
    };
    let mut diags = Diagnostics::default();
    let top = Table::new(doc.get_ref(), doc.span(), "the file's top level");
    top.deny_unknown(TOP_KEYS, &mut diags);

    let base_dir = source.path.parent().map(Path::to_path_buf).unwrap_or_default();
    let tiers = read_tiers(&top, &base_dir, &mut diags);
    check_needs(&tiers, &mut diags);
    let section = |key: &str, diags: &mut Diagnostics| top.table(key, format!("[{key}]"), diags);
    let machines = section("machines", &mut diags)
        .map(|t| machines::read(&t, &base_dir, &mut diags))
        .unwrap_or_default();
    let pressure = section("pressure", &mut diags)
        .map(|t| pressure::read(&t, &mut diags))
        .unwrap_or_default();
    let names: Vec<&str> = tiers.iter().map(|t| t.name.as_str()).collect();
    let gate = section("gate", &mut diags)
        .map(|t| gate::read(&t, &names, &mut diags))
        .unwrap_or_default();
    let monitor = section("monitor", &mut diags)
        .map(|t| monitor::read(&t, &mut diags))
        .unwrap_or_default();
    let quarantine = quarantine::read(&top, &mut diags);

    if !diags.0.is_empty() {
        diags.0.sort_by_key(|d| d.span.start);
        return Err(ConfigError {
            source_file: source,
            diagnostics: diags.0,
        });
    }
    Ok(Config {
        source,
        tiers,
        machines,
        pressure,
        gate,
        monitor,
        quarantine,
    })
}

fn read_tiers(top: &Table<'_, '_>, base_dir: &Path, diags: &mut Diagnostics) -> Vec<Tier> {
    let no_tiers = || {
        Diagnostic::new(0..0, "no tiers defined")
            .help("add at least one tier, for example:\n\n    [tiers.fast]\n    filter = \"kind(lib)\"\n")
            .note("`cargo orbtest init` writes a commented starter config")
    };
    let Some(tiers_value) = top.get("tiers") else {
        diags.push(no_tiers());
        return Vec::new();
    };
    let DeValue::Table(table) = tiers_value.get_ref() else {
        diags.push(
            Diagnostic::new(tiers_value.span(), "`tiers` must be a table of tiers")
                .help("write each tier as its own table: [tiers.fast], [tiers.integration], ..."),
        );
        return Vec::new();
    };
    if table.is_empty() {
        let mut d = no_tiers();
        d.span = tiers_value.span();
        diags.push(d);
    }
    let mut tiers = Vec::with_capacity(table.len());
    for (name, value) in table.iter() {
        let label = format!("[tiers.{}]", name.get_ref());
        match value.get_ref() {
            DeValue::Table(t) => {
                let t = Table::new(t, value.span(), label);
                tiers.push(tier::read(name.get_ref(), name.span(), &t, base_dir, diags));
            }
            _ => diags.push(
                Diagnostic::new(value.span(), format!("tier `{}` must be a table", name.get_ref())).help(format!(
                    "write it as [tiers.{}] with its settings below",
                    name.get_ref()
                )),
            ),
        }
    }
    tiers
}

/// `needs` must name known tiers that come earlier in the file (tiers run in file order), with
/// cycles reported as such.
fn check_needs(tiers: &[Tier], diags: &mut Diagnostics) {
    let names: Vec<&str> = tiers.iter().map(|t| t.name.as_str()).collect();
    let position = |name: &str| names.iter().position(|n| *n == name);
    for (i, tier) in tiers.iter().enumerate() {
        for (need, span) in tier.needs.iter().zip(&tier.spans.needs) {
            let Some(j) = position(need) else {
                let mut d = Diagnostic::new(
                    span.clone(),
                    format!("tier `{}` needs unknown tier `{need}`", tier.name),
                );
                if let Some(s) = did_you_mean(need, names.iter().copied()) {
                    d = d.help(format!("did you mean `{s}`?"));
                }
                diags.push(d.note(format!("tiers: {}", names.join(", "))));
                continue;
            };
            if j == i {
                diags.push(Diagnostic::new(span.clone(), format!("tier `{need}` needs itself")));
            } else if j < i {
                // An earlier tier: fine. Every cycle has a forward edge, reported below.
            } else if let Some(cycle) = cycle_through(tiers, i, j) {
                diags.push(
                    Diagnostic::new(span.clone(), format!("`needs` cycle: {}", cycle.join(" → ")))
                        .help("remove one of these `needs` so the tiers can run in order"),
                );
            } else {
                diags.push(
                    Diagnostic::new(
                        span.clone(),
                        format!("tier `{}` needs `{need}`, which comes later in the file", tier.name),
                    )
                    .help(format!(
                        "tiers run in file order: move [tiers.{need}] above [tiers.{}]",
                        tier.name
                    )),
                );
            }
        }
    }
}

/// If tier `to` (transitively) needs tier `from`, the cycle `from → to → … → from` by name.
fn cycle_through(tiers: &[Tier], from: usize, to: usize) -> Option<Vec<String>> {
    let index = |name: &str| tiers.iter().position(|t| t.name == name);
    let mut stack = vec![(to, vec![from, to])];
    let mut seen = vec![false; tiers.len()];
    while let Some((at, path)) = stack.pop() {
        if seen[at] {
            continue;
        }
        seen[at] = true;
        for need in &tiers[at].needs {
            let Some(next) = index(need) else { continue };
            let mut p = path.clone();
            p.push(next);
            if next == from {
                return Some(p.into_iter().map(|k| tiers[k].name.clone()).collect());
            }
            stack.push((next, p));
        }
    }
    None
}
