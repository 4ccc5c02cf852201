//! Row binding (`#[encrypted(bind_row)]`) on a real Diesel model: the documented insert patterns
//! (a key the application assigns; a key the database assigns, read back before the values are
//! set), values that read back for their own row only, and a value copied into another row that
//! fails naming the column and the row. The same scenarios (`scenarios.rs`) run on every backend:
//! SQLite always, MySQL/MariaDB and PostgreSQL when their URL is set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../common/mod.rs"]
mod common;

#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "postgres")]
mod pg;
#[cfg(feature = "sqlite")]
mod sqlite;

use encrypted_field::{EncryptedModel, Error};

/// The table and models of the scenarios (private, as the other suites keep theirs in `schema`).
mod model {
    use encrypted_field::EncryptedModel;

    diesel::table! {
        bound_people (id) {
            id -> Integer,
            name -> Text,
            _ssn -> Nullable<Binary>,
            _note -> Nullable<Text>,
        }
    }

    /// A person whose SSN (binary) and note (base64 text) are bound to the row's key.
    #[derive(
        Debug,
        Clone,
        diesel::Queryable,
        diesel::Selectable,
        diesel::Insertable,
        diesel::Identifiable,
        diesel::AsChangeset,
        EncryptedModel,
    )]
    #[diesel(table_name = bound_people)]
    pub struct BoundPerson {
        pub id: i32,
        pub name: String,
        #[encrypted(bind_row)]
        pub _ssn: Option<Vec<u8>>,
        #[encrypted(bind_row)]
        pub _note: Option<String>,
    }

    /// The insertable form without the key, for a key the database assigns: it has no encrypted
    /// field, because a row-bound value cannot be sealed before the key exists.
    #[derive(Debug, diesel::Insertable)]
    #[diesel(table_name = bound_people)]
    pub struct NewBoundPerson<'a> {
        pub name: &'a str,
    }
}

pub(crate) use model::{BoundPerson, NewBoundPerson, bound_people};

/// A draft whose key is not assigned yet: `Option<i32>`.
#[derive(Debug, Default, EncryptedModel)]
#[encrypted_model(table = "bound_people")]
struct Draft {
    id: Option<i32>,
    #[encrypted(bind_row)]
    _ssn: Option<Vec<u8>>,
}

#[test]
fn a_row_bound_value_is_refused_until_the_key_is_assigned() {
    common::install_global_ring();
    let mut draft = Draft::default();
    let error = draft.set_ssn("078-05-1120").unwrap_err();
    assert!(
        matches!(&error, Error::RowKeyUnknown { context } if context == "bound_people._ssn"),
        "{error:?}"
    );
    assert_eq!(
        draft._ssn, None,
        "a failed setter leaves the model unchanged"
    );
    draft.id = Some(7);
    draft.set_ssn("078-05-1120").unwrap();
    assert_eq!(draft.ssn().unwrap().as_deref(), Some("078-05-1120"));
}
