//! Exit spans for the [redis](https://docs.rs/redis) crate: wrap a connection in [`Traced`] once,
//! and every command and pipeline sent through it is an exit span to the Redis server.
//!
//! ```no_run
//! use rust2sky::integrations::redis::Traced;
//!
//! # fn example() -> redis::RedisResult<()> {
//! let client = redis::Client::open("redis://cache:6379/")?;
//! let mut cache = Traced::for_client(client.get_connection()?, &client);
//! // An exit span `Redis/SET` to `cache:6379`, with `cache.key` = `session:7`.
//! redis::cmd("SET").arg("session:7").arg("alice").query::<()>(&mut cache)?;
//! # Ok(())
//! # }
//! ```
//!
//! The spans have what SkyWalking's virtual-cache view needs:
//!
//! - operation `Redis/{COMMAND}` (`Redis/GET`), as the Java agent's `Jedis/{command}`; a
//!   pipeline is one span, `Redis/PIPELINE`;
//! - layer Cache, component Redis (7), peer `host:port`;
//! - tags `cache.type` = `redis`, `cache.cmd` (the command; a pipeline's commands joined by
//!   `,`), `cache.op` (`read` or `write`, by the Java agent's lists; left out for a command on
//!   neither), `cache.key` (the first key, cut at [`KEY_MAX_LENGTH`] characters, only for
//!   commands whose first argument is known to be a key);
//! - an error when the command fails or the server answers with an error.
//!
//! Values and other arguments are never recorded: a command's arguments can be passwords
//! (`AUTH`), scripts or user data.
//!
//! Enabled by the `redis` cargo feature.

use std::fmt;
use std::sync::Arc;

use redis::{Cmd, ConnectionLike, Pipeline, RedisError, RedisFuture, RedisResult, Value};

use crate::context::future::{Instrumented, OnReady};
use crate::propagation::NoHeaders;
use crate::span::{Span, exit_span};
use crate::{SpanLayer, component, tags};

/// The longest `cache.key`, in characters; longer keys are cut (the Java agent's
/// `plugin.jedis.redis_parameter_max_length`).
///
/// ```
/// assert_eq!(rust2sky::integrations::redis::KEY_MAX_LENGTH, 128);
/// ```
pub const KEY_MAX_LENGTH: usize = 128;

/// The longest `cache.cmd` of a pipeline, in characters: a pipeline of ten thousand commands
/// must not make a tag of ten thousand names.
const PIPELINE_CMD_MAX_LENGTH: usize = 256;

/// The longest command name taken from a command; longer ones are no Redis command.
const NAME_MAX_LENGTH: usize = 32;

/// A redis connection whose commands are recorded as exit spans.
///
/// It implements [`redis::ConnectionLike`] for a sync connection and
/// [`redis::aio::ConnectionLike`] for an async one (a `MultiplexedConnection`, a
/// `ConnectionManager`), so it goes wherever the connection went: `query`, `query_async`, the
/// [`redis::Commands`] and [`redis::AsyncCommands`] methods, pipelines. It is `Clone` when the
/// connection is.
///
/// A span starts when the command is sent and ends when the answer is in; an async command
/// whose future is dropped first (a timeout) ends its span with a `cancelled` log.
///
/// ```no_run
/// use redis::AsyncCommands as _;
/// use rust2sky::integrations::redis::Traced;
///
/// # async fn example() -> redis::RedisResult<()> {
/// let client = redis::Client::open("redis://cache:6379/")?;
/// let mut cache = Traced::for_client(client.get_multiplexed_async_connection().await?, &client);
/// let name: Option<String> = cache.get("session:7").await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Traced<C> {
    inner: C,
    peer: Arc<str>,
}

impl<C> Traced<C> {
    /// Wraps `connection`, whose server is `peer` (`host:port`, what SkyWalking names the cache
    /// node after).
    ///
    /// ```
    /// # fn example(connection: redis::Connection) {
    /// let cache = rust2sky::integrations::redis::Traced::new(connection, "cache:6379");
    /// assert_eq!(cache.peer(), "cache:6379");
    /// # }
    /// ```
    pub fn new(connection: C, peer: impl Into<String>) -> Self {
        Traced {
            inner: connection,
            peer: Arc::from(peer.into()),
        }
    }

    /// Wraps `connection`, made by `client`: the peer is the client's address (`host:port`, or
    /// the socket's path).
    ///
    /// ```no_run
    /// # fn example() -> redis::RedisResult<()> {
    /// let client = redis::Client::open("redis://cache:6379/")?;
    /// let cache = rust2sky::integrations::redis::Traced::for_client(client.get_connection()?, &client);
    /// assert_eq!(cache.peer(), "cache:6379");
    /// # Ok(())
    /// # }
    /// ```
    pub fn for_client(connection: C, client: &redis::Client) -> Self {
        Traced::new(connection, client.get_connection_info().addr().to_string())
    }

