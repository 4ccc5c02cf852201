//! The byte layout of a format-v1 envelope: its marker, header and lengths. Needs nothing else,
//! so the error type can name the lengths it reports.

/// The two bytes every envelope starts with.
pub const MAGIC: [u8; 2] = *b"EF";
/// The format byte of this layout.
pub const FORMAT_V1: u8 = 0x01;
/// Length of the header: magic, format byte, key version.
pub const HEADER_LEN: usize = 2 + 1 + 4;
/// Length of the IV.
pub const IV_LEN: usize = 16;
/// Length of the HMAC-SHA256 tag.
pub const TAG_LEN: usize = 32;
/// The AES block size.
pub(crate) const BLOCK_LEN: usize = 16;
/// The shortest possible envelope: header, IV, one padded block, tag.
pub const MIN_LEN: usize = HEADER_LEN + IV_LEN + BLOCK_LEN + TAG_LEN;
