//! Rotation does not care who wrote the rows: what an application wrote through its diesel-async
//! connection is rotated by `Rotation` through the synchronous `Database`, and read back by the
//! async connection afterwards. Compiled once per backend, with `super::Conn` naming the
//! connection type.

use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use encrypted_field::KeyVersion;
use encrypted_field::diesel::Encrypted;
use encrypted_field::model::{ColumnSpec, ModelSpec, Registry};
use encrypted_field::rotation::database::Database;
use encrypted_field::rotation::{Error, Rotation, RotationReport, RotationStatus};
use encrypted_field::testing::Backend;

use super::Conn;
use crate::schema::{AsyncCustomer, AsyncSecret, async_customers, async_secrets};
use crate::{AsyncBackend, connect};

/// How long a rotation waits while another process's rotation holds the server database's lock.
const LOCK_PATIENCE: Duration = Duration::from_secs(120);

/// Drops and creates this scenario's two tables, through the application's async connection.
async fn create_tables(conn: &mut Conn) {
    for statement in [
        "DROP TABLE IF EXISTS async_secrets".to_owned(),
        "DROP TABLE IF EXISTS async_customers".to_owned(),
        format!(
            "CREATE TABLE async_secrets (id INTEGER PRIMARY KEY NOT NULL, secret {b} NOT NULL, \
             note TEXT)",
            b = Conn::BINARY
        ),
        format!(
            "CREATE TABLE async_customers (id INTEGER PRIMARY KEY NOT NULL, _ssn {b}, \
             _phone {b} NOT NULL, phone_bidx {b} NOT NULL)",
            b = Conn::BINARY
        ),
    ] {
        diesel::sql_query(statement).execute(conn).await.unwrap();
    }
}

fn secret(id: i32, secret: &str, note: Option<&str>) -> AsyncSecret {
    AsyncSecret {
        id,
        secret: Encrypted::new(secret.to_owned()),
        note: note.map(|note| Encrypted::new(note.to_owned())),
    }
}

fn customer(id: i32, ssn: Option<&str>, phone: &str) -> AsyncCustomer {
    let mut customer = AsyncCustomer {
        id,
        ..AsyncCustomer::default()
    };
    if let Some(ssn) = ssn {
        customer.set_ssn(ssn).unwrap();
    }
    customer.set_phone(phone).unwrap();
    customer
}

/// The key version of every value stored in both tables (NULLs left out).
async fn stored_versions(conn: &mut Conn) -> Vec<KeyVersion> {
    let ring = encrypted_field::global().unwrap();
    let secrets: Vec<(Vec<u8>, Option<String>)> = async_secrets::table
        .select((async_secrets::secret, async_secrets::note))
        .load(conn)
        .await
        .unwrap();
    let customers: Vec<(Option<Vec<u8>>, Vec<u8>)> = async_customers::table
        .select((async_customers::_ssn, async_customers::_phone))
        .load(conn)
        .await
        .unwrap();
    let mut envelopes = Vec::new();
    for (secret, note) in secrets {
        envelopes.push(secret);
        envelopes.extend(note.map(|note| {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .decode(note)
                .unwrap()
        }));
    }
    for (ssn, phone) in customers {
        envelopes.extend(ssn);
        envelopes.push(phone);
    }
    envelopes
        .iter()
        .map(|envelope| ring.version_of(envelope).unwrap())
        .collect()
}

/// `Rotation::run` to version 3 through a synchronous `Database` of its own, waiting while
/// another process's rotation holds the server database's lock.
fn rotate_to_version_3(url: &str, registry: &Registry) -> RotationReport {
    let mut db = Database::connect(url).unwrap();
    let started = Instant::now();
    loop {
        match Rotation::new(registry)
            .batch_size(2)
            .run(&mut db, &crate::ring(3))
        {
            Err(Error::RotationInProgress { .. }) if started.elapsed() < LOCK_PATIENCE => {
                std::thread::sleep(Duration::from_millis(200));
            }
            result => return result.unwrap(),
        }
    }
}

#[test]
fn values_written_through_the_async_connection_are_rotated_and_read_back() {
    // SQLite: a file, since the rotation opens a connection of its own.
    let dir = tempfile::tempdir().unwrap();
    let sqlite_file = dir.path().join("app.db").display().to_string();
    crate::run::<Conn>(async |url| {
        let url = match Conn::BACKEND {
            Backend::Sqlite => sqlite_file,
            _ => url,
        };
        let conn = &mut connect::<Conn>(&url).await;
        create_tables(conn).await;
        let secrets = [
            secret(1, "+1 555 0100", Some("first")),
            secret(2, "+1 555 0101", None),
            secret(3, "+1 555 0102", Some("third")),
        ];
        let customers = [
            customer(1, Some("078-05-1120"), "+1 (555) 010-0100"),
            customer(2, None, "+1 (555) 010-0199"),
        ];
        // One statement per row: `SyncConnectionWrapper<SqliteConnection>` has no multi-row insert.
        for row in &secrets {
            diesel::insert_into(async_secrets::table)
                .values(row)
                .execute(conn)
                .await
                .unwrap();
        }
        for row in &customers {
            diesel::insert_into(async_customers::table)
                .values(row)
                .execute(conn)
                .await
                .unwrap();
        }
        assert_eq!(stored_versions(conn).await, [KeyVersion::new(2); 8]);

        let registry = Registry::new()
            .register_spec(
                ModelSpec::new("async_secrets", "id")
                    .column(ColumnSpec::binary("secret"))
                    .column(ColumnSpec::text("note").nullable()),
            )
            .unwrap()
            .register::<AsyncCustomer>()
            .unwrap();
        let report = rotate_to_version_3(&url, &registry);
        assert_eq!(report.status, RotationStatus::Completed, "{report}");
        assert_eq!(
            (report.records_rewritten, report.failed_records),
            (8, 0),
            "{report}"
        );
        assert_eq!(stored_versions(conn).await, [KeyVersion::new(3); 8]);

        // The application's connection reads the rotated rows, and finds them by blind index.
        let read: Vec<AsyncSecret> = async_secrets::table
            .select(AsyncSecret::as_select())
            .order(async_secrets::id)
            .load(conn)
            .await
            .unwrap();
        assert_eq!(read, secrets);
        let found: Vec<AsyncCustomer> = async_customers::table
            .filter(
                async_customers::phone_bidx
                    .eq(AsyncCustomer::phone_index("1 555 010 0100").unwrap()),
            )
            .select(AsyncCustomer::as_select())
            .load(conn)
            .await
            .unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(
            (
                found[0].ssn().unwrap().as_deref(),
                found[0].phone().unwrap()
            ),
            (Some("078-05-1120"), "+1 (555) 010-0100".to_owned())
        );

        for table in ["async_secrets", "async_customers"] {
            diesel::sql_query(format!("DROP TABLE {table}"))
                .execute(conn)
                .await
                .unwrap();
        }
    });
}
