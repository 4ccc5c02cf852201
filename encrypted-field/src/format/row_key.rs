//! [`RowKey`]: a row's primary key in the canonical form a row-bound value binds (`FORMAT.md`,
//! "Row-bound contexts"), and [`AsRowKey`], the key fields that give one. A leaf: the error type
//! names a `RowKey`, and the context encoding (`row_context.rs`) builds on it.

use std::fmt;

/// A row's primary key in its canonical form, the bytes bound into a row-bound value: an integer
/// key as its decimal digits (ASCII, a leading `-` when negative, no `+`, no leading zero), a text
/// key as its UTF-8 bytes exactly as the database returns them, a UUID as its 36-character
/// lowercase hyphenated form (what PostgreSQL prints for `uuid::text`).
///
/// `i32` and `i64` keys of the same value bind the same bytes, so a model may widen its key type;
/// the rotation engine, which reads integer keys as `i64` and text keys as text, computes the same
/// bytes on SQLite, MySQL/MariaDB and PostgreSQL.
///
/// ```
/// use encrypted_field::RowKey;
/// assert_eq!(RowKey::from(42_i32), RowKey::from(42_i64));
/// assert_eq!(RowKey::from(-7_i64).as_str(), "-7");
/// assert_eq!(RowKey::from("ab-12").as_str(), "ab-12");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RowKey(String);

impl RowKey {
    /// The canonical text of the key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RowKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RowKey").field(&self.0).finish()
    }
}

impl fmt::Display for RowKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A text key may hold anything; escaped, it cannot break a line of a log.
        write!(f, "{}", self.0.escape_debug())
    }
}

macro_rules! integer_row_keys {
    ($($int:ty),*) => {$(
        impl From<$int> for RowKey {
            fn from(key: $int) -> Self {
                Self(key.to_string())
            }
        }

        impl AsRowKey for $int {
            fn row_key(&self) -> Option<RowKey> {
                Some(RowKey::from(*self))
            }
        }
    )*};
}

integer_row_keys!(
    i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize
);

impl From<&str> for RowKey {
    fn from(key: &str) -> Self {
        Self(key.to_owned())
    }
}

impl From<String> for RowKey {
    fn from(key: String) -> Self {
        Self(key)
    }
}

impl From<&String> for RowKey {
    fn from(key: &String) -> Self {
        Self(key.clone())
    }
}

#[cfg(feature = "uuid")]
#[cfg_attr(docsrs, doc(cfg(feature = "uuid")))]
impl From<uuid::Uuid> for RowKey {
    fn from(key: uuid::Uuid) -> Self {
        Self(key.hyphenated().to_string())
    }
}

/// A primary-key field whose value a row-bound column (`#[encrypted(bind_row)]`) binds into its
/// values: the integer types, `String`, `str`, `uuid::Uuid` (feature `uuid`), and `Option` of
/// any of them, where `None` is a key the database has not assigned yet (the row is not
/// inserted): sealing or opening a row-bound value then fails with [`Error::RowKeyUnknown`](crate::Error::RowKeyUnknown).
///
/// Implement it for a newtype key by delegating to the type it wraps.
///
/// ```
/// use encrypted_field::{AsRowKey, RowKey};
/// assert_eq!(7_i32.row_key(), Some(RowKey::from(7_i64)));
/// assert_eq!(None::<i64>.row_key(), None);
///
/// struct CustomerId(i64);
/// impl AsRowKey for CustomerId {
///     fn row_key(&self) -> Option<RowKey> {
///         self.0.row_key()
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be bound into a row-bound value as a primary key",
    label = "the primary key of a model with `#[encrypted(bind_row)]`",
    note = "row binding supports integer, `String` and `uuid::Uuid` keys (or an `Option` of one); implement `encrypted_field::AsRowKey` for a newtype"
)]
pub trait AsRowKey {
    /// The key in canonical form, or `None` while the database has not assigned it.
    fn row_key(&self) -> Option<RowKey>;
}

impl AsRowKey for str {
    fn row_key(&self) -> Option<RowKey> {
        Some(RowKey::from(self))
    }
}

impl AsRowKey for String {
    fn row_key(&self) -> Option<RowKey> {
        Some(RowKey::from(self))
    }
}

#[cfg(feature = "uuid")]
#[cfg_attr(docsrs, doc(cfg(feature = "uuid")))]
impl AsRowKey for uuid::Uuid {
    fn row_key(&self) -> Option<RowKey> {
        Some(RowKey::from(*self))
    }
}

impl<K: AsRowKey + ?Sized> AsRowKey for &K {
    fn row_key(&self) -> Option<RowKey> {
        (**self).row_key()
    }
}

impl<K: AsRowKey> AsRowKey for Option<K> {
    fn row_key(&self) -> Option<RowKey> {
        self.as_ref().and_then(AsRowKey::row_key)
    }
}

impl AsRowKey for RowKey {
    fn row_key(&self) -> Option<RowKey> {
        Some(self.clone())
    }
}
