//! `rotate`, `verify`, `status`, `migrate`, `reindex` and `keys retire`, run as the real binary on a SQLite
//! file: reports (`--json` parsed), exit statuses, what is and is not written.
//!
//! Run with `cargo test -p encrypted-field --features cli,sqlite --test rotation_cli`.
#![cfg(all(feature = "cli", feature = "sqlite"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "rotation_cli/backends.rs"]
mod backends;
#[path = "rotation_cli/harness.rs"]
mod harness;
#[path = "notify/http_sink.rs"]
#[allow(dead_code)]
mod http_sink;
#[path = "notify/listen.rs"]
mod listen;

use std::ffi::OsStr;
use std::path::Path;

use encrypted_field::rotation::database::Database;
use encrypted_field::{KeyRing, KeyVersion};
use harness::{Plain, Run, Table, Workspace, env_refs, plaintexts, run};

const ROWS: i64 = 60;

/// A workspace with a SQLite file holding `customers` (ROWS rows sealed with key v1).
struct Fixture {
    workspace: Workspace,
    table: Table,
    expected: Vec<Plain>,
}

impl Fixture {
    fn new() -> Self {
        let workspace = Workspace::new();
        let table = Table::new("customers");
        let expected = plaintexts(ROWS, 7);
        let mut db = Database::connect(workspace.sqlite_path().to_str().unwrap()).unwrap();
        table.create(&mut db);
        table.insert(&mut db, &workspace.ring(), &expected);
        Self {
            workspace,
            table,
            expected,
        }
    }

    fn db(&self) -> Database {
        Database::connect(self.workspace.sqlite_path().to_str().unwrap()).unwrap()
    }

    fn url(&self) -> String {
        format!("sqlite://{}", self.workspace.sqlite_path().display())
    }

    /// Runs `command` and `extra` arguments, then the database and the table's columns, with the
    /// keys directory in the environment.
    fn run(&self, command: &[&str], extra: &[&str]) -> Run {
        let url = self.url();
        let mut args: Vec<&str> = command.to_vec();
        args.extend(extra);
        args.extend(["--database-url", url.as_str()]);
        let flags = self.table.column_flags();
        args.extend(flags.iter().map(String::as_str));
        let env = self.workspace.env();
        run(&args, &env_refs(&env))
    }

    fn rows(&self) -> Vec<harness::Row> {
        self.table.load(&mut self.db())
    }

    fn versions(&self) -> Vec<u32> {
        self.table.versions(&mut self.db()).into_keys().collect()
    }

    fn non_null_values(&self) -> u64 {
        self.expected
            .iter()
            .map(|p| 1 + u64::from(p.note.is_some()))
            .sum()
    }

    fn assert_plaintexts(&self, ring: &KeyRing) {
        self.table
            .assert_plaintexts(&mut self.db(), ring, &self.expected);
    }

    /// Makes the recorded activation of every key version `days` old.
    fn age_activations(&self, days: u64) {
        let when = std::time::SystemTime::now() - std::time::Duration::from_secs(days * 86_400);
        let stamp = humantime::format_rfc3339_seconds(when);
        self.db()
            .execute(&format!(
                "UPDATE encrypted_field_metadata SET value = '{stamp}' WHERE name LIKE 'key_activated_at:%'"
            ))
            .unwrap();
    }
}

// ---- rotate -------------------------------------------------------------------------------------

#[test]
fn rotate_rewrites_every_value_onto_the_active_key_and_a_second_run_rewrites_nothing() {
    let f = Fixture::new();
    f.workspace.keys().add(true).unwrap(); // v2 active
    let report = f
        .run(&["rotate", "--force", "--json"], &[])
        .expect(0)
        .json();
    assert_eq!(report["status"], "completed", "{report:#}");
    assert_eq!(report["operation"], "rotate");
    assert_eq!(report["active_version"], 2);
    assert_eq!(report["models_processed"], 1);
    assert_eq!(
        report["records_processed"].as_u64(),
        Some(f.non_null_values())
    );
    assert_eq!(
        report["records_rewritten"].as_u64(),
        Some(f.non_null_values())
    );
    assert_eq!(report["failed_records"], 0);
    assert_eq!(report["key_backup_path"], serde_json::Value::Null);
    assert_eq!(report["verification"]["ok"], true);
    assert_eq!(f.versions(), [2]);
    f.assert_plaintexts(&f.workspace.ring());

    let again = f
        .run(&["rotate", "--force", "--json"], &[])
        .expect(0)
        .json();
    assert_eq!(again["records_rewritten"], 0, "{again:#}");
    assert_eq!(
        again["records_processed"].as_u64(),
        Some(f.non_null_values())
    );
}

#[test]
fn rotate_prints_a_text_report_by_default() {
    let f = Fixture::new();
    f.workspace.keys().add(true).unwrap();
    let done = f.run(&["rotate", "--force"], &[]).expect(0);
    assert!(
        done.stdout_text().starts_with(&format!(
            "completed: {n} of {n} values re-encrypted to key v2",
            n = f.non_null_values()
        )),
        "{done:#?}"
    );
    assert!(
        done.stdout_text().contains("customers.note: 60 rows"),
        "{done:#?}"
    );
    assert!(
        done.stderr.is_empty(),
        "no progress bar off a terminal: {done:#?}"
    );
}

#[test]
fn dry_run_reports_what_would_change_and_writes_nothing() {
    let f = Fixture::new();
    f.workspace.keys().add(true).unwrap();
    let before = f.rows();
    let report = f
        .run(&["rotate", "--dry-run", "--json"], &[])
        .expect(0)
        .json();
    assert_eq!(report["dry_run"], true);
    assert_eq!(
        report["records_rewritten"].as_u64(),
        Some(f.non_null_values())
    );
    assert_eq!(f.rows(), before);

    let backups = f.workspace.backup_dir();
    let report = f
        .run(
            &["rotate", "--dry-run", "--new-key", "--json", "--backup-dir"],
            &[backups.to_str().unwrap()],
        )
        .expect(0)
        .json();
    assert_eq!(report["new_key"]["version"], 3, "{report:#}");
    assert_eq!(report["active_version"], 3);
    assert_eq!(report["key_backup_path"], serde_json::Value::Null);
    assert_eq!(f.rows(), before);
    assert!(!f.workspace.keys_path().join("enc_key_v3").exists());
    assert!(!backups.exists(), "a dry run writes no key backup");
    assert_eq!(
        f.workspace.ring().active_version(),
        KeyVersion::new(2),
        "a dry run activates nothing"
    );
}

