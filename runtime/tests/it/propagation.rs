//! The header codecs, against the official agents' own headers and against hostile input.

use proptest::prelude::*;
use rust2sky::propagation::{
    Correlation, CorrelationLimits, IncomingHeaders, MAX_ID_LEN, MAX_SW8_LEN, Sw8Error, Sw8Field,
    Sw8Header, Sw8x, Sw8xError,
};

/// The worked example of the protocol notes (§3.1).
const WORKED_EXAMPLE: &str = "1-M2YyYzlhMWJlNGQ1NGMwZjlhN2U2YjVkNGMzYjJhMTkuMS4xNzM1Njg5NjAwMDEyMDAwMA==-M2YyYzlhMWJlNGQ1NGMwZjlhN2U2YjVkNGMzYjJhMTkuMS4xNzM1Njg5NjAwMDEyMDAwMQ==-2-b3JkZXItc2VydmljZQ==-OGE3YjZjNWQ0ZTNmNDBhMWIyYzNkNGU1ZjZhN2I4YzlAMTAuMC4wLjEy-R0VUOi9hcGkvb3JkZXJzL3tpZH0=-aW52ZW50b3J5OjgwODA=";

fn header(
    trace: &str,
    segment: &str,
    span: i32,
    service: &str,
    instance: &str,
    endpoint: &str,
    address: &str,
) -> Sw8Header {
    Sw8Header {
        sampled: true,
        trace_id: trace.into(),
        parent_segment_id: segment.into(),
        parent_span_id: span,
        parent_service: service.into(),
        parent_service_instance: instance.into(),
        parent_endpoint: endpoint.into(),
        target_address: address.into(),
    }
}

#[test]
fn worked_example_decodes_field_by_field() {
    let parent = Sw8Header::decode(WORKED_EXAMPLE).unwrap();
    assert!(parent.sampled);
    assert_eq!(
        parent.trace_id,
        "3f2c9a1be4d54c0f9a7e6b5d4c3b2a19.1.17356896000120000"
    );
    assert_eq!(
        parent.parent_segment_id,
        "3f2c9a1be4d54c0f9a7e6b5d4c3b2a19.1.17356896000120001"
    );
    assert_eq!(parent.parent_span_id, 2);
    assert_eq!(parent.parent_service, "order-service");
    assert_eq!(
        parent.parent_service_instance,
        "8a7b6c5d4e3f40a1b2c3d4e5f6a7b8c9@10.0.0.12"
    );
    assert_eq!(parent.parent_endpoint, "GET:/api/orders/{id}");
    assert_eq!(parent.target_address, "inventory:8080");

    assert_eq!(parent.encode(), WORKED_EXAMPLE);
    assert_eq!(WORKED_EXAMPLE.len(), 277);
    assert_eq!(parent.encoded_len(), 277);
}

/// Headers made by the official Python agent (apache-skywalking 1.3.0), with the fields behind
/// them: (name, sw8, sw8-correlation, fields, correlation entries).
struct AgentVector {
    name: &'static str,
    sw8: &'static str,
    correlation: &'static str,
    fields: Sw8Header,
    entries: &'static [(&'static str, &'static str)],
}

