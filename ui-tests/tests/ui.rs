//! Runs the compile-fail and compile-pass cases of the attribute macros.
//!
//! Regenerate the expected diagnostics with `TRYBUILD=overwrite cargo test -p rust2sky-ui-tests`,
//! then read them: each must point at the token at fault.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/fail/*.rs");
    cases.pass("tests/ui/pass/*.rs");
}
