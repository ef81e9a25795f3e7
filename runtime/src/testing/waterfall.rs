//! Segments drawn as a trace waterfall, for a terminal.

use std::collections::HashMap;
use std::fmt;

use rust2sky_proto::v3::{RefType, SegmentObject, SpanObject, SpanType};

/// Segments drawn as text, one waterfall per trace: what a collector received, readable at a
/// glance in a terminal or a test failure.
///
/// Segments are grouped by trace id, traces in the order they started. Within a trace, each span
/// sits under its parent: the `parent_span_id` in its own segment, or, for the first span of a
/// segment, the span its reference names in another segment (the caller's exit span across
/// processes, the captured span across threads). Each line holds a bar scaled to the whole trace,
/// the duration, then the service, the span type, the operation, `-> peer` for exit spans, the
/// tags and `✗` with the error logged, if the span failed.
///
/// ```
/// use rust2sky::{Tracer, config::Config, reporter::MemoryReporter, testing::Waterfall};
///
/// let reporter = MemoryReporter::new();
/// let tracer = Tracer::new(Config::builder().service_name("shop").build()?, reporter.clone());
/// tracer.in_scope(|| {
///     let _request = rust2sky::local_span("checkout").entered();
///     let _price = rust2sky::local_span("price").entered();
/// });
///
/// let text = Waterfall::new(reporter.segments()).to_string();
/// assert!(text.starts_with("trace "));
/// assert!(text.contains("shop Local checkout\n"));
/// assert!(text.contains("  shop Local price\n"), "the child is indented under its parent");
/// # Ok::<(), rust2sky::config::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Waterfall {
    traces: Vec<Trace>,
    bar_width: usize,
}

#[derive(Debug, Clone)]
struct Trace {
    id: String,
    segments: Vec<SegmentObject>,
}

impl Waterfall {
    /// The default number of cells of a bar.
    ///
    /// ```
    /// use rust2sky::testing::Waterfall;
    ///
    /// // Bars twice as detailed as the default, for a wide terminal.
    /// let wide = Waterfall::new(Vec::new()).bar_width(2 * Waterfall::DEFAULT_BAR_WIDTH);
    /// assert_eq!(wide.to_string(), "");
    /// ```
    pub const DEFAULT_BAR_WIDTH: usize = 30;

    /// The waterfall of these segments, of one trace or of many.
    ///
    /// ```
    /// let empty = rust2sky::testing::Waterfall::new(Vec::new());
    /// assert_eq!(empty.to_string(), "");
    /// ```
    pub fn new(segments: impl IntoIterator<Item = SegmentObject>) -> Waterfall {
        let mut traces: Vec<Trace> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        for segment in segments {
            let slot = *index.entry(segment.trace_id.clone()).or_insert_with(|| {
                traces.push(Trace {
                    id: segment.trace_id.clone(),
                    segments: Vec::new(),
                });
                traces.len() - 1
            });
            traces[slot].segments.push(segment);
        }
        // Stable: traces that started in the same millisecond keep their arrival order.
        traces.sort_by_key(|trace| trace.bounds().0);
        Waterfall {
            traces,
            bar_width: Self::DEFAULT_BAR_WIDTH,
        }
    }

    /// Draws bars of `cells` cells (at least 1) instead of [`Waterfall::DEFAULT_BAR_WIDTH`].
    ///
    /// ```
    /// # use rust2sky::testing::Waterfall;
    /// let narrow = Waterfall::new(Vec::new()).bar_width(10);
    /// ```
    #[must_use]
    pub fn bar_width(mut self, cells: usize) -> Waterfall {
        self.bar_width = cells.max(1);
        self
    }

    /// The ids of the traces drawn, in the order they are drawn.
    ///
    /// ```
    /// let waterfall = rust2sky::testing::Waterfall::new(Vec::new());
    /// assert_eq!(waterfall.trace_ids().count(), 0);
    /// ```
    pub fn trace_ids(&self) -> impl Iterator<Item = &str> {
        self.traces.iter().map(|trace| trace.id.as_str())
    }
}

