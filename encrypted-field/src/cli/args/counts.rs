//! Positive counts on the command line (`--batch-size`, `--workers`, `--chunk-rows`).

/// A `--batch-size` (or another count of rows or workers): a positive number.
pub(super) fn parse_batch_size(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("`{text}` is not a positive number")),
    }
}
