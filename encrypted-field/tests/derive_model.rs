//! `#[derive(EncryptedModel)]` at run time, without a database: accessors, blind indexes,
//! contexts, the model description and discovery.
#![cfg(feature = "derive")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::borrow::Cow;

use encrypted_field::model::{BlindIndexSpec, ColumnSpec, KeyKind, ModelSpec, Registry};
use encrypted_field::{BlindIndexKey, EncryptedModel, Error, KeyRing, MasterKey};

/// The Django seed's customer: a nullable binary SSN, a phone with a blind index, a credit limit
/// read as an integer from a text column, an e-mail with a text blind index.
#[derive(Debug, Default, Clone, EncryptedModel)]
#[encrypted_model(table = "customers")]
struct Customer {
    #[allow(dead_code)] // described by the model, never read here
    id: i32,
    #[encrypted]
    _ssn: Option<Vec<u8>>,
    #[encrypted(name = "phone", blind_index = "phone_bidx", normalize = digits)]
    _phone_number: Vec<u8>,
    phone_bidx: Vec<u8>,
    #[encrypted(ty = i64)]
    _credit_limit: String,
    #[encrypted(blind_index = "email_bidx", normalize = lowercase)]
    _email: Option<String>,
    email_bidx: Option<String>,
}

/// Same column names as `Customer`, another table, a text key and a custom normalizer.
#[derive(Debug, Default, EncryptedModel)]
#[encrypted_model(table = "suppliers", primary_key = "code")]
pub struct Supplier {
    #[allow(dead_code)]
    code: String,
    #[encrypted]
    _ssn: Option<Vec<u8>>,
    #[encrypted(name = "phone", blind_index = "phone_bidx", normalize = self::last_four)]
    _phone_number: Vec<u8>,
    phone_bidx: Vec<u8>,
}

/// An insertable form of `Customer`: a subset of its columns, on the same table.
#[derive(Debug, EncryptedModel)]
#[encrypted_model(table = "customers", primary_key = "id", primary_key_type = i32)]
struct NewCustomer<'a> {
    #[allow(dead_code)]
    name: &'a str,
    #[encrypted]
    _ssn: Option<Vec<u8>>,
}

/// A generic model.
#[derive(Debug, Default, EncryptedModel)]
#[encrypted_model(table = "audit_log")]
struct AuditEntry<T: Default> {
    #[allow(dead_code)]
    id: i64,
    #[encrypted]
    _note: Vec<u8>,
    #[allow(dead_code)]
    meta: T,
}

fn last_four(value: &str) -> Cow<'_, str> {
    let digits: String = value.chars().filter(char::is_ascii_digit).collect();
    Cow::Owned(digits[digits.len().saturating_sub(4)..].to_owned())
}

fn ring() -> KeyRing {
    KeyRing::builder()
        .key(1, MasterKey::from_bytes([7; 32]))
        .blind_index_key(BlindIndexKey::new(MasterKey::from_bytes([8; 32])))
        .build()
        .unwrap()
}

#[test]
fn setter_then_getter_round_trips_and_stores_only_ciphertext() {
    let ring = ring();
    let mut customer = Customer::default();
    customer.set_phone_with(&ring, "+1 (555) 010-0100").unwrap();
    assert_eq!(customer.phone_with(&ring).unwrap(), "+1 (555) 010-0100");
    assert!(!customer._phone_number.windows(4).any(|w| w == b"0100"));
    assert_eq!(ring.version_of(&customer._phone_number).unwrap().get(), 1);
}

#[test]
fn nullable_fields_read_none_until_set_and_after_clear() {
    let ring = ring();
    let mut customer = Customer::default();
    assert_eq!(customer.ssn_with(&ring).unwrap(), None);
    customer.set_ssn_with(&ring, "078-05-1120").unwrap();
    assert_eq!(
        customer.ssn_with(&ring).unwrap().as_deref(),
        Some("078-05-1120")
    );
    customer.clear_ssn();
    assert_eq!(customer._ssn, None);
    assert_eq!(customer.ssn_with(&ring).unwrap(), None);
}

