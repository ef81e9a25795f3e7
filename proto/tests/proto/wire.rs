//! Wire-format checks: every expected byte below was worked out by hand from the protobuf
//! encoding rules (tag byte = field_number << 3 | wire_type; wire type 0 = varint,
//! 1 = 64-bit, 2 = length-delimited), so a wrong field number or type cannot pass.

use std::collections::HashMap;

use prost::Message;
use rust2sky_proto::v3::{
    Command, Commands, ConfigurationSyncRequest, Cpu, DetectPoint, Event, GoProfileData, Id,
    InstancePingPkg, InstanceProperties, Instant, JsonLog, KeyIntValuePair, KeyStringValuePair,
    Label, Log, LogData, LogDataBody, LogTags, MeterBucketValue, MeterData, MeterDataCollection,
    MeterHistogram, MeterSingleValue, ProfileTaskCommandQuery, ProfileTaskFinishReport, RefType,
    SegmentCollection, SegmentObject, SegmentReference, Source, SpanAttachedEvent, SpanLayer,
    SpanObject, SpanType, TextLog, ThreadSnapshot, ThreadStack, TraceContext, Type, YamlLog,
    log_data_body, meter_data, span_attached_event,
};

/// The committed generated code, for checking gRPC paths.
const GENERATED: &str = include_str!("../../src/generated/skywalking.v3.rs");

fn kv(key: &str, value: &str) -> KeyStringValuePair {
    KeyStringValuePair {
        key: key.to_owned(),
        value: value.to_owned(),
    }
}

/// Encodes `msg`, compares it with `expected`, and checks that it decodes back unchanged.
fn assert_wire<M: Message + Default + PartialEq + std::fmt::Debug>(msg: &M, expected: &[u8]) {
    let bytes = msg.encode_to_vec();
    assert_eq!(bytes, expected, "encoding of {msg:?}");
    assert_eq!(&M::decode(bytes.as_slice()).expect("decode"), msg);
}

fn full_segment() -> SegmentObject {
    SegmentObject {
        trace_id: "t".to_owned(),
        trace_segment_id: "s".to_owned(),
        spans: vec![SpanObject {
            span_id: 1,
            parent_span_id: -1,
            start_time: 1_735_689_600_000,
            end_time: 1_735_689_600_042,
            refs: vec![SegmentReference {
                ref_type: RefType::CrossThread as i32,
                trace_id: "t".to_owned(),
                parent_trace_segment_id: "ps".to_owned(),
                parent_span_id: 2,
                parent_service: "a".to_owned(),
                parent_service_instance: "b".to_owned(),
                parent_endpoint: "c".to_owned(),
                network_address_used_at_peer: "d".to_owned(),
            }],
            operation_name: "op".to_owned(),
            peer: "p:1".to_owned(),
            span_type: SpanType::Exit as i32,
            span_layer: SpanLayer::Http as i32,
            component_id: 11000,
            is_error: true,
            tags: vec![kv("k", "v")],
            logs: vec![Log {
                time: 5,
                data: vec![kv("e", "r")],
            }],
            skip_analysis: true,
        }],
        service: "svc".to_owned(),
        service_instance: "inst".to_owned(),
        is_size_limited: true,
    }
}

