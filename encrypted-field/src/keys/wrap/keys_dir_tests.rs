//! The wrapped-key machinery with toy providers held in memory: loading mixed directories,
//! `add_wrapped`, `wrap_version`, `rewrap`, retries, partial rings and backups. The real
//! providers are tested against SoftHSM2 and moto (`tests/wrapped_keys*`).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use crate::error::Error;
use crate::keys::dir::KeysDir;

/// XOR with a KEK per key URI; a URI in `down` answers Unreachable; `calls` counts unwraps.
#[derive(Debug, Default)]
struct Toy {
    down: Mutex<Vec<String>>,
    unwraps: AtomicU32,
}

impl Toy {
    fn kek(uri: &str) -> u8 {
        uri.bytes()
            .fold(7u8, |a, b| a.wrapping_mul(31).wrapping_add(b))
    }
}

impl KeyWrapper for Toy {
    fn provider(&self) -> &str {
        "toy"
    }
    fn wrap(&self, uri: &str, version: KeyVersion, key: &MasterKey) -> Result<Wrapped, WrapError> {
        let kek = Self::kek(uri);
        let mut bytes: Vec<u8> = key.expose_bytes().iter().map(|b| b ^ kek).collect();
        bytes.extend(version.get().to_be_bytes());
        bytes.push(kek);
        Ok(Wrapped::new("toy-xor", bytes))
    }
    fn unwrap(
        &self,
        uri: &str,
        version: KeyVersion,
        wrapped: &Wrapped,
    ) -> Result<MasterKey, WrapError> {
        self.unwraps.fetch_add(1, Ordering::SeqCst);
        if self.down.lock().unwrap().iter().any(|d| d == uri) {
            return Err(WrapError::new(
                WrapErrorKind::Unreachable,
                "connection refused",
            ));
        }
        let kek = Self::kek(uri);
        let bytes = wrapped.bytes();
        if bytes.len() != 37 || bytes[36] != kek {
            return Err(WrapError::new(WrapErrorKind::WrongKey, "another KEK"));
        }
        if bytes[32..36] != version.get().to_be_bytes() {
            return Err(WrapError::new(WrapErrorKind::WrongKey, "another version"));
        }
        let mut key = [0u8; 32];
        key.iter_mut()
            .zip(&bytes[..32])
            .for_each(|(k, b)| *k = b ^ kek);
        Ok(MasterKey::from_bytes(key))
    }
}

fn fast() -> RetryPolicy {
    RetryPolicy {
        attempts: 3,
        first_backoff: Duration::from_millis(1),
    }
}

fn setup() -> (tempfile::TempDir, KeysDir, Arc<Toy>) {
    let tmp = tempfile::tempdir().unwrap();
    let toy = Arc::new(Toy::default());
    let wrappers = KeyWrappers::empty().with(toy.clone()).retry(fast());
    let dir = KeysDir::new(tmp.path().join("keys"))
        .with_wrappers(wrappers)
        .allow_partial_ring(false);
    (tmp, dir, toy)
}

fn names(dir: &KeysDir) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_directory_mixes_plain_and_wrapped_versions_each_unwrapped_once() {
    let (_tmp, dir, toy) = setup();
    dir.add(true).unwrap();
    let v2 = dir.add_wrapped("toy:kek-a", true).unwrap();
    let unwraps_while_adding = toy.unwraps.load(Ordering::SeqCst);
    assert_eq!(
        names(&dir),
        ["active_version", "enc_key_v1", "enc_key_v2.wrapped"]
    );
    let text = std::fs::read_to_string(dir.path().join("enc_key_v2.wrapped")).unwrap();
    let file = WrappedKeyFile::parse(&text, "t").unwrap();
    assert_eq!(
        (file.provider.as_str(), file.key_uri.as_str()),
        ("toy", "toy:kek-a")
    );
    assert_eq!(file.algorithm, "toy-xor");

    let ring = dir.load(None).unwrap();
    assert_eq!(toy.unwraps.load(Ordering::SeqCst), unwraps_while_adding + 1);
    assert_eq!(ring.active_version(), v2);
    assert!(ring.wrapped_form(KeyVersion::new(1)).is_none());
    assert_eq!(ring.wrapped_form(v2), Some(&file));
    let sealed = ring.encrypt(b"many values");
    for _ in 0..100 {
        assert_eq!(ring.decrypt(&sealed).unwrap(), b"many values");
    }
    assert_eq!(
        toy.unwraps.load(Ordering::SeqCst),
        unwraps_while_adding + 1,
        "sealing and opening never call the provider"
    );
}

