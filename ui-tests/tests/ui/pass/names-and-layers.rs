use rust2sky::SpanLayer;
use rust2sky::config::Config;
use rust2sky::reporter::MemoryReporter;
use rust2sky::{Tracer, sw_exit, sw_local};

const NAME: &str = "from a const";

#[sw_local(name = "literal")]
fn literal() {}

#[sw_local(name = NAME)]
fn constant() {}

#[sw_local(name = format!("job {id}"))]
fn formatted(id: u32) {
    let _ = id;
}

#[sw_local(name = name.as_str())]
fn borrowed(name: &String) {
    let _ = name;
}

#[sw_local(name = name)]
fn owned(name: String) {}

#[sw_local(name = concat!("a", "b"))]
fn from_macro() {}

#[sw_exit(peer = "db:5432", layer = Database)]
fn database() {}

#[sw_exit(peer = "rpc:1", layer = RPCFramework)]
fn rpc() {}

#[sw_exit(peer = "mq:1", layer = MQ)]
fn mq() {}

#[sw_exit(peer = "cache:1", layer = Cache)]
fn cache() {}

#[sw_exit(peer = "faas:1", layer = FAAS)]
fn faas() {}

#[sw_exit(peer = "ai:1", layer = GenAI)]
fn gen_ai() {}

#[sw_exit(peer = "x:1", layer = Unknown)]
fn unknown() {}

#[sw_exit(peer = "http:1", layer = Http)]
fn http() {}

#[sw_exit(peer = format!("{host}:{port}"), component = component_id(), name = "dynamic")]
fn dynamic(host: &str, port: u16) {
    let _ = (host, port);
}

fn component_id() -> i32 {
    rust2sky::component::RUST
}

fn main() {
    let reporter = MemoryReporter::new();
    let tracer = Tracer::new(Config::default(), reporter.clone());
    tracer.in_scope(|| {
        literal();
        constant();
        formatted(3);
        borrowed(&"borrowed name".to_owned());
        owned("owned name".to_owned());
        from_macro();
        database();
        rpc();
        mq();
        cache();
        faas();
        gen_ai();
        unknown();
        http();
        dynamic("users", 8080);
    });
    let segments = reporter.segments();
    let spans: Vec<_> = segments.iter().map(|segment| &segment.spans[0]).collect();
    let names: Vec<&str> = spans.iter().map(|span| span.operation_name.as_str()).collect();
    assert_eq!(
        names[..6],
        ["literal", "from a const", "job 3", "borrowed name", "owned name", "ab"]
    );
    let layers: Vec<SpanLayer> = spans[6..14].iter().map(|span| span.span_layer()).collect();
    assert_eq!(
        layers,
        [
            SpanLayer::Database,
            SpanLayer::RpcFramework,
            SpanLayer::Mq,
            SpanLayer::Cache,
            SpanLayer::Faas,
            SpanLayer::GenAi,
            SpanLayer::Unknown,
            SpanLayer::Http,
        ]
    );
    assert_eq!(spans[14].operation_name, "dynamic");
    assert_eq!(spans[14].peer, "users:8080");
    assert_eq!(spans[14].component_id, rust2sky::component::RUST);
}
