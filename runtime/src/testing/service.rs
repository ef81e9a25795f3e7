//! The gRPC services a collector serves, as the OAP does, recording every call.

use std::sync::Arc;
use std::time::Duration;

use rust2sky_proto::v3::configuration_discovery_service_server::ConfigurationDiscoveryService;
use rust2sky_proto::v3::log_report_service_server::LogReportService;
use rust2sky_proto::v3::management_service_server::ManagementService;
use rust2sky_proto::v3::meter_report_service_server::MeterReportService;
use rust2sky_proto::v3::trace_segment_report_service_server::TraceSegmentReportService;
use rust2sky_proto::v3::{
    Command, Commands, ConfigurationSyncRequest, InstancePingPkg, InstanceProperties,
    KeyStringValuePair, LogData, MeterData, MeterDataCollection, SegmentCollection, SegmentObject,
};
use tonic::{Request, Response, Status, Streaming};

use super::state::{DynamicConfiguration, State};

/// The gRPC services, all recording into one [`State`].
#[derive(Clone)]
pub(super) struct Service {
    pub(super) state: Arc<State>,
    pub(super) authentication: Option<String>,
    pub(super) segment_delay: Duration,
    pub(super) keep_last: usize,
}

impl Service {
    /// Records the call's token, and refuses the call if it is not the one required.
    fn admit<T>(&self, request: &Request<T>) -> Result<(), Status> {
        let token = request
            .metadata()
            .get("authentication")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let refused = self
            .authentication
            .as_ref()
            .is_some_and(|required| token.as_ref() != Some(required));
        self.state.record(|received| {
            push_bounded(&mut received.authentication, token, self.keep_last);
            received.unauthenticated += usize::from(refused);
        });
        if refused {
            return Err(Status::unauthenticated(
                "wrong or missing authentication token",
            ));
        }
        Ok(())
    }

    fn keep(&self, segments: impl IntoIterator<Item = SegmentObject>) {
        self.state.record(|received| {
            for segment in segments {
                received.segment_count += 1;
                push_bounded(&mut received.segments, segment, self.keep_last);
            }
        });
    }
}

#[tonic::async_trait]
impl TraceSegmentReportService for Service {
    async fn collect(
        &self,
        request: Request<Streaming<SegmentObject>>,
    ) -> Result<Response<Commands>, Status> {
        self.admit(&request)?;
        self.state.record(|received| received.segment_streams += 1);
        let mut stream = request.into_inner();
        while let Some(segment) = stream.message().await? {
            if !self.segment_delay.is_zero() {
                tokio::time::sleep(self.segment_delay).await;
            }
            self.keep([segment]);
        }
        Ok(Response::new(Commands::default()))
    }

    async fn collect_in_sync(
        &self,
        request: Request<SegmentCollection>,
    ) -> Result<Response<Commands>, Status> {
        self.admit(&request)?;
        self.keep(request.into_inner().segments);
        Ok(Response::new(Commands::default()))
    }
}

#[tonic::async_trait]
impl ManagementService for Service {
    async fn report_instance_properties(
        &self,
        request: Request<InstanceProperties>,
    ) -> Result<Response<Commands>, Status> {
        self.admit(&request)?;
        let properties = request.into_inner();
        self.state.record(|received| {
            push_bounded(
                &mut received.instance_properties,
                properties,
                self.keep_last,
            )
        });
        Ok(Response::new(Commands::default()))
    }

    async fn keep_alive(
        &self,
        request: Request<InstancePingPkg>,
    ) -> Result<Response<Commands>, Status> {
        self.admit(&request)?;
        let ping = request.into_inner();
        self.state
            .record(|received| push_bounded(&mut received.pings, ping, self.keep_last));
        Ok(Response::new(Commands::default()))
    }
}

#[tonic::async_trait]
impl LogReportService for Service {
    async fn collect(
        &self,
        request: Request<Streaming<LogData>>,
    ) -> Result<Response<Commands>, Status> {
        self.admit(&request)?;
        let mut stream = request.into_inner();
        while let Some(log) = stream.message().await? {
            self.state
                .record(|received| push_bounded(&mut received.logs, log, self.keep_last));
        }
        Ok(Response::new(Commands::default()))
    }
}

#[tonic::async_trait]
impl MeterReportService for Service {
    async fn collect(
        &self,
        request: Request<Streaming<MeterData>>,
    ) -> Result<Response<Commands>, Status> {
        self.admit(&request)?;
        let mut stream = request.into_inner();
        while let Some(meter) = stream.message().await? {
            self.state
                .record(|received| push_bounded(&mut received.meters, meter, self.keep_last));
        }
        Ok(Response::new(Commands::default()))
    }

    async fn collect_batch(
        &self,
        request: Request<Streaming<MeterDataCollection>>,
    ) -> Result<Response<Commands>, Status> {
        self.admit(&request)?;
        let mut stream = request.into_inner();
        while let Some(batch) = stream.message().await? {
            self.state.record(|received| {
                for meter in batch.meter_data {
                    push_bounded(&mut received.meters, meter, self.keep_last);
                }
            });
        }
        Ok(Response::new(Commands::default()))
    }
}

#[tonic::async_trait]
impl ConfigurationDiscoveryService for Service {
    async fn fetch_configurations(
        &self,
        request: Request<ConfigurationSyncRequest>,
    ) -> Result<Response<Commands>, Status> {
        self.admit(&request)?;
        let sync = request.into_inner();
        let configuration = self.state.configuration.lock().clone();
        let commands = match configuration {
            // As the OAP: nothing when the agent has this version already.
            Some(configuration) if configuration.uuid != sync.uuid => {
                vec![discovery_command(configuration)]
            }
            _ => Vec::new(),
        };
        self.state.record(|received| {
            push_bounded(&mut received.configuration_requests, sync, self.keep_last)
        });
        Ok(Response::new(Commands { commands }))
    }
}

/// The command the OAP sends: a fresh serial number, the version, then one argument per key.
fn discovery_command(configuration: DynamicConfiguration) -> Command {
    let pair = |key: &str, value: String| KeyStringValuePair {
        key: key.to_owned(),
        value,
    };
    let mut args = vec![
        pair("SerialNumber", crate::id::Id::generate().to_string()),
        pair("UUID", configuration.uuid),
    ];
    args.extend(
        configuration
            .values
            .into_iter()
            .map(|(key, value)| KeyStringValuePair { key, value }),
    );
    Command {
        command: "ConfigurationDiscoveryCommand".to_owned(),
        args,
    }
}

/// Adds `item` to `list`, first forgetting the oldest quarter when the list holds `limit` items:
/// the cost of forgetting is spread over the pushes that follow.
fn push_bounded<T>(list: &mut Vec<T>, item: T, limit: usize) {
    if limit == 0 {
        return;
    }
    if list.len() >= limit {
        list.drain(..(limit / 4).max(1));
    }
    list.push(item);
}
