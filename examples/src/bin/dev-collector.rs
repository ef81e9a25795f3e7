//! A SkyWalking collector for development: point agents at it and watch each trace arrive as a
//! waterfall in the terminal, with no OAP, no storage and no UI.
//!
//! ```text
//! cargo run -p rust2sky-examples --bin dev-collector                          # 127.0.0.1:11800
//! cargo run -p rust2sky-examples --bin dev-collector -- --listen 0.0.0.0:11800
//! SW_DEV_COLLECTOR_LISTEN=127.0.0.1:19876 cargo run -p rust2sky-examples --bin dev-collector
//! ```
//!
//! `--listen` wins over `SW_DEV_COLLECTOR_LISTEN`; port 0 picks a free port. A trace is printed
//! once no segment of it has arrived for a second, and then forgotten, so the collector runs in
//! bounded memory until Ctrl-C (which prints the traces still waiting first).

use std::collections::HashMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rust2sky::proto::v3::SegmentObject;
use rust2sky::testing::{Collector, Waterfall};

const DEFAULT_LISTEN: &str = "127.0.0.1:11800";
const LISTEN_VARIABLE: &str = "SW_DEV_COLLECTOR_LISTEN";
/// A trace is complete when none of its segments arrived for this long: agents report a
/// segment when its last span ends, and the segments of one request end within moments.
const QUIET: Duration = Duration::from_secs(1);
/// Segments (and other records) the collector holds between two looks; more arriving meanwhile
/// are counted, not printed.
const KEEP_LAST: usize = 10_000;
/// Traces waiting for their quiet second; past this, the oldest is printed early.
const MAX_WAITING_TRACES: usize = 1_000;
/// How often the collector is looked at (and Ctrl-C noticed).
const TICK: Duration = Duration::from_millis(200);

const USAGE: &str = "\
usage: dev-collector [--listen HOST:PORT]

A SkyWalking collector that prints every trace it receives as a waterfall.

  --listen HOST:PORT   where to listen (default 127.0.0.1:11800; port 0 picks a free one)
  -h, --help           this text

Environment:
  SW_DEV_COLLECTOR_LISTEN   where to listen, when --listen is not given";

