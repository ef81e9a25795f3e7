//! The unit tests of the configuration: defaults, code values, environment overrides and errors.

use super::*;
use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

/// Builds `builder` with the given variables as the whole environment.
fn build(builder: ConfigBuilder, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let environment: HashMap<&str, String> = vars
        .iter()
        .map(|&(name, value)| (name, value.to_owned()))
        .collect();
    builder.build_with_env(|name| environment.get(name).cloned())
}

fn build_env(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    build(Config::builder(), vars)
}

#[test]
fn defaults() {
    let config = build_env(&[]).unwrap();
    assert_eq!(config, Config::default());
    assert_eq!(config.service_name(), "rust-service");
    assert_eq!(config.namespace(), None);
    assert_eq!(config.backends(), ["127.0.0.1:11800"]);
    assert_eq!(config.authentication(), None);
    assert_eq!(config.sample_rate(), 1.0);
    assert_eq!(config.span_limit(), 300);
    assert_eq!(
        config.ignore_suffixes().join(","),
        ".jpg,.jpeg,.js,.css,.png,.bmp,.gif,.ico,.mp3,.mp4,.html,.svg"
    );
    assert!(config.trace_ignore_paths().is_empty());
    assert!(config.kafka_bootstrap_servers().is_empty());
    assert_eq!(config.heartbeat_period(), Duration::from_secs(30));
    assert_eq!(config.properties_report_period_factor(), 10);
    assert_eq!(config.properties_report_period(), Duration::from_secs(300));
    assert_eq!(config.max_send_queue_size(), 30_000);
    assert_eq!(config.meter_max_series(), 10_000);
    assert!(!config.force_tls());
    assert_eq!(config.ssl_trusted_ca_path(), None);
    assert_eq!(config.ssl_key_path(), None);
    assert_eq!(config.ssl_cert_chain_path(), None);
    assert_eq!(config.correlation_max_keys(), 3);
    assert_eq!(config.correlation_max_value_length(), 128);
    assert_eq!(config.sql_body_max_length(), 512);
    assert_eq!(
        config.config_discovery_interval(),
        Some(Duration::from_secs(20))
    );
}

#[test]
fn code_values_are_used_when_the_environment_is_empty() {
    let config = build(
        Config::builder()
            .service_name("checkout")
            .instance_name("checkout-1")
            .namespace("shop")
            .backends(["oap-1:11800", "[::1]:11800"])
            .authentication("code-token")
            .sample_rate(0.5)
            .span_limit(10)
            .ignore_suffixes([".png", ""])
            .trace_ignore_paths(["/health"])
            .heartbeat_period(Duration::from_millis(500))
            .properties_report_period_factor(2)
            .max_send_queue_size(7)
            .force_tls(true)
            .ssl_trusted_ca_path("/ca.crt")
            .ssl_key_path("/client.key")
            .ssl_cert_chain_path("/client.crt")
            .correlation_max_keys(0)
            .correlation_max_value_length(16)
            .config_discovery_interval(Duration::from_secs(5)),
        &[],
    )
    .unwrap();
    assert_eq!(config.service_name(), "checkout");
    assert_eq!(config.instance_name(), "checkout-1");
    assert_eq!(config.namespace(), Some("shop"));
    assert_eq!(config.backends(), ["oap-1:11800", "[::1]:11800"]);
    assert_eq!(config.authentication(), Some("code-token"));
    assert_eq!(config.sample_rate(), 0.5);
    assert_eq!(config.span_limit(), 10);
    assert_eq!(config.ignore_suffixes(), [".png"]);
    assert_eq!(config.trace_ignore_paths(), ["/health"]);
    assert_eq!(config.heartbeat_period(), Duration::from_millis(500));
    assert_eq!(config.properties_report_period(), Duration::from_secs(1));
    assert_eq!(config.max_send_queue_size(), 7);
    assert!(config.force_tls());
    assert_eq!(config.ssl_trusted_ca_path(), Some(Path::new("/ca.crt")));
    assert_eq!(config.ssl_key_path(), Some(Path::new("/client.key")));
    assert_eq!(config.ssl_cert_chain_path(), Some(Path::new("/client.crt")));
    assert_eq!(config.correlation_max_keys(), 0);
    assert_eq!(config.correlation_max_value_length(), 16);
    assert_eq!(
        config.config_discovery_interval(),
        Some(Duration::from_secs(5))
    );
}

