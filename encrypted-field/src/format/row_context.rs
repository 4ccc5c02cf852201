//! Row binding: the context of a value bound to its row as well as its column (`FORMAT.md`,
//! "Row-bound contexts"). A plain context is `table.column` as UTF-8, which never holds a control
//! character; a row-bound context starts with the control byte `0x01` (its version), so the two
//! encodings never produce the same bytes:
//!
//! ```text
//! 0x01 | u32 BE len(column context) | column context | u32 BE len(row key) | row key
//! ```
//!
//! The row key is the primary key's canonical text ([`RowKey`]): what the derived model computes
//! from its Rust field and what rotation computes from the column it reads without knowing the
//! Rust type are the same bytes on every backend.

use std::borrow::Cow;

use crate::error::Error;
use crate::format::row_key::RowKey;

/// The version byte that starts a row-bound context. A plain context cannot start with it: it is
/// U+0001, a control character, which plain contexts refuse.
pub(crate) const ROW_BOUND_V1: u8 = 0x01;

/// What a value is bound to: its column's context alone, or that and its row's key.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Binding<'a> {
    column: &'a str,
    row: Option<&'a RowKey>,
}

impl<'a> Binding<'a> {
    /// Bound to the column `context` (`table.column`) alone: the plain context.
    pub(crate) const fn column(context: &'a str) -> Self {
        Self {
            column: context,
            row: None,
        }
    }

    /// Bound to the column `context` and the row whose key is `key`.
    pub(crate) const fn row(context: &'a str, key: &'a RowKey) -> Self {
        Self {
            column: context,
            row: Some(key),
        }
    }

    /// The column context, for what is bound to the column only (blind indexes, messages).
    pub(crate) const fn column_context(&self) -> &'a str {
        self.column
    }

    /// The bytes bound into the tag: the column context itself, or the row-bound encoding.
    pub(crate) fn encoded(&self) -> Cow<'a, [u8]> {
        match self.row {
            None => Cow::Borrowed(self.column.as_bytes()),
            Some(key) => Cow::Owned(row_bound_context(self.column, key)),
        }
    }

    /// The authentication failure of a value opened under this binding, naming the column (and
    /// the row).
    pub(crate) fn authentication_failed(&self) -> Error {
        match self.row {
            None => Error::Authentication {
                context: self.column.to_owned(),
            },
            Some(key) => Error::RowAuthentication {
                context: self.column.to_owned(),
                row: key.clone(),
            },
        }
    }
}

impl<'a> From<&'a str> for Binding<'a> {
    fn from(context: &'a str) -> Self {
        Self::column(context)
    }
}

/// `0x01 | u32 BE len(context) | context | u32 BE len(key) | key`.
fn row_bound_context(context: &str, key: &RowKey) -> Vec<u8> {
    let (context, key) = (context.as_bytes(), key.as_str().as_bytes());
    let mut out = Vec::with_capacity(9 + context.len() + key.len());
    out.push(ROW_BOUND_V1);
    for part in [context, key] {
        // Neither a column name nor a primary key is 4 GiB; saturating keeps this total.
        out.extend_from_slice(&u32::try_from(part.len()).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(part);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::row_key::AsRowKey;

    #[test]
    fn the_row_bound_encoding_is_versioned_and_length_prefixed() {
        let key = RowKey::from(7_i32);
        let encoded = Binding::row("t.c", &key).encoded();
        assert_eq!(&encoded[..], b"\x01\0\0\0\x03t.c\0\0\0\x017");
        assert_eq!(&Binding::column("t.c").encoded()[..], b"t.c");
    }

    #[test]
    fn lengths_keep_column_and_key_apart() {
        let (two, twelve) = (RowKey::from("2"), RowKey::from("12"));
        let a = Binding::row("t.c1", &two).encoded().into_owned();
        let b = Binding::row("t.c", &twelve).encoded().into_owned();
        assert_ne!(a, b);
    }

    #[test]
    fn integer_keys_of_every_width_agree_and_options_may_be_unknown() {
        assert_eq!(5_u8.row_key(), 5_i64.row_key());
        assert_eq!(Some(-3_i32).row_key(), Some(RowKey::from("-3")));
        assert_eq!(None::<String>.row_key(), None);
        assert_eq!(format!("{}", RowKey::from("a\nb")), "a\\nb");
    }
}