fn main() -> ExitCode {
    let listen = match listen_address(
        std::env::args().skip(1),
        std::env::var(LISTEN_VARIABLE).ok(),
    ) {
        Ok(Some(listen)) => listen,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(problem) => {
            eprintln!("dev-collector: {problem}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let collector = match Collector::builder()
        .address(listen)
        .keep_last(KEEP_LAST)
        .start()
    {
        Ok(collector) => collector,
        Err(error) => {
            eprintln!("dev-collector: cannot listen on {listen}: {error}");
            return ExitCode::FAILURE;
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    if let Err(error) = stop_on_ctrl_c(Arc::clone(&stop)) {
        eprintln!("dev-collector: cannot watch for Ctrl-C: {error}");
        return ExitCode::FAILURE;
    }
    println!(
        "rust2sky dev collector listening on {}",
        collector.address()
    );
    println!(
        "point agents at it: SW_AGENT_COLLECTOR_BACKEND_SERVICES={}",
        collector.address()
    );
    println!("each trace prints once it has been quiet for 1 s; Ctrl-C to stop\n");

    let total = print_traces(&collector, &stop);
    println!("stopped after {total} segments");
    ExitCode::SUCCESS
}

/// `--listen`, else the environment variable, else the default; `None` when help was asked for.
fn listen_address(
    mut args: impl Iterator<Item = String>,
    from_env: Option<String>,
) -> Result<Option<SocketAddr>, String> {
    let mut listen = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--listen" => match args.next() {
                Some(value) => listen = Some(value),
                None => return Err("--listen needs HOST:PORT".to_owned()),
            },
            other => match other.strip_prefix("--listen=") {
                Some(value) => listen = Some(value.to_owned()),
                None => return Err(format!("unknown argument {other:?}")),
            },
        }
    }
    let (text, source) = match (listen, from_env) {
        (Some(text), _) => (text, "--listen"),
        (None, Some(text)) if !text.trim().is_empty() => (text, LISTEN_VARIABLE),
        _ => (DEFAULT_LISTEN.to_owned(), "the default"),
    };
    let text = text.trim();
    match text.to_socket_addrs().map(|mut found| found.next()) {
        Ok(Some(address)) => Ok(Some(address)),
        Ok(None) => Err(format!("{source} {text:?} names no address")),
        Err(error) => Err(format!("{source} {text:?} is not HOST:PORT: {error}")),
    }
}

/// Sets `stop` on Ctrl-C, from a thread of its own so the printing loop can stay plain blocking
/// code.
fn stop_on_ctrl_c(stop: Arc<AtomicBool>) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("ctrl-c".to_owned())
        .spawn(move || {
            if runtime.block_on(tokio::signal::ctrl_c()).is_ok() {
                stop.store(true, Ordering::SeqCst);
            }
        })?;
    Ok(())
}

/// The segments of one trace waiting to be printed.
struct Waiting {
    segments: Vec<SegmentObject>,
    last_arrival: Instant,
}

/// Prints each trace once it has been quiet for [`QUIET`], until `stop`; returns how many
/// segments arrived.
fn print_traces(collector: &Collector, stop: &AtomicBool) -> u64 {
    let mut seen = 0_u64;
    // In the order the traces first arrived, so that they print in that order.
    let mut waiting: Vec<(String, Waiting)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    loop {
        let stopping = stop.load(Ordering::SeqCst);
        let now = Instant::now();
        let next_due = waiting
            .iter()
            .map(|(_, trace)| (trace.last_arrival + QUIET).saturating_duration_since(now))
            .min()
            .unwrap_or(TICK)
            .min(TICK);
        if !stopping {
            // One look per tick rather than one per arriving segment: a look takes a lock the
            // collector's thread needs for every arrival.
            std::thread::sleep(next_due);
        }
        // What arrived since the last look; the collector forgets it.
        let received = collector.take();
        let arrived = received.segment_count;
        seen += arrived;
        let kept = received.segments.len() as u64;
        if arrived > kept {
            eprintln!(
                "({} segments arrived faster than they could be printed, and were skipped)",
                arrived - kept
            );
        }
        let now = Instant::now();
        for segment in received.segments {
            let slot = *index.entry(segment.trace_id.clone()).or_insert_with(|| {
                waiting.push((
                    segment.trace_id.clone(),
                    Waiting {
                        segments: Vec::new(),
                        last_arrival: now,
                    },
                ));
                waiting.len() - 1
            });
            let trace = &mut waiting[slot].1;
            trace.segments.push(segment);
            trace.last_arrival = now;
        }

        let overflow = waiting.len().saturating_sub(MAX_WAITING_TRACES);
        let mut printed = false;
        let mut position = 0;
        waiting.retain(|(_, trace)| {
            position += 1;
            let due = stopping || position <= overflow || now >= trace.last_arrival + QUIET;
            if due {
                // Printed traces are forgotten: a late segment prints as a trace of its own.
                println!("{}", Waterfall::new(trace.segments.iter().cloned()));
                printed = true;
            }
            !due
        });
        if printed {
            index = waiting
                .iter()
                .enumerate()
                .map(|(slot, (id, _))| (id.clone(), slot))
                .collect();
        }
        if stopping {
            return seen;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::listen_address;

    fn parse(args: &[&str], env: Option<&str>) -> Result<Option<String>, String> {
        listen_address(
            args.iter().map(|arg| (*arg).to_owned()),
            env.map(str::to_owned),
        )
        .map(|address| address.map(|address| address.to_string()))
    }

    #[test]
    fn the_flag_wins_over_the_environment_which_wins_over_the_default() {
        assert_eq!(parse(&[], None).unwrap().unwrap(), "127.0.0.1:11800");
        assert_eq!(
            parse(&[], Some("127.0.0.1:1")).unwrap().unwrap(),
            "127.0.0.1:1"
        );
        assert_eq!(
            parse(&["--listen", "127.0.0.1:2"], Some("127.0.0.1:1"))
                .unwrap()
                .unwrap(),
            "127.0.0.1:2"
        );
        assert_eq!(
            parse(&["--listen=127.0.0.1:3"], None).unwrap().unwrap(),
            "127.0.0.1:3"
        );
        assert_eq!(parse(&["--help"], None).unwrap(), None);
    }

    #[test]
    fn a_bad_address_or_argument_is_an_error_that_names_it() {
        let error = parse(&[], Some("nowhere")).unwrap_err();
        assert!(
            error.contains("SW_DEV_COLLECTOR_LISTEN \"nowhere\""),
            "{error}"
        );
        assert!(parse(&["--listen"], None).is_err());
        assert!(
            parse(&["--port", "1"], None)
                .unwrap_err()
                .contains("--port")
        );
    }
}
