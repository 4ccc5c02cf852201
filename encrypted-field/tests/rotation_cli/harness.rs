//! What the rotation CLI tests share: the binary's harness (`support/binary.rs`), a table of
//! encrypted rows on a real database (set up through `Database::execute`, read back through
//! Diesel), and reading key versions out of stored values.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Binary, Nullable, Text};
use encrypted_field::KeyRing;
use encrypted_field::keys::KeysDir;
use encrypted_field::rotation::database::{Connection, Database};

#[path = "../support/binary.rs"]
mod binary;
#[allow(
    unused_imports,
    reason = "not every test binary that includes this harness reads a `Run`"
)]
pub use binary::{Run, command, run};

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The rows of the query `$sql`, loaded through Diesel from whichever backend `$db` is on.
macro_rules! load_rows {
    ($db:expr, $sql:expr) => {
        match $db.connection() {
            #[cfg(feature = "sqlite")]
            Connection::Sqlite(conn) => diesel::RunQueryDsl::load(diesel::sql_query($sql), conn),
            #[cfg(feature = "postgres")]
            Connection::Postgres(conn) => diesel::RunQueryDsl::load(diesel::sql_query($sql), conn),
            #[cfg(feature = "mysql")]
            Connection::Mysql(conn) => diesel::RunQueryDsl::load(diesel::sql_query($sql), conn),
            #[allow(unreachable_patterns)]
            _ => panic!("no loader for this backend"),
        }
        .unwrap()
    };
}

/// One row of a test table: a NOT NULL binary column and a nullable TEXT column (base64).
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct Row {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Binary)]
    pub secret: Vec<u8>,
    #[diesel(sql_type = Nullable<Text>)]
    pub note: Option<String>,
}

/// The plaintexts a row was created with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plain {
    pub id: i64,
    pub secret: Vec<u8>,
    pub note: Option<String>,
}

/// A table `name (id, secret, note)` and the CLI flags that describe it.
#[derive(Debug, Clone)]
pub struct Table {
    pub name: String,
}

impl Table {
    pub fn new(name: impl Into<String>) -> Self {
        Self { name: name.into() }
    }

    pub fn secret_context(&self) -> String {
        format!("{}.secret", self.name)
    }

    pub fn note_context(&self) -> String {
        format!("{}.note", self.name)
    }

    /// `--column table.secret --column table.note:text:nullable`.
    pub fn column_flags(&self) -> Vec<String> {
        vec![
            "--column".to_owned(),
            format!("{}.secret", self.name),
            "--column".to_owned(),
            format!("{}.note:text:nullable", self.name),
        ]
    }

    pub fn create(&self, db: &mut Database) {
        let sql = match db.backend_name() {
            "postgres" => format!(
                "CREATE TABLE {} (id BIGINT PRIMARY KEY, secret BYTEA NOT NULL, note TEXT)",
                self.name
            ),
            "mysql" => format!(
                "CREATE TABLE {} (id BIGINT PRIMARY KEY, secret BLOB NOT NULL, note TEXT)",
                self.name
            ),
            _ => format!(
                "CREATE TABLE {} (id INTEGER PRIMARY KEY, secret BLOB NOT NULL, note TEXT)",
                self.name
            ),
        };
        db.execute(&sql).unwrap();
    }

    /// Inserts `rows`, sealed with `ring`'s active key, in statements of 500 rows inside one
    /// transaction.
    pub fn insert(&self, db: &mut Database, ring: &KeyRing, rows: &[Plain]) {
        let bytes = |b: &[u8]| match db.backend_name() {
            "postgres" => format!("'\\x{}'::bytea", hex(b)),
            _ => format!("x'{}'", hex(b)),
        };
        let statements: Vec<String> = rows
            .chunks(500)
            .map(|chunk| {
                let values: Vec<String> = chunk
                    .iter()
                    .map(|row| {
                        let secret = ring.encrypt_with_context(&row.secret, &self.secret_context());
                        let note = row.note.as_ref().map_or("NULL".to_owned(), |n| {
                            format!(
                                "'{}'",
                                ring.encrypt_to_base64(n.as_bytes(), &self.note_context())
                            )
                        });
                        format!("({}, {}, {note})", row.id, bytes(&secret))
                    })
                    .collect();
                format!(
                    "INSERT INTO {} (id, secret, note) VALUES {}",
                    self.name,
                    values.join(", ")
                )
            })
            .collect();
        db.execute("BEGIN").unwrap();
        for statement in statements {
            db.execute(&statement).unwrap();
        }
        db.execute("COMMIT").unwrap();
    }

    /// Every row, by id.
    pub fn load(&self, db: &mut Database) -> Vec<Row> {
        let sql = format!("SELECT id, secret, note FROM {} ORDER BY id", self.name);
        load_rows!(db, sql)
    }

