//! Parallel workers of a pass (`--workers`, `--join`, `--chunk-rows`): `rotate`, `migrate`,
//! `verify` and `reindex`.

use super::counts::parse_batch_size;
use crate::rotation::DEFAULT_CHUNK_ROWS;

/// How many workers scan the database, and whether this run joins another's pass.
#[derive(Debug, Clone, clap::Args)]
pub struct WorkersArgs {
    /// Run the pass with N parallel workers, each on a connection of its own: each table's
    /// primary-key range is cut into chunks (--chunk-rows), recorded in the database, that the
    /// workers take one at a time; `--join` on other hosts adds more. A worker killed mid-chunk
    /// loses only that chunk's lease: another takes the chunk when it expires (--lease-ttl).
    /// The report merges every worker's counts. Without it, one stream scans every table.
    #[arg(long, value_name = "N", value_parser = parse_batch_size)]
    pub workers: Option<usize>,
    /// Take chunks of the parallel pass another run (started with --workers, on this host or
    /// another) is running, until it ends, instead of starting one: with the same models and
    /// the same keys. Asks nothing (the run it joins was confirmed). With --workers N, joins
    /// with N workers; with --wait-for-lock, waits that long for a pass to start.
    #[arg(long)]
    pub join: bool,
    /// The rows of each chunk of a parallel pass.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_CHUNK_ROWS, value_parser = parse_batch_size, requires = "workers")]
    pub chunk_rows: usize,
}
