//! Keys wrapped by a PKCS#11 HSM: SoftHSM2, with a token and AES-256 key-encryption keys of each
//! test's own (`wrapped_keys/softhsm.rs`). Each test body runs in a child process that has the
//! token's environment.
#![cfg(feature = "pkcs11")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "wrapped_keys/softhsm.rs"]
mod softhsm;

use std::sync::Arc;

use encrypted_field::keys::KeysDir;
use encrypted_field::keys::wrap::{
    KeyWrappers, Pkcs11Algorithm, Pkcs11Wrapper, RetryPolicy, WrapErrorKind, WrappedKeyFile,
};
use encrypted_field::{Error, KeyVersion};
use softhsm::{generate_kek, in_token, uri};

fn keys(tmp: &tempfile::TempDir, wrapper: Pkcs11Wrapper) -> KeysDir {
    KeysDir::new(tmp.path().join("keys")).with_wrappers(
        KeyWrappers::empty()
            .with(Arc::new(wrapper))
            .retry(RetryPolicy {
                attempts: 2,
                first_backoff: std::time::Duration::from_millis(10),
            }),
    )
}

fn kind_of(err: &Error) -> WrapErrorKind {
    match err {
        Error::KeyWrapping(failure) => failure.source.kind(),
        other => panic!("expected a key-wrapping error, got {other}"),
    }
}

#[test]
fn a_key_wrapped_on_the_token_round_trips_with_aes_key_wrap_pad() {
    in_token(
        "a_key_wrapped_on_the_token_round_trips_with_aes_key_wrap_pad",
        || {
            generate_kek("kek-1");
            let tmp = tempfile::tempdir().unwrap();
            let keys = keys(&tmp, Pkcs11Wrapper::from_env());
            keys.add(true).unwrap();
            let v2 = keys.add_wrapped(&uri("kek-1"), true).unwrap();
            let file = WrappedKeyFile::read(&keys.path().join("enc_key_v2.wrapped")).unwrap();
            assert_eq!(file.provider, "pkcs11");
            assert_eq!(
                file.algorithm, "CKM_AES_KEY_WRAP_PAD",
                "SoftHSM2 has RFC 5649"
            );
            let ring = keys.load(None).unwrap();
            assert_eq!(ring.active_version(), v2);
            let sealed = ring.encrypt_with_context(b"+1 555 0100", "phone_requests.phone_number");
            let again = keys.load(None).unwrap();
            assert_eq!(
                again
                    .decrypt_with_context(&sealed, "phone_requests.phone_number")
                    .unwrap(),
                b"+1 555 0100"
            );
        },
    );
}

#[test]
fn aes_gcm_binds_the_version() {
    in_token("aes_gcm_binds_the_version", || {
        generate_kek("kek-1");
        let tmp = tempfile::tempdir().unwrap();
        let keys = keys(
            &tmp,
            Pkcs11Wrapper::from_env().algorithm(Pkcs11Algorithm::AesGcm),
        );
        keys.add_wrapped(&uri("kek-1"), true).unwrap();
        let file = WrappedKeyFile::read(&keys.path().join("enc_key_v1.wrapped")).unwrap();
        assert_eq!(file.algorithm, "CKM_AES_GCM");
        let sealed = keys.load(None).unwrap().encrypt(b"x");
        assert_eq!(keys.load(None).unwrap().decrypt(&sealed).unwrap(), b"x");
        std::fs::rename(
            keys.path().join("enc_key_v1.wrapped"),
            keys.path().join("enc_key_v2.wrapped"),
        )
        .unwrap();
        std::fs::remove_file(keys.path().join("active_version")).unwrap();
        let err = keys.load(None).unwrap_err();
        assert_eq!(kind_of(&err), WrapErrorKind::WrongKey, "{err}");
    });
}

#[test]
fn a_file_naming_another_kek_is_a_wrong_key_error() {
    in_token("a_file_naming_another_kek_is_a_wrong_key_error", || {
        generate_kek("kek-1");
        generate_kek("kek-2");
        let tmp = tempfile::tempdir().unwrap();
        let keys = keys(&tmp, Pkcs11Wrapper::from_env());
        keys.add_wrapped(&uri("kek-1"), true).unwrap();
        let path = keys.path().join("enc_key_v1.wrapped");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace("object=kek-1", "object=kek-2")).unwrap();
        let err = keys.load(None).unwrap_err();
        assert_eq!(kind_of(&err), WrapErrorKind::WrongKey, "{err}");
        let shown = err.to_string();
        assert!(
            shown.contains("key v1") && shown.contains(&uri("kek-2")) && shown.contains("pkcs11"),
            "{shown}"
        );
    });
}

