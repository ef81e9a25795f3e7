//! `integrations::sqlx::TracedPool` against real PostgreSQL and MariaDB servers on loopback
//! (MariaDB through sqlx's MySQL driver), and SQLite in a temporary file.

use std::time::Duration;

use rust2sky::integrations::sqlx::TracedPool;
use rust2sky::proto::v3::{SpanLayer, SpanObject};
use rust2sky::{component, tags};
use sqlx::Row as _;

use crate::servers;
use crate::spans::{
    InRequest as _, all_text, exits, log_values, one_segment, tag, tracer, tracer_with,
};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn postgres_pool(server: &servers::Postgres) -> TracedPool<sqlx::Postgres> {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(&server.url())
        .await
        .unwrap();
    TracedPool::new(pool)
}

fn assert_database_span(span: &SpanObject, peer: &str, component: i32, operation: &str) {
    assert_eq!(span.operation_name, operation);
    assert_eq!(span.peer, peer);
    assert_eq!(span.span_layer(), SpanLayer::Database);
    assert_eq!(span.component_id, component);
    assert_eq!(tag(span, tags::DB_TYPE), Some("sql"));
}

/// The database a test's spans go to.
struct Database<'a> {
    peer: &'a str,
    component: i32,
    /// The operations' first part, as in `PostgreSQL/sqlx/execute`.
    name: &'a str,
    instance: &'a str,
}

/// Checks that `exits` are, in order, the spans of the `(method, statement)` pairs `expected`,
/// to `database`, children of the request, none with a bound parameter in it, and only the one
/// of method `failed` an error.
fn assert_statement_spans(
    exits: &[&SpanObject],
    database: &Database<'_>,
    expected: &[(&str, &str)],
    failed: Option<&str>,
) {
    for (span, &(method, statement)) in exits.iter().zip(expected) {
        let operation = format!("{}/sqlx/{method}", database.name);
        assert_database_span(span, database.peer, database.component, &operation);
        assert_eq!(tag(span, tags::DB_INSTANCE), Some(database.instance));
        assert_eq!(
            tag(span, tags::DB_STATEMENT),
            Some(statement),
            "{operation}"
        );
        assert_eq!(span.is_error, failed == Some(method), "{span:#?}");
        assert_eq!(span.parent_span_id, 0, "children of the request");
        assert!(!all_text(span).contains("secret-param"), "{span:#?}");
    }
}

#[test]
fn postgres_queries_and_transactions_are_database_exit_spans() {
    let Some(server) = servers::postgres() else {
        return;
    };
    let (tracer, reporter) = tracer("shop");
    runtime().block_on(
        async {
            let db = postgres_pool(&server).await;
            db.execute("CREATE TABLE users (id BIGINT PRIMARY KEY, name TEXT NOT NULL)")
                .await
                .unwrap();
            let mut tx = db.begin().await.unwrap();
            tx.execute(
                sqlx::query("INSERT INTO users (id, name) VALUES ($1, $2)")
                    .bind(7_i64)
                    .bind("secret-param-alice"),
            )
            .await
            .unwrap();
            tx.commit().await.unwrap();
            let row = db
                .fetch_one(sqlx::query("SELECT name FROM users WHERE id = $1").bind(7_i64))
                .await
                .unwrap();
            assert_eq!(row.get::<String, _>("name"), "secret-param-alice");
            let all = db
                .fetch_all(sqlx::query("SELECT id FROM users"))
                .await
                .unwrap();
            assert_eq!(all.len(), 1);
            let none = db
                .fetch_optional(sqlx::query("SELECT id FROM users WHERE id = $1").bind(8_i64))
                .await
                .unwrap();
            assert!(none.is_none());
        }
        .in_request("GET:/users", &tracer),
    );

    let segment = one_segment(&reporter);
    let exits = exits(&segment);
    let peer = format!("127.0.0.1:{}", server.port());
    let expected = [
        (
            "execute",
            "CREATE TABLE users (id BIGINT PRIMARY KEY, name TEXT NOT NULL)",
        ),
        ("begin", "BEGIN"),
        ("execute", "INSERT INTO users (id, name) VALUES ($1, $2)"),
        ("commit", "COMMIT"),
        ("fetch_one", "SELECT name FROM users WHERE id = $1"),
        ("fetch_all", "SELECT id FROM users"),
        ("fetch_optional", "SELECT id FROM users WHERE id = $1"),
    ];
    assert_eq!(exits.len(), expected.len(), "{segment:#?}");
    assert_eq!(exits[0].component_id, 22);
    let database = Database {
        peer: &peer,
        component: component::POSTGRESQL,
        name: "PostgreSQL",
        instance: "postgres",
    };
    assert_statement_spans(&exits, &database, &expected, None);
}