#[test]
fn wrapping_a_plain_version_keeps_its_key_and_removes_the_plain_file() {
    let (_tmp, dir, _toy) = setup();
    dir.add(true).unwrap();
    let sealed = dir.load(None).unwrap().encrypt(b"old row");
    let path = dir.wrap_version(KeyVersion::new(1), "toy:kek-a").unwrap();
    assert!(path.ends_with("enc_key_v1.wrapped"));
    assert_eq!(names(&dir), ["active_version", "enc_key_v1.wrapped"]);
    assert_eq!(
        dir.load(None).unwrap().decrypt(&sealed).unwrap(),
        b"old row"
    );
    let err = dir
        .wrap_version(KeyVersion::new(1), "toy:kek-b")
        .unwrap_err();
    assert!(err.to_string().contains("keys rewrap"), "{err}");
}

#[test]
fn a_wrap_that_stopped_after_linking_is_finished_by_running_it_again() {
    let (_tmp, dir, _toy) = setup();
    dir.add(true).unwrap();
    let key = dir
        .load(None)
        .unwrap()
        .master_key(KeyVersion::new(1))
        .unwrap()
        .clone();
    let wrappers = dir.wrappers();
    let wrapped = WrappedKeyFile::wrap(
        &wrappers,
        "toy:kek-a",
        KeyPurpose::Encryption,
        KeyVersion::new(1),
        &key,
        "t",
    )
    .unwrap();
    wrapped
        .write_new(&dir.path().join("enc_key_v1.wrapped"))
        .unwrap();
    // Both files: the plain one is what loads meanwhile.
    assert!(!dir.list().unwrap()[0].is_wrapped());
    assert_eq!(
        dir.load(None).unwrap().master_key(KeyVersion::new(1)),
        Some(&key)
    );
    dir.wrap_version(KeyVersion::new(1), "toy:kek-a").unwrap();
    assert_eq!(names(&dir), ["active_version", "enc_key_v1.wrapped"]);
}

#[test]
fn a_wrapped_file_of_another_key_beside_the_plain_one_stops_the_wrap_and_keeps_both() {
    let (_tmp, dir, _toy) = setup();
    dir.add(true).unwrap();
    let wrappers = dir.wrappers();
    let other = WrappedKeyFile::wrap(
        &wrappers,
        "toy:kek-a",
        KeyPurpose::Encryption,
        KeyVersion::new(1),
        &MasterKey::generate(),
        "t",
    )
    .unwrap();
    other
        .write_new(&dir.path().join("enc_key_v1.wrapped"))
        .unwrap();
    let err = dir
        .wrap_version(KeyVersion::new(1), "toy:kek-a")
        .unwrap_err();
    assert!(err.to_string().contains("another key"), "{err}");
    assert_eq!(
        names(&dir),
        ["active_version", "enc_key_v1", "enc_key_v1.wrapped"]
    );
}

#[test]
fn rewrap_moves_every_wrapped_version_under_the_new_kek_and_keeps_the_keys() {
    let (_tmp, dir, _toy) = setup();
    dir.add(true).unwrap();
    dir.add_wrapped("toy:kek-a", true).unwrap();
    dir.add_wrapped("toy:kek-a", true).unwrap();
    let before = dir.load(None).unwrap();
    let old_values: Vec<Vec<u8>> = [1, 2, 3]
        .map(|v| {
            before
                .with_active(KeyVersion::new(v))
                .unwrap()
                .encrypt(b"row")
        })
        .to_vec();
    let done = dir.rewrap(&[], "toy:kek-b").unwrap();
    assert_eq!(
        done.iter().map(|d| d.version.get()).collect::<Vec<_>>(),
        [2, 3]
    );
    assert!(
        done.iter()
            .all(|d| d.from == "toy:kek-a" && d.to == "toy:kek-b")
    );
    let after = dir.load(None).unwrap();
    for v in [2, 3] {
        assert_eq!(
            after.wrapped_form(KeyVersion::new(v)).unwrap().key_uri,
            "toy:kek-b"
        );
    }
    for value in &old_values {
        assert_eq!(after.decrypt(value).unwrap(), b"row");
    }
    assert_eq!(
        names(&dir),
        [
            "active_version",
            "enc_key_v1",
            "enc_key_v2.wrapped",
            "enc_key_v3.wrapped"
        ]
    );
    let err = dir.rewrap(&[KeyVersion::new(1)], "toy:kek-c").unwrap_err();
    assert!(err.to_string().contains("keys wrap"), "{err}");
}

