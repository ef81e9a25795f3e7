//! What the repository ships for the OAP (`oap/`): the meter-analyzer rules read the meters
//! rust2sky sends, and the dashboard templates show the metrics the rules make. Read as the OAP
//! reads them (YAML, JSON), against a real report to the test collector.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rust2sky::config::Config;
use rust2sky::proto::v3::MeterData;
use rust2sky::proto::v3::meter_data::Metric;
use rust2sky::reporter::GrpcReporter;
use rust2sky::testing::Collector;

const PATIENCE: Duration = Duration::from_secs(20);

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate is in the repository")
        .to_owned()
}

fn files(folder: &str, extension: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repository().join(folder))
        .unwrap_or_else(|err| panic!("{folder}: {err}"))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == extension))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .{extension} file in {folder}");
    files
}

/// The names an expression reads (MAL's sample families, MQE's metrics): identifiers that are
/// neither a method (`.sum`), a function (`latest(`), a number, in quotes or in brackets (tag
/// names), nor `Layer`.
fn names_read(expression: &str) -> BTreeSet<String> {
    let mut plain = String::new();
    let mut closing = None;
    for c in expression.chars() {
        match closing {
            Some(end) if c == end => closing = None,
            Some(_) => {}
            None => match c {
                '\'' | '"' => closing = Some(c),
                '[' => closing = Some(']'),
                _ => plain.push(c),
            },
        }
    }
    let chars: Vec<char> = plain.chars().collect();
    let mut names = BTreeSet::new();
    let mut at = 0;
    while at < chars.len() {
        if !(chars[at].is_ascii_alphanumeric() || chars[at] == '_') {
            at += 1;
            continue;
        }
        let start = at;
        while at < chars.len() && (chars[at].is_ascii_alphanumeric() || chars[at] == '_') {
            at += 1;
        }
        let word: String = chars[start..at].iter().collect();
        let method = start > 0 && chars[start - 1] == '.';
        let call = chars[at..].iter().find(|c| !c.is_whitespace()) == Some(&'(');
        let number = word.starts_with(|c: char| c.is_ascii_digit());
        if !(method || call || number || word == "Layer") {
            names.insert(word);
        }
    }
    names
}

/// A rule file: its scope (`instance` or `service`), the meters it reads and the metrics it
/// makes.
struct Rules {
    file: PathBuf,
    scope: String,
    reads: BTreeSet<String>,
    makes: BTreeSet<String>,
}

fn rules() -> Vec<Rules> {
    files("oap/meter-analyzer-config", "yaml")
        .into_iter()
        .map(|file| {
            let text = std::fs::read_to_string(&file).unwrap();
            let yaml: serde_yaml::Value = serde_yaml::from_str(&text)
                .unwrap_or_else(|err| panic!("{}: {err}", file.display()));
            let suffix = yaml["expSuffix"].as_str().expect("an expSuffix");
            assert!(suffix.contains("Layer.GENERAL"), "{suffix}");
            let scope = suffix.split('(').next().unwrap().trim().to_owned();
            assert!(scope == "instance" || scope == "service", "{suffix}");
            let prefix = yaml["metricPrefix"].as_str().expect("a metricPrefix");
            assert_eq!(prefix, "meter", "as the other language runtimes' rules");
            let list = yaml["metricsRules"].as_sequence().expect("metricsRules");
            assert!(!list.is_empty());
            let mut reads = BTreeSet::new();
            let mut makes = BTreeSet::new();
            for rule in list {
                let name = rule["name"].as_str().expect("a rule's name");
                let exp = rule["exp"].as_str().expect("a rule's exp");
                assert!(
                    name.starts_with(&format!("{scope}_rust_")),
                    "{name}: a {scope} rule of rust2sky"
                );
                assert!(makes.insert(format!("{prefix}_{name}")), "{name} twice");
                let read = names_read(exp);
                assert!(!read.is_empty(), "{name}: {exp} reads no meter");
                reads.extend(read);
            }
            Rules {
                file,
                scope,
                reads,
                makes,
            }
        })
        .collect()
}

/// Every name of a meter the agent sends itself, from the table in the `meter` module's docs.
fn documented() -> BTreeSet<String> {
    let source = std::fs::read_to_string(repository().join("runtime/src/meter.rs")).unwrap();
    source
        .lines()
        .filter_map(|line| line.strip_prefix("//! | `"))
        .filter_map(|rest| rest.split_once('`'))
        .map(|(name, _)| name.to_owned())
        .collect()
}

fn name(meter: &MeterData) -> Option<&str> {
    match &meter.metric {
        Some(Metric::SingleValue(single)) => Some(&single.name),
        Some(Metric::Histogram(histogram)) => Some(&histogram.name),
        None => None,
    }
}

