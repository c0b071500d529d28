//! The orbctl command tree: names, aliases, flags and argument rules (from the CLI spec §3).
//!
//! Descriptions and examples are our own wording; names, `Use` lines, flags and argument rules
//! are the interface facts orbctl exposes.

/// A flag as pflag knows it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FlagSpec {
    pub long: &'static str,
    pub short: Option<char>,
    /// String flags take a value; the others are bools.
    pub takes_value: bool,
    pub usage: &'static str,
    /// Shown as `(default "x")` in usage when non-empty.
    pub default: &'static str,
}

const fn boolean(long: &'static str, short: char, usage: &'static str) -> FlagSpec {
    FlagSpec {
        long,
        short: Some(short),
        takes_value: false,
        usage,
        default: "",
    }
}

const fn string(long: &'static str, short: char, usage: &'static str) -> FlagSpec {
    FlagSpec {
        long,
        short: Some(short),
        takes_value: true,
        usage,
        default: "",
    }
}

/// cobra's positional-argument validators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArgRule {
    None,
    Any,
    Exact(usize),
    Range(usize, usize),
    Min(usize),
    Max(usize),
}

impl ArgRule {
    /// The error cobra reports, or `None` when the count is acceptable.
    /// `NoArgs` is handled by the caller because its text names the offending argument.
    pub(super) fn check(self, n: usize) -> Option<String> {
        match self {
            ArgRule::None | ArgRule::Any => None,
            ArgRule::Exact(k) if n != k => Some(format!("accepts {k} arg(s), received {n}")),
            ArgRule::Range(lo, hi) if n < lo || n > hi => {
                Some(format!("accepts between {lo} and {hi} arg(s), received {n}"))
            }
            ArgRule::Min(k) if n < k => Some(format!("requires at least {k} arg(s), only received {n}")),
            ArgRule::Max(k) if n > k => Some(format!("accepts at most {k} arg(s), received {n}")),
            _ => None,
        }
    }
}

/// How a command's arguments are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Parsing {
    /// cobra + pflag, interspersed flags.
    Cobra,
    /// `run`'s own parser (flags only before the command, no `--`).
    Run,
    /// A command this layer does not model: arguments pass through untouched.
    PassThrough,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct CmdSpec {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    /// cobra `Use` without the command path, e.g. `create [flags] DISTRO[:VERSION] [MACHINE_NAME]`.
    pub use_line: &'static str,
    pub short: &'static str,
    pub example: &'static str,
    pub flags: &'static [FlagSpec],
    pub args: ArgRule,
    pub parsing: Parsing,
    pub hidden: bool,
    pub subcommands: &'static [CmdSpec],
}

impl CmdSpec {
    pub(super) fn matches(&self, word: &str) -> bool {
        self.name == word || self.aliases.contains(&word)
    }

    pub(super) fn runnable(&self) -> bool {
        self.subcommands.is_empty()
    }

    pub(super) fn find(&self, word: &str) -> Option<&'static CmdSpec> {
        self.subcommands.iter().find(|c| c.matches(word))
    }
}

const fn cmd(name: &'static str, use_line: &'static str, short: &'static str) -> CmdSpec {
    CmdSpec {
        name,
        aliases: &[],
        use_line,
        short,
        example: "",
        flags: &[],
        args: ArgRule::Any,
        parsing: Parsing::Cobra,
        hidden: false,
        subcommands: &[],
    }
}

const fn other(name: &'static str, short: &'static str) -> CmdSpec {
    CmdSpec {
        parsing: Parsing::PassThrough,
        ..cmd(name, name, short)
    }
}

pub(crate) static CONFIG_COMMANDS: &[CmdSpec] = &[
    CmdSpec {
        example: "  orbctl config get cpu",
        args: ArgRule::Exact(1),
        ..cmd("get", "get KEY", "Print the configuration")
    },
    CmdSpec {
        example: "  orbctl config set memory_mib 8192",
        args: ArgRule::Exact(2),
        ..cmd("set", "set KEY VALUE", "Change one configuration option")
    },
    CmdSpec {
        example: "  orbctl config show",
        args: ArgRule::None,
        ..cmd("show", "show", "Print the configuration")
    },
    other("docker", "Edit the Docker engine configuration"),
    other("reset", "Reset the configuration to defaults"),
];

