//! What the `keys` commands report about blind-index keys: the blind-index part of `keys list`,
//! and `keys add|activate --blind-index`. No value here holds key bytes.

use std::fmt::Write as _;

use serde::Serialize;

use super::output::{KeyListing, ListedKey, Report};

/// Why a blind-index version is the one new indexes are computed with (on this host, before any
/// version the database records for the fleet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum BlindIndexActiveFrom {
    /// The variable `ENCRYPTED_FIELD_ACTIVE_BLIND_INDEX_VERSION`.
    Environment,
    /// The directory's `active_blind_index_version` file.
    ActiveBlindIndexVersionFile,
    /// No pin: the highest version (unless the database records one for the fleet).
    HighestVersion,
}

/// The blind-index keys of `keys list`.
#[derive(Debug, Serialize)]
pub(crate) struct BlindIndexListing {
    pub(crate) active_version: Option<u32>,
    pub(crate) active_from: Option<BlindIndexActiveFrom>,
    /// The variable or file that pins it, when one does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) active_pinned_by: Option<String>,
    /// Version 1 from `DB_BLIND_INDEX_KEY_FILE` (its path) or `DB_BLIND_INDEX_KEY`, and the
    /// `bidx_key_vN` files.
    pub(crate) keys: Vec<ListedKey>,
}

/// `keys list`: the encryption keys, then the blind-index keys.
#[derive(Debug, Serialize)]
pub(crate) struct KeyListingWithBlindIndex {
    #[serde(flatten)]
    pub(crate) keys: KeyListing,
    pub(crate) blind_index: BlindIndexListing,
}

impl Report for KeyListingWithBlindIndex {
    fn human(&self, out: &mut String) {
        self.keys.human(out);
        let listing = &self.blind_index;
        if listing.keys.is_empty() {
            out.push_str(
                "blind-index keys: none (add one with `encrypted-field keys add --blind-index`)\n",
            );
            return;
        }
        out.push_str("blind-index keys:\n");
        for key in &listing.keys {
            key.human_line(out);
        }
        if let Some(version) = listing.active_version {
            let _ = write!(out, "active blind-index version: v{version}");
            match (&listing.active_from, &listing.active_pinned_by) {
                (Some(BlindIndexActiveFrom::HighestVersion), _) => out.push_str(
                    " (the highest version, unless the database records another for the fleet: \
                     see `status`)",
                ),
                (_, Some(by)) => {
                    let _ = write!(out, " (pinned by {by})");
                }
                _ => {}
            }
            out.push('\n');
        }
    }
}

/// `keys add --blind-index`.
#[derive(Debug, Serialize)]
pub(crate) struct AddedBlindIndexKey {
    pub(crate) blind_index_version: u32,
    pub(crate) path: String,
    /// The version new indexes are computed with now: pinned in the directory, or (with
    /// `--database-url`) recorded in the database.
    pub(crate) active_blind_index_version: Option<u32>,
    /// Where the active version is kept: the pin file, or `database`.
    pub(crate) active_kept_in: Option<String>,
}

impl Report for AddedBlindIndexKey {
    fn human(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "added blind-index key v{}: {}",
            self.blind_index_version, self.path
        );
        match self.active_blind_index_version {
            Some(active) if active == self.blind_index_version => {
                let _ = writeln!(out, "active blind-index version: v{active}");
            }
            Some(active) => {
                let _ = writeln!(
                    out,
                    "active blind-index version: v{active} ({}; the new key matches lookups and \
                     writes no index until every reader has it and: encrypted-field keys \
                     activate {} --blind-index{})",
                    self.active_kept_in.as_deref().unwrap_or("unpinned"),
                    self.blind_index_version,
                    if self.active_kept_in.as_deref() == Some("database") {
                        " --database-url URL"
                    } else {
                        ""
                    }
                );
            }
            None => {}
        }
    }
}

/// `keys activate N --blind-index` without a database: the directory's pin.
#[derive(Debug, Serialize)]
pub(crate) struct ActivatedBlindIndexKey {
    pub(crate) active_blind_index_version: u32,
    pub(crate) pinned_in: String,
}

impl Report for ActivatedBlindIndexKey {
    fn human(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "active blind-index version: v{} (pinned in {}); recompute the existing indexes \
             with: encrypted-field rotate --blind-index",
            self.active_blind_index_version, self.pinned_in
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::output::render;

    fn added(active: Option<u32>, kept_in: &str) -> AddedBlindIndexKey {
        AddedBlindIndexKey {
            blind_index_version: 2,
            path: "/run/secrets/bidx_key_v2".to_owned(),
            active_blind_index_version: active,
            active_kept_in: Some(kept_in.to_owned()),
        }
    }

    #[test]
    fn an_added_key_that_is_not_active_says_how_to_activate_it() {
        let text = render(&added(Some(1), "database"), false).unwrap();
        assert!(text.contains("added blind-index key v2"), "{text}");
        assert!(
            text.contains("keys activate 2 --blind-index --database-url URL"),
            "{text}"
        );
        let json = render(&added(Some(2), "pin"), true).unwrap();
        assert!(json.contains("\"active_blind_index_version\": 2"), "{json}");
    }
}
