//! What the terminal shows: the [`live`] view while a run happens (indicatif bars), [`progress`]
//! lines without a terminal (CI, pipes, GitHub groups), and the [`terminal`] summary after it.

mod live;
mod progress;
mod terminal;
pub mod text;

pub use live::LiveView;
pub use progress::PlainProgress;
pub use terminal::{Style, render_summary};