#[test]
fn every_variable_overrides_the_code_value() {
    let code = Config::builder()
        .service_name("code")
        .instance_name("code-1")
        .namespace("code-ns")
        .backends(["code:11800"])
        .authentication("code-token")
        .sample_rate(0.9)
        .span_limit(9)
        .ignore_suffixes([".code"])
        .trace_ignore_paths(["/code"])
        .heartbeat_period(Duration::from_secs(9))
        .properties_report_period_factor(9)
        .max_send_queue_size(9)
        .force_tls(true)
        .ssl_trusted_ca_path("/code/ca.crt")
        .ssl_key_path("/code/client.key")
        .ssl_cert_chain_path("/code/client.crt")
        .correlation_max_keys(9)
        .correlation_max_value_length(9)
        .config_discovery_interval(Duration::from_secs(9))
        .protocol(Protocol::Grpc)
        .kafka_namespace("code")
        .kafka_topic_segment("code-segments")
        .kafka_topic_management("code-managements")
        .kafka_topic_meter("code-meters")
        .kafka_topic_log("code-logs")
        .kafka_max_request_size(9)
        .kafka_request_timeout(Duration::from_secs(9))
        .kafka_compression_type(KafkaCompression::Gzip);
    let config = build(
        code,
        &[
            (env::SERVICE_NAME, "env"),
            (env::INSTANCE_NAME, "env-1"),
            (env::NAMESPACE, "env-ns"),
            (
                env::BACKEND_SERVICES,
                " oap-1:11800 , 10.0.0.2:11800,[::1]:1 ",
            ),
            (env::AUTHENTICATION, "env-token"),
            (env::SAMPLE, "0.25"),
            (env::SPAN_LIMIT, "1"),
            (env::IGNORE_SUFFIX, ".a, .b"),
            (env::TRACE_IGNORE_PATH, "/health,/static/**"),
            (env::KAFKA_BOOTSTRAP_SERVERS, " kafka-1:9092, ,[::1]:9092 "),
            (env::HEARTBEAT_PERIOD, "1"),
            (env::PROPERTIES_REPORT_PERIOD_FACTOR, "3"),
            (env::MAX_SEND_QUEUE_SIZE, "100"),
            (env::FORCE_TLS, "FALSE"),
            (env::SSL_TRUSTED_CA_PATH, "/env/ca.crt"),
            (env::SSL_KEY_PATH, "/env/client.key"),
            (env::SSL_CERT_CHAIN_PATH, "/env/client.crt"),
            (env::CORRELATION_ELEMENT_MAX_NUMBER, "0"),
            (env::CORRELATION_VALUE_MAX_LENGTH, "64"),
            (env::SQL_BODY_MAX_LENGTH, "100"),
            (env::GET_AGENT_DYNAMIC_CONFIG_INTERVAL, "0"),
            (env::PROTOCOL, "Kafka"),
            (env::KAFKA_NAMESPACE, "prod"),
            (env::KAFKA_TOPIC_SEGMENT, "segments"),
            (env::KAFKA_TOPIC_MANAGEMENT, "managements"),
            (env::KAFKA_TOPIC_METER, "meters"),
            (env::KAFKA_TOPIC_LOG, "logs"),
            (env::KAFKA_MAX_REQUEST_SIZE, "1000"),
            (env::KAFKA_REQUEST_TIMEOUT, "5"),
            (env::KAFKA_COMPRESSION_TYPE, "Snappy"),
        ],
    )
    .unwrap();
    assert_eq!(config.service_name(), "env");
    assert_eq!(config.instance_name(), "env-1");
    assert_eq!(config.namespace(), Some("env-ns"));
    assert_eq!(
        config.backends(),
        ["oap-1:11800", "10.0.0.2:11800", "[::1]:1"]
    );
    assert_eq!(config.authentication(), Some("env-token"));
    assert_eq!(config.sample_rate(), 0.25);
    assert_eq!(config.span_limit(), 1);
    assert_eq!(config.ignore_suffixes(), [".a", ".b"]);
    assert_eq!(config.trace_ignore_paths(), ["/health", "/static/**"]);
    assert_eq!(
        config.kafka_bootstrap_servers(),
        ["kafka-1:9092", "[::1]:9092"]
    );
    assert_eq!(config.heartbeat_period(), Duration::from_secs(1));
    assert_eq!(config.properties_report_period_factor(), 3);
    assert_eq!(config.max_send_queue_size(), 100);
    assert!(!config.force_tls());
    assert_eq!(config.ssl_trusted_ca_path(), Some(Path::new("/env/ca.crt")));
    assert_eq!(config.ssl_key_path(), Some(Path::new("/env/client.key")));
    assert_eq!(
        config.ssl_cert_chain_path(),
        Some(Path::new("/env/client.crt"))
    );
    assert_eq!(config.correlation_max_keys(), 0);
    assert_eq!(config.correlation_max_value_length(), 64);
    assert_eq!(config.sql_body_max_length(), 100);
    assert_eq!(config.config_discovery_interval(), None);
    assert_eq!(config.protocol(), Protocol::Kafka);
    assert_eq!(config.kafka_namespace(), Some("prod"));
    assert_eq!(config.kafka_topic_segment(), "segments");
    assert_eq!(config.kafka_topic_management(), "managements");
    assert_eq!(config.kafka_topic_meter(), "meters");
    assert_eq!(config.kafka_topic_log(), "logs");
    assert_eq!(config.kafka_max_request_size(), 1000);
    assert_eq!(config.kafka_request_timeout(), Duration::from_secs(5));
    assert_eq!(config.kafka_compression_type(), KafkaCompression::Snappy);
}

