//! The `encrypted-field` binary, run as a process: output shapes, exit statuses, error messages.
//!
//! Every run starts from an environment without any key variable, and every test works in its own
//! temporary directory. Run with `cargo test -p encrypted-field --features cli --test cli`.
#![cfg(feature = "cli")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::ffi::OsStr;
use std::path::Path;

use aes::cipher::{BlockEncryptMut as _, KeyIvInit as _, block_padding::Pkcs7};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use hmac::Mac as _;

#[path = "support/binary.rs"]
mod binary;

use binary::run_with_stdin;

fn key_text(byte: u8) -> String {
    STANDARD.encode([byte; 32])
}

/// A key file holding `key_text(byte)` and a newline, as `openssl rand -base64 32 > file` writes it.
/// A key file as `keygen --out` writes one: mode 0600 (a file others can read loads with a
/// warning on stderr).
fn write_key(path: &Path, byte: u8) {
    std::fs::write(path, format!("{}\n", key_text(byte))).unwrap();
    #[cfg(unix)]
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
}

fn os(path: &Path) -> &OsStr {
    path.as_os_str()
}

// ---- keygen -------------------------------------------------------------------------------------

#[test]
fn keygen_prints_44_characters_of_standard_base64_and_a_newline() {
    let first = run_with_stdin(&["keygen"], &[], b"");
    first.assert_success();
    let text = first.stdout_text();
    assert_eq!(text.len(), 45, "{text:?}");
    assert!(text.ends_with('\n') && text.ends_with("=\n"), "{text:?}");
    assert_eq!(STANDARD.decode(text.trim_end()).unwrap().len(), 32);
    assert_ne!(
        run_with_stdin(&["keygen"], &[], b"").stdout,
        first.stdout,
        "two keys must differ"
    );
}

#[cfg(unix)]
#[test]
fn keygen_out_writes_a_private_key_file() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("enc_key.txt");
    let result = run_with_stdin(&["keygen", "--out", path.to_str().unwrap()], &[], b"");
    result.assert_success();
    assert!(
        result.stdout.is_empty(),
        "the key goes into the file only: {result:?}"
    );
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.len(), 45);
    assert_eq!(STANDARD.decode(text.trim_end()).unwrap().len(), 32);
}

#[test]
fn keygen_out_refuses_to_overwrite_an_existing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("enc_key.txt");
    std::fs::write(&path, "precious\n").unwrap();
    let result = run_with_stdin(&["keygen", "--out", path.to_str().unwrap()], &[], b"");
    result.assert_failed(2);
    assert!(
        result.stderr.contains(path.to_str().unwrap()) && result.stderr.contains("exists"),
        "{result:?}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "precious\n");
}

// ---- keys ---------------------------------------------------------------------------------------

#[test]
fn keys_add_keeps_the_active_version_and_list_shows_versions_and_files_but_no_key_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let env = [("ENCRYPTED_FIELD_KEYS_DIR", os(&keys))];
    run_with_stdin(&["keys", "add"], &env, b"").assert_success();
    let added = run_with_stdin(&["keys", "add"], &env, b"");
    added.assert_success();
    assert!(added.stdout_text().contains("added key v2"), "{added:?}");
    assert!(added.stdout_text().contains("active: v1"), "{added:?}");

    let listed = run_with_stdin(&["keys", "list"], &env, b"");
    listed.assert_success();
    let text = listed.stdout_text();
    let v1 = keys.join("enc_key_v1");
    let v2 = keys.join("enc_key_v2");
    assert!(
        text.contains(&format!("v1    active {}", v1.display())),
        "{text}"
    );
    assert!(
        text.contains(&format!("v2           {}", v2.display())),
        "{text}"
    );
    for file in [&v1, &v2] {
        let key = std::fs::read_to_string(file).unwrap();
        assert!(
            !text.contains(key.trim()),
            "a listing never shows key bytes: {text}"
        );
    }
}

