//! Rotation through PgBouncer (transaction pooling) against rotation direct to the same
//! PostgreSQL server, in the same run, alternating the two so that drift of a shared machine
//! falls on both; beside each, the I/O limit of that path (`bench_plain_pass`: the same scan and
//! compare-and-swap statements, no cryptography). Issue 13 asks for PgBouncer within 10% of
//! direct.
//!
//! ```text
//! eval "$(.ci/topologies/pgbouncer.sh)"
//! PG_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
//!   cargo bench -p encrypted-field --bench pgbouncer --features postgres,internals
//! PGBOUNCER_BENCH_ROWS=200000 PGBOUNCER_BENCH_ROUNDS=5 cargo bench … # defaults: 100000 rows, 3 rounds
//! ```
//!
//! Works in a database of its own (`ef_pgbouncer_bench`, made afresh and dropped at the end).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Instant;

use encrypted_field::model::{ColumnSpec, ModelSpec, Registry};
use encrypted_field::rotation::database::Database;
use encrypted_field::rotation::{Pacing, Rotation, bench_plain_pass};
use encrypted_field::testing::with_database;
use encrypted_field::{KeyRing, MasterKey};

const DATABASE: &str = "ef_pgbouncer_bench";
const TABLE: &str = "ef_pgbouncer_bench";

fn main() {
    let (Ok(server), Ok(bouncer)) = (
        std::env::var("PG_DATABASE_URL"),
        std::env::var("PGBOUNCER_DATABASE_URL"),
    ) else {
        eprintln!("set PG_DATABASE_URL and PGBOUNCER_DATABASE_URL (.ci/topologies/pgbouncer.sh)");
        return;
    };
    let rows: i64 = env_number("PGBOUNCER_BENCH_ROWS", 100_000);
    let rounds: i64 = env_number("PGBOUNCER_BENCH_ROUNDS", 3);

    let mut admin = Database::connect(&server).unwrap();
    admin
        .execute(&format!("DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
        .unwrap();
    admin
        .execute(&format!("CREATE DATABASE {DATABASE}"))
        .unwrap();
    let direct = with_database(&server, DATABASE);
    let through = with_database(&bouncer, DATABASE);

    let mut keys = vec![MasterKey::generate()];
    fill(&direct, rows, &ring(&keys));
    let registry = Registry::new()
        .register_spec(ModelSpec::new(TABLE, "id").column(ColumnSpec::binary("secret")))
        .unwrap();
    let pacing = Pacing::default();

    let mut measured: [(Vec<f64>, Vec<f64>); 2] = Default::default();
    for round in 0..rounds {
        // Alternate which path goes first.
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for path in order {
            let url = [&direct, &through][path];
            keys.push(MasterKey::generate());
            let ring = ring(&keys);
            let mut db = Database::connect(url).unwrap();
            let started = Instant::now();
            let report = Rotation::new(&registry)
                .pacing(pacing)
                .verify(false)
                .run(&mut db, &ring)
                .unwrap();
            let rotation = started.elapsed().as_secs_f64();
            assert_eq!(report.records_rewritten, u64::try_from(rows).unwrap());
            let started = Instant::now();
            let plain = bench_plain_pass(&mut db, &registry, pacing).unwrap();
            let plain_time = started.elapsed().as_secs_f64();
            assert_eq!(plain, u64::try_from(rows).unwrap());
            bench_plain_pass(&mut db, &registry, pacing).unwrap(); // flips the IV bit back
            measured[path].0.push(rows as f64 / rotation);
            measured[path].1.push(rows as f64 / plain_time);
        }
    }
    drop(admin.execute(&format!("DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")));

    println!("{rows} rows, {rounds} rounds, default pacing, medians:\n");
    println!("| path | rotation rows/s | plain pass rows/s (I/O limit) | rotation / plain |");
    println!("|---|---:|---:|---:|");
    let medians: Vec<(f64, f64)> = measured
        .iter()
        .map(|(rotation, plain)| (median(rotation), median(plain)))
        .collect();
    for (name, (rotation, plain)) in ["direct (5432)", "PgBouncer, transaction pooling (6432)"]
        .iter()
        .zip(&medians)
    {
        println!(
            "| {name} | {rotation:.0} | {plain:.0} | {:.2} |",
            rotation / plain
        );
    }
    // Each round's two runs ran back to back: their ratio is the least touched by drift.
    let paired: Vec<f64> = measured[1]
        .0
        .iter()
        .zip(&measured[0].0)
        .map(|(through, direct)| through / direct)
        .collect();
    println!(
        "\nPgBouncer / direct: rotation {:.3} (medians), {:.3} (median of each round's ratio, \
         range {:.3}–{:.3}); plain pass {:.3}",
        medians[1].0 / medians[0].0,
        median(&paired),
        paired.iter().copied().fold(f64::INFINITY, f64::min),
        paired.iter().copied().fold(0.0, f64::max),
        medians[1].1 / medians[0].1
    );
    println!(
        "every round, rows/s: direct {:?}, PgBouncer {:?}",
        rounded(&measured[0].0),
        rounded(&measured[1].0)
    );
}

fn env_number(name: &str, default: i64) -> i64 {
    std::env::var(name).map_or(default, |v| {
        v.parse().unwrap_or_else(|_| panic!("{name}: a number"))
    })
}

/// Versions 1..=n of `keys`, the last active.
fn ring(keys: &[MasterKey]) -> KeyRing {
    keys.iter()
        .zip(1u32..)
        .fold(KeyRing::builder(), |b, (key, version)| {
            b.key(version, key.clone())
        })
        .build()
        .unwrap()
}

/// The table, `rows` values sealed with `ring`'s active key.
fn fill(url: &str, rows: i64, ring: &KeyRing) {
    let mut db = Database::connect(url).unwrap();
    db.execute(&format!(
        "CREATE TABLE {TABLE} (id BIGINT PRIMARY KEY, secret BYTEA NOT NULL)"
    ))
    .unwrap();
    let context = format!("{TABLE}.secret");
    let ids: Vec<i64> = (1..=rows).collect();
    for chunk in ids.chunks(1000) {
        let values: Vec<String> = chunk
            .iter()
            .map(|id| {
                let sealed =
                    ring.encrypt_with_context(format!("+1 555 {id:07}").as_bytes(), &context);
                let hex: String = sealed.iter().map(|b| format!("{b:02x}")).collect();
                format!("({id}, '\\x{hex}'::bytea)")
            })
            .collect();
        db.execute(&format!(
            "INSERT INTO {TABLE} (id, secret) VALUES {}",
            values.join(", ")
        ))
        .unwrap();
    }
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

fn rounded(values: &[f64]) -> Vec<i64> {
    values.iter().map(|v| v.round() as i64).collect()
}
