//! Text from other programs, bounded before it goes into a message or a report: an error
//! quoting a tool's output shows enough to act on, never a whole log (or a megabyte-long line).

/// At most `max_lines` lines and about `max_bytes` bytes of the start of `text` (where an error
/// says what went wrong), ending in ` [...]` when cut.
pub fn excerpt(text: &str, max_lines: usize, max_bytes: usize) -> String {
    let mut out = String::new();
    let mut cut = false;
    for (i, line) in text.lines().enumerate() {
        if i == max_lines {
            cut = true;
            break;
        }
        let room = max_bytes.saturating_sub(out.len());
        if line.len() + usize::from(i > 0) > room {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(cut_at(line, room.saturating_sub(1)));
            cut = true;
            break;
        }
        if i > 0 {
            out.push('\n');
        }
        out.push_str(line);
    }
    if cut {
        out.push_str(" [...]");
    }
    out
}

/// The last `n` lines of `text`, each at most `max_line_bytes` bytes (then ending in ` [...]`).
pub fn tail(text: &str, n: usize, max_line_bytes: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| {
            if l.len() > max_line_bytes {
                format!("{} [...]", cut_at(l, max_line_bytes))
            } else {
                (*l).to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `s` cut to at most `max` bytes, on a character boundary.
fn cut_at(s: &str, max: usize) -> &str {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_bounded_in_lines_and_bytes() {
        assert_eq!(excerpt("a\nb", 5, 100), "a\nb");
        assert_eq!(excerpt("a\nb\nc", 2, 100), "a\nb [...]");
        assert_eq!(excerpt(&"x".repeat(10_000), 5, 11), format!("{} [...]", "x".repeat(10)));
        assert_eq!(excerpt("éé", 5, 4), "éé");
        assert_eq!(excerpt("éé", 5, 3), "é [...]");
        assert!(excerpt(&"line\n".repeat(100_000), 1_000, 4_000).len() <= 4_010);
    }

    #[test]
    fn tails_keep_the_last_lines_each_bounded() {
        assert_eq!(tail("a\nb\nc", 2, 10), "b\nc");
        assert_eq!(tail(&format!("a\n{}", "y".repeat(50)), 1, 4), "yyyy [...]");
    }
}
