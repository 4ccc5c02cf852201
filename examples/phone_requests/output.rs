//! What the commands print: rows decrypted or exactly as stored, as text for people or JSON for
//! programs. Two renderings of the same values.

use std::io::{BufWriter, StdoutLock, Write};

use base64::Engine as _;
use encrypted_field::KeyRing;
use serde::Serialize;

use crate::error::AppError;
use crate::model::{PHONE_CONTEXT, PhoneRequest};

/// How `created_at` is printed: ISO 8601, as stored (the application writes UTC).
const TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S";

/// A row with its phone number decrypted.
#[derive(Debug, Serialize)]
pub struct Decrypted {
    pub id: i32,
    pub requester_name: String,
    pub phone_number: String,
    pub created_at: String,
}

impl Decrypted {
    /// Decrypts `row`'s phone number; an error names the row and the column.
    pub fn of(row: PhoneRequest, ring: &KeyRing) -> Result<Self, AppError> {
        let phone_number = row.phone_with(ring).map_err(|e| {
            AppError::library(
                format!(
                    "phone request {}: cannot decrypt its phone number (`phone_requests verify` \
                     lists every value that does not decrypt)",
                    row.id
                ),
                &e.in_column(PHONE_CONTEXT),
            )
        })?;
        Ok(Self {
            id: row.id,
            requester_name: row.requester_name,
            phone_number,
            created_at: row.created_at.format(TIME_FORMAT).to_string(),
        })
    }
}

/// A row exactly as the database holds it: the envelope as standard base64, the blind index as
/// hex. No key is needed to print it, and it shows no phone number.
#[derive(Debug, Serialize)]
pub struct Raw {
    pub id: i32,
    pub requester_name: String,
    pub phone_number_base64: String,
    pub phone_bidx_hex: String,
    pub created_at: String,
}

impl From<PhoneRequest> for Raw {
    fn from(row: PhoneRequest) -> Self {
        Self {
            id: row.id,
            requester_name: row.requester_name,
            phone_number_base64: base64::engine::general_purpose::STANDARD
                .encode(&row.phone_number),
            phone_bidx_hex: row.phone_bidx.iter().map(|b| format!("{b:02x}")).collect(),
            created_at: row.created_at.format(TIME_FORMAT).to_string(),
        }
    }
}

/// A row of one of the two kinds, as a line of a text table.
pub trait TextRow {
    /// The header line.
    const HEADER: &'static str;
    /// The row's line.
    fn text(&self) -> String;
}

impl TextRow for Decrypted {
    const HEADER: &'static str =
        "    id  requester_name            phone_number          created_at";

    fn text(&self) -> String {
        format!(
            "{:>6}  {:<24}  {:<20}  {}",
            self.id, self.requester_name, self.phone_number, self.created_at
        )
    }
}

impl TextRow for Raw {
    const HEADER: &'static str = "    id  requester_name            created_at           \
         phone_number (base64 of the stored bytes)  phone_bidx (hex)";

    fn text(&self) -> String {
        format!(
            "{:>6}  {:<24}  {}  {}  {}",
            self.id,
            self.requester_name,
            self.created_at,
            self.phone_number_base64,
            self.phone_bidx_hex
        )
    }
}

/// Buffered stdout.
pub struct Output {
    out: BufWriter<StdoutLock<'static>>,
}

impl Output {
    /// The process's stdout.
    pub fn stdout() -> Self {
        Self {
            out: BufWriter::new(std::io::stdout().lock()),
        }
    }

    /// Writes `text` as it is.
    pub fn write(&mut self, text: &str) -> Result<(), AppError> {
        self.out
            .write_all(text.as_bytes())
            .map_err(|e| AppError::output(&e))
    }

    /// Writes one line.
    pub fn line(&mut self, text: &str) -> Result<(), AppError> {
        writeln!(self.out, "{text}").map_err(|e| AppError::output(&e))
    }

    /// Writes `value` as compact JSON on one line.
    pub fn json(&mut self, value: &impl Serialize) -> Result<(), AppError> {
        serde_json::to_writer(&mut self.out, value).map_err(|e| AppError::output(&e.into()))?;
        self.line("")
    }

    /// Flushes what is buffered.
    pub fn flush(&mut self) -> Result<(), AppError> {
        self.out.flush().map_err(|e| AppError::output(&e))
    }
}

/// Rows printed one at a time, so a listing holds one page in memory, not the table: a text
/// table, a JSON array (one object per line) or JSON Lines.
pub struct Rows<'a> {
    out: &'a mut Output,
    format: RowFormat,
    written: usize,
}

/// How [`Rows`] prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowFormat {
    /// A header, then one aligned line per row.
    Text,
    /// `[`, one object per line, `]`: a JSON array that is also easy to read and to `grep`.
    JsonArray,
    /// One object per line, nothing else.
    JsonLines,
}

impl RowFormat {
    /// Text, or a JSON array with `--json`.
    pub fn text_or_array(json: bool) -> Self {
        if json { Self::JsonArray } else { Self::Text }
    }
}

impl<'a> Rows<'a> {
    /// Starts printing rows.
    pub fn new(out: &'a mut Output, format: RowFormat) -> Self {
        Self {
            out,
            format,
            written: 0,
        }
    }

    /// Prints one row.
    pub fn row<R: TextRow + Serialize>(&mut self, row: &R) -> Result<(), AppError> {
        match self.format {
            RowFormat::Text => {
                if self.written == 0 {
                    self.out.line(R::HEADER)?;
                }
                self.out.line(&row.text())?;
            }
            RowFormat::JsonArray => {
                let json = serde_json::to_string(row)
                    .map_err(|e| AppError::usage(format!("rendering JSON: {e}")))?;
                // The separator goes before the row: the last one is not known in advance.
                let lead = if self.written == 0 { "[\n" } else { ",\n" };
                self.out.write(&format!("{lead}{json}"))?;
            }
            RowFormat::JsonLines => self.out.json(row)?,
        }
        self.written += 1;
        Ok(())
    }

    /// Ends the listing (an empty text table still gets its header; an empty array is `[]`) and
    /// returns how many rows were printed.
    pub fn finish<R: TextRow>(self) -> Result<usize, AppError> {
        match (self.format, self.written) {
            (RowFormat::Text, 0) => self.out.line(R::HEADER)?,
            (RowFormat::JsonArray, 0) => self.out.line("[]")?,
            (RowFormat::JsonArray, _) => self.out.line("\n]")?,
            _ => {}
        }
        self.out.flush()?;
        Ok(self.written)
    }
}
