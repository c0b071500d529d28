//! cobra-style usage and help text.
//!
//! The layout (sections, flag column alignment, trailing blank line after errors) follows
//! cobra's default templates and pflag's `FlagUsages`; the descriptions are our own wording, so
//! callers should compare at most the first usage line byte for byte.

use super::table::{CmdSpec, FlagSpec, HELP_FLAG, ROOT};
use crate::op::Flavor;

/// `orbctl config set` for `[config, set]`.
pub(crate) fn command_path(flavor: Flavor, path: &[&CmdSpec]) -> String {
    let mut s = flavor.root().to_string();
    for c in path {
        s.push(' ');
        s.push_str(c.name);
    }
    s
}

fn use_line(flavor: Flavor, path: &[&CmdSpec]) -> String {
    let Some((last, parents)) = path.split_last() else {
        return flavor.root().to_string();
    };
    let mut line = format!("{} {}", command_path(flavor, parents), last.use_line);
    // cobra appends "[flags]" to commands with flags (every command has --help).
    if !line.contains("[flags]") {
        line.push_str(" [flags]");
    }
    line
}

/// pflag's `FlagUsages`: sorted by long name, usage column aligned three spaces after the
/// longest flag part.
fn flag_usages(name: &str, flags: &[FlagSpec]) -> String {
    let mut all: Vec<FlagSpec> = flags.to_vec();
    all.push(HELP_FLAG);
    all.sort_by_key(|f| f.long);
    let lines: Vec<(String, String)> = all
        .iter()
        .map(|f| {
            let mut left = match f.short {
                Some(c) => format!("  -{c}, --{}", f.long),
                None => format!("      --{}", f.long),
            };
            if f.takes_value {
                left.push_str(" string");
            }
            let mut usage = if f.long == "help" {
                format!("help for {name}")
            } else {
                f.usage.to_string()
            };
            if !f.default.is_empty() {
                usage.push_str(&format!(" (default \"{}\")", f.default));
            }
            (left, usage)
        })
        .collect();
    let width = lines.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (left, usage) in lines {
        out.push_str(&format!("{left:<width$}   {usage}\n"));
    }
    out
}

fn visible(cmds: &[CmdSpec]) -> Vec<(&str, &str)> {
    let mut v: Vec<(&str, &str)> = cmds.iter().filter(|c| !c.hidden).map(|c| (c.name, c.short)).collect();
    v.push(("help", "Help about any command"));
    v.sort_by_key(|(n, _)| *n);
    v
}

/// cobra's `UsageString()` (ends with one newline).
pub(crate) fn usage(flavor: Flavor, path: &[&CmdSpec]) -> String {
    let cmd: &CmdSpec = path.last().copied().unwrap_or(&ROOT);
    let mut s = String::from("Usage:");
    if cmd.runnable() {
        s.push_str(&format!("\n  {}", use_line(flavor, path)));
    } else {
        s.push_str(&format!("\n  {} [command]", command_path(flavor, path)));
    }
    if !cmd.aliases.is_empty() {
        let mut names = vec![cmd.name];
        names.extend(cmd.aliases.iter().copied());
        s.push_str(&format!("\n\nAliases:\n  {}", names.join(", ")));
    }
    if !cmd.example.is_empty() {
        let example = cmd.example.replace("orbctl", flavor.root());
        s.push_str(&format!("\n\nExamples:\n{example}"));
    }
    if !cmd.runnable() {
        let cmds = visible(cmd.subcommands);
        let pad = cmds.iter().map(|(n, _)| n.len()).max().unwrap_or(0).max(11);
        s.push_str("\n\nAvailable Commands:");
        for (n, short) in cmds {
            s.push_str(&format!("\n  {n:<pad$} {short}"));
        }
    }
    let name = if path.is_empty() { flavor.root() } else { cmd.name };
    s.push_str("\n\nFlags:\n");
    s.push_str(flag_usages(name, cmd.flags).trim_end());
    if !cmd.runnable() {
        s.push_str(&format!(
            "\n\nUse \"{} [command] --help\" for more information about a command.",
            command_path(flavor, path)
        ));
    }
    s.push('\n');
    s
}

/// cobra's help: the description, a blank line, then the usage. Goes to stdout.
pub(crate) fn help(flavor: Flavor, path: &[&CmdSpec]) -> String {
    let cmd: &CmdSpec = path.last().copied().unwrap_or(&ROOT);
    format!("{}\n\n{}", cmd.short, usage(flavor, path))
}

/// `orb -h` / `orb help`: the short command's own summary.
pub(crate) fn orb_short_help() -> String {
    "\"orb\" works in three ways:\n\
     \n\
     1. orb                 open a shell in the default machine\n\
     2. orb COMMAND ...     run a Linux command in the default machine (like \"orbctl run\")\n\
     \x20  orb -m NAME -u USER COMMAND ...   pick the machine and user\n\
     3. orb SUBCOMMAND ...  any orbctl subcommand, e.g. \"orb list\"\n\
     \n\
     Run \"orbctl --help\" for the list of subcommands.\n"
        .to_string()
}

/// `Error: <msg>` followed by the usage and a blank line, as cobra prints argument errors.
pub(crate) fn error_with_usage(flavor: Flavor, path: &[&CmdSpec], msg: &str) -> String {
    format!("Error: {msg}\n{}\n", usage(flavor, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_columns_align_three_spaces_after_the_longest() {
        let create = ROOT.find("create").unwrap();
        let u = usage(Flavor::Orbctl, &[create]);
        assert!(u.starts_with("Usage:\n  orbctl create [flags] DISTRO[:VERSION] [MACHINE_NAME]\n"));
        assert!(u.contains("\n  -c, --user-data string   Cloud-init"));
        assert!(u.contains("\n  -h, --help               help for create\n"));
        assert!(u.contains("Aliases:\n  create, add, new\n"));
    }

    #[test]
    fn flags_are_appended_to_use_lines_without_them() {
        let info = ROOT.find("info").unwrap();
        assert!(usage(Flavor::Orb, &[info]).starts_with("Usage:\n  orb info [ID/NAME] [flags]\n"));
    }

    #[test]
    fn groups_list_their_commands() {
        let config = ROOT.find("config").unwrap();
        let u = usage(Flavor::Orbctl, &[config]);
        assert!(u.starts_with("Usage:\n  orbctl config [command]\n"));
        assert!(u.contains("\n  set         Change one configuration option"));
    }
}
