//! `keys activate --database-url` and `rotate --new-key`, run as the real binary beside fleet
//! members of this process: they wait for every member, name a lagging one and stop without
//! activating, and succeed once it has the key.

use encrypted_field::fleet::recorded_active;
use encrypted_field::keys::KeysDir;
use encrypted_field::rotation::database::Database;
use std::ffi::OsStr;

use super::binary::{self, Run};
use super::{V1, V2, add_version, each_backend, keys_dir, member};

fn run(args: &[&str]) -> Run {
    binary::run(args, &[("RUST_LOG", OsStr::new("off"))])
}

fn activate(dir: &KeysDir, url: &str, version: &str, wait: &str) -> Run {
    run(&[
        "keys",
        "activate",
        version,
        "--keys-dir",
        dir.path().to_str().unwrap(),
        "--database-url",
        url,
        "--wait",
        wait,
        "--seen-within",
        "1m",
    ])
}

#[test]
fn keys_activate_refuses_a_lagging_member_then_waits_for_every_member() {
    each_backend(|url| {
        let mut db = Database::connect(url).unwrap();
        encrypted_field::fleet::record_active(&mut db, V1, "test").unwrap();
        let (_a_tmp, a_dir) = keys_dir(&[1, 2]);
        let (_b_tmp, b_dir) = keys_dir(&[1]);
        let a = member(url, "host-a", &a_dir);
        let b = member(url, "host-b", &b_dir);

        let refused = activate(&a_dir, url, "2", "1s");
        assert_eq!(refused.code, 2, "{}", refused.stderr.clone());
        let stderr = refused.stderr.clone();
        assert!(stderr.contains("not activating key version v2"), "{stderr}");
        assert!(stderr.contains("host host-b pid"), "{stderr}");
        assert!(!stderr.contains("host host-a"), "{stderr}");
        assert_eq!(recorded_active(&mut db).unwrap().unwrap().version, V1);
        assert_eq!(a.ring().active_version(), V1);

        add_version(&b_dir, 2);
        let done = activate(&a_dir, url, "v2", "30s");
        assert_eq!(done.code, 0, "{}", done.stderr.clone());
        assert!(
            done.stdout_text()
                .contains("active: v2 (recorded in the database; was v1)")
        );
        assert_eq!(recorded_active(&mut db).unwrap().unwrap().version, V2);
        // The command returned only once every member sealed with v2.
        assert_eq!(a.ring().active_version(), V2);
        assert_eq!(b.ring().active_version(), V2);

        secrets_table(&mut db, &a_dir, 1);
        let status = run(&[
            "status",
            "--database-url",
            url,
            "--column",
            "secrets.secret:text",
        ]);
        assert_eq!(status.code, 0, "{}", status.stderr.clone());
        let text = status.stdout_text();
        assert!(text.contains("active key version (database): v2"), "{text}");
        assert!(
            text.contains("instances seen in the last 180s: 2"),
            "{text}"
        );
        assert!(text.contains("host host-b pid"), "{text}");
    });
}

/// A table of `rows` values sealed with v1 of `dir`, as base64 in a TEXT column.
fn secrets_table(db: &mut Database, dir: &KeysDir, rows: u32) {
    db.execute("CREATE TABLE secrets (id BIGINT PRIMARY KEY, secret TEXT NOT NULL)")
        .unwrap();
    let ring = dir.load(None).unwrap();
    for id in 1..=rows {
        let sealed = ring.encrypt_to_base64(format!("secret {id}").as_bytes(), "secrets.secret");
        db.execute(&format!(
            "INSERT INTO secrets (id, secret) VALUES ({id}, '{sealed}')"
        ))
        .unwrap();
    }
}

fn rotate_new_key(dir: &KeysDir, url: &str, backups: &std::path::Path, wait: &str) -> Run {
    run(&[
        "rotate",
        "--force",
        "--new-key",
        "--json",
        "--backup-dir",
        backups.to_str().unwrap(),
        "--keys-dir",
        dir.path().to_str().unwrap(),
        "--database-url",
        url,
        "--column",
        "secrets.secret:text",
        "--wait",
        wait,
        "--seen-within",
        "1m",
    ])
}

#[test]
fn rotate_new_key_provisions_waits_activates_then_rewrites() {
    each_backend(|url| {
        let mut db = Database::connect(url).unwrap();
        // One keys directory for every member, as a shared secret volume is.
        let (tmp, dir) = keys_dir(&[1]);
        secrets_table(&mut db, &dir, 5);
        let a = member(url, "host-a", &dir);
        let b = member(url, "host-b", &dir);

        let rotated = rotate_new_key(&dir, url, &tmp.path().join("backups"), "30s");
        assert_eq!(rotated.code, 0, "{}", rotated.stderr.clone());
        let report: serde_json::Value = serde_json::from_str(&rotated.stdout_text()).unwrap();
        assert_eq!(report["new_key"]["version"], 2, "{report:#}");
        assert_eq!(report["records_rewritten"], 5, "{report:#}");
        assert_eq!(recorded_active(&mut db).unwrap().unwrap().version, V2);
        assert_eq!(a.ring().active_version(), V2);
        assert_eq!(b.ring().active_version(), V2);
        assert!(
            !dir.has_pin_file(),
            "the fleet's active version is in the database, not in a pin"
        );
    });
}

#[test]
fn rotate_new_key_stops_before_activating_when_a_member_lacks_the_key() {
    each_backend(|url| {
        let mut db = Database::connect(url).unwrap();
        let (tmp, dir) = keys_dir(&[1]);
        let (_b_tmp, b_dir) = keys_dir(&[1]);
        secrets_table(&mut db, &dir, 3);
        let _a = member(url, "host-a", &dir);
        let b = member(url, "host-b", &b_dir);

        let refused = rotate_new_key(&dir, url, &tmp.path().join("backups"), "1s");
        assert_eq!(refused.code, 2, "{}", refused.stderr.clone());
        let stderr = refused.stderr.clone();
        assert!(stderr.contains("host host-b pid"), "{stderr}");
        assert!(stderr.contains("v2 stays provisioned"), "{stderr}");
        assert!(
            stderr.contains("keys activate 2 --database-url URL"),
            "{stderr}"
        );
        // The current version was recorded before the new file appeared, and stays active.
        assert_eq!(recorded_active(&mut db).unwrap().unwrap().version, V1);
        assert_eq!(b.ring().active_version(), V1);
        let status = run(&[
            "status",
            "--json",
            "--database-url",
            url,
            "--column",
            "secrets.secret:text",
        ]);
        let report: serde_json::Value = serde_json::from_str(&status.stdout_text()).unwrap();
        assert_eq!(
            report["fleet"]["recorded_active"]["version"], 1,
            "{report:#}"
        );
        let by_version = &report["columns"][0]["values_by_version"];
        assert_eq!(
            by_version.as_object().unwrap().len(),
            1,
            "nothing was rewritten: {report:#}"
        );
    });
}