#[rustfmt::skip]
const FULL_SEGMENT_BYTES: &[u8] = &[
    0x0A, 0x01, b't',                       // 1 traceId
    0x12, 0x01, b's',                       // 2 traceSegmentId
    0x1A, 0x5C,                             // 3 spans, 92 bytes:
      0x08, 0x01,                           //   1 spanId = 1
      0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,   //   2 parentSpanId = -1 (ten-byte varint)
            0xFF, 0xFF, 0xFF, 0xFF, 0x01,
      0x18, 0x80, 0xF8, 0xA5, 0xF9, 0xC1, 0x32, // 3 startTime = 1735689600000
      0x20, 0xAA, 0xF8, 0xA5, 0xF9, 0xC1, 0x32, // 4 endTime = 1735689600042
      0x2A, 0x17,                           //   5 refs, 23 bytes:
        0x08, 0x01,                         //     1 refType = CrossThread
        0x12, 0x01, b't',                   //     2 traceId
        0x1A, 0x02, b'p', b's',             //     3 parentTraceSegmentId
        0x20, 0x02,                         //     4 parentSpanId = 2
        0x2A, 0x01, b'a',                   //     5 parentService
        0x32, 0x01, b'b',                   //     6 parentServiceInstance
        0x3A, 0x01, b'c',                   //     7 parentEndpoint
        0x42, 0x01, b'd',                   //     8 networkAddressUsedAtPeer
      0x32, 0x02, b'o', b'p',               //   6 operationName
      0x3A, 0x03, b'p', b':', b'1',         //   7 peer
      0x40, 0x01,                           //   8 spanType = Exit
      0x48, 0x03,                           //   9 spanLayer = Http
      0x50, 0xF8, 0x55,                     //  10 componentId = 11000
      0x58, 0x01,                           //  11 isError
      0x62, 0x06,                           //  12 tags, 6 bytes:
        0x0A, 0x01, b'k', 0x12, 0x01, b'v', //     key, value
      0x6A, 0x0A,                           //  13 logs, 10 bytes:
        0x08, 0x05,                         //     1 time = 5
        0x12, 0x06,                         //     2 data, 6 bytes:
          0x0A, 0x01, b'e', 0x12, 0x01, b'r',
      0x70, 0x01,                           //  14 skipAnalysis
    0x22, 0x03, b's', b'v', b'c',           // 4 service
    0x2A, 0x04, b'i', b'n', b's', b't',     // 5 serviceInstance
    0x30, 0x01,                             // 6 isSizeLimited
];

#[test]
fn segment_object_with_every_field() {
    let segment = full_segment();
    let bytes = segment.encode_to_vec();
    // A few landmarks first, so a failure points at the culprit.
    assert_eq!(
        &bytes[bytes.len() - 2..],
        &[0x30, 0x01],
        "isSizeLimited (6)"
    );
    let span = segment.spans[0].encode_to_vec();
    assert_eq!(&span[..2], &[0x08, 0x01], "spanId (1)");
    assert_eq!(
        &span[2..13],
        &[
            0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01
        ]
    );
    assert_eq!(&span[span.len() - 2..], &[0x70, 0x01], "skipAnalysis (14)");
    // Then the whole message.
    assert_wire(&segment, FULL_SEGMENT_BYTES);

    // The batch wrapper puts the same bytes in field 1.
    let batch = SegmentCollection {
        segments: vec![segment],
    };
    let mut expected = vec![0x0A, FULL_SEGMENT_BYTES.len() as u8];
    expected.extend_from_slice(FULL_SEGMENT_BYTES);
    assert_wire(&batch, &expected);
}

#[test]
fn zero_values_are_not_sent() {
    assert_wire(&SegmentObject::default(), &[]);
    // spanType Entry and refType CrossProcess are the proto3 defaults.
    let span = SpanObject {
        span_type: SpanType::Entry as i32,
        ..Default::default()
    };
    assert_wire(&span, &[]);
}

#[test]
fn common_messages() {
    assert_wire(
        &KeyIntValuePair {
            key: "n".to_owned(),
            value: 300,
        },
        &[0x0A, 0x01, b'n', 0x10, 0xAC, 0x02],
    );
    // CPU has only field 2, a double: tag 0x11, then 8 little-endian bytes (50.0).
    assert_wire(
        &Cpu {
            usage_percent: 50.0,
        },
        &[0x11, 0, 0, 0, 0, 0, 0, 0x49, 0x40],
    );
    assert_wire(
        &Instant {
            seconds: 1,
            nanos: 2,
        },
        &[0x08, 0x01, 0x10, 0x02],
    );
    assert_wire(
        &Id {
            id: vec!["x".to_owned()],
        },
        &[0x0A, 0x01, b'x'],
    );
    let commands = Commands {
        commands: vec![Command {
            command: "C".to_owned(),
            args: vec![kv("k", "v")],
        }],
    };
    #[rustfmt::skip]
    let expected = [
        0x0A, 0x0B,                              // 1 commands, 11 bytes:
          0x0A, 0x01, b'C',                      //   1 command
          0x12, 0x06,                            //   2 args
            0x0A, 0x01, b'k', 0x12, 0x01, b'v',
    ];
    assert_wire(&commands, &expected);
}

