//! A fresh database on the MariaDB / PostgreSQL server of `MYSQL_DATABASE_URL` /
//! `PG_DATABASE_URL` for each scenario, dropped afterwards: reruns and parallel runs never meet.
#![cfg(any(feature = "mysql", feature = "postgres"))]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use encrypted_field::rotation::database::Database;
use encrypted_field::testing::{Backend, with_database};

/// A database created for one scenario; dropped with it.
pub struct FreshDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl FreshDatabase {
    /// Creates a database on the server `backend`, or returns `None` (after printing
    /// `skipped: …`) when its URL is not set. With `ENCRYPTED_FIELD_REQUIRE_BACKENDS=1`, as in
    /// CI, a missing URL fails the test instead (see [`Backend::url`]).
    pub fn create(backend: Backend) -> Option<Self> {
        let admin_url = backend.url()?;
        static RUNS: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!(
            "phone_requests_e2e_{}_{}_{nanos}",
            std::process::id(),
            RUNS.fetch_add(1, Ordering::Relaxed)
        );
        let mut admin = Database::connect(&admin_url).expect("connecting to the test server");
        admin
            .execute(&format!("CREATE DATABASE {name}"))
            .expect("creating a database for the scenario");
        let url = with_database(&admin_url, &name);
        Some(Self {
            admin_url,
            name,
            url,
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
        if let Ok(mut admin) = Database::connect(&self.admin_url) {
            let _ = admin.execute(&format!("DROP DATABASE IF EXISTS {}", self.name));
        }
    }
}
