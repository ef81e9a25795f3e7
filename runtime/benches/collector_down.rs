//! How much CPU the gRPC reporter uses while its collector is down, with the default backoff.
//!
//! Run with `cargo bench -p rust2sky --bench collector_down`. It prints, for each case, the
//! process's CPU time over the window (from `/proc/self/stat`, Linux only) as a share of one core,
//! and how many connection attempts reached the port.

use std::io::Read as _;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rust2sky::Tracer;
use rust2sky::config::Config;
use rust2sky::reporter::GrpcReporter;

const WINDOW: Duration = Duration::from_secs(10);

/// User plus system CPU time of this process so far, in clock ticks (100 per second on Linux).
fn cpu_ticks() -> Option<u64> {
    let mut stat = String::new();
    std::fs::File::open("/proc/self/stat")
        .ok()?
        .read_to_string(&mut stat)
        .ok()?;
    // Fields 14 and 15 (utime, stime), counted after the command name in parentheses.
    let after_name = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// Runs a reporter against `backend` for [`WINDOW`] with one segment queued.
fn measure(case: &str, backend: SocketAddr, attempts: Option<&AtomicU64>) {
    let config = Config::builder()
        .backends([backend.to_string()])
        .build_with_env(|_| None)
        .expect("a valid configuration");
    let reporter = GrpcReporter::start(&config).expect("the reporter starts");
    let tracer = Tracer::new(config.clone(), reporter.clone());
    tracer.in_scope(|| drop(rust2sky::local_span("queued while the collector is down")));
    let (ticks_before, started) = (cpu_ticks(), Instant::now());
    std::thread::sleep(WINDOW);
    let (ticks_after, elapsed) = (cpu_ticks(), started.elapsed());
    let stats = reporter.stats();
    drop(reporter);
    let cpu = match (ticks_before, ticks_after) {
        (Some(before), Some(after)) => format!(
            "{:.2} % of a core",
            (after - before) as f64 / 100.0 / elapsed.as_secs_f64() * 100.0
        ),
        _ => "CPU time not readable here".to_owned(),
    };
    let attempts = attempts.map_or_else(
        || "not counted".to_owned(),
        |attempts| attempts.load(Ordering::Relaxed).to_string(),
    );
    println!(
        "{case}: {cpu} over {elapsed:.1?}; connection attempts: {attempts}; queued: {}",
        stats.queued
    );
}

fn main() {
    // Nothing listens: every attempt is refused at once.
    let closed = TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port");
    measure("port closed", closed, None);

    // Something listens but is no collector: it takes each connection and closes it.
    let listener = TcpListener::bind("127.0.0.1:0").expect("a port");
    listener.set_nonblocking(true).expect("non-blocking");
    let address = listener.local_addr().expect("its address");
    let attempts = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let acceptor = {
        let (attempts, stop) = (Arc::clone(&attempts), Arc::clone(&stop));
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok(_) => {
                        attempts.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        })
    };
    measure("connection closed at once", address, Some(&attempts));
    stop.store(true, Ordering::Relaxed);
    let _ = acceptor.join();
}
