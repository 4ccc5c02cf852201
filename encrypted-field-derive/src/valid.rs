//! Checking the struct and resolving every name: the table, the primary key, each encrypted
//! column, its accessors and its blind index. Every mistake is reported at its token, all
//! together; expansion only ever sees a [`Model`] that passed.

use std::collections::HashMap;

use proc_macro2::Span;
use quote::ToTokens;
use syn::ext::IdentExt as _;
use syn::{Generics, Ident, LitStr, Path, Type, Visibility};

use crate::ast::{self, Field, Input, KeyKind, Shape};
use crate::ctxt::Ctxt;

/// A checked model, ready to expand.
pub(crate) struct Model<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) vis: &'a Visibility,
    pub(crate) generics: &'a Generics,
    pub(crate) table: String,
    pub(crate) primary_key: String,
    pub(crate) key_kind: KeyKind,
    /// The primary-key field and its type, when the struct has one: what row-bound columns bind.
    pub(crate) key_field: Option<(&'a Ident, &'a Type)>,
    pub(crate) columns: Vec<Column<'a>>,
}

/// An `#[encrypted]` field.
pub(crate) struct Column<'a> {
    pub(crate) field: &'a Ident,
    /// The getter's name; the other methods are named after it.
    pub(crate) accessor: Ident,
    pub(crate) column: String,
    /// `table.column`.
    pub(crate) context: String,
    pub(crate) shape: Shape,
    /// The plaintext type (`String` unless `ty = ..`).
    pub(crate) plaintext: Type,
    pub(crate) blind_index: Option<BlindIndex<'a>>,
    /// `#[encrypted(bind_row)]`: each value is bound to its row's primary key too.
    pub(crate) bind_row: bool,
}

/// The field that holds a column's blind index.
pub(crate) struct BlindIndex<'a> {
    pub(crate) field: &'a Ident,
    pub(crate) column: String,
    pub(crate) shape: Shape,
    pub(crate) normalizer: Normalizer,
}

/// A blind-index normalizer.
pub(crate) enum Normalizer {
    /// One of `encrypted_field::normalize`: `exact`, `digits`, `lowercase`.
    Builtin(Ident),
    /// A user function, by path.
    Custom(Path),
}

const BUILTIN_NORMALIZERS: [&str; 3] = ["exact", "digits", "lowercase"];

/// Checks `input`; `None` if anything (here or while parsing attributes) was reported.
pub(crate) fn check<'a>(input: &'a Input<'a>, cx: &Ctxt) -> Option<Model<'a>> {
    let table = table(input, cx);
    let key = primary_key(input, cx);
    let key_kind = key.as_ref().and_then(|(_, kind)| *kind);
    let key_field = key
        .as_ref()
        .and_then(|(column, _)| key_field(input, column));
    let mut columns = Vec::new();
    let mut methods = HashMap::new();
    let mut sql_columns = HashMap::new();
    let mut blind_fields = HashMap::new();
    if let Some((key_column, _)) = &key {
        sql_columns.insert(key_column.clone(), "the primary key".to_owned());
    }
    for field in &input.fields {
        let Some(attr) = &field.attrs.encrypted else {
            continue;
        };
        let key_column = key.as_ref().map(|(column, _)| column.as_str());
        let column = match &attr.column {
            Some(lit) => identifier(&lit.value(), lit, "column", cx),
            None => identifier(field.column(), field.ident, "column", cx),
        };
        if key_column == Some(column.as_str()) && key_column == Some(field.column()) {
            continue; // the primary key itself: reported by `primary_key`
        }
        let shape = stored_shape(field, cx);
        let accessor = accessor(field, attr.name.as_ref(), cx);
        claim_column(&mut sql_columns, &column, field, cx);
        let blind_index = blind_index(input, field, shape, key_column, &mut blind_fields, cx);
        if let Some(blind) = &blind_index {
            claim_column(&mut sql_columns, &blind.column, field, cx);
        }
        if let Some(accessor) = &accessor {
            let nullable = shape.is_some_and(|s| s.nullable);
            claim_methods(
                &mut methods,
                accessor,
                nullable,
                blind_index.is_some(),
                field,
                cx,
            );
        }
        let (Some(shape), Some(accessor)) = (shape, accessor) else {
            continue;
        };
        let plaintext = attr
            .ty
            .clone()
            .unwrap_or_else(|| syn::parse_quote!(::std::string::String));
        let context = format!("{}.{column}", table.as_deref().unwrap_or_default());
        let bind_row = bind_row(input, attr, key.as_ref(), key_field, cx);
        columns.push(Column {
            field: field.ident,
            accessor,
            column,
            context,
            shape,
            plaintext,
            blind_index,
            bind_row,
        });
    }
    if input.fields.iter().all(|f| f.attrs.encrypted.is_none()) {
        cx.error_spanned_by(
            input.ident,
            "no `#[encrypted]` field: mark each field that stores ciphertext with `#[encrypted]`",
        );
    }
    let (table, (primary_key, _), key_kind) = (table?, key?, key_kind?);
    if cx.has_errors() {
        return None;
    }
    Some(Model {
        ident: input.ident,
        vis: input.vis,
        generics: input.generics,
        table,
        primary_key,
        key_kind,
        key_field: key_field.map(|field| (field.ident, field.ty)),
        columns,
    })
}