#[test]
fn clearing_a_nullable_field_clears_its_blind_index() {
    let ring = ring();
    let mut customer = Customer::default();
    customer.set_email_with(&ring, "Ada@Example.org").unwrap();
    assert!(customer.email_bidx.is_some());
    customer.clear_email();
    assert_eq!((customer._email, customer.email_bidx), (None, None));
}

#[test]
fn ty_decrypts_into_another_plaintext_type_stored_as_base64_text() {
    let ring = ring();
    let mut customer = Customer::default();
    customer.set_credit_limit_with(&ring, 250_000_i64).unwrap();
    let limit: i64 = customer.credit_limit_with(&ring).unwrap();
    assert_eq!(limit, 250_000);
    assert!(
        customer._credit_limit.starts_with("RUYB"),
        "base64 of the `EF` 0x01 header"
    );
}

#[test]
fn blind_index_is_filled_and_equal_for_differently_formatted_equal_phones() {
    let ring = ring();
    let (mut a, mut b) = (Customer::default(), Customer::default());
    a.set_phone_with(&ring, "+1 (555) 010-0100").unwrap();
    b.set_phone_with(&ring, "1-555-010-0100").unwrap();
    assert_eq!(a.phone_bidx.len(), 32);
    assert_eq!(a.phone_bidx, b.phone_bidx);
    assert_ne!(a._phone_number, b._phone_number, "the ciphertexts differ");
    assert_eq!(
        Customer::phone_index_with(&ring, "15550100100").unwrap(),
        a.phone_bidx
    );
    b.set_phone_with(&ring, "1-555-010-0199").unwrap();
    assert_ne!(a.phone_bidx, b.phone_bidx);
}

