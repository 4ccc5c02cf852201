//! Reading the attributes: `#[encrypted_model(..)]` on the struct, `#[encrypted(..)]` on fields,
//! and the parts of Diesel's `#[diesel(..)]` that name the table, the primary key and columns.
//!
//! Parsing records mistakes in the [`Ctxt`] and keeps going, so that every mistake is reported.

use proc_macro2::{Spacing, TokenTree};
use syn::ext::IdentExt as _;
use syn::meta::ParseNestedMeta;
use syn::parse::ParseStream;
use syn::{Attribute, Ident, LitStr, Meta, Path, Token, Type};

use crate::ctxt::Ctxt;

/// `#[encrypted_model(table = "..", primary_key = "..", primary_key_type = ..)]`.
#[derive(Default)]
pub(crate) struct ModelAttrs {
    pub(crate) table: Option<LitStr>,
    pub(crate) primary_key: Option<LitStr>,
    pub(crate) primary_key_type: Option<Type>,
    /// Whether the attribute had a mistake (already reported): what it lacks may be a consequence.
    pub(crate) malformed: bool,
}

/// What the derive reads from Diesel's struct attributes.
#[derive(Default)]
pub(crate) struct DieselStructAttrs {
    /// `table_name = schema::customers`.
    pub(crate) table_name: Option<Path>,
    /// `primary_key(a, b)`: the keyword (for spans) and the field names.
    pub(crate) primary_key: Option<(Path, Vec<Ident>)>,
}

/// `#[encrypted]` or `#[encrypted(..)]` on a field.
pub(crate) struct EncryptedAttr {
    /// The attribute itself, for spans.
    pub(crate) attr: Attribute,
    pub(crate) name: Option<LitStr>,
    pub(crate) ty: Option<Type>,
    pub(crate) blind_index: Option<LitStr>,
    pub(crate) normalize: Option<Path>,
    pub(crate) column: Option<LitStr>,
    /// `bind_row`: the key itself, for spans.
    pub(crate) bind_row: Option<Path>,
}

/// What the derive reads from a field's attributes.
#[derive(Default)]
pub(crate) struct FieldAttrs {
    pub(crate) encrypted: Option<EncryptedAttr>,
    /// Diesel's `column_name = ..`, unraw.
    pub(crate) diesel_column: Option<String>,
}

const MODEL_KEYS: &str = "`table`, `primary_key`, `primary_key_type`";
const MODEL_FORM: &str =
    r#"#[encrypted_model(table = "customers", primary_key = "id", primary_key_type = i64)]"#;
const FIELD_KEYS: &str = "`name`, `ty`, `blind_index`, `normalize`, `column`, `bind_row`";
const FIELD_FORM: &str =
    r#"#[encrypted(name = "phone", ty = String, blind_index = "phone_bidx", normalize = digits)]"#;

impl ModelAttrs {
    pub(crate) fn from_attrs(attrs: &[Attribute], cx: &Ctxt) -> Self {
        let mut this = Self::default();
        for attr in attrs
            .iter()
            .filter(|a| a.path().is_ident("encrypted_model"))
        {
            if !matches!(attr.meta, Meta::List(_)) {
                this.malformed = true;
                cx.error_spanned_by(attr, format!("expected arguments in parentheses\nhelp: the correct form looks like `{MODEL_FORM}`"));
                continue;
            }
            let parsed = attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("table") {
                    set_once(
                        cx,
                        &meta,
                        &mut this.table,
                        lit_str(&meta, r#"table = "customers""#)?,
                    );
                } else if meta.path.is_ident("primary_key") {
                    set_once(
                        cx,
                        &meta,
                        &mut this.primary_key,
                        lit_str(&meta, r#"primary_key = "id""#)?,
                    );
                } else if meta.path.is_ident("primary_key_type") {
                    let ty = meta.value()?.parse::<Type>()?;
                    set_once(cx, &meta, &mut this.primary_key_type, ty);
                } else {
                    this.malformed = true;
                    unknown_key(cx, &meta, "encrypted_model", MODEL_KEYS, MODEL_FORM)?;
                }
                Ok(())
            });
            if let Err(error) = parsed {
                this.malformed = true;
                cx.syn_error(error);
            }
        }
        this
    }
}

impl DieselStructAttrs {
    /// Diesel reports its own syntax errors: whatever does not parse here is left to it.
    pub(crate) fn from_attrs(attrs: &[Attribute]) -> Self {
        let mut this = Self::default();
        for attr in attrs.iter().filter(|a| a.path().is_ident("diesel")) {
            let _ = attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("table_name") {
                    this.table_name = Some(meta.value()?.parse::<Path>()?);
                } else if meta.path.is_ident("primary_key") {
                    let mut keys = Vec::new();
                    meta.parse_nested_meta(|key| {
                        keys.push(key.path.require_ident()?.unraw());
                        Ok(())
                    })?;
                    this.primary_key = Some((meta.path.clone(), keys));
                } else {
                    skip_value(meta.input)?;
                }
                Ok(())
            });
        }
        this
    }
}

