//! What orbctl answers by itself, before a create does any work: the CLI's own checks (`--arch`,
//! the distro) and the daemon's first look at the new name. The simulator answers through these
//! and cargo-orbtest's shim answers them at once, without queueing the call, so both print the
//! same bytes as orbctl. Also the daemon's texts for a name that is taken or invalid.

use crate::argv::{Exit, usage_error};
use crate::images;
use crate::op::{Flavor, Op};

/// A daemon (JSON-RPC) error as the CLI prints it: `[-32098] <message>` and a newline.
pub fn daemon_error(message: &str) -> String {
    format!("[-32098] {message}\n")
}

/// The daemon's message for a new machine name that breaks the naming rule.
pub(crate) fn invalid_name(name: &str) -> String {
    crate::errors::DaemonError::InvalidName(name.to_string()).to_string()
}

/// The daemon's message for a new machine name already in use (create, clone, import).
pub(crate) fn name_taken(name: &str) -> String {
    crate::errors::DaemonError::AlreadyExists(name.to_string()).to_string()
}

/// `create` wraps every daemon message in `create '<name>': `.
pub fn create_prefix(name: &str) -> String {
    format!("create '{name}': ")
}

/// `--arch` values a host accepts; `None` (host unknown): any a host could accept.
fn arch_accepted(arch: &str, host_arch: Option<&str>) -> bool {
    match host_arch {
        Some(host) => images::archs(host).contains(&arch),
        None => ["arm64", "amd64"].iter().any(|h| images::archs(h).contains(&arch)),
    }
}

/// `create`'s usage error for an `--arch` the host does not run (the CLI's first check).
/// `host_arch` is the Mac's (`arm64`/`amd64`); `None` refuses only what no host accepts.
pub fn arch_refusal(flavor: Flavor, op: &Op, host_arch: Option<&str>) -> Option<Exit> {
    let Op::Create { arch, .. } = op else {
        return None;
    };
    let arch = arch.as_deref().filter(|a| !a.is_empty())?;
    (!arch_accepted(arch, host_arch))
        .then(|| usage_error(flavor, &["create"], &format!("invalid architecture: {arch}")))
}

/// `create`'s usage error for an unknown distro (checked after the password prompt).
pub fn distro_refusal(flavor: Flavor, op: &Op) -> Option<Exit> {
    let Op::Create { image, .. } = op else {
        return None;
    };
    let token = image.split_once(':').map_or(image.as_str(), |(t, _)| t);
    images::distro(token)
        .is_none()
        .then(|| usage_error(flavor, &["create"], &format!("invalid distro: {token}")))
}

/// What orbctl answers at once to a `create` that cannot start: a bad `--arch` or distro, or a
/// name the daemon refuses, in orbctl's order. `None`: the create would go ahead, or its answer
/// depends on what only orbctl sees (the password prompt, the user-data file), which come first.
pub fn create_refusal(flavor: Flavor, op: &Op, host_arch: Option<&str>) -> Option<Exit> {
    let Op::Create {
        user_data,
        set_password,
        ..
    } = op
    else {
        return None;
    };
    if let Some(exit) = arch_refusal(flavor, op, host_arch) {
        return Some(exit);
    }
    if *set_password {
        return None;
    }
    if let Some(exit) = distro_refusal(flavor, op) {
        return Some(exit);
    }
    if user_data.as_deref().is_some_and(|u| !u.is_empty()) {
        return None;
    }
    let name = op.created_machine()?;
    (!images::valid_machine_name(name)).then(|| Exit {
        stdout: String::new(),
        stderr: daemon_error(&format!("{}{}", create_prefix(name), invalid_name(name))),
        code: 1,
    })
}

/// What orbctl answers when the machine a create-class `op` makes already exists: the daemon's
/// `machine already exists`, wrapped as that command wraps it. `None` for other operations.
pub fn name_taken_answer(op: &Op) -> Option<Exit> {
    let message = match op {
        Op::Create { .. } => {
            let name = op.created_machine()?;
            format!("{}{}", create_prefix(name), name_taken(name))
        }
        Op::Clone { dst, .. } => name_taken(dst),
        Op::Import { name: Some(n), .. } => name_taken(n),
        _ => return None,
    };
    Some(Exit {
        stdout: String::new(),
        stderr: daemon_error(&message),
        code: 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::argv::parse;

    fn op(args: &[&str]) -> Op {
        parse(Flavor::Orbctl, &args.iter().map(|a| a.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn an_empty_or_invalid_name_is_the_daemons_refusal() {
        let e = create_refusal(Flavor::Orbctl, &op(&["create", "ubuntu:22.04", ""]), None).unwrap();
        assert_eq!(e.stderr, "[-32098] create '': invalid machine name ''\n");
        assert_eq!((e.code, e.stdout.as_str()), (1, ""));
        let e = create_refusal(Flavor::Orbctl, &op(&["create", "ubuntu", "a_b"]), None).unwrap();
        assert_eq!(e.stderr, "[-32098] create 'a_b': invalid machine name 'a_b'\n");
        assert!(create_refusal(Flavor::Orbctl, &op(&["create", "ubuntu:22.04", "test-1"]), None).is_none());
        // Named after the distro token when no name is given.
        assert!(create_refusal(Flavor::Orbctl, &op(&["create", "ubuntu"]), None).is_none());
    }

    #[test]
    fn arch_then_distro_are_usage_errors() {
        let e = create_refusal(Flavor::Orbctl, &op(&["create", "nosuch", "x", "--arch", "sparc"]), None).unwrap();
        assert!(
            e.stderr.starts_with("Error: invalid architecture: sparc\n"),
            "{}",
            e.stderr
        );
        let e = create_refusal(Flavor::Orbctl, &op(&["create", "nosuch:1", "web"]), None).unwrap();
        assert!(e.stderr.starts_with("Error: invalid distro: nosuch\n"), "{}", e.stderr);
        // i386 is only an amd64 Mac's: refused on arm64, left to orbctl when the host is unknown.
        let i386 = op(&["create", "ubuntu", "web", "--arch", "i386"]);
        assert!(create_refusal(Flavor::Orbctl, &i386, Some("arm64")).is_some());
        assert!(create_refusal(Flavor::Orbctl, &i386, Some("amd64")).is_none());
        assert!(create_refusal(Flavor::Orbctl, &i386, None).is_none());
    }

    #[test]
    fn taken_names_are_worded_per_command() {
        let e = name_taken_answer(&op(&["create", "ubuntu", "web"])).unwrap();
        assert_eq!(e.stderr, "[-32098] create 'web': machine already exists: 'web'\n");
        let e = name_taken_answer(&op(&["clone", "base", "web"])).unwrap();
        assert_eq!(e.stderr, "[-32098] machine already exists: 'web'\n");
        assert!(name_taken_answer(&op(&["start", "web"])).is_none());
    }
}
