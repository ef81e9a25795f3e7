//! A token sent without TLS is warned about, once. This module installs the binary's `log`
//! logger, which no other test of it needs.

use std::sync::Mutex;

use rust2sky::config::Config;
use rust2sky::reporter::GrpcReporter;

static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Warn
    }
    fn log(&self, record: &log::Record<'_>) {
        LINES.lock().unwrap().push(record.args().to_string());
    }
    fn flush(&self) {}
}

fn cleartext_warnings() -> usize {
    LINES
        .lock()
        .unwrap()
        .iter()
        .filter(|line| line.contains("in cleartext"))
        .count()
}

#[test]
fn a_token_without_tls_is_warned_about_once() {
    log::set_boxed_logger(Box::new(Capture)).unwrap();
    log::set_max_level(log::LevelFilter::Warn);
    let with_token = Config::builder()
        .backends(["127.0.0.1:9"])
        .authentication("secret-token")
        .build_with_env(|_| None)
        .unwrap();
    let first = GrpcReporter::start(&with_token).unwrap();
    let second = GrpcReporter::start(&with_token).unwrap();
    assert_eq!(cleartext_warnings(), 1);
    assert!(
        !LINES
            .lock()
            .unwrap()
            .iter()
            .any(|line| line.contains("secret-token"))
    );
    drop((first, second));
}
