//! The gRPC reporter against a real tonic collector on 127.0.0.1 (`rust2sky::testing`).

use std::collections::{HashMap, HashSet};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rust2sky::config::{Config, ConfigBuilder, LiveSettings};
use rust2sky::propagation::NoHeaders;
use rust2sky::proto::v3::{RefType, SegmentObject, SpanLayer, SpanType};
use rust2sky::reporter::{FinishedSegment, GrpcReporter, MemoryReporter, Reporter, Transport as _};
use rust2sky::testing::Collector;
use rust2sky::{Tracer, component, tags};

/// Long enough for anything that should happen to happen on a loaded 2-core machine.
const PATIENCE: Duration = Duration::from_secs(20);

/// A header made by the official Python agent (shared/vectors, row `ascii`).
const PYTHON_SW8: &str = "1-OGQyZjBiOGVjMmI0MTFlZTliMmEwMjQyYWMxMjAwMDI=-OGQyZjBlMzZjMmI0MTFlZTliMmEwMjQyYWMxMjAwMDI=-3-Y2hlY2tvdXQ=-YTFiMkAxMC4wLjAuNw==-R0VUOi9jYXJ0L3tpZH0=-cGF5bWVudHM6ODA4MA==";

/// The settings of a service reporting to `backends`, untouched by the environment.
fn service_config(
    backends: &[String],
    more: impl FnOnce(ConfigBuilder) -> ConfigBuilder,
) -> Config {
    more(
        Config::builder()
            .service_name("payments")
            .instance_name("payments-1")
            .backends(backends.iter().cloned()),
    )
    .build_with_env(|_| None)
    .expect("a valid configuration")
}

/// A reporter that retries quickly, as a test cannot wait for the production backoff.
fn start_reporter(config: &Config) -> GrpcReporter {
    GrpcReporter::builder(config)
        .backoff(Duration::from_millis(50), Duration::from_millis(400))
        .start()
        .expect("the reporter starts")
}

/// A segment as a real request makes it, one per call, each with its own ids.
fn segments(count: usize) -> Vec<FinishedSegment> {
    let memory = MemoryReporter::new();
    let config = Config::builder()
        .service_name("payments")
        .build_with_env(|_| None)
        .unwrap();
    let tracer = Tracer::new(config, memory.clone());
    tracer.in_scope(|| {
        for _ in 0..count {
            let mut entry = rust2sky::entry_span("GET:/pay", &NoHeaders).entered();
            entry.tag(tags::HTTP_METHOD, "GET");
            let _exit = rust2sky::exit_span("SELECT", "db:5432", &mut NoHeaders);
        }
    });
    memory.take_finished()
}

fn segment_ids(segments: impl IntoIterator<Item = SegmentObject>) -> HashSet<String> {
    segments
        .into_iter()
        .map(|segment| segment.trace_segment_id)
        .collect()
}

/// A free port on 127.0.0.1, with nothing listening on it.
fn free_address() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
}

/// Sends every segment to both reporters, so a test can compare what arrived with what was made.
pub(crate) struct Both<R>(pub(crate) MemoryReporter, pub(crate) R);

impl<R: Reporter> Reporter for Both<R> {
    fn report(&self, segment: FinishedSegment) {
        self.0.report(segment.clone());
        self.1.report(segment);
    }

    fn flush(&self, timeout: Duration) -> bool {
        self.1.flush(timeout)
    }

    fn attach(&self, settings: &LiveSettings) {
        self.1.attach(settings);
    }
}