#[test]
fn a_wrapped_key_moved_to_another_version_does_not_load() {
    let (_tmp, dir, _toy) = setup();
    dir.add_wrapped("toy:kek-a", true).unwrap();
    std::fs::rename(
        dir.path().join("enc_key_v1.wrapped"),
        dir.path().join("enc_key_v2.wrapped"),
    )
    .unwrap();
    std::fs::remove_file(dir.path().join("active_version")).unwrap();
    let err = dir.load(None).unwrap_err();
    assert!(
        matches!(&err, Error::KeyWrapping(f) if f.source.kind() == WrapErrorKind::WrongKey),
        "{err}"
    );
}

#[test]
fn an_unreachable_provider_is_retried_then_named_with_uri_and_version() {
    let (_tmp, dir, toy) = setup();
    dir.add_wrapped("toy:kek-a", true).unwrap();
    toy.down.lock().unwrap().push("toy:kek-a".into());
    let before = toy.unwraps.load(Ordering::SeqCst);
    let err = dir.load(None).unwrap_err();
    assert_eq!(
        toy.unwraps.load(Ordering::SeqCst) - before,
        3,
        "three attempts"
    );
    let shown = err.to_string();
    for part in [
        "unwrapping key v1",
        "enc_key_v1.wrapped",
        "toy key toy:kek-a",
        "unreachable",
        "after 3 attempts",
    ] {
        assert!(shown.contains(part), "{part}: {shown}");
    }
}

#[test]
fn a_provider_that_comes_back_within_the_retries_loads_the_ring() {
    #[derive(Debug)]
    struct Flaky(Toy, AtomicU32);
    impl KeyWrapper for Flaky {
        fn provider(&self) -> &str {
            "toy"
        }
        fn wrap(&self, u: &str, v: KeyVersion, k: &MasterKey) -> Result<Wrapped, WrapError> {
            self.0.wrap(u, v, k)
        }
        fn unwrap(&self, u: &str, v: KeyVersion, w: &Wrapped) -> Result<MasterKey, WrapError> {
            if self.1.fetch_add(1, Ordering::SeqCst) < 2 {
                return Err(WrapError::new(WrapErrorKind::Unreachable, "timeout"));
            }
            self.0.unwrap(u, v, w)
        }
    }
    let (_tmp, dir, _toy) = setup();
    dir.add_wrapped("toy:kek-a", true).unwrap();
    let flaky = Arc::new(Flaky(Toy::default(), AtomicU32::new(0)));
    let dir = dir.with_wrappers(KeyWrappers::empty().with(flaky).retry(fast()));
    assert_eq!(dir.load(None).unwrap().active_version(), KeyVersion::new(1));
}

#[test]
fn a_partial_ring_loads_without_an_old_version_only_when_allowed_and_never_without_the_active() {
    let (_tmp, dir, toy) = setup();
    dir.add_wrapped("toy:kek-old", true).unwrap();
    dir.add_wrapped("toy:kek-new", true).unwrap();
    toy.down.lock().unwrap().push("toy:kek-old".into());
    assert!(matches!(dir.load(None), Err(Error::KeyWrapping(_))));
    let partial = dir.clone().allow_partial_ring(true);
    let ring = partial.load(None).unwrap();
    assert_eq!(ring.versions().collect::<Vec<_>>(), [KeyVersion::new(2)]);
    // The active version is never left out.
    *toy.down.lock().unwrap() = vec!["toy:kek-new".into()];
    assert!(matches!(partial.load(None), Err(Error::KeyWrapping(_))));
}

#[test]
fn a_missing_provider_is_one_clear_error() {
    let (_tmp, dir, _toy) = setup();
    dir.add_wrapped("toy:kek-a", true).unwrap();
    let bare = dir.with_wrappers(KeyWrappers::empty());
    let shown = bare.load(None).unwrap_err().to_string();
    assert!(shown.contains("no `toy` provider"), "{shown}");
    let shown = bare
        .add_wrapped("vault-transit://k", true)
        .unwrap_err()
        .to_string();
    assert!(shown.contains("no `vault-transit` provider"), "{shown}");
}

#[test]
fn nothing_shows_key_bytes_wrapped_or_not() {
    let (_tmp, dir, toy) = setup();
    dir.add_wrapped("toy:kek-a", true).unwrap();
    let ring = dir.load(None).unwrap();
    let key = ring.master_key(KeyVersion::new(1)).unwrap().to_base64();
    let wrapped = ring
        .wrapped_form(KeyVersion::new(1))
        .unwrap()
        .wrapped
        .clone();
    toy.down.lock().unwrap().push("toy:kek-a".into());
    let err = dir.load(None).unwrap_err();
    for shown in [
        format!("{ring:?}"),
        format!("{err}"),
        format!("{err:?}"),
        format!("{:?}", ring.wrapped_form(KeyVersion::new(1))),
    ] {
        assert!(!shown.contains(&key[..12]), "{shown}");
        assert!(!shown.contains(&wrapped[..12]), "{shown}");
    }
}

