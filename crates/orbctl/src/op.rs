//! Typed orbctl operations, their class, and the argv that expresses them.
//!
//! `Op` is what every caller (preflight, postflight, the shim, the test API, orbsim) agrees on.
//! Parsing argv into an `Op` lives in [`crate::argv`]; this module builds argv back from an `Op`.

use std::fmt;

/// How the program was invoked: `orbctl` (pure control CLI) or `orb` (bare words mean `run`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flavor {
    Orbctl,
    Orb,
}

impl Flavor {
    /// Picks the flavour from `basename(argv[0])`, as OrbStack's own binary does.
    pub fn from_argv0(argv0: &str) -> Option<Flavor> {
        let base = std::path::Path::new(argv0)
            .file_name()
            .and_then(|s| s.to_str())
            .unwrap_or(argv0);
        match base {
            "orbctl" | "scli" => Some(Flavor::Orbctl),
            "orb" => Some(Flavor::Orb),
            _ => None,
        }
    }

    /// The root command name cobra prints in usage and error texts.
    pub fn root(self) -> &'static str {
        match self {
            Flavor::Orbctl => "orbctl",
            Flavor::Orb => "orb",
        }
    }
}

/// Operation classes decide the timeout an operation gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpClass {
    /// create, clone, import: slow, and they make a machine appear.
    Create,
    /// start, stop, restart, delete.
    Lifecycle,
    /// Everything else that returns promptly.
    Query,
    /// `run`: bounded only by the caller (a test's own timeout).
    Run,
}

impl fmt::Display for OpClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OpClass::Create => "create",
            OpClass::Lifecycle => "lifecycle",
            OpClass::Query => "query",
            OpClass::Run => "run",
        })
    }
}

/// One orbctl operation with its arguments, as orbctl understood them.
///
/// Optional string flags keep the exact value given (`Some("")` for `--arch ""`), so that parsing
/// and building round-trip; orbctl itself treats an empty value like an absent flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Create {
        /// `DISTRO[:VERSION]` as given.
        image: String,
        /// `None` means orbctl names the machine after the distro token.
        name: Option<String>,
        arch: Option<String>,
        user: Option<String>,
        user_data: Option<String>,
        set_password: bool,
    },
    Delete {
        names: Vec<String>,
        force: bool,
        all: bool,
    },
    List {
        running: bool,
        quiet: bool,
        format: Option<String>,
    },
    Info {
        name: String,
        format: Option<String>,
    },
    Start {
        names: Vec<String>,
        all: bool,
    },
    Stop {
        names: Vec<String>,
        all: bool,
        force: bool,
    },
    Restart {
        names: Vec<String>,
        all: bool,
    },
    Clone {
        src: String,
        dst: String,
    },
    Rename {
        old: String,
        new: String,
    },
    Export {
        name: String,
        path: String,
    },
    Import {
        name: Option<String>,
        path: String,
    },
    Run {
        machine: Option<String>,
        user: Option<String>,
        workdir: Option<String>,
        shell: bool,
        path: bool,
        /// Empty: an interactive shell.
        command: Vec<String>,
    },
    /// `push [-m M] SRC... [DEST]`: the positionals as given (see [`Op::copy_sources`]).
    Push {
        machine: Option<String>,
        paths: Vec<String>,
    },
    /// `pull [-m M] SRC... [DEST]`.
    Pull {
        machine: Option<String>,
        paths: Vec<String>,
    },
    Default {
        name: Option<String>,
    },
    Status,
    Version,
    Logs {
        name: String,
        all: bool,
    },
    ConfigShow,
    /// orbctl ignores the key and prints the full listing; kept for the record.
    ConfigGet {
        key: String,
    },
    ConfigSet {
        key: String,
        value: String,
    },
    /// `--help`, `help [CMD]` or a bare command group: print help, exit 0.
    Help {
        /// Command path below the root, e.g. `["config", "set"]`; empty for the root.
        path: Vec<String>,
    },
    /// A real orbctl subcommand this layer does not model (ssh, k8s, docker, reset, ...).
    /// `args` are everything after the subcommand word, untouched.
    Other {
        command: Vec<String>,
        args: Vec<String>,
    },
}

impl Op {
    pub fn class(&self) -> OpClass {
        match self {
            Op::Create { .. } | Op::Clone { .. } | Op::Import { .. } => OpClass::Create,
            Op::Start { .. } | Op::Stop { .. } | Op::Restart { .. } | Op::Delete { .. } => OpClass::Lifecycle,
            Op::Run { .. } => OpClass::Run,
            _ => OpClass::Query,
        }
    }