#[test]
fn a_request_arrives_field_by_field_as_it_was_made() {
    let collector = Collector::start().unwrap();
    let config = service_config(&[collector.backend()], |config| config);
    let grpc = start_reporter(&config);
    let memory = MemoryReporter::new();
    let tracer = Tracer::new(config, Both(memory.clone(), grpc.clone()));

    tracer.in_scope(|| {
        let incoming = HashMap::from([("sw8".to_owned(), PYTHON_SW8.to_owned())]);
        let mut entry = rust2sky::entry_span("POST:/pay", &incoming).entered();
        entry
            .tag(tags::HTTP_METHOD, "POST")
            .set_layer(SpanLayer::Http)
            .set_component(component::HTTP);
        {
            let mut check = rust2sky::local_span("check card").entered();
            check.log([("event", "card ok")]);
        }
        let mut outgoing = HashMap::new();
        let mut call = rust2sky::exit_span("POST:/charge", "bank:443", &mut outgoing);
        call.set_layer(SpanLayer::Http)
            .set_component(component::HTTP_CLIENT)
            .error("Timeout", &"the bank did not answer");
        assert!(outgoing.contains_key("sw8"));
    });
    assert!(tracer.flush(PATIENCE));

    let made = memory.segments();
    let arrived = collector.segments();
    assert_eq!(
        arrived, made,
        "the collector got the segment exactly as made"
    );
    let segment = &arrived[0];
    assert_eq!(segment.trace_id, "8d2f0b8ec2b411ee9b2a0242ac120002");
    assert_eq!(
        (segment.service.as_str(), segment.service_instance.as_str()),
        ("payments", "payments-1")
    );
    assert!(!segment.is_size_limited);
    // Spans are listed as they ended, as the Java agent lists them.
    let [check, call, entry] = &segment.spans[..] else {
        panic!("three spans: {:?}", segment.spans);
    };
    assert_eq!((entry.span_id, entry.parent_span_id), (0, -1));
    assert_eq!(entry.span_type(), SpanType::Entry);
    assert_eq!(entry.span_layer(), SpanLayer::Http);
    assert_eq!(entry.component_id, component::HTTP);
    assert_eq!(entry.tags[0].key, "http.method");
    assert_eq!(entry.tags[0].value, "POST");
    let parent = &entry.refs[0];
    assert_eq!(parent.ref_type(), RefType::CrossProcess);
    assert_eq!(
        parent.parent_trace_segment_id,
        "8d2f0e36c2b411ee9b2a0242ac120002"
    );
    assert_eq!(parent.parent_span_id, 3);
    assert_eq!(parent.parent_service, "checkout");
    assert_eq!(parent.parent_service_instance, "a1b2@10.0.0.7");
    assert_eq!(parent.parent_endpoint, "GET:/cart/{id}");
    assert_eq!(parent.network_address_used_at_peer, "payments:8080");
    assert_eq!((check.span_id, check.parent_span_id), (1, 0));
    assert_eq!(check.span_type(), SpanType::Local);
    assert_eq!(check.logs[0].data[0].value, "card ok");
    assert_eq!((call.span_id, call.parent_span_id), (2, 0));
    assert_eq!(call.span_type(), SpanType::Exit);
    assert_eq!(call.peer, "bank:443");
    assert!(call.is_error);
    assert!(entry.start_time <= call.start_time && call.end_time <= entry.end_time);

    let stats = grpc.stats();
    assert_eq!((stats.produced, stats.sent, stats.queued), (1, 1, 0));
    assert!(grpc.is_connected());
}

#[test]
fn instance_properties_and_heartbeats_arrive() {
    let collector = Collector::start().unwrap();
    let config = service_config(&[collector.backend()], |config| {
        config
            .namespace("shop")
            .heartbeat_period(Duration::from_millis(100))
            .properties_report_period_factor(3)
    });
    let _reporter = GrpcReporter::builder(&config)
        .property("team", "payments")
        .start()
        .unwrap();

    let received = collector.wait_until(PATIENCE, |received| {
        received.instance_properties.len() >= 2 && received.pings.len() >= 4
    });
    // At connect, then every third heartbeat; keepAlive on the others.
    assert!(received.instance_properties.len() >= 2, "{received:?}");
    assert!(received.pings.len() >= 4, "{received:?}");
    let properties = &received.instance_properties[0];
    assert_eq!(properties.service, "payments");
    assert_eq!(properties.service_instance, "payments-1");
    let value = |key: &str| {
        properties
            .properties
            .iter()
            .find(|pair| pair.key == key)
            .map(|pair| pair.value.clone())
    };
    assert_eq!(value("language").as_deref(), Some("rust"));
    assert_eq!(
        value("Process No."),
        Some(std::process::id().to_string()),
        "{properties:?}"
    );
    assert_eq!(value("namespace").as_deref(), Some("shop"));
    assert_eq!(value("team").as_deref(), Some("payments"));
    assert!(value("OS Name").is_some() && value("hostname").is_some());
    assert!(
        value("agent_version").is_some_and(|version| !version.is_empty()),
        "{properties:?}"
    );
    let ping = &received.pings[0];
    assert_eq!(
        (ping.service.as_str(), ping.service_instance.as_str()),
        ("payments", "payments-1")
    );
}

