//! What a run killed outright (SIGKILL, a crash) left running. Its direct children die with it
//! (PDEATHSIG), but not what they started: a command tier's runner forks workers, a test starts
//! a server, and those go on calling `orbctl` for a run that is gone. Every process of a tier
//! carries the path of its run's `alive.lock` ([`crate::env::RUN_ALIVE`]); a later run ends the
//! processes whose run no longer holds its lock.

use std::path::Path;

/// Ends the processes of this project's runs that died without ending them (never `own`'s);
/// how many. Only runs whose lock lives beside `own`'s (the same runs directory): another
/// project's leftovers are its own next run's to end, and a concurrent run elsewhere on the
/// host must not reach into them.
pub(crate) fn end_those_of_dead_runs(own: &Path) -> usize {
    let runs = own.parent().and_then(Path::parent).map(Path::to_path_buf);
    let own = own.to_string_lossy();
    orbtest_process::kill_marked_if(crate::env::RUN_ALIVE, |lock| {
        let lock_path = Path::new(lock);
        let ours = runs.as_deref().is_some_and(|runs| lock_path.starts_with(runs));
        ours && lock != own && !is_held(lock_path)
    })
}

/// Whether some process holds `lock` (a run is alive while it does). A lock that cannot be
/// opened belongs to a run whose directory is gone: not held.
fn is_held(lock: &Path) -> bool {
    let Ok(file) = std::fs::OpenOptions::new().write(true).open(lock) else {
        return false;
    };
    matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_is_held_only_while_its_holder_has_it() {
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join("alive.lock");
        assert!(!is_held(&lock), "no lock file: its run is gone");
        let holder = std::fs::File::create(&lock).unwrap();
        holder.lock().unwrap();
        assert!(is_held(&lock));
        drop(holder);
        assert!(!is_held(&lock));
    }
}