#[test]
fn rotate_without_force_refuses_when_stdin_is_not_a_terminal() {
    let f = Fixture::new();
    f.workspace.keys().add(true).unwrap();
    let before = f.rows();
    let refused = f.run(&["rotate"], &[]).expect(2);
    assert!(refused.stdout.is_empty(), "{refused:#?}");
    assert!(
        refused.stderr.starts_with("error: refusing to re-encrypt")
            && refused.stderr.contains("--force"),
        "{refused:#?}"
    );
    assert_eq!(f.rows(), before);
}

#[cfg(unix)]
#[test]
fn new_key_is_backed_up_privately_written_activated_and_used() {
    let f = Fixture::new();
    let backups = f.workspace.backup_dir();
    let report = f
        .run(
            &["rotate", "--force", "--new-key", "--json", "--backup-dir"],
            &[backups.to_str().unwrap()],
        )
        .expect(0)
        .json();
    assert_eq!(report["status"], "completed", "{report:#}");
    assert_eq!(report["new_key"]["version"], 2);
    assert_eq!(report["new_key"]["previous_version"], 1);
    let key_file = f.workspace.keys_path().join("enc_key_v2");
    assert_eq!(
        report["new_key"]["key_file"],
        key_file.display().to_string()
    );
    assert_eq!(harness::mode(&key_file), 0o600);
    assert_eq!(f.workspace.ring().active_version(), KeyVersion::new(2));
    assert_eq!(f.versions(), [2]);

    let backup = Path::new(report["key_backup_path"].as_str().unwrap()).to_owned();
    assert_eq!(backup.parent(), Some(backups.as_path()));
    let name = backup.file_name().unwrap().to_str().unwrap();
    assert!(
        name.starts_with("encryption_key_") && name.ends_with(".json"),
        "{name}"
    );
    assert_eq!(harness::mode(&backup), 0o600);
    assert_eq!(harness::mode(&backups), 0o700);
    let restored = encrypted_field::keys::restore_ring(&backup).unwrap();
    assert_eq!(restored.active_version(), KeyVersion::new(2));
    f.assert_plaintexts(&restored);
}

#[test]
fn new_key_needs_a_backup_directory() {
    let f = Fixture::new();
    let refused = f.run(&["rotate", "--force", "--new-key"], &[]).expect(2);
    assert!(refused.stderr.contains("--backup-dir"), "{refused:#?}");
    assert!(!f.workspace.keys_path().join("enc_key_v2").exists());
}

#[test]
fn if_due_skips_a_recently_activated_key_and_rotates_an_old_one() {
    let f = Fixture::new();
    let backups = f.workspace.backup_dir();
    let backups = backups.to_str().unwrap();
    let scheduled = [
        "rotate",
        "--force",
        "--new-key",
        "--if-due",
        "monthly",
        "--json",
        "--backup-dir",
    ];
    // v1 was never rotated by the tool: no activation is recorded, so it is due.
    let first = f.run(&scheduled, &[backups]).expect(0).json();
    assert_eq!(first["new_key"]["version"], 2, "{first:#}");

    let skipped = f.run(&scheduled, &[backups]).expect(0).json();
    assert_eq!(skipped["status"], "not_due", "{skipped:#}");
    assert_eq!(skipped["period"], "monthly");
    assert_eq!(skipped["active_version"], 2);
    assert!(skipped["next_due"].is_string(), "{skipped:#}");
    assert!(!f.workspace.keys_path().join("enc_key_v3").exists());

    let text = f
        .run(
            &[
                "rotate",
                "--force",
                "--new-key",
                "--if-due",
                "monthly",
                "--backup-dir",
            ],
            &[backups],
        )
        .expect(0);
    assert!(
        text.stdout_text()
            .starts_with("not due: key v2 was activated at ")
            && text
                .stdout_text()
                .contains("the next monthly rotation is due at "),
        "{text:#?}"
    );

    f.age_activations(31);
    let rotated = f.run(&scheduled, &[backups]).expect(0).json();
    assert_eq!(rotated["status"], "completed", "{rotated:#}");
    assert_eq!(rotated["new_key"]["version"], 3);
    assert_eq!(f.versions(), [3]);
    f.assert_plaintexts(&f.workspace.ring());
}

#[test]
fn an_unreadable_value_is_named_left_untouched_and_makes_the_run_exit_1() {
    let f = Fixture::new();
    let mut db = f.db();
    // Row 2's secret, sealed for another column: it fails authentication.
    let foreign = f
        .workspace
        .ring()
        .encrypt_with_context(b"x", "customers.other");
    db.execute(&format!(
        "UPDATE customers SET secret = x'{}' WHERE id = 2",
        harness::hex(&foreign)
    ))
    .unwrap();
    f.workspace.keys().add(true).unwrap();
    let done = f.run(&["rotate", "--force", "--json"], &[]).expect(1);
    let report = done.json();
    assert_eq!(report["status"], "failed");
    assert_eq!(report["failed_records"], 1);
    assert_eq!(report["failures"][0]["table"], "customers");
    assert_eq!(report["failures"][0]["column"], "secret");
    assert_eq!(report["failures"][0]["primary_key"], "2");
    assert_eq!(
        report["records_rewritten"].as_u64(),
        Some(f.non_null_values() - 1),
        "the other values are rotated"
    );
    let row2 = f.rows().into_iter().find(|r| r.id == 2).unwrap();
    assert_eq!(row2.secret, foreign, "left untouched");

    let verified = f.run(&["verify", "--json"], &[]).expect(1).json();
    assert_eq!(verified["status"], "failed");
    assert_eq!(verified["verification"]["undecryptable"], 1);
    assert_eq!(verified["failures"][0]["primary_key"], "2");
}

#[test]
fn verify_passes_when_every_value_opens_on_the_active_key() {
    let f = Fixture::new();
    let verified = f.run(&["verify", "--json"], &[]).expect(0).json();
    assert_eq!(verified["operation"], "verify");
    assert_eq!(verified["verification"]["ok"], true);
    assert_eq!(
        verified["verification"]["values_by_version"]["v1"].as_u64(),
        Some(f.non_null_values())
    );
    // A new active key leaves every value behind: verification fails until a rotation.
    f.workspace.keys().add(true).unwrap();
    let behind = f.run(&["verify", "--json"], &[]).expect(1).json();
    assert_eq!(
        behind["verification"]["values_on_other_versions"].as_u64(),
        Some(f.non_null_values())
    );
    let text = f.run(&["verify"], &[]).expect(1);
    assert!(
        text.stdout_text().starts_with(&format!(
            "failed: {} values verified against key v2",
            f.non_null_values()
        )),
        "{text:#?}"
    );
    assert!(
        text.stderr.ends_with(&format!(
            "error: {} values are not on the active key v2\n",
            f.non_null_values()
        )),
        "{text:#?}"
    );
}