fn python_agent_vectors() -> Vec<AgentVector> {
    vec![
        AgentVector {
            name: "ascii",
            sw8: "1-OGQyZjBiOGVjMmI0MTFlZTliMmEwMjQyYWMxMjAwMDI=-OGQyZjBlMzZjMmI0MTFlZTliMmEwMjQyYWMxMjAwMDI=-3-Y2hlY2tvdXQ=-YTFiMkAxMC4wLjAuNw==-R0VUOi9jYXJ0L3tpZH0=-cGF5bWVudHM6ODA4MA==",
            correlation: "dXNlcg==:YWxpY2U=",
            fields: header(
                "8d2f0b8ec2b411ee9b2a0242ac120002",
                "8d2f0e36c2b411ee9b2a0242ac120002",
                3,
                "checkout",
                "a1b2@10.0.0.7",
                "GET:/cart/{id}",
                "payments:8080",
            ),
            entries: &[("user", "alice")],
        },
        AgentVector {
            name: "unicode",
            sw8: "1-dC4xLjI=-cy45-0-5pyN5YqhLcO8-5a+m5L6L-L+aQnOe0oj9xPcOk-Wzo6MV06MTE4MDA=",
            correlation: "csOpZ2lvbg==:w65sZS1kZS1mcmFuY2U=,azI=:dj0y",
            fields: header(
                "t.1.2",
                "s.9",
                0,
                "服务-ü",
                "實例",
                "/搜索?q=ä",
                "[::1]:11800",
            ),
            entries: &[("région", "île-de-france"), ("k2", "v=2")],
        },
        AgentVector {
            name: "java_ids",
            sw8: "1-MmExYzllNWQxYzBiNGQwZS44My4xNzAwMDAwMDAwMDAwMDAwMQ==-MmExYzllNWQxYzBiNGQwZS44My4xNzAwMDAwMDAwMDAwMDAwMA==-12-c3Zjfn5+-aW5zdA==-ZXA=-aDox",
            correlation: "",
            fields: header(
                "2a1c9e5d1c0b4d0e.83.17000000000000001",
                "2a1c9e5d1c0b4d0e.83.17000000000000000",
                12,
                "svc~~~",
                "inst",
                "ep",
                "h:1",
            ),
            entries: &[],
        },
        AgentVector {
            name: "long",
            sw8: concat!(
                "1-eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eH",
                "h4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eA==-eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5e",
                "Xl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5e",
                "Xl5eXl5eQ==-2147483647-c3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc",
                "3M=-aWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWk=-ZWVlZWVlZWVlZWV",
                "lZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWV",
                "lZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWV",
                "lZWVlZWVl-cHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcH",
                "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcH",
                "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcH",
                "BwcHBwcHBwcHA=",
            ),
            correlation: "YQ==:MQ==,Yg==:Mg==,Yw==:Mw==",
            fields: header(
                &"x".repeat(100),
                &"y".repeat(100),
                2_147_483_647,
                &"s".repeat(50),
                &"i".repeat(50),
                &"e".repeat(150),
                &"p".repeat(200),
            ),
            entries: &[("a", "1"), ("b", "2"), ("c", "3")],
        },
    ]
}

#[test]
fn python_agent_headers_decode_to_their_fields_and_encode_back_exactly() {
    for vector in python_agent_vectors() {
        let decoded = Sw8Header::decode(vector.sw8);
        assert_eq!(decoded.as_ref(), Ok(&vector.fields), "{}", vector.name);
        assert_eq!(vector.fields.encode(), vector.sw8, "{}", vector.name);

        let correlation = Correlation::decode(vector.correlation, CorrelationLimits::default());
        let entries: Vec<_> = correlation.correlation.iter().collect();
        assert_eq!(entries, vector.entries, "{}", vector.name);
        assert_eq!((correlation.over_limit, correlation.malformed), (0, 0));

        let mut built = Correlation::default();
        for (key, value) in vector.entries {
            built.set(*key, *value).unwrap();
        }
        assert_eq!(built.encode(), vector.correlation, "{}", vector.name);
    }
}

