//! Secrets kept out of everything a run writes: logs (nextest.log, build.log, provisioning
//! logs), the run journal, JUnit, summary.json and report.html.
//!
//! What counts as a secret:
//! * the value of every environment variable of this process whose name contains `TOKEN`,
//!   `SECRET`, `PASSWORD` or `KEY` (any case), at least [`MIN_LEN`] characters long (shorter
//!   values would mask ordinary words); tests inherit this environment, so that covers what
//!   they print of it. Also spelled as each format writes it: every character of the value may
//!   appear as itself, as an XML/HTML entity (`&amp;`, `&lt;`, `&quot;`, `&apos;`, `&#39;`,
//!   `&#x27;`, ...) or as a JSON escape (`\"`, `\u0026`, ...), in any mix — runners' JUnit
//!   writers escape differently, and a value must not survive any of them.
//! * the value of any such assignment in text (`API_KEY=...`, `"GITHUB_TOKEN": "..."` is not
//!   an assignment and is only caught by value), e.g. a provision step `export API_KEY=...`.
//! * `orbctl create --set-password`'s input: `--set-password=VALUE` (which orbctl rejects,
//!   quoting the value back) and whatever follows its `Password for Linux user: ` prompt.
//!
//! Each is replaced by [`MASK`]. Redaction works on text we hold, line by line for streams;
//! a secret split across two writes of a stream is not recognised.

use std::borrow::Cow;
use std::ffi::OsString;
use std::path::Path;
use std::sync::OnceLock;

pub(crate) const MASK: &str = "[REDACTED]";

/// Words that make a variable name a secret's.
pub(crate) const SECRET_WORDS: &[&str] = &["TOKEN", "SECRET", "PASSWORD", "KEY"];

/// Shorter values are not masked: `KEY=1` would otherwise mask every `1`.
pub(crate) const MIN_LEN: usize = 6;

const PASSWORD_FLAG: &str = "--set-password=";
const PASSWORD_PROMPT: &str = "Password for Linux user: ";
/// pflag's rejection of `--set-password=VALUE`: `invalid argument "VALUE" for "-p, --set-password"
/// flag: strconv.ParseBool: parsing "VALUE": invalid syntax`, with its quotes as they are in
/// text, XML and JSON.
const QUOTES: &[&str] = &["\"", "&quot;", "\\\""];
/// A value a pattern found is masked wherever else it occurs only from this length on.
const LEARNED_MIN_LEN: usize = 4;

#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Secret values, longest first (so a longer secret that contains a shorter one is masked
    /// whole).
    secrets: Vec<Vec<char>>,
}

/// Whether an environment variable of this name holds a secret.
pub(crate) fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    SECRET_WORDS.iter().any(|w| upper.contains(w))
}

/// The redactor for this process's environment, built on first use.
pub fn global() -> &'static Redactor {
    static GLOBAL: OnceLock<Redactor> = OnceLock::new();
    GLOBAL.get_or_init(|| Redactor::from_vars(std::env::vars_os()))
}

impl Redactor {
    pub(crate) fn from_vars(vars: impl IntoIterator<Item = (OsString, OsString)>) -> Self {
        let mut secrets: Vec<String> = Vec::new();
        for (name, value) in vars {
            let (Some(name), Some(value)) = (name.to_str(), value.to_str()) else {
                continue;
            };
            if !is_secret_name(name) {
                continue;
            }
            // A multi-line value is masked line by line (streams are redacted per line).
            for part in value.lines().map(str::trim).filter(|p| p.chars().count() >= MIN_LEN) {
                secrets.push(part.to_string());
            }
        }
        secrets.sort_by(|a, b| b.chars().count().cmp(&a.chars().count()).then_with(|| a.cmp(b)));
        secrets.dedup();
        Self {
            secrets: secrets.into_iter().map(|s| s.chars().collect()).collect(),
        }
    }

