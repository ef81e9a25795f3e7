//! The context follows the code: across `.await`, into spawned tasks and threads; and misuse
//! never hurts the host.

use std::collections::HashMap;
use std::time::Duration;

use rust2sky::FutureExt as _;
use rust2sky::proto::v3::{RefType, SegmentObject};
use rust2sky::reporter::{MemoryReporter, Reporter};

use crate::spans::{spans, tracer, tree};
use rust2sky::propagation::NoHeaders;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap()
}

/// The runtime of a `#[tokio::main(flavor = "current_thread")]` service.
fn current_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

fn by_first_operation<'a>(segments: &'a [SegmentObject], name: &str) -> &'a SegmentObject {
    segments
        .iter()
        .find(|segment| spans(segment)[0].operation_name == name)
        .unwrap_or_else(|| panic!("no segment starts with {name}: {segments:#?}"))
}

#[test]
fn the_span_follows_a_future_across_awaits_and_worker_threads() {
    let (service, reporter) = tracer(|config| config);
    let request = service.in_scope(|| {
        async {
            for _ in 0..10 {
                tokio::task::yield_now().await;
            }
            let _child = rust2sky::local_span("after awaits").entered();
        }
        .in_span(rust2sky::local_span("request"))
    });
    runtime().block_on(request);
    let segment = &reporter.segments()[0];
    let spans = spans(segment);
    assert_eq!(spans[1].operation_name, "after awaits");
    assert_eq!(spans[1].parent_span_id, 0);
}

#[test]
fn spawned_tasks_and_threads_continue_the_trace_in_new_segments() {
    let (service, reporter) = tracer(|config| config.service_name("jobs"));
    let request = service.in_scope(|| {
        async {
            let _step = rust2sky::local_span("before spawn").entered().exit();
            let inner = rust2sky::local_span("dispatch");
            async {
                rust2sky::spawn(async {
                    tokio::task::yield_now().await;
                    drop(rust2sky::local_span("in task"));
                })
                .await
                .unwrap();
                let snapshot = rust2sky::capture();
                std::thread::spawn(move || {
                    snapshot.continue_in(|| drop(rust2sky::local_span("in thread")))
                })
                .join()
                .unwrap();
            }
            .in_span(inner)
            .await;
        }
        .in_span(rust2sky::entry_span("POST:/jobs", &NoHeaders))
    });
    runtime().block_on(request);

    let segments = reporter.wait_for(3, Duration::from_secs(5));
    assert_eq!(segments.len(), 3);
    let parent = by_first_operation(&segments, "POST:/jobs");
    let dispatch = spans(parent)
        .into_iter()
        .find(|span| span.operation_name == "dispatch")
        .unwrap()
        .span_id;
    for child in ["in task", "in thread"] {
        let segment = by_first_operation(&segments, child);
        assert_eq!(segment.trace_id, parent.trace_id);
        assert_ne!(segment.trace_segment_id, parent.trace_segment_id);
        let first = spans(segment)[0];
        assert_eq!(first.parent_span_id, -1);
        let reference = &first.refs[0];
        assert_eq!(reference.ref_type(), RefType::CrossThread);
        assert_eq!(reference.trace_id, parent.trace_id);
        assert_eq!(reference.parent_trace_segment_id, parent.trace_segment_id);
        assert_eq!(reference.parent_span_id, dispatch, "{child}");
        assert_eq!(reference.parent_service, "jobs");
        assert_eq!(reference.parent_service_instance, "instance-1");
        assert_eq!(reference.parent_endpoint, "POST:/jobs");
        assert_eq!(reference.network_address_used_at_peer, "");
    }
}

