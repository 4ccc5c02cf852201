//! The statements of parallel passes (`rotate --workers N`, `rotate --join`): a pass's job and its
//! chunks are rows of the project's own tables in the database itself, the one coordinator every
//! worker on every host already shares.
//!
//! - `encrypted_field_jobs`: the pass in progress (at most one: it runs under the rotation lease),
//!   with what a joining worker must know to do the same work: the operation, the active key
//!   version, whether it writes.
//! - `encrypted_field_chunks`: its chunks, each a range of one table's primary keys, `done` once a
//!   worker has scanned it, with that worker's counts (`result`, JSON) for the merged report.
//!
//! A worker takes a chunk by taking the lease `chunk:<job>:<n>` (`lease.rs`: one conditional
//! update, expiry by the database's clock, a fencing counter), and marks it done in a transaction
//! fenced by that lease: a worker killed mid-chunk loses only its lease, and the chunk is taken
//! again when the lease expires. Its batches are fenced by the same lease.

use ::diesel::connection::Connection;
use ::diesel::deserialize::{FromSql, QueryableByName};
use ::diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use ::diesel::query_dsl::RunQueryDsl;
use ::diesel::query_dsl::methods::{ExecuteDsl, LoadQuery};
use ::diesel::result::QueryResult;
use ::diesel::serialize::ToSql;
use ::diesel::sql_types::{BigInt, Nullable, Text};

use super::Dialect;
use super::lease::{HeldLease, LEASES_TABLE, WriteError, create_if_missing, fence};
use super::supported_backend::SupportedBackend;

type Query<'q, DB> = BoxedSqlQuery<'q, DB, SqlQuery>;

/// The table of parallel passes in progress.
pub const JOBS_TABLE: &str = "encrypted_field_jobs";
/// The table of their chunks.
pub const CHUNKS_TABLE: &str = "encrypted_field_chunks";
/// What every chunk lease's name starts with.
pub(crate) const CHUNK_LEASE_PREFIX: &str = "chunk:";

/// A parallel pass, as its row says.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub(crate) struct JobRow {
    /// Random, per pass.
    #[diesel(sql_type = Text)]
    pub job: String,
    /// `rotate`, `migrate`, `reindex` or `verify`.
    #[diesel(sql_type = Text)]
    pub operation: String,
    /// The key version the pass writes (and that a joining worker's ring must have active).
    #[diesel(sql_type = BigInt)]
    pub active_version: i64,
    /// 1 when the pass writes, 0 for a dry run or a verification.
    #[diesel(sql_type = BigInt)]
    pub writes: i64,
}

/// One chunk: the rows of `table_name` after `after_key` and up to `until_key` (keys as text: an
/// integer key's decimal digits), unbounded where NULL.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub(crate) struct ChunkRow {
    #[diesel(sql_type = BigInt)]
    pub chunk: i64,
    #[diesel(sql_type = Text)]
    pub table_name: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub after_key: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub until_key: Option<String>,
}

impl ChunkRow {
    /// The name of the lease a worker holds while it scans this chunk of `job`.
    pub(crate) fn lease_name(&self, job: &str) -> String {
        format!("{CHUNK_LEASE_PREFIX}{job}:{}", self.chunk)
    }
}

/// The `result` of a finished chunk.
#[derive(QueryableByName)]
pub(super) struct ResultRow {
    #[diesel(sql_type = Nullable<Text>)]
    result: Option<String>,
}

/// The `done` flag of a chunk.
#[derive(QueryableByName)]
pub(super) struct DoneRow {
    #[diesel(sql_type = BigInt)]
    done: i64,
}

/// Creates both tables if they are missing.
fn create_tables<C, D>(conn: &mut C, dialect: &D) -> QueryResult<()>
where
    C: Connection,
    C::Backend: SupportedBackend,
    D: Dialect,
    for<'q> Query<'q, C::Backend>: ExecuteDsl<C>,
{
    let long_text = dialect.long_text();
    create_if_missing(
        conn,
        &format!(
            "CREATE TABLE IF NOT EXISTS {JOBS_TABLE} (job VARCHAR(64) NOT NULL PRIMARY KEY, \
             operation VARCHAR(16) NOT NULL, active_version BIGINT NOT NULL, \
             writes BIGINT NOT NULL)"
        ),
    )?;
    create_if_missing(
        conn,
        &format!(
            "CREATE TABLE IF NOT EXISTS {CHUNKS_TABLE} (job VARCHAR(64) NOT NULL, \
             chunk BIGINT NOT NULL, table_name VARCHAR(191) NOT NULL, after_key {long_text}, \
             until_key {long_text}, done BIGINT NOT NULL, result {long_text}, \
             PRIMARY KEY (job, chunk))"
        ),
    )
}

