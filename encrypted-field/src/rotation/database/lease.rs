//! The rotation lease: a row of the project's own table (`encrypted_field_leases`) in the database
//! itself, so that it holds wherever the database's rows do — through PgBouncer's transaction
//! pooling, on every node of a Galera cluster, in a SQLite file however its path is spelled.
//!
//! - **Taken** with one conditional `UPDATE` (`… WHERE name = ? AND (expires_at_ms <= now OR
//!   owner = ?)`), after an insert-if-absent of an expired row. One statement on one row is atomic
//!   on every engine: SQLite runs it under its one write lock; InnoDB and PostgreSQL re-check the
//!   condition on the row's latest version after waiting for its lock; two Galera nodes that
//!   update the row at once conflict at certification, and the loser is aborted (error 1213,
//!   retried: it then sees the winner's row and takes nothing).
//! - **Expiry by the database's clock** (`expires_at_ms`, milliseconds since the epoch as the
//!   server reads them), never a host's: hosts' clocks do not agree.
//! - **Fenced**: each taking adds one to `fence`. Every batch's write transaction first runs
//!   [`check`] — `UPDATE … SET expires_at_ms = now + ttl WHERE name = ? AND owner = ? AND fence
//!   = ?` — and goes on only if it updated the row. An update, not a `SELECT … FOR UPDATE`:
//!   Galera certifies write sets only, so a check that reads would not conflict with a takeover
//!   certified on another node, while an update of the same row does. A run whose lease was taken
//!   over writes nothing more.
//! - **Renewed** by every fenced write, between batches when a third of the time to live has
//!   passed (a pass that only reads), so a live run's lease does not lapse, and right before a
//!   run writes a file (a key backup, a key file, a pin), so a run that lost it writes none.
//! - **Released** at a clean end (its expiry set to now); a killed holder's lease expires by
//!   itself after its time to live.

use ::diesel::connection::Connection;
use ::diesel::deserialize::{FromSql, QueryableByName};
use ::diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use ::diesel::query_dsl::RunQueryDsl;
use ::diesel::query_dsl::methods::{ExecuteDsl, LoadQuery};
use ::diesel::result::QueryResult;
use ::diesel::serialize::ToSql;
use ::diesel::sql_types::{BigInt, Text};

use std::time::{Duration, SystemTime};

use super::Dialect;
use super::supported_backend::SupportedBackend;
use crate::rotation::lease_holder::LeaseHolder;

type Query<'q, DB> = BoxedSqlQuery<'q, DB, SqlQuery>;

/// The table of leases: one row per lease name.
pub const LEASES_TABLE: &str = "encrypted_field_leases";

/// The name of the lease every rotation, migration, reindex and key retirement takes.
pub(crate) const ROTATION_LEASE: &str = "rotation";

/// A lease this process holds: what every fenced write checks, and what renewing it needs.
#[derive(Debug, Clone)]
pub(crate) struct HeldLease {
    pub name: String,
    /// Random, per taking: no two runs share it.
    pub owner: String,
    /// The fencing counter this taking set.
    pub fence: i64,
    /// How long each renewal extends the lease, by the database's clock.
    pub ttl_ms: i64,
    /// When it was last renewed, by this host's monotonic clock: only to judge when the next
    /// renewal is due, never whether the lease holds.
    pub renewed_at: std::time::Instant,
}

/// A lease's row as read, with the database's clock at the time of reading.
#[derive(Debug, Clone, QueryableByName)]
pub(crate) struct LeaseRow {
    #[diesel(sql_type = Text)]
    pub owner: String,
    #[diesel(sql_type = Text)]
    pub host: String,
    #[diesel(sql_type = BigInt)]
    pub pid: i64,
    #[diesel(sql_type = BigInt)]
    pub fence: i64,
    #[diesel(sql_type = BigInt)]
    pub acquired_at_ms: i64,
    #[diesel(sql_type = BigInt)]
    pub expires_at_ms: i64,
    #[diesel(sql_type = BigInt)]
    pub now_ms: i64,
}

