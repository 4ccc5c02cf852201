//! [`Pkcs11Uri`]: the RFC 7512 URI that names a key-encryption key on a PKCS#11 token.
//!
//! A small strict parser (no well-kept crate parses RFC 7512): the path attributes
//! `token`, `manufacturer`, `serial`, `model`, `object`, `id` and `type`, the query attributes
//! `module-path` and `pin-source`, percent-decoding, and a clear error for anything else (an
//! unknown or repeated attribute, `pin-value`: a PIN does not belong in a URI written into key
//! files). Vendor attributes (`x-…`) are accepted and ignored, as the RFC allows.

use std::path::PathBuf;

use percent_encoding::percent_decode_str;

use super::super::{WrapError, WrapErrorKind};

/// A parsed `pkcs11:` URI naming a secret key (RFC 7512).
///
/// ```
/// use encrypted_field::keys::wrap::Pkcs11Uri;
/// let uri = Pkcs11Uri::parse("pkcs11:token=prod%20hsm;object=ef-kek;type=secret-key")?;
/// assert_eq!(uri.token, "prod hsm");
/// assert_eq!(uri.object.as_deref(), Some("ef-kek"));
/// assert!(Pkcs11Uri::parse("pkcs11:token=a;object=b?pin-value=1234").is_err());
/// # Ok::<(), encrypted_field::keys::wrap::WrapError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Pkcs11Uri {
    /// The token's label (`token=`), required.
    pub token: String,
    /// The token's manufacturer (`manufacturer=`), if given.
    pub manufacturer: Option<String>,
    /// The token's serial number (`serial=`), if given.
    pub serial: Option<String>,
    /// The token's model (`model=`), if given.
    pub model: Option<String>,
    /// The key's label (`object=`).
    pub object: Option<String>,
    /// The key's `CKA_ID` (`id=`, percent-encoded bytes).
    pub id: Option<Vec<u8>>,
    /// The module to load (`?module-path=`), instead of `PKCS11_MODULE`.
    pub module_path: Option<PathBuf>,
    /// A file holding the PIN (`?pin-source=file:…` or a path), instead of `PKCS11_PIN(_FILE)`.
    pub pin_source: Option<PathBuf>,
}

fn bad(why: impl Into<String>) -> WrapError {
    WrapError::new(WrapErrorKind::BadUri, why)
}

fn decode(name: &str, value: &str) -> Result<Vec<u8>, WrapError> {
    // A `%` not followed by two hex digits is kept as it is by percent_decode: refuse it.
    let bytes = value.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'%'
            && !(bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
        {
            return Err(bad(format!(
                "attribute `{name}`: `%` must be followed by two hexadecimal digits"
            )));
        }
    }
    Ok(percent_decode_str(value).collect())
}

fn text(name: &str, value: &str) -> Result<String, WrapError> {
    String::from_utf8(decode(name, value)?).map_err(|_| {
        bad(format!(
            "attribute `{name}` is not UTF-8 once percent-decoded"
        ))
    })
}

fn set<T>(slot: &mut Option<T>, name: &str, value: T) -> Result<(), WrapError> {
    if slot.replace(value).is_some() {
        return Err(bad(format!("attribute `{name}` is given twice")));
    }
    Ok(())
}