#[test]
fn an_async_span_ends_on_another_task_and_its_segment_waits_for_it() {
    let (service, reporter) = tracer(|config| config);
    runtime().block_on(
        async {
            let (send, receive) = tokio::sync::oneshot::channel();
            {
                let _request = rust2sky::local_span("request").entered();
                let pending = rust2sky::local_span("async operation");
                send.send(pending).unwrap();
            }
            assert!(
                reporter.segments().is_empty(),
                "still waiting for the async span"
            );
            tokio::spawn(async move {
                let mut pending = receive.await.unwrap();
                pending.tag("finished.by", "another task");
            })
            .await
            .unwrap();
        }
        .with_tracer(&service),
    );
    let segment = &reporter.segments()[0];
    let spans = spans(segment);
    assert_eq!(spans.len(), 2);
    assert_eq!(spans[1].parent_span_id, 0);
    assert_eq!(spans[1].tags[0].value, "another task");
}

#[test]
fn a_cancelled_future_ends_its_span_with_a_log_and_a_panic_marks_it() {
    let (service, reporter) = tracer(|config| config);
    let runtime = runtime();
    runtime.block_on(
        async {
            let slow = std::future::pending::<()>().in_span(rust2sky::local_span("slow"));
            let _ = tokio::time::timeout(Duration::from_millis(10), slow).await;
        }
        .with_tracer(&service),
    );
    let segment = reporter.take().remove(0);
    assert_eq!(segment.spans[0].logs[0].data[0].value, "cancelled");
    assert!(!segment.spans[0].is_error);

    let handler = service
        .in_scope(|| async { panic!("handler bug") }.in_span(rust2sky::local_span("panics")));
    let failed = runtime.block_on(runtime.spawn(handler));
    assert!(failed.is_err());
    let segment = reporter.take().remove(0);
    assert!(segment.spans[0].is_error);
    assert_eq!(segment.spans[0].logs[0].data[0].value, "error");
}

#[test]
fn two_thousand_concurrent_requests_never_mix_their_spans() {
    const REQUESTS: usize = 2_000;
    let (service, reporter) = tracer(|config| config);
    let runtime = runtime();
    runtime.block_on(async {
        let handles: Vec<_> = (0..REQUESTS)
            .map(|request| {
                let mut rng = (request as u64).wrapping_mul(6_364_136_223_846_793_005) + 1;
                let mut yields = move || {
                    rng = rng
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    (rng >> 60) as usize
                };
                let (first, second, third) = (yields(), yields(), yields());
                // Each request's entry span starts on first poll, on whichever worker runs it.
                tokio::spawn(
                    async move {
                        let entry = rust2sky::entry_span(format!("{request}/GET"), &NoHeaders);
                        async move {
                            for _ in 0..first {
                                tokio::task::yield_now().await;
                            }
                            async move {
                                for _ in 0..second {
                                    tokio::task::yield_now().await;
                                }
                                drop(rust2sky::local_span(format!("{request}/leaf")));
                            }
                            .in_span(rust2sky::local_span(format!("{request}/load")))
                            .await;
                            for _ in 0..third {
                                tokio::task::yield_now().await;
                            }
                            drop(rust2sky::local_span(format!("{request}/render")));
                        }
                        .in_span(entry)
                        .await
                    }
                    .with_tracer(&service),
                )
            })
            .collect();
        for handle in handles {
            handle.await.unwrap();
        }
    });

    let segments = reporter.segments();
    assert_eq!(segments.len(), REQUESTS);
    let mut seen = std::collections::HashSet::new();
    for segment in &segments {
        let spans = spans(segment);
        let request = spans[0].operation_name.split('/').next().unwrap();
        assert!(seen.insert(request.to_owned()), "request {request} twice");
        let names = tree(segment);
        assert_eq!(
            names,
            [
                (format!("{request}/GET").as_str(), -1),
                (format!("{request}/load").as_str(), 0),
                (format!("{request}/leaf").as_str(), 1),
                (format!("{request}/render").as_str(), 0),
            ],
        );
    }
}

