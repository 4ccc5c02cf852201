//! Loading the committed fixture files.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// One value a peer wrote: the plaintext it was given and what it stored.
#[derive(Debug, Clone)]
pub(crate) struct Case {
    pub(crate) name: String,
    pub(crate) plaintext: Vec<u8>,
    /// The token / value exactly as stored in the database.
    pub(crate) stored: Vec<u8>,
}

/// A generated fixture file: the key the peer used and its cases.
#[derive(Debug)]
pub(crate) struct Fixture {
    pub(crate) key: String,
    pub(crate) cases: Vec<Case>,
}

impl Fixture {
    pub(crate) fn case(&self, name: &str) -> &Case {
        self.cases
            .iter()
            .find(|case| case.name == name)
            .unwrap_or_else(|| panic!("no fixture case `{name}`"))
    }
}

pub(crate) fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/legacy")
}

pub(crate) fn read_json(relative: &str) -> Value {
    let path = dir().join(relative);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

pub(crate) fn str_field<'a>(value: &'a Value, field: &str) -> &'a str {
    value[field]
        .as_str()
        .unwrap_or_else(|| panic!("`{field}` is not a string in {value}"))
}

fn load(file: &str, stored_field: &str) -> Fixture {
    let json = read_json(file);
    let cases = json["cases"]
        .as_array()
        .unwrap_or_else(|| panic!("{file}: `cases` is not a list"))
        .iter()
        .map(|case| Case {
            name: str_field(case, "name").to_owned(),
            plaintext: match case.get("plaintext_hex") {
                Some(hex_text) => hex::decode(hex_text.as_str().unwrap()).unwrap(),
                None => str_field(case, "plaintext").as_bytes().to_vec(),
            },
            stored: str_field(case, stored_field).as_bytes().to_vec(),
        })
        .collect();
    Fixture {
        key: str_field(&json, "key").to_owned(),
        cases,
    }
}

/// `fernet.json`: tokens from Python `cryptography`.
pub(crate) fn fernet() -> Fixture {
    load("fernet.json", "token")
}

/// `node_cbc.json`: `hex(iv):hex(ciphertext)` values from Node's `crypto`.
pub(crate) fn node_cbc() -> Fixture {
    load("node_cbc.json", "value")
}

/// The cases both generators must cover, so that a regenerated fixture cannot quietly drop one.
fn assert_covers_boundaries(fixture: &Fixture) {
    let lengths: Vec<usize> = fixture
        .cases
        .iter()
        .map(|case| case.plaintext.len())
        .collect();
    for len in [0, 1, 15, 16, 17, 4096] {
        assert!(
            lengths.contains(&len),
            "no case of {len} bytes in {lengths:?}"
        );
    }
    assert!(
        fixture
            .cases
            .iter()
            .any(|c| std::str::from_utf8(&c.plaintext).is_ok_and(|text| !text.is_ascii())),
        "no non-ASCII UTF-8 case"
    );
    assert!(
        fixture
            .cases
            .iter()
            .any(|c| std::str::from_utf8(&c.plaintext).is_err()),
        "no case that is not UTF-8"
    );
}

#[test]
fn fernet_fixture_covers_the_boundary_cases() {
    assert_covers_boundaries(&fernet());
}

#[test]
fn node_cbc_fixture_covers_the_boundary_cases() {
    assert_covers_boundaries(&node_cbc());
}
