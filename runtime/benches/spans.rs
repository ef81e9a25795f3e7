//! The span hot path: what an instrumented request costs.
//!
//! Run with `cargo bench -p rust2sky --bench spans`. Besides criterion's timings it prints the
//! heap allocations one request makes, counted by a counting global allocator.

// A global allocator can only be written with `unsafe`; it forwards to `System` unchanged.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::HashMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use crossbeam_utils::CachePadded;
use rust2sky::config::Config;
use rust2sky::propagation::NoHeaders;
use rust2sky::proto::prost::Message as _;
use rust2sky::reporter::{FinishedSegment, MemoryReporter, Reporter};
use rust2sky::{Tracer, tags};

/// Counts allocations so the bench can report how many one request makes. The count is per
/// thread: the agent's own threads (the clock's calibration, say) must not add to a request's.
struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn count_allocation() {
    // `try_with`: an allocation made while this thread's locals are torn down is not counted.
    let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
}

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_allocation();
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_allocation();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// The protocol notes' worked example: the caller's context.
const SW8: &str = "1-M2YyYzlhMWJlNGQ1NGMwZjlhN2U2YjVkNGMzYjJhMTkuMS4xNzM1Njg5NjAwMDEyMDAwMA==-M2YyYzlhMWJlNGQ1NGMwZjlhN2U2YjVkNGMzYjJhMTkuMS4xNzM1Njg5NjAwMDEyMDAwMQ==-2-b3JkZXItc2VydmljZQ==-OGE3YjZjNWQ0ZTNmNDBhMWIyYzNkNGU1ZjZhN2I4YzlAMTAuMC4wLjEy-R0VUOi9hcGkvb3JkZXJzL3tpZH0=-aW52ZW50b3J5OjgwODA=";

/// One request: an entry span from an sw8 header, three local spans, an exit span that injects
/// its headers into a closure, and three tags; the finished segment goes to the reporter.
/// Returns the `sw8` the call carried: the one allocation the request makes in steady state, a
/// `String` the injector API hands over to the caller.
fn five_span_request(incoming: &HashMap<String, String>) -> Option<String> {
    let mut sw8 = None;
    let mut outgoing = |name: &'static str, value: String| {
        if name == "sw8" {
            sw8 = Some(value);
        }
    };
    let mut request = rust2sky::entry_span("GET:/stock/{sku}", incoming).entered();
    request.tag(tags::HTTP_METHOD, "GET");
    {
        let _check = rust2sky::local_span("check stock").entered();
        let _cache = rust2sky::local_span("read cache").entered();
    }
    let mut reserve = rust2sky::local_span("reserve").entered();
    reserve.tag("sku", "A-1");
    let mut call = rust2sky::exit_span("POST:/reserve", "warehouse:9000", &mut outgoing);
    call.tag(tags::HTTP_STATUS_CODE, "200");
    drop((call, reserve, request));
    sw8
}

fn request(c: &mut Criterion) {
    let reporter = MemoryReporter::new();
    let tracer = Tracer::new(Config::default(), reporter.clone());
    let incoming = HashMap::from([("sw8".to_owned(), SW8.to_owned())]);

    tracer.in_scope(|| {
        // The first request of a process allocates the buffers that later requests reuse once
        // the reporter is done with them; both counts are printed.
        let count = || {
            let before = allocations();
            let outgoing = five_span_request(&incoming);
            let after = allocations();
            drop(outgoing);
            assert_eq!(reporter.take()[0].spans.len(), 5);
            after - before
        };
        let first = count();
        let later = count();
        println!("five_span_request: {later} allocations per request (the first request: {first})");

        c.bench_function("span/five_span_request", |b| {
            b.iter_custom(|iterations| {
                // Empty the reporter every hundred requests, outside the timed part, so
                // that memory stays flat however many iterations criterion asks for.
                let mut elapsed = Duration::ZERO;
                let mut left = iterations;
                while left > 0 {
                    let batch = left.min(100);
                    let start = Instant::now();
                    for _ in 0..batch {
                        black_box(five_span_request(black_box(&incoming)));
                    }
                    elapsed += start.elapsed();
                    drop(reporter.take());
                    left -= batch;
                }
                elapsed
            })
        });
    });
}

