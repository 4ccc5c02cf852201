//! How much a column can hold, as the database's catalog declares it: a blind-index key of
//! version 2 or later writes longer indexes (FORMAT.md, "Blind-index key versions"), and a column
//! too narrow for them would make every application write fail once such a key is active.

use ::diesel::connection::Connection;
use ::diesel::deserialize::{FromSql, QueryableByName};
use ::diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use ::diesel::query_dsl::RunQueryDsl;
use ::diesel::query_dsl::methods::LoadQuery;
use ::diesel::result::QueryResult;
use ::diesel::serialize::ToSql;
use ::diesel::sql_types::{BigInt, Nullable, Text};

#[cfg(feature = "mysql")]
use super::mysql;
#[cfg(feature = "postgres")]
use super::pg;
#[cfg(feature = "sqlite")]
use super::sqlite;
use super::supported_backend::SupportedBackend;
use super::{Backend, Database, Dialect, db_error};
use crate::rotation::error::Result;

type Query<'q, DB> = BoxedSqlQuery<'q, DB, SqlQuery>;

/// One row of the catalog query.
#[derive(Debug, QueryableByName)]
struct Width {
    #[diesel(sql_type = Nullable<BigInt>)]
    width: Option<i64>,
}

/// The catalog query of a backend (binds: table, column), or `None` where columns have no
/// declared width (SQLite).
fn width_query<D: Dialect>(backend: &str, dialect: &D) -> Option<String> {
    let schema = match backend {
        "mysql" => "DATABASE()",
        "postgres" => "current_schema()",
        _ => return None,
    };
    // MySQL's CHARACTER_MAXIMUM_LENGTH is unsigned: cast so both read it as a BIGINT.
    let width = if backend == "mysql" {
        "CAST(character_maximum_length AS SIGNED)"
    } else {
        "CAST(character_maximum_length AS BIGINT)"
    };
    Some(format!(
        "SELECT {width} AS width FROM information_schema.columns \
         WHERE table_schema = {schema} AND table_name = {} AND column_name = {}",
        dialect.placeholder(1),
        dialect.placeholder(2)
    ))
}

fn column_width<C>(conn: &mut C, sql: String, table: &str, column: &str) -> QueryResult<Option<i64>>
where
    C: Connection,
    C::Backend: SupportedBackend,
    String: ToSql<Text, C::Backend>,
    Option<i64>: FromSql<Nullable<BigInt>, C::Backend>,
    for<'q> Query<'q, C::Backend>: LoadQuery<'q, C, Width>,
{
    let rows = ::diesel::sql_query(sql)
        .into_boxed::<C::Backend>()
        .bind::<Text, _>(table.to_owned())
        .bind::<Text, _>(column.to_owned())
        .load::<Width>(conn)?;
    Ok(rows.into_iter().next().and_then(|row| row.width))
}

impl Database {
    /// The most bytes (binary types) or characters (text types) `table.column` holds, when the
    /// catalog declares a limit (`VARBINARY(32)`, `VARCHAR(64)`, `BINARY(32)`); `None` for types
    /// without one (`BYTEA`, PostgreSQL's `TEXT`), for a column the catalog does not show, and on
    /// SQLite, which keeps whatever is written.
    pub(crate) fn column_width(&mut self, table: &str, column: &str) -> Result<Option<u64>> {
        let width = with_backend!(&mut self.backend, |conn, dialect, module| {
            match width_query(module::NAME, dialect) {
                Some(sql) => column_width(conn, sql, table, column),
                None => Ok(None),
            }
        })
        .map_err(db_error(format!(
            "reading the declared width of {table}.{column} from the catalog"
        )))?;
        Ok(width.and_then(|w| u64::try_from(w).ok()))
    }
}
