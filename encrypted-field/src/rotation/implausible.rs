//! [`Implausible`]: why a legacy plaintext fails a plausibility check.

use std::fmt;

/// Why a legacy plaintext is not plausible. Never holds the plaintext.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Implausible {
    /// It is not valid UTF-8.
    NotUtf8,
    /// It holds a control character other than tab, CR and LF.
    ControlCharacter,
    /// It does not match the expected pattern as a whole.
    NoMatch,
}

impl fmt::Display for Implausible {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotUtf8 => "the plaintext is not valid UTF-8 text",
            Self::ControlCharacter => {
                "the plaintext holds a control character other than tab, CR or LF"
            }
            Self::NoMatch => "the plaintext does not match the expected pattern (--expect)",
        })
    }
}
