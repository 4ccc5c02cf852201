//! Writing the code for a checked [`Model`]. Everything generated is named by absolute path and
//! reaches the runtime only through `::encrypted_field::__private`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::DeriveInput;
use syn::spanned::Spanned as _;

use crate::ast::{Input, KeyKind, Storage};
use crate::ctxt::Ctxt;
use crate::fallback;
use crate::valid::{self, BlindIndex, Column, Model, Normalizer};

/// The derive on tokens: what the proc macro runs, and what the expansion tests call.
pub(crate) fn derive_encrypted_model_inner(input: TokenStream) -> TokenStream {
    match syn::parse2::<DeriveInput>(input) {
        Ok(input) => derive(&input),
        Err(error) => error.to_compile_error(),
    }
}

/// The expansion, or the errors followed by stub impls.
fn derive(input: &DeriveInput) -> TokenStream {
    let cx = Ctxt::default();
    let parsed = Input::from_syn(input, &cx);
    let model = parsed.as_ref().and_then(|parsed| valid::check(parsed, &cx));
    match (cx.check(), model) {
        (Ok(()), Some(model)) => expand(&model),
        (Err(errors), _) => fallback::expand(input, parsed.as_ref(), errors),
        (Ok(()), None) => fallback::expand(
            input,
            parsed.as_ref(),
            syn::Error::new_spanned(
                &input.ident,
                "internal error in #[derive(EncryptedModel)]: please report it",
            ),
        ),
    }
}

fn expand(model: &Model<'_>) -> TokenStream {
    let ident = model.ident;
    let (impl_generics, ty_generics, where_clause) = model.generics.split_for_impl();
    let spec = model_spec(model);
    let methods = model.columns.iter().map(|column| methods(model, column));
    // One constant per normalizer: a function of the wrong type is reported once, at its path.
    let normalizers = model.columns.iter().filter_map(|column| {
        let blind = column.blind_index.as_ref()?;
        let (name, normalizer) = (normalizer_const(column), normalizer(&blind.normalizer));
        Some(quote!(const #name: ::encrypted_field::__private::Normalizer = #normalizer;))
    });
    quote! {
        const _: () = {
            #(#normalizers)*

            fn __encrypted_field_model_spec() -> ::encrypted_field::__private::ModelSpec {
                #spec
            }

            #[automatically_derived]
            impl #impl_generics ::encrypted_field::__private::EncryptedModel for #ident #ty_generics #where_clause {
                fn model_spec() -> ::encrypted_field::__private::ModelSpec {
                    __encrypted_field_model_spec()
                }
            }

            ::encrypted_field::__private::inventory::submit! {
                ::encrypted_field::__private::DiscoveredModel::new(__encrypted_field_model_spec)
            }

            #[automatically_derived]
            #[allow(dead_code)]
            impl #impl_generics #ident #ty_generics #where_clause {
                #(#methods)*
            }
        };
    }
}