    /// The peer the spans name.
    ///
    /// ```
    /// # fn example(connection: redis::Connection) {
    /// let cache = rust2sky::integrations::redis::Traced::new(connection, "cache:6379");
    /// assert_eq!(cache.peer(), "cache:6379");
    /// # }
    /// ```
    pub fn peer(&self) -> &str {
        &self.peer
    }

    /// The wrapped connection, for what it offers besides commands; commands sent through it
    /// directly are not recorded.
    ///
    /// ```
    /// # fn example(connection: redis::Connection) {
    /// let mut cache = rust2sky::integrations::redis::Traced::new(connection, "cache:6379");
    /// let connection: &mut redis::Connection = cache.get_mut();
    /// # }
    /// ```
    pub fn get_mut(&mut self) -> &mut C {
        &mut self.inner
    }

    /// The wrapped connection, unwrapped.
    ///
    /// ```
    /// # fn example(connection: redis::Connection) {
    /// let cache = rust2sky::integrations::redis::Traced::new(connection, "cache:6379");
    /// let connection: redis::Connection = cache.into_inner();
    /// # }
    /// ```
    pub fn into_inner(self) -> C {
        self.inner
    }
}

impl<C> fmt::Debug for Traced<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Traced")
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

impl<C: ConnectionLike> ConnectionLike for Traced<C> {
    fn req_packed_command(&mut self, cmd: &[u8]) -> RedisResult<Value> {
        let mut span = command_span(&self.peer, packed_commands(cmd).next());
        let result = self.inner.req_packed_command(cmd);
        record_value(&mut span, &result);
        result
    }

    fn req_packed_commands(
        &mut self,
        cmd: &[u8],
        offset: usize,
        count: usize,
    ) -> RedisResult<Vec<Value>> {
        let mut span = pipeline_span(&self.peer, packed_commands(cmd));
        let result = self.inner.req_packed_commands(cmd, offset, count);
        record_values(&mut span, &result);
        result
    }

    fn req_command(&mut self, cmd: &Cmd) -> RedisResult<Value> {
        let mut span = command_span(&self.peer, Some(Command::of(cmd)));
        let result = self.inner.req_command(cmd);
        record_value(&mut span, &result);
        result
    }

    fn get_db(&self) -> i64 {
        self.inner.get_db()
    }

    fn supports_pipelining(&self) -> bool {
        self.inner.supports_pipelining()
    }

    fn check_connection(&mut self) -> bool {
        self.inner.check_connection()
    }

    fn is_open(&self) -> bool {
        self.inner.is_open()
    }
}

impl<C: redis::aio::ConnectionLike + Send> redis::aio::ConnectionLike for Traced<C> {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        let span = command_span(&self.peer, Some(Command::of(cmd)));
        Box::pin(Instrumented::with_outcome(
            self.inner.req_packed_command(cmd),
            span,
            RecordValue,
        ))
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        let span = pipeline_span(&self.peer, pipeline.cmd_iter().map(Command::of));
        Box::pin(Instrumented::with_outcome(
            self.inner.req_packed_commands(pipeline, offset, count),
            span,
            RecordValues,
        ))
    }

    fn get_db(&self) -> i64 {
        self.inner.get_db()
    }
}

/// What a span shows of one command: its name, upper-cased, and its first key.
#[derive(Debug, Default)]
struct Command {
    name: String,
    key: Option<String>,
}

impl Command {
    fn of(cmd: &Cmd) -> Command {
        Command::from_args(cmd.args_iter().map(|arg| match arg {
            redis::Arg::Simple(bytes) => bytes,
            _ => &[],
        }))
    }

    fn from_args<'a>(mut args: impl Iterator<Item = &'a [u8]>) -> Command {
        let name = match args.next() {
            Some(name) if !name.is_empty() && name.len() <= NAME_MAX_LENGTH => name,
            _ => return Command::default(),
        };
        if !name
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-')
        {
            return Command::default();
        }
        let name = String::from_utf8_lossy(name).to_ascii_uppercase();
        let key = if first_arg_is_key(&name) {
            args.next().map(|key| {
                let key = &key[..key.len().min(KEY_MAX_LENGTH * 4)];
                let key = String::from_utf8_lossy(key);
                super::cut(&key, KEY_MAX_LENGTH).to_owned()
            })
        } else {
            None
        };
        Command { name, key }
    }

    fn name(&self) -> &str {
        if self.name.is_empty() {
            "UNKNOWN"
        } else {
            &self.name
        }
    }
}