/// Why a fenced write did not happen: the database failed, or the lease is no longer this run's.
#[derive(Debug)]
pub(crate) enum WriteError {
    Database(::diesel::result::Error),
    LeaseLost,
}

impl From<::diesel::result::Error> for WriteError {
    fn from(error: ::diesel::result::Error) -> Self {
        Self::Database(error)
    }
}

/// `CREATE TABLE IF NOT EXISTS` of the leases table.
fn create_table<C, D>(conn: &mut C, dialect: &D) -> QueryResult<()>
where
    C: Connection,
    C::Backend: SupportedBackend,
    D: Dialect,
    for<'q> Query<'q, C::Backend>: ExecuteDsl<C>,
{
    create_if_missing(conn, dialect.create_leases_table())
}

/// Runs a `CREATE TABLE IF NOT EXISTS`. Two PostgreSQL sessions creating the same table at once
/// can collide in the catalog (a unique violation on its index, or "relation already exists"):
/// the other session's table then exists, and the statement run again finds it.
pub(super) fn create_if_missing<C>(conn: &mut C, statement: &str) -> QueryResult<()>
where
    C: Connection,
    C::Backend: SupportedBackend,
    for<'q> Query<'q, C::Backend>: ExecuteDsl<C>,
{
    let create = |conn: &mut C| {
        ::diesel::sql_query(statement)
            .into_boxed::<C::Backend>()
            .execute(conn)
            .map(drop)
    };
    create(conn).or_else(|_| create(conn))
}

/// Takes the lease `name` for `owner` unless another owner holds it unexpired: creates the table
/// and an expired row if missing, then one conditional update. Returns whether it was taken.
pub(super) fn take<C, D>(
    conn: &mut C,
    dialect: &D,
    name: &str,
    owner: &str,
    host: &str,
    pid: i64,
    ttl_ms: i64,
) -> QueryResult<bool>
where
    C: Connection,
    C::Backend: SupportedBackend,
    D: Dialect,
    String: ToSql<Text, C::Backend>,
    i64: ToSql<BigInt, C::Backend>,
    for<'q> Query<'q, C::Backend>: ExecuteDsl<C>,
{
    create_table(conn, dialect)?;
    let (ignore, on_conflict) = dialect.ignore_duplicate();
    ::diesel::sql_query(format!(
        "INSERT {ignore} INTO {LEASES_TABLE} \
         (name, owner, host, pid, fence, acquired_at_ms, expires_at_ms, renewals) \
         VALUES ({}, '', '', 0, 0, 0, 0, 0){on_conflict}",
        dialect.placeholder(1)
    ))
    .into_boxed::<C::Backend>()
    .bind::<Text, _>(name.to_owned())
    .execute(conn)?;
    let now = dialect.now_millis();
    let p = |n| dialect.placeholder(n);
    // `fence` first: MySQL evaluates a single-table UPDATE's assignments left to right, each
    // seeing the ones before; none of these reads a column another one sets.
    let taken = ::diesel::sql_query(format!(
        "UPDATE {LEASES_TABLE} SET fence = fence + 1, owner = {}, host = {}, pid = {}, \
         acquired_at_ms = {now}, expires_at_ms = {now} + {}, renewals = 0 \
         WHERE name = {} AND (expires_at_ms <= {now} OR owner = {})",
        p(1),
        p(2),
        p(3),
        p(4),
        p(5),
        p(6)
    ))
    .into_boxed::<C::Backend>()
    .bind::<Text, _>(owner.to_owned())
    .bind::<Text, _>(host.to_owned())
    .bind::<BigInt, _>(pid)
    .bind::<BigInt, _>(ttl_ms)
    .bind::<Text, _>(name.to_owned())
    .bind::<Text, _>(owner.to_owned())
    .execute(conn)?;
    Ok(taken == 1)
}

