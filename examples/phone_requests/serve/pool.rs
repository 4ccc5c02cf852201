//! The service's database connections: an r2d2 pool of the application's own [`Connection`]
//! (whatever backend the URL names), so the queries of `store` run unchanged on a pooled
//! connection. Connections are used on blocking threads only (`tokio::task::spawn_blocking`).

use std::time::Duration;

use diesel::RunQueryDsl as _;
use diesel::r2d2::{ManageConnection, Pool};

use crate::db::{Connection, Location, with_connection};
use crate::error::AppError;

/// How long a request waits for a free connection before it is answered `503`.
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(10);

/// Makes the pool's connections: the URL's backend, SQLite with its busy timeout (see
/// [`Location::connect`]).
#[derive(Debug)]
pub struct Manager {
    location: Location,
}

/// The error of a connection that could not be made or checked.
#[derive(Debug)]
pub struct ConnectError(String);

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConnectError {}

impl ManageConnection for Manager {
    type Connection = Connection;
    type Error = ConnectError;

    fn connect(&self) -> Result<Connection, ConnectError> {
        self.location
            .connect()
            .map_err(|e| ConnectError(format!("connecting to {}: {e}", self.location.redacted())))
    }

    fn is_valid(&self, conn: &mut Connection) -> Result<(), ConnectError> {
        with_connection!(conn, |c| diesel::sql_query("SELECT 1").execute(c))
            .map(drop)
            .map_err(|e| ConnectError(format!("checking a pooled connection: {e}")))
    }

    fn has_broken(&self, _: &mut Connection) -> bool {
        false
    }
}

/// The pool of the service.
pub type DbPool = Pool<Manager>;

/// A pool of at most `size` connections to `location`, with one made now (a wrong URL or a
/// server that refuses fails the start, not the first request).
pub fn build(location: &Location, size: u32) -> Result<DbPool, AppError> {
    Pool::builder()
        .max_size(size)
        .min_idle(Some(1))
        .connection_timeout(CHECKOUT_TIMEOUT)
        .build(Manager {
            location: location.clone(),
        })
        .map_err(|e| AppError::usage(format!("opening the connection pool: {e}")))
}