#[cfg(feature = "_database")]
#[test]
fn backups_hold_the_wrapped_form_and_restore_through_the_provider() {
    let (tmp, dir, toy) = setup();
    dir.add(true).unwrap();
    dir.add_wrapped("toy:kek-a", true).unwrap();
    let ring = dir.load(None).unwrap();
    let path = crate::keys::backup::write_backup(&ring, &tmp.path().join("backups"), None).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert!(
        json["keys"].get("2").is_none(),
        "no plaintext for the wrapped version: {json}"
    );
    assert!(json["keys"].get("1").is_some());
    assert_eq!(json["wrapped_keys"]["2"]["key_uri"], "toy:kek-a");
    register_key_wrapper(toy);
    let restored = crate::keys::backup::restore_ring(&path).unwrap();
    assert_eq!(
        restored.master_key(KeyVersion::new(2)),
        ring.master_key(KeyVersion::new(2))
    );
    assert!(restored.wrapped_form(KeyVersion::new(2)).is_some());
}

#[test]
fn provisioning_a_wrapped_key_pins_nothing() {
    let (_tmp, dir, _toy) = setup();
    dir.add(false).unwrap();
    std::fs::remove_file(dir.path().join("active_version")).ok();
    let v2 = dir.provision_wrapped("toy:kek-a").unwrap();
    assert_eq!(v2, KeyVersion::new(2));
    assert!(!dir.has_pin_file());
    assert_eq!(names(&dir), ["enc_key_v1", "enc_key_v2.wrapped"]);
    assert!(dir.load(None).unwrap().wrapped_form(v2).is_some());
}

#[test]
fn a_wrapped_blind_index_key_loads_beside_plain_ones() {
    let (_tmp, dir, toy) = setup();
    register_key_wrapper(toy);
    dir.add(true).unwrap();
    let plain = MasterKey::generate();
    plain
        .write_to_new_file(&dir.path().join("bidx_key_v1"))
        .unwrap();
    let key = MasterKey::generate();
    let wrappers = dir.wrappers();
    WrappedKeyFile::wrap(
        &wrappers,
        "toy:kek-bidx",
        KeyPurpose::BlindIndex,
        KeyVersion::new(2),
        &key,
        "t",
    )
    .unwrap()
    .write_new(&dir.path().join("bidx_key_v2.wrapped"))
    .unwrap();
    let keys = crate::keys::blind_index_dir::load_blind_index_keys(dir.path()).unwrap();
    assert_eq!(keys.len(), 2);
    assert!(keys[&KeyVersion::new(2)].is_same_secret_as(&key));
    assert!(keys[&KeyVersion::new(1)].is_same_secret_as(&plain));
}

#[test]
fn a_new_blind_index_key_is_written_wrapped_only_and_loads() {
    let (_tmp, dir, toy) = setup();
    register_key_wrapper(toy);
    let key = MasterKey::generate();
    let path = dir
        .write_wrapped_blind_index_key(KeyVersion::new(2), "toy:kek-bidx", &key)
        .unwrap();
    assert!(path.ends_with("bidx_key_v2.wrapped"));
    assert_eq!(names(&dir), ["bidx_key_v2.wrapped"]);
    assert_eq!(
        dir.blind_index_files().unwrap()[0].version,
        KeyVersion::new(2)
    );
    let keys = crate::keys::blind_index_dir::load_blind_index_keys(dir.path()).unwrap();
    assert!(keys[&KeyVersion::new(2)].is_same_secret_as(&key));
    // Never replaces a file.
    let again = dir.write_wrapped_blind_index_key(KeyVersion::new(2), "toy:kek-bidx", &key);
    assert!(again.is_err());
}