/// The subcommands of the root, in cobra's (alphabetical) listing order.
pub(crate) static COMMANDS: &[CmdSpec] = &[
    CmdSpec {
        example: "  orbctl clone web web-copy",
        args: ArgRule::Exact(2),
        ..cmd(
            "clone",
            "clone [OLD_NAME] [NEW_NAME]",
            "Copy a machine (the copy is stopped)",
        )
    },
    CmdSpec {
        hidden: true,
        ..other("completion", "Shell completion scripts")
    },
    CmdSpec {
        subcommands: CONFIG_COMMANDS,
        ..cmd("config", "config", "Change OrbStack settings")
    },
    CmdSpec {
        aliases: &["add", "new"],
        example: "  orbctl create ubuntu:22.04 web\n  orbctl create -a amd64 debian db",
        flags: &[
            string("arch", 'a', "Architecture to run the machine as"),
            boolean("set-password", 'p', "Ask for a password for the default user and root"),
            string("user", 'u', "Name of the default Linux user"),
            string("user-data", 'c', "Cloud-init user data file to apply"),
        ],
        args: ArgRule::Range(1, 2),
        ..cmd(
            "create",
            "create [flags] DISTRO[:VERSION] [MACHINE_NAME]",
            "Create a machine",
        )
    },
    other("debug", "Debug a container"),
    CmdSpec {
        aliases: &["set-default", "get-default"],
        example: "  orbctl default web",
        args: ArgRule::Max(1),
        ..cmd("default", "default [NAME/ID]", "Show or set the default machine")
    },
    CmdSpec {
        example: "  orbctl delete web",
        flags: &[
            boolean("all", 'a', "Delete every machine"),
            boolean("force", 'f', "Do not ask for confirmation"),
        ],
        ..cmd("delete", "delete [flags] [ID/NAME]...", "Delete machines")
    },
    other("docker", "Docker engine utilities"),
    CmdSpec {
        example: "  orbctl export web web.tar.zst",
        args: ArgRule::Exact(2),
        ..cmd(
            "export",
            "export [MACHINE_NAME] [OUTPUT_PATH]",
            "Write a machine to an archive",
        )
    },
    CmdSpec {
        example: "  orbctl import -n web web.tar.zst",
        flags: &[string("name", 'n', "Name for the imported machine")],
        args: ArgRule::Exact(1),
        ..cmd("import", "import [INPUT_PATH]", "Create a machine from an archive")
    },
    CmdSpec {
        aliases: &["i"],
        example: "  orbctl info web -f json",
        flags: &[string("format", 'f', "Output format (text or json)")],
        args: ArgRule::Exact(1),
        ..cmd("info", "info [ID/NAME]", "Show one machine")
    },
    other("k8s", "Kubernetes utilities"),
    other("link", "Link a command into the default machine"),
    CmdSpec {
        example: "  orbctl list -f json",
        flags: &[
            FlagSpec {
                default: "text",
                ..string("format", 'f', "Output format (text or json)")
            },
            boolean("quiet", 'q', "Print machine names only"),
            boolean("running", 'r', "Only machines that are running"),
        ],
        args: ArgRule::None,
        ..cmd("list", "list", "List machines")
    },
    other("login", "Sign in to an OrbStack account"),
    other("logout", "Sign out of an OrbStack account"),
    CmdSpec {
        aliases: &["log", "console"],
        example: "  orbctl logs web",
        flags: &[boolean("all", 'a', "Include the runtime log")],
        args: ArgRule::Exact(1),
        ..cmd("logs", "logs [ID/NAME]", "Print a machine's console log")
    },
    other("migrate", "Migrate from other tools"),
    CmdSpec {
        example: "  orbctl pull -m web notes.txt .",
        flags: &[string("machine", 'm', "Machine to copy from")],
        args: ArgRule::Min(1),
        ..cmd(
            "pull",
            "pull [flags] Linux-source... [macOS-dest]",
            "Copy files from a machine",
        )
    },
    CmdSpec {
        example: "  orbctl push -m web notes.txt",
        flags: &[string("machine", 'm', "Machine to copy to")],
        args: ArgRule::Min(1),
        ..cmd(
            "push",
            "push [flags] macOS-source... [Linux-dest]",
            "Copy files into a machine",
        )
    },
    CmdSpec {
        example: "  orbctl rename web web2",
        args: ArgRule::Exact(2),
        ..cmd("rename", "rename [old name/ID] [new name]", "Rename a machine")
    },
    other("report", "Create a diagnostic report"),
    other("reset", "Delete all OrbStack data"),
    CmdSpec {
        example: "  orbctl restart web",
        flags: &[boolean("all", 'a', "Restart every machine")],
        ..cmd("restart", "restart [flags] [ID/NAME]..", "Restart machines")
    },
    CmdSpec {
        aliases: &["exec", "shell"],
        example: "  orbctl run -m web uname -a",
        flags: &[
            string("machine", 'm', "Machine to run in"),
            boolean("path", 'p', "Translate host paths in arguments"),
            boolean("shell", 's', "Run the words as a login-shell script"),
            string("user", 'u', "User to run as"),
            string("workdir", 'w', "Working directory"),
        ],
        parsing: Parsing::Run,
        ..cmd(
            "run",
            "run [flags] -- [COMMAND] [ARGS]...",
            "Run a command in a machine",
        )
    },
    other("ssh", "Show how to connect with SSH"),
    CmdSpec {
        example: "  orbctl start web",
        flags: &[boolean("all", 'a', "Start every machine")],
        ..cmd("start", "start [flags] [ID/NAME]...", "Start OrbStack or machines")
    },
    CmdSpec {
        example: "  orbctl status",
        ..cmd("status", "status", "Tell whether OrbStack is running")
    },
    CmdSpec {
        aliases: &["shutdown"],
        example: "  orbctl stop web",
        flags: &[
            boolean("all", 'a', "Stop every machine"),
            boolean("force", 'f', "Kill OrbStack at once (without names)"),
        ],
        ..cmd("stop", "stop [flags] [ID/NAME]..", "Stop OrbStack or machines")
    },
    other("unlink", "Remove a linked command"),
    other("update", "Update OrbStack"),
    CmdSpec {
        example: "  orbctl version",
        ..cmd("version", "version", "Print the version")
    },
    CmdSpec {
        hidden: true,
        ..other("_internal", "Internal commands")
    },
];

/// The root pseudo-command; `use_line` is replaced by the flavour's root name.
pub(crate) static ROOT: CmdSpec = CmdSpec {
    subcommands: COMMANDS,
    ..cmd("orbctl", "orbctl", "Control OrbStack's Linux machines")
};

/// The help flag cobra adds to every command.
pub(crate) const HELP_FLAG: FlagSpec = FlagSpec {
    long: "help",
    short: Some('h'),
    takes_value: false,
    usage: "", // rendered as "help for <name>"
    default: "",
};