    /// Whether this redactor masks any environment value (patterns apply regardless).
    pub fn has_values(&self) -> bool {
        !self.secrets.is_empty()
    }

    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for secret in &self.secrets {
            if let Some(masked) = mask_spelled(&out, secret) {
                out = Cow::Owned(masked);
            }
        }
        let mut learned = Vec::new();
        if let Some(masked) = mask_patterns(&out, &mut learned) {
            out = Cow::Owned(masked);
        }
        // A value a pattern found is a secret wherever it appears (pflag quotes it twice).
        for value in learned.iter().filter(|v| v.chars().count() >= LEARNED_MIN_LEN) {
            let value: Vec<char> = value.chars().collect();
            if let Some(masked) = mask_spelled(&out, &value) {
                out = Cow::Owned(masked);
            }
        }
        out
    }

    /// Masks the secrets in every file below `dir` (rewriting only files that had one): the
    /// last pass over everything a run wrote, whoever wrote it and in whatever escaping.
    pub fn scrub_tree(&self, dir: &Path) -> std::io::Result<()> {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                self.scrub_tree(&entry.path())?;
            } else if kind.is_file() {
                self.scrub_file(&entry.path())?;
            }
        }
        Ok(())
    }

    /// [`Self::redact`] for bytes; text that is not UTF-8 is redacted lossily only when it
    /// contains something to mask.
    pub fn redact_bytes<'a>(&self, bytes: &'a [u8]) -> Cow<'a, [u8]> {
        match std::str::from_utf8(bytes) {
            Ok(text) => match self.redact(text) {
                Cow::Borrowed(_) => Cow::Borrowed(bytes),
                Cow::Owned(s) => Cow::Owned(s.into_bytes()),
            },
            Err(_) => {
                let text = String::from_utf8_lossy(bytes);
                match self.redact(&text) {
                    Cow::Borrowed(_) => Cow::Borrowed(bytes),
                    Cow::Owned(s) => Cow::Owned(s.into_bytes()),
                }
            }
        }
    }

    /// Rewrites a file we wrote (or a child wrote for us) with its secrets masked; untouched
    /// when there is nothing to mask. Best effort: a file that cannot be read stays as it is.
    pub fn scrub_file(&self, path: &Path) -> std::io::Result<()> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        match self.redact_bytes(&bytes) {
            Cow::Borrowed(_) => Ok(()),
            Cow::Owned(clean) => crate::files::write_atomic(path, &clean),
        }
    }
}

/// Masks assignments to secret-named variables and `--set-password` input; `None` when there
/// is nothing to mask.
fn mask_patterns(text: &str, learned: &mut Vec<String>) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut changed = false;
    for line in text.split_inclusive('\n') {
        let masked = mask_line(line, learned);
        changed |= masked.is_some();
        out.push_str(masked.as_deref().unwrap_or(line));
    }
    changed.then_some(out)
}

fn mask_line(line: &str, learned: &mut Vec<String>) -> Option<String> {
    let mut s = line.to_string();
    let mut changed = false;
    let mut take = |s: &mut String, start: usize, end: usize| {
        if end > start && &s[start..end] != MASK {
            learned.push(s[start..end].to_string());
        }
        replace_value(s, start, end)
    };
    // `--set-password=VALUE`
    let mut from = 0;
    while let Some(i) = s[from..].find(PASSWORD_FLAG) {
        let start = from + i + PASSWORD_FLAG.len();
        let end = value_end(&s, start);
        changed |= take(&mut s, start, end);
        from = start;
    }
    // pflag quoting the value back.
    let quotes = if s.contains("--set-password") { QUOTES } else { &[] };
    for q in quotes {
        let (open_at, tail_at) = (
            format!("invalid argument {q}"),
            format!("{q} for {q}-p, --set-password{q} flag"),
        );
        if let Some(tail) = s.find(&tail_at)
            && let Some(open) = s[..tail].rfind(&open_at)
        {
            changed |= take(&mut s, open + open_at.len(), tail);
        }
    }
    // Whatever follows the password prompt (typed input a log captured).
    if let Some(i) = s.find(PASSWORD_PROMPT) {
        let start = i + PASSWORD_PROMPT.len();
        let end = s.trim_end_matches(['\n', '\r']).len();
        changed |= take(&mut s, start, end.max(start));
    }
    // NAME=VALUE with a secret-looking NAME.
    let mut from = 0;
    while let Some(i) = s[from..].find('=') {
        let eq = from + i;
        let name_start = s[..eq]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(0, |p| p + 1);
        let name = &s[name_start..eq];
        let start = eq + 1;
        if !name.is_empty() && is_secret_name(name) {
            // A quoted value runs to its closing quote.
            let (start, end) = match s[start..].chars().next() {
                Some(q @ ('"' | '\'')) => {
                    let open = start + 1;
                    (open, s[open..].find(q).map_or(s.len(), |i| open + i))
                }
                _ => (start, value_end(&s, start)),
            };
            changed |= replace_value(&mut s, start, end);
            from = if end > start {
                start + MASK.len().min(s.len() - start)
            } else {
                start
            };
            continue;
        }
        from = start;
    }
    changed.then_some(s)
}

/// Where a value that starts at `start` ends: at whitespace, a quote, `;`, `&`, `|` or `,`.
fn value_end(s: &str, start: usize) -> usize {
    s[start..]
        .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ';' | '&' | '|' | ',' | '`' | '\\'))
        .map_or(s.len(), |i| start + i)
}

