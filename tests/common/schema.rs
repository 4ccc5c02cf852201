//! The tables and models of the integration tests, in one place (as Diesel's own tests keep
//! theirs in `schema`): each test binary creates the tables it uses, per backend, as TEMPORARY
//! tables of its connection.

use diesel::prelude::*;
use encrypted_field::EncryptedModel;
use encrypted_field::diesel::Encrypted;

diesel::table! {
    customers (id) {
        id -> Integer,
        name -> Text,
        _ssn -> Nullable<Binary>,
        phone -> Binary,
        phone_bidx -> Binary,
        _email -> Nullable<Text>,
        email_bidx -> Nullable<Text>,
    }
}

/// The Django seed's `_ssn` BinaryField + `ssn` property, and more: a renamed column with a
/// binary blind index, and a base64 TEXT column with a text blind index.
#[derive(
    Debug,
    Default,
    Clone,
    Queryable,
    Selectable,
    Insertable,
    AsChangeset,
    Identifiable,
    EncryptedModel,
)]
#[diesel(table_name = customers)]
pub struct Customer {
    pub id: i32,
    pub name: String,
    #[encrypted]
    pub _ssn: Option<Vec<u8>>,
    #[encrypted(name = "phone", blind_index = "phone_bidx", normalize = digits)]
    #[diesel(column_name = phone)]
    pub _phone: Vec<u8>,
    pub phone_bidx: Vec<u8>,
    #[encrypted(blind_index = "email_bidx", normalize = lowercase)]
    pub _email: Option<String>,
    pub email_bidx: Option<String>,
}

diesel::table! {
    secrets (id) {
        id -> Integer,
        secret_bin -> Binary,
        secret_text -> Text,
        maybe_bin -> Nullable<Binary>,
        maybe_text -> Nullable<Text>,
    }
}

encrypted_field::column_context!(pub SecretBin = "secrets.secret_bin");
encrypted_field::column_context!(pub SecretText = "secrets.secret_text");
encrypted_field::column_context!(pub MaybeBin = "secrets.maybe_bin");
encrypted_field::column_context!(pub MaybeText = "secrets.maybe_text");

/// `Encrypted<T>` columns of every storage: binary and base64 text, required and nullable.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset, Identifiable)]
#[diesel(table_name = secrets, treat_none_as_null = true)]
pub struct Secret {
    pub id: i32,
    pub secret_bin: Encrypted<String, SecretBin>,
    pub secret_text: Encrypted<String, SecretText>,
    pub maybe_bin: Option<Encrypted<Vec<u8>, MaybeBin>>,
    pub maybe_text: Option<Encrypted<i64, MaybeText>>,
}

diesel::table! {
    phone_requests (id) {
        id -> Integer,
        phone_number -> Binary,
    }
}

encrypted_field::column_context!(pub PhoneNumber = "phone_requests.phone_number");

/// The Node seed's table: one encrypted phone number.
#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = phone_requests)]
pub struct PhoneRequest {
    pub id: i32,
    pub phone_number: Encrypted<String, PhoneNumber>,
}

#[cfg(feature = "json")]
diesel::table! {
    profiles (id) {
        id -> Integer,
        address -> Nullable<Text>,
    }
}

#[cfg(feature = "json")]
encrypted_field::column_context!(pub Address = "profiles.address");

/// A serde value stored as encrypted JSON.
#[cfg(feature = "json")]
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PostalAddress {
    pub street: String,
    pub city: String,
    pub lines: Vec<String>,
}

/// A nullable column of encrypted JSON.
#[cfg(feature = "json")]
#[derive(Debug, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = profiles)]
pub struct Profile {
    pub id: i32,
    pub address: Option<Encrypted<encrypted_field::Json<PostalAddress>, Address>>,
}