/// Removes every job, its chunks and its chunks' leases, in a transaction fenced by `lease` (the
/// rotation lease): the end of a pass, or the leftovers of a run that died.
pub(super) fn delete_jobs<C, D>(
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
    create_tables(conn, dialect)?;
    conn.transaction(|conn| {
        fence(conn, dialect, lease)?;
        for statement in [
            format!("DELETE FROM {CHUNKS_TABLE}"),
            format!("DELETE FROM {JOBS_TABLE}"),
        ] {
            ::diesel::sql_query(statement)
                .into_boxed::<C::Backend>()
                .execute(conn)?;
        }
        ::diesel::sql_query(format!(
            "DELETE FROM {LEASES_TABLE} WHERE name LIKE {}",
            dialect.placeholder(1)
        ))
        .into_boxed::<C::Backend>()
        .bind::<Text, _>(format!("{CHUNK_LEASE_PREFIX}%"))
        .execute(conn)?;
        Ok(())
    })
}

/// Inserts a job and its chunks in one transaction fenced by `lease` (the rotation lease).
pub(super) fn insert_job<C, D>(
    conn: &mut C,
    dialect: &D,
    lease: Option<&HeldLease>,
    job: &JobRow,
    chunks: &[ChunkRow],
) -> Result<(), WriteError>
where
    C: Connection,
    C::Backend: SupportedBackend,
    D: Dialect,
    String: ToSql<Text, C::Backend>,
    i64: ToSql<BigInt, C::Backend>,
    for<'q> Query<'q, C::Backend>: ExecuteDsl<C>,
{
    create_tables(conn, dialect)?;
    let p = |n| dialect.placeholder(n);
    conn.transaction(|conn| {
        fence(conn, dialect, lease)?;
        ::diesel::sql_query(format!(
            "INSERT INTO {JOBS_TABLE} (job, operation, active_version, writes) \
             VALUES ({}, {}, {}, {})",
            p(1),
            p(2),
            p(3),
            p(4)
        ))
        .into_boxed::<C::Backend>()
        .bind::<Text, _>(job.job.clone())
        .bind::<Text, _>(job.operation.clone())
        .bind::<BigInt, _>(job.active_version)
        .bind::<BigInt, _>(job.writes)
        .execute(conn)?;
        for chunk in chunks {
            ::diesel::sql_query(format!(
                "INSERT INTO {CHUNKS_TABLE} \
                 (job, chunk, table_name, after_key, until_key, done, result) \
                 VALUES ({}, {}, {}, {}, {}, 0, NULL)",
                p(1),
                p(2),
                p(3),
                p(4),
                p(5)
            ))
            .into_boxed::<C::Backend>()
            .bind::<Text, _>(job.job.clone())
            .bind::<BigInt, _>(chunk.chunk)
            .bind::<Text, _>(chunk.table_name.clone())
            .bind::<Nullable<Text>, _>(chunk.after_key.clone())
            .bind::<Nullable<Text>, _>(chunk.until_key.clone())
            .execute(conn)?;
        }
        Ok(())
    })
}

/// The job in progress, if any.
pub(super) fn current_job<C, D>(conn: &mut C, dialect: &D) -> QueryResult<Option<JobRow>>
where
    C: Connection,
    C::Backend: SupportedBackend,
    D: Dialect,
    String: FromSql<Text, C::Backend>,
    i64: FromSql<BigInt, C::Backend>,
    for<'q> Query<'q, C::Backend>: ExecuteDsl<C> + LoadQuery<'q, C, JobRow>,
{
    create_tables(conn, dialect)?;
    let rows = ::diesel::sql_query(format!(
        "SELECT job, operation, active_version, writes FROM {JOBS_TABLE} ORDER BY job"
    ))
    .into_boxed::<C::Backend>()
    .load::<JobRow>(conn)?;
    Ok(rows.into_iter().next())
}

