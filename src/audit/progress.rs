//! The progress bar of long audits, on stderr (indicatif hides it when stderr is not a terminal,
//! so piped output and `--json` stay clean).

use indicatif::{ProgressBar, ProgressStyle};

/// A bar for `message` with its count, rate and time left.
pub fn bar(message: &'static str) -> ProgressBar {
    let style = ProgressStyle::with_template(
        "{msg:>14} [{bar:40}] {human_pos}/{human_len} ({per_sec}, {eta} left)",
    )
    .expect("the template is valid")
    .progress_chars("=> ");
    ProgressBar::new(0).with_style(style).with_message(message)
}