#[test]
fn rewrap_moves_keys_under_another_kek_and_old_values_still_read() {
    in_token(
        "rewrap_moves_keys_under_another_kek_and_old_values_still_read",
        || {
            generate_kek("kek-1");
            generate_kek("kek-2");
            let tmp = tempfile::tempdir().unwrap();
            let keys = keys(&tmp, Pkcs11Wrapper::from_env());
            keys.add(true).unwrap();
            let sealed_v1 = keys.load(None).unwrap().encrypt(b"written with v1");
            keys.wrap_version(KeyVersion::new(1), &uri("kek-1"))
                .unwrap();
            assert!(!keys.path().join("enc_key_v1").exists());
            let done = keys.rewrap(&[], &uri("kek-2")).unwrap();
            assert_eq!(done.len(), 1);
            let ring = keys.load(None).unwrap();
            assert_eq!(
                ring.wrapped_form(KeyVersion::new(1)).unwrap().key_uri,
                uri("kek-2")
            );
            assert_eq!(ring.decrypt(&sealed_v1).unwrap(), b"written with v1");
        },
    );
}

#[test]
fn a_wrong_pin_is_access_denied() {
    in_token("a_wrong_pin_is_access_denied", || {
        generate_kek("kek-1");
        let tmp = tempfile::tempdir().unwrap();
        keys(&tmp, Pkcs11Wrapper::from_env())
            .add_wrapped(&uri("kek-1"), true)
            .unwrap();
        let module = std::env::var("PKCS11_MODULE").unwrap();
        let err = keys(&tmp, Pkcs11Wrapper::new(module, "0000"))
            .load(None)
            .unwrap_err();
        assert_eq!(kind_of(&err), WrapErrorKind::AccessDenied, "{err}");
        assert!(err.to_string().contains("PinIncorrect"), "{err}");
        assert!(!err.to_string().contains("0000"), "{err}");
    });
}

#[test]
fn a_missing_module_an_unknown_token_and_an_unknown_key_are_each_named() {
    in_token(
        "a_missing_module_an_unknown_token_and_an_unknown_key_are_each_named",
        || {
            generate_kek("kek-1");
            let tmp = tempfile::tempdir().unwrap();
            let keys_ok = keys(&tmp, Pkcs11Wrapper::from_env());
            keys_ok.add_wrapped(&uri("kek-1"), true).unwrap();

            let err = keys(
                &tmp,
                Pkcs11Wrapper::new("/nonexistent/libpkcs11.so", "1234"),
            )
            .load(None)
            .unwrap_err();
            assert_eq!(kind_of(&err), WrapErrorKind::Unavailable, "{err}");
            assert!(
                err.to_string()
                    .contains("cannot load the PKCS#11 module /nonexistent/libpkcs11.so"),
                "{err}"
            );

            let err = keys_ok
                .add_wrapped("pkcs11:token=no-such-token;object=kek-1", true)
                .unwrap_err();
            assert_eq!(kind_of(&err), WrapErrorKind::Unavailable, "{err}");
            assert!(
                err.to_string()
                    .contains("no token labelled `no-such-token`"),
                "{err}"
            );

            let err = keys_ok.add_wrapped(&uri("no-such-key"), true).unwrap_err();
            assert_eq!(kind_of(&err), WrapErrorKind::KeyNotFound, "{err}");
            assert_eq!(
                keys_ok.list().unwrap().len(),
                1,
                "a failed add writes no file"
            );
        },
    );
}

#[cfg(feature = "cli")]
#[path = "support/binary.rs"]
mod binary;

