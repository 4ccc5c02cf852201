//! The fleet's statements: the instances table (each running instance's key versions and last
//! check-in) and metadata written over an older value (the fleet-wide active version). Written
//! once over the backends like `rows.rs`; the SQL text comes from the [`Dialect`].

use ::diesel::connection::Connection;
use ::diesel::deserialize::{FromSql, QueryableByName};
use ::diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use ::diesel::query_dsl::RunQueryDsl;
use ::diesel::query_dsl::methods::{ExecuteDsl, LoadQuery};
use ::diesel::result::QueryResult;
use ::diesel::serialize::ToSql;
use ::diesel::sql_types::{BigInt, Text};

use super::lease::{HeldLease, WriteError, create_if_missing, fence};
use super::supported_backend::SupportedBackend;
use super::{Backend, Database, Dialect, db_error};
// The backends' modules, as `with_backend!` names them.
#[cfg(feature = "mysql")]
use super::mysql;
#[cfg(feature = "postgres")]
use super::pg;
#[cfg(feature = "sqlite")]
use super::sqlite;
use crate::rotation::error::Result;

type Query<'q, DB> = BoxedSqlQuery<'q, DB, SqlQuery>;

/// The fleet's table of running instances.
pub(crate) const INSTANCES_TABLE: &str = "encrypted_field_instances";

/// An instance's row as it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InstanceCheckIn {
    pub(crate) id: String,
    pub(crate) host: String,
    pub(crate) pid: i64,
    /// The loaded versions, ascending, comma-separated (`1,2`).
    pub(crate) loaded_versions: String,
    pub(crate) active_version: i64,
    /// The version a local setting pins, or 0.
    pub(crate) pinned_version: i64,
    /// The loaded blind-index versions, ascending, comma-separated (empty: none).
    pub(crate) blind_index_versions: String,
    /// The blind-index version new indexes are computed with, or 0 (no blind-index key).
    pub(crate) active_blind_index_version: i64,
    /// The blind-index version a local setting pins, or 0.
    pub(crate) pinned_blind_index_version: i64,
}

/// An instance's row as it is read, with its age by the database's clock.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub(crate) struct InstanceRow {
    #[diesel(sql_type = Text)]
    pub(crate) id: String,
    #[diesel(sql_type = Text)]
    pub(crate) host: String,
    #[diesel(sql_type = BigInt)]
    pub(crate) pid: i64,
    #[diesel(sql_type = Text)]
    pub(crate) loaded_versions: String,
    #[diesel(sql_type = BigInt)]
    pub(crate) active_version: i64,
    #[diesel(sql_type = BigInt)]
    pub(crate) pinned_version: i64,
    #[diesel(sql_type = Text)]
    pub(crate) blind_index_versions: String,
    #[diesel(sql_type = BigInt)]
    pub(crate) active_blind_index_version: i64,
    #[diesel(sql_type = BigInt)]
    pub(crate) pinned_blind_index_version: i64,
    /// Seconds since its last check-in.
    #[diesel(sql_type = BigInt)]
    pub(crate) age_seconds: i64,
}

fn run<C>(conn: &mut C, sql: &str) -> QueryResult<usize>
where
    C: Connection,
    C::Backend: SupportedBackend,
    for<'q> Query<'q, C::Backend>: ExecuteDsl<C>,
{
    ::diesel::sql_query(sql)
        .into_boxed::<C::Backend>()
        .execute(conn)
}

/// The columns a table created before blind-index versions were checked in lacks, as added.
const BLIND_INDEX_COLUMNS: [&str; 3] = [
    "blind_index_versions VARCHAR(255) NOT NULL DEFAULT ''",
    "active_blind_index_version BIGINT NOT NULL DEFAULT 0",
    "pinned_blind_index_version BIGINT NOT NULL DEFAULT 0",
];

