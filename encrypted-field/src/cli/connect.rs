//! The database a command works on: its models (the application's and the flags'), and the
//! connection to `--database-url` or `$DATABASE_URL`, with errors that say how to get a build
//! that has the backend.

use crate::cli::{Cli, CliError, DatabaseArgs, models};
use crate::model::Registry;
use crate::rotation::Rotation;
use crate::rotation::database::{Database, DatabaseUrl};

/// The variable `--database-url` defaults to.
pub(crate) const DATABASE_URL_VAR: &str = "DATABASE_URL";

/// The application's models with those of the flags added.
pub(crate) fn registry(cli: &Cli, args: &DatabaseArgs) -> Result<Registry, CliError> {
    models::registry(
        cli.registry.clone(),
        args.models.as_deref(),
        &args.columns,
        &args.primary_keys,
    )
}

/// Checks before anything is written that every table and column of `registry` can be read
/// (a typo is the database's error, naming it).
pub(crate) fn check_columns(db: &mut Database, registry: &Registry) -> Result<(), CliError> {
    Rotation::new(registry).check_columns(db).map_err(engine)
}

/// Connects to `--database-url` or `$DATABASE_URL`. A SQLite file that does not exist is an
/// error (SQLite would silently create an empty database in its place).
pub(crate) fn connect(args: &DatabaseArgs) -> Result<Database, CliError> {
    connect_url(&database_url(args)?)
}

/// `--database-url`, else `$DATABASE_URL`.
pub(crate) fn database_url(args: &DatabaseArgs) -> Result<String, CliError> {
    match &args.database_url {
        Some(url) => Ok(url.clone()),
        None => std::env::var(DATABASE_URL_VAR).map_err(|_| {
            CliError::usage(format!(
                "no database: pass --database-url URL or set {DATABASE_URL_VAR}"
            ))
        }),
    }
}

/// Connects to `url`, with the checks of [`connect`].
pub(crate) fn connect_url(url: &str) -> Result<Database, CliError> {
    let parsed = DatabaseUrl::parse(url).map_err(engine)?;
    if let Some((backend, feature)) = missing_backend(&parsed) {
        return Err(backend_not_built(&parsed, backend, feature));
    }
    if let DatabaseUrl::Sqlite(Some(path)) = &parsed
        && !path.exists()
    {
        return Err(CliError::usage(format!(
            "database URL `{}`: the SQLite database file {} does not exist",
            parsed.redacted(),
            path.display()
        )));
    }
    Database::connect(url).map_err(engine)
}

/// The backend `url` names and its cargo feature, when this build lacks it.
fn missing_backend(url: &DatabaseUrl) -> Option<(&'static str, &'static str)> {
    let (backend, feature, built) = match url {
        DatabaseUrl::Sqlite(_) => ("SQLite", "sqlite", cfg!(feature = "sqlite")),
        DatabaseUrl::Mysql(_) => ("MySQL/MariaDB", "mysql", cfg!(feature = "mysql")),
        DatabaseUrl::Postgres(_) => ("PostgreSQL", "postgres", cfg!(feature = "postgres")),
    };
    (!built).then_some((backend, feature))
}

/// The error for a URL of a backend this build lacks: it says how to get a tool that has it.
fn backend_not_built(url: &DatabaseUrl, backend: &str, feature: &str) -> CliError {
    CliError::usage(format!(
        "database URL `{}`: this build of encrypted-field has no {backend} support; install the \
         tool with all three backends: {} (an application embedding the tool enables \
         encrypted-field's `{feature}` feature)",
        url.redacted(),
        crate::cli::INSTALL_COMMAND,
    ))
}

/// An error of the rotation engine or the database: the command could not run (exit 2). Its
/// message says what was being done and where (the table and column, the file, the URL with its
/// password removed).
pub(crate) fn engine(err: impl Into<crate::rotation::Error>) -> CliError {
    CliError::usage(err.into().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Exit;

    #[test]
    fn a_backend_the_build_lacks_names_the_install_command() {
        let url = DatabaseUrl::parse("mysql://app:s3cret@db/app").unwrap();

        let err = backend_not_built(&url, "MySQL/MariaDB", "mysql");

        assert_eq!(err.exit(), Exit::Usage);
        let message = err.to_string();
        assert!(
            message.contains("cargo install encrypted-field --features cli-all-backends"),
            "{message}"
        );
        assert!(message.contains("`mysql` feature"), "{message}");
        assert!(!message.contains("s3cret"), "{message}");
    }
}
