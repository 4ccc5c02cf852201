//! Diesel integration: [`Encrypted<T, C>`] holds the plaintext in memory and the envelope in the
//! database.
//!
//! `ToSql` seals the value with the process-wide key ring ([`crate::global`]) and its column's
//! context; `FromSql` opens it. It maps to columns declared `Binary` (BLOB / VARBINARY / BYTEA: the
//! envelope's bytes) or `Text` (the envelope's standard base64), on SQLite, MySQL/MariaDB and
//! PostgreSQL, and works with `Queryable`, `Selectable`, `Insertable` and `AsChangeset`; a
//! `Nullable` column is an `Option<Encrypted<T, C>>`.
//!
//! The impls for a backend come with its feature (`sqlite`, `mysql`, `postgres`). For MySQL and
//! PostgreSQL they also come alone, without Diesel's connections and their C client libraries,
//! with `mysql-backend` and `postgres-backend`: what connections that bring their own driver need,
//! such as diesel-async's `AsyncMysqlConnection` (mysql_async) and `AsyncPgConnection`
//! (tokio-postgres), which use Diesel's `Mysql` and `Pg` backends.
//!
//! The smallest complete model, on SQLite:
//!
//! ```
//! # #[cfg(feature = "sqlite")] mod example {
//! use diesel::prelude::*;
//! use encrypted_field::diesel::Encrypted;
//! use encrypted_field::{KeyRing, MasterKey};
//!
//! diesel::table! {
//!     phone_requests (id) {
//!         id -> Integer,
//!         phone_number -> Binary,
//!     }
//! }
//!
//! // Binds each value to its column: copied into another column, it no longer decrypts.
//! encrypted_field::column_context!(PhoneNumber = "phone_requests.phone_number");
//!
//! #[derive(Debug, Queryable, Selectable, Insertable)]
//! #[diesel(table_name = phone_requests)]
//! struct PhoneRequest {
//!     id: i32,
//!     phone_number: Encrypted<String, PhoneNumber>,
//! }
//!
//! pub fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // In production the ring comes from the environment (ENCRYPTED_FIELD_KEYS_DIR, …).
//!     encrypted_field::install(KeyRing::builder().key(1, MasterKey::generate()).build()?)?;
//!
//!     let conn = &mut SqliteConnection::establish(":memory:")?;
//!     diesel::sql_query("CREATE TABLE phone_requests (id INTEGER PRIMARY KEY, phone_number BLOB NOT NULL)")
//!         .execute(conn)?;
//!
//!     let request = PhoneRequest { id: 1, phone_number: Encrypted::new("+1 555 0100".to_owned()) };
//!     diesel::insert_into(phone_requests::table).values(&request).execute(conn)?;
//!
//!     let read = phone_requests::table.select(PhoneRequest::as_select()).first(conn)?;
//!     assert_eq!(*read.phone_number, "+1 555 0100");
//!     assert!(!format!("{read:?}").contains("0100")); // Debug never shows the secret
//!
//!     // What the database holds is an envelope, never the plaintext.
//!     let stored: Vec<u8> = phone_requests::table.select(phone_requests::phone_number).first(conn)?;
//!     assert!(encrypted_field::envelope::is_envelope(&stored));
//!     Ok(())
//! }
//! # }
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! #     #[cfg(feature = "sqlite")] example::main()?;
//! #     Ok(())
//! # }
//! ```
//!
//! # Errors
//!
//! A value that cannot be read (no key ring, a key version that is not loaded, a tampered or
//! truncated value, a value from another column) fails its query with
//! `diesel::result::Error::DeserializationError`, and a value that cannot be written (no key ring)
//! with `SerializationError`; never a panic, never wrong plaintext. Both carry an
//! [`encrypted_field::Error`](crate::Error) that names the column (its context) and the reason.
//! Diesel displays a deserialization error as the failing field's name only, with the reason as
//! its `source()`; a serialization error displays the reason itself:
//!
//! ```
//! fn reason(error: &diesel::result::Error) -> Option<&encrypted_field::Error> {
//!     let mut next: Option<&(dyn std::error::Error + 'static)> = match error {
//!         diesel::result::Error::SerializationError(inner) => Some(&**inner),
//!         other => Some(other),
//!     };
//!     while let Some(e) = next {
//!         if let Some(found) = e.downcast_ref::<encrypted_field::Error>() {
//!             return Some(found);
//!         }
//!         next = e.source();
//!     }
//!     None
//! }
//! ```
//!
//! A failed row fails the query that read it; rows read by other queries are unaffected.

use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};

use ::diesel::deserialize::FromSqlRow;
use ::diesel::expression::AsExpression;
use ::diesel::sql_types::{Binary, Text};

use crate::codec;
use crate::error::{Error, Result};
use crate::format::plaintext::Plaintext;
use crate::format::stored::Storage;
use crate::keys::global::{with_global, with_ring};

mod context;
#[cfg(feature = "mysql-backend")]
mod mysql;
#[cfg(feature = "postgres-backend")]
mod pg;
#[cfg(feature = "sqlite")]
mod sqlite;

pub use context::{ColumnContext, NoContext};

/// A value stored encrypted: plaintext `T` in memory, an envelope bound to the column context `C`
/// in the database (see the [module documentation](self) for a complete model).
///
/// `T` is any [`Plaintext`]: `String`, `Vec<u8>`, the integer types, `bool`. `C` is a
/// [`ColumnContext`] declared with [`column_context!`](crate::column_context); the default,
/// [`NoContext`], binds the empty context.
///
/// `Debug` never shows the value.
///
/// ```
/// use encrypted_field::diesel::Encrypted;
/// let phone: Encrypted<String> = "+1 555 0100".to_owned().into();
/// assert_eq!(phone.len(), 11); // Deref to the plaintext
/// assert_eq!(format!("{phone:?}"), r#"Encrypted { context: "", value: "<redacted>" }"#);
/// assert_eq!(phone.into_inner(), "+1 555 0100");
/// ```
#[derive(AsExpression, FromSqlRow)]
#[diesel(sql_type = Binary)]
#[diesel(sql_type = Text)]
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
    /// use encrypted_field::diesel::Encrypted;
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

/// What every backend shares: seal a value for a column, open a column's bytes, through the
/// crate's one codec of the stored form (`crate::codec`). The backend files only move these bytes
/// in and out of Diesel's buffers.
impl<T: Plaintext, C: ColumnContext> Encrypted<T, C> {
    /// What a column of `storage` stores for this value: the envelope, or its standard base64.
    fn seal(&self, storage: Storage) -> Result<Vec<u8>> {
        with_ring(|ring| codec::seal(ring, storage, C::CONTEXT, &self.value.to_plaintext()))
            .map_err(in_column::<C>)
    }

    /// Opens what a column of `storage` stores.
    fn open(storage: Storage, stored: &[u8]) -> Result<Self> {
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
