//! A tonic client calling a tonic server over loopback, both traced by the tower layers: the
//! server wrapped in `EntryLayer`, the client's `Channel` in `ExitLayer`.

use std::time::Duration;

use rust2sky::config::Config;
use rust2sky::integrations::tower::{EntryLayer, ExitLayer};
use rust2sky::proto::v3::management_service_client::ManagementServiceClient;
use rust2sky::proto::v3::management_service_server::{ManagementService, ManagementServiceServer};
use rust2sky::proto::v3::{
    Commands, InstancePingPkg, InstanceProperties, RefType, SegmentObject, SpanLayer, SpanObject,
    SpanType,
};
use rust2sky::reporter::MemoryReporter;
use rust2sky::{FutureExt as _, Tracer};
use tonic::codegen::http::Uri;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Server};
use tonic::{Request, Response, Status};
use tower::Layer as _;

const DEADLINE: Duration = Duration::from_secs(10);
const KEEP_ALIVE: &str = "/skywalking.v3.ManagementService/keepAlive";

/// The "application": an implementation of SkyWalking's management service, which records a
/// local span of its own while it handles a ping.
struct Registry;

#[tonic::async_trait]
impl ManagementService for Registry {
    async fn report_instance_properties(
        &self,
        _request: Request<InstanceProperties>,
    ) -> Result<Response<Commands>, Status> {
        Ok(Response::new(Commands::default()))
    }

    async fn keep_alive(
        &self,
        request: Request<InstancePingPkg>,
    ) -> Result<Response<Commands>, Status> {
        let _store = rust2sky::local_span("store ping").entered();
        if request.get_ref().service.is_empty() {
            return Err(Status::invalid_argument("no service"));
        }
        Ok(Response::new(Commands::default()))
    }
}

fn tracer(service: &str) -> (Tracer, MemoryReporter) {
    let config = Config::builder()
        .service_name(service)
        .instance_name(format!("{service}-1"))
        .build_with_env(|_| None)
        .unwrap();
    let reporter = MemoryReporter::new();
    (Tracer::new(config, reporter.clone()), reporter)
}

fn only_span(segment: &SegmentObject, kind: SpanType) -> &SpanObject {
    let found: Vec<&SpanObject> = segment
        .spans
        .iter()
        .filter(|span| span.span_type() == kind)
        .collect();
    assert_eq!(found.len(), 1, "one {kind:?} span: {segment:#?}");
    found[0]
}

#[test]
fn a_traced_client_and_server_share_the_trace_across_grpc() {
    let (server_tracer, server_reporter) = tracer("registry");
    let (client_tracer, client_reporter) = tracer("agent");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let address = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = Server::builder()
            .layer(EntryLayer::new().with_tracer(server_tracer))
            .add_service(ManagementServiceServer::new(Registry))
            .serve_with_incoming(TcpIncoming::from(listener));
        tokio::spawn(server);
        address
    });
    let peer = address.to_string();

    let call = async {
        let origin: Uri = format!("http://{peer}").parse().unwrap();
        let channel = Channel::builder(origin.clone()).connect().await.unwrap();
        // With the origin, the requests reaching the layer carry the address: the channel alone
        // adds it only below the layer.
        let mut client =
            ManagementServiceClient::with_origin(ExitLayer::new().layer(channel), origin);
        let ping = InstancePingPkg {
            service: "agent".to_owned(),
            ..InstancePingPkg::default()
        };
        tokio::time::timeout(DEADLINE, client.keep_alive(ping)).await
    };
    // The heartbeat span starts inside, where `with_tracer` has made the client's tracer current.
    let answer = runtime.block_on(
        async { call.in_span(rust2sky::local_span("heartbeat")).await }.with_tracer(&client_tracer),
    );
    answer
        .expect("answered in time")
        .expect("the call succeeds");

    let client_segments = client_reporter.wait_for(1, DEADLINE);
    let server_segments = server_reporter.wait_for(1, DEADLINE);
    assert_eq!(client_segments.len(), 1, "{client_segments:#?}");
    assert_eq!(server_segments.len(), 1, "{server_segments:#?}");
    let (client, server) = (&client_segments[0], &server_segments[0]);
    assert_eq!(client.trace_id, server.trace_id, "one trace");
    assert_eq!(
        (client.service.as_str(), server.service.as_str()),
        ("agent", "registry")
    );

    let exit = only_span(client, SpanType::Exit);
    assert_eq!(exit.operation_name, KEEP_ALIVE);
    assert_eq!(exit.peer, peer);
    assert_eq!(exit.span_layer(), SpanLayer::RpcFramework);
    assert_eq!(exit.component_id, rust2sky::component::GRPC);
    assert_eq!(exit.parent_span_id, 0, "a child of the heartbeat span");
    assert!(!exit.is_error);

    let entry = only_span(server, SpanType::Entry);
    assert_eq!(entry.operation_name, KEEP_ALIVE, "the gRPC method path");
    assert_eq!(entry.span_layer(), SpanLayer::RpcFramework);
    assert_eq!(entry.component_id, rust2sky::component::GRPC);
    assert_eq!(entry.parent_span_id, -1);
    assert!(!entry.is_error);
    assert_eq!(entry.refs.len(), 1, "{entry:#?}");
    let reference = &entry.refs[0];
    assert_eq!(reference.ref_type(), RefType::CrossProcess);
    assert_eq!(reference.trace_id, client.trace_id);
    assert_eq!(reference.parent_trace_segment_id, client.trace_segment_id);
    assert_eq!(reference.parent_span_id, exit.span_id);
    assert_eq!(reference.parent_service, "agent");
    assert_eq!(reference.parent_service_instance, "agent-1");
    assert_eq!(
        reference.parent_endpoint, "heartbeat",
        "the client segment's first span, as it has no entry span"
    );
    assert_eq!(reference.network_address_used_at_peer, peer);

    let handler = only_span(server, SpanType::Local);
    assert_eq!(handler.operation_name, "store ping");
    assert_eq!(
        handler.parent_span_id, entry.span_id,
        "the handler's span is the entry's child"
    );
}
