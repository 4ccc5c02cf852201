::core::compile_error! {
    "unknown key `nme` in `#[encrypted]`: expected one of `name`, `ty`, `blind_index`, `normalize`, `column`, `bind_row`\nhelp: the correct form looks like `#[encrypted(name = \"phone\", ty = String, blind_index = \"phone_bidx\", normalize = digits)]`"
}
::core::compile_error! {
    "missing table name: add `#[diesel(table_name = customers)]` or `#[encrypted_model(table = \"customers\")]`"
}
::core::compile_error! {
    "`#[encrypted]` field `_ssn` must hold the stored ciphertext: `Vec<u8>` or `Option<Vec<u8>>` for a binary column, `String` or `Option<String>` (base64) for a text column\nhelp: the plaintext type is chosen with `#[encrypted(ty = i64)]`"
}
::core::compile_error! {
    "`#[encrypted]` field `phone` holds ciphertext: name it `_phone` so that `phone()` can return the plaintext\nhelp: or name the accessors: `#[encrypted(name = \"phone\")]`"
}
::core::compile_error! {
    "no field `missing` in `Customer` to hold the blind index of `phone`"
}
const _: () = {
    #[automatically_derived]
    impl ::encrypted_field::__private::EncryptedModel for Customer {
        fn model_spec() -> ::encrypted_field::__private::ModelSpec {
            ::core::unreachable!()
        }
    }
    #[automatically_derived]
    #[allow(dead_code, unused_variables, clippy::all)]
    impl Customer {
        fn ssn(
            &self,
        ) -> ::core::result::Result<
            ::std::string::String,
            ::encrypted_field::__private::Error,
        > {
            ::core::unreachable!()
        }
        fn ssn_with(
            &self,
            ring: &::encrypted_field::__private::KeyRing,
        ) -> ::core::result::Result<
            ::std::string::String,
            ::encrypted_field::__private::Error,
        > {
            ::core::unreachable!()
        }
        fn set_ssn(
            &mut self,
            value: impl ::core::convert::Into<::std::string::String>,
        ) -> ::core::result::Result<(), ::encrypted_field::__private::Error> {
            ::core::unreachable!()
        }
        fn set_ssn_with(
            &mut self,
            ring: &::encrypted_field::__private::KeyRing,
            value: impl ::core::convert::Into<::std::string::String>,
        ) -> ::core::result::Result<(), ::encrypted_field::__private::Error> {
            ::core::unreachable!()
        }
        fn phone(
            &self,
        ) -> ::core::result::Result<
            ::std::string::String,
            ::encrypted_field::__private::Error,
        > {
            ::core::unreachable!()
        }
        fn phone_with(
            &self,
            ring: &::encrypted_field::__private::KeyRing,
        ) -> ::core::result::Result<
            ::std::string::String,
            ::encrypted_field::__private::Error,
        > {
            ::core::unreachable!()
        }
        fn set_phone(
            &mut self,
            value: impl ::core::convert::Into<::std::string::String>,
        ) -> ::core::result::Result<(), ::encrypted_field::__private::Error> {
            ::core::unreachable!()
        }
        fn set_phone_with(
            &mut self,
            ring: &::encrypted_field::__private::KeyRing,
            value: impl ::core::convert::Into<::std::string::String>,
        ) -> ::core::result::Result<(), ::encrypted_field::__private::Error> {
            ::core::unreachable!()
        }
        fn phone_index(
            value: impl ::core::convert::Into<::std::string::String>,
        ) -> ::core::result::Result<
            ::std::vec::Vec<u8>,
            ::encrypted_field::__private::Error,
        > {
            ::core::unreachable!()
        }
        fn phone_index_with(
            ring: &::encrypted_field::__private::KeyRing,
            value: impl ::core::convert::Into<::std::string::String>,
        ) -> ::core::result::Result<
            ::std::vec::Vec<u8>,
            ::encrypted_field::__private::Error,
        > {
            ::core::unreachable!()
        }
    }
};
