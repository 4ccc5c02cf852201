const _: () = {
    fn __encrypted_field_model_spec() -> ::encrypted_field::__private::ModelSpec {
        ::encrypted_field::__private::ModelSpec::new("customers", "id")
            .with_primary_key_kind(::encrypted_field::__private::KeyKind::Integer)
            .with_rust_type(::core::concat!(::core::module_path!(), "::", "Customer"))
            .column(::encrypted_field::__private::ColumnSpec::binary("_ssn"))
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
        /// Decrypts `_ssn` (column `customers._ssn`) with the process-wide key ring (`encrypted_field::global()`).
        ///
        /// # Errors
        ///
        /// When no key ring is configured, when the stored value does not decrypt under this column's
        /// context (another key, another column, tampered), or when its plaintext is not of this type.
        pub fn ssn(
            &self,
        ) -> ::core::result::Result<
            ::std::string::String,
            ::encrypted_field::__private::Error,
        > {
            ::encrypted_field::__private::with_global(|ring| self.ssn_with(ring))
        }
        /// Decrypts `_ssn` (column `customers._ssn`) with `ring`; see [`Self::ssn`].
        pub fn ssn_with(
            &self,
            ring: &::encrypted_field::__private::KeyRing,
        ) -> ::core::result::Result<
            ::std::string::String,
            ::encrypted_field::__private::Error,
        > {
            (::encrypted_field::__private::codec::<::std::string::String>()
                .open_binary)(ring, &self._ssn, "customers._ssn")
        }
        /// Encrypts `value` into `_ssn` (column `customers._ssn`) with the active key of the process-wide key ring.
        ///
        /// # Errors
        ///
        /** When no key ring is configured, or the operating system's random number generator fails; the
 model is then unchanged.*/
        pub fn set_ssn(
            &mut self,
            value: impl ::core::convert::Into<::std::string::String>,
        ) -> ::core::result::Result<(), ::encrypted_field::__private::Error> {
            self.set_ssn_with(&*::encrypted_field::__private::global()?, value)
        }
        /// Encrypts `value` into `_ssn` (column `customers._ssn`) with `ring`'s active key; see [`Self::set_ssn`].
        pub fn set_ssn_with(
            &mut self,
            ring: &::encrypted_field::__private::KeyRing,
            value: impl ::core::convert::Into<::std::string::String>,
        ) -> ::core::result::Result<(), ::encrypted_field::__private::Error> {
            let value: ::std::string::String = ::core::convert::Into::into(value);
            self._ssn = (::encrypted_field::__private::codec::<::std::string::String>()
                .seal_binary)(ring, &value, "customers._ssn")?;
            ::core::result::Result::Ok(())
        }
    }
};