impl fmt::Display for Waterfall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (number, trace) in self.traces.iter().enumerate() {
            if number > 0 {
                writeln!(f)?;
            }
            trace.draw(f, self.bar_width)?;
        }
        Ok(())
    }
}

/// One span and where it sits.
struct Node<'a> {
    /// Where its segment is in the trace's list.
    segment_index: usize,
    segment: &'a SegmentObject,
    span: &'a SpanObject,
    parent: Option<usize>,
    children: Vec<usize>,
}

impl Trace {
    /// The first start and the last end of its spans, in epoch milliseconds.
    fn bounds(&self) -> (i64, i64) {
        let spans = self.segments.iter().flat_map(|segment| &segment.spans);
        let start = spans.clone().map(|span| span.start_time).min().unwrap_or(0);
        let end = spans
            .map(|span| span.end_time.max(span.start_time))
            .max()
            .unwrap_or(start);
        (start, end)
    }

    fn draw(&self, f: &mut fmt::Formatter<'_>, bar_width: usize) -> fmt::Result {
        let mut nodes: Vec<Node<'_>> = self
            .segments
            .iter()
            .enumerate()
            .flat_map(|(segment_index, segment)| {
                segment.spans.iter().map(move |span| Node {
                    segment_index,
                    segment,
                    span,
                    parent: None,
                    children: Vec::new(),
                })
            })
            .collect();
        let by_id: HashMap<(&str, i32), usize> = nodes
            .iter()
            .enumerate()
            .map(|(at, node)| {
                (
                    (node.segment.trace_segment_id.as_str(), node.span.span_id),
                    at,
                )
            })
            .collect();
        for (at, node) in nodes.iter_mut().enumerate() {
            let (segment, span) = (node.segment, node.span);
            let parent = if span.parent_span_id >= 0 {
                by_id.get(&(segment.trace_segment_id.as_str(), span.parent_span_id))
            } else {
                span.refs.iter().find_map(|reference| {
                    by_id.get(&(
                        reference.parent_trace_segment_id.as_str(),
                        reference.parent_span_id,
                    ))
                })
            };
            // A span named as its own parent would make a cycle of one.
            node.parent = parent.copied().filter(|&parent| parent != at);
        }
        for at in 0..nodes.len() {
            if let Some(parent) = nodes[at].parent {
                nodes[parent].children.push(at);
            }
        }
        // Spans that start in the same millisecond keep their order of creation: segments hold
        // spans in the order they ended, but span ids count up as spans start.
        let start_of = |at: &usize| {
            let node = &nodes[*at];
            (node.span.start_time, node.segment_index, node.span.span_id)
        };
        let mut order: Vec<usize> = (0..nodes.len()).collect();
        order.sort_by_key(start_of);
        let children: Vec<Vec<usize>> = nodes
            .iter()
            .map(|node| {
                let mut children = node.children.clone();
                children.sort_by_key(start_of);
                children
            })
            .collect();

        // Depth-first from the roots; spans caught in a cycle of bad parent ids, which no root
        // reaches, are drawn as roots of their own rather than lost.
        let mut lines: Vec<(usize, usize)> = Vec::with_capacity(nodes.len());
        let mut drawn = vec![false; nodes.len()];
        let roots = order.iter().filter(|&&at| nodes[at].parent.is_none());
        for &first in roots.chain(order.iter()) {
            let mut stack = vec![(first, 0)];
            while let Some((at, depth)) = stack.pop() {
                if std::mem::replace(&mut drawn[at], true) {
                    continue;
                }
                lines.push((at, depth));
                stack.extend(children[at].iter().rev().map(|&child| (child, depth + 1)));
            }
        }

        let (start, end) = self.bounds();
        let total = end.saturating_sub(start);
        writeln!(
            f,
            "trace {}  {}, {}, {total} ms",
            self.id,
            plural(self.segments.len(), "segment"),
            plural(nodes.len(), "span"),
        )?;
        let width = nodes
            .iter()
            .map(|node| duration(node.span).to_string().len())
            .max()
            .unwrap_or(1);
        for (at, depth) in lines {
            let Node { segment, span, .. } = nodes[at];
            let bar = Bar {
                offset: span.start_time.saturating_sub(start),
                length: duration(span),
                total,
                cells: bar_width,
            };
            write!(
                f,
                "{bar} {:>width$} ms  {:indent$}{} {} {}",
                duration(span),
                "",
                segment.service,
                kind(span),
                span.operation_name,
                indent = depth * 2,
            )?;
            if !span.peer.is_empty() {
                write!(f, " -> {}", span.peer)?;
            }
            if nodes[at].parent.is_none()
                && let Some(parent) = span.refs.first()
            {
                // Its parent segment is missing: say where it came from.
                let (how, whom) = match parent.ref_type() {
                    RefType::CrossProcess => ("called by", &parent.parent_service),
                    RefType::CrossThread => ("continues", &parent.parent_endpoint),
                };
                write!(f, " ({how} {whom}, not received)")?;
            }
            for (number, tag) in span.tags.iter().enumerate() {
                let gap = if number == 0 { "  " } else { " " };
                write!(f, "{gap}{}={}", tag.key, tag.value)?;
            }
            if span.is_error {
                write!(f, "  ✗ {}", error_text(span))?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

fn duration(span: &SpanObject) -> i64 {
    span.end_time.saturating_sub(span.start_time).max(0)
}

fn kind(span: &SpanObject) -> &'static str {
    match span.span_type() {
        SpanType::Entry => "Entry",
        SpanType::Exit => "Exit",
        SpanType::Local => "Local",
    }
}

/// What the span's error log says (`error.kind: message`, as the Java agent logs errors), or
/// `error` when it logged none.
fn error_text(span: &SpanObject) -> String {
    let field = |key: &str| {
        span.logs
            .iter()
            .rev()
            .flat_map(|log| &log.data)
            .find(|pair| pair.key == key)
            .map(|pair| pair.value.as_str())
    };
    match (field("error.kind"), field("message")) {
        (Some(kind), Some(message)) => format!("{kind}: {message}"),
        (None, Some(text)) | (Some(text), None) => text.to_owned(),
        (None, None) => "error".to_owned(),
    }
}

fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// A span's place in its trace's time, as `|   ████      |`.
struct Bar {
    offset: i64,
    length: i64,
    total: i64,
    cells: usize,
}

impl fmt::Display for Bar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // In i128 so that no timestamp, however wrong, overflows.
        let cells = self.cells as i128;
        let total = i128::from(self.total.max(1));
        let scale = |time: i64| (i128::from(time.max(0)) * cells).clamp(0, cells * total);
        let first = (scale(self.offset) / total).min(cells - 1);
        let last = (scale(self.offset.saturating_add(self.length)) + total - 1) / total;
        let last = last.clamp(first + 1, cells);
        f.write_str("|")?;
        for cell in 0..cells {
            f.write_str(if (first..last).contains(&cell) {
                "█"
            } else {
                " "
            })?;
        }
        f.write_str("|")
    }
}

#[cfg(test)]
mod tests {
    use rust2sky_proto::v3::{
        KeyStringValuePair, Log, RefType, SegmentObject, SegmentReference, SpanObject, SpanType,
    };

