//! [`RowBound<C>`]: the row-bound form of a column context, for [`Encrypted<T, RowBound<C>>`]
//! without the derive. A row-bound value cannot go through `ToSql`, which does not know the row:
//! it is sealed and opened with the row's key, by [`Encrypted::seal_for_row`] and
//! [`Encrypted::open_for_row`].

use std::fmt;
use std::marker::PhantomData;

use super::{ColumnContext, Encrypted};
use crate::codec;
use crate::error::{Error, Result};
use crate::format::plaintext::{Plaintext, string_from_plaintext};
use crate::format::row_context::Binding;
use crate::format::row_key::{AsRowKey, RowKey};
use crate::format::stored::Storage;
use crate::keys::global::{with_global, with_ring};

/// The column context `C` with the row's primary key bound in as well (`FORMAT.md`, "Row-bound
/// contexts"): a value of `Encrypted<T, RowBound<C>>` copied into another row of the column
/// fails to decrypt.
///
/// It is deliberately not a [`ColumnContext`]: such a value has no `ToSql`/`FromSql` (nor sqlx
/// `Encode`/`Decode`), because those never see the row's key, so it cannot be written without
/// it. Seal it into the column's raw bytes with [`Encrypted::seal_for_row`] (binary columns) or
/// [`Encrypted::seal_for_row_text`] (base64 in text columns), and open what was read with
/// [`Encrypted::open_for_row`] / [`Encrypted::open_for_row_text`].
///
/// ```
/// use encrypted_field::{Encrypted, Error, KeyRing, MasterKey, RowBound};
/// # encrypted_field::install(KeyRing::builder().key(1, MasterKey::generate()).build()?)?;
/// encrypted_field::column_context!(Ssn = "customers._ssn");
/// type RowSsn = Encrypted<String, RowBound<Ssn>>;
///
/// let ssn = RowSsn::new("078-05-1120".to_owned());
/// let stored: Vec<u8> = ssn.seal_for_row(&7_i64)?;                  // what column `_ssn` of row 7 holds
/// assert_eq!(*RowSsn::open_for_row(&stored, &7_i64)?, "078-05-1120");
/// let copied = RowSsn::open_for_row(&stored, &8_i64).unwrap_err();  // the same bytes in row 8
/// assert!(copied.to_string().contains("row `8`"));
/// assert!(matches!(ssn.seal_for_row(&None::<i64>), Err(Error::RowKeyUnknown { .. })));
/// # Ok::<(), Error>(())
/// ```
///
/// Diesel cannot write one without its key: with a column context the insert below compiles,
/// with `RowBound` it does not (no `ToSql`).
///
#[cfg_attr(feature = "sqlite", doc = "```compile_fail")]
#[cfg_attr(not(feature = "sqlite"), doc = "```ignore")]
/// use diesel::prelude::*;
/// use encrypted_field::{Encrypted, RowBound};
/// encrypted_field::column_context!(Ssn = "people._ssn");
/// diesel::table! { people (id) { id -> Integer, _ssn -> Binary, } }
///
/// fn insert(conn: &mut SqliteConnection, ssn: Encrypted<String, RowBound<Ssn>>) -> QueryResult<usize> {
///     diesel::insert_into(people::table).values(people::_ssn.eq(ssn)).execute(conn)
/// }
/// ```
///
#[cfg_attr(feature = "sqlite", doc = "```no_run")]
#[cfg_attr(not(feature = "sqlite"), doc = "```ignore")]
/// # use diesel::prelude::*;
/// # use encrypted_field::Encrypted;
/// # encrypted_field::column_context!(Ssn = "people._ssn");
/// # diesel::table! { people (id) { id -> Integer, _ssn -> Binary, } }
/// fn insert(conn: &mut SqliteConnection, ssn: Encrypted<String, Ssn>) -> QueryResult<usize> {
///     diesel::insert_into(people::table).values(people::_ssn.eq(ssn)).execute(conn)
/// }
/// ```
pub struct RowBound<C>(PhantomData<fn() -> C>);

