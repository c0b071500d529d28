//! The kind of helper real suites have: build `orbctl` command lines, run them, wait for a
//! machine to be ready. Tests call `orbctl` from PATH, as they would on a Mac with OrbStack;
//! under `cargo orbtest` that is the shim.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// `orbctl create IMAGE NAME [--arch A] [--user U]`.
pub fn create_command(image: &str, name: &str, arch: Option<&str>, user: Option<&str>) -> Vec<String> {
    let mut argv = vec!["create".to_string(), image.to_string(), name.to_string()];
    if let Some(a) = arch {
        argv.extend(["--arch".to_string(), a.to_string()]);
    }
    if let Some(u) = user {
        argv.extend(["--user".to_string(), u.to_string()]);
    }
    argv
}

/// `orbctl run -m NAME [-u USER] sh -c SCRIPT`.
pub fn run_command(name: &str, user: Option<&str>, script: &str) -> Vec<String> {
    let mut argv = vec!["run".to_string(), "-m".to_string(), name.to_string()];
    if let Some(u) = user {
        argv.extend(["-u".to_string(), u.to_string()]);
    }
    argv.extend(["sh".to_string(), "-c".to_string(), script.to_string()]);
    argv
}

/// `orbctl delete -f NAME`.
pub fn delete_command(name: &str) -> Vec<String> {
    vec!["delete".to_string(), "-f".to_string(), name.to_string()]
}

/// A machine name unique to this test process.
pub fn unique_name(label: &str) -> String {
    format!("demo-{label}-{}", std::process::id())
}

/// Runs `orbctl ARGV`; panics with orbctl's output when it fails.
pub fn orbctl(argv: &[String]) -> Output {
    let out = Command::new("orbctl").args(argv).output().expect("orbctl is on PATH");
    assert!(
        out.status.success(),
        "`orbctl {}` failed ({}):\n{}{}",
        argv.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Polls `orbctl info NAME -f json` until the machine runs and has an address.
pub fn wait_ready(name: &str, limit: Duration) {
    let start = Instant::now();
    loop {
        let out = Command::new("orbctl")
            .args(["info", name, "-f", "json"])
            .output()
            .expect("orbctl");
        let text = String::from_utf8_lossy(&out.stdout);
        if out.status.success() && text.contains("\"state\": \"running\"") && text.contains("\"ip4\"") {
            return;
        }
        assert!(start.elapsed() < limit, "{name} was not ready within {limit:?}: {text}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A machine for one test, deleted when dropped.
pub struct Vm {
    pub name: String,
}

impl Vm {
    pub fn create(label: &str) -> Self {
        let name = unique_name(label);
        orbctl(&create_command("ubuntu:22.04", &name, None, None));
        wait_ready(&name, Duration::from_secs(30));
        Vm { name }
    }

    /// Runs a shell script in the machine and returns its stdout.
    pub fn sh(&self, script: &str) -> String {
        String::from_utf8_lossy(&orbctl(&run_command(&self.name, None, script)).stdout).into_owned()
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        let _ = Command::new("orbctl").args(delete_command(&self.name)).output();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_command_has_image_then_name() {
        assert_eq!(
            create_command("ubuntu:22.04", "web", None, None),
            ["create", "ubuntu:22.04", "web"]
        );
    }

    #[test]
    fn create_command_adds_arch_and_user() {
        assert_eq!(
            create_command("debian", "db", Some("amd64"), Some("dev")),
            ["create", "debian", "db", "--arch", "amd64", "--user", "dev"]
        );
    }

    #[test]
    fn run_command_puts_flags_before_the_command() {
        assert_eq!(
            run_command("web", Some("root"), "id -u"),
            ["run", "-m", "web", "-u", "root", "sh", "-c", "id -u"]
        );
    }

    #[test]
    fn delete_command_forces() {
        assert_eq!(delete_command("web"), ["delete", "-f", "web"]);
    }

    #[test]
    fn unique_names_carry_the_demo_prefix() {
        assert!(unique_name("x").starts_with("demo-x-"));
    }
}
