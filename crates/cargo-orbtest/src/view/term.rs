//! The terminal the live view draws on, as indicatif's [`TermLike`]: every frame is written in
//! one piece inside synchronized-output markers (DEC mode 2026: terminals that know it show the
//! frame at once, the rest ignore the markers), the cursor is hidden while the view is up, and
//! the width is read again at every frame, so a resize takes effect at the next one.
//!
//! indicatif pads each line with spaces to the terminal's width and relies on wrapping at the
//! right edge to reach the next line. Here the padding becomes "erase to end of line" and a
//! line break, so what was drawn is only as wide as its text: when the terminal narrows and
//! reflows, only lines wider than the new width wrap, and the next frame first moves up over
//! those extra rows and clears from there, leaving no stale bars behind.

use std::io::Write;
use std::sync::{Mutex, MutexGuard, PoisonError};

use indicatif::TermLike;

/// Rows and columns of the terminal, asked at each frame.
pub(crate) type Size = Box<dyn Fn() -> (u16, u16) + Send + Sync>;

pub struct AnsiTerm {
    inner: Mutex<Inner>,
    size: Size,
}

struct Inner {
    out: Box<dyn Write + Send>,
    /// The frame being built (written out at `flush`).
    frame: String,
    /// Line ends in `frame`: the position and the padding indicatif gave the line, to become
    /// line breaks at `flush`.
    breaks: Vec<(usize, usize)>,
    /// The display width of the line being written, and of each line ended in this frame.
    line_width: usize,
    widths: Vec<usize>,
    /// The widths of the last frame's lines and the terminal width it was drawn at.
    last_widths: Vec<usize>,
    last_columns: u16,
    cursor_hidden: bool,
}

const SYNC_BEGIN: &str = "\x1b[?2026h";
const SYNC_END: &str = "\x1b[?2026l";
const HIDE_CURSOR: &str = "\x1b[?25l";
const SHOW_CURSOR: &str = "\x1b[?25h";

impl AnsiTerm {
    /// Draws on stderr, at its current size.
    pub fn stderr() -> Self {
        let term = console::Term::stderr();
        Self::new(Box::new(std::io::stderr()), Box::new(move || term.size()))
    }

    /// Draws on `out`, a terminal of `size()` rows and columns.
    pub fn new(out: Box<dyn Write + Send>, size: Size) -> Self {
        Self {
            inner: Mutex::new(Inner {
                out,
                frame: String::new(),
                breaks: Vec::new(),
                line_width: 0,
                widths: Vec::new(),
                last_widths: Vec::new(),
                last_columns: 0,
                cursor_hidden: false,
            }),
            size,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn columns(&self) -> u16 {
        (self.size)().1.max(1)
    }

    /// Shows the cursor again (the view is done).
    pub fn restore(&self) {
        let mut inner = self.lock();
        if inner.cursor_hidden {
            inner.cursor_hidden = false;
            let _ = inner.out.write_all(SHOW_CURSOR.as_bytes());
            let _ = inner.out.flush();
        }
    }
}

impl Drop for AnsiTerm {
    fn drop(&mut self) {
        self.restore();
    }
}

impl std::fmt::Debug for AnsiTerm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnsiTerm").finish_non_exhaustive()
    }
}

impl Inner {
    fn push(&mut self, s: &str) {
        self.frame.push_str(s);
    }

    /// The end of a line: its padding dropped, to become a line break at `flush`.
    fn end_line(&mut self, padding: usize) {
        self.breaks.push((self.frame.len(), padding));
        let w = std::mem::take(&mut self.line_width);
        self.widths.push(w + padding);
    }
}

impl TermLike for AnsiTerm {
    fn width(&self) -> u16 {
        self.columns()
    }

    fn height(&self) -> u16 {
        (self.size)().0.max(1)
    }

    fn move_cursor_up(&self, n: usize) -> std::io::Result<()> {
        let columns = self.columns();
        let mut inner = self.lock();
        // The first move of a frame goes to the top of the last one: when the terminal
        // narrowed since, its lines wider than the new width reflowed into more rows.
        let starting = inner.frame.is_empty();
        let extra = if starting && inner.last_columns > columns && n > 0 {
            let drawn = inner.last_widths.len().saturating_sub(n + 1);
            inner.last_widths[drawn..]
                .iter()
                .map(|w| w.div_ceil(columns as usize).max(1) - 1)
                .sum::<usize>()
        } else {
            0
        };
        if n + extra > 0 {
            inner.push(&format!("\x1b[{}A", n + extra));
        }
        if extra > 0 {
            inner.push("\r\x1b[J");
        }
        Ok(())
    }

    fn move_cursor_down(&self, n: usize) -> std::io::Result<()> {
        if n > 0 {
            self.lock().push(&format!("\x1b[{n}B"));
        }
        Ok(())
    }

    fn move_cursor_right(&self, n: usize) -> std::io::Result<()> {
        if n > 0 {
            self.lock().push(&format!("\x1b[{n}C"));
        }
        Ok(())
    }

    fn move_cursor_left(&self, n: usize) -> std::io::Result<()> {
        if n > 0 {
            self.lock().push(&format!("\x1b[{n}D"));
        }
        Ok(())
    }

    fn write_line(&self, s: &str) -> std::io::Result<()> {
        let mut inner = self.lock();
        inner.push(s);
        inner.push("\n");
        Ok(())
    }

    fn write_str(&self, s: &str) -> std::io::Result<()> {
        let mut inner = self.lock();
        if s.chars().all(|c| c == ' ') && (!s.is_empty() || inner.line_width > 0) {
            // indicatif's padding to the full width: the line ends here.
            inner.end_line(s.len());
            return Ok(());
        }
        inner.line_width += console::measure_text_width(s);
        inner.push(s);
        Ok(())
    }

    fn clear_line(&self) -> std::io::Result<()> {
        self.lock().push("\r\x1b[2K");
        Ok(())
    }

    fn flush(&self) -> std::io::Result<()> {
        let columns = self.columns();
        let mut inner = self.lock();
        if inner.frame.is_empty() {
            return inner.out.flush();
        }
        // Every line end but the frame's last becomes "erase the rest, next line". The last keeps
        // its padding: indicatif leaves the cursor at the right edge, where the next output
        // wraps to a new line.
        let breaks = std::mem::take(&mut inner.breaks);
        let frame = std::mem::take(&mut inner.frame);
        let mut widths = std::mem::take(&mut inner.widths);
        let mut text = String::with_capacity(frame.len() + breaks.len() * 5 + 32);
        if !inner.cursor_hidden {
            text.push_str(HIDE_CURSOR);
            inner.cursor_hidden = true;
        }
        text.push_str(SYNC_BEGIN);
        let mut from = 0;
        for (i, &(at, padding)) in breaks.iter().enumerate() {
            text.push_str(&frame[from..at]);
            let last = i + 1 == breaks.len() && at == frame.len();
            if last {
                text.push_str(&" ".repeat(padding));
            } else {
                if padding > 0 {
                    text.push_str("\x1b[K");
                }
                text.push_str("\r\n");
                // Drawn only as wide as its text.
                if let Some(w) = widths.get_mut(i) {
                    *w -= padding;
                }
            }
            from = at;
        }
        text.push_str(&frame[from..]);
        text.push_str(SYNC_END);
        inner.last_widths = widths;
        inner.last_columns = columns;
        inner.line_width = 0;
        inner.out.write_all(text.as_bytes())?;
        inner.out.flush()
    }
}