#[test]
fn management_and_configuration_messages() {
    let props = InstanceProperties {
        service: "s".to_owned(),
        service_instance: "i".to_owned(),
        properties: vec![kv("k", "v")],
        layer: "L".to_owned(),
    };
    #[rustfmt::skip]
    let expected = [
        0x0A, 0x01, b's',                              // 1 service
        0x12, 0x01, b'i',                              // 2 serviceInstance
        0x1A, 0x06, 0x0A, 0x01, b'k', 0x12, 0x01, b'v', // 3 properties
        0x22, 0x01, b'L',                              // 4 layer
    ];
    assert_wire(&props, &expected);
    let ping = InstancePingPkg {
        service: "s".to_owned(),
        service_instance: "i".to_owned(),
        layer: "L".to_owned(),
    };
    assert_wire(
        &ping,
        &[0x0A, 0x01, b's', 0x12, 0x01, b'i', 0x1A, 0x01, b'L'],
    );
    let cds = ConfigurationSyncRequest {
        service: "s".to_owned(),
        uuid: "u".to_owned(),
    };
    assert_wire(&cds, &[0x0A, 0x01, b's', 0x12, 0x01, b'u']);
}

#[test]
fn meter_messages() {
    let single = MeterData {
        metric: Some(meter_data::Metric::SingleValue(MeterSingleValue {
            name: "m".to_owned(),
            labels: vec![Label {
                name: "a".to_owned(),
                value: "b".to_owned(),
            }],
            value: 1.0,
        })),
        service: "s".to_owned(),
        service_instance: "i".to_owned(),
        timestamp: 7,
    };
    #[rustfmt::skip]
    let expected = [
        0x0A, 0x14,                                   // 1 singleValue, 20 bytes:
          0x0A, 0x01, b'm',                           //   1 name
          0x12, 0x06, 0x0A, 0x01, b'a', 0x12, 0x01, b'b', // 2 labels
          0x19, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F,         //   3 value = 1.0 (double)
        0x1A, 0x01, b's',                             // 3 service
        0x22, 0x01, b'i',                             // 4 serviceInstance
        0x28, 0x07,                                   // 5 timestamp
    ];
    assert_wire(&single, &expected);

    let histogram = MeterData {
        metric: Some(meter_data::Metric::Histogram(MeterHistogram {
            name: "h".to_owned(),
            labels: vec![],
            values: vec![MeterBucketValue {
                bucket: 0.0,
                count: 3,
                is_negative_infinity: true,
            }],
        })),
        ..Default::default()
    };
    #[rustfmt::skip]
    let expected = [
        0x12, 0x09,                   // 2 histogram, 9 bytes:
          0x0A, 0x01, b'h',           //   1 name
          0x1A, 0x04,                 //   3 values, 4 bytes:
            0x10, 0x03,               //     2 count
            0x18, 0x01,               //     3 isNegativeInfinity
    ];
    assert_wire(&histogram, &expected);

    let batch = MeterDataCollection {
        meter_data: vec![MeterData {
            timestamp: 1,
            ..Default::default()
        }],
    };
    assert_wire(&batch, &[0x0A, 0x02, 0x28, 0x01]);
}

