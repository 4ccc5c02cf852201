//! PostgreSQL: sealed bytes are written into Diesel's bind buffer; read values are borrowed
//! from the row, never copied.

use std::io::Write as _;

use ::diesel::deserialize::{self, FromSql};
use ::diesel::pg::{Pg, PgValue};
use ::diesel::serialize::{self, IsNull, Output, ToSql};
use ::diesel::sql_types::{Binary, Text};

use super::{ColumnContext, Encrypted};
use crate::format::plaintext::Plaintext;
use crate::format::stored::Storage;

impl<T: Plaintext, C: ColumnContext> ToSql<Binary, Pg> for Encrypted<T, C> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        out.write_all(&self.seal(Storage::Binary)?)?;
        Ok(IsNull::No)
    }
}

impl<T: Plaintext, C: ColumnContext> ToSql<Text, Pg> for Encrypted<T, C> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        out.write_all(&self.seal(Storage::Text)?)?;
        Ok(IsNull::No)
    }
}

impl<T: Plaintext, C: ColumnContext> FromSql<Binary, Pg> for Encrypted<T, C> {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
        Ok(Self::open(Storage::Binary, value.as_bytes())?)
    }
}

impl<T: Plaintext, C: ColumnContext> FromSql<Text, Pg> for Encrypted<T, C> {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
        Ok(Self::open(Storage::Text, value.as_bytes())?)
    }
}
