use std::fmt;
use std::num::ParseIntError;

use rust2sky::config::Config;
use rust2sky::reporter::MemoryReporter;
use rust2sky::{Tracer, sw_local};

#[sw_local]
fn parse_sum(a: &str, b: &str) -> Result<u32, ParseIntError> {
    let a: u32 = a.parse()?;
    if a == 0 {
        return Ok(0);
    }
    let b: u32 = b.parse()?;
    Ok(a + b)
}

#[derive(Debug)]
enum AppError {
    Parse(ParseIntError),
}

impl From<ParseIntError> for AppError {
    fn from(error: ParseIntError) -> Self {
        AppError::Parse(error)
    }
}

#[sw_local(err(Debug))]
fn converted(raw: &str) -> Result<u32, AppError> {
    Ok(raw.parse::<u32>()?)
}

struct Opaque;

#[sw_local(err)]
fn opaque(fail: bool) -> Result<(), Opaque> {
    if fail { Err(Opaque) } else { Ok(()) }
}

struct Shown;

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("shown")
    }
}

#[sw_local(err(Display))]
fn shown() -> Result<(), Shown> {
    Err(Shown)
}

#[sw_local]
fn first_even(values: &[u32]) -> Option<u32> {
    for value in values {
        if value % 2 == 0 {
            return Some(*value);
        }
    }
    let last = values.last()?;
    Some(last * 2)
}

#[sw_local]
fn boxed_error(raw: &str) -> Result<u32, Box<dyn std::error::Error + Send + Sync>> {
    let value: u32 = raw.parse()?;
    if value > 10 {
        return Err("too big".into());
    }
    Ok(value)
}

fn main() {
    let reporter = MemoryReporter::new();
    let tracer = Tracer::new(Config::default(), reporter.clone());
    tracer.in_scope(|| {
        assert_eq!(parse_sum("1", "2"), Ok(3));
        assert_eq!(parse_sum("0", "x"), Ok(0));
        assert!(parse_sum("1", "x").is_err());
        assert!(converted("x").is_err());
        assert!(opaque(true).is_err());
        assert!(opaque(false).is_ok());
        assert!(shown().is_err());
        assert_eq!(first_even(&[1, 4]), Some(4));
        assert_eq!(first_even(&[]), None);
        assert_eq!(boxed_error("11").unwrap_err().to_string(), "too big");
    });
    let segments = reporter.segments();
    let spans: Vec<_> = segments.iter().map(|segment| &segment.spans[0]).collect();
    let errors: Vec<bool> = spans.iter().map(|span| span.is_error).collect();
    assert_eq!(
        errors,
        [false, false, true, true, true, false, true, false, false, true]
    );
    assert_eq!(spans[2].logs[0].data[1].value, "ParseIntError");
    assert_eq!(spans[3].logs[0].data[1].value, "AppError");
    assert!(spans[3].logs[0].data[2].value.starts_with("Parse("));
    assert_eq!(spans[4].logs[0].data[1].value, "Opaque");
    assert_eq!(spans[6].logs[0].data[2].value, "shown");
    assert_eq!(spans[9].logs[0].data[2].value, "too big");
}
