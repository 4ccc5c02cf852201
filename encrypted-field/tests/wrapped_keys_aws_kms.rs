//! Keys wrapped by AWS KMS: the moto server (`wrapped_keys/moto.rs`) through the provider's
//! signed JSON calls, with keys and aliases created through the KMS API for each test.
#![cfg(feature = "aws-kms")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "wrapped_keys/moto.rs"]
mod moto;

use std::sync::Arc;
use std::time::Duration;

use encrypted_field::keys::KeysDir;
use encrypted_field::keys::wrap::{
    AwsKmsWrapper, KeyWrappers, RetryPolicy, WrapErrorKind, WrappedKeyFile,
};
use encrypted_field::{Error, KeyVersion};

fn keys(tmp: &tempfile::TempDir, wrapper: AwsKmsWrapper) -> KeysDir {
    KeysDir::new(tmp.path().join("keys")).with_wrappers(
        KeyWrappers::empty()
            .with(Arc::new(wrapper))
            .retry(RetryPolicy {
                attempts: 3,
                first_backoff: Duration::from_millis(20),
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
fn keys_wrapped_by_alias_and_by_arn_round_trip() {
    let Some(endpoint) = moto::endpoint() else {
        return;
    };
    let (_, arn, alias) = moto::create_key(&endpoint, "round-trip");
    let tmp = tempfile::tempdir().unwrap();
    let keys = keys(&tmp, AwsKmsWrapper::from_env());
    keys.add_wrapped(&format!("aws-kms://{alias}"), true)
        .unwrap();
    keys.add_wrapped(&format!("aws-kms://{arn}"), false)
        .unwrap();
    let file = WrappedKeyFile::read(&keys.path().join("enc_key_v1.wrapped")).unwrap();
    assert_eq!(
        (file.provider.as_str(), file.algorithm.as_str()),
        ("aws-kms", "SYMMETRIC_DEFAULT")
    );
    let ring = keys.load(None).unwrap();
    assert_eq!(ring.active_version(), KeyVersion::new(1));
    let both: Vec<Vec<u8>> = [1, 2]
        .map(|v| {
            ring.with_active(KeyVersion::new(v))
                .unwrap()
                .encrypt(b"secret")
        })
        .to_vec();
    let again = keys.load(None).unwrap();
    for sealed in &both {
        assert_eq!(again.decrypt(sealed).unwrap(), b"secret");
    }
}

#[test]
fn the_encryption_context_keeps_a_wrapped_key_to_its_version() {
    let Some(endpoint) = moto::endpoint() else {
        return;
    };
    let (_, _, alias) = moto::create_key(&endpoint, "context");
    let tmp = tempfile::tempdir().unwrap();
    let keys = keys(&tmp, AwsKmsWrapper::from_env());
    keys.add_wrapped(&format!("aws-kms://{alias}"), true)
        .unwrap();
    std::fs::rename(
        keys.path().join("enc_key_v1.wrapped"),
        keys.path().join("enc_key_v2.wrapped"),
    )
    .unwrap();
    std::fs::remove_file(keys.path().join("active_version")).unwrap();
    let err = keys.load(None).unwrap_err();
    assert_eq!(kind_of(&err), WrapErrorKind::WrongKey, "{err}");
}

/// Real KMS answers `IncorrectKeyException` (a wrong-key error); moto 5.2.1 answers
/// `AccessDeniedException` for the same request. Either way: one clear error naming the key.
#[test]
fn a_wrapped_key_named_with_another_kms_key_is_refused_naming_it() {
    let Some(endpoint) = moto::endpoint() else {
        return;
    };
    let (_, _, first) = moto::create_key(&endpoint, "first");
    let (_, _, second) = moto::create_key(&endpoint, "second");
    let tmp = tempfile::tempdir().unwrap();
    let keys = keys(&tmp, AwsKmsWrapper::from_env());
    keys.add_wrapped(&format!("aws-kms://{first}"), true)
        .unwrap();
    let path = keys.path().join("enc_key_v1.wrapped");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace(&first, &second)).unwrap();
    let err = keys.load(None).unwrap_err();
    assert!(
        matches!(
            kind_of(&err),
            WrapErrorKind::WrongKey | WrapErrorKind::AccessDenied
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains(&second) && err.to_string().contains("key v1"),
        "{err}"
    );
}

#[test]
fn a_kms_key_whose_alias_is_gone_is_named_as_not_found() {
    let Some(endpoint) = moto::endpoint() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let keys = keys(&tmp, AwsKmsWrapper::from_env());
    let (_, _, alias) = moto::create_key(&endpoint, "gone");
    keys.add_wrapped(&format!("aws-kms://{alias}"), true)
        .unwrap();
    moto::kms(
        &endpoint,
        "DeleteAlias",
        &serde_json::json!({"AliasName": alias}),
    );
    let err = keys.load(None).unwrap_err();
    assert_eq!(kind_of(&err), WrapErrorKind::KeyNotFound, "{err}");
    assert!(err.to_string().contains("NotFoundException"), "{err}");

    let err = keys
        .add_wrapped("aws-kms://alias/ef-no-such-key", true)
        .unwrap_err();
    assert_eq!(kind_of(&err), WrapErrorKind::KeyNotFound, "{err}");
    assert_eq!(keys.list().unwrap().len(), 1, "a failed add writes no file");
}

/// moto 5.2.1 does not refuse a disabled key or one pending deletion (`DisableKey` then
/// `Decrypt` succeeds there), so these two answers come from a one-shot local server replying
/// with the error bodies AWS KMS documents; the request is the provider's real, signed one.
#[test]
fn a_disabled_kms_key_and_one_pending_deletion_are_each_named() {
    let Some(endpoint) = moto::endpoint() else {
        return;
    };
    let (_, _, alias) = moto::create_key(&endpoint, "disabled");
    let tmp = tempfile::tempdir().unwrap();
    keys(&tmp, AwsKmsWrapper::from_env())
        .add_wrapped(&format!("aws-kms://{alias}"), true)
        .unwrap();
    for (exception, message) in [
        (
            "DisabledException",
            "arn:aws:kms:us-east-1:123456789012:key/x is disabled.",
        ),
        (
            "KMSInvalidStateException",
            "arn:aws:kms:us-east-1:123456789012:key/x is pending deletion.",
        ),
    ] {
        let url = moto::answer_once(
            400,
            &serde_json::json!({"__type": exception, "message": message}).to_string(),
        );
        let err = keys(&tmp, AwsKmsWrapper::from_env().endpoint(url))
            .load(None)
            .unwrap_err();
        assert_eq!(kind_of(&err), WrapErrorKind::KeyDisabled, "{err}");
        let shown = err.to_string();
        assert!(
            shown.contains("disabled") && shown.contains(exception) && shown.contains("key v1"),
            "{shown}"
        );
    }
}

#[test]
fn an_unreachable_kms_is_retried_then_named_with_uri_and_version() {
    let Some(endpoint) = moto::endpoint() else {
        return;
    };
    let (_, _, alias) = moto::create_key(&endpoint, "unreachable");
    let tmp = tempfile::tempdir().unwrap();
    keys(&tmp, AwsKmsWrapper::from_env())
        .add_wrapped(&format!("aws-kms://{alias}"), true)
        .unwrap();
    // Nothing listens on port 9 of the loopback.
    let down = keys(
        &tmp,
        AwsKmsWrapper::from_env().endpoint("http://127.0.0.1:9"),
    );
    let err = down.load(None).unwrap_err();
    assert_eq!(kind_of(&err), WrapErrorKind::Unreachable, "{err}");
    let shown = err.to_string();
    for part in [
        "unwrapping key v1",
        "aws-kms key aws-kms://",
        alias.as_str(),
        "after 3 attempts",
    ] {
        assert!(shown.contains(part), "{part}: {shown}");
    }
}

#[test]
fn rewrap_under_another_kms_key_keeps_old_values_readable() {
    let Some(endpoint) = moto::endpoint() else {
        return;
    };
    let (_, _, old) = moto::create_key(&endpoint, "old-kek");
    let (_, _, new) = moto::create_key(&endpoint, "new-kek");
    let tmp = tempfile::tempdir().unwrap();
    let keys = keys(&tmp, AwsKmsWrapper::from_env());
    keys.add(true).unwrap();
    let sealed = keys.load(None).unwrap().encrypt(b"old row");
    keys.wrap_version(KeyVersion::new(1), &format!("aws-kms://{old}"))
        .unwrap();
    let done = keys.rewrap(&[], &format!("aws-kms://{new}")).unwrap();
    assert_eq!(done[0].from, format!("aws-kms://{old}"));
    let ring = keys.load(None).unwrap();
    assert_eq!(
        ring.wrapped_form(KeyVersion::new(1)).unwrap().key_uri,
        format!("aws-kms://{new}")
    );
    assert_eq!(ring.decrypt(&sealed).unwrap(), b"old row");
}