#[test]
fn status_counts_values_per_key_version_without_any_key() {
    let f = Fixture::new();
    let url = f.url();
    let mut args = vec!["status", "--json", "--database-url", url.as_str()];
    let flags = f.table.column_flags();
    args.extend(flags.iter().map(String::as_str));
    let status = run(&args, &[]).expect(0).json();
    let columns = status["columns"].as_array().unwrap();
    assert_eq!(columns.len(), 2);
    assert_eq!(columns[0]["column"], "secret");
    assert_eq!(columns[0]["rows"], ROWS);
    assert_eq!(columns[0]["values_by_version"]["v1"], ROWS);
    let nulls = ROWS / 7;
    assert_eq!(columns[1]["null"], nulls);
    assert_eq!(columns[1]["values_by_version"]["v1"], ROWS - nulls);
}

// ---- migrate ------------------------------------------------------------------------------------

#[test]
fn migrate_from_plaintext_encrypts_every_value_and_keeps_envelopes() {
    let workspace = Workspace::new();
    let path = workspace.sqlite_path();
    let mut db = Database::connect(path.to_str().unwrap()).unwrap();
    db.execute("CREATE TABLE phone_requests (id INTEGER PRIMARY KEY, phone_number TEXT)")
        .unwrap();
    db.execute(
        "INSERT INTO phone_requests VALUES (1, '+1 555 0100'), (2, '+44 20 7946 0958'), (3, NULL)",
    )
    .unwrap();
    let url = format!("sqlite://{}", path.display());
    let env = workspace.env();
    let args = [
        "migrate",
        "--from",
        "plaintext",
        "--database-url",
        url.as_str(),
        "--column",
        "phone_requests.phone_number:text:nullable",
        "--json",
    ];
    let before = run(&[&args[..], &["--dry-run"]].concat(), &env_refs(&env))
        .expect(0)
        .json();
    assert_eq!(before["records_rewritten"], 2, "{before:#}");

    let report = run(&[&args[..], &["--force"]].concat(), &env_refs(&env))
        .expect(0)
        .json();
    assert_eq!(report["operation"], "migrate");
    assert_eq!(report["records_rewritten"], 2, "{report:#}");
    let ring = workspace.ring();
    let phones = harness::load_text(
        &mut db,
        "SELECT phone_number AS value FROM phone_requests ORDER BY id",
    );
    let opened: Vec<Option<String>> = phones
        .iter()
        .map(|v| {
            v.as_ref().map(|v| {
                String::from_utf8(
                    ring.decrypt_base64(v, "phone_requests.phone_number")
                        .unwrap(),
                )
                .unwrap()
            })
        })
        .collect();
    assert_eq!(
        opened,
        [
            Some("+1 555 0100".to_owned()),
            Some("+44 20 7946 0958".to_owned()),
            None
        ]
    );
    let again = run(&[&args[..], &["--force"]].concat(), &env_refs(&env))
        .expect(0)
        .json();
    assert_eq!(again["records_rewritten"], 0, "envelopes are kept");
}

#[test]
fn migrate_from_node_cbc_reads_the_node_backends_values_with_its_key_file() {
    use aes::cipher::{BlockEncryptMut as _, KeyIvInit as _, block_padding::Pkcs7};
    let workspace = Workspace::new();
    let node_key = [9u8; 32];
    let key_file = workspace.backups.path().join("enc_key.txt");
    std::fs::write(
        &key_file,
        format!(
            "{}\n",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, node_key)
        ),
    )
    .unwrap();
    let iv = [3u8; 16];
    let ciphertext = cbc::Encryptor::<aes::Aes256>::new(&node_key.into(), &iv.into())
        .encrypt_padded_vec_mut::<Pkcs7>(b"+1 555 0100");
    let stored = format!("{}:{}", harness::hex(&iv), harness::hex(&ciphertext));

    let path = workspace.sqlite_path();
    let mut db = Database::connect(path.to_str().unwrap()).unwrap();
    db.execute("CREATE TABLE phone_requests (id INTEGER PRIMARY KEY, phone_number TEXT NOT NULL)")
        .unwrap();
    db.execute(&format!(
        "INSERT INTO phone_requests VALUES (1, '{stored}')"
    ))
    .unwrap();
    let url = format!("sqlite://{}", path.display());
    let env = workspace.env();
    let mut args = vec![
        "migrate",
        "--from",
        "node-cbc",
        "--database-url",
        url.as_str(),
        "--column",
        "phone_requests.phone_number:text",
        "--force",
        "--json",
    ];
    let missing_key = run(&args, &env_refs(&env)).expect(2);
    assert!(
        missing_key.stderr.contains("--legacy-key-file"),
        "{missing_key:#?}"
    );

    args.extend(["--legacy-key-file", key_file.to_str().unwrap()]);
    let report = run(&args, &env_refs(&env)).expect(0).json();
    assert_eq!(report["records_rewritten"], 1, "{report:#}");
    let migrated = harness::load_text(&mut db, "SELECT phone_number AS value FROM phone_requests");
    let opened = workspace
        .ring()
        .decrypt_base64(
            migrated[0].as_deref().unwrap(),
            "phone_requests.phone_number",
        )
        .unwrap();
    assert_eq!(opened, b"+1 555 0100");
}

/// A workspace whose SQLite file holds `phone_requests` with `rows` phone numbers the Node
/// backend encrypted with `node_key`, and that key's file, as `openssl rand -base64 32` wrote it.
struct NodeData {
    workspace: Workspace,
    key_file: std::path::PathBuf,
    url: String,
}

impl NodeData {
    fn new(node_key: [u8; 32], rows: u32) -> Self {
        use aes::cipher::{BlockEncryptMut as _, KeyIvInit as _, block_padding::Pkcs7};
        let workspace = Workspace::new();
        let key_file = workspace.backups.path().join("enc_key.txt");
        let key_text = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, node_key);
        std::fs::write(&key_file, format!("{key_text}\n")).unwrap();
        let mut db = Database::connect(workspace.sqlite_path().to_str().unwrap()).unwrap();
        db.execute("CREATE TABLE phone_requests (id INTEGER PRIMARY KEY, phone_number TEXT)")
            .unwrap();
        for id in 1..=rows {
            let iv: [u8; 16] = rand::random();
            let ciphertext = cbc::Encryptor::<aes::Aes256>::new(&node_key.into(), &iv.into())
                .encrypt_padded_vec_mut::<Pkcs7>(format!("+1 555 {id:04}").as_bytes());
            let stored = format!("{}:{}", harness::hex(&iv), harness::hex(&ciphertext));
            db.execute(&format!(
                "INSERT INTO phone_requests VALUES ({id}, '{stored}')"
            ))
            .unwrap();
        }
        let url = format!("sqlite://{}", workspace.sqlite_path().display());
        Self {
            workspace,
            key_file,
            url,
        }
    }

    /// `migrate` with the database, the column and `extra` arguments.
    fn migrate(&self, extra: &[&str]) -> Run {
        let env = self.workspace.env();
        let args = [
            &[
                "migrate",
                "--database-url",
                self.url.as_str(),
                "--column",
                "phone_requests.phone_number:text:nullable",
            ][..],
            extra,
        ]
        .concat();
        run(&args, &env_refs(&env))
    }

    /// `migrate --from node-cbc` with the Node key file and `extra` arguments.
    fn migrate_from_node(&self, extra: &[&str]) -> Run {
        let key_file = self.key_file.to_str().unwrap();
        self.migrate(
            &[
                &["--from", "node-cbc", "--legacy-key-file", key_file][..],
                extra,
            ]
            .concat(),
        )
    }

    fn phones(&self) -> Vec<Option<String>> {
        let mut db = Database::connect(self.workspace.sqlite_path().to_str().unwrap()).unwrap();
        harness::load_text(
            &mut db,
            "SELECT phone_number AS value FROM phone_requests ORDER BY id",
        )
    }
}