#[test]
fn text_blind_index_is_lowercase_hex() {
    let ring = ring();
    let mut customer = Customer::default();
    customer.set_email_with(&ring, "  Ada@Example.ORG").unwrap();
    let index = customer.email_bidx.clone().unwrap();
    assert_eq!(index.len(), 64);
    assert!(
        index
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    assert_eq!(
        Customer::email_index_with(&ring, "ada@example.org").unwrap(),
        index
    );
}

#[test]
fn custom_normalizer_is_used() {
    let ring = ring();
    let (mut a, mut b) = (Supplier::default(), Supplier::default());
    a.set_phone_with(&ring, "+44 20 7946 0958").unwrap();
    b.set_phone_with(&ring, "555 0958").unwrap();
    assert_eq!(a.phone_bidx, b.phone_bidx);
}

#[test]
fn same_column_names_on_different_tables_get_different_contexts() {
    let ring = ring();
    let mut customer = Customer::default();
    customer.set_ssn_with(&ring, "078-05-1120").unwrap();
    customer.set_phone_with(&ring, "555 0100").unwrap();
    let supplier = Supplier {
        _ssn: customer._ssn.clone(),
        ..Supplier::default()
    };
    assert!(
        matches!(supplier.ssn_with(&ring), Err(Error::Authentication { context }) if context == "suppliers._ssn")
    );
    let mut other_supplier = Supplier::default();
    other_supplier.set_phone_with(&ring, "555 0100").unwrap();
    assert_ne!(
        other_supplier.phone_bidx, customer.phone_bidx,
        "blind indexes are per column too"
    );
}

#[test]
fn a_value_copied_into_another_column_of_the_same_table_fails() {
    let ring = ring();
    let mut customer = Customer::default();
    customer.set_phone_with(&ring, "555 0100").unwrap();
    customer._ssn = Some(customer._phone_number.clone());
    assert!(matches!(
        customer.ssn_with(&ring),
        Err(Error::Authentication { .. })
    ));
}

#[test]
fn a_failed_setter_leaves_the_model_unchanged() {
    let without_blind_index_key = KeyRing::builder()
        .key(1, MasterKey::generate())
        .build()
        .unwrap();
    let mut customer = Customer::default();
    let before = customer.clone();
    assert!(matches!(
        customer.set_phone_with(&without_blind_index_key, "555"),
        Err(Error::NoBlindIndexKey)
    ));
    assert_eq!(customer._phone_number, before._phone_number);
    assert_eq!(customer.phone_bidx, before.phone_bidx);
}

#[test]
fn the_global_accessors_use_the_process_wide_ring() {
    encrypted_field::install(ring()).unwrap();
    let mut customer = Customer::default();
    customer.set_ssn("078-05-1120").unwrap();
    customer.set_phone("555 0100").unwrap();
    assert_eq!(customer.ssn().unwrap().as_deref(), Some("078-05-1120"));
    assert_eq!(customer.phone().unwrap(), "555 0100");
    assert_eq!(
        Customer::phone_index("5550100").unwrap(),
        customer.phone_bidx
    );
    assert_eq!(
        customer.ssn_with(&ring()).unwrap().as_deref(),
        Some("078-05-1120")
    );
}

#[test]
fn model_spec_describes_table_key_and_columns() {
    let digits = BlindIndexSpec::binary("phone_bidx")
        .with_builtin_normalizer("digits")
        .unwrap();
    let lowercase = BlindIndexSpec::text("email_bidx")
        .with_builtin_normalizer("lowercase")
        .unwrap();
    let expected = ModelSpec::new("customers", "id")
        .with_primary_key_kind(KeyKind::Integer)
        .with_rust_type("derive_model::Customer")
        .column(ColumnSpec::binary("_ssn").nullable())
        .column(ColumnSpec::binary("_phone_number").with_blind_index(digits))
        .column(ColumnSpec::text("_credit_limit"))
        .column(
            ColumnSpec::text("_email")
                .nullable()
                .with_blind_index(lowercase),
        );
    assert_eq!(Customer::model_spec(), expected);
    assert_eq!(
        Customer::model_spec().columns()[1].context(),
        "customers._phone_number"
    );
    expected.validate().unwrap();
}

#[test]
fn model_spec_names_a_custom_normalizer_by_its_path_and_a_text_key() {
    let spec = Supplier::model_spec();
    assert_eq!(
        (spec.primary_key(), spec.primary_key_kind()),
        ("code", KeyKind::Text)
    );
    let index = spec
        .column_named("_phone_number")
        .unwrap()
        .blind_index()
        .unwrap();
    assert_eq!(index.normalizer_name(), "self::last_four");
    assert_eq!((index.normalizer())("+1 555 010 0100"), "0100");
}

#[test]
fn discovered_registry_lists_every_derived_model_of_the_binary() {
    let registry = Registry::discovered().unwrap();
    let tables: Vec<&str> = registry.iter().map(ModelSpec::table).collect();
    assert_eq!(tables, ["audit_log", "customers", "suppliers"]);
    // `NewCustomer` describes a subset of `Customer`'s columns: the two merge into one table.
    assert_eq!(registry.get("customers"), Some(&Customer::model_spec()));
    assert_eq!(registry.get("suppliers"), Some(&Supplier::model_spec()));
}

#[test]
fn explicit_registry_lists_only_what_was_registered() {
    let registry = Registry::new().register::<Supplier>().unwrap();
    let tables: Vec<&str> = registry.iter().map(ModelSpec::table).collect();
    assert_eq!(tables, ["suppliers"]);
}

#[test]
fn generic_models_get_accessors_and_a_description() {
    let ring = ring();
    let mut entry = AuditEntry::<u8>::default();
    entry.set_note_with(&ring, "password changed").unwrap();
    assert_eq!(entry.note_with(&ring).unwrap(), "password changed");
    assert_eq!(AuditEntry::<String>::model_spec().table(), "audit_log");

    let mut new = NewCustomer {
        name: "Ada",
        _ssn: None,
    };
    new.set_ssn_with(&ring, "078-05-1120").unwrap();
    let customer = Customer {
        _ssn: new._ssn.clone(),
        ..Customer::default()
    };
    assert_eq!(
        customer.ssn_with(&ring).unwrap().as_deref(),
        Some("078-05-1120"),
        "same table, same context"
    );
}
