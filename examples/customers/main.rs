//! The Django seed's case, in Rust: a `Customer` whose `_ssn` column holds ciphertext and whose
//! `ssn()` / `set_ssn()` read and write plaintext; a phone number found through its blind index;
//! then a key rotation with a dry run, a key backup, verification, the Django-style report and a
//! notifier.
//!
//! ```sh
//! cargo run --example customers   # SQLite ./customers-data/customers.sqlite3, keys ./customers-keys
//! ```
//!
//! Keys come from the environment as in production (`ENCRYPTED_FIELD_KEYS_DIR`, …). With none
//! configured, this example (only the example) makes a development keys directory beside the
//! database and says so.
// `diesel::table!` generates items without doc comments.
#![allow(missing_docs)]

use std::error::Error;
use std::path::Path;
use std::process::ExitCode;

use diesel::prelude::*;
use encrypted_field::keys::{EnvVars, KeysDir};
use encrypted_field::model::Registry;
use encrypted_field::notify::{LogNotifier, Notifier};
use encrypted_field::rotation::database::Database;
use encrypted_field::rotation::{Rotation, RotationReport};
use encrypted_field::{BlindIndexKey, EncryptedModel, KeyRing, MasterKey};

diesel::table! {
    customers (id) {
        id -> Integer,
        name -> Text,
        _ssn -> Nullable<Binary>,
        _phone -> Binary,
        phone_bidx -> Binary,
    }
}

/// `_ssn` is the Django module's BinaryField; `ssn()` / `set_ssn()` its property.
#[derive(Debug, Default, Queryable, Selectable, Insertable, EncryptedModel)]
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

const DATA_DIR: &str = "customers-data";
const DATABASE: &str = "customers-data/customers.sqlite3";
const DEV_KEYS_DIR: &str = "customers-keys";
const DEV_BLIND_INDEX_KEY: &str = "customers-keys/blind_index_key";
const BACKUP_DIR: &str = "customers-key-backups";

/// The Django module's `CustomNotifier`: here it prints; Slack or SMS would go here.
struct PrintNotifier;

impl Notifier for PrintNotifier {
    fn name(&self) -> &str {
        "print"
    }

