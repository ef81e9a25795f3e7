//! The Kafka reporter's TLS (`SW_KAFKA_SECURITY_PROTOCOL=SSL`) and SASL (`SASL_PLAINTEXT`,
//! `SASL_SSL`) against a real broker.
//!
//! The `tansu` 0.6.0 build that CI installs cannot terminate TLS itself: its `--cert` and `--key`
//! exclude each other, and its broker never wraps a connection in its TLS acceptor. So a TLS
//! relay made here stands in front of it, with a certificate this test's own CA signed, and the
//! broker advertises the relay: every connection the reporter makes, to bootstrap and then to
//! the partition leader, is a real TLS handshake, and every Kafka byte goes through it to the
//! real broker.
//!
//! SASL is tansu's own: its build with SQLite storage keeps SCRAM credentials and checks them
//! (see [`servers::tansu_sasl`]). Its SASL server has no `PLAIN` (a handshake for it gets
//! `NoSharedMechanism`, and its validation would take any password), and it accepts
//! `OAUTHBEARER` in the handshake only to refuse it in validation: so SCRAM-SHA-256 and
//! SCRAM-SHA-512 are what is tested, and all that rust2sky takes.
//!
//! A wrong password is refused in SCRAM's own terms: the broker checks the client's proof and
//! answers `e=invalid-proof` (RFC 5802). tansu 0.6.0's code then counts the connection as
//! authenticated all the same (it checks only that the exchange ended), so what keeps the reporter
//! out is rskafka ending the connection on that answer; the wrong-password test shows it does.

use std::net::{Ipv4Addr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rskafka::client::{ClientBuilder, Credentials, SaslConfig};
use rust2sky::Tracer;
use rust2sky::config::{ConfigBuilder, KafkaSaslMechanism, KafkaSecurityProtocol};
use rust2sky::propagation::NoHeaders;
use rust2sky::proto::v3::SegmentObject;
use rust2sky::reporter::{
    FinishedSegment, KafkaError, KafkaReporter, MemoryReporter, Reporter as _,
};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::grpc_reporter::{Both, TempDir, TestCa};
use crate::kafka::{
    PATIENCE, Reach, TOPICS, assert_is_the_payment, consume, create_topics, eventually,
    kafka_config, overflow_the_queue, passes_in_its_own_process, pay,
};
use crate::servers::{self, ScramUser};

fn ring() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certificates(pem: &str) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<_, _>>()
        .expect("PEM certificates")
}

/// How this test reads back, as an OAP's kafka-fetcher configured for TLS or SASL would.
struct Secured {
    bootstrap: String,
    ca: Option<String>,
    /// A client certificate and key, for a relay that asks for one.
    identity: Option<(String, String)>,
    sasl: Option<SaslConfig>,
}

impl Secured {
    fn new(bootstrap: String) -> Secured {
        Secured {
            bootstrap,
            ca: None,
            identity: None,
            sasl: None,
        }
    }
}

impl Reach for Secured {
    fn client_builder(&self) -> ClientBuilder {
        let mut builder = ClientBuilder::new(vec![self.bootstrap.clone()]);
        if let Some(sasl) = &self.sasl {
            builder = builder.sasl_config(sasl.clone());
        }
        if let Some(ca) = &self.ca {
            let mut roots = rustls::RootCertStore::empty();
            for certificate in certificates(ca) {
                roots.add(certificate).expect("the CA certificate");
            }
            let tls = rustls::ClientConfig::builder_with_provider(ring())
                .with_safe_default_protocol_versions()
                .expect("TLS versions")
                .with_root_certificates(roots);
            let tls = match &self.identity {
                Some((chain, key)) => tls
                    .with_client_auth_cert(
                        certificates(chain),
                        PrivateKeyDer::from_pem_slice(key.as_bytes()).expect("a key"),
                    )
                    .expect("a client identity"),
                None => tls.with_no_client_auth(),
            };
            builder = builder.tls_config(Arc::new(tls));
        }
        builder
    }
}

