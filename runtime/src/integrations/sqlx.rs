//! Exit spans for [sqlx](https://docs.rs/sqlx): wrap the pool in [`TracedPool`] once, and run
//! queries through it.
//!
//! ```no_run
//! use rust2sky::integrations::sqlx::TracedPool;
//!
//! # async fn example() -> Result<(), sqlx::Error> {
//! let pool = TracedPool::new(sqlx::PgPool::connect("postgres://shop@db:5432/shop").await?);
//! // An exit span `PostgreSQL/sqlx/fetch_one` to `db:5432`, db.instance `shop`.
//! let row = pool.fetch_one(sqlx::query("SELECT name FROM users WHERE id = $1").bind(7)).await?;
//! # Ok(())
//! # }
//! ```
//!
//! Every query, `begin`, `commit` and `rollback` is an exit span with what SkyWalking's
//! virtual-database view needs:
//!
//! - operation `{database}/sqlx/{method}` (`PostgreSQL/sqlx/execute`, `Mysql/sqlx/begin`,
//!   `SQLite/sqlx/fetch_all`), after the Java agent's `Mysql/JDBC/Statement/execute`;
//! - layer Database; component PostgreSQL (22), Mysql (5) or SQLite (31);
//! - peer `host:port`, or for SQLite the database file's name;
//! - tags `db.type` = `sql`, `db.instance` (the database name; SQLite: the file's name) and
//!   `db.statement` (the SQL text, cut at
//!   [`Config::sql_body_max_length`](crate::config::Config::sql_body_max_length) characters,
//!   512 by default); bound parameters are never recorded;
//! - an error, with sqlx's message, when the query fails.
//!
//! A span starts when the method is called and ends when the result is in; a future dropped
//! first (a timeout) ends its span with a `cancelled` log. The span of `fetch`, whose rows come
//! as a stream, ends with the stream: after its last row or at its error, or, dropped before
//! that, with a `cancelled` log.
//!
//! The wrapper has methods rather than an implementation of [`sqlx::Executor`]: that trait
//! gains a method when another crate of the build enables sqlx's `macros` feature, which an
//! implementation here could not follow. Queries built from a prepared
//! [`sqlx::Statement`] run as their SQL text (sqlx prepares and caches it per connection as
//! usual).
//!
//! Enabled by the `sqlx-postgres`, `sqlx-mysql` and `sqlx-sqlite` cargo features, one a
//! database.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_core::stream::BoxStream;
use sqlx::error::BoxDynError;
use sqlx::{Connection, Execute, Executor, Pool, SqlStr, Transaction};

use crate::context::future::{Instrumented, OnReady};
use crate::propagation::NoHeaders;
use crate::span::{Span, exit_span};
use crate::{SpanLayer, tags};

/// A database sqlx can trace: PostgreSQL, MySQL or SQLite, each with its cargo feature.
///
/// Sealed; it says which component id a span has, and how its peer and instance are found.
///
/// ```
/// use rust2sky::integrations::sqlx::TracedDatabase;
///
/// assert_eq!(<sqlx::Sqlite as TracedDatabase>::COMPONENT, rust2sky::component::SQLITE);
/// ```
pub trait TracedDatabase: sqlx::Database + sealed::Sealed {
    /// The component id of its spans.
    const COMPONENT: i32;
    /// The first part of its spans' operation names, SkyWalking's name of the component.
    const COMPONENT_NAME: &'static str;

    /// The peer and the database name that `options` connect to.
    #[doc(hidden)]
    fn peer_and_instance(
        options: &<Self::Connection as Connection>::Options,
    ) -> (String, Option<String>);
}

mod sealed {
    pub trait Sealed {}
}

#[cfg(feature = "sqlx-postgres")]
impl sealed::Sealed for sqlx::Postgres {}

#[cfg(feature = "sqlx-postgres")]
impl TracedDatabase for sqlx::Postgres {
    const COMPONENT: i32 = crate::component::POSTGRESQL;
    const COMPONENT_NAME: &'static str = "PostgreSQL";

