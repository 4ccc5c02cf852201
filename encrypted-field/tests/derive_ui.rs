//! Misuse of `#[derive(EncryptedModel)]` is a compile error at the offending token: each case in
//! `tests/ui/*.rs` must fail to compile with exactly the errors in its `.stderr` file (the error
//! text is part of the interface). Regenerate after an intended change with
//! `TRYBUILD=overwrite cargo test -p encrypted-field --test derive_ui` and review the diff.
#![cfg(feature = "derive")]

#[test]
fn derive_misuse_is_a_compile_error_at_the_offending_token() {
    trybuild::TestCases::new().compile_fail("tests/ui/*.rs");
}
