//! sqlx's `Type`, `Encode` and `Decode` for [`Encrypted`] (binary columns) and [`EncryptedText`]
//! (text columns), written once for every sqlx database over sqlx's impls for the stored types:
//! the sealed bytes go out as a `Vec<u8>` or a `String` (moved into the argument buffer, not
//! copied), and are read back as a `&[u8]` or `&str` borrowed from the row.

use sqlx_core::database::Database;
use sqlx_core::decode::Decode;
use sqlx_core::encode::{Encode, IsNull};
use sqlx_core::error::BoxDynError;
use sqlx_core::types::Type;

use super::EncryptedText;
use crate::encrypted::{ColumnContext, Encrypted};
use crate::format::plaintext::{Plaintext, string_from_plaintext};
use crate::format::stored::Storage;

impl<T, C, DB> Type<DB> for Encrypted<T, C>
where
    DB: Database,
    Vec<u8>: Type<DB>,
    String: Type<DB>,
{
    fn type_info() -> DB::TypeInfo {
        <Vec<u8> as Type<DB>>::type_info()
    }

    /// A binary column only: sqlx's `Vec<u8>` also reads text columns on MySQL and SQLite, where
    /// an envelope would then fail as malformed instead of as the wrong column type.
    fn compatible(ty: &DB::TypeInfo) -> bool {
        <Vec<u8> as Type<DB>>::compatible(ty) && !<String as Type<DB>>::compatible(ty)
    }
}

impl<'q, T, C, DB> Encode<'q, DB> for Encrypted<T, C>
where
    T: Plaintext,
    C: ColumnContext,
    DB: Database,
    Vec<u8>: Encode<'q, DB>,
{
    fn encode_by_ref(&self, buf: &mut DB::ArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <Vec<u8> as Encode<'q, DB>>::encode(self.seal(Storage::Binary)?, buf)
    }
}

impl<'r, T, C, DB> Decode<'r, DB> for Encrypted<T, C>
where
    T: Plaintext,
    C: ColumnContext,
    DB: Database,
    &'r [u8]: Decode<'r, DB>,
{
    fn decode(value: DB::ValueRef<'r>) -> Result<Self, BoxDynError> {
        let stored = <&'r [u8] as Decode<'r, DB>>::decode(value)?;
        Ok(Self::open(Storage::Binary, stored)?)
    }
}

impl<T, C, DB> Type<DB> for EncryptedText<T, C>
where
    DB: Database,
    String: Type<DB>,
{
    fn type_info() -> DB::TypeInfo {
        <String as Type<DB>>::type_info()
    }

    fn compatible(ty: &DB::TypeInfo) -> bool {
        <String as Type<DB>>::compatible(ty)
    }
}

impl<'q, T, C, DB> Encode<'q, DB> for EncryptedText<T, C>
where
    T: Plaintext,
    C: ColumnContext,
    DB: Database,
    String: Encode<'q, DB>,
{
    fn encode_by_ref(&self, buf: &mut DB::ArgumentBuffer) -> Result<IsNull, BoxDynError> {
        // Base64 is ASCII: the conversion cannot fail.
        let sealed = string_from_plaintext(self.as_binary().seal(Storage::Text)?)?;
        <String as Encode<'q, DB>>::encode(sealed, buf)
    }
}

impl<'r, T, C, DB> Decode<'r, DB> for EncryptedText<T, C>
where
    T: Plaintext,
    C: ColumnContext,
    DB: Database,
    &'r str: Decode<'r, DB>,
{
    fn decode(value: DB::ValueRef<'r>) -> Result<Self, BoxDynError> {
        let stored = <&'r str as Decode<'r, DB>>::decode(value)?;
        Ok(Encrypted::<T, C>::open(Storage::Text, stored.as_bytes())?.into())
    }
}