/// The field that holds the primary-key column, if the struct has one.
fn key_field<'a>(input: &'a Input<'a>, column: &str) -> Option<&'a Field<'a>> {
    input
        .fields
        .iter()
        .find(|f| f.column() == column)
        .or_else(|| input.field_named(column))
}

/// Whether the column is `bind_row`; reports it when the struct has no primary-key field to bind.
fn bind_row(
    input: &Input<'_>,
    attr: &crate::attr::EncryptedAttr,
    key: Option<&(String, Option<KeyKind>)>,
    key_field: Option<&Field<'_>>,
    cx: &Ctxt,
) -> bool {
    let Some(path) = &attr.bind_row else {
        return false;
    };
    if let (Some((column, _)), None) = (key, key_field) {
        cx.error_spanned_by(
            path,
            format!(
                "`bind_row` binds the row's primary key `{column}` into each value, but `{}` has no field `{column}`\n\
                 help: add the key field (an `Option` when the database assigns it on insert), or drop `bind_row`",
                input.ident
            ),
        );
    }
    true
}

/// `#[encrypted_model(table = "..")]`, else the last segment of Diesel's `table_name`.
fn table(input: &Input<'_>, cx: &Ctxt) -> Option<String> {
    if let Some(lit) = &input.model.table {
        return Some(identifier(&lit.value(), lit, "table", cx));
    }
    if let Some(path) = &input.diesel.table_name {
        let last = path.segments.last()?.ident.unraw().to_string();
        return Some(identifier(&last, path, "table", cx));
    }
    if input.model.malformed {
        return None; // the mistake in `#[encrypted_model]` is reported; don't add a consequence
    }
    cx.error_spanned_by(
        input.ident,
        "missing table name: add `#[diesel(table_name = customers)]` or `#[encrypted_model(table = \"customers\")]`",
    );
    None
}