#[test]
fn a_failed_and_a_cancelled_postgres_query() {
    let Some(server) = servers::postgres() else {
        return;
    };
    let (tracer, reporter) = tracer("shop");
    runtime().block_on(
        async {
            let db = postgres_pool(&server).await;
            let failed = db.fetch_all("SELECT * FROM no_such_table").await;
            assert!(failed.is_err());
            let slow =
                tokio::time::timeout(Duration::from_millis(300), db.execute("SELECT pg_sleep(5)"))
                    .await;
            assert!(slow.is_err(), "pg_sleep(5) outlasts the timeout");
        }
        .in_request("GET:/report", &tracer),
    );

    let segment = one_segment(&reporter);
    let exits = exits(&segment);
    assert_eq!(exits.len(), 2, "{segment:#?}");
    let (failed, cancelled) = (exits[0], exits[1]);
    assert!(failed.is_error);
    let logs = log_values(failed);
    assert!(logs.contains(&("event", "error")), "{logs:?}");
    assert!(logs.contains(&("error.kind", "DatabaseError")), "{logs:?}");
    assert!(
        logs.iter()
            .any(|(key, value)| *key == "message" && value.contains("does not exist")),
        "{logs:?}"
    );
    assert_eq!(
        tag(cancelled, tags::DB_STATEMENT),
        Some("SELECT pg_sleep(5)")
    );
    assert_eq!(log_values(cancelled), vec![("event", "cancelled")]);
}

#[test]
fn mysql_queries_and_transactions_are_database_exit_spans_against_mariadb() {
    let Some(server) = servers::mariadb() else {
        return;
    };
    let (tracer, reporter) = tracer("shop");
    runtime().block_on(
        async {
            let pool = sqlx::mysql::MySqlPoolOptions::new()
                .max_connections(2)
                .connect(&server.url())
                .await
                .unwrap();
            let db = TracedPool::new(pool);
            db.execute("CREATE TABLE users (id BIGINT PRIMARY KEY, name TEXT NOT NULL)")
                .await
                .unwrap();
            let mut tx = db.begin().await.unwrap();
            tx.execute(
                sqlx::query("INSERT INTO users (id, name) VALUES (?, ?)")
                    .bind(7_i64)
                    .bind("secret-param-alice"),
            )
            .await
            .unwrap();
            tx.commit().await.unwrap();
            let row = db
                .fetch_one(sqlx::query("SELECT name FROM users WHERE id = ?").bind(7_i64))
                .await
                .unwrap();
            assert_eq!(row.get::<String, _>("name"), "secret-param-alice");
            assert!(db.fetch_all("SELECT * FROM no_such_table").await.is_err());
        }
        .in_request("GET:/users", &tracer),
    );

    let segment = one_segment(&reporter);
    let exits = exits(&segment);
    let peer = format!("127.0.0.1:{}", server.port());
    let expected = [
        (
            "execute",
            "CREATE TABLE users (id BIGINT PRIMARY KEY, name TEXT NOT NULL)",
        ),
        ("begin", "BEGIN"),
        ("execute", "INSERT INTO users (id, name) VALUES (?, ?)"),
        ("commit", "COMMIT"),
        ("fetch_one", "SELECT name FROM users WHERE id = ?"),
        ("fetch_all", "SELECT * FROM no_such_table"),
    ];
    assert_eq!(exits.len(), expected.len(), "{segment:#?}");
    assert_eq!(exits[0].component_id, 5);
    let database = Database {
        peer: &peer,
        component: component::MYSQL,
        name: "Mysql",
        instance: "shop",
    };
    assert_statement_spans(&exits, &database, &expected, Some("fetch_all"));
    let logs = log_values(exits[5]);
    assert!(logs.contains(&("error.kind", "DatabaseError")), "{logs:?}");
    assert!(
        logs.iter()
            .any(|(key, value)| *key == "message" && value.contains("doesn't exist")),
        "{logs:?}"
    );
}

/// The next item of `stream`, as `StreamExt::next` would give it.
async fn next<S: futures_core::Stream + Unpin>(stream: &mut S) -> Option<S::Item> {
    std::future::poll_fn(|cx| std::pin::Pin::new(&mut *stream).poll_next(cx)).await
}

