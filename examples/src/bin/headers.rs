//! Decodes an `sw8` header, prints its fields, and encodes it again.
//!
//! ```text
//! cargo run -p rust2sky-examples --bin headers                # the protocol's worked example
//! cargo run -p rust2sky-examples --bin headers -- '<sw8 value>'
//! ```

use std::process::ExitCode;

use rust2sky::propagation::{Sw8Header, Sw8x};

/// The worked example of the SkyWalking protocol notes: `order-service` calls `inventory:8080`.
const EXAMPLE: &str = "1-M2YyYzlhMWJlNGQ1NGMwZjlhN2U2YjVkNGMzYjJhMTkuMS4xNzM1Njg5NjAwMDEyMDAwMA==-M2YyYzlhMWJlNGQ1NGMwZjlhN2U2YjVkNGMzYjJhMTkuMS4xNzM1Njg5NjAwMDEyMDAwMQ==-2-b3JkZXItc2VydmljZQ==-OGE3YjZjNWQ0ZTNmNDBhMWIyYzNkNGU1ZjZhN2I4YzlAMTAuMC4wLjEy-R0VUOi9hcGkvb3JkZXJzL3tpZH0=-aW52ZW50b3J5OjgwODA=";

fn main() -> ExitCode {
    let value = std::env::args()
        .nth(1)
        .unwrap_or_else(|| EXAMPLE.to_owned());
    println!("sw8: {value}\n");
    let header = match Sw8Header::decode(&value) {
        Ok(header) => header,
        Err(error) => {
            eprintln!("not a valid sw8 header: {error}");
            return ExitCode::FAILURE;
        }
    };

    let fields = [
        ("1 sample flag", u8::from(header.sampled).to_string()),
        ("2 trace id", header.trace_id.clone()),
        ("3 parent segment id", header.parent_segment_id.clone()),
        ("4 parent span id", header.parent_span_id.to_string()),
        ("5 parent service", header.parent_service.clone()),
        ("6 parent instance", header.parent_service_instance.clone()),
        ("7 parent endpoint", header.parent_endpoint.clone()),
        ("8 target address", header.target_address.clone()),
    ];
    for (name, value) in fields {
        println!("  {name:<22} {value}");
    }

    let again = header.encode();
    let same = again == value.trim();
    println!("\nencoded again: {again}");
    println!(
        "identical to the input: {}",
        if same { "yes" } else { "no" }
    );

    let extension = Sw8x {
        skip_analysis: false,
        send_time_ms: Some(1_735_689_600_123),
    };
    println!("\nan sw8-x header for a message sent at 1735689600123 ms: {extension}");
    if same {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