#[test]
fn every_malformed_sw8_gets_its_own_error() {
    let valid = ["1", "dA==", "cw==", "2", "c3Zj", "aW5zdA==", "ZXA=", "aDox"];
    let with = |position: usize, value: &str| {
        let mut parts = valid;
        parts[position] = value;
        parts.join("-")
    };
    let cases: Vec<(String, Sw8Error)> = vec![
        (String::new(), Sw8Error::Empty),
        ("   ".into(), Sw8Error::Empty),
        ("1-dA==-cw==".into(), Sw8Error::FieldCount { found: 3 }),
        (
            format!("{}-extra", valid.join("-")),
            Sw8Error::FieldCount { found: 9 },
        ),
        (with(3, "-1"), Sw8Error::FieldCount { found: 9 }),
        (with(0, "2"), Sw8Error::SampleFlag),
        (with(0, ""), Sw8Error::SampleFlag),
        (with(0, "true"), Sw8Error::SampleFlag),
        (with(3, "x"), Sw8Error::SpanId),
        (with(3, ""), Sw8Error::SpanId),
        (with(3, "+2"), Sw8Error::SpanId),
        (with(3, "2147483648"), Sw8Error::SpanId),
        (with(1, "dA=!"), Sw8Error::Base64(Sw8Field::TraceId)),
        // URL-safe Base64 is not SkyWalking's alphabet
        (
            with(4, "c3Zjfn5_"),
            Sw8Error::Base64(Sw8Field::ParentService),
        ),
        (with(6, "/w=="), Sw8Error::Utf8(Sw8Field::ParentEndpoint)),
        // "é" is C3 A9: half a character in each of two fields is not text in either
        (
            {
                let mut parts = valid;
                parts[1] = "ww==";
                parts[2] = "qQ==";
                parts.join("-")
            },
            Sw8Error::Utf8(Sw8Field::TraceId),
        ),
        (with(7, "ww=="), Sw8Error::Utf8(Sw8Field::TargetAddress)),
        (
            with(5, "qQ=="),
            Sw8Error::Utf8(Sw8Field::ParentServiceInstance),
        ),
        (with(2, ""), Sw8Error::EmptyField(Sw8Field::ParentSegmentId)),
        (
            with(5, ""),
            Sw8Error::EmptyField(Sw8Field::ParentServiceInstance),
        ),
        (with(7, ""), Sw8Error::EmptyField(Sw8Field::TargetAddress)),
        (
            format!("1-{}", "A".repeat(MAX_SW8_LEN)),
            Sw8Error::TooLong {
                len: MAX_SW8_LEN + 2,
            },
        ),
    ];
    for (value, expected) in cases {
        assert_eq!(Sw8Header::decode(&value), Err(expected), "{value:?}");
    }
    // and the errors say what is wrong
    assert_eq!(
        Sw8Error::EmptyField(Sw8Field::TargetAddress).to_string(),
        "sw8 field 8 (target address) is empty"
    );
}

#[test]
fn sw8_is_read_leniently_where_java_is() {
    // without padding, with an unsampled flag, and with whitespace around the value
    let parent = Sw8Header::decode(" 0-dA-cw-2-c3Zj-aW5zdA-ZXA-aDox \t").unwrap();
    assert!(!parent.sampled);
    assert_eq!(parent.trace_id, "t");
    assert_eq!(parent.parent_service_instance, "inst");
    // and written back in the canonical form
    assert_eq!(parent.encode(), "0-dA==-cw==-2-c3Zj-aW5zdA==-ZXA=-aDox");
}

#[test]
fn correlation_limits_drop_and_count_without_failing() {
    let limits = CorrelationLimits::default();
    let long = "v".repeat(129);
    let mut source = Correlation::new(CorrelationLimits {
        max_keys: 10,
        max_value_len: 1000,
    });
    for (key, value) in [
        ("a", "1"),
        ("b", long.as_str()),
        ("c", "3"),
        ("d", "4"),
        ("e", "5"),
    ] {
        source.set(key, value).unwrap();
    }
    let decoded = Correlation::decode(&source.encode(), limits);
    let kept: Vec<_> = decoded.correlation.iter().collect();
    assert_eq!(kept, [("a", "1"), ("c", "3"), ("d", "4")]);
    assert_eq!((decoded.over_limit, decoded.malformed), (2, 0));

    // 128 is allowed; the length is Java's: UTF-16 units, so 'é' counts 1 and '😀' counts 2
    let mut correlation = Correlation::new(limits);
    correlation.set("k", "é".repeat(128)).unwrap();
    assert!(correlation.set("k", "😀".repeat(65)).is_err());
    correlation.set("k", "😀".repeat(64)).unwrap();

    // malformed entries are skipped, the rest kept
    let decoded = Correlation::decode("a:b:c,!!!:YQ==,:YQ==,YQ==:MQ==,,", limits);
    assert_eq!(decoded.correlation.iter().collect::<Vec<_>>(), [("a", "1")]);
    assert_eq!(decoded.malformed, 3);
}