    fn peer_and_instance(options: &sqlx::postgres::PgConnectOptions) -> (String, Option<String>) {
        // PostgreSQL's default database is the user's name.
        let instance = options.get_database().unwrap_or(options.get_username());
        (
            format!("{}:{}", options.get_host(), options.get_port()),
            Some(instance.to_owned()),
        )
    }
}

#[cfg(feature = "sqlx-mysql")]
impl sealed::Sealed for sqlx::MySql {}

#[cfg(feature = "sqlx-mysql")]
impl TracedDatabase for sqlx::MySql {
    const COMPONENT: i32 = crate::component::MYSQL;
    const COMPONENT_NAME: &'static str = "Mysql";

    fn peer_and_instance(options: &sqlx::mysql::MySqlConnectOptions) -> (String, Option<String>) {
        (
            format!("{}:{}", options.get_host(), options.get_port()),
            options.get_database().map(str::to_owned),
        )
    }
}

#[cfg(feature = "sqlx-sqlite")]
impl sealed::Sealed for sqlx::Sqlite {}

#[cfg(feature = "sqlx-sqlite")]
impl TracedDatabase for sqlx::Sqlite {
    const COMPONENT: i32 = crate::component::SQLITE;
    const COMPONENT_NAME: &'static str = "SQLite";

    fn peer_and_instance(options: &sqlx::sqlite::SqliteConnectOptions) -> (String, Option<String>) {
        let path = options.get_filename();
        // The file's name, not its path: one database, one node, wherever it is deployed.
        let name = path
            .file_name()
            .unwrap_or(path.as_os_str())
            .to_string_lossy()
            .into_owned();
        (name.clone(), Some(name))
    }
}

/// Where the spans of a pool and its transactions go.
#[derive(Debug)]
struct Target {
    peer: String,
    instance: Option<String>,
}

/// An sqlx [`Pool`] whose queries are exit spans.
///
/// Its methods are those of [`sqlx::Executor`] on `&Pool` (`execute`, `fetch`, `fetch_all`,
/// `fetch_one`, `fetch_optional`) and [`Pool::begin`], taking what those take (`sqlx::query(..)`,
/// `sqlx::query_as(..)`, a `&'static str`); the futures they return are `Send + 'static` (the rows `fetch`
/// streams borrow the pool, as sqlx's own do). It is
/// cheap to clone, as the pool is; [`TracedPool::pool`] gives the pool for everything else
/// (whose queries are then not recorded).
///
/// ```no_run
/// use rust2sky::integrations::sqlx::TracedPool;
/// use sqlx::Row as _;
///
/// async fn user_name(db: &TracedPool<sqlx::Postgres>, id: i64) -> Result<String, sqlx::Error> {
///     let row = db.fetch_one(sqlx::query("SELECT name FROM users WHERE id = $1").bind(id)).await?;
///     row.try_get("name")
/// }
/// ```
pub struct TracedPool<DB: TracedDatabase> {
    pool: Pool<DB>,
    target: Arc<Target>,
}

impl<DB: TracedDatabase> Clone for TracedPool<DB> {
    fn clone(&self) -> Self {
        TracedPool {
            pool: self.pool.clone(),
            target: self.target.clone(),
        }
    }
}

impl<DB: TracedDatabase> fmt::Debug for TracedPool<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TracedPool")
            .field("peer", &self.target.peer)
            .field("instance", &self.target.instance)
            .finish_non_exhaustive()
    }
}

