//! A SoftHSM2 token of the test's own: a temporary `SOFTHSM2_CONF` directory, a token
//! initialised by `softhsm2-util`, AES-256 key-encryption keys generated on the token.
//!
//! SoftHSM reads `SOFTHSM2_CONF` when the module is initialised, and a test cannot change its
//! own process's environment: so each test runs its body in a child process of this test
//! binary, started with the token's environment ([`in_token`]).

use std::path::PathBuf;
use std::process::Command;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, ObjectClass};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;

/// The token's label, and its user PIN.
pub const TOKEN: &str = "ef-test";
pub const PIN: &str = "1234";
const SO_PIN: &str = "5678";
/// Set in the child that runs a test's body.
const CHILD: &str = "ENCRYPTED_FIELD_TEST_SOFTHSM_CHILD";

/// The SoftHSM2 module, if installed; a missing one fails the test when backends are required
/// (CI), and skips it otherwise.
pub fn module() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("SOFTHSM2_MODULE").map(PathBuf::from),
        Some(PathBuf::from("/usr/lib/softhsm/libsofthsm2.so")),
        Some(PathBuf::from(
            "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
        )),
    ];
    let found = candidates.into_iter().flatten().find(|p| p.exists());
    if found.is_none() {
        assert!(
            std::env::var_os("ENCRYPTED_FIELD_REQUIRE_BACKENDS").is_none(),
            "SoftHSM2 is required (ENCRYPTED_FIELD_REQUIRE_BACKENDS is set) but its module is \
             not installed: apt-get install softhsm2"
        );
        eprintln!("skipped: SoftHSM2 is not installed (apt-get install softhsm2)");
    }
    found
}

/// Runs `body` in a child process whose environment has a fresh token: `SOFTHSM2_CONF`,
/// `PKCS11_MODULE` and `PKCS11_PIN` are set; `body` makes its keys with [`generate_kek`].
/// `test` is the test's name (the child runs exactly it).
pub fn in_token(test: &str, body: impl FnOnce()) {
    if std::env::var_os(CHILD).is_some() {
        body();
        return;
    }
    let Some(module) = module() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::create_dir(&tokens).unwrap();
    let conf = dir.path().join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )
    .unwrap();
    let init = Command::new("softhsm2-util")
        .args([
            "--init-token",
            "--free",
            "--label",
            TOKEN,
            "--so-pin",
            SO_PIN,
            "--pin",
            PIN,
        ])
        .env("SOFTHSM2_CONF", &conf)
        .output()
        .expect("softhsm2-util runs (apt-get install softhsm2)");
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let child = Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .env("SOFTHSM2_CONF", &conf)
        .env("PKCS11_MODULE", &module)
        .env("PKCS11_PIN", PIN)
        .env_remove("PKCS11_PIN_FILE")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&child.stdout);
    let err = String::from_utf8_lossy(&child.stderr);
    assert!(
        child.status.success() && out.contains("1 passed"),
        "{test} in its SoftHSM child:\n{out}\n{err}"
    );
}

/// Generates the AES-256 key-encryption key `label` on the token (in the child).
pub fn generate_kek(label: &str) {
    let module = std::env::var_os("PKCS11_MODULE").expect("in the SoftHSM child");
    let pkcs11 = Pkcs11::new(module).unwrap();
    // The library under test may have initialised the module in this process already.
    let _ = pkcs11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK));
    let slot = pkcs11
        .get_slots_with_token()
        .unwrap()
        .into_iter()
        .find(|s| pkcs11.get_token_info(*s).unwrap().label().trim_end() == TOKEN)
        .unwrap();
    let session = pkcs11.open_rw_session(slot).unwrap();
    let _ = session.login(UserType::User, Some(&AuthPin::from(PIN)));
    session
        .generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::ValueLen(32.into()),
                Attribute::Label(label.as_bytes().to_vec()),
                Attribute::Id(label.as_bytes().to_vec()),
                Attribute::Encrypt(true),
                Attribute::Decrypt(true),
                Attribute::Wrap(true),
                Attribute::Unwrap(true),
            ],
        )
        .unwrap();
}

/// The URI of the key `label` on the test token.
pub fn uri(label: &str) -> String {
    format!("pkcs11:token={TOKEN};object={label}")
}
