//! What the database and framework tests look at in the spans that arrived.

use std::time::Duration;

use std::future::Future;

use rust2sky::Tracer;
use rust2sky::config::Config;
use rust2sky::future::FutureExt as _;
use rust2sky::proto::v3::{SegmentObject, SpanObject, SpanType};
use rust2sky::reporter::MemoryReporter;

pub(crate) const DEADLINE: Duration = Duration::from_secs(10);

/// A tracer of its own for one test, with whatever settings `env` gives.
pub(crate) fn tracer_with(service: &str, env: &[(&str, &str)]) -> (Tracer, MemoryReporter) {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect();
    let config = Config::builder()
        .service_name(service)
        .instance_name(format!("{service}-1"))
        .build_with_env(|key| {
            env.iter()
                .find(|(name, _)| name == key)
                .map(|(_, value)| value.clone())
        })
        .unwrap();
    let reporter = MemoryReporter::new();
    (Tracer::new(config, reporter.clone()), reporter)
}

pub(crate) fn tracer(service: &str) -> (Tracer, MemoryReporter) {
    tracer_with(service, &[])
}

/// The one segment that arrived.
pub(crate) fn one_segment(reporter: &MemoryReporter) -> SegmentObject {
    let segments = reporter.wait_for(1, DEADLINE);
    assert_eq!(segments.len(), 1, "{segments:#?}");
    segments.into_iter().next().unwrap()
}

/// The exit spans of `segment`, in the order they started.
pub(crate) fn exits(segment: &SegmentObject) -> Vec<&SpanObject> {
    let mut exits: Vec<&SpanObject> = segment
        .spans
        .iter()
        .filter(|span| span.span_type() == SpanType::Exit)
        .collect();
    exits.sort_by_key(|span| span.span_id);
    exits
}

/// The value of tag `key`, if the span has it.
pub(crate) fn tag<'a>(span: &'a SpanObject, key: &str) -> Option<&'a str> {
    span.tags
        .iter()
        .find(|tag| tag.key == key)
        .map(|tag| tag.value.as_str())
}

/// The values of the span's logs, flattened: `event`, `error.kind`, `message`...
pub(crate) fn log_values(span: &SpanObject) -> Vec<(&str, &str)> {
    span.logs
        .iter()
        .flat_map(|log| log.data.iter())
        .map(|pair| (pair.key.as_str(), pair.value.as_str()))
        .collect()
}

/// Everything the span carries as text, to check that a value appears nowhere.
pub(crate) fn all_text(span: &SpanObject) -> String {
    format!("{span:?}")
}

/// Runs a future inside a local span of `tracer`'s, the way a request handler would.
pub(crate) trait InRequest: Future + Sized {
    fn in_request(self, name: &'static str, tracer: &Tracer) -> impl Future<Output = Self::Output> {
        // The span starts inside `with_tracer`, so that `tracer` records it.
        async move { self.in_span(rust2sky::local_span(name)).await }.with_tracer(tracer)
    }
}

impl<F: Future> InRequest for F {}