#[test]
fn migrate_with_a_wrong_node_key_file_exits_1_and_writes_nothing() {
    let node = NodeData::new([9u8; 32], 600);
    let before = node.phones();
    std::fs::write(
        &node.key_file,
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [8u8; 32]),
    )
    .unwrap();

    let refused = node.migrate_from_node(&["--force", "--json"]).expect(1);

    assert!(refused.stdout.is_empty(), "{refused:#?}");
    assert_eq!(refused.stderr.lines().count(), 1, "{refused:#?}");
    assert!(
        refused
            .stderr
            .contains("migration refused, nothing was written")
            && refused
                .stderr
                .contains("phone_requests.phone_number at primary key"),
        "{refused:#?}"
    );
    assert!(node.phones() == before, "every value as it was");
}

#[test]
fn migrate_expect_refuses_a_plaintext_of_another_shape_without_printing_it() {
    let node = NodeData::new([9u8; 32], 0);
    let mut db = Database::connect(node.workspace.sqlite_path().to_str().unwrap()).unwrap();
    db.execute(
        "INSERT INTO phone_requests VALUES (1, '+1 555 0100'), (2, 'secret-ish words'), (3, '+1 555 0102')",
    )
    .unwrap();
    let before = node.phones();

    let refused = node
        .migrate(&[
            "--from",
            "plaintext",
            "--expect",
            r"\+1 555 \d{4}",
            "--force",
        ])
        .expect(1);

    assert!(
        refused
            .stderr
            .contains("phone_requests.phone_number at primary key 2")
            && refused.stderr.contains("does not match"),
        "{refused:#?}"
    );
    assert!(!refused.stderr.contains("secret-ish"), "{refused:#?}");
    assert!(node.phones() == before);
    let bad_pattern = node
        .migrate(&["--from", "plaintext", "--expect", "(", "--force"])
        .expect(2);
    assert!(bad_pattern.stderr.contains("--expect"), "{bad_pattern:#?}");
}

#[test]
fn migrate_undo_restores_every_legacy_byte_and_finalize_deletes_them() {
    let node = NodeData::new([9u8; 32], 40);
    let before = node.phones();

    let report = node
        .migrate_from_node(&["--force", "--json", "--batch-size", "7"])
        .expect(0)
        .json();
    assert_eq!(report["legacy_values_kept"], 40, "{report:#}");
    assert_ne!(node.phones(), before);
    let env = node.workspace.env();
    let status_args = [
        "status",
        "--json",
        "--database-url",
        node.url.as_str(),
        "--column",
        "phone_requests.phone_number:text:nullable",
    ];
    let status = run(&status_args, &env_refs(&env)).expect(0).json();
    assert_eq!(status["columns"][0]["legacy_values_kept"], 40, "{status:#}");

    let undo = node
        .migrate(&["--undo", "--force", "--json"])
        .expect(0)
        .json();
    assert_eq!(
        (&undo["restored"], &undo["left"]),
        (&40.into(), &0.into()),
        "{undo:#}"
    );
    assert!(node.phones() == before, "every legacy byte is back");

    node.migrate_from_node(&["--force"]).expect(0);
    let finalized = node
        .migrate(&["--finalize", "--force", "--json"])
        .expect(0)
        .json();
    assert_eq!(finalized["deleted"], 40, "{finalized:#}");
    let undo = node
        .migrate(&["--undo", "--force", "--json"])
        .expect(0)
        .json();
    assert_eq!(undo["restored"], 0, "nothing is kept after finalize");
}

#[test]
fn migrate_refuses_a_key_ring_that_holds_the_legacy_key() {
    let node = NodeData::new([9u8; 32], 3);
    let before = node.phones();
    let new_key = std::fs::read_to_string(node.workspace.keys_path().join("enc_key_v1")).unwrap();
    std::fs::write(&node.key_file, &new_key).unwrap();

    let refused = node.migrate_from_node(&["--force"]).expect(2);

    assert!(
        refused.stderr.contains("is the legacy key itself"),
        "{refused:#?}"
    );
    assert!(
        !refused.stderr.contains(new_key.trim()),
        "no key bytes: {refused:#?}"
    );
    assert!(node.phones() == before);
}

// ---- blind indexes ------------------------------------------------------------------------------

/// `phone_requests (id, phone_number, phone_bidx)` in plaintext, the flag that declares its blind
/// index, and the keys (a blind-index key file beside the keys directory).
struct IndexedPhones {
    workspace: Workspace,
    bidx_key: encrypted_field::BlindIndexKey,
    bidx_file: std::path::PathBuf,
}

const PHONES_COLUMN: &str =
    "phone_requests.phone_number:text:nullable:bidx-text=phone_bidx:normalize=digits";
const PHONES: [&str; 2] = ["+1 555 0100", "+44 20 7946 0958"];