impl<C: ColumnContext> fmt::Debug for RowBound<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RowBound").field(&C::CONTEXT).finish()
    }
}

impl<T, C: ColumnContext> fmt::Debug for Encrypted<T, RowBound<C>> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Encrypted")
            .field("context", &C::CONTEXT)
            .field("bound_to_row", &true)
            .field("value", &"<redacted>")
            .finish()
    }
}

impl<T: Plaintext, C: ColumnContext> Encrypted<T, RowBound<C>> {
    /// Seals the value for the binary column `C` of the row whose primary key is `row`, with the
    /// active key of the process-wide ring: the envelope's bytes.
    ///
    /// # Errors
    ///
    /// [`Error::RowKeyUnknown`] when `row` is `None` (a key the database has not assigned yet);
    /// otherwise as [`encrypted_field::encrypt`](crate::encrypt).
    pub fn seal_for_row(&self, row: &impl AsRowKey) -> Result<Vec<u8>> {
        self.seal_stored(Storage::Binary, row)
    }

    /// Seals the value for the text column `C` of the row `row`: the envelope's standard base64.
    ///
    /// # Errors
    ///
    /// As [`seal_for_row`](Self::seal_for_row).
    pub fn seal_for_row_text(&self, row: &impl AsRowKey) -> Result<String> {
        self.seal_stored(Storage::Text, row)
            .and_then(string_from_plaintext)
    }

    /// Opens what the binary column `C` of the row `row` holds.
    ///
    /// # Errors
    ///
    /// [`Error::RowAuthentication`] (naming the column and the row) when the value belongs to
    /// another row or column, or was tampered with; [`Error::RowKeyUnknown`] when `row` is `None`.
    pub fn open_for_row(stored: &[u8], row: &impl AsRowKey) -> Result<Self> {
        Self::open_stored(Storage::Binary, stored, row)
    }

    /// Opens what the text column `C` of the row `row` holds (standard base64).
    ///
    /// # Errors
    ///
    /// As [`open_for_row`](Self::open_for_row).
    pub fn open_for_row_text(stored: &str, row: &impl AsRowKey) -> Result<Self> {
        Self::open_stored(Storage::Text, stored.as_bytes(), row)
    }

    fn seal_stored(&self, storage: Storage, row: &impl AsRowKey) -> Result<Vec<u8>> {
        let key = row_key::<C>(row)?;
        with_ring(|ring| {
            codec::seal(
                ring,
                storage,
                Binding::row(C::CONTEXT, &key),
                &self.value.to_plaintext(),
            )
        })
        .map_err(|error| error.in_column(C::CONTEXT))
    }

    fn open_stored(storage: Storage, stored: &[u8], row: &impl AsRowKey) -> Result<Self> {
        let key = row_key::<C>(row)?;
        with_global(|ring| codec::open(ring, storage, Binding::row(C::CONTEXT, &key), stored))
            .and_then(|(_, mut plaintext)| T::from_plaintext(std::mem::take(&mut *plaintext)))
            .map(Self::new)
            .map_err(|error| error.in_column(C::CONTEXT))
    }
}

/// The canonical key of `row`, or [`Error::RowKeyUnknown`] for column `C`.
fn row_key<C: ColumnContext>(row: &impl AsRowKey) -> Result<RowKey> {
    row.row_key().ok_or_else(|| Error::RowKeyUnknown {
        context: C::CONTEXT.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::column_context!(Ssn = "customers._ssn");

    #[test]
    fn debug_is_redacted_and_says_the_value_is_row_bound() {
        let value = Encrypted::<String, RowBound<Ssn>>::new("078-05-1120".to_owned());
        let text = format!("{value:?}");
        assert!(!text.contains("1120"), "{text}");
        assert!(text.contains("bound_to_row: true"), "{text}");
    }
}
