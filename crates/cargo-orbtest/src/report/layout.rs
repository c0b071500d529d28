//! Where a run's files live: `<target-dir>/orbtest/runs/<run-id>/` for every run (private to the
//! user), and the newest run's reports also in `<target-dir>/orbtest/latest/` (or `--report-dir`).

use std::fs;
use std::os::unix::fs::DirBuilderExt;
#[cfg(test)]
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use orbtest_machines::files::{create_private_dir, ensure_private_dir, write_atomic};

/// Report files copied to the report directory when they exist.
pub const REPORT_FILES: &[&str] = &[
    "summary.json",
    "junit.xml",
    "report.html",
    "journal.jsonl",
    "timeline.jsonl",
    "ledger.jsonl",
];

#[derive(Debug, Clone)]
pub struct RunDir {
    pub id: String,
    /// `runs/<id>`: everything this run writes.
    pub path: PathBuf,
    /// Where the newest reports are published.
    pub report_dir: PathBuf,
    /// Whether `report_dir` is ours to replace wholesale (the default `latest/`).
    report_dir_is_default: bool,
    /// `alive.lock`, held while the run lives (see [`RunDir::alive_path`]).
    _alive: Option<std::sync::Arc<fs::File>>,
}

/// The file a run holds locked while it lives.
const ALIVE: &str = "alive.lock";

/// A sortable, readable run id: UTC time plus a random suffix (`20261122-123456-3fa9`).
pub fn new_run_id(now: SystemTime) -> String {
    let stamp = humantime::format_rfc3339_seconds(now).to_string();
    let digits: String = stamp.chars().filter(char::is_ascii_digit).collect();
    let (date, time) = digits.split_at(8.min(digits.len()));
    let suffix: u32 = rand::random::<u32>() & 0xff_ffff;
    format!("{date}-{time}-{suffix:06x}")
}

