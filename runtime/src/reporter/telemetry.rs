//! What an agent tells a collector about itself, built the same way for every transport: the
//! instance's properties and keepAlive, which of the two a heartbeat sends, and the meter
//! reports.

use std::sync::Arc;
use std::time::Duration;

use rust2sky_proto::v3::{
    InstancePingPkg, InstanceProperties, KeyStringValuePair, LogData, MeterData,
};

use super::lane::Lane;
use super::{Management, ReporterStats, TransportStats};
use crate::config::Config;
use crate::meter::ProcessMeters;

/// The Java agent reports at most this many `ipv4` properties.
const MAX_IPV4: usize = 10;

/// How long reading the meters may take before the report is skipped.
const GAUGE_BUDGET: Duration = Duration::from_secs(1);

/// The instance a transport speaks for: its names and properties.
#[derive(Debug)]
pub(crate) struct Instance {
    service: String,
    instance: String,
    properties: Vec<KeyStringValuePair>,
}

impl Instance {
    /// The instance `config` names, with the properties every official agent reports followed
    /// by `extra`.
    pub(crate) fn new(config: &Config, extra: &[(String, String)]) -> Instance {
        let mut properties = builtin_properties(config.namespace());
        properties.extend(extra.iter().map(|(key, value)| pair(key, value)));
        Instance {
            service: config.service_name().to_owned(),
            instance: config.instance_name().to_owned(),
            properties,
        }
    }

    pub(crate) fn service(&self) -> &str {
        &self.service
    }

    #[cfg(feature = "kafka")]
    pub(crate) fn instance(&self) -> &str {
        &self.instance
    }

    pub(crate) fn properties(&self) -> InstanceProperties {
        InstanceProperties {
            service: self.service.clone(),
            service_instance: self.instance.clone(),
            properties: self.properties.clone(),
            layer: String::new(),
        }
    }

    pub(crate) fn ping(&self) -> InstancePingPkg {
        InstancePingPkg {
            service: self.service.clone(),
            service_instance: self.instance.clone(),
            layer: String::new(),
        }
    }

    /// Names this instance in a log record that does not name its own: the OAP needs the
    /// service on the first record of a stream, and each record names its instance.
    pub(crate) fn fill_log(&self, log: &mut LogData) {
        if log.service.is_empty() {
            log.service.clone_from(&self.service);
        }
        if log.service_instance.is_empty() {
            log.service_instance.clone_from(&self.instance);
        }
    }
}

/// Which message each heartbeat sends: a keepAlive, and the properties every `factor` beats
/// (`collector.properties_report_period_factor`), counted from the connection it goes on.
#[derive(Debug)]
pub(crate) struct Heartbeat {
    factor: u64,
    generation: u64,
    beat: u64,
}

impl Heartbeat {
    pub(crate) fn new(factor: u32) -> Heartbeat {
        Heartbeat {
            factor: u64::from(factor.max(1)),
            generation: 0,
            beat: 0,
        }
    }

    /// The message of the next beat on connection `generation`.
    pub(crate) fn next(&mut self, generation: u64, instance: &Instance) -> Management {
        if generation != self.generation {
            // The properties went out when this connection was made: that was beat 0.
            self.generation = generation;
            self.beat = 0;
        }
        self.beat += 1;
        if self.beat.is_multiple_of(self.factor) {
            Management::Properties(instance.properties())
        } else {
            Management::KeepAlive(instance.ping())
        }
    }
}

/// Reads the meters a report carries: the registered ones, the process figures and the agent's
/// own counts.
#[derive(Debug, Default)]
pub(crate) struct MeterSampler {
    process: ProcessMeters,
}

