//! Log records to the collector through the `tracing` and `log` bridges, with the trace context
//! of the span that was current.

use std::collections::HashMap;
use std::time::Duration;

use rust2sky::config::Config;
use rust2sky::logging::{SkyWalkingLayer, SkyWalkingLogger};
use rust2sky::proto::v3::LogData;
use rust2sky::proto::v3::log_data_body::Content;
use rust2sky::reporter::{GrpcReporter, Reporter as _, Transport as _};
use rust2sky::testing::Collector;
use rust2sky::{Tracer, sw_entry};
use tracing_subscriber::layer::SubscriberExt as _;

const PATIENCE: Duration = Duration::from_secs(20);

fn reporter_to(collector: &Collector, level: log::LevelFilter) -> (Tracer, GrpcReporter) {
    let config = Config::builder()
        .service_name("payments")
        .instance_name("payments-1")
        .backends([collector.backend()])
        .log_reporter_level(level)
        .build_with_env(|_| None)
        .expect("a valid configuration");
    let reporter = GrpcReporter::start(&config).expect("the reporter starts");
    (Tracer::new(config, reporter.clone()), reporter)
}

fn text(log: &LogData) -> &str {
    match log.body.as_ref().and_then(|body| body.content.as_ref()) {
        Some(Content::Text(text)) => &text.text,
        other => panic!("not a text log: {other:?}"),
    }
}

fn tag<'a>(log: &'a LogData, key: &str) -> Option<&'a str> {
    log.tags
        .as_ref()?
        .data
        .iter()
        .find(|pair| pair.key == key)
        .map(|pair| pair.value.as_str())
}

fn find<'a>(logs: &'a [LogData], message: &str) -> &'a LogData {
    logs.iter()
        .find(|log| text(log) == message)
        .unwrap_or_else(|| panic!("no log {message:?} in {logs:?}"))
}

#[sw_entry(extract = headers, name = "POST:/pay")]
fn pay(headers: &HashMap<String, String>, order: u32) {
    tracing::warn!(order, "payment retried");
    tracing::info!("below the level: not sent");
    log::error!("card declined for order {order}");
}

#[test]
fn log_records_carry_the_trace_context_of_the_current_span() {
    let collector = Collector::start().unwrap();
    let (tracer, reporter) = reporter_to(&collector, log::LevelFilter::Warn);
    // The process's `log` logger: installed once, by this test only.
    SkyWalkingLogger::new(reporter.clone())
        .install()
        .expect("no other test installs a `log` logger");
    let subscriber = tracing_subscriber::registry().with(SkyWalkingLayer::new(reporter.clone()));

    tracing::subscriber::with_default(subscriber, || {
        tracer.in_scope(|| pay(&HashMap::new(), 7));
        tracing::warn!("outside any span");
    });
    assert!(reporter.flush(PATIENCE));

    let segment = &collector.segments()[0];
    let entry = &segment.spans[0];
    let logs = collector.received().logs;

    let retried = find(&logs, "payment retried");
    assert_eq!(retried.service, "payments");
    assert_eq!(retried.service_instance, "payments-1");
    assert_eq!(retried.endpoint, "POST:/pay");
    assert!(retried.timestamp >= entry.start_time && retried.timestamp <= entry.end_time);
    let context = retried.trace_context.as_ref().expect("a trace context");
    assert_eq!(context.trace_id, segment.trace_id);
    assert_eq!(context.trace_segment_id, segment.trace_segment_id);
    assert_eq!(context.span_id, entry.span_id);
    assert_eq!(tag(retried, "level"), Some("WARN"));
    assert_eq!(tag(retried, "order"), Some("7"));
    assert!(tag(retried, "logger").is_some_and(|logger| logger.contains("logging")));

    let declined = find(&logs, "card declined for order 7");
    assert_eq!(tag(declined, "level"), Some("ERROR"));
    let context = declined.trace_context.as_ref().expect("a trace context");
    assert_eq!(context.trace_segment_id, segment.trace_segment_id);

    let outside = find(&logs, "outside any span");
    assert_eq!(outside.trace_context, None);
    assert_eq!(outside.endpoint, "");
    assert_eq!(outside.service, "payments");

    assert!(
        logs.iter()
            .all(|log| text(log) != "below the level: not sent")
    );
    let stats = reporter.transport_stats().logs;
    assert_eq!(stats.produced, stats.sent);
}

#[test]
fn the_level_comes_from_the_configuration() {
    let collector = Collector::start().unwrap();
    let (tracer, reporter) = reporter_to(&collector, log::LevelFilter::Info);
    let subscriber = tracing_subscriber::registry().with(SkyWalkingLayer::new(reporter.clone()));
    tracing::subscriber::with_default(subscriber, || {
        tracer.in_scope(|| {
            let _span = rust2sky::local_span("warm cache").entered();
            tracing::info!("cache warmed");
            tracing::debug!("below info: not sent");
        });
    });
    assert!(reporter.flush(PATIENCE));
    let logs = collector.received().logs;
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert_eq!(text(&logs[0]), "cache warmed");
    assert_eq!(tag(&logs[0], "level"), Some("INFO"));
}
