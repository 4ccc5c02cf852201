const _: () = {
    const __ENCRYPTED_FIELD_NORMALIZE_EMAIL: ::encrypted_field::__private::Normalizer = crate::normalizers::email;
    fn __encrypted_field_model_spec() -> ::encrypted_field::__private::ModelSpec {
        ::encrypted_field::__private::ModelSpec::new("customers", "id")
            .with_primary_key_kind(::encrypted_field::__private::KeyKind::Integer)
            .with_rust_type(::core::concat!(::core::module_path!(), "::", "Customer"))
            .column(
                ::encrypted_field::__private::ColumnSpec::text("_email")
                    .nullable()
                    .with_blind_index(
                        ::encrypted_field::__private::BlindIndexSpec::text("email_bidx")
                            .with_normalizer(
                                "crate::normalizers::email",
                                __ENCRYPTED_FIELD_NORMALIZE_EMAIL,
                            ),
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
        /// Decrypts `_email` (column `customers._email`) with the process-wide key ring (`encrypted_field::global()`).
        ///
        /// # Errors
        ///
        /// When no key ring is configured, when the stored value does not decrypt under this column's
        /// context (another key, another column, tampered), or when its plaintext is not of this type.
        fn email(
            &self,
        ) -> ::core::result::Result<
            ::core::option::Option<::std::string::String>,
            ::encrypted_field::__private::Error,
        > {
            ::encrypted_field::__private::with_global(|ring| self.email_with(ring))
        }
        /// Decrypts `_email` (column `customers._email`) with `ring`; see [`Self::email`].
        fn email_with(
            &self,
            ring: &::encrypted_field::__private::KeyRing,
        ) -> ::core::result::Result<
            ::core::option::Option<::std::string::String>,
            ::encrypted_field::__private::Error,
        > {
            match &self._email {
                ::core::option::Option::Some(stored) => {
                    (::encrypted_field::__private::codec::<::std::string::String>()
                        .open_text)(ring, stored, "customers._email")
                        .map(::core::option::Option::Some)
                }
                ::core::option::Option::None => {
                    ::core::result::Result::Ok(::core::option::Option::None)
                }
            }
        }
        /// Encrypts `value` into `_email` (column `customers._email`) with the active key of the process-wide key ring and refreshes the blind index `email_bidx`.
        ///
        /// # Errors
        ///
        /** When no key ring or no blind-index key is configured, or the operating system's random number
 generator fails; the model is then unchanged.*/
        fn set_email(
            &mut self,
            value: impl ::core::convert::Into<::std::string::String>,
        ) -> ::core::result::Result<(), ::encrypted_field::__private::Error> {
            self.set_email_with(&*::encrypted_field::__private::global()?, value)
        }
        /// Encrypts `value` into `_email` (column `customers._email`) with `ring`'s active key and refreshes the blind index `email_bidx`; see [`Self::set_email`].
        fn set_email_with(
            &mut self,
            ring: &::encrypted_field::__private::KeyRing,
            value: impl ::core::convert::Into<::std::string::String>,
        ) -> ::core::result::Result<(), ::encrypted_field::__private::Error> {
            let value: ::std::string::String = ::core::convert::Into::into(value);
            let index = (::encrypted_field::__private::codec::<::std::string::String>()
                .blind_index_text)(
                ring,
                "customers._email",
                &value,
                __ENCRYPTED_FIELD_NORMALIZE_EMAIL,
            )?;
            self._email = ::core::option::Option::Some(
                (::encrypted_field::__private::codec::<::std::string::String>()
                    .seal_text)(ring, &value, "customers._email")?,
            );
            self.email_bidx = ::core::option::Option::Some(index);
            ::core::result::Result::Ok(())
        }
        /// Sets `_email` (column `customers._email`) to NULL and clears the blind index `email_bidx`.
        fn clear_email(&mut self) {
            self._email = ::core::option::Option::None;
            self.email_bidx = ::core::option::Option::None;
        }
        /// The blind index of `value` as stored in `email_bidx`, computed with the process-wide key ring: what
        /// to filter by, e.g. `.filter(customers::email_bidx.eq(Customer::email_index("..")?))`.
        ///
        /// # Errors
        ///
        /// When no key ring or no blind-index key is configured.
        fn email_index(
            value: impl ::core::convert::Into<::std::string::String>,
        ) -> ::core::result::Result<
            ::std::string::String,
            ::encrypted_field::__private::Error,
        > {
            Self::email_index_with(&*::encrypted_field::__private::global()?, value)
        }
        /// The blind index of `value` as stored in `email_bidx`, computed with `ring`; see [`Self::email_index`].
        fn email_index_with(
            ring: &::encrypted_field::__private::KeyRing,
            value: impl ::core::convert::Into<::std::string::String>,
        ) -> ::core::result::Result<
            ::std::string::String,
            ::encrypted_field::__private::Error,
        > {
            let value: ::std::string::String = ::core::convert::Into::into(value);
            (::encrypted_field::__private::codec::<::std::string::String>()
                .blind_index_text)(
                ring,
                "customers._email",
                &value,
                __ENCRYPTED_FIELD_NORMALIZE_EMAIL,
            )
        }
    }
};
