//! Assertions that what a database holds is ciphertext, never the plaintext.

use crate::format::envelope::is_envelope;
use crate::format::stored::{decode_base64, encode_base64};

/// The shortest plaintext worth searching for: a shorter one would turn up in random ciphertext
/// by chance.
pub const MIN_PLAINTEXT_LEN: usize = 4;

/// Asserts that every stored value is an envelope (its bytes, as in a BINARY column, or their
/// base64, as in a TEXT column) and contains none of `plaintexts`: not as bytes, not inside the
/// decoded base64 of a TEXT value, and not as base64 text (at any of the three alignments the
/// plaintext can have in a base64 stream). What a column should look like after an application
/// wrote it through `Encrypted<T, C>` or a derived model.
///
/// ```
/// use encrypted_field::testing::{assert_no_plaintext, ring};
///
/// let ring = ring();
/// let binary = ring.encrypt_with_context(b"078-05-1120", "customers._ssn");
/// let text = ring.encrypt_to_base64(b"078-05-1120", "customers._ssn");
/// assert_no_plaintext([&binary[..], text.as_bytes()], ["078-05-1120"]);
/// ```
///
/// A column that holds a plaintext, or its base64, fails:
///
/// ```should_panic
/// encrypted_field::testing::assert_no_plaintext(["MDc4LTA1LTExMjA="], ["078-05-1120"]);
/// ```
///
/// # Panics
///
/// When a value is not an envelope or contains a plaintext (naming the value's position and the
/// plaintext's, never the plaintext itself), or when a plaintext is shorter than
/// [`MIN_PLAINTEXT_LEN`] bytes.
pub fn assert_no_plaintext<V, P>(
    stored: impl IntoIterator<Item = V>,
    plaintexts: impl IntoIterator<Item = P>,
) where
    V: AsRef<[u8]>,
    P: AsRef<[u8]>,
{
    let needles: Vec<Needle> = plaintexts
        .into_iter()
        .enumerate()
        .map(|(i, plaintext)| Needle::new(i, plaintext.as_ref()))
        .collect();
    for (row, value) in stored.into_iter().enumerate() {
        let value = value.as_ref();
        let decoded = if is_envelope(value) {
            None
        } else {
            match decode_base64(value) {
                Some(bytes) if is_envelope(&bytes) => Some(bytes),
                _ => panic!(
                    "stored value #{row} ({} bytes) is neither an envelope nor the base64 of one",
                    value.len()
                ),
            }
        };
        for needle in &needles {
            if needle.found_in(value) || decoded.as_deref().is_some_and(|d| needle.found_in(d)) {
                panic!("stored value #{row} contains plaintext #{}", needle.index);
            }
        }
    }
}

/// A plaintext to search for, as bytes and as the base64 characters that depend on it alone.
struct Needle {
    index: usize,
    bytes: Vec<u8>,
    base64: [Vec<u8>; 3],
}

impl Needle {
    fn new(index: usize, bytes: &[u8]) -> Self {
        assert!(
            bytes.len() >= MIN_PLAINTEXT_LEN,
            "plaintext #{index} has {} bytes: at least {MIN_PLAINTEXT_LEN} are needed, or random \
             ciphertext would contain it by chance",
            bytes.len()
        );
        Self {
            index,
            bytes: bytes.to_vec(),
            base64: [0, 1, 2].map(|offset| base64_core(bytes, offset)),
        }
    }

    fn found_in(&self, haystack: &[u8]) -> bool {
        contains(haystack, &self.bytes)
            || self
                .base64
                .iter()
                .any(|core| !core.is_empty() && contains(haystack, core))
    }
}

/// The base64 characters of `bytes` preceded by `offset` bytes in a stream: only the characters
/// whose six bits all come from `bytes`, which are the same whatever surrounds them.
fn base64_core(bytes: &[u8], offset: usize) -> Vec<u8> {
    let mut stream = vec![0; offset];
    stream.extend_from_slice(bytes);
    let text = encode_base64(&stream);
    let (first_bit, end_bit) = (8 * offset, 8 * (offset + bytes.len()));
    text.bytes()
        .enumerate()
        .filter(|(i, _)| 6 * i >= first_bit && 6 * i + 6 <= end_bit)
        .map(|(_, c)| c)
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_base64_core_is_found_at_every_alignment() {
        let plaintext = b"078-05-1120";
        for prefix in 0..3 {
            let mut stream = vec![b'x'; prefix];
            stream.extend_from_slice(plaintext);
            stream.extend_from_slice(b"yz");
            let text = encode_base64(&stream);
            let needle = Needle::new(0, plaintext);
            assert!(needle.found_in(text.as_bytes()), "prefix {prefix}");
        }
    }

    #[test]
    #[should_panic(expected = "is neither an envelope nor the base64 of one")]
    fn plaintext_in_a_column_is_not_an_envelope() {
        assert_no_plaintext(["078-05-1120"], ["078-05-1120"]);
    }

    #[test]
    #[should_panic(expected = "at least 4 are needed")]
    fn short_plaintexts_are_refused() {
        assert_no_plaintext([b""; 0], ["42"]);
    }
}
