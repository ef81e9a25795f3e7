//! Tag keys that SkyWalking's OAP and UI understand, as go2sky's `Tag*` constants.
//!
//! ```
//! let mut span = rust2sky::local_span("GET:/orders");
//! span.tag(rust2sky::tags::HTTP_METHOD, "GET");
//! ```

/// The full request URL.
pub const URL: &str = "url";
/// The HTTP method; searchable in the UI.
pub const HTTP_METHOD: &str = "http.method";
/// The HTTP response code, as an integer string; feeds status metrics and is searchable.
pub const HTTP_STATUS_CODE: &str = "http.status_code";
/// The legacy HTTP status key that go2sky writes; prefer [`HTTP_STATUS_CODE`].
pub const STATUS_CODE: &str = "status_code";
/// A non-HTTP RPC status (free text); searchable.
pub const RPC_STATUS_CODE: &str = "rpc.status_code";
/// Query parameters.
pub const HTTP_PARAMS: &str = "http.params";
/// The kind of database, e.g. `sql`, `Redis`, `Mongo`; picks the slow-statement threshold.
pub const DB_TYPE: &str = "db.type";
/// The database or schema name; searchable.
pub const DB_INSTANCE: &str = "db.instance";
/// The statement text; used for slow-statement sampling.
pub const DB_STATEMENT: &str = "db.statement";
/// SQL bind variables (the Java agent's key).
pub const DB_BIND_VARIABLES: &str = "db.bind_vars";
/// SQL parameters.
pub const DB_SQL_PARAMETERS: &str = "db.sql.parameters";
/// The kind of cache, e.g. `Redis`; required for the virtual-cache analysis.
pub const CACHE_TYPE: &str = "cache.type";
/// `read` or `write`.
pub const CACHE_OP: &str = "cache.op";
/// The cache command, e.g. `GET`.
pub const CACHE_CMD: &str = "cache.cmd";
/// The cache key.
pub const CACHE_KEY: &str = "cache.key";
/// The message queue; part of the MQ endpoint and searchable.
pub const MQ_QUEUE: &str = "mq.queue";
/// The message topic; part of the MQ endpoint and searchable.
pub const MQ_TOPIC: &str = "mq.topic";
/// The broker address; searchable.
pub const MQ_BROKER: &str = "mq.broker";
/// Producer-to-consumer latency in milliseconds, set from `sw8-x` on entry spans.
pub const TRANSMISSION_LATENCY: &str = "transmission.latency";