/// A TLS server on a port of 127.0.0.1 that relays every connection, once its handshake is
/// done, to the broker's plaintext port; stopped when dropped.
struct TlsRelay {
    port: u16,
    /// Connections whose handshake succeeded.
    handshakes: Arc<AtomicUsize>,
    /// Connections whose handshake failed.
    refused: Arc<AtomicUsize>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TlsRelay {
    /// Listens at once, so that the broker can be told to advertise [`TlsRelay::port`]; relays
    /// to `broker_port` of 127.0.0.1. With `client_ca`, a client must show a certificate that
    /// CA signed.
    fn start(ca: &TestCa, client_ca: Option<&TestCa>, broker_port: u16) -> TlsRelay {
        let (chain, key) = ca.issue("127.0.0.1");
        let builder = rustls::ServerConfig::builder_with_provider(ring())
            .with_safe_default_protocol_versions()
            .expect("TLS versions");
        let builder = match client_ca {
            Some(client_ca) => {
                let mut roots = rustls::RootCertStore::empty();
                for certificate in certificates(&client_ca.pem) {
                    roots.add(certificate).expect("the client CA");
                }
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    ring(),
                )
                .build()
                .expect("a client verifier");
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let server = builder
            .with_single_cert(
                certificates(&chain),
                PrivateKeyDer::from_pem_slice(key.as_bytes()).expect("a key"),
            )
            .expect("a server certificate");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));

        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("a relay port");
        let port = listener.local_addr().expect("its address").port();
        listener.set_nonblocking(true).expect("non-blocking");
        let handshakes = Arc::new(AtomicUsize::new(0));
        let refused = Arc::new(AtomicUsize::new(0));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let counts = (Arc::clone(&handshakes), Arc::clone(&refused));
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                let listener =
                    tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
                let relay = async {
                    loop {
                        let Ok((client, _)) = listener.accept().await else {
                            continue;
                        };
                        let acceptor = acceptor.clone();
                        let (handshakes, refused) = (Arc::clone(&counts.0), Arc::clone(&counts.1));
                        tokio::spawn(async move {
                            let Ok(mut client) = acceptor.accept(client).await else {
                                refused.fetch_add(1, Ordering::Relaxed);
                                return;
                            };
                            handshakes.fetch_add(1, Ordering::Relaxed);
                            let Ok(mut broker) =
                                tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, broker_port))
                                    .await
                            else {
                                return;
                            };
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut broker).await;
                        });
                    }
                };
                tokio::select! {
                    _ = stopped => {}
                    () = relay => {}
                }
            });
        });
        TlsRelay {
            port,
            handshakes,
            refused,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn handshakes(&self) -> usize {
        self.handshakes.load(Ordering::Relaxed)
    }

    fn refused(&self) -> usize {
        self.refused.load(Ordering::Relaxed)
    }
}

