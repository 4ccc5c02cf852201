//! The context a value is bound to (`table.column`): text without control characters. A context
//! is an identity, chosen by code; a control character in one is a bug or an injection (a NUL or a
//! line break smuggled into a name), and refusing it keeps every context printable in an error
//! message and leaves room for the versioned, row-bound encodings of later releases.

use crate::error::{Error, Result};

/// Refuses a context that holds a control character (Unicode category Cc: the C0 controls,
/// DEL and the C1 controls), naming the first one's position and code point, never the rest.
///
/// ```
/// use encrypted_field::{KeyRing, MasterKey};
/// let ring = KeyRing::builder().key(1, MasterKey::generate()).build()?;
/// assert!(ring.try_encrypt_with_context(b"x", "customers._ssn").is_ok());
/// let err = ring.try_encrypt_with_context(b"x", "customers._ssn\0id=7").unwrap_err();
/// assert_eq!(err.to_string(), "invalid context: a control character (U+0000) at byte 14");
/// # Ok::<(), encrypted_field::Error>(())
/// ```
pub(crate) fn check_context(context: &str) -> Result<()> {
    // On every encrypt and decrypt: printable ASCII, the usual case, is settled by one pass over
    // the bytes (about 90 instructions for `table.column`, against about 320 for decoding chars);
    // only other text is decoded.
    let outside_printable_ascii = context
        .bytes()
        .fold(false, |seen, b| seen | !(0x20..0x7f).contains(&b));
    if !outside_printable_ascii {
        return Ok(());
    }
    match context.char_indices().find(|(_, c)| c.is_control()) {
        None => Ok(()),
        Some((at, c)) => Err(Error::InvalidContext {
            reason: format!("a control character (U+{:04X}) at byte {at}", u32::from(c)),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_contexts_pass_and_every_control_character_is_refused() {
        for good in ["", "customers._ssn", "t.c", "tâble.cölumn", "a b.c-d"] {
            assert!(check_context(good).is_ok(), "{good:?}");
        }
        for bad in [
            "\0",
            "t.c\n",
            "t\t.c",
            "t.c\u{7f}",
            "t.c\u{85}",
            "\u{9f}t.c",
            "t\r.c",
        ] {
            let err = check_context(bad).unwrap_err().to_string();
            assert!(
                err.starts_with("invalid context: a control character (U+"),
                "{bad:?}: {err}"
            );
        }
    }
}