    /// The subcommand word as orbctl names it (canonical, never an alias).
    pub fn verb(&self) -> &str {
        match self {
            Op::Create { .. } => "create",
            Op::Delete { .. } => "delete",
            Op::List { .. } => "list",
            Op::Info { .. } => "info",
            Op::Start { .. } => "start",
            Op::Stop { .. } => "stop",
            Op::Restart { .. } => "restart",
            Op::Clone { .. } => "clone",
            Op::Rename { .. } => "rename",
            Op::Export { .. } => "export",
            Op::Import { .. } => "import",
            Op::Run { .. } => "run",
            Op::Push { .. } => "push",
            Op::Pull { .. } => "pull",
            Op::Default { .. } => "default",
            Op::Status => "status",
            Op::Version => "version",
            Op::Logs { .. } => "logs",
            Op::ConfigShow | Op::ConfigGet { .. } | Op::ConfigSet { .. } => "config",
            Op::Help { .. } => "help",
            Op::Other { command, .. } => command.first().map(String::as_str).unwrap_or(""),
        }
    }

    /// The machine a create-class operation brings into existence (create's default name is the
    /// distro token). `None` for `import` without `-n` (the name is inside the archive).
    pub fn created_machine(&self) -> Option<&str> {
        match self {
            Op::Create { image, name, .. } => Some(match name {
                Some(n) => n.as_str(),
                None => image.split_once(':').map_or(image.as_str(), |(d, _)| d),
            }),
            Op::Clone { dst, .. } => Some(dst),
            Op::Import { name, .. } => name.as_deref().filter(|n| !n.is_empty()),
            _ => None,
        }
    }

    /// The machine an operation is mainly about, for logs and the journal.
    pub fn machine(&self) -> Option<&str> {
        match self {
            Op::Create { .. } | Op::Clone { .. } | Op::Import { .. } => self.created_machine(),
            Op::Info { name, .. } | Op::Export { name, .. } | Op::Logs { name, .. } => Some(name),
            Op::Rename { old, .. } => Some(old),
            Op::Delete { names, .. } | Op::Start { names, .. } | Op::Stop { names, .. } | Op::Restart { names, .. } => {
                names.first().map(String::as_str)
            }
            Op::Run { machine, .. } | Op::Push { machine, .. } | Op::Pull { machine, .. } => machine.as_deref(),
            Op::Default { name } => name.as_deref(),
            _ => None,
        }
    }

    /// For push/pull: `(sources, destination)` the way orbctl splits the positionals
    /// (one path: it is the source and the destination defaults).
    pub fn copy_sources(paths: &[String]) -> (&[String], Option<&str>) {
        match paths {
            [] => (&[], None),
            [one] => (std::slice::from_ref(one), None),
            [sources @ .., dest] => (sources, Some(dest.as_str())),
        }
    }

    /// `create IMAGE NAME`, no other flags.
    pub fn create(image: &str, name: &str) -> Op {
        Op::Create {
            image: image.to_string(),
            name: Some(name.to_string()),
            arch: None,
            user: None,
            user_data: None,
            set_password: false,
        }
    }

    /// `delete -f NAME`.
    pub fn delete(name: &str) -> Op {
        Op::Delete {
            names: vec![name.to_string()],
            force: true,
            all: false,
        }
    }

    /// `start NAME`.
    pub fn start(name: &str) -> Op {
        Op::Start {
            names: vec![name.to_string()],
            all: false,
        }
    }

    /// `stop NAME`.
    pub fn stop(name: &str) -> Op {
        Op::Stop {
            names: vec![name.to_string()],
            all: false,
            force: false,
        }
    }

    /// argv (without the program name) that orbctl parses back into this same `Op`.
    pub fn to_argv(&self) -> Vec<String> {
        let mut a = Argv::default();
        match self {
            Op::Create {
                image,
                name,
                arch,
                user,
                user_data,
                set_password,
            } => {
                a.word("create");
                a.opt("--arch", arch);
                a.opt("--user", user);
                a.opt("--user-data", user_data);
                a.flag("--set-password", *set_password);
                let mut pos = vec![image.clone()];
                pos.extend(name.iter().cloned());
                a.positionals(pos);
            }
            Op::Delete { names, force, all } => {
                a.word("delete");
                a.flag("--force", *force);
                a.flag("--all", *all);
                a.positionals(names.clone());
            }
            Op::List { running, quiet, format } => {
                a.word("list");
                a.flag("--running", *running);
                a.flag("--quiet", *quiet);
                a.opt("--format", format);
            }
            Op::Info { name, format } => {
                a.word("info");
                a.opt("--format", format);
                a.positionals(vec![name.clone()]);
            }
            Op::Start { names, all } => {
                a.word("start");
                a.flag("--all", *all);
                a.positionals(names.clone());
            }
            Op::Stop { names, all, force } => {
                a.word("stop");
                a.flag("--all", *all);
                a.flag("--force", *force);
                a.positionals(names.clone());
            }
            Op::Restart { names, all } => {
                a.word("restart");
                a.flag("--all", *all);
                a.positionals(names.clone());
            }
            Op::Clone { src, dst } => {
                a.word("clone");
                a.positionals(vec![src.clone(), dst.clone()]);
            }
            Op::Rename { old, new } => {
                a.word("rename");
                a.positionals(vec![old.clone(), new.clone()]);
            }
            Op::Export { name, path } => {
                a.word("export");
                a.positionals(vec![name.clone(), path.clone()]);
            }
            Op::Import { name, path } => {
                a.word("import");
                a.opt("--name", name);
                a.positionals(vec![path.clone()]);
            }
            Op::Run {
                machine,
                user,
                workdir,
                shell,
                path,
                command,
            } => {
                // run has its own parser: flags first, `--` is not accepted, the command follows.
                a.word("run");
                a.run_opt("--machine", machine);
                a.run_opt("--user", user);
                a.run_opt("--workdir", workdir);
                a.flag("--shell", *shell);
                a.flag("--path", *path);
                a.0.extend(command.iter().cloned());
            }
            Op::Push { machine, paths } | Op::Pull { machine, paths } => {
                a.word(self.verb());
                a.opt("--machine", machine);
                a.positionals(paths.clone());
            }
            Op::Default { name } => {
                a.word("default");
                a.positionals(name.iter().cloned().collect());
            }
            Op::Status => a.word("status"),
            Op::Version => a.word("version"),
            Op::Logs { name, all } => {
                a.word("logs");
                a.flag("--all", *all);
                a.positionals(vec![name.clone()]);
            }
            Op::ConfigShow => {
                a.word("config");
                a.word("show");
            }
            Op::ConfigGet { key } => {
                a.word("config");
                a.word("get");
                a.positionals(vec![key.clone()]);
            }
            Op::ConfigSet { key, value } => {
                a.word("config");
                a.word("set");
                a.positionals(vec![key.clone(), value.clone()]);
            }
            Op::Help { path } => {
                for w in path {
                    a.word(w);
                }
                a.word("--help");
            }
            Op::Other { command, args } => {
                for w in command {
                    a.word(w);
                }
                a.0.extend(args.iter().cloned());
            }
        }
        a.0
    }
}