impl FieldAttrs {
    pub(crate) fn from_attrs(attrs: &[Attribute], cx: &Ctxt) -> Self {
        let mut this = Self::default();
        for attr in attrs {
            if attr.path().is_ident("encrypted") {
                if this.encrypted.is_some() {
                    cx.error_spanned_by(
                        attr,
                        "duplicate `#[encrypted]` attribute: give every key in one",
                    );
                    continue;
                }
                this.encrypted = Some(EncryptedAttr::parse(attr, cx));
            } else if attr.path().is_ident("diesel") {
                let _ = attr.parse_nested_meta(|meta| {
                    if meta.path.is_ident("column_name") {
                        let value = meta.value()?;
                        this.diesel_column = Some(if value.peek(LitStr) {
                            value.parse::<LitStr>()?.value()
                        } else {
                            value.call(Ident::parse_any)?.unraw().to_string()
                        });
                    } else {
                        skip_value(meta.input)?;
                    }
                    Ok(())
                });
            }
        }
        this
    }
}

impl EncryptedAttr {
    fn parse(attr: &Attribute, cx: &Ctxt) -> Self {
        let mut this = Self {
            attr: attr.clone(),
            name: None,
            ty: None,
            blind_index: None,
            normalize: None,
            column: None,
            bind_row: None,
        };
        match &attr.meta {
            Meta::Path(_) => return this,
            Meta::List(_) => {}
            Meta::NameValue(_) => {
                cx.error_spanned_by(attr, format!("expected `#[encrypted]` or keys in parentheses\nhelp: the correct form looks like `{FIELD_FORM}`"));
                return this;
            }
        }
        let parsed = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("name") {
                set_once(cx, &meta, &mut this.name, lit_str(&meta, r#"name = "phone""#)?);
            } else if meta.path.is_ident("ty") {
                let ty = meta.value()?.parse::<Type>()?;
                set_once(cx, &meta, &mut this.ty, ty);
            } else if meta.path.is_ident("blind_index") {
                set_once(cx, &meta, &mut this.blind_index, lit_str(&meta, r#"blind_index = "phone_bidx""#)?);
            } else if meta.path.is_ident("normalize") {
                let path = meta.value()?.parse::<Path>().map_err(|e| {
                    syn::Error::new(e.span(), "expected a normalizer: `exact`, `digits`, `lowercase` or the path of a `fn(&str) -> Cow<str>`")
                })?;
                set_once(cx, &meta, &mut this.normalize, path);
            } else if meta.path.is_ident("column") {
                set_once(cx, &meta, &mut this.column, lit_str(&meta, r#"column = "phone_number""#)?);
            } else if meta.path.is_ident("bind_row") {
                if !(meta.input.is_empty() || meta.input.peek(Token![,])) {
                    return Err(meta.error("`bind_row` takes no value: `#[encrypted(bind_row)]`"));
                }
                set_once(cx, &meta, &mut this.bind_row, meta.path.clone());
            } else {
                unknown_key(cx, &meta, "encrypted", FIELD_KEYS, FIELD_FORM)?;
            }
            Ok(())
        });
        if let Err(error) = parsed {
            cx.syn_error(error);
        }
        this
    }
}

/// `key = "string"`, with the correct form in the error.
fn lit_str(meta: &ParseNestedMeta<'_>, form: &str) -> syn::Result<LitStr> {
    let value = meta.value()?;
    value
        .parse::<LitStr>()
        .map_err(|e| syn::Error::new(e.span(), format!("expected a string literal: `{form}`")))
}

/// Stores a key's value, reporting a key given twice.
fn set_once<T>(cx: &Ctxt, meta: &ParseNestedMeta<'_>, slot: &mut Option<T>, value: T) {
    if slot.is_some() {
        let key = meta
            .path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        cx.error_spanned_by(&meta.path, format!("duplicate key `{key}`"));
    } else {
        *slot = Some(value);
    }
}

/// Reports an unknown key with the valid ones and the correct form, then skips its value so that
/// the keys after it are still read.
fn unknown_key(
    cx: &Ctxt,
    meta: &ParseNestedMeta<'_>,
    attr: &str,
    keys: &str,
    form: &str,
) -> syn::Result<()> {
    let key = meta
        .path
        .get_ident()
        .map_or_else(|| "?".to_owned(), ToString::to_string);
    cx.error_spanned_by(
        &meta.path,
        format!("unknown key `{key}` in `#[{attr}]`: expected one of {keys}\nhelp: the correct form looks like `{form}`"),
    );
    skip_value(meta.input)
}

/// Skips `= value` or `(..)` up to the next top-level comma. Types in values may hold commas
/// between angle brackets (`HashMap<K, V>`), so those are tracked.
fn skip_value(input: ParseStream<'_>) -> syn::Result<()> {
    let mut depth = 0_usize;
    let mut after_minus = false;
    while !(input.is_empty() || depth == 0 && input.peek(Token![,])) {
        let token: TokenTree = input.parse()?;
        let mut minus = false;
        if let TokenTree::Punct(punct) = &token {
            match punct.as_char() {
                '<' => depth += 1,
                '>' if !after_minus => depth = depth.saturating_sub(1),
                '-' => minus = punct.spacing() == Spacing::Joint,
                _ => {}
            }
        }
        after_minus = minus;
    }
    Ok(())
}