#[test]
fn keys_list_json_names_the_active_version_and_why() {
    let dir = tempfile::tempdir().unwrap();
    write_key(&dir.path().join("enc_key_v1"), 1);
    write_key(&dir.path().join("enc_key_v2.txt"), 2);
    std::fs::write(dir.path().join("enc_key_v3"), STANDARD.encode([3u8; 31])).unwrap();
    let listed = run_with_stdin(
        &[
            "keys",
            "list",
            "--json",
            "--keys-dir",
            dir.path().to_str().unwrap(),
        ],
        &[],
        b"",
    );
    listed.assert_success();
    let json: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(json["active_version"], 3);
    assert_eq!(json["active_from"], "highest_version");
    let keys = json["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 3);
    assert_eq!(
        keys[1]["path"],
        dir.path().join("enc_key_v2.txt").display().to_string()
    );
    assert_eq!(keys[0]["usable"], true);
    assert_eq!(keys[2]["usable"], false);
    assert!(
        keys[2]["problem"].as_str().unwrap().contains("31 bytes"),
        "{json}"
    );
    assert!(
        !listed.stdout_text().contains(&key_text(1)),
        "a listing never shows key bytes"
    );
}

#[test]
fn keys_activate_pins_the_version_that_encrypt_then_uses() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("ENCRYPTED_FIELD_KEYS_DIR", os(dir.path()))];
    run_with_stdin(&["keys", "add"], &env, b"").assert_success();
    run_with_stdin(&["keys", "add"], &env, b"").assert_success();
    let before = run_with_stdin(&["encrypt", "--binary"], &env, b"x");
    assert_eq!(&before.assert_success().stdout[3..7], &1u32.to_be_bytes());

    run_with_stdin(&["keys", "activate", "2"], &env, b"").assert_success();
    let json: serde_json::Value =
        serde_json::from_slice(&run_with_stdin(&["keys", "list", "--json"], &env, b"").stdout)
            .unwrap();
    assert_eq!(json["active_version"], 2);
    assert_eq!(json["active_from"], "active_version_file");
    let after = run_with_stdin(&["encrypt", "--binary"], &env, b"x");
    assert_eq!(&after.assert_success().stdout[3..7], &2u32.to_be_bytes());
}

#[test]
fn keys_add_activate_makes_the_new_key_active_and_old_values_stay_readable() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("ENCRYPTED_FIELD_KEYS_DIR", os(dir.path()))];
    run_with_stdin(&["keys", "add"], &env, b"").assert_success();
    let old = run_with_stdin(&["encrypt"], &env, b"written under v1");
    old.assert_success();
    let added = run_with_stdin(&["keys", "add", "--activate", "--json"], &env, b"");
    let json: serde_json::Value = serde_json::from_slice(&added.assert_success().stdout).unwrap();
    assert_eq!(
        (json["version"].as_u64(), json["active_version"].as_u64()),
        (Some(2), Some(2))
    );
    let read = run_with_stdin(&["decrypt"], &env, &old.stdout);
    assert_eq!(read.assert_success().stdout, b"written under v1");
}

#[test]
fn keys_activate_of_a_missing_version_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    write_key(&dir.path().join("enc_key_v1"), 1);
    let result = run_with_stdin(
        &[
            "keys",
            "activate",
            "v5",
            "--keys-dir",
            dir.path().to_str().unwrap(),
        ],
        &[],
        b"",
    );
    result.assert_failed(2);
    assert!(
        result.stderr.contains("v5") && result.stderr.contains("present: v1"),
        "{result:?}"
    );
    assert!(!dir.path().join("active_version").exists());
}

#[test]
fn keys_without_a_directory_exits_2_naming_the_variable() {
    let result = run_with_stdin(&["keys", "list"], &[], b"");
    result.assert_failed(2);
    assert!(
        result.stderr.contains("ENCRYPTED_FIELD_KEYS_DIR") && result.stderr.contains("--keys-dir"),
        "{result:?}"
    );
}

// ---- encrypt / decrypt --------------------------------------------------------------------------

#[test]
fn encrypt_prints_base64_and_decrypt_reads_it_back_without_context() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("enc_key.txt");
    write_key(&key, 7);
    let env = [("DB_ENCRYPTION_KEY_FILE", os(&key))];
    let sealed = run_with_stdin(&["encrypt"], &env, b"+1 555 0100\n");
    let text = sealed.assert_success().stdout_text();
    assert!(text.starts_with("RUYB") && text.ends_with('\n'), "{text:?}");
    assert_eq!(text.trim_end().len(), text.len() - 1);
    let opened = run_with_stdin(&["decrypt"], &env, &sealed.stdout);
    assert_eq!(
        opened.assert_success().stdout,
        b"+1 555 0100\n",
        "plaintext is kept byte for byte"
    );
}