    fn notify(&self, report: &RotationReport) -> Result<(), String> {
        println!(
            "notifier: key rotation {} ({} values re-encrypted)",
            report.status, report.records_rewritten
        );
        Ok(())
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn Error>> {
    let ring = load_or_create_keys()?;
    encrypted_field::install(ring.clone())?;

    std::fs::create_dir_all(DATA_DIR)?;
    let conn = &mut SqliteConnection::establish(DATABASE)?;
    diesel::sql_query(
        "CREATE TABLE IF NOT EXISTS customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, \
         _ssn BLOB, _phone BLOB NOT NULL, phone_bidx BLOB NOT NULL)",
    )
    .execute(conn)?;

    // 1. Write through the setters: the plaintext never reaches the database.
    if customers::table.count().get_result::<i64>(conn)? == 0 {
        for (id, name, ssn, phone) in [
            (1, "Ada Lovelace", Some("078-05-1120"), "+1 (555) 010-0100"),
            (2, "Alan Turing", None, "+44 20 7946 0018"),
            (3, "Grace Hopper", Some("219-09-9999"), "+1 555 010 0199"),
        ] {
            let mut customer = Customer {
                id,
                name: name.to_owned(),
                ..Customer::default()
            };
            if let Some(ssn) = ssn {
                customer.set_ssn(ssn)?;
            }
            customer.set_phone(phone)?;
            diesel::insert_into(customers::table)
                .values(&customer)
                .execute(conn)?;
        }
        println!("stored 3 customers in {DATABASE}");
    }

    // 2. Read through the getters.
    for customer in customers::table
        .select(Customer::as_select())
        .order(customers::id)
        .load(conn)?
    {
        let ssn = customer.ssn()?.unwrap_or_else(|| "(none)".to_owned());
        println!(
            "{:>2} {:<13} ssn {:<12} phone {}",
            customer.id,
            customer.name,
            ssn,
            customer.phone()?
        );
    }

    // 3. What a database leak shows: envelopes, never plaintext.
    let raw: Vec<u8> = customers::table
        .select(customers::_phone)
        .filter(customers::id.eq(1))
        .first(conn)?;
    let header = raw.get(..7).unwrap_or(&raw);
    println!(
        "raw _phone of customer 1: {} bytes, starting {header:02x?} (\"EF\", format 1, key version)",
        raw.len()
    );

    // 4. Equality lookup through the blind index, whatever the spelling.
    let found: Customer = customers::table
        .filter(customers::phone_bidx.eq(Customer::phone_index("1-555-010-0100")?))
        .select(Customer::as_select())
        .first(conn)?;
    println!("found by phone 1-555-010-0100: {}", found.name);

    // 5. Rotate: a dry run, then a new key, a backup, the rewrite and its verification.
    let registry = Registry::discovered()?;
    let mut db = Database::connect(DATABASE)?;
    let rotated_ring = add_new_key(&ring)?;
    let dry = Rotation::new(&registry)
        .dry_run(true)
        .run(&mut db, &rotated_ring)?;
    println!(
        "dry run: {} values would be re-encrypted to key v{}",
        dry.records_rewritten, dry.active_version
    );
    activate(&rotated_ring)?;
    let report = Rotation::new(&registry)
        .backup_dir(BACKUP_DIR)
        .notifier(LogNotifier)
        .notifier(PrintNotifier)
        .run(&mut db, &rotated_ring)?;
    print!("{report}");
    println!(
        "report (the Django module's keys): {}",
        django_report(&report)
    );
    Ok(())
}

/// The Django module's report dictionary.
fn django_report(report: &RotationReport) -> String {
    serde_json::json!({
        "status": report.status.to_string(),
        "timestamp": report.timestamp,
        "models_processed": report.models_processed,
        "records_processed": report.records_processed,
        "failed_records": report.failed_records,
        "key_backup_path": report.key_backup_path,
    })
    .to_string()
}

/// The ring from the environment; or, with nothing configured, a development keys directory.
fn load_or_create_keys() -> Result<KeyRing, Box<dyn Error>> {
    if EnvVars::default().any_key_set() {
        return Ok(KeyRing::from_env()?);
    }
    let keys = KeysDir::new(DEV_KEYS_DIR);
    if !Path::new(DEV_BLIND_INDEX_KEY).exists() {
        keys.add(true)?;
        // Mode 0600, never over an existing file nor through a link.
        MasterKey::generate().write_to_new_file(Path::new(DEV_BLIND_INDEX_KEY))?;
        eprintln!(
            "note: no key configured; created a development key in ./{DEV_KEYS_DIR}/. In production, mount \
             keys as Docker secrets and set ENCRYPTED_FIELD_KEYS_DIR=/run/secrets (see README.md, Keys)."
        );
    }
    let blind_index = BlindIndexKey::new(MasterKey::from_file(Path::new(DEV_BLIND_INDEX_KEY))?);
    Ok(keys.load(None)?.with_blind_index_key(blind_index)?)
}

/// Adds version N+1 to the development keys directory, not yet active, and returns the ring in
/// which it is. (With keys from the environment, operators provision the new key; the ring's
/// active version is used as it is.)
fn add_new_key(ring: &KeyRing) -> Result<KeyRing, Box<dyn Error>> {
    if EnvVars::default().any_key_set() {
        return Ok(ring.clone());
    }
    let keys = KeysDir::new(DEV_KEYS_DIR);
    let version = keys.add(false)?;
    println!("added key {version} in ./{DEV_KEYS_DIR}/");
    Ok(keys.load(Some(version))?.with_blind_index_keys_of(ring)?)
}

/// Makes the new key the active one in the development keys directory.
fn activate(ring: &KeyRing) -> Result<(), Box<dyn Error>> {
    if !EnvVars::default().any_key_set() {
        KeysDir::new(DEV_KEYS_DIR).activate(ring.active_version())?;
    }
    Ok(())
}
