//! Blind-index keys across a fleet, on a real database: members apply the database's active
//! blind-index version over "the highest", a staged activation waits for every member and names a
//! lagging one, and `keys add|activate --blind-index` and `rotate --blind-index --new-key` run as
//! the real binary beside members of this process.

use std::ffi::OsStr;
use std::time::Duration;

use encrypted_field::fleet::{
    self, FleetMember, FleetOptions, KeyKind, instances, record_active_of, recorded_active_of,
};
use encrypted_field::keys::KeysDir;
use encrypted_field::rotation::Error;
use encrypted_field::rotation::database::Database;
use encrypted_field::{BlindIndexKey, KeyVersion, MasterKey};

use super::binary::{self, Run};
use super::{V1, V2, each_backend, keys_dir, staging};

/// Writes blind-index `version` into `dir` (each key made from its number, as in `keys_dir`).
fn add_blind_index_version(dir: &KeysDir, version: u32) {
    let byte = 100 + u8::try_from(version).unwrap();
    dir.write_blind_index_key(KeyVersion::new(version), &MasterKey::from_bytes([byte; 32]))
        .unwrap();
}

/// A keys directory with encryption key v1 and the blind-index versions given.
fn keys_with_blind_index(versions: &[u32]) -> (tempfile::TempDir, KeysDir) {
    let (tmp, dir) = keys_dir(&[1]);
    for v in versions {
        add_blind_index_version(&dir, *v);
    }
    (tmp, dir)
}

/// A member whose ring is `dir`'s keys and blind-index keys (read again at every check).
fn member(url: &str, host: &str, dir: &KeysDir) -> FleetMember {
    let dir = dir.clone();
    fleet::join_with_own_ring(
        url,
        FleetOptions {
            check_in_interval: Duration::from_millis(100),
            host: Some(host.to_owned()),
            ..FleetOptions::default()
        },
        move || {
            let mut ring = dir.load(None)?;
            for file in dir.blind_index_files()? {
                let key = BlindIndexKey::new(MasterKey::from_file(&file.path)?);
                ring = ring.with_blind_index_key_version(file.version, key)?;
            }
            Ok(ring)
        },
    )
    .unwrap()
}

fn indexing_with(member: &FleetMember) -> Option<KeyVersion> {
    member.ring().active_blind_index_version()
}

#[test]
fn members_index_with_the_recorded_blind_index_version_not_the_highest() {
    each_backend(|url| {
        let mut db = Database::connect(url).unwrap();
        record_active_of(&mut db, KeyKind::BlindIndex, V1, "test").unwrap();
        let (_tmp, dir) = keys_with_blind_index(&[1, 2]);
        let a = member(url, "host-a", &dir);
        // Applied before `join` returns: no index is ever computed with v2 here.
        assert_eq!(indexing_with(&a), Some(V1));
        let seen = instances(&mut db, Duration::from_secs(60)).unwrap();
        assert_eq!(seen[0].blind_index_versions, [V1, V2]);
        assert_eq!(seen[0].active_blind_index_version, Some(V1));

        record_active_of(&mut db, KeyKind::BlindIndex, V2, "test").unwrap();
        a.check_now().unwrap();
        assert_eq!(indexing_with(&a), Some(V2));
        assert_eq!(
            a.ring().active_version(),
            V1,
            "the value keys are untouched"
        );
        let record = recorded_active_of(&mut db, KeyKind::BlindIndex)
            .unwrap()
            .unwrap();
        assert_eq!(record.version, V2);
        assert!(record.activated.unwrap().contains("by test"));
    });
}

#[test]
fn blind_index_activation_refuses_a_lagging_member_then_succeeds_once_it_has_the_key() {
    each_backend(|url| {
        let mut db = Database::connect(url).unwrap();
        record_active_of(&mut db, KeyKind::BlindIndex, V1, "test").unwrap();
        let (_a_tmp, a_dir) = keys_with_blind_index(&[1, 2]);
        let (_b_tmp, b_dir) = keys_with_blind_index(&[1]);
        let a = member(url, "host-a", &a_dir);
        let b = member(url, "host-b", &b_dir);

        let err = fleet::activate_blind_index_with(
            &mut db,
            V2,
            "test",
            &staging(Duration::from_millis(500)),
            || Ok(()),
        )
        .unwrap_err();
        let message = err.to_string();
        assert!(
            matches!(
                err,
                Error::InstancesLagging {
                    kind: KeyKind::BlindIndex,
                    activated: false,
                    ..
                }
            ),
            "{message}"
        );
        assert!(
            message.contains("not activating blind-index key version v2"),
            "{message}"
        );
        assert!(message.contains("host host-b pid"), "{message}");
        assert!(message.contains("blind index: loaded v1;"), "{message}");
        assert!(!message.contains("host host-a"), "{message}");
        let recorded = recorded_active_of(&mut db, KeyKind::BlindIndex).unwrap();
        assert_eq!(recorded.unwrap().version, V1, "nothing was activated");
        assert_eq!(indexing_with(&a), Some(V1));

        add_blind_index_version(&b_dir, 2);
        let done = fleet::activate_blind_index_with(
            &mut db,
            V2,
            "test",
            &staging(Duration::from_secs(20)),
            || Ok(()),
        )
        .unwrap();
        assert_eq!((done.kind, done.previous), (KeyKind::BlindIndex, Some(V1)));
        assert!(
            done.instances
                .iter()
                .all(|i| i.active_blind_index_version == Some(V2))
        );
        assert_eq!((indexing_with(&a), indexing_with(&b)), (Some(V2), Some(V2)));
    });
}