#[test]
fn correlation_keys_and_headers_have_a_length_cap() {
    use rust2sky::propagation::{
        CorrelationError, MAX_CORRELATION_HEADER_LEN, MAX_CORRELATION_KEY_LEN,
    };
    let limits = CorrelationLimits::default();
    let mut correlation = Correlation::new(limits);
    correlation
        .set("k".repeat(MAX_CORRELATION_KEY_LEN), "v")
        .unwrap();
    assert_eq!(
        correlation.set("k".repeat(MAX_CORRELATION_KEY_LEN + 1), "v"),
        Err(CorrelationError::KeyTooLong {
            len: MAX_CORRELATION_KEY_LEN + 1
        })
    );

    // A caller's long key is dropped and counted; the rest is kept.
    let mut sent = Correlation::new(CorrelationLimits {
        max_keys: 3,
        max_value_len: 10,
    });
    sent.set("tenant", "acme").unwrap();
    let long_key = format!("{}:dg==", "a2tr".repeat(67)); // "kkk" x 67: a 201-character key
    let decoded = Correlation::decode(&format!("{long_key},{}", sent.encode()), limits);
    assert_eq!(
        decoded.correlation.iter().collect::<Vec<_>>(),
        [("tenant", "acme")]
    );
    assert_eq!(decoded.over_limit, 1);

    // A header over the cap is not even decoded.
    let huge = vec![sent.encode(); MAX_CORRELATION_HEADER_LEN / 10].join(",");
    assert!(huge.len() > MAX_CORRELATION_HEADER_LEN);
    let decoded = Correlation::decode(&huge, limits);
    assert!(decoded.correlation.is_empty());
    assert_eq!((decoded.over_limit, decoded.malformed), (1, 0));
}

#[test]
fn correlation_limits_are_configurable() {
    let limits = CorrelationLimits {
        max_keys: 1,
        max_value_len: 3,
    };
    let decoded = Correlation::decode("YQ==:YWJjZA==,Yg==:YWJj,Yw==:eA==", limits);
    assert_eq!(
        decoded.correlation.iter().collect::<Vec<_>>(),
        [("b", "abc")]
    );
    assert_eq!(decoded.over_limit, 2);
}

#[test]
fn sw8x_reads_java_placeholders_and_rejects_garbage() {
    assert_eq!(Sw8x::decode(""), Ok(Sw8x::default()));
    assert_eq!(Sw8x::decode("0- "), Ok(Sw8x::default()));
    assert_eq!(
        Sw8x::decode("1- "),
        Ok(Sw8x {
            skip_analysis: true,
            send_time_ms: None
        })
    );
    assert_eq!(
        Sw8x::decode("0-1735689600123-future-fields"),
        Ok(Sw8x {
            skip_analysis: false,
            send_time_ms: Some(1_735_689_600_123)
        })
    );
    assert_eq!(Sw8x::decode("yes-1"), Err(Sw8xError::TracingMode));
    assert_eq!(Sw8x::decode("0-soon"), Err(Sw8xError::Timestamp));
    assert_eq!(Sw8x::decode("0-+5"), Err(Sw8xError::Timestamp));
    assert_eq!(
        Sw8x::decode("0-99999999999999999999999"),
        Err(Sw8xError::Timestamp)
    );
    let x = Sw8x {
        skip_analysis: true,
        send_time_ms: Some(7),
    };
    assert_eq!(Sw8x::decode(&x.encode()), Ok(x));
}

#[test]
fn a_request_with_bad_headers_goes_on_and_the_agent_counts_them() {
    let before = rust2sky::diagnostics::counters();
    let headers = [
        ("sw8", "1-not-a-header"),
        (
            "sw8-correlation",
            "YQ==:MQ==,broken,Yg==:Mg==,Yw==:Mw==,ZA==:NA==",
        ),
        ("sw8-x", "9"),
    ];
    let lookup = |name: &str| headers.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
    let incoming = IncomingHeaders::extract(lookup, CorrelationLimits::default());
    assert_eq!(incoming.sw8, None);
    assert_eq!(incoming.sw8x, None);
    assert_eq!(incoming.correlation.len(), 3);

    let after = rust2sky::diagnostics::counters();
    // other tests run in parallel and may count too, so these are lower bounds
    assert!(after.malformed_sw8 > before.malformed_sw8);
    assert!(after.malformed_sw8x > before.malformed_sw8x);
    assert!(after.malformed_correlation > before.malformed_correlation);
    assert!(after.correlation_over_limit > before.correlation_over_limit);

    // an empty sw8 means "no context" and is not a problem
    let quiet = IncomingHeaders::extract(
        |name| (name == "sw8").then_some(""),
        CorrelationLimits::default(),
    );
    assert_eq!(quiet.sw8, None);
}