#[test]
fn misuse_never_panics_and_has_a_defined_outcome() {
    let (service, reporter) = tracer(|config| config);

    // Guards dropped out of order: both spans end, the segment is reported once, and no context
    // is left behind.
    service.in_scope(|| {
        let outer = rust2sky::local_span("outer").entered();
        let inner = rust2sky::local_span("inner").entered();
        drop(outer);
        drop(inner);
        assert_eq!(rust2sky::active_ids(), None);
    });
    let segment = reporter.take().remove(0);
    assert_eq!(segment.spans.len(), 2);

    // A parent left before its child: the child stays current, and its children are its own.
    service.in_scope(|| {
        let parent = rust2sky::local_span("parent").entered();
        let child = rust2sky::local_span("child").entered();
        drop(parent.exit());
        drop(rust2sky::local_span("grandchild"));
        assert_eq!(rust2sky::active_ids().map(|ids| ids.span_id), Some(1));
        drop(child);
    });
    let segment = reporter.take().remove(0);
    assert_eq!(
        tree(&segment),
        [("parent", -1), ("child", 0), ("grandchild", 1)]
    );

    // A parent dropped before its child: the segment waits for the child.
    service.in_scope(|| {
        let parent = rust2sky::local_span("parent");
        let child = parent.in_scope(|| rust2sky::local_span("child"));
        drop(parent);
        assert!(reporter.segments().is_empty());
        drop(child);
    });
    let segment = reporter.take().remove(0);
    assert_eq!(spans(&segment)[1].parent_span_id, 0);

    // An exit span with no entry span starts its own trace, and still injects.
    let mut headers = HashMap::new();
    service.in_scope(|| drop(rust2sky::exit_span("GET:/", "peer:1", &mut headers)));
    let segment = reporter.take().remove(0);
    assert_eq!(spans(&segment)[0].parent_span_id, -1);
    assert!(headers.contains_key("sw8"));

    // An exit span without a peer records the span but sends no header that receivers would
    // reject.
    let mut headers = HashMap::new();
    service.in_scope(|| drop(rust2sky::exit_span("GET:/", "", &mut headers)));
    assert!(headers.is_empty());
    assert_eq!(reporter.take().len(), 1);

    // Without any tracer, spans are noops and nothing is injected.
    let mut headers = HashMap::new();
    let mut span = rust2sky::exit_span("GET:/", "peer:1", &mut headers);
    span.tag("a", "b").error("kind", &"message");
    drop(span);
    assert!(headers.is_empty());

    // A reporter that refuses segments: dropped and counted, the request goes on.
    let full = MemoryReporter::with_capacity(1);
    let tiny = rust2sky::Tracer::new(rust2sky::config::Config::default(), full.clone());
    let before = rust2sky::diagnostics::counters().segments_dropped;
    tiny.in_scope(|| {
        drop(rust2sky::local_span("kept"));
        drop(rust2sky::local_span("dropped"));
    });
    assert_eq!(full.segments().len(), 1);
    assert!(rust2sky::diagnostics::counters().segments_dropped > before);
    assert!(full.flush(Duration::from_millis(1)));
}

#[test]
fn log_lines_carry_the_current_ids() {
    let (service, _reporter) = tracer(|config| config.service_name("billing"));
    service.in_scope(|| {
        assert_eq!(
            rust2sky::log_context().to_string(),
            "[billing,instance-1,N/A,N/A,-1]"
        );
        let _span = rust2sky::local_span("invoice").entered();
        let ids = rust2sky::active_ids().unwrap();
        assert_eq!(rust2sky::trace_id(), Some(ids.trace_id.clone()));
        assert_eq!(
            rust2sky::log_context().to_string(),
            format!("[billing,instance-1,{},{},0]", ids.trace_id, ids.segment_id)
        );
    });
}

/// A span held across `.await` compiles wherever the future need not be `Send`; it must stay
/// with its own task, not become the parent of whatever else the thread polls meanwhile.
#[test]
#[allow(clippy::await_holding_invalid_type)] // the misuse under test
fn a_span_held_across_an_await_stays_with_its_task_on_a_local_set() {
    let (service, reporter) = tracer(|config| config);
    let runtime = current_thread_runtime();
    let tasks = tokio::task::LocalSet::new();
    service.in_scope(|| {
        tasks.block_on(&runtime, async {
            let holder = tokio::task::spawn_local(
                async {
                    let _held = rust2sky::local_span("held").entered();
                    tokio::task::yield_now().await;
                    tokio::task::yield_now().await;
                    drop(rust2sky::local_span("after the awaits"));
                }
                .in_span(rust2sky::local_span("holder")),
            );
            let bystander = tokio::task::spawn_local(
                async {
                    tokio::task::yield_now().await;
                    drop(rust2sky::local_span("bystander"));
                }
                .in_current_context(),
            );
            holder.await.unwrap();
            bystander.await.unwrap();
        });
    });

    let segments = reporter.segments();
    let holder = by_first_operation(&segments, "holder");
    assert_eq!(
        tree(holder),
        [("holder", -1), ("held", 0), ("after the awaits", 1)]
    );
    let bystander = by_first_operation(&segments, "bystander");
    assert_eq!(spans(bystander).len(), 1);
    assert_ne!(bystander.trace_id, holder.trace_id);
    assert_eq!(segments.len(), 2);
}

