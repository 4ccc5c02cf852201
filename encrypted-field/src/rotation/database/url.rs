//! Database URLs: `sqlite://path`, a bare path, `mysql://…`, `postgres://…` / `postgresql://…`.

use std::fmt;
use std::path::PathBuf;

use crate::rotation::error::{Error, Result};

/// Which backend a URL names, and where.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A SQLite database file (`None` for `:memory:`, which must be spelled out: an empty path is
    /// an error).
    Sqlite(Option<PathBuf>),
    /// A MySQL or MariaDB server: the URL as given.
    Mysql(String),
    /// A PostgreSQL server: the URL as given.
    Postgres(String),
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

impl DatabaseUrl {
    /// The cargo feature of encrypted-field that supports this backend.
    pub(crate) fn feature(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Mysql(_) => "mysql",
            Self::Postgres(_) => "postgres",
        }
    }

    /// Parses a URL as `DATABASE_URL` or `--database-url` gives it.
    ///
    /// ```
    /// use encrypted_field::rotation::database::DatabaseUrl;
    /// assert_eq!(DatabaseUrl::parse("sqlite://app.db")?, DatabaseUrl::Sqlite(Some("app.db".into())));
    /// assert_eq!(DatabaseUrl::parse("data/app.sqlite3")?, DatabaseUrl::Sqlite(Some("data/app.sqlite3".into())));
    /// assert_eq!(DatabaseUrl::parse(":memory:")?, DatabaseUrl::Sqlite(None));
    /// assert!(DatabaseUrl::parse("sqlite://").is_err()); // no path: not silently in memory
    /// assert!(matches!(DatabaseUrl::parse("postgresql://u@h/db")?, DatabaseUrl::Postgres(_)));
    /// assert!(DatabaseUrl::parse("oracle://h/db").is_err());
    /// # Ok::<(), encrypted_field::rotation::Error>(())
    /// ```
    pub fn parse(url: &str) -> Result<Self> {
        let url = url.trim();
        if url.is_empty() {
            return Err(Error::DatabaseUrl {
                url: String::new(),
                reason: "it is empty".to_owned(),
            });
        }
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            // `sqlite://` alone would open a fresh in-memory database that vanishes on exit.
            if path.trim().is_empty() {
                return Err(Error::DatabaseUrl {
                    url: url.to_owned(),
                    reason: "it names no path (expected sqlite://PATH, or sqlite://:memory: for \
                             a database that lives only as long as the connection)"
                        .to_owned(),
                });
            }
            return Ok(Self::sqlite_path(path));
        }
        if url.starts_with("mysql://") || url.starts_with("mariadb://") {
            return Ok(Self::Mysql(url.replacen("mariadb://", "mysql://", 1)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(url.to_owned()));
        }
        if let Some((scheme, _)) = url.split_once("://") {
            return Err(Error::DatabaseUrl {
                url: redact(url),
                reason: format!(
                    "unknown scheme `{scheme}` (expected sqlite://, mysql:// or postgres://)"
                ),
            });
        }
        Ok(Self::sqlite_path(url))
    }

    fn sqlite_path(path: &str) -> Self {
        if path == ":memory:" {
            Self::Sqlite(None)
        } else {
            Self::Sqlite(Some(PathBuf::from(path)))
        }
    }

    /// The URL with any password replaced by `***`, safe to print.
    pub fn redacted(&self) -> String {
        match self {
            Self::Sqlite(Some(path)) => format!("sqlite://{}", path.display()),
            Self::Sqlite(None) => "sqlite://:memory:".to_owned(),
            Self::Mysql(url) | Self::Postgres(url) => redact(url),
        }
    }
}

/// `scheme://user:secret@host/db?password=secret` → `scheme://user:***@host/db?password=***`.
/// A URL whose user part cannot be told apart is shown as `scheme://***`.
pub fn redact(url: &str) -> String {
    // A password may itself hold `?` or `@`: the user part ends at the last `@` of the URL.
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((userinfo, _)) = rest.rsplit_once('@')
        && userinfo.contains(['/', '?', '#'])
    {
        return format!("{scheme}://***");
    }
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let base = match base.split_once("://").and_then(|(scheme, rest)| {
        let (userinfo, host) = rest.rsplit_once('@')?;
        let (user, _) = userinfo.split_once(':')?;
        Some(format!("{scheme}://{user}:***@{host}"))
    }) {
        Some(redacted) => redacted,
        None => base.to_owned(),
    };
    let Some(query) = query else { return base };
    let params: Vec<String> = query
        .split('&')
        .map(|param| match param.split_once('=') {
            Some((name, _)) if name.to_ascii_lowercase().ends_with("password") => {
                format!("{name}=***")
            }
            _ => param.to_owned(),
        })
        .collect();
    format!("{base}?{}", params.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_appear_in_errors() {
        let err = DatabaseUrl::parse("oracle://scott:tiger@db/prod")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("tiger"), "{err}");
        assert!(err.contains("scott:***@db"), "{err}");
    }

    #[test]
    fn passwords_in_query_parameters_are_redacted_too() {
        let url =
            DatabaseUrl::parse("postgres://app@db/prod?sslmode=require&password=hunter2").unwrap();
        assert_eq!(
            url.redacted(),
            "postgres://app@db/prod?sslmode=require&password=***"
        );
    }

    #[test]
    fn passwords_holding_url_delimiters_are_redacted_whole() {
        assert_eq!(redact("mysql://u:pa?ss@h/db"), "mysql://***");
        assert_eq!(
            redact("postgres://u@h/db?sslpassword=x"),
            "postgres://u@h/db?sslpassword=***"
        );
    }

    #[test]
    fn an_empty_sqlite_path_is_an_error_not_an_in_memory_database() {
        for url in ["sqlite://", "sqlite:", "  sqlite://  "] {
            let err = DatabaseUrl::parse(url).unwrap_err().to_string();
            assert!(err.contains("no path"), "{url}: {err}");
            assert!(err.contains("sqlite://:memory:"), "{url}: {err}");
        }
    }

    #[test]
    fn memory_spelled_out_is_still_in_memory() {
        for url in [":memory:", "sqlite://:memory:", "sqlite::memory:"] {
            assert_eq!(
                DatabaseUrl::parse(url).unwrap(),
                DatabaseUrl::Sqlite(None),
                "{url}"
            );
        }
    }

    #[test]
    fn mariadb_scheme_is_mysql() {
        assert_eq!(
            DatabaseUrl::parse("mariadb://root@h/test").unwrap(),
            DatabaseUrl::Mysql("mysql://root@h/test".into())
        );
    }
}
