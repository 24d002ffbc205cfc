//! Compile-fail tests of `#[derive(ShmMessage)]`: one file per rule in `tests/ui/`,
//! with the exact error a user sees in the `.stderr` next to it.
//!
//! Regenerate the `.stderr` files with `TRYBUILD=overwrite cargo test --test derive_ui`
//! (then read them: the message must be the one a user should see).

#[test]
fn derive_rejects_invalid_messages() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
