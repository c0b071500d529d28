//! `{placeholders}` in a command tier's `command`, `rerun` and `env` values: checked when the
//! config is read (an unknown one is an error at its location), filled in when the tier runs.
//! `{{` and `}}` stand for literal braces.

/// Every placeholder a command tier may use.
pub(crate) const NAMES: &[&str] = &["junit", "threads", "tier", "run_dir", "tests"];

/// The placeholder that tells a command which tests to run (a shard's share of the tier): an
/// argument that is exactly `{tests}` becomes one argument per test id; inside a longer string
/// the ids are joined by spaces. Without `--shard` it is empty (an argument that is exactly
/// `{tests}` is dropped), so the command runs all its tests.
pub(crate) const TESTS: &str = "tests";

/// A problem with one string: what, and the byte offset in it where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PlaceholderError {
    pub offset: usize,
    /// Bytes of the offending part.
    pub len: usize,
    pub message: String,
    pub help: String,
}

/// The placeholders `text` uses, or the first problem (an unknown name, an unclosed `{`).
pub(crate) fn check(text: &str) -> Result<Vec<&str>, PlaceholderError> {
    let mut used = Vec::new();
    walk(text, |piece| {
        if let Piece::Name(name, offset) = piece {
            if !NAMES.contains(&name) {
                let suggestion = super::did_you_mean(name, NAMES.iter().copied())
                    .map(|s| format!("did you mean `{{{s}}}`? "))
                    .unwrap_or_default();
                return Err(PlaceholderError {
                    offset,
                    len: name.len() + 2,
                    message: format!("unknown placeholder `{{{name}}}`"),
                    help: format!(
                        "{suggestion}placeholders are {}; write `{{{{` and `}}}}` for literal braces (as in `${{{{HOME}}}}`)",
                        NAMES.iter().map(|n| format!("{{{n}}}")).collect::<Vec<_>>().join(", ")
                    ),
                });
            }
            used.push(name);
        }
        Ok(())
    })?;
    Ok(used)
}

/// `text` with each placeholder replaced by `value(name)`. Text that `check` rejects is
/// returned with the offending part left as it was (config loading has refused it already).
pub(crate) fn expand(text: &str, value: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let _ = walk(text, |piece| {
        match piece {
            Piece::Literal(s) => out.push_str(s),
            Piece::Name(name, _) => match value(name) {
                Some(v) => out.push_str(&v),
                None => {
                    out.push('{');
                    out.push_str(name);
                    out.push('}');
                }
            },
        }
        Ok::<(), PlaceholderError>(())
    });
    out
}

enum Piece<'a> {
    Literal(&'a str),
    /// A name between braces and the offset of its `{`.
    Name(&'a str, usize),
}

fn walk<'a, E>(text: &'a str, mut f: impl FnMut(Piece<'a>) -> Result<(), E>) -> Result<(), E>
where
    E: From<PlaceholderError>,
{
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut literal_start = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' | b'}' if bytes.get(i + 1) == Some(&bytes[i]) => {
                f(Piece::Literal(&text[literal_start..i + 1]))?;
                i += 2;
                literal_start = i;
            }
            b'{' => {
                f(Piece::Literal(&text[literal_start..i]))?;
                let Some(len) = text[i + 1..].find(['}', '{']).filter(|&n| bytes[i + 1 + n] == b'}') else {
                    return Err(PlaceholderError {
                        offset: i,
                        len: text.len() - i,
                        message: "unclosed `{` in a placeholder".into(),
                        help: "close it (`{junit}`), or write `{{` for a literal brace".into(),
                    }
                    .into());
                };
                f(Piece::Name(&text[i + 1..i + 1 + len], i))?;
                i += len + 2;
                literal_start = i;
            }
            b'}' => {
                return Err(PlaceholderError {
                    offset: i,
                    len: 1,
                    message: "a `}` without its `{`".into(),
                    help: "write `}}` for a literal brace".into(),
                }
                .into());
            }
            _ => i += 1,
        }
    }
    f(Piece::Literal(&text[literal_start..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(name: &str) -> Option<String> {
        match name {
            "junit" => Some("/run/j.xml".into()),
            "threads" => Some("4".into()),
            "tier" => Some("py".into()),
            "run_dir" => Some("/run".into()),
            _ => None,
        }
    }

    #[test]
    fn expands_known_names_and_escaped_braces() {
        assert_eq!(expand("--junitxml={junit}", values), "--junitxml=/run/j.xml");
        assert_eq!(expand("-n{threads} {tier}@{run_dir}", values), "-n4 py@/run");
        assert_eq!(expand("${{HOME}} {{x}}", values), "${HOME} {x}");
        assert_eq!(expand("plain", values), "plain");
        assert_eq!(check("{junit} {tier}{threads}").unwrap(), ["junit", "tier", "threads"]);
        assert!(check("a {{b}} c").unwrap().is_empty());
    }

    #[test]
    fn rejects_unknown_unclosed_and_stray_braces_with_their_offset() {
        let e = check("--out={junt}").unwrap_err();
        assert_eq!(e.offset, 6);
        assert!(e.message.contains("`{junt}`"), "{e:?}");
        assert!(e.help.contains("did you mean `{junit}`"), "{e:?}");
        let e = check("sh -c 'echo ${HOME}'").unwrap_err();
        assert!(e.help.contains("${{HOME}}"), "{e:?}");
        assert_eq!(check("x{junit").unwrap_err().offset, 1);
        assert_eq!(check("a}b").unwrap_err().offset, 1);
        assert!(check("{a{b}").is_err());
        assert!(check("{}").is_err());
    }
}
