//! A database of its own for each scenario: a SQLite file in WAL mode in a temporary directory, or
//! a fresh database on the MariaDB / PostgreSQL server of `MYSQL_DATABASE_URL` / `PG_DATABASE_URL`,
//! dropped afterwards. The fleet's tables are per database, so parallel runs never see each
//! other's instances.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use encrypted_field::rotation::database::Database;
use encrypted_field::testing::{Backend, with_database};

/// A database created for one scenario; dropped with it.
pub struct FreshDatabase {
    admin_url: Option<String>,
    name: String,
    url: String,
    _dir: Option<tempfile::TempDir>,
}

impl FreshDatabase {
    /// A database on `backend`, or `None` when its server is not configured (see
    /// [`Backend::url`]).
    pub fn create(backend: Backend) -> Option<Self> {
        if backend == Backend::Sqlite {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("fleet.db");
            let url = format!("sqlite://{}", path.display());
            Database::connect(&url)
                .unwrap()
                .execute("PRAGMA journal_mode = WAL")
                .unwrap();
            return Some(Self {
                admin_url: None,
                name: String::new(),
                url,
                _dir: Some(dir),
            });
        }
        let admin_url = backend.url()?;
        static RUNS: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!(
            "ef_fleet_{}_{}_{nanos}",
            std::process::id(),
            RUNS.fetch_add(1, Ordering::Relaxed)
        );
        Database::connect(&admin_url)
            .unwrap()
            .execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        let url = with_database(&admin_url, &name);
        Some(Self {
            admin_url: Some(admin_url),
            name,
            url,
            _dir: None,
        })
    }

    /// Its URL.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for FreshDatabase {
    fn drop(&mut self) {
        // Best effort: a database left behind by a crash has a unique name and harms nothing.
        if let Some(admin_url) = &self.admin_url
            && let Ok(mut admin) = Database::connect(admin_url)
        {
            let _ = admin.execute(&format!("DROP DATABASE IF EXISTS {}", self.name));
        }
    }
}
