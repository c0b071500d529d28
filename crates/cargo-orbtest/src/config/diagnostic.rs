//! Config diagnostics: what is wrong, where (file:line:col with a snippet), and what to do.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The text of a config file, kept so diagnostics can point into it after parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub path: PathBuf,
    pub text: String,
}

impl Source {
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> Arc<Self> {
        Arc::new(Self {
            path: path.into(),
            text: text.into(),
        })
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub(crate) fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..floor_char_boundary(&self.text, offset)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before[line_start..].chars().count() + 1;
        (line, col)
    }

    fn line_text(&self, line: usize) -> &str {
        self.text.lines().nth(line.saturating_sub(1)).unwrap_or("")
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// One problem in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub span: Range<usize>,
    pub message: String,
    pub help: Option<String>,
    pub notes: Vec<String>,
}

impl Diagnostic {
    pub fn new(span: Range<usize>, message: impl Into<String>) -> Self {
        Self {
            span,
            message: message.into(),
            help: None,
            notes: Vec::new(),
        }
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }
}

/// All problems found in one config file. Exit code 64.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub source_file: Arc<Source>,
    pub diagnostics: Vec<Diagnostic>,
}

impl ConfigError {
    pub(crate) fn single(source_file: Arc<Source>, diagnostic: Diagnostic) -> Self {
        Self {
            source_file,
            diagnostics: vec![diagnostic],
        }
    }

    pub fn path(&self) -> &Path {
        &self.source_file.path
    }

    /// `file:line:col` of the first diagnostic, for one-line summaries.
    pub fn first_location(&self) -> String {
        let offset = self.diagnostics.first().map_or(0, |d| d.span.start);
        let (line, col) = self.source_file.line_col(offset);
        format!("{}:{line}:{col}", self.source_file.path.display())
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, diagnostic) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            render(f, &self.source_file, diagnostic)?;
        }
        Ok(())
    }
}

fn render(f: &mut fmt::Formatter<'_>, source: &Source, d: &Diagnostic) -> fmt::Result {
    let (line, col) = source.line_col(d.span.start);
    writeln!(f, "{}:{line}:{col}: {}", source.path.display(), d.message)?;
    let text = source.line_text(line);
    let gutter = line.to_string().len();
    let width = {
        let (end_line, end_col) = source.line_col(d.span.end);
        if end_line == line && end_col > col {
            end_col - col
        } else {
            text.chars().count().saturating_sub(col - 1).max(1)
        }
    };
    writeln!(f, "{:gutter$} |", "")?;
    writeln!(f, "{line} | {text}")?;
    writeln!(
        f,
        "{:gutter$} | {}{}",
        "",
        " ".repeat(col - 1),
        "^".repeat(width.max(1))
    )?;
    if let Some(help) = &d.help {
        writeln!(f, "{:gutter$} = help: {help}", "")?;
    }
    for note in &d.notes {
        writeln!(f, "{:gutter$} = note: {note}", "")?;
    }
    Ok(())
}

/// The closest candidate to `word`, if one is close enough to be a likely typo.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (c, strsim::jaro_winkler(word, c)))
        .filter(|(_, score)| *score > 0.8)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(c, _)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_lines_and_characters() {
        let s = Source::new("o.toml", "a = 1\nbé = 2\n");
        assert_eq!(s.line_col(0), (1, 1));
        assert_eq!(s.line_col(6), (2, 1));
        // "bé" is 3 bytes; the space after it is character 3.
        assert_eq!(s.line_col(9), (2, 3));
    }

    #[test]
    fn suggestions_only_for_near_misses() {
        let keys = ["threads", "timeout", "filter"];
        assert_eq!(did_you_mean("thread", keys), Some("threads"));
        assert_eq!(did_you_mean("timout", keys), Some("timeout"));
        assert_eq!(did_you_mean("zzz", keys), None);
    }
}
