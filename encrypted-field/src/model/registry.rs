//! [`Registry`]: the models a rotation rewrites, discovered from the binary or listed by hand.

use crate::model::{EncryptedModel, ModelSpec, SpecError};

/// The encrypted models of an application, one [`ModelSpec`] per table.
///
/// [`Registry::discovered`] finds every `#[derive(EncryptedModel)]` type linked into the binary,
/// with no list to keep by hand; [`Registry::new`] starts an explicit list instead. Either way a
/// table described by several models (say `Customer` and `NewCustomer`) appears once, with the
/// union of their columns; descriptions that contradict each other are a
/// [`SpecError::ConflictingModels`].
///
/// ```
/// use encrypted_field::model::{ColumnSpec, ModelSpec, Registry};
///
/// let registry = Registry::new()
///     .register_spec(ModelSpec::new("phone_requests", "id").column(ColumnSpec::text("phone_number")))?
///     .register_spec(ModelSpec::new("customers", "id").column(ColumnSpec::binary("_ssn").nullable()))?;
/// let tables: Vec<&str> = registry.iter().map(|spec| spec.table()).collect();
/// assert_eq!(tables, ["phone_requests", "customers"]);
/// assert!(registry.get("customers").is_some());
/// # Ok::<(), encrypted_field::model::SpecError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registry {
    models: Vec<ModelSpec>,
}

impl Registry {
    /// An empty registry, for an explicit list of models.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every model derived with `#[derive(EncryptedModel)]` in any crate linked into this binary,
    /// ordered by table name. Fails only when two of them contradict each other.
    pub fn discovered() -> Result<Self, SpecError> {
        let mut specs: Vec<ModelSpec> = discovered_specs().collect();
        // Discovery order depends on the linker; the registry's does not.
        specs.sort_by(|a, b| (a.table(), a.rust_type()).cmp(&(b.table(), b.rust_type())));
        specs.into_iter().try_fold(Self::new(), Self::register_spec)
    }

    /// Adds a derived model.
    pub fn register<M: EncryptedModel>(self) -> Result<Self, SpecError> {
        self.register_spec(M::model_spec())
    }

    /// Adds a description, after [validating](ModelSpec::validate) it. A table already present
    /// gains the columns it did not have; a column described differently is refused and leaves
    /// the registry as it was.
    pub fn register_spec(mut self, spec: ModelSpec) -> Result<Self, SpecError> {
        spec.validate()?;
        match self
            .models
            .iter_mut()
            .find(|known| known.table() == spec.table())
        {
            Some(known) => known.merge(spec)?,
            None => self.models.push(spec),
        }
        Ok(self)
    }

    /// The description of `table`, if registered.
    pub fn get(&self, table: &str) -> Option<&ModelSpec> {
        self.models.iter().find(|spec| spec.table() == table)
    }

    /// Every description, in registration order (table order for [`discovered`](Self::discovered)).
    pub fn iter(&self) -> std::slice::Iter<'_, ModelSpec> {
        self.models.iter()
    }

    /// How many tables are registered.
    pub fn len(&self) -> usize {
        self.models.len()
    }

    /// Whether no table is registered.
    pub fn is_empty(&self) -> bool {
        self.models.is_empty()
    }
}

impl<'a> IntoIterator for &'a Registry {
    type Item = &'a ModelSpec;
    type IntoIter = std::slice::Iter<'a, ModelSpec>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl IntoIterator for Registry {
    type Item = ModelSpec;
    type IntoIter = std::vec::IntoIter<ModelSpec>;

    fn into_iter(self) -> Self::IntoIter {
        self.models.into_iter()
    }
}

/// One derived model, as submitted to the distributed collection.
#[derive(Debug)]
pub struct DiscoveredModel {
    spec: fn() -> ModelSpec,
}

impl DiscoveredModel {
    /// Wraps the model's `model_spec`.
    pub const fn new(spec: fn() -> ModelSpec) -> Self {
        Self { spec }
    }
}

inventory::collect!(DiscoveredModel);

/// The descriptions of every derived model linked into the binary, in no particular order.
pub(crate) fn discovered_specs() -> impl Iterator<Item = ModelSpec> {
    inventory::iter::<DiscoveredModel>
        .into_iter()
        .map(|model| (model.spec)())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ColumnSpec;

    struct Customer;

    impl EncryptedModel for Customer {
        fn model_spec() -> ModelSpec {
            ModelSpec::new("customers", "id").column(ColumnSpec::binary("_ssn").nullable())
        }
    }

    #[test]
    fn registering_a_model_twice_keeps_one_description() {
        let registry = Registry::new()
            .register::<Customer>()
            .unwrap()
            .register::<Customer>()
            .unwrap();
        assert_eq!(registry.len(), 1);
        assert_eq!(registry.get("customers"), Some(&Customer::model_spec()));
    }

    #[test]
    fn a_second_model_of_a_table_adds_its_columns() {
        let more = ModelSpec::new("customers", "id").column(ColumnSpec::text("_email"));
        let registry = Registry::new()
            .register::<Customer>()
            .unwrap()
            .register_spec(more)
            .unwrap();
        let spec = registry.get("customers").unwrap();
        assert_eq!(spec.columns().len(), 2);
    }

    #[test]
    fn a_contradicting_model_is_refused() {
        let contradicting = ModelSpec::new("customers", "id").column(ColumnSpec::binary("_ssn"));
        let err = Registry::new()
            .register::<Customer>()
            .unwrap()
            .register_spec(contradicting)
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("column `_ssn` is nullable in one and not in the other"),
            "{err}"
        );
    }

    #[test]
    fn an_invalid_spec_is_refused() {
        let bad = ModelSpec::new("customers", "id").column(ColumnSpec::binary("_ssn;"));
        assert!(matches!(
            Registry::new().register_spec(bad),
            Err(SpecError::InvalidIdentifier { .. })
        ));
    }
}