    use super::Waterfall;

    fn span(
        id: i32,
        parent: i32,
        kind: SpanType,
        operation: &str,
        times: (i64, i64),
    ) -> SpanObject {
        SpanObject {
            span_id: id,
            parent_span_id: parent,
            start_time: 1_000_000 + times.0,
            end_time: 1_000_000 + times.1,
            operation_name: operation.to_owned(),
            span_type: kind as i32,
            ..SpanObject::default()
        }
    }

    fn tags(pairs: &[(&str, &str)]) -> Vec<KeyStringValuePair> {
        pairs
            .iter()
            .map(|(key, value)| KeyStringValuePair {
                key: (*key).to_owned(),
                value: (*value).to_owned(),
            })
            .collect()
    }

    /// frontend's `GET:/checkout` (0–40 ms) prices the cart, then calls backend, whose
    /// `GET:/stock` fails with a 500. Segments in the order agents report them: the callee's
    /// first, as it ends first.
    fn two_services() -> Vec<SegmentObject> {
        let mut exit = span(2, 0, SpanType::Exit, "GET:/stock", (10, 35));
        exit.peer = "backend:8080".to_owned();
        exit.tags = tags(&[("http.method", "GET"), ("http.status_code", "500")]);
        exit.is_error = true;
        let mut entry = span(0, -1, SpanType::Entry, "GET:/checkout", (0, 40));
        entry.tags = tags(&[("http.method", "GET"), ("http.status_code", "200")]);
        let frontend = SegmentObject {
            trace_id: "trace-1".to_owned(),
            trace_segment_id: "segment-f".to_owned(),
            // In the order spans end, as segments hold them.
            spans: vec![
                span(1, 0, SpanType::Local, "price cart", (1, 4)),
                exit,
                entry,
            ],
            service: "frontend".to_owned(),
            service_instance: "frontend-1".to_owned(),
            ..SegmentObject::default()
        };
        let mut stock = span(0, -1, SpanType::Entry, "GET:/stock", (12, 33));
        stock.refs = vec![SegmentReference {
            ref_type: RefType::CrossProcess as i32,
            trace_id: "trace-1".to_owned(),
            parent_trace_segment_id: "segment-f".to_owned(),
            parent_span_id: 2,
            parent_service: "frontend".to_owned(),
            parent_service_instance: "frontend-1".to_owned(),
            parent_endpoint: "GET:/checkout".to_owned(),
            network_address_used_at_peer: "backend:8080".to_owned(),
        }];
        stock.tags = tags(&[("http.status_code", "500")]);
        stock.is_error = true;
        stock.logs = vec![Log {
            time: 1_000_033,
            data: tags(&[
                ("event", "error"),
                ("error.kind", "OutOfStock"),
                ("message", "sku 7"),
            ]),
        }];
        let backend = SegmentObject {
            trace_id: "trace-1".to_owned(),
            trace_segment_id: "segment-b".to_owned(),
            spans: vec![span(1, 0, SpanType::Local, "load stock", (13, 13)), stock],
            service: "backend".to_owned(),
            service_instance: "backend-1".to_owned(),
            ..SegmentObject::default()
        };
        vec![backend, frontend]
    }

