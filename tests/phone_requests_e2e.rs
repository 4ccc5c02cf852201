//! End to end: the `phone_requests` example (the Node seed's case) run as a process, as an operator
//! runs it: create, find, list, raw (the database holds ciphertext only), a new key, rotation,
//! verification, export (every value unchanged). On SQLite always; on MariaDB and PostgreSQL when
//! `MYSQL_DATABASE_URL` / `PG_DATABASE_URL` are set (and this test is built with the `mysql` /
//! `postgres` features), each run in a database of its own.
//!
//! How the example's binary is found, and why that way: see `phone_requests_e2e/example.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "phone_requests_e2e/example.rs"]
mod example;
#[path = "phone_requests_e2e/servers.rs"]
mod servers;

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;
#[cfg(any(feature = "mysql", feature = "postgres"))]
use encrypted_field::testing::Backend;
use example::App;
use serde_json::Value;

/// The phone numbers of the scenario, as typed, with what `find` may be given for them.
const ADA: (&str, &str) = ("+1 (555) 010-0100", "1-555-010-0100");
const ALAN: (&str, &str) = ("+44 20 7946 0018", "442079460018");
const ALAN_NEW: (&str, &str) = ("+44 20 7946 0999", "44.20.7946.0999");

/// How many fake rows the scenario seeds.
const SEEDED: usize = 120;

// --- the scenario, on every backend ---------------------------------------------------------