impl<DB: TracedDatabase> TracedPool<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    /// Wraps `pool`; the peer and the database name come from its connect options.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), sqlx::Error> {
    /// let pool = sqlx::PgPool::connect("postgres://shop@db:5432/shop").await?;
    /// let db = rust2sky::integrations::sqlx::TracedPool::new(pool);
    /// assert_eq!(db.peer(), "db:5432");
    /// # Ok(())
    /// # }
    /// ```
    pub fn new(pool: Pool<DB>) -> Self {
        let (peer, instance) = DB::peer_and_instance(&pool.connect_options());
        TracedPool {
            pool,
            target: Arc::new(Target { peer, instance }),
        }
    }

    /// The wrapped pool.
    ///
    /// ```no_run
    /// # async fn example(db: rust2sky::integrations::sqlx::TracedPool<sqlx::Postgres>) {
    /// db.pool().close().await;
    /// # }
    /// ```
    pub fn pool(&self) -> &Pool<DB> {
        &self.pool
    }

    /// The peer the spans name.
    ///
    /// ```no_run
    /// # fn example(db: rust2sky::integrations::sqlx::TracedPool<sqlx::Postgres>) {
    /// println!("queries go to {}", db.peer());
    /// # }
    /// ```
    pub fn peer(&self) -> &str {
        &self.target.peer
    }

    /// As [`Executor::execute`]: runs the query, and gives what it did (rows affected).
    ///
    /// ```no_run
    /// # async fn example(db: rust2sky::integrations::sqlx::TracedPool<sqlx::Postgres>) -> Result<(), sqlx::Error> {
    /// db.execute(sqlx::query("DELETE FROM carts WHERE age > $1").bind(30)).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn execute<'q, E: 'q + Execute<'q, DB>>(
        &self,
        query: E,
    ) -> impl Future<Output = Result<DB::QueryResult, sqlx::Error>> + Send + 'static {
        let (span, query) = query_span::<DB, _>(&self.target, "execute", query);
        let pool = self.pool.clone();
        Instrumented::with_outcome(async move { pool.execute(query).await }, span, RecordResult)
    }

    /// As [`Executor::fetch`]: runs the query, and streams its rows. The span ends with the
    /// stream (see [`TracedRows`]).
    ///
    /// ```no_run
    /// # async fn example(db: rust2sky::integrations::sqlx::TracedPool<sqlx::Postgres>) -> Result<(), sqlx::Error> {
    /// use futures_core::Stream;
    /// use std::pin::pin;
    ///
    /// let mut rows = pin!(db.fetch(sqlx::query("SELECT id FROM orders")));
    /// while let Some(row) = std::future::poll_fn(|cx| rows.as_mut().poll_next(cx)).await {
    ///     let row = row?;
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn fetch<'e, 'q: 'e, E: 'q + Execute<'q, DB>>(&'e self, query: E) -> TracedRows<'e, DB> {
        let (span, query) = query_span::<DB, _>(&self.target, "fetch", query);
        TracedRows::new((&self.pool).fetch(query), span)
    }

    /// As [`Executor::fetch_all`]: runs the query, and gives all its rows.
    ///
    /// ```no_run
    /// # async fn example(db: rust2sky::integrations::sqlx::TracedPool<sqlx::Postgres>) -> Result<(), sqlx::Error> {
    /// let rows = db.fetch_all(sqlx::query("SELECT id FROM orders")).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn fetch_all<'q, E: 'q + Execute<'q, DB>>(
        &self,
        query: E,
    ) -> impl Future<Output = Result<Vec<DB::Row>, sqlx::Error>> + Send + 'static {
        let (span, query) = query_span::<DB, _>(&self.target, "fetch_all", query);
        let pool = self.pool.clone();
        Instrumented::with_outcome(
            async move { pool.fetch_all(query).await },
            span,
            RecordResult,
        )
    }

    /// As [`Executor::fetch_one`]: runs the query, and gives its one row
    /// ([`sqlx::Error::RowNotFound`] when there is none, an error of the span too).
    ///
    /// ```no_run
    /// # async fn example(db: rust2sky::integrations::sqlx::TracedPool<sqlx::Postgres>) -> Result<(), sqlx::Error> {
    /// let row = db.fetch_one(sqlx::query("SELECT count(*) FROM orders")).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn fetch_one<'q, E: 'q + Execute<'q, DB>>(
        &self,
        query: E,
    ) -> impl Future<Output = Result<DB::Row, sqlx::Error>> + Send + 'static {
        let (span, query) = query_span::<DB, _>(&self.target, "fetch_one", query);
        let pool = self.pool.clone();
        Instrumented::with_outcome(
            async move { pool.fetch_one(query).await },
            span,
            RecordResult,
        )
    }

    /// As [`Executor::fetch_optional`]: runs the query, and gives its first row if any.
    ///
    /// ```no_run
    /// # async fn example(db: rust2sky::integrations::sqlx::TracedPool<sqlx::Postgres>) -> Result<(), sqlx::Error> {
    /// let row = db.fetch_optional(sqlx::query("SELECT * FROM users WHERE id = $1").bind(7)).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn fetch_optional<'q, E: 'q + Execute<'q, DB>>(
        &self,
        query: E,
    ) -> impl Future<Output = Result<Option<DB::Row>, sqlx::Error>> + Send + 'static {
        let (span, query) = query_span::<DB, _>(&self.target, "fetch_optional", query);
        let pool = self.pool.clone();
        Instrumented::with_outcome(
            async move { pool.fetch_optional(query).await },
            span,
            RecordResult,
        )
    }

    /// As [`Pool::begin`]: a transaction, whose queries, `commit` and `rollback` are spans too.
    /// The `begin` span covers taking a connection from the pool.
    ///
    /// ```no_run
    /// # async fn example(db: rust2sky::integrations::sqlx::TracedPool<sqlx::Postgres>) -> Result<(), sqlx::Error> {
    /// let mut tx = db.begin().await?;
    /// tx.execute(sqlx::query("UPDATE stock SET count = count - 1 WHERE sku = $1").bind("A-1")).await?;
    /// tx.commit().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn begin(
        &self,
    ) -> impl Future<Output = Result<TracedTransaction<DB>, sqlx::Error>> + Send + 'static {
        let span = step_span::<DB>(&self.target, "begin", "BEGIN");
        let pool = self.pool.clone();
        let target = self.target.clone();
        Instrumented::with_outcome(
            async move {
                let transaction = pool.begin().await?;
                Ok(TracedTransaction {
                    transaction,
                    target,
                })
            },
            span,
            RecordResult,
        )
    }
}

