//! What travels to a collector besides segments: through the gRPC reporter's `Transport`
//! methods, and from the log bridges into a transport of the application's own.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rust2sky::config::Config;
use rust2sky::logging::SkyWalkingLayer;
use rust2sky::proto::v3::{InstancePingPkg, KeyStringValuePair, LogData, MeterData};
use rust2sky::proto::v3::{MeterSingleValue, log_data_body::Content, meter_data::Metric};
use rust2sky::reporter::{FinishedSegment, GrpcReporter, Management, Reporter, Transport};
use rust2sky::testing::Collector;
use tracing_subscriber::layer::SubscriberExt as _;

const PATIENCE: Duration = Duration::from_secs(20);

/// A transport that keeps what it is given, as an application's own would send it elsewhere.
#[derive(Debug, Default)]
struct Recording {
    logs: Mutex<Vec<LogData>>,
}

impl Reporter for Recording {
    fn report(&self, _segment: FinishedSegment) {}
}

impl Transport for Recording {
    fn report_log(&self, log: LogData) {
        self.logs.lock().unwrap().push(log);
    }

    fn report_meters(&self, _meters: Vec<MeterData>) {}

    fn log_level(&self) -> log::LevelFilter {
        log::LevelFilter::Info
    }
}

#[test]
fn the_tracing_bridge_sends_events_to_a_transport_of_the_applications_own() {
    let transport = Arc::new(Recording::default());
    let subscriber = tracing_subscriber::registry().with(SkyWalkingLayer::new(transport.clone()));
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!(order = 7, "order paid");
        tracing::debug!("below the transport's level: not sent");
    });

    let logs = transport.logs.lock().unwrap();
    assert_eq!(logs.len(), 1);
    let Some(Content::Text(text)) = logs[0].body.as_ref().and_then(|body| body.content.as_ref())
    else {
        panic!("a text body: {:?}", logs[0]);
    };
    assert_eq!(text.text, "order paid");
    let tags = &logs[0].tags.as_ref().unwrap().data;
    let order = tags.iter().find(|tag| tag.key == "order");
    assert_eq!(order.map(|tag| tag.value.as_str()), Some("7"));
}

#[test]
fn meters_and_keep_alives_handed_to_the_grpc_reporter_arrive_and_are_counted() {
    let collector = Collector::start().unwrap();
    let config = Config::builder()
        .service_name("stock")
        .instance_name("stock-1")
        .backends([collector.backend()])
        .meter_report_interval(Duration::ZERO)
        .build_with_env(|_| None)
        .unwrap();
    let reporter = GrpcReporter::start(&config).unwrap();

    reporter.report_meters(vec![MeterData {
        service: "stock".to_owned(),
        service_instance: "stock-1".to_owned(),
        timestamp: 1_700_000_000_000,
        metric: Some(Metric::SingleValue(MeterSingleValue {
            name: "it_stock_level".to_owned(),
            labels: Vec::new(),
            value: 12.0,
        })),
    }]);
    reporter.report_management(Management::KeepAlive(InstancePingPkg {
        service: "stock".to_owned(),
        service_instance: "stock-1".to_owned(),
        layer: "GENERAL".to_owned(),
    }));

    let received = collector.wait_until(PATIENCE, |received| {
        !received.meters.is_empty() && received.pings.iter().any(|ping| ping.layer == "GENERAL")
    });
    let meter = &received.meters[0];
    assert_eq!(
        (meter.service.as_str(), meter.timestamp),
        ("stock", 1_700_000_000_000)
    );
    let Some(Metric::SingleValue(value)) = &meter.metric else {
        panic!("a single value: {meter:?}");
    };
    assert_eq!((value.name.as_str(), value.value), ("it_stock_level", 12.0));
    let ping = received
        .pings
        .iter()
        .find(|ping| ping.layer == "GENERAL")
        .unwrap();
    assert_eq!(ping.service_instance, "stock-1");
    // The properties went out when the connection was made, from the transport-neutral instance.
    let language = received.instance_properties[0]
        .properties
        .iter()
        .find(|pair: &&KeyStringValuePair| pair.key == "language");
    assert_eq!(language.map(|pair| pair.value.as_str()), Some("rust"));

    assert!(reporter.flush(PATIENCE));
    let stats = reporter.transport_stats();
    assert_eq!((stats.meters.produced, stats.meters.sent), (1, 1));
    assert_eq!((stats.management.produced, stats.management.sent), (1, 1));
    assert_eq!(stats.segments.produced, 0);
}
