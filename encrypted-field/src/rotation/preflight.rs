//! Before anything is written: every registered table and column must be readable, so that a
//! typo in a table or column name is reported (by the database, naming it) before a key is
//! created or a single value rewritten.

use crate::rotation::Rotation;
use crate::rotation::database::{Database, KeyRange};
use crate::rotation::error::Result;

impl Rotation<'_> {
    /// Validates every model of the registry and reads one row of it (every encrypted column). An
    /// unknown table or column, or a primary key that cannot be read as its declared kind, is the
    /// database's error, which names the table and the column. A primary key that no unique index
    /// covers on its own, or that is NULL in some row, is [`Error::PrimaryKeyNotUnique`](crate::rotation::Error::PrimaryKeyNotUnique): every
    /// pass reads rows in key order and would skip rows sharing a key.
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")] {
    /// use diesel::{Connection as _, RunQueryDsl as _, SqliteConnection};
    /// use encrypted_field::rotation::database::Database;
    /// use encrypted_field::model::{ColumnSpec, ModelSpec, Registry};
    /// use encrypted_field::rotation::Rotation;
    ///
    /// let mut conn = SqliteConnection::establish(":memory:")?;
    /// diesel::sql_query("CREATE TABLE customers (id INTEGER PRIMARY KEY, _ssn BLOB)").execute(&mut conn)?;
    /// diesel::sql_query("CREATE TABLE imports (batch INTEGER, _ssn BLOB)").execute(&mut conn)?;
    /// let mut db = Database::from(conn);
    /// let good = Registry::new().register_spec(ModelSpec::new("customers", "id").column(ColumnSpec::binary("_ssn")))?;
    /// Rotation::new(&good).check_columns(&mut db)?;
    /// let typo = Registry::new().register_spec(ModelSpec::new("customers", "id").column(ColumnSpec::binary("_snn")))?;
    /// let err = Rotation::new(&typo).check_columns(&mut db).unwrap_err().to_string();
    /// assert!(err.starts_with("reading customers: ") && err.contains("_snn"), "{err}");
    /// let shared = Registry::new().register_spec(ModelSpec::new("imports", "batch").column(ColumnSpec::binary("_ssn")))?;
    /// let err = Rotation::new(&shared).check_columns(&mut db).unwrap_err().to_string();
    /// assert!(err.contains("imports.batch cannot be the primary key") && err.contains("no unique index"), "{err}");
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn check_columns(&self, db: &mut Database) -> Result<()> {
        for model in self.registry {
            model.validate()?;
            db.check_unique_key(model)?;
            db.read_batch(model, &KeyRange::default(), 1)?;
        }
        Ok(())
    }
}
