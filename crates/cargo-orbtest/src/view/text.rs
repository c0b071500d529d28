//! Text from a run (test names, their output, reasons) as the terminal may show it. A test name
//! is whatever the test's author wrote: a newline in it would forge a line of our summary, an
//! escape sequence would move the cursor or recolour the screen, and a bidirectional override
//! (U+202E) would show a name reversed, different from what runs. These are shown as escapes.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Characters that reorder the text around them (Unicode's bidirectional controls).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn escaped(s: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    let needs = |c: char| (c.is_control() || is_bidi_control(c)) && !keep(c);
    if !s.chars().any(needs) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if !needs(c) {
            out.push(c);
            continue;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
        }
    }
    Cow::Owned(out)
}

/// A name on one line: every control character and bidirectional control escaped.
pub(crate) fn name(s: &str) -> Cow<'_, str> {
    escaped(s, |_| false)
}

/// A line of output (already split into lines): the same, tabs kept.
pub(crate) fn line(s: &str) -> Cow<'_, str> {
    escaped(s, |c| c == '\t')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_forge_lines_move_the_cursor_or_reverse_text() {
        assert_eq!(name("tests::ok"), "tests::ok");
        assert!(matches!(name("tests::ok"), Cow::Borrowed(_)));
        assert_eq!(
            name("a\nPASSED: all\r\u{1b}[2Jb\u{202e}cba\u{7f}"),
            "a\\nPASSED: all\\r\\u{1b}[2Jb\\u{202e}cba\\u{7f}"
        );
        assert_eq!(name("tab\there"), "tab\\there");
        assert_eq!(line("tab\there\u{2066}"), "tab\there\\u{2066}");
        assert_eq!(name("ünïcödé 😀"), "ünïcödé 😀", "only controls are escaped");
    }
}