/// The chunks of `job` no worker has finished, in order (none once the job is gone). Run only
/// after the job was read or recorded, so the tables exist: no `CREATE` on every poll.
pub(super) fn pending_chunks<C, D>(
    conn: &mut C,
    dialect: &D,
    job: &str,
) -> QueryResult<Vec<ChunkRow>>
where
    C: Connection,
    C::Backend: SupportedBackend,
    D: Dialect,
    String: ToSql<Text, C::Backend> + FromSql<Text, C::Backend>,
    i64: FromSql<BigInt, C::Backend>,
    for<'q> Query<'q, C::Backend>: LoadQuery<'q, C, ChunkRow>,
{
    ::diesel::sql_query(format!(
        "SELECT chunk, table_name, after_key, until_key FROM {CHUNKS_TABLE} \
         WHERE job = {} AND done = 0 ORDER BY chunk",
        dialect.placeholder(1)
    ))
    .into_boxed::<C::Backend>()
    .bind::<Text, _>(job.to_owned())
    .load::<ChunkRow>(conn)
}

/// Whether chunk `chunk` of `job` still waits for a worker (false once done, or once the job is
/// gone).
pub(super) fn chunk_pending<C, D>(
    conn: &mut C,
    dialect: &D,
    job: &str,
    chunk: i64,
) -> QueryResult<bool>
where
    C: Connection,
    C::Backend: SupportedBackend,
    D: Dialect,
    String: ToSql<Text, C::Backend>,
    i64: ToSql<BigInt, C::Backend> + FromSql<BigInt, C::Backend>,
    for<'q> Query<'q, C::Backend>: LoadQuery<'q, C, DoneRow>,
{
    let rows = ::diesel::sql_query(format!(
        "SELECT done FROM {CHUNKS_TABLE} WHERE job = {} AND chunk = {}",
        dialect.placeholder(1),
        dialect.placeholder(2)
    ))
    .into_boxed::<C::Backend>()
    .bind::<Text, _>(job.to_owned())
    .bind::<BigInt, _>(chunk)
    .load::<DoneRow>(conn)?;
    Ok(rows.first().is_some_and(|row| row.done == 0))
}

/// Marks chunk `chunk` of `job` done with the worker's `result`, in a transaction fenced by
/// `lease` (the chunk's lease). Returns whether it was still pending.
pub(super) fn finish_chunk<C, D>(
    conn: &mut C,
    dialect: &D,
    lease: Option<&HeldLease>,
    (job, chunk): (&str, i64),
    result: &str,
) -> Result<bool, WriteError>
where
    C: Connection,
    C::Backend: SupportedBackend,
    D: Dialect,
    String: ToSql<Text, C::Backend>,
    i64: ToSql<BigInt, C::Backend>,
    for<'q> Query<'q, C::Backend>: ExecuteDsl<C>,
{
    let p = |n| dialect.placeholder(n);
    conn.transaction(|conn| {
        fence(conn, dialect, lease)?;
        let updated = ::diesel::sql_query(format!(
            "UPDATE {CHUNKS_TABLE} SET done = 1, result = {} \
             WHERE job = {} AND chunk = {} AND done = 0",
            p(1),
            p(2),
            p(3)
        ))
        .into_boxed::<C::Backend>()
        .bind::<Text, _>(result.to_owned())
        .bind::<Text, _>(job.to_owned())
        .bind::<BigInt, _>(chunk)
        .execute(conn)?;
        Ok(updated == 1)
    })
}

/// The results of every finished chunk of `job`.
pub(super) fn chunk_results<C, D>(conn: &mut C, dialect: &D, job: &str) -> QueryResult<Vec<String>>
where
    C: Connection,
    C::Backend: SupportedBackend,
    D: Dialect,
    String: ToSql<Text, C::Backend> + FromSql<Text, C::Backend>,
    for<'q> Query<'q, C::Backend>: LoadQuery<'q, C, ResultRow>,
{
    let rows = ::diesel::sql_query(format!(
        "SELECT result FROM {CHUNKS_TABLE} WHERE job = {} AND done = 1 ORDER BY chunk",
        dialect.placeholder(1)
    ))
    .into_boxed::<C::Backend>()
    .bind::<Text, _>(job.to_owned())
    .load::<ResultRow>(conn)?;
    Ok(rows.into_iter().filter_map(|row| row.result).collect())
}