/// Creates the instances table if it is missing, and adds the blind-index columns to one created
/// by an earlier build (its rows are only check-ins: nothing is lost, and an instance of that
/// build reads as having no blind-index key until it is upgraded). Another instance adding them at
/// the same moment is not an error.
fn ensure_instances_table<C, D>(conn: &mut C, dialect: &D) -> QueryResult<()>
where
    C: Connection,
    C::Backend: SupportedBackend,
    D: Dialect,
    for<'q> Query<'q, C::Backend>: ExecuteDsl<C>,
{
    create_if_missing(conn, dialect.create_instances_table())?;
    let probe = format!("SELECT pinned_blind_index_version FROM {INSTANCES_TABLE} WHERE 1 = 0");
    if run::<C>(conn, &probe).is_ok() {
        return Ok(());
    }
    for column in BLIND_INDEX_COLUMNS {
        let name = column.split(' ').next().unwrap_or(column);
        let has = format!("SELECT {name} FROM {INSTANCES_TABLE} WHERE 1 = 0");
        if run::<C>(conn, &has).is_err()
            && let Err(error) = run::<C>(
                conn,
                &format!("ALTER TABLE {INSTANCES_TABLE} ADD COLUMN {column}"),
            )
            && run::<C>(conn, &has).is_err()
        {
            return Err(error);
        }
    }
    Ok(())
}

fn upsert_metadata<C, D>(
    conn: &mut C,
    dialect: &D,
    lease: Option<&HeldLease>,
    name: &str,
    value: &str,
) -> Result<(), WriteError>
where
    C: Connection,
    C::Backend: SupportedBackend,
    D: Dialect,
    String: ToSql<Text, C::Backend>,
    i64: ToSql<BigInt, C::Backend>,
    for<'q> Query<'q, C::Backend>: ExecuteDsl<C>,
{
    // Outside the transaction: MySQL commits before DDL.
    create_if_missing(conn, dialect.create_metadata_table())?;
    conn.transaction(|conn| {
        fence(conn, dialect, lease)?;
        ::diesel::sql_query(dialect.upsert_metadata())
            .into_boxed::<C::Backend>()
            .bind::<Text, _>(name.to_owned())
            .bind::<Text, _>(value.to_owned())
            .execute(conn)?;
        Ok(())
    })
}

fn check_in<C, D>(conn: &mut C, dialect: &D, row: &InstanceCheckIn) -> QueryResult<()>
where
    C: Connection,
    C::Backend: SupportedBackend,
    D: Dialect,
    String: ToSql<Text, C::Backend>,
    i64: ToSql<BigInt, C::Backend>,
    for<'q> Query<'q, C::Backend>: ExecuteDsl<C>,
{
    ensure_instances_table(conn, dialect)?;
    ::diesel::sql_query(dialect.upsert_instance())
        .into_boxed::<C::Backend>()
        .bind::<Text, _>(row.id.clone())
        .bind::<Text, _>(row.host.clone())
        .bind::<BigInt, _>(row.pid)
        .bind::<Text, _>(row.loaded_versions.clone())
        .bind::<BigInt, _>(row.active_version)
        .bind::<BigInt, _>(row.pinned_version)
        .bind::<Text, _>(row.blind_index_versions.clone())
        .bind::<BigInt, _>(row.active_blind_index_version)
        .bind::<BigInt, _>(row.pinned_blind_index_version)
        .execute(conn)
        .map(drop)
}

fn leave<C, D>(conn: &mut C, dialect: &D, id: &str) -> QueryResult<()>
where
    C: Connection,
    C::Backend: SupportedBackend,
    D: Dialect,
    String: ToSql<Text, C::Backend>,
    for<'q> Query<'q, C::Backend>: ExecuteDsl<C>,
{
    ensure_instances_table(conn, dialect)?;
    ::diesel::sql_query(format!(
        "DELETE FROM {INSTANCES_TABLE} WHERE id = {}",
        dialect.placeholder(1)
    ))
    .into_boxed::<C::Backend>()
    .bind::<Text, _>(id.to_owned())
    .execute(conn)
    .map(drop)
}

fn forget_older_than<C, D>(conn: &mut C, dialect: &D, seconds: i64) -> QueryResult<usize>
where
    C: Connection,
    C::Backend: SupportedBackend,
    D: Dialect,
    i64: ToSql<BigInt, C::Backend>,
    for<'q> Query<'q, C::Backend>: ExecuteDsl<C>,
{
    ensure_instances_table(conn, dialect)?;
    ::diesel::sql_query(format!(
        "DELETE FROM {INSTANCES_TABLE} WHERE checked_in_at < {} - {}",
        dialect.now_seconds(),
        dialect.placeholder(1)
    ))
    .into_boxed::<C::Backend>()
    .bind::<BigInt, _>(seconds)
    .execute(conn)
}

