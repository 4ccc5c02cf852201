//! Models: where encrypted values live, described as plain data, and the registry that collects
//! those descriptions for rotation.
//!
//! A [`ModelSpec`] names a table, its primary key and its encrypted columns ([`ColumnSpec`], with
//! an optional [`BlindIndexSpec`]). It is what a generic routine needs to rewrite the values with
//! raw SQL and no model code: `#[derive(EncryptedModel)]` produces one per model, and a tool that
//! learns the table only at run time builds one by hand.
//!
//! # Discovery
//!
//! Each derived model submits its description to a distributed collection with the
//! [`inventory`](https://docs.rs/inventory) crate, and [`Registry::discovered`] reads them all: a
//! model is registered by being compiled into the binary, with no list to keep (the list that the
//! Django module's `_load_model_configurations` reads is exactly what goes stale).
//!
//! `inventory` was chosen over `linkme`, which does the same with linker sections and no code at
//! start-up, because:
//! - `inventory` works on every target Rust supports, WebAssembly included; `linkme` supports a
//!   fixed list of platforms and fails to link elsewhere;
//! - its `submit!` is a `macro_rules!` macro that resolves through `$crate`, so generated code can
//!   reach it through `encrypted_field::__private` and users need no direct dependency on it;
//!   `linkme`'s attribute macros need their crate path respelled at every use;
//! - its cost is one pointer push per model before `main`, which is negligible here.
//!
//! Both share one limit: a model in a library crate that the binary links but never references
//! may be dropped by the linker; use a type of that crate, or list the model explicitly with
//! [`Registry::register`].

mod error;
pub(crate) mod registry;
mod spec;

pub use error::SpecError;
pub use registry::Registry;
pub use spec::{BlindIndexSpec, ColumnSpec, KeyKind, ModelSpec, Storage};

/// A type whose encrypted columns can be rewritten by code that knows nothing else about it.
///
/// Derive it (`#[derive(EncryptedModel)]`, feature `derive`): the derive also generates the
/// getters and setters of the encrypted fields and registers the model for
/// [`Registry::discovered`].
///
#[cfg_attr(feature = "derive", doc = "```")]
#[cfg_attr(not(feature = "derive"), doc = "```ignore")]
/// use encrypted_field::{EncryptedModel, KeyRing, MasterKey, BlindIndexKey};
/// use encrypted_field::model::{KeyKind, Registry};
///
/// #[derive(Default, EncryptedModel)]
/// #[encrypted_model(table = "customers")] // or Diesel's #[diesel(table_name = customers)]
/// struct Customer {
///     id: i32,
///     #[encrypted]                                   // getter ssn(), setter set_ssn()
///     _ssn: Option<Vec<u8>>,
///     #[encrypted(blind_index = "phone_bidx", normalize = digits)]
///     _phone: Vec<u8>,
///     phone_bidx: Vec<u8>,
/// }
///
/// let ring = KeyRing::builder()
///     .key(1, MasterKey::generate())
///     .blind_index_key(BlindIndexKey::new(MasterKey::generate()))
///     .build()?;
/// let mut customer = Customer::default();
/// customer.set_ssn_with(&ring, "078-05-1120")?;
/// customer.set_phone_with(&ring, "+1 (555) 010-0100")?;
/// assert_eq!(customer.ssn_with(&ring)?.as_deref(), Some("078-05-1120"));
/// assert_eq!(customer.phone_bidx, Customer::phone_index_with(&ring, "1 555 010 0100")?);
///
/// let spec = Customer::model_spec();
/// assert_eq!((spec.table(), spec.primary_key(), spec.primary_key_kind()), ("customers", "id", KeyKind::Integer));
/// assert!(Registry::discovered()?.get("customers").is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait EncryptedModel {
    /// Describes the table, its primary key and its encrypted columns.
    fn model_spec() -> ModelSpec;
}
