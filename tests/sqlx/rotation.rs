//! Rotation, verification, status and migration do not care who wrote the rows: what an
//! application wrote through sqlx is counted, rotated, verified and migrated by `Rotation`
//! through the synchronous `Database`, and read back through sqlx afterwards. Compiled once per
//! backend, with `super::Db` naming the sqlx database.

use std::time::{Duration, Instant};

use encrypted_field::KeyVersion;
use encrypted_field::legacy::LegacyKey;
use encrypted_field::model::{ColumnSpec, ModelSpec, Registry};
use encrypted_field::rotation::database::Database;
use encrypted_field::rotation::{Error, Rotation, RotationStatus};
use encrypted_field::sqlx::{Encrypted, EncryptedText};
use encrypted_field::testing::Backend;

use super::Db;
use super::scenarios::execute_all;
use crate::{SqlxBackend, connect};

type Conn = <Db as sqlx::Database>::Connection;

/// How long an operation waits while another process's rotation holds the server database's lock.
const LOCK_PATIENCE: Duration = Duration::from_secs(120);

encrypted_field::column_context!(Secret = "ef_sqlx_secrets.secret");
encrypted_field::column_context!(SecretNote = "ef_sqlx_secrets.note");
encrypted_field::column_context!(Legacy = "ef_sqlx_legacy.phone");

#[derive(Debug, PartialEq, sqlx::FromRow)]
struct SecretRow {
    id: i64,
    secret: Encrypted<String, Secret>,
    note: Option<EncryptedText<String, SecretNote>>,
}

fn secret(id: i64, secret: &str, note: Option<&str>) -> SecretRow {
    SecretRow {
        id,
        secret: Encrypted::new(secret.to_owned()),
        note: note.map(|note| EncryptedText::new(note.to_owned())),
    }
}

/// The URL both sqlx and the rotation's `Database` reach: SQLite's is a file of the test's own,
/// since the rotation opens a connection of its own.
fn urls(url: String, dir: &tempfile::TempDir) -> (String, String) {
    match Db::BACKEND {
        Backend::Sqlite => {
            let path = dir.path().join("app.db").display().to_string();
            (Db::sqlite_file_url(&path), path)
        }
        _ => (url.clone(), url),
    }
}

/// `operation` on a `Database` of its own, waiting while another process's rotation holds the
/// server database's lock.
fn locked<T>(database_url: &str, operation: impl Fn(&mut Database) -> Result<T, Error>) -> T {
    let mut db = Database::connect(database_url).unwrap();
    let started = Instant::now();
    loop {
        match operation(&mut db) {
            Err(Error::RotationInProgress { .. }) if started.elapsed() < LOCK_PATIENCE => {
                std::thread::sleep(Duration::from_millis(200));
            }
            result => return result.unwrap(),
        }
    }
}

fn secrets_registry() -> Registry {
    Registry::new()
        .register_spec(
            ModelSpec::new("ef_sqlx_secrets", "id")
                .column(ColumnSpec::binary("secret"))
                .column(ColumnSpec::text("note").nullable()),
        )
        .unwrap()
}

/// Values on key versions 1, 2 and 3 across every column, as `status` counts them.
fn values_per_version(database_url: &str, registry: &Registry) -> [u64; 3] {
    let status = Rotation::new(registry)
        .status(&mut Database::connect(database_url).unwrap())
        .unwrap();
    assert!(
        status
            .columns
            .iter()
            .all(|column| column.not_envelopes == 0),
        "{status:?}"
    );
    [1, 2, 3].map(|version| status.count_for(KeyVersion::new(version)))
}

