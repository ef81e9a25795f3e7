//! rust2sky in one command: two traced HTTP services, a collector, and the traces it received.
//!
//! ```text
//! cargo run -p rust2sky-examples --bin quickstart
//! ```
//!
//! Everything runs in this process, on free ports of 127.0.0.1: a SkyWalking collector
//! (`rust2sky::testing::Collector`), and two axum services, `frontend` and `backend`, each with
//! its own tracer reporting over gRPC. `frontend` calls `backend` twice over real HTTP, with the
//! trace context in the `sw8` header: once through reqwest's `send_traced()`, once from a
//! function marked `#[sw_exit]`. `backend` reads its prices from a SQLite database in a temporary
//! file, through `rust2sky::integrations::sqlx::TracedPool`, so each price is a database exit
//! span. A few requests go to `frontend` (the last fails with a 500), then the traces the
//! collector received are printed as waterfalls.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use rust2sky::config::Config;
use rust2sky::integrations::reqwest::RequestBuilderExt as _;
use rust2sky::integrations::sqlx::TracedPool;
use rust2sky::integrations::tower::EntryLayer;
use rust2sky::reporter::GrpcReporter;
use rust2sky::testing::{Collector, Waterfall};
use rust2sky::{Tracer, sw_exit, sw_local, tags};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The requests sent to `frontend`: the last one makes `backend` fail.
const SKUS: [u32; 3] = [7, 3, 0];
/// Each request is a segment in `frontend` and two in `backend`.
const SEGMENTS: usize = SKUS.len() * 3;
const DEADLINE: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("quickstart failed: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<bool, BoxError> {
    let collector = Collector::start()?;
    println!("collector listening on {}", collector.address());
    let tracer = |service: &str| -> Result<Tracer, BoxError> {
        let config = Config::builder()
            .service_name(service)
            .instance_name(format!("{service}-1"))
            .backends([collector.backend()])
            .build_with_env(|_| None)?;
        Ok(Tracer::new(config.clone(), GrpcReporter::start(&config)?))
    };
    // Two services in one process: `rust2sky::init` installs one tracer per process, so each
    // service gets its own and hands it to its `EntryLayer`.
    let frontend = tracer("frontend")?;
    let backend = tracer("backend")?;
    let database_dir =
        std::env::temp_dir().join(format!("rust2sky-quickstart-{}", std::process::id()));
    std::fs::create_dir_all(&database_dir)?;
    let served = serve_and_call(&frontend, &backend, &database_dir.join("shop.db"));
    let _ = std::fs::remove_dir_all(&database_dir);
    served?;

    // The reporters send in the background; flush waits until the collector has it all.
    let flushed = frontend.flush(DEADLINE) && backend.flush(DEADLINE);
    let segments = collector.wait_for_segments(SEGMENTS, DEADLINE);
    println!(
        "\nthe collector received {} segments{}:\n",
        segments.len(),
        if flushed { "" } else { " (a flush timed out)" }
    );
    print!("{}", Waterfall::new(segments.iter().cloned()));
    if segments.len() < SEGMENTS {
        eprintln!("expected {SEGMENTS} segments, got {}", segments.len());
        return Ok(false);
    }
    Ok(true)
}

/// Starts both services, `backend` with its prices in SQLite at `database`, and sends the
/// requests.
fn serve_and_call(
    frontend: &Tracer,
    backend: &Tracer,
    database: &std::path::Path,
) -> Result<(), BoxError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let backend_app = Router::new()
            .route("/price/{sku}", get(price))
            .route("/stock/{sku}", get(stock))
            .with_state(prices(database).await?)
            .layer(EntryLayer::new().with_tracer(backend.clone()));
        let backend_address = serve(backend_app).await?;
        let frontend_app = Router::new()
            .route("/checkout/{sku}", get(checkout))
            .with_state(Backend {
                client: client.clone(),
                address: backend_address,
            })
            .layer(EntryLayer::new().with_tracer(frontend.clone()));
        let frontend_address = serve(frontend_app).await?;
        println!("frontend on {frontend_address}, backend on {backend_address}\n");

        for sku in SKUS {
            let url = format!("http://{frontend_address}/checkout/{sku}");
            let response = client.get(&url).send().await?;
            let status = response.status().as_u16();
            println!("GET {url} -> {status} {}", response.text().await?);
        }
        Ok::<_, BoxError>(())
    })
}