fn run(args: &[&str]) -> Run {
    binary::run(args, &[("RUST_LOG", OsStr::new("off"))])
}

const COLUMN: &str = "contacts.phone:text:bidx-text=phone_bidx:normalize=digits";

/// A table of `rows` phone numbers sealed with v1 of `dir`, with no blind index yet; then
/// `reindex` computes them with the active blind-index version.
fn contacts_table(db: &mut Database, dir: &KeysDir, url: &str, rows: u32) {
    contacts_table_with_index(db, dir, url, rows, "VARCHAR(100)");
}

/// [`contacts_table`] with the index column of type `index_type`.
fn contacts_table_with_index(
    db: &mut Database,
    dir: &KeysDir,
    url: &str,
    rows: u32,
    index_type: &str,
) {
    db.execute(&format!(
        "CREATE TABLE contacts (id BIGINT PRIMARY KEY, phone TEXT NOT NULL, \
         phone_bidx {index_type})"
    ))
    .unwrap();
    let ring = dir.load(None).unwrap();
    for id in 1..=rows {
        let sealed = ring.encrypt_to_base64(format!("+1 555 {id:04}").as_bytes(), "contacts.phone");
        db.execute(&format!(
            "INSERT INTO contacts (id, phone) VALUES ({id}, '{sealed}')"
        ))
        .unwrap();
    }
    let indexed = run(&[
        "reindex",
        "--force",
        "--keys-dir",
        dir.path().to_str().unwrap(),
        "--database-url",
        url,
        "--column",
        COLUMN,
    ]);
    assert_eq!(indexed.code, 0, "{}", indexed.stderr);
}

/// `status --json` of the contacts table.
fn status(url: &str) -> serde_json::Value {
    let status = run(&[
        "status",
        "--json",
        "--database-url",
        url,
        "--column",
        COLUMN,
    ]);
    assert_eq!(status.code, 0, "{}", status.stderr);
    serde_json::from_str(&status.stdout_text()).unwrap()
}

fn rotate_blind_index_new_key(
    dir: &KeysDir,
    url: &str,
    backups: &std::path::Path,
    wait: &str,
) -> Run {
    run(&[
        "rotate",
        "--blind-index",
        "--new-key",
        "--force",
        "--json",
        "--backup-dir",
        backups.to_str().unwrap(),
        "--keys-dir",
        dir.path().to_str().unwrap(),
        "--database-url",
        url,
        "--column",
        COLUMN,
        "--wait",
        wait,
        "--seen-within",
        "1m",
    ])
}

