const _: () = {
    fn __encrypted_field_model_spec() -> ::encrypted_field::__private::ModelSpec {
        ::encrypted_field::__private::ModelSpec::new("phone_requests", "id")
            .with_primary_key_kind(::encrypted_field::__private::KeyKind::Integer)
            .with_rust_type(
                ::core::concat!(::core::module_path!(), "::", "PhoneRequest"),
            )
            .column(
                ::encrypted_field::__private::ColumnSpec::text("phone_number").nullable(),
            )
    }
    #[automatically_derived]
    impl ::encrypted_field::__private::EncryptedModel for PhoneRequest {
        fn model_spec() -> ::encrypted_field::__private::ModelSpec {
            __encrypted_field_model_spec()
        }
    }
    ::encrypted_field::__private::inventory::submit! {
        ::encrypted_field::__private::DiscoveredModel::new(__encrypted_field_model_spec)
    }
    #[automatically_derived]
    #[allow(dead_code)]
    impl PhoneRequest {
        /// Decrypts `_phone` (column `phone_requests.phone_number`) with the process-wide key ring (`encrypted_field::global()`).
        ///
        /// # Errors
        ///
        /// When no key ring is configured, when the stored value does not decrypt under this column's
        /// context (another key, another column, tampered), or when its plaintext is not of this type.
        fn phone(
            &self,
        ) -> ::core::result::Result<
            ::core::option::Option<::std::string::String>,
            ::encrypted_field::__private::Error,
        > {
            ::encrypted_field::__private::with_global(|ring| self.phone_with(ring))
        }
        /// Decrypts `_phone` (column `phone_requests.phone_number`) with `ring`; see [`Self::phone`].
        fn phone_with(
            &self,
            ring: &::encrypted_field::__private::KeyRing,
        ) -> ::core::result::Result<
            ::core::option::Option<::std::string::String>,
            ::encrypted_field::__private::Error,
        > {
            match &self._phone {
                ::core::option::Option::Some(stored) => {
                    (::encrypted_field::__private::codec::<::std::string::String>()
                        .open_text)(ring, stored, "phone_requests.phone_number")
                        .map(::core::option::Option::Some)
                }
                ::core::option::Option::None => {
                    ::core::result::Result::Ok(::core::option::Option::None)
                }
            }
        }
        /// Encrypts `value` into `_phone` (column `phone_requests.phone_number`) with the active key of the process-wide key ring.
        ///
        /// # Errors
        ///
        /** When no key ring is configured, or the operating system's random number generator fails; the
 model is then unchanged.*/
        fn set_phone(
            &mut self,
            value: impl ::core::convert::Into<::std::string::String>,
        ) -> ::core::result::Result<(), ::encrypted_field::__private::Error> {
            self.set_phone_with(&*::encrypted_field::__private::global()?, value)
        }
        /// Encrypts `value` into `_phone` (column `phone_requests.phone_number`) with `ring`'s active key; see [`Self::set_phone`].
        fn set_phone_with(
            &mut self,
            ring: &::encrypted_field::__private::KeyRing,
            value: impl ::core::convert::Into<::std::string::String>,
        ) -> ::core::result::Result<(), ::encrypted_field::__private::Error> {
            let value: ::std::string::String = ::core::convert::Into::into(value);
            self._phone = ::core::option::Option::Some(
                (::encrypted_field::__private::codec::<::std::string::String>()
                    .seal_text)(ring, &value, "phone_requests.phone_number")?,
            );
            ::core::result::Result::Ok(())
        }
        /// Sets `_phone` (column `phone_requests.phone_number`) to NULL.
        fn clear_phone(&mut self) {
            self._phone = ::core::option::Option::None;
        }
    }
};
