//! A reporter that writes one line per segment.

use std::fmt::Write as _;

use rust2sky_proto::v3::{SegmentObject, SpanObject, SpanType};

use super::{FinishedSegment, Reporter};
use crate::escape::escaped;

/// Writes each finished segment as one readable line through the `log` crate (target
/// `rust2sky::segment`, level info), like go2sky's log reporter: handy in development, or to see
/// what an application would send before an OAP is set up.
///
/// ```
/// use rust2sky::reporter::LogReporter;
/// use rust2sky::{Tracer, config::Config};
///
/// let tracer = Tracer::new(Config::default(), LogReporter::new());
/// tracer.in_scope(|| {
///     let _span = rust2sky::local_span("compute").entered();
/// });
/// // logged: segment trace=... segment=... service=rust-service instance=... spans=[#0 Local "compute" 0ms]
/// ```
///
/// Whatever logger the application installs receives the lines; `log`'s own rules apply, so a
/// logger that blocks makes this reporter block. Use it for development, not production.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogReporter {
    _private: (),
}

impl LogReporter {
    /// A reporter that logs each segment.
    ///
    /// ```
    /// let reporter = rust2sky::reporter::LogReporter::new();
    /// ```
    pub fn new() -> Self {
        LogReporter { _private: () }
    }

    /// The line this reporter writes for `segment`. Names and tag values are quoted and
    /// escaped, and peers and tag keys have their control characters escaped, so that text from
    /// a request cannot forge a log line.
    ///
    /// ```
    /// use rust2sky::proto::v3::SegmentObject;
    /// use rust2sky::reporter::LogReporter;
    ///
    /// let line = LogReporter::format(&SegmentObject { trace_id: "t1".into(), ..Default::default() });
    /// assert!(line.starts_with("segment trace=t1 "));
    /// ```
    pub fn format(segment: &SegmentObject) -> String {
        let mut line = format!(
            "segment trace={} segment={} service={} instance={}{} spans=[",
            segment.trace_id,
            segment.trace_segment_id,
            segment.service,
            segment.service_instance,
            if segment.is_size_limited {
                " size-limited"
            } else {
                ""
            },
        );
        let mut spans: Vec<&SpanObject> = segment.spans.iter().collect();
        spans.sort_by_key(|span| span.span_id);
        for (index, span) in spans.into_iter().enumerate() {
            if index > 0 {
                line.push_str(", ");
            }
            let kind = match span.span_type() {
                SpanType::Entry => "Entry",
                SpanType::Exit => "Exit",
                SpanType::Local => "Local",
            };
            let _ = write!(
                line,
                "#{} {kind} {:?} {}ms",
                span.span_id,
                span.operation_name,
                // Saturating: the times come from the application, and an end before the
                // start (or at the far ends of `i64`) must not overflow.
                span.end_time.saturating_sub(span.start_time)
            );
            if span.parent_span_id >= 0 {
                let _ = write!(line, " parent=#{}", span.parent_span_id);
            }
            if !span.peer.is_empty() {
                let _ = write!(line, " peer={}", escaped(&span.peer));
            }
            if span.is_error {
                line.push_str(" error");
            }
            for tag in &span.tags {
                let _ = write!(line, " {}={:?}", escaped(&tag.key), tag.value);
            }
        }
        line.push(']');
        line
    }
}

impl Reporter for LogReporter {
    fn report(&self, segment: FinishedSegment) {
        if log::log_enabled!(target: "rust2sky::segment", log::Level::Info) {
            log::info!(target: "rust2sky::segment", "{}", Self::format(&segment.to_proto()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extreme_times_do_not_overflow() {
        let span = |start_time, end_time| SpanObject {
            start_time,
            end_time,
            ..SpanObject::default()
        };
        let segment = SegmentObject {
            spans: vec![span(i64::MIN, i64::MAX), span(i64::MAX, i64::MIN)],
            ..SegmentObject::default()
        };
        let line = LogReporter::format(&segment);
        assert!(line.contains(&format!("{}ms", i64::MAX)), "{line}");
        assert!(line.contains(&format!("{}ms", i64::MIN)), "{line}");
    }
}
