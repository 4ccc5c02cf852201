//! A table whose columns keep blind indexes, described by an application's own model: `phone`
//! (the envelope's bytes; its digits indexed as 32 bytes in `phone_bidx`) and `email` (base64
//! text; lowercased and indexed as hex text in `email_bidx`), all nullable. The model's setters
//! compute the indexes a scenario expects, so a pass is judged against what the application
//! itself would have written.

use std::collections::BTreeMap;

use encrypted_field::model::{KeyKind, ModelSpec, Registry, Storage};
use encrypted_field::rotation::database::{Database, PrimaryKey};
use encrypted_field::{BlindIndexKey, EncryptedModel, KeyRing, MasterKey};

use super::{Backend, Table, read_column, seal};

/// The application's model. Its table name is the context bound into its values
/// (`people.phone`), so a test table of any name can hold them.
#[derive(Debug, Default, EncryptedModel)]
#[encrypted_model(table = "people")]
pub struct Person {
    #[allow(dead_code)] // described by the model, never read here
    id: i32,
    #[encrypted(name = "phone_value", blind_index = "phone_bidx", normalize = digits)]
    phone: Option<Vec<u8>>,
    phone_bidx: Option<Vec<u8>>,
    #[encrypted(name = "email_value", blind_index = "email_bidx", normalize = lowercase)]
    email: Option<String>,
    email_bidx: Option<String>,
}

/// The columns of a people table, in the order [`People::stored`] returns them.
pub const PEOPLE_COLUMNS: &str = "id, phone, phone_bidx, email, email_bidx";

/// A people table of a test, and its registry: `Person`'s columns (contexts, indexes,
/// normalizers) on that table.
#[derive(Debug)]
pub struct People {
    pub table: Table,
    pub registry: Registry,
}

/// One row as stored: phone, phone_bidx, email, email_bidx.
type PersonRow = [Option<Vec<u8>>; 4];

impl People {
    pub fn create(backend: &Backend, db: &mut Database, base: &str) -> Self {
        let table = backend.create_table(
            db,
            base,
            &format!(
                "id {}, phone {} NULL, phone_bidx {} NULL, email {} NULL, email_bidx {} NULL",
                backend.int_key(),
                backend.blob(),
                backend.varbinary(),
                backend.text(),
                backend.text(),
            ),
        );
        let spec = Person::model_spec()
            .columns()
            .iter()
            .fold(ModelSpec::new(table.spec_name(), "id"), |spec, column| {
                spec.column(column.clone())
            });
        let registry = Registry::new().register_spec(spec).unwrap();
        Self { table, registry }
    }

    /// Every row as stored, by key.
    pub fn stored(&self, db: &mut Database) -> BTreeMap<PrimaryKey, PersonRow> {
        let [phone, phone_bidx, email, email_bidx] = [
            ("phone", Storage::Binary),
            ("phone_bidx", Storage::Binary),
            ("email", Storage::Text),
            ("email_bidx", Storage::Text),
        ]
        .map(|(column, storage)| {
            read_column(db, &self.table, "id", KeyKind::Integer, column, storage)
        });
        phone
            .into_iter()
            .map(|(key, phone)| {
                let row = [
                    phone,
                    phone_bidx[&key].clone(),
                    email[&key].clone(),
                    email_bidx[&key].clone(),
                ];
                (key, row)
            })
            .collect()
    }
}

/// `ring` with a blind-index key of its own.
pub fn with_index_key(ring: KeyRing) -> KeyRing {
    ring.with_blind_index_key(BlindIndexKey::new(MasterKey::generate()))
        .unwrap()
}

/// What `Person`'s setter stores in `phone`.
pub fn phone_value(ring: &KeyRing, phone: &str) -> Vec<u8> {
    seal(ring, Storage::Binary, "people.phone", phone.as_bytes())
}

/// What `Person`'s setter stores in `email` (base64 text, as bytes).
pub fn email_value(ring: &KeyRing, email: &str) -> Vec<u8> {
    seal(ring, Storage::Text, "people.email", email.as_bytes())
}

/// What `Person`'s setter stores in `phone_bidx` for `phone`.
pub fn phone_index(ring: &KeyRing, phone: &str) -> Vec<u8> {
    Person::phone_value_index_with(ring, phone).unwrap()
}

/// What `Person`'s setter stores in `email_bidx` for `email` (hex text, as bytes).
pub fn email_index(ring: &KeyRing, email: &str) -> Vec<u8> {
    Person::email_value_index_with(ring, email)
        .unwrap()
        .into_bytes()
}

/// What a lookup for `phone` matches in `phone_bidx`: its index under every blind-index version.
pub fn phone_index_any(ring: &KeyRing, phone: &str) -> Vec<Vec<u8>> {
    Person::phone_value_index_any_with(ring, phone).unwrap()
}

/// What a lookup for `email` matches in `email_bidx` (hex text): under every blind-index version.
pub fn email_index_any(ring: &KeyRing, email: &str) -> Vec<String> {
    Person::email_value_index_any_with(ring, email).unwrap()
}
