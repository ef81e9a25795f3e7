//! The example binaries run as real processes, on 127.0.0.1: one test binary, a module per
//! example.

mod cache_and_database;
mod dev_collector;
mod http_hop;
mod manual;
mod process;
mod quickstart;
