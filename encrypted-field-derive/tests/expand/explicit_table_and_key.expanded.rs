::core::compile_error! {
    "primary key `code` must be an integer or a `String`: rotation pages through rows by it"
}
const _: () = {
    #[automatically_derived]
    impl<'a> ::encrypted_field::__private::EncryptedModel for Supplier<'a> {
        fn model_spec() -> ::encrypted_field::__private::ModelSpec {
            ::core::unreachable!()
        }
    }
};