impl RunDir {
    /// Creates a fresh run directory with a new id (never one another run already has).
    pub fn create(orbtest_dir: &Path, report_dir: Option<&Path>, now: SystemTime) -> std::io::Result<Self> {
        let runs = orbtest_dir.join("runs");
        ensure_private_dir(&runs)?;
        let mut attempt = 0;
        let (id, path) = loop {
            let id = new_run_id(now);
            let path = runs.join(&id);
            match fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => break (id, path),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 16 => attempt += 1,
                Err(e) => return Err(e),
            }
        };
        let alive = orbtest_machines::files::create_private_file(&path.join(ALIVE))?;
        alive.lock()?;
        Ok(Self {
            id,
            path,
            report_dir: report_dir.map_or_else(|| orbtest_dir.join("latest"), Path::to_path_buf),
            report_dir_is_default: report_dir.is_none(),
            _alive: Some(std::sync::Arc::new(alive)),
        })
    }

    /// The lock this run holds while it lives. Every process of its tiers carries this path
    /// (`ORBTEST_RUN_ALIVE`), so a later run can tell, if this one is killed outright, which
    /// processes it left running and that nobody holds the lock any more.
    pub(crate) fn alive_path(&self) -> PathBuf {
        self.path.join(ALIVE)
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Each tier's log (`tiers/<tier>/*.log`), relative to the run directory: report.html links
    /// them, so they are published with the reports.
    fn tier_logs(&self) -> Vec<PathBuf> {
        let Ok(tiers) = fs::read_dir(self.path.join("tiers")) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for tier in tiers.flatten() {
            let Ok(files) = fs::read_dir(tier.path()) else { continue };
            for f in files.flatten() {
                let name = f.file_name();
                if Path::new(&name).extension().is_some_and(|e| e == "log") {
                    out.push(Path::new("tiers").join(tier.file_name()).join(name));
                }
            }
        }
        out.sort();
        out
    }

    /// `tiers/<tier>/`, created on first use.
    pub(crate) fn tier_dir(&self, tier: &str) -> std::io::Result<PathBuf> {
        let dir = self.path.join("tiers").join(tier);
        ensure_private_dir(&dir)?;
        Ok(dir)
    }

    pub(crate) fn junit_path(&self, tier: &str) -> PathBuf {
        self.path.join("tiers").join(tier).join("junit.xml")
    }

    /// Copies the run's report files into the report directory. The default `latest/` is
    /// replaced as a whole (never a mix of two runs); a user's `--report-dir` only has our
    /// files replaced, one atomic write each.
    pub fn publish(&self) -> std::io::Result<()> {
        if !self.report_dir_is_default {
            create_private_dir(&self.report_dir).or_else(|e| if self.report_dir.is_dir() { Ok(()) } else { Err(e) })?;
            for name in REPORT_FILES {
                let src = self.path.join(name);
                if src.exists() {
                    write_atomic(&self.report_dir.join(name), &fs::read(&src)?)?;
                }
            }
            for rel in self.tier_logs() {
                if let Some(dir) = self.report_dir.join(&rel).parent() {
                    ensure_private_dir(dir)?;
                }
                write_atomic(&self.report_dir.join(&rel), &fs::read(self.path.join(&rel))?)?;
            }
            return Ok(());
        }
        let parent = self.report_dir.parent().unwrap_or(Path::new("."));
        let staging = parent.join(format!(".latest-{}", self.id));
        create_private_dir(&staging)?;
        let logs = self.tier_logs();
        for rel in REPORT_FILES.iter().map(PathBuf::from).chain(logs) {
            let src = self.path.join(&rel);
            if src.exists() {
                let dst = staging.join(&rel);
                if let Some(dir) = dst.parent() {
                    ensure_private_dir(dir)?;
                }
                // Report files are only ever replaced by rename, never edited: a hard link is safe.
                if fs::hard_link(&src, &dst).is_err() {
                    fs::copy(&src, &dst)?;
                }
            }
        }
        // Two renames: the old `latest/` aside, ours into place. Another run publishing at the
        // same moment can put its own `latest/` in between; then ours moves that aside too.
        let mut attempt = 0;
        loop {
            let old = parent.join(format!(".latest-old-{}-{attempt}", self.id));
            let had_old = fs::rename(&self.report_dir, &old).is_ok();
            match fs::rename(&staging, &self.report_dir) {
                Ok(()) => {
                    if had_old {
                        let _ = fs::remove_dir_all(&old);
                    }
                    return Ok(());
                }
                Err(e) if is_taken(&e) && attempt < 16 => {
                    if had_old {
                        let _ = fs::remove_dir_all(&old);
                    }
                    attempt += 1;
                }
                Err(e) => {
                    // Leave the previous reports where they were, and no staging copy behind.
                    if had_old {
                        let _ = fs::rename(&old, &self.report_dir);
                    }
                    let _ = fs::remove_dir_all(&staging);
                    return Err(e);
                }
            }
        }
    }
}

/// The rename target is a directory that is there (again): someone else published meanwhile.
fn is_taken(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOTEMPTY | libc::EEXIST))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_sort_by_time() {
        let a = new_run_id(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000));
        let b = new_run_id(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_061));
        assert!(a < b, "{a} {b}");
        assert_eq!(&a[..15], "20270115-080000");
    }

    #[test]
    fn publishing_replaces_latest_as_a_whole() {
        let root = tempfile::tempdir().unwrap();
        let first = RunDir::create(root.path(), None, SystemTime::now()).unwrap();
        fs::write(first.file("summary.json"), "one").unwrap();
        fs::write(first.file("report.html"), "html").unwrap();
        fs::write(first.tier_dir("fast").unwrap().join("nextest.log"), "log").unwrap();
        first.publish().unwrap();
        assert_eq!(
            fs::read_to_string(root.path().join("latest/tiers/fast/nextest.log")).unwrap(),
            "log",
            "the tier's log is published with the report that links it"
        );
        let second = RunDir::create(root.path(), None, SystemTime::now()).unwrap();
        fs::write(second.file("summary.json"), "two").unwrap();
        second.publish().unwrap();
        let latest = root.path().join("latest");
        assert_eq!(fs::read_to_string(latest.join("summary.json")).unwrap(), "two");
        assert!(
            !latest.join("report.html").exists(),
            "a file of the earlier run survived"
        );
        let mode = fs::metadata(&second.path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }
}
