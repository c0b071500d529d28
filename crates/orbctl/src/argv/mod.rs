//! Reading argv exactly as orbctl does: cobra command lookup (with its flag stripping and
//! suggestions), pflag interspersed flags, `run`'s own parser, and the `orb` flavour where words
//! that are not subcommands mean `run`.
//!
//! Checks orbctl makes inside a command's body before contacting the daemon (distro, arch,
//! format, "no machines specified") are the executor's business; it renders them with
//! [`usage_error`] so they look exactly like cobra's.

mod flags;
mod table;
mod usage;

use table::{ArgRule, CmdSpec, Parsing, ROOT};

use super::op::{Flavor, Op};

/// What orbctl prints and its exit code when it stops before doing anything
/// (argument errors, unknown commands, some help forms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

impl Exit {
    fn stderr(text: String, code: i32) -> Exit {
        Exit {
            stdout: String::new(),
            stderr: text,
            code,
        }
    }
}

/// Parses `args` (argv without the program name) for the given flavour.
pub fn parse(flavor: Flavor, args: &[String]) -> Result<Op, Exit> {
    match flavor {
        Flavor::Orbctl => parse_orbctl(flavor, args),
        Flavor::Orb => parse_orb(args),
    }
}

/// Help text for `Op::Help { path }` (stdout, exit 0).
pub fn help_text(flavor: Flavor, path: &[String]) -> String {
    if path.is_empty() && flavor == Flavor::Orb {
        return usage::orb_short_help();
    }
    let mut specs: Vec<&CmdSpec> = Vec::new();
    let mut parent: &CmdSpec = &ROOT;
    for word in path {
        match parent.find(word) {
            Some(c) => {
                specs.push(c);
                parent = c;
            }
            None => break,
        }
    }
    usage::help(flavor, &specs)
}

/// An argument error found inside a command (cobra's `Error: <msg>` plus usage, exit 1).
/// `path` names the command, e.g. `["create"]` or `["config", "set"]`.
pub fn usage_error(flavor: Flavor, path: &[&str], msg: &str) -> Exit {
    let mut specs: Vec<&CmdSpec> = Vec::new();
    let mut parent: &CmdSpec = &ROOT;
    for word in path {
        if let Some(c) = parent.find(word) {
            specs.push(c);
            parent = c;
        }
    }
    Exit::stderr(usage::error_with_usage(flavor, &specs, msg), 1)
}

/// Whether `word` names a subcommand (or an alias of one) of the root.
pub fn is_subcommand(word: &str) -> bool {
    word == "help" || ROOT.find(word).is_some()
}

fn parse_orb(args: &[String]) -> Result<Op, Exit> {
    match args.first().map(String::as_str) {
        None => return Ok(run_op(flags::RunFlags::default())),
        Some("-h" | "--help") => return Ok(Op::Help { path: vec![] }),
        Some("help") if args.len() == 1 => return Ok(Op::Help { path: vec![] }),
        _ => {}
    }
    // orb asks cobra whether argv names a subcommand; if not, all of argv is `run`'s.
    let words = strip_flags(args);
    if words.first().is_some_and(|w| is_subcommand(w)) {
        return parse_orbctl(Flavor::Orb, args);
    }
    parse_run(Flavor::Orb, args)
}