impl Drop for TlsRelay {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A broker behind a TLS relay, the topics made: the relay, and the broker (stopped when
/// dropped); `None` when there is no `tansu` to start.
fn broker_behind_tls(
    ca: &TestCa,
    client_ca: Option<&TestCa>,
) -> Option<(TlsRelay, servers::Tansu, Secured)> {
    let broker_port = servers::free_loopback_port();
    let relay = TlsRelay::start(ca, client_ca, broker_port);
    let broker = servers::tansu_advertising(broker_port, relay.port)?;
    let mut reader = Secured::new(relay.addr());
    reader.ca = Some(ca.pem.clone());
    if let Some(client_ca) = client_ca {
        reader.identity = Some(client_ca.issue("reader"));
    }
    create_topics(&reader, &TOPICS, 1);
    Some((relay, broker, reader))
}

/// One [`pay`] request, reported to `kafka` and kept in memory too; the segment as made.
fn report_a_payment(config: rust2sky::config::Config, kafka: &KafkaReporter) -> SegmentObject {
    let memory = MemoryReporter::new();
    let tracer = Tracer::new(config, Both(memory.clone(), kafka.clone()));
    tracer.in_scope(|| pay("1"));
    assert!(tracer.flush(PATIENCE), "{:?}", kafka.stats());
    let made = memory.take_finished();
    assert_eq!(made.len(), 1);
    FinishedSegment::to_proto(&made[0])
}

/// The one record on the segments topic is the segment `made`, field by field.
fn assert_arrived(reader: &Secured, made: &SegmentObject) {
    let records = consume(reader, "skywalking-segments", 1);
    assert_eq!(records.len(), 1, "one record, nothing more");
    assert_is_the_payment(&records[0], made);
}

fn tls_config(
    broker: &str,
    ca_file: &std::path::Path,
    more: impl FnOnce(ConfigBuilder) -> ConfigBuilder,
) -> rust2sky::config::Config {
    kafka_config(broker, |config| {
        more(
            config
                .kafka_security_protocol(KafkaSecurityProtocol::Ssl)
                .kafka_ssl_ca_file(ca_file),
        )
    })
}

#[test]
fn over_tls_the_segment_arrives_field_by_field() {
    let ca = TestCa::new();
    let Some((relay, _broker, reader)) = broker_behind_tls(&ca, None) else {
        return;
    };
    let files = TempDir::new("kafka-tls");
    let ca_file = files.write("ca.pem", &ca.pem);
    let read_so_far = relay.handshakes();

    let config = tls_config(&relay.addr(), &ca_file, |config| config);
    let kafka = KafkaReporter::start(&config).expect("the reporter starts");
    let made = report_a_payment(config, &kafka);
    let stats = kafka.stats();
    assert_eq!((stats.produced, stats.sent, stats.failed), (1, 1, 0));
    assert!(eventually(|| kafka.is_connected()), "{:?}", kafka.stats());
    assert!(
        relay.handshakes() > read_so_far,
        "the reporter came through the TLS relay"
    );
    assert_eq!(relay.refused(), 0);
    assert_arrived(&reader, &made);
}

#[test]
fn a_broker_certificate_from_another_ca_is_refused_and_the_queue_stays_bounded() {
    let ca = TestCa::new();
    let Some((relay, _broker, reader)) = broker_behind_tls(&ca, None) else {
        return;
    };
    let files = TempDir::new("kafka-tls-other-ca");
    let other_ca = files.write("other-ca.pem", &TestCa::new().pem);
    let config = tls_config(&relay.addr(), &other_ca, |config| {
        config.max_send_queue_size(5)
    });
    let kafka = KafkaReporter::start(&config).expect("the reporter starts");
    overflow_the_queue(config, &kafka);
    assert!(
        eventually(|| relay.refused() >= 2),
        "it keeps trying, with backoff"
    );
    assert_eq!(kafka.stats().queued, 5, "what waits is kept");
    assert!(!kafka.is_connected());
    // Nothing reached the broker.
    assert!(consume(&reader, "skywalking-segments", 0).is_empty());
}

#[test]
fn mutual_tls_needs_the_client_certificate() {
    let ca = TestCa::new();
    let clients = TestCa::new();
    let Some((relay, _broker, reader)) = broker_behind_tls(&ca, Some(&clients)) else {
        return;
    };
    let files = TempDir::new("kafka-mtls");
    let ca_file = files.write("ca.pem", &ca.pem);

    // Without a client certificate the relay refuses every handshake.
    let config = tls_config(&relay.addr(), &ca_file, |config| config);
    let anonymous = KafkaReporter::start(&config).expect("the reporter starts");
    let refused_before = relay.refused();
    Tracer::new(config, anonymous.clone())
        .in_scope(|| drop(rust2sky::entry_span("GET:/anonymous", &NoHeaders)));
    assert!(eventually(|| relay.refused() > refused_before));
    assert!(!anonymous.flush(Duration::from_millis(300)));
    assert!(!anonymous.is_connected());
    assert_eq!(anonymous.stats().queued, 1);
    drop(anonymous);

    let (chain, key) = clients.issue("payments");
    let chain_file = files.write("client.pem", &chain);
    let key_file = files.write("client.key", &key);
    let config = tls_config(&relay.addr(), &ca_file, |config| {
        config
            .kafka_ssl_cert_file(&chain_file)
            .kafka_ssl_key_file(&key_file)
    });
    let kafka = KafkaReporter::start(&config).expect("the reporter starts");
    let made = report_a_payment(config, &kafka);
    assert_eq!(kafka.stats().sent, 1);
    assert_arrived(&reader, &made);
}

#[test]
fn a_tls_file_that_cannot_be_used_is_an_error_at_start() {
    let files = TempDir::new("kafka-bad-tls");
    let config = |ca_file: &std::path::Path| tls_config("127.0.0.1:9092", ca_file, |config| config);

    let missing = files.0.join("missing.pem");
    let err = KafkaReporter::start(&config(&missing)).unwrap_err();
    assert!(
        matches!(
            err,
            KafkaError::TlsFile {
                what: "trusted CA",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("missing.pem"), "{err}");

    let not_pem = files.write("ca.pem", "not a certificate");
    let err = KafkaReporter::start(&config(&not_pem)).unwrap_err();
    assert!(matches!(err, KafkaError::Tls(_)), "{err}");
    assert!(
        err.to_string().contains("ca.pem") && err.to_string().contains("no PEM certificate"),
        "{err}"
    );

    let ca = TestCa::new();
    let ca_file = files.write("good-ca.pem", &ca.pem);
    let (chain, _key) = ca.issue("payments");
    let chain_file = files.write("client.pem", &chain);
    // A certificate where the key should be.
    let err = KafkaReporter::start(&tls_config("127.0.0.1:9092", &ca_file, |config| {
        config
            .kafka_ssl_cert_file(&chain_file)
            .kafka_ssl_key_file(&chain_file)
    }))
    .unwrap_err();
    assert!(
        err.to_string().contains("client.pem") && err.to_string().contains("private key"),
        "{err}"
    );
}

/// The users of the SASL broker, one of each SCRAM mechanism, as `tansu user create` takes them.
const SHA256_USER: ScramUser<'static> = ScramUser {
    name: "agent-256",
    password: "correct horse 256",
    mechanism: "scram256",
};
const SHA512_USER: ScramUser<'static> = ScramUser {
    name: "agent-512",
    password: "correct horse 512",
    mechanism: "scram512",
};

/// A broker that lets in only SASL SCRAM clients, behind a TLS relay when `ca` is given, the
/// topics made by a reader that authenticates as [`SHA512_USER`]: the relay, the broker (both
/// stopped when dropped) and the reader; `None` when there is no such broker to start.
fn broker_with_sasl(
    ca: Option<&TestCa>,
) -> Option<(Option<TlsRelay>, servers::SaslTansu, Secured)> {
    let broker_port = servers::free_loopback_port();
    let relay = ca.map(|ca| TlsRelay::start(ca, None, broker_port));
    let advertised = relay.as_ref().map_or(broker_port, |relay| relay.port);
    let broker = servers::tansu_sasl(broker_port, advertised, &[SHA256_USER, SHA512_USER])?;
    let mut reader = Secured::new(match &relay {
        Some(relay) => relay.addr(),
        None => broker.addr(),
    });
    reader.ca = ca.map(|ca| ca.pem.clone());
    reader.sasl = Some(SaslConfig::ScramSha512(Credentials::new(
        SHA512_USER.name.to_owned(),
        SHA512_USER.password.to_owned(),
    )));
    create_topics(&reader, &TOPICS, 1);
    Some((relay, broker, reader))
}

/// Settings for `broker` with SASL_PLAINTEXT as `user`, `mechanism` and `password`.
fn sasl_config(
    broker: &str,
    mechanism: KafkaSaslMechanism,
    user: &str,
    password: &str,
    more: impl FnOnce(ConfigBuilder) -> ConfigBuilder,
) -> rust2sky::config::Config {
    kafka_config(broker, |config| {
        more(
            config
                .kafka_security_protocol(KafkaSecurityProtocol::SaslPlaintext)
                .kafka_sasl_mechanism(mechanism)
                .kafka_sasl_username(user)
                .kafka_sasl_password(password),
        )
    })
}

#[test]
fn the_broker_refuses_a_client_that_does_not_authenticate() {
    // This broker checks: what makes a SASL test of the reporter mean something.
    let Some((_relay, broker, _reader)) = broker_with_sasl(None) else {
        return;
    };
    let anonymous = kafka_config(&broker.addr(), |config| config);
    let kafka = KafkaReporter::start(&anonymous).expect("the reporter starts");
    Tracer::new(anonymous, kafka.clone())
        .in_scope(|| drop(rust2sky::entry_span("GET:/anonymous", &NoHeaders)));
    assert!(!kafka.flush(Duration::from_secs(2)));
    assert!(!kafka.is_connected());
    assert_eq!((kafka.stats().queued, kafka.stats().sent), (1, 0));
}

#[test]
fn with_sasl_scram_the_segment_arrives_field_by_field() {
    for (mechanism, user) in [
        (KafkaSaslMechanism::ScramSha256, SHA256_USER),
        (KafkaSaslMechanism::ScramSha512, SHA512_USER),
    ] {
        let Some((_relay, broker, reader)) = broker_with_sasl(None) else {
            return;
        };
        let config = sasl_config(&broker.addr(), mechanism, user.name, user.password, |c| c);
        let kafka = KafkaReporter::start(&config).expect("the reporter starts");
        let made = report_a_payment(config, &kafka);
        let stats = kafka.stats();
        assert_eq!(
            (stats.produced, stats.sent, stats.failed),
            (1, 1, 0),
            "{mechanism}"
        );
        assert!(eventually(|| kafka.is_connected()), "{mechanism}");
        assert_arrived(&reader, &made);
    }
}

#[test]
fn over_sasl_ssl_the_segment_arrives_through_tls() {
    let ca = TestCa::new();
    let Some((Some(relay), _broker, reader)) = broker_with_sasl(Some(&ca)) else {
        return;
    };
    let files = TempDir::new("kafka-sasl-ssl");
    let ca_file = files.write("ca.pem", &ca.pem);
    let read_so_far = relay.handshakes();
    let config = kafka_config(&relay.addr(), |config| {
        config
            .kafka_security_protocol(KafkaSecurityProtocol::SaslSsl)
            .kafka_ssl_ca_file(&ca_file)
            .kafka_sasl_mechanism(KafkaSaslMechanism::ScramSha256)
            .kafka_sasl_username(SHA256_USER.name)
            .kafka_sasl_password(SHA256_USER.password)
    });
    let kafka = KafkaReporter::start(&config).expect("the reporter starts");
    let made = report_a_payment(config, &kafka);
    assert_eq!(kafka.stats().sent, 1);
    assert!(
        relay.handshakes() > read_so_far,
        "the reporter came through the TLS relay"
    );
    assert_eq!(relay.refused(), 0);
    assert_arrived(&reader, &made);
}

/// Set in the process [`a_wrong_password_is_refused_counted_and_logged_and_the_queue_stays_bounded`]
/// starts: the broker.
const WRONG_PASSWORD_BROKER: &str = "RUST2SKY_TEST_KAFKA_WRONG_PASSWORD_BROKER";

/// The warnings of target `rust2sky`, for the process that installs it.
struct Warnings(std::sync::Mutex<Vec<String>>);

impl log::Log for Warnings {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.target() == "rust2sky" && metadata.level() <= log::Level::Warn
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            self.0
                .lock()
                .expect("the warnings")
                .push(record.args().to_string());
        }
    }

