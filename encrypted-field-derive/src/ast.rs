//! The struct as the derive sees it: its attributes, and for each named field its attributes, its
//! SQL column and what its type can be used for. Nothing here is checked yet.

use syn::ext::IdentExt as _;
use syn::{
    Data, DeriveInput, Fields, GenericArgument, Generics, Ident, PathArguments, Type, Visibility,
};

use crate::attr::{DieselStructAttrs, FieldAttrs, ModelAttrs};
use crate::ctxt::Ctxt;

/// A struct with named fields.
pub(crate) struct Input<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) vis: &'a Visibility,
    pub(crate) generics: &'a Generics,
    pub(crate) model: ModelAttrs,
    pub(crate) diesel: DieselStructAttrs,
    pub(crate) fields: Vec<Field<'a>>,
}

/// A named field.
pub(crate) struct Field<'a> {
    pub(crate) ident: &'a Ident,
    /// The field name without `r#`.
    pub(crate) name: String,
    pub(crate) ty: &'a Type,
    pub(crate) attrs: FieldAttrs,
    /// What the type can hold as stored ciphertext or blind index, if anything.
    pub(crate) shape: Option<Shape>,
}

/// How a column stores bytes (mirrors `encrypted_field::model::Storage`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Storage {
    /// `Vec<u8>`.
    Binary,
    /// `String`.
    Text,
}

/// A field type that holds stored bytes: `Vec<u8>`, `String`, or either in an `Option`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Shape {
    pub(crate) storage: Storage,
    pub(crate) nullable: bool,
}

/// The kind of a primary key (mirrors `encrypted_field::model::KeyKind`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum KeyKind {
    Integer,
    Text,
}

impl<'a> Input<'a> {
    /// Reads a struct with named fields; anything else is reported and gives `None`.
    pub(crate) fn from_syn(node: &'a DeriveInput, cx: &Ctxt) -> Option<Self> {
        let model = ModelAttrs::from_attrs(&node.attrs, cx);
        let diesel = DieselStructAttrs::from_attrs(&node.attrs);
        let named = match &node.data {
            Data::Struct(data) => match &data.fields {
                Fields::Named(named) => named,
                Fields::Unnamed(_) | Fields::Unit => {
                    cx.error_spanned_by(
                        &node.ident,
                        "`#[derive(EncryptedModel)]` needs a struct with named fields (one per column)",
                    );
                    return None;
                }
            },
            Data::Enum(data) => {
                cx.error_spanned_by(
                    data.enum_token,
                    "`#[derive(EncryptedModel)]` works on structs only, not enums",
                );
                return None;
            }
            Data::Union(data) => {
                cx.error_spanned_by(
                    data.union_token,
                    "`#[derive(EncryptedModel)]` works on structs only, not unions",
                );
                return None;
            }
        };
        let fields = named
            .named
            .iter()
            .filter_map(|field| {
                let ident = field.ident.as_ref()?;
                Some(Field {
                    ident,
                    name: ident.unraw().to_string(),
                    ty: &field.ty,
                    attrs: FieldAttrs::from_attrs(&field.attrs, cx),
                    shape: shape_of(&field.ty),
                })
            })
            .collect();
        Some(Self {
            ident: &node.ident,
            vis: &node.vis,
            generics: &node.generics,
            model,
            diesel,
            fields,
        })
    }

    /// The field with this name (without `r#`).
    pub(crate) fn field_named(&self, name: &str) -> Option<&Field<'a>> {
        self.fields.iter().find(|f| f.name == name)
    }
}

impl Field<'_> {
    /// The SQL column: Diesel's `column_name` if given, else the field name.
    pub(crate) fn column(&self) -> &str {
        self.attrs.diesel_column.as_deref().unwrap_or(&self.name)
    }
}