/// The row of lease `name` (creating the table if missing), with the database's clock.
pub(super) fn read<C, D>(conn: &mut C, dialect: &D, name: &str) -> QueryResult<Option<LeaseRow>>
where
    C: Connection,
    C::Backend: SupportedBackend,
    D: Dialect,
    String: ToSql<Text, C::Backend> + FromSql<Text, C::Backend>,
    i64: ToSql<BigInt, C::Backend> + FromSql<BigInt, C::Backend>,
    for<'q> Query<'q, C::Backend>: ExecuteDsl<C> + LoadQuery<'q, C, LeaseRow>,
{
    create_table(conn, dialect)?;
    let rows = ::diesel::sql_query(format!(
        "SELECT owner, host, pid, fence, acquired_at_ms, expires_at_ms, {} AS now_ms \
         FROM {LEASES_TABLE} WHERE name = {}",
        dialect.now_millis(),
        dialect.placeholder(1)
    ))
    .into_boxed::<C::Backend>()
    .bind::<Text, _>(name.to_owned())
    .load::<LeaseRow>(conn)?;
    Ok(rows.into_iter().next())
}

/// The fence: extends `lease` by its time to live if it is still this run's taking (same owner,
/// same fencing counter). Returns whether it was. Run first in each batch's write transaction,
/// and alone to renew between batches.
pub(super) fn check<C, D>(conn: &mut C, dialect: &D, lease: &HeldLease) -> QueryResult<bool>
where
    C: Connection,
    C::Backend: SupportedBackend,
    D: Dialect,
    String: ToSql<Text, C::Backend>,
    i64: ToSql<BigInt, C::Backend>,
    for<'q> Query<'q, C::Backend>: ExecuteDsl<C>,
{
    let now = dialect.now_millis();
    let p = |n| dialect.placeholder(n);
    // `renewals` changes on every renewal, so the row counts as updated on every engine even
    // when the new expiry equals the old one (MySQL counts changed rows unless told otherwise).
    let updated = ::diesel::sql_query(format!(
        "UPDATE {LEASES_TABLE} SET expires_at_ms = {now} + {}, renewals = renewals + 1 \
         WHERE name = {} AND owner = {} AND fence = {}",
        p(1),
        p(2),
        p(3),
        p(4)
    ))
    .into_boxed::<C::Backend>()
    .bind::<BigInt, _>(lease.ttl_ms)
    .bind::<Text, _>(lease.name.clone())
    .bind::<Text, _>(lease.owner.clone())
    .bind::<BigInt, _>(lease.fence)
    .execute(conn)?;
    Ok(updated == 1)
}

/// [`check`] inside a write transaction: the lease lost is a [`WriteError::LeaseLost`], which
/// rolls the transaction back.
pub(super) fn fence<C, D>(
    conn: &mut C,
    dialect: &D,
    lease: Option<&HeldLease>,
) -> Result<(), WriteError>
where
    C: Connection,
    C::Backend: SupportedBackend,
    D: Dialect,
    String: ToSql<Text, C::Backend>,
    i64: ToSql<BigInt, C::Backend>,
    for<'q> Query<'q, C::Backend>: ExecuteDsl<C>,
{
    match lease {
        Some(lease) if !check(conn, dialect, lease)? => Err(WriteError::LeaseLost),
        _ => Ok(()),
    }
}

/// Ends `lease` now if it is still this run's taking (its row stays, naming the last holder).
pub(super) fn release<C, D>(conn: &mut C, dialect: &D, lease: &HeldLease) -> QueryResult<()>
where
    C: Connection,
    C::Backend: SupportedBackend,
    D: Dialect,
    String: ToSql<Text, C::Backend>,
    i64: ToSql<BigInt, C::Backend>,
    for<'q> Query<'q, C::Backend>: ExecuteDsl<C>,
{
    let p = |n| dialect.placeholder(n);
    ::diesel::sql_query(format!(
        "UPDATE {LEASES_TABLE} SET expires_at_ms = {} \
         WHERE name = {} AND owner = {} AND fence = {}",
        dialect.now_millis(),
        p(1),
        p(2),
        p(3)
    ))
    .into_boxed::<C::Backend>()
    .bind::<Text, _>(lease.name.clone())
    .bind::<Text, _>(lease.owner.clone())
    .bind::<BigInt, _>(lease.fence)
    .execute(conn)
    .map(drop)
}