#[test]
fn logging_messages() {
    let log = LogData {
        timestamp: 1,
        service: "s".to_owned(),
        service_instance: "i".to_owned(),
        endpoint: "e".to_owned(),
        body: Some(LogDataBody {
            r#type: "t".to_owned(),
            content: Some(log_data_body::Content::Text(TextLog {
                text: "x".to_owned(),
            })),
        }),
        trace_context: Some(TraceContext {
            trace_id: "a".to_owned(),
            trace_segment_id: "b".to_owned(),
            span_id: 3,
        }),
        tags: Some(LogTags {
            data: vec![kv("k", "v")],
        }),
        layer: "L".to_owned(),
    };
    #[rustfmt::skip]
    let expected = [
        0x08, 0x01,                        // 1 timestamp
        0x12, 0x01, b's',                  // 2 service
        0x1A, 0x01, b'i',                  // 3 serviceInstance
        0x22, 0x01, b'e',                  // 4 endpoint
        0x2A, 0x08,                        // 5 body, 8 bytes:
          0x0A, 0x01, b't',                //   1 type
          0x12, 0x03, 0x0A, 0x01, b'x',    //   2 text { 1 text }
        0x32, 0x08,                        // 6 traceContext, 8 bytes:
          0x0A, 0x01, b'a',                //   1 traceId
          0x12, 0x01, b'b',                //   2 traceSegmentId
          0x18, 0x03,                      //   3 spanId
        0x3A, 0x08,                        // 7 tags, 8 bytes:
          0x0A, 0x06, 0x0A, 0x01, b'k', 0x12, 0x01, b'v',
        0x42, 0x01, b'L',                  // 8 layer
    ];
    assert_wire(&log, &expected);

    let json = LogDataBody {
        r#type: String::new(),
        content: Some(log_data_body::Content::Json(JsonLog {
            json: "{}".to_owned(),
        })),
    };
    assert_wire(&json, &[0x1A, 0x04, 0x0A, 0x02, b'{', b'}']);
    let yaml = LogDataBody {
        r#type: String::new(),
        content: Some(log_data_body::Content::Yaml(YamlLog {
            yaml: "a".to_owned(),
        })),
    };
    assert_wire(&yaml, &[0x22, 0x03, 0x0A, 0x01, b'a']);
}

#[test]
fn event_messages() {
    let event = Event {
        uuid: "u".to_owned(),
        source: Some(Source {
            service: "s".to_owned(),
            service_instance: "i".to_owned(),
            endpoint: "e".to_owned(),
        }),
        name: "n".to_owned(),
        r#type: Type::Error as i32,
        message: "m".to_owned(),
        parameters: HashMap::from([("k".to_owned(), "v".to_owned())]),
        start_time: 1,
        end_time: 2,
        layer: "L".to_owned(),
    };
    #[rustfmt::skip]
    let expected = [
        0x0A, 0x01, b'u',                        // 1 uuid
        0x12, 0x09,                              // 2 source, 9 bytes:
          0x0A, 0x01, b's', 0x12, 0x01, b'i', 0x1A, 0x01, b'e',
        0x1A, 0x01, b'n',                        // 3 name
        0x20, 0x01,                              // 4 type = Error
        0x2A, 0x01, b'm',                        // 5 message
        0x32, 0x06, 0x0A, 0x01, b'k', 0x12, 0x01, b'v', // 6 parameters: map entry {1 key, 2 value}
        0x38, 0x01,                              // 7 startTime
        0x40, 0x02,                              // 8 endTime
        0x4A, 0x01, b'L',                        // 9 layer
    ];
    assert_wire(&event, &expected);
}

#[test]
fn profile_messages() {
    let query = ProfileTaskCommandQuery {
        service: "s".to_owned(),
        service_instance: "i".to_owned(),
        last_command_time: 9,
    };
    assert_wire(&query, &[0x0A, 0x01, b's', 0x12, 0x01, b'i', 0x18, 0x09]);
    let snapshot = ThreadSnapshot {
        task_id: "t".to_owned(),
        trace_segment_id: "g".to_owned(),
        time: 1,
        sequence: 2,
        stack: Some(ThreadStack {
            code_signatures: vec!["f".to_owned()],
        }),
    };
    #[rustfmt::skip]
    let expected = [
        0x0A, 0x01, b't', 0x12, 0x01, b'g', 0x18, 0x01, 0x20, 0x02,
        0x2A, 0x03, 0x0A, 0x01, b'f', // 5 stack { 1 codeSignatures }
    ];
    assert_wire(&snapshot, &expected);
    let finish = ProfileTaskFinishReport {
        service: "s".to_owned(),
        service_instance: "i".to_owned(),
        task_id: "t".to_owned(),
    };
    assert_wire(
        &finish,
        &[0x0A, 0x01, b's', 0x12, 0x01, b'i', 0x1A, 0x01, b't'],
    );
    let go = GoProfileData {
        task_id: "t".to_owned(),
        payload: vec![0xAB],
        is_last: true,
    };
    assert_wire(&go, &[0x0A, 0x01, b't', 0x12, 0x01, 0xAB, 0x18, 0x01]);
}