/// A transaction begun by [`TracedPool::begin`]: its queries, [`commit`](Self::commit) and
/// [`rollback`](Self::rollback) are exit spans. Dropped without either, sqlx rolls it back,
/// unrecorded.
///
/// ```no_run
/// # async fn example(db: rust2sky::integrations::sqlx::TracedPool<sqlx::Postgres>) -> Result<(), sqlx::Error> {
/// let mut tx = db.begin().await?;
/// tx.execute(sqlx::query("INSERT INTO orders (sku) VALUES ($1)").bind("A-1")).await?;
/// tx.rollback().await?;
/// # Ok(())
/// # }
/// ```
pub struct TracedTransaction<DB: TracedDatabase> {
    transaction: Transaction<'static, DB>,
    target: Arc<Target>,
}

impl<DB: TracedDatabase> fmt::Debug for TracedTransaction<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TracedTransaction")
            .field("peer", &self.target.peer)
            .finish_non_exhaustive()
    }
}

impl<DB: TracedDatabase> TracedTransaction<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    /// As [`TracedPool::execute`], inside the transaction.
    ///
    /// ```no_run
    /// # async fn example(mut tx: rust2sky::integrations::sqlx::TracedTransaction<sqlx::Postgres>) -> Result<(), sqlx::Error> {
    /// tx.execute(sqlx::query("DELETE FROM carts")).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn execute<'t, 'q: 't, E: 'q + Execute<'q, DB>>(
        &'t mut self,
        query: E,
    ) -> impl Future<Output = Result<DB::QueryResult, sqlx::Error>> + Send + 't {
        let (span, query) = query_span::<DB, _>(&self.target, "execute", query);
        Instrumented::with_outcome((&mut *self.transaction).execute(query), span, RecordResult)
    }

    /// As [`TracedPool::fetch`], inside the transaction.
    ///
    /// ```no_run
    /// # async fn example(mut tx: rust2sky::integrations::sqlx::TracedTransaction<sqlx::Postgres>) -> Result<(), sqlx::Error> {
    /// let rows = tx.fetch(sqlx::query("SELECT id FROM carts FOR UPDATE"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn fetch<'t, 'q: 't, E: 'q + Execute<'q, DB>>(
        &'t mut self,
        query: E,
    ) -> TracedRows<'t, DB> {
        let (span, query) = query_span::<DB, _>(&self.target, "fetch", query);
        TracedRows::new((&mut *self.transaction).fetch(query), span)
    }

    /// As [`TracedPool::fetch_all`], inside the transaction.
    ///
    /// ```no_run
    /// # async fn example(mut tx: rust2sky::integrations::sqlx::TracedTransaction<sqlx::Postgres>) -> Result<(), sqlx::Error> {
    /// let rows = tx.fetch_all(sqlx::query("SELECT id FROM carts FOR UPDATE")).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn fetch_all<'t, 'q: 't, E: 'q + Execute<'q, DB>>(
        &'t mut self,
        query: E,
    ) -> impl Future<Output = Result<Vec<DB::Row>, sqlx::Error>> + Send + 't {
        let (span, query) = query_span::<DB, _>(&self.target, "fetch_all", query);
        Instrumented::with_outcome(
            (&mut *self.transaction).fetch_all(query),
            span,
            RecordResult,
        )
    }

    /// As [`TracedPool::fetch_one`], inside the transaction.
    ///
    /// ```no_run
    /// # async fn example(mut tx: rust2sky::integrations::sqlx::TracedTransaction<sqlx::Postgres>) -> Result<(), sqlx::Error> {
    /// let row = tx.fetch_one(sqlx::query("SELECT count(*) FROM carts")).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn fetch_one<'t, 'q: 't, E: 'q + Execute<'q, DB>>(
        &'t mut self,
        query: E,
    ) -> impl Future<Output = Result<DB::Row, sqlx::Error>> + Send + 't {
        let (span, query) = query_span::<DB, _>(&self.target, "fetch_one", query);
        Instrumented::with_outcome(
            (&mut *self.transaction).fetch_one(query),
            span,
            RecordResult,
        )
    }

    /// As [`TracedPool::fetch_optional`], inside the transaction.
    ///
    /// ```no_run
    /// # async fn example(mut tx: rust2sky::integrations::sqlx::TracedTransaction<sqlx::Postgres>) -> Result<(), sqlx::Error> {
    /// let row = tx.fetch_optional(sqlx::query("SELECT * FROM carts LIMIT 1")).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn fetch_optional<'t, 'q: 't, E: 'q + Execute<'q, DB>>(
        &'t mut self,
        query: E,
    ) -> impl Future<Output = Result<Option<DB::Row>, sqlx::Error>> + Send + 't {
        let (span, query) = query_span::<DB, _>(&self.target, "fetch_optional", query);
        Instrumented::with_outcome(
            (&mut *self.transaction).fetch_optional(query),
            span,
            RecordResult,
        )
    }

    /// Commits the transaction, as [`Transaction::commit`].
    ///
    /// ```no_run
    /// # async fn example(tx: rust2sky::integrations::sqlx::TracedTransaction<sqlx::Postgres>) -> Result<(), sqlx::Error> {
    /// tx.commit().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn commit(self) -> impl Future<Output = Result<(), sqlx::Error>> + Send + 'static {
        let span = step_span::<DB>(&self.target, "commit", "COMMIT");
        Instrumented::with_outcome(self.transaction.commit(), span, RecordResult)
    }

    /// Rolls the transaction back, as [`Transaction::rollback`].
    ///
    /// ```no_run
    /// # async fn example(tx: rust2sky::integrations::sqlx::TracedTransaction<sqlx::Postgres>) -> Result<(), sqlx::Error> {
    /// tx.rollback().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn rollback(self) -> impl Future<Output = Result<(), sqlx::Error>> + Send + 'static {
        let span = step_span::<DB>(&self.target, "rollback", "ROLLBACK");
        Instrumented::with_outcome(self.transaction.rollback(), span, RecordResult)
    }

    /// The transaction itself, for what the wrapper does not offer (queries run on it are not
    /// recorded).
    ///
    /// ```no_run
    /// # fn example(mut tx: rust2sky::integrations::sqlx::TracedTransaction<sqlx::Postgres>) {
    /// let transaction: &mut sqlx::Transaction<'static, sqlx::Postgres> = tx.get_mut();
    /// # }
    /// ```
    pub fn get_mut(&mut self) -> &mut Transaction<'static, DB> {
        &mut self.transaction
    }
}