#[test]
fn the_authentication_token_goes_with_every_call() {
    let collector = Collector::builder()
        .authentication("s3cret")
        .start()
        .unwrap();
    let config = service_config(&[collector.backend()], |config| {
        config
            .authentication("s3cret")
            .heartbeat_period(Duration::from_millis(100))
    });
    let reporter = start_reporter(&config);
    for segment in segments(3) {
        reporter.report(segment);
    }
    assert!(reporter.flush(PATIENCE));
    let received = collector.wait_until(PATIENCE, |received| !received.pings.is_empty());
    assert_eq!(received.segments.len(), 3);
    assert!(!received.pings.is_empty());
    assert_eq!(received.unauthenticated, 0);
    assert!(
        received
            .authentication
            .iter()
            .all(|token| token.as_deref() == Some("s3cret")),
        "{:?}",
        received.authentication
    );
}

#[test]
fn a_wrong_token_is_refused_and_nothing_breaks() {
    let collector = Collector::builder()
        .authentication("s3cret")
        .start()
        .unwrap();
    let config = service_config(&[collector.backend()], |config| {
        config.authentication("guess")
    });
    let reporter = start_reporter(&config);
    reporter.report(segments(1).remove(0));
    let received = collector.wait_until(PATIENCE, |received| received.unauthenticated >= 2);
    assert!(
        received.unauthenticated >= 2,
        "it keeps trying, with backoff"
    );
    assert!(received.segments.is_empty());
    assert!(!reporter.is_connected());
    // The segment waits for a collector that takes it.
    assert!(!reporter.flush(Duration::from_millis(200)));
    assert_eq!(reporter.stats().queued, 1);
}

/// A certificate authority made for one test.
pub(crate) struct TestCa {
    pub(crate) pem: String,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl TestCa {
    pub(crate) fn new() -> TestCa {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let pem = params.self_signed(&key).unwrap().pem();
        TestCa {
            pem,
            issuer: Issuer::new(params, key),
        }
    }

    /// A certificate for `name` that this CA signed, and its key, as PEM.
    pub(crate) fn issue(&self, name: &str) -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let certificate = rcgen::CertificateParams::new(vec![name.to_owned()])
            .unwrap()
            .signed_by(&key, &self.issuer)
            .unwrap();
        (certificate.pem(), key.serialize_pem())
    }
}

/// A folder for one test's files, removed at the end.
pub(crate) struct TempDir(pub(crate) std::path::PathBuf);

