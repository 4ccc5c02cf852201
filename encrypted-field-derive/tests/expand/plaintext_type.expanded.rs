const _: () = {
    fn __encrypted_field_model_spec() -> ::encrypted_field::__private::ModelSpec {
        ::encrypted_field::__private::ModelSpec::new("accounts", "id")
            .with_primary_key_kind(::encrypted_field::__private::KeyKind::Integer)
            .with_rust_type(::core::concat!(::core::module_path!(), "::", "Account"))
            .column(::encrypted_field::__private::ColumnSpec::binary("credit_limit_enc"))
    }
    #[automatically_derived]
    impl ::encrypted_field::__private::EncryptedModel for Account {
        fn model_spec() -> ::encrypted_field::__private::ModelSpec {
            __encrypted_field_model_spec()
        }
    }
    ::encrypted_field::__private::inventory::submit! {
        ::encrypted_field::__private::DiscoveredModel::new(__encrypted_field_model_spec)
    }
    #[automatically_derived]
    #[allow(dead_code)]
    impl Account {
        /// Decrypts `_credit_limit` (column `accounts.credit_limit_enc`) with the process-wide key ring (`encrypted_field::global()`).
        ///
        /// # Errors
        ///
        /// When no key ring is configured, when the stored value does not decrypt under this column's
        /// context (another key, another column, tampered), or when its plaintext is not of this type.
        fn credit_limit(
            &self,
        ) -> ::core::result::Result<i64, ::encrypted_field::__private::Error> {
            ::encrypted_field::__private::with_global(|ring| {
                self.credit_limit_with(ring)
            })
        }
        /// Decrypts `_credit_limit` (column `accounts.credit_limit_enc`) with `ring`; see [`Self::credit_limit`].
        fn credit_limit_with(
            &self,
            ring: &::encrypted_field::__private::KeyRing,
        ) -> ::core::result::Result<i64, ::encrypted_field::__private::Error> {
            (::encrypted_field::__private::codec::<i64>()
                .open_binary)(ring, &self._credit_limit, "accounts.credit_limit_enc")
        }
        /// Encrypts `value` into `_credit_limit` (column `accounts.credit_limit_enc`) with the active key of the process-wide key ring.
        ///
        /// # Errors
        ///
        /** When no key ring is configured, or the operating system's random number generator fails; the
 model is then unchanged.*/
        fn set_credit_limit(
            &mut self,
            value: impl ::core::convert::Into<i64>,
        ) -> ::core::result::Result<(), ::encrypted_field::__private::Error> {
            self.set_credit_limit_with(&*::encrypted_field::__private::global()?, value)
        }
        /// Encrypts `value` into `_credit_limit` (column `accounts.credit_limit_enc`) with `ring`'s active key; see [`Self::set_credit_limit`].
        fn set_credit_limit_with(
            &mut self,
            ring: &::encrypted_field::__private::KeyRing,
            value: impl ::core::convert::Into<i64>,
        ) -> ::core::result::Result<(), ::encrypted_field::__private::Error> {
            let value: i64 = ::core::convert::Into::into(value);
            self._credit_limit = (::encrypted_field::__private::codec::<i64>()
                .seal_binary)(ring, &value, "accounts.credit_limit_enc")?;
            ::core::result::Result::Ok(())
        }
    }
};