/// The primary-key column, and its kind unless that is in error.
fn primary_key(input: &Input<'_>, cx: &Ctxt) -> Option<(String, Option<KeyKind>)> {
    let (column, field, blame): (String, Option<&Field<'_>>, &dyn ToTokens) = if let Some(lit) =
        &input.model.primary_key
    {
        let column = identifier(&lit.value(), lit, "primary key", cx);
        let field = input
            .fields
            .iter()
            .find(|f| f.column() == column)
            .or_else(|| input.field_named(&column));
        (column, field, lit)
    } else if let Some((keyword, keys)) = &input.diesel.primary_key {
        let [key] = keys.as_slice() else {
            cx.error_spanned_by(
                    keyword,
                    "composite primary keys are not supported: rotation finds each row by one key column\n\
                     help: name that column with `#[encrypted_model(primary_key = \"..\")]`",
                );
            return None;
        };
        let field = input.field_named(&key.to_string());
        (
            field.map_or_else(|| key.to_string(), |f| f.column().to_owned()),
            field,
            key,
        )
    } else if let Some(field) = input.field_named("id") {
        (field.column().to_owned(), Some(field), field.ident)
    } else if input.model.malformed {
        return None;
    } else {
        cx.error_spanned_by(
                input.ident,
                "no primary key: no field is named `id`\n\
                 help: name the key column with `#[diesel(primary_key(..))]` or `#[encrypted_model(primary_key = \"..\")]`",
            );
        return None;
    };
    if let Some(attr) = field.and_then(|f| f.attrs.encrypted.as_ref()) {
        cx.error_spanned_by(
            &attr.attr,
            "the primary key cannot be `#[encrypted]`: rows are found by it",
        );
        return Some((column, None));
    }
    let kind_of = |ty: &Type| {
        let kind = ast::key_kind_of(ty);
        if kind.is_none() {
            cx.error_spanned_by(
                ty,
                format!("primary key `{column}` must be an integer, a `String` or a `Uuid`: rotation pages through rows by it"),
            );
        }
        kind
    };
    let kind = match (&input.model.primary_key_type, field) {
        (Some(ty), _) => kind_of(ty),
        (None, Some(field)) => kind_of(field.ty),
        (None, None) => {
            cx.error_spanned_by(
                blame,
                format!(
                    "primary key `{column}` is not a field of `{}`\n\
                     help: give its type with `#[encrypted_model(primary_key_type = i64)]`",
                    input.ident
                ),
            );
            None
        }
    };
    Some((column, kind))
}

/// The stored type of an `#[encrypted]` field.
fn stored_shape(field: &Field<'_>, cx: &Ctxt) -> Option<Shape> {
    if field.shape.is_none() {
        let message = if ast::is_self_encrypting(field.ty) {
            "`Encrypted<T>` encrypts itself on its way to the database: drop `#[encrypted]`, \
             or store the ciphertext in a `Vec<u8>` or `String` field"
                .to_owned()
        } else {
            format!(
                "`#[encrypted]` field `{}` must hold the stored ciphertext: `Vec<u8>` or `Option<Vec<u8>>` \
                 for a binary column, `String` or `Option<String>` (base64) for a text column\n\
                 help: the plaintext type is chosen with `#[encrypted(ty = i64)]`",
                field.ident
            )
        };
        cx.error_spanned_by(field.ty, message);
    }
    field.shape
}

/// The getter's name: `name = ".."`, else the field name without its leading `_`.
fn accessor(field: &Field<'_>, name: Option<&LitStr>, cx: &Ctxt) -> Option<Ident> {
    if let Some(lit) = name {
        return match syn::parse_str::<Ident>(&lit.value()) {
            Ok(mut ident) => {
                ident.set_span(lit.span());
                Some(ident)
            }
            Err(_) => {
                cx.error_spanned_by(lit, format!("`{}` is not a valid method name", lit.value()));
                None
            }
        };
    }
    let Some(rest) = field.name.strip_prefix('_') else {
        cx.error_spanned_by(
            field.ident,
            format!(
                "`#[encrypted]` field `{0}` holds ciphertext: name it `_{0}` so that `{0}()` can return the \
                 plaintext\nhelp: or name the accessors: `#[encrypted(name = \"{0}\")]`",
                field.name
            ),
        );
        return None;
    };
    match syn::parse_str::<Ident>(rest) {
        Ok(mut ident) => {
            ident.set_span(field.ident.span());
            Some(ident)
        }
        Err(_) => {
            cx.error_spanned_by(
                field.ident,
                format!(
                    "`{rest}` is not a valid method name\nhelp: name the accessors: `#[encrypted(name = \"..\")]`"
                ),
            );
            None
        }
    }
}

/// The field named by `blind_index = ".."`, checked, with its normalizer.
fn blind_index<'a>(
    input: &'a Input<'a>,
    field: &Field<'a>,
    shape: Option<Shape>,
    key_column: Option<&str>,
    taken: &mut HashMap<String, String>,
    cx: &Ctxt,
) -> Option<BlindIndex<'a>> {
    let attr = field.attrs.encrypted.as_ref()?;
    let Some(lit) = &attr.blind_index else {
        if let Some(path) = &attr.normalize {
            cx.error_spanned_by(
                path,
                "`normalize` applies to a blind index: add `blind_index = \"..\"` or remove it",
            );
        }
        return None;
    };
    let name = lit.value();
    let problem = match input.field_named(&name) {
        None => Some(format!(
            "no field `{name}` in `{}` to hold the blind index of `{}`",
            input.ident, field.ident
        )),
        Some(target) if target.name == field.name => {
            Some("the blind index needs a field of its own, beside the ciphertext".to_owned())
        }
        Some(target) if target.attrs.encrypted.is_some() => Some(format!(
            "`{name}` is itself `#[encrypted]`: the blind index needs a plain field"
        )),
        Some(target) if Some(target.column()) == key_column => {
            Some(format!("`{name}` is the primary key"))
        }
        Some(_) => taken
            .get(&name)
            .map(|owner| format!("`{name}` already holds the blind index of `{owner}`")),
    };
    if let Some(problem) = problem {
        cx.error_spanned_by(lit, problem);
        return None;
    }
    let target = input.field_named(&name)?;
    taken.insert(name.clone(), field.ident.to_string());
    let Some(target_shape) = target.shape else {
        cx.error_spanned_by(
            target.ty,
            format!(
                "blind-index field `{name}` must be `Vec<u8>` (32 raw bytes) or `String` (64 hex digits), \
                 or either in an `Option`"
            ),
        );
        return None;
    };
    if shape.is_some_and(|s| s.nullable) && !target_shape.nullable {
        cx.error_spanned_by(
            target.ty,
            format!(
                "`{}` is nullable, so its blind index `{name}` must be an `Option` too",
                field.ident
            ),
        );
    }
    let normalizer = match &attr.normalize {
        None => Normalizer::Builtin(Ident::new("exact", Span::call_site())),
        Some(path) => match path.get_ident() {
            Some(ident) if BUILTIN_NORMALIZERS.iter().any(|b| ident == b) => {
                Normalizer::Builtin(ident.clone())
            }
            _ => Normalizer::Custom(path.clone()),
        },
    };
    let column = identifier(target.column(), target.ident, "column", cx);
    Some(BlindIndex {
        field: target.ident,
        column,
        shape: target_shape,
        normalizer,
    })
}

