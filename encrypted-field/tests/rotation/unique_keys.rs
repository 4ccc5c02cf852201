//! A primary key that is not unique on its own (or is NULL in some row) would make the keyset
//! scan skip rows without a word, and `status` would then let `keys retire` retire a key still in
//! use: every pass refuses such a model before reading or writing anything.

use encrypted_field::model::{ColumnSpec, KeyKind, ModelSpec, Registry, Storage};
use encrypted_field::rotation::database::Database;
use encrypted_field::rotation::{Error, Rotation, RotationStatus};
use encrypted_field::testing::Backend as Kind;

use crate::support::{Backend, Cell, Keys, Table, insert, per_backend, read_column, seal};

/// A table keyed (or not) by `code`, as `key_sql` and `extra` declare it, holding `codes` with a
/// `secret` sealed with v1 each.
fn table_with_codes(
    backend: &Backend,
    db: &mut Database,
    keys: &Keys,
    base: &str,
    key_sql: &str,
    extra: &[String],
    codes: &[Option<i64>],
) -> Table {
    let table = backend.create_table(
        db,
        base,
        &format!(
            "n INTEGER NOT NULL, code {key_sql}, secret {} NOT NULL",
            backend.blob()
        ),
    );
    for sql in extra {
        db.execute(&sql.replace("{table}", &table.name)).unwrap();
    }
    for (n, code) in codes.iter().enumerate() {
        let sealed = seal(
            &keys.ring_v1(),
            Storage::Binary,
            &table.context("secret"),
            format!("secret {n}").as_bytes(),
        );
        let code = code.map_or(Cell::Null, Cell::Int);
        insert(
            db,
            &table,
            "n, code, secret",
            &[Cell::Int(n as i64), code, Cell::Bytes(sealed)],
        );
    }
    table
}

fn registry(table: &Table) -> Registry {
    Registry::new()
        .register_spec(
            ModelSpec::new(table.spec_name(), "code")
                .with_primary_key_kind(KeyKind::Integer)
                .column(ColumnSpec::binary("secret")),
        )
        .unwrap()
}

/// Every pass refuses the model, naming the table, the column and why; nothing is written.
fn assert_refused(backend: &Backend, db: &mut Database, keys: &Keys, table: &Table, why: &str) {
    let registry = registry(table);
    let ring = keys.ring_v2();
    // Keyed by `n`, which is distinct in every row: every row's bytes.
    let stored = |db: &mut Database| {
        read_column(db, table, "n", KeyKind::Integer, "secret", Storage::Binary)
    };
    let before = stored(db);
    let rotate = backend.rotate(|| Rotation::new(&registry).run(db, &ring));
    let status = Rotation::new(&registry).status(db);
    let verify = Rotation::new(&registry).verify_only(db, &ring);
    let check = Rotation::new(&registry).check_columns(db);
    for (pass, outcome) in [
        ("rotate", rotate.err()),
        ("status", status.err()),
        ("verify", verify.err()),
        ("check_columns", check.err()),
    ] {
        match outcome {
            Some(Error::PrimaryKeyNotUnique {
                table: t,
                column,
                reason,
            }) => {
                assert_eq!(
                    (t.as_str(), column.as_str()),
                    (table.name.as_str(), "code"),
                    "{pass}"
                );
                assert!(reason.contains(why), "{pass}: {reason}");
            }
            other => panic!(
                "{pass} of {}: expected a refusal, got {other:?}",
                table.name
            ),
        }
    }
    assert_eq!(before, stored(db), "nothing written");
}

fn a_key_column_without_a_unique_index_is_refused_by_every_pass(backend: &Backend) {
    let keys = Keys::generate();
    let mut db = backend.connect();
    // Two rows share code 7: a keyset scan reading "after 7" would skip the second.
    let shared = table_with_codes(
        backend,
        &mut db,
        &keys,
        "shared",
        "BIGINT NOT NULL",
        &[],
        &[Some(7), Some(7), Some(8)],
    );
    assert_refused(backend, &mut db, &keys, &shared, "no unique index");
    // A unique index over (code, n) does not make code unique.
    let composite = table_with_codes(
        backend,
        &mut db,
        &keys,
        "composite",
        "BIGINT NOT NULL",
        &["CREATE UNIQUE INDEX {table}_both ON {table} (code, n)".to_owned()],
        &[Some(7), Some(7)],
    );
    assert_refused(backend, &mut db, &keys, &composite, "no unique index");
}

fn a_unique_key_column_with_null_keys_is_refused(backend: &Backend) {
    let keys = Keys::generate();
    let mut db = backend.connect();
    let nullable = table_with_codes(
        backend,
        &mut db,
        &keys,
        "nullkey",
        "BIGINT NULL",
        &["CREATE UNIQUE INDEX {table}_code ON {table} (code)".to_owned()],
        &[Some(7), None, None],
    );
    assert_refused(
        backend,
        &mut db,
        &keys,
        &nullable,
        "2 rows have a NULL code",
    );
}

fn a_partial_unique_index_is_not_a_unique_key(backend: &Backend) {
    if backend.kind == Kind::Mysql {
        return; // MySQL and MariaDB have no partial indexes
    }
    let keys = Keys::generate();
    let mut db = backend.connect();
    let partial = table_with_codes(
        backend,
        &mut db,
        &keys,
        "partial",
        "BIGINT NOT NULL",
        &["CREATE UNIQUE INDEX {table}_code ON {table} (code) WHERE n > 0".to_owned()],
        &[Some(7), Some(7)],
    );
    assert_refused(backend, &mut db, &keys, &partial, "no unique index");
}

/// A unique index on the column alone is enough, primary key or not; so is the primary key.
fn a_unique_non_primary_key_column_rotates(backend: &Backend) {
    let keys = Keys::generate();
    let mut db = backend.connect();
    let unique = table_with_codes(
        backend,
        &mut db,
        &keys,
        "unique",
        "BIGINT NOT NULL",
        &["CREATE UNIQUE INDEX {table}_code ON {table} (code)".to_owned()],
        &[Some(7), Some(8), Some(-3)],
    );
    let primary = table_with_codes(
        backend,
        &mut db,
        &keys,
        "primary",
        "BIGINT NOT NULL PRIMARY KEY",
        &[],
        &[Some(7), Some(8)],
    );
    for table in [&unique, &primary] {
        let registry = registry(table);
        let ring = keys.ring_v2();
        let report = backend
            .rotate(|| Rotation::new(&registry).run(&mut db, &ring))
            .unwrap();
        assert_eq!(report.status, RotationStatus::Completed, "{report}");
        assert_eq!(
            report.records_rewritten,
            if table.name == unique.name { 3 } else { 2 },
            "{}",
            table.name
        );
    }
}

per_backend!(
    a_key_column_without_a_unique_index_is_refused_by_every_pass,
    a_unique_key_column_with_null_keys_is_refused,
    a_partial_unique_index_is_not_a_unique_key,
    a_unique_non_primary_key_column_rotates,
);
