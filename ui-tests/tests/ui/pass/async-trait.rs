// Under `deny(warnings)`: an argument used only in an attribute is not an unused variable.
#![deny(warnings)]

use std::collections::HashMap;

use async_trait::async_trait;
use rust2sky::config::Config;
use rust2sky::reporter::MemoryReporter;
use rust2sky::{FutureExt as _, Tracer, sw_entry, sw_exit, sw_local};

#[async_trait]
trait Users {
    async fn name(&self, id: u64) -> Result<String, String>;
    async fn count(&self) -> usize;
    async fn handle(&self, meta: HashMap<String, String>, route: String) -> u16;
}

struct Client {
    known: Vec<String>,
}

#[async_trait]
impl Users for Client {
    #[sw_exit(peer = "users:8080", err(Debug))]
    async fn name(&self, id: u64) -> Result<String, String> {
        tokio::task::yield_now().await;
        match self.known.get(id as usize) {
            Some(name) => Ok(name.clone()),
            None => Err(format!("no user {id}")),
        }
    }

    #[sw_local]
    async fn count(&self) -> usize {
        self.known.len()
    }

    // `meta` and `route` feed the attribute only; the body never names them.
    #[sw_entry(extract = &meta, name = route.clone())]
    async fn handle(&self, meta: HashMap<String, String>, route: String) -> u16 {
        200
    }
}

const PARENT: &str = "1-dHJhY2U=-c2VnbWVudA==-3-b3JkZXJz-b3JkZXJzLTE=-R0VUOi9vcmRlcnM=-Y2FydDo4MA==";

fn main() {
    let reporter = MemoryReporter::new();
    let tracer = Tracer::new(Config::default(), reporter.clone());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let client: Box<dyn Users + Send + Sync> = Box::new(Client {
        known: vec!["ada".to_owned()],
    });
    let results = runtime.block_on(
        async { (client.name(0).await, client.name(3).await, client.count().await) }
            .with_tracer(&tracer),
    );
    assert_eq!(results, (Ok("ada".to_owned()), Err("no user 3".to_owned()), 1));
    let meta = HashMap::from([("sw8".to_owned(), PARENT.to_owned())]);
    let status = runtime
        .block_on(async { client.handle(meta, "GET:/users".to_owned()).await }.with_tracer(&tracer));
    assert_eq!(status, 200);
    let segments = reporter.segments();
    let names: Vec<&str> = segments
        .iter()
        .map(|segment| segment.spans[0].operation_name.as_str())
        .collect();
    assert_eq!(names, ["Client::name", "Client::name", "Client::count", "GET:/users"]);
    // The entry span continued the caller's trace.
    assert_eq!(segments[3].trace_id, "trace");
    let failed = &segments[1].spans[0];
    assert!(failed.is_error);
    assert_eq!(failed.peer, "users:8080");
    // err(Debug): the message is the error's Debug text.
    assert_eq!(failed.logs[0].data[2].value, "\"no user 3\"");
}
