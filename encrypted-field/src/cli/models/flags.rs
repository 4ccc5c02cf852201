//! The models named on the command line: `--column TABLE.COLUMN[:options]` and
//! `--primary-key TABLE=COLUMN[:text]`.

use std::str::FromStr;

use crate::cli::CliError;
use crate::model::{BlindIndexSpec, ColumnSpec, KeyKind, ModelSpec, Storage};

/// `--column TABLE.COLUMN[:text][:nullable][:bind-row][:bidx=COLUMN|:bidx-text=COLUMN][:normalize=NAME]`:
/// one encrypted column, and the blind index kept beside it if any; `:bind-row` for a column whose
/// values are bound to their rows (`#[encrypted(bind_row)]`).
///
/// ```
/// use encrypted_field::cli::ColumnArg;
/// let arg: ColumnArg = "phone_requests.phone_number:bidx=phone_bidx:normalize=digits".parse()?;
/// let index = arg.blind_index.as_ref().unwrap();
/// assert_eq!((index.column(), index.normalizer_name()), ("phone_bidx", "digits"));
/// assert!("t.c:normalize=digits".parse::<ColumnArg>().is_err()); // a normalizer needs an index
/// # Ok::<(), String>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnArg {
    /// The table.
    pub table: String,
    /// The column.
    pub column: String,
    /// How it stores values: the bytes (default), or their base64 with `:text`.
    pub storage: Storage,
    /// Whether it may be NULL (`:nullable`).
    pub nullable: bool,
    /// Whether its values are bound to their rows (`:bind-row`).
    pub bind_row: bool,
    /// The blind index beside it (`:bidx=COLUMN` or `:bidx-text=COLUMN`, with `:normalize=NAME`).
    pub blind_index: Option<BlindIndexSpec>,
}

impl FromStr for ColumnArg {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        const FORM: &str = "TABLE.COLUMN[:text][:nullable][:bind-row][:bidx=COLUMN|:bidx-text=COLUMN][:normalize=NAME]";
        let mut parts = text.split(':');
        let name = parts.next().unwrap_or_default();
        let Some((table, column)) = name.split_once('.') else {
            return Err(format!(
                "`{text}` is not {FORM} (e.g. customers._ssn:nullable)"
            ));
        };
        let mut arg = Self {
            table: table.to_owned(),
            column: column.to_owned(),
            storage: Storage::Binary,
            nullable: false,
            bind_row: false,
            blind_index: None,
        };
        let mut normalizer = None;
        for option in parts {
            match option.split_once('=') {
                None if option == "text" => arg.storage = Storage::Text,
                None if option == "binary" => arg.storage = Storage::Binary,
                None if option == "nullable" => arg.nullable = true,
                None if option == "bind-row" => arg.bind_row = true,
                Some(("bidx", index)) => {
                    arg.blind_index = Some(BlindIndexSpec::binary(index.to_owned()))
                }
                Some(("bidx-text", index)) => {
                    arg.blind_index = Some(BlindIndexSpec::text(index.to_owned()))
                }
                Some(("normalize", name)) => normalizer = Some(name),
                _ => {
                    return Err(format!(
                        "unknown column option `{option}` in `{text}` (expected text, binary, nullable, \
                         bind-row, bidx=COLUMN, bidx-text=COLUMN or normalize=NAME)"
                    ));
                }
            }
        }
        if let Some(name) = normalizer {
            let Some(index) = arg.blind_index.take() else {
                return Err(format!(
                    "`normalize={name}` in `{text}` needs a blind index: add bidx=COLUMN or bidx-text=COLUMN"
                ));
            };
            arg.blind_index = Some(
                index
                    .with_builtin_normalizer(name)
                    .map_err(|e| format!("in `{text}`: {e}"))?,
            );
        }
        Ok(arg)
    }
}

/// `--primary-key TABLE=COLUMN[:text]`: the primary key of a table (default: `id`, an integer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrimaryKeyArg {
    /// The table.
    pub table: String,
    /// Its primary-key column.
    pub column: String,
    /// Integer (default) or text (`:text`).
    pub kind: KeyKind,
}

impl FromStr for PrimaryKeyArg {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let Some((table, rest)) = text.split_once('=') else {
            return Err(format!(
                "`{text}` is not TABLE=COLUMN[:text] (e.g. customers=id)"
            ));
        };
        let (column, kind) = match rest.split_once(':') {
            None => (rest, KeyKind::Integer),
            Some((column, "text")) => (column, KeyKind::Text),
            Some((column, "integer")) => (column, KeyKind::Integer),
            Some((_, other)) => {
                return Err(format!(
                    "unknown primary key type `{other}` in `{text}` (expected text or integer)"
                ));
            }
        };
        Ok(Self {
            table: table.to_owned(),
            column: column.to_owned(),
            kind,
        })
    }
}

