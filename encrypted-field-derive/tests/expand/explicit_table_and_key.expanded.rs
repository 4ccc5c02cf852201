::core::compile_error! {
    "primary key `code` must be an integer, a `String` or a `Uuid`: rotation pages through rows by it"
}
const _: () = {
    #[automatically_derived]
    impl<'a> ::encrypted_field::__private::EncryptedModel for Supplier<'a> {
        fn model_spec() -> ::encrypted_field::__private::ModelSpec {
            ::core::unreachable!()
        }
    }
    #[automatically_derived]
    #[allow(dead_code, unused_variables, clippy::all)]
    impl<'a> Supplier<'a> {
        pub(crate) fn tax_id(
            &self,
        ) -> ::core::result::Result<
            ::std::string::String,
            ::encrypted_field::__private::Error,
        > {
            ::core::unreachable!()
        }
        pub(crate) fn tax_id_with(
            &self,
            ring: &::encrypted_field::__private::KeyRing,
        ) -> ::core::result::Result<
            ::std::string::String,
            ::encrypted_field::__private::Error,
        > {
            ::core::unreachable!()
        }
        pub(crate) fn set_tax_id(
            &mut self,
            value: impl ::core::convert::Into<::std::string::String>,
        ) -> ::core::result::Result<(), ::encrypted_field::__private::Error> {
            ::core::unreachable!()
        }
        pub(crate) fn set_tax_id_with(
            &mut self,
            ring: &::encrypted_field::__private::KeyRing,
            value: impl ::core::convert::Into<::std::string::String>,
        ) -> ::core::result::Result<(), ::encrypted_field::__private::Error> {
            ::core::unreachable!()
        }
    }
};
