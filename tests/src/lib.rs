//! End-to-end tests of rust2sky over real sockets: the gRPC reporter against the in-process
//! collector of `rust2sky::testing`, on 127.0.0.1. The tests are in `tests/it/` (one binary); this
//! library is empty.