#[test]
fn encrypt_with_a_control_character_in_the_context_exits_2_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    write_key(&dir.path().join("enc_key_v1"), 1);
    let keys_dir = dir.path().to_str().unwrap();
    let result = run_with_stdin(
        &[
            "encrypt",
            "--keys-dir",
            keys_dir,
            "--context",
            "customers._ssn\n",
        ],
        &[],
        b"078-05-1120",
    );
    result.assert_failed(2);
    assert!(
        result
            .stderr
            .contains("--context: invalid context: a control character (U+000A)"),
        "{}",
        result.stderr
    );
    assert!(result.stdout.is_empty());
}

#[test]
fn encrypt_and_decrypt_round_trip_with_context_and_keys_dir_flag() {
    let dir = tempfile::tempdir().unwrap();
    write_key(&dir.path().join("enc_key_v1"), 1);
    let keys_dir = dir.path().to_str().unwrap();
    let sealed = run_with_stdin(
        &[
            "encrypt",
            "--keys-dir",
            keys_dir,
            "--context",
            "customers._ssn",
        ],
        &[],
        b"078-05-1120",
    );
    sealed.assert_success();
    let opened = run_with_stdin(
        &[
            "decrypt",
            "--keys-dir",
            keys_dir,
            "--context",
            "customers._ssn",
        ],
        &[],
        &sealed.stdout,
    );
    assert_eq!(opened.assert_success().stdout, b"078-05-1120");
}

#[test]
fn a_value_encrypted_for_a_row_decrypts_for_that_row_only() {
    let key = key_text(5);
    let env = [("DB_ENCRYPTION_KEY", OsStr::new(&key))];
    let sealed = run_with_stdin(
        &["encrypt", "--context", "customers._ssn", "--row", "7"],
        &env,
        b"078-05-1120",
    );
    sealed.assert_success();
    let decrypt = |row: &str| {
        run_with_stdin(
            &["decrypt", "--context", "customers._ssn", "--row", row],
            &env,
            &sealed.stdout,
        )
    };
    assert_eq!(decrypt("7").assert_success().stdout, b"078-05-1120");
    let other = decrypt("8");
    other.assert_failed(1);
    assert!(other.stderr.contains("row `8`"), "{other:?}");
    let without_context = run_with_stdin(&["decrypt", "--row", "7"], &env, &sealed.stdout);
    without_context.assert_failed(2);
}

#[test]
fn binary_flag_writes_and_reads_raw_envelope_bytes() {
    let key = key_text(3);
    let env = [("DB_ENCRYPTION_KEY", OsStr::new(&key))];
    let sealed = run_with_stdin(&["encrypt", "--binary"], &env, &[0, 159, 255]);
    let bytes = &sealed.assert_success().stdout;
    assert!(bytes.starts_with(b"EF\x01"), "{bytes:?}");
    let opened = run_with_stdin(&["decrypt", "--binary"], &env, bytes);
    assert_eq!(opened.assert_success().stdout, [0, 159, 255]);
}

#[test]
fn decrypt_with_the_wrong_context_exits_1_with_a_message_and_empty_stdout() {
    let key = key_text(4);
    let env = [("DB_ENCRYPTION_KEY", OsStr::new(&key))];
    let sealed = run_with_stdin(
        &["encrypt", "--context", "customers._ssn"],
        &env,
        b"078-05-1120",
    );
    sealed.assert_success();
    let result = run_with_stdin(
        &["decrypt", "--context", "customers._phone"],
        &env,
        &sealed.stdout,
    );
    result.assert_failed(1);
    assert!(
        result.stderr.contains("authentication failed")
            && result.stderr.contains("customers._phone"),
        "{result:?}"
    );
}