impl MeterSampler {
    /// One report, read now, stamped with `instance` and the time.
    pub(crate) fn sample(&mut self, instance: &Instance, stats: &TransportStats) -> Vec<MeterData> {
        let mut meters = crate::meter::collect();
        meters.extend(self.process.collect());
        meters.extend(agent_meters("instance_rust_agent_segments", stats.segments));
        meters.extend(agent_meters("instance_rust_agent_logs", stats.logs));
        meters.push(crate::meter::single(
            "instance_rust_agent_meter_series",
            &[],
            crate::meter::series_count() as f64,
        ));
        meters.push(crate::meter::single(
            "instance_rust_agent_meter_series_refused",
            &[],
            crate::diagnostics::counters().meter_series_refused as f64,
        ));
        let timestamp = crate::clock::now_ms();
        for meter in &mut meters {
            meter.service.clone_from(&instance.service);
            meter.service_instance.clone_from(&instance.instance);
            meter.timestamp = timestamp;
        }
        meters
    }
}

/// Every `period`, while `connection` names the connection there is: a keepAlive into
/// `management`, or the properties every few beats ([`Heartbeat`]). Runs until dropped.
pub(crate) async fn heartbeats(
    period: Duration,
    factor: u32,
    instance: &Instance,
    connection: impl Fn() -> Option<u64>,
    management: &Lane<Management>,
) {
    let mut heartbeat = Heartbeat::new(factor);
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await; // the first tick is immediate
    loop {
        ticks.tick().await;
        let Some(generation) = connection() else {
            continue;
        };
        management.offer(heartbeat.next(generation, instance));
    }
}

/// Every `interval`, while `connected()`: the registered meters, the process figures and the
/// transport's own counts (`stats()`), read at one instant, into `meters`. Meters are readings,
/// not events: a period without a connection is skipped, not queued. Runs until dropped;
/// returns at once when `interval` is `None`.
///
/// The reading runs on the runtime's blocking pool, as gauges run the application's closures:
/// one that blocks must not stall segments, heartbeats or `flush`. A reading that takes longer
/// than [`GAUGE_BUDGET`] is skipped and counted, and no other starts until it has returned, so a
/// gauge that never returns holds one thread, not one per interval.
pub(crate) async fn meter_reports(
    interval: Option<Duration>,
    instance: &Arc<Instance>,
    connected: impl Fn() -> bool,
    stats: impl Fn() -> TransportStats,
    meters: &Lane<Vec<MeterData>>,
) {
    let Some(interval) = interval else {
        return;
    };
    let budget = GAUGE_BUDGET.min(interval);
    let mut idle = Some(MeterSampler::default());
    let mut late: Option<tokio::task::JoinHandle<MeterSampler>> = None;
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await; // the first tick is immediate
    loop {
        ticks.tick().await;
        if let Some(reading) = late.take_if(|reading| reading.is_finished()) {
            // Its report is stale by now; the sampler is kept for its process figures.
            idle = Some(reading.await.unwrap_or_default());
        }
        if !connected() {
            continue;
        }
        let Some(mut sampler) = idle.take() else {
            skip_meter_report("the last reading has not returned yet");
            continue;
        };
        let instance = Arc::clone(instance);
        let stats = stats();
        let (report_tx, report_rx) = tokio::sync::oneshot::channel();
        let mut reading = tokio::task::spawn_blocking(move || {
            let _ = report_tx.send(sampler.sample(&instance, &stats));
            sampler
        });
        match tokio::time::timeout(budget, &mut reading).await {
            Ok(sampler) => {
                idle = Some(sampler.unwrap_or_default());
                if let Ok(report) = report_rx.await {
                    meters.offer(report);
                }
            }
            Err(_) => {
                late = Some(reading);
                skip_meter_report("reading the gauges overran its budget");
            }
        }
    }
}

fn skip_meter_report(why: &str) {
    crate::diagnostics::record(
        crate::diagnostics::Problem::MeterReportSkipped,
        1,
        &format_args!("{why} (a gauge closure that blocks?)"),
    );
}

