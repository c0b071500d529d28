//! Flag parsing the way pflag (cobra's flag library) and orbctl's own `run` parser do it.

use super::table::{FlagSpec, HELP_FLAG};

/// The result of parsing one command's arguments.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    /// `(long name, value)`; bools hold `"true"`/`"false"`. Later entries win.
    pub values: Vec<(&'static str, String)>,
    pub positionals: Vec<String>,
    pub help: bool,
}

impl Parsed {
    pub(super) fn string(&self, long: &str) -> Option<String> {
        self.values
            .iter()
            .rev()
            .find(|(k, _)| *k == long)
            .map(|(_, v)| v.clone())
    }

    pub(super) fn bool(&self, long: &str) -> bool {
        self.string(long).is_some_and(|v| v == "true")
    }
}

/// A flag orbctl refuses, in its own words (pflag's for cobra commands, `run`'s own reader's).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FlagError {
    #[error("bad flag syntax: {0}")]
    Syntax(String),
    #[error("unknown flag: --{0}")]
    UnknownLong(String),
    #[error("flag needs an argument: --{0}")]
    LongNeedsValue(String),
    #[error("unknown shorthand flag: '{short}' in {arg}")]
    UnknownShort { short: char, arg: String },
    #[error("flag needs an argument: '{short}' in {arg}")]
    ShortNeedsValue { short: char, arg: String },
    #[error(
        "invalid argument \"{value}\" for \"{names}\" flag: strconv.ParseBool: parsing \"{value}\": invalid syntax"
    )]
    NotBool { value: String, names: String },
    /// `run`'s reader.
    #[error("unknown flag {0}")]
    RunUnknown(String),
    #[error("missing value for flag {0}")]
    RunNeedsValue(String),
}

/// pflag with interspersed flags: flags may come before, between or after positionals,
/// and `--` ends flag parsing. Returns pflag's error text on failure.
pub(crate) fn parse_pflag(specs: &[FlagSpec], args: &[String]) -> Result<Parsed, FlagError> {
    let lookup_long = |name: &str| {
        specs
            .iter()
            .chain(std::iter::once(&HELP_FLAG))
            .find(|f| f.long == name)
            .copied()
    };
    let lookup_short = |c: char| {
        specs
            .iter()
            .chain(std::iter::once(&HELP_FLAG))
            .find(|f| f.short == Some(c))
            .copied()
    };
    let mut out = Parsed::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            out.positionals.extend(args[i..].iter().cloned());
            break;
        }
        if arg.len() < 2 || !arg.starts_with('-') {
            out.positionals.push(arg.clone());
            continue;
        }
        if let Some(rest) = arg.strip_prefix("--") {
            if rest.starts_with('-') || rest.starts_with('=') {
                return Err(FlagError::Syntax(arg.clone()));
            }
            let (name, inline) = match rest.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (rest, None),
            };
            let Some(spec) = lookup_long(name) else {
                return Err(FlagError::UnknownLong(name.to_string()));
            };
            let value = if spec.takes_value {
                match inline {
                    Some(v) => v,
                    None if i < args.len() => {
                        i += 1;
                        args[i - 1].clone()
                    }
                    None => return Err(FlagError::LongNeedsValue(name.to_string())),
                }
            } else {
                bool_value(&spec, inline.as_deref().unwrap_or("true"))?
            };
            set(&mut out, spec, value);
            continue;
        }
        // A shorthand cluster such as `-fq`, `-ajson` or `-p=true`.
        let cluster: Vec<char> = arg[1..].chars().collect();
        let mut j = 0;
        while j < cluster.len() {
            let c = cluster[j];
            let Some(spec) = lookup_short(c) else {
                return Err(FlagError::UnknownShort {
                    short: c,
                    arg: arg.clone(),
                });
            };
            let rest: String = cluster[j + 1..].iter().collect();
            if spec.takes_value {
                let value = if let Some(v) = rest.strip_prefix('=') {
                    v.to_string()
                } else if !rest.is_empty() {
                    rest
                } else if i < args.len() {
                    i += 1;
                    args[i - 1].clone()
                } else {
                    return Err(FlagError::ShortNeedsValue {
                        short: c,
                        arg: arg.clone(),
                    });
                };
                set(&mut out, spec, value);
                break;
            }
            if let Some(v) = rest.strip_prefix('=') {
                let value = bool_value(&spec, v)?;
                set(&mut out, spec, value);
                break;
            }
            set(&mut out, spec, "true".to_string());
            j += 1;
        }
    }
    Ok(out)
}

fn set(out: &mut Parsed, spec: FlagSpec, value: String) {
    if spec.long == "help" {
        out.help = value == "true";
    } else {
        out.values.push((spec.long, value));
    }
}

/// Go's `strconv.ParseBool`, with pflag's error wording.
fn bool_value(spec: &FlagSpec, v: &str) -> Result<String, FlagError> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok("true".into()),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok("false".into()),
        _ => {
            let names = match spec.short {
                Some(s) => format!("-{s}, --{}", spec.long),
                None => format!("--{}", spec.long),
            };
            Err(FlagError::NotBool {
                value: v.to_string(),
                names,
            })
        }
    }
}

/// What `run`'s own flag reader produced.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct RunFlags {
    pub machine: Option<String>,
    pub user: Option<String>,
    pub workdir: Option<String>,
    pub shell: bool,
    pub path: bool,
    pub help: bool,
    pub command: Vec<String>,
}

