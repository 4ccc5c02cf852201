//! SQLite: sealed bytes become owned bind values (`Output::set_value`); read values are borrowed
//! from SQLite's own buffer, never copied.

use ::diesel::deserialize::{self, FromSql};
use ::diesel::serialize::{self, IsNull, Output, ToSql};
use ::diesel::sql_types::{Binary, Text};
use ::diesel::sqlite::{Sqlite, SqliteValue};

use super::{ColumnContext, Encrypted};
use crate::format::plaintext::{Plaintext, string_from_plaintext};
use crate::format::stored::Storage;

impl<T: Plaintext, C: ColumnContext> ToSql<Binary, Sqlite> for Encrypted<T, C> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.seal(Storage::Binary)?);
        Ok(IsNull::No)
    }
}

impl<T: Plaintext, C: ColumnContext> ToSql<Text, Sqlite> for Encrypted<T, C> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        // Base64 is ASCII: the conversion cannot fail.
        out.set_value(string_from_plaintext(self.seal(Storage::Text)?)?);
        Ok(IsNull::No)
    }
}

impl<T: Plaintext, C: ColumnContext> FromSql<Binary, Sqlite> for Encrypted<T, C> {
    fn from_sql(mut value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        Ok(Self::open(Storage::Binary, value.read_blob())?)
    }
}

impl<T: Plaintext, C: ColumnContext> FromSql<Text, Sqlite> for Encrypted<T, C> {
    fn from_sql(mut value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        Ok(Self::open(Storage::Text, value.read_text().as_bytes())?)
    }
}
