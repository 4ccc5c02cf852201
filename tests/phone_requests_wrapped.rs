//! The `phone_requests` example (the Node seed's case) with its keys in a KMS: rotation to a new
//! key that is wrapped by AWS KMS (the moto server) and never written in plain, the key backup
//! holding the wrapped form, `keys list` and `status` naming the key-encryption key, then
//! key-encryption-key rotation (`keys rewrap`) that rewrites no row. On SQLite.
#![cfg(feature = "aws-kms")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "phone_requests_e2e/example.rs"]
mod example;
#[allow(dead_code)]
#[path = "../encrypted-field/tests/wrapped_keys/moto.rs"]
mod moto;

use std::path::Path;

use example::App;
use serde_json::Value;

const PHONES: [&str; 3] = ["+1 (555) 010-0100", "+44 20 7946 0018", "555 010 0199"];

/// `app` with a keys directory holding a plain `enc_key_v1` and a blind-index key, as Docker
/// secrets would give them.
fn with_plain_v1(dir: &Path) -> App {
    let app = App::new(dir);
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
        .var(
            "DATABASE_URL",
            format!("sqlite://{}", dir.join("app.sqlite3").display()),
        )
}

/// `export --json` as (id, phone) pairs.
fn exported(app: &App) -> Vec<(i64, String)> {
    app.ok(["export", "--json"])
        .lines()
        .map(|line| {
            let row: Value = serde_json::from_str(line).unwrap();
            (
                row["id"].as_i64().unwrap(),
                row["phone_number"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The key version in the envelope header of a `raw --json` row ("EF", 0x01, u32 big-endian).
fn key_version(row: &Value) -> u32 {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(row["phone_number_base64"].as_str().unwrap())
        .unwrap();
    u32::from_be_bytes(bytes[3..7].try_into().unwrap())
}

#[test]
fn rotation_to_a_key_wrapped_by_aws_kms_then_rewrap_under_another_kek() {
    let Some(endpoint) = moto::endpoint() else {
        return;
    };
    let (_, _, first_kek) = moto::create_key(&endpoint, "phone-requests");
    let (_, _, second_kek) = moto::create_key(&endpoint, "phone-requests-next");
    let (first_kek, second_kek) = (
        format!("aws-kms://{first_kek}"),
        format!("aws-kms://{second_kek}"),
    );
    let dir = tempfile::tempdir().unwrap();
    let app = with_plain_v1(dir.path());
    for (i, phone) in PHONES.iter().enumerate() {
        app.ok(["create", "--name", &format!("person {i}"), "--phone", phone]);
    }
    let before = exported(&app);

    // Rotate onto a new key that exists on disk only wrapped.
    let backups = tempfile::tempdir().unwrap();
    let backup_dir = backups.path().join("key-backups");
    let report = app.json([
        "rotate".as_ref(),
        "--new-key".as_ref(),
        "--wrap-with".as_ref(),
        first_kek.as_ref(),
        "--force".as_ref(),
        "--json".as_ref(),
        "--backup-dir".as_ref(),
        backup_dir.as_os_str(),
    ]);
    assert_eq!(report["status"], "completed", "{report}");
    assert_eq!(report["new_key"]["version"], 2, "{report}");
    let secrets = dir.path().join("secrets");
    assert!(
        report["new_key"]["key_file"]
            .as_str()
            .unwrap()
            .ends_with("enc_key_v2.wrapped"),
        "{report}"
    );
    assert!(secrets.join("enc_key_v2.wrapped").is_file());
    assert!(
        !secrets.join("enc_key_v2").exists(),
        "the new key is never written in plain"
    );
    let backup: Value = serde_json::from_str(
        &std::fs::read_to_string(report["key_backup_path"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    assert!(backup["keys"].get("2").is_none(), "{backup}");
    assert_eq!(backup["wrapped_keys"]["2"]["key_uri"], first_kek.as_str());
    let raw = app.json(["raw", "--json"]);
    assert!(
        raw.as_array()
            .unwrap()
            .iter()
            .all(|row| key_version(row) == 2),
        "{raw}"
    );
    assert_eq!(exported(&app), before);
    app.ok(["verify"]);

    // Which KEK wraps which version.
    let listing = app.json(["keys", "list", "--json"]);
    assert_eq!(
        listing["keys"][1]["wrapped_by"],
        first_kek.as_str(),
        "{listing}"
    );
    assert_eq!(listing["keys"][1]["usable"], true, "{listing}");
    assert!(listing["keys"][0].get("wrapped_by").is_none(), "{listing}");
    let status = app.json(["status", "--json"]);
    assert_eq!(
        status["key_storage"][1]["wrapped_by"],
        first_kek.as_str(),
        "{status}"
    );

    // Key-encryption-key rotation: the file changes, no row does.
    let raw_before = app.json(["raw", "--json"]);
    let rewrapped = app.json(["keys", "rewrap", "--with", &second_kek, "--json"]);
    assert_eq!(rewrapped["rewrapped"][0]["version"], 2, "{rewrapped}");
    assert_eq!(rewrapped["rewrapped"][0]["from"], first_kek.as_str());
    assert_eq!(
        app.json(["raw", "--json"]),
        raw_before,
        "no row is rewritten"
    );
    assert_eq!(
        app.json(["keys", "list", "--json"])["keys"][1]["wrapped_by"],
        second_kek.as_str()
    );
    assert_eq!(exported(&app), before);
    app.ok(["verify"]);

    // The plain v1 joins it: wrapped, then the plain file is gone.
    let wrapped = app.json(["keys", "wrap", "1", "--with", &second_kek, "--json"]);
    assert_eq!(wrapped["version"], 1, "{wrapped}");
    assert!(!secrets.join("enc_key_v1").exists());
    assert_eq!(exported(&app), before);
}