/// `run`'s reader: flags only before the first plain word, which starts the command.
/// Single-dash long forms (`-machine`) and `--key=value` are accepted; `--` is an unknown flag;
/// an unknown `--key=value` is ignored, as orbctl does.
pub(crate) fn parse_run(args: &[String]) -> Result<RunFlags, FlagError> {
    #[derive(Clone, Copy)]
    enum Slot {
        Machine,
        User,
        Workdir,
    }
    fn slot_of(key: &str) -> Option<Slot> {
        match key {
            "-m" | "--machine" | "-machine" => Some(Slot::Machine),
            "-u" | "--user" | "-user" => Some(Slot::User),
            "-w" | "--workdir" | "-workdir" => Some(Slot::Workdir),
            _ => None,
        }
    }
    fn store(out: &mut RunFlags, slot: Slot, v: String) {
        match slot {
            Slot::Machine => out.machine = Some(v),
            Slot::User => out.user = Some(v),
            Slot::Workdir => out.workdir = Some(v),
        }
    }
    let mut out = RunFlags::default();
    let mut pending: Option<(Slot, &String)> = None;
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if let Some((slot, _)) = pending.take() {
            // The value slot wins over everything, so `-m -odd` names a machine "-odd".
            store(&mut out, slot, arg.clone());
        } else if arg.starts_with('-') {
            match arg.as_str() {
                "-s" | "--shell" | "-shell" => out.shell = true,
                "-p" | "--path" | "-path" => out.path = true,
                "-h" | "--help" | "-help" => out.help = true,
                _ => {
                    if let Some((key, value)) = arg.split_once('=') {
                        match key {
                            "-s" | "--shell" | "-shell" => out.shell = value == "true",
                            "-p" | "--path" | "-path" => out.path = value == "true",
                            _ => {
                                if let Some(slot) = slot_of(key) {
                                    store(&mut out, slot, value.to_string());
                                }
                            }
                        }
                    } else {
                        match slot_of(arg) {
                            Some(slot) => pending = Some((slot, arg)),
                            None => return Err(FlagError::RunUnknown(arg.clone())),
                        }
                    }
                }
            }
        } else {
            break;
        }
        i += 1;
    }
    if let Some((_, flag)) = pending {
        return Err(FlagError::RunNeedsValue(flag.clone()));
    }
    out.command = args[i..].to_vec();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::argv::table::COMMANDS;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    fn create_flags() -> &'static [FlagSpec] {
        COMMANDS.iter().find(|c| c.name == "create").unwrap().flags
    }

    #[test]
    fn interspersed_flags_and_clusters() {
        let p = parse_pflag(create_flags(), &s(&["ubuntu", "x", "-a", "amd64", "-pu=bob"])).unwrap();
        assert_eq!(p.positionals, s(&["ubuntu", "x"]));
        assert_eq!(p.string("arch").as_deref(), Some("amd64"));
        assert!(p.bool("set-password"));
        assert_eq!(p.string("user").as_deref(), Some("bob"));
    }

    #[test]
    fn double_dash_ends_flags() {
        let p = parse_pflag(create_flags(), &s(&["--", "-x", "ubuntu"])).unwrap();
        assert_eq!(p.positionals, s(&["-x", "ubuntu"]));
    }

    #[test]
    fn pflag_error_texts() {
        let f = create_flags();
        assert_eq!(
            parse_pflag(f, &s(&["--nope"])).unwrap_err().to_string(),
            "unknown flag: --nope"
        );
        assert_eq!(
            parse_pflag(f, &s(&["-x"])).unwrap_err().to_string(),
            "unknown shorthand flag: 'x' in -x"
        );
        assert_eq!(
            parse_pflag(f, &s(&["ubuntu", "--arch"])).unwrap_err().to_string(),
            "flag needs an argument: --arch"
        );
        assert_eq!(
            parse_pflag(f, &s(&["-a"])).unwrap_err().to_string(),
            "flag needs an argument: 'a' in -a"
        );
        assert_eq!(
            parse_pflag(f, &s(&["--set-password=pw"])).unwrap_err().to_string(),
            "invalid argument \"pw\" for \"-p, --set-password\" flag: strconv.ParseBool: parsing \"pw\": invalid syntax"
        );
    }

    #[test]
    fn run_flags_stop_at_the_first_word() {
        let r = parse_run(&s(&["-m", "vm", "ls", "-l", "--foo"])).unwrap();
        assert_eq!(r.machine.as_deref(), Some("vm"));
        assert_eq!(r.command, s(&["ls", "-l", "--foo"]));
    }

    #[test]
    fn run_rejects_double_dash_and_dangling_values() {
        assert_eq!(
            parse_run(&s(&["-m", "vm", "--", "uname"])).unwrap_err().to_string(),
            "unknown flag --"
        );
        assert_eq!(
            parse_run(&s(&["-m"])).unwrap_err().to_string(),
            "missing value for flag -m"
        );
        assert_eq!(parse_run(&s(&["-x"])).unwrap_err().to_string(), "unknown flag -x");
    }

    #[test]
    fn run_long_forms() {
        let r = parse_run(&s(&["-machine=a", "--user", "-root", "--shell=true", "echo"])).unwrap();
        assert_eq!(r.machine.as_deref(), Some("a"));
        assert_eq!(r.user.as_deref(), Some("-root"));
        assert!(r.shell);
        assert_eq!(r.command, s(&["echo"]));
    }
}