#[test]
fn span_attached_event() {
    let event = SpanAttachedEvent {
        start_time: Some(Instant {
            seconds: 1,
            nanos: 0,
        }),
        event: "e".to_owned(),
        end_time: Some(Instant {
            seconds: 2,
            nanos: 0,
        }),
        tags: vec![kv("k", "v")],
        summary: vec![KeyIntValuePair {
            key: "c".to_owned(),
            value: 1,
        }],
        trace_context: Some(span_attached_event::SpanReference {
            r#type: span_attached_event::SpanReferenceType::Zipkin as i32,
            trace_id: "a".to_owned(),
            trace_segment_id: "b".to_owned(),
            span_id: "0".to_owned(),
        }),
    };
    #[rustfmt::skip]
    let expected = [
        0x0A, 0x02, 0x08, 0x01,                   // 1 startTime
        0x12, 0x01, b'e',                         // 2 event
        0x1A, 0x02, 0x08, 0x02,                   // 3 endTime
        0x22, 0x06, 0x0A, 0x01, b'k', 0x12, 0x01, b'v', // 4 tags
        0x2A, 0x05, 0x0A, 0x01, b'c', 0x10, 0x01, // 5 summary
        0x32, 0x0B,                               // 6 traceContext, 11 bytes:
          0x08, 0x01,                             //   1 type = ZIPKIN
          0x12, 0x01, b'a',                       //   2 traceId
          0x1A, 0x01, b'b',                       //   3 traceSegmentId
          0x22, 0x01, b'0',                       //   4 spanId (a string)
    ];
    assert_wire(&event, &expected);
}

#[test]
fn enum_values() {
    assert_eq!(SpanType::Entry as i32, 0);
    assert_eq!(SpanType::Exit as i32, 1);
    assert_eq!(SpanType::Local as i32, 2);
    assert_eq!(RefType::CrossProcess as i32, 0);
    assert_eq!(RefType::CrossThread as i32, 1);
    let layers = [
        (SpanLayer::Unknown, 0, "Unknown"),
        (SpanLayer::Database, 1, "Database"),
        (SpanLayer::RpcFramework, 2, "RPCFramework"),
        (SpanLayer::Http, 3, "Http"),
        (SpanLayer::Mq, 4, "MQ"),
        (SpanLayer::Cache, 5, "Cache"),
        (SpanLayer::Faas, 6, "FAAS"),
        (SpanLayer::GenAi, 7, "GenAI"),
    ];
    for (layer, number, name) in layers {
        assert_eq!(layer as i32, number, "{name}");
        assert_eq!(layer.as_str_name(), name);
        assert_eq!(SpanLayer::try_from(number), Ok(layer));
    }
    assert!(SpanLayer::try_from(8).is_err());
    assert_eq!(DetectPoint::Client as i32, 0);
    assert_eq!(DetectPoint::Server as i32, 1);
    assert_eq!(DetectPoint::Proxy as i32, 2);
    assert_eq!(DetectPoint::Proxy.as_str_name(), "proxy");
    assert_eq!(Type::Normal as i32, 0);
    assert_eq!(Type::Error as i32, 1);
    assert_eq!(span_attached_event::SpanReferenceType::Skywalking as i32, 0);
    assert_eq!(span_attached_event::SpanReferenceType::Zipkin as i32, 1);
    assert_eq!(
        span_attached_event::SpanReferenceType::Zipkin.as_str_name(),
        "ZIPKIN"
    );
}

