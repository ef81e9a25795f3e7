//! Requests through the global tracer that `rust2sky::init` installs, in a process of their own:
//! the other tests here expect no global tracer.

use std::collections::HashMap;
use std::process::Command;

use rust2sky::config::Config;
use rust2sky::propagation::{NoHeaders, Sw8Header};
use rust2sky::proto::v3::RefType;
use rust2sky::reporter::MemoryReporter;

/// Set in the child process that runs the test's body.
const CHILD: &str = "RUST2SKY_GLOBAL_TRACER_CHILD";

#[test]
fn requests_in_turn_on_one_thread_each_keep_a_context_of_their_own() {
    if std::env::var_os(CHILD).is_none() {
        let name = "global::requests_in_turn_on_one_thread_each_keep_a_context_of_their_own";
        let status = Command::new(std::env::current_exe().expect("the test binary"))
            .args(["--exact", name, "--nocapture", "--test-threads", "1"])
            .env(CHILD, "1")
            .status()
            .expect("the test binary runs");
        assert!(status.success(), "the child process failed: {status}");
        return;
    }

    let reporter = MemoryReporter::new();
    let _guard = rust2sky::init(Config::default(), reporter.clone()).expect("the one init");
    for n in ["0", "1", "2"] {
        let mut request = rust2sky::entry_span(format!("GET:/{n}"), &NoHeaders).entered();
        request.tag("n", n);
        rust2sky::local_span(format!("work {n}")).end();
    }
    // A request whose context outlives it, and one that starts meanwhile.
    let kept = {
        let _request = rust2sky::entry_span("GET:/kept", &NoHeaders).entered();
        rust2sky::capture()
    };
    drop(rust2sky::entry_span("GET:/meanwhile", &NoHeaders).entered());
    std::thread::spawn(move || kept.continue_in(|| rust2sky::local_span("later").end()))
        .join()
        .expect("the thread ends");

    // Requests whose callers did not sample: nothing is recorded, and each call carries its own
    // request's context on.
    let outgoing: Vec<Sw8Header> = ["a", "b", "c"]
        .into_iter()
        .map(|n| {
            let caller = Sw8Header {
                sampled: false,
                trace_id: format!("trace.{n}"),
                parent_segment_id: format!("caller.{n}"),
                parent_span_id: 1,
                parent_service: "gateway".to_owned(),
                parent_service_instance: "gateway-1".to_owned(),
                parent_endpoint: "GET:/".to_owned(),
                target_address: "payments:80".to_owned(),
            };
            let incoming = HashMap::from([("sw8".to_owned(), caller.encode())]);
            let _request = rust2sky::entry_span(format!("GET:/unsampled/{n}"), &incoming).entered();
            let mut sw8 = None;
            drop(rust2sky::exit_span(
                "POST:/charge",
                "bank:443",
                &mut |name, value| {
                    if name == "sw8" {
                        sw8 = Some(value);
                    }
                },
            ));
            Sw8Header::decode(&sw8.expect("an sw8 for the call")).expect("a valid sw8")
        })
        .collect();
    for (sw8, n) in outgoing.iter().zip(["a", "b", "c"]) {
        assert!(!sw8.sampled);
        assert_eq!(sw8.trace_id, format!("trace.{n}"));
        assert_eq!(sw8.parent_endpoint, format!("GET:/unsampled/{n}"));
        assert_eq!(sw8.target_address, "bank:443");
    }
    assert_ne!(outgoing[0].parent_segment_id, outgoing[1].parent_segment_id);
    assert_ne!(outgoing[1].parent_segment_id, outgoing[2].parent_segment_id);

    let segments = reporter.segments();
    let endpoints: Vec<&str> = segments
        .iter()
        .map(|segment| {
            segment
                .spans
                .last()
                .expect("a span")
                .operation_name
                .as_str()
        })
        .collect();
    assert_eq!(
        endpoints,
        [
            "GET:/0",
            "GET:/1",
            "GET:/2",
            "GET:/kept",
            "GET:/meanwhile",
            "later"
        ]
    );
    for (segment, n) in segments.iter().zip(["0", "1", "2"]) {
        let [work, request] = &segment.spans[..] else {
            panic!("two spans in {segment:?}");
        };
        assert_eq!(work.operation_name, format!("work {n}"));
        assert_eq!(work.parent_span_id, 0);
        assert_eq!(request.tags.len(), 1);
        assert_eq!(
            (request.tags[0].key.as_str(), request.tags[0].value.as_str()),
            ("n", n)
        );
        assert!(request.refs.is_empty());
    }
    let mut segment_ids: Vec<&str> = segments
        .iter()
        .map(|segment| segment.trace_segment_id.as_str())
        .collect();
    segment_ids.sort_unstable();
    segment_ids.dedup();
    assert_eq!(
        segment_ids.len(),
        segments.len(),
        "every segment has an id of its own"
    );
    let later = &segments[5].spans[0];
    assert_eq!(later.refs[0].ref_type, RefType::CrossThread as i32);
    assert_eq!(
        later.refs[0].parent_trace_segment_id,
        segments[3].trace_segment_id
    );
    assert_eq!(segments[5].trace_id, segments[3].trace_id);
    assert_ne!(segments[4].trace_id, segments[3].trace_id);
}