    fn flush(&self) {}
}

static WARNINGS: Warnings = Warnings(std::sync::Mutex::new(Vec::new()));

#[test]
fn a_wrong_password_is_refused_counted_and_logged_and_the_queue_stays_bounded() {
    if let Ok(broker) = std::env::var(WRONG_PASSWORD_BROKER) {
        // In a process of its own: the logger is the process's one.
        log::set_logger(&WARNINGS).expect("the first logger");
        log::set_max_level(log::LevelFilter::Warn);
        let config = sasl_config(
            &broker,
            KafkaSaslMechanism::ScramSha512,
            SHA512_USER.name,
            "not the password",
            |config| config.max_send_queue_size(5),
        );
        let kafka = KafkaReporter::start(&config).expect("the reporter starts");
        overflow_the_queue(config, &kafka);
        let refusal = || {
            WARNINGS
                .0
                .lock()
                .expect("the warnings")
                .iter()
                // The broker's SCRAM answer to a wrong proof (RFC 5802's `e=invalid-proof`).
                .find(|line| line.contains("invalid proof"))
                .cloned()
        };
        assert!(
            eventually(|| refusal().is_some()),
            "the refusal is logged: {:?}",
            WARNINGS.0.lock().expect("the warnings")
        );
        let line = refusal().expect("the refusal");
        eprintln!("logged: {line}");
        assert!(
            line.contains(r#"authenticating with SASL SCRAM-SHA-512 as "agent-512""#),
            "{line}"
        );
        assert!(!line.contains("not the password"), "{line}");
        // The reporter's thread is alive, still holding what waits: a panic there would have
        // counted it as failed.
        let stats = kafka.stats();
        assert_eq!(
            (stats.queued, stats.dropped_full, stats.failed, stats.sent),
            (5, 7, 0, 0),
            "{stats:?}"
        );
        assert!(!kafka.is_connected());
        return;
    }
    let Some((_relay, broker, reader)) = broker_with_sasl(None) else {
        return;
    };
    assert!(passes_in_its_own_process(
        "kafka_security::a_wrong_password_is_refused_counted_and_logged_and_the_queue_stays_bounded",
        &[(WRONG_PASSWORD_BROKER, &broker.addr())],
    ));
    // Nothing reached the broker.
    assert!(consume(&reader, "skywalking-segments", 0).is_empty());
}
