//! What every statement of [`Database`](super::Database) needs of a Diesel backend: the three SQL
//! types they bind (a leaf, named by the statement files).

use ::diesel::backend::Backend;
use ::diesel::sql_types::{BigInt, Binary, HasSqlType, Text};

/// What every statement here needs of a backend.
pub(super) trait SupportedBackend:
    Backend + HasSqlType<BigInt> + HasSqlType<Text> + HasSqlType<Binary> + Sized
{
}

impl<DB> SupportedBackend for DB where
    DB: Backend + HasSqlType<BigInt> + HasSqlType<Text> + HasSqlType<Binary>
{
}
