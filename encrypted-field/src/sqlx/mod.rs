//! sqlx integration (feature `sqlx`): [`Encrypted<T, C>`] in a binary column and
//! [`EncryptedText<T, C>`] in a text column, in `query_as` / `FromRow` structs and as bind
//! parameters, on PostgreSQL, MySQL/MariaDB and SQLite.
//!
//! `Encode` seals the value with the process-wide key ring ([`crate::global`]) and its column's
//! context; `Decode` opens it, through the same codec as the Diesel types, so a row written
//! through one library reads through the other, and rotation, verification, status and migration
//! (which read the database directly) treat it like any other. A `NULL` column is an
//! `Option<Encrypted<T, C>>`.
//!
//! | Rust type                 | stored as               | PostgreSQL | MySQL / MariaDB                   | SQLite |
//! |---------------------------|-------------------------|------------|-----------------------------------|--------|
//! | [`Encrypted<T, C>`]       | the envelope's bytes    | `BYTEA`    | `VARBINARY`, `BLOB` (…`BLOB`)     | `BLOB` |
//! | [`EncryptedText<T, C>`]   | its standard base64     | `TEXT`, `VARCHAR` | `TEXT`, `VARCHAR` (not binary collations) | `TEXT` |
//!
//! sqlx has no SQL type in the Rust type, so the storage is the Rust type's. The impls are
//! written once for every sqlx database, over sqlx's own impls for `Vec<u8>`, `&[u8]`, `String`
//! and `&str`; the one thing added is a stricter column check: sqlx's byte types also read text
//! columns on MySQL and SQLite, but an [`Encrypted`] read from a text column (or an
//! [`EncryptedText`] from a binary one) fails with sqlx's "mismatched types" error naming both
//! types, instead of as a malformed value.
//!
//! The library needs only `sqlx-core` (no runtime, no TLS, no driver): the application's own
//! `sqlx` dependency brings the drivers. sqlx 0.9 needs Rust 1.94.
//!
//! ```
//! use encrypted_field::sqlx::{Encrypted, EncryptedText};
//!
//! encrypted_field::column_context!(Ssn = "customers.ssn");
//! encrypted_field::column_context!(Phone = "customers.phone");
//!
//! // The fields of a `#[derive(sqlx::FromRow)]` struct:
//! struct Customer {
//!     id: i64,
//!     ssn: Option<Encrypted<String, Ssn>>, // BYTEA / BLOB / VARBINARY, NULL allowed
//!     phone: EncryptedText<String, Phone>, // TEXT / VARCHAR, base64
//! }
//!
//! let customer = Customer { id: 1, ssn: None, phone: EncryptedText::new("+1 555 0100".into()) };
//! assert_eq!(*customer.phone, "+1 555 0100"); // Deref to the plaintext
//! assert_eq!(EncryptedText::<String, Phone>::context(), "customers.phone");
//! # let _ = (customer.id, customer.ssn);
//! ```
//!
//! The README's "sqlx" section has a complete program (`tests/sqlx/readme.rs` runs it).
//!
//! # Errors
//!
//! A value that cannot be read (no key ring, a key version that is not loaded, a tampered or
//! truncated value, a value from another column) fails its row with sqlx's
//! `Error::ColumnDecode`, whose `index` is the column's name in the query and whose `source` is
//! this crate's [`Error`](crate::Error), naming the column context and the reason, never the
//! value; a value that cannot be written (no key ring) fails its query with `Error::Encode`.

mod impls;
mod text;

pub use crate::encrypted::{ColumnContext, Encrypted, NoContext};
pub use text::EncryptedText;