/// The whole life of the table, on `app`'s database with `app`'s keys.
fn scenario(app: &App) {
    // Create: the plaintext goes in, an id comes out.
    let ada = created_id(&app.ok(["create", "--name", "Ada Lovelace", "--phone", ADA.0]));
    let alan = app.json([
        "create",
        "--name",
        "Alan Turing",
        "--phone",
        ALAN.0,
        "--json",
    ]);
    assert_eq!(alan["phone_number"], ALAN.0);
    let alan = alan["id"].as_i64().unwrap();

    // Find: through the blind index, whatever the spelling of the number.
    let found = app.json(["find", "--phone", ADA.1, "--json"]);
    assert_eq!(ids(&found), [ada]);
    assert_eq!(found[0]["phone_number"], ADA.0);
    assert_eq!(
        ids(&app.json(["find", "--phone", ALAN.1, "--json"])),
        [alan]
    );

    // List: decrypted.
    let listed = app.json(["list", "--json"]);
    assert_eq!(
        phones(&listed),
        BTreeMap::from([(ada, ADA.0.to_owned()), (alan, ALAN.0.to_owned())])
    );
    let text = app.ok(["list"]);
    assert!(
        text.contains("Ada Lovelace") && text.contains(ADA.0),
        "{text}"
    );

    // Raw: what a stolen database shows. No phone number, in any spelling; envelopes of key v1.
    let raw = app.ok(["raw", "--json"]);
    assert_no_plaintext(&raw, &[ADA.0, ALAN.0]);
    assert_no_plaintext(&app.ok(["raw"]), &[ADA.0, ALAN.0]);
    assert!(
        key_versions(&parse(&raw)).values().all(|&v| v == 1),
        "{raw}"
    );

    // Update: a new envelope and blind index; the old number no longer finds the row.
    app.ok(["update", &alan.to_string(), "--phone", ALAN_NEW.0]);
    assert_eq!(app.run(["find", "--phone", ALAN.1]).code, Some(1));
    assert_eq!(
        ids(&app.json(["find", "--phone", ALAN_NEW.1, "--json"])),
        [alan]
    );

    // Seed: fake rows, in one go.
    let seeded = app.ok(["seed", "--count", &SEEDED.to_string()]);
    assert!(
        seeded.starts_with(&format!("seeded {SEEDED} phone requests")),
        "{seeded}"
    );
    let before = exported(app);
    assert_eq!(before.len(), 2 + SEEDED);
    assert_eq!(before[&ada], ADA.0);
    assert_eq!(before[&alan], ALAN_NEW.0);

    // A new key: new values use it at once, old ones stay readable (gradual transition).
    let added = app.ok(["keys", "add", "--activate"]);
    assert!(added.contains("v2"), "{added}");
    let grace = created_id(&app.ok([
        "create",
        "--name",
        "Grace Hopper",
        "--phone",
        "555 010 0199",
    ]));
    let versions = key_versions(&app.json(["raw", "--json"]));
    assert_eq!((versions[&ada], versions[&grace]), (1, 2));
    assert_eq!(
        app.json(["get", &ada.to_string(), "--json"])["phone_number"],
        ADA.0
    );

    let status = app.json(["status", "--json"]);
    let by_version = &status["columns"][0]["values_by_version"];
    assert_eq!(
        (by_version["v1"].as_u64(), by_version["v2"].as_u64()),
        (Some(2 + SEEDED as u64), Some(1)),
        "{status}"
    );

    // Rotate, with the embedded command: every value onto v2, after a key backup kept apart
    // from the database; then verified.
    let backups = tempfile::tempdir().unwrap();
    let backup_dir = backups.path().join("key-backups");
    let report = app.json([
        "rotate".as_ref(),
        "--force".as_ref(),
        "--json".as_ref(),
        "--backup-dir".as_ref(),
        backup_dir.as_os_str(),
    ]);
    assert_eq!(report["status"], "completed", "{report}");
    assert_eq!(
        report["records_rewritten"].as_u64(),
        Some(2 + SEEDED as u64),
        "{report}"
    );
    assert_eq!(report["failed_records"].as_u64(), Some(0), "{report}");
    assert!(
        Path::new(report["key_backup_path"].as_str().unwrap()).is_file(),
        "{report}"
    );
    app.ok(["verify"]);
    let raw = app.json(["raw", "--json"]);
    assert!(key_versions(&raw).values().all(|&v| v == 2), "{raw}");
    assert_no_plaintext(&raw.to_string(), &[ADA.0, ALAN_NEW.0, "555 010 0199"]);

    // Retire v1: no value uses it any more.
    app.ok(["keys", "retire", "1"]);
    // (The blind-index key, version 1 of its own kind, is listed after the encryption keys.)
    let listed: Value = serde_json::from_str(&app.ok(["keys", "list", "--json"])).unwrap();
    assert!(
        listed["keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|key| key["version"] != 1),
        "{listed:#}"
    );

    // Export: every value exactly as before.
    let mut expected = before;
    expected.insert(grace, "555 010 0199".to_owned());
    assert_eq!(exported(app), expected);
    assert_eq!(ids(&app.json(["find", "--phone", ADA.1, "--json"])), [ada]);
}

/// `export --json`: id → phone number, checking that every line is one object.
fn exported(app: &App) -> BTreeMap<i64, String> {
    let stdout = app.ok(["export", "--json"]);
    stdout
        .lines()
        .map(|line| {
            let row: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            assert!(
                row["requester_name"].is_string() && row["created_at"].is_string(),
                "{line}"
            );
            (
                row["id"].as_i64().unwrap(),
                row["phone_number"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

// --- backends ---------------------------------------------------------------------------------

/// SQLite, as a new user meets it: no configuration at all. The database and a development keys
/// directory appear in the current directory, and the user is told how to do it in production.
#[test]
fn sqlite_with_no_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::new(dir.path());
    let first = app.run(["list"]);
    assert_eq!(first.code, Some(0), "{first:?}");
    for hint in [
        "development keys",
        "Docker secrets",
        "ENCRYPTED_FIELD_KEYS_DIR=/run/secrets",
    ] {
        assert!(first.stderr.contains(hint), "{}", first.stderr);
    }
    assert!(dir.path().join("phone_requests.sqlite3").is_file());
    assert!(dir.path().join("phone_requests-keys/enc_key_v1").is_file());
    assert!(
        app.run(["list"]).stderr.is_empty(),
        "the note is printed once"
    );
    scenario(&app);
}

/// SQLite with production-shaped keys: a keys directory and a blind-index key file, as Docker
/// secrets mount them, and a database path whose directory does not exist yet.
#[test]
fn sqlite_with_keys_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let app = with_secrets(App::new(dir.path()), dir.path()).var(
        "DATABASE_URL",
        format!("sqlite://{}", dir.path().join("data/app.sqlite3").display()),
    );
    scenario(&app);
    assert!(
        !dir.path().join("data/phone_requests-keys").exists(),
        "no development keys"
    );
}

#[cfg(feature = "mysql")]
#[test]
fn mariadb() {
    on_server(Backend::Mysql);
}

#[cfg(feature = "postgres")]
#[test]
fn postgres() {
    on_server(Backend::Postgres);
}

#[cfg(any(feature = "mysql", feature = "postgres"))]
fn on_server(backend: Backend) {
    let Some(database) = servers::FreshDatabase::create(backend) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let app = with_secrets(App::new(dir.path()), dir.path()).var("DATABASE_URL", database.url());
    scenario(&app);
}

/// `app` with keys as Docker secrets would give them: `secrets/enc_key_v1` and
/// `secrets/blind_index_key`, made with the embedded `keygen`.
fn with_secrets(app: App, dir: &Path) -> App {
    let secrets = dir.join("secrets");
    std::fs::create_dir(&secrets).unwrap();
    for name in ["enc_key_v1", "blind_index_key"] {
        app.ok([
            "keygen".as_ref(),
            "--out".as_ref(),
            secrets.join(name).as_os_str(),
        ]);
    }
    app.var("ENCRYPTED_FIELD_KEYS_DIR", secrets.display().to_string())
        .var(
            "DB_BLIND_INDEX_KEY_FILE",
            secrets.join("blind_index_key").display().to_string(),
        )
}

// --- Node data brought in ------------------------------------------------------------------------

/// Two rows as the Node backend left them in MySQL: `hex(iv):hex(ciphertext)` of the phone under
/// its key (values the real Node code wrote: `encrypted-field/tests/fixtures/legacy/`), and no
/// blind index yet. Found afterwards by these spellings.
const NODE_PHONES: [(&str, &str); 2] = [
    ("+1 555 010 0199", "1-555-010-0199"),
    ("+1 555 0100 0199", "(155) 501-000-199"),
];

/// The Node rows are inserted with plain SQL, `migrate --from node-cbc` seals each one and writes
/// its blind index in the same write, and `find --phone` finds them; a blind index emptied by hand
/// then fails `verify` until `reindex` rewrites it.
fn node_data_is_migrated_and_found(app: &App, database_url: &str, dir: &Path) {
    app.ok(["list"]); // the schema, as on first use
    let (legacy_key, values) = node_fixture(&NODE_PHONES.map(|(phone, _)| phone));
    let key_file = dir.join("node_enc_key.txt");
    std::fs::write(&key_file, format!("{legacy_key}\n")).unwrap();
    let mut db = encrypted_field::rotation::database::Database::connect(database_url).unwrap();
    for (id, value) in (1..).zip(&values) {
        let bytes = |b: &[u8]| bytes_literal(database_url, b);
        db.execute(&format!(
            "INSERT INTO phone_requests (id, requester_name, phone_number, phone_bidx) \
             VALUES ({id}, 'Node row {id}', {}, {})",
            bytes(value.as_bytes()),
            bytes(b"")
        ))
        .unwrap();
    }
    assert_eq!(app.run(["find", "--phone", NODE_PHONES[0].1]).code, Some(1));

    let report = app.json([
        "migrate".as_ref(),
        "--from".as_ref(),
        "node-cbc".as_ref(),
        "--legacy-key-file".as_ref(),
        key_file.as_os_str(),
        "--force".as_ref(),
        "--json".as_ref(),
    ]);
    assert_eq!(report["status"], "completed", "{report}");
    assert_eq!(report["records_rewritten"].as_u64(), Some(2), "{report}");

    for (id, (phone, spelling)) in (1..).zip(NODE_PHONES) {
        let found = app.json(["find", "--phone", spelling, "--json"]);
        assert_eq!(ids(&found), [id], "{spelling}");
        assert_eq!(found[0]["phone_number"], phone);
    }
    app.ok(["verify"]);
    assert_no_plaintext(&app.ok(["raw", "--json"]), &NODE_PHONES.map(|(p, _)| p));

    // An index emptied (as the old workaround left them): verify fails and names the row,
    // reindex rewrites it, and the row is found again.
    db.execute(&format!(
        "UPDATE phone_requests SET phone_bidx = {} WHERE id = 2",
        bytes_literal(database_url, b"")
    ))
    .unwrap();
    let verify = app.run(["verify"]);
    assert_eq!(verify.code, Some(1), "{verify:?}");
    assert!(
        verify
            .stdout
            .contains("blind index does not match the value"),
        "{verify:?}"
    );
    assert!(verify.stderr.contains("run reindex"), "{verify:?}");
    let reindexed = app.json(["reindex", "--force", "--json"]);
    assert_eq!(reindexed["operation"], "reindex", "{reindexed}");
    assert_eq!(
        reindexed["records_rewritten"].as_u64(),
        Some(1),
        "{reindexed}"
    );
    assert_eq!(
        ids(&app.json(["find", "--phone", NODE_PHONES[1].1, "--json"])),
        [2]
    );
    app.ok(["verify"]);
}

/// The key and the stored values of the Node fixture's cases for `phones`.
fn node_fixture(phones: &[&str]) -> (String, Vec<String>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("encrypted-field/tests/fixtures/legacy/node_cbc.json");
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let values = phones
        .iter()
        .map(|phone| {
            let case = fixture["cases"]
                .as_array()
                .unwrap()
                .iter()
                .find(|case| case["plaintext"] == *phone)
                .unwrap_or_else(|| panic!("no Node value of {phone} in the fixture"));
            case["value"].as_str().unwrap().to_owned()
        })
        .collect();
    (fixture["key"].as_str().unwrap().to_owned(), values)
}

/// `bytes` as a binary SQL literal of the backend of `database_url`.
fn bytes_literal(database_url: &str, bytes: &[u8]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    if database_url.starts_with("postgres") {
        format!("decode('{hex}', 'hex')")
    } else {
        format!("X'{hex}'")
    }
}

#[test]
fn node_data_is_migrated_and_found_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("app.sqlite3").display());
    let app = with_secrets(App::new(dir.path()), dir.path()).var("DATABASE_URL", url.clone());
    node_data_is_migrated_and_found(&app, &url, dir.path());
}

/// With no configuration at all: the embedded commands take the development keys directory and
/// its blind-index key, as the application does.
#[test]
fn node_data_is_migrated_and_found_with_development_keys() {
    let dir = tempfile::tempdir().unwrap();
    let url = dir
        .path()
        .join("phone_requests.sqlite3")
        .display()
        .to_string();
    node_data_is_migrated_and_found(&App::new(dir.path()), &url, dir.path());
}

#[cfg(feature = "mysql")]
#[test]
fn node_data_is_migrated_and_found_on_mariadb() {
    node_data_on_server(Backend::Mysql);
}

#[cfg(feature = "postgres")]
#[test]
fn node_data_is_migrated_and_found_on_postgres() {
    node_data_on_server(Backend::Postgres);
}

#[cfg(any(feature = "mysql", feature = "postgres"))]
fn node_data_on_server(backend: Backend) {
    let Some(database) = servers::FreshDatabase::create(backend) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let app = with_secrets(App::new(dir.path()), dir.path()).var("DATABASE_URL", database.url());
    node_data_is_migrated_and_found(&app, database.url(), dir.path());
}

// --- exit statuses and messages ----------------------------------------------------------------

#[test]
fn raw_needs_no_key_and_makes_none() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::new(dir.path());
    let run = app.run(["raw", "--json"]);
    assert_eq!((run.code, run.stdout.trim()), (Some(0), "[]"), "{run:?}");
    assert!(!dir.path().join("phone_requests-keys").exists());
}

#[test]
fn not_found_is_status_1() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::new(dir.path());
    app.ok(["create", "--name", "Ada", "--phone", ADA.0]);
    for args in [
        vec!["get", "99"],
        vec!["update", "99", "--phone", "555 0100"],
        vec!["find", "--phone", "999 999 9999"],
    ] {
        let run = app.run(&args);
        assert_eq!(run.code, Some(1), "{args:?}: {run:?}");
        assert!(
            run.stdout.is_empty() && run.stderr.starts_with("error: no phone request"),
            "{run:?}"
        );
    }
}

