//! go2sky's README quickstart with rust2sky's manual API: a local span, a sub span inside it, and
//! the trace id, reported by the log reporter (one line per segment, on stdout here).
//!
//! Run with `cargo run -p rust2sky-examples --bin manual`.

use std::error::Error;

use rust2sky::config::Config;
use rust2sky::reporter::LogReporter;

/// Writes log records on stdout: the log reporter's lines, for this example.
struct Stdout;

impl log::Log for Stdout {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Info
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            println!("{}", record.args());
        }
    }

    fn flush(&self) {}
}

static STDOUT: Stdout = Stdout;

fn main() -> Result<(), Box<dyn Error>> {
    log::set_logger(&STDOUT)?;
    log::set_max_level(log::LevelFilter::Info);

    // go2sky: r, _ := reporter.NewLogReporter()
    //         tracer, _ := go2sky.NewTracer("example", go2sky.WithReporter(r))
    let config = Config::builder().service_name("example").build()?;
    let guard = rust2sky::init(config, LogReporter::new())?;

    {
        // span, ctx, _ := tracer.CreateLocalSpan(context.Background())
        let _span = rust2sky::local_span("main").entered();
        {
            // subSpan, newCtx, _ := tracer.CreateLocalSpan(ctx): the context is implicit here
            let _sub_span = rust2sky::local_span("sub").entered();
            // go2sky.TraceID(newCtx)
            println!(
                "trace id: {}",
                rust2sky::trace_id().unwrap_or_else(|| "N/A".to_owned())
            );
        } // subSpan.End()
    } // span.End(): the segment's last span ends, and the reporter writes it

    // r.Close(): the guard flushes the reporter
    drop(guard);
    Ok(())
}