/// The rows of [`TracedPool::fetch`] or [`TracedTransaction::fetch`], as sqlx streams them
/// (a [`Stream`], for `futures`' `StreamExt`/`TryStreamExt` and the like), with the query's
/// exit span: it ends after the last row, or at an error (which marks it failed), or with a
/// `cancelled` log when the stream is dropped before either.
///
/// ```no_run
/// # async fn example(db: rust2sky::integrations::sqlx::TracedPool<sqlx::Postgres>) -> Result<(), sqlx::Error> {
/// use futures_core::Stream;
///
/// let mut rows = db.fetch(sqlx::query("SELECT id FROM orders"));
/// let first = std::future::poll_fn(|cx| std::pin::Pin::new(&mut rows).poll_next(cx)).await;
/// drop(rows); // the span ends here, with a `cancelled` log
/// # Ok(())
/// # }
/// ```
pub struct TracedRows<'e, DB: sqlx::Database> {
    rows: BoxStream<'e, Result<DB::Row, sqlx::Error>>,
    /// `None` once the span has ended.
    span: Option<Span>,
}

impl<'e, DB: sqlx::Database> TracedRows<'e, DB> {
    fn new(rows: BoxStream<'e, Result<DB::Row, sqlx::Error>>, span: Span) -> Self {
        TracedRows {
            rows,
            span: Some(span),
        }
    }
}

