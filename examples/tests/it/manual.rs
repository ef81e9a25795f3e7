//! `manual`: go2sky's quickstart with the manual API prints the trace id and the segment.

use std::process::Command;

#[test]
fn manual_prints_the_trace_id_and_its_two_span_segment() {
    let output = Command::new(env!("CARGO_BIN_EXE_manual"))
        .env_remove("SW_AGENT_NAME")
        .output()
        .expect("manual runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let trace_id = stdout
        .lines()
        .find_map(|line| line.strip_prefix("trace id: "))
        .unwrap_or_else(|| panic!("no trace id in {stdout}"));
    assert_ne!(trace_id, "N/A");
    let segment = stdout
        .lines()
        .find(|line| line.contains(&format!("trace={trace_id} ")))
        .unwrap_or_else(|| panic!("no segment of trace {trace_id} in {stdout}"));
    assert!(segment.contains("service=example"), "{segment}");
    assert!(
        segment.contains("\"main\"") && segment.contains("\"sub\""),
        "{segment}"
    );
}
