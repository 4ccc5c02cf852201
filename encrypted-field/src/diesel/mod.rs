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

#[cfg(feature = "mysql-backend")]
mod mysql;
#[cfg(feature = "postgres-backend")]
mod pg;
#[cfg(feature = "sqlite")]
mod sqlite;

pub use crate::encrypted::{ColumnContext, Encrypted, NoContext};