#[test]
fn ids_from_callers_are_short_and_plain_or_the_header_is_ignored() {
    let with_ids = |trace: &str, segment: &str| {
        Sw8Header::decode(&header(trace, segment, 1, "svc", "inst", "GET:/", "peer:80").encode())
    };
    assert!(with_ids(&"a".repeat(MAX_ID_LEN), "s.1_2-3").is_ok());
    let refused = [
        ("a".repeat(MAX_ID_LEN + 1), Sw8Field::TraceId),
        ("forged\n[billing] line".to_owned(), Sw8Field::TraceId),
        ("trace id".to_owned(), Sw8Field::TraceId),
        ("träce".to_owned(), Sw8Field::TraceId),
    ];
    for (trace, field) in refused {
        assert_eq!(
            with_ids(&trace, "segment"),
            Err(Sw8Error::UnsafeId(field)),
            "{trace:?}"
        );
    }
    assert_eq!(
        with_ids("trace", "seg\u{1b}[2J"),
        Err(Sw8Error::UnsafeId(Sw8Field::ParentSegmentId))
    );
    // Every ASCII character, and a few beyond, in the middle of an id.
    for c in (0..=0x7f_u8)
        .map(char::from)
        .chain(['é', 'ß', '\u{3000}', '\u{fffd}'])
    {
        let allowed = c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
        let id = format!("ab{c}yz");
        assert_eq!(
            with_ids(&id, "segment").is_ok(),
            allowed,
            "{id:?} in the trace id"
        );
        assert_eq!(
            with_ids("trace", &id).is_ok(),
            allowed,
            "{id:?} in the segment id"
        );
    }

    // An entry span with such a header starts a trace of its own.
    let (service, reporter) = crate::spans::tracer(|config| config);
    let forged = header("x\ny", "segment", 1, "svc", "inst", "GET:/", "peer:80").encode();
    let headers = std::collections::HashMap::from([("sw8".to_owned(), forged)]);
    service.in_scope(|| drop(rust2sky::entry_span("GET:/", &headers)));
    let segment = reporter.take().remove(0);
    assert!(segment.spans[0].refs.is_empty());
    assert!(!segment.trace_id.contains('\n'));
}

#[test]
fn carriers_skip_and_count_names_and_values_they_cannot_hold() {
    use rust2sky::propagation::Injector as _;
    let before = rust2sky::diagnostics::counters().headers_not_written;

    let mut headers = http::HeaderMap::new();
    headers.inject("Not A Header", "1".to_owned()); // spaces: no header name
    headers.inject("X-Upper", "1".to_owned()); // names are case-insensitive: stored lowercase
    headers.inject("x-value", "line\nbreak".to_owned()); // not a header value
    assert_eq!(headers.len(), 1);
    assert_eq!(headers["x-upper"], "1");

    let mut metadata = tonic::metadata::MetadataMap::new();
    metadata.inject("trace-bin", "1".to_owned()); // a binary key takes binary values only
    metadata.inject("Upper", "1".to_owned()); // stored lowercase, as gRPC keys are
    metadata.inject("bad key", "1".to_owned());
    metadata.inject("x-value", "line\nbreak".to_owned());
    assert_eq!(metadata.len(), 1);
    assert_eq!(metadata.get("upper").unwrap(), "1");

    let after = rust2sky::diagnostics::counters().headers_not_written;
    assert!(after >= before + 5, "{before} -> {after}");
}

#[test]
fn of_two_sw8_headers_the_first_is_continued() {
    let (service, reporter) = crate::spans::tracer(|config| config);
    let first = "1-dHJhY2UtMQ==-c2VnbWVudA==-3-b3JkZXJz-b3JkZXJzLTE=-R0VUOi9vcmRlcnM=-Y2FydDo4MA==";
    let second =
        "1-dHJhY2UtMg==-c2VnbWVudA==-3-b3JkZXJz-b3JkZXJzLTE=-R0VUOi9vcmRlcnM=-Y2FydDo4MA==";
    let mut headers = http::HeaderMap::new();
    headers.append("sw8", first.parse().unwrap());
    headers.append("sw8", second.parse().unwrap());
    service.in_scope(|| drop(rust2sky::entry_span("GET:/", &headers)));
    let segment = reporter.take().remove(0);
    assert_eq!(segment.trace_id, "trace-1");
    assert_eq!(segment.spans[0].refs.len(), 1);
}

