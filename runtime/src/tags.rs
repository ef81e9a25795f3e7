//! Tag keys that SkyWalking's OAP and UI understand, as go2sky's `Tag*` constants.
//!
//! ```
//! let mut span = rust2sky::local_span("GET:/orders");
//! span.tag(rust2sky::tags::HTTP_METHOD, "GET");
//! ```

/// The full request URL.
///
/// ```
/// let mut span = rust2sky::local_span("GET:/orders");
/// span.tag(rust2sky::tags::URL, "http://shop.local/orders?page=2");
/// ```
pub const URL: &str = "url";
/// The HTTP method; searchable in the UI.
///
/// ```
/// let mut span = rust2sky::local_span("GET:/orders");
/// span.tag(rust2sky::tags::HTTP_METHOD, "GET");
/// ```
pub const HTTP_METHOD: &str = "http.method";
/// The HTTP response code, as an integer string; feeds status metrics and is searchable.
///
/// ```
/// let mut span = rust2sky::local_span("GET:/orders");
/// let status = http::StatusCode::NOT_FOUND;
/// span.tag(rust2sky::tags::HTTP_STATUS_CODE, status.as_str());
/// ```
pub const HTTP_STATUS_CODE: &str = "http.status_code";
/// The legacy HTTP status key that go2sky writes; prefer [`HTTP_STATUS_CODE`].
///
/// ```
/// let mut span = rust2sky::local_span("GET:/orders");
/// // Only for dashboards built on go2sky's key; new code writes `HTTP_STATUS_CODE`.
/// span.tag(rust2sky::tags::STATUS_CODE, "200");
/// ```
pub const STATUS_CODE: &str = "status_code";
/// A non-HTTP RPC status (free text); searchable.
///
/// ```
/// let mut span = rust2sky::local_span("inventory.Reserve");
/// span.tag(rust2sky::tags::RPC_STATUS_CODE, "UNAVAILABLE");
/// ```
pub const RPC_STATUS_CODE: &str = "rpc.status_code";
/// Query parameters.
///
/// ```
/// let mut span = rust2sky::local_span("GET:/search");
/// span.tag(rust2sky::tags::HTTP_PARAMS, "q=shoes&page=2");
/// ```
pub const HTTP_PARAMS: &str = "http.params";
/// The kind of database, e.g. `sql`, `Redis`, `Mongo`; picks the slow-statement threshold.
///
/// ```
/// let mut span = rust2sky::local_span("SELECT orders");
/// span.tag(rust2sky::tags::DB_TYPE, "sql");
/// ```
pub const DB_TYPE: &str = "db.type";
/// The database or schema name; searchable.
///
/// ```
/// let mut span = rust2sky::local_span("SELECT orders");
/// span.tag(rust2sky::tags::DB_INSTANCE, "shop");
/// ```
pub const DB_INSTANCE: &str = "db.instance";
/// The statement text; used for slow-statement sampling.
///
/// ```
/// let mut span = rust2sky::local_span("query");
/// span.tag(rust2sky::tags::DB_STATEMENT, "SELECT 1");
/// ```
pub const DB_STATEMENT: &str = "db.statement";
/// SQL bind variables (the Java agent's key).
///
/// ```
/// let mut span = rust2sky::local_span("SELECT orders");
/// span.tag(rust2sky::tags::DB_STATEMENT, "SELECT * FROM orders WHERE id = ?");
/// span.tag(rust2sky::tags::DB_BIND_VARIABLES, "[42]");
/// ```
pub const DB_BIND_VARIABLES: &str = "db.bind_vars";
/// SQL parameters.
///
/// ```
/// let mut span = rust2sky::local_span("SELECT orders");
/// span.tag(rust2sky::tags::DB_STATEMENT, "SELECT * FROM orders WHERE id = $1");
/// span.tag(rust2sky::tags::DB_SQL_PARAMETERS, "[42]");
/// ```
pub const DB_SQL_PARAMETERS: &str = "db.sql.parameters";
/// The kind of cache, e.g. `Redis`; required for the virtual-cache analysis.
///
/// ```
/// let mut span = rust2sky::local_span("GET session");
/// span.tag(rust2sky::tags::CACHE_TYPE, "Redis");
/// ```
pub const CACHE_TYPE: &str = "cache.type";
/// `read` or `write`.
///
/// ```
/// let mut span = rust2sky::local_span("SET session");
/// span.tag(rust2sky::tags::CACHE_OP, "write");
/// ```
pub const CACHE_OP: &str = "cache.op";
/// The cache command, e.g. `GET`.
///
/// ```
/// let mut span = rust2sky::local_span("GET session");
/// span.tag(rust2sky::tags::CACHE_CMD, "GET");
/// ```
pub const CACHE_CMD: &str = "cache.cmd";
/// The cache key.
///
/// ```
/// let mut span = rust2sky::local_span("GET session");
/// span.tag(rust2sky::tags::CACHE_KEY, "session:42");
/// ```
pub const CACHE_KEY: &str = "cache.key";
/// The message queue; part of the MQ endpoint and searchable.
///
/// ```
/// let mut span = rust2sky::local_span("publish order");
/// span.tag(rust2sky::tags::MQ_QUEUE, "orders");
/// ```
pub const MQ_QUEUE: &str = "mq.queue";
/// The message topic; part of the MQ endpoint and searchable.
///
/// ```
/// let mut span = rust2sky::local_span("publish order");
/// span.tag(rust2sky::tags::MQ_TOPIC, "order-created");
/// ```
pub const MQ_TOPIC: &str = "mq.topic";
/// The broker address; searchable.
///
/// ```
/// let mut span = rust2sky::local_span("publish order");
/// span.tag(rust2sky::tags::MQ_BROKER, "kafka-1:9092");
/// ```
pub const MQ_BROKER: &str = "mq.broker";
/// Producer-to-consumer latency in milliseconds, set from `sw8-x` on entry spans.
///
/// ```
/// let mut span = rust2sky::local_span("consume order");
/// // The agent sets it itself from `sw8-x`; the value is in milliseconds.
/// span.tag(rust2sky::tags::TRANSMISSION_LATENCY, "12");
/// ```
pub const TRANSMISSION_LATENCY: &str = "transmission.latency";
