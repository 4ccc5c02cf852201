//! What commands report, and its two renderings: text for people and `--json` for programs.
//! Both come from the same value, so they never disagree. No value here holds key bytes.

use std::fmt::Write as _;

use serde::Serialize;

use super::CliError;

/// A report that a person reads as text and a program reads as JSON.
pub(crate) trait Report: Serialize {
    /// Appends the text rendering, lines ending in a newline.
    fn human(&self, out: &mut String);
}

/// Renders `report` as text, or as pretty JSON and a newline.
pub(crate) fn render(report: &impl Report, json: bool) -> Result<String, CliError> {
    if json {
        let mut text = serde_json::to_string_pretty(report)
            .map_err(|e| CliError::usage(format!("rendering the report as JSON: {e}")))?;
        text.push('\n');
        Ok(text)
    } else {
        let mut text = String::new();
        report.human(&mut text);
        Ok(text)
    }
}

/// Why a version is the active one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ActiveFrom {
    /// The environment variable that overrides everything (`ENCRYPTED_FIELD_ACTIVE_VERSION`).
    Environment,
    /// The directory's `active_version` file.
    ActiveVersionFile,
    /// No pin: the highest version.
    HighestVersion,
}

/// One key file of a listing.
#[derive(Debug, Serialize)]
pub(crate) struct ListedKey {
    pub(crate) version: u32,
    pub(crate) active: bool,
    pub(crate) path: String,
    /// Whether the file holds a usable key; `problem` says why not.
    pub(crate) usable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) problem: Option<String>,
    /// For a wrapped key: the key-encryption key that wraps it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) wrapped_by: Option<String>,
}

impl ListedKey {
    /// Its line of `keys list`: version, `active`, path, the KEK that wraps it, what is wrong.
    pub(crate) fn human_line(&self, out: &mut String) {
        let marker = if self.active { "active" } else { "" };
        let _ = write!(out, "  v{:<4} {marker:<7}{}", self.version, self.path);
        if let Some(kek) = &self.wrapped_by {
            let _ = write!(out, "  (wrapped by {kek})");
        }
        if let Some(problem) = &self.problem {
            let _ = write!(out, "  (unusable: {problem})");
        }
        out.push('\n');
    }
}

/// `keys list`.
#[derive(Debug, Serialize)]
pub(crate) struct KeyListing {
    pub(crate) keys_dir: String,
    pub(crate) active_version: Option<u32>,
    pub(crate) active_from: Option<ActiveFrom>,
    /// The environment variable or file that pins the active version, when one does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) active_pinned_by: Option<String>,
    pub(crate) keys: Vec<ListedKey>,
}

impl Report for KeyListing {
    fn human(&self, out: &mut String) {
        let _ = writeln!(out, "keys directory: {}", self.keys_dir);
        if self.keys.is_empty() {
            out.push_str("no keys (add one with `encrypted-field keys add`)\n");
            return;
        }
        for key in &self.keys {
            key.human_line(out);
        }
        if let Some(version) = self.active_version {
            let _ = write!(out, "active: v{version}");
            match (&self.active_from, &self.active_pinned_by) {
                (Some(ActiveFrom::HighestVersion), _) => out.push_str(" (the highest version)"),
                (_, Some(by)) => {
                    let _ = write!(out, " (pinned by {by})");
                }
                _ => {}
            }
            if !self.keys.iter().any(|k| k.active) {
                out.push_str(", but no key file has this version");
            }
            out.push('\n');
        }
    }
}

/// `keys add`.
#[derive(Debug, Serialize)]
pub(crate) struct AddedKey {
    pub(crate) version: u32,
    pub(crate) path: String,
    pub(crate) active_version: u32,
}

impl Report for AddedKey {
    fn human(&self, out: &mut String) {
        let _ = writeln!(out, "added key v{}: {}", self.version, self.path);
        if self.active_version == self.version {
            let _ = writeln!(out, "active: v{}", self.version);
        } else {
            let _ = writeln!(
                out,
                "active: v{} (once every reader has the new key: encrypted-field keys activate {})",
                self.active_version, self.version
            );
        }
    }
}

