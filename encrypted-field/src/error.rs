//! The error of the key and format layer: loading keys, sealing and opening values, reading
//! legacy values. The operations on a database (rotation, migration, verification) have their own
//! error, `rotation::Error`, which wraps this one, as Diesel's errors wrap a driver's.
//!
//! Every variant says *what* went wrong and *where* (which key source, which key version, which
//! column), and none of them ever carries key material.

use std::fmt;

use crate::format::layout::MIN_LEN;
use crate::format::legacy::kind::LegacyFormat;
use crate::keys::version::KeyVersion;

/// Shorthand for `Result<T, encrypted_field::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while loading keys, encrypting or decrypting.
///
/// What can go wrong on a database (a rotation, a migration, a lock) is a `rotation::Error`
/// instead (with a database feature on), which holds this one as `rotation::Error::Crypto`.
#[cfg_attr(
    any(feature = "sqlite", feature = "mysql", feature = "postgres"),
    doc = "See [`rotation::Error`](crate::rotation::Error)."
)]
///
/// Callers can match on the variant; the `Display` text is meant for operators.
///
/// ```
/// use encrypted_field::{Error, KeyRing, MasterKey};
///
/// let ring = KeyRing::builder().key(1, MasterKey::generate()).build()?;
/// let sealed = ring.encrypt_with_context(b"078-05-1120", "customers._ssn");
/// match ring.decrypt_with_context(&sealed, "customers._phone") {
///     Err(Error::Authentication { context }) => assert_eq!(context, "customers._phone"),
///     other => panic!("expected an authentication failure, got {other:?}"),
/// }
/// # Ok::<(), Error>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A key could not be loaded: `origin` names where it came from (an environment variable or a
    /// file path), `reason` says what is wrong with it. The key bytes are never part of the message.
    #[error("bad key from {origin}: {reason}")]
    BadKey {
        /// Where the key came from, e.g. `DB_ENCRYPTION_KEY` or `/run/secrets/enc_key_v2`.
        origin: String,
        /// What is wrong with it.
        reason: BadKeyReason,
    },

    /// No key source is configured at all.
    #[error(
        "no encryption key is configured: set ENCRYPTED_FIELD_KEYS_DIR (a directory of enc_key_vN files), \
         DB_ENCRYPTION_KEY_FILE (one key file) or DB_ENCRYPTION_KEY (one base64 key), \
         or install a KeyRing with encrypted_field::install"
    )]
    NoKeyConfigured,

    /// A value was encrypted with a key version that the ring does not hold.
    #[error(
        "key version {0} is not in the key ring (the value was written with a key that is not loaded)"
    )]
    UnknownKeyVersion(KeyVersion),

    /// The bytes are not a format-v1 envelope at all (too short, wrong marker, bad base64, …).
    #[error("malformed encrypted value: {0}")]
    Malformed(MalformedReason),

    /// The envelope's tag did not verify: the value was tampered with or truncated, or it was
    /// encrypted for another column (context) or with another key of the same version number.
    ///
    /// These causes are deliberately indistinguishable: telling them apart would help an attacker.
    #[error(
        "authentication failed{}: the value was tampered with or truncated, or belongs to another column or key",
        if context.is_empty() { String::new() } else { format!(" for column `{context}`") }
    )]
    Authentication {
        /// The context (column identity) the caller asked for; empty when none was given.
        context: String,
    },

    /// The tag of a row-bound value (`#[encrypted(bind_row)]`, [`RowBound`](crate::RowBound)) did
    /// not verify for this column and row: the value was copied from another row (or column),
    /// tampered with or truncated, or sealed with another key of the same version number.
    #[error(
        "authentication failed for column `{context}`, row `{row}`: the value was tampered with or truncated, \
         or belongs to another row, column or key"
    )]
    RowAuthentication {
        /// The column context (`table.column`) the caller asked for.
        context: String,
        /// The primary key of the row the caller asked for.
        row: crate::format::row_key::RowKey,
    },

    /// A row-bound value was sealed or opened for a row whose primary key is not known yet (an
    /// auto-increment key before the row is inserted).
    #[error(
        "column `{context}` is bound to its row, but the row's primary key is not known yet: \
         insert the row first (leaving the column NULL), then set the value and update the row"
    )]
    RowKeyUnknown {
        /// The column context (`table.column`).
        context: String,
    },

    /// A context (the column identity a value is bound to) holds a control character.
    #[error("invalid context: {reason}")]
    InvalidContext {
        /// What is wrong and where (a position and a code point, never the context).
        reason: String,
    },

    /// The value decrypted correctly but is not valid for the requested type (e.g. not UTF-8).
    #[error("decrypted value is not a valid {expected}")]
    InvalidPlaintext {
        /// The type that was expected, e.g. `UTF-8 string`.
        expected: &'static str,
    },

    /// A value in a legacy format (read for migration only) could not be read.
    #[error("legacy {format} value: {reason}")]
    Legacy {
        /// The legacy format that was being read.
        format: LegacyFormat,
        /// What is wrong with the value.
        reason: &'static str,
    },

    /// Encrypting or decrypting the value of a known column failed: `column` is its context
    /// (`table.column`), `error` says why. Raised by the Diesel types, whose errors would otherwise
    /// not say which column they came from.
    #[error("column `{column}`: {error}")]
    Column {
        /// The column's context, e.g. `phone_requests.phone_number`.
        column: String,
        /// What went wrong.
        error: Box<Error>,
    },

    /// The process-wide key ring was installed twice.
    #[error("a process-wide key ring is already installed (install it once, at start-up)")]
    AlreadyInstalled,

    /// No blind-index key is configured but a blind index was asked for.
    #[error(
        "no blind-index key is configured: set DB_BLIND_INDEX_KEY or DB_BLIND_INDEX_KEY_FILE \
         (a key of its own, never the encryption key)"
    )]
    NoBlindIndexKey,

    /// The operating system's random number generator failed, so no key or IV was made.
    #[error("the operating system's random number generator failed: {0}")]
    Randomness(String),

    /// A key-encryption-key provider (a KMS, an HSM) could not wrap or unwrap a key version:
    /// which version, which file, which provider and key URI, after how many attempts, and the
    /// provider's reason. Neither the key nor its wrapped bytes are ever part of it.
    #[cfg(feature = "key-wrapping")]
    #[cfg_attr(docsrs, doc(cfg(feature = "key-wrapping")))]
    #[error(transparent)]
    KeyWrapping(Box<crate::keys::wrap::KeyWrapFailure>),

    /// A key-ring change on disk or another operation on a file or directory failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done, e.g. `writing key file`.
        action: &'static str,
        /// The path involved.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