#[test]
fn bad_usage_and_configuration_are_status_2() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::new(dir.path());
    for (args, says) in [
        (vec!["create", "--name", "Ada"], "--phone"),
        (vec!["get", "one"], "invalid value"),
        (
            vec!["create", "--name", " ", "--phone", ADA.0],
            "--name is empty",
        ),
        (
            vec!["create", "--name", "Ada", "--phone", "call me"],
            "needs at least 3",
        ),
        (vec!["seed", "--count", "0"], "--count"),
        (vec!["frobnicate"], "unrecognized subcommand"),
    ] {
        let run = app.run(&args);
        assert_eq!(run.code, Some(2), "{args:?}: {run:?}");
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
    }
    let run = app
        .var("DATABASE_URL", "oracle://scott:tiger@db/prod")
        .run(["list"]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(
        run.stderr.contains("unknown scheme `oracle`"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("tiger"),
        "no password in messages: {}",
        run.stderr
    );
}

#[test]
fn an_empty_sqlite_path_is_status_2_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for url in ["sqlite://", "sqlite:"] {
        let run = App::new(dir.path()).var("DATABASE_URL", url).run([
            "create",
            "--name",
            "Ada Lovelace",
            "--phone",
            ADA.0,
        ]);
        assert_eq!(run.code, Some(2), "{url}: {run:?}");
        assert!(run.stdout.is_empty(), "{url}: {run:?}");
        assert_eq!(run.stderr.lines().count(), 1, "{url}: one line: {run:?}");
        assert!(
            run.stderr.starts_with("error: ") && run.stderr.contains("no path"),
            "{url}: {}",
            run.stderr
        );
    }
}

