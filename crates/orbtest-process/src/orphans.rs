//! Processes that escaped a child's process group: everything a supervised child starts
//! inherits its [`Mark`] (an environment variable with a value unique to that child), so what a
//! killed child left running (nextest's tests live in process groups of their own) can be found
//! and stopped.

use std::sync::atomic::{AtomicU64, Ordering};

/// An environment variable, and a value no other child of any process carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    var: String,
    value: String,
}

impl Mark {
    /// A fresh mark in variable `var`.
    #[must_use]
    pub fn new(var: impl Into<String>) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let value = format!(
            "{}-{nanos:08x}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        Mark { var: var.into(), value }
    }

    #[must_use]
    pub fn var(&self) -> &str {
        &self.var
    }

    #[must_use]
    pub fn value(&self) -> &str {
        &self.value
    }
}

/// SIGKILLs every process of ours (other than us) whose environment carries `mark`; how many
/// there were.
#[must_use = "the count says whether anything was left running"]
pub fn kill_marked(mark: &Mark) -> usize {
    kill_marked_if(&mark.var, |value| value == mark.value)
}

/// SIGKILLs every process of ours (other than us) whose environment has `var` set to a value
/// `doomed` accepts; how many there were. Marks that outlive their supervisor: a later run can
/// end what a run killed outright (SIGKILL, power loss) left behind.
#[cfg(target_os = "linux")]
#[must_use = "the count says whether anything was left running"]
pub fn kill_marked_if(var: &str, doomed: impl Fn(&str) -> bool) -> usize {
    let prefix = format!("{var}=");
    let me = std::process::id();
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let mut killed = 0;
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        // Only our user's processes (as root every environ is readable, not every process ours).
        let ours = std::os::unix::fs::MetadataExt::uid(&match entry.metadata() {
            Ok(m) => m,
            Err(_) => continue,
        }) == uid;
        if !ours {
            continue;
        }
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        let marked = environ.split(|b| *b == 0).any(|entry| {
            entry
                .strip_prefix(prefix.as_bytes())
                .and_then(|value| std::str::from_utf8(value).ok())
                .is_some_and(&doomed)
        });
        if marked {
            // SAFETY: kill(2) has no memory-safety preconditions.
            if unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) } == 0 {
                killed += 1;
            }
        }
    }
    killed
}

/// Without /proc nothing can be found.
#[cfg(not(target_os = "linux"))]
#[must_use]
pub fn kill_marked_if(_var: &str, _doomed: impl Fn(&str) -> bool) -> usize {
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_are_unique() {
        let (a, b) = (Mark::new("X"), Mark::new("X"));
        assert_ne!(a.value(), b.value());
        assert_eq!(a.var(), "X");
    }
}
