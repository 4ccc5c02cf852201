//! [`KeyVersion`]: the number of a key in a ring, written into every envelope.

use std::fmt;

/// The number of a key in a [`KeyRing`](crate::KeyRing), written into every envelope.
///
/// Displayed as `v2`; parsed from `2` or `v2`.
///
/// ```
/// use encrypted_field::KeyVersion;
/// let v: KeyVersion = "v2".parse()?;
/// assert_eq!(v, KeyVersion::new(2));
/// assert_eq!(v.to_string(), "v2");
/// # Ok::<(), encrypted_field::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyVersion(u32);

impl KeyVersion {
    /// A version with this number.
    pub const fn new(number: u32) -> Self {
        Self(number)
    }

    /// The number of this version.
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl From<u32> for KeyVersion {
    fn from(number: u32) -> Self {
        Self(number)
    }
}

impl fmt::Display for KeyVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

/// As its number, in reports (`"active_version": 2`).
#[cfg(feature = "_database")]
impl serde::Serialize for KeyVersion {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u32(self.0)
    }
}
