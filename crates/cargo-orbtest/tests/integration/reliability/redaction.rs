//! Never publish a secret: random secrets full of XML, HTML and JSON specials, printed by a
//! command tier's runner in every way a runner writes (raw output, JUnit attributes and text
//! escaped each its own way, CDATA, no JUnit at all, a machine's output), must not survive in
//! any file of the run: its directory, the published reports, the provider's state.
//!
//! The check decodes each file the way its format is read (XML/HTML character references, JSON
//! strings) with decoders of its own, so it does not trust the redactor's idea of escaping.
//! `ORBTEST_SECRET_CASES` sets how many secrets are tried (default 6).

use std::path::{Path, PathBuf};

use proptest::prelude::*;

use crate::support::pysuite::{Scenario, code, stderr};

/// Prints the secret raw (printf: `echo` would read its backslashes), writes a JUnit with it escaped three ways, and fails.
const JUNIT_RUNNER: &str = r#"printf 'plain: %s\n' "$PROP_TOKEN"; printf '%s\n' "$PROP_TOKEN" >&2
attr=$(printf '%s' "$PROP_TOKEN" | sed -e 's/&/\&#38;/g' -e 's/</\&#x3C;/g' -e 's/>/\&#62;/g' -e 's/"/\&#34;/g' -e "s/'/\&#39;/g")
text=$(printf '%s' "$PROP_TOKEN" | sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g')
printf '<testsuite name="s"><testcase classname="s" name="leaks"><failure message="%s">%s</failure><system-out><![CDATA[%s]]></system-out></testcase><testcase classname="s" name="ok"/></testsuite>' "$attr" "$text" "$PROP_TOKEN" > "$ORBTEST_JUNIT"
exit 1"#;

fn config() -> String {
    format!(
        "[machines]\nprovider = \"sim\"\n[machines.sim]\nscenario = \"{{scenario}}\"\n\
         [tiers.junit]\ncommand = [\"sh\", \"-c\", {JUNIT_RUNNER:?}]\n\
         [tiers.bare]\ncommand = [\"sh\", \"-c\", 'printf \"the token is %s\\\\n\" \"$PROP_TOKEN\"; exit 3']\n\
         [tiers.vm]\ncommand = [\"sh\", \"-c\", 'orbctl create ubuntu:22.04 prop-vm && orbctl run -m prop-vm printf \"%s\\\\n\" \"$PROP_TOKEN\" && exit 1']\nmachines = true\n"
    )
}

/// Secrets a user might have: letters, digits and every character some format escapes.
fn secret() -> impl Strategy<Value = String> {
    let chars = prop::sample::select(vec![
        'a', 'Z', '7', '&', '<', '>', '\'', '"', '\\', '/', ';', '=', ' ', '#', 'é', '😀', ']', '%',
    ]);
    prop::collection::vec(chars, 6..20)
        .prop_map(|c| c.into_iter().collect::<String>())
        .prop_filter("no blank ends (values are trimmed)", |s| s.trim() == s)
}

fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_below(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// `text` with XML/HTML character references decoded (named, decimal, hexadecimal).
fn xml_decoded(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let decoded = after.find(';').filter(|&end| end <= 10).and_then(|end| {
            let name = &after[..end];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => name.strip_prefix('#').and_then(|n| {
                    let code = match n.strip_prefix(['x', 'X']) {
                        Some(h) => u32::from_str_radix(h, 16).ok(),
                        None => n.parse().ok(),
                    };
                    code.and_then(char::from_u32)
                }),
            }?;
            Some((c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &after[end + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Every string in a JSON value (or in each line of a JSONL file).
fn json_strings(text: &str) -> Vec<String> {
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::String(s) => out.push(s.clone()),
            serde_json::Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            serde_json::Value::Object(o) => o.iter().for_each(|(k, v)| {
                out.push(k.clone());
                walk(v, out);
            }),
            _ => {}
        }
    }
    let mut out = Vec::new();
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(v) => walk(&v, &mut out),
        Err(_) => text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .for_each(|v| walk(&v, &mut out)),
    }
    out
}

/// Where in `path` the secret is, read as its format reads it.
fn leak(path: &Path, secret: &str) -> Option<&'static str> {
    let bytes = std::fs::read(path).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    if text.contains(secret) {
        return Some("as written");
    }
    if xml_decoded(&text).contains(secret) {
        return Some("decoded as XML/HTML");
    }
    if json_strings(&text)
        .iter()
        .any(|s| s.contains(secret) || xml_decoded(s).contains(secret))
    {
        return Some("decoded as JSON");
    }
    None
}

fn cases() -> u32 {
    std::env::var("ORBTEST_SECRET_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(6)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_secrets_never_reach_any_file_of_the_run(secret in secret()) {
        let s = Scenario::new(&config(), None, Some("time_scale = 0.001\n"));
        let out = s
            .command(&["--no-fail-fast"])
            .env("PROP_TOKEN", &secret)
            .output()
            .expect("run");
        let err = stderr(&out);
        prop_assert!(matches!(code(&out), 1 | 3), "{err}");
        prop_assert!(!err.contains(&secret), "on the terminal: {err}");
        let mut files = files_below(&s.path().join(".orbtest"));
        files.extend(files_below(&s.sim().join("orbtest")));
        files.extend(files_below(&s.path().join("home")));
        prop_assert!(files.iter().any(|f| f.ends_with("attempt-1.xml")), "{files:?}");
        for f in &files {
            if let Some(how) = leak(f, &secret) {
                prop_assert!(false, "{secret:?} {how} in {}", f.display());
            }
        }
        // It was there to be masked.
        let log = std::fs::read_to_string(
            files.iter().find(|f| f.ends_with("junit/command.log")).expect("command.log"),
        )
        .unwrap_or_default();
        prop_assert!(log.contains("plain: [REDACTED]"), "{log}");
    }
}
