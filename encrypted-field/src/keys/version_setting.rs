//! Reading a [`KeyVersion`] from a setting (a file or an environment variable): the error names
//! the setting, never its text.

use std::str::FromStr;

use crate::error::{BadKeyReason, Error, Result};
use crate::keys::version::KeyVersion;

impl KeyVersion {
    /// Parses a version read from a setting (a file or an environment variable) named `origin`.
    /// The error names `origin` and never the text: someone may have pasted a key there.
    ///
    /// ```
    /// use encrypted_field::KeyVersion;
    /// assert_eq!(KeyVersion::parse_setting("v3\n", "active_version")?, KeyVersion::new(3));
    /// let err = KeyVersion::parse_setting("q5Ug6ikmxxxm", "active_version").unwrap_err().to_string();
    /// assert!(err.contains("active_version") && !err.contains("q5Ug"));
    /// # Ok::<(), encrypted_field::Error>(())
    /// ```
    pub fn parse_setting(text: &str, origin: &str) -> Result<Self> {
        let trimmed = text.trim();
        let digits = trimmed.strip_prefix(['v', 'V']).unwrap_or(trimmed);
        digits
            .parse::<u32>()
            .map(Self::new)
            .map_err(|_| Error::BadKey {
                origin: origin.to_owned(),
                reason: BadKeyReason::InvalidVersion {
                    chars: trimmed.chars().count(),
                },
            })
    }
}

impl FromStr for KeyVersion {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        Self::parse_setting(text, "key version")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_parses_with_and_without_prefix() {
        assert_eq!("3".parse::<KeyVersion>().ok(), Some(KeyVersion::new(3)));
        assert_eq!(
            " v12 ".parse::<KeyVersion>().ok(),
            Some(KeyVersion::new(12))
        );
        assert!("three".parse::<KeyVersion>().is_err());
    }
}