/// `backend`'s price list: a SQLite database, filled without tracing (it is not a request),
/// then wrapped so that the queries of requests are exit spans.
async fn prices(database: &std::path::Path) -> Result<TracedPool<sqlx::Sqlite>, BoxError> {
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(database)
        .create_if_missing(true);
    let pool = sqlx::SqlitePool::connect_with(options).await?;
    sqlx::query("CREATE TABLE prices (sku INTEGER PRIMARY KEY, cents INTEGER NOT NULL)")
        .execute(&pool)
        .await?;
    for sku in SKUS {
        sqlx::query("INSERT INTO prices (sku, cents) VALUES (?, ?)")
            .bind(sku)
            .bind(sku * 250)
            .execute(&pool)
            .await?;
    }
    Ok(TracedPool::new(pool))
}

/// Serves `app` on a free port of 127.0.0.1, in the background.
async fn serve(app: Router) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            eprintln!("a demo service stopped: {error}");
        }
    });
    Ok(address)
}

#[derive(Clone)]
struct Backend {
    client: reqwest::Client,
    address: SocketAddr,
}

/// `frontend`'s `GET /checkout/{sku}`: asks `backend` for the price and the stock.
async fn checkout(
    State(backend): State<Backend>,
    Path(sku): Path<u32>,
) -> Result<String, (StatusCode, String)> {
    let failed =
        |error: &dyn std::fmt::Display| (StatusCode::INTERNAL_SERVER_ERROR, error.to_string());
    // reqwest's `send_traced()`: the request is an exit span, with `sw8` written into it.
    let price = backend
        .client
        .get(format!("http://{}/price/{sku}", backend.address))
        .send_traced()
        .await
        .map_err(|error| failed(&error))?;
    let price = price.text().await.map_err(|error| failed(&error))?;
    let stock = fetch_stock(&backend, sku)
        .await
        .map_err(|error| failed(&error))?;
    Ok(receipt(sku, &price, &stock))
}

/// The call to `backend` written by hand: `#[sw_exit]` makes the exit span,
/// `rust2sky::outgoing_headers()` gives its `sw8` header, and `rust2sky::with_active_span` tags
/// the span with the status the call got.
#[sw_exit(peer = backend.address.to_string(), name = format!("GET:/stock/{sku}"), layer = Http,
          component = rust2sky::component::HTTP_CLIENT, err)]
async fn fetch_stock(backend: &Backend, sku: u32) -> Result<String, BackendError> {
    let mut request = backend
        .client
        .get(format!("http://{}/stock/{sku}", backend.address));
    for (name, value) in rust2sky::outgoing_headers() {
        request = request.header(name, value);
    }
    let response = request
        .send()
        .await
        .map_err(|error| BackendError(error.to_string()))?;
    let status = response.status();
    rust2sky::with_active_span(|span| {
        span.tag(tags::HTTP_STATUS_CODE, status.as_str());
    });
    let body = response
        .text()
        .await
        .map_err(|error| BackendError(error.to_string()))?;
    if status.is_success() {
        Ok(body)
    } else {
        Err(BackendError(format!("{}: {body}", status.as_u16())))
    }
}

#[sw_local]
fn receipt(sku: u32, price: &str, stock: &str) -> String {
    format!("sku {sku}: {stock} in stock at {price} cents")
}

/// `backend` failed, or could not be reached.
#[derive(Debug)]
struct BackendError(String);

impl std::fmt::Display for BackendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "backend answered {}", self.0)
    }
}

/// `backend`'s `GET /price/{sku}`: one query, an exit span to the database `shop.db`.
async fn price(
    State(prices): State<TracedPool<sqlx::Sqlite>>,
    Path(sku): Path<u32>,
) -> Result<String, (StatusCode, String)> {
    let row = prices
        .fetch_optional(sqlx::query("SELECT cents FROM prices WHERE sku = ?").bind(sku))
        .await
        .map_err(|error| (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()))?;
    let cents: u32 = match row {
        Some(row) => sqlx::Row::try_get(&row, "cents")
            .map_err(|error| (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()))?,
        None => 0,
    };
    Ok(cents.to_string())
}

/// `backend`'s `GET /stock/{sku}`.
async fn stock(Path(sku): Path<u32>) -> Result<String, (StatusCode, String)> {
    match count_stock(sku).await {
        Ok(count) => Ok(count.to_string()),
        Err(error) => Err((StatusCode::INTERNAL_SERVER_ERROR, error.to_string())),
    }
}

#[sw_local(err)]
async fn count_stock(sku: u32) -> Result<u32, UnknownSku> {
    // The warehouse takes a few milliseconds to answer, so that the waterfall has some shape.
    tokio::time::sleep(Duration::from_millis(4 + u64::from(sku))).await;
    if sku == 0 {
        return Err(UnknownSku(sku));
    }
    Ok(sku * 4)
}

/// A sku the warehouse does not know.
#[derive(Debug)]
struct UnknownSku(u32);

impl std::fmt::Display for UnknownSku {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "sku {} is not in the catalogue", self.0)
    }
}
