//! [`EncryptedText<T, C>`]: an [`Encrypted<T, C>`] stored as base64 in a text column.

use std::fmt;
use std::ops::{Deref, DerefMut};

use crate::encrypted::{ColumnContext, Encrypted, NoContext};

/// A value stored encrypted in a text column (`TEXT`, `VARCHAR`): the standard base64 of the
/// envelope that [`Encrypted<T, C>`] stores in a binary column, for the same `T` and `C`.
///
/// sqlx picks the column type from the Rust type, so the text storage is this type of its own;
/// it converts to and from [`Encrypted<T, C>`] and `T`, and derefs to the plaintext.
///
/// `Debug` never shows the value.
///
/// ```
/// use encrypted_field::sqlx::{Encrypted, EncryptedText};
///
/// let note: EncryptedText<String> = "call after 5pm".to_owned().into();
/// assert_eq!(note.len(), 14);
/// assert_eq!(format!("{note:?}"), r#"EncryptedText { context: "", value: "<redacted>" }"#);
/// let binary: Encrypted<String> = note.into();
/// assert_eq!(binary.into_inner(), "call after 5pm");
/// ```
pub struct EncryptedText<T, C = NoContext>(Encrypted<T, C>);

impl<T, C> EncryptedText<T, C> {
    /// Wraps a plaintext value.
    pub const fn new(value: T) -> Self {
        Self(Encrypted::new(value))
    }

    /// The plaintext value.
    pub fn into_inner(self) -> T {
        self.0.into_inner()
    }

    /// The same value, for a binary column.
    pub(crate) fn as_binary(&self) -> &Encrypted<T, C> {
        &self.0
    }
}

impl<T, C: ColumnContext> EncryptedText<T, C> {
    /// The column context values of this type are bound to.
    pub const fn context() -> &'static str {
        C::CONTEXT
    }
}

impl<T, C> From<T> for EncryptedText<T, C> {
    fn from(value: T) -> Self {
        Self::new(value)
    }
}

impl<T, C> From<Encrypted<T, C>> for EncryptedText<T, C> {
    fn from(value: Encrypted<T, C>) -> Self {
        Self(value)
    }
}

impl<T, C> From<EncryptedText<T, C>> for Encrypted<T, C> {
    fn from(value: EncryptedText<T, C>) -> Self {
        value.0
    }
}

impl<T, C> Deref for EncryptedText<T, C> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T, C> DerefMut for EncryptedText<T, C> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T: Clone, C> Clone for EncryptedText<T, C> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T: PartialEq, C> PartialEq for EncryptedText<T, C> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl<T: Eq, C> Eq for EncryptedText<T, C> {}

impl<T: Default, C> Default for EncryptedText<T, C> {
    fn default() -> Self {
        Self(Encrypted::default())
    }
}

impl<T, C: ColumnContext> fmt::Debug for EncryptedText<T, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptedText")
            .field("context", &C::CONTEXT)
            .field("value", &"<redacted>")
            .finish()
    }
}
