//! Component library ids: what OAP shows as the icon of a node or an edge.
//!
//! Rust has one id of its own, [`RUST`] (11000); the shared generic ids give nicer remote-node
//! icons and match OAP's server-type mapping.
//!
//! ```
//! let mut span = rust2sky::local_span("SELECT orders");
//! span.set_component(rust2sky::component::POSTGRESQL);
//! ```

/// Unknown (the protocol's default).
pub const UNKNOWN: i32 = 0;
/// Rust, the id the official Rust agent uses for every span (OAP 9.0+).
pub const RUST: i32 = 11000;
/// Generic HTTP.
pub const HTTP: i32 = 49;
/// Generic RPC.
pub const RPC: i32 = 50;
/// An HTTP client.
pub const HTTP_CLIENT: i32 = 2;
/// gRPC, client and server.
pub const GRPC: i32 = 23;
/// MySQL.
pub const MYSQL: i32 = 5;
/// PostgreSQL.
pub const POSTGRESQL: i32 = 22;
/// SQLite.
pub const SQLITE: i32 = 31;
/// MongoDB.
pub const MONGODB: i32 = 9;
/// Elasticsearch.
pub const ELASTICSEARCH: i32 = 47;
/// Redis.
pub const REDIS: i32 = 7;
/// Memcached.
pub const MEMCACHED: i32 = 20;
/// A Kafka producer.
pub const KAFKA_PRODUCER: i32 = 40;
/// A Kafka consumer.
pub const KAFKA_CONSUMER: i32 = 41;
/// A RabbitMQ producer.
pub const RABBITMQ_PRODUCER: i32 = 52;
/// A RabbitMQ consumer.
pub const RABBITMQ_CONSUMER: i32 = 53;
/// NATS.
pub const NATS: i32 = 132;