/// Replaces `s[start..end]` with the mask unless it is empty or masked already.
fn replace_value(s: &mut String, start: usize, end: usize) -> bool {
    if end <= start || &s[start..end] == MASK {
        return false;
    }
    s.replace_range(start..end, MASK);
    true
}

/// `text` with every spelling of `secret` replaced by the mask; `None` when there is none.
fn mask_spelled(text: &str, secret: &[char]) -> Option<String> {
    let first = *secret.first()?;
    let mut out = String::new();
    let mut copied = 0;
    let mut from = 0;
    while let Some(i) = text[from..].find([first, '&', '\\']) {
        let at = from + i;
        match spelled_at(text, at, secret) {
            Some(end) => {
                out.push_str(&text[copied..at]);
                out.push_str(MASK);
                copied = end;
                from = end;
            }
            None => from = at + text[at..].chars().next().map_or(1, char::len_utf8),
        }
        if from >= text.len() {
            break;
        }
    }
    (copied > 0).then(|| {
        out.push_str(&text[copied..]);
        out
    })
}

/// Where `secret` ends if it is spelled from byte `at` of `text` on, each character as itself,
/// an XML/HTML character reference or a JSON escape.
fn spelled_at(text: &str, at: usize, secret: &[char]) -> Option<usize> {
    let Some((&c, rest)) = secret.split_first() else {
        return Some(at);
    };
    spellings(&text[at..])
        .into_iter()
        .flatten()
        .filter(|&(decoded, _)| decoded == c)
        .find_map(|(_, len)| spelled_at(text, at + len, rest))
}

/// The ways the start of `s` can be read as one character: itself, a character reference,
/// a JSON escape; each with its length in bytes.
fn spellings(s: &str) -> [Option<(char, usize)>; 3] {
    let literal = s.chars().next().map(|c| (c, c.len_utf8()));
    [literal, entity(s), json_escape(s)]
}

/// `&amp;`, `&lt;`, `&gt;`, `&quot;`, `&apos;`, `&#NN;`, `&#xHH;` at the start of `s`.
fn entity(s: &str) -> Option<(char, usize)> {
    let body = s.strip_prefix('&')?;
    // The longest reference is `&#x10FFFF;`; look no further (bytes: what follows may be any
    // character, cut anywhere).
    let end = body.bytes().take(12).position(|b| b == b';')?;
    let name = &body[..end];
    let c = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        _ => {
            let n = name.strip_prefix('#')?;
            let code = match n.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => n.parse().ok()?,
            };
            char::from_u32(code)?
        }
    };
    Some((c, end + 2))
}