/// Every packaged `skywalking.v3` RPC with its path, and whether the request is a stream.
const RPCS: &[(&str, bool)] = &[
    ("/skywalking.v3.TraceSegmentReportService/collect", true),
    (
        "/skywalking.v3.TraceSegmentReportService/collectInSync",
        false,
    ),
    (
        "/skywalking.v3.ManagementService/reportInstanceProperties",
        false,
    ),
    ("/skywalking.v3.ManagementService/keepAlive", false),
    ("/skywalking.v3.MeterReportService/collect", true),
    ("/skywalking.v3.MeterReportService/collectBatch", true),
    ("/skywalking.v3.LogReportService/collect", true),
    (
        "/skywalking.v3.ConfigurationDiscoveryService/fetchConfigurations",
        false,
    ),
    ("/skywalking.v3.EventService/collect", true),
    ("/skywalking.v3.ProfileTask/getProfileTaskCommands", false),
    ("/skywalking.v3.ProfileTask/collectSnapshot", true),
    ("/skywalking.v3.ProfileTask/goProfileReport", true),
    ("/skywalking.v3.ProfileTask/reportTaskFinish", false),
    (
        "/skywalking.v3.SpanAttachedEventReportService/collect",
        true,
    ),
];

#[test]
fn grpc_paths() {
    for (path, _) in RPCS {
        // Once in the client (a string literal argument) and once in the server's match arm.
        let quoted = format!("\"{path}\"");
        assert_eq!(
            GENERATED.matches(&quoted).count(),
            2,
            "{path} should appear in client and server"
        );
    }
    // No other paths: 14 RPCs, each in client and server.
    assert_eq!(
        GENERATED.matches("\"/skywalking.v3.").count(),
        2 * RPCS.len()
    );
    assert!(
        !GENERATED.contains("\"/TraceSegmentReportService/"),
        "no unpackaged compat services"
    );
    assert!(!GENERATED.contains("skywalking.v10"));
    for service in [
        "TraceSegmentReportService",
        "ManagementService",
        "MeterReportService",
        "LogReportService",
        "ConfigurationDiscoveryService",
        "EventService",
        "ProfileTask",
        "SpanAttachedEventReportService",
    ] {
        let constant = format!("pub const SERVICE_NAME: &str = \"skywalking.v3.{service}\";");
        assert!(GENERATED.contains(&constant), "missing {constant}");
    }
    // Streaming kinds: in the client, the call right after the path is `unary` or
    // `client_streaming`.
    for (path, stream) in RPCS {
        let at = GENERATED.find(&format!("\"{path}\"")).unwrap();
        let call = &GENERATED[at..];
        let call = &call[call.find("self.inner.").expect("client call") + "self.inner.".len()..];
        let kind = &call[..call.find('(').unwrap()];
        assert_eq!(
            kind,
            if *stream { "client_streaming" } else { "unary" },
            "{path}"
        );
    }
    let streaming = RPCS.iter().filter(|(_, stream)| *stream).count();
    assert_eq!(
        GENERATED.matches(".client_streaming(").count(),
        2 * streaming
    );
    assert_eq!(
        GENERATED.matches(".unary(").count(),
        2 * (RPCS.len() - streaming)
    );
    assert!(!GENERATED.contains("server_streaming("));
    assert!(!GENERATED.contains(".streaming("));
}

#[cfg(feature = "server")]
#[test]
fn server_service_names() {
    use rust2sky_proto::v3::{
        configuration_discovery_service_server, event_service_server, log_report_service_server,
        management_service_server, meter_report_service_server, profile_task_server,
        trace_segment_report_service_server,
    };
    assert_eq!(
        trace_segment_report_service_server::SERVICE_NAME,
        "skywalking.v3.TraceSegmentReportService"
    );
    assert_eq!(
        management_service_server::SERVICE_NAME,
        "skywalking.v3.ManagementService"
    );
    assert_eq!(
        meter_report_service_server::SERVICE_NAME,
        "skywalking.v3.MeterReportService"
    );
    assert_eq!(
        log_report_service_server::SERVICE_NAME,
        "skywalking.v3.LogReportService"
    );
    assert_eq!(
        configuration_discovery_service_server::SERVICE_NAME,
        "skywalking.v3.ConfigurationDiscoveryService"
    );
    assert_eq!(
        event_service_server::SERVICE_NAME,
        "skywalking.v3.EventService"
    );
    assert_eq!(
        profile_task_server::SERVICE_NAME,
        "skywalking.v3.ProfileTask"
    );
}