impl IndexedPhones {
    fn new() -> Self {
        let workspace = Workspace::new();
        let mut db = Database::connect(workspace.sqlite_path().to_str().unwrap()).unwrap();
        db.execute(
            "CREATE TABLE phone_requests (id INTEGER PRIMARY KEY, phone_number TEXT, phone_bidx TEXT)",
        )
        .unwrap();
        db.execute(&format!(
            "INSERT INTO phone_requests VALUES (1, '{}', NULL), (2, '{}', NULL), (3, NULL, NULL)",
            PHONES[0], PHONES[1]
        ))
        .unwrap();
        let key = encrypted_field::MasterKey::generate();
        let bidx_file = workspace.backups.path().join("blind_index_key");
        std::fs::write(&bidx_file, key.to_base64()).unwrap();
        #[cfg(unix)]
        std::fs::set_permissions(
            &bidx_file,
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
        Self {
            workspace,
            bidx_key: encrypted_field::BlindIndexKey::new(key),
            bidx_file,
        }
    }

    /// Runs `args`, the database and the column flag, with the keys directory and (`with_bidx`)
    /// the blind-index key file in the environment.
    fn run(&self, args: &[&str], with_bidx: bool) -> Run {
        let url = format!("sqlite://{}", self.workspace.sqlite_path().display());
        let mut all = args.to_vec();
        all.extend(["--database-url", url.as_str(), "--column", PHONES_COLUMN]);
        let mut env = self.workspace.env();
        if with_bidx {
            env.push((
                "DB_BLIND_INDEX_KEY_FILE",
                self.bidx_file.clone().into_os_string(),
            ));
        }
        run(&all, &env_refs(&env))
    }

    fn indexes(&self) -> Vec<Option<String>> {
        let mut db = Database::connect(self.workspace.sqlite_path().to_str().unwrap()).unwrap();
        harness::load_text(
            &mut db,
            "SELECT phone_bidx AS value FROM phone_requests ORDER BY id",
        )
    }

    /// The hex index of `phone`, from the blind-index primitive itself.
    fn index_of(&self, phone: &str) -> String {
        let ring = self
            .workspace
            .ring()
            .with_blind_index_key(self.bidx_key.clone())
            .unwrap();
        harness::hex(
            &ring
                .blind_index(
                    "phone_requests.phone_number",
                    phone,
                    encrypted_field::normalize::digits,
                )
                .unwrap(),
        )
    }
}

#[test]
fn migrate_writes_the_blind_index_of_a_column_declared_on_the_command_line() {
    let phones = IndexedPhones::new();
    let migrate = ["migrate", "--from", "plaintext", "--force", "--json"];
    let refused = phones.run(&migrate, false).expect(2);
    assert!(
        refused.stderr.contains("no blind-index key") && refused.stderr.contains("phone_bidx"),
        "{refused:#?}"
    );
    assert_eq!(phones.indexes(), [None, None, None], "nothing was written");

    let report = phones.run(&migrate, true).expect(0).json();
    assert_eq!(report["records_rewritten"], 2, "{report:#}");
    assert_eq!(
        phones.indexes(),
        [
            Some(phones.index_of(PHONES[0])),
            Some(phones.index_of(PHONES[1])),
            None
        ]
    );
    phones.run(&["verify"], true).expect(0);
}

#[test]
fn reindex_rewrites_a_stale_blind_index_and_verify_reports_it_until_then() {
    let phones = IndexedPhones::new();
    phones
        .run(&["migrate", "--from", "plaintext", "--force"], true)
        .expect(0);
    let mut db = Database::connect(phones.workspace.sqlite_path().to_str().unwrap()).unwrap();
    db.execute("UPDATE phone_requests SET phone_bidx = 'stale' WHERE id = 2")
        .unwrap();

    let verify = phones.run(&["verify", "--json"], true).expect(1).json();
    assert_eq!(
        verify["verification"]["stale_blind_indexes"], 1,
        "{verify:#}"
    );
    assert_eq!(verify["failures"][0]["primary_key"], "2", "{verify:#}");
    assert_eq!(
        verify["failures"][0]["reason"]
            .as_str()
            .map(|r| r.contains("blind index does not match the value")),
        Some(true),
        "{verify:#}"
    );
    let unchecked = phones.run(&["verify"], false).expect(0);
    assert!(
        unchecked
            .stdout_text()
            .contains("blind indexes NOT checked")
            && unchecked
                .stdout_text()
                .contains("phone_requests.phone_bidx"),
        "{unchecked:#?}"
    );

    let refused = phones.run(&["reindex"], true).expect(2);
    assert!(refused.stderr.contains("--force"), "{refused:#?}");
    let dry = phones
        .run(&["reindex", "--dry-run", "--json"], true)
        .expect(0)
        .json();
    assert_eq!(
        (dry["dry_run"].as_bool(), dry["records_rewritten"].as_u64()),
        (Some(true), Some(1)),
        "{dry:#}"
    );
    assert_eq!(phones.indexes()[1].as_deref(), Some("stale"));
    let text = phones.run(&["reindex", "--force"], true).expect(0);
    assert!(
        text.stdout_text()
            .starts_with("completed: 1 of 2 blind indexes rewritten"),
        "{text:#?}"
    );
    assert_eq!(phones.indexes()[1], Some(phones.index_of(PHONES[1])));
    phones.run(&["verify"], true).expect(0);
}

#[test]
fn rotate_blind_index_moves_every_index_to_the_new_version_and_status_counts_them() {
    let phones = IndexedPhones::new();
    phones
        .run(&["migrate", "--from", "plaintext", "--force"], true)
        .expect(0);
    let blind_indexes = |phones: &IndexedPhones| {
        let status = phones.run(&["status", "--json"], true).expect(0).json();
        status["columns"][0]["blind_indexes_by_version"].clone()
    };
    assert_eq!(blind_indexes(&phones), serde_json::json!({"v1": 2}));

    // Blind-index version 2 is provisioned in the keys directory: it becomes the active one.
    let v2 = phones.workspace.keys_path().join("bidx_key_v2");
    std::fs::write(&v2, encrypted_field::MasterKey::generate().to_base64()).unwrap();
    #[cfg(unix)]
    std::fs::set_permissions(&v2, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let verify = phones.run(&["verify", "--json"], true).expect(1).json();
    assert_eq!(
        verify["verification"]["stale_blind_indexes"], 2,
        "{verify:#}"
    );
    assert_eq!(
        verify["failures"][0]["reason"].as_str(),
        Some(
            "blind index is on blind-index key v1, not the active v2 (`phone_bidx` is stale; \
             `rotate --blind-index` rewrites it)"
        ),
        "{verify:#}"
    );

    let dry = phones
        .run(&["rotate", "--blind-index", "--dry-run", "--json"], true)
        .expect(0)
        .json();
    assert_eq!(dry["records_rewritten"], 2, "{dry:#}");
    phones
        .run(&["rotate", "--blind-index", "--force"], true)
        .expect(0);
    let indexes = phones.indexes();
    for index in indexes.iter().take(2) {
        let index = index.as_deref().unwrap();
        assert!(
            index.starts_with("424900000002") && index.len() == 76,
            "{index}"
        );
    }
    assert_eq!(blind_indexes(&phones), serde_json::json!({"v2": 2}));
    let text = phones.run(&["status"], true).expect(0).stdout_text();
    assert!(text.contains("blind indexes v2: 2"), "{text}");
    phones.run(&["verify"], true).expect(0);
    // Pinned back to version 1, every index is stale again: the pin is what `verify` checks by.
    let url = format!("sqlite://{}", phones.workspace.sqlite_path().display());
    let pinned_back = run(
        &[
            "verify",
            "--json",
            "--database-url",
            &url,
            "--column",
            PHONES_COLUMN,
        ],
        &[
            (
                "ENCRYPTED_FIELD_KEYS_DIR",
                phones.workspace.keys_path().as_os_str(),
            ),
            ("DB_BLIND_INDEX_KEY_FILE", phones.bidx_file.as_os_str()),
            (
                "ENCRYPTED_FIELD_ACTIVE_BLIND_INDEX_VERSION",
                OsStr::new("1"),
            ),
        ],
    )
    .expect(1)
    .json();
    assert_eq!(
        pinned_back["verification"]["stale_blind_indexes"], 2,
        "{pinned_back:#}"
    );
    let refused = phones
        .run(&["rotate", "--blind-index", "--new-key", "--force"], true)
        .expect(2);
    assert!(refused.stderr.contains("--new-key"), "{refused:#?}");
}

#[test]
fn blind_index_key_file_is_version_one_beside_the_keys_directorys_versions() {
    let phones = IndexedPhones::new();
    let file = phones.bidx_file.to_str().unwrap().to_owned();
    let with_file = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--blind-index-key-file", file.as_str()]);
        phones.run(&all, false)
    };
    with_file(&["migrate", "--from", "plaintext", "--force"]).expect(0);
    assert_eq!(phones.indexes()[0], Some(phones.index_of(PHONES[0])));

    let v2 = phones.workspace.keys_path().join("bidx_key_v2.txt");
    std::fs::write(&v2, encrypted_field::MasterKey::generate().to_base64()).unwrap();
    #[cfg(unix)]
    std::fs::set_permissions(&v2, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    with_file(&["verify"]).expect(1);
    with_file(&["rotate", "--blind-index", "--force"]).expect(0);
    let indexes = phones.indexes();
    assert!(
        indexes[0].as_deref().unwrap().starts_with("424900000002"),
        "{indexes:?}"
    );
    with_file(&["verify"]).expect(0);
}

#[test]
fn the_blind_index_key_comes_from_the_environment_with_keys_dir_too() {
    let phones = IndexedPhones::new();
    let url = format!("sqlite://{}", phones.workspace.sqlite_path().display());
    let keys = phones.workspace.keys_path();
    let args = [
        "migrate",
        "--from",
        "plaintext",
        "--force",
        "--keys-dir",
        keys.to_str().unwrap(),
        "--database-url",
        url.as_str(),
        "--column",
        PHONES_COLUMN,
    ];
    run(
        &args,
        &[("DB_BLIND_INDEX_KEY_FILE", phones.bidx_file.as_os_str())],
    )
    .expect(0);
    assert_eq!(phones.indexes()[0], Some(phones.index_of(PHONES[0])));
}

#[test]
fn blind_index_key_file_gives_the_blind_index_key_on_the_command_line() {
    let phones = IndexedPhones::new();
    let file = phones.bidx_file.to_str().unwrap().to_owned();
    phones
        .run(
            &[
                "migrate",
                "--from",
                "plaintext",
                "--force",
                "--blind-index-key-file",
                &file,
            ],
            false,
        )
        .expect(0);
    assert_eq!(phones.indexes()[1], Some(phones.index_of(PHONES[1])));
    let missing = phones
        .run(
            &[
                "reindex",
                "--force",
                "--blind-index-key-file",
                "/nonexistent/bidx",
            ],
            false,
        )
        .expect(2);
    assert!(missing.stderr.contains("/nonexistent/bidx"), "{missing:#?}");
}

#[test]
fn reindex_without_a_blind_index_key_or_an_indexed_column_is_a_configuration_error() {
    let phones = IndexedPhones::new();
    let no_key = phones.run(&["reindex", "--force"], false).expect(2);
    assert!(
        no_key
            .stderr
            .starts_with("error: cannot compute the blind index `phone_bidx`"),
        "{no_key:#?}"
    );
    let fixture = Fixture::new();
    let no_index = fixture.run(&["reindex", "--force"], &[]).expect(2);
    assert!(
        no_index
            .stderr
            .contains("no registered column has a blind index"),
        "{no_index:#?}"
    );
}

// ---- keys retire --------------------------------------------------------------------------------

#[cfg(unix)]
#[test]
fn retire_refuses_the_active_version_and_one_in_use_then_moves_an_unused_one_aside() {
    let f = Fixture::new();
    f.workspace.keys().add(true).unwrap(); // v2 active; every value on v1
    let retire = |version: &str| f.run(&["keys", "retire", version], &[]);

    let active = retire("2").expect(2);
    assert!(active.stderr.contains("active"), "{active:#?}");
    let in_use = retire("1").expect(2);
    assert!(
        in_use
            .stderr
            .contains(&format!("still used by {} values", f.non_null_values())),
        "{in_use:#?}"
    );
    let v1 = f.workspace.keys_path().join("enc_key_v1");
    assert!(v1.exists());

    f.run(&["rotate", "--force"], &[]).expect(0);
    let retired = f
        .run(&["keys", "--json", "retire", "1"], &[])
        .expect(0)
        .json();
    let moved = f.workspace.keys_path().join("retired/enc_key_v1");
    assert_eq!(retired["to"], moved.display().to_string());
    assert!(!v1.exists());
    assert_eq!(harness::mode(&moved), 0o600);
    assert_eq!(harness::mode(moved.parent().unwrap()), 0o700);
    assert_eq!(
        f.workspace.ring().versions().collect::<Vec<_>>(),
        [KeyVersion::new(2)],
        "a retired key is no longer loaded"
    );
    f.run(&["verify"], &[]).expect(0);
}

// ---- bad usage and configuration ----------------------------------------------------------------

#[test]
fn an_unknown_column_is_a_configuration_error_that_names_it_and_writes_nothing() {
    let f = Fixture::new();
    f.workspace.keys().add(true).unwrap();
    let before = f.rows();
    let url = f.url();
    let env = f.workspace.env();
    let args = [
        "rotate",
        "--force",
        "--database-url",
        url.as_str(),
        "--column",
        "customers.secret",
        "--column",
        "customers.nots:text",
    ];
    let failed = run(&args, &env_refs(&env)).expect(2);
    assert!(failed.stdout.is_empty(), "{failed:#?}");
    assert!(
        failed.stderr.starts_with("error: reading customers: ")
            && failed.stderr.contains("no such column")
            && failed.stderr.contains("nots"),
        "{failed:#?}"
    );
    assert_eq!(f.rows(), before);
}

#[test]
fn a_name_that_is_not_an_identifier_is_refused_before_any_sql() {
    let f = Fixture::new();
    let url = f.url();
    let env = f.workspace.env();
    let failed = run(
        &[
            "status",
            "--database-url",
            url.as_str(),
            "--column",
            "customers.secret\"; DROP TABLE customers; --",
        ],
        &env_refs(&env),
    )
    .expect(2);
    assert!(failed.stderr.contains("invalid column name"), "{failed:#?}");
    assert_eq!(f.rows().len(), ROWS as usize);
}

#[test]
fn a_bad_database_url_is_a_configuration_error() {
    let f = Fixture::new();
    let env = f.workspace.env();
    let unknown = run(
        &[
            "verify",
            "--database-url",
            "oracle://scott:tiger@db/prod",
            "--column",
            "customers.secret",
        ],
        &env_refs(&env),
    )
    .expect(2);
    assert!(
        unknown.stderr.contains("unknown scheme `oracle`"),
        "{unknown:#?}"
    );
    assert!(
        !unknown.stderr.contains("tiger"),
        "no password in errors: {unknown:#?}"
    );

    let missing_file = f.workspace.dir.path().join("nope.db");
    let missing = run(
        &[
            "verify",
            "--database-url",
            missing_file.to_str().unwrap(),
            "--column",
            "customers.secret",
        ],
        &env_refs(&env),
    )
    .expect(2);
    assert!(missing.stderr.contains("does not exist"), "{missing:#?}");
    assert!(!missing_file.exists(), "no empty database is created");

    let none = run(&["verify", "--column", "customers.secret"], &env_refs(&env)).expect(2);
    assert!(none.stderr.contains("DATABASE_URL"), "{none:#?}");
}

#[test]
fn an_empty_sqlite_path_is_a_configuration_error_not_an_in_memory_database() {
    let f = Fixture::new();
    for url in ["sqlite://", "sqlite:", ""] {
        let mut env = f.workspace.env();
        env.push(("DATABASE_URL", url.into()));
        let failed = run(
            &["status", "--json", "--column", "customers.secret"],
            &env_refs(&env),
        )
        .expect(2);
        assert!(
            failed.stdout.is_empty() && failed.stderr.lines().count() == 1,
            "{url}: {failed:#?}"
        );
        assert!(
            failed.stderr.contains(if url.is_empty() {
                "it is empty"
            } else {
                "no path"
            }),
            "{url}: {failed:#?}"
        );
    }
}

#[test]
fn database_url_comes_from_the_environment() {
    let f = Fixture::new();
    let mut env = f.workspace.env();
    env.push(("DATABASE_URL", f.url().into()));
    let status = run(
        &["status", "--json", "--column", "customers.secret"],
        &env_refs(&env),
    )
    .expect(0)
    .json();
    assert_eq!(status["columns"][0]["rows"], ROWS);
}

/// Plays another process holding the rotation lease: its row, as that process's taking wrote it,
/// expiring `expires_in_ms` from now by the database's clock (negative: expired, as a killed
/// holder's lease does).
fn hold_lease_elsewhere(f: &Fixture, expires_in_ms: i64) {
    // `status` creates the leases table, as any command that reads the lease does.
    f.run(&["status"], &[]).expect(0);
    let now = "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)";
    f.db()
        .execute(&format!(
            "INSERT OR REPLACE INTO encrypted_field_leases \
             (name, owner, host, pid, fence, acquired_at_ms, expires_at_ms, renewals) \
             VALUES ('rotation', 'feedfacefeedface', 'batch-host-7', 4242, 9, {now} - 5000, \
             {now} + {expires_in_ms}, 3)"
        ))
        .unwrap();
}

/// The fencing counter of the lease row.
fn lease_fence(f: &Fixture) -> i64 {
    let status = f.run(&["status", "--json"], &[]).expect(0).json();
    status["rotation_lease"]["fence"].as_i64().unwrap_or(-1)
}

#[test]
fn a_rotation_lease_held_by_another_process_is_exit_2_names_it_and_writes_nothing() {
    let f = Fixture::new();
    f.workspace.keys().add(true).unwrap();
    let before = f.rows();
    hold_lease_elsewhere(&f, 600_000);

    let busy = f.run(&["rotate", "--force"], &[]).expect(2);
    assert!(
        busy.stderr
            .contains("another rotation is running on this database: host batch-host-7 pid 4242")
            && busy.stderr.contains("--wait-for-lock"),
        "{busy:#?}"
    );
    assert_eq!(f.rows(), before);
    let undo = f.run(&["migrate", "--force", "--undo"], &[]).expect(2);
    assert!(undo.stderr.contains("pid 4242"), "{undo:#?}");

    let status = f.run(&["status"], &[]).expect(0);
    assert!(
        status
            .stdout_text()
            .contains("rotation in progress: lease held by host batch-host-7 pid 4242"),
        "{status:#?}"
    );
    let json = f.run(&["status", "--json"], &[]).expect(0).json();
    assert_eq!(json["rotation_lease"]["pid"], 4242, "{json:#}");
    assert_eq!(json["rotation_lease"]["host"], "batch-host-7", "{json:#}");
}

/// A killed holder's lease expires: the next run takes it over (the fencing counter goes up by
/// one), finishes, and releases it.
#[test]
fn an_expired_lease_is_taken_over_and_released_at_the_end() {
    let f = Fixture::new();
    f.workspace.keys().add(true).unwrap();
    hold_lease_elsewhere(&f, -1);
    assert_eq!(lease_fence(&f), -1, "an expired lease has no holder");

    let report = f
        .run(&["rotate", "--force", "--json"], &[])
        .expect(0)
        .json();
    assert_eq!(
        report["records_rewritten"],
        f.non_null_values(),
        "{report:#}"
    );
    assert_eq!(report["conflicts_retried"], 0, "{report:#}");
    let status = f.run(&["status"], &[]).expect(0);
    assert!(
        status.stdout_text().contains("rotation lease: free"),
        "released at the end: {status:#?}"
    );
    let fence: i64 = {
        hold_lease_elsewhere_keeping_fence(&f);
        lease_fence(&f)
    };
    assert_eq!(fence, 10, "taken over once: the counter went from 9 to 10");
}

/// Makes the lease row unexpired again without touching its fencing counter, so `status` shows it.
fn hold_lease_elsewhere_keeping_fence(f: &Fixture) {
    f.db()
        .execute(
            "UPDATE encrypted_field_leases SET expires_at_ms = expires_at_ms + 600000 \
             WHERE name = 'rotation'",
        )
        .unwrap();
}

/// `--wait-for-lock` waits for the holder's lease to end instead of exiting.
#[test]
fn wait_for_lock_waits_for_the_lease_to_expire() {
    let f = Fixture::new();
    f.workspace.keys().add(true).unwrap();
    hold_lease_elsewhere(&f, 1500);
    let report = f
        .run(
            &["rotate", "--force", "--json"],
            &["--wait-for-lock", "60s"],
        )
        .expect(0)
        .json();
    assert_eq!(
        report["records_rewritten"],
        f.non_null_values(),
        "{report:#}"
    );
    assert_eq!(f.versions(), [2]);
}

#[test]
fn a_lease_ttl_below_one_second_is_a_usage_error() {
    let f = Fixture::new();
    let refused = f
        .run(&["rotate", "--force"], &["--lease-ttl", "200ms"])
        .expect(2);
    assert!(
        refused.stderr.contains("shorter than the shortest lease"),
        "{refused:#?}"
    );
}

#[test]
fn a_bad_key_is_a_configuration_error_naming_the_file() {
    let f = Fixture::new();
    let bad = f.workspace.keys_path().join("enc_key_v2");
    std::fs::write(&bad, "not a key\n").unwrap();
    let failed = f.run(&["rotate", "--force"], &[]).expect(2);
    assert!(
        failed
            .stderr
            .contains(&format!("reading key file {}", bad.display())),
        "{failed:#?}"
    );
}

#[test]
fn a_models_file_describes_the_encrypted_columns() {
    let f = Fixture::new();
    f.workspace.keys().add(true).unwrap();
    let models = f.workspace.backups.path().join("models.toml");
    std::fs::write(
        &models,
        "[[model]]\ntable = \"customers\"\n\n[[model.column]]\nname = \"secret\"\n\n\
         [[model.column]]\nname = \"note\"\nstorage = \"text\"\nnullable = true\n",
    )
    .unwrap();
    let url = f.url();
    let env = f.workspace.env();
    let report = run(
        &[
            "rotate",
            "--force",
            "--json",
            "--database-url",
            url.as_str(),
            "--models",
            models.to_str().unwrap(),
        ],
        &env_refs(&env),
    )
    .expect(0)
    .json();
    assert_eq!(
        report["records_rewritten"].as_u64(),
        Some(f.non_null_values())
    );
    assert_eq!(f.versions(), [2]);
}

// ---- notifications ------------------------------------------------------------------------------

#[test]
fn the_report_is_posted_to_the_webhook_the_environment_names() {
    let f = Fixture::new();
    f.workspace.keys().add(true).unwrap();
    let sink = http_sink::HttpSink::start(http_sink::Answer::Status("200 OK"));
    let url = f.url();
    let mut env = f.workspace.env();
    env.push((
        "ENCRYPTED_FIELD_WEBHOOK_URL",
        format!("{}/hooks/rotation", sink.base_url).into(),
    ));
    let mut args = vec![
        "rotate",
        "--force",
        "--json",
        "--database-url",
        url.as_str(),
    ];
    let flags = f.table.column_flags();
    args.extend(flags.iter().map(String::as_str));
    let printed = run(&args, &env_refs(&env)).expect(0).json();
    let request = sink.request().expect("the webhook was called");
    assert_eq!(request.method, "POST");
    assert_eq!(request.target, "/hooks/rotation");
    let posted: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(posted["status"], "completed");
    assert_eq!(posted["records_rewritten"], printed["records_rewritten"]);
}

#[test]
fn a_notifier_configuration_that_cannot_be_used_stops_the_run_before_any_write() {
    let f = Fixture::new();
    f.workspace.keys().add(true).unwrap();
    let before = f.rows();
    let url = f.url();
    let mut env = f.workspace.env();
    env.push(("ENCRYPTED_FIELD_SMTP_URL", "smtp://mail.example.org".into()));
    let mut args = vec!["rotate", "--force", "--database-url", url.as_str()];
    let flags = f.table.column_flags();
    args.extend(flags.iter().map(String::as_str));
    let failed = run(&args, &env_refs(&env)).expect(2);
    assert!(
        failed
            .stderr
            .starts_with("error: configuring notifications: ")
            && failed.stderr.contains("ENCRYPTED_FIELD_SMTP_URL"),
        "{failed:#?}"
    );
    assert_eq!(f.rows(), before);
}

#[test]
fn a_plain_http_webhook_to_another_machine_is_exit_2_naming_the_opt_in() {
    let f = Fixture::new();
    f.workspace.keys().add(true).unwrap();
    let before = f.rows();
    let mut env = f.workspace.env();
    env.push((
        "ENCRYPTED_FIELD_WEBHOOK_URL",
        "http://hooks.example.com/rotation".into(),
    ));

    let url = f.url();
    let mut args = vec!["rotate", "--force", "--database-url", url.as_str()];
    let flags = f.table.column_flags();
    args.extend(flags.iter().map(String::as_str));

    let failed = run(&args, &env_refs(&env)).expect(2);

    assert!(
        failed
            .stderr
            .starts_with("error: configuring notifications: ENCRYPTED_FIELD_WEBHOOK_URL: ")
            && failed
                .stderr
                .contains("ENCRYPTED_FIELD_WEBHOOK_ALLOW_HTTP=1")
            && failed.stderr.lines().count() == 1,
        "{failed:#?}"
    );
    assert_eq!(f.rows(), before);
}

// ---- embedding ----------------------------------------------------------------------------------

#[test]
fn an_application_embeds_the_commands_with_its_own_models() {
    use encrypted_field::cli::{Cli, Exit, Io};
    use encrypted_field::model::{ColumnSpec, ModelSpec, Registry};
    let f = Fixture::new();
    f.workspace.keys().add(true).unwrap();
    let registry = Registry::new()
        .register_spec(
            ModelSpec::new("customers", "id")
                .column(ColumnSpec::binary("secret"))
                .column(ColumnSpec::text("note").nullable()),
        )
        .unwrap();
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let mut io = Io {
        stdin: &mut std::io::empty(),
        stdout: &mut stdout,
        stderr: &mut stderr,
    };
    let url = f.url();
    let keys = f.workspace.keys_path();
    let exit = Cli::new().registry(registry).run_with(
        [
            OsStr::new("manage"),
            OsStr::new("rotate"),
            OsStr::new("--force"),
            OsStr::new("--json"),
            OsStr::new("--database-url"),
            OsStr::new(&url),
            OsStr::new("--keys-dir"),
            keys.as_os_str(),
        ],
        &mut io,
    );
    assert_eq!(exit, Exit::Success, "{}", String::from_utf8_lossy(&stderr));
    let report: serde_json::Value = serde_json::from_slice(&stdout).unwrap();
    assert_eq!(
        report["records_rewritten"].as_u64(),
        Some(f.non_null_values())
    );
    assert_eq!(f.versions(), [2]);
}
