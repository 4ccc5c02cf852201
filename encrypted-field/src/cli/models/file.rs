//! The models described in a TOML file (`--models FILE`): the format is in the parent module.

use std::path::Path;

use serde::Deserialize;

use crate::cli::CliError;
use crate::model::{BlindIndexSpec, ColumnSpec, KeyKind, ModelSpec, Storage};

/// A `--models` file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelsFile {
    #[serde(default)]
    model: Vec<ModelEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelEntry {
    table: String,
    #[serde(default = "default_primary_key")]
    primary_key: String,
    #[serde(default)]
    primary_key_type: KeyType,
    column: Vec<ColumnEntry>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
enum KeyType {
    #[default]
    Integer,
    Text,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ColumnEntry {
    name: String,
    #[serde(default)]
    storage: StorageType,
    #[serde(default)]
    nullable: bool,
    #[serde(default)]
    bind_row: bool,
    context: Option<String>,
    blind_index: Option<BlindIndexEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BlindIndexEntry {
    column: String,
    #[serde(default)]
    storage: StorageType,
    normalizer: Option<String>,
}

#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum StorageType {
    #[default]
    Binary,
    Text,
}

impl From<StorageType> for Storage {
    fn from(storage: StorageType) -> Self {
        match storage {
            StorageType::Binary => Self::Binary,
            StorageType::Text => Self::Text,
        }
    }
}

fn default_primary_key() -> String {
    "id".to_owned()
}

pub(super) fn read_models_file(path: &Path) -> Result<Vec<ModelSpec>, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::io(format_args!("reading models file {}", path.display()), &e))?;
    let file: ModelsFile = toml::from_str(&text).map_err(|e| {
        CliError::usage(format!(
            "reading models file {}: {}",
            path.display(),
            e.to_string().trim_end()
        ))
    })?;
    let bad = |e: crate::model::SpecError| {
        CliError::usage(format!("reading models file {}: {e}", path.display()))
    };
    file.model
        .into_iter()
        .map(|entry| {
            let kind = match entry.primary_key_type {
                KeyType::Integer => KeyKind::Integer,
                KeyType::Text => KeyKind::Text,
            };
            let mut spec =
                ModelSpec::new(entry.table, entry.primary_key).with_primary_key_kind(kind);
            for c in entry.column {
                let mut column = ColumnSpec::new(c.name, c.storage.into());
                if c.nullable {
                    column = column.nullable();
                }
                if c.bind_row {
                    column = column.bound_to_row();
                }
                if let Some(context) = c.context {
                    column = column.with_context(context);
                }
                if let Some(index) = c.blind_index {
                    let mut blind = BlindIndexSpec::new(index.column, index.storage.into());
                    if let Some(name) = index.normalizer {
                        blind = blind.with_builtin_normalizer(&name).map_err(bad)?;
                    }
                    column = column.with_blind_index(blind);
                }
                spec = spec.column(column);
            }
            Ok(spec)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::cli::models::registry;
    use crate::model::{Registry, Storage};

    #[test]
    fn a_models_file_describes_tables_and_columns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("models.toml");
        std::fs::write(
            &path,
            r#"
[[model]]
table = "customers"
[[model.column]]
name = "_ssn"
nullable = true
bind_row = true

[[model]]
table = "phone_requests"
primary_key = "request_id"
[[model.column]]
name = "phone_number"
storage = "text"
context = "legacy.phone"
"#,
        )
        .unwrap();
        let registry = registry(Registry::new(), Some(&path), &[], &[]).unwrap();
        let customers = registry.get("customers").unwrap();
        assert!(customers.columns()[0].is_nullable());
        assert!(customers.columns()[0].is_bound_to_row());
        assert!(!registry.get("phone_requests").unwrap().columns()[0].is_bound_to_row());
        let phones = registry.get("phone_requests").unwrap();
        assert_eq!(phones.primary_key(), "request_id");
        assert_eq!(phones.columns()[0].storage(), Storage::Text);
        assert_eq!(phones.columns()[0].context(), "legacy.phone");
    }

    #[test]
    fn a_models_file_declares_blind_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("models.toml");
        std::fs::write(
            &path,
            r#"
[[model]]
table = "phone_requests"
[[model.column]]
name = "phone_number"
blind_index = { column = "phone_bidx", normalizer = "digits" }
[[model.column]]
name = "email"
storage = "text"
[model.column.blind_index]
column = "email_bidx"
storage = "text"
"#,
        )
        .unwrap();
        let registry = registry(Registry::new(), Some(&path), &[], &[]).unwrap();
        let columns = registry.get("phone_requests").unwrap().columns();
        let phone = columns[0].blind_index().unwrap();
        assert_eq!(
            (phone.column(), phone.storage(), phone.normalizer_name()),
            ("phone_bidx", Storage::Binary, "digits")
        );
        let email = columns[1].blind_index().unwrap();
        assert_eq!(
            (email.column(), email.storage(), email.normalizer_name()),
            ("email_bidx", Storage::Text, "exact")
        );
    }

    #[test]
    fn an_unknown_normalizer_in_a_models_file_is_reported_with_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("models.toml");
        std::fs::write(
            &path,
            "[[model]]\ntable = \"t\"\n[[model.column]]\nname = \"c\"\n\
             blind_index = { column = \"c_bidx\", normalizer = \"soundex\" }\n",
        )
        .unwrap();
        let err = registry(Registry::new(), Some(&path), &[], &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!("reading models file {}", path.display())),
            "{err}"
        );
        assert!(err.contains("unknown normalizer `soundex`"), "{err}");
    }

    #[test]
    fn a_typo_in_a_models_file_is_reported_with_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("models.toml");
        std::fs::write(
            &path,
            "[[model]]\ntable = \"t\"\n[[model.column]]\nname = \"c\"\nnulable = true\n",
        )
        .unwrap();
        let err = registry(Registry::new(), Some(&path), &[], &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!("reading models file {}", path.display())),
            "{err}"
        );
        assert!(err.contains("nulable"), "{err}");
    }
}