#[cfg(feature = "key-wrapping")]
impl From<crate::keys::wrap::KeyWrapFailure> for Error {
    fn from(failure: crate::keys::wrap::KeyWrapFailure) -> Self {
        Self::KeyWrapping(Box::new(failure))
    }
}

impl Error {
    /// Names the column (`context`, `table.column`) in an error that does not already name it:
    /// for an application that opens a stored value itself (a getter of `#[derive(EncryptedModel)]`,
    /// [`KeyRing::decrypt_with_context`](crate::KeyRing::decrypt_with_context)) and reports which
    /// column failed. A failed authentication already names its column, and so does an error
    /// named once; with an empty `context` the error is returned as it is.
    ///
    /// ```
    /// use encrypted_field::Error;
    ///
    /// let err = Error::NoKeyConfigured.in_column("phone_requests.phone_number");
    /// assert!(matches!(&err, Error::Column { column, .. } if column == "phone_requests.phone_number"));
    /// // Already named: naming it again changes nothing.
    /// let again = err.in_column("customers._ssn");
    /// assert!(matches!(&again, Error::Column { column, .. } if column == "phone_requests.phone_number"));
    /// ```
    #[cold]
    #[must_use]
    pub fn in_column(self, context: &str) -> Self {
        match self {
            // Without a context there is no column to name.
            error if context.is_empty() => error,
            // Already names it.
            error @ (Self::Authentication { .. }
            | Self::RowAuthentication { .. }
            | Self::RowKeyUnknown { .. }
            | Self::Column { .. }) => error,
            error => Self::Column {
                column: context.to_owned(),
                error: Box::new(error),
            },
        }
    }
}

