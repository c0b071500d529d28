//! orbctl's human-readable texts that every engine prints the same way: the `list` table,
//! `info`'s text form, sizes in SI units, the delete confirmation, `run`'s hint when there are
//! no machines, and `version`'s lines. The simulator and the Docker engine both print these.

use crate::output::MachineInfo;

/// The orbctl release whose surface this crate describes (the spec's source is about 2.0.0).
pub const MODELLED_VERSION: &str = "2.0.0";
/// Its version code as `version` prints it.
pub const MODELLED_VERSION_CODE: &str = "2000000";

/// `version`'s output: `Version: <short> (<code>)` and `Commit: <sha> (<describe>)`.
pub fn version_text(commit: &str, describe: &str) -> String {
    format!("Version: {MODELLED_VERSION} ({MODELLED_VERSION_CODE})\nCommit: {commit} ({describe})\n")
}

/// Go's tabwriter with padding 2: every cell but a line's last is padded to its column width.
pub fn tabwrite(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; cols];
    for r in rows {
        for (i, c) in r.iter().enumerate().take(r.len().saturating_sub(1)) {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            out.push_str(c);
            if i + 1 < r.len() {
                let pad = widths[i] + 2 - c.chars().count();
                out.push_str(&" ".repeat(pad));
            }
        }
        out.push('\n');
    }
    out
}

/// SI units with one decimal, as orbctl prints disk usage (`1.0 GB`).
pub fn si_size(bytes: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < units.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", units[u])
    }
}

/// `list`'s text form: `NAME STATE DISTRO VERSION ARCH SIZE IP`, the header only when stdout is
/// a terminal. Each row is a machine's info (size and address may be missing).
pub fn list_text(rows: &[MachineInfo], header: bool) -> String {
    let mut table: Vec<Vec<String>> = Vec::new();
    if header {
        table.push(
            ["NAME", "STATE", "DISTRO", "VERSION", "ARCH", "SIZE", "IP"]
                .map(String::from)
                .to_vec(),
        );
        table.push(
            ["----", "-----", "------", "-------", "----", "----", "--"]
                .map(String::from)
                .to_vec(),
        );
    }
    for info in rows {
        let r = &info.record;
        table.push(vec![
            r.name.clone(),
            r.state.clone(),
            r.image.distro.clone(),
            r.image.version.clone(),
            r.image.arch.clone(),
            info.disk_size.map(si_size).unwrap_or_default(),
            info.ip4.clone().unwrap_or_default(),
        ]);
    }
    tabwrite(&table)
}

/// `info`'s text form.
pub fn info_text(info: &MachineInfo) -> String {
    let r = &info.record;
    let mut s = format!(
        "ID: {}\nName: {}\nState: {}\n\nDistro: {}\nVersion: {}\nArchitecture: {}\n",
        r.id, r.name, r.state, r.image.distro, r.image.version, r.image.arch
    );
    if let Some(size) = info.disk_size {
        s.push_str(&format!("Disk usage: {}\n", si_size(size)));
    }
    if let Some(ip) = &info.ip4 {
        s.push_str(&format!("IPv4: {ip}\n"));
    }
    if let Some(ip) = &info.ip6 {
        s.push_str(&format!("IPv6: {ip}\n"));
    }
    if r.builtin {
        s.push_str("Machine is built-in.\n");
    }
    s
}

/// `delete`'s confirmation (stderr, only when stdin is a terminal and `--force` is absent),
/// up to and including the `Continue [y/N]? ` prompt.
pub fn delete_warning(names: &[String], all: bool) -> String {
    let mut s = if all {
        "WARNING: This will PERMANENTLY DELETE ALL DATA in ALL machines!\n".to_string()
    } else {
        let mut s = "WARNING: This will PERMANENTLY DELETE ALL DATA in the following machines:\n".to_string();
        for n in names {
            s.push_str(&format!("  {n}\n"));
        }
        s
    };
    s.push_str("You cannot undo this action.\n\nContinue [y/N]? ");
    s
}

/// Whether an answer to [`delete_warning`] confirms.
pub fn confirms(answer: &str) -> bool {
    matches!(answer.trim().to_lowercase().as_str(), "y" | "yes")
}

/// What `run` prints (stderr, exit 1) when no machine is named and none exists.
pub const NO_MACHINES_HINT: &str = "To use Docker:\n    docker run ...\nSee \"orb docker\" for more info.\n\n\
     To create a Linux machine:\n    orb create ubuntu\nSee \"orb create --help\" for supported distros and options.\n";

/// `start` with no names while OrbStack runs (stderr, exit 0).
pub const ALREADY_RUNNING: &str =
    "OrbStack is already running. Docker engine is ready to use.\nUse --all to start all machines.\n";

/// An I/O error the way orbctl (a Go program) prints it: `open PATH: no such file or directory`.
pub fn go_io_error(op: &str, path: &str, e: &std::io::Error) -> String {
    use std::io::ErrorKind;
    let text = match e.kind() {
        ErrorKind::NotFound => "no such file or directory".to_string(),
        ErrorKind::PermissionDenied => "permission denied".to_string(),
        ErrorKind::IsADirectory => "is a directory".to_string(),
        ErrorKind::NotADirectory => "not a directory".to_string(),
        _ => {
            let s = e.to_string();
            let s = s.split(" (os error").next().unwrap_or(&s).to_string();
            let mut c = s.chars();
            match c.next() {
                Some(first) => first.to_lowercase().collect::<String>() + c.as_str(),
                None => s,
            }
        }
    };
    format!("{op} {path}: {text}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tabwriter_pads_all_but_the_last_cell() {
        let rows = vec![
            vec!["a".into(), "running".into(), "x".into()],
            vec!["long-name".into(), "stopped".into(), "".into()],
        ];
        assert_eq!(tabwrite(&rows), "a          running  x\nlong-name  stopped  \n");
    }

    #[test]
    fn sizes_use_si_units() {
        assert_eq!(si_size(962_924_544), "962.9 MB");
        assert_eq!(si_size(1_000_000_000), "1.0 GB");
        assert_eq!(si_size(12), "12 B");
    }

    #[test]
    fn delete_warning_names_each_machine() {
        let w = delete_warning(&["a".into(), "b".into()], false);
        assert!(w.contains("  a\n  b\n") && w.ends_with("Continue [y/N]? "), "{w}");
        assert!(confirms("Y\n") && !confirms("n") && !confirms(""));
    }
}