#[test]
fn the_rules_read_only_meters_rust2sky_sends_and_documents() {
    let rules = rules();
    let read: BTreeSet<String> = rules.iter().flat_map(|rules| rules.reads.clone()).collect();

    let collector = Collector::start().unwrap();
    let config = Config::builder()
        .service_name("oap-rules")
        .backends([collector.backend()])
        .meter_report_interval(Duration::from_millis(200))
        .build_with_env(|_| None)
        .unwrap();
    let _reporter = GrpcReporter::start(&config).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rust2sky::meter::tokio_runtime(runtime.handle(), "oap-rules");
    let sent = |received: &rust2sky::testing::Received| -> BTreeSet<String> {
        received
            .meters
            .iter()
            .filter(|meter| meter.service == "oap-rules")
            .filter_map(name)
            .map(str::to_owned)
            .collect()
    };
    // The CPU share needs two readings: wait for a report that has every name, or time out.
    let received = collector.wait_until(PATIENCE, |received| read.is_subset(&sent(received)));
    let sent = sent(&received);
    let unsent: Vec<&String> = read.difference(&sent).collect();
    assert!(unsent.is_empty(), "the rules read {unsent:?}, never sent");

    let documented = documented();
    let own: BTreeSet<&String> = sent
        .iter()
        .filter(|name| name.starts_with("instance_rust_"))
        .collect();
    let undocumented: Vec<&&String> = own
        .iter()
        .filter(|name| !documented.contains(**name))
        .collect();
    assert!(
        undocumented.is_empty(),
        "sent but not in the meter module's table: {undocumented:?}"
    );
    let unknown: Vec<&String> = read.difference(&documented).collect();
    assert!(
        unknown.is_empty(),
        "read by the rules, not documented: {unknown:?}"
    );
}

/// Every string in an `expressions` list of a dashboard, however deep.
fn expressions(json: &serde_json::Value, found: &mut Vec<String>) {
    match json {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("expressions", serde_json::Value::Array(list)) => found.extend(
                        list.iter()
                            .map(|item| item.as_str().expect("an expression").to_owned()),
                    ),
                    _ => expressions(value, found),
                }
            }
        }
        serde_json::Value::Array(list) => list.iter().for_each(|item| expressions(item, found)),
        _ => {}
    }
}

#[test]
fn the_dashboards_show_only_metrics_the_rules_make() {
    let rules = rules();
    let mut entities = BTreeSet::new();
    let mut shown_anywhere = BTreeSet::new();
    for file in files("oap/ui-initialized-templates/rust", "json") {
        let text = std::fs::read_to_string(&file).unwrap();
        let json: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|err| panic!("{}: {err}", file.display()));
        let dashboards = json.as_array().expect("a list of dashboards");
        assert!(!dashboards.is_empty());
        for dashboard in dashboards {
            let configuration = &dashboard["configuration"];
            assert_eq!(configuration["layer"], "GENERAL");
            assert_eq!(configuration["id"], dashboard["id"]);
            assert!(configuration["name"].is_string());
            let entity = configuration["entity"].as_str().expect("an entity");
            let scope = match entity {
                "ServiceInstance" => "instance",
                "Service" => "service",
                other => panic!("{}: entity {other}", file.display()),
            };
            entities.insert(entity.to_owned());
            let made: BTreeSet<&String> = rules
                .iter()
                .filter(|rules| rules.scope == scope)
                .flat_map(|rules| &rules.makes)
                .collect();
            let mut shown = Vec::new();
            expressions(configuration, &mut shown);
            assert!(!shown.is_empty(), "{}: no widget", file.display());
            for expression in &shown {
                for metric in names_read(expression) {
                    shown_anywhere.insert(metric.clone());
                    assert!(
                        made.contains(&metric),
                        "{}: {expression} shows {metric}, which no {scope} rule makes",
                        file.display()
                    );
                }
            }
        }
    }
    assert_eq!(
        entities,
        BTreeSet::from(["Service".to_owned(), "ServiceInstance".to_owned()])
    );
    // A metric no dashboard shows is a rule nobody looks at: a mistake too.
    for rules in &rules {
        let unshown: Vec<&String> = rules.makes.difference(&shown_anywhere).collect();
        assert!(
            unshown.is_empty(),
            "{}: {unshown:?} shown nowhere",
            rules.file.display()
        );
    }
}

#[test]
fn names_read_are_the_meters_not_the_methods_tags_or_numbers() {
    let read = names_read(
        "instance_rust_agent_segments.tagNotEqual('outcome', 'queued').sum(['service', 'instance']).increase('PT1M') / 1048576 + other_meter",
    );
    assert_eq!(
        read,
        BTreeSet::from([
            "instance_rust_agent_segments".to_owned(),
            "other_meter".to_owned()
        ])
    );
    assert_eq!(
        names_read("latest(meter_a)/1024"),
        BTreeSet::from(["meter_a".to_owned()])
    );
}
