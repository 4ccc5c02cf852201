const _: () = {
    fn __encrypted_field_model_spec() -> ::encrypted_field::__private::ModelSpec {
        ::encrypted_field::__private::ModelSpec::new("people", "id")
            .with_primary_key_kind(::encrypted_field::__private::KeyKind::Integer)
            .with_rust_type(::core::concat!(::core::module_path!(), "::", "Person"))
            .column(
                ::encrypted_field::__private::ColumnSpec::binary("_ssn")
                    .nullable()
                    .bound_to_row(),
            )
            .column(
                ::encrypted_field::__private::ColumnSpec::text("_note").bound_to_row(),
            )
    }
    #[automatically_derived]
    impl ::encrypted_field::__private::EncryptedModel for Person {
        fn model_spec() -> ::encrypted_field::__private::ModelSpec {
            __encrypted_field_model_spec()
        }
    }
    ::encrypted_field::__private::inventory::submit! {
        ::encrypted_field::__private::DiscoveredModel::new(__encrypted_field_model_spec)
    }
    #[automatically_derived]
    #[allow(dead_code)]
    impl Person {
        /// Decrypts `_ssn` (column `people._ssn`, bound to the row's primary key) with the process-wide key ring (`encrypted_field::global()`).
        ///
        /// # Errors
        ///
        /// When no key ring is configured, when the stored value does not decrypt under this column's
        /// context (another key, another column, tampered), or when its plaintext is not of this type.
        /** Bound to its row: a value of another row fails too (`Error::RowAuthentication`), and a key
 not assigned yet (`None`) is `Error::RowKeyUnknown`.*/
        fn ssn(
            &self,
        ) -> ::core::result::Result<
            ::core::option::Option<::std::string::String>,
            ::encrypted_field::__private::Error,
        > {
            ::encrypted_field::__private::with_global(|ring| self.ssn_with(ring))
        }
        /// Decrypts `_ssn` (column `people._ssn`, bound to the row's primary key) with `ring`; see [`Self::ssn`].
        fn ssn_with(
            &self,
            ring: &::encrypted_field::__private::KeyRing,
        ) -> ::core::result::Result<
            ::core::option::Option<::std::string::String>,
            ::encrypted_field::__private::Error,
        > {
            match &self._ssn {
                ::core::option::Option::Some(stored) => {
                    (::encrypted_field::__private::codec::<::std::string::String>()
                        .open_binary_row)(
                            ring,
                            stored,
                            "people._ssn",
                            &::encrypted_field::__private::row_key(
                                &self.id,
                                "people._ssn",
                            )?,
                        )
                        .map(::core::option::Option::Some)
                }
                ::core::option::Option::None => {
                    ::core::result::Result::Ok(::core::option::Option::None)
                }
            }
        }
        /// Encrypts `value` into `_ssn` (column `people._ssn`, bound to the row's primary key) with the active key of the process-wide key ring.
        ///
        /// # Errors
        ///
        /** When no key ring is configured, or the operating system's random number generator fails; the
 model is then unchanged.*/
        /// Bound to its row: when the primary key is not assigned yet (`None`), `Error::RowKeyUnknown`.
        fn set_ssn(
            &mut self,
            value: impl ::core::convert::Into<::std::string::String>,
        ) -> ::core::result::Result<(), ::encrypted_field::__private::Error> {
            self.set_ssn_with(&*::encrypted_field::__private::global()?, value)
        }
        /// Encrypts `value` into `_ssn` (column `people._ssn`, bound to the row's primary key) with `ring`'s active key; see [`Self::set_ssn`].
        fn set_ssn_with(
            &mut self,
            ring: &::encrypted_field::__private::KeyRing,
            value: impl ::core::convert::Into<::std::string::String>,
        ) -> ::core::result::Result<(), ::encrypted_field::__private::Error> {
            let value: ::std::string::String = ::core::convert::Into::into(value);
            self._ssn = ::core::option::Option::Some(
                (::encrypted_field::__private::codec::<::std::string::String>()
                    .seal_binary_row)(
                    ring,
                    &value,
                    "people._ssn",
                    &::encrypted_field::__private::row_key(&self.id, "people._ssn")?,
                )?,
            );
            ::core::result::Result::Ok(())
        }
        /// Sets `_ssn` (column `people._ssn`, bound to the row's primary key) to NULL.
        fn clear_ssn(&mut self) {
            self._ssn = ::core::option::Option::None;
        }
        /// Decrypts `_note` (column `people._note`, bound to the row's primary key) with the process-wide key ring (`encrypted_field::global()`).
        ///
        /// # Errors
        ///
        /// When no key ring is configured, when the stored value does not decrypt under this column's
        /// context (another key, another column, tampered), or when its plaintext is not of this type.
        /** Bound to its row: a value of another row fails too (`Error::RowAuthentication`), and a key
 not assigned yet (`None`) is `Error::RowKeyUnknown`.*/
        fn note(
            &self,
        ) -> ::core::result::Result<
            ::std::string::String,
            ::encrypted_field::__private::Error,
        > {
            ::encrypted_field::__private::with_global(|ring| self.note_with(ring))
        }
        /// Decrypts `_note` (column `people._note`, bound to the row's primary key) with `ring`; see [`Self::note`].
        fn note_with(
            &self,
            ring: &::encrypted_field::__private::KeyRing,
        ) -> ::core::result::Result<
            ::std::string::String,
            ::encrypted_field::__private::Error,
        > {
            (::encrypted_field::__private::codec::<::std::string::String>()
                .open_text_row)(
                ring,
                &self._note,
                "people._note",
                &::encrypted_field::__private::row_key(&self.id, "people._note")?,
            )
        }
        /// Encrypts `value` into `_note` (column `people._note`, bound to the row's primary key) with the active key of the process-wide key ring.
        ///
        /// # Errors
        ///
        /** When no key ring is configured, or the operating system's random number generator fails; the
 model is then unchanged.*/
        /// Bound to its row: when the primary key is not assigned yet (`None`), `Error::RowKeyUnknown`.
        fn set_note(
            &mut self,
            value: impl ::core::convert::Into<::std::string::String>,
        ) -> ::core::result::Result<(), ::encrypted_field::__private::Error> {
            self.set_note_with(&*::encrypted_field::__private::global()?, value)
        }
        /// Encrypts `value` into `_note` (column `people._note`, bound to the row's primary key) with `ring`'s active key; see [`Self::set_note`].
        fn set_note_with(
            &mut self,
            ring: &::encrypted_field::__private::KeyRing,
            value: impl ::core::convert::Into<::std::string::String>,
        ) -> ::core::result::Result<(), ::encrypted_field::__private::Error> {
            let value: ::std::string::String = ::core::convert::Into::into(value);
            self._note = (::encrypted_field::__private::codec::<::std::string::String>()
                .seal_text_row)(
                ring,
                &value,
                "people._note",
                &::encrypted_field::__private::row_key(&self.id, "people._note")?,
            )?;
            ::core::result::Result::Ok(())
        }
    }
};