/// `\"`, `\\`, `\/`, `\n`, `\t`, `\r`, `\b`, `\f`, `\uXXXX` (a surrogate pair too) at the
/// start of `s`.
fn json_escape(s: &str) -> Option<(char, usize)> {
    let body = s.strip_prefix('\\')?;
    let c = match body.chars().next()? {
        '"' => '"',
        '\\' => '\\',
        '/' => '/',
        'n' => '\n',
        't' => '\t',
        'r' => '\r',
        'b' => '\u{8}',
        'f' => '\u{c}',
        'u' => {
            let unit = |at: usize| body.get(at..at + 4).and_then(|h| u32::from_str_radix(h, 16).ok());
            let high = unit(1)?;
            if (0xD800..0xDC00).contains(&high) {
                let low = body.get(5..7).filter(|p| *p == "\\u").and_then(|_| unit(7))?;
                let c = char::from_u32(0x10000 + ((high - 0xD800) << 10) + (low.checked_sub(0xDC00)?))?;
                return Some((c, 12));
            }
            return Some((char::from_u32(high)?, 6));
        }
        _ => return None,
    };
    Some((c, 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redactor(vars: &[(&str, &str)]) -> Redactor {
        Redactor::from_vars(vars.iter().map(|(k, v)| (OsString::from(k), OsString::from(v))))
    }

    #[test]
    fn values_of_secret_named_variables_are_masked_in_every_spelling() {
        let r = redactor(&[
            ("GITHUB_TOKEN", "ghp_abc<&>123"),
            ("aws_secret_access_key", "wJalrXUtnFEMI"),
            ("HOME", "/home/someone"),
            ("API_KEY", "short"),
        ]);
        assert_eq!(r.redact("token ghp_abc<&>123 here"), "token [REDACTED] here");
        assert_eq!(r.redact("xml ghp_abc&lt;&amp;&gt;123"), "xml [REDACTED]");
        assert_eq!(r.redact("lower wJalrXUtnFEMI"), "lower [REDACTED]");
        assert_eq!(r.redact("/home/someone short"), "/home/someone short", "not secrets");
    }

    #[test]
    fn a_secret_is_masked_in_every_writers_escaping() {
        let r = redactor(&[("DEPLOY_TOKEN", "a&b<c>'d\"e\\f/é")]);
        for spelled in [
            "a&b<c>'d\"e\\f/é",
            // XML as quick-xml writes attributes, as pytest writes text, numeric references.
            "a&amp;b&lt;c&gt;&apos;d&quot;e\\f/é",
            "a&amp;b&lt;c>'d\"e\\f/é",
            "a&#38;b&#x3C;c&#62;&#39;d&#34;e&#92;f&#x2F;&#233;",
            // JSON, and JSON of a string that was XML-escaped first.
            "a&b<c>'d\\\"e\\\\f\\/\\u00e9",
            "a\\u0026b\\u003cc\\u003e\\u0027d\\\"e\\\\f/é",
            "a&amp;b&lt;c&gt;&#39;d&quot;e\\\\f/é",
        ] {
            let text = format!("before {spelled} after");
            assert_eq!(r.redact(&text), "before [REDACTED] after", "{spelled}");
        }
        // Almost the secret is no secret.
        assert_eq!(r.redact("a&b<c>'d\"e\\f/e"), "a&b<c>'d\"e\\f/e");
        assert!(matches!(r.redact("a&amp; b &#"), Cow::Borrowed(_)));
    }

    /// Found by the redaction property test: a reference followed by a wide character was not
    /// read (the look-ahead cut the character in two).
    #[test]
    fn a_reference_before_a_wide_character_is_read() {
        let r = redactor(&[("PROP_TOKEN", "<&😀';=")]);
        assert_eq!(r.redact("&#x3C;&#38;😀&#39;;="), "[REDACTED]");
    }

    #[test]
    fn characters_outside_the_basic_plane_are_matched_in_json_surrogates() {
        let r = redactor(&[("EMOJI_SECRET", "ab😀cdef")]);
        assert_eq!(r.redact("x ab\\ud83d\\ude00cdef y"), "x [REDACTED] y");
        assert_eq!(r.redact("x ab&#x1F600;cdef y"), "x [REDACTED] y");
    }

    #[test]
    fn scrubbing_a_tree_rewrites_only_files_with_secrets() {
        let r = redactor(&[("CI_TOKEN", "s3cr&t-value")]);
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("tiers/py");
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::write(deep.join("attempt-1.xml"), "<f message=\"s3cr&#38;t-value\"/>").unwrap();
        std::fs::write(dir.path().join("clean.txt"), "nothing").unwrap();
        r.scrub_tree(dir.path()).unwrap();
        assert_eq!(
            std::fs::read_to_string(deep.join("attempt-1.xml")).unwrap(),
            "<f message=\"[REDACTED]\"/>"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("clean.txt")).unwrap(),
            "nothing"
        );
    }

    #[test]
    fn set_password_input_is_masked() {
        let r = Redactor::default();
        assert_eq!(
            r.redact("orbctl [\"create\", \"--set-password=hunter2\", \"ubuntu\"] failed"),
            "orbctl [\"create\", \"--set-password=[REDACTED]\", \"ubuntu\"] failed"
        );
        assert_eq!(
            r.redact(
                "Error: invalid argument \"hu nter2\" for \"-p, --set-password\" flag: strconv.ParseBool: parsing \"hu nter2\": invalid syntax"
            ),
            "Error: invalid argument \"[REDACTED]\" for \"-p, --set-password\" flag: strconv.ParseBool: parsing \"[REDACTED]\": invalid syntax"
        );
        assert_eq!(
            r.redact("invalid argument &quot;hunter2&quot; for &quot;-p, --set-password&quot; flag"),
            "invalid argument &quot;[REDACTED]&quot; for &quot;-p, --set-password&quot; flag"
        );
        assert_eq!(
            r.redact(r#"{"out":"--set-password=hunter2\" x"}"#),
            r#"{"out":"--set-password=[REDACTED]\" x"}"#
        );
        assert_eq!(
            r.redact("Password for Linux user: hunter2\nnext\n"),
            "Password for Linux user: [REDACTED]\nnext\n"
        );
        assert_eq!(r.redact("Password for Linux user: \n"), "Password for Linux user: \n");
    }

    #[test]
    fn assignments_to_secret_names_are_masked() {
        let r = Redactor::default();
        assert_eq!(
            r.redact("$ export API_KEY=abc123; DB_PASSWORD='x y' PATH=/bin curl -H token"),
            "$ export API_KEY=[REDACTED]; DB_PASSWORD='[REDACTED]' PATH=/bin curl -H token"
        );
        assert_eq!(r.redact("MY_TOKEN=a,b"), "MY_TOKEN=[REDACTED],b");
        assert_eq!(r.redact("a == b, KEY="), "a == b, KEY=");
        assert!(matches!(r.redact("nothing to see"), Cow::Borrowed(_)));
    }
}
