//! Compile-time tests of rust2sky's attribute macros (`#[sw_entry]`, `#[sw_local]`, `#[sw_exit]`).
//!
//! The tests live in `tests/ui.rs`, which runs [trybuild](https://docs.rs/trybuild) over
//! `tests/ui/fail/*.rs` (each file one misuse, with the expected diagnostics next to it in a
//! `.stderr` file) and `tests/ui/pass/*.rs` (programs that must compile and run). This library
//! is empty; it exists so that the crate is a workspace member.