/// The same on a current-thread runtime with tasks that carry no context of their own: once a
/// poll of an instrumented future is over, the thread has no span current.
#[test]
#[allow(clippy::await_holding_invalid_type)] // the misuse under test
fn an_instrumented_future_leaves_the_thread_as_it_found_it() {
    let (service, reporter) = tracer(|config| config);
    let runtime = current_thread_runtime();
    service.in_scope(|| {
        runtime.block_on(async {
            let mut job = std::pin::pin!(
                async {
                    let _held = rust2sky::local_span("held").entered();
                    tokio::task::yield_now().await;
                }
                .in_span(rust2sky::local_span("job"))
            );
            // One poll: the job is now waiting inside `held`.
            assert!(poll_once(job.as_mut()).await.is_pending());
            assert_eq!(rust2sky::active_ids(), None);
            drop(rust2sky::local_span("between polls"));
            job.await;
        });
    });
    let segments = reporter.segments();
    assert_eq!(segments.len(), 2);
    assert_eq!(
        spans(by_first_operation(&segments, "between polls")).len(),
        1
    );
    assert_eq!(spans(by_first_operation(&segments, "job")).len(), 2);
}

/// A span held across `.await` belongs to the trace it started in, even when the future's next
/// poll happens inside a span of another trace.
#[test]
#[allow(clippy::await_holding_invalid_type)] // the misuse under test
fn a_span_held_across_an_await_stays_in_its_trace_when_polled_inside_another() {
    let (service, reporter) = tracer(|config| config);
    let runtime = current_thread_runtime();
    service.in_scope(|| {
        runtime.block_on(async {
            let mut job = std::pin::pin!(
                async {
                    let _held = rust2sky::local_span("held").entered();
                    tokio::task::yield_now().await;
                    drop(rust2sky::local_span("after the await"));
                }
                .in_span(rust2sky::Span::noop())
            );
            {
                let _first = rust2sky::local_span("first poll").entered();
                assert!(poll_once(job.as_mut()).await.is_pending());
            }
            let _second = rust2sky::local_span("second poll").entered();
            job.await;
        });
    });
    let segments = reporter.segments();
    assert_eq!(
        tree(by_first_operation(&segments, "first poll")),
        [("first poll", -1), ("held", 0), ("after the await", 1)]
    );
    assert_eq!(spans(by_first_operation(&segments, "second poll")).len(), 1);
    assert_eq!(segments.len(), 2);
}

/// Polls `future` once, as an executor would.
async fn poll_once<F: std::future::Future + Unpin>(mut future: F) -> std::task::Poll<()> {
    std::future::poll_fn(|cx| {
        std::task::Poll::Ready(std::pin::Pin::new(&mut future).poll(cx).map(drop))
    })
    .await
}

#[test]
fn contexts_nested_past_the_depth_limit_are_refused_and_counted() {
    fn nest(tracer: &rust2sky::Tracer, levels: usize) {
        if levels == 0 {
            drop(rust2sky::local_span("deepest"));
        } else {
            tracer.in_scope(|| nest(tracer, levels - 1));
        }
    }
    let (service, reporter) = tracer(|config| config);
    let before = rust2sky::diagnostics::counters();
    // The limit is 1024 levels a thread; these 76 are refused, and the span is still recorded.
    nest(&service, 1100);
    let after = rust2sky::diagnostics::counters();
    assert!(after.context_overflow >= before.context_overflow + 76);
    let segments = reporter.segments();
    assert_eq!(segments.len(), 1);
    assert_eq!(segments[0].spans[0].operation_name, "deepest");
    assert_eq!(rust2sky::active_ids(), None);
}

