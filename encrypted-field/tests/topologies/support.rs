//! What every topology test needs: the URLs, two key versions, a table of encrypted values that
//! drops itself, raw reads and writes with plain SQL (the engine under test never sets up or
//! judges a scenario), and an application that keeps writing while a rotation runs.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use diesel::QueryableByName;
use diesel::RunQueryDsl as _;
use diesel::sql_types::{BigInt, Binary};
use encrypted_field::model::{ColumnSpec, ModelSpec, Registry};
use encrypted_field::rotation::Progress;
use encrypted_field::rotation::database::{Database, PrimaryKey};
use encrypted_field::{KeyRing, KeyVersion, MasterKey};
use rand::Rng as _;

/// The URL in `variable`, or `None` (after `skipped: set …`); with
/// `ENCRYPTED_FIELD_REQUIRE_BACKENDS=1` a missing URL fails the test.
pub fn url(variable: &str) -> Option<String> {
    encrypted_field::testing::server_url(variable)
}

/// Runs `$body` with `$conn` bound to the Diesel connection inside a [`Database`].
macro_rules! on_connection {
    ($db:expr, |$conn:ident| $body:expr) => {
        match $db.connection() {
            #[cfg(feature = "mysql")]
            encrypted_field::rotation::database::Connection::Mysql($conn) => $body,
            #[cfg(feature = "postgres")]
            encrypted_field::rotation::database::Connection::Postgres($conn) => $body,
            _ => unreachable!("the topologies are MariaDB and PostgreSQL servers"),
        }
    };
}

/// A database of the test's own, `topo_<base>_<random>`, on a server (and so on every node of a
/// cluster and on a replica), dropped at the end of the test: the rotation lock is per database,
/// so a rotation here never waits for another test's (or another engineer's) rotation on the
/// shared `test` database.
#[derive(Debug)]
pub struct ScratchDatabase {
    pub name: String,
    /// Where it is created and dropped (the server itself, never a pooler).
    server: String,
}

impl ScratchDatabase {
    pub fn create(server: &str, base: &str) -> Self {
        let name = format!("topo_{base}_{:08x}", rand::random::<u32>());
        Database::connect(server)
            .unwrap()
            .execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        Self {
            name,
            server: server.to_owned(),
        }
    }

    /// `url` (this server, a pooler in front of it, another node or a replica) with this
    /// database.
    pub fn url(&self, url: &str) -> String {
        encrypted_field::testing::with_database(url, &self.name)
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        let Ok(mut db) = Database::connect(&self.server) else {
            return;
        };
        // PgBouncer keeps server sessions to it open: FORCE ends them.
        let force = if db.backend_name() == "postgres" {
            " WITH (FORCE)"
        } else {
            ""
        };
        if let Err(e) = db.execute(&format!("DROP DATABASE IF EXISTS {}{force}", self.name)) {
            eprintln!("could not drop the test database {}: {e}", self.name);
        }
    }
}

/// Connects to `url`, waiting a little for a database another node or the primary just created.
pub fn connect_when_there(url: &str) -> Database {
    let started = std::time::Instant::now();
    loop {
        match Database::connect(url) {
            Ok(db) => return db,
            Err(e) if started.elapsed() < Duration::from_secs(30) => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("{e}"),
        }
    }
}

/// Key versions 1 and 2.
#[derive(Debug, Clone)]
pub struct Keys {
    v1: MasterKey,
    v2: MasterKey,
}

impl Keys {
    pub fn generate() -> Self {
        Self {
            v1: MasterKey::generate(),
            v2: MasterKey::generate(),
        }
    }

