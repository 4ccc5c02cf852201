//! The `phone_requests` table and its models: the Node seed's table, with `phone_number` stored as
//! ciphertext and `phone_bidx` as its blind index.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use encrypted_field::EncryptedModel;

diesel::table! {
    /// One request for a call back. `phone_number` holds a format-v1 envelope; `phone_bidx` the
    /// HMAC of the phone's digits under the blind-index key.
    phone_requests (id) {
        id -> Integer,
        requester_name -> Text,
        phone_number -> Binary,
        phone_bidx -> Binary,
        created_at -> Timestamp,
    }
}

/// The column context of `phone_number` (`table.column`), as the derive binds it into every
/// value: copied into another column, a value no longer decrypts.
pub const PHONE_CONTEXT: &str = "phone_requests.phone_number";

/// A row as stored: `phone_number` is the envelope, `phone()` / `phone_with(&ring)` decrypt it.
/// Every value is bound to [`PHONE_CONTEXT`].
///
/// The derive also registers the table for the embedded `rotate`, `verify` and `status`.
#[derive(Debug, Clone, Queryable, Selectable, EncryptedModel)]
#[diesel(table_name = phone_requests)]
pub struct PhoneRequest {
    pub id: i32,
    pub requester_name: String,
    #[encrypted(name = "phone", blind_index = "phone_bidx", normalize = digits)]
    pub phone_number: Vec<u8>,
    pub phone_bidx: Vec<u8>,
    pub created_at: NaiveDateTime,
}

/// A row to insert: the database assigns `id`. `set_phone_with` fills `phone_number` and
/// `phone_bidx` together.
#[derive(Debug, Clone, Default, Insertable, EncryptedModel)]
#[diesel(table_name = phone_requests)]
#[encrypted_model(primary_key = "id", primary_key_type = i32)]
pub struct NewPhoneRequest {
    pub requester_name: String,
    #[encrypted(name = "phone", blind_index = "phone_bidx", normalize = digits)]
    pub phone_number: Vec<u8>,
    pub phone_bidx: Vec<u8>,
    pub created_at: NaiveDateTime,
}

/// A new phone number for an existing row: the envelope and its blind index change together.
#[derive(Debug, Clone, Default, AsChangeset, EncryptedModel)]
#[diesel(table_name = phone_requests)]
#[encrypted_model(primary_key = "id", primary_key_type = i32)]
pub struct PhoneChange {
    #[encrypted(name = "phone", blind_index = "phone_bidx", normalize = digits)]
    pub phone_number: Vec<u8>,
    pub phone_bidx: Vec<u8>,
}