/// The command line, as an operator uses it with an HSM: `keys add`, `keys wrap`,
/// `keys add --wrap-with`, `keys list`, a ring load that fails on a version whose key is gone
/// unless `ENCRYPTED_FIELD_ALLOW_PARTIAL_RING` allows it, and a missing PIN.
#[cfg(feature = "cli")]
#[test]
fn the_command_line_wraps_lists_and_loads_a_partial_ring_only_when_allowed() {
    use std::ffi::OsStr;
    in_token(
        "the_command_line_wraps_lists_and_loads_a_partial_ring_only_when_allowed",
        || {
            generate_kek("kek-1");
            generate_kek("kek-2");
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path().join("keys");
            let d = dir.to_str().unwrap();
            binary::run(&["keys", "add", "--activate", "--keys-dir", d], &[]).assert_success();
            let wrapped = binary::run(
                &[
                    "keys",
                    "wrap",
                    "1",
                    "--with",
                    &uri("kek-1"),
                    "--keys-dir",
                    d,
                    "--json",
                ],
                &[],
            );
            wrapped.assert_success();
            assert_eq!(wrapped.json()["wrapped_by"], uri("kek-1").as_str());
            assert!(!dir.join("enc_key_v1").exists());
            let added = binary::run(
                &[
                    "keys",
                    "add",
                    "--wrap-with",
                    &uri("kek-2"),
                    "--activate",
                    "--keys-dir",
                    d,
                    "--json",
                ],
                &[],
            );
            added.assert_success();
            assert!(
                added.json()["path"]
                    .as_str()
                    .unwrap()
                    .ends_with("enc_key_v2.wrapped")
            );
            let listing = binary::run(&["keys", "list", "--keys-dir", d, "--json"], &[]);
            let listing = listing.json();
            assert_eq!(listing["keys"][0]["wrapped_by"], uri("kek-1").as_str());
            assert_eq!(listing["keys"][1]["wrapped_by"], uri("kek-2").as_str());
            assert_eq!(listing["keys"][1]["usable"], true);

            // A blind-index key, wrapped from the start: only bidx_key_v1.wrapped is written.
            let bidx = binary::run(
                &[
                    "keys",
                    "add",
                    "--blind-index",
                    "--wrap-with",
                    &uri("kek-2"),
                    "--keys-dir",
                    d,
                    "--json",
                ],
                &[],
            );
            bidx.assert_success();
            assert!(
                bidx.json()["path"]
                    .as_str()
                    .unwrap()
                    .ends_with("bidx_key_v1.wrapped")
            );
            assert!(!dir.join("bidx_key_v1").exists());
            let listing = binary::run(&["keys", "list", "--keys-dir", d], &[]);
            listing.assert_success();
            let text = listing.stdout_text();
            let line = format!("bidx_key_v1.wrapped  (wrapped by {})", uri("kek-2"));
            assert!(text.contains(&line), "{text}");

            let env = [("ENCRYPTED_FIELD_KEYS_DIR", OsStr::new(d))];
            let sealed = binary::run_with_stdin(&["encrypt"], &env, b"hello");
            sealed.assert_success();

            // v1's key-encryption key is gone from the token.
            let path = dir.join("enc_key_v1.wrapped");
            let text = std::fs::read_to_string(&path).unwrap();
            std::fs::write(&path, text.replace("object=kek-1", "object=kek-gone")).unwrap();
            let refused = binary::run_with_stdin(&["encrypt"], &env, b"hello");
            refused.assert_failed(2);
            for part in ["key v1", "object=kek-gone", "does not exist"] {
                assert!(refused.stderr.contains(part), "{part}: {}", refused.stderr);
            }
            let partial_env = [
                ("ENCRYPTED_FIELD_KEYS_DIR", OsStr::new(d)),
                ("ENCRYPTED_FIELD_ALLOW_PARTIAL_RING", OsStr::new("1")),
            ];
            let partial = binary::run_with_stdin(&["encrypt"], &partial_env, b"hello");
            partial.assert_success();
            assert!(
                partial.stderr.contains("key v1 is missing from the ring"),
                "{}",
                partial.stderr
            );
            let listing = binary::run(&["keys", "list", "--keys-dir", d, "--json"], &[]);
            assert_eq!(listing.json()["keys"][0]["usable"], false);

            // No PIN at all.
            let no_pin = binary::command(&["encrypt"], &env)
                .env_remove("PKCS11_PIN")
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&no_pin.stderr);
            assert_eq!(no_pin.status.code(), Some(2), "{stderr}");
            assert!(
                stderr.contains("no PIN: set PKCS11_PIN or PKCS11_PIN_FILE"),
                "{stderr}"
            );
        },
    );
}
