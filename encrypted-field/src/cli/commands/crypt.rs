//! `encrypt` and `decrypt`: one value, stdin to stdout, in format v1 (or a legacy format, read).

use zeroize::Zeroizing;

use super::emit;
use crate::cli::error::{CliError, KeySources};
use crate::cli::key_ring as ring;
use crate::cli::{DecryptArgs, EncryptArgs, Io, LegacySource};
use crate::error::Error;
use crate::format::legacy::{self, LegacyFormat, LegacyKey};
use crate::format::row_key::RowKey;
use crate::format::stored::{decode_base64, encode_base64};
use crate::keys::env::EnvVars;

/// Seals stdin with the active key; prints base64 and a newline, or the raw bytes with `--binary`.
pub(super) fn encrypt(vars: &EnvVars, args: &EncryptArgs, io: &mut Io<'_>) -> Result<(), CliError> {
    let ring = ring::load(vars, &args.keys)?;
    let plaintext = read_stdin(io)?;
    // `try_`: a `--context` with a control character is the user's mistake, not a panic.
    let context = args.context.as_deref().unwrap_or("");
    let sealed = match &args.row {
        Some(row) => ring.try_encrypt_for_row(&plaintext, context, &RowKey::from(row)),
        None => ring.try_encrypt_with_context(&plaintext, context),
    }
    .map_err(|e| match e {
        Error::InvalidContext { .. } => CliError::usage(format!("--context: {e}")),
        other => CliError::usage(other.to_string()),
    })?;
    if args.binary {
        emit(io, &sealed)
    } else {
        let mut text = encode_base64(&sealed);
        text.push('\n');
        emit(io, text.as_bytes())
    }
}

/// Opens the value on stdin (base64 text, or raw bytes with `--binary`) and prints its plaintext.
pub(super) fn decrypt(vars: &EnvVars, args: &DecryptArgs, io: &mut Io<'_>) -> Result<(), CliError> {
    if let Some(source) = args.from {
        return decrypt_legacy(source, args, io);
    }
    let ring = ring::load(vars, &args.keys)?;
    let input = read_stdin(io)?;
    let envelope = if args.binary {
        input
    } else {
        decode_base64_text(&input)?
    };
    let context = args.context.as_deref().unwrap_or("");
    let plaintext = match &args.row {
        Some(row) => ring.decrypt_for_row(&envelope, context, &RowKey::from(row)),
        None => ring.decrypt_with_context(&envelope, context),
    }
    .map(Zeroizing::new)
    .map_err(|e| CliError::failure(format!("decrypting the value on stdin: {e}")))?;
    emit(io, &plaintext)
}

/// Reads one value of a replaced system with that system's key file.
fn decrypt_legacy(
    source: LegacySource,
    args: &DecryptArgs,
    io: &mut Io<'_>,
) -> Result<(), CliError> {
    let format = LegacyFormat::from(source);
    let path = args.keys.key_file.as_deref().ok_or_else(|| {
        CliError::usage(format!(
            "decrypt --from {format} needs --key-file FILE: the {format} key"
        ))
    })?;
    let sources = KeySources {
        key_file: Some(path),
        ..KeySources::default()
    };
    let key = LegacyKey::from_file(format, path).map_err(|e| CliError::keys(&e, &sources))?;
    let input = read_stdin(io)?;
    let plaintext = legacy::read(&key, &input)
        .map(Zeroizing::new)
        .map_err(|err| {
            let why = match err {
                Error::Legacy { reason, .. } => reason.to_owned(),
                other => other.to_string(),
            };
            CliError::failure(format!("decrypting the {format} value on stdin: {why}"))
        })?;
    emit(io, &plaintext)
}

fn read_stdin(io: &mut Io<'_>) -> Result<Zeroizing<Vec<u8>>, CliError> {
    let mut buf = Zeroizing::new(Vec::new());
    io.stdin
        .read_to_end(&mut buf)
        .map_err(|e| CliError::io("reading stdin", &e))?;
    Ok(buf)
}

/// The value on stdin, decoded by the crate's one base64 policy (white space anywhere ignored).
fn decode_base64_text(text: &[u8]) -> Result<Zeroizing<Vec<u8>>, CliError> {
    decode_base64(text).map(Zeroizing::new).ok_or_else(|| {
        CliError::failure(
            "decrypting the value on stdin: it is not standard base64 (pass --binary to read raw value bytes)",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_input_may_be_wrapped_and_end_in_a_newline() {
        let decoded = decode_base64_text(b"RUYB\nAAAA\r\n").unwrap();
        assert_eq!(decoded.as_slice(), b"EF\x01\x00\x00\x00");
    }

    #[test]
    fn input_that_is_not_base64_is_a_decryption_failure() {
        let err = decode_base64_text(b"EF\x01 raw bytes").unwrap_err();
        assert_eq!(err.exit(), crate::cli::Exit::Failure);
        assert!(err.to_string().contains("--binary"), "{err}");
    }
}
