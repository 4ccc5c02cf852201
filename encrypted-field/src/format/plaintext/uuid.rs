//! `uuid::Uuid` as a plaintext (feature `uuid`): its 36 lowercase hyphenated characters.

use std::borrow::Cow;

use ::uuid::Uuid;

use super::{Plaintext, canonical};
use crate::error::Result;

impl Plaintext for Uuid {
    fn to_plaintext(&self) -> Cow<'_, [u8]> {
        let mut text = [0_u8; 36];
        self.hyphenated().encode_lower(&mut text);
        Cow::Owned(text.to_vec())
    }

    fn from_plaintext(bytes: Vec<u8>) -> Result<Self> {
        // `try_parse_ascii` also takes the simple, braced, URN and upper-case forms; `canonical`
        // keeps only the one this type writes.
        let value = Uuid::try_parse_ascii(&bytes).ok();
        canonical(value, &bytes, "lowercase hyphenated UUID")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_lowercase_hyphenated_text() {
        let text = "67e55044-10b1-426f-9247-bb680e5fe0c8";
        let value = Uuid::try_parse(text).unwrap();
        assert_eq!(value.to_plaintext().as_ref(), text.as_bytes());
        assert_eq!(Uuid::from_plaintext(text.into()).unwrap(), value);
    }

    #[test]
    fn other_forms_of_a_uuid_are_rejected() {
        for bad in [
            "67E55044-10B1-426F-9247-BB680E5FE0C8",
            "67e5504410b1426f9247bb680e5fe0c8",
            "{67e55044-10b1-426f-9247-bb680e5fe0c8}",
            "urn:uuid:67e55044-10b1-426f-9247-bb680e5fe0c8",
            "67e55044-10b1-426f-9247-bb680e5fe0c",
            "",
        ] {
            assert!(Uuid::from_plaintext(bad.into()).is_err(), "{bad}");
        }
    }
}
