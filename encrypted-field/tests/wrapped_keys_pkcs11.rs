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
        Error::KeyWrapping { source, .. } => source.kind(),
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