#[test]
fn every_listed_variable_is_read_and_only_those() {
    let asked = RefCell::new(BTreeSet::new());
    Config::builder()
        .build_with_env(|name| {
            asked.borrow_mut().insert(name.to_owned());
            None
        })
        .unwrap();
    let listed: BTreeSet<String> = env::variables()
        .iter()
        .map(|var| var.name.to_owned())
        .collect();
    assert_eq!(asked.into_inner(), listed);
    assert_eq!(listed.len(), env::variables().len(), "duplicate names");
}

#[test]
fn empty_and_blank_values_count_as_unset() {
    let config = build(
        Config::builder().service_name("checkout").sample_rate(0.5),
        &[
            (env::SERVICE_NAME, ""),
            (env::SAMPLE, "   "),
            (env::BACKEND_SERVICES, ""),
        ],
    )
    .unwrap();
    assert_eq!(config.service_name(), "checkout");
    assert_eq!(config.sample_rate(), 0.5);
    assert_eq!(config.backends(), ["127.0.0.1:11800"]);
}

#[test]
fn values_are_trimmed() {
    let config = build_env(&[
        (env::SERVICE_NAME, " checkout\n"),
        (env::AUTHENTICATION, "token\n"),
        (env::SPAN_LIMIT, " 42 "),
        (env::FORCE_TLS, " True "),
    ])
    .unwrap();
    assert_eq!(config.service_name(), "checkout");
    assert_eq!(config.authentication(), Some("token"));
    assert_eq!(config.span_limit(), 42);
    assert!(config.force_tls());
}

#[test]
fn env_overrides_a_bad_code_value() {
    let config = build(
        Config::builder().sample_rate(1.5).backends(["oap"]),
        &[(env::SAMPLE, "0"), (env::BACKEND_SERVICES, "oap:11800")],
    )
    .unwrap();
    assert_eq!(config.sample_rate(), 0.0);
    assert_eq!(config.backends(), ["oap:11800"]);
}

#[test]
fn force_tls_accepts_true_false_1_0() {
    for (value, expected) in [
        ("true", true),
        ("TRUE", true),
        ("1", true),
        ("false", false),
        ("False", false),
        ("0", false),
    ] {
        let config = build(
            Config::builder().force_tls(!expected),
            &[(env::FORCE_TLS, value)],
        )
        .unwrap();
        assert_eq!(config.force_tls(), expected, "{value}");
    }
}

#[test]
fn a_list_of_only_commas_clears_the_suffixes() {
    let config = build_env(&[(env::IGNORE_SUFFIX, ",")]).unwrap();
    assert!(config.ignore_suffixes().is_empty());
}

