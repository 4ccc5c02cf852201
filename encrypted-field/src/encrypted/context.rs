//! [`ColumnContext`]: the column identity an [`Encrypted`](super::Encrypted) value is bound to, as a
//! type, and [`column_context!`](crate::column_context) to declare one. The same for Diesel and
//! sqlx.

/// The identity of a column (`table.column`), bound into every value's tag, so that a value copied
/// into another column fails to decrypt instead of revealing another row's secret.
///
/// Declare one with [`column_context!`](crate::column_context); [`NoContext`] binds the empty
/// context.
///
/// ```
/// use encrypted_field::ColumnContext;
/// encrypted_field::column_context!(PhoneNumber = "phone_requests.phone_number");
/// assert_eq!(PhoneNumber::CONTEXT, "phone_requests.phone_number");
/// ```
pub trait ColumnContext {
    /// The column identity, as UTF-8; by convention `table.column`. Changing it makes every value
    /// already stored in the column unreadable.
    const CONTEXT: &'static str;
}

/// The empty context: values are bound to no column. The default of
/// [`Encrypted`](super::Encrypted)'s second parameter, and what
/// [`encrypted_field::encrypt`](crate::encrypt) uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct NoContext;

impl ColumnContext for NoContext {
    const CONTEXT: &'static str = "";
}

/// Declares a [`ColumnContext`]: a unit type naming one column.
///
/// ```
/// encrypted_field::column_context!(
///     /// The phone number column of the Node seed's table.
///     pub PhoneNumber = "phone_requests.phone_number"
/// );
/// type Phone = encrypted_field::Encrypted<String, PhoneNumber>;
/// ```
#[macro_export]
macro_rules! column_context {
    ($(#[$attr:meta])* $vis:vis $name:ident = $context:literal $(;)?) => {
        $(#[$attr])*
        #[doc = concat!("The column context `", $context, "`.")]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        $vis struct $name;

        impl $crate::ColumnContext for $name {
            const CONTEXT: &'static str = $context;
        }
    };
}
