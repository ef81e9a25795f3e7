//! Integration tests for `rust2sky-proto`, kept in one test binary to save link time.
//!
//! * `codegen`: the committed generated code matches what the `.proto` files produce.
//! * `wire`: field numbers, enum values and gRPC paths are the ones SkyWalking expects.

mod codegen;
mod wire;