#[test]
fn bad_environment_values_are_errors_naming_the_variable_and_value() {
    let cases: &[(&str, &str)] = &[
        (env::SAMPLE, "abc"),
        (env::SAMPLE, "1.5"),
        (env::SAMPLE, "-0.1"),
        (env::SAMPLE, "NaN"),
        (env::SAMPLE, "inf"),
        (env::BACKEND_SERVICES, "oap"),
        (env::BACKEND_SERVICES, "oap:0"),
        (env::BACKEND_SERVICES, "oap:99999"),
        (env::BACKEND_SERVICES, ",,"),
        (env::BACKEND_SERVICES, "oap:11800,"),
        (env::BACKEND_SERVICES, ":11800"),
        (env::BACKEND_SERVICES, "oap:"),
        (env::BACKEND_SERVICES, "oap:+80"),
        (env::BACKEND_SERVICES, "::1:11800"),
        (env::BACKEND_SERVICES, "[::1]"),
        (env::BACKEND_SERVICES, "[::1:11800"),
        (env::BACKEND_SERVICES, "[oap]:11800"),
        (env::BACKEND_SERVICES, "http://oap:11800"),
        (env::BACKEND_SERVICES, "o ap:11800"),
        (env::SPAN_LIMIT, "0"),
        (env::SPAN_LIMIT, "x"),
        (env::SPAN_LIMIT, "-1"),
        (env::HEARTBEAT_PERIOD, "-1"),
        (env::HEARTBEAT_PERIOD, "0"),
        (env::HEARTBEAT_PERIOD, "1.5"),
        (env::PROPERTIES_REPORT_PERIOD_FACTOR, "0"),
        (env::PROPERTIES_REPORT_PERIOD_FACTOR, "99999999999"),
        (env::MAX_SEND_QUEUE_SIZE, "0"),
        (env::FORCE_TLS, "maybe"),
        (env::FORCE_TLS, "yes"),
        (env::CORRELATION_ELEMENT_MAX_NUMBER, "-1"),
        (env::CORRELATION_VALUE_MAX_LENGTH, "0"),
        (env::GET_AGENT_DYNAMIC_CONFIG_INTERVAL, "-1"),
        (env::GET_AGENT_DYNAMIC_CONFIG_INTERVAL, "20s"),
    ];
    for &(variable, value) in cases {
        let err = build_env(&[(variable, value)]).expect_err(value);
        let message = err.to_string();
        assert!(
            matches!(err, ConfigError::Invalid { variable: v, .. } if v == variable),
            "{message}"
        );
        assert!(
            message.contains(&format!("{variable}={value:?}")),
            "{variable}={value:?} gave {message}"
        );
    }
}

#[test]
fn error_messages_read_well() {
    let err = build_env(&[(env::SAMPLE, "1.5")]).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"invalid SW_AGENT_SAMPLE="1.5": expected a number from 0 to 1"#
    );
    let err = build_env(&[(env::BACKEND_SERVICES, "oap:99999")]).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"invalid SW_AGENT_COLLECTOR_BACKEND_SERVICES="oap:99999": expected host:port with a port from 1 to 65535"#
    );
}

#[test]
fn tls_key_and_cert_must_be_set_together() {
    let err = build_env(&[(env::SSL_KEY_PATH, "/etc/sw/client.key")]).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains(r#"SW_AGENT_SSL_KEY_PATH="/etc/sw/client.key""#),
        "{message}"
    );
    assert!(message.contains(env::SSL_CERT_CHAIN_PATH), "{message}");

    let err = build(Config::builder().ssl_cert_chain_path("/client.crt"), &[]).unwrap_err();
    assert!(
        matches!(err, ConfigError::TlsClientIdentityIncomplete { missing, .. } if missing == env::SSL_KEY_PATH)
    );

    // One from code, the other from the environment, is a pair.
    let config = build(
        Config::builder().ssl_key_path("/client.key"),
        &[(env::SSL_CERT_CHAIN_PATH, "/client.crt")],
    )
    .unwrap();
    assert_eq!(config.ssl_key_path(), Some(Path::new("/client.key")));
}

#[test]
fn bad_code_values_are_errors_naming_the_setting() {
    let cases: Vec<(ConfigBuilder, &str)> = vec![
        (Config::builder().sample_rate(1.5), "sample_rate(1.5)"),
        (Config::builder().sample_rate(f64::NAN), "sample_rate(NaN)"),
        (Config::builder().sample_rate(-0.1), "sample_rate(-0.1)"),
        (Config::builder().service_name(""), "service_name(\"\")"),
        (Config::builder().instance_name(" "), "instance_name(\" \")"),
        (Config::builder().backends(["oap"]), "backends([\"oap\"])"),
        (
            Config::builder().backends(["oap:0"]),
            "backends([\"oap:0\"])",
        ),
        (
            Config::builder().backends(Vec::<String>::new()),
            "backends([])",
        ),
        (Config::builder().span_limit(0), "span_limit(0)"),
        (
            Config::builder().heartbeat_period(Duration::ZERO),
            "heartbeat_period(0ns)",
        ),
        (
            Config::builder().properties_report_period_factor(0),
            "properties_report_period_factor(0)",
        ),
        (
            Config::builder().max_send_queue_size(0),
            "max_send_queue_size(0)",
        ),
        (
            Config::builder().correlation_max_value_length(0),
            "correlation_max_value_length(0)",
        ),
        (
            Config::builder().sql_body_max_length(0),
            "sql_body_max_length(0)",
        ),
    ];
    for (builder, expected) in cases {
        let err = build(builder, &[]).expect_err(expected);
        let message = err.to_string();
        assert!(
            matches!(err, ConfigError::InvalidSetting { .. }),
            "{message}"
        );
        assert!(
            message.starts_with(&format!("invalid ConfigBuilder::{expected}: ")),
            "{message}"
        );
    }
}

