//! `phone_requests serve`: the Node seed's backend as an HTTP JSON service (axum on tokio).
//!
//! - `POST /phone-requests` `{"name","phone"}` → `201 {"id"}`
//! - `GET /phone-requests/{id}` → `{"id","name","phone"}`; `404` when absent
//! - `PUT /phone-requests/{id}` `{"phone"}` → `204`
//! - `GET /phone-requests?phone=…` → a JSON array, found through the blind index
//! - `GET /healthz` → `{"ok":true,"key_versions":[…],"active_version":N,…}` (and the blind-index
//!   versions)
//!
//! Diesel calls run on an r2d2 pool, on tokio's blocking threads, never on the async ones. Values
//! are encrypted and decrypted with the process-wide key ring, which the library reloads without
//! a restart (a value of a version it lacks, its timer, `ENCRYPTED_FIELD_RELOAD_INTERVAL`). On
//! start the instance joins the fleet of its database (`encrypted_field::fleet::join`): it
//! seals with the version the database records as active, and checks in (its key versions) so
//! that `rotate --new-key` and `keys activate` activate a new key only once every instance has
//! loaded it. SQLite runs in WAL mode (readers never wait for the writer, several processes share
//! the file), with the busy timeout of [`crate::db`]. SIGTERM (or Ctrl-C) stops accepting
//! connections, answers the requests in flight, then leaves the fleet.

mod error;
mod pool;
mod routes;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use diesel::RunQueryDsl as _;
use encrypted_field::fleet::{self, FleetOptions};

use crate::db::{Connection, Location};
use crate::error::AppError;
use crate::keys::KeySource;

/// How the service is run: `serve`'s arguments.
#[derive(Debug, Clone, Copy)]
pub struct ServeOptions {
    /// Where to listen (port 0: a free port, printed on stdout).
    pub listen: SocketAddr,
    /// Database connections in the pool.
    pub pool_size: u32,
    /// How often the instance reads the recorded active version and checks in.
    pub check_in_interval: Duration,
}

/// Runs the service until SIGTERM or Ctrl-C.
pub fn run(
    options: ServeOptions,
    location: &Location,
    keys: &KeySource,
) -> Result<ExitCode, AppError> {
    install_ring(keys)?;
    // The schema (migrations) and, for SQLite, WAL mode: both once, before any request.
    let mut db = location.open()?;
    #[allow(
        irrefutable_let_patterns,
        reason = "built with SQLite only, the connection can be nothing else"
    )]
    if let Connection::Sqlite(conn) = &mut db {
        diesel::sql_query("PRAGMA journal_mode = WAL")
            .execute(conn)
            .map_err(|e| AppError::database("switching SQLite to WAL mode", &e))?;
    }
    drop(db);
    let member = fleet::join(
        location.url(),
        FleetOptions {
            check_in_interval: options.check_in_interval,
            ..FleetOptions::default()
        },
    )
    .map_err(|e| AppError::usage(format!("joining the fleet of {}: {e}", location.redacted())))?;
    let pool = pool::build(location, options.pool_size)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_io()
        .build()
        .map_err(|e| AppError::usage(format!("starting the async runtime: {e}")))?;
    let served = runtime.block_on(serve(options.listen, pool));
    // Leaving removes this instance's row: a rotation no longer waits for it.
    if let Err(e) = member.leave() {
        eprintln!("warning: leaving the fleet: {e} (the row expires on its own)");
    }
    served.map(|()| ExitCode::SUCCESS)
}

/// The process-wide ring, reloadable: from the environment (the library's own loader), or a
/// loader of the example's development keys directory.
fn install_ring(keys: &KeySource) -> Result<(), AppError> {
    match keys {
        KeySource::Environment => encrypted_field::global()
            .map(drop)
            .map_err(|e| AppError::library("loading the keys from the environment", &e)),
        KeySource::Development(dir) => {
            keys.prepare()?;
            let dir = dir.clone();
            encrypted_field::install_loader(move || crate::keys::development_ring(&dir))
                .map_err(|e| AppError::library("loading the development keys", &e))
        }
    }
}

/// Listens on `listen` and answers until a shutdown signal.
async fn serve(listen: SocketAddr, pool: pool::DbPool) -> Result<(), AppError> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| AppError::usage(format!("listening on {listen}: {e}")))?;
    let bound = listener
        .local_addr()
        .map_err(|e| AppError::usage(format!("reading the address listened on: {e}")))?;
    // The first line on stdout, for scripts and tests that listen on port 0.
    println!("listening on http://{bound}");
    axum::serve(listener, routes::router(pool))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| AppError::usage(format!("serving on {bound}: {e}")))?;
    eprintln!("stopped: the requests in flight were answered");
    Ok(())
}

/// Resolves on SIGTERM (what Docker, Kubernetes and systemd send) or Ctrl-C.
async fn shutdown_signal() {
    let interrupt = async {
        // If the handler cannot be installed, only SIGTERM stops the service.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                eprintln!("warning: SIGTERM cannot be handled ({e}); stop with Ctrl-C");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