/// A reporter that traces its own work: the spans it makes while reporting are reported too,
/// without recursing forever or deadlocking on the segment being reported.
#[test]
fn a_reporter_that_calls_back_into_the_agent_does_not_recurse_or_deadlock() {
    #[derive(Debug, Clone)]
    struct TracingReporter {
        inner: MemoryReporter,
        calls: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    }
    impl Reporter for TracingReporter {
        fn report(&self, segment: rust2sky::reporter::FinishedSegment) {
            self.calls
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            // Every reporter call reads the context and makes a span of its own.
            let _ = rust2sky::log_context().to_string();
            let mut span = rust2sky::local_span("report");
            span.tag("spans", segment.span_count().to_string());
            drop(span);
            self.inner.report(segment);
        }
    }
    let reporter = TracingReporter {
        inner: MemoryReporter::new(),
        calls: Default::default(),
    };
    let service = rust2sky::Tracer::new(rust2sky::config::Config::default(), reporter.clone());
    service.in_scope(|| {
        let _request = rust2sky::local_span("request").entered();
        drop(rust2sky::local_span("child"));
    });
    let segments = reporter.inner.segments();
    assert_eq!(segments[0].spans.len(), 2);
    let calls = reporter.calls.load(std::sync::atomic::Ordering::Relaxed);
    assert!(calls < 10, "{calls} reporter calls for one request");
}

/// A `forward_to` logger and a transport that call back into the agent while a record is
/// logged: no deadlock, and the context they read is the one current where the record was made.
#[test]
fn a_logger_and_a_transport_that_call_back_into_the_agent_see_the_current_context() {
    use rust2sky::logging::SkyWalkingLogger;
    use rust2sky::proto::v3::{LogData, MeterData};
    use rust2sky::reporter::{FinishedSegment, Transport};
    use std::sync::{Arc, Mutex};

    #[derive(Debug, Default)]
    struct Seen(Mutex<Vec<String>>);

    #[derive(Debug, Default, Clone)]
    struct CallingBack(Arc<Seen>);
    impl Reporter for CallingBack {
        fn report(&self, _segment: FinishedSegment) {}
    }
    impl Transport for CallingBack {
        fn report_log(&self, _log: LogData) {
            let ids = rust2sky::active_ids().map(|ids| ids.endpoint);
            self.0.0.lock().unwrap().push(format!("transport {ids:?}"));
        }
        fn report_meters(&self, _meters: Vec<MeterData>) {}
    }
    impl log::Log for CallingBack {
        fn enabled(&self, _: &log::Metadata<'_>) -> bool {
            true
        }
        fn log(&self, record: &log::Record<'_>) {
            let _nested = rust2sky::local_span("inside the logger").entered();
            let line = format!("logger {} {}", rust2sky::log_context(), record.args());
            self.0.0.lock().unwrap().push(line);
        }
        fn flush(&self) {}
    }

    let seen = CallingBack::default();
    let logger = SkyWalkingLogger::new(seen.clone()).forward_to(seen.clone());
    let (service, reporter) = tracer(|config| config.service_name("shop"));
    service.in_scope(|| {
        let _request = rust2sky::local_span("checkout").entered();
        log::Log::log(
            &logger,
            &log::Record::builder()
                .level(log::Level::Warn)
                .target("shop")
                .args(format_args!("stock is low"))
                .build(),
        );
    });
    let lines = seen.0.0.lock().unwrap().clone();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0], "transport Some(\"checkout\")");
    assert!(
        lines[1].starts_with("logger [shop,instance-1,"),
        "{lines:?}"
    );
    assert!(lines[1].ends_with(",1] stock is low"), "{lines:?}");
    // The logger's own span is a child of the request, in its segment.
    let segment = reporter.take().remove(0);
    assert_eq!(segment.spans.len(), 2);
}