#[test]
fn a_bad_key_is_status_2_and_names_its_source() {
    let dir = tempfile::tempdir().unwrap();
    let run = App::new(dir.path())
        .var("DB_ENCRYPTION_KEY", "c2hvcnQ=")
        .run(["list"]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("DB_ENCRYPTION_KEY"), "{}", run.stderr);
}

#[test]
fn a_tampered_value_is_status_1_and_names_the_row_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::new(dir.path());
    app.ok(["create", "--name", "Ada", "--phone", ADA.0]);
    let id = created_id(&app.ok(["create", "--name", "Alan", "--phone", ALAN.0]));
    let mut db = encrypted_field::rotation::database::Database::connect(
        &dir.path()
            .join("phone_requests.sqlite3")
            .display()
            .to_string(),
    )
    .unwrap();
    db.execute(&format!(
        "UPDATE phone_requests SET phone_number = substr(phone_number, 1, 60) WHERE id = {id}"
    ))
    .unwrap();
    drop(db);
    for args in [
        vec!["get".to_owned(), id.to_string()],
        vec!["list".to_owned()],
    ] {
        let run = app.run(&args);
        assert_eq!(run.code, Some(1), "{args:?}: {run:?}");
        let said = format!("phone request {id}");
        assert!(run.stderr.contains(&said), "{}", run.stderr);
        assert!(
            run.stderr.contains("phone_requests.phone_number"),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn values_under_another_key_are_status_1() {
    let dir = tempfile::tempdir().unwrap();
    let keys = |key: &str| {
        App::new(dir.path()).var("DB_ENCRYPTION_KEY", key).var(
            "DB_BLIND_INDEX_KEY",
            "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=",
        )
    };
    keys("AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=")
        .ok(["create", "--name", "Ada", "--phone", ADA.0]);
    let run = keys("AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM=").run(["get", "1"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr.contains("authentication failed"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("0100"), "{}", run.stderr);
}

// --- helpers -----------------------------------------------------------------------------------

/// The id in `created phone request N`.
fn created_id(stdout: &str) -> i64 {
    stdout
        .trim()
        .strip_prefix("created phone request ")
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("unexpected output of create: {stdout}"))
}

fn parse(json: &str) -> Value {
    serde_json::from_str(json).unwrap_or_else(|e| panic!("not JSON ({e}):\n{json}"))
}

fn ids(rows: &Value) -> Vec<i64> {
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect()
}

fn phones(rows: &Value) -> BTreeMap<i64, String> {
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_i64().unwrap(),
                r["phone_number"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The key version in the header of each row's stored envelope (`"EF" | 1 | u32 version | …`).
fn key_versions(raw: &Value) -> BTreeMap<i64, u32> {
    raw.as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let stored = base64::engine::general_purpose::STANDARD
                .decode(row["phone_number_base64"].as_str().unwrap())
                .unwrap();
            assert_eq!(&stored[..3], b"EF\x01", "a format-v1 envelope");
            let version = u32::from_be_bytes(stored[3..7].try_into().unwrap());
            (row["id"].as_i64().unwrap(), version)
        })
        .collect()
}

/// `output` holds none of `phones`: not as typed, not as digits, not the last seven digits.
fn assert_no_plaintext(output: &str, phones: &[&str]) {
    for phone in phones {
        let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
        let tail = &digits[digits.len() - 7..];
        for needle in [*phone, digits.as_str(), tail] {
            assert!(
                !output.contains(needle),
                "raw output holds `{needle}`:\n{output}"
            );
        }
    }
}