    /// Writes `enc_key_v1` and `enc_key_v2` (mode 0600) into `dir`, as `ENCRYPTED_FIELD_KEYS_DIR`
    /// reads them.
    #[cfg(all(feature = "cli", unix))]
    #[allow(dead_code)]
    pub fn write_keys_dir(&self, dir: &std::path::Path) {
        use std::os::unix::fs::PermissionsExt as _;
        for (name, key) in [("enc_key_v1", &self.v1), ("enc_key_v2", &self.v2)] {
            let path = dir.join(name);
            std::fs::write(&path, format!("{}\n", key.to_base64().as_str())).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
    }

    /// Only v1: the ring before the rotation.
    pub fn ring_v1(&self) -> KeyRing {
        KeyRing::builder().key(1, self.v1.clone()).build().unwrap()
    }

    /// v1 and v2, v2 active: the ring of the rotation and of every instance that loaded v2.
    pub fn ring_v2(&self) -> KeyRing {
        KeyRing::builder()
            .key(1, self.v1.clone())
            .key(2, self.v2.clone())
            .build()
            .unwrap()
    }
}

/// The key version of a stored envelope.
pub fn version(ring: &KeyRing, stored: &[u8]) -> KeyVersion {
    ring.version_of(stored).unwrap()
}

/// A table `topo_<base>_<random>` of `id BIGINT PRIMARY KEY, secret <bytes> NOT NULL`, each row
/// holding `plaintext(id, 0)` sealed with v1; dropped at the end of the test.
#[derive(Debug)]
pub struct SecretsTable {
    pub name: String,
    pub rows: i64,
    url: String,
}

impl SecretsTable {
    pub fn create(url: &str, base: &str, rows: i64, keys: &Keys) -> Self {
        let name = format!("topo_{base}_{:08x}", rand::random::<u32>());
        let mut db = Database::connect(url).unwrap();
        let bytes = match db.backend_name() {
            "mysql" => "VARBINARY(512)",
            _ => "BYTEA",
        };
        db.execute(&format!(
            "CREATE TABLE {name} (id BIGINT PRIMARY KEY, secret {bytes} NOT NULL)"
        ))
        .unwrap();
        let table = Self {
            name,
            rows,
            url: url.to_owned(),
        };
        let ring = keys.ring_v1();
        let ids: Vec<i64> = (1..=rows).collect();
        for chunk in ids.chunks(500) {
            let values: Vec<String> = chunk
                .iter()
                .map(|&id| {
                    let sealed =
                        ring.encrypt_with_context(plaintext(id, 0).as_bytes(), &table.context());
                    format!("({id}, {})", hex_literal(&db, &sealed))
                })
                .collect();
            db.execute(&format!(
                "INSERT INTO {} (id, secret) VALUES {}",
                table.name,
                values.join(", ")
            ))
            .unwrap();
        }
        table
    }

    /// The column's identity, bound into every envelope of it.
    pub fn context(&self) -> String {
        format!("{}.secret", self.name)
    }

    /// The model rotation works on.
    pub fn registry(&self) -> Registry {
        Registry::new()
            .register_spec(
                ModelSpec::new(self.name.clone(), "id").column(ColumnSpec::binary("secret")),
            )
            .unwrap()
    }

    /// Every row's stored bytes, in key order.
    pub fn read_all(&self, db: &mut Database) -> BTreeMap<i64, Vec<u8>> {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = BigInt)]
            id: i64,
            #[diesel(sql_type = Binary)]
            secret: Vec<u8>,
        }
        let sql = format!("SELECT id, secret FROM {} ORDER BY id", self.name);
        let rows: Vec<Row> = on_connection!(db, |conn| diesel::sql_query(&sql).load(conn)).unwrap();
        rows.into_iter().map(|r| (r.id, r.secret)).collect()
    }

    /// Checks every row: it opens with `ring` to `expected[id]` (or, for a row the application
    /// never wrote, to the value it was created with). Returns how many rows are on each version.
    pub fn assert_reads_back(
        &self,
        db: &mut Database,
        ring: &KeyRing,
        expected: &BTreeMap<i64, String>,
    ) -> BTreeMap<KeyVersion, usize> {
        let stored = self.read_all(db);
        assert_eq!(
            stored.len(),
            usize::try_from(self.rows).unwrap(),
            "rows of {}",
            self.name
        );
        let mut versions = BTreeMap::new();
        for (id, bytes) in &stored {
            let opened = ring
                .decrypt_with_context(bytes, &self.context())
                .unwrap_or_else(|e| panic!("{}: row {id} does not open: {e}", self.name));
            let want = expected
                .get(id)
                .cloned()
                .unwrap_or_else(|| plaintext(*id, 0));
            assert_eq!(
                String::from_utf8(opened).unwrap(),
                want,
                "{}: row {id}",
                self.name
            );
            *versions.entry(version(ring, bytes)).or_insert(0) += 1;
        }
        versions
    }
}

impl Drop for SecretsTable {
    fn drop(&mut self) {
        if let Ok(mut db) = Database::connect(&self.url) {
            let _ = db.execute(&format!("DROP TABLE IF EXISTS {}", self.name));
        }
    }
}

/// The plaintext of row `id` after its `write`-th application write (0: as created).
pub fn plaintext(id: i64, write: u64) -> String {
    format!("+1 555 {id:07} #{write}")
}

/// `bytes` as a binary literal of the connection's backend.
fn hex_literal(db: &Database, bytes: &[u8]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    match db.backend_name() {
        "mysql" => format!("x'{hex}'"),
        _ => format!("'\\x{hex}'::bytea"),
    }
}

/// Whether a database error is a conflict the engine asks the client to retry: a deadlock or a
/// Galera certification failure (MariaDB 1213), a lock-wait timeout (1205), a PostgreSQL
/// serialization failure or deadlock.
pub fn is_transient(message: &str) -> bool {
    [
        "Deadlock found",
        "Lock wait timeout",
        "could not serialize",
        "deadlock detected",
    ]
    .iter()
    .any(|m| message.contains(m))
}

/// An application writing through its own connection while a rotation runs: it rewrites random
/// rows of its share (`id % shares == share`) with new plaintexts, sealed alternately with v1 (an
/// instance that has not reloaded its keys yet) and v2, and retries a write the engine reports as
/// a transient conflict, as an application does. It keeps what it last wrote to each row.
#[derive(Debug)]
pub struct Writer {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Written>,
}

