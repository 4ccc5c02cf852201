//! After an error: the errors, a stub `EncryptedModel` impl and stub accessors for every
//! `#[encrypted]` field whose names can be made out, so that code using the model does not add a
//! cascade of unrelated errors ("no method named `ssn`") to the real one (as thiserror does).
//!
//! The stubs have the signatures the real expansion would give, as far as the attributes could be
//! read (the accessor's name, `ty = ..`, the blind index); their bodies never run, since the crate
//! does not compile.

use std::collections::HashSet;

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{DeriveInput, Ident};

use crate::ast::{Field, Input, Storage};

pub(crate) fn expand(
    input: &DeriveInput,
    parsed: Option<&Input<'_>>,
    errors: syn::Error,
) -> TokenStream {
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let errors = errors.to_compile_error();
    let accessors = parsed.map(stub_accessors);
    quote! {
        #errors

        const _: () = {
            #[automatically_derived]
            impl #impl_generics ::encrypted_field::__private::EncryptedModel for #ident #ty_generics #where_clause {
                fn model_spec() -> ::encrypted_field::__private::ModelSpec {
                    ::core::unreachable!()
                }
            }

            #accessors
        };
    }
}

/// An inherent impl with the accessors of every `#[encrypted]` field, each name once (a name
/// given twice is one of the errors already reported; a second stub would only repeat it).
fn stub_accessors(input: &Input<'_>) -> TokenStream {
    let ident = input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let mut seen = HashSet::new();
    let methods = input
        .fields
        .iter()
        .filter_map(|field| {
            let accessor = accessor_name(field)?;
            seen.insert(accessor.to_string())
                .then(|| stub_methods(input, field, &accessor))
        })
        .collect::<Vec<_>>();
    quote! {
        #[automatically_derived]
        #[allow(dead_code, unused_variables, clippy::all)]
        impl #impl_generics #ident #ty_generics #where_clause {
            #(#methods)*
        }
    }
}

/// The getter's name as the real expansion would choose it: `name = ".."`, or the field's name
/// without its leading underscores. `None` for a field without `#[encrypted]`, or a name that is
/// not an identifier (already reported).
fn accessor_name(field: &Field<'_>) -> Option<Ident> {
    let encrypted = field.attrs.encrypted.as_ref()?;
    let name = encrypted.name.as_ref().map_or_else(
        || field.name.trim_start_matches('_').to_owned(),
        syn::LitStr::value,
    );
    syn::parse_str::<Ident>(&name).ok()
}

/// The stubs of one field, with the struct's visibility as the real accessors have.
fn stub_methods(input: &Input<'_>, field: &Field<'_>, accessor: &Ident) -> TokenStream {
    let vis = input.vis;
    let encrypted = field.attrs.encrypted.as_ref();
    let plaintext = encrypted
        .and_then(|e| e.ty.clone())
        .unwrap_or_else(|| syn::parse_quote!(::std::string::String));
    let nullable = field.shape.is_some_and(|shape| shape.nullable);
    let read_ty = if nullable {
        quote!(::core::option::Option<#plaintext>)
    } else {
        quote!(#plaintext)
    };
    let error = quote!(::encrypted_field::__private::Error);
    let ring = quote!(::encrypted_field::__private::KeyRing);
    let (with, set, set_with, clear) = (
        format_ident!("{accessor}_with"),
        format_ident!("set_{accessor}"),
        format_ident!("set_{accessor}_with"),
        format_ident!("clear_{accessor}"),
    );
    let clear = nullable.then(|| quote!(#vis fn #clear(&mut self) { ::core::unreachable!() }));
    let index = encrypted
        .and_then(|e| e.blind_index.as_ref())
        .map(|blind_index| {
            // The index's type follows the field that holds it, as in the real expansion.
            let text = input
                .field_named(&blind_index.value())
                .and_then(|f| f.shape)
                .is_some_and(|shape| shape.storage == Storage::Text);
            let index_ty = if text {
                quote!(::std::string::String)
            } else {
                quote!(::std::vec::Vec<u8>)
            };
            let (index, index_with) = (
                format_ident!("{accessor}_index"),
                format_ident!("{accessor}_index_with"),
            );
            quote! {
                #vis fn #index(value: impl ::core::convert::Into<#plaintext>) -> ::core::result::Result<#index_ty, #error> {
                    ::core::unreachable!()
                }
                #vis fn #index_with(ring: &#ring, value: impl ::core::convert::Into<#plaintext>) -> ::core::result::Result<#index_ty, #error> {
                    ::core::unreachable!()
                }
            }
        });
    quote! {
        #vis fn #accessor(&self) -> ::core::result::Result<#read_ty, #error> {
            ::core::unreachable!()
        }
        #vis fn #with(&self, ring: &#ring) -> ::core::result::Result<#read_ty, #error> {
            ::core::unreachable!()
        }
        #vis fn #set(&mut self, value: impl ::core::convert::Into<#plaintext>) -> ::core::result::Result<(), #error> {
            ::core::unreachable!()
        }
        #vis fn #set_with(&mut self, ring: &#ring, value: impl ::core::convert::Into<#plaintext>) -> ::core::result::Result<(), #error> {
            ::core::unreachable!()
        }
        #clear
        #index
    }
}