    #[test]
    fn a_two_service_trace_nests_the_callee_under_the_exit_span() {
        let text = Waterfall::new(two_services()).bar_width(20).to_string();
        let expected = "\
trace trace-1  2 segments, 5 spans, 40 ms
|████████████████████| 40 ms  frontend Entry GET:/checkout  http.method=GET http.status_code=200
|██                  |  3 ms    frontend Local price cart
|     █████████████  | 25 ms    frontend Exit GET:/stock -> backend:8080  http.method=GET http.status_code=500  ✗ error
|      ███████████   | 21 ms      backend Entry GET:/stock  http.status_code=500  ✗ OutOfStock: sku 7
|      █             |  0 ms        backend Local load stock
";
        assert_eq!(text, expected, "\n{text}");
    }

    #[test]
    fn a_segment_whose_caller_is_missing_is_drawn_as_a_root_that_says_so() {
        let backend = two_services().remove(0);
        let text = Waterfall::new([backend]).bar_width(10).to_string();
        let expected = "\
trace trace-1  1 segment, 2 spans, 21 ms
|██████████| 21 ms  backend Entry GET:/stock (called by frontend, not received)  http.status_code=500  ✗ OutOfStock: sku 7
|█         |  0 ms    backend Local load stock
";
        assert_eq!(text, expected, "\n{text}");
    }

    #[test]
    fn traces_are_drawn_one_after_the_other_in_the_order_they_started() {
        let later = SegmentObject {
            trace_id: "trace-2".to_owned(),
            trace_segment_id: "segment-2".to_owned(),
            spans: vec![span(0, -1, SpanType::Local, "tick", (100, 100))],
            service: "cron".to_owned(),
            ..SegmentObject::default()
        };
        let mut segments = vec![later];
        segments.extend(two_services());
        let waterfall = Waterfall::new(segments).bar_width(4);
        assert_eq!(
            waterfall.trace_ids().collect::<Vec<_>>(),
            ["trace-1", "trace-2"]
        );
        let text = waterfall.to_string();
        assert!(
            text.ends_with(
                "\n\ntrace trace-2  1 segment, 1 span, 0 ms\n|█   | 0 ms  cron Local tick\n"
            ),
            "\n{text}"
        );
    }