/// Why a key could not be used. Part of [`Error::BadKey`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BadKeyReason {
    /// The source is set but holds nothing but white space.
    Empty,
    /// The text is not standard base64.
    NotBase64,
    /// The key decodes to the wrong number of bytes.
    WrongLength {
        /// How many bytes it decoded to.
        found: usize,
    },
    /// The file or directory could not be read.
    Unreadable(String),
    /// The keys directory holds no `enc_key_vN` file.
    NoKeysInDirectory,
    /// Two files hold the same version (e.g. `enc_key_v1` and `enc_key_v1.txt`).
    DuplicateVersion(KeyVersion),
    /// The requested active version is not among the loaded keys.
    ActiveVersionMissing(KeyVersion),
    /// The active version setting is not a version number. Only its length is kept: the text
    /// itself may be anything (a key pasted into the wrong place) and is never shown.
    InvalidVersion {
        /// How many characters it holds, after surrounding white space.
        chars: usize,
    },
    /// Group or others can write the key file or its directory, so they could replace the key.
    WritableByOthers {
        /// The file or directory (links resolved).
        path: String,
        /// Its permission bits.
        mode: u32,
    },
    /// Two versions hold the same key bytes (a key file copied under a second name?): rotating
    /// from one to the other would change nothing while looking done.
    SameKeyTwice(KeyVersion, KeyVersion),
    /// The blind-index key is the same as an encryption key.
    SameAsEncryptionKey,
    /// The key ring has no key at all.
    NoKeys,
    /// The text is URL-safe base64, as a Fernet key (the Django module's) is.
    UrlSafeBase64,
}

impl fmt::Display for BadKeyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("it is empty"),
            Self::NotBase64 => f.write_str(
                "it is not standard base64 (make one with `openssl rand -base64 32` or `encrypted-field keygen`)",
            ),
            Self::WrongLength { found } => {
                write!(f, "it decodes to {found} bytes, but a key is exactly 32 bytes")
            }
            Self::Unreadable(why) => write!(f, "cannot read it: {why}"),
            Self::NoKeysInDirectory => {
                f.write_str("the directory holds no key file named enc_key_v1, enc_key_v2, … (a .txt suffix is allowed)")
            }
            Self::DuplicateVersion(v) => write!(f, "key version {v} is given by two files"),
            Self::ActiveVersionMissing(v) => {
                write!(f, "the active version is {v}, but no key with that version is loaded")
            }
            Self::InvalidVersion { chars } => write!(
                f,
                "it is not a key version number (expected e.g. 2 or v2); its {chars} characters are not shown"
            ),
            Self::WritableByOthers { path, mode } => write!(
                f,
                "{path} has mode {mode:04o}: group or others can write it and so replace the key; \
                 run `chmod go-w {path}`"
            ),
            Self::SameKeyTwice(a, b) => write!(
                f,
                "key versions {a} and {b} hold the same key; every version needs a key of its own \
                 (make one with `encrypted-field keygen`)"
            ),
            Self::SameAsEncryptionKey => {
                f.write_str("the blind-index key must differ from every encryption key")
            }
            Self::NoKeys => f.write_str("the key ring holds no key"),
            Self::UrlSafeBase64 => f.write_str(
                "it is URL-safe base64 (`-` or `_`), the alphabet of a Fernet key such as the Django \
                 module's DB_ENCRYPTION_KEY; a key here is a new one in standard base64 (make one with \
                 `encrypted-field keygen` or `openssl rand -base64 32`)",
            ),
        }
    }
}

/// Why bytes are not a well-formed envelope. Part of [`Error::Malformed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MalformedReason {
    /// Shorter than the smallest possible envelope.
    TooShort {
        /// The length that was found.
        len: usize,
    },
    /// Does not start with the `EF` marker.
    NotAnEnvelope,
    /// The marker is there but the format byte is one this release does not know.
    UnsupportedFormat(u8),
    /// The ciphertext is not a whole number of AES blocks.
    BadLength {
        /// The length that was found.
        len: usize,
    },
    /// A TEXT column holds something that is not standard base64.
    NotBase64,
}

impl fmt::Display for MalformedReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort { len } => write!(
                f,
                "{len} bytes is shorter than the smallest envelope ({} bytes); it may be truncated",
                MIN_LEN
            ),
            Self::NotAnEnvelope => f.write_str(
                "it does not start with the `EF` marker (plaintext or a legacy format? see `encrypted-field migrate`)",
            ),
            Self::UnsupportedFormat(v) => write!(
                f,
                "format version {v} is not supported by this release (it reads version 1)"
            ),
            Self::BadLength { len } => write!(
                f,
                "{len} bytes does not match the envelope layout; it may be truncated"
            ),
            Self::NotBase64 => f.write_str("the text is not standard base64"),
        }
    }
}