#[test]
fn a_fetch_stream_is_one_span_that_ends_with_its_last_row_its_error_or_its_drop() {
    let Some(server) = servers::postgres() else {
        return;
    };
    let (tracer, reporter) = tracer("shop");
    runtime().block_on(
        async {
            let db = postgres_pool(&server).await;
            let mut all = db.fetch(sqlx::query("SELECT generate_series(1, 3) AS n"));
            let mut numbers = Vec::new();
            while let Some(row) = next(&mut all).await {
                numbers.push(row.unwrap().get::<i32, _>("n"));
            }
            assert_eq!(numbers, [1, 2, 3]);
            // `all` is still here, but its span ended with its last row, before this one's.
            db.execute("SELECT 1").await.unwrap();
            drop(all);

            let mut failing = db.fetch("SELECT * FROM no_such_table");
            assert!(next(&mut failing).await.unwrap().is_err());
            drop(failing);

            let mut left = db.fetch("SELECT generate_series(1, 100000) AS n");
            assert!(next(&mut left).await.unwrap().is_ok());
            drop(left);

            let mut tx = db.begin().await.unwrap();
            let mut in_tx = tx.fetch("SELECT 42 AS n");
            assert_eq!(
                next(&mut in_tx).await.unwrap().unwrap().get::<i32, _>("n"),
                42
            );
            assert!(next(&mut in_tx).await.is_none());
            drop(in_tx);
            tx.rollback().await.unwrap();
        }
        .in_request("GET:/numbers", &tracer),
    );

    let segment = one_segment(&reporter);
    let exits = exits(&segment);
    let operations: Vec<&str> = exits
        .iter()
        .map(|span| span.operation_name.as_str())
        .collect();
    assert_eq!(
        operations,
        [
            "PostgreSQL/sqlx/fetch",
            "PostgreSQL/sqlx/execute",
            "PostgreSQL/sqlx/fetch",
            "PostgreSQL/sqlx/fetch",
            "PostgreSQL/sqlx/begin",
            "PostgreSQL/sqlx/fetch",
            "PostgreSQL/sqlx/rollback",
        ]
    );
    let peer = format!("127.0.0.1:{}", server.port());
    let (all, after, failing, left, in_tx) = (exits[0], exits[1], exits[2], exits[3], exits[5]);
    for span in [all, failing, left, in_tx] {
        assert_database_span(span, &peer, component::POSTGRESQL, "PostgreSQL/sqlx/fetch");
        assert_eq!(tag(span, tags::DB_INSTANCE), Some("postgres"));
        assert_eq!(span.parent_span_id, 0, "children of the request");
    }
    assert_eq!(
        tag(all, tags::DB_STATEMENT),
        Some("SELECT generate_series(1, 3) AS n")
    );
    assert!(!all.is_error && all.logs.is_empty(), "{all:#?}");
    // Spans are reported in the order they ended.
    let ended = |span: &SpanObject| segment.spans.iter().position(|s| s.span_id == span.span_id);
    assert!(ended(all) < ended(after), "{segment:#?}");

    assert!(failing.is_error);
    let logs = log_values(failing);
    assert!(logs.contains(&("error.kind", "DatabaseError")), "{logs:?}");
    assert!(!left.is_error);
    assert_eq!(log_values(left), vec![("event", "cancelled")]);
    assert!(!in_tx.is_error && in_tx.logs.is_empty(), "{in_tx:#?}");
    assert_eq!(tag(in_tx, tags::DB_STATEMENT), Some("SELECT 42 AS n"));
}

#[test]
fn a_statement_far_over_the_limit_is_cut_at_the_configured_length() {
    let Some(server) = servers::postgres() else {
        return;
    };
    let long = format!("SELECT 1 /* {} */", "x".repeat(100_000));
    let expected_default = format!("{}...", &long[..512]);
    let expected_short = format!("{}...", &long[..20]);
    for (env, expected) in [
        (&[][..], expected_default),
        (&[("SW_JDBC_SQL_BODY_MAX_LENGTH", "20")][..], expected_short),
    ] {
        let (tracer, reporter) = tracer_with("shop", env);
        let sql = long.clone();
        runtime().block_on(
            async {
                let db = postgres_pool(&server).await;
                let row = db
                    .fetch_one(sqlx::query(sqlx::AssertSqlSafe(sql)))
                    .await
                    .unwrap();
                assert_eq!(row.get::<i32, _>(0), 1, "the whole statement ran");
            }
            .in_request("GET:/long", &tracer),
        );
        let segment = one_segment(&reporter);
        let exits = exits(&segment);
        assert_eq!(tag(exits[0], tags::DB_STATEMENT), Some(expected.as_str()));
    }
}

#[test]
fn sqlite_queries_name_the_database_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shop.db");
    let (tracer, reporter) = tracer("shop");
    runtime().block_on(
        async {
            let options = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(&path)
                .create_if_missing(true);
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options)
                .await
                .unwrap();
            let db = TracedPool::new(pool);
            assert_eq!(db.peer(), "shop.db");
            db.execute("CREATE TABLE items (sku TEXT)").await.unwrap();
            db.execute(sqlx::query("INSERT INTO items VALUES (?)").bind("secret-param-sku"))
                .await
                .unwrap();
            let failed = db.fetch_all("SELECT * FROM no_such_table").await;
            assert!(failed.is_err());
        }
        .in_request("GET:/items", &tracer),
    );

    let segment = one_segment(&reporter);
    let exits = exits(&segment);
    assert_eq!(exits.len(), 3, "{segment:#?}");
    for span in &exits {
        assert_database_span(span, "shop.db", component::SQLITE, &span.operation_name);
        assert_eq!(span.component_id, 31);
        assert_eq!(tag(span, tags::DB_INSTANCE), Some("shop.db"));
        assert!(!all_text(span).contains("secret-param"), "{span:#?}");
    }
    assert_eq!(exits[1].operation_name, "SQLite/sqlx/execute");
    assert_eq!(
        tag(exits[1], tags::DB_STATEMENT),
        Some("INSERT INTO items VALUES (?)")
    );
    assert!(!exits[1].is_error);
    assert!(exits[2].is_error);
    assert!(
        log_values(exits[2])
            .iter()
            .any(|(key, value)| *key == "message" && value.contains("no such table")),
        "{:?}",
        log_values(exits[2])
    );
}