/// A transport's counts as meters of one name, labelled by outcome.
fn agent_meters(name: &str, stats: ReporterStats) -> Vec<MeterData> {
    [
        ("produced", stats.produced),
        ("sent", stats.sent),
        ("dropped", stats.dropped_full),
        ("failed", stats.failed),
        ("queued", stats.queued),
    ]
    .into_iter()
    .map(|(outcome, count)| {
        crate::meter::single(
            name,
            &[crate::meter::label("outcome", outcome)],
            count as f64,
        )
    })
    .collect()
}

fn pair(key: &str, value: &str) -> KeyStringValuePair {
    KeyStringValuePair {
        key: key.to_owned(),
        value: value.to_owned(),
    }
}

/// The properties the official agents report (protocol notes §8.1).
fn builtin_properties(namespace: Option<&str>) -> Vec<KeyStringValuePair> {
    let mut properties = vec![pair("language", "rust"), pair("OS Name", os_name())];
    let host = gethostname::gethostname();
    let host = host.to_string_lossy();
    if !host.trim().is_empty() {
        properties.push(pair("hostname", host.trim()));
    }
    for ip in ipv4_addresses() {
        properties.push(pair("ipv4", &ip));
    }
    properties.push(pair("Process No.", &std::process::id().to_string()));
    properties.push(pair("agent_version", env!("CARGO_PKG_VERSION")));
    if let Some(namespace) = namespace {
        properties.push(pair("namespace", namespace));
    }
    properties
}

/// The OS names the official Rust agent reports, which are the Java agent's.
fn os_name() -> &'static str {
    match std::env::consts::OS {
        "linux" => "Linux",
        "windows" => "Windows",
        "macos" => "Mac OS X",
        other => other,
    }
}

/// The machine's non-loopback IPv4 addresses, at most [`MAX_IPV4`]; none if they cannot be read.
fn ipv4_addresses() -> Vec<String> {
    let Ok(interfaces) = if_addrs::get_if_addrs() else {
        return Vec::new();
    };
    let mut addresses: Vec<String> = interfaces
        .iter()
        .filter(|interface| !interface.is_loopback())
        .filter_map(|interface| match interface.ip() {
            std::net::IpAddr::V4(ip) => Some(ip.to_string()),
            std::net::IpAddr::V6(_) => None,
        })
        .collect();
    addresses.dedup();
    addresses.truncate(MAX_IPV4);
    addresses
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_properties_have_the_required_keys() {
        let properties = builtin_properties(Some("shop"));
        let get = |key: &str| {
            properties
                .iter()
                .find(|pair| pair.key == key)
                .map(|pair| pair.value.as_str())
        };
        assert_eq!(get("language"), Some("rust"));
        assert_eq!(get("Process No."), Some(&*std::process::id().to_string()));
        assert_eq!(get("namespace"), Some("shop"));
        assert!(get("OS Name").is_some());
        assert!(
            properties
                .iter()
                .filter(|pair| pair.key == "ipv4")
                .all(|pair| pair.value.parse::<std::net::Ipv4Addr>().is_ok())
        );
    }

    #[test]
    fn every_factor_beats_a_heartbeat_sends_the_properties_counted_per_connection() {
        let instance = Instance::new(&Config::default(), &[]);
        let mut heartbeat = Heartbeat::new(3);
        let kinds: Vec<bool> = (0..6)
            .map(|_| matches!(heartbeat.next(1, &instance), Management::Properties(_)))
            .collect();
        assert_eq!(kinds, [false, false, true, false, false, true]);
        // A new connection reported the properties when it was made.
        heartbeat.next(1, &instance);
        assert!(matches!(
            heartbeat.next(2, &instance),
            Management::KeepAlive(_)
        ));
        assert!(matches!(
            heartbeat.next(2, &instance),
            Management::KeepAlive(_)
        ));
        assert!(matches!(
            heartbeat.next(2, &instance),
            Management::Properties(_)
        ));
    }
}