/// What a [`Writer`] did.
#[derive(Debug, Default)]
pub struct Written {
    /// Row → the plaintext of its last committed write.
    pub last: BTreeMap<i64, String>,
    pub writes: u64,
    /// Writes the engine refused as a transient conflict, and that were then retried.
    pub retried: u64,
}

impl Writer {
    /// A writer at an application's pace: a pause of 2 ms after each write, so that a rotation
    /// on the same machine gets its share of it.
    pub fn start(url: &str, table: &SecretsTable, keys: &Keys, share: i64, shares: i64) -> Self {
        Self::start_paced(url, table, keys, share, shares, Duration::from_millis(2))
    }

    /// A writer that writes without pause: as many conflicts with a rotation as it can make.
    #[cfg(feature = "mysql")]
    pub fn start_unpaced(
        url: &str,
        table: &SecretsTable,
        keys: &Keys,
        share: i64,
        shares: i64,
    ) -> Self {
        Self::start_paced(url, table, keys, share, shares, Duration::ZERO)
    }

    fn start_paced(
        url: &str,
        table: &SecretsTable,
        keys: &Keys,
        share: i64,
        shares: i64,
        pause: Duration,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (url, stop_flag) = (url.to_owned(), Arc::clone(&stop));
        let (name, rows, context) = (table.name.clone(), table.rows, table.context());
        let rings = [keys.ring_v1(), keys.ring_v2()];
        let handle = std::thread::spawn(move || {
            let mut db = Database::connect(&url).unwrap();
            let mut written = Written::default();
            let mut rng = rand::rng();
            let ids: Vec<i64> = (1..=rows).filter(|id| id % shares == share).collect();
            while !stop_flag.load(Ordering::Relaxed) {
                let id = ids[rng.random_range(0..ids.len())];
                written.writes += 1;
                let text = plaintext(id, written.writes);
                let ring = &rings[usize::try_from(written.writes % 2).unwrap()];
                let sealed = ring.encrypt_with_context(text.as_bytes(), &context);
                loop {
                    match write_secret(&mut db, &name, id, &sealed) {
                        Ok(1) => break,
                        Ok(n) => panic!("writing row {id} of {name} updated {n} rows"),
                        Err(e) if is_transient(&e.to_string()) => written.retried += 1,
                        Err(e) => panic!("writing row {id} of {name}: {e}"),
                    }
                }
                written.last.insert(id, text);
                std::thread::sleep(pause);
            }
            written
        });
        Self { stop, handle }
    }

    /// Stops the writer and returns what it wrote.
    pub fn stop(self) -> Written {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap()
    }
}

/// Sets row `id`'s stored bytes in `table`, as an application's write does.
fn write_secret(
    db: &mut Database,
    table: &str,
    id: i64,
    stored: &[u8],
) -> diesel::QueryResult<usize> {
    let sql = match db.backend_name() {
        "mysql" => format!("UPDATE {table} SET secret = ? WHERE id = ?"),
        _ => format!("UPDATE {table} SET secret = $1 WHERE id = $2"),
    };
    on_connection!(db, |conn| diesel::sql_query(&sql)
        .bind::<Binary, _>(stored)
        .bind::<BigInt, _>(id)
        .execute(conn))
}

/// Merges what several writers wrote (their shares are disjoint).
pub fn merged(written: &[&Written]) -> BTreeMap<i64, String> {
    written.iter().flat_map(|w| w.last.clone()).collect()
}

/// A [`Progress`] that holds the rotation it is given to after its first batch is read (nothing
/// of it written yet, its lock held), until [`go_on`](Self::go_on).
#[derive(Debug)]
pub struct HoldAfterFirstRead {
    fired: AtomicBool,
    held: (SyncSender<()>, Mutex<Receiver<()>>),
    go_on: (Mutex<Sender<()>>, Mutex<Receiver<()>>),
}

impl HoldAfterFirstRead {
    pub fn new() -> Self {
        let (held_tx, held_rx) = mpsc::sync_channel(1);
        let (go_tx, go_rx) = mpsc::channel();
        Self {
            fired: AtomicBool::new(false),
            held: (held_tx, Mutex::new(held_rx)),
            go_on: (Mutex::new(go_tx), Mutex::new(go_rx)),
        }
    }

    /// Returns once the rotation is held.
    pub fn wait_until_held(&self) {
        self.held.1.lock().unwrap().recv().unwrap();
    }

    /// Lets the rotation go on.
    pub fn go_on(&self) {
        let _ = self.go_on.0.lock().unwrap().send(());
    }
}

impl Progress for HoldAfterFirstRead {
    fn batch_read(&self, _table: &str, _column: &str, _keys: &[PrimaryKey]) {
        if !self.fired.swap(true, Ordering::SeqCst) {
            let _ = self.held.0.send(());
            let _ = self.go_on.1.lock().unwrap().recv();
        }
    }
}