impl TempDir {
    pub(crate) fn new(name: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("rust2sky-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    pub(crate) fn write(&self, file: &str, contents: &str) -> std::path::PathBuf {
        let path = self.0.join(file);
        std::fs::write(&path, contents).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn tls_to_a_collector_with_a_self_signed_ca() {
    let ca = TestCa::new();
    let (certificate, key) = ca.issue("127.0.0.1");
    let collector = Collector::builder()
        .tls(certificate, key, None)
        .start()
        .unwrap();
    let files = TempDir::new("tls");
    let ca_path = files.write("ca.pem", &ca.pem);
    let config = service_config(&[collector.backend()], |config| {
        config.ssl_trusted_ca_path(&ca_path)
    });
    let reporter = start_reporter(&config);
    for segment in segments(2) {
        reporter.report(segment);
    }
    assert!(reporter.flush(PATIENCE));
    assert_eq!(collector.segments().len(), 2);

    // The same collector, trusted through another CA: the handshake fails, cleanly.
    let other_path = files.write("other-ca.pem", &TestCa::new().pem);
    let config = service_config(&[collector.backend()], |config| {
        config.ssl_trusted_ca_path(&other_path)
    });
    let refused = start_reporter(&config);
    refused.report(segments(1).remove(0));
    assert!(!refused.flush(Duration::from_secs(1)));
    assert!(!refused.is_connected());
    assert_eq!(refused.stats().queued, 1);
    assert_eq!(collector.segments().len(), 2);
}

#[test]
fn mutual_tls_needs_the_client_certificate() {
    let ca = TestCa::new();
    let (certificate, key) = ca.issue("127.0.0.1");
    let collector = Collector::builder()
        .tls(certificate, key, Some(ca.pem.as_bytes()))
        .start()
        .unwrap();
    let files = TempDir::new("mtls");
    let ca_path = files.write("ca.pem", &ca.pem);
    let (client_certificate, client_key) = ca.issue("payments");
    let certificate_path = files.write("client.pem", &client_certificate);
    let key_path = files.write("client.key", &client_key);

    let config = service_config(&[collector.backend()], |config| {
        config
            .ssl_trusted_ca_path(&ca_path)
            .ssl_cert_chain_path(&certificate_path)
            .ssl_key_path(&key_path)
    });
    let reporter = start_reporter(&config);
    reporter.report(segments(1).remove(0));
    assert!(reporter.flush(PATIENCE));
    assert_eq!(collector.segments().len(), 1);

    // Without a client certificate the collector refuses the connection.
    let config = service_config(&[collector.backend()], |config| {
        config.ssl_trusted_ca_path(&ca_path)
    });
    let anonymous = start_reporter(&config);
    anonymous.report(segments(1).remove(0));
    assert!(!anonymous.flush(Duration::from_secs(1)));
    assert_eq!(anonymous.stats().queued + anonymous.stats().failed, 1);
    assert_eq!(collector.segments().len(), 1);
}

#[test]
fn a_bad_tls_file_is_an_error_at_start() {
    let files = TempDir::new("bad-tls");
    let not_pem = files.write("ca.pem", "not a certificate");
    let config = service_config(&["127.0.0.1:11800".to_owned()], |config| {
        config.ssl_trusted_ca_path(&not_pem)
    });
    let error = GrpcReporter::start(&config).unwrap_err().to_string();
    assert!(
        error.contains("ca.pem") && error.contains("not PEM"),
        "{error}"
    );

    let config = service_config(&["127.0.0.1:11800".to_owned()], |config| {
        config.ssl_trusted_ca_path(files.0.join("missing.pem"))
    });
    let error = GrpcReporter::start(&config).unwrap_err().to_string();
    assert!(error.contains("missing.pem"), "{error}");
}

#[test]
fn a_collector_that_starts_late_gets_everything_queued() {
    let address = free_address();
    let config = service_config(&[address.to_string()], |config| config);
    let reporter = start_reporter(&config);
    let made = segments(100);
    for segment in made.clone() {
        reporter.report(segment);
    }
    std::thread::sleep(Duration::from_secs(3));
    assert!(!reporter.is_connected());
    assert_eq!(reporter.stats().queued, 100);

    let collector = Collector::builder().address(address).start().unwrap();
    assert!(reporter.flush(PATIENCE));
    assert_eq!(
        segment_ids(collector.segments()),
        segment_ids(made.iter().map(FinishedSegment::to_proto))
    );
    let stats = reporter.stats();
    assert_eq!((stats.sent, stats.failed, stats.dropped_full), (100, 0, 0));
}

#[test]
fn reporting_resumes_after_the_collector_is_killed_and_restarted() {
    let first = Collector::builder()
        .segment_delay(Duration::from_millis(2))
        .start()
        .unwrap();
    let address = first.address();
    let config = service_config(&[first.backend()], |config| config);
    let reporter = GrpcReporter::builder(&config)
        .batch_size(100)
        .backoff(Duration::from_millis(50), Duration::from_millis(400))
        .start()
        .unwrap();
    let made = segments(2_000);
    for segment in made.clone() {
        reporter.report(segment);
    }
    // Killed in the middle of a stream.
    first.wait_until(PATIENCE, |received| received.segments.len() >= 250);
    let before_kill = first.segments();
    first.stop();

    let second = Collector::builder().address(address).start().unwrap();
    // The stream that was cut fails before or during this flush, depending on when the client
    // notices: what flush returns says which, so only the counts are checked.
    reporter.flush(PATIENCE);
    let stats = reporter.stats();
    assert_eq!(stats.produced, 2_000);
    assert_eq!(stats.queued, 0);
    assert_eq!(
        stats.produced,
        stats.sent + stats.dropped_full + stats.failed,
        "{stats:?}"
    );
    assert!(
        (1..=100).contains(&stats.failed),
        "only the stream in flight: {stats:?}"
    );
    let after_restart = second.segments();
    assert!(!after_restart.is_empty());
    let mut arrived = segment_ids(before_kill);
    arrived.extend(segment_ids(after_restart));
    assert!(arrived.is_subset(&segment_ids(made.iter().map(FinishedSegment::to_proto))));
    assert!(
        arrived.len() as u64 >= stats.sent,
        "every acknowledged segment arrived: {} < {stats:?}",
        arrived.len()
    );
}

#[test]
fn a_slow_collector_does_not_slow_report() {
    let collector = Collector::builder()
        .segment_delay(Duration::from_millis(20))
        .start()
        .unwrap();
    let config = service_config(&[collector.backend()], |config| config);
    let reporter = start_reporter(&config);
    let made = segments(2_000);
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    for segment in made {
        let call = Instant::now();
        reporter.report(segment);
        slowest = slowest.max(call.elapsed());
    }
    let took = started.elapsed();
    // The collector needs 40 s for these; report() hands them off without waiting.
    assert!(took < Duration::from_secs(2), "2,000 reports took {took:?}");
    assert!(
        slowest < Duration::from_millis(200),
        "slowest report: {slowest:?}"
    );
    assert!(collector.segments().len() < 2_000);
    assert!(reporter.stats().queued > 0);
}

#[test]
fn a_burst_past_the_queue_is_counted_exactly() {
    let collector = Collector::start().unwrap();
    let config = service_config(&[collector.backend()], |config| {
        config.max_send_queue_size(30_000)
    });
    let reporter = start_reporter(&config);
    let made = segments(50_000);
    for segment in made {
        reporter.report(segment);
    }
    assert!(reporter.flush(PATIENCE));
    let stats = reporter.stats();
    assert_eq!(stats.produced, 50_000);
    assert_eq!(stats.failed, 0);
    assert_eq!(stats.queued, 0);
    assert!(
        stats.dropped_full >= 1,
        "a burst faster than the network: {stats:?}"
    );
    assert_eq!(stats.produced, stats.sent + stats.dropped_full);
    assert_eq!(collector.segments().len() as u64, stats.sent);
}

#[test]
fn a_burst_within_the_queue_loses_nothing() {
    let collector = Collector::start().unwrap();
    let config = service_config(&[collector.backend()], |config| {
        config.max_send_queue_size(60_000)
    });
    let reporter = start_reporter(&config);
    let made = segments(50_000);
    let ids = segment_ids(made.iter().map(FinishedSegment::to_proto));
    for segment in made {
        reporter.report(segment);
    }
    assert!(reporter.flush(PATIENCE));
    let stats = reporter.stats();
    assert_eq!(
        (stats.produced, stats.sent, stats.dropped_full, stats.failed),
        (50_000, 50_000, 0, 0)
    );
    assert_eq!(segment_ids(collector.segments()), ids);
}

#[test]
fn flush_delivers_everything_queued_before_it_returns() {
    let collector = Collector::start().unwrap();
    let config = service_config(&[collector.backend()], |config| config);
    let reporter = start_reporter(&config);
    let made = segments(10_000);
    let ids = segment_ids(made.iter().map(FinishedSegment::to_proto));
    for segment in made {
        reporter.report(segment);
    }
    assert!(
        reporter.stats().queued > 0,
        "still queued when flush starts"
    );
    assert!(reporter.flush(PATIENCE));
    // No waiting here: flush returned after the collector acknowledged all of them.
    assert_eq!(segment_ids(collector.segments()), ids);
}

#[tokio::test]
async fn flush_works_inside_a_tokio_runtime() {
    let collector = Collector::start().unwrap();
    let config = service_config(&[collector.backend()], |config| config);
    let reporter = start_reporter(&config);
    let tracer = Tracer::new(config, reporter.clone());
    use rust2sky::FutureExt as _;
    async {
        let _span = rust2sky::local_span("in a task").entered();
    }
    .with_tracer(&tracer)
    .await;
    // A blocking flush from async code (as a guard dropped at the end of `#[tokio::main]`): no
    // `block_on` inside, so no "runtime within a runtime" panic.
    assert!(tracer.flush(PATIENCE));
    assert_eq!(collector.segments()[0].spans[0].operation_name, "in a task");
}

#[test]
fn a_failing_backend_is_skipped_for_the_next() {
    let collector = Collector::start().unwrap();
    let down = free_address().to_string();
    let config = service_config(&[down, collector.backend()], |config| config);
    let reporter = start_reporter(&config);
    for segment in segments(5) {
        reporter.report(segment);
    }
    assert!(reporter.flush(PATIENCE));
    assert_eq!(collector.segments().len(), 5);
}

/// A port that takes TCP connections and closes them at once, recording when each came: a
/// collector that is down, whose connection attempts can be counted.
struct Refuser {
    address: SocketAddr,
    attempts: Arc<Mutex<Vec<Instant>>>,
    stop: Arc<AtomicBool>,
}

impl Refuser {
    fn start() -> Refuser {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap();
        let attempts = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen, stopped) = (Arc::clone(&attempts), Arc::clone(&stop));
        std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((connection, _)) => {
                        seen.lock().unwrap().push(Instant::now());
                        drop(connection);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        Refuser {
            address,
            attempts,
            stop,
        }
    }
}

impl Drop for Refuser {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[test]
fn connection_attempts_follow_the_backoff_schedule() {
    let down = Refuser::start();
    let config = service_config(&[down.address.to_string()], |config| config);
    let reporter = GrpcReporter::builder(&config)
        .backoff(Duration::from_millis(100), Duration::from_millis(800))
        .start()
        .unwrap();
    reporter.report(segments(1).remove(0));
    std::thread::sleep(Duration::from_secs(4));
    let attempts = down.attempts.lock().unwrap().clone();
    drop(reporter);

    // Waits of 100, 200, 400, 800, 800, ... ms, each ±20 %: 7 to 9 attempts in 4 s, not
    // thousands. A loaded machine may run late, never early.
    assert!(
        (4..=10).contains(&attempts.len()),
        "{} attempts",
        attempts.len()
    );
    let nominal = [100, 200, 400, 800, 800, 800, 800, 800, 800];
    for (gap, nominal) in attempts.windows(2).map(|w| w[1] - w[0]).zip(nominal) {
        let nominal = Duration::from_millis(nominal);
        assert!(
            gap >= nominal.mul_f64(0.75)
                && gap <= nominal.mul_f64(1.25) + Duration::from_millis(500),
            "a wait of {gap:?} where {nominal:?} ±20 % was due; all: {attempts:?}"
        );
    }
}

#[test]
fn the_collectors_dynamic_configuration_applies_live() {
    let collector = Collector::builder()
        .configuration("v1", [("agent.sample_rate", "0")])
        .start()
        .unwrap();
    let config = service_config(&[collector.backend()], |config| {
        config.config_discovery_interval(Duration::from_millis(100))
    });
    let reporter = start_reporter(&config);
    let tracer = Tracer::new(config, reporter.clone());
    let request = |operation: &str, locals: usize| {
        tracer.in_scope(|| {
            let _entry = rust2sky::entry_span(operation, &NoHeaders).entered();
            for _ in 0..locals {
                let _local = rust2sky::local_span("step").entered();
            }
        })
    };
    let wait_for_version = |uuid: &str| {
        let deadline = Instant::now() + PATIENCE;
        while reporter
            .dynamic_config()
            .is_none_or(|config| config.uuid() != uuid)
        {
            assert!(Instant::now() < deadline, "{uuid} never arrived");
            std::thread::sleep(Duration::from_millis(20));
        }
    };

    wait_for_version("v1");
    let received = collector.wait_until(PATIENCE, |received| {
        received.configuration_requests.len() >= 2
    });
    assert_eq!(received.configuration_requests[0].service, "payments");
    assert_eq!(received.configuration_requests[0].uuid, "");
    // The agent sends back the version it has, as the OAP expects.
    assert_eq!(received.configuration_requests[1].uuid, "v1");
    assert_eq!(tracer.live_settings().sample_rate(), Some(0.0));
    for _ in 0..100 {
        request("GET:/pay", 0);
    }
    assert_eq!(
        reporter.stats().produced,
        0,
        "sample rate 0: nothing recorded"
    );

    // An empty value gives the local sample rate (1) back; the other keys the Java agent knows.
    collector.set_configuration(
        "v2",
        [
            ("agent.sample_rate", ""),
            ("agent.span_limit_per_segment", "3"),
            ("agent.trace.ignore_path", "/health"),
        ],
    );
    wait_for_version("v2");
    request("GET:/health", 0);
    request("GET:/pay", 5);
    assert!(reporter.flush(PATIENCE));
    let segments = collector.segments();
    assert_eq!(segments.len(), 1, "/health is ignored");
    assert_eq!(segments[0].spans.len(), 3);
    assert!(segments[0].is_size_limited);

    // A configuration without those keys gives every local setting back.
    collector.set_configuration("v3", [("agent.unknown_key", "kept, not applied")]);
    wait_for_version("v3");
    request("GET:/health", 0);
    request("GET:/pay", 5);
    assert!(reporter.flush(PATIENCE));
    let segments = collector.segments();
    assert_eq!(segments.len(), 3);
    assert_eq!(segments[2].spans.len(), 6);
    assert_eq!(
        reporter.dynamic_config().unwrap().get("agent.unknown_key"),
        Some("kept, not applied")
    );
}

/// Waits until `done` holds for the reporter's segment counts, checking at every look that they
/// add up exactly; returns the counts that satisfied it.
fn watch_counts(
    stats: impl Fn() -> rust2sky::reporter::ReporterStats,
    done: impl Fn(&rust2sky::reporter::ReporterStats) -> bool,
) -> rust2sky::reporter::ReporterStats {
    let started = Instant::now();
    loop {
        let now = stats();
        assert_eq!(
            now.produced,
            now.sent + now.dropped_full + now.failed + now.queued,
            "{now:?}"
        );
        if done(&now) {
            return now;
        }
        assert!(started.elapsed() < PATIENCE, "never done: {now:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn the_longest_timeouts_and_periods_do_not_stop_the_reporter() {
    let collector = Collector::start().unwrap();
    let config = service_config(&[collector.backend()], |config| {
        config
            .heartbeat_period(Duration::MAX)
            .meter_report_interval(Duration::MAX)
    });
    let reporter = GrpcReporter::builder(&config)
        .rpc_timeout(Duration::MAX)
        .backoff(Duration::MAX, Duration::MAX)
        .start()
        .unwrap();
    let made = segments(10);
    let ids = segment_ids(made.iter().map(FinishedSegment::to_proto));
    for segment in made {
        reporter.report(segment);
    }
    assert!(reporter.flush(PATIENCE), "{:?}", reporter.stats());
    assert_eq!(segment_ids(collector.segments()), ids);
    assert!(!reporter.stats().stopped);

    // With no collector, every attempt fails and the longest backoff follows.
    let down = service_config(&[free_address().to_string()], |config| config);
    let reporter = GrpcReporter::builder(&down)
        .backoff(Duration::MAX, Duration::MAX)
        .start()
        .unwrap();
    reporter.report(segments(1).remove(0));
    std::thread::sleep(Duration::from_secs(1));
    let stats = reporter.stats();
    assert!(!stats.stopped, "{stats:?}");
    assert_eq!((stats.queued, stats.failed), (1, 0));
}

#[test]
fn a_collector_without_a_log_receiver_keeps_segments_flowing() {
    let collector = Collector::builder().serve_logs(false).start().unwrap();
    let config = service_config(&[collector.backend()], |config| config);
    let reporter = start_reporter(&config);
    let mut made = HashSet::new();
    for round in 0..5 {
        for line in 0..20 {
            reporter.report_log(rust2sky::logging::log_data(
                "WARN",
                "orders",
                format!("round {round} line {line}"),
                [],
            ));
        }
        let batch = segments(20);
        made.extend(segment_ids(batch.iter().map(FinishedSegment::to_proto)));
        for segment in batch {
            reporter.report(segment);
        }
        // The logs fail (before or during the flush: what it returns says which).
        reporter.flush(PATIENCE);
    }
    let stats = reporter.transport_stats();
    assert_eq!(
        (
            stats.segments.sent,
            stats.segments.failed,
            stats.segments.queued
        ),
        (100, 0, 0)
    );
    assert_eq!(
        (stats.logs.produced, stats.logs.failed, stats.logs.queued),
        (100, 100, 0)
    );
    assert_eq!(segment_ids(collector.segments()), made);
    let received = collector.received();
    assert!(received.logs.is_empty());
    assert_eq!(
        received.instance_properties.len(),
        1,
        "the link was never torn down"
    );
    assert!(reporter.is_connected());
}

#[test]
fn a_slow_collector_gets_streams_it_can_finish_and_every_arrival_counts_as_sent() {
    // 100 segments a second, and a deadline of 2 s: one stream of all 300 would take 3 s.
    let collector = Collector::builder()
        .segment_delay(Duration::from_millis(10))
        .start()
        .unwrap();
    let config = service_config(&[collector.backend()], |config| config);
    let reporter = GrpcReporter::builder(&config)
        .rpc_timeout(Duration::from_secs(2))
        .backoff(Duration::from_millis(50), Duration::from_millis(400))
        .start()
        .unwrap();
    let made = segments(300);
    let ids = segment_ids(made.iter().map(FinishedSegment::to_proto));
    for segment in made {
        reporter.report(segment);
    }
    let stats = watch_counts(|| reporter.stats(), |stats| stats.queued == 0);
    assert_eq!((stats.sent, stats.failed, stats.dropped_full), (300, 0, 0));
    let received = collector.received();
    assert_eq!(received.segment_count, stats.sent);
    assert_eq!(segment_ids(received.segments), ids);
    assert!(
        received.segment_streams > 1,
        "the batch went in several streams"
    );
    assert_eq!(
        received.instance_properties.len(),
        1,
        "the link was never torn down"
    );
}

#[test]
fn the_queue_holds_at_most_its_bytes_while_the_collector_is_down() {
    const BOUND: usize = 1024 * 1024;
    let config = service_config(&[free_address().to_string()], |config| {
        config.max_send_queue_bytes(BOUND)
    });
    let reporter = start_reporter(&config);
    let memory = MemoryReporter::new();
    let tracer = Tracer::new(config, memory.clone());
    let url = "x".repeat(50_000);
    tracer.in_scope(|| {
        for _ in 0..100 {
            let mut entry = rust2sky::entry_span("GET:/search", &NoHeaders).entered();
            entry.tag(tags::URL, &url);
        }
    });
    for segment in memory.take_finished() {
        reporter.report(segment);
    }
    let stats = reporter.stats();
    assert!(
        stats.queued_bytes <= BOUND as u64,
        "the bound is respected: {stats:?}"
    );
    assert!(
        stats.queued_bytes >= 50_000 * stats.queued,
        "every segment weighs at least its text: {stats:?}"
    );
    assert!((1..100).contains(&stats.queued), "{stats:?}");
    assert_eq!(stats.produced, 100);
    assert_eq!(
        stats.produced,
        stats.queued + stats.dropped_full,
        "{stats:?}"
    );
}

#[test]
fn dropping_the_reporter_mid_stream_neither_panics_nor_hangs_and_the_counts_add_up() {
    let collector = Collector::builder()
        .segment_delay(Duration::from_millis(20))
        .start()
        .unwrap();
    let config = service_config(&[collector.backend()], |config| config);
    let reporter = start_reporter(&config);
    let counts = reporter.counts();
    let tracer = Tracer::new(config, reporter.clone());
    tracer.in_scope(|| {
        for _ in 0..500 {
            let _entry = rust2sky::entry_span("GET:/pay", &NoHeaders).entered();
        }
    });
    collector.wait_until(PATIENCE, |received| received.segment_count >= 10);

    let dropping = Instant::now();
    drop(tracer);
    drop(reporter);
    assert!(dropping.elapsed() < Duration::from_secs(1));

    let stats = watch_counts(|| counts.stats(), |stats| stats.stopped);
    assert_eq!(stats.produced, 500);
    assert_eq!(stats.queued, 0);
    assert!(stats.failed >= 1, "a stream was in flight: {stats:?}");
    assert!(
        stats.sent <= collector.received().segment_count,
        "every segment counted as sent arrived: {stats:?}"
    );
}