/// Any non-empty text, including non-ASCII, `-`, `:`, `,` and `=`.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9.:@/{}?=&,~+ -]{1,40}",
        "\\PC{1,40}",
        proptest::collection::vec(any::<char>(), 1..60).prop_map(|c| c.into_iter().collect()),
    ]
}

/// What the official agents' trace and segment ids are made of, up to the OAP's 150 characters.
fn id() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9._-]{1,150}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn sw8_round_trips(
        sampled: bool,
        ids in proptest::array::uniform2(id()),
        fields in proptest::array::uniform4(text()),
        span in 0..=i32::MAX,
    ) {
        let [trace_id, parent_segment_id] = ids;
        let [parent_service, parent_service_instance, parent_endpoint, target_address] = fields;
        let header = Sw8Header {
            sampled, trace_id, parent_segment_id, parent_span_id: span, parent_service,
            parent_service_instance, parent_endpoint, target_address,
        };
        let value = header.encode();
        prop_assert_eq!(value.len(), header.encoded_len());
        prop_assert_eq!(value.split('-').count(), 8);
        prop_assert_eq!(Sw8Header::decode(&value), Ok(header));
    }

    #[test]
    fn correlation_round_trips(entries in proptest::collection::vec((text(), text()), 0..6)) {
        let limits = CorrelationLimits { max_keys: 6, max_value_len: 200 };
        let mut correlation = Correlation::new(limits);
        for (key, value) in entries {
            correlation.set(key, value).unwrap();
        }
        let decoded = Correlation::decode(&correlation.encode(), limits);
        prop_assert_eq!((decoded.over_limit, decoded.malformed), (0, 0));
        prop_assert_eq!(decoded.correlation, correlation);
    }

    #[test]
    fn sw8x_round_trips(skip_analysis: bool, send_time_ms in proptest::option::of(0..=i64::MAX)) {
        let x = Sw8x { skip_analysis, send_time_ms };
        prop_assert_eq!(Sw8x::decode(&x.encode()), Ok(x));
    }
}