#[test]
fn backups_hold_a_wrapped_blind_index_key_wrapped_and_restore_it() {
    let (tmp, dir, toy) = setup();
    register_key_wrapper(toy);
    dir.add(true).unwrap();
    let plain = MasterKey::generate();
    dir.write_blind_index_key(KeyVersion::new(1), &plain)
        .unwrap();
    let wrapped = MasterKey::generate();
    dir.write_wrapped_blind_index_key(KeyVersion::new(2), "toy:kek-bidx", &wrapped)
        .unwrap();
    let keys_dir = std::ffi::OsString::from(dir.path());
    let ring = crate::keys::env::load(&crate::keys::env::EnvVars::default(), &|name| {
        (name == "ENCRYPTED_FIELD_KEYS_DIR").then(|| keys_dir.clone())
    })
    .unwrap();
    assert!(ring.blind_index_wrapped_form(KeyVersion::new(2)).is_some());
    assert!(ring.blind_index_wrapped_form(KeyVersion::new(1)).is_none());

    let path = crate::keys::backup::write_backup(&ring, &tmp.path().join("backups"), None).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(
        json.get("blind_index_keys").is_none(),
        "no plaintext for the wrapped blind-index version: {json}"
    );
    assert!(json["blind_index_key"].is_string(), "v1 is plain: {json}");
    assert_eq!(
        json["wrapped_blind_index_keys"]["2"]["key_uri"],
        "toy:kek-bidx"
    );
    assert!(!text.contains(&*wrapped.to_base64()));

    let restored = crate::keys::backup::restore_ring(&path).unwrap();
    assert!(
        restored
            .blind_index_key_of(KeyVersion::new(2))
            .unwrap()
            .is_same_secret_as(&wrapped)
    );
    assert!(
        restored
            .blind_index_key_of(KeyVersion::new(1))
            .unwrap()
            .is_same_secret_as(&plain)
    );
    assert!(
        restored
            .blind_index_wrapped_form(KeyVersion::new(2))
            .is_some()
    );
}

#[test]
fn a_wrapped_encryption_key_copied_as_a_blind_index_key_does_not_load() {
    let (_tmp, dir, toy) = setup();
    register_key_wrapper(toy);
    dir.add_wrapped("toy:kek-a", true).unwrap();
    // The provider binds the version (1 = 1) but not the purpose: the binding tag does.
    std::fs::copy(
        dir.path().join("enc_key_v1.wrapped"),
        dir.path().join("bidx_key_v1.wrapped"),
    )
    .unwrap();
    let err = crate::keys::blind_index_dir::load_blind_index_keys(dir.path()).unwrap_err();
    assert!(
        matches!(&err, Error::KeyWrapping(f) if f.source.kind() == WrapErrorKind::WrongKey),
        "{err}"
    );
    assert!(
        err.to_string().contains("not bound to blind-index key v1"),
        "{err}"
    );
}

#[test]
fn a_wrapped_key_moved_to_another_version_is_refused_even_when_the_provider_binds_nothing() {
    let (_tmp, dir, _toy) = setup();
    dir.add_wrapped("toy:kek-a", true).unwrap();
    // What a provider without associated data (AES key wrap) would accept: the same wrapped
    // bytes under version 2.
    let mut file = WrappedKeyFile::read(&dir.path().join("enc_key_v1.wrapped")).unwrap();
    let mut bytes = file.wrapped_bytes("t").unwrap().bytes().to_vec();
    bytes[32..36].copy_from_slice(&2u32.to_be_bytes());
    use base64::Engine as _;
    file.wrapped = base64::engine::general_purpose::STANDARD.encode(&bytes);
    std::fs::remove_file(dir.path().join("enc_key_v1.wrapped")).unwrap();
    std::fs::remove_file(dir.path().join("active_version")).unwrap();
    file.write_new(&dir.path().join("enc_key_v2.wrapped"))
        .unwrap();
    let err = dir.load(None).unwrap_err();
    assert!(
        matches!(&err, Error::KeyWrapping(f) if f.source.kind() == WrapErrorKind::WrongKey),
        "{err}"
    );
    assert!(
        err.to_string().contains("not bound to encryption key v2"),
        "{err}"
    );
}

#[test]
fn rewrap_moves_the_wrapped_blind_index_keys_too() {
    let (_tmp, dir, toy) = setup();
    register_key_wrapper(toy);
    dir.add_wrapped("toy:kek-a", true).unwrap();
    let key = MasterKey::generate();
    dir.write_wrapped_blind_index_key(KeyVersion::new(1), "toy:kek-a", &key)
        .unwrap();
    let done = dir.rewrap(&[], "toy:kek-b").unwrap();
    assert_eq!(
        done.iter().map(|r| r.purpose).collect::<Vec<_>>(),
        [KeyPurpose::Encryption, KeyPurpose::BlindIndex]
    );
    let file = WrappedKeyFile::read(&dir.path().join("bidx_key_v1.wrapped")).unwrap();
    assert_eq!(file.key_uri, "toy:kek-b");
    let keys = crate::keys::blind_index_dir::load_blind_index_keys(dir.path()).unwrap();
    assert!(keys[&KeyVersion::new(1)].is_same_secret_as(&key));
}