#[test]
fn rows_written_through_sqlx_are_counted_rotated_verified_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    crate::run::<Db>(async |url| {
        let (sqlx_url, database_url) = urls(url, &dir);
        let conn: &mut Conn = &mut connect::<Db>(&sqlx_url).await;
        execute_all(
            conn,
            &[
                "DROP TABLE IF EXISTS ef_sqlx_secrets".to_owned(),
                format!(
                    "CREATE TABLE ef_sqlx_secrets (id {} PRIMARY KEY NOT NULL, secret {} NOT NULL, \
                     note TEXT)",
                    Db::BIGINT,
                    Db::BINARY
                ),
            ],
        )
        .await;
        let rows = [
            secret(1, "+1 555 0100", Some("first")),
            secret(2, "+1 555 0101", None),
            secret(3, "+1 555 0102", Some("third")),
        ];
        let insert = format!(
            "INSERT INTO ef_sqlx_secrets (id, secret, note) VALUES ({})",
            Db::placeholders(3)
        );
        for row in &rows {
            sqlx::query(sqlx::AssertSqlSafe(insert.clone()))
                .bind(row.id)
                .bind(&row.secret)
                .bind(&row.note)
                .execute(&mut *conn)
                .await
                .unwrap();
        }
        let registry = secrets_registry();
        assert_eq!(values_per_version(&database_url, &registry), [0, 5, 0]);

        let report = locked(&database_url, |db| {
            Rotation::new(&registry)
                .batch_size(2)
                .run(db, &crate::ring(3))
        });
        assert_eq!(report.status, RotationStatus::Completed, "{report}");
        assert_eq!(
            (report.records_rewritten, report.failed_records),
            (5, 0),
            "{report}"
        );
        assert_eq!(values_per_version(&database_url, &registry), [0, 0, 5]);
        let verified = locked(&database_url, |db| {
            Rotation::new(&registry).verify_only(db, &crate::ring(3))
        });
        assert_eq!(verified.status, RotationStatus::Completed, "{verified}");
        assert_eq!(verified.failed_records, 0, "{verified}");

        // The application's connection reads the rotated rows (its ring holds version 3).
        let read: Vec<SecretRow> =
            sqlx::query_as("SELECT id, secret, note FROM ef_sqlx_secrets ORDER BY id")
                .fetch_all(&mut *conn)
                .await
                .unwrap();
        assert_eq!(read, rows);
        execute_all(conn, &["DROP TABLE ef_sqlx_secrets".to_owned()]).await;
    });
}

#[test]
fn plaintext_written_through_sqlx_is_migrated_and_read_back_encrypted() {
    let dir = tempfile::tempdir().unwrap();
    crate::run::<Db>(async |url| {
        let (sqlx_url, database_url) = urls(url, &dir);
        let conn: &mut Conn = &mut connect::<Db>(&sqlx_url).await;
        execute_all(
            conn,
            &[
                "DROP TABLE IF EXISTS ef_sqlx_legacy".to_owned(),
                format!(
                    "CREATE TABLE ef_sqlx_legacy (id {} PRIMARY KEY NOT NULL, phone {} NOT NULL)",
                    Db::BIGINT,
                    Db::BINARY
                ),
            ],
        )
        .await;
        let phones = ["+1 555 0100", "+1 555 0199"];
        let insert = format!(
            "INSERT INTO ef_sqlx_legacy (id, phone) VALUES ({})",
            Db::placeholders(2)
        );
        for (id, phone) in (1_i64..).zip(phones) {
            // The legacy application wrote the plaintext's bytes.
            sqlx::query(sqlx::AssertSqlSafe(insert.clone()))
                .bind(id)
                .bind(phone.as_bytes())
                .execute(&mut *conn)
                .await
                .unwrap();
        }
        let registry = Registry::new()
            .register_spec(
                ModelSpec::new("ef_sqlx_legacy", "id").column(ColumnSpec::binary("phone")),
            )
            .unwrap();

        let report = locked(&database_url, |db| {
            Rotation::new(&registry).migrate(db, &crate::ring(2), &LegacyKey::None)
        });
        assert_eq!(report.status, RotationStatus::Completed, "{report}");
        assert_eq!(report.records_rewritten, 2, "{report}");
        locked(&database_url, |db| {
            Rotation::new(&registry).finalize_migration(db, &crate::ring(2))
        });

        let read: Vec<Encrypted<String, Legacy>> =
            sqlx::query_scalar("SELECT phone FROM ef_sqlx_legacy ORDER BY id")
                .fetch_all(&mut *conn)
                .await
                .unwrap();
        assert_eq!(
            read.into_iter()
                .map(Encrypted::into_inner)
                .collect::<Vec<_>>(),
            phones
        );
        execute_all(conn, &["DROP TABLE ef_sqlx_legacy".to_owned()]).await;
    });
}