/// `Vec<u8>`, `String`, `Option<Vec<u8>>` or `Option<String>`, whatever the path prefix.
fn shape_of(ty: &Type) -> Option<Shape> {
    let (inner, nullable) = match single_argument(ty, "Option") {
        Some(inner) => (inner, true),
        None => (ty, false),
    };
    let storage = if single_argument(inner, "Vec").is_some_and(|byte| last_segment_is(byte, "u8")) {
        Storage::Binary
    } else if last_segment_is(inner, "String") {
        Storage::Text
    } else {
        return None;
    };
    Some(Shape { storage, nullable })
}

/// The kind of a primary-key type: an integer type, `String` or `Uuid` (read as text by
/// rotation), or an `Option` of one (a key the database assigns on insert).
pub(crate) fn key_kind_of(ty: &Type) -> Option<KeyKind> {
    const INTEGERS: [&str; 12] = [
        "i8", "i16", "i32", "i64", "i128", "isize", "u8", "u16", "u32", "u64", "u128", "usize",
    ];
    let ty = single_argument(ty, "Option").unwrap_or(ty);
    if INTEGERS.iter().any(|int| last_segment_is(ty, int)) {
        Some(KeyKind::Integer)
    } else if last_segment_is(ty, "String") || last_segment_is(ty, "Uuid") {
        Some(KeyKind::Text)
    } else {
        None
    }
}

/// Whether the type is `encrypted_field::Encrypted<..>`, which encrypts itself.
pub(crate) fn is_self_encrypting(ty: &Type) -> bool {
    let inner = single_argument(ty, "Option").unwrap_or(ty);
    let Type::Path(path) = inner else {
        return false;
    };
    path.path.segments.last().is_some_and(|last| {
        last.ident == "Encrypted" && matches!(last.arguments, PathArguments::AngleBracketed(_))
    })
}

/// `T` when `ty` is `name<T>` (any path prefix).
fn single_argument<'t>(ty: &'t Type, name: &str) -> Option<&'t Type> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if path.qself.is_some() || last.ident != name {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first() {
        Some(GenericArgument::Type(inner)) if args.args.len() == 1 => Some(inner),
        _ => None,
    }
}

/// Whether `ty` is the plain path `name` (any path prefix, no arguments).
fn last_segment_is(ty: &Type, name: &str) -> bool {
    let Type::Path(path) = ty else { return false };
    path.qself.is_none()
        && path
            .path
            .segments
            .last()
            .is_some_and(|last| last.ident == name && last.arguments.is_none())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(text: &str) -> Type {
        syn::parse_str(text).unwrap()
    }

    #[test]
    fn stored_ciphertext_types_are_recognized_with_any_path() {
        let binary = Some(Shape {
            storage: Storage::Binary,
            nullable: false,
        });
        assert_eq!(shape_of(&ty("Vec<u8>")), binary);
        assert_eq!(shape_of(&ty("::std::vec::Vec<u8>")), binary);
        assert_eq!(
            shape_of(&ty("Option<String>")),
            Some(Shape {
                storage: Storage::Text,
                nullable: true
            })
        );
        for other in [
            "Vec<i8>",
            "Option<Option<String>>",
            "[u8; 32]",
            "&str",
            "Vec<u8, A>",
            "String<T>",
        ] {
            assert_eq!(shape_of(&ty(other)), None, "{other}");
        }
    }

    #[test]
    fn primary_keys_are_integers_or_strings() {
        assert_eq!(key_kind_of(&ty("i32")), Some(KeyKind::Integer));
        assert_eq!(key_kind_of(&ty("std::string::String")), Some(KeyKind::Text));
        assert_eq!(key_kind_of(&ty("uuid::Uuid")), Some(KeyKind::Text));
        assert_eq!(key_kind_of(&ty("Option<i64>")), Some(KeyKind::Integer));
        assert_eq!(key_kind_of(&ty("f64")), None);
    }

    #[test]
    fn encrypted_wrappers_are_recognized() {
        assert!(is_self_encrypting(&ty("Encrypted<String>")));
        assert!(is_self_encrypting(&ty(
            "Option<encrypted_field::diesel::Encrypted<i64, Ssn>>"
        )));
        assert!(!is_self_encrypting(&ty("Vec<u8>")));
    }
}