impl fmt::Display for Op {
    /// `orbctl <argv>` with shell-like quoting, for logs and error messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("orbctl")?;
        for w in self.to_argv() {
            f.write_str(" ")?;
            f.write_str(&shell_quote(&w))?;
        }
        Ok(())
    }
}

/// Quotes a word for display only (never fed to a shell).
pub fn shell_quote(w: &str) -> String {
    let plain = !w.is_empty()
        && w.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:/=@,+%".contains(&b));
    if plain {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', r"'\''"))
    }
}

#[derive(Default)]
struct Argv(Vec<String>);

impl Argv {
    fn word(&mut self, w: &str) {
        self.0.push(w.to_string());
    }
    fn flag(&mut self, name: &str, on: bool) {
        if on {
            self.word(name);
        }
    }
    /// `--name=value` keeps values that start with `-` or are empty unambiguous for pflag.
    fn opt(&mut self, name: &str, value: &Option<String>) {
        if let Some(v) = value {
            if v.is_empty() || v.starts_with('-') {
                self.0.push(format!("{name}={v}"));
            } else {
                self.word(name);
                self.word(v);
            }
        }
    }
    /// run's parser takes the next word verbatim as the value, whatever it looks like.
    fn run_opt(&mut self, name: &str, value: &Option<String>) {
        if let Some(v) = value {
            self.word(name);
            self.word(v);
        }
    }
    /// Positionals go after `--` when one of them would otherwise read as a flag.
    fn positionals(&mut self, pos: Vec<String>) {
        if pos.iter().any(|p| p.starts_with('-') && p.len() > 1) {
            self.word("--");
        }
        self.0.extend(pos);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_default_name_is_the_distro_token() {
        let op = Op::Create {
            image: "ubuntu:22.04".into(),
            name: None,
            arch: None,
            user: None,
            user_data: None,
            set_password: false,
        };
        assert_eq!(op.created_machine(), Some("ubuntu"));
        assert_eq!(op.class(), OpClass::Create);
    }

    #[test]
    fn classes_follow_the_verbs() {
        let start = Op::Start {
            names: vec!["a".into()],
            all: false,
        };
        assert_eq!(start.class(), OpClass::Lifecycle);
        assert_eq!(Op::Status.class(), OpClass::Query);
        let run = Op::Run {
            machine: None,
            user: None,
            workdir: None,
            shell: false,
            path: false,
            command: vec!["true".into()],
        };
        assert_eq!(run.class(), OpClass::Run);
        let export = Op::Export {
            name: "a".into(),
            path: "x.tar".into(),
        };
        assert_eq!(export.class(), OpClass::Query);
    }

    #[test]
    fn display_quotes_odd_words() {
        let op = Op::Delete {
            names: vec!["a b".into()],
            force: true,
            all: false,
        };
        assert_eq!(op.to_string(), "orbctl delete --force 'a b'");
    }

    #[test]
    fn flavor_from_argv0_uses_the_basename() {
        assert_eq!(Flavor::from_argv0("/x/y/orb"), Some(Flavor::Orb));
        assert_eq!(Flavor::from_argv0("orbctl"), Some(Flavor::Orbctl));
        assert_eq!(Flavor::from_argv0("/bin/orbsim"), None);
    }
}
