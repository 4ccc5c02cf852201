//! The process-wide ring reloads without a restart: a value of a version it lacks reloads it
//! (at most once a second), `reload()` reads the sources again, a failed reload keeps the ring,
//! and the timer (`ENCRYPTED_FIELD_RELOAD_INTERVAL`) picks up a new key file by itself.
//!
//! One process has one process-wide ring: the loader test runs here, the timer tests in child
//! processes of this test binary (each with its own environment).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;
use std::time::Duration;

use encrypted_field::keys::KeysDir;
use encrypted_field::{Error, KeyVersion, MasterKey, ReloadOutcome};

const CHILD: &str = "ENCRYPTED_FIELD_TEST_RELOAD_CHILD";

fn write_version(dir: &KeysDir, version: u32) {
    let byte = u8::try_from(version).unwrap();
    MasterKey::from_bytes([byte; 32])
        .write_to_new_file(&dir.path().join(format!("enc_key_v{version}")))
        .unwrap();
}

/// What another host seals with once the directory holds `version`.
fn sealed_elsewhere(dir: &KeysDir, version: u32, text: &str) -> Vec<u8> {
    dir.load(None)
        .unwrap()
        .with_active(KeyVersion::new(version))
        .unwrap()
        .encrypt(text.as_bytes())
}

#[test]
fn the_installed_loader_reloads_on_unknown_versions_rate_limited_and_on_request() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = KeysDir::new(tmp.path().join("keys"));
    std::fs::create_dir(dir.path()).unwrap();
    write_version(&dir, 1);
    let loader_dir = dir.clone();
    encrypted_field::install_loader(move || loader_dir.load(None)).unwrap();
    assert!(matches!(
        encrypted_field::install_loader(|| Err(Error::NoKeyConfigured)),
        Err(Error::AlreadyInstalled)
    ));

    // Another host provisions v2 and writes with it: the first read reloads and opens it.
    write_version(&dir, 2);
    let v2 = sealed_elsewhere(&dir, 2, "written with v2");
    assert_eq!(encrypted_field::decrypt(&v2).unwrap(), "written with v2");
    assert!(
        encrypted_field::global()
            .unwrap()
            .contains(KeyVersion::new(2))
    );

    // Within the second, a value of yet another version does not reload again.
    write_version(&dir, 3);
    let v3 = sealed_elsewhere(&dir, 3, "written with v3");
    assert!(matches!(
        encrypted_field::decrypt(&v3),
        Err(Error::UnknownKeyVersion(v)) if v == KeyVersion::new(3)
    ));
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(encrypted_field::decrypt(&v3).unwrap(), "written with v3");

    // A bad key file: the reload fails, says where, and the ring stays.
    std::fs::write(dir.path().join("enc_key_v4"), "not a key\n").unwrap();
    let err = encrypted_field::reload().unwrap_err();
    assert!(err.to_string().contains("enc_key_v4"), "{err}");
    let ring = encrypted_field::global().unwrap();
    assert_eq!(ring.versions().count(), 3);
    assert_eq!(encrypted_field::decrypt(&v2).unwrap(), "written with v2");

    std::fs::remove_file(dir.path().join("enc_key_v4")).unwrap();
    assert_eq!(
        encrypted_field::reload().unwrap(),
        ReloadOutcome::Reloaded {
            versions: (1..=3).map(KeyVersion::new).collect(),
            active: KeyVersion::new(3)
        }
    );
}

/// Runs `timer_child` in a child process with the keys directory and the reload interval in its
/// environment; returns whether the child saw the new version without being asked.
fn child_sees_new_key(interval: &str) -> bool {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("keys");
    std::fs::create_dir(&dir).unwrap();
    write_version(&KeysDir::new(&dir), 1);
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "timer_child", "--include-ignored", "--nocapture"])
        .env(CHILD, "1")
        .env("ENCRYPTED_FIELD_KEYS_DIR", &dir)
        .env("ENCRYPTED_FIELD_RELOAD_INTERVAL", interval)
        .env_remove("ENCRYPTED_FIELD_ACTIVE_VERSION")
        .env_remove("DB_BLIND_INDEX_KEY")
        .env_remove("DB_BLIND_INDEX_KEY_FILE")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    if stdout.contains("child: reloaded by the timer") {
        true
    } else {
        assert!(stdout.contains("child: not reloaded"), "{stdout}");
        false
    }
}

#[test]
fn the_timer_reloads_the_environment_s_keys_directory() {
    assert!(child_sees_new_key("200ms"));
}

#[test]
fn an_interval_of_zero_turns_the_timer_off() {
    assert!(!child_sees_new_key("0"));
}

/// The child's side of the timer tests (ignored unless run by them).
#[test]
#[ignore = "run in a child process by the timer tests"]
fn timer_child() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let dir = KeysDir::new(std::env::var_os("ENCRYPTED_FIELD_KEYS_DIR").unwrap());
    assert_eq!(
        encrypted_field::global().unwrap().active_version(),
        KeyVersion::new(1)
    );
    write_version(&dir, 2);
    std::thread::sleep(Duration::from_millis(900));
    if encrypted_field::global()
        .unwrap()
        .contains(KeyVersion::new(2))
    {
        println!("child: reloaded by the timer");
    } else {
        println!("child: not reloaded");
    }
}
