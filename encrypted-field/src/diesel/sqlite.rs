//! SQLite: sealed bytes become owned bind values (`Output::set_value`); read values are borrowed
//! from SQLite's own buffer, never copied.

use ::diesel::deserialize::{self, FromSql};
use ::diesel::serialize::{self, IsNull, Output, ToSql};
use ::diesel::sql_types::{Binary, Text};
use ::diesel::sqlite::{Sqlite, SqliteValue};

use super::{ColumnContext, Encrypted};
use crate::plaintext::Plaintext;

impl<T: Plaintext, C: ColumnContext> ToSql<Binary, Sqlite> for Encrypted<T, C> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.seal()?);
        Ok(IsNull::No)
    }
}

impl<T: Plaintext, C: ColumnContext> ToSql<Text, Sqlite> for Encrypted<T, C> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.seal_base64()?);
        Ok(IsNull::No)
    }
}

impl<T: Plaintext, C: ColumnContext> FromSql<Binary, Sqlite> for Encrypted<T, C> {
    fn from_sql(mut value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        Ok(Self::open(value.read_blob())?)
    }
}

impl<T: Plaintext, C: ColumnContext> FromSql<Text, Sqlite> for Encrypted<T, C> {
    fn from_sql(mut value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        Ok(Self::open_base64(value.read_text().as_bytes())?)
    }
}