/// The reporter's side of a request: its segment as protobuf bytes, written straight from the
/// records as the reporters do, and by way of the `SegmentObject` that `to_proto` builds.
fn reporter_side(c: &mut Criterion) {
    let reporter = MemoryReporter::new();
    let tracer = Tracer::new(Config::default(), reporter.clone());
    let incoming = HashMap::from([("sw8".to_owned(), SW8.to_owned())]);
    tracer.in_scope(|| five_span_request(&incoming));
    let segment = reporter.take_finished().remove(0);
    assert_eq!(segment.encode_to_vec(), segment.to_proto().encode_to_vec());
    c.bench_function("segment/five_span_encode_to_vec", |b| {
        b.iter(|| black_box(&segment).encode_to_vec())
    });
    c.bench_function("segment/five_span_to_proto_then_encode", |b| {
        b.iter(|| black_box(&segment).to_proto().encode_to_vec())
    });
}

fn unsampled(c: &mut Criterion) {
    let reporter = MemoryReporter::new();
    let config = Config::builder()
        .sample_rate(0.0)
        .build_with_env(|_| None)
        .expect("valid");
    let tracer = Tracer::new(config, reporter.clone());
    tracer.in_scope(|| {
        let _request = rust2sky::entry_span("GET:/", &NoHeaders).entered();
        let before = allocations();
        drop(rust2sky::local_span("work").entered());
        let after = allocations();
        println!("unsampled local span: {} allocations", after - before);
        c.bench_function("span/unsampled_local_span", |b| {
            b.iter(|| drop(rust2sky::local_span(black_box("work")).entered()))
        });
    });
    assert!(reporter.segments().is_empty());

    // The same five-span request as `span/five_span_request`, whose caller did not sample
    // (`sw8` flag 0): nothing is recorded, and the call still carries the trace on.
    let not_sampled = SW8.replacen("1-", "0-", 1);
    let incoming = HashMap::from([("sw8".to_owned(), not_sampled)]);
    let sampled_tracer = Tracer::new(Config::default(), reporter.clone());
    sampled_tracer.in_scope(|| {
        let before = allocations();
        let outgoing = five_span_request(&incoming);
        let after = allocations();
        assert!(
            outgoing.is_some_and(|sw8| sw8.starts_with("0-")),
            "the decision travels on"
        );
        println!(
            "unsampled five_span_request: {} allocations per request",
            after - before
        );
        c.bench_function("span/unsampled_five_span_request", |b| {
            b.iter(|| black_box(five_span_request(black_box(&incoming))))
        });
    });
    assert!(reporter.segments().is_empty());

    c.bench_function("span/no_tracer_local_span", |b| {
        b.iter(|| drop(rust2sky::local_span(black_box("work")).entered()))
    });
}

/// Queues each segment for a thread of its own, which takes what waits every millisecond (the
/// gRPC reporter's sender looks every 5 ms while items come; this one stays mostly asleep),
/// builds the protobuf (or, while `counting_only` is set, just counts) and drops it: the records
/// then go back to the pool from that thread, as they do in a service. While `drop_here` is set
/// it drops each segment on the thread that reports it instead: no hand-off at all.
///
/// Each reporting thread queues into a stripe of its own, on cache lines of its own, as the
/// product's reporters do (`reporter::lane`).
struct QueueingReporter {
    queues: Arc<[CachePadded<Mutex<Vec<FinishedSegment>>>; STRIPES]>,
    drop_here: Arc<AtomicBool>,
    /// The reporter thread's `/proc/<pid>/task/<tid>/schedstat`, whose first field is the CPU
    /// time it has run, in nanoseconds.
    schedstat: std::path::PathBuf,
}

/// As many stripes as the bench has threads that report at once.
const STRIPES: usize = 2;

