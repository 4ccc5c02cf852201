//! The standalone binary reaches every backend the README names: the documented `cargo install`
//! gives SQLite, MySQL/MariaDB and PostgreSQL, the binary built that way runs on MariaDB and
//! PostgreSQL, and a server it cannot reach is an error on one line.

use std::collections::BTreeSet;
use std::path::Path;

use encrypted_field::cli::INSTALL_COMMAND;

#[cfg(any(feature = "mysql", feature = "postgres"))]
use crate::harness::{Run, ServerTable, Workspace, env_refs, plaintexts, run};
#[cfg(any(feature = "mysql", feature = "postgres"))]
use encrypted_field::testing::{Backend, with_database};

/// The features `name` turns on, itself included, following `[features]` of `Cargo.toml`
/// (optional dependencies and other packages' features left out).
fn feature_closure(cargo_toml: &str, name: &str) -> BTreeSet<String> {
    let section = cargo_toml
        .split("\n[features]\n")
        .nth(1)
        .and_then(|rest| rest.split("\n[").next())
        .expect("Cargo.toml has a [features] section");
    let features: Vec<(&str, Vec<&str>)> = section
        .lines()
        .filter_map(|line| line.split_once(" = ["))
        .map(|(name, list)| {
            let items = list
                .trim_end_matches(']')
                .split(',')
                .map(|item| item.trim().trim_matches('"'))
                .filter(|item| !item.is_empty() && !item.contains(['/', ':']))
                .collect();
            (name.trim(), items)
        })
        .collect();
    let mut closure = BTreeSet::new();
    let mut todo = vec![name];
    while let Some(next) = todo.pop() {
        if closure.insert(next.to_owned()) {
            let (_, items) = features
                .iter()
                .find(|(feature, _)| *feature == next)
                .unwrap_or_else(|| panic!("no feature `{next}` in Cargo.toml"));
            todo.extend(items);
        }
    }
    closure
}

#[test]
fn the_documented_install_command_builds_the_tool_with_all_three_backends() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(manifest.join("../README.md")).unwrap();
    let cargo_toml = std::fs::read_to_string(manifest.join("Cargo.toml")).unwrap();

    let installs: Vec<&str> = readme
        .lines()
        .filter_map(|line| line.split("cargo install encrypted-field").nth(1))
        .collect();
    assert!(
        !installs.is_empty(),
        "the README says how to install the tool"
    );
    for install in installs {
        let features = install
            .split("--features")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            // The list ends where the command does: a closing quote or backtick, a bracket,
            // the sentence's full stop.
            .map(|list| {
                list.split(['`', '\'', '"', ')', '('])
                    .find(|part| !part.is_empty())
            })
            .map(|list| {
                list.unwrap_or_default()
                    .trim_end_matches(['.', ',', ';', ':'])
            })
            .unwrap_or_else(|| panic!("`cargo install encrypted-field{install}` names no feature"));
        // `cargo install` turns the default features on too, unless told not to.
        let defaults = (!install.contains("--no-default-features")).then_some("default");
        let on: BTreeSet<String> = features
            .split(',')
            .chain(defaults)
            .flat_map(|feature| feature_closure(&cargo_toml, feature))
            .collect();
        for needed in ["cli", "sqlite", "mysql", "postgres"] {
            assert!(
                on.contains(needed),
                "`cargo install encrypted-field{install}` leaves out `{needed}`: {on:?}"
            );
        }
    }
    assert!(
        readme.contains(INSTALL_COMMAND),
        "the README gives the command the binary names: {INSTALL_COMMAND}"
    );
}

/// `status` through the binary on the server `backend` counts the table's values.
#[cfg(any(feature = "mysql", feature = "postgres"))]
fn status_runs_on(backend: Backend) {
    const ROWS: i64 = 30;
    let Some(url) = backend.url() else { return };
    let workspace = Workspace::new();
    let server_table = ServerTable::new(&url, "cli_backend");
    let mut db = encrypted_field::rotation::database::Database::connect(&url).unwrap();
    server_table.table.create(&mut db);
    server_table
        .table
        .insert(&mut db, &workspace.ring(), &plaintexts(ROWS, 11));
    let mut args = vec!["status", "--json", "--database-url", url.as_str()];
    let flags = server_table.table.column_flags();
    args.extend(flags.iter().map(String::as_str));

    let status = run(&args, &env_refs(&workspace.env())).expect(0).json();

    assert_eq!(status["columns"][0]["rows"], ROWS, "{status:#}");
    assert_eq!(status["columns"][0]["values_by_version"]["v1"], ROWS);
}

/// The binary's error for `url`, which it cannot reach: exit 2, one line.
#[cfg(any(feature = "mysql", feature = "postgres"))]
fn unreachable(url: &str) -> Run {
    let failed = run(
        &["status", "--database-url", url, "--column", "t.secret"],
        &[],
    )
    .expect(2);
    assert_eq!(failed.stderr.lines().count(), 1, "one line: {failed:#?}");
    assert!(!failed.stderr.contains('\t'), "{failed:#?}");
    failed
}

#[cfg(feature = "mysql")]
#[test]
fn the_binary_runs_on_mariadb() {
    status_runs_on(Backend::Mysql);
}

#[cfg(feature = "postgres")]
#[test]
fn the_binary_runs_on_postgres() {
    status_runs_on(Backend::Postgres);
}

#[cfg(feature = "postgres")]
#[test]
fn a_postgres_connection_error_is_one_line() {
    let refused = unreachable("postgres://postgres@127.0.0.1:1/test");
    assert!(
        refused
            .stderr
            .starts_with("error: connecting to postgres://postgres@127.0.0.1:1/test: "),
        "{refused:#?}"
    );
    // libpq's hint, which it puts on a line of its own, is kept on the same line.
    assert!(refused.stderr.contains("; "), "{refused:#?}");

    if let Some(url) = Backend::Postgres.url() {
        let missing = unreachable(&with_database(&url, "no_such_database_ef"));
        assert!(
            missing.stderr.contains("no_such_database_ef"),
            "{missing:#?}"
        );
    }
}

#[cfg(feature = "mysql")]
#[test]
fn a_mariadb_connection_error_is_one_line() {
    let refused = unreachable("mysql://root@127.0.0.1:1/test");
    assert!(
        refused
            .stderr
            .starts_with("error: connecting to mysql://root@127.0.0.1:1/test: "),
        "{refused:#?}"
    );
    if let Some(url) = Backend::Mysql.url() {
        let missing = unreachable(&with_database(&url, "no_such_database_ef"));
        assert!(
            missing.stderr.contains("no_such_database_ef"),
            "{missing:#?}"
        );
    }
}
