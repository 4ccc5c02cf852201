//! The stored form of a value: what a BINARY or TEXT column holds for an envelope or a blind
//! index, and the one base64 policy by which every reader of a TEXT column decodes it.
//!
//! The sealing and opening themselves, which need a key ring, are in `crate::codec`.

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::error::{Error, MalformedReason, Result};

/// How a column stores its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Storage {
    /// Raw bytes (`BLOB`, `VARBINARY`, `BYTEA`): the envelope itself, or a blind index (32 bytes,
    /// 38 with a key version prefix).
    Binary,
    /// Text (`TEXT`, `VARCHAR`): the standard base64 of the envelope, or the lowercase hex of a
    /// blind index.
    Text,
}

impl fmt::Display for Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Binary => "binary",
            Self::Text => "text",
        })
    }
}

/// The base64 policy: the standard alphabet with padding, ASCII white space anywhere ignored
/// (a trailing newline, lines wrapped by `base64`). `None` when `text` is not that.
pub(crate) fn decode_base64(text: &[u8]) -> Option<Vec<u8>> {
    let trimmed = text.trim_ascii();
    if trimmed.iter().any(u8::is_ascii_whitespace) {
        let compact: Vec<u8> = trimmed
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        STANDARD.decode(compact).ok()
    } else {
        STANDARD.decode(trimmed).ok()
    }
}

/// The standard base64 (with padding) of `bytes`, as a TEXT column stores an envelope.
pub(crate) fn encode_base64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// The envelope bytes of a stored value: the value itself for BINARY, its decoded base64 for TEXT.
pub(crate) fn envelope_bytes(storage: Storage, stored: &[u8]) -> Result<Cow<'_, [u8]>> {
    match storage {
        Storage::Binary => Ok(Cow::Borrowed(stored)),
        Storage::Text => decode_base64(stored)
            .map(Cow::Owned)
            .ok_or(Error::Malformed(MalformedReason::NotBase64)),
    }
}

/// What a column of `storage` stores for `envelope`.
pub(crate) fn stored_envelope(storage: Storage, envelope: Vec<u8>) -> Vec<u8> {
    match storage {
        Storage::Binary => envelope,
        Storage::Text => encode_base64(&envelope).into_bytes(),
    }
}

/// What a blind-index column of `storage` stores for `index` (its binary form, bare or
/// version-prefixed): those bytes, or their lowercase hex digits.
pub(crate) fn stored_blind_index(storage: Storage, index: Vec<u8>) -> Vec<u8> {
    match storage {
        Storage::Binary => index,
        Storage::Text => lowercase_hex(&index).into_bytes(),
    }
}

/// The binary form of what a blind-index column of `storage` stores: the bytes themselves, or
/// the bytes of its hex digits (either case). `None` when a text column holds something else.
#[cfg(feature = "_database")]
pub(crate) fn blind_index_bytes(storage: Storage, stored: &[u8]) -> Option<Cow<'_, [u8]>> {
    match storage {
        Storage::Binary => Some(Cow::Borrowed(stored)),
        Storage::Text => hex_bytes(stored.trim_ascii()).map(Cow::Owned),
    }
}

/// The bytes of an even number of hex digits.
#[cfg(feature = "_database")]
fn hex_bytes(digits: &[u8]) -> Option<Vec<u8>> {
    fn value(digit: u8) -> Option<u8> {
        char::from(digit)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    }
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks_exact(2)
        .map(|pair| Some(value(pair[0])? << 4 | value(pair[1])?))
        .collect()
}

/// The lowercase hex digits of `bytes`.
fn lowercase_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .fold(String::with_capacity(2 * bytes.len()), |mut hex, byte| {
            hex.push(char::from(DIGITS[usize::from(byte >> 4)]));
            hex.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
            hex
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_may_be_wrapped_and_end_in_a_newline() {
        assert_eq!(decode_base64(b"RUYB\nAAAA\r\n").unwrap(), b"EF\x01\0\0\0");
        assert_eq!(decode_base64(b" RUYBAAAA ").unwrap(), b"EF\x01\0\0\0");
    }

    #[test]
    fn text_that_is_not_standard_base64_is_refused() {
        for text in [&b"EF\x01 raw"[..], b"RUYB-AAA", b"RUYBAAA", b"***"] {
            assert_eq!(decode_base64(text), None, "{text:?}");
        }
        assert!(matches!(
            envelope_bytes(Storage::Text, b"***"),
            Err(Error::Malformed(MalformedReason::NotBase64))
        ));
    }

    #[test]
    fn a_text_column_holds_base64_and_hex() {
        assert_eq!(stored_envelope(Storage::Text, b"EF\x01".to_vec()), b"RUYB");
        assert_eq!(
            stored_envelope(Storage::Binary, b"EF\x01".to_vec()),
            b"EF\x01"
        );
        let index = [0xab; 32];
        assert_eq!(
            stored_blind_index(Storage::Text, index.to_vec()),
            "ab".repeat(32).as_bytes()
        );
        assert_eq!(stored_blind_index(Storage::Binary, index.to_vec()), index);
    }

    #[cfg(feature = "_database")]
    #[test]
    fn a_stored_index_reads_back_as_its_binary_form() {
        let index = b"BI\0\0\0\x02\xab".to_vec();
        let text = stored_blind_index(Storage::Text, index.clone());
        assert_eq!(text, b"424900000002ab");
        assert_eq!(blind_index_bytes(Storage::Text, &text).unwrap(), index);
        assert_eq!(
            blind_index_bytes(Storage::Text, b"424900000002AB\n").unwrap(),
            index
        );
        assert_eq!(blind_index_bytes(Storage::Binary, &index).unwrap(), index);
        assert_eq!(blind_index_bytes(Storage::Text, b"abc"), None);
        assert_eq!(blind_index_bytes(Storage::Text, b"zz"), None);
    }
}
