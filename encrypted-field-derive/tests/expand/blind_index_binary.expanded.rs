const _: () = {
    const __ENCRYPTED_FIELD_NORMALIZE_PHONE: ::encrypted_field::__private::Normalizer = ::encrypted_field::__private::normalize::digits;
    fn __encrypted_field_model_spec() -> ::encrypted_field::__private::ModelSpec {
        ::encrypted_field::__private::ModelSpec::new("customers", "id")
            .with_primary_key_kind(::encrypted_field::__private::KeyKind::Integer)
            .with_rust_type(::core::concat!(::core::module_path!(), "::", "Customer"))
            .column(
                ::encrypted_field::__private::ColumnSpec::binary("_phone")
                    .with_blind_index(
                        ::encrypted_field::__private::BlindIndexSpec::binary(
                                "phone_bidx",
                            )
                            .with_normalizer("digits", __ENCRYPTED_FIELD_NORMALIZE_PHONE),
                    ),
            )
    }
    #[automatically_derived]
    impl ::encrypted_field::__private::EncryptedModel for Customer {
        fn model_spec() -> ::encrypted_field::__private::ModelSpec {
            __encrypted_field_model_spec()
        }
    }
    ::encrypted_field::__private::inventory::submit! {
        ::encrypted_field::__private::DiscoveredModel::new(__encrypted_field_model_spec)
    }
    #[automatically_derived]
    #[allow(dead_code)]
    impl Customer {
        /// Decrypts `_phone` (column `customers._phone`) with the process-wide key ring (`encrypted_field::global()`).
        ///
        /// # Errors
        ///
        /// When no key ring is configured, when the stored value does not decrypt under this column's
        /// context (another key, another column, tampered), or when its plaintext is not of this type.
        fn phone(
            &self,
        ) -> ::core::result::Result<
            ::std::string::String,
            ::encrypted_field::__private::Error,
        > {
            ::encrypted_field::__private::with_global(|ring| self.phone_with(ring))
        }
        /// Decrypts `_phone` (column `customers._phone`) with `ring`; see [`Self::phone`].
        fn phone_with(
            &self,
            ring: &::encrypted_field::__private::KeyRing,
        ) -> ::core::result::Result<
            ::std::string::String,
            ::encrypted_field::__private::Error,
        > {
            (::encrypted_field::__private::codec::<::std::string::String>()
                .open_binary)(ring, &self._phone, "customers._phone")
        }
        /// Encrypts `value` into `_phone` (column `customers._phone`) with the active key of the process-wide key ring and refreshes the blind index `phone_bidx`.
        ///
        /// # Errors
        ///
        /** When no key ring or no blind-index key is configured, or the operating system's random number
 generator fails; the model is then unchanged.*/
        fn set_phone(
            &mut self,
            value: impl ::core::convert::Into<::std::string::String>,
        ) -> ::core::result::Result<(), ::encrypted_field::__private::Error> {
            self.set_phone_with(&*::encrypted_field::__private::global()?, value)
        }
        /// Encrypts `value` into `_phone` (column `customers._phone`) with `ring`'s active key and refreshes the blind index `phone_bidx`; see [`Self::set_phone`].
        fn set_phone_with(
            &mut self,
            ring: &::encrypted_field::__private::KeyRing,
            value: impl ::core::convert::Into<::std::string::String>,
        ) -> ::core::result::Result<(), ::encrypted_field::__private::Error> {
            let value: ::std::string::String = ::core::convert::Into::into(value);
            let index = (::encrypted_field::__private::codec::<::std::string::String>()
                .blind_index_binary)(
                ring,
                "customers._phone",
                &value,
                __ENCRYPTED_FIELD_NORMALIZE_PHONE,
            )?;
            self._phone = (::encrypted_field::__private::codec::<::std::string::String>()
                .seal_binary)(ring, &value, "customers._phone")?;
            self.phone_bidx = index;
            ::core::result::Result::Ok(())
        }
        /// The blind index of `value` as stored in `phone_bidx`, computed with the process-wide key ring: what
        /// to filter by, e.g. `.filter(customers::phone_bidx.eq(Customer::phone_index("..")?))`.
        ///
        /// # Errors
        ///
        /// When no key ring or no blind-index key is configured.
        fn phone_index(
            value: impl ::core::convert::Into<::std::string::String>,
        ) -> ::core::result::Result<
            ::std::vec::Vec<u8>,
            ::encrypted_field::__private::Error,
        > {
            Self::phone_index_with(&*::encrypted_field::__private::global()?, value)
        }
        /// The blind index of `value` as stored in `phone_bidx`, computed with `ring`; see [`Self::phone_index`].
        fn phone_index_with(
            ring: &::encrypted_field::__private::KeyRing,
            value: impl ::core::convert::Into<::std::string::String>,
        ) -> ::core::result::Result<
            ::std::vec::Vec<u8>,
            ::encrypted_field::__private::Error,
        > {
            let value: ::std::string::String = ::core::convert::Into::into(value);
            (::encrypted_field::__private::codec::<::std::string::String>()
                .blind_index_binary)(
                ring,
                "customers._phone",
                &value,
                __ENCRYPTED_FIELD_NORMALIZE_PHONE,
            )
        }
    }
};
