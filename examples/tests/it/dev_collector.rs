//! `dev-collector` as a process: an agent reports to it, and it prints the trace.

use std::process::Command;

use rust2sky::config::Config;
use rust2sky::reporter::GrpcReporter;
use rust2sky::{Tracer, exit_span};

use crate::process::{DEADLINE, Running};
use rust2sky::propagation::NoHeaders;

#[test]
fn it_prints_each_trace_it_receives_as_a_waterfall_and_stops_on_ctrl_c() {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dev-collector"));
    command.args(["--listen", "127.0.0.1:0"]);
    let mut collector = Running::start("dev-collector", command);
    let address = collector.listening_address();

    let config = Config::builder()
        .service_name("shop")
        .backends([address.clone()])
        .build_with_env(|_| None)
        .unwrap();
    let tracer = Tracer::new(config.clone(), GrpcReporter::start(&config).unwrap());
    let trace_id = tracer.in_scope(|| {
        let mut request = rust2sky::entry_span("GET:/cart", &NoHeaders).entered();
        request.tag("http.method", "GET");
        let _call = exit_span("GET:/stock", "stock:8080", &mut NoHeaders).entered();
        rust2sky::trace_id().unwrap()
    });
    assert!(tracer.flush(DEADLINE), "the agent delivered the segment");

    let header = collector.line_containing(&format!("trace {trace_id}"));
    assert!(
        header.contains(&format!("trace {trace_id}  1 segment, 2 spans, ")),
        "{header}"
    );
    let lines = collector.lines_until("Exit GET:/stock");
    let entry = &lines[0];
    assert!(
        entry.contains("ms  shop Entry GET:/cart  http.method=GET"),
        "{lines:#?}"
    );
    assert!(
        lines[1].contains("ms    shop Exit GET:/stock -> stock:8080"),
        "the exit span is nested under the entry span: {lines:#?}"
    );

    let status = collector.signal_and_wait("INT");
    assert!(status.success(), "dev-collector exited with {status}");
    collector.line_containing("stopped after 1 segments");
}