fn seen_within<C, D>(conn: &mut C, dialect: &D, seconds: i64) -> QueryResult<Vec<InstanceRow>>
where
    C: Connection,
    C::Backend: SupportedBackend,
    D: Dialect,
    String: FromSql<Text, C::Backend>,
    i64: ToSql<BigInt, C::Backend> + FromSql<BigInt, C::Backend>,
    for<'q> Query<'q, C::Backend>: LoadQuery<'q, C, InstanceRow> + ExecuteDsl<C>,
{
    ensure_instances_table(conn, dialect)?;
    let now = dialect.now_seconds();
    ::diesel::sql_query(format!(
        "SELECT id, host, pid, loaded_versions, active_version, pinned_version, \
         blind_index_versions, active_blind_index_version, pinned_blind_index_version, \
         {now} - checked_in_at AS age_seconds FROM {INSTANCES_TABLE} \
         WHERE checked_in_at >= {now} - {} ORDER BY host, pid, id",
        dialect.placeholder(1)
    ))
    .into_boxed::<C::Backend>()
    .bind::<BigInt, _>(seconds)
    .load::<InstanceRow>(conn)
}

/// Seconds as the SQL `BIGINT` they are compared with (saturating: a window of centuries is
/// "every row").
fn whole_seconds(window: std::time::Duration) -> i64 {
    i64::try_from(window.as_secs()).unwrap_or(i64::MAX / 2)
}

impl Database {
    /// Records a metadata value, replacing the one recorded under that name, in a transaction
    /// that first checks the lease this connection holds, if any ([`Error::LeaseLost`] when
    /// another run has taken it over).
    ///
    /// [`Error::LeaseLost`]: crate::rotation::Error::LeaseLost
    pub(crate) fn set_metadata(&mut self, name: &str, value: &str) -> Result<()> {
        self.retrying(
            || format!("recording metadata `{name}` in encrypted_field_metadata"),
            |backend, lease| {
                with_backend!(backend, |conn, dialect, _module| {
                    upsert_metadata(conn, dialect, lease, name, value)
                })
            },
        )?;
        self.lease_renewed();
        Ok(())
    }

    /// Inserts or refreshes an instance's row in the instances table, stamped by the database's
    /// clock.
    pub(crate) fn check_in(&mut self, row: &InstanceCheckIn) -> Result<()> {
        with_backend!(&mut self.backend, |conn, dialect, _module| check_in(
            conn, dialect, row
        ))
        .map_err(db_error(format!(
            "recording instance {} (host {}, pid {}) in {INSTANCES_TABLE}",
            row.id, row.host, row.pid
        )))
    }

    /// Removes an instance's row.
    pub(crate) fn leave(&mut self, id: &str) -> Result<()> {
        with_backend!(&mut self.backend, |conn, dialect, _module| leave(
            conn, dialect, id
        ))
        .map_err(db_error(format!(
            "removing instance {id} from {INSTANCES_TABLE}"
        )))
    }

    /// Deletes the rows of instances not seen within `window` (stopped without leaving).
    pub(crate) fn forget_instances_older_than(
        &mut self,
        window: std::time::Duration,
    ) -> Result<usize> {
        let seconds = whole_seconds(window);
        with_backend!(&mut self.backend, |conn, dialect, _module| {
            forget_older_than(conn, dialect, seconds)
        })
        .map_err(db_error(format!(
            "deleting instances not seen for {seconds}s from {INSTANCES_TABLE}"
        )))
    }

    /// The instances that checked in within `window`, by host and pid.
    pub(crate) fn instances_seen_within(
        &mut self,
        window: std::time::Duration,
    ) -> Result<Vec<InstanceRow>> {
        let seconds = whole_seconds(window);
        with_backend!(&mut self.backend, |conn, dialect, _module| seen_within(
            conn, dialect, seconds
        ))
        .map_err(db_error(format!(
            "reading the instances seen in the last {seconds}s from {INSTANCES_TABLE}"
        )))
    }
}