fn parse_orbctl(flavor: Flavor, args: &[String]) -> Result<Op, Exit> {
    let mut path: Vec<&'static CmdSpec> = Vec::new();
    let mut rest: Vec<String> = args.to_vec();
    loop {
        let parent: &CmdSpec = path.last().copied().unwrap_or(&ROOT);
        if parent.runnable() {
            break;
        }
        let words = strip_flags(&rest);
        let Some(word) = words.first() else { break };
        if path.is_empty() && word == "help" {
            remove_first(&mut rest, word);
            return help_command(flavor, &rest);
        }
        match parent.find(word) {
            Some(c) => {
                remove_first(&mut rest, word);
                path.push(c);
            }
            None if path.is_empty() => {
                let text = format!(
                    "Error: unknown command \"{word}\" for \"{}\"{}\nRun '{} --help' for usage.\n",
                    flavor.root(),
                    suggestions(word),
                    flavor.root()
                );
                return Err(Exit::stderr(text, 1));
            }
            // cobra shows a group's help when the word below it is unknown.
            None => break,
        }
    }
    let cmd: &CmdSpec = path.last().copied().unwrap_or(&ROOT);
    let names: Vec<String> = path.iter().map(|c| c.name.to_string()).collect();
    match cmd.parsing {
        Parsing::PassThrough => {
            return Ok(Op::Other {
                command: names,
                args: rest,
            });
        }
        Parsing::Run => return parse_run(flavor, &rest),
        Parsing::Cobra => {}
    }
    let parsed = flags::parse_pflag(cmd.flags, &rest)
        .map_err(|e| Exit::stderr(usage::error_with_usage(flavor, &path, &e.to_string()), 1))?;
    if parsed.help || !cmd.runnable() {
        return Ok(Op::Help { path: names });
    }
    let pos = &parsed.positionals;
    let arg_error = if cmd.args == ArgRule::None {
        pos.first()
            .map(|a| format!("unknown command \"{a}\" for \"{}\"", usage::command_path(flavor, &path)))
    } else {
        cmd.args.check(pos.len())
    };
    if let Some(e) = arg_error {
        return Err(Exit::stderr(usage::error_with_usage(flavor, &path, &e), 1));
    }
    Ok(build(&names, &parsed))
}

fn build(names: &[String], p: &flags::Parsed) -> Op {
    let pos = p.positionals.clone();
    let at = |i: usize| pos.get(i).cloned().unwrap_or_default();
    let words: Vec<&str> = names.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["create"] => Op::Create {
            image: at(0),
            name: pos.get(1).cloned(),
            arch: p.string("arch"),
            user: p.string("user"),
            user_data: p.string("user-data"),
            set_password: p.bool("set-password"),
        },
        ["delete"] => Op::Delete {
            names: pos,
            force: p.bool("force"),
            all: p.bool("all"),
        },
        ["list"] => Op::List {
            running: p.bool("running"),
            quiet: p.bool("quiet"),
            format: p.string("format"),
        },
        ["info"] => Op::Info {
            name: at(0),
            format: p.string("format"),
        },
        ["start"] => Op::Start {
            names: pos,
            all: p.bool("all"),
        },
        ["stop"] => Op::Stop {
            names: pos,
            all: p.bool("all"),
            force: p.bool("force"),
        },
        ["restart"] => Op::Restart {
            names: pos,
            all: p.bool("all"),
        },
        ["clone"] => Op::Clone { src: at(0), dst: at(1) },
        ["rename"] => Op::Rename { old: at(0), new: at(1) },
        ["export"] => Op::Export {
            name: at(0),
            path: at(1),
        },
        ["import"] => Op::Import {
            name: p.string("name"),
            path: at(0),
        },
        ["push"] => Op::Push {
            machine: p.string("machine"),
            paths: pos,
        },
        ["pull"] => Op::Pull {
            machine: p.string("machine"),
            paths: pos,
        },
        ["default"] => Op::Default {
            name: pos.first().cloned(),
        },
        ["status"] => Op::Status,
        ["version"] => Op::Version,
        ["logs"] => Op::Logs {
            name: at(0),
            all: p.bool("all"),
        },
        ["config", "show"] => Op::ConfigShow,
        ["config", "get"] => Op::ConfigGet { key: at(0) },
        ["config", "set"] => Op::ConfigSet {
            key: at(0),
            value: at(1),
        },
        // Every cobra-parsed command in the table is listed above; anything else passes through.
        _ => Op::Other {
            command: names.to_vec(),
            args: pos,
        },
    }
}

fn parse_run(flavor: Flavor, args: &[String]) -> Result<Op, Exit> {
    let run = ROOT.find("run").map(|c| vec![c]).unwrap_or_default();
    match flags::parse_run(args) {
        Err(e) => Err(Exit::stderr(usage::error_with_usage(flavor, &run, &e.to_string()), 1)),
        Ok(f) if f.help => Ok(Op::Help {
            path: vec!["run".into()],
        }),
        Ok(f) => Ok(run_op(f)),
    }
}

