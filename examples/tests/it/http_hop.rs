//! Three `http-hop` processes in a chain, reporting to one collector: a client calls A's `/hop`,
//! A calls B's `/hop`, B calls C's `/leaf`.

use std::process::Command;

use rust2sky::proto::v3::{RefType, SegmentObject, SpanObject, SpanType};
use rust2sky::testing::Collector;

use crate::process::{DEADLINE, Running};

fn start_hop(collector: &Collector, service: &str, downstream: Option<&str>) -> Running {
    let mut command = Command::new(env!("CARGO_BIN_EXE_http-hop"));
    // Only what the test sets: no SW_AGENT_* of the machine running the tests.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("SW_") {
            command.env_remove(name);
        }
    }
    command
        .env_remove("DOWNSTREAM_URL")
        .env("SW_AGENT_NAME", service)
        .env("SW_AGENT_INSTANCE_NAME", format!("{service}-1"))
        .env("SW_AGENT_COLLECTOR_BACKEND_SERVICES", collector.backend())
        .env("LISTEN", "127.0.0.1:0");
    if let Some(url) = downstream {
        command.env("DOWNSTREAM_URL", url);
    }
    Running::start(service, command)
}

fn get(url: &str) -> (u16, String) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(DEADLINE)
            .build()
            .unwrap();
        let response = client.get(url).send().await.expect("the chain answers");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    })
}

fn segment_of<'a>(segments: &'a [SegmentObject], service: &str) -> &'a SegmentObject {
    let mine: Vec<&SegmentObject> = segments.iter().filter(|s| s.service == service).collect();
    assert_eq!(mine.len(), 1, "one segment from {service}: {segments:#?}");
    mine[0]
}

fn span(segment: &SegmentObject, kind: SpanType) -> &SpanObject {
    let found: Vec<&SpanObject> = segment
        .spans
        .iter()
        .filter(|span| span.span_type() == kind)
        .collect();
    assert_eq!(found.len(), 1, "one {kind:?} span in {segment:#?}");
    found[0]
}

fn tag<'a>(span: &'a SpanObject, key: &str) -> Option<&'a str> {
    span.tags
        .iter()
        .find(|tag| tag.key == key)
        .map(|tag| tag.value.as_str())
}

#[test]
fn one_trace_crosses_three_processes_with_every_reference_field_right() {
    let collector = Collector::start().unwrap();
    let c = start_hop(&collector, "hop-c", None);
    let c_address = c.listening_address();
    let b = start_hop(
        &collector,
        "hop-b",
        Some(&format!("http://{c_address}/leaf")),
    );
    let b_address = b.listening_address();
    let mut a = start_hop(
        &collector,
        "hop-a",
        Some(&format!("http://{b_address}/hop")),
    );
    let a_address = a.listening_address();

    let (status, body) = get(&format!("http://{a_address}/hop"));
    assert_eq!(
        (status, body.as_str()),
        (200, "ok"),
        "C's body comes back through B and A"
    );

    // A flushes on SIGTERM and exits cleanly; B and C report on their own.
    let status = a.signal_and_wait("TERM");
    assert!(status.success(), "hop-a exited with {status}");
    let segments = collector.wait_for_segments(3, DEADLINE);
    assert_eq!(segments.len(), 3, "{segments:#?}");
    let trace_id = &segments[0].trace_id;
    assert!(
        segments.iter().all(|segment| &segment.trace_id == trace_id),
        "one trace: {segments:#?}"
    );

    let (a_seg, b_seg, c_seg) = (
        segment_of(&segments, "hop-a"),
        segment_of(&segments, "hop-b"),
        segment_of(&segments, "hop-c"),
    );
    let a_entry = span(a_seg, SpanType::Entry);
    assert_eq!(a_entry.operation_name, "GET:/hop");
    assert!(a_entry.refs.is_empty(), "the client sent no sw8");
    assert_eq!(a_entry.parent_span_id, -1);
    assert_eq!(tag(a_entry, "http.status_code"), Some("200"));
    assert_eq!(tag(a_entry, "http.method"), Some("GET"));

    // Each hop's entry span refers to the exit span of the hop before it.
    for (caller, callee, callee_address, endpoint) in [
        (a_seg, b_seg, &b_address, "GET:/hop"),
        (b_seg, c_seg, &c_address, "GET:/leaf"),
    ] {
        let exit = span(caller, SpanType::Exit);
        let caller_entry = span(caller, SpanType::Entry);
        assert_eq!(
            exit.operation_name, endpoint,
            "{{METHOD}}:{{path}} of the URL called"
        );
        assert_eq!(
            &exit.peer, callee_address,
            "the peer is the host:port called"
        );
        assert_eq!(exit.parent_span_id, caller_entry.span_id);
        assert_eq!(tag(exit, "http.status_code"), Some("200"));
        assert_eq!(tag(exit, "http.method"), Some("GET"));
        assert!(!exit.is_error);

        let entry = span(callee, SpanType::Entry);
        assert_eq!(entry.operation_name, endpoint);
        assert_eq!(entry.parent_span_id, -1);
        assert_eq!(tag(entry, "http.status_code"), Some("200"));
        assert_eq!(entry.refs.len(), 1, "{entry:#?}");
        let reference = &entry.refs[0];
        assert_eq!(reference.ref_type(), RefType::CrossProcess);
        assert_eq!(&reference.trace_id, trace_id);
        assert_eq!(reference.parent_trace_segment_id, caller.trace_segment_id);
        assert_eq!(reference.parent_span_id, exit.span_id);
        assert_eq!(reference.parent_service, caller.service);
        assert_eq!(
            reference.parent_service_instance,
            format!("{}-1", caller.service)
        );
        assert_eq!(reference.parent_service_instance, caller.service_instance);
        assert_eq!(reference.parent_endpoint, caller_entry.operation_name);
        assert_eq!(
            &reference.network_address_used_at_peer, callee_address,
            "networkAddressUsedAtPeer is the address the caller used"
        );
    }
    drop((b, c));
}
