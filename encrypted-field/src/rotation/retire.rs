//! Retiring a key version: once no value uses it (counted under the rotation lease), its file is
//! moved out of the keys directory (`crate::keys::retire`), so that it is no longer loaded and a
//! value still sealed with it fails loudly instead of decrypting.

use std::io::ErrorKind;

use crate::keys::dir::KeysDir;
use crate::keys::retire::{RetiredKey, move_into_retired};
use crate::keys::secret_file::io_error;
use crate::keys::version::KeyVersion;
use crate::rotation::Rotation;
use crate::rotation::database::Database;
use crate::rotation::error::{Error, Result};

impl Rotation<'_> {
    /// Retires `version` of `keys_dir`: refuses if it is the active version (the directory's, or
    /// `env_active`, the one the environment pins, if any) or if any value of a column of the registry
    /// still uses it ([`Error::KeyVersionInUse`], counted as [`status`](Self::status) counts); otherwise moves its file
    /// into [`RETIRED_DIR`](crate::keys::RETIRED_DIR) under the keys directory.
    ///
    /// Only the columns of the registry are counted: list every model whose values may use the key.
    /// The count runs under the rotation lease, so no rotation runs meanwhile.
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")] {
    /// use diesel::{Connection as _, RunQueryDsl as _, SqliteConnection};
    /// use encrypted_field::rotation::database::Database;
    /// use encrypted_field::model::{ColumnSpec, ModelSpec, Registry};
    /// use encrypted_field::rotation::Rotation;
    /// use encrypted_field::rotation::Error;
    /// use encrypted_field::KeyVersion;
    /// use encrypted_field::keys::KeysDir;
    ///
    /// let tmp = tempfile::tempdir()?;
    /// let keys = KeysDir::new(tmp.path().join("keys"));
    /// keys.add(true)?;
    /// let mut conn = SqliteConnection::establish(":memory:")?;
    /// diesel::sql_query("CREATE TABLE customers (id INTEGER PRIMARY KEY, _ssn BLOB)").execute(&mut conn)?;
    /// let sealed: String = keys.load(None)?.encrypt_with_context(b"078-05-1120", "customers._ssn").iter().map(|b| format!("{b:02x}")).collect();
    /// diesel::sql_query(&format!("INSERT INTO customers VALUES (1, x'{sealed}')")).execute(&mut conn)?;
    /// let mut db = Database::from(conn);
    /// let registry = Registry::new().register_spec(ModelSpec::new("customers", "id").column(ColumnSpec::binary("_ssn")))?;
    ///
    /// keys.add(true)?; // v2 is active, the value still uses v1
    /// let v1 = KeyVersion::new(1);
    /// assert!(matches!(Rotation::new(&registry).retire_key(&mut db, &keys, v1, None), Err(Error::KeyVersionInUse { values: 1, .. })));
    /// Rotation::new(&registry).run(&mut db, &keys.load(None)?)?;
    /// let retired = Rotation::new(&registry).retire_key(&mut db, &keys, v1, None)?;
    /// assert!(retired.to.ends_with("retired/enc_key_v1"));
    /// assert_eq!(keys.load(None)?.versions().collect::<Vec<_>>(), [KeyVersion::new(2)]);
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn retire_key(
        &self,
        db: &mut Database,
        keys_dir: &KeysDir,
        version: KeyVersion,
        env_active: Option<KeyVersion>,
    ) -> Result<RetiredKey> {
        let files = keys_dir.list()?;
        let file = files.iter().find(|f| f.version == version).ok_or_else(|| {
            io_error(
                "retiring a key version of",
                keys_dir.path(),
                std::io::Error::new(
                    ErrorKind::NotFound,
                    format!("no key file has version {version}"),
                ),
            )
        })?;
        let dir_active = keys_dir.active_of(&files)?;
        if dir_active == Some(version) || env_active == Some(version) {
            return Err(Error::ActiveKeyVersion(version));
        }
        self.leased(db, |db| {
            self.status(db)
                .and_then(|counts| counts.ensure_unused(version))
                .and_then(|()| Ok(move_into_retired(file, keys_dir.path())?))
        })
    }
}
