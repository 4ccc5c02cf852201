//! `#[derive(EncryptedModel)]`, re-exported by `encrypted-field` (feature `derive`): use it from
//! there, as `encrypted_field::EncryptedModel`.
//!
//! The crate is staged like `thiserror` and `serde_derive`: `attr.rs` reads the attributes,
//! `ast.rs` builds a plain description of the struct, `valid.rs` checks it and resolves every
//! name (reporting all mistakes together, each at its token), and `expand.rs` writes the code
//! (`fallback.rs` after an error). Only `attr.rs` and `valid.rs` report user errors; expansion
//! cannot fail.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod ast;
mod attr;
mod ctxt;
mod expand;
mod fallback;
mod valid;

#[cfg(test)]
mod tests;

use proc_macro::TokenStream;

/// Generates, for a struct that stores ciphertext in `#[encrypted]` fields, the plaintext
/// accessors of each field and an `encrypted_field::EncryptedModel` implementation describing
/// the table, and registers the model for `encrypted_field::model::Registry::discovered`.
///
/// ```text
/// #[derive(Queryable, Selectable, Insertable, EncryptedModel)]
/// #[diesel(table_name = customers)]           // or #[encrypted_model(table = "customers")]
/// struct Customer {
///     id: i32,                                 // the primary key: `id`, #[diesel(primary_key(..))]
///                                              // or #[encrypted_model(primary_key = "..")]
///     #[encrypted]                             // ssn(), set_ssn(), clear_ssn(), ssn_with(&ring), ..
///     _ssn: Option<Vec<u8>>,                   // Option: a nullable column; String: base64 in TEXT
///     #[encrypted(name = "phone", blind_index = "phone_bidx", normalize = digits)]
///     _phone_number: Vec<u8>,                  // set_phone() also fills phone_bidx;
///     phone_bidx: Vec<u8>,                     // Customer::phone_index("..") is what to filter by
///     #[encrypted(ty = i64)]                   // decrypts into another `Plaintext` type
///     _credit_limit: Vec<u8>,
/// }
/// ```
///
/// Field keys: `name` (accessor name, default: the field name without its leading `_`), `ty`
/// (plaintext type, default `String`), `blind_index` (the field holding the index: `Vec<u8>` for
/// 32 raw bytes, `String` for 64 hex digits), `normalize` (`exact`, `digits`, `lowercase` or the
/// path of a `fn(&str) -> Cow<str>`), `column` (the SQL column, when it differs from Diesel's),
/// `bind_row` (bind each value to the row's primary key as well, read from the key field, which
/// must be in the struct: an integer, `String`, `uuid::Uuid`, or an `Option` of one while the
/// database has not assigned it). The context bound into each value is `table.column` (with the
/// key, in the row-bound encoding of `FORMAT.md`, for `bind_row`).
#[proc_macro_derive(EncryptedModel, attributes(encrypted, encrypted_model))]
pub fn derive_encrypted_model(input: TokenStream) -> TokenStream {
    expand::derive_encrypted_model_inner(input.into()).into()
}