static NEXT_THREAD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static STRIPE: usize = NEXT_THREAD.fetch_add(1, Ordering::Relaxed) % STRIPES;
}

impl QueueingReporter {
    /// Starts the reporter's thread, which adds each segment it is done with to `done`.
    fn start(counting_only: Arc<AtomicBool>, done: Arc<AtomicU64>) -> QueueingReporter {
        let queues: Arc<[CachePadded<Mutex<Vec<FinishedSegment>>>; STRIPES]> = Arc::default();
        let taken = Arc::downgrade(&queues);
        let (tell_schedstat, schedstat) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let thread = std::fs::read_link("/proc/thread-self").expect("Linux's /proc");
            let _ =
                tell_schedstat.send(std::path::Path::new("/proc").join(thread).join("schedstat"));
            let mut batch = Vec::new();
            while let Some(queues) = taken.upgrade() {
                for queue in queues.iter() {
                    std::mem::swap(&mut *queue.lock().unwrap(), &mut batch);
                    for segment in batch.drain(..) {
                        if counting_only.load(Ordering::Relaxed) {
                            black_box(segment.span_count());
                        } else {
                            // What the gRPC and Kafka reporters do with a segment.
                            black_box(segment.encode_to_vec());
                        }
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
                drop(queues);
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        QueueingReporter {
            queues,
            drop_here: Arc::default(),
            schedstat: schedstat.recv().expect("the reporter's thread started"),
        }
    }
}

/// The CPU time the thread whose `schedstat` this is has run so far.
fn cpu_time(schedstat: &std::path::Path) -> Duration {
    let text = std::fs::read_to_string(schedstat).expect("the reporter's thread runs");
    let nanos = text.split_whitespace().next().and_then(|n| n.parse().ok());
    Duration::from_nanos(nanos.expect("schedstat starts with nanoseconds"))
}

impl Reporter for QueueingReporter {
    fn report(&self, segment: FinishedSegment) {
        if self.drop_here.load(Ordering::Relaxed) {
            drop(segment);
        } else {
            let stripe = STRIPE.with(|stripe| *stripe);
            self.queues[stripe].lock().unwrap().push(segment);
        }
    }
}

/// The five-span request on one thread and on two at once, through the global tracer as a
/// service has it (`rust2sky::init`), each request handing its segment to a queueing reporter:
/// what a request costs when a second thread works too. The figure is the time per request on
/// each thread (the two threads' mean). `threads` has the reporter thread build each protobuf,
/// `threads_counting` only count, so that the reporter's own work takes less of a 2-core
/// machine's second core.
fn threads(c: &mut Criterion) {
    let counting_only = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let reporter = QueueingReporter::start(counting_only.clone(), done.clone());
    let drop_here = reporter.drop_here.clone();
    let schedstat = reporter.schedstat.clone();
    // On a 2-core machine the reporter's thread takes its time from the request threads once two
    // of them run: what it spends on each segment explains part of the `2` rows.
    let reporter_cpu_per_segment = |group: &str, since: (Duration, u64)| {
        let (cpu, segments) = (
            cpu_time(&schedstat) - since.0,
            done.load(Ordering::Relaxed) - since.1,
        );
        // Nothing to say when the filter left the group's rows out.
        if segments > 0
            && let Some(per_segment) = cpu.checked_div(segments as u32)
        {
            println!(
                "{group}: the reporter's thread ran {per_segment:?} of CPU per segment ({segments} segments)"
            );
        }
    };
    let _guard = rust2sky::init(Config::default(), reporter).expect("the bench's one init");
    let tracer = rust2sky::global_tracer().expect("installed");
    let incoming = HashMap::from([("sw8".to_owned(), SW8.to_owned())]);
    tracer.in_scope(|| {
        // Steady state: the reporter's thread passes records back to the pool a magazine at a
        // time, for this thread's next requests to take; the count is a mean over many requests.
        let mean_allocations = |incoming: &HashMap<String, String>, reported: u64| {
            let start = done.load(Ordering::Relaxed);
            for _ in 0..1024 {
                five_span_request(incoming);
            }
            while done.load(Ordering::Relaxed) < start + reported {
                std::thread::sleep(Duration::from_millis(1));
            }
            let before = allocations();
            for _ in 0..1024 {
                drop(five_span_request(incoming));
            }
            (allocations() - before) as f64 / 1024.0
        };
        println!(
            "five_span_request through the global tracer: {:.2} allocations per request",
            mean_allocations(&incoming, 1024)
        );
        let not_sampled = HashMap::from([("sw8".to_owned(), SW8.replacen("1-", "0-", 1))]);
        println!(
            "unsampled five_span_request through the global tracer: {:.2} allocations per request",
            mean_allocations(&not_sampled, 0)
        );
        // As a service has it: the thread's last unsampled trace is reused by its next one.
        c.bench_function("span/unsampled_five_span_request_global_tracer", |b| {
            b.iter(|| black_box(five_span_request(black_box(&not_sampled))))
        });
    });
    // The allocations of the timed requests, on whichever threads ran them: the steady state,
    // with the pool as the reporter's thread refills it between its looks.
    let timed = (AtomicU64::new(0), AtomicU64::new(0));
    let run = |iterations: u64| {
        tracer.in_scope(|| {
            let before = allocations();
            let start = Instant::now();
            for _ in 0..iterations {
                black_box(five_span_request(black_box(&incoming)));
            }
            let elapsed = start.elapsed();
            timed.0.fetch_add(allocations() - before, Ordering::Relaxed);
            timed.1.fetch_add(iterations, Ordering::Relaxed);
            elapsed
        })
    };
    let timed_allocations = |group: &str| {
        let (made, requests) = (
            timed.0.swap(0, Ordering::Relaxed),
            timed.1.swap(0, Ordering::Relaxed),
        );
        if requests > 0 {
            println!(
                "{group}: {:.2} allocations a request in the timed runs",
                made as f64 / requests as f64
            );
        }
    };
    // Requests on one thread until the reporter's thread has built the protobuf of every one:
    // the throughput of a service's request thread and its reporter together.
    c.bench_function("span/five_span_request_sustained", |b| {
        b.iter_custom(|iterations| {
            let start = Instant::now();
            let target = done.load(Ordering::Relaxed) + iterations;
            run(iterations);
            while done.load(Ordering::Relaxed) < target {
                std::thread::sleep(Duration::from_micros(50));
            }
            start.elapsed()
        })
    });
    timed_allocations("span/five_span_request_sustained");
    for (group, counting) in [("threads", false), ("threads_counting", true)] {
        counting_only.store(counting, Ordering::Relaxed);
        let name = format!("span/five_span_request_{group}");
        let since = (cpu_time(&schedstat), done.load(Ordering::Relaxed));
        let mut group = c.benchmark_group(&name);
        group.bench_function("1", |b| b.iter_custom(run));
        group.bench_function("2", |b| {
            b.iter_custom(|iterations| mean_on_two_threads(|| run(iterations)))
        });
        group.finish();
        reporter_cpu_per_segment(&name, since);
        timed_allocations(&name);
    }
    // The request path alone: each segment dropped where it finished, its records back in the
    // thread's own pool, nothing handed to another thread.
    drop_here.store(true, Ordering::Relaxed);
    let mut group = c.benchmark_group("span/five_span_request_threads_no_handoff");
    group.bench_function("1", |b| b.iter_custom(run));
    group.bench_function("2", |b| {
        b.iter_custom(|iterations| mean_on_two_threads(|| run(iterations)))
    });
    group.finish();
    timed_allocations("span/five_span_request_threads_no_handoff");
    if names_thread_rows() {
        let fastrace = fastrace_requests();
        let fastrace_settled = |_requests| fastrace::flush();
        drop_here.store(false, Ordering::Relaxed);
        counting_only.store(true, Ordering::Relaxed);
        let counted = AtomicU64::new(done.load(Ordering::Relaxed));
        let reporter_settled = |requests| {
            let target = counted.fetch_add(requests, Ordering::Relaxed) + requests;
            while done.load(Ordering::Relaxed) < target {
                std::thread::sleep(Duration::from_micros(100));
            }
        };
        alternating_ratios([
            Workload {
                name: "span/five_span_request_threads_counting",
                run: &run,
                settle: &reporter_settled,
            },
            Workload {
                name: "span/fastrace_five_span_request_threads",
                run: &fastrace,
                settle: &fastrace_settled,
            },
        ]);
        drop_here.store(true, Ordering::Relaxed);
        alternating_ratios([
            Workload {
                name: "span/five_span_request_threads_no_handoff",
                run: &run,
                settle: &|_| {},
            },
            Workload {
                name: "span/fastrace_five_span_request_threads",
                run: &fastrace,
                settle: &fastrace_settled,
            },
        ]);
    }
}

/// Whether the bench runs with no filter, or one that names the thread rows.
fn names_thread_rows() -> bool {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with('-'))
        .collect();
    filters.is_empty() || filters.iter().any(|filter| filter.contains("threads"))
}

/// Requests to time on one thread and on two, for [`alternating_ratios`].
struct Workload<'a> {
    name: &'a str,
    /// Runs this many requests, and gives the time they took.
    run: &'a (dyn Fn(u64) -> Duration + Sync),
    /// Waits, untimed, until what this many requests handed to a reporter's thread is done
    /// with: each run then pays for its own reporter's work, not for the one before it.
    settle: &'a dyn Fn(u64),
}

/// Prints, for each workload, the two-thread figure over the one-thread one, from runs of the
/// two taken in turn, each workload's after the other's: this VM's host sometimes halves what
/// the two cores do for seconds at a time, which skews a ratio of two criterion rows measured a
/// few seconds apart, while runs a few milliseconds apart see the same machine, so rust2sky's
/// ratio and fastrace's can be set side by side. Besides the time each request took, the ratio
/// of the CPU time each request thread ran (its `schedstat`): that leaves out the time the thread
/// waited for a core, to the host or to the reporter's thread.
fn alternating_ratios<const N: usize>(workloads: [Workload<'_>; N]) {
    /// A run's wall-clock time and the CPU time its thread ran.
    type Timed = (Duration, Duration);
    const REQUESTS: u64 = 20_000;
    const ROUNDS: usize = 101;
    let this_thread = std::path::Path::new("/proc/thread-self/schedstat");
    let timed = |run: &(dyn Fn(u64) -> Duration + Sync)| {
        let cpu = cpu_time(this_thread);
        let wall = run(REQUESTS);
        (wall, cpu_time(this_thread) - cpu)
    };
    let mut runs: [(Vec<Timed>, Vec<Timed>); N] = std::array::from_fn(|_| Default::default());
    for _ in 0..ROUNDS {
        for (workload, (one, two)) in workloads.iter().zip(&mut runs) {
            // The one-thread run on a new thread too, as the two-thread runs are: a thread's
            // first requests (its pools empty, say) then weigh the same in both.
            let alone =
                std::thread::scope(|scope| scope.spawn(|| timed(workload.run)).join().unwrap());
            (workload.settle)(REQUESTS);
            let [first, second] = on_two_threads(|| timed(workload.run));
            (workload.settle)(2 * REQUESTS);
            one.push(alone);
            two.push(((first.0 + second.0) / 2, (first.1 + second.1) / 2));
        }
    }
    let median = |runs: &mut Vec<Timed>, of: fn(&Timed) -> Duration| {
        runs.sort_by_key(of);
        of(&runs[ROUNDS / 2]) / REQUESTS as u32
    };
    for (Workload { name: group, .. }, (one, two)) in workloads.iter().zip(&mut runs) {
        let (wall_one, wall_two) = (median(one, |run| run.0), median(two, |run| run.0));
        let (cpu_one, cpu_two) = (median(one, |run| run.1), median(two, |run| run.1));
        println!(
            "{group}: two threads over one, {ROUNDS} runs of each taken in turn: {:.2} (medians {wall_one:?} and {wall_two:?} a request); CPU time {:.2} ({cpu_one:?} and {cpu_two:?})",
            wall_two.as_secs_f64() / wall_one.as_secs_f64(),
            cpu_two.as_secs_f64() / cpu_one.as_secs_f64(),
        );
    }
}

/// What the fastrace rows hand to their reporter: counted and dropped, as the counting rows'
/// reporter does with rust2sky's segments.
struct CountingFastraceReporter;

impl fastrace::collector::Reporter for CountingFastraceReporter {
    fn report(&mut self, spans: Vec<fastrace::collector::SpanRecord>) {
        black_box(spans.len());
    }
}

/// [`five_span_request`] traced with fastrace 0.7, the fastest Rust tracer: a root span with a
/// property, three local spans, and a fourth for the call with a property each where rust2sky
/// tags. fastrace has no propagation, so nothing is read from or written into headers.
fn fastrace_five_span_request() {
    use fastrace::prelude::{LocalSpan, Span, SpanContext};
    let request = Span::root("GET:/stock/{sku}", SpanContext::random())
        .with_property(|| ("http.method", "GET"));
    let _request = request.set_local_parent();
    {
        let _check = LocalSpan::enter_with_local_parent("check stock");
        let _cache = LocalSpan::enter_with_local_parent("read cache");
    }
    let _reserve = LocalSpan::enter_with_local_parent("reserve").with_property(|| ("sku", "A-1"));
    let _call = LocalSpan::enter_with_local_parent("POST:/reserve")
        .with_property(|| ("http.status_code", "200"));
}

/// Runs [`fastrace_five_span_request`] as many times as asked, and gives the time it took;
/// fastrace's reporter is set up at the first call.
fn fastrace_requests() -> impl Fn(u64) -> Duration + Sync {
    static REPORTER: std::sync::Once = std::sync::Once::new();
    REPORTER.call_once(|| {
        fastrace::set_reporter(
            CountingFastraceReporter,
            fastrace::collector::Config::default(),
        );
    });
    |iterations| {
        let start = Instant::now();
        for _ in 0..iterations {
            fastrace_five_span_request();
        }
        start.elapsed()
    }
}

/// fastrace's rows beside `span/five_span_request_threads_counting`, in the same run: one
/// thread, and two at once (their ratio from runs taken in turn is printed with rust2sky's, by
/// [`threads`]). fastrace's own collector thread takes the spans every 10 ms.
fn fastrace_side_by_side(c: &mut Criterion) {
    let run = fastrace_requests();
    let mut group = c.benchmark_group("span/fastrace_five_span_request_threads");
    group.bench_function("1", |b| b.iter_custom(&run));
    group.bench_function("2", |b| {
        b.iter_custom(|iterations| mean_on_two_threads(|| run(iterations)))
    });
    group.finish();
    fastrace::flush();
}

/// Runs `run` on two threads at once and gives what each gave.
fn on_two_threads<T: Send>(run: impl Fn() -> T + Sync) -> [T; 2] {
    let barrier = std::sync::Barrier::new(2);
    std::thread::scope(|scope| {
        let start = || {
            scope.spawn(|| {
                barrier.wait();
                run()
            })
        };
        let (first, second) = (start(), start());
        [first.join().unwrap(), second.join().unwrap()]
    })
}

/// The mean time of [`on_two_threads`]' two runs.
fn mean_on_two_threads(run: impl Fn() -> Duration + Sync) -> Duration {
    let [first, second] = on_two_threads(run);
    (first + second) / 2
}

// `threads` comes last: it installs the global tracer, which `span/no_tracer_local_span` must not
// find.
criterion_group!(
    benches,
    request,
    reporter_side,
    unsampled,
    threads,
    fastrace_side_by_side
);
criterion_main!(benches);
