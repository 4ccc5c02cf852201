use crate::support::per_backend; fn x(_: &crate::support::Backend) {} per_backend!(x);