#[test]
fn empty_optional_code_values_mean_none() {
    let config = build(
        Config::builder()
            .namespace("")
            .authentication("")
            .ssl_trusted_ca_path(""),
        &[],
    )
    .unwrap();
    assert_eq!(config.namespace(), None);
    assert_eq!(config.authentication(), None);
    assert_eq!(config.ssl_trusted_ca_path(), None);
}

#[test]
fn default_instance_name_is_uuid_at_hostname_and_stable() {
    let first = build_env(&[]).unwrap();
    let second = Config::default();
    assert_eq!(first.instance_name(), second.instance_name());

    let (uuid, host) = first.instance_name().split_once('@').unwrap();
    assert_eq!(uuid.len(), 32);
    assert!(
        uuid.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{uuid}"
    );
    let expected_host = gethostname::gethostname();
    let expected_host = expected_host.to_string_lossy();
    let expected_host = expected_host.trim();
    if !expected_host.is_empty() {
        assert_eq!(host, expected_host);
    }
}

#[test]
fn debug_does_not_show_the_token() {
    let config = build(
        Config::builder().authentication("code-secret"),
        &[(env::AUTHENTICATION, "env-secret")],
    )
    .unwrap();
    assert_eq!(config.authentication(), Some("env-secret"));
    let debug = format!("{config:?}");
    assert!(!debug.contains("secret"), "{debug}");
    assert!(
        debug.contains(r#"authentication: Some("<redacted>")"#),
        "{debug}"
    );

    let builder = Config::builder().authentication("code-secret");
    let debug = format!("{builder:?}");
    assert!(!debug.contains("secret"), "{debug}");
    assert!(!format!("{:#?}", Config::default()).contains("redacted"));
}

#[test]
fn variables_table_is_complete() {
    for var in env::variables() {
        assert!(var.name.starts_with("SW_"), "{}", var.name);
        assert!(
            !var.default.is_empty() && !var.meaning.is_empty(),
            "{}",
            var.name
        );
    }
}

#[test]
fn the_defaults_the_table_shows_are_the_defaults() {
    // Given back as the variables' values, the shown defaults must change nothing; "(unset)"
    // and the generated instance name stand for no value, so they are left out.
    let shown: Vec<(&str, &str)> = env::variables()
        .iter()
        .filter(|var| var.default != "(unset)" && var.name != env::INSTANCE_NAME)
        .map(|var| (var.name, var.default))
        .collect();
    assert_eq!(build_env(&shown).unwrap(), Config::default());
}

#[test]
fn periods_past_a_day_are_taken_as_a_day() {
    // Timers of `u64::MAX` seconds overflow the clock: the reporter's thread would panic.
    let day = Duration::from_secs(24 * 60 * 60);
    let huge = u64::MAX.to_string();
    let config = build_env(&[
        (env::HEARTBEAT_PERIOD, &huge),
        (env::GET_AGENT_DYNAMIC_CONFIG_INTERVAL, &huge),
        (env::METER_REPORT_INTERVAL, &huge),
    ])
    .unwrap();
    assert_eq!(config.heartbeat_period(), day);
    assert_eq!(config.config_discovery_interval(), Some(day));
    assert_eq!(config.meter_report_interval(), Some(day));

    let config = Config::builder()
        .heartbeat_period(Duration::MAX)
        .config_discovery_interval(Duration::MAX)
        .meter_report_interval(Duration::MAX)
        .build_with_env(|_| None)
        .unwrap();
    assert_eq!(config.heartbeat_period(), day);
    assert_eq!(config.config_discovery_interval(), Some(day));
    assert_eq!(config.meter_report_interval(), Some(day));
}

#[test]
fn the_send_queue_is_bounded_in_bytes_too() {
    assert_eq!(Config::default().max_send_queue_bytes(), 64 * 1024 * 1024);
    let config = build_env(&[(env::MAX_SEND_QUEUE_BYTES, "1000")]).unwrap();
    assert_eq!(config.max_send_queue_bytes(), 1000);
    assert!(build_env(&[(env::MAX_SEND_QUEUE_BYTES, "0")]).is_err());
}

#[test]
fn the_kafka_settings_default_to_the_oaps_topics_and_grpc() {
    let defaults = Config::default();
    assert_eq!(defaults.protocol(), Protocol::Grpc);
    assert_eq!(defaults.kafka_namespace(), None);
    assert_eq!(defaults.kafka_topic_segment(), "skywalking-segments");
    assert_eq!(defaults.kafka_topic_management(), "skywalking-managements");
    assert_eq!(defaults.kafka_topic_meter(), "skywalking-meters");
    assert_eq!(defaults.kafka_topic_log(), "skywalking-logs");
}

#[test]
fn a_protocol_rust2sky_does_not_have_is_refused_with_the_ones_it_has() {
    let err = build_env(&[(env::PROTOCOL, "http")]).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("SW_AGENT_PROTOCOL"), "{text}");
    assert!(text.contains("grpc or kafka"), "{text}");
    assert!(
        build_env(&[(env::KAFKA_TOPIC_LOG, " ")]).is_ok(),
        "blank is unset"
    );
    assert!(
        Config::builder()
            .kafka_topic_segment(" ")
            .build_with_env(|_| None)
            .is_err()
    );
}

