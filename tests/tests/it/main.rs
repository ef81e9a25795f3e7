//! End-to-end tests over real sockets on 127.0.0.1: one binary, one module per part.

mod actix;
mod grpc_reporter;
mod kafka;
mod kafka_security;
mod kafka_tracing;
mod logging;
mod meters;
mod metrics_recorder;
mod oap;
mod redis_cache;
mod relay;
mod servers;
mod spans;
mod sql;
mod tonic_rpc;
mod transport;
