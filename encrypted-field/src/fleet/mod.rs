//! Keys across a fleet: many instances of an application on one database agree on the active
//! key version, and a new version becomes active only once every running instance has loaded it.
//!
//! A key version is *provisioned* (its file is in every instance's keys directory: it decrypts,
//! never encrypts), then *active* (the one new values are sealed with), then *retired*. Which
//! version is active is recorded in the database's `encrypted_field_metadata` table (with who
//! activated it and when), not inferred from "the highest version": with live reload, a new key
//! file would otherwise start encrypting in one instance before the others can read it.
//!
//! Each instance calls [`join`] at start-up. Its [`FleetMember`] keeps a row in
//! `encrypted_field_instances` (id, host, pid, the versions its ring holds, the version it seals
//! with, its last check-in by the database's clock) and, on start, after every reload of the
//! process-wide ring and on its timer, applies the recorded active version to that ring (a
//! version it has not loaded yet makes it reload first; meanwhile it keeps sealing with the
//! version it had). A local pin (`ENCRYPTED_FIELD_ACTIVE_VERSION`, an `active_version` file in
//! the keys directory) still wins on its host, and its row says so.
//!
//! The command line then activates in stages ([`activate`]): wait until every instance seen
//! recently has loaded the new version, record it active, wait until every instance seals with
//! it, and only then rewrite values.
//!
//! Blind-index keys go through the same stages ([`activate_blind_index_with`], [`KeyKind`]):
//! the active blind-index version is recorded apart (`active_blind_index_version`), each
//! instance's row lists the blind-index versions it has loaded and the one it computes new
//! indexes with, and a local pin (`ENCRYPTED_FIELD_ACTIVE_BLIND_INDEX_VERSION`, an
//! `active_blind_index_version` file) wins on its host. A provisioned blind-index key matches
//! lookups and never writes an index, so a row is found by every instance at every moment.
//!
//! ```no_run
//! # fn main() -> Result<(), encrypted_field::rotation::Error> {
//! let member = encrypted_field::fleet::join("postgres://app@db/app", Default::default())?;
//! // ... serve; the member's thread keeps the ring in step with the fleet ...
//! member.leave()?;
//! # Ok(()) }
//! ```

pub(crate) mod active;
pub use active::who_am_i;
pub(crate) mod host;
mod instance;
pub(crate) mod key_kind;
pub(crate) mod member;
mod staging;

pub use active::{
    ActiveRecord, record_active, record_active_if_absent, record_active_of,
    record_active_of_if_absent, recorded_active, recorded_active_of,
};
pub use instance::{DEFAULT_SEEN_WITHIN, Instance, instances};
pub use key_kind::{
    ACTIVATED_BY_RECORD, ACTIVE_BLIND_INDEX_VERSION_RECORD, ACTIVE_VERSION_RECORD,
    BLIND_INDEX_ACTIVATED_BY_RECORD, KeyKind,
};
#[cfg(feature = "internals")]
pub use member::join_with_own_ring;
pub use member::{FleetMember, FleetOptions, join};
pub use staging::{Activation, Staging, activate, activate_blind_index_with, activate_with};
