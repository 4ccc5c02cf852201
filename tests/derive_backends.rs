//! `#[derive(EncryptedModel)]` on a real Diesel model against MariaDB and PostgreSQL (SQLite has
//! `derive_sqlite.rs`): rows written with the generated setters, read back with the getters, and
//! found through the blind index, in a TEMPORARY table per connection.
#![cfg(any(feature = "mysql", feature = "postgres"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use diesel::prelude::*;
use encrypted_field::{BlindIndexKey, EncryptedModel, KeyRing, MasterKey};

mod schema {
    #![allow(missing_docs)] // `diesel::table!` generates public items without documentation

    diesel::table! {
        ef_derive_customers (id) {
            id -> Integer,
            name -> Text,
            _ssn -> Nullable<Binary>,
            _phone -> Binary,
            phone_bidx -> Binary,
        }
    }
}

use schema::ef_derive_customers as customers;

/// The Django seed's customer.
#[derive(Debug, Default, Clone, Queryable, Selectable, Insertable, EncryptedModel)]
#[diesel(table_name = customers)]
struct Customer {
    id: i32,
    name: String,
    #[encrypted]
    _ssn: Option<Vec<u8>>,
    #[encrypted(name = "phone", blind_index = "phone_bidx", normalize = digits)]
    _phone: Vec<u8>,
    phone_bidx: Vec<u8>,
}

/// This binary's process-wide ring, with a blind-index key.
fn install_ring() {
    static INSTALLED: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    INSTALLED.get_or_init(|| {
        let ring = KeyRing::builder()
            .key(1, MasterKey::from_bytes([0x51; 32]))
            .blind_index_key(BlindIndexKey::new(MasterKey::from_bytes([0x52; 32])))
            .build()
            .unwrap();
        encrypted_field::install(ring).expect("only this function installs the ring");
    });
}

fn customer(id: i32, name: &str, ssn: Option<&str>, phone: &str) -> Customer {
    let mut customer = Customer {
        id,
        name: name.to_owned(),
        ..Customer::default()
    };
    if let Some(ssn) = ssn {
        customer.set_ssn(ssn).unwrap();
    }
    customer.set_phone(phone).unwrap();
    customer
}

/// The scenario, written once and compiled for each backend's connection type.
macro_rules! setters_getters_and_blind_index_lookup {
    ($conn:expr, $binary:literal) => {{
        install_ring();
        let conn = $conn;
        diesel::sql_query(format!(
            "CREATE TEMPORARY TABLE ef_derive_customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, \
             _ssn {0} NULL, _phone {0} NOT NULL, phone_bidx {0} NOT NULL)",
            $binary
        ))
        .execute(conn)
        .unwrap();
        let rows = [
            customer(1, "Ada Lovelace", Some("078-05-1120"), "+1 (555) 010-0100"),
            customer(2, "Alan Turing", None, "+44 20 7946 0018"),
        ];
        diesel::insert_into(customers::table).values(&rows[..]).execute(conn).unwrap();

        let loaded: Vec<Customer> =
            customers::table.select(Customer::as_select()).order(customers::id).load(conn).unwrap();
        assert_eq!(loaded.len(), 2);
        assert_eq!(loaded[0].ssn().unwrap().as_deref(), Some("078-05-1120"));
        assert_eq!(loaded[0].phone().unwrap(), "+1 (555) 010-0100");
        assert_eq!(loaded[1].ssn().unwrap(), None);
        assert!(encrypted_field::envelope::is_envelope(&loaded[0]._phone), "the column holds an envelope");

        let found: Customer = customers::table
            .filter(customers::phone_bidx.eq(Customer::phone_index("1-555-010-0100").unwrap()))
            .select(Customer::as_select())
            .first(conn)
            .unwrap();
        assert_eq!(found.name, "Ada Lovelace");
        let none = customers::table
            .filter(customers::phone_bidx.eq(Customer::phone_index("+1 555 010 0101").unwrap()))
            .count()
            .get_result::<i64>(conn)
            .unwrap();
        assert_eq!(none, 0);
    }};
}

#[cfg(feature = "mysql")]
#[test]
fn mysql_setters_getters_and_blind_index_lookup() {
    let Some(url) = common::server_url("MYSQL_DATABASE_URL") else {
        return;
    };
    setters_getters_and_blind_index_lookup!(
        &mut MysqlConnection::establish(&url).unwrap(),
        "VARBINARY(255)"
    );
}

#[cfg(feature = "postgres")]
#[test]
fn postgres_setters_getters_and_blind_index_lookup() {
    let Some(url) = common::server_url("PG_DATABASE_URL") else {
        return;
    };
    setters_getters_and_blind_index_lookup!(&mut PgConnection::establish(&url).unwrap(), "BYTEA");
}