/// The latest instant RFC 3339 can write with a four-digit year (9999-12-31T23:59:59.999Z), in
/// milliseconds since the Unix epoch: `humantime` panics on a later one.
const LATEST_RFC3339_MS: i64 = 253_402_300_799_999;

/// When a lease was taken, as its row's `acquired_at_ms` says: RFC 3339 in UTC, or the raw
/// milliseconds when they fall outside what RFC 3339 can write (before the epoch, after year
/// 9999: a row edited by hand, or a server clock gone wrong).
fn since_text(acquired_at_ms: i64) -> String {
    match u64::try_from(acquired_at_ms) {
        Ok(ms) if acquired_at_ms <= LATEST_RFC3339_MS => {
            let since = SystemTime::UNIX_EPOCH + Duration::from_millis(ms);
            humantime::format_rfc3339_seconds(since).to_string()
        }
        _ => format!("{acquired_at_ms} ms since the Unix epoch (acquired_at_ms, out of range)"),
    }
}

impl LeaseHolder {
    /// The holder a lease row names, its times judged by the database's clock. Any values the
    /// row holds are shown, none panics: an out-of-range acquisition time is printed raw, and the
    /// time left saturates.
    pub(crate) fn from_row(row: &LeaseRow) -> Self {
        // Saturating: both come from the row and the server, and may be anything.
        let expires_in_seconds = row.expires_at_ms.saturating_sub(row.now_ms) as f64 / 1000.0;
        Self {
            host: row.host.clone(),
            pid: row.pid,
            owner: row.owner.clone(),
            fence: row.fence,
            since: since_text(row.acquired_at_ms),
            expires_in_seconds,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(acquired_at_ms: i64, expires_at_ms: i64, now_ms: i64) -> LeaseRow {
        LeaseRow {
            owner: "o".to_owned(),
            host: "h".to_owned(),
            pid: 1,
            fence: 1,
            acquired_at_ms,
            expires_at_ms,
            now_ms,
        }
    }

    #[test]
    fn an_ordinary_row_reads_as_rfc3339() {
        let holder = LeaseHolder::from_row(&row(
            1_764_633_600_000,
            1_764_633_660_000,
            1_764_633_630_000,
        ));
        assert_eq!(holder.since, "2025-12-02T00:00:00Z");
        assert!((holder.expires_in_seconds - 30.0).abs() < 1e-9);
    }

    #[test]
    fn the_last_instant_of_year_9999_still_reads_as_rfc3339() {
        let holder = LeaseHolder::from_row(&row(LATEST_RFC3339_MS, 0, 0));
        assert_eq!(holder.since, "9999-12-31T23:59:59Z");
    }

    #[test]
    fn extreme_rows_print_raw_milliseconds_and_saturate_instead_of_panicking() {
        for acquired in [LATEST_RFC3339_MS + 1, i64::MAX, -1, i64::MIN] {
            let holder = LeaseHolder::from_row(&row(acquired, i64::MAX, i64::MIN));
            assert_eq!(
                holder.since,
                format!("{acquired} ms since the Unix epoch (acquired_at_ms, out of range)")
            );
            assert!(
                holder.expires_in_seconds > 9.2e15,
                "{}",
                holder.expires_in_seconds
            );
            let holder = LeaseHolder::from_row(&row(acquired, i64::MIN, i64::MAX));
            assert!(
                holder.expires_in_seconds < -9.2e15,
                "{}",
                holder.expires_in_seconds
            );
            assert!(holder.to_string().contains("out of range"), "{holder}");
        }
    }
}