/// The commands of a packed request (RESP arrays of bulk strings, as the redis crate writes
/// them); parsing stops at the first thing that is not one.
fn packed_commands(mut bytes: &[u8]) -> impl Iterator<Item = Command> + '_ {
    std::iter::from_fn(move || {
        let (count, rest) = resp_header(bytes, b'*')?;
        let mut args = Vec::with_capacity(count.min(3));
        let mut rest = rest;
        for _ in 0..count {
            let (len, after) = resp_header(rest, b'$')?;
            let arg = after.get(..len)?;
            rest = after.get(len + 2..)?;
            // Only the name and the first key are ever looked at.
            if args.len() < 2 {
                args.push(arg);
            }
        }
        bytes = rest;
        Some(Command::from_args(args.into_iter()))
    })
}

/// `<marker><number>\r\n` at the start of `bytes`: the number and what follows.
fn resp_header(bytes: &[u8], marker: u8) -> Option<(usize, &[u8])> {
    let rest = bytes.strip_prefix(&[marker])?;
    let end = memchr::memchr(b'\r', rest)?;
    let number = std::str::from_utf8(&rest[..end]).ok()?.parse().ok()?;
    Some((number, rest.get(end + 2..)?))
}

fn base_span(operation: &str, peer: &str) -> Span {
    let mut span = exit_span(operation, peer, &mut NoHeaders);
    span.set_layer(SpanLayer::Cache)
        .set_component(component::REDIS)
        .tag(tags::CACHE_TYPE, "redis");
    span
}

fn command_span(peer: &str, command: Option<Command>) -> Span {
    let command = command.unwrap_or_default();
    let name = command.name();
    let mut span = base_span(&format!("Redis/{name}"), peer);
    span.tag(tags::CACHE_CMD, name);
    if let Some(op) = operation(name) {
        span.tag(tags::CACHE_OP, op);
    }
    if let Some(key) = &command.key {
        span.tag(tags::CACHE_KEY, key);
    }
    span
}

fn pipeline_span(peer: &str, commands: impl Iterator<Item = Command>) -> Span {
    let mut span = base_span("Redis/PIPELINE", peer);
    if !span.is_recording() {
        return span;
    }
    let mut names = String::new();
    let mut op = None;
    let mut key = None;
    for command in commands {
        let name = command.name();
        // The framing of an atomic pipeline, not the user's commands.
        if name == "MULTI" || name == "EXEC" {
            continue;
        }
        if names.chars().count() < PIPELINE_CMD_MAX_LENGTH {
            if !names.is_empty() {
                names.push(',');
            }
            names.push_str(name);
        }
        match (op, operation(name)) {
            (_, Some("write")) => op = Some("write"),
            (None, Some(read)) => op = Some(read),
            _ => {}
        }
        if key.is_none() {
            key = command.key;
        }
    }
    span.tag(tags::CACHE_CMD, super::cut(&names, PIPELINE_CMD_MAX_LENGTH));
    if let Some(op) = op {
        span.tag(tags::CACHE_OP, op);
    }
    if let Some(key) = &key {
        span.tag(tags::CACHE_KEY, key);
    }
    span
}

fn record_error(span: &mut Span, error: &RedisError) {
    let kind = match error.code() {
        Some(code) => code.to_owned(),
        None => format!("{:?}", error.kind()),
    };
    span.error(&kind, error);
}

fn record_value(span: &mut Span, result: &RedisResult<Value>) {
    match result {
        Ok(Value::ServerError(error)) => {
            let kind = error.code().to_owned();
            span.error(&kind, error);
        }
        Ok(_) => {}
        Err(error) => record_error(span, error),
    }
}

fn record_values(span: &mut Span, result: &RedisResult<Vec<Value>>) {
    match result {
        Ok(values) => {
            if let Some(Value::ServerError(error)) = values
                .iter()
                .find(|value| matches!(value, Value::ServerError(_)))
            {
                let kind = error.code().to_owned();
                span.error(&kind, error);
            }
        }
        Err(error) => record_error(span, error),
    }
}

#[derive(Debug, Clone, Copy)]
struct RecordValue;

impl OnReady<RedisResult<Value>> for RecordValue {
    fn on_ready(self, span: &mut Span, output: &RedisResult<Value>) {
        record_value(span, output);
    }
}

#[derive(Debug, Clone, Copy)]
struct RecordValues;

impl OnReady<RedisResult<Vec<Value>>> for RecordValues {
    fn on_ready(self, span: &mut Span, output: &RedisResult<Vec<Value>>) {
        record_values(span, output);
    }
}

/// `cache.op` of a command (upper case): the Java agent's jedis plugin's
/// `OPERATION_MAPPING_WRITE` and `OPERATION_MAPPING_READ`, as they stand (`STRLEN`, `SISMEMBER`
/// and the `ZRANGE` family count as writes there, and do here, so that both agents' spans
/// agree).
fn operation(name: &str) -> Option<&'static str> {
    if WRITE.binary_search(&name).is_ok() {
        Some("write")
    } else if READ.binary_search(&name).is_ok() {
        Some("read")
    } else {
        None
    }
}