/// One spec per table named by `--column`, with its `--primary-key` (default `id`).
pub(super) fn specs_from_flags(
    columns: &[ColumnArg],
    primary_keys: &[PrimaryKeyArg],
) -> Result<Vec<ModelSpec>, CliError> {
    if let Some(orphan) = primary_keys
        .iter()
        .find(|k| !columns.iter().any(|c| c.table == k.table))
    {
        return Err(CliError::usage(format!(
            "--primary-key {}={}: no --column names table `{}`",
            orphan.table, orphan.column, orphan.table
        )));
    }
    let mut specs: Vec<ModelSpec> = Vec::new();
    for arg in columns {
        let mut column = ColumnSpec::new(arg.column.clone(), arg.storage);
        if arg.nullable {
            column = column.nullable();
        }
        if arg.bind_row {
            column = column.bound_to_row();
        }
        if let Some(index) = &arg.blind_index {
            column = column.with_blind_index(index.clone());
        }
        match specs.iter_mut().find(|s| s.table() == arg.table) {
            Some(spec) => *spec = spec.clone().column(column),
            None => {
                let key = primary_keys.iter().rev().find(|k| k.table == arg.table);
                let spec = match key {
                    Some(key) => ModelSpec::new(arg.table.clone(), key.column.clone())
                        .with_primary_key_kind(key.kind),
                    None => ModelSpec::new(arg.table.clone(), "id"),
                };
                specs.push(spec.column(column));
            }
        }
    }
    Ok(specs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::models::registry;
    use crate::model::Registry;

    #[test]
    fn column_flags_name_table_column_and_options() {
        let arg: ColumnArg = "phone_requests.phone_number:text:nullable".parse().unwrap();
        assert_eq!(
            (
                arg.table.as_str(),
                arg.column.as_str(),
                arg.storage,
                arg.nullable
            ),
            ("phone_requests", "phone_number", Storage::Text, true)
        );
        assert!("customers".parse::<ColumnArg>().is_err());
        assert!(
            "customers._ssn:secret"
                .parse::<ColumnArg>()
                .unwrap_err()
                .contains("unknown column option `secret`")
        );
    }

    #[test]
    fn the_bind_row_option_binds_the_column_to_its_rows() {
        let columns: Vec<ColumnArg> = ["customers._ssn:nullable:bind-row", "customers._phone"]
            .iter()
            .map(|c| c.parse().unwrap())
            .collect();
        let specs = specs_from_flags(&columns, &[]).unwrap();
        let bound: Vec<bool> = specs[0]
            .columns()
            .iter()
            .map(ColumnSpec::is_bound_to_row)
            .collect();
        assert_eq!(bound, [true, false]);
    }

    #[test]
    fn column_flags_declare_a_blind_index_with_its_storage_and_normalizer() {
        let columns: Vec<ColumnArg> = [
            "phone_requests.phone_number:bidx=phone_bidx:normalize=digits",
            "users.email:text:normalize=lowercase:bidx-text=email_bidx",
            "users.note",
        ]
        .iter()
        .map(|c| c.parse().unwrap())
        .collect();
        let registry = registry(Registry::new(), None, &columns, &[]).unwrap();
        let phone = registry.get("phone_requests").unwrap().columns()[0]
            .blind_index()
            .unwrap();
        assert_eq!(
            (phone.column(), phone.storage(), phone.normalizer_name()),
            ("phone_bidx", Storage::Binary, "digits")
        );
        assert_eq!((phone.normalizer())("+1 (555) 010"), "1555010");
        let users = registry.get("users").unwrap();
        let email = users.columns()[0].blind_index().unwrap();
        assert_eq!(
            (email.column(), email.storage(), email.normalizer_name()),
            ("email_bidx", Storage::Text, "lowercase")
        );
        assert!(users.columns()[1].blind_index().is_none());
        let exact: ColumnArg = "t.c:bidx=c_bidx".parse().unwrap();
        assert_eq!(exact.blind_index.unwrap().normalizer_name(), "exact");
    }

    #[test]
    fn a_bad_blind_index_flag_says_what_is_wrong() {
        let unknown = "t.c:bidx=c_bidx:normalize=soundex"
            .parse::<ColumnArg>()
            .unwrap_err();
        assert!(
            unknown.contains("unknown normalizer `soundex`"),
            "{unknown}"
        );
        let orphan = "t.c:normalize=digits".parse::<ColumnArg>().unwrap_err();
        assert!(orphan.contains("needs a blind index"), "{orphan}");
        let columns = ["t.c:bidx=c bidx".parse().unwrap()];
        let err = registry(Registry::new(), None, &columns, &[]).unwrap_err();
        assert!(err.to_string().contains("blind-index column"), "{err}");
    }

    #[test]
    fn flags_group_columns_by_table_with_their_primary_key() {
        let columns: Vec<ColumnArg> = [
            "customers._ssn:nullable",
            "customers._phone",
            "notes.body:text",
        ]
        .iter()
        .map(|c| c.parse().unwrap())
        .collect();
        let keys = ["notes=uuid:text".parse().unwrap()];
        let registry = registry(Registry::new(), None, &columns, &keys).unwrap();
        let customers = registry.get("customers").unwrap();
        assert_eq!(customers.primary_key(), "id");
        assert_eq!(customers.columns().len(), 2);
        let notes = registry.get("notes").unwrap();
        assert_eq!(
            (notes.primary_key(), notes.primary_key_kind()),
            ("uuid", KeyKind::Text)
        );
    }

    #[test]
    fn names_that_are_not_identifiers_are_refused() {
        let columns = ["customers._ssn; DROP TABLE customers".parse().unwrap()];
        let err = registry(Registry::new(), None, &columns, &[]).unwrap_err();
        assert_eq!(err.exit(), crate::cli::Exit::Usage);
        assert!(err.to_string().contains("invalid column name"), "{err}");
    }

    #[test]
    fn a_primary_key_for_a_table_without_columns_is_refused() {
        let columns = ["customers._ssn".parse().unwrap()];
        let keys = ["custmers=id".parse().unwrap()];
        let err = registry(Registry::new(), None, &columns, &keys).unwrap_err();
        assert!(
            err.to_string()
                .contains("no --column names table `custmers`"),
            "{err}"
        );
    }

    #[test]
    fn no_models_at_all_is_bad_usage() {
        let err = registry(Registry::new(), None, &[], &[]).unwrap_err();
        assert!(err.to_string().contains("--column TABLE.COLUMN"), "{err}");
    }
}
