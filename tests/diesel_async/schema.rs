//! The two tables of the rotation scenario (`rotation.rs`): real tables, not TEMPORARY ones,
//! because the rotation reaches them through a connection of its own. Their names are this
//! suite's alone, so no other test's tables are touched.

use diesel::prelude::*;
use encrypted_field::EncryptedModel;
use encrypted_field::diesel::Encrypted;

diesel::table! {
    async_secrets (id) {
        id -> Integer,
        secret -> Binary,
        note -> Nullable<Text>,
    }
}

encrypted_field::column_context!(pub SecretContext = "async_secrets.secret");
encrypted_field::column_context!(pub NoteContext = "async_secrets.note");

/// `Encrypted<T, C>` columns: binary, and nullable base64 text.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = async_secrets)]
pub struct AsyncSecret {
    pub id: i32,
    pub secret: Encrypted<String, SecretContext>,
    pub note: Option<Encrypted<String, NoteContext>>,
}

diesel::table! {
    async_customers (id) {
        id -> Integer,
        _ssn -> Nullable<Binary>,
        _phone -> Binary,
        phone_bidx -> Binary,
    }
}

/// A derived model with a nullable column and a blind-indexed one.
#[derive(Debug, Default, Clone, Queryable, Selectable, Insertable, EncryptedModel)]
#[diesel(table_name = async_customers)]
pub struct AsyncCustomer {
    pub id: i32,
    #[encrypted]
    pub _ssn: Option<Vec<u8>>,
    #[encrypted(blind_index = "phone_bidx", normalize = digits)]
    pub _phone: Vec<u8>,
    pub phone_bidx: Vec<u8>,
}