#[test]
fn decrypt_of_a_tampered_value_exits_1() {
    let key = key_text(5);
    let env = [("DB_ENCRYPTION_KEY", OsStr::new(&key))];
    let sealed = run_with_stdin(&["encrypt", "--binary"], &env, b"078-05-1120");
    let mut bytes = sealed.assert_success().stdout.clone();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    run_with_stdin(&["decrypt", "--binary"], &env, &bytes).assert_failed(1);
    let mut text = STANDARD.encode(&bytes).into_bytes();
    text.truncate(text.len() - 8);
    run_with_stdin(&["decrypt"], &env, &text).assert_failed(1);
}

#[test]
fn decrypt_of_text_that_is_not_base64_exits_1_and_suggests_binary() {
    let key = key_text(5);
    let result = run_with_stdin(
        &["decrypt"],
        &[("DB_ENCRYPTION_KEY", OsStr::new(&key))],
        b"not a value!",
    );
    result.assert_failed(1);
    assert!(result.stderr.contains("--binary"), "{result:?}");
}

#[test]
fn encrypt_without_any_key_configured_exits_2_naming_the_variables() {
    let result = run_with_stdin(&["encrypt"], &[], b"secret");
    result.assert_failed(2);
    for name in [
        "ENCRYPTED_FIELD_KEYS_DIR",
        "DB_ENCRYPTION_KEY_FILE",
        "DB_ENCRYPTION_KEY",
        "--key-file",
    ] {
        assert!(result.stderr.contains(name), "{name} missing: {result:?}");
    }
}

#[test]
fn key_file_of_31_bytes_exits_2_naming_the_path_and_not_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("enc_key_v2");
    let short = STANDARD.encode([9u8; 31]);
    std::fs::write(&path, &short).unwrap();
    let expected = format!(
        "error: reading key file {}: it decodes to 31 bytes",
        path.display()
    );

    let by_flag = run_with_stdin(
        &["encrypt", "--key-file", path.to_str().unwrap()],
        &[],
        b"x",
    );
    let by_env = run_with_stdin(&["encrypt"], &[("DB_ENCRYPTION_KEY_FILE", os(&path))], b"x");
    let in_dir = run_with_stdin(
        &["decrypt"],
        &[("ENCRYPTED_FIELD_KEYS_DIR", os(dir.path()))],
        b"RUYB",
    );
    for result in [by_flag, by_env, in_dir] {
        result.assert_failed(2);
        assert!(result.stderr.starts_with(&expected), "{result:?}");
        assert!(!result.stderr.contains(&short), "{result:?}");
    }
}

#[test]
fn missing_key_file_exits_2_naming_the_path() {
    let result = run_with_stdin(
        &["encrypt", "--key-file", "/nonexistent/enc_key.txt"],
        &[],
        b"x",
    );
    result.assert_failed(2);
    assert!(
        result
            .stderr
            .starts_with("error: reading key file /nonexistent/enc_key.txt: "),
        "{result:?}"
    );
}

#[test]
fn value_under_a_key_version_that_is_not_loaded_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    write_key(&dir.path().join("enc_key_v1"), 1);
    write_key(&dir.path().join("enc_key_v2"), 2);
    let sealed = run_with_stdin(
        &["encrypt", "--keys-dir", dir.path().to_str().unwrap()],
        &[],
        b"x",
    );
    let only_v1 = dir.path().join("enc_key_v1");
    let result = run_with_stdin(
        &["decrypt", "--key-file", only_v1.to_str().unwrap()],
        &[],
        &sealed.assert_success().stdout,
    );
    result.assert_failed(1);
    assert!(result.stderr.contains("v2"), "{result:?}");
}

// ---- usage --------------------------------------------------------------------------------------

#[test]
fn unknown_flag_exits_2() {
    let result = run_with_stdin(&["encrypt", "--no-such-flag"], &[], b"");
    assert_eq!(result.code, 2, "{result:?}");
    assert!(
        result.stdout.is_empty() && result.stderr.contains("--no-such-flag"),
        "{result:?}"
    );
}

#[test]
fn missing_subcommand_exits_2_and_help_exits_0() {
    assert_eq!(run_with_stdin(&[], &[], b"").code, 2);
    let help = run_with_stdin(&["encrypt", "--help"], &[], b"");
    help.assert_success();
    assert!(help.stdout_text().contains("--binary"), "{help:?}");
}

