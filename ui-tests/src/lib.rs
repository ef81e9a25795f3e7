//! trybuild tests of rust2sky's attribute macros live here (`fail/` and `pass/`), one misuse per file.
//! The macros arrive with their own issue; this crate is a placeholder until then.