fn run_op(f: flags::RunFlags) -> Op {
    Op::Run {
        machine: f.machine,
        user: f.user,
        workdir: f.workdir,
        shell: f.shell,
        path: f.path,
        command: f.command,
    }
}

/// cobra's `help [command]`.
fn help_command(flavor: Flavor, args: &[String]) -> Result<Op, Exit> {
    let mut path = Vec::new();
    let mut parent: &CmdSpec = &ROOT;
    for word in args.iter().filter(|a| !a.starts_with('-')) {
        match parent.find(word) {
            Some(c) => {
                path.push(c.name.to_string());
                parent = c;
            }
            None => {
                // cobra prints this (and the root usage) through its error writer, exit 0.
                let text = format!(
                    "Unknown help topic [`{}`]\n{}",
                    args.join(" "),
                    usage::usage(flavor, &[])
                );
                return Err(Exit::stderr(text, 0));
            }
        }
    }
    Ok(Op::Help { path })
}

/// cobra's `stripFlags`: the words left after dropping flags and the values it assumes they
/// take (`-x v`, `--flag v`; `-h`/`--help` take none). Used only to find subcommand words.
fn strip_flags(args: &[String]) -> Vec<String> {
    let mut words = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let s = &args[i];
        i += 1;
        if s == "--" {
            break;
        }
        let no_value = s == "-h" || s == "--help";
        let long_with_value = s.starts_with("--") && !s.contains('=') && !no_value;
        let short_with_value = s.starts_with('-') && !s.contains('=') && s.len() == 2 && !no_value;
        if long_with_value || short_with_value {
            if args.len() - i <= 1 {
                break;
            }
            i += 1;
            continue;
        }
        if !s.is_empty() && !s.starts_with('-') {
            words.push(s.clone());
        }
    }
    words
}

fn remove_first(args: &mut Vec<String>, word: &str) {
    if let Some(i) = args.iter().position(|a| a == word) {
        args.remove(i);
    }
}