/// The `ModelSpec` expression.
fn model_spec(model: &Model<'_>) -> TokenStream {
    let (table, primary_key) = (&model.table, &model.primary_key);
    let kind = match model.key_kind {
        KeyKind::Integer => quote!(Integer),
        KeyKind::Text => quote!(Text),
    };
    let rust_type = model.ident.to_string();
    let columns = model.columns.iter().map(|column| {
        let name = &column.column;
        let constructor = storage_constructor(column.shape.storage);
        let nullable = column.shape.nullable.then(|| quote!(.nullable()));
        let bind_row = column.bind_row.then(|| quote!(.bound_to_row()));
        let blind_index = column.blind_index.as_ref().map(|blind| {
            let (name, constructor) = (&blind.column, storage_constructor(blind.shape.storage));
            let normalizer_name = normalizer_name(&blind.normalizer);
            let normalizer = normalizer_const(column);
            quote! {
                .with_blind_index(
                    ::encrypted_field::__private::BlindIndexSpec::#constructor(#name)
                        .with_normalizer(#normalizer_name, #normalizer)
                )
            }
        });
        quote! {
            .column(::encrypted_field::__private::ColumnSpec::#constructor(#name) #nullable #bind_row #blind_index)
        }
    });
    quote! {
        ::encrypted_field::__private::ModelSpec::new(#table, #primary_key)
            .with_primary_key_kind(::encrypted_field::__private::KeyKind::#kind)
            .with_rust_type(::core::concat!(::core::module_path!(), "::", #rust_type))
            #(#columns)*
    }
}

/// The getters, setters and blind-index functions of one column.
fn methods(model: &Model<'_>, column: &Column<'_>) -> TokenStream {
    let vis = model.vis;
    let (field, accessor, context, plaintext) = (
        column.field,
        &column.accessor,
        &column.context,
        &column.plaintext,
    );
    let span = accessor.span();
    let with = format_ident!("{}_with", accessor, span = span);
    let set = format_ident!("set_{}", accessor, span = span);
    let set_with = format_ident!("set_{}_with", accessor, span = span);
    let (open, seal) = match (column.shape.storage, column.bind_row) {
        (Storage::Binary, false) => (quote!(open_binary), quote!(seal_binary)),
        (Storage::Text, false) => (quote!(open_text), quote!(seal_text)),
        (Storage::Binary, true) => (quote!(open_binary_row), quote!(seal_binary_row)),
        (Storage::Text, true) => (quote!(open_text_row), quote!(seal_text_row)),
    };
    // Spanned at `ty = ..`, so that a type that is not `Plaintext` is reported there.
    let codec = codec(plaintext);
    let open = quote!((#codec.#open));
    let seal = quote!((#codec.#seal));
    // A row-bound column also takes the row's key, read from the key field when the value is
    // sealed or opened (spanned at the key's type, so that a type that cannot be bound is
    // reported there).
    let row = match (column.bind_row, model.key_field) {
        (true, Some((key, key_ty))) => quote_spanned! {key_ty.span()=>
            , &::encrypted_field::__private::row_key(&self.#key, #context)?
        },
        _ => quote!(),
    };
    let described = if column.bind_row {
        format!("`{field}` (column `{context}`, bound to the row's primary key)")
    } else {
        format!("`{field}` (column `{context}`)")
    };
    let nullable = column.shape.nullable;

    let (read_ty, read_body) = if nullable {
        (
            quote!(::core::option::Option<#plaintext>),
            quote! {
                match &self.#field {
                    ::core::option::Option::Some(stored) => #open(ring, stored, #context #row).map(::core::option::Option::Some),
                    ::core::option::Option::None => ::core::result::Result::Ok(::core::option::Option::None),
                }
            },
        )
    } else {
        (
            quote!(#plaintext),
            quote!(#open(ring, &self.#field, #context #row)),
        )
    };
    let wrap = |value: TokenStream, optional: bool| {
        if optional {
            quote!(::core::option::Option::Some(#value))
        } else {
            value
        }
    };
    let sealed = wrap(quote!(#seal(ring, &value, #context #row)?), nullable);
    let (index_ty, compute_index, store_index, clear_index) = match &column.blind_index {
        Some(blind) => {
            let index = blind_index_call(column, blind, false);
            let target = blind.field;
            let stored = wrap(quote!(index), blind.shape.nullable);
            (
                Some(index_type(blind)),
                Some(quote!(let index = #index?;)),
                Some(quote!(self.#target = #stored;)),
                Some(quote!(self.#target = ::core::option::Option::None;)),
            )
        }
        None => (None, None, None, None),
    };
    let refreshes = column
        .blind_index
        .as_ref()
        .map_or_else(String::new, |blind| {
            format!(" and refreshes the blind index `{}`", blind.field)
        });
    let getter_docs = [
        format!(" Decrypts {described} with the process-wide key ring (`encrypted_field::global()`)."),
        String::new(),
        " # Errors".to_owned(),
        String::new(),
        " When no key ring is configured, when the stored value does not decrypt under this column's".to_owned(),
        " context (another key, another column, tampered), or when its plaintext is not of this type.".to_owned(),
    ];
    let getter_docs = getter_docs.into_iter().chain(column.bind_row.then(|| {
        " Bound to its row: a value of another row fails too (`Error::RowAuthentication`), and a key\n \
         not assigned yet (`None`) is `Error::RowKeyUnknown`."
            .to_owned()
    }));
    let setter_errors = if column.blind_index.is_some() {
        " When no key ring or no blind-index key is configured, or the operating system's random number\n generator fails; the model is then unchanged."
    } else {
        " When no key ring is configured, or the operating system's random number generator fails; the\n model is then unchanged."
    };
    let setter_docs = [
        format!(
            " Encrypts `value` into {described} with the active key of the process-wide key ring{refreshes}."
        ),
        String::new(),
        " # Errors".to_owned(),
        String::new(),
        setter_errors.to_owned(),
    ]
    .into_iter()
    .chain(column.bind_row.then(|| {
        " Bound to its row: when the primary key is not assigned yet (`None`), `Error::RowKeyUnknown`."
            .to_owned()
    }));
    let getter_with_doc = format!(" Decrypts {described} with `ring`; see [`Self::{accessor}`].");
    let setter_with_doc = format!(
        " Encrypts `value` into {described} with `ring`'s active key{refreshes}; see [`Self::{set}`]."
    );

    let clear = nullable.then(|| {
        let clear = format_ident!("clear_{}", accessor, span = span);
        let doc = format!(
            " Sets {described} to NULL{}.",
            refreshes.replace("refreshes", "clears")
        );
        quote! {
            #[doc = #doc]
            #vis fn #clear(&mut self) {
                self.#field = ::core::option::Option::None;
                #clear_index
            }
        }
    });
    let index_fns = column.blind_index.as_ref().map(|blind| {
        let index = format_ident!("{}_index", accessor, span = span);
        let index_with = format_ident!("{}_index_with", accessor, span = span);
        let index_any = format_ident!("{}_index_any", accessor, span = span);
        let index_any_with = format_ident!("{}_index_any_with", accessor, span = span);
        let call = blind_index_call(column, blind, false);
        let call_any = blind_index_call(column, blind, true);
        let doc = [
            format!(" The blind index of `value` as stored in `{}`, computed with the process-wide key ring: what", blind.field),
            format!(" to filter by, e.g. `.filter({table}::{column}.eq({ident}::{index}(\"..\")?))`.",
                table = model.table, column = blind.column, ident = model.ident),
            String::new(),
            " # Errors".to_owned(),
            String::new(),
            " When no key ring or no blind-index key is configured.".to_owned(),
        ];
        let doc_with = format!(" The blind index of `value` as stored in `{}`, computed with `ring`; see [`Self::{index}`].", blind.field);
        let doc_any = [
            " The blind index of `value` under every loaded blind-index key version (the active one first),".to_owned(),
            format!(" as `{}` may store it while indexes move between versions: what to look up with, e.g.", blind.field),
            format!(" `.filter({table}::{column}.eq_any({ident}::{index_any}(\"..\")?))`.",
                table = model.table, column = blind.column, ident = model.ident),
            String::new(),
            " # Errors".to_owned(),
            String::new(),
            " When no key ring or no blind-index key is configured.".to_owned(),
        ];
        let doc_any_with = format!(" The blind index of `value` under every loaded blind-index key version of `ring`; see [`Self::{index_any}`].");
        quote! {
            #(#[doc = #doc])*
            #vis fn #index(value: impl ::core::convert::Into<#plaintext>) -> ::core::result::Result<#index_ty, ::encrypted_field::__private::Error> {
                Self::#index_with(&*::encrypted_field::__private::global()?, value)
            }

            #[doc = #doc_with]
            #vis fn #index_with(
                ring: &::encrypted_field::__private::KeyRing,
                value: impl ::core::convert::Into<#plaintext>,
            ) -> ::core::result::Result<#index_ty, ::encrypted_field::__private::Error> {
                let value: #plaintext = ::core::convert::Into::into(value);
                #call
            }

            #(#[doc = #doc_any])*
            #vis fn #index_any(value: impl ::core::convert::Into<#plaintext>) -> ::core::result::Result<::std::vec::Vec<#index_ty>, ::encrypted_field::__private::Error> {
                Self::#index_any_with(&*::encrypted_field::__private::global()?, value)
            }

            #[doc = #doc_any_with]
            #vis fn #index_any_with(
                ring: &::encrypted_field::__private::KeyRing,
                value: impl ::core::convert::Into<#plaintext>,
            ) -> ::core::result::Result<::std::vec::Vec<#index_ty>, ::encrypted_field::__private::Error> {
                let value: #plaintext = ::core::convert::Into::into(value);
                #call_any
            }
        }
    });

    quote! {
        #(#[doc = #getter_docs])*
        #vis fn #accessor(&self) -> ::core::result::Result<#read_ty, ::encrypted_field::__private::Error> {
            ::encrypted_field::__private::with_global(|ring| self.#with(ring))
        }

        #[doc = #getter_with_doc]
        #vis fn #with(
            &self,
            ring: &::encrypted_field::__private::KeyRing,
        ) -> ::core::result::Result<#read_ty, ::encrypted_field::__private::Error> {
            #read_body
        }

        #(#[doc = #setter_docs])*
        #vis fn #set(
            &mut self,
            value: impl ::core::convert::Into<#plaintext>,
        ) -> ::core::result::Result<(), ::encrypted_field::__private::Error> {
            self.#set_with(&*::encrypted_field::__private::global()?, value)
        }

        #[doc = #setter_with_doc]
        #vis fn #set_with(
            &mut self,
            ring: &::encrypted_field::__private::KeyRing,
            value: impl ::core::convert::Into<#plaintext>,
        ) -> ::core::result::Result<(), ::encrypted_field::__private::Error> {
            let value: #plaintext = ::core::convert::Into::into(value);
            #compute_index
            self.#field = #sealed;
            #store_index
            ::core::result::Result::Ok(())
        }

        #clear
        #index_fns
    }
}

/// `blind_index_binary(ring, context, &value, normalizer)`, a `Result` of the stored index (or,
/// `any`, of the stored index under every loaded blind-index version).
fn blind_index_call(column: &Column<'_>, blind: &BlindIndex<'_>, any: bool) -> TokenStream {
    let (context, plaintext) = (&column.context, &column.plaintext);
    let compute = match (blind.shape.storage, any) {
        (Storage::Binary, false) => quote!(blind_index_binary),
        (Storage::Text, false) => quote!(blind_index_text),
        (Storage::Binary, true) => quote!(blind_indexes_any_binary),
        (Storage::Text, true) => quote!(blind_indexes_any_text),
    };
    let codec = codec(plaintext);
    let normalizer = normalizer_const(column);
    quote!((#codec.#compute)(ring, #context, &value, #normalizer))
}

/// `codec::<T>()`, spanned at `ty = ..` so that a type that is not `Plaintext` is reported there,
/// once.
fn codec(plaintext: &syn::Type) -> TokenStream {
    quote_spanned!(plaintext.span()=> ::encrypted_field::__private::codec::<#plaintext>())
}

/// The name of the constant that holds a column's normalizer.
fn normalizer_const(column: &Column<'_>) -> syn::Ident {
    format_ident!(
        "__ENCRYPTED_FIELD_NORMALIZE_{}",
        column.accessor.to_string().to_uppercase()
    )
}

/// The type a blind index is stored as.
fn index_type(blind: &BlindIndex<'_>) -> TokenStream {
    match blind.shape.storage {
        Storage::Binary => quote!(::std::vec::Vec<u8>),
        Storage::Text => quote!(::std::string::String),
    }
}

/// The normalizer function, by path.
fn normalizer(normalizer: &Normalizer) -> TokenStream {
    match normalizer {
        Normalizer::Builtin(name) => quote!(::encrypted_field::__private::normalize::#name),
        // Spanned at the user's path, so that a function of the wrong type is reported there.
        Normalizer::Custom(path) => quote_spanned!(path.span()=> #path),
    }
}

/// The normalizer's name in the `ModelSpec`: the built-in name, or the path as written.
fn normalizer_name(normalizer: &Normalizer) -> String {
    match normalizer {
        Normalizer::Builtin(name) => name.to_string(),
        Normalizer::Custom(path) => {
            let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
            let prefix = if path.leading_colon.is_some() {
                "::"
            } else {
                ""
            };
            format!("{prefix}{}", segments.join("::"))
        }
    }
}

fn storage_constructor(storage: Storage) -> TokenStream {
    match storage {
        Storage::Binary => quote!(binary),
        Storage::Text => quote!(text),
    }
}
