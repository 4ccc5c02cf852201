//! The scenarios every backend runs, written once: this file is compiled once per backend, with
//! `super::Conn` naming that backend's connection. Each test works in a TEMPORARY table of its own
//! connection, so tests run in parallel and reruns never collide.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use diesel::prelude::*;
use diesel::sql_types::{Binary, Integer, Nullable, Text};
use encrypted_field::diesel::Encrypted;
use encrypted_field::envelope::is_envelope;
use encrypted_field::{Error, KeyRing, KeyVersion, MalformedReason};

use super::Conn;
use crate::common::schema::{MaybeBin, Secret, SecretText, secrets};
use crate::common::{self, TestBackend, encrypted_field_error};

/// A row as plain SQL sees it: whatever bytes and text the columns hold.
#[derive(Debug, QueryableByName)]
struct StoredRow {
    #[diesel(sql_type = Binary)]
    secret_bin: Vec<u8>,
    #[diesel(sql_type = Text)]
    secret_text: String,
    #[diesel(sql_type = Nullable<Binary>)]
    maybe_bin: Option<Vec<u8>>,
    #[diesel(sql_type = Nullable<Text>)]
    maybe_text: Option<String>,
}

/// A connection with the process-wide ring installed and an empty `secrets` table, or `None`
/// when this backend is not configured.
fn setup() -> Option<Conn> {
    common::install_global_ring();
    let mut conn = Conn::connect()?;
    diesel::sql_query(format!(
        "CREATE TEMPORARY TABLE secrets (id INTEGER PRIMARY KEY, secret_bin {b} NOT NULL, \
         secret_text TEXT NOT NULL, maybe_bin {b}, maybe_text TEXT)",
        b = Conn::BINARY
    ))
    .execute(&mut conn)
    .unwrap();
    Some(conn)
}

fn secret(id: i32, bin: &str, text: &str) -> Secret {
    Secret {
        id,
        secret_bin: Encrypted::new(bin.to_owned()),
        secret_text: Encrypted::new(text.to_owned()),
        maybe_bin: Some(Encrypted::new(vec![0, 1, 0xff])),
        maybe_text: Some(Encrypted::new(i64::from(id) * -1_000_000_007)),
    }
}

fn insert(conn: &mut Conn, rows: &[Secret]) {
    diesel::insert_into(secrets::table)
        .values(rows)
        .execute(conn)
        .unwrap();
}

fn load_all(conn: &mut Conn) -> QueryResult<Vec<Secret>> {
    secrets::table
        .select(Secret::as_select())
        .order(secrets::id)
        .load(conn)
}

fn load(conn: &mut Conn, id: i32) -> QueryResult<Secret> {
    secrets::table
        .find(id)
        .select(Secret::as_select())
        .first(conn)
}

fn stored(conn: &mut Conn, id: i32) -> StoredRow {
    diesel::sql_query(format!(
        "SELECT secret_bin, secret_text, maybe_bin, maybe_text FROM secrets WHERE id = {id}"
    ))
    .get_result(conn)
    .unwrap()
}

/// Writes the two required columns of a row with plain SQL, bypassing `Encrypted`.
fn store_raw(conn: &mut Conn, id: i32, bin: &[u8], text: &str) {
    diesel::sql_query(format!(
        "INSERT INTO secrets (id, secret_bin, secret_text) VALUES ({})",
        Conn::placeholders(3)
    ))
    .bind::<Integer, _>(id)
    .bind::<Binary, _>(bin)
    .bind::<Text, _>(text)
    .execute(conn)
    .unwrap();
}

/// Replaces the two required columns of a row with plain SQL.
fn overwrite_raw(conn: &mut Conn, id: i32, bin: &[u8], text: &str) {
    diesel::sql_query(format!("DELETE FROM secrets WHERE id = {id}"))
        .execute(conn)
        .unwrap();
    store_raw(conn, id, bin, text);
}