impl<DB: sqlx::Database> fmt::Debug for TracedRows<'_, DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TracedRows")
            .field("ended", &self.span.is_none())
            .finish_non_exhaustive()
    }
}

impl<DB: sqlx::Database> Stream for TracedRows<'_, DB> {
    type Item = Result<DB::Row, sqlx::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        // Both fields are `Unpin`: the rows are boxed.
        let this = self.get_mut();
        let polled = this.rows.as_mut().poll_next(cx);
        match &polled {
            Poll::Ready(None) => drop(this.span.take()),
            Poll::Ready(Some(Err(error))) => {
                if let Some(mut span) = this.span.take() {
                    span.error(error_kind(error), error);
                }
            }
            Poll::Ready(Some(Ok(_))) | Poll::Pending => {}
        }
        polled
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.rows.size_hint()
    }
}

impl<DB: sqlx::Database> Drop for TracedRows<'_, DB> {
    fn drop(&mut self) {
        if let Some(mut span) = self.span.take()
            && !std::thread::panicking()
        {
            // A panic is recorded by the span itself as it drops.
            span.record_cancelled();
        }
    }
}

/// A query taken apart so that its SQL can be read before it runs: [`Execute::sql`] consumes
/// the query, so its arguments are taken first, and handed back when sqlx asks for them.
struct Taken<DB: sqlx::Database> {
    sql: SqlStr,
    arguments: Option<Result<Option<DB::Arguments>, BoxDynError>>,
    persistent: bool,
}

impl<'q, DB: sqlx::Database> Execute<'q, DB> for Taken<DB> {
    fn sql(self) -> SqlStr {
        self.sql
    }

    fn statement(&self) -> Option<&DB::Statement> {
        None
    }

    fn take_arguments(&mut self) -> Result<Option<DB::Arguments>, BoxDynError> {
        self.arguments.take().unwrap_or(Ok(None))
    }

    fn persistent(&self) -> bool {
        self.persistent
    }
}

fn base_span<DB: TracedDatabase>(target: &Target, method: &str) -> Span {
    let operation = format!("{}/sqlx/{method}", <DB as TracedDatabase>::COMPONENT_NAME);
    let mut span = exit_span(operation, &target.peer, &mut NoHeaders);
    span.set_layer(SpanLayer::Database)
        .set_component(DB::COMPONENT)
        .tag(tags::DB_TYPE, "sql");
    if let Some(instance) = &target.instance {
        span.tag(tags::DB_INSTANCE, instance);
    }
    span
}