impl Pkcs11Uri {
    /// Parses `uri`; the error names the attribute at fault.
    pub fn parse(uri: &str) -> Result<Self, WrapError> {
        let rest = uri
            .strip_prefix("pkcs11:")
            .ok_or_else(|| bad("a PKCS#11 URI starts with `pkcs11:`"))?;
        let (path, query) = match rest.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (rest, None),
        };
        let mut parsed = Self::default();
        let mut token = None;
        for attribute in path.split(';').filter(|a| !a.is_empty()) {
            let (name, value) = attribute
                .split_once('=')
                .ok_or_else(|| bad(format!("path attribute `{attribute}` has no `=`")))?;
            match name {
                "token" => set(&mut token, name, text(name, value)?)?,
                "manufacturer" => set(&mut parsed.manufacturer, name, text(name, value)?)?,
                "serial" => set(&mut parsed.serial, name, text(name, value)?)?,
                "model" => set(&mut parsed.model, name, text(name, value)?)?,
                "object" => set(&mut parsed.object, name, text(name, value)?)?,
                "id" => set(&mut parsed.id, name, decode(name, value)?)?,
                "type" => {
                    if text(name, value)? != "secret-key" {
                        return Err(bad(
                            "attribute `type`: a key-encryption key is a `secret-key`",
                        ));
                    }
                }
                "library-manufacturer"
                | "library-description"
                | "library-version"
                | "slot-manufacturer"
                | "slot-description"
                | "slot-id" => {
                    return Err(bad(format!(
                        "attribute `{name}` is not supported here: name the token by `token=` \
                         (its label)"
                    )));
                }
                vendor if vendor.starts_with("x-") => {}
                other => return Err(bad(format!("unknown path attribute `{other}`"))),
            }
        }
        for attribute in query.into_iter().flat_map(|q| q.split('&')) {
            if attribute.is_empty() {
                continue;
            }
            let (name, value) = attribute
                .split_once('=')
                .ok_or_else(|| bad(format!("query attribute `{attribute}` has no `=`")))?;
            match name {
                "module-path" => set(
                    &mut parsed.module_path,
                    name,
                    PathBuf::from(text(name, value)?),
                )?,
                "pin-source" => {
                    let source = text(name, value)?;
                    let path = source.strip_prefix("file:").unwrap_or(&source);
                    set(&mut parsed.pin_source, name, PathBuf::from(path))?;
                }
                "pin-value" => {
                    return Err(bad(
                        "`pin-value` is refused: the URI is written into key files; set \
                         PKCS11_PIN or PKCS11_PIN_FILE instead",
                    ));
                }
                vendor if vendor.starts_with("x-") => {}
                other => return Err(bad(format!("unknown query attribute `{other}`"))),
            }
        }
        parsed.token = token.ok_or_else(|| bad("the token is missing (`token=<label>`)"))?;
        if parsed.object.is_none() && parsed.id.is_none() {
            return Err(bad("the key is missing (`object=<label>` or `id=<bytes>`)"));
        }
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind_and_text(uri: &str) -> (WrapErrorKind, String) {
        let err = Pkcs11Uri::parse(uri).unwrap_err();
        (err.kind(), err.to_string())
    }

    #[test]
    fn the_rfc_examples_parse() {
        let uri = Pkcs11Uri::parse(
            "pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;manufacturer=Snake%20Oil,%20Inc.;\
             model=1.0;object=my-certificate;type=secret-key;id=%69%95%3E%5C%F4%BD%EC%91\
             ?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/token_pin",
        )
        .unwrap();
        assert_eq!(uri.token, "The Software PKCS#11 Softtoken");
        assert_eq!(uri.manufacturer.as_deref(), Some("Snake Oil, Inc."));
        assert_eq!(uri.model.as_deref(), Some("1.0"));
        assert_eq!(uri.object.as_deref(), Some("my-certificate"));
        assert_eq!(
            uri.id.as_deref(),
            Some(&[0x69, 0x95, 0x3e, 0x5c, 0xf4, 0xbd, 0xec, 0x91][..])
        );
        assert_eq!(
            uri.module_path.as_deref(),
            Some(std::path::Path::new("/usr/lib/softhsm/libsofthsm2.so"))
        );
        assert_eq!(
            uri.pin_source.as_deref(),
            Some(std::path::Path::new("/etc/token_pin"))
        );
    }

    #[test]
    fn vendor_attributes_are_ignored() {
        let uri = Pkcs11Uri::parse("pkcs11:token=t;object=k;x-vendor=1?x-other=2").unwrap();
        assert_eq!(uri.token, "t");
    }

    #[test]
    fn mistakes_are_named() {
        for (uri, says) in [
            ("aws-kms://x", "starts with `pkcs11:`"),
            ("pkcs11:object=k", "token is missing"),
            ("pkcs11:token=t", "key is missing"),
            (
                "pkcs11:token=t;object=k;object=j",
                "`object` is given twice",
            ),
            (
                "pkcs11:token=t;object=k;colour=red",
                "unknown path attribute `colour`",
            ),
            ("pkcs11:token=t;object=k;type=private", "secret-key"),
            ("pkcs11:token=t;object=%zz", "two hexadecimal digits"),
            ("pkcs11:token=t;object=%ff", "not UTF-8"),
            ("pkcs11:token=t;object", "has no `=`"),
            ("pkcs11:token=t;object=k?pin-value=1234", "PKCS11_PIN"),
            (
                "pkcs11:token=t;object=k?colour=red",
                "unknown query attribute",
            ),
            ("pkcs11:token=t;slot-id=1;object=k", "not supported"),
        ] {
            let (kind, shown) = kind_and_text(uri);
            assert_eq!(kind, WrapErrorKind::BadUri, "{uri}");
            assert!(shown.contains(says), "{uri}: {shown}");
        }
    }

    #[test]
    fn a_pin_in_the_uri_is_never_echoed() {
        let (_, shown) = kind_and_text("pkcs11:token=t;object=k?pin-value=98765");
        assert!(!shown.contains("98765"), "{shown}");
    }
}