#[test]
fn from_needs_a_key_file_and_excludes_context() {
    assert_eq!(
        run_with_stdin(&["decrypt", "--from", "fernet"], &[], b"").code,
        2
    );
    assert_eq!(
        run_with_stdin(
            &[
                "decrypt",
                "--from",
                "fernet",
                "--key-file",
                "k",
                "--context",
                "c"
            ],
            &[],
            b""
        )
        .code,
        2
    );
    assert_eq!(
        run_with_stdin(&["decrypt", "--from", "rot13", "--key-file", "k"], &[], b"").code,
        2
    );
}

// ---- legacy formats -----------------------------------------------------------------------------

/// A Fernet token built from the specification
/// (<https://github.com/fernet/spec/blob/master/Spec.md>): `0x80 | timestamp | iv |
/// AES-128-CBC(PKCS#7) with the key's last 16 bytes | HMAC-SHA256 with its first 16 bytes`,
/// url-safe base64.
fn fernet_token(key: &[u8; 32], iv: [u8; 16], timestamp: u64, plaintext: &[u8]) -> String {
    let ciphertext = cbc::Encryptor::<aes::Aes128>::new_from_slices(&key[16..], &iv)
        .unwrap()
        .encrypt_padded_vec_mut::<Pkcs7>(plaintext);
    let mut token = vec![0x80];
    token.extend_from_slice(&timestamp.to_be_bytes());
    token.extend_from_slice(&iv);
    token.extend_from_slice(&ciphertext);
    let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(&key[..16]).unwrap();
    mac.update(&token);
    token.extend_from_slice(&mac.finalize().into_bytes());
    URL_SAFE.encode(token)
}

#[test]
fn decrypt_from_fernet_reads_a_token_with_a_fernet_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let key = [0x42u8; 32];
    let key_file = dir.path().join("fernet.key");
    std::fs::write(&key_file, format!("{}\n", URL_SAFE.encode(key))).unwrap();
    let token = fernet_token(&key, [7; 16], 1_700_000_000, b"078-05-1120");
    let args = [
        "decrypt",
        "--from",
        "fernet",
        "--key-file",
        key_file.to_str().unwrap(),
    ];

    let read = run_with_stdin(&args, &[], format!("{token}\n").as_bytes());
    assert_eq!(read.assert_success().stdout, b"078-05-1120");

    let mut tampered = token.into_bytes();
    tampered[30] = if tampered[30] == b'A' { b'B' } else { b'A' };
    let result = run_with_stdin(&args, &[], &tampered);
    result.assert_failed(1);
    assert!(
        result.stderr.contains("fernet") && result.stderr.contains("HMAC"),
        "{result:?}"
    );
}

#[test]
fn decrypt_from_node_cbc_reads_hex_iv_colon_hex_ciphertext() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("enc_key.txt");
    write_key(&key_file, 8);
    let iv = [9u8; 16];
    let ciphertext = cbc::Encryptor::<aes::Aes256>::new_from_slices(&[8u8; 32], &iv)
        .unwrap()
        .encrypt_padded_vec_mut::<Pkcs7>(b"+1 555 0100");
    let value = format!("{}:{}", hex::encode(iv), hex::encode(ciphertext));
    let read = run_with_stdin(
        &[
            "decrypt",
            "--from",
            "node-cbc",
            "--key-file",
            key_file.to_str().unwrap(),
        ],
        &[],
        value.as_bytes(),
    );
    assert_eq!(read.assert_success().stdout, b"+1 555 0100");
}

#[test]
fn decrypt_from_fernet_with_a_bad_key_file_exits_2_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("fernet.key");
    std::fs::write(&key_file, "too short").unwrap();
    let result = run_with_stdin(
        &[
            "decrypt",
            "--from",
            "fernet",
            "--key-file",
            key_file.to_str().unwrap(),
        ],
        &[],
        b"gAAAAA",
    );
    result.assert_failed(2);
    assert!(
        result
            .stderr
            .starts_with(&format!("error: reading key file {}: ", key_file.display())),
        "{result:?}"
    );
}