    #[test]
    fn spans_that_start_in_the_same_millisecond_are_drawn_in_the_order_they_started() {
        let segment = SegmentObject {
            trace_id: "t".to_owned(),
            trace_segment_id: "s".to_owned(),
            // The second child ended first, so the segment lists it first.
            spans: vec![
                span(2, 0, SpanType::Local, "second", (0, 1)),
                span(1, 0, SpanType::Local, "first", (0, 2)),
                span(0, -1, SpanType::Entry, "request", (0, 2)),
            ],
            service: "svc".to_owned(),
            ..SegmentObject::default()
        };
        let text = Waterfall::new([segment]).bar_width(2).to_string();
        let expected = "\
trace t  1 segment, 3 spans, 2 ms
|██| 2 ms  svc Entry request
|██| 2 ms    svc Local first
|█ | 1 ms    svc Local second
";
        assert_eq!(text, expected, "\n{text}");
    }

    #[test]
    fn work_continued_on_another_thread_is_nested_under_the_span_that_captured_it() {
        use crate::config::Config;
        use crate::reporter::MemoryReporter;

        let reporter = MemoryReporter::new();
        let config = Config::builder()
            .service_name("shop")
            .build_with_env(|_| None)
            .unwrap();
        let tracer = crate::Tracer::new(config, reporter.clone());
        tracer.in_scope(|| {
            let _request = crate::local_span("request").entered();
            let snapshot = {
                let _pricing = crate::local_span("price").entered();
                crate::capture()
            };
            std::thread::spawn(move || {
                snapshot.continue_in(|| drop(crate::local_span("background")));
            })
            .join()
            .unwrap();
        });
        let text = Waterfall::new(reporter.segments()).to_string();
        let labels: Vec<&str> = text
            .lines()
            .skip(1)
            .map(|line| line.split_once(" ms  ").unwrap().1)
            .collect();
        assert_eq!(
            labels,
            [
                "shop Local request",
                "  shop Local price",
                "    shop Local background"
            ],
            "\n{text}"
        );

        // Without the segment it continues, it says which span that was.
        let background = reporter
            .segments()
            .into_iter()
            .find(|segment| segment.spans[0].operation_name == "background")
            .unwrap();
        let text = Waterfall::new([background]).to_string();
        assert!(
            text.contains("shop Local background (continues request, not received)"),
            "\n{text}"
        );
    }

    #[test]
    fn timestamps_at_the_ends_of_the_range_draw_without_overflow() {
        let mut early = span(0, -1, SpanType::Local, "early", (0, 0));
        early.start_time = i64::MIN;
        let mut late = span(1, 0, SpanType::Local, "late", (0, 0));
        late.end_time = i64::MAX;
        let segment = SegmentObject {
            trace_id: "t".to_owned(),
            trace_segment_id: "s".to_owned(),
            spans: vec![late, early],
            service: "svc".to_owned(),
            ..SegmentObject::default()
        };
        let text = Waterfall::new([segment]).bar_width(4).to_string();
        assert_eq!(text.lines().count(), 3, "\n{text}");
    }

    #[test]
    fn spans_with_impossible_parents_are_still_drawn() {
        let segment = SegmentObject {
            trace_id: "t".to_owned(),
            trace_segment_id: "s".to_owned(),
            spans: vec![
                // each the other's parent, and one its own
                span(1, 2, SpanType::Local, "a", (0, 5)),
                span(2, 1, SpanType::Local, "b", (1, 2)),
                span(3, 3, SpanType::Local, "c", (6, 3)),
            ],
            service: "odd".to_owned(),
            ..SegmentObject::default()
        };
        let text = Waterfall::new([segment]).bar_width(6).to_string();
        let expected = "\
trace t  1 segment, 3 spans, 6 ms
|     █| 0 ms  odd Local c
|█████ | 5 ms  odd Local a
| █    | 1 ms    odd Local b
";
        assert_eq!(text, expected, "\n{text}");
    }
}
