//! Test harness for rust2sky's end-to-end tests: a real collector on 127.0.0.1 and helpers that wait
//! for what it receives. The collector arrives with the gRPC reporter; this crate is a placeholder
//! until then.
