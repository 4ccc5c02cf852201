//! [`Json<T>`]: any serde type as an encryptable value, in its JSON form (feature `json`).

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;

use crate::error::{Error, Result};
use crate::format::plaintext::Plaintext;

/// A serde value encrypted as its JSON text: `Encrypted<Json<T>>` stores any `Serialize +
/// DeserializeOwned` type in one encrypted column.
///
/// The JSON form is computed once, by [`Json::new`], so that serializing can fail there (a map
/// with non-string keys, a failing `Serialize` impl) instead of while a row is written. The value
/// is therefore read-only; build a new `Json` to change it.
///
/// `Debug` never shows the value.
///
/// ```
/// use encrypted_field::{Json, Plaintext};
///
/// #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
/// struct Address { street: String, city: String }
///
/// let home = Json::new(Address { street: "1 Main St".into(), city: "Springfield".into() })?;
/// assert_eq!(home.to_plaintext().as_ref(), br#"{"street":"1 Main St","city":"Springfield"}"#);
/// let read = Json::<Address>::from_plaintext(home.to_plaintext().into_owned())?;
/// assert_eq!(read.city, "Springfield");
/// # Ok::<(), encrypted_field::Error>(())
/// ```
pub struct Json<T> {
    value: T,
    json: Vec<u8>,
}

impl<T: serde::Serialize> Json<T> {
    /// Wraps a value, serializing it to JSON now; fails with [`Error::InvalidPlaintext`] when it
    /// has no JSON form.
    pub fn new(value: T) -> Result<Self> {
        let json = serde_json::to_vec(&value).map_err(|_| Error::InvalidPlaintext {
            expected: "value with a JSON form (serde_json could not serialize it)",
        })?;
        Ok(Self { value, json })
    }
}

impl<T> Json<T> {
    /// The value.
    pub fn into_inner(self) -> T {
        self.value
    }
}

impl<T> Deref for Json<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: Clone> Clone for Json<T> {
    fn clone(&self) -> Self {
        Self {
            value: self.value.clone(),
            json: self.json.clone(),
        }
    }
}

impl<T: PartialEq> PartialEq for Json<T> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<T> fmt::Debug for Json<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Json(<redacted>)")
    }
}

impl<T: serde::de::DeserializeOwned> Plaintext for Json<T> {
    fn to_plaintext(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.json)
    }

    fn from_plaintext(json: Vec<u8>) -> Result<Self> {
        let value = serde_json::from_slice(&json).map_err(|_| Error::InvalidPlaintext {
            expected: "JSON document of the expected shape",
        })?;
        Ok(Self { value, json })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn value_without_a_json_form_is_refused_when_wrapped() {
        let map: BTreeMap<(u8, u8), u8> = [((1, 2), 3)].into();
        assert!(matches!(
            Json::new(map),
            Err(Error::InvalidPlaintext { .. })
        ));
    }

    #[test]
    fn json_of_another_shape_is_an_error() {
        assert!(matches!(
            Json::<Vec<u32>>::from_plaintext(b"{\"a\":1}".to_vec()),
            Err(Error::InvalidPlaintext { .. })
        ));
    }

    #[test]
    fn debug_is_redacted() {
        assert_eq!(
            format!("{:?}", Json::new("secret").unwrap()),
            "Json(<redacted>)"
        );
    }
}