fn query_span<'q, DB: TracedDatabase, E: Execute<'q, DB>>(
    target: &Target,
    method: &str,
    mut query: E,
) -> (Span, Taken<DB>) {
    let persistent = query.persistent();
    let arguments = Some(query.take_arguments());
    let sql = query.sql();
    let mut span = base_span::<DB>(target, method);
    if let Some(tracer) = span.recording_tracer() {
        let statement = statement(sql.as_str(), tracer.integrations().sql_body_max_length);
        span.tag(tags::DB_STATEMENT, statement);
    }
    let taken = Taken {
        sql,
        arguments,
        persistent,
    };
    (span, taken)
}

fn step_span<DB: TracedDatabase>(target: &Target, method: &str, statement: &str) -> Span {
    let mut span = base_span::<DB>(target, method);
    span.tag(tags::DB_STATEMENT, statement);
    span
}

/// `sql` cut at `max` characters, with `...` where it was cut, as the Java agent does.
fn statement(sql: &str, max: usize) -> std::borrow::Cow<'_, str> {
    let shown = super::cut(sql, max);
    if shown.len() == sql.len() {
        shown.into()
    } else {
        format!("{shown}...").into()
    }
}

/// Marks the span as failed when the query failed.
#[derive(Debug, Clone, Copy)]
struct RecordResult;

impl<T> OnReady<Result<T, sqlx::Error>> for RecordResult {
    fn on_ready(self, span: &mut Span, output: &Result<T, sqlx::Error>) {
        if let Err(error) = output {
            span.error(error_kind(error), error);
        }
    }
}

fn error_kind(error: &sqlx::Error) -> &'static str {
    match error {
        sqlx::Error::Database(_) => "DatabaseError",
        sqlx::Error::RowNotFound => "RowNotFound",
        sqlx::Error::PoolTimedOut => "PoolTimedOut",
        sqlx::Error::PoolClosed => "PoolClosed",
        sqlx::Error::Io(_) => "Io",
        sqlx::Error::Tls(_) => "Tls",
        sqlx::Error::Protocol(_) => "Protocol",
        sqlx::Error::Encode(_) => "Encode",
        sqlx::Error::Decode(_) | sqlx::Error::ColumnDecode { .. } => "Decode",
        _ => "sqlx::Error",
    }
}

#[cfg(test)]
mod tests {
    use super::{TracedDatabase, statement};

    #[cfg(feature = "sqlx-mysql")]
    #[test]
    fn mysql_spans_name_host_port_and_database() {
        let options = sqlx::mysql::MySqlConnectOptions::new()
            .host("db")
            .port(3307)
            .database("shop");
        assert_eq!(
            sqlx::MySql::peer_and_instance(&options),
            ("db:3307".to_owned(), Some("shop".to_owned()))
        );
        assert_eq!(sqlx::MySql::COMPONENT, crate::component::MYSQL);
    }

    #[cfg(feature = "sqlx-postgres")]
    #[test]
    fn postgres_without_a_database_names_the_users() {
        let options = sqlx::postgres::PgConnectOptions::new_without_pgpass()
            .host("db")
            .port(5433)
            .username("shop");
        assert_eq!(
            sqlx::Postgres::peer_and_instance(&options),
            ("db:5433".to_owned(), Some("shop".to_owned()))
        );
    }

    #[cfg(feature = "sqlx-sqlite")]
    #[test]
    fn sqlite_names_the_file_not_its_directory() {
        let options = sqlx::sqlite::SqliteConnectOptions::new().filename("/var/lib/shop/orders.db");
        assert_eq!(
            sqlx::Sqlite::peer_and_instance(&options),
            ("orders.db".to_owned(), Some("orders.db".to_owned()))
        );
    }

    #[test]
    fn statements_are_cut_at_characters_with_an_ellipsis() {
        assert_eq!(statement("SELECT 1", 8), "SELECT 1");
        assert_eq!(statement("SELECT 1", 6), "SELECT...");
        assert_eq!(statement("SELECT 'ü'", 9), "SELECT 'ü...");
    }
}