/// Sorted, for `binary_search`.
const WRITE: &[&str] = &[
    "APPEND",
    "BRPOPLPUSH",
    "DECR",
    "DECRBY",
    "DEL",
    "GETSET",
    "HDEL",
    "HINCRBY",
    "HINCRBYFLOAT",
    "HMSET",
    "HSET",
    "HSETNX",
    "INCR",
    "INCRBY",
    "INCRBYFLOAT",
    "LINSERT",
    "LPUSH",
    "LPUSHX",
    "LREM",
    "LSET",
    "LTRIM",
    "MSET",
    "MSETNX",
    "PSETEX",
    "RPOPLPUSH",
    "RPUSH",
    "RPUSHX",
    "SADD",
    "SDIFF",
    "SDIFFSTORE",
    "SET",
    "SETBIT",
    "SETEX",
    "SETNX",
    "SETRANGE",
    "SINTER",
    "SINTERSTORE",
    "SISMEMBER",
    "SREM",
    "STRLEN",
    "SUNION",
    "SUNIONSTORE",
    "XADD",
    "XDEL",
    "XTRIM",
    "ZADD",
    "ZINCRBY",
    "ZINTERSTORE",
    "ZRANGE",
    "ZRANGEBYLEX",
    "ZRANGEBYSCORE",
    "ZRANK",
    "ZREM",
    "ZREMRANGEBYLEX",
    "ZREMRANGEBYRANK",
    "ZREMRANGEBYSCORE",
    "ZREVRANGE",
    "ZREVRANGEBYSCORE",
    "ZREVRANK",
    "ZUNIONSTORE",
];

/// Sorted, for `binary_search`.
const READ: &[&str] = &[
    "BLPOP",
    "BRPOP",
    "GET",
    "GETBIT",
    "GETRANGE",
    "HEXISTS",
    "HGET",
    "HGETALL",
    "HKEYS",
    "HLEN",
    "HMGET",
    "HVALS",
    "LINDEX",
    "LLEN",
    "LPOP",
    "LRANGE",
    "MGET",
    "RPOP",
    "SCARD",
    "SMOVE",
    "SPOP",
    "SRANDMEMBER",
    "SSCAN",
    "XGET",
    "XLEN",
    "XRANGE",
    "XREAD",
    "XREVRANGE",
    "ZCARD",
    "ZCOUNT",
    "ZLEXCOUNT",
    "ZSCAN",
    "ZSCORE",
];

/// Commands whose first argument is a key, besides those of [`WRITE`] and [`READ`] (`XREAD`'s
/// is an option, so it is not one). Any other command's arguments stay unrecorded.
const OTHER_KEYED: &[&str] = &[
    "DUMP",
    "EXISTS",
    "EXPIRE",
    "EXPIREAT",
    "GETDEL",
    "GETEX",
    "HSCAN",
    "HSTRLEN",
    "LMOVE",
    "LPOS",
    "PERSIST",
    "PEXPIRE",
    "PEXPIREAT",
    "PFADD",
    "PFCOUNT",
    "PTTL",
    "SMEMBERS",
    "SMISMEMBER",
    "TTL",
    "TYPE",
    "UNLINK",
    "ZMSCORE",
    "ZPOPMAX",
    "ZPOPMIN",
];

fn first_arg_is_key(name: &str) -> bool {
    name != "XREAD" && (operation(name).is_some() || OTHER_KEYED.binary_search(&name).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lists_are_sorted_for_binary_search() {
        for list in [WRITE, READ, OTHER_KEYED] {
            assert!(list.windows(2).all(|pair| pair[0] < pair[1]), "{list:?}");
        }
    }

    #[test]
    fn packed_commands_give_names_and_first_keys() {
        let mut pipeline = redis::pipe();
        pipeline
            .cmd("set")
            .arg("k1")
            .arg("secret value")
            .cmd("AUTH")
            .arg("password");
        let packed = pipeline.get_packed_pipeline();
        let commands: Vec<_> = packed_commands(&packed).collect();
        assert_eq!(commands.len(), 2);
        assert_eq!(commands[0].name, "SET");
        assert_eq!(commands[0].key.as_deref(), Some("k1"));
        assert_eq!(commands[1].name, "AUTH");
        assert_eq!(commands[1].key, None);
    }

    #[test]
    fn garbage_is_no_command() {
        assert_eq!(packed_commands(b"*2\r\n$3\r\nGET").count(), 0);
        assert_eq!(packed_commands(b"*99999999999999999999\r\n").count(), 0);
        assert_eq!(packed_commands(b"").count(), 0);
        let command = Command::from_args([&b"G\xffT"[..]].into_iter());
        assert_eq!(command.name(), "UNKNOWN");
    }
}
