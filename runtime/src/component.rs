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
///
/// ```
/// let mut span = rust2sky::local_span("work");
/// span.set_component(rust2sky::component::UNKNOWN);
/// ```
pub const UNKNOWN: i32 = 0;
/// Rust, the id the official Rust agent uses for every span (OAP 9.0+).
///
/// ```
/// let mut span = rust2sky::local_span("price cart");
/// span.set_component(rust2sky::component::RUST);
/// assert_eq!(rust2sky::component::RUST, 11000);
/// ```
pub const RUST: i32 = 11000;
/// Generic HTTP.
///
/// ```
/// let mut span = rust2sky::local_span("GET:/orders");
/// span.set_component(rust2sky::component::HTTP);
/// ```
pub const HTTP: i32 = 49;
/// Generic RPC.
///
/// ```
/// let mut span = rust2sky::local_span("inventory.Reserve");
/// span.set_component(rust2sky::component::RPC);
/// ```
pub const RPC: i32 = 50;
/// An HTTP client.
///
/// ```
/// let mut span = rust2sky::local_span("GET:/users");
/// span.set_component(rust2sky::component::HTTP_CLIENT);
/// ```
pub const HTTP_CLIENT: i32 = 2;
/// gRPC, client and server.
///
/// ```
/// let mut span = rust2sky::local_span("/inventory.Inventory/Reserve");
/// span.set_component(rust2sky::component::GRPC);
/// ```
pub const GRPC: i32 = 23;
/// MySQL.
///
/// ```
/// let mut span = rust2sky::local_span("SELECT orders");
/// span.set_component(rust2sky::component::MYSQL);
/// ```
pub const MYSQL: i32 = 5;
/// PostgreSQL.
///
/// ```
/// let mut span = rust2sky::local_span("SELECT orders");
/// span.set_component(rust2sky::component::POSTGRESQL);
/// ```
pub const POSTGRESQL: i32 = 22;
/// SQLite.
///
/// ```
/// let mut span = rust2sky::local_span("SELECT orders");
/// span.set_component(rust2sky::component::SQLITE);
/// ```
pub const SQLITE: i32 = 31;
/// MongoDB.
///
/// ```
/// let mut span = rust2sky::local_span("orders.find");
/// span.set_component(rust2sky::component::MONGODB);
/// ```
pub const MONGODB: i32 = 9;
/// Elasticsearch.
///
/// ```
/// let mut span = rust2sky::local_span("POST:/orders/_search");
/// span.set_component(rust2sky::component::ELASTICSEARCH);
/// ```
pub const ELASTICSEARCH: i32 = 47;
/// Redis.
///
/// ```
/// let mut span = rust2sky::local_span("GET session");
/// span.set_component(rust2sky::component::REDIS);
/// ```
pub const REDIS: i32 = 7;
/// Memcached.
///
/// ```
/// let mut span = rust2sky::local_span("get session");
/// span.set_component(rust2sky::component::MEMCACHED);
/// ```
pub const MEMCACHED: i32 = 20;
/// A Kafka producer.
///
/// ```
/// let mut span = rust2sky::local_span("Kafka/order-created/Producer");
/// span.set_component(rust2sky::component::KAFKA_PRODUCER);
/// ```
pub const KAFKA_PRODUCER: i32 = 40;
/// A Kafka consumer.
///
/// ```
/// let mut span = rust2sky::local_span("Kafka/order-created/Consumer");
/// span.set_component(rust2sky::component::KAFKA_CONSUMER);
/// ```
pub const KAFKA_CONSUMER: i32 = 41;
/// A RabbitMQ producer.
///
/// ```
/// let mut span = rust2sky::local_span("RabbitMQ/orders/Producer");
/// span.set_component(rust2sky::component::RABBITMQ_PRODUCER);
/// ```
pub const RABBITMQ_PRODUCER: i32 = 52;
/// A RabbitMQ consumer.
///
/// ```
/// let mut span = rust2sky::local_span("RabbitMQ/orders/Consumer");
/// span.set_component(rust2sky::component::RABBITMQ_CONSUMER);
/// ```
pub const RABBITMQ_CONSUMER: i32 = 53;
/// NATS.
///
/// ```
/// let mut span = rust2sky::local_span("NATS/orders/Producer");
/// span.set_component(rust2sky::component::NATS);
/// ```
pub const NATS: i32 = 132;
