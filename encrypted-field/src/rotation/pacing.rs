//! How a pass sizes its batches and yields between them, so that rotation never stalls the
//! application that runs beside it.
//!
//! A batch's write transaction holds locks: on SQLite the one database-wide write lock, on MySQL
//! and PostgreSQL the locks of the rows it rewrites. A fixed row count is wrong on every machine
//! but one: too long a transaction where rows are slow (a loaded server, wide rows, a slow disk),
//! needlessly many where they are fast. So a pass sizes each batch by *time*: it measures how long
//! the last write transaction took per row and picks the next batch's row count so that its
//! transaction lasts about [`Pacing::transaction_time`] (never more than [`Pacing::max_rows`],
//! and changing by at most a factor of two from one batch to the next, so that one slow batch
//! does not swing the size). After each write it pauses for [`Pacing::pause_ratio`] times the
//! transaction's duration, which leaves the application a window to take the lock: SQLite's
//! busy handler polls a held lock with sleeps of up to 100 ms, and a rotation that takes the lock
//! again at once would win every race against it. Unless set, the ratio depends on the backend:
//! [`SQLITE_PAUSE_RATIO`] on SQLite, whose one write lock stops every application write, and
//! [`SERVER_PAUSE_RATIO`] on MySQL/MariaDB and PostgreSQL, whose row locks stop only writes to the
//! batch's own rows (a yield, not a window). `BENCHMARKS.md` ("Application writes during
//! rotation") has the measurements behind these numbers.
//!
//! ```
//! use std::time::Duration;
//! use encrypted_field::rotation::Pacing;
//!
//! let pacing = Pacing::default();
//! assert_eq!(pacing.transaction_time(), Duration::from_millis(50));
//! let fixed = Pacing::fixed(500); // the first release's behaviour: 500 rows a batch, no pause
//! assert_eq!(fixed.max_rows(), 500);
//! assert_eq!(fixed.transaction_time(), Duration::ZERO);
//! assert_eq!(fixed.pause_ratio(), Some(0.0));
//! assert_eq!(pacing.pause_ratio(), None); // per backend
//! ```

use std::time::Duration;

/// The default longest batch, in rows.
pub const DEFAULT_BATCH_SIZE: usize = 1000;

/// The default target duration of one batch's write transaction.
pub const DEFAULT_TRANSACTION_TIME: Duration = Duration::from_millis(50);

/// The default pause after a write on SQLite, as a multiple of the write transaction's duration.
pub const SQLITE_PAUSE_RATIO: f64 = 0.5;

/// The default pause after a write on MySQL/MariaDB and PostgreSQL, as a multiple of the write
/// transaction's duration.
pub const SERVER_PAUSE_RATIO: f64 = 0.1;

/// The rows of the first batch, before any transaction has been measured.
const FIRST_BATCH_ROWS: usize = 64;

/// The longest pause after one batch, whatever its transaction took.
const MAX_PAUSE: Duration = Duration::from_secs(1);

/// How a pass sizes its batches by time and pauses between them, so that rotation never stalls
/// the application beside it: each write transaction lasts about [`transaction_time`](Self::transaction_time),
/// batches never exceed [`max_rows`](Self::max_rows), and each write is followed by a pause of
/// [`pause_ratio`](Self::pause_ratio) times its duration (by default 0.5 on SQLite, 0.1 on the servers).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pacing {
    max_rows: usize,
    transaction_time: Duration,
    /// `None`: the backend's default.
    pause_ratio: Option<f64>,
}

impl Default for Pacing {
    fn default() -> Self {
        Self {
            max_rows: DEFAULT_BATCH_SIZE,
            transaction_time: DEFAULT_TRANSACTION_TIME,
            pause_ratio: None,
        }
    }
}

impl Pacing {
    /// Fixed batches of `rows` rows (at least 1) with no pause: no sizing by time.
    pub fn fixed(rows: usize) -> Self {
        Self {
            max_rows: rows.max(1),
            transaction_time: Duration::ZERO,
            pause_ratio: Some(0.0),
        }
    }

    /// The longest batch, in rows (at least 1).
    pub fn with_max_rows(mut self, rows: usize) -> Self {
        self.max_rows = rows.max(1);
        self
    }

    /// The target duration of one batch's write transaction; [`Duration::ZERO`] turns sizing by
    /// time off (every batch is [`max_rows`](Self::max_rows) rows).
    pub fn with_transaction_time(mut self, time: Duration) -> Self {
        self.transaction_time = time;
        self
    }

    /// The pause after each write, as a multiple of its transaction's duration (`0` = none; at
    /// most one second a pause), on every backend. Negative or non-finite ratios count as `0`.
    pub fn with_pause_ratio(mut self, ratio: f64) -> Self {
        self.pause_ratio = Some(if ratio.is_finite() {
            ratio.max(0.0)
        } else {
            0.0
        });
        self
    }

    /// The longest batch, in rows.
    pub fn max_rows(&self) -> usize {
        self.max_rows
    }

    /// The target duration of one batch's write transaction (zero: fixed batches).
    pub fn transaction_time(&self) -> Duration {
        self.transaction_time
    }

    /// The pause after each write, as a multiple of its transaction's duration; `None` when it
    /// is the backend's default ([`SQLITE_PAUSE_RATIO`] or [`SERVER_PAUSE_RATIO`]).
    pub fn pause_ratio(&self) -> Option<f64> {
        self.pause_ratio
    }

