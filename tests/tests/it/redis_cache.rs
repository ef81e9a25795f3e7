//! `integrations::redis::Traced` against a real `redis-server` on loopback.

use redis::{AsyncCommands as _, Commands as _};
use rust2sky::integrations::redis::{KEY_MAX_LENGTH, Traced};
use rust2sky::proto::v3::{SpanLayer, SpanObject};
use rust2sky::{component, tags};

use crate::servers;
use crate::spans::{InRequest as _, all_text, exits, log_values, one_segment, tag, tracer};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn assert_cache_span(span: &SpanObject, peer: &str, cmd: &str) {
    assert_eq!(span.operation_name, format!("Redis/{cmd}"));
    assert_eq!(span.peer, peer);
    assert_eq!(span.span_layer(), SpanLayer::Cache);
    assert_eq!(span.component_id, component::REDIS);
    assert_eq!(span.component_id, 7);
    assert_eq!(tag(span, tags::CACHE_TYPE), Some("redis"));
    assert_eq!(tag(span, tags::CACHE_CMD), Some(cmd));
}

#[test]
fn sync_commands_are_cache_exit_spans_with_command_op_and_key_but_no_value() {
    let Some(server) = servers::redis() else {
        return;
    };
    let (tracer, reporter) = tracer("cart");
    let client = redis::Client::open(server.url()).unwrap();
    let mut cache = Traced::for_client(client.get_connection().unwrap(), &client);
    assert_eq!(cache.peer(), server.addr());
    tracer.in_scope(|| {
        let _request = rust2sky::local_span("request").entered();
        let _: () = cache.set("session:7", "secret-value-1").unwrap();
        let value: String = cache.get("session:7").unwrap();
        assert_eq!(value, "secret-value-1");
        let _: String = redis::cmd("PING").query(&mut cache).unwrap();
    });

    let segment = one_segment(&reporter);
    let exits = exits(&segment);
    assert_eq!(exits.len(), 3, "{segment:#?}");
    let (set, get, ping) = (exits[0], exits[1], exits[2]);
    assert_cache_span(set, &server.addr(), "SET");
    assert_eq!(tag(set, tags::CACHE_OP), Some("write"));
    assert_eq!(tag(set, tags::CACHE_KEY), Some("session:7"));
    assert_cache_span(get, &server.addr(), "GET");
    assert_eq!(tag(get, tags::CACHE_OP), Some("read"));
    assert_eq!(tag(get, tags::CACHE_KEY), Some("session:7"));
    assert_cache_span(ping, &server.addr(), "PING");
    assert_eq!(
        tag(ping, tags::CACHE_OP),
        None,
        "PING is neither read nor write"
    );
    assert_eq!(tag(ping, tags::CACHE_KEY), None);
    for span in [set, get, ping] {
        assert!(!span.is_error, "{span:#?}");
        assert_eq!(span.parent_span_id, 0, "children of the request span");
        assert!(!all_text(span).contains("secret-value"), "{span:#?}");
    }
}

#[test]
fn async_commands_and_pipelines_are_spans_of_their_own() {
    let Some(server) = servers::redis() else {
        return;
    };
    let (tracer, reporter) = tracer("cart");
    let client = redis::Client::open(server.url()).unwrap();
    runtime().block_on(
        async {
            let connection = client.get_multiplexed_async_connection().await.unwrap();
            let mut cache = Traced::for_client(connection, &client);
            let _: () = cache.set("cart:1", "secret-value-2").await.unwrap();
            let (count, value): (i64, String) = redis::pipe()
                .atomic()
                .incr("visits", 1)
                .get("cart:1")
                .query_async(&mut cache)
                .await
                .unwrap();
            assert_eq!((count, value.as_str()), (1, "secret-value-2"));
            let _: Vec<String> = redis::pipe()
                .get("cart:1")
                .query_async(&mut cache)
                .await
                .unwrap();
        }
        .in_request("request", &tracer),
    );

    let segment = one_segment(&reporter);
    let exits = exits(&segment);
    assert_eq!(exits.len(), 3, "{segment:#?}");
    assert_cache_span(exits[0], &server.addr(), "SET");
    assert_eq!(tag(exits[0], tags::CACHE_KEY), Some("cart:1"));
    let pipeline = exits[1];
    assert_eq!(pipeline.operation_name, "Redis/PIPELINE");
    assert_eq!(pipeline.span_layer(), SpanLayer::Cache);
    assert_eq!(pipeline.component_id, component::REDIS);
    assert_eq!(pipeline.peer, server.addr());
    assert_eq!(tag(pipeline, tags::CACHE_TYPE), Some("redis"));
    assert_eq!(
        tag(pipeline, tags::CACHE_CMD),
        Some("INCRBY,GET"),
        "no MULTI/EXEC"
    );
    assert_eq!(
        tag(pipeline, tags::CACHE_OP),
        Some("write"),
        "a write among them"
    );
    assert_eq!(
        tag(pipeline, tags::CACHE_KEY),
        Some("visits"),
        "the first key"
    );
    let reads = exits[2];
    assert_eq!(tag(reads, tags::CACHE_CMD), Some("GET"));
    assert_eq!(tag(reads, tags::CACHE_OP), Some("read"));
    for span in exits {
        assert!(!span.is_error, "{span:#?}");
        assert!(!all_text(span).contains("secret-value"), "{span:#?}");
    }
}