/// The ring the process-wide ring is, as an explicit value (versions 1 and 2, 2 active).
fn global() -> std::sync::Arc<KeyRing> {
    encrypted_field::global().unwrap()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn insert_select_and_update_round_trip() {
    let Some(mut conn) = setup() else { return };
    let mut row = secret(1, "+1 555 0100", "078-05-1120");
    insert(&mut conn, std::slice::from_ref(&row));
    assert_eq!(load(&mut conn, 1).unwrap(), row);

    // A whole-row changeset…
    *row.secret_bin = "+1 555 0199".to_owned();
    row.maybe_text = Some(Encrypted::new(7));
    diesel::update(&row).set(&row).execute(&mut conn).unwrap();
    assert_eq!(load(&mut conn, 1).unwrap(), row);

    // …and a single column.
    let text: Encrypted<String, SecretText> = Encrypted::new("219-09-9999".to_owned());
    diesel::update(secrets::table.find(1))
        .set(secrets::secret_text.eq(&text))
        .execute(&mut conn)
        .unwrap();
    assert_eq!(load(&mut conn, 1).unwrap().secret_text, text);
}

#[test]
fn none_is_stored_as_sql_null_and_read_back_as_none() {
    let Some(mut conn) = setup() else { return };
    let mut row = secret(1, "a", "b");
    row.maybe_bin = None;
    row.maybe_text = None;
    insert(&mut conn, std::slice::from_ref(&row));
    assert_eq!(load(&mut conn, 1).unwrap(), row);
    let raw = stored(&mut conn, 1);
    assert_eq!((raw.maybe_bin, raw.maybe_text), (None, None));

    row.maybe_bin = Some(Encrypted::new(b"now set".to_vec()));
    diesel::update(&row).set(&row).execute(&mut conn).unwrap();
    assert_eq!(load(&mut conn, 1).unwrap(), row);

    diesel::update(secrets::table.find(1))
        .set(secrets::maybe_bin.eq(None::<Encrypted<Vec<u8>, MaybeBin>>))
        .execute(&mut conn)
        .unwrap();
    assert_eq!(load(&mut conn, 1).unwrap().maybe_bin, None);
    assert_eq!(stored(&mut conn, 1).maybe_bin, None);
}

#[test]
fn binary_column_holds_the_envelope_and_never_the_plaintext() {
    let Some(mut conn) = setup() else { return };
    insert(&mut conn, &[secret(1, "+1 555 0100", "078-05-1120")]);
    let raw = stored(&mut conn, 1);
    assert!(is_envelope(&raw.secret_bin));
    assert!(!contains(&raw.secret_bin, b"555 0100"));
    assert_eq!(
        global().version_of(&raw.secret_bin).unwrap(),
        KeyVersion::new(2)
    );
    // The envelope is bound to its column: an explicit ring opens it with that context only.
    assert_eq!(
        global()
            .decrypt_with_context(&raw.secret_bin, "secrets.secret_bin")
            .unwrap(),
        b"+1 555 0100"
    );
    assert!(global().decrypt(&raw.secret_bin).is_err());
    assert!(is_envelope(&raw.maybe_bin.unwrap()));
}

#[test]
fn text_column_holds_the_base64_envelope_and_never_the_plaintext() {
    let Some(mut conn) = setup() else { return };
    insert(&mut conn, &[secret(1, "+1 555 0100", "078-05-1120")]);
    let raw = stored(&mut conn, 1);
    assert!(!raw.secret_text.contains("1120"));
    let envelope = STANDARD.decode(&raw.secret_text).unwrap();
    assert!(is_envelope(&envelope));
    assert_eq!(
        global()
            .decrypt_base64(&raw.secret_text, "secrets.secret_text")
            .unwrap(),
        b"078-05-1120"
    );
    let number = global()
        .decrypt_base64(&raw.maybe_text.unwrap(), "secrets.maybe_text")
        .unwrap();
    assert_eq!(number, b"-1000000007");
}

#[test]
fn tampered_binary_value_fails_its_row_only() {
    let Some(mut conn) = setup() else { return };
    insert(
        &mut conn,
        &[
            secret(1, "one", "1"),
            secret(2, "two", "2"),
            secret(3, "three", "3"),
        ],
    );
    let raw = stored(&mut conn, 2);
    let mut bin = raw.secret_bin;
    let last = bin.len() - 20;
    bin[last] ^= 0x01;
    overwrite_raw(&mut conn, 2, &bin, &raw.secret_text);

    let failed = load_all(&mut conn).unwrap_err();
    let error = encrypted_field_error(&failed);
    assert!(
        matches!(&error, Error::Authentication { context } if context == "secrets.secret_bin"),
        "{error}"
    );
    assert!(error.to_string().contains("secrets.secret_bin"), "{error}");
    assert!(load(&mut conn, 2).is_err());

    let others: Vec<Secret> = secrets::table
        .filter(secrets::id.ne(2))
        .select(Secret::as_select())
        .order(secrets::id)
        .load(&mut conn)
        .unwrap();
    assert_eq!(others, [secret(1, "one", "1"), secret(3, "three", "3")]);
}

#[test]
fn tampered_text_value_fails_its_row_only() {
    let Some(mut conn) = setup() else { return };
    insert(&mut conn, &[secret(1, "one", "1"), secret(2, "two", "2")]);
    let raw = stored(&mut conn, 1);
    let mut envelope = STANDARD.decode(&raw.secret_text).unwrap();
    envelope[10] ^= 0x80; // inside the IV
    overwrite_raw(&mut conn, 1, &raw.secret_bin, &STANDARD.encode(&envelope));

    let failed = load(&mut conn, 1).unwrap_err();
    let error = encrypted_field_error(&failed);
    assert!(
        matches!(&error, Error::Authentication { context } if context == "secrets.secret_text"),
        "{error}"
    );
    assert_eq!(load(&mut conn, 2).unwrap(), secret(2, "two", "2"));
}

#[test]
fn ring_with_old_and_new_keys_reads_values_under_both() {
    let Some(mut conn) = setup() else { return };
    // Written before the rotation, by a ring that knew only version 1.
    let old = common::old_ring();
    let bin = old.encrypt_with_context(b"+1 555 0100", "secrets.secret_bin");
    let text = old.encrypt_to_base64(b"078-05-1120", "secrets.secret_text");
    store_raw(&mut conn, 1, &bin, &text);
    // Written after it, with version 2 active.
    insert(&mut conn, &[secret(2, "+1 555 0199", "219-09-9999")]);

    let rows = load_all(&mut conn).unwrap();
    assert_eq!(
        (rows[0].secret_bin.as_str(), rows[0].secret_text.as_str()),
        ("+1 555 0100", "078-05-1120")
    );
    assert_eq!(rows[1], secret(2, "+1 555 0199", "219-09-9999"));
    assert_eq!(
        global()
            .version_of(&stored(&mut conn, 1).secret_bin)
            .unwrap(),
        KeyVersion::new(1)
    );
    assert_eq!(
        global()
            .version_of(&stored(&mut conn, 2).secret_bin)
            .unwrap(),
        KeyVersion::new(2)
    );
}

#[test]
fn value_under_a_key_version_not_in_the_ring_names_the_version_and_column() {
    let Some(mut conn) = setup() else { return };
    let foreign = common::unknown_ring();
    let bin = foreign.encrypt_with_context(b"x", "secrets.secret_bin");
    store_raw(
        &mut conn,
        1,
        &bin,
        &global().encrypt_to_base64(b"y", "secrets.secret_text"),
    );

    let failed = load(&mut conn, 1).unwrap_err();
    let error = encrypted_field_error(&failed);
    assert!(
        matches!(&error, Error::Column { column, error } if column == "secrets.secret_bin"
            && matches!(**error, Error::UnknownKeyVersion(v) if v == KeyVersion::new(3))),
        "{error}"
    );
    assert!(error.to_string().contains("key version v3"), "{error}");
}

#[test]
fn plaintext_or_truncated_value_is_an_error_not_a_panic() {
    let Some(mut conn) = setup() else { return };
    store_raw(&mut conn, 1, b"+1 555 0100", "not base64!");
    let sealed = global().encrypt_with_context(b"+1 555 0100", "secrets.secret_bin");
    store_raw(
        &mut conn,
        2,
        &sealed[..sealed.len() - 1],
        &global().encrypt_to_base64(b"t", "secrets.secret_text"),
    );
    store_raw(&mut conn, 3, &sealed, "not base64!");

    let failed = load(&mut conn, 1).unwrap_err();
    let plaintext = encrypted_field_error(&failed);
    assert!(
        matches!(&plaintext, Error::Column { error, .. }
            if matches!(**error, Error::Malformed(MalformedReason::NotAnEnvelope))),
        "{plaintext}"
    );
    let failed = load(&mut conn, 2).unwrap_err();
    assert!(
        encrypted_field_error(&failed)
            .to_string()
            .contains("secrets.secret_bin")
    );
    let failed = load(&mut conn, 3).unwrap_err();
    let not_base64 = encrypted_field_error(&failed);
    assert!(
        matches!(&not_base64, Error::Column { column, error }
            if column == "secrets.secret_text" && matches!(**error, Error::Malformed(MalformedReason::NotBase64))),
        "{not_base64}"
    );
}

#[test]
fn many_rows_round_trip_in_one_query() {
    let Some(mut conn) = setup() else { return };
    let rows: Vec<Secret> = (1..=500)
        .map(|i| secret(i, &format!("+1 555 {i:04}"), &format!("ssn {i}")))
        .collect();
    insert(&mut conn, &rows);
    assert_eq!(load_all(&mut conn).unwrap(), rows);
}

#[test]
fn binary_value_copied_into_another_column_fails_to_decrypt() {
    let Some(mut conn) = setup() else { return };
    insert(&mut conn, &[secret(1, "+1 555 0100", "078-05-1120")]);
    diesel::sql_query("UPDATE secrets SET maybe_bin = secret_bin")
        .execute(&mut conn)
        .unwrap();

    let failed = load(&mut conn, 1).unwrap_err();
    let error = encrypted_field_error(&failed);
    assert!(
        matches!(&error, Error::Authentication { context } if context == "secrets.maybe_bin"),
        "{error}"
    );
}

#[test]
fn text_value_copied_into_another_column_fails_to_decrypt() {
    let Some(mut conn) = setup() else { return };
    insert(&mut conn, &[secret(1, "+1 555 0100", "12345")]);
    diesel::sql_query("UPDATE secrets SET maybe_text = secret_text")
        .execute(&mut conn)
        .unwrap();

    let failed = load(&mut conn, 1).unwrap_err();
    let error = encrypted_field_error(&failed);
    assert!(
        matches!(&error, Error::Authentication { context } if context == "secrets.maybe_text"),
        "{error}"
    );
}

#[test]
fn non_ascii_and_4_kib_values_round_trip() {
    let Some(mut conn) = setup() else { return };
    let mut big = secret(2, &"é".repeat(2048), &"📞".repeat(1024));
    big.maybe_bin = Some(Encrypted::new((0..4096).map(|i| (i % 256) as u8).collect()));
    let rows = [
        secret(1, "Zoë Ångström, 東京 +81 3-1234-5678", "ßüñ ✓ \u{0} nul"),
        big,
    ];
    insert(&mut conn, &rows);
    assert_eq!(load_all(&mut conn).unwrap(), rows);
    assert_eq!(rows[1].secret_bin.len(), 4096);
}

#[cfg(feature = "json")]
mod json {
    use diesel::prelude::*;
    use encrypted_field::Json;
    use encrypted_field::diesel::Encrypted;

    use super::Conn;
    use crate::common::schema::{PostalAddress, Profile, profiles};
    use crate::common::{self, TestBackend};

    #[test]
    fn json_values_round_trip_encrypted() {
        common::install_global_ring();
        let Some(mut conn) = Conn::connect() else {
            return;
        };
        diesel::sql_query("CREATE TEMPORARY TABLE profiles (id INTEGER PRIMARY KEY, address TEXT)")
            .execute(&mut conn)
            .unwrap();
        let address = PostalAddress {
            street: "1 Main St".to_owned(),
            city: "Zürich".to_owned(),
            lines: vec!["c/o Zoë".to_owned()],
        };
        let rows = [
            Profile {
                id: 1,
                address: Some(Encrypted::new(Json::new(address).unwrap())),
            },
            Profile {
                id: 2,
                address: None,
            },
        ];
        diesel::insert_into(profiles::table)
            .values(&rows)
            .execute(&mut conn)
            .unwrap();

        let read: Vec<Profile> = profiles::table
            .select(Profile::as_select())
            .order(profiles::id)
            .load(&mut conn)
            .unwrap();
        assert_eq!(read, rows);
        let stored: Option<String> = profiles::table
            .find(1)
            .select(profiles::address)
            .first(&mut conn)
            .unwrap();
        assert!(!stored.unwrap().contains("Main"));
    }
}

/// Rows sealed with a ring whose active version is wrapped by AWS KMS (the moto server, through
/// the provider's signed calls), read back by the same directory loaded again: the values at rest
/// are format v1 as always, and a ring loaded through the KMS opens them.
#[cfg(feature = "aws-kms")]
#[test]
fn a_ring_wrapped_by_a_kms_round_trips_through_the_columns() {
    use encrypted_field::keys::KeysDir;
    let Some(mut conn) = setup() else { return };
    let Some(endpoint) = crate::moto::endpoint() else {
        return;
    };
    let (_, _, alias) = crate::moto::create_key(&endpoint, "columns");
    let tmp = tempfile::tempdir().unwrap();
    let keys = KeysDir::new(tmp.path().join("keys"));
    keys.add(true).unwrap();
    keys.add_wrapped(&format!("aws-kms://{alias}"), true)
        .unwrap();
    let ring = keys.load(None).unwrap();
    for version in [1, 2] {
        let sealer = ring.with_active(KeyVersion::new(version)).unwrap();
        let bin = sealer.encrypt_with_context(b"+1 555 0100", "secrets.secret_bin");
        let text = sealer.encrypt_to_base64(b"078-05-1120", "secrets.secret_text");
        store_raw(&mut conn, i32::try_from(version).unwrap(), &bin, &text);
    }
    let reloaded = keys.load(None).unwrap();
    assert!(reloaded.wrapped_form(KeyVersion::new(2)).is_some());
    for version in [1, 2] {
        let row = stored(&mut conn, i32::try_from(version).unwrap());
        assert_eq!(
            reloaded.version_of(&row.secret_bin).unwrap(),
            KeyVersion::new(version)
        );
        assert_eq!(
            reloaded
                .decrypt_with_context(&row.secret_bin, "secrets.secret_bin")
                .unwrap(),
            b"+1 555 0100"
        );
        assert_eq!(
            reloaded
                .decrypt_base64(&row.secret_text, "secrets.secret_text")
                .unwrap(),
            b"078-05-1120"
        );
    }
}
