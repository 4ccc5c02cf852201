//! [`Encrypted<T, C>`]: the plaintext in memory, the envelope in the database, whichever library
//! moves it there. The Diesel impls are in `crate::diesel` (features `sqlite`, `mysql`,
//! `postgres`, `*-backend`), the sqlx impls in `crate::sqlx` (feature `sqlx`); both seal and open
//! through `Encrypted::seal` and `Encrypted::open` here, so a value written through one is
//! read through the other.

use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};

use crate::codec;
use crate::error::{Error, Result};
use crate::format::plaintext::Plaintext;
use crate::format::stored::Storage;
use crate::keys::global::{with_global, with_ring};

mod context;
mod row_bound;

pub use context::{ColumnContext, NoContext};
pub use row_bound::RowBound;

/// A value stored encrypted: plaintext `T` in memory, an envelope bound to the column context `C`
/// in the database. With Diesel it maps to `Binary` and `Text` columns (`encrypted_field::diesel`
/// has a complete model); with sqlx to binary columns, and `sqlx::EncryptedText<T, C>` to text
/// columns (`encrypted_field::sqlx`, feature `sqlx`).
///
/// `T` is any [`Plaintext`]: `String`, `Vec<u8>`, the integer types, `bool`. `C` is a
/// [`ColumnContext`] declared with [`column_context!`](crate::column_context); the default,
/// [`NoContext`], binds the empty context.
///
/// `Debug` never shows the value.
///
/// ```
/// use encrypted_field::Encrypted;
/// let phone: Encrypted<String> = "+1 555 0100".to_owned().into();
/// assert_eq!(phone.len(), 11); // Deref to the plaintext
/// assert_eq!(format!("{phone:?}"), r#"Encrypted { context: "", value: "<redacted>" }"#);
/// assert_eq!(phone.into_inner(), "+1 555 0100");
/// ```
// The Diesel derives name their own crate as `diesel`, which is why this type lives in a module
// with no item of that name.
#[cfg_attr(
    feature = "_diesel",
    derive(::diesel::expression::AsExpression, ::diesel::deserialize::FromSqlRow),
    diesel(sql_type = ::diesel::sql_types::Binary),
    diesel(sql_type = ::diesel::sql_types::Text)
)]
pub struct Encrypted<T, C = NoContext> {
    value: T,
    // `fn() -> C`: the context is a type-level name only, so it never affects Send, Sync or drop.
    context: PhantomData<fn() -> C>,
}

impl<T, C> Encrypted<T, C> {
    /// Wraps a plaintext value.
    pub const fn new(value: T) -> Self {
        Self {
            value,
            context: PhantomData,
        }
    }

    /// The plaintext value.
    pub fn into_inner(self) -> T {
        self.value
    }
}

impl<T, C: ColumnContext> Encrypted<T, C> {
    /// The column context values of this type are bound to.
    ///
    /// ```
    /// use encrypted_field::Encrypted;
    /// encrypted_field::column_context!(Ssn = "customers._ssn");
    /// assert_eq!(Encrypted::<String, Ssn>::context(), "customers._ssn");
    /// ```
    pub const fn context() -> &'static str {
        C::CONTEXT
    }
}

impl<T, C> From<T> for Encrypted<T, C> {
    fn from(value: T) -> Self {
        Self::new(value)
    }
}

impl<T, C> Deref for Encrypted<T, C> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T, C> DerefMut for Encrypted<T, C> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

impl<T: Clone, C> Clone for Encrypted<T, C> {
    fn clone(&self) -> Self {
        Self::new(self.value.clone())
    }
}

impl<T: PartialEq, C> PartialEq for Encrypted<T, C> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<T: Eq, C> Eq for Encrypted<T, C> {}

impl<T: Default, C> Default for Encrypted<T, C> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T, C: ColumnContext> fmt::Debug for Encrypted<T, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Encrypted")
            .field("context", &C::CONTEXT)
            .field("value", &"<redacted>")
            .finish()
    }
}

/// What every backend of every library shares: seal a value for a column, open a column's bytes,
/// through the crate's one codec of the stored form (`crate::codec`). The Diesel and sqlx impls
/// only move these bytes in and out of their library's buffers.
impl<T: Plaintext, C: ColumnContext> Encrypted<T, C> {
    /// What a column of `storage` stores for this value: the envelope, or its standard base64.
    pub(crate) fn seal(&self, storage: Storage) -> Result<Vec<u8>> {
        with_ring(|ring| codec::seal(ring, storage, C::CONTEXT, &self.value.to_plaintext()))
            .map_err(in_column::<C>)
    }

    /// Opens what a column of `storage` stores.
    pub(crate) fn open(storage: Storage, stored: &[u8]) -> Result<Self> {
        // A value of a version this process has not loaded yet reloads the ring (rate-limited)
        // and is opened once more: another host may have provisioned it a moment ago.
        with_global(|ring| codec::open(ring, storage, C::CONTEXT, stored))
            .and_then(|(_, mut plaintext)| T::from_plaintext(std::mem::take(&mut *plaintext)))
            .map(Self::new)
            .map_err(in_column::<C>)
    }
}

/// Names the column in an error that does not already name it.
#[cold]
fn in_column<C: ColumnContext>(error: Error) -> Error {
    error.in_column(C::CONTEXT)
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::column_context!(Phone = "phone_requests.phone_number");

    #[test]
    fn debug_is_redacted_and_names_the_context() {
        let value = Encrypted::<String, Phone>::new("+1 555 0100".to_owned());
        let text = format!("{value:?}");
        assert!(!text.contains("0100"), "{text}");
        assert!(text.contains("phone_requests.phone_number"), "{text}");
    }

    #[test]
    fn errors_name_the_column_once() {
        let wrapped = in_column::<Phone>(Error::UnknownKeyVersion(
            crate::keys::version::KeyVersion::new(9),
        ));
        assert_eq!(
            wrapped.to_string(),
            "column `phone_requests.phone_number`: key version v9 is not in the key ring \
             (the value was written with a key that is not loaded)"
        );
        let auth = in_column::<Phone>(Error::Authentication {
            context: Phone::CONTEXT.to_owned(),
        });
        assert_eq!(
            auth.to_string()
                .matches("phone_requests.phone_number")
                .count(),
            1
        );
        assert!(matches!(
            in_column::<NoContext>(Error::NoKeyConfigured),
            Error::NoKeyConfigured
        ));
    }

    #[test]
    fn equality_and_clone_follow_the_plaintext() {
        let a = Encrypted::<Vec<u8>>::from(vec![1, 2]);
        assert_eq!(a.clone(), a);
        assert_ne!(a, Encrypted::from(vec![3]));
    }
}