/// A valid header with some bytes replaced, removed or inserted; or random bytes.
fn hostile_header() -> impl Strategy<Value = String> {
    let seeds = [
        WORKED_EXAMPLE,
        "1-dA==-cw==-2-c3Zj-aW5zdA==-ZXA=-aDox",
        "YQ==:MQ==,Yg==:Mg==,Yw==:Mw==",
        "0-1735689600123",
    ];
    let edit = (any::<prop::sample::Index>(), 0u8..3, any::<u8>());
    let mutated = (
        prop::sample::select(seeds.to_vec()),
        proptest::collection::vec(edit, 1..8),
    )
        .prop_map(|(seed, edits)| {
            let mut bytes = seed.as_bytes().to_vec();
            for (at, kind, byte) in edits {
                let at = at.index(bytes.len() + 1);
                const BYTES: &[u8] = b"-:,=+/ 019aZ\xff\xc3";
                let byte = BYTES[usize::from(byte) % BYTES.len()];
                match kind {
                    0 if at < bytes.len() => bytes[at] = byte,
                    1 if at < bytes.len() => {
                        bytes.remove(at);
                    }
                    _ => bytes.insert(at, byte),
                }
            }
            String::from_utf8_lossy(&bytes).into_owned()
        });
    prop_oneof![
        mutated,
        proptest::collection::vec(any::<u8>(), 0..400)
            .prop_map(|bytes| String::from_utf8_lossy(&bytes).into_owned()),
        "[-0-9A-Za-z+/=:, ]{0,300}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100_000, failure_persistence: None, ..ProptestConfig::default() })]

    /// 100,000 random and mutated headers through every decoder: each gives a value or an error,
    /// none panics, and whatever decodes encodes to something that decodes to the same value.
    #[test]
    fn no_header_makes_a_decoder_panic(value in hostile_header()) {
        if let Ok(header) = Sw8Header::decode(&value) {
            prop_assert_eq!(Sw8Header::decode(&header.encode()), Ok(header));
        }
        let limits = CorrelationLimits::default();
        let decoded = Correlation::decode(&value, limits);
        prop_assert!(decoded.correlation.len() <= limits.max_keys);
        prop_assert_eq!(Correlation::decode(&decoded.correlation.encode(), limits).correlation, decoded.correlation);
        if let Ok(x) = Sw8x::decode(&value) {
            prop_assert_eq!(Sw8x::decode(&x.encode()), Ok(x));
        }
        let incoming = IncomingHeaders::extract(|_| Some(value.as_str()), limits);
        prop_assert!(incoming.correlation.len() <= limits.max_keys);
    }
}

#[test]
fn an_edge_service_ignores_the_context_its_callers_send() {
    let (edge, reporter) = crate::spans::tracer(|config| config.ignore_incoming_context(true));
    let forced =
        "1-dHJhY2UtMQ==-c2VnbWVudA==-3-b3JkZXJz-b3JkZXJzLTE=-R0VUOi9vcmRlcnM=-Y2FydDo4MA==";
    let refused =
        "0-dHJhY2UtMg==-c2VnbWVudA==-3-b3JkZXJz-b3JkZXJzLTE=-R0VUOi9vcmRlcnM=-Y2FydDo4MA==";
    for sw8 in [forced, refused] {
        let headers = std::collections::HashMap::from([
            ("sw8".to_owned(), sw8.to_owned()),
            ("sw8-correlation".to_owned(), "dGVuYW50:YWNtZQ==".to_owned()),
            ("sw8-x".to_owned(), "1".to_owned()),
        ]);
        edge.in_scope(|| {
            let _request = rust2sky::entry_span("GET:/", &headers).entered();
            assert_eq!(rust2sky::correlation("tenant"), None);
        });
    }
    // Both requests are traced, by this service's sampler, as traces of its own.
    let segments = reporter.take();
    assert_eq!(segments.len(), 2);
    for segment in &segments {
        assert!(!segment.trace_id.starts_with("trace-"));
        assert!(segment.spans[0].refs.is_empty());
        assert!(!segment.spans[0].skip_analysis);
    }
}

#[test]
fn text_from_a_request_cannot_forge_a_log_line() {
    use rust2sky::reporter::LogReporter;
    let (service, reporter) = crate::spans::tracer(|config| config);
    service.in_scope(|| {
        let mut span = rust2sky::exit_span(
            "GET:/\n[billing] forged",
            "db:5432\n[billing] forged",
            &mut rust2sky::propagation::NoHeaders,
        );
        span.tag("key\nforged", "value\nforged");
    });
    let line = LogReporter::format(&reporter.take().remove(0));
    assert!(!line.contains('\n'), "{line}");
    assert!(line.contains(r"peer=db:5432\n[billing] forged"), "{line}");
    assert!(line.contains(r#"key\nforged="value\nforged""#), "{line}");
}

#[test]
fn header_maps_and_grpc_metadata_take_every_valid_name() {
    use rust2sky::propagation::Injector as _;

    let mut headers = http::HeaderMap::new();
    headers.inject("sw8", "1-abc".to_owned());
    headers.inject("X-Request-Source", "shop".to_owned());
    headers.inject("not a name", "dropped".to_owned());
    assert_eq!(
        headers.get("sw8").map(|v| v.as_bytes()),
        Some(&b"1-abc"[..])
    );
    assert_eq!(
        headers.get("x-request-source").map(|v| v.as_bytes()),
        Some(&b"shop"[..])
    );
    assert_eq!(headers.len(), 2);

    let mut metadata = tonic::metadata::MetadataMap::new();
    metadata.inject("sw8-correlation", "a:b".to_owned());
    metadata.inject("X-Tenant", "7".to_owned());
    // A `-bin` key would need a binary value: not written.
    metadata.inject("trace-bin", "dropped".to_owned());
    assert_eq!(
        metadata
            .get("sw8-correlation")
            .and_then(|v| v.to_str().ok()),
        Some("a:b")
    );
    assert_eq!(
        metadata.get("x-tenant").and_then(|v| v.to_str().ok()),
        Some("7")
    );
    assert_eq!(metadata.len(), 2);
}
