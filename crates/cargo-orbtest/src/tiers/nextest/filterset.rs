//! Filtersets orbtest writes itself: exactly these tests (shards, new-test repeats).

/// A nextest filterset selecting exactly `tests` (binary id, test name): `none()` for none.
pub(crate) fn filterset(tests: &[(String, String)]) -> String {
    if tests.is_empty() {
        return "none()".to_string();
    }
    let mut by_binary: std::collections::BTreeMap<&str, Vec<&str>> = std::collections::BTreeMap::new();
    for (binary, name) in tests {
        by_binary.entry(binary).or_default().push(name);
    }
    by_binary
        .into_iter()
        .map(|(binary, names)| {
            let names: Vec<String> = names.iter().map(|n| format!("test(={})", escape(n))).collect();
            format!("(binary_id(={}) & ({}))", escape(binary), names.join(" | "))
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

/// A name as a filterset matcher reads it: `\`, `)` and `,` escaped, control characters as
/// nextest's escapes.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ')' => out.push_str("\\)"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}