#[test]
fn a_failed_command_is_an_error_with_the_servers_message() {
    let Some(server) = servers::redis() else {
        return;
    };
    let (tracer, reporter) = tracer("cart");
    let client = redis::Client::open(server.url()).unwrap();
    let mut cache = Traced::for_client(client.get_connection().unwrap(), &client);
    let runtime = runtime();
    tracer.in_scope(|| {
        let _request = rust2sky::local_span("request").entered();
        let _: () = cache.set("name", "alice").unwrap();
        let failed: redis::RedisResult<i64> = cache.incr("name", 1);
        assert!(failed.is_err());
        let failed: redis::RedisResult<(i64,)> = redis::pipe().incr("name", 1).query(&mut cache);
        assert!(failed.is_err());
    });
    runtime.block_on(
        async {
            let mut cache = Traced::for_client(
                client.get_multiplexed_async_connection().await.unwrap(),
                &client,
            );
            let failed: redis::RedisResult<i64> = cache.incr("name", 1).await;
            assert!(failed.is_err());
        }
        .in_request("request", &tracer),
    );

    let segments = reporter.wait_for(2, crate::spans::DEADLINE);
    assert_eq!(segments.len(), 2, "{segments:#?}");
    let sync_exits = exits(&segments[0]);
    assert!(!sync_exits[0].is_error, "SET succeeded");
    for span in [sync_exits[1], sync_exits[2], exits(&segments[1])[0]] {
        assert!(span.is_error, "{span:#?}");
        let logs = log_values(span);
        assert!(logs.contains(&("event", "error")), "{logs:?}");
        assert!(
            logs.iter()
                .any(|(key, value)| *key == "message" && value.contains("not an integer")),
            "{logs:?}"
        );
    }
    assert_eq!(sync_exits[1].operation_name, "Redis/INCRBY");
    assert_eq!(sync_exits[2].operation_name, "Redis/PIPELINE");
}

#[test]
fn a_command_dropped_before_its_answer_ends_its_span_cancelled() {
    let Some(server) = servers::redis() else {
        return;
    };
    let (tracer, reporter) = tracer("worker");
    let client = redis::Client::open(server.url()).unwrap();
    runtime().block_on(
        async {
            let connection = client.get_multiplexed_async_connection().await.unwrap();
            let mut cache = Traced::for_client(connection, &client);
            let waited = tokio::time::timeout(
                std::time::Duration::from_millis(200),
                cache.blpop::<_, Option<(String, String)>>("jobs", 5.0),
            )
            .await;
            assert!(
                waited.is_err(),
                "BLPOP on an empty list waits past the timeout"
            );
        }
        .in_request("poll jobs", &tracer),
    );

    let segment = one_segment(&reporter);
    let exits = exits(&segment);
    assert_eq!(exits.len(), 1, "{segment:#?}");
    assert_cache_span(exits[0], &server.addr(), "BLPOP");
    assert_eq!(tag(exits[0], tags::CACHE_OP), Some("read"));
    assert_eq!(tag(exits[0], tags::CACHE_KEY), Some("jobs"));
    assert_eq!(log_values(exits[0]), vec![("event", "cancelled")]);
}

#[test]
fn a_key_far_over_the_limit_is_cut() {
    let Some(server) = servers::redis() else {
        return;
    };
    let (tracer, reporter) = tracer("cart");
    let client = redis::Client::open(server.url()).unwrap();
    let mut cache = Traced::for_client(client.get_connection().unwrap(), &client);
    let key = "ü".repeat(10_000);
    tracer.in_scope(|| {
        let _: () = cache.set(&key, "v").unwrap();
        let _: () = redis::pipe().set(&key, "v").query(&mut cache).unwrap();
    });

    let segments = reporter.wait_for(2, crate::spans::DEADLINE);
    assert_eq!(segments.len(), 2, "{segments:#?}");
    for segment in &segments {
        let span = &segment.spans[0];
        let shown = tag(span, tags::CACHE_KEY).unwrap();
        assert_eq!(shown, "ü".repeat(KEY_MAX_LENGTH), "{}", span.operation_name);
    }
}