    /// A pacer for one scan on `backend` (`sqlite`, `mysql`, `postgres`), starting small when
    /// sizing by time.
    pub(crate) fn start(&self, backend: &str) -> Pacer {
        let pause_ratio = self.pause_ratio.unwrap_or(match backend {
            "sqlite" => SQLITE_PAUSE_RATIO,
            _ => SERVER_PAUSE_RATIO,
        });
        let rows = if self.transaction_time.is_zero() {
            self.max_rows
        } else {
            FIRST_BATCH_ROWS.min(self.max_rows)
        };
        Pacer {
            max_rows: self.max_rows,
            transaction_time: self.transaction_time,
            pause_ratio,
            rows,
        }
    }
}

/// The batch size of one scan as it adapts, batch after batch.
#[derive(Debug, Clone)]
pub(crate) struct Pacer {
    max_rows: usize,
    transaction_time: Duration,
    pause_ratio: f64,
    rows: usize,
}

impl Pacer {
    /// The rows to read for the next batch.
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// Records that the batch just read (`read` rows) was written in one transaction of
    /// `written` rewritten rows that took `elapsed`; sizes the next batch and returns how long to
    /// pause before it. A batch that rewrote nothing held no lock worth the name: the next grows.
    pub(crate) fn written(&mut self, read: usize, written: usize, elapsed: Duration) -> Duration {
        let target = self.transaction_time;
        if !target.is_zero() {
            let ideal = if written == 0 || elapsed.is_zero() {
                usize::MAX
            } else {
                // Rows that fit in the target at this batch's speed; f64 is exact enough here,
                // and the cast saturates.
                let per_row = elapsed.as_secs_f64() / written as f64;
                (target.as_secs_f64() / per_row) as usize
            };
            // At most a factor of two either way from the batch just read.
            let read = read.max(1);
            let (low, high) = ((read / 2).max(1), read.saturating_mul(2));
            self.rows = ideal.clamp(low, high).clamp(1, self.max_rows);
        }
        elapsed.mul_f64(self.pause_ratio).min(MAX_PAUSE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn fixed_batches_never_change_and_never_pause() {
        let mut pacer = Pacing::fixed(250).start("sqlite");
        assert_eq!(pacer.rows(), 250);
        assert_eq!(pacer.written(250, 250, 900 * MS), Duration::ZERO);
        assert_eq!(pacer.rows(), 250);
    }

    #[test]
    fn fast_rows_grow_the_batch_by_at_most_two_up_to_the_maximum() {
        let mut pacer = Pacing::default().start("sqlite");
        assert_eq!(pacer.rows(), FIRST_BATCH_ROWS);
        pacer.written(64, 64, MS); // 64 rows a millisecond: 3,200 would fit in 50 ms
        assert_eq!(pacer.rows(), 128);
        for _ in 0..10 {
            let rows = pacer.rows();
            pacer.written(rows, rows, MS);
        }
        assert_eq!(pacer.rows(), DEFAULT_BATCH_SIZE);
    }

    #[test]
    fn slow_rows_shrink_the_batch_toward_the_target_time() {
        let mut pacer = Pacing::default().with_max_rows(10_000).start("sqlite");
        pacer.written(64, 64, MS);
        pacer.written(128, 128, 2 * MS);
        assert_eq!(pacer.rows(), 256);
        // The machine slows down: 256 rows took 400 ms, 32 fit in 50 ms; halving is the limit.
        pacer.written(256, 256, 400 * MS);
        assert_eq!(pacer.rows(), 128);
        pacer.written(128, 128, 200 * MS);
        assert_eq!(pacer.rows(), 64);
        pacer.written(64, 64, 100 * MS);
        assert_eq!(pacer.rows(), 32);
        pacer.written(32, 32, 50 * MS);
        assert_eq!(pacer.rows(), 32, "at the target the size holds");
    }

    #[test]
    fn a_row_slower_than_the_target_still_makes_progress() {
        let mut pacer = Pacing::default().start("sqlite");
        for _ in 0..20 {
            let rows = pacer.rows();
            pacer.written(rows, rows, rows as u32 * Duration::from_secs(1));
        }
        assert_eq!(pacer.rows(), 1);
    }

    #[test]
    fn the_pause_is_a_share_of_the_transaction_and_bounded() {
        let mut pacer = Pacing::default().with_pause_ratio(1.5).start("sqlite");
        assert_eq!(pacer.written(64, 64, 20 * MS), 30 * MS);
        assert_eq!(pacer.written(64, 64, Duration::from_secs(5)), MAX_PAUSE);
        let mut none = Pacing::default().with_pause_ratio(f64::NAN).start("sqlite");
        assert_eq!(none.written(64, 64, 20 * MS), Duration::ZERO);
        assert_eq!(
            Pacing::default().with_pause_ratio(-2.0).pause_ratio(),
            Some(0.0)
        );
    }

    #[test]
    fn the_default_pause_depends_on_the_backend_unless_set() {
        let (sqlite, server) = (
            Pacing::default().start("sqlite"),
            Pacing::default().start("postgres"),
        );
        assert_eq!(sqlite.clone().written(64, 64, 20 * MS), 10 * MS);
        assert_eq!(server.clone().written(64, 64, 20 * MS), 2 * MS);
        let set = Pacing::default().with_pause_ratio(2.0);
        assert_eq!(set.start("mysql").written(64, 64, 20 * MS), 40 * MS);
    }

    #[test]
    fn zero_rows_or_zero_time_never_divide_by_zero() {
        let mut pacer = Pacing::default().start("sqlite");
        pacer.written(64, 0, 10 * MS); // nothing rewritten: nothing held
        assert_eq!(pacer.rows(), 128);
        pacer.written(0, 0, Duration::ZERO);
        assert_eq!(
            pacer.rows(),
            2,
            "an empty read shrinks to its own half, at least 1"
        );
        pacer.written(2, 2, Duration::ZERO);
        assert_eq!(pacer.rows(), 4);
    }
}