#[test]
fn a_kafka_compression_rust2sky_does_not_build_is_refused_with_the_ones_it_has() {
    for (value, says) in [
        ("lz4", "use gzip or snappy"),
        ("ZSTD", "use gzip or snappy"),
        ("brotli", "none, gzip or snappy"),
    ] {
        let text = build_env(&[(env::KAFKA_COMPRESSION_TYPE, value)])
            .unwrap_err()
            .to_string();
        assert!(text.contains("SW_KAFKA_COMPRESSION_TYPE"), "{text}");
        assert!(text.contains(says), "{text}");
    }
    let default = build_env(&[]).unwrap();
    assert_eq!(default.kafka_compression_type(), KafkaCompression::None);
}

#[test]
fn the_kafka_security_settings_default_to_plaintext_and_take_kafkas_words() {
    let defaults = Config::default();
    assert_eq!(
        defaults.kafka_security_protocol(),
        KafkaSecurityProtocol::Plaintext
    );
    assert_eq!(defaults.kafka_ssl_ca_file(), None);
    assert_eq!(defaults.kafka_ssl_cert_file(), None);
    assert_eq!(defaults.kafka_ssl_key_file(), None);
    for (text, protocol) in [
        ("PLAINTEXT", KafkaSecurityProtocol::Plaintext),
        ("plaintext", KafkaSecurityProtocol::Plaintext),
        (" SSL ", KafkaSecurityProtocol::Ssl),
        ("Ssl", KafkaSecurityProtocol::Ssl),
    ] {
        let config = build_env(&[(env::KAFKA_SECURITY_PROTOCOL, text)]).unwrap();
        assert_eq!(config.kafka_security_protocol(), protocol, "{text}");
        assert_eq!(protocol.name(), text.trim().to_ascii_uppercase());
    }
    let config = build(
        Config::builder()
            .kafka_security_protocol(KafkaSecurityProtocol::Ssl)
            .kafka_ssl_ca_file("/code/ca.pem")
            .kafka_ssl_cert_file("/code/client.pem")
            .kafka_ssl_key_file("/code/client.key"),
        &[
            (env::KAFKA_SSL_CA_FILE, "/env/ca.pem"),
            (env::KAFKA_SSL_CERT_FILE, "/env/client.pem"),
            (env::KAFKA_SSL_KEY_FILE, "/env/client.key"),
        ],
    )
    .unwrap();
    assert_eq!(config.kafka_security_protocol(), KafkaSecurityProtocol::Ssl);
    assert_eq!(config.kafka_ssl_ca_file(), Some(Path::new("/env/ca.pem")));
    assert_eq!(
        config.kafka_ssl_cert_file(),
        Some(Path::new("/env/client.pem"))
    );
    assert_eq!(
        config.kafka_ssl_key_file(),
        Some(Path::new("/env/client.key"))
    );
    // The variable overrides the code, back to no TLS.
    let config = build(
        Config::builder().kafka_security_protocol(KafkaSecurityProtocol::Ssl),
        &[(env::KAFKA_SECURITY_PROTOCOL, "PLAINTEXT")],
    )
    .unwrap();
    assert_eq!(
        config.kafka_security_protocol(),
        KafkaSecurityProtocol::Plaintext
    );
}