#[test]
fn rotate_blind_index_new_key_provisions_waits_activates_then_reindexes() {
    each_backend(|url| {
        let mut db = Database::connect(url).unwrap();
        // One keys directory for every member, as a shared secret volume is.
        let (tmp, dir) = keys_with_blind_index(&[1]);
        contacts_table(&mut db, &dir, url, 5);
        let a = member(url, "host-a", &dir);
        let b = member(url, "host-b", &dir);

        let backups = tmp.path().join("backups");
        let rotated = rotate_blind_index_new_key(&dir, url, &backups, "30s");
        assert_eq!(rotated.code, 0, "{}", rotated.stderr);
        let report: serde_json::Value = serde_json::from_str(&rotated.stdout_text()).unwrap();
        assert_eq!(report["operation"], "reindex", "{report:#}");
        assert_eq!(report["new_key"]["version"], 2, "{report:#}");
        assert_eq!(report["records_rewritten"], 5, "{report:#}");
        let recorded = recorded_active_of(&mut db, KeyKind::BlindIndex).unwrap();
        assert_eq!(recorded.unwrap().version, V2);
        assert_eq!((indexing_with(&a), indexing_with(&b)), (Some(V2), Some(V2)));
        assert!(
            !dir.has_blind_index_pin_file(),
            "the fleet's active blind-index version is in the database, not in a pin"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let key_file = dir.path().join("bidx_key_v2");
            let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // The backup holds every blind-index version, the new one active.
        let backup = report["key_backup_path"].as_str().unwrap();
        let restored = encrypted_field::keys::restore_ring(std::path::Path::new(backup)).unwrap();
        assert_eq!(
            restored.blind_index_versions().collect::<Vec<_>>(),
            [V1, V2]
        );
        assert_eq!(restored.active_blind_index_version(), Some(V2));

        let after = status(url);
        assert_eq!(
            after["columns"][0]["blind_indexes_by_version"],
            serde_json::json!({"v2": 5}),
            "{after:#}"
        );
        assert_eq!(after["fleet"]["recorded_active_blind_index"]["version"], 2);
        let verified = run(&[
            "verify",
            "--keys-dir",
            dir.path().to_str().unwrap(),
            "--database-url",
            url,
            "--column",
            COLUMN,
        ]);
        assert_eq!(verified.code, 0, "{}", verified.stdout_text());
    });
}

#[test]
fn rotate_blind_index_new_key_stops_before_activating_when_a_member_lacks_the_key() {
    each_backend(|url| {
        let mut db = Database::connect(url).unwrap();
        let (tmp, dir) = keys_with_blind_index(&[1]);
        let (_b_tmp, b_dir) = keys_with_blind_index(&[1]);
        contacts_table(&mut db, &dir, url, 3);
        let _a = member(url, "host-a", &dir);
        let b = member(url, "host-b", &b_dir);

        let refused = rotate_blind_index_new_key(&dir, url, &tmp.path().join("backups"), "1s");
        assert_eq!(refused.code, 2, "{}", refused.stderr);
        let stderr = refused.stderr.clone();
        assert!(
            stderr.contains("not activating blind-index key version v2"),
            "{stderr}"
        );
        assert!(stderr.contains("host host-b pid"), "{stderr}");
        assert!(
            stderr.contains("blind-index v2 stays provisioned"),
            "{stderr}"
        );
        assert!(
            stderr.contains("keys activate 2 --blind-index --database-url URL"),
            "{stderr}"
        );
        // The current version was recorded before the new file appeared, and stays active.
        let recorded = recorded_active_of(&mut db, KeyKind::BlindIndex).unwrap();
        assert_eq!(recorded.unwrap().version, V1);
        assert_eq!(indexing_with(&b), Some(V1));
        let after = status(url);
        assert_eq!(
            after["columns"][0]["blind_indexes_by_version"],
            serde_json::json!({"v1": 3}),
            "no index was rewritten: {after:#}"
        );
        // `reindex` now follows the database: v1, not the highest loaded (v2).
        let reindexed = run(&[
            "reindex",
            "--force",
            "--json",
            "--keys-dir",
            dir.path().to_str().unwrap(),
            "--database-url",
            url,
            "--column",
            COLUMN,
        ]);
        assert_eq!(reindexed.code, 0, "{}", reindexed.stderr);
        let report: serde_json::Value = serde_json::from_str(&reindexed.stdout_text()).unwrap();
        assert_eq!(report["records_rewritten"], 0, "{report:#}");
    });
}

#[test]
fn keys_add_blind_index_provisions_then_keys_activate_stages_it() {
    each_backend(|url| {
        let mut db = Database::connect(url).unwrap();
        let (_tmp, dir) = keys_with_blind_index(&[1]);
        let keys_dir = dir.path().to_str().unwrap();
        let member_b = member(url, "host-b", &dir);
        let added = run(&[
            "keys",
            "add",
            "--blind-index",
            "--keys-dir",
            keys_dir,
            "--database-url",
            url,
        ]);
        assert_eq!(added.code, 0, "{}", added.stderr);
        let text = added.stdout_text();
        assert!(text.contains("added blind-index key v2"), "{text}");
        assert!(!text.contains("/enc_key_v2"), "{text}");
        assert!(
            !dir.has_blind_index_pin_file(),
            "a pin would override the database"
        );
        let recorded = recorded_active_of(&mut db, KeyKind::BlindIndex).unwrap();
        assert_eq!(recorded.unwrap().version, V1);
        // The member loads v2 (the highest) but keeps indexing with the recorded v1.
        member_b.check_now().unwrap();
        assert!(member_b.ring().blind_index_key_of(V2).is_some());
        assert_eq!(indexing_with(&member_b), Some(V1));

        let listed = run(&["keys", "list", "--json", "--keys-dir", keys_dir]);
        let listing: serde_json::Value = serde_json::from_str(&listed.stdout_text()).unwrap();
        let versions: Vec<&serde_json::Value> = listing["blind_index"]["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| &k["version"])
            .collect();
        assert_eq!(versions, [1, 2], "{listing:#}");

        let activated = run(&[
            "keys",
            "activate",
            "2",
            "--blind-index",
            "--keys-dir",
            keys_dir,
            "--database-url",
            url,
            "--wait",
            "30s",
            "--seen-within",
            "1m",
        ]);
        assert_eq!(activated.code, 0, "{}", activated.stderr);
        let text = activated.stdout_text();
        assert!(
            text.contains("active blind-index version: v2 (recorded in the database; was v1)"),
            "{text}"
        );
        assert_eq!(indexing_with(&member_b), Some(V2));
        assert_eq!(member_b.ring().active_version(), V1);
    });
}

#[test]
fn keys_add_blind_index_without_a_database_pins_the_old_version_first() {
    let (_tmp, dir) = keys_with_blind_index(&[1]);
    let keys_dir = dir.path().to_str().unwrap();
    let added = run(&["keys", "add", "--blind-index", "--keys-dir", keys_dir]);
    assert_eq!(added.code, 0, "{}", added.stderr);
    assert_eq!(dir.pinned_blind_index_active().unwrap(), Some(V1));
    let listed = run(&["keys", "list", "--keys-dir", keys_dir]).stdout_text();
    assert!(
        listed.contains("active blind-index version: v1 (pinned by"),
        "{listed}"
    );
    let activated = run(&[
        "keys",
        "activate",
        "v2",
        "--blind-index",
        "--keys-dir",
        keys_dir,
    ]);
    assert_eq!(activated.code, 0, "{}", activated.stderr);
    assert_eq!(dir.pinned_blind_index_active().unwrap(), Some(V2));
    let missing = run(&[
        "keys",
        "activate",
        "7",
        "--blind-index",
        "--keys-dir",
        keys_dir,
    ]);
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("present: v1, v2"),
        "{}",
        missing.stderr
    );
}

#[test]
fn an_instances_table_of_an_earlier_build_gains_the_blind_index_columns() {
    each_backend(|url| {
        let mut db = Database::connect(url).unwrap();
        // The table as the build before blind-index check-ins created it, with a row of it.
        db.execute(
            "CREATE TABLE encrypted_field_instances (id VARCHAR(64) NOT NULL PRIMARY KEY, \
             host VARCHAR(255) NOT NULL, pid BIGINT NOT NULL, \
             loaded_versions VARCHAR(255) NOT NULL, active_version BIGINT NOT NULL, \
             pinned_version BIGINT NOT NULL, checked_in_at BIGINT NOT NULL)",
        )
        .unwrap();
        db.execute(
            "INSERT INTO encrypted_field_instances VALUES \
             ('old', 'host-old', 7, '1', 1, 0, 4102444800)",
        )
        .unwrap();
        let (_tmp, dir) = keys_with_blind_index(&[1]);
        let a = member(url, "host-a", &dir);
        let seen = instances(&mut db, Duration::from_secs(60)).unwrap();
        let old = seen.iter().find(|i| i.host == "host-old").unwrap();
        assert_eq!(old.active_blind_index_version, None, "{old}");
        assert!(old.to_string().contains("no blind-index key"), "{old}");
        let new = seen.iter().find(|i| i.id == a.id()).unwrap();
        assert_eq!(new.blind_index_versions, [V1]);
    });
}

#[test]
fn rotate_blind_index_new_key_refuses_an_index_column_too_narrow_for_the_new_version() {
    each_backend(|url| {
        if url.starts_with("sqlite") {
            return; // SQLite columns keep whatever is written.
        }
        let mut db = Database::connect(url).unwrap();
        let (tmp, dir) = keys_with_blind_index(&[1]);
        // 64 hex digits: a version-1 index fits, a version-2 one (76) would not.
        contacts_table_with_index(&mut db, &dir, url, 2, "VARCHAR(64)");
        let _a = member(url, "host-a", &dir);
        let refused = rotate_blind_index_new_key(&dir, url, &tmp.path().join("backups"), "30s");
        assert_eq!(refused.code, 2, "{}", refused.stderr);
        let stderr = refused.stderr.clone();
        assert!(
            stderr.contains("contacts.phone_bidx holds at most 64 bytes"),
            "{stderr}"
        );
        assert!(stderr.contains("VARCHAR(76)"), "{stderr}");
        assert_eq!(
            dir.blind_index_files().unwrap().len(),
            1,
            "no key was written"
        );
        assert!(
            recorded_active_of(&mut db, KeyKind::BlindIndex)
                .unwrap()
                .is_none()
        );
    });
}

#[test]
fn rotate_blind_index_without_new_key_refuses_a_backup_dir_it_would_not_use() {
    let tmp = tempfile::tempdir().unwrap();
    let backups = tmp.path().join("backups");
    let refused = run(&[
        "rotate",
        "--blind-index",
        "--force",
        "--backup-dir",
        backups.to_str().unwrap(),
        "--database-url",
        "sqlite://unused.db",
        "--column",
        COLUMN,
    ]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("--backup-dir goes with --new-key"),
        "{}",
        refused.stderr
    );
}
