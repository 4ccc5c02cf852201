//! Plausibility checks on the plaintext of a legacy value that nothing authenticates (`node-cbc`,
//! whose only check is the padding, which a wrong key passes about one time in 256; and
//! `plaintext`): a value that fails them is never sealed, so a wrong key cannot turn the only copy
//! of a value into an envelope of garbage.

use regex::Regex;

use crate::format::legacy::LegacyFormat;
use crate::rotation::error::{Error, Result};
use crate::rotation::implausible::Implausible;

/// What every legacy plaintext must look like before migration seals it.
///
/// By default a plaintext must be UTF-8 text with no control character other than tab, CR and LF
/// (the Node backend encrypted strings); [`allow_bytes`](Self::allow_bytes) drops that check for
/// binary values. [`expect`](Self::expect) adds a regular expression the whole plaintext must match.
///
/// ```
/// use encrypted_field::rotation::{Implausible, LegacyChecks};
/// let checks = LegacyChecks::new().expect(r"\+1 555 \d{4}")?;
/// assert_eq!(checks.check(b"+1 555 0100"), Ok(()));
/// assert_eq!(checks.check(b"+1 555 0100 x"), Err(Implausible::NoMatch));
/// assert_eq!(checks.check(&[0xff, 0x31]), Err(Implausible::NotUtf8));
/// assert_eq!(LegacyChecks::new().check(b"a\x07b"), Err(Implausible::ControlCharacter));
/// assert_eq!(LegacyChecks::new().allow_bytes(true).check(&[0xff, 0x07]), Ok(()));
/// # Ok::<(), encrypted_field::rotation::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct LegacyChecks {
    allow_bytes: bool,
    expect: Option<Regex>,
}

impl LegacyChecks {
    /// Text checks only: valid UTF-8, no control character other than tab, CR and LF.
    pub fn new() -> Self {
        Self::default()
    }

    /// Accepts any bytes (no UTF-8 or control-character check), for columns of binary values.
    pub fn allow_bytes(mut self, allow: bool) -> Self {
        self.allow_bytes = allow;
        self
    }

    /// Requires every plaintext to match `pattern` as a whole (it is anchored at both ends). A
    /// pattern that does not compile is an [`Error::InvalidPattern`].
    pub fn expect(mut self, pattern: &str) -> Result<Self> {
        let anchored = format!(r"\A(?:{pattern})\z");
        let regex = Regex::new(&anchored).map_err(|e| Error::InvalidPattern {
            reason: e
                .to_string()
                .lines()
                .last()
                .unwrap_or_default()
                .trim()
                .to_owned(),
        })?;
        self.expect = Some(regex);
        Ok(self)
    }

    /// Whether a migration from `format` runs these checks: always for `node-cbc` (no
    /// authentication), and for any format when a pattern is expected.
    pub fn apply_to(&self, format: LegacyFormat) -> bool {
        format == LegacyFormat::NodeCbc || self.expect.is_some()
    }

    /// Checks one plaintext.
    pub fn check(&self, plaintext: &[u8]) -> std::result::Result<(), Implausible> {
        let text = std::str::from_utf8(plaintext);
        if !self.allow_bytes {
            let text = text.map_err(|_| Implausible::NotUtf8)?;
            if text
                .chars()
                .any(|c| c.is_control() && !matches!(c, '\t' | '\r' | '\n'))
            {
                return Err(Implausible::ControlCharacter);
            }
        }
        match &self.expect {
            Some(regex) if !text.is_ok_and(|t| regex.is_match(t)) => Err(Implausible::NoMatch),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tab_cr_and_lf_are_text() {
        assert_eq!(LegacyChecks::new().check(b"a\tb\r\nc"), Ok(()));
    }

    #[test]
    fn delete_and_c1_controls_are_not_text() {
        assert_eq!(
            LegacyChecks::new().check(b"a\x7fb"),
            Err(Implausible::ControlCharacter)
        );
        assert_eq!(
            LegacyChecks::new().check("a\u{85}b".as_bytes()),
            Err(Implausible::ControlCharacter)
        );
    }

    #[test]
    fn the_pattern_must_match_the_whole_plaintext() {
        let checks = LegacyChecks::new().expect(r"\d{3}-\d{2}-\d{4}").unwrap();
        assert_eq!(checks.check(b"078-05-1120"), Ok(()));
        assert_eq!(checks.check(b"x078-05-1120"), Err(Implausible::NoMatch));
        assert_eq!(checks.check(b"078-05-1120\n"), Err(Implausible::NoMatch));
        let either = LegacyChecks::new().expect("a|b").unwrap();
        assert_eq!(either.check(b"ab"), Err(Implausible::NoMatch));
    }

    #[test]
    fn bytes_that_are_not_utf8_never_match_a_pattern() {
        let checks = LegacyChecks::new().allow_bytes(true).expect(".*").unwrap();
        assert_eq!(checks.check(&[0xff]), Err(Implausible::NoMatch));
    }

    #[test]
    fn a_bad_pattern_is_an_error() {
        assert!(matches!(
            LegacyChecks::new().expect("("),
            Err(Error::InvalidPattern { .. })
        ));
    }

    #[test]
    fn checks_apply_to_node_cbc_always_and_elsewhere_with_a_pattern() {
        let plain = LegacyChecks::new();
        assert!(plain.apply_to(LegacyFormat::NodeCbc));
        assert!(!plain.apply_to(LegacyFormat::Plaintext));
        assert!(!plain.apply_to(LegacyFormat::Fernet));
        let expect = LegacyChecks::new().expect(".+").unwrap();
        assert!(expect.apply_to(LegacyFormat::Plaintext));
    }
}
