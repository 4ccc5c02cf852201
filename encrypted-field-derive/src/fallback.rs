//! After an error: the errors, and a stub `EncryptedModel` impl so that code using the model does
//! not add a cascade of unrelated errors to the real one (as thiserror does).

use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

pub(crate) fn expand(input: &DeriveInput, errors: syn::Error) -> TokenStream {
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let errors = errors.to_compile_error();
    quote! {
        #errors

        const _: () = {
            #[automatically_derived]
            impl #impl_generics ::encrypted_field::__private::EncryptedModel for #ident #ty_generics #where_clause {
                fn model_spec() -> ::encrypted_field::__private::ModelSpec {
                    ::core::unreachable!()
                }
            }
        };
    }
}
