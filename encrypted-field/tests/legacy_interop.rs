//! The legacy readers against what the real peers wrote.
//!
//! - `fernet`: tokens from Python `cryptography`'s `Fernet(key).encrypt(value.encode())`, as the
//!   Django module stores them (`fixtures/legacy/fernet.json`, from `gen_fernet.py`).
//! - `fernet_spec`: the Fernet specification's own vectors (`fixtures/legacy/fernet-spec/`).
//! - `node_cbc`: `hex(iv):hex(ciphertext)` values from Node's `crypto`, as the Node backend stores
//!   them (`fixtures/legacy/node_cbc.json`, from `gen_node_cbc.js`).
//! - `classify`: a v1 envelope is never taken for a legacy value, nor the reverse.
//! - `keys`: legacy keys that cannot be used are errors naming where they came from.
//!
//! Every fixture is committed: these tests need no network, Python or Node.js.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "legacy_interop/classify.rs"]
mod classify;
#[path = "legacy_interop/fernet.rs"]
mod fernet;
#[path = "legacy_interop/fernet_spec.rs"]
mod fernet_spec;
#[path = "legacy_interop/fixtures.rs"]
mod fixtures;
#[path = "legacy_interop/keys.rs"]
mod keys;
#[path = "legacy_interop/node_cbc.rs"]
mod node_cbc;
#[path = "legacy_interop/peers.rs"]
mod peers;