/// cobra's "Did you mean this?" block (Levenshtein ≤ 2, or a prefix match).
fn suggestions(word: &str) -> String {
    let lower = word.to_lowercase();
    let found: Vec<&str> = ROOT
        .subcommands
        .iter()
        .filter(|c| !c.hidden)
        .filter(|c| {
            strsim::levenshtein(&lower, &c.name.to_lowercase()) <= 2 || c.name.to_lowercase().starts_with(&lower)
        })
        .map(|c| c.name)
        .collect();
    if found.is_empty() {
        String::new()
    } else {
        format!("\n\nDid you mean this?\n\t{}\n", found.join("\n\t"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    fn ok(args: &[&str]) -> Op {
        parse(Flavor::Orbctl, &s(args)).unwrap()
    }

    fn err(args: &[&str]) -> Exit {
        parse(Flavor::Orbctl, &s(args)).unwrap_err()
    }

    #[test]
    fn create_with_flags_after_positionals() {
        assert_eq!(
            ok(&["add", "ubuntu:22.04", "web", "--arch", "arm64", "-u", "bob"]),
            Op::Create {
                image: "ubuntu:22.04".into(),
                name: Some("web".into()),
                arch: Some("arm64".into()),
                user: Some("bob".into()),
                user_data: None,
                set_password: false,
            }
        );
    }

    #[test]
    fn aliases_resolve_to_canonical_ops() {
        assert!(matches!(ok(&["i", "web"]), Op::Info { .. }));
        assert!(matches!(ok(&["shutdown", "web"]), Op::Stop { .. }));
        assert!(matches!(ok(&["exec", "true"]), Op::Run { .. }));
        assert!(matches!(ok(&["console", "web"]), Op::Logs { .. }));
        assert!(matches!(ok(&["set-default"]), Op::Default { name: None }));
    }

    #[test]
    fn delete_force_anywhere() {
        for args in [
            &["delete", "-f", "x"][..],
            &["delete", "x", "-f"],
            &["delete", "--force", "x"],
        ] {
            assert_eq!(
                ok(args),
                Op::Delete {
                    names: vec!["x".into()],
                    force: true,
                    all: false
                }
            );
        }
    }

    #[test]
    fn list_dash_is_an_unknown_command() {
        let e = err(&["list", "-", "json"]);
        assert_eq!(e.code, 1);
        assert!(
            e.stderr
                .starts_with("Error: unknown command \"-\" for \"orbctl list\"\nUsage:\n  orbctl list [flags]\n")
        );
    }

    #[test]
    fn arg_count_errors() {
        let e = err(&["info"]);
        assert!(
            e.stderr
                .starts_with("Error: accepts 1 arg(s), received 0\nUsage:\n  orbctl info [ID/NAME] [flags]\n")
        );
        let e = err(&["create", "a", "b", "c"]);
        assert!(
            e.stderr
                .starts_with("Error: accepts between 1 and 2 arg(s), received 3\n")
        );
        assert!(e.stderr.ends_with("\n\n"));
    }

    #[test]
    fn unknown_command_suggests() {
        let e = err(&["creat", "ubuntu"]);
        assert_eq!(
            e.stderr,
            "Error: unknown command \"creat\" for \"orbctl\"\n\nDid you mean this?\n\tcreate\n\nRun 'orbctl --help' for usage.\n"
        );
        let e = err(&["frobnicate"]);
        assert_eq!(
            e.stderr,
            "Error: unknown command \"frobnicate\" for \"orbctl\"\nRun 'orbctl --help' for usage.\n"
        );
    }

    #[test]
    fn root_flags_before_the_command() {
        assert_eq!(
            ok(&["-f", "json", "list"]),
            Op::List {
                running: false,
                quiet: false,
                format: Some("json".into())
            }
        );
    }

    #[test]
    fn run_rejects_double_dash_with_usage() {
        let e = err(&["run", "-m", "vm", "--", "uname", "-a"]);
        assert!(
            e.stderr
                .starts_with("Error: unknown flag --\nUsage:\n  orbctl run [flags] -- [COMMAND] [ARGS]...\n")
        );
    }

    #[test]
    fn help_forms() {
        assert_eq!(ok(&[]), Op::Help { path: vec![] });
        assert_eq!(ok(&["create", "--help"]), Op::Help { path: s(&["create"]) });
        assert_eq!(
            ok(&["help", "config", "set"]),
            Op::Help {
                path: s(&["config", "set"])
            }
        );
        assert_eq!(ok(&["config"]), Op::Help { path: s(&["config"]) });
        assert_eq!(ok(&["run", "-h"]), Op::Help { path: s(&["run"]) });
    }

    #[test]
    fn unmodelled_commands_pass_through() {
        assert_eq!(
            ok(&["ssh", "--weird", "x"]),
            Op::Other {
                command: s(&["ssh"]),
                args: s(&["--weird", "x"])
            }
        );
        assert_eq!(
            ok(&["config", "reset", "-y"]),
            Op::Other {
                command: s(&["config", "reset"]),
                args: s(&["-y"])
            }
        );
    }

    #[test]
    fn orb_words_mean_run() {
        let op = parse(Flavor::Orb, &s(&["-m", "ubuntu", "-u", "root", "uname", "-a"])).unwrap();
        assert_eq!(
            op,
            Op::Run {
                machine: Some("ubuntu".into()),
                user: Some("root".into()),
                workdir: None,
                shell: false,
                path: false,
                command: s(&["uname", "-a"]),
            }
        );
        assert!(matches!(parse(Flavor::Orb, &s(&["list"])).unwrap(), Op::List { .. }));
        assert!(matches!(
            parse(Flavor::Orb, &[]).unwrap(),
            Op::Run { ref command, .. } if command.is_empty()
        ));
        assert_eq!(parse(Flavor::Orb, &s(&["help"])).unwrap(), Op::Help { path: vec![] });
    }

    #[test]
    fn orb_errors_name_orb() {
        let e = parse(Flavor::Orb, &s(&["info"])).unwrap_err();
        assert!(e.stderr.contains("\n  orb info [ID/NAME] [flags]\n"));
    }
}
