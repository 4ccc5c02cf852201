//! The progress bar of `rotate`, `migrate` and `verify` on a terminal: a [`Progress`] drawn with
//! `indicatif` on stderr, hidden when stderr is not a terminal or `--json` is given.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::rotation::Progress;
use crate::rotation::database::PrimaryKey;

/// Rows handled so far in the column being scanned, and their rate.
#[derive(Debug)]
pub(crate) struct ProgressLine {
    bar: ProgressBar,
}

impl ProgressLine {
    /// A line on stderr when `visible`, else nothing at all.
    pub(crate) fn new(visible: bool) -> Self {
        if !visible {
            return Self {
                bar: ProgressBar::hidden(),
            };
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        if let Ok(style) =
            ProgressStyle::with_template("{spinner} {msg}: {human_pos} rows ({elapsed})")
        {
            bar.set_style(style);
        }
        bar.set_message("starting");
        bar.enable_steady_tick(Duration::from_millis(120));
        Self { bar }
    }

    /// Removes the line, before the report is printed.
    pub(crate) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Progress for ProgressLine {
    fn column_started(&self, table: &str, column: &str) {
        self.bar.reset();
        self.bar.set_message(format!("{table}.{column}"));
    }

    fn batch_read(&self, _table: &str, _column: &str, _keys: &[PrimaryKey]) {}

    fn batch_done(&self, rows: u64) {
        self.bar.inc(rows);
    }
}