/// `keys activate`.
#[derive(Debug, Serialize)]
pub(crate) struct ActivatedKey {
    pub(crate) active_version: u32,
    pub(crate) pinned_in: String,
}

impl Report for ActivatedKey {
    fn human(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "active: v{} (pinned in {})",
            self.active_version, self.pinned_in
        );
    }
}

/// `rotate --if-due` when no rotation is due.
#[derive(Debug, Serialize)]
pub(crate) struct NotDue {
    /// Always `not_due`.
    pub(crate) status: &'static str,
    pub(crate) period: &'static str,
    pub(crate) active_version: u32,
    pub(crate) activated_at: Option<String>,
    pub(crate) next_due: Option<String>,
}

impl Report for NotDue {
    fn human(&self, out: &mut String) {
        let _ = write!(
            out,
            "not due: key v{} was activated at {}",
            self.active_version,
            self.activated_at.as_deref().unwrap_or("an unrecorded time")
        );
        if let Some(next) = &self.next_due {
            let _ = write!(out, "; the next {} rotation is due at {next}", self.period);
        }
        out.push('\n');
    }
}

impl Report for crate::rotation::RotationReport {
    fn human(&self, out: &mut String) {
        let _ = write!(out, "{self}");
    }
}

impl Report for crate::rotation::StatusReport {
    fn human(&self, out: &mut String) {
        if self.columns.is_empty() {
            out.push_str("no encrypted columns\n");
        }
        for column in &self.columns {
            let _ = write!(
                out,
                "{}.{}: {} rows, {} null",
                column.table, column.column, column.rows, column.null
            );
            for (version, count) in &column.values_by_version {
                let _ = write!(out, ", {version}: {count}");
            }
            if column.not_envelopes > 0 {
                let _ = write!(
                    out,
                    ", {} not encrypted values (plaintext, a legacy format, or damaged)",
                    column.not_envelopes
                );
            }
            if column.legacy_values_kept > 0 {
                let _ = write!(
                    out,
                    ", {} legacy values kept (until `migrate --finalize`)",
                    column.legacy_values_kept
                );
            }
            if !column.blind_indexes_by_version.is_empty() {
                out.push_str("; blind indexes");
                for (version, count) in &column.blind_indexes_by_version {
                    let _ = write!(out, " {version}: {count}");
                }
            }
            out.push('\n');
        }
    }
}

impl Report for crate::keys::retire::RetiredKey {
    fn human(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "retired key v{}: moved {} to {} (no longer loaded; move it back to undo)",
            self.version, self.from, self.to
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing() -> KeyListing {
        KeyListing {
            keys_dir: "/run/secrets".to_owned(),
            active_version: Some(1),
            active_from: Some(ActiveFrom::ActiveVersionFile),
            active_pinned_by: Some("/run/secrets/active_version".to_owned()),
            keys: vec![
                ListedKey {
                    version: 1,
                    active: true,
                    path: "/run/secrets/enc_key_v1".to_owned(),
                    usable: true,
                    problem: None,
                    wrapped_by: None,
                },
                ListedKey {
                    version: 2,
                    active: false,
                    path: "/run/secrets/enc_key_v2".to_owned(),
                    usable: false,
                    problem: Some("it is empty".to_owned()),
                    wrapped_by: None,
                },
            ],
        }
    }

    #[test]
    fn listing_as_text_marks_the_active_key_and_unusable_files() {
        let text = render(&listing(), false).unwrap();
        assert!(
            text.contains("v1    active /run/secrets/enc_key_v1\n"),
            "{text}"
        );
        assert!(
            text.contains("/run/secrets/enc_key_v2  (unusable: it is empty)"),
            "{text}"
        );
        assert!(
            text.ends_with("active: v1 (pinned by /run/secrets/active_version)\n"),
            "{text}"
        );
    }

    #[test]
    fn listing_as_json_has_the_same_facts() {
        let value: serde_json::Value =
            serde_json::from_str(&render(&listing(), true).unwrap()).unwrap();
        assert_eq!(value["active_version"], 1);
        assert_eq!(value["active_from"], "active_version_file");
        assert_eq!(value["keys"][1]["usable"], false);
        assert_eq!(value["keys"][1]["problem"], "it is empty");
        assert!(value["keys"][0].get("problem").is_none());
    }
}