#[test]
fn bad_kafka_security_values_are_clear_errors() {
    let err = build_env(&[(env::KAFKA_SECURITY_PROTOCOL, "TLS")]).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"invalid SW_KAFKA_SECURITY_PROTOCOL="TLS": expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"#
    );

    // A TLS file without TLS would leave the connection in cleartext while looking secured.
    let err = build_env(&[(env::KAFKA_SSL_CA_FILE, "/etc/kafka/ca.pem")]).unwrap_err();
    assert_eq!(
        err,
        ConfigError::KafkaTlsFileWithoutTls {
            variable: env::KAFKA_SSL_CA_FILE,
            protocol: KafkaSecurityProtocol::Plaintext,
        }
    );
    assert_eq!(
        err.to_string(),
        "SW_KAFKA_SSL_CA_FILE is set but SW_KAFKA_SECURITY_PROTOCOL=PLAINTEXT does not use TLS: \
         set SW_KAFKA_SECURITY_PROTOCOL to SSL or SASL_SSL"
    );
    // SASL_PLAINTEXT has no TLS either.
    let err = build_env(&[
        (env::KAFKA_SECURITY_PROTOCOL, "SASL_PLAINTEXT"),
        (env::KAFKA_SASL_USERNAME, "agent"),
        (env::KAFKA_SASL_PASSWORD, "s3cr3t"),
        (env::KAFKA_SSL_CA_FILE, "/etc/kafka/ca.pem"),
    ])
    .unwrap_err();
    assert!(
        matches!(err, ConfigError::KafkaTlsFileWithoutTls { protocol, .. } if protocol == KafkaSecurityProtocol::SaslPlaintext),
        "{err}"
    );
    let err = build(
        Config::builder()
            .kafka_ssl_cert_file("/client.pem")
            .kafka_ssl_key_file("/client.key"),
        &[],
    )
    .unwrap_err();
    assert!(
        matches!(err, ConfigError::KafkaTlsFileWithoutTls { variable, .. } if variable == env::KAFKA_SSL_CERT_FILE),
        "{err}"
    );

    // The client certificate and key go together, as the gRPC reporter's do.
    let err = build_env(&[
        (env::KAFKA_SECURITY_PROTOCOL, "SSL"),
        (env::KAFKA_SSL_CERT_FILE, "/client.pem"),
    ])
    .unwrap_err();
    assert_eq!(
        err,
        ConfigError::TlsClientIdentityIncomplete {
            present: env::KAFKA_SSL_CERT_FILE,
            value: "/client.pem".to_owned(),
            missing: env::KAFKA_SSL_KEY_FILE,
        }
    );
    let err = build(
        Config::builder()
            .kafka_security_protocol(KafkaSecurityProtocol::Ssl)
            .kafka_ssl_key_file("/client.key"),
        &[],
    )
    .unwrap_err();
    assert!(
        matches!(err, ConfigError::TlsClientIdentityIncomplete { present, .. } if present == env::KAFKA_SSL_KEY_FILE),
        "{err}"
    );
}

#[test]
fn kafka_sasl_is_read_from_the_environment_and_from_code() {
    let config = build_env(&[
        (env::KAFKA_SECURITY_PROTOCOL, "sasl_plaintext"),
        (env::KAFKA_SASL_MECHANISM, "scram-sha-256"),
        (env::KAFKA_SASL_USERNAME, "agent"),
        (env::KAFKA_SASL_PASSWORD, "s3cr3t"),
    ])
    .unwrap();
    assert_eq!(
        config.kafka_security_protocol(),
        KafkaSecurityProtocol::SaslPlaintext
    );
    assert!(config.kafka_security_protocol().uses_sasl());
    assert!(!config.kafka_security_protocol().uses_tls());
    assert_eq!(
        config.kafka_sasl_mechanism(),
        KafkaSaslMechanism::ScramSha256
    );
    assert_eq!(config.kafka_sasl_username(), Some("agent"));
    assert_eq!(config.kafka_sasl_password(), Some("s3cr3t"));

    // SASL_SSL is TLS too, with the TLS files; the mechanism defaults to SCRAM-SHA-512.
    let config = build(
        Config::builder()
            .kafka_security_protocol(KafkaSecurityProtocol::SaslSsl)
            .kafka_ssl_ca_file("/etc/kafka/ca.pem")
            .kafka_sasl_username("agent")
            .kafka_sasl_password("s3cr3t"),
        &[],
    )
    .unwrap();
    assert!(config.kafka_security_protocol().uses_tls());
    assert_eq!(
        config.kafka_sasl_mechanism(),
        KafkaSaslMechanism::ScramSha512
    );
    assert_eq!(
        config.kafka_ssl_ca_file(),
        Some(Path::new("/etc/kafka/ca.pem"))
    );
}

