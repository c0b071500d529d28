//! What the terminal shows: the [`live`] view while a run happens (indicatif bars on an
//! [`term::AnsiTerm`]), [`progress`] lines without a terminal (CI, pipes, GitHub groups), and
//! the [`terminal`] summary after it. Both views keep the running tier's counts, running tests
//! and ETA in a [`tally::Tally`].

mod live;
mod progress;
pub(crate) mod tally;
pub(crate) mod term;
mod terminal;
pub(crate) mod text;

pub use live::LiveView;
pub use progress::PlainProgress;
pub use term::AnsiTerm;
pub(crate) use terminal::print_error;
pub use terminal::{Style, render_summary};