/// Reports an SQL column used twice.
fn claim_column(taken: &mut HashMap<String, String>, column: &str, field: &Field<'_>, cx: &Ctxt) {
    if let Some(owner) = taken.insert(column.to_owned(), format!("`{}`", field.ident)) {
        cx.error_spanned_by(
            field.ident,
            format!("column `{column}` is already used by {owner}"),
        );
    }
}

/// Reports generated methods of two fields that would share a name.
fn claim_methods(
    taken: &mut HashMap<String, String>,
    accessor: &Ident,
    nullable: bool,
    blind_index: bool,
    field: &Field<'_>,
    cx: &Ctxt,
) {
    let mut names = vec![
        format!("{accessor}"),
        format!("{accessor}_with"),
        format!("set_{accessor}"),
        format!("set_{accessor}_with"),
    ];
    if nullable {
        names.push(format!("clear_{accessor}"));
    }
    if blind_index {
        names.extend([
            format!("{accessor}_index"),
            format!("{accessor}_index_with"),
        ]);
    }
    for name in names {
        if let Some(owner) = taken.insert(name.clone(), field.ident.to_string()) {
            cx.error_spanned_by(
                field.ident,
                format!(
                    "the methods of `{owner}` and `{}` would both be named `{name}`\n\
                     help: rename one with `#[encrypted(name = \"..\")]`",
                    field.ident
                ),
            );
            return;
        }
    }
}

/// Checks that `name` is a plain SQL identifier (ASCII letters, digits, `_`), as
/// `encrypted_field::model::ModelSpec::validate` does at run time.
fn identifier(name: &str, blame: impl ToTokens, role: &str, cx: &Ctxt) -> String {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        cx.error_spanned_by(
            blame,
            format!("{role} name `{name}` is not a plain SQL identifier: use ASCII letters, digits and `_`"),
        );
    }
    name.to_owned()
}