#[test]
fn the_kafka_sasl_password_is_never_shown() {
    let config = build_env(&[
        (env::KAFKA_SECURITY_PROTOCOL, "SASL_SSL"),
        (env::KAFKA_SASL_USERNAME, "agent"),
        (env::KAFKA_SASL_PASSWORD, "hunter2-kafka"),
    ])
    .unwrap();
    let shown = format!("{config:?} {config:#?}");
    assert!(!shown.contains("hunter2-kafka"), "{shown}");
    assert!(
        shown.contains("kafka_sasl_password: Some(\"<redacted>\")"),
        "{shown}"
    );
    // The user name is no secret, and says who the agent is.
    assert!(shown.contains("\"agent\""), "{shown}");
}

#[test]
fn bad_kafka_sasl_values_are_clear_errors() {
    let err = build_env(&[(env::KAFKA_SASL_MECHANISM, "PLAIN")]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid SW_KAFKA_SASL_MECHANISM=\"PLAIN\": rust2sky has only SCRAM-SHA-256 and \
         SCRAM-SHA-512, the mechanisms its tests run against a real broker"
    );
    for other in ["gssapi", "OAUTHBEARER"] {
        let err = build_env(&[(env::KAFKA_SASL_MECHANISM, other)]).unwrap_err();
        assert!(
            err.to_string()
                .contains("only SCRAM-SHA-256 and SCRAM-SHA-512"),
            "{err}"
        );
    }
    let err = build_env(&[(env::KAFKA_SASL_MECHANISM, "SCRAM-SHA-1")]).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"invalid SW_KAFKA_SASL_MECHANISM="SCRAM-SHA-1": expected SCRAM-SHA-256 or SCRAM-SHA-512"#
    );

    // SASL without a user name or a password cannot authenticate.
    let err = build_env(&[(env::KAFKA_SECURITY_PROTOCOL, "SASL_SSL")]).unwrap_err();
    assert_eq!(
        err,
        ConfigError::KafkaSaslCredentialsMissing {
            protocol: KafkaSecurityProtocol::SaslSsl,
            missing: env::KAFKA_SASL_USERNAME,
        }
    );
    assert_eq!(
        err.to_string(),
        "SW_KAFKA_SECURITY_PROTOCOL=SASL_SSL authenticates with SASL but SW_KAFKA_SASL_USERNAME \
         is not set: set SW_KAFKA_SASL_USERNAME and SW_KAFKA_SASL_PASSWORD"
    );
    let err = build(
        Config::builder()
            .kafka_security_protocol(KafkaSecurityProtocol::SaslPlaintext)
            .kafka_sasl_username("agent"),
        &[],
    )
    .unwrap_err();
    assert_eq!(
        err,
        ConfigError::KafkaSaslCredentialsMissing {
            protocol: KafkaSecurityProtocol::SaslPlaintext,
            missing: env::KAFKA_SASL_PASSWORD,
        }
    );
    // A blank variable is unset.
    let err = build_env(&[
        (env::KAFKA_SECURITY_PROTOCOL, "SASL_PLAINTEXT"),
        (env::KAFKA_SASL_USERNAME, "  "),
        (env::KAFKA_SASL_PASSWORD, "s3cr3t"),
    ])
    .unwrap_err();
    assert!(
        matches!(err, ConfigError::KafkaSaslCredentialsMissing { missing, .. } if missing == env::KAFKA_SASL_USERNAME),
        "{err}"
    );

    // Credentials without SASL would be ignored, the brokers reached unauthenticated.
    let err = build_env(&[
        (env::KAFKA_SECURITY_PROTOCOL, "SSL"),
        (env::KAFKA_SASL_PASSWORD, "s3cr3t"),
    ])
    .unwrap_err();
    assert_eq!(
        err,
        ConfigError::KafkaSaslWithoutSasl {
            variable: env::KAFKA_SASL_PASSWORD,
            protocol: KafkaSecurityProtocol::Ssl,
        }
    );
    assert_eq!(
        err.to_string(),
        "SW_KAFKA_SASL_PASSWORD is set but SW_KAFKA_SECURITY_PROTOCOL=SSL does not use SASL: \
         set SW_KAFKA_SECURITY_PROTOCOL to SASL_PLAINTEXT or SASL_SSL"
    );
    assert!(!err.to_string().contains("s3cr3t"), "{err}");
    let err = build(Config::builder().kafka_sasl_username("agent"), &[]).unwrap_err();
    assert!(
        matches!(err, ConfigError::KafkaSaslWithoutSasl { variable, .. } if variable == env::KAFKA_SASL_USERNAME),
        "{err}"
    );
}