    /// Asserts that every row opens with `ring` to the plaintexts it was created with.
    pub fn assert_plaintexts(&self, db: &mut Database, ring: &KeyRing, expected: &[Plain]) {
        let rows = self.load(db);
        assert_eq!(rows.len(), expected.len());
        for (row, plain) in rows.iter().zip(expected) {
            assert_eq!(row.id, plain.id);
            let secret = ring
                .decrypt_with_context(&row.secret, &self.secret_context())
                .unwrap_or_else(|e| panic!("row {}: secret: {e}", row.id));
            assert_eq!(secret, plain.secret, "row {}: secret", row.id);
            let note = row.note.as_ref().map(|n| {
                let bytes = ring
                    .decrypt_base64(n, &self.note_context())
                    .unwrap_or_else(|e| panic!("row {}: note: {e}", row.id));
                String::from_utf8(bytes).unwrap()
            });
            assert_eq!(note, plain.note, "row {}: note", row.id);
        }
    }

    /// How many non-NULL values of the table use each key version.
    pub fn versions(&self, db: &mut Database) -> std::collections::BTreeMap<u32, u64> {
        let mut counts = std::collections::BTreeMap::new();
        for row in self.load(db) {
            *counts.entry(version_of(&row.secret)).or_default() += 1;
            if let Some(note) = &row.note {
                *counts
                    .entry(version_of(&STANDARD.decode(note).unwrap()))
                    .or_default() += 1;
            }
        }
        counts
    }
}

/// A table of its own on the server at `url`, `{prefix}_{process}_{nanos}` (created by the
/// test), dropped at the end of the test, passed or failed.
#[cfg(any(feature = "mysql", feature = "postgres"))]
#[derive(Debug)]
pub struct ServerTable {
    url: String,
    pub table: Table,
}

#[cfg(any(feature = "mysql", feature = "postgres"))]
impl ServerTable {
    pub fn new(url: &str, prefix: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        Self {
            url: url.to_owned(),
            table: Table::new(format!("{prefix}_{}_{nanos}", std::process::id())),
        }
    }
}

#[cfg(any(feature = "mysql", feature = "postgres"))]
impl Drop for ServerTable {
    fn drop(&mut self) {
        if let Ok(mut db) = Database::connect(&self.url) {
            let _ = db.execute(&format!("DROP TABLE IF EXISTS {}", self.table.name));
        }
    }
}

#[derive(QueryableByName)]
struct TextValue {
    #[diesel(sql_type = Nullable<Text>)]
    value: Option<String>,
}

/// The `value` column of a query's rows.
pub fn load_text(db: &mut Database, sql: &str) -> Vec<Option<String>> {
    let rows: Vec<TextValue> = load_rows!(db, sql);
    rows.into_iter().map(|r| r.value).collect()
}

/// The key version in an envelope's header.
pub fn version_of(envelope: &[u8]) -> u32 {
    assert_eq!(&envelope[..3], b"EF\x01", "not a format-v1 envelope");
    u32::from_be_bytes(envelope[3..7].try_into().unwrap())
}

/// `count` rows of varied plaintexts (every 7th note is NULL), reproducible from `seed`.
pub fn plaintexts(count: i64, seed: u64) -> Vec<Plain> {
    use rand::{Rng as _, SeedableRng as _};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (1..=count)
        .map(|id| {
            let len = rng.random_range(0..48);
            let secret: Vec<u8> = (0..len).map(|_| rng.random()).collect();
            let note = (id % 7 != 0).then(|| {
                format!(
                    "{:03}-{:02}-{:04} ✓ row {id}",
                    rng.random_range(0..1000),
                    rng.random_range(0..100),
                    rng.random_range(0..10_000)
                )
            });
            Plain { id, secret, note }
        })
        .collect()
}

/// A temporary directory holding a keys directory (`keys/`, with v1 active) and, for SQLite, the
/// database file; key backups go to a directory of their own outside it.
pub struct Workspace {
    pub dir: tempfile::TempDir,
    pub backups: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Self {
        let workspace = Self {
            dir: tempfile::tempdir().unwrap(),
            backups: tempfile::tempdir().unwrap(),
        };
        workspace.keys().add(true).unwrap();
        workspace
    }

    pub fn keys_path(&self) -> PathBuf {
        self.dir.path().join("keys")
    }

    pub fn keys(&self) -> KeysDir {
        KeysDir::new(self.keys_path())
    }

    pub fn ring(&self) -> KeyRing {
        self.keys().load(None).unwrap()
    }

    pub fn sqlite_path(&self) -> PathBuf {
        self.dir.path().join("app.db")
    }

    /// `backups/key-backups`: a directory that does not exist yet, apart from the database.
    pub fn backup_dir(&self) -> PathBuf {
        self.backups.path().join("key-backups")
    }

    /// `ENCRYPTED_FIELD_KEYS_DIR` set to the keys directory.
    pub fn env(&self) -> Vec<(&'static str, std::ffi::OsString)> {
        vec![(
            "ENCRYPTED_FIELD_KEYS_DIR",
            self.keys_path().into_os_string(),
        )]
    }
}

/// `env` as `run` takes it.
pub fn env_refs<'a>(env: &'a [(&'a str, std::ffi::OsString)]) -> Vec<(&'a str, &'a OsStr)> {
    env.iter().map(|(k, v)| (*k, v.as_os_str())).collect()
}

/// The mode bits of a file or directory.
#[cfg(unix)]
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}
